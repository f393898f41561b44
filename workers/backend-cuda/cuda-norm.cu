#include "cuda-norm.h"

#include <algorithm>
#include <stdlib.h>

#include "cuda-dtype.cuh"
#include "cuda-norm-kernels.cuh"
#include "cuda-rope.cuh"

using namespace rl_cuda;

namespace {

/* Standalone RoPE. Launch: 1-D, one chunk of 8 elements (4 pairs) of one
 * row per thread; rows of heads·head_dim elements. */
template <typename TX, typename TY>
__global__ void
rope_kernel (TY *y, const TX *x, uint32_t tokens, uint32_t row_len, uint32_t rows, RlCudaRope rope,
             bool wide)
{
  const uint32_t chunks_per_row = (row_len + kChunk - 1) / kChunk;
  const uint32_t chunk = blockIdx.x * blockDim.x + threadIdx.x;
  const uint32_t row = chunk / chunks_per_row;
  if (row >= rows)
    return;
  const uint32_t i = (chunk - row * chunks_per_row) * kChunk;
  const uint32_t b = row / tokens, t = row - b * tokens;
  float v[kChunk];
  load_chunk_t (x + (size_t) row * row_len, i, row_len, wide, v);
  rotate_chunk (rope, b, t, i, v);
  store_chunk_t (y + (size_t) row * row_len, i, row_len, wide, v);
}

/* Softmax of one row. Launch: one block per row, 256 threads striding over
 * the row's chunks; three passes (max, sum, write) hit L2 after the first. */
__global__ void
softmax_kernel (void *y, cudaDataType_t y_type, const void *x, cudaDataType_t x_type,
                int64_t cols, float *lse, bool wide)
{
  __shared__ float scratch[32];
  int64_t row = blockIdx.x;
  const char *x_row = (const char *) x + row * cols * dtype_size (x_type);
  char *y_row = (char *) y + row * cols * dtype_size (y_type);
  float v[kChunk];
  float local_max = -INFINITY;
  for (int64_t i = (int64_t) threadIdx.x * kChunk; i < cols; i += (int64_t) blockDim.x * kChunk) {
    load_chunk (x_row, x_type, i, cols, wide, v);
    for (int j = 0; j < kChunk && i + j < cols; j++)
      local_max = fmaxf (local_max, v[j]);
  }
  float row_max = block_max (local_max, scratch);
  float local_sum = 0.0f;
  for (int64_t i = (int64_t) threadIdx.x * kChunk; i < cols; i += (int64_t) blockDim.x * kChunk) {
    load_chunk (x_row, x_type, i, cols, wide, v);
    for (int j = 0; j < kChunk && i + j < cols; j++)
      local_sum += expf (v[j] - row_max);
  }
  float row_sum = block_sum (local_sum, scratch);
  float inv_sum = 1.0f / row_sum;
  if (lse != nullptr && threadIdx.x == 0)
    lse[row] = row_max + logf (row_sum);
  for (int64_t i = (int64_t) threadIdx.x * kChunk; i < cols; i += (int64_t) blockDim.x * kChunk) {
    load_chunk (x_row, x_type, i, cols, wide, v);
#pragma unroll
    for (int j = 0; j < kChunk; j++)
      v[j] = expf (v[j] - row_max) * inv_sum;
    store_chunk (y_row, y_type, i, cols, wide, v);
  }
}

/* Reduction over the middle axis of [outer, n, inner]. Launch: 1-D, one
 * output element per thread, sequential over n (deterministic; adjacent
 * threads read adjacent inner elements). */
__global__ void
reduce_kernel (RlCudaReduceKind kind, void *y, cudaDataType_t y_type, const void *x,
               cudaDataType_t x_type, int64_t outer, int64_t n, int64_t inner)
{
  int64_t out = (int64_t) blockIdx.x * blockDim.x + threadIdx.x;
  if (out >= outer * inner)
    return;
  int64_t o = out / inner, i = out % inner;
  int64_t base = o * n * inner + i;
  float acc = kind == RL_CUDA_REDUCE_MAX ? -INFINITY : 0.0f;
  for (int64_t k = 0; k < n; k++) {
    float v = load_one (x, x_type, base + k * inner);
    acc = kind == RL_CUDA_REDUCE_MAX ? (v > acc || v != v ? v : acc) : acc + v;
  }
  if (kind == RL_CUDA_REDUCE_MEAN)
    acc /= (float) n;
  store_one (y, y_type, out, acc);
}

/* Mean and 1/std of one (batch, group) range of `count` contiguous
 * elements. Launch: one block of 256 threads per group; two passes. */
__global__ void
group_stats_kernel (const void *x, cudaDataType_t x_type, int64_t count, float eps,
                    float *stats, bool wide)
{
  __shared__ float scratch[32];
  int64_t group = blockIdx.x;
  const char *base = (const char *) x + group * count * dtype_size (x_type);
  float v[kChunk];
  float sum = 0.0f;
  for (int64_t i = (int64_t) threadIdx.x * kChunk; i < count; i += (int64_t) blockDim.x * kChunk) {
    load_chunk (base, x_type, i, count, wide, v);
#pragma unroll
    for (int j = 0; j < kChunk; j++)
      sum += v[j];
  }
  float mean = block_sum (sum, scratch) / (float) count;
  float squares = 0.0f;
  for (int64_t i = (int64_t) threadIdx.x * kChunk; i < count; i += (int64_t) blockDim.x * kChunk) {
    load_chunk (base, x_type, i, count, wide, v);
    for (int j = 0; j < kChunk && i + j < count; j++)
      squares += (v[j] - mean) * (v[j] - mean);
  }
  float var = block_sum (squares, scratch) / (float) count;
  if (threadIdx.x == 0) {
    stats[2 * group] = mean;
    stats[2 * group + 1] = rsqrtf (var + eps);
  }
}

/* y = (x − mean)·rstd·w[c] + b[c]. Launch: 1-D, one chunk per thread. */
__global__ void
group_apply_kernel (void *y, cudaDataType_t y_type, const void *x, cudaDataType_t x_type,
                    int64_t total, int64_t channels, int64_t spatial, int64_t per_group,
                    const float *stats, const void *weight, const void *bias,
                    cudaDataType_t affine_type, bool wide)
{
  int64_t i = ((int64_t) blockIdx.x * blockDim.x + threadIdx.x) * kChunk;
  if (i >= total)
    return;
  float v[kChunk];
  load_chunk (x, x_type, i, total, wide, v);
#pragma unroll
  for (int j = 0; j < kChunk; j++) {
    int64_t e = i + j;
    int64_t c = (e / spatial) % channels;
    int64_t b = e / (spatial * channels);
    int64_t g = b * (channels / per_group) + c / per_group;
    float out = (v[j] - stats[2 * g]) * stats[2 * g + 1];
    if (weight != nullptr)
      out *= load_one (weight, affine_type, c);
    if (bias != nullptr)
      out += load_one (bias, affine_type, c);
    v[j] = out;
  }
  store_chunk (y, y_type, i, total, wide, v);
}

bool
rope_valid (const RlCudaRope &rope)
{
  return rope.cos == nullptr
         || (rope.sin != nullptr && rope.head_dim > 0 && rope.head_dim % 2 == 0
             && rope.pairs >= 0 && rope.pairs <= rope.head_dim / 2 && rope.batch_stride >= 0);
}

/* Which norm kernel runs. 0, the default: for 16-bit x up to 5120 elements
 * (dim % 8 == 0, x and y 16-byte aligned) the warp-per-row kernel with the
 * vectors folded into shared memory per block (cuda-norm-rows.cu), else
 * the persistent pipelined one where x is 16-byte aligned, else one row
 * per block. 1 = one row per block; 2 = the pipelined one even where a
 * warp per row would do; 3 = the warp-per-row kernel that reads the
 * vectors per row from L1 (where they are all f32 or all x's dtype, and
 * aligned). RL_CUDA_NORM_VARIANT overrides it for benchmarks and tests. */
int
norm_variant ()
{
  const char *env = getenv ("RL_CUDA_NORM_VARIANT");
  return env != nullptr ? atoi (env) : 0;
}

struct RopeLaunch {
  void *y;
  const void *x;
  int64_t tokens, row_len, rows;
  RlCudaRope rope;
  bool wide;
  cudaStream_t stream;

