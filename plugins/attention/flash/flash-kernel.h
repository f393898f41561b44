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
 * `warps` 4 or 8 (16 query rows each) per block. cudaErrorInvalidValue for
 * other head dims or dtypes. */
cudaError_t rl_attention_flash_launch (const RlFlashParams *params, int32_t head_dim,
                                       int32_t dtype, int32_t warps, cudaStream_t stream);

/* Launches the Hopper kernel (flash-hopper.cu: TMA, wgmma, warp
 * specialisation; sm_90 only) for head dim 64 or 128, bf16 or f16, scale
 * > 0. `overlap` 1 runs softmax under the next P·V product, 0 runs them in
 * turn. cudaErrorNotSupported (nothing launched) when the driver cannot
 * encode tensor maps or the scale is not positive; cudaErrorInvalidValue
 * for other head dims or dtypes. */
cudaError_t rl_attention_flash_hopper_launch (const RlFlashParams *params, int32_t head_dim,
                                              int32_t dtype, int32_t overlap, cudaStream_t stream);

#ifdef __cplusplus
}
#endif
