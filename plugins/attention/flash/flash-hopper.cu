/* Hopper (sm_90a) path of the `flash` variant: the same function as
 * flash-kernel.cu (online softmax, fp32 accumulation, log-sum-exp), built
 * from the chip's own pieces.
 *
 * Persistent: one block per multiprocessor walks the tiles of 128 query
 * rows (one head each), so the next tile's Q, K and V load while this one
 * finishes. Block: 3 warpgroups. Warpgroup 0 is the producer: one of
 * its threads copies tiles with the bulk tensor engine (TMA, 128-byte
 * swizzle, out-of-range rows zero-filled) and signals mbarriers; it gives
 * its registers away (setmaxnreg) to the two consumer warpgroups, which own
 * 64 query rows each. Per block of 128 keys a consumer computes
 * S = Q Kᵀ with wgmma m64n128k16 (A = Q and B = K from shared memory, both
 * K-major), updates the softmax statistics in registers (exp2, scale folded
 * into one FFMA), converts P to 16-bit in registers and accumulates
 * O += P V with wgmma (A = P from registers, B = V from shared memory read
 * MN-major through the transposing descriptor). K and V tiles go through a
 * ring of kStages buffers, each with its own full/empty barriers, so K can
 * be refilled while V is still in use.
 *
 * Schedules (RlHopperSchedule): overlapped, the consumer issues
 * S(j) = Q K(j)ᵀ before O += P(j−1) V(j−1) and runs softmax(j) while the
 * second product is still in the tensor cores (FlashAttention-3's
 * intra-warpgroup schedule); look-ahead also issues the next tile's first
 * Q Kᵀ with this tile's last P·V, so normalising and storing O runs under
 * it; ping-pong adds named barriers that make the two consumers take
 * turns issuing, so one's softmax runs under the other's products; serial
 * runs the products and the softmax one after
 * another (kept as a check).
 *
 * Device code exists only in the sm_90a pass; other targets get an empty
 * kernel that the host never launches (it selects this path on sm_90). */
#include "plugins/attention/flash/flash-kernel.h"

#include <cuda.h>   /* CUtensorMap and its enums; the driver is reached at run time */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include "plugins/attention/attention.h"

