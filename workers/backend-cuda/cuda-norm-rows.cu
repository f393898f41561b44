/* Warp-per-row fused norm + affine + modulation (+ RoPE) for rows of 16-bit
 * x up to 5120 elements (Wan's 1536 and 5120): the default kernel of
 * rl_cuda_norm_modulate for such rows (see cuda-norm-rows.cuh).
 *
 * A warp holds its row as packed 16-bit words in registers (a lane's C
 * 16-byte words: 80 registers for 5120 elements), so x is read from HBM
 * once, the statistics need only warp shuffles, and ptxas fits the kernel
 * in 128 registers with no spills: 16 warps share an SM. The row-invariant
 * multiplier w·(1 + scale) and addend b·(1 + scale) + shift come from
 * shared memory, folded once per (batch, frame) segment of a block's rows.
 *
 * Why the vectors are folded per block and the rows given out in
 * contiguous ranges: with per-frame modulation (Wan 2.2: shift and scale
 * per (batch, frame), f32), every row reads 40 KB of vectors for 20 KB of
 * its own traffic. norm_rows_cached_vectors reads them per row from L1:
 * per batch (one set of vectors, always in L1) it reached 0.88 of the copy
 * bandwidth on an H100, but with 21 frames only 0.67, since its blocks of
 * consecutive rows spread over all SMs, so every SM works on two frames at
 * once (80 KB of vectors) next to ~160 KB of x in flight, and L1 (256 KB
 * with shared memory) drops the vectors. The kernel before this one folded
 * them into shared memory per block, but kept the row as floats (254
 * registers: 8 warps per SM) and stopped all 8 warps at a barrier at every
 * frame boundary while the next frame's vectors were loaded one element per
 * thread at a time: 0.82 per batch, 0.77 with 21 frames. Here a block owns
 * a contiguous range of rows (the launcher gives every resident block one
 * range: ~250 rows for 32760 rows on 132 SMs, less than a Wan frame of 1560
 * or 780 rows), folds the vectors of up to kVectorSlots segments at once
 * with 16-byte loads, and its warps stride over the rows of all of them, so
 * for Wan's shapes a block waits at one barrier, at its start.
 * Measured on an H100 (2026-11-27, tests/bench/bench-ops, bf16 32760 x
 * 5120, copy 2946 GB/s): 0.850 of the copy bandwidth per batch, 0.842 with
 * 21 frames, 0.885 for RMSNorm + RoPE; the L1 kernel 0.881 / 0.675 /
 * 0.926 in the same run (BENCHMARKS.md has the table and ncu's view). */
#include "cuda-norm-kernels.cuh"

#include <algorithm>
#include <type_traits>

#include "cuda-rope.cuh"

