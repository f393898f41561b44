#include "cuda-layout.h"

#include "cuda-dtype.cuh"

using namespace rl_cuda;

namespace {

constexpr int kThreads = 256;

struct PadShape {
  int     ndim;
  int64_t y_shape[RL_CUDA_MAX_DIMS];
  int64_t y_strides[RL_CUDA_MAX_DIMS];
  int64_t x_shape[RL_CUDA_MAX_DIMS];
  int64_t x_strides[RL_CUDA_MAX_DIMS];
  int64_t before[RL_CUDA_MAX_DIMS];
};

/* Padding or cropping copy. Launch: 1-D, one output element per thread. */
__global__ void
pad_kernel (RlCudaPadMode mode, float value, float x_scale, PadShape s, void *y, cudaDataType_t y_type,
            const void *x, cudaDataType_t x_type, int64_t count)
{
  int64_t flat = (int64_t) blockIdx.x * blockDim.x + threadIdx.x;
  if (flat >= count)
    return;
  int64_t oy = 0, ox = 0;
  bool outside = false;
  for (int d = s.ndim - 1; d >= 0; d--) {
    int64_t coord = flat % s.y_shape[d];
    flat /= s.y_shape[d];
    oy += coord * s.y_strides[d];
    int64_t src = coord - s.before[d], n = s.x_shape[d];
    if (src < 0 || src >= n) {
      if (n == 0)
        outside = true;
      else if (mode == RL_CUDA_PAD_REPLICATE)
        src = src < 0 ? 0 : n - 1;
      else if (mode == RL_CUDA_PAD_CIRCULAR)
        src = ((src % n) + n) % n;
      else
        outside = true;
    }
    ox += src * s.x_strides[d];
  }
  store_one (y, y_type, oy, outside ? value : load_one (x, x_type, ox) * x_scale);
}

/* Nearest 2× upsampling. Launch: 1-D, one output element per thread. */
__global__ void
upsample2x_kernel (void *y, const void *x, cudaDataType_t type, int64_t height, int64_t width,
                   int64_t count)
{
  int64_t flat = (int64_t) blockIdx.x * blockDim.x + threadIdx.x;
  if (flat >= count)
    return;
  int64_t w2 = flat % (2 * width);
  int64_t h2 = (flat / (2 * width)) % (2 * height);
  int64_t r = flat / (4 * height * width);
  int64_t src = (r * height + h2 / 2) * width + w2 / 2;
  int size = dtype_size (type);
  const char *from = (const char *) x + src * size;
  char *to = (char *) y + flat * size;
  for (int b = 0; b < size; b++)
    to[b] = from[b];
}

/* Embedding rows. Launch: 1-D, one chunk of 8 elements of one row each. */
__global__ void
embedding_kernel (void *y, cudaDataType_t y_type, const void *table, cudaDataType_t table_type,
                  int64_t vocab, int64_t dim, const void *ids, cudaDataType_t ids_type,
                  int64_t count, unsigned long long *first_bad, bool wide)
{
  int64_t chunks_per_row = ceil_div (dim, kChunk);
  int64_t chunk = (int64_t) blockIdx.x * blockDim.x + threadIdx.x;
  int64_t n = chunk / chunks_per_row;
  if (n >= count)
    return;
  int64_t i = (chunk % chunks_per_row) * kChunk;
  int64_t id = ids_type == CUDA_R_64I ? ((const int64_t *) ids)[n] : ((const int32_t *) ids)[n];
  float v[kChunk];
  if (id < 0 || id >= vocab) {
#pragma unroll
    for (int j = 0; j < kChunk; j++)
      v[j] = 0.0f;
    if (i == 0 && first_bad != nullptr)
      atomicMin (first_bad, (unsigned long long) n);
  } else {
    load_chunk ((const char *) table + id * dim * dtype_size (table_type), table_type, i, dim,
                wide, v);
  }
  store_chunk ((char *) y + n * dim * dtype_size (y_type), y_type, i, dim, wide, v);
}

/* im2col gather. Launch: 1-D, one cols element per thread, the K index
 * fastest so writes are coalesced. */
__global__ void
im2col_kernel (void *cols, cudaDataType_t cols_type, const void *x, cudaDataType_t x_type,
               RlCudaConvGeometry g, int64_t p0, int64_t count)
{
  int64_t k_total = g.channels * g.kernel[0] * g.kernel[1] * g.kernel[2];
  int64_t flat = (int64_t) blockIdx.x * blockDim.x + threadIdx.x;
  if (flat >= count * k_total)
    return;
  int64_t k = flat % k_total, p = p0 + flat / k_total;
  int64_t kw = k % g.kernel[2], kh = (k / g.kernel[2]) % g.kernel[1];
  int64_t kt = (k / (g.kernel[2] * g.kernel[1])) % g.kernel[0];
  int64_t c = k / (g.kernel[2] * g.kernel[1] * g.kernel[0]);
  int64_t ow = p % g.out[2], oh = (p / g.out[2]) % g.out[1], ot = p / (g.out[2] * g.out[1]);
  int64_t it = ot * g.stride[0] - g.pad_before[0] + kt;
  int64_t ih = oh * g.stride[1] - g.pad_before[1] + kh;
  int64_t iw = ow * g.stride[2] - g.pad_before[2] + kw;
  float v = 0.0f;
  if (it >= 0 && it < g.in[0] && ih >= 0 && ih < g.in[1] && iw >= 0 && iw < g.in[2])
    v = load_one (x, x_type, ((c * g.in[0] + it) * g.in[1] + ih) * g.in[2] + iw);
  store_one (cols, cols_type, flat, v);
}

/* Row copy. Work items are (row, segment of up to kRowSegment 16-byte
 * vectors); a warp takes one item at a time, each lane loading all of its
 * vectors before storing any so that several loads are in flight. */
constexpr int kRowSegment = 256;
constexpr int kVectorsPerLane = kRowSegment / 32;

__global__ void
copy_rows_kernel (char *dst, int64_t dst_pitch, int64_t dst_call, const char *src,
                  int64_t src_pitch, int64_t src_call, int64_t vectors, int64_t segments,
                  int64_t rows, int64_t items)
{
  int lane = threadIdx.x & 31;
  int64_t warp = ((int64_t) blockIdx.x * blockDim.x + threadIdx.x) >> 5;
  int64_t warps = ((int64_t) gridDim.x * blockDim.x) >> 5;
  for (int64_t item = warp; item < items; item += warps) {
    int64_t row_index = item / segments, segment = item - row_index * segments;
    int64_t call = row_index / rows, row = row_index - call * rows;
    const uint4 *s = reinterpret_cast<const uint4 *> (src + call * src_call + row * src_pitch)
                     + segment * kRowSegment;
    uint4 *d = reinterpret_cast<uint4 *> (dst + call * dst_call + row * dst_pitch)
               + segment * kRowSegment;
    int64_t left = vectors - segment * kRowSegment;
    uint4 v[kVectorsPerLane];
#pragma unroll
    for (int i = 0; i < kVectorsPerLane; i++)
      if (lane + 32 * i < left)
        v[i] = s[lane + 32 * i];
#pragma unroll
    for (int i = 0; i < kVectorsPerLane; i++)
      if (lane + 32 * i < left)
        d[lane + 32 * i] = v[i];
  }
}

} // namespace