namespace rl_flash_hopper {

constexpr int kBlockM = 128;      /* query rows per block: 2 consumers × 64 */
constexpr int kBlockN = 128;      /* keys per tile */
constexpr int kThreads = 384;     /* producer + 2 consumer warpgroups */
constexpr int kSwizzleColumns = 64;            /* 16-bit elements in one 128-byte row */
constexpr int kColumnBlockBytes = 128 * 128;   /* 128 rows × 128 bytes */

/* Shared memory, in bytes from a 1024-aligned base (the 128-byte swizzle
 * repeats every 1024 bytes, and TMA and wgmma both assume it starts there).
 * A tile of 128 rows × D columns is D/64 column blocks, each 128 rows of
 * 64 elements. */
template <int D, int kStages>
struct HopperLayout {
  static constexpr int kColumnBlocks = D / kSwizzleColumns;
  static constexpr int kTileBytes = kColumnBlocks * kColumnBlockBytes;
  /* Two Q buffers where they fit (the next tile's Q loads while this
   * one's last products still read the current Q), else one. */
  static constexpr int kQBuffers = (2 + 2 * kStages) * kTileBytes + 2048 <= 227 * 1024 ? 2 : 1;
  static constexpr int kQ = 0;
  static constexpr int kK = kQBuffers * kTileBytes;
  static constexpr int kV = kK + kStages * kTileBytes;
  static constexpr int kBarriers = kV + kStages * kTileBytes;
  /* q_full, q_empty (kQBuffers each), then k_full, v_full, k_empty,
   * v_empty (kStages each). */
  static constexpr int kBarrierCount = 2 * kQBuffers + 4 * kStages;
  static constexpr int kBytes = kBarriers + 8 * kBarrierCount + 1024;
};

struct HopperParams {
  CUtensorMap q_map;   /* dims {D, H, Lq, B}, box {64, 1, 128, 1} */
  CUtensorMap k_map;   /* dims {D, H, keys, B} */
  CUtensorMap v_map;
  void       *out;
  float      *lse;
  int32_t     batch, heads, q_len, kv_len, keys, lse_q_len;
  float       scale_log2;
};


#define RL_ACC8(d, i) "+f"(d[i]), "+f"(d[i + 1]), "+f"(d[i + 2]), "+f"(d[i + 3]), \
                      "+f"(d[i + 4]), "+f"(d[i + 5]), "+f"(d[i + 6]), "+f"(d[i + 7])

/* The three wgmma shapes this kernel issues, for one 16-bit input type:
 * scores (m64n128k16, A and B from shared memory, both K-major), and the
 * P·V products for D = 128 and D = 64 (A from registers, B MN-major);
 * `accumulate` 0 starts from zero. */
#define RL_DEFINE_HOPPER_MMA(NAME, TYPE, PACK_EXPR)                                                 \
  struct NAME {                                                                                   \
    static __device__ __forceinline__ uint32_t pack (float lo, float hi) { PACK_EXPR }            \
    static __device__ __forceinline__ void scores (float (&d)[64], uint64_t a, uint64_t b,       \
                                                   int accumulate)                               \
    {                                                                                             \
      asm volatile ("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"                                  \
                    "wgmma.mma_async.sync.aligned.m64n128k16.f32." TYPE "." TYPE " "              \
                    "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "     \
                    "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, " \
                    "%31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, " \
                    "%46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, " \
                    "%61, %62, %63}, %64, %65, p, 1, 1, 0, 0;\n}\n"                               \
                    : RL_ACC8 (d, 0), RL_ACC8 (d, 8), RL_ACC8 (d, 16), RL_ACC8 (d, 24),           \
                      RL_ACC8 (d, 32), RL_ACC8 (d, 40), RL_ACC8 (d, 48), RL_ACC8 (d, 56)          \
                    : "l"(a), "l"(b), "r"(accumulate));                                           \
    }                                                                                             \
    static __device__ __forceinline__ void values (float (&d)[64], const uint32_t (&a)[4],       \
                                                   uint64_t b, int accumulate)                    \
    {                                                                                             \
      asm volatile ("{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"                                  \
                    "wgmma.mma_async.sync.aligned.m64n128k16.f32." TYPE "." TYPE " "              \
                    "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "     \
                    "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, " \
                    "%31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, " \
                    "%46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, " \
                    "%61, %62, %63}, {%64, %65, %66, %67}, %68, p, 1, 1, 1;\n}\n"                \
                    : RL_ACC8 (d, 0), RL_ACC8 (d, 8), RL_ACC8 (d, 16), RL_ACC8 (d, 24),           \
                      RL_ACC8 (d, 32), RL_ACC8 (d, 40), RL_ACC8 (d, 48), RL_ACC8 (d, 56)          \
                    : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(accumulate));       \
    }                                                                                             \
    static __device__ __forceinline__ void values (float (&d)[32], const uint32_t (&a)[4],       \
                                                   uint64_t b, int accumulate)                    \
    {                                                                                             \
      asm volatile ("{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"                                  \
                    "wgmma.mma_async.sync.aligned.m64n64k16.f32." TYPE "." TYPE " "               \
                    "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "     \
                    "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, " \
                    "%31}, {%32, %33, %34, %35}, %36, p, 1, 1, 1;\n}\n"                          \
                    : RL_ACC8 (d, 0), RL_ACC8 (d, 8), RL_ACC8 (d, 16), RL_ACC8 (d, 24)            \
                    : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(accumulate));       \
    }                                                                                             \
  };

RL_DEFINE_HOPPER_MMA (HopperBf16, "bf16",
                      __nv_bfloat162 v = __floats2bfloat162_rn (lo, hi);
                      return *reinterpret_cast<uint32_t *> (&v);)
RL_DEFINE_HOPPER_MMA (HopperF16, "f16",
                      __half2 v = __floats2half2_rn (lo, hi);
                      return *reinterpret_cast<uint32_t *> (&v);)

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)

/* Consumer warps that release each Q, K or V buffer. */
constexpr unsigned kConsumerWarps = 8;

__device__ __forceinline__ uint32_t
shared_u32 (const void *pointer)
{
  return (uint32_t) __cvta_generic_to_shared (pointer);
}

__device__ __forceinline__ void
barrier_init (uint32_t barrier, uint32_t count)
{
  asm volatile ("mbarrier.init.shared::cta.b64 [%0], %1;\n" :: "r"(barrier), "r"(count) : "memory");
}

/* Arrives once and expects `bytes` more from the copy engine. */
__device__ __forceinline__ void
barrier_expect_bytes (uint32_t barrier, uint32_t bytes)
{
  asm volatile ("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n"
                :: "r"(barrier), "r"(bytes) : "memory");
}

