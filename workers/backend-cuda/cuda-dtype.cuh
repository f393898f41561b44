/* Device-side loads and stores of any supported dtype, eight elements at a
 * time, converted to and from float. Internal to the CUDA backend.
 *
 * Memory-bound kernels move data in chunks of eight elements: one 16-byte
 * access for bf16/f16, two for f32, one 8-byte access for fp8. The dtype is
 * a kernel argument rather than a template parameter: the branch is the same
 * for every thread, costs nothing next to the memory traffic, and keeps the
 * number of instantiations (and the build time) small. */
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>
#include <library_types.h>
#include <stdint.h>

namespace rl_cuda {

constexpr int kChunk = 8;

/* Bytes of one element, or 0 when the dtype is not supported by kernels. */
__host__ __device__ inline int
dtype_size (cudaDataType_t type)
{
  switch (type) {
  case CUDA_R_32F: case CUDA_R_32I:                      return 4;
  case CUDA_R_16F: case CUDA_R_16BF:                     return 2;
  case CUDA_R_8F_E4M3: case CUDA_R_8F_E5M2: case CUDA_R_8I: return 1;
  default:                                               return 0;
  }
}

__device__ inline float
fp8_to_float (uint8_t bits, __nv_fp8_interpretation_t kind)
{
  __half_raw raw = __nv_cvt_fp8_to_halfraw ((__nv_fp8_storage_t) bits, kind);
  return __half2float (__half (raw));
}

__device__ inline uint8_t
float_to_fp8 (float value, __nv_fp8_interpretation_t kind)
{
  return (uint8_t) __nv_cvt_float_to_fp8 (value, __NV_SATFINITE, kind);
}

/* One element at index i of a buffer of `type`, as float. */
__device__ inline float
load_one (const void *base, cudaDataType_t type, int64_t i)
{
  switch (type) {
  case CUDA_R_32F:     return ((const float *) base)[i];
  case CUDA_R_16F:     return __half2float (((const __half *) base)[i]);
  case CUDA_R_16BF:    return __bfloat162float (((const __nv_bfloat16 *) base)[i]);
  case CUDA_R_8F_E4M3: return fp8_to_float (((const uint8_t *) base)[i], __NV_E4M3);
  case CUDA_R_8F_E5M2: return fp8_to_float (((const uint8_t *) base)[i], __NV_E5M2);
  case CUDA_R_8I:      return (float) ((const int8_t *) base)[i];
  case CUDA_R_32I:     return (float) ((const int32_t *) base)[i];
  default:             return 0.0f;
  }
}

/* Stores value at index i, rounding to nearest even (saturating for fp8 and
 * integers). */
__device__ inline void
store_one (void *base, cudaDataType_t type, int64_t i, float value)
{
  switch (type) {
  case CUDA_R_32F:     ((float *) base)[i] = value; break;
  case CUDA_R_16F:     ((__half *) base)[i] = __float2half_rn (value); break;
  case CUDA_R_16BF:    ((__nv_bfloat16 *) base)[i] = __float2bfloat16_rn (value); break;
  case CUDA_R_8F_E4M3: ((uint8_t *) base)[i] = float_to_fp8 (value, __NV_E4M3); break;
  case CUDA_R_8F_E5M2: ((uint8_t *) base)[i] = float_to_fp8 (value, __NV_E5M2); break;
  case CUDA_R_8I:
    ((int8_t *) base)[i] = (int8_t) fminf (fmaxf (rintf (value), -128.0f), 127.0f);
    break;
  case CUDA_R_32I:     ((int32_t *) base)[i] = (int32_t) rintf (value); break;
  default:             break;
  }
}

/* Eight elements starting at i (a multiple of 8 from a 16-byte aligned base)
 * with wide accesses. */
__device__ inline void
load8_aligned (const void *base, cudaDataType_t type, int64_t i, float v[kChunk])
{
  switch (type) {
  case CUDA_R_32F: {
    const float4 *p = (const float4 *) ((const float *) base + i);
    float4 a = p[0], b = p[1];
    v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w;
    v[4] = b.x; v[5] = b.y; v[6] = b.z; v[7] = b.w;
    return;
  }
  case CUDA_R_16BF: {
    uint4 bits = *(const uint4 *) ((const __nv_bfloat16 *) base + i);
    const __nv_bfloat162 *pairs = (const __nv_bfloat162 *) &bits;
#pragma unroll
    for (int j = 0; j < 4; j++) {
      float2 f = __bfloat1622float2 (pairs[j]);
      v[2 * j] = f.x;
      v[2 * j + 1] = f.y;
    }
    return;
  }
  case CUDA_R_16F: {
    uint4 bits = *(const uint4 *) ((const __half *) base + i);
    const __half2 *pairs = (const __half2 *) &bits;
#pragma unroll
    for (int j = 0; j < 4; j++) {
      float2 f = __half22float2 (pairs[j]);
      v[2 * j] = f.x;
      v[2 * j + 1] = f.y;
    }
    return;
  }
  case CUDA_R_8F_E4M3:
  case CUDA_R_8F_E5M2: {
    uint2 bits = *(const uint2 *) ((const uint8_t *) base + i);
    const uint8_t *bytes = (const uint8_t *) &bits;
    __nv_fp8_interpretation_t kind = type == CUDA_R_8F_E4M3 ? __NV_E4M3 : __NV_E5M2;
#pragma unroll
    for (int j = 0; j < kChunk; j++)
      v[j] = fp8_to_float (bytes[j], kind);
    return;
  }
  default:
#pragma unroll
    for (int j = 0; j < kChunk; j++)
      v[j] = load_one (base, type, i + j);
  }
}

__device__ inline void
store8_aligned (void *base, cudaDataType_t type, int64_t i, const float v[kChunk])
{
  switch (type) {
  case CUDA_R_32F: {
    float4 *p = (float4 *) ((float *) base + i);
    p[0] = make_float4 (v[0], v[1], v[2], v[3]);
    p[1] = make_float4 (v[4], v[5], v[6], v[7]);
    return;
  }
  case CUDA_R_16BF: {
    uint4 bits;
    __nv_bfloat162 *pairs = (__nv_bfloat162 *) &bits;
#pragma unroll
    for (int j = 0; j < 4; j++)
      pairs[j] = __floats2bfloat162_rn (v[2 * j], v[2 * j + 1]);
    *(uint4 *) ((__nv_bfloat16 *) base + i) = bits;
    return;
  }
  case CUDA_R_16F: {
    uint4 bits;
    __half2 *pairs = (__half2 *) &bits;
#pragma unroll
    for (int j = 0; j < 4; j++)
      pairs[j] = __floats2half2_rn (v[2 * j], v[2 * j + 1]);
    *(uint4 *) ((__half *) base + i) = bits;
    return;
  }
  case CUDA_R_8F_E4M3:
  case CUDA_R_8F_E5M2: {
    uint2 bits;
    uint8_t *bytes = (uint8_t *) &bits;
    __nv_fp8_interpretation_t kind = type == CUDA_R_8F_E4M3 ? __NV_E4M3 : __NV_E5M2;
#pragma unroll
    for (int j = 0; j < kChunk; j++)
      bytes[j] = float_to_fp8 (v[j], kind);
    *(uint2 *) ((uint8_t *) base + i) = bits;
    return;
  }
  default:
#pragma unroll
    for (int j = 0; j < kChunk; j++)
      store_one (base, type, i + j, v[j]);
  }
}

/* Chunk at i of a row of n elements: wide when `wide` and whole, element by
 * element (zero beyond n) otherwise. */
__device__ inline void
load_chunk (const void *base, cudaDataType_t type, int64_t i, int64_t n, bool wide,
            float v[kChunk])
{
  if (wide && i + kChunk <= n) {
    load8_aligned (base, type, i, v);
    return;
  }
#pragma unroll
  for (int j = 0; j < kChunk; j++)
    v[j] = i + j < n ? load_one (base, type, i + j) : 0.0f;
}

__device__ inline void
store_chunk (void *base, cudaDataType_t type, int64_t i, int64_t n, bool wide,
             const float v[kChunk])
{
  if (wide && i + kChunk <= n) {
    store8_aligned (base, type, i, v);
    return;
  }
#pragma unroll
  for (int j = 0; j < kChunk; j++)
    if (i + j < n)
      store_one (base, type, i + j, v[j]);
}

/* True when chunked wide accesses are legal: the base is 16-byte aligned
 * and every row (of `row_stride` elements) starts on a chunk boundary. */
inline bool
can_go_wide (const void *base, cudaDataType_t type, int64_t row_stride)
{
  if (base == nullptr)
    return true;
  return ((uintptr_t) base % 16 == 0) && row_stride % kChunk == 0
         && (dtype_size (type) >= 2 || ((uintptr_t) base % 8 == 0));
}

__device__ inline float
silu (float x)
{
  return __fdividef (x, 1.0f + __expf (-x));
}

__device__ inline float
gelu_tanh (float x)
{
  const float k = 0.7978845608028654f; /* sqrt(2/pi) */
  return 0.5f * x * (1.0f + tanhf (k * (x + 0.044715f * x * x * x)));
}

__device__ inline float
gelu_erf (float x)
{
  return 0.5f * x * (1.0f + erff (x * 0.7071067811865476f));
}

/* Sum over a block (blockDim.x a multiple of 32, at most 1024); every
 * thread gets the result. `scratch` holds 32 floats. */
__device__ inline float
block_sum (float value, float *scratch)
{
  for (int offset = 16; offset > 0; offset /= 2)
    value += __shfl_xor_sync (0xffffffffu, value, offset);
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  __syncthreads (); /* scratch may still be read from a previous call */
  if (lane == 0)
    scratch[warp] = value;
  __syncthreads ();
  int warps = blockDim.x / 32;
  value = lane < warps ? scratch[lane] : 0.0f;
  for (int offset = 16; offset > 0; offset /= 2)
    value += __shfl_xor_sync (0xffffffffu, value, offset);
  return value;
}

__device__ inline float
block_max (float value, float *scratch)
{
  for (int offset = 16; offset > 0; offset /= 2)
    value = fmaxf (value, __shfl_xor_sync (0xffffffffu, value, offset));
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  __syncthreads ();
  if (lane == 0)
    scratch[warp] = value;
  __syncthreads ();
  int warps = blockDim.x / 32;
  value = lane < warps ? scratch[lane] : -INFINITY;
  for (int offset = 16; offset > 0; offset /= 2)
    value = fmaxf (value, __shfl_xor_sync (0xffffffffu, value, offset));
  return value;
}

__host__ __device__ inline int64_t
ceil_div (int64_t a, int64_t b)
{
  return (a + b - 1) / b;
}

} // namespace rl_cuda

