/* Normalisation kernels of the CUDA backend: the fused norm + affine +
 * adaLN modulation (+ RoPE) of DiT blocks, standalone interleaved RoPE,
 * softmax, row reductions and group norm (the Wan VAE's channel RMS norm is
 * in cuda-channel-norm.h).
 *
 * Statistics are computed in fp32 with a fixed reduction order (one block
 * per row or group, no atomics), so results are deterministic. Launchers
 * return cudaErrorInvalidValue for bad arguments, else the launch status. */
#pragma once

#include <stdint.h>

#include <cuda_runtime_api.h>
#include <library_types.h>

#include "cuda-elementwise.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  RL_CUDA_NORM_LAYER = 0,   /* (x − mean)/√(var + eps), biased variance */
  RL_CUDA_NORM_RMS,         /* x/√(mean(x²) + eps)                      */
  RL_CUDA_NORM_NONE,        /* x (modulation or RoPE only)              */
} RlCudaNormKind;

/* Interleaved-pair rotary embedding applied to rows of H·Dh elements:
 *   y[2j] = cos·x[2j] − sin·x[2j+1];  y[2j+1] = sin·x[2j] + cos·x[2j+1]
 * for the pair j = (e mod head_dim)/2 of element e, using f32 tables
 * [tokens, pairs] (+ b·batch_stride); pairs >= `pairs` pass through. */
typedef struct {
  const float *cos;          /* NULL: no RoPE */
  const float *sin;
  int64_t      pairs;        /* table width P (<= head_dim/2) */
  int64_t      head_dim;     /* Dh, even */
  int64_t      batch_stride; /* floats between batches of the tables; 0 = shared */
} RlCudaRope;

/* y[b,t,:] = rope (norm(x[b,t,:]) · weight + bias) · (1 + scale(b,t)) + shift(b,t))
 * over a dense [batch, tokens, dim] activation; absent parts are skipped.
 * dim <= 16384. y may equal x. */
typedef struct {
  RlCudaNormKind  kind;
  float           eps;
  const void     *x;
  cudaDataType_t  x_type;
  void           *y;
  cudaDataType_t  y_type;
  int64_t         batch, tokens, dim;
  const void     *weight;        /* [dim] or NULL */
  cudaDataType_t  weight_type;
  const void     *bias;          /* [dim] or NULL */
  cudaDataType_t  bias_type;
  RlCudaRowVector shift;         /* ptr NULL: no modulation */
  RlCudaRowVector scale;
  RlCudaRope      rope;
} RlCudaNormModulate;

cudaError_t rl_cuda_norm_modulate    (const RlCudaNormModulate *args, cudaStream_t stream);

/* Standalone RoPE over dense x, y [batch, tokens, heads·head_dim]. y may
 * equal x. */
cudaError_t rl_cuda_rope             (void *y, cudaDataType_t y_type,
                                      const void *x, cudaDataType_t x_type,
                                      int64_t batch, int64_t tokens, int64_t heads,
                                      RlCudaRope rope, cudaStream_t stream);

/* Softmax over rows of `cols` (dense), max-subtracted, fp32 sums. y may
 * equal x. lse (f32 [rows], may be NULL) receives log Σ exp(x) per row. */
cudaError_t rl_cuda_softmax          (void *y, cudaDataType_t y_type,
                                      const void *x, cudaDataType_t x_type,
                                      int64_t rows, int64_t cols, float *lse,
                                      cudaStream_t stream);

typedef enum {
  RL_CUDA_REDUCE_SUM = 0,
  RL_CUDA_REDUCE_MEAN,
  RL_CUDA_REDUCE_MAX,
} RlCudaReduceKind;

/* y[o, i] = reduce over n of x[o, k, i] for a dense [outer, n, inner] x. */
cudaError_t rl_cuda_reduce           (RlCudaReduceKind kind,
                                      void *y, cudaDataType_t y_type,
                                      const void *x, cudaDataType_t x_type,
                                      int64_t outer, int64_t n, int64_t inner,
                                      cudaStream_t stream);

/* Group norm of dense x [batch, channels, spatial]: statistics per (batch,
 * group) over channels/groups × spatial, then y = (x − mean)·rstd·w[c] +
 * b[c] (weight/bias may be NULL). `stats` is device scratch of
 * 2·batch·groups floats. y may equal x. */
cudaError_t rl_cuda_group_norm       (void *y, cudaDataType_t y_type,
                                      const void *x, cudaDataType_t x_type,
                                      int64_t batch, int64_t channels, int64_t spatial,
                                      int64_t groups, float eps,
                                      const void *weight, const void *bias,
                                      cudaDataType_t affine_type,
                                      float *stats, cudaStream_t stream);

#ifdef __cplusplus
}
#endif
