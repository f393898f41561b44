/* SageAttention-2 on Hopper (sm_90a): int8 Q·Kᵀ, 8-bit P·V (by default in
 * integers, see pv_int8 below; or fp8 e4m3) with two-level fp32
 * accumulation, online softmax in fp32 with exp2. The
 * arithmetic is modelled step for step on the CPU by
 * tests/attention/test-sage-quantisation-model.c.
 *
 * One memory-bound launch, `prepare`, readies the operands in three phases
 * (grid-wide barriers between them):
 *   statistics  per (batch·head, chunk of keys): Σk, Σv, max v, min v per
 *               channel;
 *   finish      per batch·head: mean k, mean v, v scale = absmax(v −
 *               mean)/127 per channel (/448 for e4m3 V; 16-bit V: mean 0,
 *               scale 1);
 *   quantise    per 128 query rows: int8 with one scale per row
 *               (absmax/127) that also carries the softmax scale and
 *               log2(e); the row's scale·q·mean(k), which the LSE adds
 *               back. Per 128 keys, K and V as separate items: k − mean(k)
 *               to int8 with one scale; y = (v − mean(v))/scale to int8 +
 *               128 (the default), or to e4m3 (one term, or two: hi =
 *               e4m3(y) and lo = e4m3(y − hi), in two tiles), transposed
 *               to [channel, key].
 * Each quantised tile is written as the exact image the attention kernel
 * wants in shared memory: wgmma's no-swizzle K-major layout, "core
 * matrices" of 8 rows × 16 bytes stored as 128 contiguous bytes; the 16-byte
 * chunks of a row are core matrices apart (128 bytes, the descriptor's
 * leading offset) and 8-row groups 1024 bytes apart (its stride offset).
 * A tile (128 rows × 128 bytes) is then one 16 KB bulk copy.
 *
 * attention: persistent, one block per SM walking the 128-row query tiles
 * (or one block per tile), 3 warpgroups. Warpgroup 0 is the producer: one
 * thread issues bulk copies (cp.async.bulk, completing on an mbarrier) of
 * each tile's Q into one of two buffers and, through a ring of kStages,
 * each key tile's K (int8) and Vᵀ (e4m3); it gives its registers to the
 * others (setmaxnreg). Warpgroups 1 and 2 own 64 query rows each. Per 128
 * keys:
 *   S  = Q Kᵀ      4 × wgmma m64n128k32 s32.s8.s8, both from shared memory;
 *   s  = S · q_scale(row) · k_scale (log2 units), masked past the valid keys;
 *   m, l online;   P = exp2(s − m + log2 448) ∈ [0, 448], e4m3 in registers;
 *   O_tile = P V   4 × wgmma m64n128k32 f32.e4m3.e4m3 (8 with two-term V:
 *                  P·hi + P·lo into the same accumulator), A (P) from
 *                  registers, a fresh accumulator per tile;
 *   O = O·α + O_tile in fp32 (the fp8 MMA's own accumulator is narrower
 *                  than fp32, so each tile's sum is flushed).
 * The accumulator layout of S gives each thread, per 8 columns, the pair
 * at 2t, 2t+1; the A operand of a k32 fp8 MMA wants 4t..4t+3. Instead of
 * shuffling P, the preparation stores V's keys permuted inside every 16 so the
 * pairs line up (rl_sage_kv_position, sage-layout.h). Epilogue: O/l · v_scale + mean(v),
 * lse = (m + log2 l − log2 448)·ln 2 + scale·q·mean(k).
 *
 * With pv_int8, P·V is integer instead: V int8 per channel (scale
 * absmax/127) stored as u8 = v + 128, P = exp2(s − the tile's own row
 * maximum + log2 255) as u8, O_tile = P V by 4 × wgmma m64n128k32
 * s32.u8.u8 (exact int32 sums, 0 ≤ O_tile < 2^23). u8's step is absolute,
 * so P must be formed against the tile's maximum: against the running one
 * the small P of weaker tiles vanish and the error grows with the keys (CPU
 * model). O is then kept in units of the current tile's maximum, so that
 * each tile costs one FFMA per element, O = O·2^(previous tile max − this
 * tile max) + O_tile, with O_tile's int32 bits read as a float: below 2^23
 * they are the subnormal O_tile·2^-149, exactly (the FFMA keeps
 * subnormals). l sums the rounded P (integers), the epilogue takes
 * 128·l back off. */
#include "plugins/attention/sage/sage-kernel.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cooperative_groups.h>
#include <cuda_fp8.h>
#include <math.h>
#include <stdint.h>

#include "plugins/attention/attention.h"
#include "plugins/attention/sage/sage-layout.h"

