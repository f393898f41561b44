#include "cuda-norm.h"

#include <cuda_pipeline.h>
#include <algorithm>
#include <type_traits>
#include <stdlib.h>

#include "cuda-dtype.cuh"

using namespace rl_cuda;

namespace {

/* cos and sin of the 4 pairs of the chunk starting at row element i of
 * token t (batch b). When the pairs are consecutive and 16-byte aligned in
 * the tables (the usual case: head_dim a multiple of 8, table width of 4)
 * they come in one 16-byte load each; otherwise pair by pair, with pairs
 * past the table width passing through (cos 1, sin 0). */
__device__ inline void
rope_coefficients (const RlCudaRope &rope, uint32_t b, uint32_t t, uint32_t i, float c[4],
                   float s[4])
{
  const uint32_t head_dim = (uint32_t) rope.head_dim, pairs = (uint32_t) rope.pairs;
  const float *cos_row = rope.cos + (size_t) b * rope.batch_stride + (size_t) t * pairs;
  const float *sin_row = rope.sin + (size_t) b * rope.batch_stride + (size_t) t * pairs;
  const uint32_t pair0 = (i % head_dim) / 2;
  bool vector = head_dim % kChunk == 0 && pair0 + 4 <= pairs
                && (uintptr_t) (cos_row + pair0) % 16 == 0 && (uintptr_t) (sin_row + pair0) % 16 == 0;
  if (vector) {
    float4 cv = *(const float4 *) (cos_row + pair0), sv = *(const float4 *) (sin_row + pair0);
    c[0] = cv.x; c[1] = cv.y; c[2] = cv.z; c[3] = cv.w;
    s[0] = sv.x; s[1] = sv.y; s[2] = sv.z; s[3] = sv.w;
    return;
  }
#pragma unroll
  for (int p = 0; p < 4; p++) {
    uint32_t pair = ((i + 2 * p) % head_dim) / 2;
    bool inside = pair < pairs;
    c[p] = inside ? cos_row[pair] : 1.0f;
    s[p] = inside ? sin_row[pair] : 0.0f;
  }
}

__device__ inline void
rotate_with (const float c[4], const float s[4], float v[kChunk])
{
#pragma unroll
  for (int p = 0; p < 4; p++) {
    float x0 = v[2 * p], x1 = v[2 * p + 1];
    v[2 * p] = c[p] * x0 - s[p] * x1;
    v[2 * p + 1] = s[p] * x0 + c[p] * x1;
  }
}

/* Rotates the interleaved pairs of one chunk starting at row element i. */
__device__ inline void
rotate_chunk (const RlCudaRope &rope, uint32_t b, uint32_t t, uint32_t i, float v[kChunk])
{
  float c[4], s[4];
  rope_coefficients (rope, b, t, i, c, s);
  rotate_with (c, s, v);
}

struct NormWidths {
  bool x, y, affine, modulation;
};

/* Loads the chunk at i of an optional [dim] vector (f32 or 16-bit), or
 * `fallback` everywhere when the vector is absent. */
__device__ inline void
load_optional (const void *base, cudaDataType_t type, uint32_t i, uint32_t dim, bool wide,
               float fallback, float v[kChunk])
{
  if (base == nullptr) {
#pragma unroll
    for (int j = 0; j < kChunk; j++)
      v[j] = fallback;
    return;
  }
  load_chunk (base, type, i, dim, wide, v);
}

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

/* Sum over the 32 lanes of a warp; every lane gets the result. */
__device__ inline float
warp_sum (float value)
{
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2)
    value += __shfl_xor_sync (0xffffffffu, value, offset);
  return value;
}

/* Eight 16-bit values of one 16-byte word as floats. */
template <typename TX>
__device__ inline void
unpack8 (const uint4 &bits, float v[kChunk])
{
  const TX *h = (const TX *) &bits;
#pragma unroll
  for (int j = 0; j < kChunk; j++)
    v[j] = to_float (h[j]);
}

