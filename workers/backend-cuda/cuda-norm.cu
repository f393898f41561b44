#include "cuda-norm.h"

#include <cuda_pipeline.h>
#include <algorithm>
#include <stdlib.h>

#include "cuda-dtype.cuh"
#include "cuda-norm-rows.cuh"
#include "cuda-rope.cuh"

using namespace rl_cuda;

namespace {

/* Mean and 1/std (LayerNorm), 0 and 1/rms (RMSNorm) or 0 and 1 (no norm)
 * of the row a block holds in v: the thread's K chunks, chunk k at element
 * (threadIdx.x + k·blockDim.x)·8, zeros past dim. Two passes over the
 * registers (the mean first), so a large mean costs no precision. Every
 * thread of the block calls it (block reductions). */
template <int K>
__device__ inline void
block_row_statistics (RlCudaNormKind kind, float eps, uint32_t dim, const float v[K][kChunk],
                      float *scratch, float &mean, float &rstd)
{
  mean = 0.0f;
  rstd = 1.0f;
  if (kind == RL_CUDA_NORM_LAYER) {
    float sum = 0.0f;
#pragma unroll
    for (int k = 0; k < K; k++)
#pragma unroll
      for (int j = 0; j < kChunk; j++)
        sum += v[k][j];
    mean = block_sum (sum, scratch) / (float) dim;
    float squares = 0.0f;
#pragma unroll
    for (int k = 0; k < K; k++) {
      uint32_t i = (threadIdx.x + k * blockDim.x) * kChunk;
#pragma unroll
      for (int j = 0; j < kChunk; j++) {
        float d = i + j < dim ? v[k][j] - mean : 0.0f;
        squares += d * d;
      }
    }
    rstd = rsqrtf (block_sum (squares, scratch) / (float) dim + eps);
  } else if (kind == RL_CUDA_NORM_RMS) {
    float squares = 0.0f;
#pragma unroll
    for (int k = 0; k < K; k++)
#pragma unroll
      for (int j = 0; j < kChunk; j++)
        squares += v[k][j] * v[k][j];
    rstd = rsqrtf (block_sum (squares, scratch) / (float) dim + eps);
  }
}

/* Fused norm + affine + modulation + RoPE of one row held in v (the
 * thread's K chunks, chunk k at element (threadIdx.x + k·blockDim.x)·8),
 * written to row `row` of y. Every thread of the block calls it (block
 * reductions). Outputs are computed for all chunks before any is stored,
 * so the modulation loads of all chunks are in flight together (a store
 * in between could alias them and would serialise the loads). */
template <typename TY, int K>
__device__ inline void
norm_row (const RlCudaNormModulate &a, const NormWidths &wide, uint32_t row, float v[K][kChunk],
          float *scratch)
{
  const uint32_t tokens = (uint32_t) a.tokens;
  const uint32_t b = row / tokens, t = row - b * tokens;
  const uint32_t dim = (uint32_t) a.dim;
  float mean, rstd;
  block_row_statistics<K> (a.kind, a.eps, dim, v, scratch, mean, rstd);
  const void *shift_row = a.shift.ptr != nullptr ? row_vector_at (a.shift, b, t) : nullptr;
  const void *scale_row = a.scale.ptr != nullptr ? row_vector_at (a.scale, b, t) : nullptr;
#pragma unroll
  for (int k = 0; k < K; k++) {
    uint32_t i = (threadIdx.x + k * blockDim.x) * kChunk;
    if (i >= dim)
      continue;
    float *out = v[k];
    float extra[kChunk];
#pragma unroll
    for (int j = 0; j < kChunk; j++)
      out[j] = (out[j] - mean) * rstd;
    if (a.weight != nullptr) {
      load_chunk (a.weight, a.weight_type, i, dim, wide.affine, extra);
#pragma unroll
      for (int j = 0; j < kChunk; j++)
        out[j] *= extra[j];
    }
    if (a.bias != nullptr) {
      load_chunk (a.bias, a.bias_type, i, dim, wide.affine, extra);
#pragma unroll
      for (int j = 0; j < kChunk; j++)
        out[j] += extra[j];
    }
    if (scale_row != nullptr) {
      load_chunk (scale_row, a.scale.dtype, i, dim, wide.modulation, extra);
#pragma unroll
      for (int j = 0; j < kChunk; j++)
        out[j] *= 1.0f + extra[j];
    }
    if (shift_row != nullptr) {
      load_chunk (shift_row, a.shift.dtype, i, dim, wide.modulation, extra);
#pragma unroll
      for (int j = 0; j < kChunk; j++)
        out[j] += extra[j];
    }
    if (a.rope.cos != nullptr)
      rotate_chunk (a.rope, b, t, i, out);
  }
  TY *y_row = (TY *) a.y + (size_t) row * dim;
#pragma unroll
  for (int k = 0; k < K; k++) {
    uint32_t i = (threadIdx.x + k * blockDim.x) * kChunk;
    if (i < dim)
      store_chunk_t (y_row, i, dim, wide.y, v[k]);
  }
}

/* One row per block. Launch: batch·tokens blocks, blockDim.x a multiple of
 * 32 with blockDim.x·K·8 >= dim (at most 512 threads: the bound lets a
 * thread keep its 32 row values and the modulation in registers without
 * spilling); x read straight into registers. */
template <typename TX, typename TY, int K>
__global__ void __launch_bounds__ (512, 1)
norm_modulate_kernel (RlCudaNormModulate a, NormWidths wide)
{
  __shared__ float scratch[32];
  const uint32_t row = blockIdx.x;
  const uint32_t dim = (uint32_t) a.dim;
  const TX *x_row = (const TX *) a.x + (size_t) row * dim;
  float v[K][kChunk];
#pragma unroll
  for (int k = 0; k < K; k++) {
    uint32_t i = (threadIdx.x + k * blockDim.x) * kChunk;
    if (i < dim) {
      load_chunk_t (x_row, i, dim, wide.x, v[k]);
    } else {
#pragma unroll
      for (int j = 0; j < kChunk; j++)
        v[k][j] = 0.0f;
    }
  }
  norm_row<TY, K> (a, wide, row, v, scratch);
}

/* The row-invariant part of norm_row for the persistent kernel: out =
 * norm·mul + add with mul = w·(1 + scale), add = b·(1 + scale) + shift,
 * for the thread's K chunks of one (batch, group). */
template <int K>
__device__ inline void
load_row_affine (const RlCudaNormModulate &a, const NormWidths &wide, const void *scale_row,
                 const void *shift_row, float mul[K][kChunk], float add[K][kChunk])
{
  const uint32_t dim = (uint32_t) a.dim;
#pragma unroll
  for (int k = 0; k < K; k++) {
    uint32_t i = (threadIdx.x + k * blockDim.x) * kChunk;
    if (i >= dim)
      continue;
    float w[kChunk], b[kChunk], sc[kChunk], sh[kChunk];
    load_optional (a.weight, a.weight_type, i, dim, wide.affine, 1.0f, w);
    load_optional (a.bias, a.bias_type, i, dim, wide.affine, 0.0f, b);
    load_optional (scale_row, a.scale.dtype, i, dim, wide.modulation, 0.0f, sc);
    load_optional (shift_row, a.shift.dtype, i, dim, wide.modulation, 0.0f, sh);
#pragma unroll
    for (int j = 0; j < kChunk; j++) {
      mul[k][j] = w[j] * (1.0f + sc[j]);
      add[k][j] = b[j] * (1.0f + sc[j]) + sh[j];
    }
  }
}

/* Persistent, pipelined rows. Each block owns a contiguous range of rows
 * and copies row r + kStages − 1 into shared memory (cp.async, 16 bytes per
 * request) while it normalises row r, so HBM loads stay in flight through
 * the reductions. The affine and modulation vectors are folded into one
 * multiplier and addend kept in registers and reloaded only when the row's
 * (batch, group) changes: re-reading them for every row would move twice
 * the row's bytes through L2. Each thread copies and later reads only its
 * own chunks, so the buffers need no barrier.
 * Launch: grid = resident blocks (every SM full), blockDim.x as
 * norm_modulate_kernel, kStages·dim·sizeof(TX) bytes of dynamic shared
 * memory; x 16-byte aligned with dim a multiple of 8. */
constexpr int kStages = 3;

template <typename TX, typename TY, int K>
__global__ void __launch_bounds__ (512, 1)
norm_modulate_pipelined (RlCudaNormModulate a, NormWidths wide, uint32_t rows,
                         uint32_t rows_per_block)
{
  extern __shared__ uint4 row_buffers[];
  __shared__ float scratch[32];
  const uint32_t dim = (uint32_t) a.dim;
  const uint32_t first = blockIdx.x * rows_per_block;
  const uint32_t end = min (rows, first + rows_per_block);
  if (first >= end)
    return;
  constexpr int kCopies = kChunk * sizeof (TX) / 16;
  auto buffer = [&] (uint32_t stage) { return (TX *) row_buffers + (size_t) stage * dim; };
  auto issue = [&] (uint32_t r, TX *into) {
    const TX *from = (const TX *) a.x + (size_t) r * dim;
#pragma unroll
    for (int k = 0; k < K; k++) {
      uint32_t i = (threadIdx.x + k * blockDim.x) * kChunk;
      if (i < dim)
#pragma unroll
        for (int c = 0; c < kCopies; c++)
          __pipeline_memcpy_async ((uint4 *) (into + i) + c, (const uint4 *) (from + i) + c, 16);
    }
  };
#pragma unroll
  for (int s = 0; s < kStages - 1; s++) {
    if (first + s < end)
      issue (first + s, buffer (s));
    __pipeline_commit (); /* empty groups keep the count uniform */
  }
  const uint32_t tokens = (uint32_t) a.tokens;
  const void *cached_scale = nullptr, *cached_shift = nullptr;
  bool cached = false;
  float mul[K][kChunk], add[K][kChunk];
  uint32_t step = 0;
  for (uint32_t row = first; row < end; row++, step++) {
    uint32_t ahead = row + kStages - 1;
    if (ahead < end)
      issue (ahead, buffer ((step + kStages - 1) % kStages));
    __pipeline_commit ();
    const uint32_t b = row / tokens, t = row - b * tokens;
    const void *scale_row = a.scale.ptr != nullptr ? row_vector_at (a.scale, b, t) : nullptr;
    const void *shift_row = a.shift.ptr != nullptr ? row_vector_at (a.shift, b, t) : nullptr;
    if (!cached || scale_row != cached_scale || shift_row != cached_shift) {
      load_row_affine<K> (a, wide, scale_row, shift_row, mul, add);
      cached = true;
      cached_scale = scale_row;
      cached_shift = shift_row;
    }
    __pipeline_wait_prior (kStages - 1);
    const TX *current = buffer (step % kStages);
    float v[K][kChunk];
#pragma unroll
    for (int k = 0; k < K; k++) {
      uint32_t i = (threadIdx.x + k * blockDim.x) * kChunk;
      if (i < dim) {
        load8_aligned (current, TypeOf<TX>::id, i, v[k]);
      } else {
#pragma unroll
        for (int j = 0; j < kChunk; j++)
          v[k][j] = 0.0f;
      }
    }
    float mean, rstd;
    block_row_statistics<K> (a.kind, a.eps, dim, v, scratch, mean, rstd);
    TY *y_row = (TY *) a.y + (size_t) row * dim;
#pragma unroll
    for (int k = 0; k < K; k++) {
      uint32_t i = (threadIdx.x + k * blockDim.x) * kChunk;
      if (i >= dim)
        continue;
#pragma unroll
      for (int j = 0; j < kChunk; j++)
        v[k][j] = (v[k][j] - mean) * rstd * mul[k][j] + add[k][j];
      if (a.rope.cos != nullptr)
        rotate_chunk (a.rope, b, t, i, v[k]);
      store_chunk_t (y_row, i, dim, wide.y, v[k]);
    }
  }
}

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

/* The block kernels, for the rows that launch_norm_rows leaves: f32 x, rows
 * past 5120 or not a multiple of 8, unaligned x or y, other RoPE heads. */
struct NormLaunch {
  const RlCudaNormModulate *a;
  NormWidths                wide;
  cudaStream_t              stream;
  int64_t                   chunks;
  int64_t                   rows;
  int                       variant;

  template <typename TX, typename TY>
  void
  operator() () const
  {
    constexpr int K = 4;
    int threads = (int) ceil_div (ceil_div (chunks, K), 32) * 32;
    size_t smem = kStages * (size_t) a->dim * sizeof (TX);
    if (variant != 1 && wide.x && smem <= 96 * 1024) {
      auto kernel = norm_modulate_pipelined<TX, TY, K>;
      allow_dynamic_shared (kernel, smem);
      int64_t blocks = std::min (resident_blocks (kernel, threads, smem), rows);
      int64_t per_block = ceil_div (rows, blocks);
      blocks = ceil_div (rows, per_block);
      kernel<<<(unsigned) blocks, threads, smem, stream>>> (*a, wide, (uint32_t) rows,
                                                             (uint32_t) per_block);
      return;
    }
    norm_modulate_kernel<TX, TY, K><<<(unsigned) rows, threads, 0, stream>>> (*a, wide);
  }
};

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
  NormLaunch launch = { a, wide, stream, ceil_div (a->dim, kChunk), rows, variant };
  if (!dispatch_float2 (a->x_type, a->y_type, launch))
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

