/* Element-wise kernels of the CUDA backend: activations, conversions,
 * arithmetic with broadcasting, the gated residual add, and fills.
 *
 * Buffers are device pointers with a cudaDataType_t each (f32, f16, bf16,
 * f8 e4m3/e5m2, i8, i32); arithmetic is done in fp32 and rounded once on
 * store (fp8 saturates). Dense variants move eight elements per thread with
 * 16-byte accesses when every pointer is 16-byte aligned. Each launcher
 * returns cudaErrorInvalidValue for bad arguments, else the launch status;
 * work runs asynchronously on `stream`. Strides are in elements. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <cuda_runtime_api.h>
#include <library_types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RL_CUDA_MAX_DIMS 6

typedef enum {
  RL_CUDA_UNARY_COPY = 0,   /* identity (dtype conversion)           */
  RL_CUDA_UNARY_SILU,       /* x·sigmoid(x)                          */
  RL_CUDA_UNARY_GELU_TANH,  /* GELU, tanh approximation              */
  RL_CUDA_UNARY_GELU_ERF,   /* GELU, exact erf form                  */
} RlCudaUnaryOp;

/* y = (op(x · in_scale) · alpha + beta) / out_divisor: in_scale is a
 * source's dequantisation factor, out_divisor an fp8 destination's scale. */
typedef struct {
  RlCudaUnaryOp op;
  float         in_scale;
  float         alpha;
  float         beta;
  float         out_divisor;
} RlCudaPointwise;

/* Identity parameters for `op`. */
RlCudaPointwise rl_cuda_pointwise (RlCudaUnaryOp op);

typedef enum {
  RL_CUDA_BINARY_ADD = 0,   /* alpha·a + beta·b */
  RL_CUDA_BINARY_MUL,       /* alpha·a·b        */
} RlCudaBinaryOp;

/* A [dim] vector chosen per token of a [batch, tokens, dim] activation,
 * e.g. one modulation chunk [B, G, dim] of Wan's e0. Token t of batch b
 * reads group g = min((token_offset + t) / tokens_per_group, groups − 1)
 * at ptr + b·batch_stride + g·group_stride. ptr NULL means absent. */
typedef struct {
  const void    *ptr;
  cudaDataType_t dtype;
  int64_t        batch_stride;
  int64_t        group_stride;
  int64_t        groups;            /* G >= 1 */
  int64_t        tokens_per_group;  /* ignored when groups == 1 */
  int64_t        token_offset;
} RlCudaRowVector;

/* y[i] = pointwise(x[i]) for i < count, both dense. y may equal x when
 * both dtypes have the same size. */
cudaError_t rl_cuda_unary          (RlCudaPointwise p,
                                    void *y, cudaDataType_t y_type,
                                    const void *x, cudaDataType_t x_type,
                                    int64_t count, cudaStream_t stream);

/* The same over any strides, up to RL_CUDA_MAX_DIMS dims. x NULL reads
 * zeros (so alpha·0 + beta fills y). */
cudaError_t rl_cuda_unary_strided  (RlCudaPointwise p, int ndim, const int64_t *shape,
                                    void *y, cudaDataType_t y_type, const int64_t *y_strides,
                                    const void *x, cudaDataType_t x_type,
                                    const int64_t *x_strides, cudaStream_t stream);

/* y[i] = a[i] op b[i] for i < count (all dense, same shape). */
cudaError_t rl_cuda_binary         (RlCudaBinaryOp op, float alpha, float beta,
                                    void *y, cudaDataType_t y_type,
                                    const void *a, cudaDataType_t a_type,
                                    const void *b, cudaDataType_t b_type,
                                    int64_t count, cudaStream_t stream);

/* Broadcasting form: element (i0..in-1) of y reads a and b at their own
 * strides (0 along a broadcast axis). */
cudaError_t rl_cuda_binary_strided (RlCudaBinaryOp op, float alpha, float beta,
                                    int ndim, const int64_t *shape,
                                    void *y, cudaDataType_t y_type, const int64_t *y_strides,
                                    const void *a, cudaDataType_t a_type, const int64_t *a_strides,
                                    const void *b, cudaDataType_t b_type, const int64_t *b_strides,
                                    cudaStream_t stream);

/* Gated residual add in place over a dense [batch, tokens, dim] stream:
 * x[b,t,:] += y[b,t,:] · gate(b,t)[:] (gate.ptr NULL: x += y). */
cudaError_t rl_cuda_gated_residual (void *x, cudaDataType_t x_type,
                                    const void *y, cudaDataType_t y_type,
                                    RlCudaRowVector gate,
                                    int64_t batch, int64_t tokens, int64_t dim,
                                    cudaStream_t stream);

/* y[i] = value for i < count (dense). */
cudaError_t rl_cuda_fill           (void *y, cudaDataType_t y_type, int64_t count, float value,
                                    cudaStream_t stream);

/* Bytes of one element of `type`, 0 for types kernels do not handle. */
int         rl_cuda_dtype_size     (cudaDataType_t type);

#ifdef __cplusplus
}
#endif