/* The first row after `row` (and at most `end`) whose modulation vectors
 * differ from row's: a batch boundary or the next group of any present row
 * vector. Rows in [row, result) share their scale and shift rows. */
__device__ inline uint32_t
segment_end (const RlCudaNormModulate &a, uint32_t row, uint32_t end)
{
  if (a.scale.ptr == nullptr && a.shift.ptr == nullptr)
    return end;
  const uint32_t tokens = (uint32_t) a.tokens;
  const uint32_t b = row / tokens, t = row - b * tokens;
  uint32_t limit = (b + 1) * tokens;
  const RlCudaRowVector *vectors[2] = { &a.scale, &a.shift };
#pragma unroll
  for (int k = 0; k < 2; k++) {
    const RlCudaRowVector &v = *vectors[k];
    if (v.ptr == nullptr || v.groups <= 1)
      continue;
    int64_t g = (v.token_offset + t) / v.tokens_per_group;
    if (g < v.groups - 1) {
      int64_t next_t = (g + 1) * v.tokens_per_group - v.token_offset;
      limit = min (limit, b * tokens + (uint32_t) next_t);
    }
  }
  return min (limit, end);
}

/* Warp per row, for 16-bit x with dim <= 256·C (Wan's 1536 and 5120). A
 * lane holds its C 16-byte words of the row in registers, so x is read
 * from HBM once and the statistics need only warp shuffles, no block
 * barriers; each lane issues its C independent 16-byte loads before the
 * first use. ptxas keeps the row as converted floats (~254 registers per
 * thread for 5120 elements; under the 128-register cap of two blocks per SM
 * it spilled them to local memory), so one block of 8 warps fills an SM.
 * The row-invariant weight·(1 + scale) and bias·(1 + scale) + shift live in
 * shared memory as f32 (40 KB for 5120), rebuilt only where a block's
 * contiguous row range crosses into another (batch, group) segment. With
 * RoPE and a head_dim dividing 256, a lane's elements sit at one position
 * within their heads, so its cos/sin come in one 16-byte load each per row
 * (other head sizes take the pipelined kernel).
 * Measured on an H100 (2026-11-27, tests/bench/bench-ops, 32760 x 5120
 * bf16): 0.82 of the copy bandwidth per batch, 0.78 with 21 frames, 0.85
 * for RMSNorm + RoPE, against 0.80 / 0.76 / 0.75 for the pipelined kernel.
 * A version that also prefetched each warp's next row into shared memory
 * (cp.async) measured 0.80 / 0.75 / 0.83 and was dropped.
 * Launch: kWarpRowThreads threads, dynamic shared memory 2·dim floats when
 * `has_mul || has_add`, blocks <= resident; x and y 16-byte aligned,
 * dim % 8 == 0. */
constexpr int kWarpRowThreads = 256;

