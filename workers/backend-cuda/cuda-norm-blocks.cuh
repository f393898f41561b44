/* The block kernels of the fused norm + affine + modulation (+ RoPE): one
 * block per row, or persistent blocks that pipeline their rows through
 * shared memory. rl_cuda_norm_modulate (cuda-norm.cu) runs them on the rows
 * that launch_norm_rows leaves: f32 x, rows past 5120 or not a multiple of
 * 8, unaligned x or y, other RoPE heads, and RL_CUDA_NORM_VARIANT 1 and 2.
 * Internal to the CUDA backend.
 *
 * Included by cuda-norm-blocks-f32.cu, -f16.cu and -bf16.cu, which
 * instantiate them for one x dtype each (and the three y dtypes), so that
 * the three compile in parallel. These kernels read their weight, bias,
 * scale and shift through the run-time-dtype loaders, unrolled over 4
 * chunks and 4 vectors; for all nine x/y pairs in one file NVVM took
 * ~205 s (nvcc --time; ptxas ~70 s more), 65% of it the element-by-element
 * fallback of those loaders, and the file was the critical path of every
 * build on the GPU machine. */
#pragma once

#include <cuda_pipeline.h>
#include <algorithm>

#include "cuda-dtype.cuh"
#include "cuda-norm-kernels.cuh"
#include "cuda-rope.cuh"

namespace rl_cuda {
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

/* Launches the block kernel for x of type TX and y of a->y_type (f32,
 * f16 or bf16); false, with nothing launched, for other y dtypes. */
template <typename TX>
bool
launch_norm_blocks_of (const RlCudaNormModulate &a, const NormWidths &wide, int variant,
                       cudaStream_t stream)
{
  const int64_t rows = a.batch * a.tokens;
  NormLaunch launch = { &a, wide, stream, ceil_div (a.dim, kChunk), rows, variant };
  switch (a.y_type) {
  case CUDA_R_32F:  launch.template operator()<TX, float> (); return true;
  case CUDA_R_16F:  launch.template operator()<TX, __half> (); return true;
  case CUDA_R_16BF: launch.template operator()<TX, __nv_bfloat16> (); return true;
  default:          return false;
  }
}

} // namespace
} // namespace rl_cuda
