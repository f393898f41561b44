#include "cuda-elementwise.h"

#include "cuda-dtype.cuh"

using namespace rl_cuda;

namespace {

constexpr int kThreads = 256;

/* Activation or conversion of one element, then the optional scale. */
__device__ inline float
apply_unary (RlCudaUnaryOp op, float x, float scale)
{
  switch (op) {
  case RL_CUDA_UNARY_SILU:      return silu (x) * scale;
  case RL_CUDA_UNARY_GELU_TANH: return gelu_tanh (x) * scale;
  case RL_CUDA_UNARY_GELU_ERF:  return gelu_erf (x) * scale;
  case RL_CUDA_UNARY_QUANTIZE:  return x / scale;
  default:                      return x * scale;
  }
}

__device__ inline float
apply_binary (RlCudaBinaryOp op, float a, float b)
{
  switch (op) {
  case RL_CUDA_BINARY_SUB: return a - b;
  case RL_CUDA_BINARY_MUL: return a * b;
  default:                 return a + b;
  }
}

/* y = op(x)·scale over `count` elements.
 * Launch: 1-D, kThreads threads, one chunk of 8 elements per thread. */
__global__ void
unary_kernel (RlCudaUnaryOp op, void *y, cudaDataType_t y_type, const void *x,
              cudaDataType_t x_type, int64_t count, const float *scale, bool wide)
{
  int64_t i = ((int64_t) blockIdx.x * blockDim.x + threadIdx.x) * kChunk;
  if (i >= count)
    return;
  float s = scale != nullptr ? *scale : 1.0f;
  float v[kChunk];
  load_chunk (x, x_type, i, count, wide, v);
#pragma unroll
  for (int j = 0; j < kChunk; j++)
    v[j] = apply_unary (op, v[j], s);
  store_chunk (y, y_type, i, count, wide, v);
}

/* y = a op b over `count` elements. Launch: as unary_kernel. */
__global__ void
binary_kernel (RlCudaBinaryOp op, void *y, cudaDataType_t y_type, const void *a,
               cudaDataType_t a_type, const void *b, cudaDataType_t b_type, int64_t count,
               bool wide)
{
  int64_t i = ((int64_t) blockIdx.x * blockDim.x + threadIdx.x) * kChunk;
  if (i >= count)
    return;
  float va[kChunk], vb[kChunk];
  load_chunk (a, a_type, i, count, wide, va);
  load_chunk (b, b_type, i, count, wide, vb);
#pragma unroll
  for (int j = 0; j < kChunk; j++)
    va[j] = apply_binary (op, va[j], vb[j]);
  store_chunk (y, y_type, i, count, wide, va);
}

struct StridedShape {
  int     ndim;
  int64_t shape[RL_CUDA_MAX_DIMS];
  int64_t y_strides[RL_CUDA_MAX_DIMS];
  int64_t a_strides[RL_CUDA_MAX_DIMS];
  int64_t b_strides[RL_CUDA_MAX_DIMS];
};

/* Broadcasting y = a op b. Launch: 1-D, one element per thread; the flat
 * index is split into coordinates, innermost dim last. */
__global__ void
binary_strided_kernel (RlCudaBinaryOp op, StridedShape s, void *y, cudaDataType_t y_type,
                       const void *a, cudaDataType_t a_type, const void *b,
                       cudaDataType_t b_type, int64_t count)
{
  int64_t flat = (int64_t) blockIdx.x * blockDim.x + threadIdx.x;
  if (flat >= count)
    return;
  int64_t oy = 0, oa = 0, ob = 0;
  for (int d = s.ndim - 1; d >= 0; d--) {
    int64_t coord = flat % s.shape[d];
    flat /= s.shape[d];
    oy += coord * s.y_strides[d];
    oa += coord * s.a_strides[d];
    ob += coord * s.b_strides[d];
  }
  store_one (y, y_type, oy,
             apply_binary (op, load_one (a, a_type, oa), load_one (b, b_type, ob)));
}

/* out = x + y·gate(b, t) over rows of `dim`. Launch: 1-D, one chunk of 8
 * elements of one row per thread (chunks never straddle rows). */
__global__ void
gated_residual_kernel (void *out, const void *x, cudaDataType_t x_type, const void *y,
                       cudaDataType_t y_type, RlCudaRowVector gate, int64_t tokens_per_frame,
                       int64_t tokens, int64_t dim, int64_t rows, bool wide)
{
  int64_t chunks_per_row = ceil_div (dim, kChunk);
  int64_t chunk = (int64_t) blockIdx.x * blockDim.x + threadIdx.x;
  int64_t row = chunk / chunks_per_row;
  if (row >= rows)
    return;
  int64_t i = (chunk % chunks_per_row) * kChunk;
  int64_t b = row / tokens, t = row % tokens;
  int64_t row_offset = row * dim;
  const char *gate_row = (const char *) gate.ptr
                         + (b * gate.batch_stride + (t / tokens_per_frame) * gate.frame_stride)
                             * dtype_size (gate.dtype);
  float vx[kChunk], vy[kChunk], vg[kChunk];
  load_chunk ((const char *) x + row_offset * dtype_size (x_type), x_type, i, dim, wide, vx);
  load_chunk ((const char *) y + row_offset * dtype_size (y_type), y_type, i, dim, wide, vy);
  load_chunk (gate_row, gate.dtype, i, dim, wide, vg);
#pragma unroll
  for (int j = 0; j < kChunk; j++)
    vx[j] += vy[j] * vg[j];
  store_chunk ((char *) out + row_offset * dtype_size (x_type), x_type, i, dim, wide, vx);
}

/* y = value. Launch: as unary_kernel. */
__global__ void
fill_kernel (void *y, cudaDataType_t y_type, int64_t count, float value, bool wide)
{
  int64_t i = ((int64_t) blockIdx.x * blockDim.x + threadIdx.x) * kChunk;
  if (i >= count)
    return;
  float v[kChunk];
#pragma unroll
  for (int j = 0; j < kChunk; j++)
    v[j] = value;
  store_chunk (y, y_type, i, count, wide, v);
}

unsigned
chunk_blocks (int64_t count)
{
  return (unsigned) ceil_div (ceil_div (count, kChunk), kThreads);
}

} // namespace