template <typename TX, typename TY, int C>
__global__ void __launch_bounds__ (kWarpRowThreads, 1)
norm_modulate_warp_rows (RlCudaNormModulate a, uint32_t rows, uint32_t rows_per_block,
                         bool has_mul, bool has_add)
{
  extern __shared__ float vectors[];
  float *mul = vectors, *add = vectors + a.dim;
  const uint32_t dim = (uint32_t) a.dim;
  const uint32_t lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  constexpr uint32_t kWarps = kWarpRowThreads / 32;
  const uint32_t first = blockIdx.x * rows_per_block;
  const uint32_t end = min (rows, first + rows_per_block);
  const uint32_t tokens = (uint32_t) a.tokens;
  for (uint32_t segment = first; segment < end;) {
    const uint32_t segment_stop = segment_end (a, segment, end);
    if (has_mul || has_add) {
      const uint32_t b = segment / tokens, t = segment - b * tokens;
      const void *scale_row = a.scale.ptr != nullptr ? row_vector_at (a.scale, b, t) : nullptr;
      const void *shift_row = a.shift.ptr != nullptr ? row_vector_at (a.shift, b, t) : nullptr;
      __syncthreads (); /* the previous segment's rows are done with the vectors */
      for (uint32_t i = threadIdx.x; i < dim; i += kWarpRowThreads) {
        float w = a.weight != nullptr ? load_one (a.weight, a.weight_type, i) : 1.0f;
        float bias = a.bias != nullptr ? load_one (a.bias, a.bias_type, i) : 0.0f;
        float sc = scale_row != nullptr ? load_one (scale_row, a.scale.dtype, i) : 0.0f;
        float sh = shift_row != nullptr ? load_one (shift_row, a.shift.dtype, i) : 0.0f;
        mul[i] = w * (1.0f + sc);
        add[i] = bias * (1.0f + sc) + sh;
      }
      __syncthreads ();
    }
    for (uint32_t row = segment + warp; row < segment_stop; row += kWarps) {
      const uint4 *x_row = (const uint4 *) ((const TX *) a.x + (size_t) row * dim);
      uint4 packed[C];
#pragma unroll
      for (int c = 0; c < C; c++) {
        uint32_t i = (lane + c * 32) * kChunk;
        packed[c] = i < dim ? __ldcs (x_row + i / kChunk) : make_uint4 (0, 0, 0, 0);
      }
      const uint32_t b = row / tokens, t = row - b * tokens;
      float rope_c[4], rope_s[4];
      if (a.rope.cos != nullptr)
        rope_coefficients (a.rope, b, t, lane * kChunk, rope_c, rope_s);
      float sum = 0.0f;
#pragma unroll
      for (int c = 0; c < C; c++) {
        float v[kChunk];
        unpack8<TX> (packed[c], v);
#pragma unroll
        for (int j = 0; j < kChunk; j++)
          sum += v[j];
      }
      float mean = 0.0f, rstd = 1.0f;
      if (a.kind == RL_CUDA_NORM_LAYER) {
        mean = warp_sum (sum) / (float) dim;
        float squares = 0.0f;
#pragma unroll
        for (int c = 0; c < C; c++) {
          if ((lane + c * 32) * kChunk >= dim)
            continue;
          float v[kChunk];
          unpack8<TX> (packed[c], v);
#pragma unroll
          for (int j = 0; j < kChunk; j++)
            squares += (v[j] - mean) * (v[j] - mean);
        }
        rstd = rsqrtf (warp_sum (squares) / (float) dim + a.eps);
      } else if (a.kind == RL_CUDA_NORM_RMS) {
        float squares = 0.0f;
#pragma unroll
        for (int c = 0; c < C; c++) {
          float v[kChunk];
          unpack8<TX> (packed[c], v);
#pragma unroll
          for (int j = 0; j < kChunk; j++)
            squares += v[j] * v[j];
        }
        rstd = rsqrtf (warp_sum (squares) / (float) dim + a.eps);
      }
      TY *y_row = (TY *) a.y + (size_t) row * dim;
#pragma unroll
      for (int c = 0; c < C; c++) {
        uint32_t i = (lane + c * 32) * kChunk;
        if (i >= dim)
          continue;
        float v[kChunk];
        unpack8<TX> (packed[c], v);
#pragma unroll
        for (int j = 0; j < kChunk; j++)
          v[j] = (v[j] - mean) * rstd;
        if (has_mul) {
          float4 m0 = *(const float4 *) (mul + i), m1 = *(const float4 *) (mul + i + 4);
          v[0] *= m0.x; v[1] *= m0.y; v[2] *= m0.z; v[3] *= m0.w;
          v[4] *= m1.x; v[5] *= m1.y; v[6] *= m1.z; v[7] *= m1.w;
        }
        if (has_add) {
          float4 a0 = *(const float4 *) (add + i), a1 = *(const float4 *) (add + i + 4);
          v[0] += a0.x; v[1] += a0.y; v[2] += a0.z; v[3] += a0.w;
          v[4] += a1.x; v[5] += a1.y; v[6] += a1.z; v[7] += a1.w;
        }
        if (a.rope.cos != nullptr)
          rotate_with (rope_c, rope_s, v);
        store8_aligned (y_row, TypeOf<TY>::id, i, v);
      }
    }
    segment = segment_stop;
  }
}