namespace rl_cuda {
namespace {

/* Sum over the 32 lanes of a warp; every lane gets the result. */
__device__ inline float
warp_sum (float value)
{
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2)
    value += __shfl_xor_sync (0xffffffffu, value, offset);
  return value;
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

/* The lane's C 16-byte words of row `row` of x: word c holds elements
 * (lane + 32c)·8 .. +7, zeros past dim. All C loads are issued before the
 * first use; x is read once, so the loads stream (evict first). */
template <typename TX, int C>
__device__ inline void
load_packed_row (const RlCudaNormModulate &a, uint32_t row, uint32_t lane, uint4 packed[C])
{
  const uint32_t dim = (uint32_t) a.dim;
  const uint4 *x_row = (const uint4 *) ((const TX *) a.x + (size_t) row * dim);
#pragma unroll
  for (int c = 0; c < C; c++) {
    uint32_t i = (lane + c * 32) * kChunk;
    packed[c] = i < dim ? __ldcs (x_row + i / kChunk) : make_uint4 (0, 0, 0, 0);
  }
}

/* Mean and 1/std (LayerNorm), 0 and 1/rms (RMSNorm) or 0 and 1 (no norm)
 * of the row a warp holds in `packed` (load_packed_row). Two passes over
 * the registers (the mean first), so a large mean costs no precision. */
template <typename TX, int C>
__device__ inline void
packed_row_statistics (RlCudaNormKind kind, float eps, uint32_t dim, uint32_t lane,
                       const uint4 packed[C], float &mean, float &rstd)
{
  mean = 0.0f;
  rstd = 1.0f;
  if (kind == RL_CUDA_NORM_LAYER) {
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
    rstd = rsqrtf (warp_sum (squares) / (float) dim + eps);
  } else if (kind == RL_CUDA_NORM_RMS) {
    float squares = 0.0f;
#pragma unroll
    for (int c = 0; c < C; c++) {
      float v[kChunk];
      unpack8_fresh<TX> (packed[c], v);
#pragma unroll
      for (int j = 0; j < kChunk; j++)
        squares += v[j] * v[j];
    }
    rstd = rsqrtf (warp_sum (squares) / (float) dim + eps);
  }
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

/* Segments whose folded vectors a block keeps at once: two cover a block's
 * rows at Wan's shapes (a range shorter than a frame crosses at most one
 * boundary), at 2 × 40 KB for rows of 5120, which leaves most of the SM's
 * 256 KB of L1 to the loads of x in flight. */
constexpr uint32_t kVectorSlots = 2;

/* Folds the weight, bias and the scale and shift rows that row `row` reads
 * into one slot of shared memory, in f32: mul = w·(1 + scale) and add =
 * b·(1 + scale) + shift (absent parts read as w = 1, b = scale = shift = 0,
 * which the products keep exact). A slot is 4 arrays of dim/8 float4: the
 * first and last four of each chunk's mul, then of its add. The split
 * keeps a warp's 16-byte reads of chunks lane + 32c on consecutive
 * addresses; with a chunk's 8 floats contiguous, lanes read 32 bytes
 * apart and every 16-byte read would conflict two ways. Every thread of
 * the block calls it. */
__device__ inline void
fold_vectors (const RlCudaNormModulate &a, const NormWidths &wide, uint32_t row, float4 *slot)
{
  const uint32_t dim = (uint32_t) a.dim, chunks = dim / kChunk;
  const uint32_t tokens = (uint32_t) a.tokens;
  const uint32_t b = row / tokens, t = row - b * tokens;
  const void *scale_row = a.scale.ptr != nullptr ? row_vector_at (a.scale, b, t) : nullptr;
  const void *shift_row = a.shift.ptr != nullptr ? row_vector_at (a.shift, b, t) : nullptr;
  for (uint32_t q = threadIdx.x; q < chunks; q += blockDim.x) {
    const uint32_t i = q * kChunk;
    float w[kChunk], bias[kChunk], sc[kChunk], sh[kChunk], mul[kChunk], add[kChunk];
    load_optional (a.weight, a.weight_type, i, dim, wide.affine, 1.0f, w);
    load_optional (a.bias, a.bias_type, i, dim, wide.affine, 0.0f, bias);
    load_optional (scale_row, a.scale.dtype, i, dim, wide.modulation, 0.0f, sc);
    load_optional (shift_row, a.shift.dtype, i, dim, wide.modulation, 0.0f, sh);
#pragma unroll
    for (int j = 0; j < kChunk; j++) {
      mul[j] = w[j] * (1.0f + sc[j]);
      add[j] = bias[j] * (1.0f + sc[j]) + sh[j];
    }
    slot[q] = make_float4 (mul[0], mul[1], mul[2], mul[3]);
    slot[chunks + q] = make_float4 (mul[4], mul[5], mul[6], mul[7]);
    slot[2 * chunks + q] = make_float4 (add[0], add[1], add[2], add[3]);
    slot[3 * chunks + q] = make_float4 (add[4], add[5], add[6], add[7]);
  }
}

/* Warp per row over a contiguous range of rows per block (see the top of
 * the file). A block takes its range [blockIdx.x·rows_per_block, +
 * rows_per_block) window by window: a window is up to kVectorSlots
 * consecutive segments; the block folds their vectors (when `has_mul` or
 * `has_add`), waits once, and its warps stride over the window's rows,
 * taking the slot of each row's segment. With RoPE and a head_dim dividing
 * 256, a lane's elements sit at one position within their heads, so its
 * cos/sin come in one 16-byte load each per row.
 * Launch: blocks of 32·warps threads (warps <= 16), blocks <= resident,
 * dynamic shared memory kVectorSlots·2·dim floats when has_mul || has_add;
 * x and y 16-byte aligned, dim % 8 == 0, dim <= 256·C. */
template <typename TX, typename TY, int C>
__global__ void __launch_bounds__ (512, 1)
norm_rows_shared_vectors (RlCudaNormModulate a, NormWidths wide, uint32_t rows,
                          uint32_t rows_per_block, bool has_mul, bool has_add)
{
  extern __shared__ float4 slots[];
  const uint32_t dim = (uint32_t) a.dim, chunks = dim / kChunk;
  const uint32_t lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  const uint32_t first = blockIdx.x * rows_per_block;
  const uint32_t end = min (rows, first + rows_per_block);
  const uint32_t tokens = (uint32_t) a.tokens;
  static_assert (kVectorSlots == 2, "a window is one segment boundary wide");
  for (uint32_t window = first; window < end;) {
    /* Every thread computes the same window: the barriers are uniform. */
    const uint32_t split = segment_end (a, window, end);
    const uint32_t stop = split < end ? segment_end (a, split, end) : end;
    if (has_mul || has_add) {
      if (window != first)
        __syncthreads (); /* the previous window's rows are done with the slots */
      fold_vectors (a, wide, window, slots);
      if (split < stop)
        fold_vectors (a, wide, split, slots + 4 * chunks);
      __syncthreads ();
    }
    for (uint32_t row = window + warp; row < stop; row += warps) {
      uint4 packed[C];
      load_packed_row<TX, C> (a, row, lane, packed);
      const uint32_t b = row / tokens, t = row - b * tokens;
      float rope_c[4], rope_s[4];
      if (a.rope.cos != nullptr)
        rope_coefficients (a.rope, b, t, lane * kChunk, rope_c, rope_s);
      float mean, rstd;
      packed_row_statistics<TX, C> (a.kind, a.eps, dim, lane, packed, mean, rstd);
      const float4 *slot = slots + (row < split ? 0 : 4 * chunks);
      TY *y_row = (TY *) a.y + (size_t) row * dim;
#pragma unroll
      for (int c = 0; c < C; c++) {
        const uint32_t q = lane + c * 32;
        if (q >= chunks)
          continue;
        float v[kChunk];
        unpack8_fresh<TX> (packed[c], v);
#pragma unroll
        for (int j = 0; j < kChunk; j++)
          v[j] = (v[j] - mean) * rstd;
        if (has_mul) {
          float4 m0 = slot[q], m1 = slot[chunks + q];
          v[0] *= m0.x; v[1] *= m0.y; v[2] *= m0.z; v[3] *= m0.w;
          v[4] *= m1.x; v[5] *= m1.y; v[6] *= m1.z; v[7] *= m1.w;
        }
        if (has_add) {
          float4 a0 = slot[2 * chunks + q], a1 = slot[3 * chunks + q];
          v[0] += a0.x; v[1] += a0.y; v[2] += a0.z; v[3] += a0.w;
          v[4] += a1.x; v[5] += a1.y; v[6] += a1.z; v[7] += a1.w;
        }
        if (a.rope.cos != nullptr)
          rotate_with (rope_c, rope_s, v);
        store8_aligned (y_row, TypeOf<TY>::id, q * kChunk, v);
      }
    }
    window = stop;
  }
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
    const uint4 bits = __ldg ((const uint4 *) ((const TV *) base + i));
    const TV *h = (const TV *) &bits;
#pragma unroll
    for (int j = 0; j < kChunk; j++)
      v[j] = to_float (h[j]);
  }
}

/* Warp per row, one row per warp and no persistent loop, each warp reading
 * its row's weight, bias, scale and shift per chunk straight from global
 * memory (L1/L2): no block barrier at all, blocks of a few warps refill the
 * SMs at a fine grain. RL_CUDA_NORM_VARIANT=3, for comparison: 0.881 of
 * the copy per batch and 0.926 for RMSNorm + RoPE, but 0.675 with 21
 * frames on an H100 (see the top of the file). Launch: ceil(rows / warps)
 * blocks of 32·warps threads (warps <= 8); x, y and every row of weight,
 * bias, scale and shift 16-byte aligned, dim % 8 == 0; those vectors all of
 * dtype TV. */
template <typename TX, typename TY, typename TV, int C>
__global__ void __launch_bounds__ (256, C <= 8 ? 3 : 2)
norm_rows_cached_vectors (RlCudaNormModulate a, uint32_t rows)
{
  const uint32_t dim = (uint32_t) a.dim;
  const uint32_t lane = threadIdx.x % 32;
  const uint32_t row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
  if (row >= rows)
    return;
  uint4 packed[C];
  load_packed_row<TX, C> (a, row, lane, packed);
  const uint32_t tokens = (uint32_t) a.tokens;
  const uint32_t b = row / tokens, t = row - b * tokens;
  float rope_c[4], rope_s[4];
  if (a.rope.cos != nullptr)
    rope_coefficients (a.rope, b, t, lane * kChunk, rope_c, rope_s);
  float mean, rstd;
  packed_row_statistics<TX, C> (a.kind, a.eps, dim, lane, packed, mean, rstd);
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

/* The one dtype of all present weight, bias, scale and shift vectors of
 * `a`, as norm_rows_cached_vectors reads them: CUDA_R_32F when they are all
 * f32 (or absent), `x_type` when they all share x's 16-bit type, else (a
 * mix, or fp8) CUDA_R_8I, which that kernel does not take. */
cudaDataType_t
cached_vector_type (const RlCudaNormModulate &a, cudaDataType_t x_type)
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

struct RowsLaunch {
  const RlCudaNormModulate &a;
  const NormWidths         &wide;
  int                       variant;
  cudaStream_t              stream;
  int64_t                   rows;

  /* One block of 16 warps per SM (127 registers a thread): blocks of 8
   * warps, two per SM, measured the same (0.846 / 0.845 / 0.881 of the
   * copy against 0.850 / 0.842 / 0.885, H100, 2026-11-27). */
  template <typename TX, typename TY, int C>
  void
  shared_vectors () const
  {
    const int warps = 16;
    auto kernel = norm_rows_shared_vectors<TX, TY, C>;
    bool has_mul = a.weight != nullptr || a.scale.ptr != nullptr;
    bool has_add = a.bias != nullptr || a.shift.ptr != nullptr;
    size_t smem = has_mul || has_add ? kVectorSlots * 2 * (size_t) a.dim * sizeof (float) : 0;
    allow_dynamic_shared (kernel, smem);
    const int threads = 32 * warps;
    int64_t blocks = std::min (resident_blocks (kernel, threads, smem), ceil_div (rows, warps));
    int64_t per_block = ceil_div (rows, blocks);
    blocks = ceil_div (rows, per_block);
    kernel<<<(unsigned) blocks, threads, smem, stream>>> (a, wide, (uint32_t) rows,
                                                          (uint32_t) per_block, has_mul, has_add);
  }

  template <typename TX, typename TY, typename TV>
  void
  cached_vectors (int warps) const
  {
    unsigned blocks = (unsigned) ceil_div (rows, warps);
    const uint32_t n = (uint32_t) rows;
    if (a.dim <= 256 * 8)
      norm_rows_cached_vectors<TX, TY, TV, 8><<<blocks, 32 * warps, 0, stream>>> (a, n);
    else
      norm_rows_cached_vectors<TX, TY, TV, 20><<<blocks, 32 * warps, 0, stream>>> (a, n);
  }

  /* Two row widths (up to 2048 and up to 5120 elements) and outputs of x's
   * dtype or f32 keep the instantiations, and the build, small. */
  template <typename TX, typename TY>
  bool
  run () const
  {
    if (variant == 3 && wide.affine && wide.modulation) {
      cudaDataType_t vectors = cached_vector_type (a, TypeOf<TX>::id);
      if (vectors == CUDA_R_32F) {
        cached_vectors<TX, TY, float> (4);
        return true;
      }
      if (vectors == TypeOf<TX>::id) {
        cached_vectors<TX, TY, TX> (4);
        return true;
      }
    }
    if (a.dim <= 256 * 8)
      shared_vectors<TX, TY, 8> ();
    else
      shared_vectors<TX, TY, 20> ();
    return true;
  }

  template <typename TX>
  bool
  run_for_y () const
  {
    if (a.y_type == TypeOf<TX>::id)
      return run<TX, TX> ();
    if (a.y_type == CUDA_R_32F)
      return run<TX, float> ();
    return false;
  }
};

} // namespace

bool
launch_norm_rows (const RlCudaNormModulate &a, const NormWidths &wide, int variant,
                  cudaStream_t stream)
{
  if (variant != 0 && variant != 3)
    return false;
  const bool lane_rope = a.rope.cos == nullptr || 256 % a.rope.head_dim == 0;
  if (!wide.x || !wide.y || !lane_rope || a.dim % kChunk != 0 || a.dim > 256 * 20)
    return false;
  RowsLaunch launch = { a, wide, variant, stream, a.batch * a.tokens };
  switch (a.x_type) {
  case CUDA_R_16BF: return launch.run_for_y<__nv_bfloat16> ();
  case CUDA_R_16F:  return launch.run_for_y<__half> ();
  default:          return false;
  }
}

} // namespace rl_cuda
