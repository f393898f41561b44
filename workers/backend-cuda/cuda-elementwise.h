/* Element-wise kernels of the CUDA backend: activations, conversions,
 * arithmetic with broadcasting, the gated residual add, and fills.
 *
 * Buffers are device pointers with a cudaDataType_t each (f32, f16, bf16,
 * f8 e4m3/e5m2, i8, i32); arithmetic is done in fp32 and rounded once on
 * store. Dense variants move eight elements per thread with 16-byte
 * accesses when every pointer is 16-byte aligned. Each launcher returns
 * cudaErrorInvalidValue for bad arguments, else the launch status; work runs
 * asynchronously on `stream`. */
#pragma once

#include <stdint.h>

#include <cuda_runtime_api.h>
#include <library_types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RL_CUDA_MAX_DIMS 6

typedef enum {
  RL_CUDA_UNARY_COPY = 0,   /* y = x                      (dtype conversion) */
  RL_CUDA_UNARY_SILU,       /* y = x·sigmoid(x)                              */
  RL_CUDA_UNARY_GELU_TANH,  /* y = GELU, tanh approximation                  */
  RL_CUDA_UNARY_GELU_ERF,   /* y = GELU, exact erf form                      */
  RL_CUDA_UNARY_QUANTIZE,   /* y = x / scale (saturating; fp8 quantisation)  */
} RlCudaUnaryOp;

typedef enum {
  RL_CUDA_BINARY_ADD = 0,
  RL_CUDA_BINARY_SUB,
  RL_CUDA_BINARY_MUL,
} RlCudaBinaryOp;

/* A [dim] vector picked per token of a [batch, tokens, dim] activation:
 * token t of batch b reads ptr + b·batch_stride + (t / tokens_per_frame)·
 * frame_stride. Per-batch modulation has tokens_per_frame = tokens (or
 * frame_stride 0); Wan 2.2's per-frame modulation sets it to the tokens of
 * one latent frame. A NULL ptr means "absent". Strides are in elements. */
typedef struct {
  const void    *ptr;
  cudaDataType_t dtype;
  int64_t        batch_stride;
  int64_t        frame_stride;
} RlCudaRowVector;

/* y[i] = op(x[i]) · s for i < count, where s = *scale (a device float) or 1
 * when scale is NULL; QUANTIZE divides by s instead. y may equal x when
 * both dtypes have the same size. */
cudaError_t rl_cuda_unary          (RlCudaUnaryOp op,
                                    void *y, cudaDataType_t y_type,
                                    const void *x, cudaDataType_t x_type,
                                    int64_t count, const float *scale,
                                    cudaStream_t stream);

/* y[i] = a[i] op b[i] for i < count (all dense, same shape). */
cudaError_t rl_cuda_binary         (RlCudaBinaryOp op,
                                    void *y, cudaDataType_t y_type,
                                    const void *a, cudaDataType_t a_type,
                                    const void *b, cudaDataType_t b_type,
                                    int64_t count, cudaStream_t stream);

/* Broadcasting form over up to RL_CUDA_MAX_DIMS dims: element index
 * (i0..in-1) of y reads a and b at their own strides (elements; 0 along a
 * broadcast axis). */
cudaError_t rl_cuda_binary_strided (RlCudaBinaryOp op, int ndim, const int64_t *shape,
                                    void *y, cudaDataType_t y_type, const int64_t *y_strides,
                                    const void *a, cudaDataType_t a_type, const int64_t *a_strides,
                                    const void *b, cudaDataType_t b_type, const int64_t *b_strides,
                                    cudaStream_t stream);

/* Gated residual add over a [batch, tokens, dim] stream (rows dense):
 * out[b,t,:] = x[b,t,:] + y[b,t,:] · gate(b,t)[:]. out may equal x. */
cudaError_t rl_cuda_gated_residual (void *out, const void *x, cudaDataType_t x_type,
                                    const void *y, cudaDataType_t y_type,
                                    RlCudaRowVector gate, int64_t tokens_per_frame,
                                    int64_t batch, int64_t tokens, int64_t dim,
                                    cudaStream_t stream);

/* y[i] = value for i < count. */
cudaError_t rl_cuda_fill           (void *y, cudaDataType_t y_type, int64_t count, float value,
                                    cudaStream_t stream);

#ifdef __cplusplus
}
#endif