/* Eight 16-bit values of one 16-byte word as floats, converted afresh at
 * each call. The conversions are volatile asm so that the compiler cannot
 * merge the three conversions of a row (statistics, squares, output) into
 * one and keep the row's 8·C floats alive across the passes: for 5120
 * elements that is 160 registers, where the packed words take 80. */
template <typename TX> __device__ inline void unpack8_fresh (const uint4 &bits, float v[kChunk]);

template <>
__device__ inline void
unpack8_fresh<__nv_bfloat16> (const uint4 &bits, float v[kChunk])
{
  const uint32_t words[4] = { bits.x, bits.y, bits.z, bits.w };
#pragma unroll
  for (int j = 0; j < 4; j++) {
    uint32_t low, high;
    /* bf16 is the top half of an f32: element 2j is the low half-word. */
    asm volatile ("shl.b32 %0, %1, 16;" : "=r"(low) : "r"(words[j]));
    asm volatile ("and.b32 %0, %1, 0xffff0000;" : "=r"(high) : "r"(words[j]));
    v[2 * j] = __uint_as_float (low);
    v[2 * j + 1] = __uint_as_float (high);
  }
}

template <>
__device__ inline void
unpack8_fresh<__half> (const uint4 &bits, float v[kChunk])
{
  const uint32_t words[4] = { bits.x, bits.y, bits.z, bits.w };
#pragma unroll
  for (int j = 0; j < 4; j++)
    asm volatile ("{ .reg .b16 lo, hi;\n\t"
                  "mov.b32 {lo, hi}, %2;\n\t"
                  "cvt.f32.f16 %0, lo;\n\t"
                  "cvt.f32.f16 %1, hi; }"
                  : "=f"(v[2 * j]), "=f"(v[2 * j + 1]) : "r"(words[j]));
}

/* Eight elements at i of a 16-byte aligned [dim] vector of TV (f32 or the
 * row's 16-bit type). One dtype per instantiation keeps each chunk's code
 * to one or two loads and a conversion: a version that took the dtype at
 * run time, with an element-by-element path for unaligned vectors, unrolled
 * to 43 000 instructions for rows of 5120 and, thrashing the instruction
 * cache, ran at 0.47 of the copy bandwidth on an H100 (2026-11-27). */
template <typename TV>
__device__ inline void
load_vector8 (const void *base, uint32_t i, float v[kChunk])
{
  if constexpr (std::is_same_v<TV, float>) {
    const float4 *p = (const float4 *) ((const float *) base + i);
    float4 a = __ldg (p), b = __ldg (p + 1);
    v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w;
    v[4] = b.x; v[5] = b.y; v[6] = b.z; v[7] = b.w;
  } else {
    unpack8<TV> (__ldg ((const uint4 *) ((const TV *) base + i)), v);
  }
}

/* Warp per row with the row kept as packed 16-bit words, for 16-bit x
 * with dim <= 256·C (Wan's 1536 and 5120). A lane holds its C 16-byte words
 * of the row (80 registers for 5120 elements, under the 128-register cap
 * that lets 16 warps share an SM), so x is read from HBM once and the
 * statistics need only warp shuffles. The weight, bias and the row's
 * scale and shift vectors are read per chunk straight from global memory:
 * they are a few KB per (batch, frame), shared by all the rows of a frame,
 * so they come from L1/L2, and no warp ever waits at a block barrier for
 * another frame's vectors (norm_modulate_warp_rows folds them into shared
 * memory per block, and its 8 warps wait at every frame boundary: 0.78 of
 * the copy bandwidth with 21 frames, against 0.82 per batch). One row per
 * warp, no persistent loop: blocks of a few warps retire and refill SMs at
 * a fine grain, so the last wave stays short. Opt-in
 * (RL_CUDA_NORM_VARIANT=3, 4, 5) until it is measured: ptxas keeps it at
 * 124-128 registers with no spills for rows of 5120 and its code is no
 * larger than the shared-memory kernel's (70-86 KB against 62-89 KB), but
 * its only timed version, the one with the run-time dtype switch (see
 * load_vector8), lost.
 * With RoPE and a head_dim dividing 256, a lane's elements sit at one
 * position within their heads, so its cos/sin come in one 16-byte load
 * each per row. Launch: ceil(rows / warps) blocks of 32·warps threads
 * (warps <= 8); x, y and every row of weight, bias, scale and shift 16-byte
 * aligned, dim % 8 == 0; those vectors all of dtype TV. */
