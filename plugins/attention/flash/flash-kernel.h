/* The fused kernel of the `flash` variant (flash-kernel.cu). */
#pragma once

#include <stdint.h>

#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  const void *q;          /* [B, Lq, H, D] */
  const void *k;          /* [B, Lk, H, D] */
  const void *v;          /* [B, Lk, H, D] */
  void       *out;        /* [B, Lq, H, D], same dtype as q */
  float      *lse;        /* [B, H, Lq] or NULL */
  int32_t     batch;      /* batches this launch covers (grid z) */
  int32_t     heads;
  int32_t     q_len;
  int32_t     kv_len;     /* rows of k and v per batch */
  int32_t     keys;       /* keys attended to, <= kv_len */
  int32_t     lse_q_len;  /* row length of lse (the problem's Lq) */
  float       scale;
} RlFlashParams;

/* Launches the sm_80+ kernel (mma.sync, cp.async, online softmax) for
 * head dim 64 or 128; `dtype` is RL_ATTENTION_BF16 or RL_ATTENTION_F16;
 * `warps` 0 for 4 warps of 32 query rows each (the default), 4 or 8 for
 * that many warps of 16 rows per block. cudaErrorInvalidValue for
 * other head dims or dtypes. */
cudaError_t rl_attention_flash_launch (const RlFlashParams *params, int32_t head_dim,
                                       int32_t dtype, int32_t warps, cudaStream_t stream);

/* Orders of work in a consumer warpgroup of the Hopper kernel. */
typedef enum {
  RL_HOPPER_SERIAL   = 0,   /* Q Kᵀ, softmax, P V one after another */
  RL_HOPPER_OVERLAP  = 1,   /* softmax(j) under P(j−1) V(j−1) */
  RL_HOPPER_PINGPONG = 2,   /* overlap, and the two consumers take turns issuing */
  RL_HOPPER_LOOKAHEAD = 3,  /* overlap, and the next tile's first Q Kᵀ under this one's store */
} RlHopperSchedule;

/* Launches the Hopper kernel (flash-hopper.cu: TMA, wgmma, warp
 * specialisation; sm_90 only) for head dim 64 or 128, bf16 or f16, scale
 * > 0, in the RlHopperSchedule `schedule`, with `stages` 2 or 3 K/V
 * buffers. cudaErrorNotSupported (nothing launched) when the driver cannot
 * encode tensor maps or the scale is not positive; cudaErrorInvalidValue
 * for other head dims or dtypes. */
cudaError_t rl_attention_flash_hopper_launch (const RlFlashParams *params, int32_t head_dim,
                                              int32_t dtype, int32_t schedule, int32_t stages,
                                              cudaStream_t stream);

#ifdef __cplusplus
}
#endif