  template <typename TX, typename TY>
  void
  operator() () const
  {
    int64_t chunks = rows * ceil_div (row_len, kChunk);
    rope_kernel<TX, TY><<<(unsigned) ceil_div (chunks, 256), 256, 0, stream>>> (
      (TY *) y, (const TX *) x, (uint32_t) tokens, (uint32_t) row_len, (uint32_t) rows, rope,
      wide);
  }
};

} // namespace

extern "C" cudaError_t
rl_cuda_norm_modulate (const RlCudaNormModulate *a, cudaStream_t stream)
{
  if (a == nullptr || a->x == nullptr || a->y == nullptr || a->dim <= 0 || a->dim > 16384
      || a->batch < 0 || a->tokens < 0 || dtype_size (a->x_type) == 0
      || dtype_size (a->y_type) == 0 || (a->weight && dtype_size (a->weight_type) == 0)
      || (a->bias && dtype_size (a->bias_type) == 0) || !row_vector_valid (a->shift)
      || !row_vector_valid (a->scale) || !rope_valid (a->rope)
      || (a->rope.cos != nullptr && a->dim % a->rope.head_dim != 0))
    return cudaErrorInvalidValue;
  int64_t rows = a->batch * a->tokens;
  if (rows == 0)
    return cudaSuccess;
  NormWidths wide;
  wide.x = can_go_wide (a->x, a->x_type, a->dim);
  wide.y = can_go_wide (a->y, a->y_type, a->dim);
  wide.affine = can_go_wide (a->weight, a->weight_type, a->dim)
                && can_go_wide (a->bias, a->bias_type, a->dim);
  wide.modulation = row_vector_wide (a->shift) && row_vector_wide (a->scale)
                    && a->dim % kChunk == 0;
  const int variant = norm_variant ();
  if (launch_norm_rows (*a, wide, variant, stream))
    return cudaGetLastError ();
  bool launched = false;
  switch (a->x_type) {
  case CUDA_R_32F:  launched = launch_norm_blocks_f32 (*a, wide, variant, stream); break;
  case CUDA_R_16F:  launched = launch_norm_blocks_f16 (*a, wide, variant, stream); break;
  case CUDA_R_16BF: launched = launch_norm_blocks_bf16 (*a, wide, variant, stream); break;
  default:          break;
  }
  if (!launched)
    return cudaErrorInvalidValue;
  return cudaGetLastError ();
}