#include "cuda-elementwise.h"

namespace rl_cuda {

/* Start of the [dim] vector that token t of batch b reads. */
__device__ inline const void *
row_vector_at (const RlCudaRowVector &v, int64_t b, int64_t t)
{
  int64_t g = 0;
  if (v.groups > 1) {
    g = (v.token_offset + t) / v.tokens_per_group;
    g = g < v.groups - 1 ? g : v.groups - 1;
  }
  return (const char *) v.ptr + (b * v.batch_stride + g * v.group_stride) * dtype_size (v.dtype);
}

/* Whether a row vector's rows all start on 16-byte boundaries. */
inline bool
row_vector_wide (const RlCudaRowVector &v)
{
  return v.ptr == nullptr
         || (can_go_wide (v.ptr, v.dtype, v.batch_stride) && v.group_stride % kChunk == 0);
}

inline bool
row_vector_valid (const RlCudaRowVector &v)
{
  return v.ptr == nullptr
         || (dtype_size (v.dtype) != 0 && v.groups >= 1
             && (v.groups == 1 || v.tokens_per_group >= 1));
}

} // namespace rl_cuda

namespace rl_cuda {

/* Typed counterparts of the loaders above, for kernels instantiated per
 * dtype where the per-element branch would cost more than the memory
 * traffic (norm, RoPE, residual). */
template <typename T> struct TypeOf;
template <> struct TypeOf<float>         { static constexpr cudaDataType_t id = CUDA_R_32F; };
template <> struct TypeOf<__half>        { static constexpr cudaDataType_t id = CUDA_R_16F; };
template <> struct TypeOf<__nv_bfloat16> { static constexpr cudaDataType_t id = CUDA_R_16BF; };

__device__ inline float to_float (float v)         { return v; }
__device__ inline float to_float (__half v)        { return __half2float (v); }
__device__ inline float to_float (__nv_bfloat16 v) { return __bfloat162float (v); }

template <typename T> __device__ inline T from_float (float v);
template <> __device__ inline float from_float<float> (float v) { return v; }
template <> __device__ inline __half from_float<__half> (float v) { return __float2half_rn (v); }
template <> __device__ inline __nv_bfloat16 from_float<__nv_bfloat16> (float v)
{
  return __float2bfloat16_rn (v);
}

template <typename T>
__device__ inline void
load_chunk_t (const T *base, uint32_t i, uint32_t n, bool wide, float v[kChunk])
{
  if (wide && i + kChunk <= n) {
    load8_aligned (base, TypeOf<T>::id, i, v);
    return;
  }
#pragma unroll
  for (int j = 0; j < kChunk; j++)
    v[j] = i + j < n ? to_float (base[i + j]) : 0.0f;
}

template <typename T>
__device__ inline void
store_chunk_t (T *base, uint32_t i, uint32_t n, bool wide, const float v[kChunk])
{
  if (wide && i + kChunk <= n) {
    store8_aligned (base, TypeOf<T>::id, i, v);
    return;
  }
#pragma unroll
  for (int j = 0; j < kChunk; j++)
    if (i + j < n)
      base[i + j] = from_float<T> (v[j]);
}

/* Calls fn.template operator()<TX, TY>() for the float dtypes of x and y;
 * returns false for other dtypes. */
template <typename Fn>
inline bool
dispatch_float2 (cudaDataType_t x, cudaDataType_t y, Fn &&fn)
{
#define RL_CUDA_DISPATCH_Y(TX)                                                    \
  switch (y) {                                                                    \
  case CUDA_R_32F:  fn.template operator()<TX, float> (); return true;            \
  case CUDA_R_16F:  fn.template operator()<TX, __half> (); return true;           \
  case CUDA_R_16BF: fn.template operator()<TX, __nv_bfloat16> (); return true;    \
  default:          return false;                                                 \
  }
  switch (x) {
  case CUDA_R_32F:  RL_CUDA_DISPATCH_Y (float)
  case CUDA_R_16F:  RL_CUDA_DISPATCH_Y (__half)
  case CUDA_R_16BF: RL_CUDA_DISPATCH_Y (__nv_bfloat16)
  default:          return false;
  }
#undef RL_CUDA_DISPATCH_Y
}

} // namespace rl_cuda
