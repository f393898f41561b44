#include "cuda-elementwise.h"

#include "cuda-dtype.cuh"

using namespace rl_cuda;

namespace {

constexpr int kThreads = 256;

__device__ inline float
apply_pointwise (const RlCudaPointwise &p, float x)
{
  float v = x * p.in_scale;
  switch (p.op) {
  case RL_CUDA_UNARY_SILU:      v = silu (v); break;
  case RL_CUDA_UNARY_GELU_TANH: v = gelu_tanh (v); break;
  case RL_CUDA_UNARY_GELU_ERF:  v = gelu_erf (v); break;
  default:                      break;
  }
  /* alpha 0 is a fill: NaN or inf inputs must not leak through 0·x */
  float r = p.alpha == 0.0f ? p.beta : v * p.alpha + p.beta;
  return r / p.out_divisor;
}

__device__ inline float
apply_binary (RlCudaBinaryOp op, float alpha, float beta, float a, float b)
{
  return op == RL_CUDA_BINARY_MUL ? alpha * a * b : alpha * a + beta * b;
}

/* Chunks each thread of the dense kernels handles: both loads are issued
 * before either is used, so two 16-byte accesses per thread are in flight. */
constexpr int kUnroll = 2;

/* y = pointwise(x) over `count` dense elements.
 * Launch: 1-D, kThreads threads, kUnroll chunks of 8 elements per thread,
 * the second one blockDim.x chunks after the first (coalesced). */
__global__ void
unary_kernel (RlCudaPointwise p, void *y, cudaDataType_t y_type, const void *x,
              cudaDataType_t x_type, int64_t count, bool wide)
{
  int64_t first = ((int64_t) blockIdx.x * blockDim.x * kUnroll + threadIdx.x) * kChunk;
  float v[kUnroll][kChunk];
#pragma unroll
  for (int u = 0; u < kUnroll; u++) {
    int64_t i = first + (int64_t) u * blockDim.x * kChunk;
    if (i < count)
      load_chunk (x, x_type, i, count, wide, v[u]);
  }
#pragma unroll
  for (int u = 0; u < kUnroll; u++) {
    int64_t i = first + (int64_t) u * blockDim.x * kChunk;
    if (i >= count)
      continue;
#pragma unroll
    for (int j = 0; j < kChunk; j++)
      v[u][j] = apply_pointwise (p, v[u][j]);
    store_chunk (y, y_type, i, count, wide, v[u]);
  }
}

/* y = a op b over `count` dense elements. Launch: as unary_kernel. */
__global__ void
binary_kernel (RlCudaBinaryOp op, float alpha, float beta, void *y, cudaDataType_t y_type,
               const void *a, cudaDataType_t a_type, const void *b, cudaDataType_t b_type,
               int64_t count, bool wide)
{
  int64_t i = ((int64_t) blockIdx.x * blockDim.x + threadIdx.x) * kChunk;
  if (i >= count)
    return;
  float va[kChunk], vb[kChunk];
  load_chunk (a, a_type, i, count, wide, va);
  load_chunk (b, b_type, i, count, wide, vb);
#pragma unroll
  for (int j = 0; j < kChunk; j++)
    va[j] = apply_binary (op, alpha, beta, va[j], vb[j]);
  store_chunk (y, y_type, i, count, wide, va);
}

struct Strides3 {
  int     ndim;
  int64_t shape[RL_CUDA_MAX_DIMS];
  int64_t y[RL_CUDA_MAX_DIMS];
  int64_t a[RL_CUDA_MAX_DIMS];
  int64_t b[RL_CUDA_MAX_DIMS];
};

/* Offsets of flat element `flat` (row-major over shape) in y, a and b. */
__device__ inline void
strided_offsets (const Strides3 &s, int64_t flat, int64_t *oy, int64_t *oa, int64_t *ob)
{
  *oy = *oa = *ob = 0;
  for (int d = s.ndim - 1; d >= 0; d--) {
    int64_t coord = flat % s.shape[d];
    flat /= s.shape[d];
    *oy += coord * s.y[d];
    *oa += coord * s.a[d];
    *ob += coord * s.b[d];
  }
}

/* y = pointwise(x) over any strides. Launch: 1-D, one element per thread. */
__global__ void
unary_strided_kernel (RlCudaPointwise p, Strides3 s, void *y, cudaDataType_t y_type,
                      const void *x, cudaDataType_t x_type, int64_t count)
{
  int64_t flat = (int64_t) blockIdx.x * blockDim.x + threadIdx.x;
  if (flat >= count)
    return;
  int64_t oy, ox, unused;
  strided_offsets (s, flat, &oy, &ox, &unused);
  float v = x != nullptr ? load_one (x, x_type, ox) : 0.0f;
  store_one (y, y_type, oy, apply_pointwise (p, v));
}

/* Broadcasting y = a op b. Launch: 1-D, one element per thread. */
__global__ void
binary_strided_kernel (RlCudaBinaryOp op, float alpha, float beta, Strides3 s, void *y,
                       cudaDataType_t y_type, const void *a, cudaDataType_t a_type,
                       const void *b, cudaDataType_t b_type, int64_t count)
{
  int64_t flat = (int64_t) blockIdx.x * blockDim.x + threadIdx.x;
  if (flat >= count)
    return;
  int64_t oy, oa, ob;
  strided_offsets (s, flat, &oy, &oa, &ob);
  store_one (y, y_type, oy,
             apply_binary (op, alpha, beta, load_one (a, a_type, oa), load_one (b, b_type, ob)));
}

/* x += y·gate(b, t) over rows of `dim`. Launch: 1-D, one chunk of 8
 * elements of one row per thread (chunks never straddle rows); 32-bit
 * index arithmetic (the launcher checks the sizes fit). */
template <typename TX, typename TY>
__global__ void
gated_residual_kernel (TX *x, const TY *y, RlCudaRowVector gate, uint32_t tokens, uint32_t dim,
                       uint32_t rows, bool wide, bool wide_gate)
{
  const uint32_t chunks_per_row = (dim + kChunk - 1) / kChunk;
  const uint32_t chunk = blockIdx.x * blockDim.x + threadIdx.x;
  const uint32_t row = chunk / chunks_per_row;
  if (row >= rows)
    return;
  const uint32_t i = (chunk - row * chunks_per_row) * kChunk;
  TX *x_row = x + (size_t) row * dim;
  float vx[kChunk], vy[kChunk], vg[kChunk];
  load_chunk_t (x_row, i, dim, wide, vx);
  load_chunk_t (y + (size_t) row * dim, i, dim, wide, vy);
  if (gate.ptr != nullptr) {
    uint32_t b = row / tokens;
    load_chunk (row_vector_at (gate, b, row - b * tokens), gate.dtype, i, dim, wide_gate, vg);
#pragma unroll
    for (int j = 0; j < kChunk; j++)
      vy[j] *= vg[j];
  }
#pragma unroll
  for (int j = 0; j < kChunk; j++)
    vx[j] += vy[j];
  store_chunk_t (x_row, i, dim, wide, vx);
}

struct GatedLaunch {
  void *x;
  const void *y;
  RlCudaRowVector gate;
  int64_t tokens, dim, rows;
  bool wide, wide_gate;
  cudaStream_t stream;