extern "C" cudaError_t
rl_cuda_rope (void *y, cudaDataType_t y_type, const void *x, cudaDataType_t x_type,
              int64_t batch, int64_t tokens, int64_t heads, RlCudaRope rope, cudaStream_t stream)
{
  if (y == nullptr || x == nullptr || rope.cos == nullptr || !rope_valid (rope) || batch < 0
      || tokens < 0 || heads <= 0 || dtype_size (x_type) == 0 || dtype_size (y_type) == 0)
    return cudaErrorInvalidValue;
  int64_t rows = batch * tokens, row_len = heads * rope.head_dim;
  if (rows == 0)
    return cudaSuccess;
  if (rows * ceil_div (row_len, kChunk) >= ((int64_t) 1 << 32))
    return cudaErrorInvalidValue;
  RopeLaunch launch = {
    y, x, tokens, row_len, rows, rope,
    can_go_wide (x, x_type, row_len) && can_go_wide (y, y_type, row_len),
    stream,
  };
  if (!dispatch_float2 (x_type, y_type, launch))
    return cudaErrorInvalidValue;
  return cudaGetLastError ();
}

extern "C" cudaError_t
rl_cuda_softmax (void *y, cudaDataType_t y_type, const void *x, cudaDataType_t x_type,
                 int64_t rows, int64_t cols, float *lse, cudaStream_t stream)
{
  if (y == nullptr || x == nullptr || rows < 0 || cols <= 0 || dtype_size (x_type) == 0
      || dtype_size (y_type) == 0)
    return cudaErrorInvalidValue;
  if (rows == 0)
    return cudaSuccess;
  bool wide = can_go_wide (x, x_type, cols) && can_go_wide (y, y_type, cols);
  int threads = cols >= 2048 ? 256 : (int) ceil_div (ceil_div (cols, kChunk), 32) * 32;
  softmax_kernel<<<(unsigned) rows, threads, 0, stream>>> (y, y_type, x, x_type, cols, lse, wide);
  return cudaGetLastError ();
}

extern "C" cudaError_t
rl_cuda_reduce (RlCudaReduceKind kind, void *y, cudaDataType_t y_type, const void *x,
                cudaDataType_t x_type, int64_t outer, int64_t n, int64_t inner,
                cudaStream_t stream)
{
  if (y == nullptr || x == nullptr || outer < 0 || n <= 0 || inner < 0
      || dtype_size (x_type) == 0 || dtype_size (y_type) == 0)
    return cudaErrorInvalidValue;
  int64_t outputs = outer * inner;
  if (outputs == 0)
    return cudaSuccess;
  reduce_kernel<<<(unsigned) ceil_div (outputs, 256), 256, 0, stream>>> (kind, y, y_type, x, x_type,
                                                                        outer, n, inner);
  return cudaGetLastError ();
}

extern "C" cudaError_t
rl_cuda_group_norm (void *y, cudaDataType_t y_type, const void *x, cudaDataType_t x_type,
                    int64_t batch, int64_t channels, int64_t spatial, int64_t groups, float eps,
                    const void *weight, const void *bias, cudaDataType_t affine_type,
                    float *stats, cudaStream_t stream)
{
  if (y == nullptr || x == nullptr || stats == nullptr || batch < 0 || channels <= 0
      || spatial <= 0 || groups <= 0 || channels % groups != 0 || dtype_size (x_type) == 0
      || dtype_size (y_type) == 0 || ((weight || bias) && dtype_size (affine_type) == 0))
    return cudaErrorInvalidValue;
  if (batch == 0)
    return cudaSuccess;
  int64_t per_group = channels / groups;
  int64_t group_count = per_group * spatial;
  group_stats_kernel<<<(unsigned) (batch * groups), 256, 0, stream>>> (
    x, x_type, group_count, eps, stats, can_go_wide (x, x_type, group_count));
  int64_t total = batch * channels * spatial;
  bool wide = can_go_wide (x, x_type, kChunk) && can_go_wide (y, y_type, kChunk);
  group_apply_kernel<<<(unsigned) ceil_div (ceil_div (total, kChunk), 256), 256, 0, stream>>> (
    y, y_type, x, x_type, total, channels, spatial, per_group, stats, weight, bias, affine_type,
    wide);
  return cudaGetLastError ();
}

