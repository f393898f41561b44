/* sage's attention pass for GPUs without wgmma: Ampere (sm_80, sm_86),
 * Ada (sm_89) and consumer Blackwell (sm_120), with mma.sync. Included by
 * sage-kernel.cu inside its namespace, after TileMath: it reads the same
 * prepared tiles (the preparation is shared) and runs the same per-thread
 * arithmetic, so its output is the Hopper kernel's in-order output, bit for
 * bit (tests/attention/test-attention-sage-gpu.c holds them to that on an
 * H100, where RAYLIGHT_SAGE_KERNEL=mma forces this path).
 *
 * Why this reuses the tiles as they are: a quantised tile is the image of
 * wgmma's no-swizzle K-major operand, core matrices of 8 rows × 16 bytes
 * stored as 128 contiguous bytes. That is what one ldmatrix phase reads
 * (8 row addresses of 16 bytes, no bank conflicts), and lane 4g + q then
 * holds row g, bytes 4q..4q+3: the B fragment of mma.sync m16n8k32 (8-bit)
 * and of m16n8k16 (16-bit: keys 2q, 2q + 1). The A fragment of a warp's
 * m16 rows and the accumulator layout of m16n8 are wgmma's per warp, so
 * the Q image (the word `lane` of a core matrix is lane's A register),
 * P's packing and Vᵀ's key permutation (rl_sage_kv_position) carry over.
 *
 * One block per 128-row query tile, 8 warps of 16 rows, K/Vᵀ tiles double
 * buffered in shared memory by cp.async (64 KB for the 8-bit P·V, 96 KB
 * for sage16's 16-bit and the two-term e4m3 Vᵀ: under the 99 KB an
 * sm_86/sm_89 block may have). Per key tile each warp: S = Q Kᵀ (64 mma
 * m16n8k32 s8), softmax (TileMath), O_tile = P V (64 mma m16n8k32 u8; 64
 * e4m3 per V term on sm_89+; or 128 m16n8k16 16-bit), O folded as on
 * Hopper. */
#pragma once

constexpr int kMmaWarps = kTileRows / 16;   /* 8: 16 query rows each */
constexpr int kMmaThreads = kMmaWarps * 32;

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
#define SAGE_MMA_SYNC 1
#endif

#ifdef SAGE_MMA_SYNC
/* D += A B for 8-bit A (16 × 32) and B (32 × 8), exact int32 sums: s8 for
 * Q Kᵀ, u8 for P V. */
#define SAGE_MMA_SYNC_8BIT(name, types)                                                   \
  __device__ inline void                                                                 \
  name (int32_t *d, const uint32_t (&a)[4], uint32_t b0, uint32_t b1)                    \
  {                                                                                      \
    asm ("mma.sync.aligned.m16n8k32.row.col.s32." types ".s32 {%0,%1,%2,%3}, "            \
         "{%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"                                       \
         : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])                                 \
         : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));                 \
  }
SAGE_MMA_SYNC_8BIT (mma_sync_s8, "s8.s8")
SAGE_MMA_SYNC_8BIT (mma_sync_u8, "u8.u8")
#undef SAGE_MMA_SYNC_8BIT

/* D += A B for e4m3 A and B (SageAttention-2's fp8 P·V), fp32 sums. The
 * instruction begins with Ada (sm_89); the plugin refuses e4m3 P·V below
 * it, so older targets only get a trap. */