  template <typename TX, typename TY>
  void
  operator() () const
  {
    int64_t chunks = rows * ceil_div (dim, kChunk);
    gated_residual_kernel<TX, TY><<<(unsigned) ceil_div (chunks, kThreads), kThreads, 0, stream>>> (
      (TX *) x, (const TY *) y, gate, (uint32_t) tokens, (uint32_t) dim, (uint32_t) rows, wide,
      wide_gate);
  }
};

unsigned
chunk_blocks (int64_t count)
{
  return (unsigned) ceil_div (ceil_div (count, kChunk), kThreads);
}

unsigned
unrolled_blocks (int64_t count)
{
  return (unsigned) ceil_div (ceil_div (count, kChunk), (int64_t) kThreads * kUnroll);
}

/* Copies shape and strides into s; false when a size is negative or ndim
 * out of range. Sets *count to the element count. */
bool
fill_strides (Strides3 *s, int ndim, const int64_t *shape, const int64_t *y,
              const int64_t *a, const int64_t *b, int64_t *count)
{
  if (ndim < 0 || ndim > RL_CUDA_MAX_DIMS)
    return false;
  *s = Strides3 {};
  s->ndim = ndim;
  *count = 1;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] < 0)
      return false;
    s->shape[d] = shape[d];
    s->y[d] = y[d];
    s->a[d] = a != nullptr ? a[d] : 0;
    s->b[d] = b != nullptr ? b[d] : 0;
    *count *= shape[d];
  }
  return true;
}

} // namespace

extern "C" RlCudaPointwise
rl_cuda_pointwise (RlCudaUnaryOp op)
{
  RlCudaPointwise p = { op, 1.0f, 1.0f, 0.0f, 1.0f };
  return p;
}

extern "C" int
rl_cuda_dtype_size (cudaDataType_t type)
{
  return dtype_size (type);
}

extern "C" cudaError_t
rl_cuda_unary (RlCudaPointwise p, void *y, cudaDataType_t y_type, const void *x,
               cudaDataType_t x_type, int64_t count, cudaStream_t stream)
{
  if (count < 0 || dtype_size (y_type) == 0 || dtype_size (x_type) == 0
      || (count > 0 && (x == nullptr || y == nullptr)) || p.out_divisor == 0.0f)
    return cudaErrorInvalidValue;
  if (count == 0)
    return cudaSuccess;
  bool wide = can_go_wide (x, x_type, kChunk) && can_go_wide (y, y_type, kChunk);
  unary_kernel<<<unrolled_blocks (count), kThreads, 0, stream>>> (p, y, y_type, x, x_type, count,
                                                                  wide);
  return cudaGetLastError ();
}