__device__ __forceinline__ void
barrier_arrive (uint32_t barrier)
{
  asm volatile ("mbarrier.arrive.shared::cta.b64 _, [%0];\n" :: "r"(barrier) : "memory");
}

/* Waits until the phase of parity `parity` has completed. */
__device__ __forceinline__ void
barrier_wait (uint32_t barrier, uint32_t parity)
{
  uint32_t done;
  do
    asm volatile ("{\n.reg .pred ready;\n"
                  "mbarrier.try_wait.parity.shared::cta.b64 ready, [%1], %2;\n"
                  "selp.u32 %0, 1, 0, ready;\n}\n"
                  : "=r"(done) : "r"(barrier), "r"(parity) : "memory");
  while (done == 0);
}

/* One box of a 4-D tensor map into shared memory, completing on `barrier`. */
__device__ __forceinline__ void
tensor_load (uint32_t destination, const CUtensorMap *map, uint32_t barrier, int c0, int c1,
             int c2, int c3)
{
  asm volatile ("cp.async.bulk.tensor.4d.shared::cluster.global.mbarrier::complete_tx::bytes"
                " [%0], [%1, {%2, %3, %4, %5}], [%6];\n"
                :: "r"(destination), "l"((uint64_t) map), "r"(c0), "r"(c1), "r"(c2), "r"(c3),
                   "r"(barrier)
                : "memory");
}

/* wgmma shared-memory descriptor, 128-byte swizzle. `leading` and `stride`
 * are the byte offsets of the canonical layout: for K-major operands the
 * stride is between 8-row groups (1024) and the leading offset unused; for
 * MN-major ones the leading offset steps between 64-column blocks and the
 * stride between 8-row groups along K. */
__device__ __forceinline__ uint64_t
descriptor (uint32_t address, uint32_t leading, uint32_t stride)
{
  return (uint64_t) ((address & 0x3ffff) >> 4) | ((uint64_t) (leading >> 4) << 16)
         | ((uint64_t) (stride >> 4) << 32) | (UINT64_C (1) << 62);
}

__device__ __forceinline__ void
wgmma_fence ()
{
  asm volatile ("wgmma.fence.sync.aligned;\n" ::: "memory");
}

