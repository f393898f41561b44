/* Interleaved-pair RoPE on the device: the cos/sin of a chunk of eight row
 * elements and its rotation. Shared by the norm kernels of cuda-norm.cu
 * (standalone RoPE, the block kernels) and the warp-per-row kernels of
 * cuda-norm-rows.cu, which fuse it after the norm. Internal to the CUDA
 * backend. */
#pragma once

#include "cuda-dtype.cuh"
#include "cuda-norm.h"

namespace rl_cuda {

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

} // namespace rl_cuda