extern "C" cudaError_t
rl_cuda_unary (RlCudaUnaryOp op, void *y, cudaDataType_t y_type, const void *x,
               cudaDataType_t x_type, int64_t count, const float *scale, cudaStream_t stream)
{
  if (count < 0 || dtype_size (y_type) == 0 || dtype_size (x_type) == 0
      || (count > 0 && (x == nullptr || y == nullptr)))
    return cudaErrorInvalidValue;
  if (count == 0)
    return cudaSuccess;
  bool wide = can_go_wide (x, x_type, kChunk) && can_go_wide (y, y_type, kChunk);
  unary_kernel<<<chunk_blocks (count), kThreads, 0, stream>>> (op, y, y_type, x, x_type, count,
                                                               scale, wide);
  return cudaGetLastError ();
}

extern "C" cudaError_t
rl_cuda_binary (RlCudaBinaryOp op, void *y, cudaDataType_t y_type, const void *a,
                cudaDataType_t a_type, const void *b, cudaDataType_t b_type, int64_t count,
                cudaStream_t stream)
{
  if (count < 0 || dtype_size (y_type) == 0 || dtype_size (a_type) == 0
      || dtype_size (b_type) == 0 || (count > 0 && (a == nullptr || b == nullptr || y == nullptr)))
    return cudaErrorInvalidValue;
  if (count == 0)
    return cudaSuccess;
  bool wide = can_go_wide (a, a_type, kChunk) && can_go_wide (b, b_type, kChunk)
              && can_go_wide (y, y_type, kChunk);
  binary_kernel<<<chunk_blocks (count), kThreads, 0, stream>>> (op, y, y_type, a, a_type, b,
                                                                b_type, count, wide);
  return cudaGetLastError ();
}

extern "C" cudaError_t
rl_cuda_binary_strided (RlCudaBinaryOp op, int ndim, const int64_t *shape, void *y,
                        cudaDataType_t y_type, const int64_t *y_strides, const void *a,
                        cudaDataType_t a_type, const int64_t *a_strides, const void *b,
                        cudaDataType_t b_type, const int64_t *b_strides, cudaStream_t stream)
{
  if (ndim < 1 || ndim > RL_CUDA_MAX_DIMS || dtype_size (y_type) == 0
      || dtype_size (a_type) == 0 || dtype_size (b_type) == 0 || y == nullptr || a == nullptr
      || b == nullptr)
    return cudaErrorInvalidValue;
  StridedShape s = {};
  s.ndim = ndim;
  int64_t count = 1;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] < 0)
      return cudaErrorInvalidValue;
    s.shape[d] = shape[d];
    s.y_strides[d] = y_strides[d];
    s.a_strides[d] = a_strides[d];
    s.b_strides[d] = b_strides[d];
    count *= shape[d];
  }
  if (count == 0)
    return cudaSuccess;
  binary_strided_kernel<<<(unsigned) ceil_div (count, kThreads), kThreads, 0, stream>>> (
    op, s, y, y_type, a, a_type, b, b_type, count);
  return cudaGetLastError ();
}

extern "C" cudaError_t
rl_cuda_gated_residual (void *out, const void *x, cudaDataType_t x_type, const void *y,
                        cudaDataType_t y_type, RlCudaRowVector gate, int64_t tokens_per_frame,
                        int64_t batch, int64_t tokens, int64_t dim, cudaStream_t stream)
{
  if (out == nullptr || x == nullptr || y == nullptr || gate.ptr == nullptr || batch < 0
      || tokens < 0 || dim <= 0 || tokens_per_frame <= 0 || dtype_size (x_type) == 0
      || dtype_size (y_type) == 0 || dtype_size (gate.dtype) == 0)
    return cudaErrorInvalidValue;
  int64_t rows = batch * tokens;
  if (rows == 0)
    return cudaSuccess;
  bool wide = can_go_wide (x, x_type, dim) && can_go_wide (y, y_type, dim)
              && can_go_wide (out, x_type, dim)
              && can_go_wide (gate.ptr, gate.dtype, gate.batch_stride)
              && gate.frame_stride % kChunk == 0;
  int64_t chunks = rows * ceil_div (dim, kChunk);
  gated_residual_kernel<<<(unsigned) ceil_div (chunks, kThreads), kThreads, 0, stream>>> (
    out, x, x_type, y, y_type, gate, tokens_per_frame, tokens, dim, rows, wide);
  return cudaGetLastError ();
}

extern "C" cudaError_t
rl_cuda_fill (void *y, cudaDataType_t y_type, int64_t count, float value, cudaStream_t stream)
{
  if (count < 0 || dtype_size (y_type) == 0 || (count > 0 && y == nullptr))
    return cudaErrorInvalidValue;
  if (count == 0)
    return cudaSuccess;
  fill_kernel<<<chunk_blocks (count), kThreads, 0, stream>>> (y, y_type, count, value,
                                                              can_go_wide (y, y_type, kChunk));
  return cudaGetLastError ();
}
