/* Fused attention forward for sm_80 and newer: one pass over the keys with
 * an online softmax (FlashAttention-2's schedule), bf16/f16 inputs, fp32
 * accumulation, log-sum-exp output.
 *
 * Launch: grid (⌈Lq/128⌉, H, B), 4 warps of 32 query rows (two m16 tiles,
 * so that each K/V fragment feeds two MMAs); or 4 or 8 warps of 16 rows.
 * Per block of 64 keys: S = Q Kᵀ with mma.sync m16n8k16 (Q fragments from
 * shared memory, or in registers with 16 rows), masked past the valid keys, softmax
 * statistics updated in the log2 domain, O += P V with P taken straight
 * from the S accumulators. K and V tiles are double-buffered in shared
 * memory with cp.async; rows are stored with 16-byte chunks XOR-swizzled by
 * (row mod 8) so ldmatrix reads hit distinct banks. */
#include "plugins/attention/flash/flash-kernel.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math.h>
#include <stdint.h>

#include "plugins/attention/attention.h"

namespace {

/* Keys per block. Two m-tiles of D 128 then use all 255 registers and
 * spill 4 bytes, yet ran 1.13–1.17× faster than 32 keys without spills
 * (H100, every Wan shape, two rounds; plugins/attention/README.md): half
 * the blocks' barriers, copies and softmax reductions. */
constexpr int kBlockN = 64;

struct Bf16 {
  using Pair = __nv_bfloat162;
  static __device__ uint32_t pack (float lo, float hi)
  {
    __nv_bfloat162 v = __floats2bfloat162_rn (lo, hi);
    return *reinterpret_cast<uint32_t *> (&v);
  }
  static __device__ void mma (float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1)
  {
    asm ("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                  "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                  : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                  : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
};

struct F16 {
  static __device__ uint32_t pack (float lo, float hi)
  {
    __half2 v = __floats2half2_rn (lo, hi);
    return *reinterpret_cast<uint32_t *> (&v);
  }
  static __device__ void mma (float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1)
  {
    asm ("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
                  "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                  : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                  : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
};

__device__ inline uint32_t
shared_address (const void *pointer)
{
  return (uint32_t) __cvta_generic_to_shared (pointer);
}

__device__ inline void
ldmatrix_x4 (uint32_t r[4], uint32_t address)
{
  asm volatile ("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(address));
}

__device__ inline void
ldmatrix_x4_trans (uint32_t r[4], uint32_t address)
{
  asm volatile ("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(address));
}

/* 16 bytes global -> shared; src_bytes 0 fills the destination with zeros. */
__device__ inline void
copy_async_16 (uint32_t destination, const void *source, int src_bytes)
{
  asm volatile ("cp.async.cg.shared.global [%0], [%1], 16, %2;\n"
                :: "r"(destination), "l"(source), "r"(src_bytes));
}

__device__ inline void
copy_async_commit ()
{
  asm volatile ("cp.async.commit_group;\n" ::);
}

/* 2^x with the hardware approximation (2 ulp); 2^−inf = 0. */
__device__ inline float
fast_exp2 (float x)
{
  float y;
  asm ("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

template <int N>
__device__ inline void
copy_async_wait ()
{
  asm volatile ("cp.async.wait_group %0;\n" :: "n"(N));
}

/* Element offset of (row, col) in a tile of D columns, chunks swizzled. */
template <int D>
__device__ inline int
swizzled (int row, int col)
{
  return row * D + ((((col >> 3) ^ (row & 7))) << 3) + (col & 7);
}

/* Copies rows [row0, row0 + rows) of one head of a [L, H, D] matrix into a
 * swizzled tile; rows at or past `limit` become zeros. */
template <int D, int kThreads>
__device__ inline void
load_tile (uint16_t *tile, const uint16_t *head_base, int64_t row_stride, int row0, int rows,
           int limit)
{
  constexpr int kChunks = D / 8;
  for (int i = threadIdx.x; i < rows * kChunks; i += kThreads)
    {
      int row = i / kChunks, chunk = i % kChunks;
      bool inside = row0 + row < limit;
      const uint16_t *source = head_base + (inside ? (int64_t) (row0 + row) * row_stride : 0)
                               + chunk * 8;
      copy_async_16 (shared_address (tile + swizzled<D> (row, chunk * 8)), source,
                     inside ? 16 : 0);
    }
}

/* Zeros m-tiles × n-tiles of m16n8 accumulators. */
template <int M, int N>
__device__ inline void
zero_fragments (float (&x)[M][N][4])
{
#pragma unroll
  for (int i = 0; i < M; i++)
#pragma unroll
    for (int n = 0; n < N; n++)
      x[i][n][0] = x[i][n][1] = x[i][n][2] = x[i][n][3] = 0.0f;
}

/* One block: kWarps warps of kMTiles × 16 query rows each. With two
 * m-tiles per warp every K and V fragment read from shared memory feeds two
 * MMAs (FlashAttention-2's 128-row block of 4 warps), which halves the
 * shared-memory traffic per product; Q then comes from shared memory at
 * each key block instead of staying in registers (64 more registers). */
template <typename T, int D, int kWarps, int kMTiles>
__global__ void __launch_bounds__ (kWarps * 32)
flash_forward (RlFlashParams p)
{
  constexpr int kThreads = kWarps * 32, kBlockM = kWarps * 16 * kMTiles;
  extern __shared__ __align__ (128) uint16_t shared[];
  uint16_t *q_tile = shared;
  uint16_t *k_tiles = q_tile + kBlockM * D;       /* [2][kBlockN][D] */
  uint16_t *v_tiles = k_tiles + 2 * kBlockN * D;  /* [2][kBlockN][D] */

  const int m0 = blockIdx.x * kBlockM, h = blockIdx.y, b = blockIdx.z;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int g = lane / 4, t = lane % 4;
  const int64_t row_stride = (int64_t) p.heads * D;
  const uint16_t *q_head = (const uint16_t *) p.q + ((int64_t) b * p.q_len * p.heads + h) * D;
  const uint16_t *k_head = (const uint16_t *) p.k + ((int64_t) b * p.kv_len * p.heads + h) * D;
  const uint16_t *v_head = (const uint16_t *) p.v + ((int64_t) b * p.kv_len * p.heads + h) * D;
  const int key_blocks = (p.keys + kBlockN - 1) / kBlockN;
  const float scale_log2 = p.scale * 1.4426950408889634f;
  /* The first row of this warp's m-tile i within the block. */
  auto tile_row = [&] (int i) { return (warp * kMTiles + i) * 16; };

  load_tile<D, kThreads> (q_tile, q_head, row_stride, m0, kBlockM, p.q_len);
  if (key_blocks > 0)
    {
      load_tile<D, kThreads> (k_tiles, k_head, row_stride, 0, kBlockN, p.keys);
      load_tile<D, kThreads> (v_tiles, v_head, row_stride, 0, kBlockN, p.keys);
    }
  copy_async_commit ();

  /* One m-tile keeps its Q fragments in registers for the whole pass. */
  uint32_t q_frag[kMTiles == 1 ? D / 16 : 1][4];
  auto load_q = [&] (uint32_t (&frag)[4], int i, int kk) {
    ldmatrix_x4 (frag, shared_address (q_tile + swizzled<D> (tile_row (i) + (lane % 16),
                                                               kk * 16 + (lane / 16) * 8)));
  };
  float o[kMTiles][D / 8][4];
  zero_fragments (o);
  /* Rows g and g + 8 of each m-tile, log2 domain; row_sum is this thread's share. */
  float row_max[kMTiles][2], row_sum[kMTiles][2];
#pragma unroll
  for (int i = 0; i < kMTiles; i++)
    row_max[i][0] = row_max[i][1] = -INFINITY, row_sum[i][0] = row_sum[i][1] = 0.0f;

  if (key_blocks == 0)
    {
      copy_async_wait<0> ();
      __syncthreads ();
    }
  for (int j = 0; j < key_blocks; j++)
    {
      const int buffer = j & 1;
      if (j + 1 < key_blocks)
        {
          load_tile<D, kThreads> (k_tiles + (buffer ^ 1) * kBlockN * D, k_head, row_stride,
                        (j + 1) * kBlockN, kBlockN, p.keys);
          load_tile<D, kThreads> (v_tiles + (buffer ^ 1) * kBlockN * D, v_head, row_stride,
                        (j + 1) * kBlockN, kBlockN, p.keys);
        }
      copy_async_commit ();
      copy_async_wait<1> ();
      __syncthreads ();
      if constexpr (kMTiles == 1)
        if (j == 0)
#pragma unroll
          for (int kk = 0; kk < D / 16; kk++)
            load_q (q_frag[kk], 0, kk);
      const uint16_t *k_tile = k_tiles + buffer * kBlockN * D;
      const uint16_t *v_tile = v_tiles + buffer * kBlockN * D;

      /* S = Q Kᵀ for this warp's rows and the block's 64 keys. */
      float s[kMTiles][kBlockN / 8][4];
      zero_fragments (s);
#pragma unroll
      for (int kk = 0; kk < D / 16; kk++)
        {
          uint32_t qf[kMTiles][4];
#pragma unroll
          for (int i = 0; i < kMTiles; i++)
            {
              if constexpr (kMTiles == 1)
#pragma unroll
                for (int r = 0; r < 4; r++)
                  qf[i][r] = q_frag[kk][r];
              else
                load_q (qf[i], i, kk);
            }
#pragma unroll
          for (int np = 0; np < kBlockN / 16; np++)
            {
              uint32_t kf[4];
              ldmatrix_x4 (kf, shared_address (k_tile + swizzled<D> (np * 16 + (lane % 8) + (lane / 16) * 8,
                                                                     kk * 16 + ((lane / 8) % 2) * 8)));
#pragma unroll
              for (int i = 0; i < kMTiles; i++)
                {
                  T::mma (s[i][2 * np], qf[i], kf[0], kf[1]);
                  T::mma (s[i][2 * np + 1], qf[i], kf[2], kf[3]);
                }
            }
        }

      /* Online softmax in the log2 domain. Keys past p.keys count as −inf:
       * only the last block can hold any, so only it pays for the test. */
      const int key0 = j * kBlockN;
      const bool partial = key0 + kBlockN > p.keys;
      float correction[kMTiles][2], reference[kMTiles][2];
#pragma unroll
      for (int i = 0; i < kMTiles; i++)
        {
          float block_max[2] = { -INFINITY, -INFINITY };
#pragma unroll
          for (int n = 0; n < kBlockN / 8; n++)
#pragma unroll
            for (int e = 0; e < 4; e++)
              {
                float x = s[i][n][e] * scale_log2;
                if (partial && key0 + n * 8 + 2 * t + (e & 1) >= p.keys)
                  x = -INFINITY;
                s[i][n][e] = x;
                block_max[e / 2] = fmaxf (block_max[e / 2], x);
              }
#pragma unroll
          for (int r = 0; r < 2; r++)
            {
              block_max[r] = fmaxf (block_max[r], __shfl_xor_sync (0xffffffffu, block_max[r], 1));
              block_max[r] = fmaxf (block_max[r], __shfl_xor_sync (0xffffffffu, block_max[r], 2));
              float new_max = fmaxf (row_max[i][r], block_max[r]);
              reference[i][r] = new_max == -INFINITY ? 0.0f : new_max;
              correction[i][r] = fast_exp2 (row_max[i][r] - reference[i][r]);
              row_max[i][r] = new_max;
              row_sum[i][r] *= correction[i][r];
            }
#pragma unroll
          for (int n = 0; n < kBlockN / 8; n++)
#pragma unroll
            for (int e = 0; e < 4; e++)
              {
                float probability = fast_exp2 (s[i][n][e] - reference[i][e / 2]);
                s[i][n][e] = probability;
                row_sum[i][e / 2] += probability;
              }
        }
      /* O shrinks only when some row's maximum grew, which past the first
       * blocks of a long sequence is rare: the whole warp skips the D/2
       * multiplications per row when none did (exp2(0) is exactly 1). */
      bool unchanged = true;
#pragma unroll
      for (int i = 0; i < kMTiles; i++)
        unchanged = unchanged && correction[i][0] == 1.0f && correction[i][1] == 1.0f;
      if (!__all_sync (0xffffffffu, unchanged))
#pragma unroll
        for (int i = 0; i < kMTiles; i++)
#pragma unroll
          for (int n = 0; n < D / 8; n++)
            {
              o[i][n][0] *= correction[i][0];
              o[i][n][1] *= correction[i][0];
              o[i][n][2] *= correction[i][1];
              o[i][n][3] *= correction[i][1];
            }

      /* O += P V: P from the S accumulators, V through transposing loads. */
#pragma unroll
      for (int ks = 0; ks < kBlockN / 16; ks++)
        {
          uint32_t pf[kMTiles][4];
#pragma unroll
          for (int i = 0; i < kMTiles; i++)
            {
              pf[i][0] = T::pack (s[i][2 * ks][0], s[i][2 * ks][1]);
              pf[i][1] = T::pack (s[i][2 * ks][2], s[i][2 * ks][3]);
              pf[i][2] = T::pack (s[i][2 * ks + 1][0], s[i][2 * ks + 1][1]);
              pf[i][3] = T::pack (s[i][2 * ks + 1][2], s[i][2 * ks + 1][3]);
            }
#pragma unroll
          for (int dp = 0; dp < D / 16; dp++)
            {
              uint32_t vf[4];
              ldmatrix_x4_trans (vf, shared_address (v_tile + swizzled<D> (ks * 16 + (lane % 8) + ((lane / 8) % 2) * 8,
                                                                           dp * 16 + (lane / 16) * 8)));
#pragma unroll
              for (int i = 0; i < kMTiles; i++)
                {
                  T::mma (o[i][2 * dp], pf[i], vf[0], vf[1]);
                  T::mma (o[i][2 * dp + 1], pf[i], vf[2], vf[3]);
                }
            }
        }
      __syncthreads ();
    }

  /* Normalise, store O and the log-sum-exp. */
  uint16_t *out_head = (uint16_t *) p.out + ((int64_t) b * p.q_len * p.heads + h) * D;
#pragma unroll
  for (int i = 0; i < kMTiles; i++)
#pragma unroll
    for (int r = 0; r < 2; r++)
      {
        float sum = row_sum[i][r];
        sum += __shfl_xor_sync (0xffffffffu, sum, 1);
        sum += __shfl_xor_sync (0xffffffffu, sum, 2);
        int row = m0 + tile_row (i) + g + r * 8;
        if (row >= p.q_len)
          continue;
        float inverse = sum > 0.0f ? 1.0f / sum : 0.0f;
        uint32_t *destination = (uint32_t *) (out_head + (int64_t) row * row_stride);
#pragma unroll
        for (int n = 0; n < D / 8; n++)
          destination[(n * 8 + 2 * t) / 2] = T::pack (o[i][n][2 * r] * inverse, o[i][n][2 * r + 1] * inverse);
        if (p.lse != NULL && t == 0)
          p.lse[((int64_t) b * p.heads + h) * p.lse_q_len + row]
              = sum > 0.0f ? (row_max[i][r] + log2f (sum)) * 0.6931471805599453f : -INFINITY;
      }
}

template <typename T, int D, int kWarps, int kMTiles>
cudaError_t
launch_warps (const RlFlashParams *params, cudaStream_t stream)
{
  constexpr int kBlockM = kWarps * 16 * kMTiles;
  size_t shared_bytes = (size_t) (kBlockM + 4 * kBlockN) * D * sizeof (uint16_t);
  cudaError_t status = cudaFuncSetAttribute (flash_forward<T, D, kWarps, kMTiles>,
                                             cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             (int) shared_bytes);
  if (status != cudaSuccess)
    return status;
  dim3 grid ((unsigned) ((params->q_len + kBlockM - 1) / kBlockM), (unsigned) params->heads,
             (unsigned) params->batch);
  flash_forward<T, D, kWarps, kMTiles><<<grid, kWarps * 32, shared_bytes, stream>>> (*params);
  return cudaGetLastError ();
}

/* `warps` 0: 4 warps of 32 rows (two m-tiles each), the default; 4 or 8:
 * that many warps of 16 rows with Q in registers (the earlier kernel). */
template <typename T, int D>
cudaError_t
launch (const RlFlashParams *params, int32_t warps, cudaStream_t stream)
{
  if (warps == 8)
    return launch_warps<T, D, 8, 1> (params, stream);
  if (warps == 4)
    return launch_warps<T, D, 4, 1> (params, stream);
  return launch_warps<T, D, 4, 2> (params, stream);
}

}  // namespace

extern "C" cudaError_t
rl_attention_flash_launch (const RlFlashParams *params, int32_t head_dim, int32_t dtype,
                           int32_t warps, cudaStream_t stream)
{
  if (dtype == RL_ATTENTION_BF16 && head_dim == 128)
    return launch<Bf16, 128> (params, warps, stream);
  if (dtype == RL_ATTENTION_BF16 && head_dim == 64)
    return launch<Bf16, 64> (params, warps, stream);
  if (dtype == RL_ATTENTION_F16 && head_dim == 128)
    return launch<F16, 128> (params, warps, stream);
  if (dtype == RL_ATTENTION_F16 && head_dim == 64)
    return launch<F16, 64> (params, warps, stream);
  return cudaErrorInvalidValue;
}