extern "C" cudaError_t
rl_cuda_copy_rows (void *dst, int64_t dst_pitch, int64_t dst_call, const void *src,
                   int64_t src_pitch, int64_t src_call, int64_t width, int64_t rows,
                   int64_t calls, cudaStream_t stream)
{
  uintptr_t all = (uintptr_t) dst | (uintptr_t) src | (uintptr_t) dst_pitch
                  | (uintptr_t) src_pitch | (uintptr_t) dst_call | (uintptr_t) src_call
                  | (uintptr_t) width;
  if (dst == nullptr || src == nullptr || (all & 15) != 0 || width <= 0 || rows < 0 || calls < 0)
    return cudaErrorInvalidValue;
  int64_t vectors = width / 16, segments = ceil_div (vectors, (int64_t) kRowSegment);
  int64_t items = rows * calls * segments;
  if (items == 0)
    return cudaSuccess;
  /* Eight warps a block; enough blocks for every SM many times over. */
  int64_t blocks = ceil_div (items, (int64_t) (kThreads / 32));
  if (blocks > 8192)
    blocks = 8192;
  copy_rows_kernel<<<(unsigned) blocks, kThreads, 0, stream>>> (
    static_cast<char *> (dst), dst_pitch, dst_call, static_cast<const char *> (src), src_pitch,
    src_call, vectors, segments, rows, items);
  return cudaGetLastError ();
}