extern "C" cudaError_t
rl_cuda_unary_strided (RlCudaPointwise p, int ndim, const int64_t *shape, void *y,
                       cudaDataType_t y_type, const int64_t *y_strides, const void *x,
                       cudaDataType_t x_type, const int64_t *x_strides, cudaStream_t stream)
{
  Strides3 s;
  int64_t count;
  if (y == nullptr || dtype_size (y_type) == 0 || (x != nullptr && dtype_size (x_type) == 0)
      || p.out_divisor == 0.0f
      || !fill_strides (&s, ndim, shape, y_strides, x != nullptr ? x_strides : nullptr, nullptr,
                        &count))
    return cudaErrorInvalidValue;
  if (count == 0)
    return cudaSuccess;
  unary_strided_kernel<<<(unsigned) ceil_div (count, kThreads), kThreads, 0, stream>>> (
    p, s, y, y_type, x, x_type, count);
  return cudaGetLastError ();
}

extern "C" cudaError_t
rl_cuda_binary (RlCudaBinaryOp op, float alpha, float beta, void *y, cudaDataType_t y_type,
                const void *a, cudaDataType_t a_type, const void *b, cudaDataType_t b_type,
                int64_t count, cudaStream_t stream)
{
  if (count < 0 || dtype_size (y_type) == 0 || dtype_size (a_type) == 0
      || dtype_size (b_type) == 0 || (count > 0 && (a == nullptr || b == nullptr || y == nullptr)))
    return cudaErrorInvalidValue;
  if (count == 0)
    return cudaSuccess;
  bool wide = can_go_wide (a, a_type, kChunk) && can_go_wide (b, b_type, kChunk)
              && can_go_wide (y, y_type, kChunk);
  binary_kernel<<<chunk_blocks (count), kThreads, 0, stream>>> (op, alpha, beta, y, y_type, a,
                                                                a_type, b, b_type, count, wide);
  return cudaGetLastError ();
}

extern "C" cudaError_t
rl_cuda_binary_strided (RlCudaBinaryOp op, float alpha, float beta, int ndim,
                        const int64_t *shape, void *y, cudaDataType_t y_type,
                        const int64_t *y_strides, const void *a, cudaDataType_t a_type,
                        const int64_t *a_strides, const void *b, cudaDataType_t b_type,
                        const int64_t *b_strides, cudaStream_t stream)
{
  Strides3 s;
  int64_t count;
  if (dtype_size (y_type) == 0 || dtype_size (a_type) == 0 || dtype_size (b_type) == 0
      || y == nullptr || a == nullptr || b == nullptr
      || !fill_strides (&s, ndim, shape, y_strides, a_strides, b_strides, &count))
    return cudaErrorInvalidValue;
  if (count == 0)
    return cudaSuccess;
  binary_strided_kernel<<<(unsigned) ceil_div (count, kThreads), kThreads, 0, stream>>> (
    op, alpha, beta, s, y, y_type, a, a_type, b, b_type, count);
  return cudaGetLastError ();
}

extern "C" cudaError_t
rl_cuda_gated_residual (void *x, cudaDataType_t x_type, const void *y, cudaDataType_t y_type,
                        RlCudaRowVector gate, int64_t batch, int64_t tokens, int64_t dim,
                        cudaStream_t stream)
{
  if (x == nullptr || y == nullptr || batch < 0 || tokens < 0 || dim <= 0
      || dtype_size (x_type) == 0 || dtype_size (y_type) == 0 || !row_vector_valid (gate))
    return cudaErrorInvalidValue;
  int64_t rows = batch * tokens;
  if (rows == 0)
    return cudaSuccess;
  if (rows * ceil_div (dim, kChunk) >= ((int64_t) 1 << 32))
    return cudaErrorInvalidValue;
  GatedLaunch launch = {
    x, y, gate, tokens, dim, rows,
    can_go_wide (x, x_type, dim) && can_go_wide (y, y_type, dim),
    row_vector_wide (gate) && dim % kChunk == 0, stream,
  };
  if (!dispatch_float2 (x_type, y_type, launch))
    return cudaErrorInvalidValue;
  return cudaGetLastError ();
}

extern "C" cudaError_t
rl_cuda_fill (void *y, cudaDataType_t y_type, int64_t count, float value, cudaStream_t stream)
{
  RlCudaPointwise p = rl_cuda_pointwise (RL_CUDA_UNARY_COPY);
  p.alpha = 0.0f;
  p.beta = value;
  if (count < 0 || dtype_size (y_type) == 0 || (count > 0 && y == nullptr))
    return cudaErrorInvalidValue;
  if (count == 0)
    return cudaSuccess;
  /* 0·x + value with x = y itself: reads are harmless and keep one kernel. */
  bool wide = can_go_wide (y, y_type, kChunk);
  unary_kernel<<<unrolled_blocks (count), kThreads, 0, stream>>> (p, y, y_type, y, y_type, count,
                                                                  wide);
  return cudaGetLastError ();
}