__device__ __forceinline__ void
wgmma_commit ()
{
  asm volatile ("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}

template <int N>
__device__ __forceinline__ void
wgmma_wait ()
{
  asm volatile ("wgmma.wait_group.sync.aligned %0;\n" :: "n"(N) : "memory");
}

/* Pins each register of an accumulator at this point, so the compiler
 * reads it only after the wgmma wait before it. */
template <int N>
__device__ __forceinline__ void
pin (float (&d)[N])
{
#pragma unroll
  for (int i = 0; i < N; i++)
    asm volatile ("" : "+f"(d[i]) :: "memory");
}

__device__ __forceinline__ float
fast_exp2 (float x)
{
  float y;
  asm ("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

/* Online softmax over one 64×128 score tile held as a wgmma accumulator:
 * element i is row g + 8·((i/2)%2), column 8·(i/4) + 2t + i%2 of the
 * warp's 16 rows. Turns s into probabilities (log2 domain, scale folded)
 * and returns each row's rescale factor for O. `valid` keys of the tile are
 * real; with kMask the rest become −inf. */
template <bool kMask>
__device__ __forceinline__ void
online_softmax (float (&s)[64], float (&row_max)[2], float (&row_sum)[2], float (&correction)[2],
                int valid, float scale_log2, int t)
{
  if (kMask)
#pragma unroll
    for (int i = 0; i < 64; i++)
      if (8 * (i / 4) + 2 * t + (i % 2) >= valid)
        s[i] = -INFINITY;
  float block_max[2] = { -INFINITY, -INFINITY };
#pragma unroll
  for (int i = 0; i < 64; i++)
    block_max[(i / 2) % 2] = fmaxf (block_max[(i / 2) % 2], s[i]);
  float offset[2];
#pragma unroll
  for (int r = 0; r < 2; r++)
    {
      block_max[r] = fmaxf (block_max[r], __shfl_xor_sync (0xffffffffu, block_max[r], 1));
      block_max[r] = fmaxf (block_max[r], __shfl_xor_sync (0xffffffffu, block_max[r], 2));
      float new_max = fmaxf (row_max[r], block_max[r] * scale_log2);
      float reference = new_max == -INFINITY ? 0.0f : new_max;
      correction[r] = fast_exp2 (row_max[r] - reference);
      row_max[r] = new_max;
      row_sum[r] *= correction[r];
      offset[r] = -reference;
    }
#pragma unroll
  for (int i = 0; i < 64; i++)
    {
      float probability = fast_exp2 (fmaf (s[i], scale_log2, offset[(i / 2) % 2]));
      s[i] = probability;
      row_sum[(i / 2) % 2] += probability;
    }
}

/* P as wgmma A fragments: k-step ks covers columns 16ks..16ks+15, i.e. the
 * accumulator chunks 2ks and 2ks+1. */
template <typename T>
__device__ __forceinline__ void
pack_probabilities (uint32_t (&p)[kBlockN / 16][4], const float (&s)[64])
{
#pragma unroll
  for (int ks = 0; ks < kBlockN / 16; ks++)
#pragma unroll
    for (int e = 0; e < 4; e++)
      p[ks][e] = T::pack (s[8 * ks + 2 * e], s[8 * ks + 2 * e + 1]);
}

template <int D>
__device__ __forceinline__ void
rescale (float (&o)[D / 2], const float (&correction)[2])
{
#pragma unroll
  for (int i = 0; i < D / 2; i++)
    o[i] *= correction[(i / 2) % 2];
}

#endif  /* __CUDA_ARCH_FEAT_SM90_ALL */

template <typename T, int D, int kStages, int kSchedule>
__global__ void __launch_bounds__ (kThreads, 1)
flash_hopper (const __grid_constant__ HopperParams p)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  using Layout = HopperLayout<D, kStages>;
  extern __shared__ uint8_t shared_raw[];
  const uint32_t base = (shared_u32 (shared_raw) + 1023u) & ~1023u;
  const uint32_t q_tile = base + Layout::kQ;
  const uint32_t barriers = base + Layout::kBarriers;
  constexpr int kQBuffers = Layout::kQBuffers, kRing = 2 * kQBuffers;
  auto q_full = [&] (int buffer) { return barriers + 8 * buffer; };
  auto q_empty = [&] (int buffer) { return barriers + 8 * (kQBuffers + buffer); };
  auto k_tile = [&] (int stage) { return base + Layout::kK + stage * Layout::kTileBytes; };
  auto v_tile = [&] (int stage) { return base + Layout::kV + stage * Layout::kTileBytes; };
  auto k_full = [&] (int stage) { return barriers + 8 * (kRing + stage); };
  auto v_full = [&] (int stage) { return barriers + 8 * (kRing + kStages + stage); };
  auto k_empty = [&] (int stage) { return barriers + 8 * (kRing + 2 * kStages + stage); };
  auto v_empty = [&] (int stage) { return barriers + 8 * (kRing + 3 * kStages + stage); };

  /* Tiles in order (query block fastest, then head, then batch), dealt
   * round-robin to the resident blocks: neighbours share a head's K/V in L2. */
  const int q_blocks = (p.q_len + kBlockM - 1) / kBlockM;
  const int tiles = q_blocks * p.heads * p.batch;
  const int key_blocks = (p.keys + kBlockN - 1) / kBlockN;
  const int warpgroup = threadIdx.x / 128;

  if (threadIdx.x == 0)
    {
      for (int buffer = 0; buffer < kQBuffers; buffer++)
        {
          barrier_init (q_full (buffer), 1);
          barrier_init (q_empty (buffer), kConsumerWarps);
        }
      for (int s = 0; s < kStages; s++)
        {
          barrier_init (k_full (s), 1);
          barrier_init (v_full (s), 1);
          barrier_init (k_empty (s), kConsumerWarps);
          barrier_init (v_empty (s), kConsumerWarps);
        }
      asm volatile ("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
  __syncthreads ();

  if (warpgroup == 0)
    {
      asm volatile ("setmaxnreg.dec.sync.aligned.u32 24;\n");
      if (threadIdx.x == 0)
        {
          /* Q of a tile loads once both consumers have finished the last
           * Q Kᵀ that used its buffer; K and V run on through the ring. */
          int loaded = 0, tile_count = 0;
          for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x, tile_count++)
            {
              const int m0 = (tile % q_blocks) * kBlockM, h = (tile / q_blocks) % p.heads;
              const int b = tile / (q_blocks * p.heads);
              int buffer = tile_count % kQBuffers, use = tile_count / kQBuffers;
              if (use > 0)
                barrier_wait (q_empty (buffer), (use - 1) & 1);
              barrier_expect_bytes (q_full (buffer), Layout::kTileBytes);
              for (int c = 0; c < Layout::kColumnBlocks; c++)
                tensor_load (q_tile + buffer * Layout::kTileBytes + c * kColumnBlockBytes,
                             &p.q_map, q_full (buffer), c * kSwizzleColumns, h, m0, b);
              for (int j = 0; j < key_blocks; j++, loaded++)
                {
                  int stage = loaded % kStages, use = loaded / kStages;
                  if (use > 0)
                    barrier_wait (k_empty (stage), (use - 1) & 1);
                  barrier_expect_bytes (k_full (stage), Layout::kTileBytes);
                  for (int c = 0; c < Layout::kColumnBlocks; c++)
                    tensor_load (k_tile (stage) + c * kColumnBlockBytes, &p.k_map, k_full (stage),
                                 c * kSwizzleColumns, h, j * kBlockN, b);
                  if (use > 0)
                    barrier_wait (v_empty (stage), (use - 1) & 1);
                  barrier_expect_bytes (v_full (stage), Layout::kTileBytes);
                  for (int c = 0; c < Layout::kColumnBlocks; c++)
                    tensor_load (v_tile (stage) + c * kColumnBlockBytes, &p.v_map, v_full (stage),
                                 c * kSwizzleColumns, h, j * kBlockN, b);
                }
            }
        }
      return;
    }

  asm volatile ("setmaxnreg.inc.sync.aligned.u32 240;\n");
  const int consumer = warpgroup - 1;
  const int thread = threadIdx.x % 128, warp = thread / 32, lane = thread % 32;
  const int g = lane / 4, t = lane % 4;
  const float scale_log2 = p.scale_log2;
  const int64_t row_stride = (int64_t) p.heads * D;
  /* This consumer's 64 rows of the current Q buffer: they start 64 rows
   * (8 KB) into each column block. */
  uint32_t q_rows = q_tile;
  int q_buffer = 0;

  float o[D / 2];   /* stays zero when there are no keys */
#pragma unroll
  for (int i = 0; i < D / 2; i++)
    o[i] = 0.0f;
  pin (o);          /* zeroed here, before any product is in flight */
  float s[64];
  uint32_t probabilities[kBlockN / 16][4];
  float row_max[2], row_sum[2];   /* log2 domain and scaled; this thread's share */
  float correction[2];
  int consumed = 0;               /* key blocks taken from the ring so far */
  constexpr bool kOverlap = kSchedule != RL_HOPPER_SERIAL;
  constexpr bool kPingpong = kSchedule == RL_HOPPER_PINGPONG;
  constexpr bool kLookahead = kSchedule == RL_HOPPER_LOOKAHEAD;
  /* Ping-pong turns: consumer c waits on named barrier 1 + c (its own
   * 128 threads plus the other consumer's arrival), issues, then lets the
   * other one go. Consumer 1 hands the first turn to consumer 0. */
  auto take_turn = [&] {
    if (kPingpong)
      asm volatile ("bar.sync %0, 256;\n" :: "r"(1 + consumer) : "memory");
  };
  auto pass_turn = [&] {
    if (kPingpong)
      asm volatile ("bar.arrive %0, 256;\n" :: "r"(2 - consumer) : "memory");
  };
  if (consumer == 1)
    pass_turn ();

  /* Block j of the current tile is ring slot consumed + j. */
  auto issue_scores = [&] (int j) {
    int slot = consumed + j, stage = slot % kStages;
    barrier_wait (k_full (stage), (slot / kStages) & 1);
    wgmma_fence ();
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++)
      {
        uint32_t offset = (kk / 4) * kColumnBlockBytes + (kk % 4) * 32;
        T::scores (s, descriptor (q_rows + offset, 16, 1024),
                   descriptor (k_tile (stage) + offset, 16, 1024), kk > 0);
      }
    wgmma_commit ();
  };
  auto issue_values = [&] (int j) {
    int slot = consumed + j, stage = slot % kStages;
    barrier_wait (v_full (stage), (slot / kStages) & 1);
    wgmma_fence ();
    /* Block 0 of a tile starts O from zero: no ordinary instruction writes
     * the accumulator while a product may be in flight. */
#pragma unroll
    for (int ks = 0; ks < kBlockN / 16; ks++)
      T::values (o, probabilities[ks],
                 descriptor (v_tile (stage) + ks * 16 * 128, kColumnBlockBytes, 1024),
                 j > 0 || ks > 0);
    wgmma_commit ();
  };
  auto release = [&] (uint32_t barrier) {
    __syncwarp ();
    if (lane == 0)
      barrier_arrive (barrier);
  };
  /* After the scores of block j are in registers: K's buffer is free, and
   * after the tile's last block so is Q's. */
  auto scores_done = [&] (int j) {
    pin (s);
    release (k_empty ((consumed + j) % kStages));
    if (j == key_blocks - 1)
      release (q_empty (q_buffer));
  };
  auto values_done = [&] (int j) {
    pin (o);
    release (v_empty ((consumed + j) % kStages));
  };
  auto softmax = [&] (int j) {
    int valid = p.keys - j * kBlockN;
    if (valid < kBlockN)
      online_softmax<true> (s, row_max, row_sum, correction, valid, scale_log2, t);
    else
      online_softmax<false> (s, row_max, row_sum, correction, valid, scale_log2, t);
  };

  /* Waits for the Q of this block's tile number `tile_count`. */
  auto begin_tile = [&] (int tile_count) {
    q_buffer = tile_count % kQBuffers;
    q_rows = q_tile + q_buffer * Layout::kTileBytes + consumer * 64 * 128;
    barrier_wait (q_full (q_buffer), (tile_count / kQBuffers) & 1);
  };
  /* O itself starts from zero in the tile's first P·V. */
  auto reset_tile = [&] {
    row_max[0] = row_max[1] = -INFINITY;
    row_sum[0] = row_sum[1] = 0.0f;
  };
  /* Normalises and stores O and the log-sum-exp of `tile`. */
  auto store_tile = [&] (int tile) {
    const int m0 = (tile % q_blocks) * kBlockM, h = (tile / q_blocks) % p.heads;
    const int b = tile / (q_blocks * p.heads);
#pragma unroll
    for (int r = 0; r < 2; r++)
      {
        row_sum[r] += __shfl_xor_sync (0xffffffffu, row_sum[r], 1);
        row_sum[r] += __shfl_xor_sync (0xffffffffu, row_sum[r], 2);
      }
    uint16_t *out_head = (uint16_t *) p.out + ((int64_t) b * p.q_len * p.heads + h) * D;
#pragma unroll
    for (int r = 0; r < 2; r++)
      {
        int row = m0 + consumer * 64 + warp * 16 + g + r * 8;
        if (row >= p.q_len)
          continue;
        float inverse = row_sum[r] > 0.0f ? 1.0f / row_sum[r] : 0.0f;
        uint32_t *destination = (uint32_t *) (out_head + (int64_t) row * row_stride);
#pragma unroll
        for (int c = 0; c < D / 8; c++)
          destination[(c * 8 + 2 * t) / 2] = T::pack (o[4 * c + 2 * r] * inverse,
                                                      o[4 * c + 2 * r + 1] * inverse);
        if (p.lse != NULL && t == 0)
          p.lse[((int64_t) b * p.heads + h) * p.lse_q_len + row]
              = row_sum[r] > 0.0f ? (row_max[r] + log2f (row_sum[r])) * 0.6931471805599453f
                                  : -INFINITY;
      }
  };
  /* Blocks 1 .. key_blocks−1 of a tile whose block 0 scores are in s:
   * each turn issues S(j) and P(j−1)·V(j−1), then softmax(j) runs while the
   * second product is still in the tensor cores. */
  auto overlapped_blocks = [&] {
    for (int j = 1; j < key_blocks; j++)
      {
        take_turn ();
        issue_scores (j);
        issue_values (j - 1);
        pass_turn ();
        wgmma_wait<1> ();
        scores_done (j);
        softmax (j);
        wgmma_wait<0> ();
        values_done (j - 1);
        rescale<D> (o, correction);
        pack_probabilities<T> (probabilities, s);
      }
  };

  if constexpr (kLookahead)
    {
      if (key_blocks == 0)
        {
          int tile_count = 0;
          for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x, tile_count++)
            {
              reset_tile ();
              begin_tile (tile_count);
              release (q_empty (q_buffer));
              store_tile (tile);
            }
          return;
        }
      /* The next tile's first Q Kᵀ goes in with this tile's last P·V, and
       * runs while this tile is normalised and stored. */
      int tile = blockIdx.x, tile_count = 0;
      begin_tile (0);
      issue_scores (0);
      while (true)
        {
          reset_tile ();
          wgmma_wait<0> ();
          scores_done (0);
          softmax (0);
          pack_probabilities<T> (probabilities, s);
          overlapped_blocks ();
          const int next = tile + (int) gridDim.x;
          if (next >= tiles)
            break;
          issue_values (key_blocks - 1);
          begin_tile (tile_count + 1);
          issue_scores (key_blocks);   /* block 0 of the next tile */
          wgmma_wait<1> ();
          values_done (key_blocks - 1);
          consumed += key_blocks;
          store_tile (tile);
          tile = next;
          tile_count++;
        }
      issue_values (key_blocks - 1);
      wgmma_wait<0> ();
      values_done (key_blocks - 1);
      store_tile (tile);
    }
  else
    {
      int tile_count = 0;
      for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x, tile_count++)
        {
          reset_tile ();
          begin_tile (tile_count);
          if (key_blocks == 0)
            release (q_empty (q_buffer));
          else if (kOverlap)
            {
              take_turn ();
              issue_scores (0);
              pass_turn ();
              wgmma_wait<0> ();
              scores_done (0);
              softmax (0);
              pack_probabilities<T> (probabilities, s);
              overlapped_blocks ();
              take_turn ();
              issue_values (key_blocks - 1);
              pass_turn ();
              wgmma_wait<0> ();
              values_done (key_blocks - 1);
            }
          else
            for (int j = 0; j < key_blocks; j++)
              {
                issue_scores (j);
                wgmma_wait<0> ();
                scores_done (j);
                softmax (j);
                rescale<D> (o, correction);
                pack_probabilities<T> (probabilities, s);
                issue_values (j);
                wgmma_wait<0> ();
                values_done (j);
              }
          consumed += key_blocks;
          /* The producer is already loading the next tile. */
          store_tile (tile);
        }
    }
  /* Consumer 1's last hand-over is still pending: take it so both named
   * barriers end balanced. */
  if (consumer == 0)
    take_turn ();
#endif  /* __CUDA_ARCH_FEAT_SM90_ALL */
}

using EncodeTiledFn = CUresult (*) (CUtensorMap *, CUtensorMapDataType, cuuint32_t, void *,
                                    const cuuint64_t *, const cuuint64_t *, const cuuint32_t *,
                                    const cuuint32_t *, CUtensorMapInterleave, CUtensorMapSwizzle,
                                    CUtensorMapL2promotion, CUtensorMapFloatOOBfill);

/* cuTensorMapEncodeTiled from the driver the runtime already loaded, so
 * nothing links libcuda at build time; NULL when the driver lacks it. */
EncodeTiledFn
encode_tiled ()
{
  static EncodeTiledFn function = [] {
    void *entry = nullptr;
    cudaDriverEntryPointQueryResult found = cudaDriverEntryPointSymbolNotFound;
    if (cudaGetDriverEntryPointByVersion ("cuTensorMapEncodeTiled", &entry, 12000,
                                          cudaEnableDefault, &found) != cudaSuccess
        || found != cudaDriverEntryPointSuccess)
      {
        cudaGetLastError ();
        return (EncodeTiledFn) nullptr;
      }
    return (EncodeTiledFn) entry;
  }();
  return function;
}

/* A map of one [B, rows_per_batch, H, D] tensor seen as {D, H, rows, B}:
 * boxes of 64 columns × 128 rows of one head, rows ≥ `rows` read as zero. */
bool
encode_map (CUtensorMap *map, const void *data, CUtensorMapDataType type, int D, int heads,
            int rows, int rows_per_batch, int batch)
{
  EncodeTiledFn encode = encode_tiled ();
  if (encode == nullptr)
    return false;
  cuuint64_t dims[4] = { (cuuint64_t) D, (cuuint64_t) heads, (cuuint64_t) (rows > 0 ? rows : 1),
                         (cuuint64_t) batch };
  cuuint64_t strides[3] = { (cuuint64_t) D * 2, (cuuint64_t) heads * D * 2,
                            (cuuint64_t) rows_per_batch * heads * D * 2 };
  cuuint32_t box[4] = { kSwizzleColumns, 1, kBlockN, 1 };
  cuuint32_t element_strides[4] = { 1, 1, 1, 1 };
  return encode (map, type, 4, const_cast<void *> (data), dims, strides, box, element_strides,
                 CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                 CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE)
         == CUDA_SUCCESS;
}

template <typename T, int D, int kStages, int kSchedule>
cudaError_t
launch_hopper (const RlFlashParams *params, CUtensorMapDataType type, cudaStream_t stream)
{
  HopperParams p = {};
  if (!encode_map (&p.q_map, params->q, type, D, params->heads, params->q_len, params->q_len,
                   params->batch)
      || !encode_map (&p.k_map, params->k, type, D, params->heads, params->keys, params->kv_len,
                      params->batch)
      || !encode_map (&p.v_map, params->v, type, D, params->heads, params->keys, params->kv_len,
                      params->batch))
    return cudaErrorNotSupported;
  p.out = params->out;
  p.lse = params->lse;
  p.batch = params->batch;
  p.heads = params->heads;
  p.q_len = params->q_len;
  p.kv_len = params->kv_len;
  p.keys = params->keys;
  p.lse_q_len = params->lse_q_len;
  p.scale_log2 = params->scale * 1.4426950408889634f;
  constexpr int shared_bytes = HopperLayout<D, kStages>::kBytes;
  cudaError_t status = cudaFuncSetAttribute (flash_hopper<T, D, kStages, kSchedule>,
                                             cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             shared_bytes);
  if (status != cudaSuccess)
    return status;
  /* Persistent: one block per multiprocessor walks the tiles. */
  int device = 0, multiprocessors = 0;
  if ((status = cudaGetDevice (&device)) != cudaSuccess
      || (status = cudaDeviceGetAttribute (&multiprocessors, cudaDevAttrMultiProcessorCount,
                                           device)) != cudaSuccess)
    return status;
  int64_t tiles = (int64_t) ((params->q_len + kBlockM - 1) / kBlockM) * params->heads
                  * params->batch;
  unsigned blocks = (unsigned) (tiles < multiprocessors ? tiles : multiprocessors);
  flash_hopper<T, D, kStages, kSchedule><<<blocks, kThreads, shared_bytes, stream>>> (p);
  return cudaGetLastError ();
}

template <typename T, int D>
cudaError_t
launch_type (const RlFlashParams *params, CUtensorMapDataType type, int schedule, int stages,
             cudaStream_t stream)
{
  if (stages == 3)
    switch (schedule)
      {
      case RL_HOPPER_SERIAL:    return launch_hopper<T, D, 3, RL_HOPPER_SERIAL> (params, type, stream);
      case RL_HOPPER_PINGPONG:  return launch_hopper<T, D, 3, RL_HOPPER_PINGPONG> (params, type, stream);
      case RL_HOPPER_LOOKAHEAD: return launch_hopper<T, D, 3, RL_HOPPER_LOOKAHEAD> (params, type, stream);
      default:                  return launch_hopper<T, D, 3, RL_HOPPER_OVERLAP> (params, type, stream);
      }
  switch (schedule)
    {
    case RL_HOPPER_SERIAL:    return launch_hopper<T, D, 2, RL_HOPPER_SERIAL> (params, type, stream);
    case RL_HOPPER_PINGPONG:  return launch_hopper<T, D, 2, RL_HOPPER_PINGPONG> (params, type, stream);
    case RL_HOPPER_LOOKAHEAD: return launch_hopper<T, D, 2, RL_HOPPER_LOOKAHEAD> (params, type, stream);
    default:                  return launch_hopper<T, D, 2, RL_HOPPER_OVERLAP> (params, type, stream);
    }
}

}  // namespace rl_flash_hopper

using namespace rl_flash_hopper;

extern "C" cudaError_t
rl_attention_flash_hopper_launch (const RlFlashParams *params, int32_t head_dim, int32_t dtype,
                                  int32_t schedule, int32_t stages, cudaStream_t stream)
{
  if (params->scale <= 0.0f)
    return cudaErrorNotSupported;   /* the running maximum is taken before scaling */
  if (dtype == RL_ATTENTION_BF16 && head_dim == 128)
    return launch_type<HopperBf16, 128> (params, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, schedule, stages,
                                         stream);
  if (dtype == RL_ATTENTION_BF16 && head_dim == 64)
    return launch_type<HopperBf16, 64> (params, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, schedule, stages,
                                         stream);
  if (dtype == RL_ATTENTION_F16 && head_dim == 128)
    return launch_type<HopperF16, 128> (params, CU_TENSOR_MAP_DATA_TYPE_FLOAT16, schedule, stages,
                                         stream);
  if (dtype == RL_ATTENTION_F16 && head_dim == 64)
    return launch_type<HopperF16, 64> (params, CU_TENSOR_MAP_DATA_TYPE_FLOAT16, schedule, stages,
                                         stream);
  return cudaErrorInvalidValue;
}