namespace {

constexpr int kDim = 128;            /* head dim */
constexpr int kTileRows = 128;       /* query rows per block, keys per tile */
constexpr int kTileBytes = 16384;    /* 128 rows × 128 bytes */
constexpr int kQBlock = 64;          /* query rows per consumer warpgroup */
constexpr int kStages = 4;           /* K/V tiles in flight */
constexpr int kRowSlots = 4;         /* query tiles' row scales and shifts in shared memory */
constexpr int kSplitMinKeyTiles = 4; /* key tiles of a run of a split tile, at least */
constexpr int kSplitMaxParts = 16;   /* and runs per split tile, at most: the merging warp
                                      * reads the others' runs one after another (~1 µs of
                                      * L2 latency each), while a run's key tile takes ~1.4 */
constexpr int kStatMinKeys = 64;     /* keys per statistics item, at least */
constexpr int kStatMaxChunks = 64;   /* and at most this many items per batch·head */
constexpr int kPrepareBlocksPerSm = 3;   /* resident prepare blocks per SM (≤ 85 registers) */
constexpr int kStatBlocks = kPrepareBlocksPerSm * 132; /* statistics items over all heads, about */
constexpr float kPScale = 448.0f;    /* e4m3's largest value */
constexpr float kLog2PScale = 8.807354922057604f;   /* log2 448 */
constexpr float kLog2U8Scale = 7.994353436858858f;  /* log2 255: u8 P's largest value */
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

/* Byte offset of (row, byte) inside a tile of 128-byte rows. */
__device__ inline int
tile_offset (int row, int byte)
{
  return rl_sage_tile_offset (row, byte, kTileRows);
}

template <typename T> struct Io;
template <> struct Io<__nv_bfloat16> {
  static constexpr bool kBf16 = true;
  static __device__ float load (__nv_bfloat16 x) { return __bfloat162float (x); }
  static __device__ uint32_t pack (float lo, float hi)
  {
    __nv_bfloat162 v = __floats2bfloat162_rn (lo, hi);
    return *reinterpret_cast<uint32_t *> (&v);
  }
};
template <> struct Io<__half> {
  static constexpr bool kBf16 = false;
  static __device__ float load (__half x) { return __half2float (x); }
  static __device__ uint32_t pack (float lo, float hi)
  {
    __half2 v = __floats2half2_rn (lo, hi);
    return *reinterpret_cast<uint32_t *> (&v);
  }
};

/* 8 consecutive 16-bit values (16 bytes) as floats. */
template <typename T>
__device__ inline void
load8 (const T *source, float out[8])
{
  uint4 raw = *reinterpret_cast<const uint4 *> (source);
  const T *v = reinterpret_cast<const T *> (&raw);
#pragma unroll
  for (int i = 0; i < 8; i++)
    out[i] = Io<T>::load (v[i]);
}

/* Bytes of one Vᵀ tile (128 channels × 128 keys): e4m3; two e4m3 tiles
 * (hi, then lo) for the two-term V; the input's 16-bit type for the
 * "8+16" P·V. Both of the latter are 32 KB. */
__host__ __device__ constexpr int
v_tile_bytes (bool pv16, int v_terms)
{
  return pv16 || v_terms == 2 ? 2 * kTileBytes : kTileBytes;
}

__host__ inline int
v_terms_of (const RlSageParams *p)
{
  return p->pv16 || p->pv_int8 ? 1 : (p->v_terms == 2 ? 2 : 1);
}

/* The scratch layout of one launch; every piece 256-byte aligned. */
struct Workspace {
  int8_t  *q8;        /* [BH][q_tiles] tiles */
  int8_t  *k8;        /* [BH][kv_tiles] tiles */
  uint8_t *v8;        /* [BH][kv_tiles] Vᵀ tiles (v_tile_bytes) */
  float   *q_scale;   /* [BH][q_tiles·128]: each query row's scale (log2 units) */
  float   *q_shift;   /* [BH][q_tiles·128]: scale·q·mean(k) */
  float   *k_scale;   /* [BH][kv_tiles] */
  float   *k_mean;    /* [BH][128] */
  float   *v_mean;    /* [BH][128] */
  float   *v_scale;   /* [BH][128] */
  float   *v_inverse; /* [BH][128]: 1 / v_scale, for the quantisation */
  float   *partial;   /* [BH][stat_chunks][4][128] */
  unsigned long long *clock;   /* [4]: the preparation's phase times, when timed */
  float   *split_out;     /* [split_slots][128][128]: a split tile's run's output, fp32 */
  float   *split_lse;     /* [split_slots][128]: and its LSE */
  uint32_t *split_count;  /* [split_slots][8]: runs stored per split tile and consumer warp;
                           * zeroed by the preparation */
  int      split_slots;   /* runs of split tiles at most (the persistent grid), or 0 */
  size_t   bytes;
};

/* Chunks of keys per batch·head in phase 1 of the preparation: about
 * kStatBlocks items over all heads (one wave of an H100's blocks), no
 * fewer than kStatMinKeys keys each, at most kStatMaxChunks (phase 2 sums
 * them), at least one, so that phase 2 always has a partial to read. A
 * function of the problem alone, not of the GPU: the sums' order, hence
 * the result, is the same on every card. */
__host__ __device__ inline int
stat_chunks (int keys, int bh)
{
  const int by_keys = max (1, (keys + kStatMinKeys - 1) / kStatMinKeys);
  return max (1, min (min (kStatMaxChunks, by_keys), kStatBlocks / max (1, bh)));
}

__host__ __device__ inline size_t
round_up (size_t x)
{
  return (x + 255) & ~(size_t) 255;
}

Workspace
workspace_layout (const RlSageParams *p, void *base)
{
  size_t bh = (size_t) p->batch * p->heads;
  size_t q_tiles = (p->q_len + kTileRows - 1) / kTileRows;
  size_t kv_tiles = (p->kv_len + kTileRows - 1) / kTileRows;
  char *at = (char *) base;
  Workspace w;
  size_t used = 0;
  auto take = [&] (size_t bytes) { char *here = at + used; used += round_up (bytes); return here; };
  w.q8 = (int8_t *) take (bh * q_tiles * kTileBytes);
  w.k8 = (int8_t *) take (bh * kv_tiles * kTileBytes);
  w.v8 = (uint8_t *) take (bh * kv_tiles * v_tile_bytes (p->pv16, v_terms_of (p)));
  w.q_scale = (float *) take (bh * q_tiles * kTileRows * sizeof (float));
  w.q_shift = (float *) take (bh * q_tiles * kTileRows * sizeof (float));
  w.k_scale = (float *) take (bh * kv_tiles * sizeof (float));
  w.k_mean = (float *) take (bh * kDim * sizeof (float));
  w.v_mean = (float *) take (bh * kDim * sizeof (float));
  w.v_scale = (float *) take (bh * kDim * sizeof (float));
  w.v_inverse = (float *) take (bh * kDim * sizeof (float));
  w.partial = (float *) take (bh * stat_chunks (p->kv_len, (int) bh) * 4 * kDim * sizeof (float));
  w.clock = (unsigned long long *) take (4 * sizeof (unsigned long long));
  /* Split tiles only with the persistent grid (BlockTiles). */
  w.split_slots = p->blocks > 0 ? p->blocks : 0;
  w.split_out = (float *) take ((size_t) w.split_slots * kTileRows * kDim * sizeof (float));
  w.split_lse = (float *) take ((size_t) w.split_slots * kTileRows * sizeof (float));
  w.split_count = (uint32_t *) take ((size_t) w.split_slots * 8 * sizeof (uint32_t));
  w.bytes = used;
  return w;
}

/* ---- preparation ------------------------------------------------------ */

/* The preparation is one cooperative launch of `prepare` (as many blocks
 * as fit at once), in three phases with a grid-wide barrier between them;
 * each block walks the phase's items (item = blockIdx.x, + gridDim.x, ...):
 *   1. channel statistics per (batch·head, chunk of keys): Σk, Σv, max v,
 *      min v per channel;
 *   2. per batch·head, the chunks summed: mean k, mean v, v scale;
 *   3. the quantised tiles: each 128-row Q tile, each 128-key K tile and
 *      Vᵀ tile of every batch·head.
 * Four launches (one per step, phase 3 split in two) cost 70 of ~300 µs at
 * H 12 × 4680: each was a short wave or two of blocks whose registers let
 * only 2–3 run per SM, plus its launch and tail. Here K and V are read a
 * second time in phase 3 while still in L2 at that size. The items keep
 * the old kernels' thread layouts and arithmetic. */

/* Scratch of one prepare block; each phase uses it alone, and every item
 * ends on a block barrier, so the next item may overwrite it. */
template <int kStagedBytes>
union PrepareShared {
  float stats[4][16][kDim];              /* phase 1: per row group */
  float finish[2][4][kDim];              /* phase 2: per half of the chunks */
  struct {
    __align__ (16) uint8_t staged[kStagedBytes];   /* phase 3: Vᵀ before it goes out */
    float reduce[8];                     /* phase 3: K's block maximum */
  } quantise;
};

/* Per channel over one chunk of keys (⌈keys / chunks⌉): Σk, Σv, max v, min v.
 * 256 threads: 16 per key row, 8 channels (16 bytes) each, so every load
 * is a full 16-byte vector and a warp reads two whole rows; the 16 row
 * groups are then summed through shared memory. */
template <typename T>
__device__ inline void
stats_item (const T *k, const T *v, int heads, int kv_len, int keys, int bh, int chunk, int chunks,
            float *partial, float (&reduce)[4][16][kDim])
{
  const int b = bh / heads, h = bh % heads;
  const int c8 = threadIdx.x & 15, group = threadIdx.x >> 4;
  const int per_chunk = (keys + chunks - 1) / chunks;
  const int first = chunk * per_chunk, last = min (keys, first + per_chunk);
  float sum_k[8], sum_v[8], max_v[8], min_v[8];
#pragma unroll
  for (int i = 0; i < 8; i++)
    sum_k[i] = 0, sum_v[i] = 0, max_v[i] = -INFINITY, min_v[i] = INFINITY;
  const size_t row_stride = (size_t) heads * kDim;
  const T *k_rows = k + ((size_t) b * kv_len * heads + h) * kDim + c8 * 8;
  const T *v_rows = v + ((size_t) b * kv_len * heads + h) * kDim + c8 * 8;
#pragma unroll 4
  for (int j = first + group; j < last; j += 16)
    {
      float kj[8], vj[8];
      load8 (k_rows + j * row_stride, kj);
      load8 (v_rows + j * row_stride, vj);
#pragma unroll
      for (int i = 0; i < 8; i++)
        {
          sum_k[i] += kj[i], sum_v[i] += vj[i];
          max_v[i] = fmaxf (max_v[i], vj[i]), min_v[i] = fminf (min_v[i], vj[i]);
        }
    }
#pragma unroll
  for (int i = 0; i < 8; i++)
    {
      reduce[0][group][c8 * 8 + i] = sum_k[i];
      reduce[1][group][c8 * 8 + i] = sum_v[i];
      reduce[2][group][c8 * 8 + i] = max_v[i];
      reduce[3][group][c8 * 8 + i] = min_v[i];
    }
  __syncthreads ();
  /* Threads 0..127: channel d; 128..255 idle. */
  if (threadIdx.x < kDim)
    {
      const int d = threadIdx.x;
      float sk = 0, sv = 0, mx = -INFINITY, mn = INFINITY;
#pragma unroll
      for (int g = 0; g < 16; g++)
        {
          sk += reduce[0][g][d], sv += reduce[1][g][d];
          mx = fmaxf (mx, reduce[2][g][d]), mn = fminf (mn, reduce[3][g][d]);
        }
      float *out = partial + ((size_t) bh * chunks + chunk) * 4 * kDim + d;
      out[0] = sk, out[kDim] = sv, out[2 * kDim] = mx, out[3 * kDim] = mn;
    }
}

/* One batch·head's chunks summed. `v_range`: the largest quantised V, 448
 * for e4m3, 127 for int8. With `fp8_v` false (16-bit P·V) V is neither
 * smoothed nor scaled: it stays the exact input. v − mean(v) rounded back
 * to the same 16-bit format would err the same way for every key whose v
 * shares a binade (the input grid and the mean's offset line up), a bias
 * that averaging over the keys does not shrink: 2.7% at L 4680 instead of
 * 0.8% (CPU model). Two threads per channel, each summing every other
 * chunk, loads unrolled: one thread walking 64 chunks waited out ~16
 * dependent rounds of L2 latency. The partials are other blocks' (the grid
 * barrier or the launch boundary orders them), each read once: ld.cg
 * keeps them out of L1. */
__device__ inline void
finish_item (const float *partial, int bh, int chunks, int keys, bool fp8_v, float v_range,
             const Workspace &w, float (&reduce)[2][4][kDim])
{
  const int d = threadIdx.x % kDim, part = threadIdx.x / kDim;
  float sum_k = 0, sum_v = 0, max_v = -INFINITY, min_v = INFINITY;
#pragma unroll 8
  for (int c = part; c < chunks; c += 2)
    {
      const float *in = partial + ((size_t) bh * chunks + c) * 4 * kDim + d;
      sum_k += __ldcg (in), sum_v += __ldcg (in + kDim);
      max_v = fmaxf (max_v, __ldcg (in + 2 * kDim)), min_v = fminf (min_v, __ldcg (in + 3 * kDim));
    }
  reduce[part][0][d] = sum_k, reduce[part][1][d] = sum_v;
  reduce[part][2][d] = max_v, reduce[part][3][d] = min_v;
  __syncthreads ();
  if (part != 0)
    return;
  sum_k += reduce[1][0][d], sum_v += reduce[1][1][d];
  max_v = fmaxf (max_v, reduce[1][2][d]), min_v = fminf (min_v, reduce[1][3][d]);
  const float mean_k = keys > 0 ? sum_k / keys : 0.0f;
  const float mean_v = keys > 0 && fp8_v ? sum_v / keys : 0.0f;
  const float absmax = keys > 0 ? fmaxf (max_v - mean_v, mean_v - min_v) : 0.0f;
  w.k_mean[bh * kDim + d] = mean_k;
  w.v_mean[bh * kDim + d] = mean_v;
  w.v_scale[bh * kDim + d] = fp8_v && absmax > 0 ? absmax / v_range : 1.0f;
  w.v_inverse[bh * kDim + d] = fp8_v && absmax > 0 ? v_range / absmax : 1.0f;
}

/* Max over the block of 256 threads (8 warps). */
__device__ inline float
block_max_256 (float x, float *shared8)
{
#pragma unroll
  for (int o = 16; o > 0; o >>= 1)
    x = fmaxf (x, __shfl_xor_sync (0xffffffffu, x, o));
  if ((threadIdx.x & 31) == 0)
    shared8[threadIdx.x >> 5] = x;
  __syncthreads ();
  float all = shared8[0];
#pragma unroll
  for (int i = 1; i < 8; i++)
    all = fmaxf (all, shared8[i]);
  return all;
}

/* round(x·inverse) + bias in the low byte of the result's bits: below
 * 2^23 + 2^22 the float x·inverse + 1.5·2^23 is an integer with unit
 * steps, rounded to nearest even by the one FFMA, its low byte the
 * integer mod 256 (an int8 in two's complement; + 128, a u8). The callers'
 * scales come from the values' own maximum, so |x·inverse| ≤ 127 and no
 * clamp is needed. One FFMA instead of an F2I (a quarter-rate conversion),
 * two clamps and the shifts: the quantise phase took 24.6 µs instead of
 * 32.4 at H 12 × 4680. */
__device__ inline uint32_t
rounded_byte (float x, float inverse, float bias = 0.0f)
{
  return __float_as_uint (fmaf (x, inverse, 12582912.0f + bias));
}

/* The low bytes of a, b, c, d as one word, a in the low byte. */
__device__ inline uint32_t
low_bytes (uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
  return __byte_perm (__byte_perm (a, b, 0x0040), __byte_perm (c, d, 0x0040), 0x5410);
}

__device__ inline uint2
pack_int8x8 (const float x[8], float inverse_scale)
{
  uint32_t r[8];
#pragma unroll
  for (int i = 0; i < 8; i++)
    r[i] = rounded_byte (x[i], inverse_scale);
  return make_uint2 (low_bytes (r[0], r[1], r[2], r[3]), low_bytes (r[4], r[5], r[6], r[7]));
}

/* Four values y·inverse (|y·inverse| ≤ 127) to int8 + 128, a in the low
 * byte: u8 in [1, 255], so that a u8 P times it sums to a non-negative
 * int32. */
__device__ inline uint32_t
pack_biased_u8x4 (const float (&y)[4], float inverse)
{
  return low_bytes (rounded_byte (y[0], inverse, 128.0f), rounded_byte (y[1], inverse, 128.0f),
                    rounded_byte (y[2], inverse, 128.0f), rounded_byte (y[3], inverse, 128.0f));
}

/* Four floats to e4m3 (round to nearest even, saturating), a in the low
 * byte. */
__device__ inline uint32_t
pack_e4m3x4 (float a, float b, float c, float d)
{
  uint32_t lo = __nv_cvt_float2_to_fp8x2 (make_float2 (a, b), __NV_SATFINITE, __NV_E4M3);
  uint32_t hi = __nv_cvt_float2_to_fp8x2 (make_float2 (c, d), __NV_SATFINITE, __NV_E4M3);
  return lo | (hi << 16);
}

/* Two e4m3 values (low byte first) back to float, exactly. */
__device__ inline float2
e4m3x2_to_float2 (uint16_t pair)
{
  __half2_raw half = __nv_cvt_fp8x2_to_halfraw2 ((__nv_fp8x2_storage_t) pair, __NV_E4M3);
  return __half22float2 (*reinterpret_cast<__half2 *> (&half));
}

/* One 128-row query tile of one (batch, head); 256 threads, 8 per row,
 * each 16 channels (two 16-byte loads) of 4 rows, all loads first. Each
 * row gets its own scale (absmax/127, 3 shuffles over its 8 lanes: no
 * block-wide reduction), carrying the softmax scale and log2 e, and its
 * scale·q·mean(k) for the LSE; each thread writes its 16 int8 values as
 * one 16-byte piece of the tile image (a warp's 4 consecutive rows fill
 * whole 32-byte sectors). The 64-row version with one scale per block, a
 * block reduction and 8-byte stores ran at about 1.9 TB/s, a fifth of
 * 512-key cross-attention's time. */
template <typename T>
__device__ inline void
quantise_q_item (const T *q, int heads, int q_len, float scale, const Workspace &w, int q_tiles,
                 int bh, int tile_index)
{
  constexpr int kRowsPerPass = 256 / 8, kPasses = kTileRows / kRowsPerPass;
  const int b = bh / heads, h = bh % heads;
  const int c16 = threadIdx.x & 7, first_row = threadIdx.x >> 3;
  uint4 raw[kPasses][2];
#pragma unroll
  for (int pass = 0; pass < kPasses; pass++)
    {
      const int row = tile_index * kTileRows + pass * kRowsPerPass + first_row;
      const T *source = q + (((size_t) b * q_len + row) * heads + h) * kDim + c16 * 16;
#pragma unroll
      for (int half = 0; half < 2; half++)
        raw[pass][half] = row < q_len ? reinterpret_cast<const uint4 *> (source)[half]
                                      : make_uint4 (0, 0, 0, 0);
    }
  float k_mean[16];
#pragma unroll
  for (int i = 0; i < 16; i++)
    k_mean[i] = w.k_mean[bh * kDim + c16 * 16 + i];
  int8_t *tile = w.q8 + ((size_t) bh * q_tiles + tile_index) * kTileBytes;
#pragma unroll
  for (int pass = 0; pass < kPasses; pass++)
    {
      const int tile_row = pass * kRowsPerPass + first_row, row = tile_index * kTileRows + tile_row;
      float x[16];
#pragma unroll
      for (int half = 0; half < 2; half++)
        {
          const T *values = reinterpret_cast<const T *> (&raw[pass][half]);
#pragma unroll
          for (int i = 0; i < 8; i++)
            x[half * 8 + i] = Io<T>::load (values[i]);
        }
      float absmax = 0.0f, dot = 0.0f;
#pragma unroll
      for (int i = 0; i < 16; i++)
        {
          absmax = fmaxf (absmax, fabsf (x[i]));
          dot += x[i] * k_mean[i];
        }
      /* A row's 8 threads are 8 consecutive lanes. */
#pragma unroll
      for (int o = 4; o > 0; o >>= 1)
        {
          absmax = fmaxf (absmax, __shfl_xor_sync (0xffffffffu, absmax, o));
          dot += __shfl_xor_sync (0xffffffffu, dot, o);
        }
      const float quant = absmax > 0.0f ? __fdividef (absmax, 127.0f) : 1.0f;
      const float inverse = absmax > 0.0f ? __fdividef (127.0f, absmax) : 1.0f;
      const uint2 lo = pack_int8x8 (x, inverse), hi = pack_int8x8 (x + 8, inverse);
      *reinterpret_cast<uint4 *> (tile + tile_offset (tile_row, c16 * 16)) = make_uint4 (lo.x, lo.y, hi.x, hi.y);
      if (c16 == 0)
        {
          const size_t at = (size_t) bh * q_tiles * kTileRows + row;
          w.q_scale[at] = quant * scale * kLog2e;
          w.q_shift[at] = row < q_len ? dot * scale : 0.0f;
        }
    }
}

/* One 128-key K tile: k − mean(k) to int8 with one scale. 256 threads,
 * each the same 8 channels of 8 keys; the loads stay 16-bit in registers
 * (half the registers of floats) and are widened twice, for the maximum
 * and for the packing. Keys past `keys` become zeros. */
template <typename T>
__device__ inline void
quantise_k_item (const T *k, int heads, int kv_len, int keys, const Workspace &w, int kv_tiles,
                 int bh, int tile_index, float *reduce8)
{
  const int b = bh / heads, h = bh % heads;
  const int c8 = threadIdx.x & 15, first_key = tile_index * kTileRows + (threadIdx.x >> 4);
  uint4 raw[8];
#pragma unroll
  for (int it = 0; it < 8; it++)
    {
      const int key = first_key + it * 16;
      raw[it] = key < keys ? *reinterpret_cast<const uint4 *> (
                                 k + (((size_t) b * kv_len + key) * heads + h) * kDim + c8 * 8)
                           : make_uint4 (0, 0, 0, 0);
    }
  float mean[8];
#pragma unroll
  for (int i = 0; i < 8; i++)
    mean[i] = w.k_mean[bh * kDim + c8 * 8 + i];
  /* Invalid keys are zero after the mean is taken off, not −mean. */
  auto centred = [&] (int it, int i) {
    const T *values = reinterpret_cast<const T *> (&raw[it]);
    return first_key + it * 16 < keys ? Io<T>::load (values[i]) - mean[i] : 0.0f;
  };
  float absmax = 0;
#pragma unroll
  for (int it = 0; it < 8; it++)
#pragma unroll
    for (int i = 0; i < 8; i++)
      absmax = fmaxf (absmax, fabsf (centred (it, i)));
  absmax = block_max_256 (absmax, reduce8);
  const float quant = absmax > 0 ? __fdividef (absmax, 127.0f) : 1.0f;
  if (threadIdx.x == 0)
    w.k_scale[(size_t) bh * kv_tiles + tile_index] = quant;
  int8_t *k_tile = w.k8 + ((size_t) bh * kv_tiles + tile_index) * kTileBytes;
  const float inverse = absmax > 0 ? __fdividef (127.0f, absmax) : 1.0f;
#pragma unroll
  for (int it = 0; it < 8; it++)
    {
      float x[8];
#pragma unroll
      for (int i = 0; i < 8; i++)
        x[i] = centred (it, i);
      *reinterpret_cast<uint2 *> (k_tile + tile_offset (it * 16 + (threadIdx.x >> 4), c8 * 8))
          = pack_int8x8 (x, inverse);
    }
}

/* Bytes of the staging area of one Vᵀ tile: its rows (channels, and with
 * two terms the lo tile's after the hi tile's) 16 bytes longer than a
 * tile row, so that 16-byte reads hit distinct banks. */
__host__ __device__ constexpr int
v_staged_bytes (bool pv16, int v_terms)
{
  return kDim * v_terms * (kTileRows * (pv16 ? 2 : 1) + 16);
}

/* One 128-key Vᵀ tile: e4m3 per channel (keys permuted,
 * rl_sage_kv_position), with kTerms 2 as hi = e4m3(y) and lo = e4m3(y −
 * hi) in two tiles (their sum carries V to about 2^-8), or with kInt8V to
 * int8 + 128 in the same layout, or with kPv16 stays the input (keys in
 * order), transposed each way through `staged`. Keys past `keys` become
 * zeros. */
template <typename T, bool kPv16, int kTerms, bool kInt8V>
__device__ inline void
quantise_v_item (const T *v, int heads, int kv_len, int keys, const Workspace &w, int kv_tiles,
                 int bh, int tile_index, uint8_t *staged)
{
  constexpr int kElement = kPv16 ? 2 : 1;
  constexpr int kRowBytes = kTileRows * kElement;
  constexpr int kPitch = kRowBytes + 16;
  constexpr int kVTileBytes = v_tile_bytes (kPv16, kTerms);
  const int b = bh / heads, h = bh % heads;
  if constexpr (kPv16)
    {
      /* V into the staging area as it is (16-bit, keys in order),
       * transposed; all loads first. */
      uint4 raw[8];
#pragma unroll
      for (int it = 0; it < 8; it++)
        {
          const int vec = it * 256 + threadIdx.x, j = vec >> 4, c8 = vec & 15;
          const int key = tile_index * kTileRows + j;
          const T *row = v + (((size_t) b * kv_len + key) * heads + h) * kDim + c8 * 8;
          raw[it] = key < keys ? *reinterpret_cast<const uint4 *> (row) : make_uint4 (0, 0, 0, 0);
        }
#pragma unroll
      for (int it = 0; it < 8; it++)
        {
          const int vec = it * 256 + threadIdx.x, j = vec >> 4, c8 = vec & 15;
          const uint16_t *values = reinterpret_cast<const uint16_t *> (&raw[it]);
#pragma unroll
          for (int i = 0; i < 8; i++)
            *reinterpret_cast<uint16_t *> (staged + (c8 * 8 + i) * kPitch + 2 * j) = values[i];
        }
    }
  else
    {
      /* e4m3 (or int8) V per channel, (v − mean)/scale. A thread takes 8
       * channels of the 4 keys 16g + 2q + {0, 1, 8, 9}, which
       * rl_sage_kv_position puts side by side (16g + 4q + 0..3): one 4-byte
       * store per channel and term, a warp's 32 stores on 32 banks. */
#pragma unroll
      for (int it = 0; it < 2; it++)
        {
          const int item = it * 256 + threadIdx.x, quad = item & 31, c8 = item >> 5;
          const int first = 16 * (quad >> 2) + 2 * (quad & 3);
          const int js[4] = { first, first + 1, first + 8, first + 9 };
          uint4 raw[4];
#pragma unroll
          for (int e = 0; e < 4; e++)
            {
              const int key = tile_index * kTileRows + js[e];
              const T *row = v + (((size_t) b * kv_len + key) * heads + h) * kDim + c8 * 8;
              raw[e] = key < keys ? *reinterpret_cast<const uint4 *> (row) : make_uint4 (0, 0, 0, 0);
            }
          const int column = rl_sage_kv_position (first);   /* = 16g + 4q */
#pragma unroll
          for (int i = 0; i < 8; i++)
            {
              const int channel = c8 * 8 + i;
              /* The scale's reciprocal from the finish phase: a
               * multiplication per value instead of a division. */
              const float inverse = w.v_inverse[bh * kDim + channel];
              const float mean = w.v_mean[bh * kDim + channel];
              /* v − mean, scaled in the packing (int8) or here (e4m3). */
              float y[4];
#pragma unroll
              for (int e = 0; e < 4; e++)
                {
                  const T *values = reinterpret_cast<const T *> (&raw[e]);
                  y[e] = tile_index * kTileRows + js[e] < keys ? Io<T>::load (values[i]) - mean : 0.0f;
                  if (!kInt8V)
                    y[e] *= inverse;
                }
              const uint32_t hi = kInt8V ? pack_biased_u8x4 (y, inverse)
                                         : pack_e4m3x4 (y[0], y[1], y[2], y[3]);
              *reinterpret_cast<uint32_t *> (staged + channel * kPitch + column) = hi;
              if (kTerms == 2)
                {
                  /* e4m3 → half is exact; the remainder is exact in f32. */
                  const float2 h01 = e4m3x2_to_float2 ((uint16_t) hi), h23 = e4m3x2_to_float2 ((uint16_t) (hi >> 16));
                  const uint32_t lo = pack_e4m3x4 (y[0] - h01.x, y[1] - h01.y, y[2] - h23.x, y[3] - h23.y);
                  *reinterpret_cast<uint32_t *> (staged + (kDim + channel) * kPitch + column) = lo;
                }
            }
        }
    }
  __syncthreads ();
  /* Out in the core-matrix layout of tiles with kRowBytes-byte rows, 16
   * bytes (one piece) per store; with two terms the lo tile follows. */
  constexpr int kPiecesPerTile = kDim * kRowBytes / 16;
  uint8_t *v_tile = w.v8 + ((size_t) bh * kv_tiles + tile_index) * kVTileBytes;
#pragma unroll
  for (int it = 0; it < kVTileBytes / 16 / 256; it++)
    {
      const int piece = it * 256 + threadIdx.x;
      const int term = piece / kPiecesPerTile, local = piece % kPiecesPerTile;
      const int d = rl_sage_piece_row (local, kRowBytes), chunk = rl_sage_piece_chunk (local, kRowBytes);
      *reinterpret_cast<uint4 *> (v_tile + piece * 16)
          = *reinterpret_cast<const uint4 *> (staged + (term * kDim + d) * kPitch + chunk * 16);
    }
}

struct PrepareArgs {
  const void *q, *k, *v;
  Workspace w;
  int   bh, heads, q_len, kv_len, keys;
  int   q_tiles, kv_tiles, key_tiles, chunks;
  float scale;     /* softmax scale */
  float v_range;   /* largest quantised V: 127 (int8), 448 (e4m3) */
  unsigned long long *clock;   /* NULL, or zeroed [4]: the start, after each barrier, the last
                                * block's end (%globaltimer, ns), to time the phases */
  int   phase;     /* −1: all three, grid barriers between them (a cooperative launch);
                    * 0, 1, 2: that phase alone (one ordinary launch each) */
};

__device__ inline unsigned long long
global_ns ()
{
  unsigned long long t;
  asm volatile ("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

/* The three phases (see above), each over its items, with a grid barrier
 * after the first two. kPrepareBlocksPerSm blocks per SM, one wave: the
 * launch is cooperative, so all blocks are resident and the barrier cannot
 * wait on a block that never starts. Where a cooperative launch is refused
 * each phase runs as a launch of its own (a.phase), without barriers. */
template <typename T, bool kPv16, int kTerms, bool kInt8V>
__global__ void __launch_bounds__ (256, kPrepareBlocksPerSm)
prepare (const PrepareArgs a)
{
  __shared__ PrepareShared<v_staged_bytes (kPv16, kTerms)> shared;
  const T *q = (const T *) a.q, *k = (const T *) a.k, *v = (const T *) a.v;
  const bool timer = a.clock != NULL && blockIdx.x == 0 && threadIdx.x == 0;
  /* Phase p runs here when all do or when it is the launch's one; the
   * grid barrier only in a cooperative launch. */
  auto runs = [&] (int p) { return a.phase < 0 || a.phase == p; };
  auto barrier = [&] () {
    if (a.phase < 0)
      cooperative_groups::this_grid ().sync ();
  };
  if (timer && runs (0))
    a.clock[0] = global_ns ();
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; runs (0) && i < a.w.split_slots * 8;
       i += gridDim.x * blockDim.x)
    a.w.split_count[i] = 0;
  for (int item = blockIdx.x; runs (0) && item < a.bh * a.chunks; item += gridDim.x)
    {
      stats_item (k, v, a.heads, a.kv_len, a.keys, item / a.chunks, item % a.chunks, a.chunks,
                  a.w.partial, shared.stats);
      __syncthreads ();
    }
  barrier ();
  if (timer && runs (1))
    a.clock[1] = global_ns ();
  for (int item = blockIdx.x; runs (1) && item < a.bh; item += gridDim.x)
    {
      finish_item (a.w.partial, item, a.chunks, a.keys, !kPv16, a.v_range, a.w, shared.finish);
      __syncthreads ();
    }
  barrier ();
  if (timer && runs (2))
    a.clock[2] = global_ns ();
  const int q_items = a.bh * a.q_tiles, items = runs (2) ? q_items + 2 * a.bh * a.key_tiles : 0;
  for (int item = blockIdx.x; item < items; item += gridDim.x)
    {
      if (item < q_items)
        quantise_q_item (q, a.heads, a.q_len, a.scale, a.w, a.q_tiles, item / a.q_tiles,
                         item % a.q_tiles);
      else
        {
          /* A head's K and Vᵀ tiles alternate. */
          const int kv = item - q_items, tile = kv >> 1, bh = tile / a.key_tiles;
          if ((kv & 1) == 0)
            quantise_k_item (k, a.heads, a.kv_len, a.keys, a.w, a.kv_tiles, bh, tile % a.key_tiles,
                             shared.quantise.reduce);
          else
            quantise_v_item<T, kPv16, kTerms, kInt8V> (v, a.heads, a.kv_len, a.keys, a.w,
                                                       a.kv_tiles, bh, tile % a.key_tiles,
                                                       shared.quantise.staged);
        }
      __syncthreads ();
    }
  if (a.clock != NULL && threadIdx.x == 0 && runs (2))
    atomicMax (&a.clock[3], global_ns ());
}

/* ---- attention ------------------------------------------------------- */

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define SAGE_HOPPER 1
#endif

__device__ inline uint32_t
shared_address (const void *pointer)
{
  return (uint32_t) __cvta_generic_to_shared (pointer);
}

__device__ inline void
barrier_init (uint32_t bar, uint32_t count)
{
  asm volatile ("mbarrier.init.shared::cta.b64 [%0], %1;\n" :: "r"(bar), "r"(count) : "memory");
}

__device__ inline void
barrier_expect_bytes (uint32_t bar, uint32_t bytes)
{
  asm volatile ("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" :: "r"(bar), "r"(bytes)
                : "memory");
}

__device__ inline void
barrier_arrive (uint32_t bar)
{
  asm volatile ("mbarrier.arrive.shared::cta.b64 _, [%0];\n" :: "r"(bar) : "memory");
}

__device__ inline void
barrier_wait (uint32_t bar, uint32_t parity)
{
  uint32_t done = 0;
  do
    asm volatile ("{\n .reg .pred ready;\n"
                  " mbarrier.try_wait.parity.shared::cta.b64 ready, [%1], %2;\n"
                  " selp.u32 %0, 1, 0, ready;\n}\n"
                  : "=r"(done) : "r"(bar), "r"(parity) : "memory");
  while (!done);
}

/* `bytes` (multiple of 16) global -> shared, completing on `bar`. */
__device__ inline void
bulk_copy (uint32_t destination, const void *source, uint32_t bytes, uint32_t bar)
{
  asm volatile ("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\n"
                :: "r"(destination), "l"(source), "r"(bytes), "r"(bar) : "memory");
}

/* wgmma shared-memory descriptor, no swizzle: leading (K) offset 128 bytes
 * between the 16-byte chunks of a row, `stride` bytes between 8-row groups
 * (1024 for 128-byte rows). A shared address is below 2^18 (Hopper has
 * 228 KB per SM), so address >> 4 fits the 14-bit start field unmasked. */
__device__ inline uint64_t
descriptor (uint32_t address, uint32_t stride = 1024)
{
  return (uint64_t) (address >> 4) | ((uint64_t) (128 >> 4) << 16)
         | ((uint64_t) (stride >> 4) << 32);
}

/* `desc` moved on by `bytes`: a 32-bit add to the low word only. Shared
 * memory is under 256 KB, so the start address (bits 0–13, in 16-byte
 * units) cannot carry into the offsets above it. Rebuilding each k-step's
 * descriptor from its address cost 5 uniform instructions per MMA, about
 * 60 of a ping-pong turn's 595 (ncu, H100). */
__device__ inline uint64_t
descriptor_plus (uint64_t desc, uint32_t bytes)
{
  const uint32_t low = (uint32_t) desc + (bytes >> 4), high = (uint32_t) (desc >> 32);
  return ((uint64_t) high << 32) | low;
}

#define SAGE_OPS8(C, a, i)                                                              \
  C (a[(i) + 0]), C (a[(i) + 1]), C (a[(i) + 2]), C (a[(i) + 3]), C (a[(i) + 4]),        \
  C (a[(i) + 5]), C (a[(i) + 6]), C (a[(i) + 7])
#define SAGE_OPS64(C, a)                                                                \
  SAGE_OPS8 (C, a, 0), SAGE_OPS8 (C, a, 8), SAGE_OPS8 (C, a, 16), SAGE_OPS8 (C, a, 24),  \
  SAGE_OPS8 (C, a, 32), SAGE_OPS8 (C, a, 40), SAGE_OPS8 (C, a, 48), SAGE_OPS8 (C, a, 56)
#define SAGE_D64                                                                        \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "             \
  "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "    \
  "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "     \
  "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}"

#ifdef SAGE_HOPPER
/* The MMAs: kAccumulate false overwrites d, and d's registers are then
 * outputs only ("=r"/"=f"), so the compiler need not keep their old
 * values alive across the loop (it would spill: S, P·V and O all live).
 *
 * d (+)= A·B, 64×128×32, int8 from shared memory, int32 accumulators. */
template <bool kAccumulate>
__device__ inline void
mma_s8 (int32_t d[64], uint64_t a, uint64_t b)
{
  if constexpr (kAccumulate)
    asm volatile (" wgmma.mma_async.sync.aligned.m64n128k32.s32.s8.s8 " SAGE_D64 ", %64, %65, 1;\n"
                  : SAGE_OPS64 ("+r", d)
                  : "l"(a), "l"(b));
  else
    asm volatile (" wgmma.mma_async.sync.aligned.m64n128k32.s32.s8.s8 " SAGE_D64 ", %64, %65, 0;\n"
                  : SAGE_OPS64 ("=r", d)
                  : "l"(a), "l"(b));
}

/* d (+)= A·B with A in 4 registers per thread and B from shared memory,
 * one wrapper per instruction: `types` its shape and types, `c` the
 * accumulators' register class, `tail` what follows scale-d (a float
 * MMA's scale and transpose immediates; nothing for integers).
 *   mma_u8u8  64×128×32, u8 × u8, int32 accumulators;
 *   mma_e4m3  64×128×32, e4m3 × e4m3;
 *   mma_bf16, mma_f16  64×128×16, B K-major (no transpose). */
#define SAGE_MMA_REGISTER_A(name, Acc, types, c, tail)                                  \
  template <bool kAccumulate>                                                         \
  __device__ inline void                                                              \
  name (Acc d[64], const uint32_t a[4], uint64_t b)                                   \
  {                                                                                   \
    if constexpr (kAccumulate)                                                        \
      asm volatile (" wgmma.mma_async.sync.aligned." types " " SAGE_D64                 \
                    ", {%64, %65, %66, %67}, %68, 1" tail ";\n"                       \
                    : SAGE_OPS64 ("+" c, d)                                           \
                    : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b));             \
    else                                                                              \
      asm volatile (" wgmma.mma_async.sync.aligned." types " " SAGE_D64                 \
                    ", {%64, %65, %66, %67}, %68, 0" tail ";\n"                       \
                    : SAGE_OPS64 ("=" c, d)                                           \
                    : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b));             \
  }
