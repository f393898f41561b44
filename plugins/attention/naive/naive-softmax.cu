/* Row softmax with log-sum-exp for the `naive` attention variant.
 * Launch: grid (rows, heads), 256 threads; three passes over the row
 * (max, sum of exponentials, write), the row staying in L2 between them. */
#include "plugins/attention/naive/naive-softmax.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math.h>

#include "plugins/attention/attention.h"

namespace {

constexpr int kThreads = 256;

template <typename Op>
__device__ float
block_reduce (float value, Op op, float *shared)
{
  for (int offset = 16; offset > 0; offset >>= 1)
    value = op (value, __shfl_xor_sync (0xffffffffu, value, offset));
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads ();   /* `shared` may still be read from the last call */
  if (lane == 0)
    shared[warp] = value;
  __syncthreads ();
  value = shared[0];
  for (int w = 1; w < kThreads / 32; w++)
    value = op (value, shared[w]);
  return value;
}

__device__ inline void
store_prob (void *probs, int32_t dtype, int64_t index, float value)
{
  if (dtype == RL_ATTENTION_BF16)
    ((__nv_bfloat16 *) probs)[index] = __float2bfloat16 (value);
  else if (dtype == RL_ATTENTION_F16)
    ((__half *) probs)[index] = __float2half (value);
  else
    ((float *) probs)[index] = value;
}

__global__ void
softmax_rows (const float *scores, void *probs, int32_t prob_dtype, float *lse,
              int64_t lse_head_stride, int32_t rows, int32_t keys)
{
  __shared__ float shared[kThreads / 32];
  int32_t r = blockIdx.x, h = blockIdx.y;
  int64_t base = ((int64_t) h * rows + r) * keys;
  const float *row = scores + base;
  float max = -INFINITY;
  for (int32_t j = threadIdx.x; j < keys; j += kThreads)
    max = fmaxf (max, row[j]);
  max = block_reduce (max, [] (float a, float b) { return fmaxf (a, b); }, shared);
  float sum = 0.0f;
  for (int32_t j = threadIdx.x; j < keys; j += kThreads)
    sum += __expf (row[j] - max);
  sum = block_reduce (sum, [] (float a, float b) { return a + b; }, shared);
  float inverse = 1.0f / sum;
  for (int32_t j = threadIdx.x; j < keys; j += kThreads)
    store_prob (probs, prob_dtype, base + j, __expf (row[j] - max) * inverse);
  if (lse != NULL && threadIdx.x == 0)
    lse[h * lse_head_stride + r] = keys > 0 ? max + logf (sum) : -INFINITY;
}

}  // namespace

extern "C" cudaError_t
rl_attention_naive_softmax (const float *scores, void *probs, int32_t prob_dtype, float *lse,
                            int64_t lse_head_stride, int32_t heads, int32_t rows, int32_t keys,
                            cudaStream_t stream)
{
  dim3 grid ((unsigned) rows, (unsigned) heads);
  softmax_rows<<<grid, kThreads, 0, stream>>> (scores, probs, prob_dtype, lse, lse_head_stride,
                                               rows, keys);
  return cudaGetLastError ();
}
