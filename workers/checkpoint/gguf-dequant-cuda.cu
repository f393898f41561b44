// CUDA dequantisation of ggml block types; see gguf-dequant-cuda.h.
//
// One thread per output element, grid-stride. Every float operation is an
// explicit round-to-nearest intrinsic (__fmul_rn, __fadd_rn, __fsub_rn) so
// nvcc cannot contract them into FMAs: the bits match the CPU code and
// gguf-py exactly.
#include "workers/checkpoint/gguf-dequant-cuda.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

namespace {

constexpr int QK = 32;
constexpr int QK_K = 256;

__device__ __forceinline__ float
f16_at (const uint8_t *p)
{
  __half_raw raw;
  raw.x = (unsigned short) (p[0] | p[1] << 8);
  return __half2float (__half (raw));
}

__device__ __forceinline__ uint32_t
u32_at (const uint8_t *p)
{
  return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

__device__ __forceinline__ void
k_scale_min (const uint8_t *s, int j, int *scale, int *min)
{
  if (j < 4) {
    *scale = s[j] & 0x3F;
    *min = s[j + 4] & 0x3F;
  } else {
    *scale = (s[j + 4] & 0x0F) | ((s[j - 4] >> 2) & 0x30);
    *min = (s[j + 4] >> 4) | ((s[j] >> 2) & 0x30);
  }
}

// Element j of one block `b` of type T.
template <RlDType T>
__device__ float element (const uint8_t *b, int j);

template <>
__device__ float
element<RL_Q4_0> (const uint8_t *b, int j)
{
  int q = j < 16 ? (b[2 + j] & 0x0F) : (b[2 + j - 16] >> 4);
  return __fmul_rn (f16_at (b), (float) (q - 8));
}

template <>
__device__ float
element<RL_Q4_1> (const uint8_t *b, int j)
{
  int q = j < 16 ? (b[4 + j] & 0x0F) : (b[4 + j - 16] >> 4);
  return __fadd_rn (__fmul_rn (f16_at (b), (float) q), f16_at (b + 2));
}

template <>
__device__ float
element<RL_Q5_0> (const uint8_t *b, int j)
{
  uint32_t qh = u32_at (b + 2);
  int lo = j < 16 ? (b[6 + j] & 0x0F) : (b[6 + j - 16] >> 4);
  int q = lo | (int) ((qh >> j) & 1) << 4;
  return __fmul_rn (f16_at (b), (float) (q - 16));
}

template <>
__device__ float
element<RL_Q5_1> (const uint8_t *b, int j)
{
  uint32_t qh = u32_at (b + 4);
  int lo = j < 16 ? (b[8 + j] & 0x0F) : (b[8 + j - 16] >> 4);
  int q = lo | (int) ((qh >> j) & 1) << 4;
  return __fadd_rn (__fmul_rn (f16_at (b), (float) q), f16_at (b + 2));
}

template <>
__device__ float
element<RL_Q8_0> (const uint8_t *b, int j)
{
  return __fmul_rn ((float) (int8_t) b[2 + j], f16_at (b));
}

template <>
__device__ float
element<RL_Q2_K> (const uint8_t *b, int e)
{
  int sub = e / 16, half = e / 128, shift = 2 * ((e % 128) / 32), l = e % 32;
  float dl = __fmul_rn (f16_at (b + 80), (float) (b[sub] & 0x0F));
  float ml = __fmul_rn (f16_at (b + 82), (float) (b[sub] >> 4));
  int q = (b[16 + half * 32 + l] >> shift) & 3;
  return __fsub_rn (__fmul_rn (dl, (float) q), ml);
}

template <>
__device__ float
element<RL_Q3_K> (const uint8_t *b, int e)
{
  const uint8_t *sc = b + 96;
  int sub = e / 16, half = e / 128, shift = 2 * ((e % 128) / 32), l = e % 32;
  int low = (sc[sub % 8] >> (4 * (sub / 8))) & 0x0F;
  int high = (sc[8 + sub % 4] >> (2 * (sub / 4))) & 0x03;
  float dl = __fmul_rn (f16_at (b + 108), (float) ((int8_t) (low | high << 4) - 32));
  int q = (b[32 + half * 32 + l] >> shift) & 3;
  int h = (b[l] >> (e / 32)) & 1;
  return __fmul_rn (dl, (float) (q - (h ? 0 : 4)));
}

template <>
__device__ float
element<RL_Q4_K> (const uint8_t *b, int e)
{
  int sub = e / 32, l = e % 32, sc, m;
  k_scale_min (b + 4, sub, &sc, &m);
  float dl = __fmul_rn (f16_at (b), (float) sc), ml = __fmul_rn (f16_at (b + 2), (float) m);
  int q = (b[16 + (sub / 2) * 32 + l] >> (4 * (sub % 2))) & 0x0F;
  return __fsub_rn (__fmul_rn (dl, (float) q), ml);
}

template <>
__device__ float
element<RL_Q5_K> (const uint8_t *b, int e)
{
  int sub = e / 32, l = e % 32, sc, m;
  k_scale_min (b + 4, sub, &sc, &m);
  float dl = __fmul_rn (f16_at (b), (float) sc), ml = __fmul_rn (f16_at (b + 2), (float) m);
  int q = ((b[48 + (sub / 2) * 32 + l] >> (4 * (sub % 2))) & 0x0F) | ((b[16 + l] >> sub) & 1) << 4;
  return __fsub_rn (__fmul_rn (dl, (float) q), ml);
}

template <>
__device__ float
element<RL_Q6_K> (const uint8_t *b, int e)
{
  int sub = e / 16, half = e / 128, r = e % 128;
  float dl = __fmul_rn (f16_at (b + 208), (float) (int8_t) b[192 + sub]);
  int lo = (b[half * 64 + r % 64] >> (4 * (r / 64))) & 0x0F;
  int hi = (b[128 + half * 32 + r % 32] >> (2 * (r / 32))) & 0x03;
  return __fmul_rn (dl, (float) ((lo | hi << 4) - 32));
}

template <>
__device__ float
element<RL_F32> (const uint8_t *b, int)
{
  return *(const float *) b;
}

template <>
__device__ float
element<RL_F16> (const uint8_t *b, int)
{
  return f16_at (b);
}

template <>
__device__ float
element<RL_BF16> (const uint8_t *b, int)
{
  return __uint_as_float ((uint32_t) (b[0] | b[1] << 8) << 16);
}

template <typename Out>
__device__ __forceinline__ Out store_as (float v);
template <>
__device__ __forceinline__ float store_as<float> (float v) { return v; }
template <>
__device__ __forceinline__ __nv_bfloat16 store_as<__nv_bfloat16> (float v) { return __float2bfloat16_rn (v); }
template <>
__device__ __forceinline__ __half store_as<__half> (float v) { return __float2half_rn (v); }

// Grid-stride over elements; launch shape: 256 threads, enough blocks to
// fill the device (capped), each thread decoding one element at a time.
template <RlDType T, int BLOCK_ELEMS, int BLOCK_BYTES, typename Out>
__global__ void
dequantize_kernel (const uint8_t *__restrict__ src, int64_t n, Out *__restrict__ dst)
{
  for (int64_t e = blockIdx.x * (int64_t) blockDim.x + threadIdx.x; e < n; e += (int64_t) gridDim.x * blockDim.x) {
    int64_t block = e / BLOCK_ELEMS;
    dst[e] = store_as<Out> (element<T> (src + block * BLOCK_BYTES, (int) (e % BLOCK_ELEMS)));
  }
}

template <RlDType T, int BLOCK_ELEMS, int BLOCK_BYTES>
cudaError_t
launch_typed (const void *src, int64_t n, RlDType dst_dtype, void *dst, cudaStream_t stream)
{
  int64_t blocks64 = (n + 255) / 256;
  unsigned blocks = (unsigned) (blocks64 < 65536 ? (blocks64 > 0 ? blocks64 : 1) : 65536);
  const uint8_t *s = (const uint8_t *) src;
  switch (dst_dtype) {
  case RL_F32:
    dequantize_kernel<T, BLOCK_ELEMS, BLOCK_BYTES><<<blocks, 256, 0, stream>>> (s, n, (float *) dst);
    break;
  case RL_BF16:
    dequantize_kernel<T, BLOCK_ELEMS, BLOCK_BYTES><<<blocks, 256, 0, stream>>> (s, n, (__nv_bfloat16 *) dst);
    break;
  default:
    dequantize_kernel<T, BLOCK_ELEMS, BLOCK_BYTES><<<blocks, 256, 0, stream>>> (s, n, (__half *) dst);
    break;
  }
  return cudaGetLastError ();
}

}  // namespace

extern "C" RlStatus
rl_gguf_dequantize_cuda (RlDType src_dtype, const void *src, int64_t n, RlDType dst_dtype, void *dst, void *stream)
{
  if (n < 0 || (n > 0 && (src == NULL || dst == NULL)))
    return rl_set_error (RL_E_INVALID_ARG, "gguf dequantize (cuda): bad arguments (n=%lld)", (long long) n);
  if (dst_dtype != RL_F32 && dst_dtype != RL_BF16 && dst_dtype != RL_F16)
    return rl_set_error (RL_E_DTYPE, "gguf dequantize (cuda): output must be f32, bf16 or f16, not %s",
                         rl_dtype_name (dst_dtype));
  int64_t block_elems = rl_dtype_block_elems (src_dtype);
  if (block_elems > 0 && n % block_elems != 0)
    return rl_set_error (RL_E_INVALID_ARG, "gguf dequantize (cuda): %lld elements are not whole %s blocks",
                         (long long) n, rl_dtype_name (src_dtype));
  if (n == 0)
    return RL_OK;
  cudaStream_t s = (cudaStream_t) stream;
  cudaError_t err;
  switch (src_dtype) {
  case RL_Q4_0: err = launch_typed<RL_Q4_0, QK, 18> (src, n, dst_dtype, dst, s); break;
  case RL_Q4_1: err = launch_typed<RL_Q4_1, QK, 20> (src, n, dst_dtype, dst, s); break;
  case RL_Q5_0: err = launch_typed<RL_Q5_0, QK, 22> (src, n, dst_dtype, dst, s); break;
  case RL_Q5_1: err = launch_typed<RL_Q5_1, QK, 24> (src, n, dst_dtype, dst, s); break;
  case RL_Q8_0: err = launch_typed<RL_Q8_0, QK, 34> (src, n, dst_dtype, dst, s); break;
  case RL_Q2_K: err = launch_typed<RL_Q2_K, QK_K, 84> (src, n, dst_dtype, dst, s); break;
  case RL_Q3_K: err = launch_typed<RL_Q3_K, QK_K, 110> (src, n, dst_dtype, dst, s); break;
  case RL_Q4_K: err = launch_typed<RL_Q4_K, QK_K, 144> (src, n, dst_dtype, dst, s); break;
  case RL_Q5_K: err = launch_typed<RL_Q5_K, QK_K, 176> (src, n, dst_dtype, dst, s); break;
  case RL_Q6_K: err = launch_typed<RL_Q6_K, QK_K, 210> (src, n, dst_dtype, dst, s); break;
  case RL_F32: err = launch_typed<RL_F32, 1, 4> (src, n, dst_dtype, dst, s); break;
  case RL_F16: err = launch_typed<RL_F16, 1, 2> (src, n, dst_dtype, dst, s); break;
  case RL_BF16: err = launch_typed<RL_BF16, 1, 2> (src, n, dst_dtype, dst, s); break;
  default:
    return rl_set_error (RL_E_DTYPE, "gguf dequantize (cuda): %s is not a type this build decodes",
                         rl_dtype_name (src_dtype));
  }
  if (err != cudaSuccess)
    return rl_set_error (RL_E_DEVICE, "gguf dequantize (cuda) of %lld %s elements: launch failed: %s",
                         (long long) n, rl_dtype_name (src_dtype), cudaGetErrorString (err));
  return RL_OK;
}
