/* Wan VAE RMS norm over the channels of x [batch, channels, spatial]:
 * y = x / max(‖x[b,:,s]‖₂, eps) · √channels · gamma[c] (+ bias[c]).
 *
 * A channel's positions are contiguous and the norm runs across channels,
 * so a thread owns eight adjacent positions (one 16-byte access per
 * channel for bf16/f16) and walks the channels twice: once for the sum of
 * squares, once to scale; the second pass mostly reads from L2. Where few
 * positions leave SMs idle (the 1024-channel stages of Wan 2.2 at 30×52),
 * several rows of threads split the channels and add their partial sums
 * in shared memory. The previous kernel (one position per thread, 2-byte
 * loads, dtype switches per element) ran the Wan 2.1 decode's norms in
 * 304 ms on an H100; bytes moved put the floor near 60 ms. */
#include "cuda-channel-norm.h"

#include "cuda-dtype.cuh"

using namespace rl_cuda;

namespace {

constexpr int kLanes = 32;          /* threads along positions, per block */
constexpr int kMaxGroups = 32;      /* rows of threads along channels */

/* Launch: grid (ceil(spatial / (kLanes·8)), batch), block (kLanes,
 * groups). Thread (lane, g) holds positions [8·(blockIdx.x·kLanes + lane),
 * +8) of batch item blockIdx.y and channels c ≡ g (mod groups). */
__global__ void
channel_rms_chunked (void *y, cudaDataType_t y_type, const void *x, cudaDataType_t x_type,
                     int64_t channels, int64_t spatial, float eps, const void *gamma,
                     const void *bias, cudaDataType_t affine_type, bool wide)
{
  __shared__ float partial[kMaxGroups * kChunk * kLanes];
  const int lane = threadIdx.x, group = threadIdx.y, groups = blockDim.y;
  const int64_t s0 = ((int64_t) blockIdx.x * kLanes + lane) * kChunk;
  const int64_t image = (int64_t) blockIdx.y * channels * spatial;
  const int xs = dtype_size (x_type), ys = dtype_size (y_type);
  float sums[kChunk] = { 0 }, v[kChunk];
  for (int64_t c = group; c < channels; c += groups) {
    load_chunk ((const char *) x + (image + c * spatial) * xs, x_type, s0, spatial, wide, v);
#pragma unroll
    for (int j = 0; j < kChunk; j++)
      sums[j] += v[j] * v[j];
  }
  if (groups > 1) {
#pragma unroll
    for (int j = 0; j < kChunk; j++)
      partial[(group * kChunk + j) * kLanes + lane] = sums[j];
    __syncthreads ();
#pragma unroll
    for (int j = 0; j < kChunk; j++) {
      float total = 0.0f;
      for (int g = 0; g < groups; g++)
        total += partial[(g * kChunk + j) * kLanes + lane];
      sums[j] = total;
    }
  }
  const float root = sqrtf ((float) channels);
  float factor[kChunk];
#pragma unroll
  for (int j = 0; j < kChunk; j++)
    factor[j] = root / fmaxf (sqrtf (sums[j]), eps);
  for (int64_t c = group; c < channels; c += groups) {
    const float scale = gamma != nullptr ? load_one (gamma, affine_type, c) : 1.0f;
    const float shift = bias != nullptr ? load_one (bias, affine_type, c) : 0.0f;
    load_chunk ((const char *) x + (image + c * spatial) * xs, x_type, s0, spatial, wide, v);
#pragma unroll
    for (int j = 0; j < kChunk; j++)
      v[j] = v[j] * factor[j] * scale + shift;
    store_chunk ((char *) y + (image + c * spatial) * ys, y_type, s0, spatial, wide, v);
  }
}

} // namespace

extern "C" cudaError_t
rl_cuda_channel_rms_norm (void *y, cudaDataType_t y_type, const void *x, cudaDataType_t x_type,
                          int64_t batch, int64_t channels, int64_t spatial, float eps,
                          const void *gamma, const void *bias, cudaDataType_t affine_type,
                          cudaStream_t stream)
{
  if (y == nullptr || x == nullptr || batch < 0 || batch > 65535 || channels <= 0 || spatial < 0
      || dtype_size (x_type) == 0 || dtype_size (y_type) == 0
      || ((gamma || bias) && dtype_size (affine_type) == 0))
    return cudaErrorInvalidValue;
  if (batch == 0 || spatial == 0)
    return cudaSuccess;
  const bool wide = can_go_wide (x, x_type, spatial) && can_go_wide (y, y_type, spatial);
  const int64_t blocks = ceil_div (spatial, kLanes * kChunk) * batch;
  /* Enough threads in flight to cover memory latency on every SM: more
   * rows along channels while the positions alone give too few. */
  int groups = 1;
  while (groups < kMaxGroups && groups * 2 <= channels && blocks * kLanes * groups < 131072)
    groups *= 2;
  dim3 grid ((unsigned) ceil_div (spatial, kLanes * kChunk), (unsigned) batch);
  dim3 block (kLanes, (unsigned) groups);
  channel_rms_chunked<<<grid, block, 0, stream>>> (y, y_type, x, x_type, channels, spatial, eps,
                                                   gamma, bias, affine_type, wide);
  return cudaGetLastError ();
}