SAGE_MMA_REGISTER_A (mma_u8u8, int32_t, "m64n128k32.s32.u8.u8", "r", "")
SAGE_MMA_REGISTER_A (mma_e4m3, float, "m64n128k32.f32.e4m3.e4m3", "f", ", 1, 1")
SAGE_MMA_REGISTER_A (mma_bf16, float, "m64n128k16.f32.bf16.bf16", "f", ", 1, 1, 0")
SAGE_MMA_REGISTER_A (mma_f16, float, "m64n128k16.f32.f16.f16", "f", ", 1, 1, 0")
#undef SAGE_MMA_REGISTER_A

__device__ inline void mma_fence () { asm volatile ("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ inline void mma_commit () { asm volatile ("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
__device__ inline void mma_wait_all () { asm volatile ("wgmma.wait_group.sync.aligned 0;\n" ::: "memory"); }

/* Keeps the compiler from moving accesses of `x` across the asynchronous
 * MMAs that own it. */
__device__ inline void hold (int32_t &x) { asm volatile ("" : "+r"(x) :: "memory"); }
__device__ inline void hold (float &x) { asm volatile ("" : "+f"(x) :: "memory"); }
#endif

struct AttentionArgs {
  Workspace w;
  void     *out;
  float    *lse;
  int       heads, q_len, keys, q_tiles, kv_tiles, lse_q_len, out_bf16;
  int       bh;   /* batch · heads */
  int       stagger;   /* 1: block i walks the key tiles from tile i mod their count */
  int       lag;       /* in order: units by which consumer 1 starts after consumer 0 (0..3) */
};

/* The key tile that a block's t-th key tile of a query tile is: with
 * `stagger`, the blocks start at different key tiles, so that they do not
 * all ask L2 for the same K/V tile at the same moment (softmax does not
 * care about the order). */
__device__ inline int
key_tile_at (const AttentionArgs &args, int t, int key_tiles)
{
  if (!args.stagger)
    return t;
  int at = t + (int) (blockIdx.x % (unsigned) key_tiles);
  return at < key_tiles ? at : at - key_tiles;
}

/* Shared::rows's bytes: none where 16-bit or two-term Vᵀ tiles (32 KB)
 * leave no room under the 227 KB of an SM. */
__host__ __device__ constexpr int
row_slot_bytes (int v_bytes)
{
  return v_bytes <= kTileBytes ? kRowSlots * 2 * kTileRows * (int) sizeof (float) : 0;
}

__host__ __device__ constexpr int
shared_bytes (int v_bytes)
{
  return 2 * kTileBytes + kStages * (kTileBytes + v_bytes) + row_slot_bytes (v_bytes)
         + 1024 /* barriers */ + 1024 /* alignment */;
}

/* Hopper's most dynamic shared memory per block, 227 KB: past it the launch
 * fails ("invalid argument") for that P·V design alone. */
constexpr int kMaxSharedBytes = 227 * 1024;
static_assert (shared_bytes (v_tile_bytes (false, 1)) <= kMaxSharedBytes, "8-bit V's block");
static_assert (shared_bytes (v_tile_bytes (false, 2)) <= kMaxSharedBytes, "two-term V's block");
static_assert (shared_bytes (v_tile_bytes (true, 1)) <= kMaxSharedBytes, "16-bit V's block");

/* a·b + c, rounded once, subnormal inputs and results kept (no .ftz,
 * whatever the compiler's flags). */
__device__ inline float
fma_keep_subnormal (float a, float b, float c)
{
  float d;
  asm ("fma.rn.f32 %0, %1, %2, %3;\n" : "=f"(d) : "f"(a), "f"(b), "f"(c));
  return d;
}

/* 2^x on the special-function unit (exp2(−inf) = 0). */
__device__ inline float
fast_exp2 (float x)
{
  float y;
  asm ("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

/* An int32 score as float times `dequant` in one FFMA: for |x| < 2^22 the
 * bits of 1.5·2^23 + x are 0x4B400000 + x, so x = that float − 1.5·2^23. */
__device__ inline float
dequantise (int32_t x, float dequant, float offset)
{
  return fmaf (__int_as_float (0x4B400000 + x), dequant, offset);
}



#ifdef SAGE_HOPPER
__device__ inline void
hold_all (int32_t (&x)[64])
{
#pragma unroll
  for (int i = 0; i < 64; i++)
    hold (x[i]);
}

__device__ inline void
hold_all (float (&x)[64])
{
#pragma unroll
  for (int i = 0; i < 64; i++)
    hold (x[i]);
}

/* S = Q Kᵀ for one key tile: 4 k-steps of 32 bytes (2 core matrices). */
__device__ inline void
issue_scores (int32_t (&s)[64], uint64_t q_desc, uint32_t k_address)
{
  const uint64_t k_desc = descriptor (k_address);
#pragma unroll
  for (int kk = 0; kk < 4; kk++)
    if (kk == 0)
      mma_s8<false> (s, q_desc, k_desc);
    else
      mma_s8<true> (s, descriptor_plus (q_desc, kk * 256), descriptor_plus (k_desc, kk * 256));
}

/* O_tile = P V for one key tile, a fresh accumulator (the first k-step
 * overwrites). Each k-step takes 32 bytes of keys (2 core matrices) of the
 * Vᵀ tile: 32 e4m3 or 16 16-bit keys. A two-term V runs the same P over
 * the lo tile into the same accumulator: P·hi + P·lo = P·(hi + lo). */
template <typename Pv>
__device__ inline void
issue_values (typename Pv::Acc (&pv)[64], const uint32_t (&p)[Pv::kSteps][4], uint32_t v_address)
{
  const uint64_t v_desc = descriptor (v_address, Pv::kVStride);
#pragma unroll
  for (int term = 0; term < Pv::kTerms; term++)
#pragma unroll
    for (int kk = 0; kk < Pv::kSteps; kk++)
      {
        const uint64_t b = descriptor_plus (v_desc, term * kTileBytes + kk * 256);
        if (term == 0 && kk == 0)
          Pv::template mma<false> (pv, p[kk], b);
        else
          Pv::template mma<true> (pv, p[kk], b);
      }
}

/* Named barriers 1 and 2: the ping-pong's turns; 3: the in-order lag. */
constexpr int kLagBarrier = 3;

/* Named barrier `id` over the two consumer warpgroups (256 threads). */
__device__ inline void
named_sync (int id)
{
  asm volatile ("bar.sync %0, 256;\n" :: "r"(id) : "memory");
}

__device__ inline void
named_arrive (int id)
{
  asm volatile ("bar.arrive %0, 256;\n" :: "r"(id) : "memory");
}
#endif

/* Four values of P·255 ∈ [0, 255] to u8, a in the low byte: adding
 * 1.5·2^23 rounds to the nearest integer (the float grid is 1 there), and
 * the sum's low byte is the u8. */
__device__ inline uint32_t
pack_u8x4 (float a, float b, float c, float d)
{
  const uint32_t ab = __byte_perm (__float_as_uint (a + 12582912.0f),
                                   __float_as_uint (b + 12582912.0f), 0x0040);
  const uint32_t cd = __byte_perm (__float_as_uint (c + 12582912.0f),
                                   __float_as_uint (d + 12582912.0f), 0x0040);
  return __byte_perm (ab, cd, 0x5410);
}

/* The A registers of a tile's four k32 8-bit MMAs from sc[], 4 values per
 * register by `kPack4`: rl_sage_p_index_e4m3 picks the accumulators (Vᵀ's
 * keys were permuted to match, rl_sage_kv_position). */
template <uint32_t (*kPack4) (float, float, float, float)>
__device__ inline void
pack_p8 (const float (&sc)[64], uint32_t (&p)[4][4])
{
#pragma unroll
  for (int kk = 0; kk < 4; kk++)
#pragma unroll
    for (int reg = 0; reg < 4; reg++)
      p[kk][reg] = kPack4 (sc[rl_sage_p_index_e4m3 (kk, reg, 0)], sc[rl_sage_p_index_e4m3 (kk, reg, 1)],
                           sc[rl_sage_p_index_e4m3 (kk, reg, 2)], sc[rl_sage_p_index_e4m3 (kk, reg, 3)]);
}

/* P·V formats. sc[] holds P·448 of one thread in the S accumulator layout:
 * sc[4j + e] row `group`, column 8j + 2·quad + e; sc[4j + 2 + e] row
 * group + 8. pack() writes the wgmma A-operand registers per k-step.
 *
 * What the two 8-bit formats share: k32 steps over 128-byte Vᵀ rows, P
 * packed four values per register by `kPack4`. */
template <uint32_t (*kPack4) (float, float, float, float)>
struct Pv8 {
  static constexpr int kSteps = 4;                      /* k32 steps per tile */
  static constexpr int kVStride = 1024;                 /* 128-byte Vᵀ rows */
  static constexpr bool kPv16 = false;
  __device__ static void
  pack (const float (&sc)[64], uint32_t (&p)[kSteps][4])
  {
    pack_p8<kPack4> (sc, p);
  }
};

template <int kVTerms>
struct PvE4m3 : Pv8<pack_e4m3x4> {   /* SageAttention-2's "8+8"; kVTerms 2: V as e4m3 hi + lo */
  using Acc = float;
  static constexpr bool kTileMax = false;               /* P against the running maximum */
  static constexpr int kTerms = kVTerms;
#ifdef SAGE_HOPPER
  template <bool kAccumulate>
  __device__ static void
  mma (float (&d)[64], const uint32_t (&a)[4], uint64_t b)
  {
    mma_e4m3<kAccumulate> (d, a, b);
  }
#endif
};

template <typename T>
struct Pv16 {     /* "8+16": P and V in the input's 16-bit type */
  using Acc = float;
  static constexpr int kSteps = 8;                      /* k16 steps per tile */
  static constexpr int kVStride = 2048;                 /* 256-byte Vᵀ rows */
  static constexpr bool kPv16 = true;
  static constexpr bool kTileMax = false;
  static constexpr int kTerms = 1;
  /* The k16 A layout is the accumulator's own: keys stay in order. */
  __device__ static void
  pack (const float (&sc)[64], uint32_t (&p)[kSteps][4])
  {
#pragma unroll
    for (int kk = 0; kk < kSteps; kk++)
#pragma unroll
      for (int reg = 0; reg < 4; reg++)
        p[kk][reg] = Io<T>::pack (sc[rl_sage_p_index_16 (kk, reg, 0)], sc[rl_sage_p_index_16 (kk, reg, 1)]);
  }
#ifdef SAGE_HOPPER
  template <bool kAccumulate>
  __device__ static void
  mma (float (&d)[64], const uint32_t (&a)[4], uint64_t b)
  {
    if constexpr (Io<T>::kBf16)
      mma_bf16<kAccumulate> (d, a, b);
    else
      mma_f16<kAccumulate> (d, a, b);
  }
#endif
};

/* "8+8" in integers: P u8 (0..255, against the tile's own row maximum:
 * sc[] then holds P·255), V int8 + 128 as u8, exact int32 sums. The
 * A-register layout of a k32 8-bit MMA is the same for u8 as for e4m3, so
 * V keeps e4m3's key permutation. */
struct PvInt8 : Pv8<pack_u8x4> {
  using Acc = int32_t;
  static constexpr bool kTileMax = true;
  static constexpr int kTerms = 1;
#ifdef SAGE_HOPPER
  template <bool kAccumulate>
  __device__ static void
  mma (int32_t (&d)[64], const uint32_t (&a)[4], uint64_t b)
  {
    mma_u8u8<kAccumulate> (d, a, b);
  }
#endif
};

/* The online softmax of one thread's two rows (group and group + 8 of its
 * warp's 16) in log2 units. */
struct Softmax {
  float m[2] = { -INFINITY, -INFINITY };
  float l[2] = { 0.0f, 0.0f };   /* this thread's share; the quad is summed at the end */
  /* Pv::kTileMax: the maximum that the last tile's P was formed against,
   * l's and O's unit (m stays the running maximum, which bounds it). */
  float reference[2] = { -INFINITY, -INFINITY };

  /* Turns the int32 scores of key tile starting at `first_key` into P·448
   * in `Pv`'s A-operand registers and the factor alpha by which the output
   * so far must shrink (with Pv::kTileMax: P·255 against the tile's own
   * maximum, and alpha = exp2(last tile's reference − this one's), which
   * moves O and l to this tile's). s[4j + e] is row `group`, column 8j +
   * 2·quad + e; s[4j + 2 + e] the same column of row group + 8 (masked
   * columns are overwritten: S is dead afterwards). The row maximum is
   * taken on the integers (each row's dequant > 0 keeps its order), so
   * each score costs one IADD and one FFMA to reach exp2's argument
   * s·dequant − m + log2 448. */
  template <typename Pv>
  __device__ inline void
  tile (int32_t (&s)[64], const float (&dequant)[2], int first_key, int keys, int quad,
        uint32_t (&p)[Pv::kSteps][4], float (&alpha)[2])
  {
    /* Two copies: the full tiles' path carries no per-score mask test (a
     * runtime flag let the compiler merge both paths, and the ISETP + FSEL
     * per score were a sixth of the softmax's instructions). */
    if (first_key + kTileRows > keys)
      tile_of<Pv, true> (s, dequant, first_key, keys, quad, p, alpha);
    else
      tile_of<Pv, false> (s, dequant, first_key, keys, quad, p, alpha);
  }

  template <typename Pv, bool kPartial>
  __device__ inline void
  tile_of (int32_t (&s)[64], const float (&dequant)[2], int first_key, int keys, int quad,
           uint32_t (&p)[Pv::kSteps][4], float (&alpha)[2])
  {
    /* |S| ≤ 128·127² < 2^22, so the float trick of dequantise holds, and
     * kMasked is below every score. */
    constexpr int32_t kMasked = -(1 << 22);
    const float offset[2] = { -12582912.0f * dequant[0], -12582912.0f * dequant[1] };
    if (kPartial)
      {
#pragma unroll
        for (int i = 0; i < 64; i++)
          {
            int column = 8 * (i >> 2) + 2 * quad + (i & 1);
            if (first_key + column >= keys)
              s[i] = kMasked;
          }
      }
    int32_t top[2] = { kMasked, kMasked };
#pragma unroll
    for (int i = 0; i < 64; i++)
      top[(i >> 1) & 1] = max (top[(i >> 1) & 1], s[i]);
    float shift[2];
#pragma unroll
    for (int r = 0; r < 2; r++)
      {
        top[r] = max (top[r], __shfl_xor_sync (0xffffffffu, top[r], 1));
        top[r] = max (top[r], __shfl_xor_sync (0xffffffffu, top[r], 2));
        float tile_max = top[r] == kMasked ? -INFINITY : dequantise (top[r], dequant[r], offset[r]);
        float m_new = fmaxf (m[r], tile_max);
        if constexpr (Pv::kTileMax)
          {
            /* The tile's own maximum, but never so far under m that O and
             * l, moved to it, could overflow: a tile 2^-kUnitFloor under
             * the rest adds nothing anyway. */
            constexpr float kUnitFloor = 64.0f;
            float tile_use = m_new == -INFINITY ? 0.0f : fmaxf (tile_max, m_new - kUnitFloor);
            alpha[r] = fast_exp2 (reference[r] - tile_use);
            shift[r] = offset[r] - (tile_use - kLog2U8Scale);
            reference[r] = tile_use;
          }
        else
          {
            /* A row with no valid key yet keeps m = −inf; subtract 0 then. */
            float m_use = m_new == -INFINITY ? 0.0f : m_new;
            alpha[r] = fast_exp2 (m[r] - m_use);
            shift[r] = offset[r] - (m_use - kLog2PScale);
          }
        m[r] = m_new;
      }
    float sc[64];
    /* Four partial sums per row: chains of 8 dependent adds, not 32. u8 P
     * sums its rounded values: P·255 + 1.5·2^23 has the bits 0x4B400000 +
     * round(P·255) (pack_u8x4 packs the same sums), added as integers. */
    float row_sum[2][4] = {};
    uint32_t row_bits[2][4] = {};
#pragma unroll
    for (int i = 0; i < 64; i++)
      {
        sc[i] = fast_exp2 (dequantise (s[i], dequant[(i >> 1) & 1], shift[(i >> 1) & 1]));
        if (kPartial && s[i] == kMasked)
          sc[i] = 0.0f;
        if constexpr (Pv::kTileMax)
          row_bits[(i >> 1) & 1][(i >> 2) & 3] += __float_as_uint (sc[i] + 12582912.0f);
        else
          row_sum[(i >> 1) & 1][(i >> 2) & 3] += sc[i];
      }
    Pv::pack (sc, p);
#pragma unroll
    for (int r = 0; r < 2; r++)
      {
        float sum;
        if constexpr (Pv::kTileMax)
          sum = (float) ((row_bits[r][0] + row_bits[r][1]) + (row_bits[r][2] + row_bits[r][3])
                         - 32u * 0x4B400000u);
        else
          sum = (row_sum[r][0] + row_sum[r][1]) + (row_sum[r][2] + row_sum[r][3]);
        l[r] = l[r] * alpha[r] + sum;
      }
  }
};

/* The arithmetic of one thread's two query rows of a tile, whatever runs
 * the MMAs: the S and P·V accumulators in the layout of wgmma m64nN and of
 * mma.sync m16n8k* alike (lane 4g + q of a warp holds rows g and g + 8 of
 * the warp's 16, columns 8j + 2q + e), the online softmax, the fold into O
 * and the output store. The Hopper consumer (Consumer) and the mma.sync
 * one (sage-mma.cuh) build on it, so their results are the same bits. */
template <typename Pv>
struct TileMath {
  float    o[64];         /* fp32 output accumulator (second level) */
  int32_t  s_acc[64];     /* S of the current tile */
  typename Pv::Acc pv[64];   /* P·V of one tile (first level) */
  uint32_t p[Pv::kSteps][4];   /* P of the last softmax, A-operand registers */
  float    alpha[2];      /* rescale of o that goes with p */
  Softmax  softmax;
  float    q_row_scale[2];   /* this thread's two query rows' scales */
  int      keys, quad;

  __device__ void
  init ()
  {
#pragma unroll
    for (int i = 0; i < 64; i++)
      o[i] = 0.0f, s_acc[i] = 0, pv[i] = 0;
    alpha[0] = alpha[1] = 1.0f;
    softmax = Softmax ();
  }

  /* This thread's query row r (0: group, 1: group + 8) within a tile, in
   * the S accumulator's layout. */
  __device__ static int
  tile_row (int consumer, int warp, int group, int r)
  {
    return consumer * kQBlock + warp * 16 + group + 8 * r;
  }

  /* Softmax of S, which holds key tile `key_tile`; `k_scale` is that
   * tile's, loaded by the caller before it waits for the MMAs so that the
   * load's latency hides under them. */
  __device__ void
  scores_to_p (int key_tile, float k_scale)
  {
    const float dequant[2] = { q_row_scale[0] * k_scale, q_row_scale[1] * k_scale };
    softmax.tile<Pv> (s_acc, dequant, key_tile * kTileRows, keys, quad, p, alpha);
  }

  __device__ void
  add_tile ()
  {
    if constexpr (Pv::kTileMax)
      {
        /* 0 ≤ P·V ≤ 128·255² < 2^23: its bits as a float are the
         * subnormal P·V·2^-149, exactly; fma.rn keeps subnormals. */
#pragma unroll
        for (int i = 0; i < 64; i++)
          o[i] = fma_keep_subnormal (o[i], alpha[(i >> 1) & 1], __int_as_float (pv[i]));
      }
    else
#pragma unroll
      for (int i = 0; i < 64; i++)
        o[i] = o[i] * alpha[(i >> 1) & 1] + pv[i];
  }

  /* The output's per-channel affine map (v_scale, mean(v)) for this
   * thread's channels 8j + 2·quad + {0, 1}. Every load first, in one
   * batch: interleaved with the output stores (which might alias them, for
   * all the compiler knows) each pair's loads waited on their own, and in
   * 512-key cross-attention 28 % of the kernel's stall samples sat behind
   * them (ncu, H100). */
  __device__ void
  load_affine (const Workspace &w, int bh, float2 (&scale)[16], float2 (&mean)[16]) const
  {
    const float *v_scale = w.v_scale + bh * kDim, *v_mean = w.v_mean + bh * kDim;
#pragma unroll
    for (int j = 0; j < 16; j++)
      {
        scale[j] = *reinterpret_cast<const float2 *> (v_scale + 8 * j + 2 * quad);
        mean[j] = *reinterpret_cast<const float2 *> (v_mean + 8 * j + 2 * quad);
        if constexpr (Pv::kTileMax)
          {
            mean[j] = make_float2 (mean[j].x - 128.0f * scale[j].x, mean[j].y - 128.0f * scale[j].y);
            scale[j] = make_float2 (scale[j].x * 0x1p64f, scale[j].y * 0x1p64f);
          }
      }
  }

  /* Row r's l (the quad's shares summed), and the factor that normalises
   * O: 0 for a row without a valid key. */
  __device__ static void
  row_total (const Softmax &result, int r, float &l, float &inverse, bool &empty)
  {
    l = result.l[r];
    l += __shfl_xor_sync (0xffffffffu, l, 1);
    l += __shfl_xor_sync (0xffffffffu, l, 2);
    empty = !(l > 0.0f);   /* no valid key: out 0, lse −inf */
    if constexpr (Pv::kTileMax)
      inverse = empty ? 0.0f : 0x1p85f / l;
    else
      inverse = empty ? 0.0f : __fdividef (1.0f, l);
  }

  /* Where this thread's channel pairs 8j + 2·quad + {0, 1} of output row
   * `row` go (pair j at [4j]), how a pair is packed, and the row's LSE. */
  __device__ uint32_t *
  output_pairs (const AttentionArgs &args, int b, int h, int row) const
  {
    return reinterpret_cast<uint32_t *> (reinterpret_cast<uint16_t *> (args.out)
                                         + (((size_t) b * args.q_len + row) * args.heads + h) * kDim
                                         + 2 * quad);
  }
  __device__ static uint32_t
  pack_output (const AttentionArgs &args, float x0, float x1)
  {
    return args.out_bf16 ? Io<__nv_bfloat16>::pack (x0, x1) : Io<__half>::pack (x0, x1);
  }
  __device__ static float *
  lse_of (const AttentionArgs &args, int b, int h, int row)
  {
    return args.lse + ((size_t) b * args.heads + h) * args.lse_q_len + row;
  }

  /* Row r's LSE without the q·mean(k) shift (natural log). */
  __device__ static float
  row_lse (const Softmax &result, int r, float l)
  {
    return (Pv::kTileMax ? result.reference[r] + log2f (l) - kLog2U8Scale
                         : result.m[r] + log2f (l) - kLog2PScale) * kLn2;
  }

  /* O/l · v_scale + mean(v) to `out`; lse = (m + log2 l − log2 448)·ln 2
   * + scale·q·mean(k). With Pv::kTileMax, O is in units of 2^-149 and
   * carries 128·l (V's bias): O/l = (O·2^85/l)·2^64 − 128, the 2^64 and
   * the −128 folded into v_scale and mean(v); the LSE's reference is the
   * last tile's maximum and log2 255. */
  __device__ void
  store (const AttentionArgs &args, const Softmax &result, int bh, int q_block,
         const float *row_shifts, int consumer, int warp, int group)
  {
    const Workspace &w = args.w;
    const int b = bh / args.heads, h = bh % args.heads;
    float2 scale[16], mean[16];
    load_affine (w, bh, scale, mean);
    float l[2], inverse[2], shift[2] = { 0.0f, 0.0f };
    int row[2];
    bool live[2], empty[2];
#pragma unroll
    for (int r = 0; r < 2; r++)
      {
        row_total (result, r, l[r], inverse[r], empty[r]);
        row[r] = q_block * kTileRows + tile_row (consumer, warp, group, r);
        live[r] = row[r] < args.q_len;
        if (args.lse != NULL && quad == 0 && live[r])
          shift[r] = row_shifts[tile_row (consumer, warp, group, r)];
      }
    /* Each row's address once (the 64-bit index math per store was most of
     * this function's instructions: it sets cross-attention's speed, where
     * a tile has only 4 key tiles); empty rows store zeros. */
    uint32_t *out_row[2];
#pragma unroll
    for (int r = 0; r < 2; r++)
      out_row[r] = output_pairs (args, b, h, live[r] ? row[r] : 0);
    /* Each thread's channels 8j + 2·quad + {0, 1}: one 4-byte store per row
     * and pair. */
#pragma unroll
    for (int j = 0; j < 16; j++)
      {
#pragma unroll
        for (int r = 0; r < 2; r++)
          {
            const float x0 = fmaf (o[4 * j + 2 * r] * inverse[r], scale[j].x, mean[j].x);
            const float x1 = fmaf (o[4 * j + 2 * r + 1] * inverse[r], scale[j].y, mean[j].y);
            const uint32_t packed = empty[r] ? 0u : pack_output (args, x0, x1);
            if (live[r])
              out_row[r][4 * j] = packed;
          }
      }
    if (args.lse != NULL && quad == 0)
#pragma unroll
      for (int r = 0; r < 2; r++)
        if (live[r])
          *lse_of (args, b, h, row[r]) = empty[r] ? -INFINITY : row_lse (result, r, l[r]) + shift[r];
  }
};

#ifdef SAGE_HOPPER
/* Ring slots count up from 0; their stage is slot mod kStages, taken
 * unsigned (a signed int's modulo costs five uniform instructions in every
 * ping-pong turn). */
__device__ inline uint32_t
stage_of (int slot)
{
  return (uint32_t) slot % kStages;
}

/* Shared memory of one block: two Q tiles (the next tile's Q loads while
 * this one is in use), kStages × (K tile, Vᵀ tile), kRowSlots × the rows'
 * scales and LSE shifts of a Q tile, and the mbarriers (Q buffer b loaded
 * / released by both consumers; stage s full / read by both consumers).
 * Ring slots and Q uses count on across a block's tiles.
 *
 * The row scales and shifts come with their tile's Q (same barrier), not
 * from global memory when a tile starts and when it is stored, where the
 * output of earlier tiles has pushed them out of L2: long self-attention
 * 1.2–1.9 % faster, cross-attention unchanged (NOTES.md, session 11).
 * Tile n's sit in slot n mod 4: the
 * producer refills it, for tile n + 4, only once both consumers have
 * released tile n + 2's Q buffer, which comes after their store of tile n
 * (in tile n + 1's first turn at the latest). With two or three slots,
 * tests/attention/sage-ring-protocol.py finds stores that read a refilled
 * slot (tiles of one key tile release their Q in the turn that stores the
 * tile before). */
struct Shared {
  uint8_t  *q_tiles;
  uint8_t  *stages;
  float    *rows;      /* [kRowSlots][2][kTileRows]: q scale, then q·mean(k) shift; NULL
                        * when there is no room (row_slot_bytes): read from global memory */
  uint64_t *bars;
  int       v_bytes;   /* bytes of a Vᵀ tile; a stage is kTileBytes + v_bytes */

  __device__ uint8_t *q_tile (int buffer) const { return q_tiles + buffer * kTileBytes; }
  /* The row scales and shifts of the block's n-th tile. */
  __device__ float *row_scales (int n) const { return rows + (n % kRowSlots) * 2 * kTileRows; }
  __device__ float *row_shifts (int n) const { return row_scales (n) + kTileRows; }
  __device__ uint32_t q_full (int buffer) const { return shared_address (&bars[buffer]); }
  __device__ uint32_t q_empty (int buffer) const { return shared_address (&bars[2 + buffer]); }
  __device__ uint32_t full (int slot) const { return shared_address (&bars[4 + stage_of (slot)]); }
  __device__ uint32_t empty (int slot) const
  {
    return shared_address (&bars[4 + kStages + stage_of (slot)]);
  }
  __device__ uint32_t k_address (int slot) const
  {
    return shared_address (stages + stage_of (slot) * (kTileBytes + v_bytes));
  }
  __device__ uint32_t v_address (int slot) const
  {
    return shared_address (stages + stage_of (slot) * (kTileBytes + v_bytes) + kTileBytes);
  }
};

/* Tiles of 128 query rows, query block fastest, then batch·head. */
struct TileOf {
  int bh, q_block;
  __device__ TileOf (int tile, int q_tiles) : bh (tile / q_tiles), q_block (tile % q_tiles) {}
};

/* The block's tiles. Dealt round-robin (tile = blockIdx.x + n·gridDim.x),
 * so that all SMs work on one head's K/V at a time, in L2. But when a
 * head's K/V fit the ring (2 ≤ key_tiles ≤ kStages: 512-key
 * cross-attention) a block takes a contiguous range instead, so that its
 * consecutive tiles mostly share the head, and the ring is "resident":
 * key tile t always sits in stage t (ring slot n·kStages + t) and is
 * copied only when the head changes. Cross-attention otherwise re-reads
 * the same K/V from L2 for every tile, and that, not the math, set its
 * speed (NOTES.md). Not for one key tile: a ping-pong turn issues S of a
 * tile with P·V of the one before, which would then need the same stage
 * twice and wait on itself (tests/attention/sage-ring-protocol.py).
 *
 * Round-robin leaves a last round of total mod blocks tiles, the other
 * blocks idle: 48 tiles on 132 SMs at H 12 × 4680, a sixth of the time.
 * Those tiles are split along the keys instead, each into `parts` runs of
 * consecutive key tiles (as many as the idle blocks allow, each at least
 * kSplitMinKeyTiles long, at most kSplitMaxParts runs), one run per block
 * as its last tile; the block that finishes a tile's last run merges the
 * runs by their LSE (Consumer::store_part). Run `part` of split tile i
 * (tile rounds · blocks + i) is block part · split_tiles + i. */
struct BlockTiles {
  int  first, count, stride;
  bool resident;
  int  slots;        /* ring slots per tile */
  int  key_tiles;    /* of a whole tile */
  int  split_n;      /* the index of the block's split run among its tiles, or −1 */
  int  split_tile, split_first, split_keys;   /* its tile, first key tile and key tile count */
  int  split_tiles, parts;                    /* tiles split, runs per tile */

  __device__
  BlockTiles (int total, int key_tiles_, int split_slots)
  {
    const int blocks = (int) gridDim.x, block = (int) blockIdx.x;
    key_tiles = key_tiles_;
    resident = key_tiles >= 2 && key_tiles <= kStages;
    split_n = -1, split_tile = 0, split_first = 0, split_keys = 0, split_tiles = 0, parts = 0;
    if (resident)
      {
        const int per = total / blocks, extra = total % blocks;
        first = block * per + min (block, extra);
        count = per + (block < extra ? 1 : 0);
        stride = 1;
      }
    else
      {
        first = block;
        count = (total - block + blocks - 1) / blocks;
        stride = blocks;
        const int rounds = total / blocks, rest = total % blocks;
        const int most = rest > 0 && blocks <= split_slots
                         ? min (min (blocks / rest, key_tiles / kSplitMinKeyTiles), kSplitMaxParts) : 0;
        if (most >= 2)
          {
            split_tiles = rest, parts = most;
            count = rounds + (block < rest * parts ? 1 : 0);
            if (block < rest * parts)
              {
                const int part = block / rest;
                split_n = rounds;
                split_tile = rounds * blocks + block % rest;
                split_first = part * key_tiles / parts;
                split_keys = (part + 1) * key_tiles / parts - split_first;
              }
          }
      }
    slots = resident ? kStages : key_tiles;
  }
  __device__ int tile (int n) const { return n == split_n ? split_tile : first + n * stride; }
  __device__ int slot (int n, int t) const { return n * slots + t; }
  /* Key tiles of the block's n-th tile, and the t-th of them. */
  __device__ int keys_of (int n) const { return n == split_n ? split_keys : key_tiles; }
  __device__ int
  key_tile (const AttentionArgs &args, int n, int t) const
  {
    return n == split_n ? split_first + key_tile_at (args, t, split_keys) : key_tile_at (args, t, key_tiles);
  }
  /* Turns of the ping-pong stream: one per key tile of each tile. */
  __device__ int units () const { return count * key_tiles - (split_n >= 0 ? key_tiles - split_keys : 0); }
};

/* One thread of the producer: per tile its Q (into the free buffer), then
 * its K/Vᵀ tiles through the ring. */
__device__ inline void
produce (const AttentionArgs &args, const Shared &sm, int key_tiles)
{
  const Workspace &w = args.w;
  const BlockTiles tiles (args.q_tiles * args.bh, key_tiles, w.split_slots);
  int previous_bh = -1;
  for (int count = 0; count < tiles.count; count++)
    {
      const TileOf at (tiles.tile (count), args.q_tiles);
      const int buffer = count & 1, use = count >> 1;
      if (use > 0)
        barrier_wait (sm.q_empty (buffer), (use - 1) & 1);
      const size_t q_tile = (size_t) at.bh * args.q_tiles + at.q_block;
      constexpr uint32_t kRowBytes = kTileRows * sizeof (float);
      barrier_expect_bytes (sm.q_full (buffer), kTileBytes + (sm.rows != NULL ? 2 * kRowBytes : 0));
      bulk_copy (shared_address (sm.q_tile (buffer)), w.q8 + q_tile * kTileBytes, kTileBytes,
                 sm.q_full (buffer));
      if (sm.rows != NULL)
        {
          bulk_copy (shared_address (sm.row_scales (count)), w.q_scale + q_tile * kTileRows,
                     kRowBytes, sm.q_full (buffer));
          bulk_copy (shared_address (sm.row_shifts (count)), w.q_shift + q_tile * kTileRows,
                     kRowBytes, sm.q_full (buffer));
        }
      const int8_t *k_source = w.k8 + (size_t) at.bh * args.kv_tiles * kTileBytes;
      const uint8_t *v_source = w.v8 + (size_t) at.bh * args.kv_tiles * sm.v_bytes;
      const bool kept = tiles.resident && at.bh == previous_bh;
      previous_bh = at.bh;
      for (int t = 0; t < tiles.keys_of (count); t++)
        {
          const int slot = tiles.slot (count, t);
          if (slot >= kStages)
            barrier_wait (sm.empty (slot), ((slot / kStages) - 1) & 1);
          if (kept)
            {
              /* The stage still holds this head's key tile: release it to
               * the consumers again without a copy. */
              barrier_arrive (sm.full (slot));
              continue;
            }
          barrier_expect_bytes (sm.full (slot), kTileBytes + sm.v_bytes);
          const int key_tile = tiles.key_tile (args, count, t);
          bulk_copy (sm.k_address (slot), k_source + (size_t) key_tile * kTileBytes, kTileBytes,
                     sm.full (slot));
          bulk_copy (sm.v_address (slot), v_source + (size_t) key_tile * sm.v_bytes, sm.v_bytes,
                     sm.full (slot));
        }
    }
}

/* A consumer warpgroup's 64 query rows of one tile. Key tile t of the tile
 * is ring slot base + t. */
template <typename Pv>
struct Consumer : TileMath<Pv> {
  using Math = TileMath<Pv>;
  using Math::o;
  using Math::s_acc;
  using Math::pv;
  using Math::p;
  using Math::alpha;
  using Math::softmax;
  using Math::q_row_scale;
  using Math::keys;
  using Math::quad;
  using Math::init;
  using Math::tile_row;
  using Math::scores_to_p;
  using Math::add_tile;
  using Math::load_affine;
  using Math::row_total;
  using Math::output_pairs;
  using Math::pack_output;
  using Math::lse_of;
  using Math::row_lse;
  using Math::store;
  uint64_t q_desc;
  const float *k_scales;
  int      base;
  int      pv_n, pv_t;    /* ping-pong stream: tile and key tile of the pending P·V */

  /* The row scales (`shifts` false) or LSE shifts of the block's n-th
   * tile `at`: in shared memory once its Q buffer is full, or where the
   * preparation wrote them when the block has no room (row_slot_bytes). */
  static constexpr bool kRowsShared = row_slot_bytes (v_tile_bytes (Pv::kPv16, Pv::kTerms)) > 0;
  __device__ static const float *
  rows_of (const Shared &sm, const AttentionArgs &args, int n, const TileOf &at, bool shifts)
  {
    if constexpr (kRowsShared)
      return shifts ? sm.row_shifts (n) : sm.row_scales (n);
    else
      return (shifts ? args.w.q_shift : args.w.q_scale)
             + ((size_t) at.bh * args.q_tiles + at.q_block) * kTileRows;
  }

  /* The scales of this thread's two query rows of the block's n-th tile. */
  __device__ void
  load_row_scales (const Shared &sm, const AttentionArgs &args, int n, const TileOf &at,
                   int consumer, int warp, int group)
  {
    const float *scales = rows_of (sm, args, n, at, false);
#pragma unroll
    for (int r = 0; r < 2; r++)
      q_row_scale[r] = scales[tile_row (consumer, warp, group, r)];
  }

  /* One key tile at a time: S, softmax, P·V, all in order; the block's
   * n-th tile. */
  __device__ void
  run_in_order (const Shared &sm, const AttentionArgs &args, const BlockTiles &tiles, int n,
                int lead_units)
  {
    for (int t = 0; t < tiles.keys_of (n); t++)
      {
        const int slot = base + t, key_tile = tiles.key_tile (args, n, t);
        const float k_scale = k_scales[key_tile];
        barrier_wait (sm.full (slot), (slot / kStages) & 1);
        mma_fence ();
        issue_scores (s_acc, q_desc, sm.k_address (slot));
        mma_commit ();
        mma_wait_all ();
        hold_all (s_acc);
        scores_to_p (key_tile, k_scale);
        mma_fence ();
        issue_values<Pv> (pv, p, sm.v_address (slot));
        mma_commit ();
        mma_wait_all ();
        hold_all (pv);
        barrier_arrive (sm.empty (slot));
        if (t + 1 == lead_units)
          named_arrive (kLagBarrier);
        add_tile ();
      }
  }

  template <bool kScores, bool kValues>
  __device__ void
  stream_turn (const Shared &sm, const AttentionArgs &args, const BlockTiles &tiles, int &n,
               int &t, int consumer, int warp, int group, bool hand_over)
  {
    const int mine = 1 + consumer, other = 2 - consumer;
    /* Ring slots of S(u) (tile n, key tile t) and of P(u−1)·V(u−1). */
    const int s_slot = tiles.slot (n, t);
    const int v_slot = kValues ? tiles.slot (pv_n, pv_t) : 0;
    if (kScores && t == 0)
      {
        /* Tile n's S starts: its Q buffer and scales. */
        const TileOf at (tiles.tile (n), args.q_tiles);
        q_desc = descriptor (shared_address (sm.q_tile (n & 1) + consumer * (kQBlock / 8) * 1024));
        k_scales = args.w.k_scale + (size_t) at.bh * args.kv_tiles;
        barrier_wait (sm.q_full (n & 1), (n >> 1) & 1);
        load_row_scales (sm, args, n, at, consumer, warp, group);
      }
    const int key_tile = kScores ? tiles.key_tile (args, n, t) : 0;
    const float k_scale = kScores ? k_scales[key_tile] : 0.0f;
    if (kScores)
      barrier_wait (sm.full (s_slot), (s_slot / kStages) & 1);
    named_sync (mine);
    /* No hold of s_acc / pv before the MMAs: the first MMA of each
     * overwrites it, and holding the dead values would keep S, P·V and O
     * alive at once (spills). Their reads come after the wait. */
    mma_fence ();
    if (kScores)
      issue_scores (s_acc, q_desc, sm.k_address (s_slot));
    if (kValues)
      issue_values<Pv> (pv, p, sm.v_address (v_slot));
    mma_commit ();
    if (hand_over)
      named_arrive (other);
    mma_wait_all ();
    if (kScores)
      {
        hold_all (s_acc);
        if (t == tiles.keys_of (n) - 1)
          barrier_arrive (sm.q_empty (n & 1));   /* tile n's last S has read its Q */
      }
    bool finished = false;   /* the tile of unit u − 1 is complete */
    Softmax finished_softmax;
    if (kValues)
      {
        hold_all (pv);
        barrier_arrive (sm.empty (v_slot));
        add_tile ();
        finished = pv_t == tiles.keys_of (pv_n) - 1;
        if (finished)
          {
            finished_softmax = softmax;
            softmax = Softmax ();
          }
      }
    /* The next tile's softmax first: S is then dead while O is stored. A
     * tile's first alpha is 0 (m was −inf), so O restarts from its P·V. */
    if (kScores)
      scores_to_p (key_tile, k_scale);
    if (kValues && finished)
      {
        const TileOf done (tiles.tile (pv_n), args.q_tiles);
        /* A split run is the block's last tile, finished in the last turn
         * (kScores false): only that turn carries store_part. */
        if (!kScores && pv_n == tiles.split_n)
          store_part (args, finished_softmax, tiles, done.bh, done.q_block,
                      rows_of (sm, args, pv_n, done, true), consumer, warp, group);
        else
          store (args, finished_softmax, done.bh, done.q_block, rows_of (sm, args, pv_n, done, true),
                 consumer, warp, group);
      }
    if (kScores)
      {
        pv_n = n, pv_t = t;   /* the next turn's P·V is this turn's unit */
        if (++t == tiles.keys_of (n))
          t = 0, n++;
      }
  }

  /* The ping-pong over all of this block's tiles as one stream of units
   * (tile n, key tile t; unit u = n·key_tiles + t is ring slot u): turn u
   * issues S(u) with P(u−1)·V(u−1), so a tile's last P·V shares its turn
   * with the next tile's first S, and its output is stored while the other
   * warpgroup has its turn. Per tile that saves the S-only and P·V-only
   * turns and the wait for the other warpgroup's store. FlashAttention-3's
   * ping-pong: the two consumer warpgroups take turns at the tensor cores
   * (named barrier 1 + c is warpgroup c's turn), so one's softmax overlaps
   * the other's MMAs. Consumer 1 opens the first turn for 0 and skips its
   * last hand-over, so arrivals match syncs. */
  __device__ void
  run_stream (const Shared &sm, const AttentionArgs &args, const BlockTiles &tiles, int consumer,
              int warp, int group)
  {
    const int units = tiles.units ();
    if (consumer == 1)
      named_arrive (1);
    int n = 0, t = 0;
    stream_turn<true, false> (sm, args, tiles, n, t, consumer, warp, group, true);
    for (int u = 1; u < units; u++)
      stream_turn<true, true> (sm, args, tiles, n, t, consumer, warp, group, true);
    stream_turn<false, true> (sm, args, tiles, n, t, consumer, warp, group, consumer == 0);
  }

  /* A run of a split tile (BlockTiles): its output, normalised as store()
   * does but in fp32, and its LSE go to the run's slot of the workspace;
   * then each warp counts its run in per tile, and the warp that counts
   * the tile's last run merges them all (weights exp(lse − the largest))
   * into the output and LSE, as store() would have written them. */
  __device__ void
  store_part (const AttentionArgs &args, const Softmax &result, const BlockTiles &tiles, int bh,
              int q_block, const float *row_shifts, int consumer, int warp, int group)
  {
    const Workspace &w = args.w;
    const int b = bh / args.heads, h = bh % args.heads;
    const int unit = (int) blockIdx.x, index = unit % tiles.split_tiles, part = unit / tiles.split_tiles;
    float2 scale[16], mean[16];
    load_affine (w, bh, scale, mean);
    float x[64], lse[2];
    int tile_rows[2];
#pragma unroll
    for (int r = 0; r < 2; r++)
      {
        float l, inverse;
        bool empty;
        row_total (result, r, l, inverse, empty);
        tile_rows[r] = tile_row (consumer, warp, group, r);
        const int row = q_block * kTileRows + tile_rows[r];
        const float shift = row < args.q_len ? row_shifts[tile_rows[r]] : 0.0f;
        lse[r] = empty ? -INFINITY : row_lse (result, r, l) + shift;
#pragma unroll
        for (int j = 0; j < 16; j++)
          {
            x[4 * j + 2 * r] = empty ? 0.0f : fmaf (o[4 * j + 2 * r] * inverse, scale[j].x, mean[j].x);
            x[4 * j + 2 * r + 1] = empty ? 0.0f : fmaf (o[4 * j + 2 * r + 1] * inverse, scale[j].y, mean[j].y);
          }
      }
    auto slot_out = [&] (int slot, int r, int j) {
      return w.split_out + ((size_t) slot * kTileRows + tile_rows[r]) * kDim + 8 * j + 2 * quad;
    };
    auto slot_lse = [&] (int slot, int r) { return w.split_lse + (size_t) slot * kTileRows + tile_rows[r]; };
#pragma unroll
    for (int j = 0; j < 16; j++)
#pragma unroll
      for (int r = 0; r < 2; r++)
        *reinterpret_cast<float2 *> (slot_out (unit, r, j)) = make_float2 (x[4 * j + 2 * r], x[4 * j + 2 * r + 1]);
    if (quad == 0)
#pragma unroll
      for (int r = 0; r < 2; r++)
        *slot_lse (unit, r) = lse[r];
    /* Release: this warp's run is in memory before the count says so. */
    __threadfence ();
    __syncwarp ();
    const int lane = (int) (threadIdx.x & 31);
    uint32_t last = 0;
    if (lane == 0)
      last = atomicAdd (w.split_count + index * 8 + consumer * 4 + warp, 1u) == (uint32_t) tiles.parts - 1;
    if (__shfl_sync (0xffffffffu, last, 0) == 0)
      return;
    __threadfence ();   /* acquire: the other runs, read past L1 */
    float top[2] = { lse[0], lse[1] };
    for (int p = 0; p < tiles.parts; p++)
      if (p != part)
#pragma unroll
        for (int r = 0; r < 2; r++)
          top[r] = fmaxf (top[r], __ldcg (slot_lse (p * tiles.split_tiles + index, r)));
    float total[2];
#pragma unroll
    for (int r = 0; r < 2; r++)
      {
        const float weight = top[r] == -INFINITY ? 0.0f : __expf (lse[r] - top[r]);
        total[r] = weight;
#pragma unroll
        for (int j = 0; j < 16; j++)
          x[4 * j + 2 * r] *= weight, x[4 * j + 2 * r + 1] *= weight;
      }
    for (int p = 0; p < tiles.parts; p++)
      {
        if (p == part)
          continue;
        const int slot = p * tiles.split_tiles + index;
#pragma unroll
        for (int r = 0; r < 2; r++)
          {
            const float weight = top[r] == -INFINITY ? 0.0f : __expf (__ldcg (slot_lse (slot, r)) - top[r]);
            total[r] += weight;
#pragma unroll
            for (int j = 0; j < 16; j++)
              {
                const float2 y = __ldcg (reinterpret_cast<const float2 *> (slot_out (slot, r, j)));
                x[4 * j + 2 * r] = fmaf (weight, y.x, x[4 * j + 2 * r]);
                x[4 * j + 2 * r + 1] = fmaf (weight, y.y, x[4 * j + 2 * r + 1]);
              }
          }
      }
#pragma unroll
    for (int r = 0; r < 2; r++)
      {
        const int row = q_block * kTileRows + tile_rows[r];
        if (row >= args.q_len)
          continue;
        const bool empty = !(total[r] > 0.0f);
        const float inverse = empty ? 0.0f : 1.0f / total[r];
        uint32_t *out = output_pairs (args, b, h, row);
#pragma unroll
        for (int j = 0; j < 16; j++)
          out[4 * j] = pack_output (args, x[4 * j + 2 * r] * inverse, x[4 * j + 2 * r + 1] * inverse);
        if (args.lse != NULL && quad == 0)
          *lse_of (args, b, h, row) = empty ? -INFINITY : top[r] + __logf (total[r]);
      }
  }
};
#endif

/* Persistent: each block walks tiles blockIdx.x, + gridDim.x, ... (a grid
 * of one block per tile is the plain launch). */
template <bool kPingpong, typename Pv>
__global__ void __launch_bounds__ (384, 1)
attention (const AttentionArgs args)
{
#ifdef SAGE_HOPPER
  extern __shared__ uint8_t shared_raw[];
  uint8_t *base = reinterpret_cast<uint8_t *> (((uintptr_t) shared_raw + 1023) & ~(uintptr_t) 1023);
  constexpr int kVBytes = v_tile_bytes (Pv::kPv16, Pv::kTerms);
  uint8_t *rows = base + 2 * kTileBytes + kStages * (kTileBytes + kVBytes);
  constexpr int kRowBytes = row_slot_bytes (kVBytes);
  const Shared sm = { base, base + 2 * kTileBytes, kRowBytes > 0 ? reinterpret_cast<float *> (rows) : NULL,
                      reinterpret_cast<uint64_t *> (rows + kRowBytes), kVBytes };
  const int key_tiles = (args.keys + kTileRows - 1) / kTileRows;
  const int total = args.q_tiles * args.bh;

  if (threadIdx.x == 0)
    {
      for (int buffer = 0; buffer < 2; buffer++)
        {
          barrier_init (sm.q_full (buffer), 1);
          barrier_init (sm.q_empty (buffer), 256);
        }
      for (int s = 0; s < kStages; s++)
        {
          barrier_init (sm.full (s), 1);
          barrier_init (sm.empty (s), 256);
        }
      asm volatile ("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
  __syncthreads ();

  if (threadIdx.x < 128)
    {
      asm volatile ("setmaxnreg.dec.sync.aligned.u32 40;\n");
      if (threadIdx.x == 0)
        produce (args, sm, key_tiles);
    }
  else
    {
      asm volatile ("setmaxnreg.inc.sync.aligned.u32 232;\n");
      const int consumer = (threadIdx.x >> 7) - 1;
      const int tid = threadIdx.x & 127, warp = tid >> 5, lane = tid & 31;
      const int group = lane >> 2, quad = lane & 3;
      const Workspace &w = args.w;
      Consumer<Pv> c;
      c.keys = args.keys;
      c.quad = quad;
      c.base = 0;
      const BlockTiles tiles (total, key_tiles, w.split_slots);
      if (kPingpong && key_tiles > 0)
        {
          c.init ();
          c.run_stream (sm, args, tiles, consumer, warp, group);
          return;
        }
      /* In order, consumer 1 may start `lag` units after consumer 0, so
       * that their tiles' stores and starts fall at different times. At
       * most 3: consumer 0 runs ahead only as far as the ring reaches
       * (kStages units) before it needs a stage consumer 1 has yet to
       * release (tests/attention/sage-ring-protocol.py: a lag of 5 deadlocks). */
      const int lead = kPingpong || tiles.count == 0 ? 0 : min (max (args.lag, 0), 3);
      const int lead_units = min (lead, tiles.keys_of (0));
      if (lead > 0 && consumer == 1)
        named_sync (kLagBarrier);
      else if (lead > 0 && lead_units == 0)
        named_arrive (kLagBarrier);
      for (int count = 0; count < tiles.count; count++)
        {
          const TileOf at (tiles.tile (count), args.q_tiles);
          const int buffer = count & 1;
          c.init ();
          c.q_desc = descriptor (shared_address (sm.q_tile (buffer) + consumer * (kQBlock / 8) * 1024));
          c.k_scales = w.k_scale + (size_t) at.bh * args.kv_tiles;
          barrier_wait (sm.q_full (buffer), (count >> 1) & 1);
          c.load_row_scales (sm, args, count, at, consumer, warp, group);
          c.base = tiles.slot (count, 0);
          if (!kPingpong)   /* without keys (ping-pong too): nothing to run, zeros stored */
            c.run_in_order (sm, args, tiles, count, count == 0 && consumer == 0 && lead > 0 ? lead_units : 0);
          /* Every S product that read this Q buffer has completed. */
          barrier_arrive (sm.q_empty (buffer));
          if (count == tiles.split_n)
            c.store_part (args, c.softmax, tiles, at.bh, at.q_block,
                          c.rows_of (sm, args, count, at, true), consumer, warp, group);
          else
            c.store (args, c.softmax, at.bh, at.q_block, c.rows_of (sm, args, count, at, true),
                     consumer, warp, group);
        }
    }
#endif
}

#include "plugins/attention/sage/sage-mma.cuh"

/* The Hopper attention pass: `tiles` query tiles on p->blocks persistent
 * blocks (or one block per tile). */
template <typename T>
cudaError_t
launch_hopper (const RlSageParams *p, const AttentionArgs &args, int tiles, int v_terms,
               cudaStream_t stream)
{
  const bool int8_pv = p->pv_int8 && !p->pv16;
  auto kernel = p->pv16 ? (p->pingpong ? attention<true, Pv16<T>> : attention<false, Pv16<T>>)
                : int8_pv ? (p->pingpong ? attention<true, PvInt8> : attention<false, PvInt8>)
                : v_terms == 2 ? (p->pingpong ? attention<true, PvE4m3<2>> : attention<false, PvE4m3<2>>)
                               : (p->pingpong ? attention<true, PvE4m3<1>> : attention<false, PvE4m3<1>>);
  const int shared = shared_bytes (v_tile_bytes (p->pv16, v_terms));
  cudaError_t status = cudaFuncSetAttribute (kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, shared);
  if (status != cudaSuccess)
    return status;
  const int blocks = p->blocks > 0 && p->blocks < tiles ? p->blocks : tiles;
  kernel<<<blocks, 384, shared, stream>>> (args);
  return cudaGetLastError ();
}

/* The mma.sync attention pass: one block per query tile. */
template <typename T>
cudaError_t
launch_mma (const RlSageParams *p, const AttentionArgs &args, int tiles, cudaStream_t stream)
{
  const int v_terms = v_terms_of (p);
  auto kernel = p->pv16 ? attention_mma<Pv16<T>>
                : p->pv_int8 ? attention_mma<PvInt8>
                : v_terms == 2 ? attention_mma<PvE4m3<2>> : attention_mma<PvE4m3<1>>;
  const int shared = mma_shared_bytes (v_tile_bytes (p->pv16, v_terms));
  cudaError_t status = cudaFuncSetAttribute (kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, shared);
  if (status != cudaSuccess)
    return status;
  if (tiles > 0)
    kernel<<<tiles, kMmaThreads, shared, stream>>> (args);
  return cudaGetLastError ();
}

template <typename T>
cudaError_t
launch_typed (const RlSageParams *p, void *workspace, cudaStream_t stream)
{
  Workspace w = workspace_layout (p, workspace);
  int bh = p->batch * p->heads;
  int q_tiles = (p->q_len + kTileRows - 1) / kTileRows;
  int kv_tiles = (p->kv_len + kTileRows - 1) / kTileRows;
  int key_tiles = (p->keys + kTileRows - 1) / kTileRows;
  const T *q = (const T *) p->q, *k = (const T *) p->k, *v = (const T *) p->v;
  const int v_terms = v_terms_of (p);
  const bool int8_pv = p->pv_int8 && !p->pv16;
  PrepareArgs prepare_args = { q, k, v, w, bh, p->heads, p->q_len, p->kv_len, p->keys,
                               q_tiles, kv_tiles, key_tiles, stat_chunks (p->keys, bh), p->scale,
                               int8_pv ? 127.0f : kPScale, p->pass_ms != NULL ? w.clock : nullptr, -1 };
  auto prepare_kernel = p->pv16 ? prepare<T, true, 1, false>
                        : int8_pv ? prepare<T, false, 1, true>
                        : (v_terms == 2 ? prepare<T, false, 2, false> : prepare<T, false, 1, false>);
  /* As many blocks as are resident at once (a cooperative launch refuses
   * more). */
  int device = 0, multiprocessors = 0, per_sm = 0;
  cudaError_t status = cudaGetDevice (&device);
  if (status == cudaSuccess)
    status = cudaDeviceGetAttribute (&multiprocessors, cudaDevAttrMultiProcessorCount, device);
  if (status == cudaSuccess)
    status = cudaOccupancyMaxActiveBlocksPerMultiprocessor (&per_sm, prepare_kernel, 256, 0);
  if (status != cudaSuccess)
    return status;
  if (per_sm < 1)
    return cudaErrorLaunchOutOfResources;
  /* With pass_ms, an event before each launch and one after the last. */
  cudaEvent_t marks[3] = {};
  const bool timed = p->pass_ms != NULL;
  for (int i = 0; timed && i < 3; i++)
    cudaEventCreate (&marks[i]);
  auto mark = [&] (int i) { if (timed) cudaEventRecord (marks[i], stream); };
  auto forget_marks = [&] () {
    for (int i = 0; timed && i < 3; i++)
      cudaEventDestroy (marks[i]);
  };
  if (timed)
    cudaMemsetAsync (w.clock, 0, 4 * sizeof (unsigned long long), stream);
  mark (0);
  void *prepare_params[] = { &prepare_args };
  bool cooperative = !p->prepare_launches;
  if (cooperative)
    {
      status = cudaLaunchCooperativeKernel ((const void *) prepare_kernel,
                                            dim3 (per_sm * multiprocessors), dim3 (256),
                                            prepare_params, 0, stream);
      /* Refused where not all blocks can be resident (a share of the SMs
       * under MPS, say). */
      if (status == cudaErrorCooperativeLaunchTooLarge || status == cudaErrorNotSupported)
        {
          cudaGetLastError ();
          status = cudaSuccess;
          cooperative = false;
        }
    }
  if (!cooperative)
    {
      /* Each phase as an ordinary launch, the launch boundaries in place
       * of the grid barriers. */
      for (int phase = 0; phase < 3 && status == cudaSuccess; phase++)
        {
          prepare_args.phase = phase;
          prepare_kernel<<<per_sm * multiprocessors, 256, 0, stream>>> (prepare_args);
          status = cudaGetLastError ();
        }
    }
  if (status != cudaSuccess)
    {
      forget_marks ();
      return status;
    }
  mark (1);
  AttentionArgs args = { w, p->out, p->lse, p->heads, p->q_len, p->keys, q_tiles, kv_tiles,
                         p->lse_q_len, p->dtype == RL_ATTENTION_BF16, bh, p->stagger, p->lag };
  if (p->mma)
    status = launch_mma<T> (p, args, q_tiles * bh, stream);
  else
    status = launch_hopper<T> (p, args, q_tiles * bh, v_terms, stream);
  if (status != cudaSuccess)
    {
      forget_marks ();
      return status;
    }
  mark (2);
  if (timed)
    {
      cudaEventSynchronize (marks[2]);
      for (int i = 0; i < 2; i++)
        cudaEventElapsedTime (&p->pass_ms[i], marks[i], marks[i + 1]);
      forget_marks ();
      unsigned long long clock[4] = {};
      cudaMemcpy (clock, w.clock, sizeof clock, cudaMemcpyDeviceToHost);
      for (int i = 0; i < 3; i++)
        p->pass_ms[2 + i] = (float) ((clock[i + 1] - clock[i]) * 1e-6);
      p->pass_ms[5] = (float) (per_sm * multiprocessors);
    }
  return cudaGetLastError ();
}

} // namespace

size_t
rl_attention_sage_workspace_bytes (const RlSageParams *params)
{
  return workspace_layout (params, nullptr).bytes;
}

cudaError_t
rl_attention_sage_launch (const RlSageParams *params, void *workspace, cudaStream_t stream)
{
  if (params->dtype == RL_ATTENTION_BF16)
    return launch_typed<__nv_bfloat16> (params, workspace, stream);
  if (params->dtype == RL_ATTENTION_F16)
    return launch_typed<__half> (params, workspace, stream);
  return cudaErrorInvalidValue;
}