__device__ inline void
mma_sync_e4m3 (float *d, const uint32_t (&a)[4], uint32_t b0, uint32_t b1)
{
#if __CUDA_ARCH__ >= 890
  asm ("mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
       "{%8,%9}, {%0,%1,%2,%3};\n"
       : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
       : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#else
  __trap ();
#endif
}

template <bool kBf16>
__device__ inline void
mma_sync_16 (float *d, const uint32_t (&a)[4], uint32_t b0, uint32_t b1)
{
  if constexpr (kBf16)
    asm ("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
         "{%8,%9}, {%0,%1,%2,%3};\n"
         : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
         : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  else
    asm ("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
         "{%8,%9}, {%0,%1,%2,%3};\n"
         : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
         : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/* Four core matrices, one per 8-lane group's row addresses. */
__device__ inline void
ldmatrix_x4 (uint32_t (&r)[4], uint32_t address)
{
  asm volatile ("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                : "r"(address));
}

__device__ inline void
copy_async_16 (uint32_t destination, const void *source)
{
  asm volatile ("cp.async.cg.shared.global [%0], [%1], 16;\n" :: "r"(destination), "l"(source));
}

__device__ inline void copy_async_commit () { asm volatile ("cp.async.commit_group;\n" ::); }

template <int kPending>
__device__ inline void
copy_async_wait ()
{
  asm volatile ("cp.async.wait_group %0;\n" :: "n"(kPending));
}

/* The B fragments of n-tiles j and j + 1 for one k-step: core matrices
 * (row group j + m / 2, chunk first_chunk + m mod 2) for m = 0..3, from a
 * tile whose 8-row groups are `group_bytes` apart (a 128-byte-row tile:
 * 1024; sage16's 256-byte Vᵀ rows: 2048). */
__device__ inline void
load_b_pair (uint32_t (&b)[4], uint32_t tile, int group_bytes, int j, int first_chunk, int lane)
{
  const int m = lane >> 3;
  ldmatrix_x4 (b, tile + (j + (m >> 1)) * group_bytes + (first_chunk + (m & 1)) * 128 + (lane & 7) * 16);
}

/* The m16n8 MMA of each P·V format (its Vᵀ tile's row-group stride is
 * the format's kVStride, as for wgmma's descriptor). */
template <typename Pv> struct MmaSync;

template <> struct MmaSync<PvInt8> {
  __device__ static void
  mma (int32_t *d, const uint32_t (&a)[4], uint32_t b0, uint32_t b1)
  {
    mma_sync_u8 (d, a, b0, b1);
  }
};

template <int kVTerms> struct MmaSync<PvE4m3<kVTerms>> {
  __device__ static void
  mma (float *d, const uint32_t (&a)[4], uint32_t b0, uint32_t b1)
  {
    mma_sync_e4m3 (d, a, b0, b1);
  }
};

template <typename T> struct MmaSync<Pv16<T>> {
  __device__ static void
  mma (float *d, const uint32_t (&a)[4], uint32_t b0, uint32_t b1)
  {
    mma_sync_16<Io<T>::kBf16> (d, a, b0, b1);
  }
};

/* Q and K tiles have 128-byte rows: their 8-row groups are 1024 bytes
 * apart. */
constexpr int kRowGroupBytes = 8 * kTileRows;

/* S = Q Kᵀ's MMA. */
struct ScoresMma {
  __device__ static void
  mma (int32_t *d, const uint32_t (&a)[4], uint32_t b0, uint32_t b1)
  {
    mma_sync_s8 (d, a, b0, b1);
  }
};

/* One k-step kk of acc += A B by Op's MMA over all 16 n-tiles (128 keys
 * for S, 128 channels for P·V): B is the chunks 2kk, 2kk + 1 of `tile`,
 * whose 8-row groups are `group_bytes` apart, two n-tiles per ldmatrix. */
template <typename Op, typename Acc>
__device__ inline void
tile_step (Acc (&acc)[64], const uint32_t (&a)[4], uint32_t tile, int group_bytes, int kk, int lane)
{
#pragma unroll
  for (int j = 0; j < 16; j += 2)
    {
      uint32_t b[4];
      load_b_pair (b, tile, group_bytes, j, 2 * kk, lane);
      Op::mma (&acc[4 * j], a, b[0], b[1]);
      Op::mma (&acc[4 * j + 4], a, b[2], b[3]);
    }
}
#endif

/* Bytes of shared memory of an mma.sync block: two stages of a K tile
 * and a Vᵀ tile. */
__host__ __device__ constexpr int
mma_shared_bytes (int v_bytes)
{
  return 2 * (kTileBytes + v_bytes);
}

/* The most an sm_86 or sm_89 block may ask for (sm_80 allows 163 KB). */
constexpr int kMmaMaxSharedBytes = 99 * 1024;
static_assert (mma_shared_bytes (v_tile_bytes (false, 1)) <= kMmaMaxSharedBytes, "8-bit V's mma block");
static_assert (mma_shared_bytes (v_tile_bytes (false, 2)) <= kMmaMaxSharedBytes, "two-term V's mma block");
static_assert (mma_shared_bytes (v_tile_bytes (true, 1)) <= kMmaMaxSharedBytes, "16-bit V's mma block");

/* One block per 128-row query tile (query block fastest, then batch·head,
 * as TileOf counts them). */
template <typename Pv>
__global__ void __launch_bounds__ (kMmaThreads, 1)
attention_mma (const AttentionArgs args)
{
#ifdef SAGE_MMA_SYNC
  extern __shared__ __align__ (128) uint8_t mma_shared[];
  constexpr int kVBytes = v_tile_bytes (Pv::kPv16, Pv::kTerms);
  constexpr int kStageBytes = kTileBytes + kVBytes;
  const Workspace &w = args.w;
  const int bh = (int) blockIdx.x / args.q_tiles, q_block = (int) blockIdx.x % args.q_tiles;
  const int warp = (int) threadIdx.x >> 5, lane = (int) threadIdx.x & 31;
  const int group = lane >> 2;
  const int key_tiles = (args.keys + kTileRows - 1) / kTileRows;
  const size_t q_tile = (size_t) bh * args.q_tiles + q_block;
  const int8_t *k_source = w.k8 + (size_t) bh * args.kv_tiles * kTileBytes;
  const uint8_t *v_source = w.v8 + (size_t) bh * args.kv_tiles * kVBytes;
  const float *k_scales = w.k_scale + (size_t) bh * args.kv_tiles;
  const uint32_t shared_base = (uint32_t) __cvta_generic_to_shared (mma_shared);

  /* K tile t, then its Vᵀ tile, into stage t mod 2: one contiguous stage
   * image, 16 bytes per cp.async. */
  auto load_stage = [&] (int t) {
    const uint32_t stage = shared_base + (t & 1) * kStageBytes;
    const uint8_t *k_tile = reinterpret_cast<const uint8_t *> (k_source) + (size_t) t * kTileBytes;
    const uint8_t *v_tile = v_source + (size_t) t * kVBytes;
#pragma unroll
    for (int i = 0; i < kStageBytes / 16 / kMmaThreads; i++)
      {
        const int piece = i * kMmaThreads + (int) threadIdx.x;
        copy_async_16 (stage + piece * 16, piece < kTileBytes / 16 ? k_tile + piece * 16
                                                                   : v_tile + (piece * 16 - kTileBytes));
      }
    copy_async_commit ();
  };
  if (key_tiles > 0)
    load_stage (0);

  TileMath<Pv> math;
  math.init ();
  math.keys = args.keys;
  math.quad = lane & 3;
  /* This warp's rows 16·warp .. + 15 of the tile, as consumer warpgroup
   * warp / 4, warp warp mod 4 of the Hopper kernel (TileMath::tile_row). */
  const int consumer = warp >> 2, group_warp = warp & 3;
  const float *row_scales = w.q_scale + q_tile * kTileRows;
#pragma unroll
  for (int r = 0; r < 2; r++)
    math.q_row_scale[r] = row_scales[TileMath<Pv>::tile_row (consumer, group_warp, group, r)];
  /* Q's A fragments, straight from the tile image: k-step kk's register r
   * is word `lane` of core matrix (row group 2·warp + r mod 2, chunk 2kk +
   * r / 2); each warp load is 128 contiguous bytes. */
  uint32_t q[4][4];
  const uint32_t *q_words = reinterpret_cast<const uint32_t *> (w.q8 + q_tile * kTileBytes);
#pragma unroll
  for (int kk = 0; kk < 4; kk++)
#pragma unroll
    for (int r = 0; r < 4; r++)
      q[kk][r] = q_words[((2 * warp + (r & 1)) * kRowGroupBytes + (2 * kk + (r >> 1)) * 128) / 4 + lane];

  for (int t = 0; t < key_tiles; t++)
    {
      const float k_scale = k_scales[t];
      if (t + 1 < key_tiles)
        {
          load_stage (t + 1);
          copy_async_wait<1> ();
        }
      else
        copy_async_wait<0> ();
      __syncthreads ();
      const uint32_t k_tile = shared_base + (t & 1) * kStageBytes, v_tile = k_tile + kTileBytes;
#pragma unroll
      for (int i = 0; i < 64; i++)
        math.s_acc[i] = 0;
#pragma unroll
      for (int kk = 0; kk < 4; kk++)   /* 32 channels each */
        tile_step<ScoresMma> (math.s_acc, q[kk], k_tile, kRowGroupBytes, kk, lane);
      math.scores_to_p (t, k_scale);
#pragma unroll
      for (int i = 0; i < 64; i++)
        math.pv[i] = 0;
#pragma unroll
      for (int kk = 0; kk < Pv::kSteps; kk++)
#pragma unroll
        for (int term = 0; term < Pv::kTerms; term++)   /* two-term V: P·hi + P·lo */
          tile_step<MmaSync<Pv>> (math.pv, math.p[kk], v_tile + term * kTileBytes, Pv::kVStride, kk,
                                  lane);
      math.add_tile ();
      /* Every warp is done with stage t mod 2 before tile t + 2 goes there. */
      __syncthreads ();
    }
  math.store (args, math.softmax, bh, q_block, w.q_shift + q_tile * kTileRows, consumer, group_warp,
              group);
#endif
}
