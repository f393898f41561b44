/* The kernels of the `sage` variant (sage-kernel.cu): SageAttention-2's
 * quantised attention, by wgmma on Hopper (sm_90a) and by mma.sync on
 * Ampere, Ada and consumer Blackwell (sage-mma.cuh). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  const void *q;          /* [B, Lq, H, 128] */
  const void *k;          /* [B, Lk, H, 128] */
  const void *v;          /* [B, Lk, H, 128] */
  void       *out;        /* [B, Lq, H, 128], same dtype as q */
  float      *lse;        /* [B, H, Lq] (row length lse_q_len) or NULL */
  int32_t     batch;      /* batches this launch covers */
  int32_t     heads;
  int32_t     q_len;
  int32_t     kv_len;     /* rows of k and v per batch */
  int32_t     keys;       /* keys attended to, <= kv_len */
  int32_t     lse_q_len;  /* row length of lse (the problem's Lq) */
  int32_t     dtype;      /* RL_ATTENTION_BF16 or RL_ATTENTION_F16 */
  float       scale;      /* softmax scale */
  int32_t     pingpong;   /* 1: the two consumer warpgroups alternate at the tensor
                           * cores (FlashAttention-3's schedule); 0: each runs freely */
  int32_t     pv16;       /* 0: P and V in fp8 e4m3 (SageAttention-2's "8+8");
                           * 1: in the input's 16-bit type ("8+16", more exact) */
  int32_t     v_terms;    /* fp8 P·V only: 1, V as one e4m3 value (the published
                           * design, ~3.5% error on random data); 2, V as e4m3 hi + lo
                           * (V's rounding error gone, one more P·V MMA per tile) */
  int32_t     pv_int8;    /* 8-bit P·V only: 1, P as u8 against each key tile's own row
                           * maximum and V as int8 + 128 per channel (u8 × u8 MMA, exact
                           * int32 sums) instead of e4m3; v_terms is then ignored */
  int32_t     blocks;     /* attention grid: 0, one block per 128-row tile; n > 0, at
                           * most n persistent blocks, each walking tiles */
  int32_t     stagger;    /* 1: each attention block starts at a different key tile */
  int32_t     lag;        /* in-order schedule: consumer warpgroup 1 starts this many
                           * (query tile, key tile) units after warpgroup 0 (0..3) */
  int32_t     mma;        /* 1: the attention pass by mma.sync (sage-mma.cuh), the one
                           * for sm_80..sm_89 and sm_120, also runnable on Hopper; e4m3
                           * P·V needs sm_89 or newer there (older GPUs trap) */
  int32_t     prepare_launches;   /* 1: the preparation's three phases as three ordinary
                                   * launches (what a refused cooperative launch falls back to) */
  float      *pass_ms;    /* NULL, or 6 floats: each launch's time (the preparation,
                           * attention), the preparation's phases (statistics, finish,
                           * quantise; by the GPU's clock) and its blocks; the launch then
                           * waits */
} RlSageParams;

/* Bytes of scratch device memory a launch of `params` needs (quantised
 * q/k/v, their scales, key and value means). */
size_t rl_attention_sage_workspace_bytes (const RlSageParams *params);

/* Quantises q/k/v into `workspace` (at least the bytes above, 256-byte
 * aligned) and runs the attention kernel, all on `stream`. Head dim 128
 * only; cudaErrorInvalidValue for other dtypes. */
cudaError_t rl_attention_sage_launch (const RlSageParams *params, void *workspace,
                                      cudaStream_t stream);

#ifdef __cplusplus
}
#endif