template <typename TX, typename TY, typename TV, int C>
__global__ void __launch_bounds__ (256, C <= 8 ? 3 : 2)
norm_modulate_packed_rows (RlCudaNormModulate a, uint32_t rows)
{
  const uint32_t dim = (uint32_t) a.dim;
  const uint32_t lane = threadIdx.x % 32;
  const uint32_t row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
  if (row >= rows)
    return;
  const uint4 *x_row = (const uint4 *) ((const TX *) a.x + (size_t) row * dim);
  uint4 packed[C];
#pragma unroll
  for (int c = 0; c < C; c++) {
    uint32_t i = (lane + c * 32) * kChunk;
    packed[c] = i < dim ? __ldcs (x_row + i / kChunk) : make_uint4 (0, 0, 0, 0);
  }
  const uint32_t tokens = (uint32_t) a.tokens;
  const uint32_t b = row / tokens, t = row - b * tokens;
  float rope_c[4], rope_s[4];
  if (a.rope.cos != nullptr)
    rope_coefficients (a.rope, b, t, lane * kChunk, rope_c, rope_s);
  float mean = 0.0f, rstd = 1.0f;
  if (a.kind == RL_CUDA_NORM_LAYER) {
    float sum = 0.0f;
#pragma unroll
    for (int c = 0; c < C; c++) {
      float v[kChunk];
      unpack8_fresh<TX> (packed[c], v);
#pragma unroll
      for (int j = 0; j < kChunk; j++)
        sum += v[j];
    }
    mean = warp_sum (sum) / (float) dim;
    float squares = 0.0f;
#pragma unroll
    for (int c = 0; c < C; c++) {
      if ((lane + c * 32) * kChunk >= dim)
        continue;
      float v[kChunk];
      unpack8_fresh<TX> (packed[c], v);
#pragma unroll
      for (int j = 0; j < kChunk; j++)
        squares += (v[j] - mean) * (v[j] - mean);
    }
    rstd = rsqrtf (warp_sum (squares) / (float) dim + a.eps);
  } else if (a.kind == RL_CUDA_NORM_RMS) {
    float squares = 0.0f;
#pragma unroll
    for (int c = 0; c < C; c++) {
      float v[kChunk];
      unpack8_fresh<TX> (packed[c], v);
#pragma unroll
      for (int j = 0; j < kChunk; j++)
        squares += v[j] * v[j];
    }
    rstd = rsqrtf (warp_sum (squares) / (float) dim + a.eps);
  }
  const void *scale_row = a.scale.ptr != nullptr ? row_vector_at (a.scale, b, t) : nullptr;
  const void *shift_row = a.shift.ptr != nullptr ? row_vector_at (a.shift, b, t) : nullptr;
  TY *y_row = (TY *) a.y + (size_t) row * dim;
#pragma unroll
  for (int c = 0; c < C; c++) {
    uint32_t i = (lane + c * 32) * kChunk;
    if (i >= dim)
      continue;
    float v[kChunk], extra[kChunk];
    unpack8_fresh<TX> (packed[c], v);
#pragma unroll
    for (int j = 0; j < kChunk; j++)
      v[j] = (v[j] - mean) * rstd;
    if (a.weight != nullptr) {
      load_vector8<TV> (a.weight, i, extra);
#pragma unroll
      for (int j = 0; j < kChunk; j++)
        v[j] *= extra[j];
    }
    if (a.bias != nullptr) {
      load_vector8<TV> (a.bias, i, extra);
#pragma unroll
      for (int j = 0; j < kChunk; j++)
        v[j] += extra[j];
    }
    if (scale_row != nullptr) {
      load_vector8<TV> (scale_row, i, extra);
#pragma unroll
      for (int j = 0; j < kChunk; j++)
        v[j] *= 1.0f + extra[j];
    }
    if (shift_row != nullptr) {
      load_vector8<TV> (shift_row, i, extra);
#pragma unroll
      for (int j = 0; j < kChunk; j++)
        v[j] += extra[j];
    }
    if (a.rope.cos != nullptr)
      rotate_with (rope_c, rope_s, v);
    store8_aligned (y_row, TypeOf<TY>::id, i, v);
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

/* Which norm kernel runs: 0 = warp per row with the vectors folded into
 * shared memory for 16-bit x up to 5120 elements, else the persistent
 * pipelined one where x is 16-byte aligned (the default); 1 = one row per
 * block; 2 = the pipelined one even where a warp per row would do; 3, 4
 * and 5 = packed rows in blocks of 4, 8 and 2 warps where their vectors
 * allow, else as 0 (opt-in until measured: see norm_modulate_packed_rows).
 * RL_CUDA_NORM_VARIANT overrides it for benchmarks and tests. */
int
norm_variant ()
{
  const char *env = getenv ("RL_CUDA_NORM_VARIANT");
  return env != nullptr ? atoi (env) : 0;
}

/* Lets `kernel` take `dynamic` bytes of dynamic shared memory. Launches
 * past 48 KiB of shared memory in all (dynamic plus the kernel's own
 * static arrays) need the opt-in; counting only the dynamic part once let
 * an f32 row of 4096 (UMT5-XXL: 3 stages × 16 KiB plus the reduction
 * scratch) fail its launch with "invalid argument". */
template <typename Kernel>
void
allow_dynamic_shared (Kernel kernel, size_t dynamic)
{
  cudaFuncAttributes attributes;
  if (cudaFuncGetAttributes (&attributes, kernel) != cudaSuccess
      || attributes.sharedSizeBytes + dynamic > 48 * 1024)
    cudaFuncSetAttribute (kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int) dynamic);
}

/* The one dtype of all present weight, bias, scale and shift vectors of
 * `a`, as the packed-row kernel reads them: CUDA_R_32F when they are all f32
 * (or absent), `x_type` when they all share x's 16-bit type, else (a mix,
 * or fp8) CUDA_R_8I, which the packed kernel does not take. */
cudaDataType_t
packed_vector_type (const RlCudaNormModulate &a, cudaDataType_t x_type)
{
  const void *ptrs[4] = { a.weight, a.bias, a.scale.ptr, a.shift.ptr };
  cudaDataType_t types[4] = { a.weight_type, a.bias_type, a.scale.dtype, a.shift.dtype };
  bool all_f32 = true, all_x = true;
  for (int v = 0; v < 4; v++) {
    if (ptrs[v] == nullptr)
      continue;
    all_f32 = all_f32 && types[v] == CUDA_R_32F;
    all_x = all_x && types[v] == x_type;
  }
  return all_f32 ? CUDA_R_32F : all_x ? x_type : CUDA_R_8I;
}

bool
packed_variant (int variant)
{
  return variant == 3 || variant == 4 || variant == 5;
}

struct NormLaunch {
  const RlCudaNormModulate *a;
  NormWidths                wide;
  cudaStream_t              stream;
  int64_t                   chunks;
  int64_t                   rows;
  int                       variant;

  template <typename TX, typename TY, int C>
  void
  launch_warp_rows () const
  {
    auto kernel = norm_modulate_warp_rows<TX, TY, C>;
    bool has_mul = a->weight != nullptr || a->scale.ptr != nullptr;
    bool has_add = a->bias != nullptr || a->shift.ptr != nullptr;
    size_t smem = has_mul || has_add ? 2 * (size_t) a->dim * sizeof (float) : 0;
    allow_dynamic_shared (kernel, smem);
    int device = 0, sms = 0, per_sm = 0;
    cudaGetDevice (&device);
    cudaDeviceGetAttribute (&sms, cudaDevAttrMultiProcessorCount, device);
    cudaOccupancyMaxActiveBlocksPerMultiprocessor (&per_sm, kernel, kWarpRowThreads, smem);
    int64_t blocks = (int64_t) sms * (per_sm > 0 ? per_sm : 1);
    blocks = std::min (blocks, ceil_div (rows, kWarpRowThreads / 32));
    int64_t per_block = ceil_div (rows, blocks);
    blocks = ceil_div (rows, per_block);
    kernel<<<(unsigned) blocks, kWarpRowThreads, smem, stream>>> (
      *a, (uint32_t) rows, (uint32_t) per_block, has_mul, has_add);
  }

  template <typename TX, typename TY, typename TV>
  void
  launch_packed_rows (int warps) const
  {
    unsigned blocks = (unsigned) ceil_div (rows, warps);
    if (a->dim <= 256 * 8)
      norm_modulate_packed_rows<TX, TY, TV, 8><<<blocks, 32 * warps, 0, stream>>> (
        *a, (uint32_t) rows);
    else
      norm_modulate_packed_rows<TX, TY, TV, 20><<<blocks, 32 * warps, 0, stream>>> (
        *a, (uint32_t) rows);
  }

  template <typename TX, typename TY>
  void
  operator() () const
  {
    /* Two row widths (up to 2048 and up to 5120 elements) and outputs of
     * x's dtype or f32 keep the instantiations, and the build, small. */
    if constexpr (sizeof (TX) == 2 && (std::is_same_v<TX, TY> || std::is_same_v<TY, float>)) {
      bool lane_rope = a->rope.cos == nullptr || 256 % a->rope.head_dim == 0;
      bool rows_fit = wide.x && wide.y && lane_rope && a->dim % kChunk == 0 && a->dim <= 256 * 20;
      cudaDataType_t vectors = packed_vector_type (*a, TypeOf<TX>::id);
      if (rows_fit && packed_variant (variant) && wide.affine && wide.modulation
          && vectors != CUDA_R_8I) {
        int warps = variant == 4 ? 8 : variant == 5 ? 2 : 4;
        if (vectors == CUDA_R_32F)
          launch_packed_rows<TX, TY, float> (warps);
        else
          launch_packed_rows<TX, TY, TX> (warps);
        return;
      }
      if (rows_fit && (variant == 0 || packed_variant (variant))) {
        if (a->dim <= 256 * 8)
          launch_warp_rows<TX, TY, 8> ();
        else
          launch_warp_rows<TX, TY, 20> ();
        return;
      }
    }
    constexpr int K = 4;
    int threads = (int) ceil_div (ceil_div (chunks, K), 32) * 32;
    size_t smem = kStages * (size_t) a->dim * sizeof (TX);
    if (variant != 1 && wide.x && smem <= 96 * 1024) {
      auto kernel = norm_modulate_pipelined<TX, TY, K>;
      allow_dynamic_shared (kernel, smem);
      int device = 0, sms = 0, per_sm = 0;
      cudaGetDevice (&device);
      cudaDeviceGetAttribute (&sms, cudaDevAttrMultiProcessorCount, device);
      cudaOccupancyMaxActiveBlocksPerMultiprocessor (&per_sm, kernel, threads, smem);
      int64_t blocks = (int64_t) sms * (per_sm > 0 ? per_sm : 1);
      if (blocks > rows)
        blocks = rows;
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
  NormLaunch launch = { a, wide, stream, ceil_div (a->dim, kChunk), rows, norm_variant () };
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

