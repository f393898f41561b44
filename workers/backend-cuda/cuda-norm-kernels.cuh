/* The two families of fused norm + affine + modulation (+ RoPE) kernels
 * that rl_cuda_norm_modulate (cuda-norm.cu) picks from, and the host
 * helpers they share. Internal to the CUDA backend. launch_norm_rows takes
 * the rows that suit a warp per row (16-bit x up to 5120 elements:
 * cuda-norm-rows.cu); the block kernels (cuda-norm-blocks.cuh, one
 * translation unit per x dtype) take the rest. */
#pragma once

#include <cuda_runtime.h>

#include "cuda-dtype.cuh"
#include "cuda-norm.h"

namespace rl_cuda {

/* Which of x, y, the affine vectors and the modulation rows allow 16-byte
 * accesses (can_go_wide, row_vector_wide). */
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

/* Launches a warp-per-row kernel over the batch·tokens rows of `a` when
 * they suit one: x 16-bit, y x's dtype or f32, both 16-byte aligned,
 * dim % 8 == 0 and dim <= 5120, RoPE absent or its head_dim dividing 256
 * (the affine and modulation vectors may be of any dtype and alignment:
 * the default kernel folds them element by element where it must). `variant` is
 * RL_CUDA_NORM_VARIANT (see norm_variant in cuda-norm.cu): 0 runs the
 * shared-vector kernel, 3 the kernel that reads the vectors per row from
 * L1 (where they are all f32 or all x's dtype, and aligned; else the
 * shared-vector one). Returns false, with nothing launched, when the rows
 * or the variant take the block kernels instead. */
bool launch_norm_rows (const RlCudaNormModulate &a, const NormWidths &wide, int variant,
                       cudaStream_t stream);

/* Launches the block kernels (cuda-norm-blocks.cuh) over the batch·tokens
 * rows of `a`, whose x is f32, f16 or bf16 (one function per x dtype):
 * the persistent pipelined kernel where x is 16-byte aligned and three
 * rows of it fit 96 KiB of shared memory (unless `variant` is 1), else one
 * row per block. Returns false, with nothing launched, when y is not f32,
 * f16 or bf16. */
bool launch_norm_blocks_f32 (const RlCudaNormModulate &a, const NormWidths &wide, int variant,
                             cudaStream_t stream);
bool launch_norm_blocks_f16 (const RlCudaNormModulate &a, const NormWidths &wide, int variant,
                             cudaStream_t stream);
bool launch_norm_blocks_bf16 (const RlCudaNormModulate &a, const NormWidths &wide, int variant,
                              cudaStream_t stream);

/* Lets `kernel` take `dynamic` bytes of dynamic shared memory. Launches
 * past 48 KiB of shared memory in all (dynamic plus the kernel's own
 * static arrays) need the opt-in; counting only the dynamic part once let
 * an f32 row of 4096 (UMT5-XXL: 3 stages × 16 KiB plus the reduction
 * scratch) fail its launch with "invalid argument". */
template <typename Kernel>
inline void
allow_dynamic_shared (Kernel kernel, size_t dynamic)
{
  cudaFuncAttributes attributes;
  if (cudaFuncGetAttributes (&attributes, kernel) != cudaSuccess
      || attributes.sharedSizeBytes + dynamic > 48 * 1024)
    cudaFuncSetAttribute (kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int) dynamic);
}

/* Blocks of `threads` threads and `dynamic` bytes of shared memory that the
 * whole device holds at once (at least one per multiprocessor). */
template <typename Kernel>
inline int64_t
resident_blocks (Kernel kernel, int threads, size_t dynamic)
{
  int device = 0, sms = 0, per_sm = 0;
  cudaGetDevice (&device);
  cudaDeviceGetAttribute (&sms, cudaDevAttrMultiProcessorCount, device);
  cudaOccupancyMaxActiveBlocksPerMultiprocessor (&per_sm, kernel, threads, dynamic);
  return (int64_t) (sms > 0 ? sms : 1) * (per_sm > 0 ? per_sm : 1);
}

} // namespace rl_cuda