extern "C" cudaError_t
rl_cuda_pad (RlCudaPadMode mode, float value, float x_scale, int ndim, void *y, cudaDataType_t y_type,
             const int64_t *y_shape, const int64_t *y_strides, const void *x,
             cudaDataType_t x_type, const int64_t *x_shape, const int64_t *x_strides,
             const int64_t *pad_before, cudaStream_t stream)
{
  if (ndim < 1 || ndim > RL_CUDA_MAX_DIMS || y == nullptr || x == nullptr
      || dtype_size (y_type) == 0 || dtype_size (x_type) == 0)
    return cudaErrorInvalidValue;
  PadShape s = {};
  s.ndim = ndim;
  int64_t count = 1;
  for (int d = 0; d < ndim; d++) {
    if (y_shape[d] < 0 || x_shape[d] < 0)
      return cudaErrorInvalidValue;
    s.y_shape[d] = y_shape[d];
    s.y_strides[d] = y_strides[d];
    s.x_shape[d] = x_shape[d];
    s.x_strides[d] = x_strides[d];
    s.before[d] = pad_before[d];
    count *= y_shape[d];
  }
  if (count == 0)
    return cudaSuccess;
  pad_kernel<<<(unsigned) ceil_div (count, kThreads), kThreads, 0, stream>>> (
    mode, value, x_scale, s, y, y_type, x, x_type, count);
  return cudaGetLastError ();
}

extern "C" cudaError_t
rl_cuda_upsample2x (void *y, const void *x, cudaDataType_t type, int64_t rows, int64_t height,
                    int64_t width, cudaStream_t stream)
{
  if (y == nullptr || x == nullptr || dtype_size (type) == 0 || rows < 0 || height < 0
      || width < 0)
    return cudaErrorInvalidValue;
  int64_t count = rows * height * width * 4;
  if (count == 0)
    return cudaSuccess;
  upsample2x_kernel<<<(unsigned) ceil_div (count, kThreads), kThreads, 0, stream>>> (
    y, x, type, height, width, count);
  return cudaGetLastError ();
}

extern "C" cudaError_t
rl_cuda_embedding (void *y, cudaDataType_t y_type, const void *table, cudaDataType_t table_type,
                   int64_t vocab, int64_t dim, const void *ids, cudaDataType_t ids_type,
                   int64_t count, unsigned long long *first_bad, cudaStream_t stream)
{
  if (y == nullptr || table == nullptr || ids == nullptr || vocab <= 0 || dim <= 0 || count < 0
      || dtype_size (y_type) == 0 || dtype_size (table_type) == 0
      || (ids_type != CUDA_R_32I && ids_type != CUDA_R_64I))
    return cudaErrorInvalidValue;
  if (count == 0)
    return cudaSuccess;
  bool wide = can_go_wide (table, table_type, dim) && can_go_wide (y, y_type, dim);
  int64_t chunks = count * ceil_div (dim, kChunk);
  embedding_kernel<<<(unsigned) ceil_div (chunks, kThreads), kThreads, 0, stream>>> (
    y, y_type, table, table_type, vocab, dim, ids, ids_type, count, first_bad, wide);
  return cudaGetLastError ();
}

extern "C" cudaError_t
rl_cuda_im2col (void *cols, cudaDataType_t cols_type, const void *x, cudaDataType_t x_type,
                const RlCudaConvGeometry *geometry, int64_t p0, int64_t count, cudaStream_t stream)
{
  if (cols == nullptr || x == nullptr || geometry == nullptr || count < 0 || p0 < 0
      || dtype_size (cols_type) == 0 || dtype_size (x_type) == 0)
    return cudaErrorInvalidValue;
  const RlCudaConvGeometry &g = *geometry;
  for (int d = 0; d < 3; d++)
    if (g.kernel[d] <= 0 || g.stride[d] <= 0 || g.in[d] <= 0 || g.out[d] <= 0)
      return cudaErrorInvalidValue;
  int64_t total = count * g.channels * g.kernel[0] * g.kernel[1] * g.kernel[2];
  if (total == 0)
    return cudaSuccess;
  im2col_kernel<<<(unsigned) ceil_div (total, kThreads), kThreads, 0, stream>>> (
    cols, cols_type, x, x_type, g, p0, count);
  return cudaGetLastError ();
}
