// LSE merge of two partial attention results on the GPU, in two passes:
// the outputs first (one thread per element of acc_out [B, Lq, H, Dv],
// reading both lse arrays), then the lse rows — so no output thread ever
// reads an lse that has already been merged.
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include "workers/parallel/lse-merge-cuda.h"

// Pass 1: outputs. Reads both lse arrays, writes only acc_out.
__global__ void
merge_out (float *acc_out, const float *acc_lse, const float *part_out,
           const float *part_lse, int64_t batch, int64_t q_len, int64_t heads,
           int64_t v_dim)
{
  int64_t n = batch * q_len * heads * v_dim;
  for (int64_t idx = blockIdx.x * (int64_t) blockDim.x + threadIdx.x; idx < n;
       idx += (int64_t) gridDim.x * blockDim.x) {
    int64_t h = (idx / v_dim) % heads;
    int64_t i = (idx / (v_dim * heads)) % q_len;
    int64_t b = idx / (v_dim * heads * q_len);
    int64_t row = (b * heads + h) * q_len + i;
    float a = acc_lse[row], p = part_lse[row];
    if (p == -INFINITY)
      continue;
    if (a == -INFINITY) {
      acc_out[idx] = part_out[idx];
      continue;
    }
    float m = fmaxf (a, p);
    float wa = expf (a - m), wp = expf (p - m);
    acc_out[idx] = (wa * acc_out[idx] + wp * part_out[idx]) / (wa + wp);
  }
}

// Pass 2: lse = logaddexp(acc_lse, part_lse), after pass 1 has read both.
__global__ void
merge_lse (float *acc_lse, const float *part_lse, int64_t rows)
{
  for (int64_t r = blockIdx.x * (int64_t) blockDim.x + threadIdx.x; r < rows;
       r += (int64_t) gridDim.x * blockDim.x) {
    float a = acc_lse[r], p = part_lse[r];
    if (p == -INFINITY)
      continue;
    if (a == -INFINITY) {
      acc_lse[r] = p;
      continue;
    }
    float m = fmaxf (a, p);
    acc_lse[r] = m + logf (expf (a - m) + expf (p - m));
  }
}

static unsigned
blocks_for (int64_t n)
{
  int64_t blocks = (n + 255) / 256;
  return (unsigned) (blocks > 65535 ? 65535 : blocks < 1 ? 1 : blocks);
}

extern "C" int
rl_lse_merge_cuda (float *acc_out, float *acc_lse, const float *part_out,
                   const float *part_lse, int64_t batch, int64_t q_len,
                   int64_t heads, int64_t v_dim, void *stream)
{
  cudaStream_t s = (cudaStream_t) stream;
  int64_t n = batch * q_len * heads * v_dim;
  merge_out<<<blocks_for (n), 256, 0, s>>> (acc_out, acc_lse, part_out, part_lse,
                                           batch, q_len, heads, v_dim);
  merge_lse<<<blocks_for (batch * heads * q_len), 256, 0, s>>> (acc_lse, part_lse,
                                                               batch * heads * q_len);
  return (int) cudaGetLastError ();
}

extern "C" int
rl_lse_merge_cuda_sync (void)
{
  return (int) cudaStreamSynchronize (0);
}
