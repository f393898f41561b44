/* Layout kernels of the CUDA backend: padding (constant, replicate,
 * circular; negative pads crop), nearest 2× upsampling, embedding lookup
 * and the im2col gather behind convolutions. Copies, conversions, concat
 * and fills of strided views go through rl_cuda_unary_strided
 * (cuda-elementwise.h). Launchers return cudaErrorInvalidValue for bad
 * arguments, else the launch status. Strides are in elements. */
#pragma once

#include <stdint.h>

#include <cuda_runtime_api.h>
#include <library_types.h>

#include "cuda-elementwise.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  RL_CUDA_PAD_CONSTANT = 0,
  RL_CUDA_PAD_REPLICATE,
  RL_CUDA_PAD_CIRCULAR,
} RlCudaPadMode;

/* y[c] = x[c − pad_before]·x_scale per dim; coordinates outside x take
 * `value` (constant, or any mode when x is empty along that dim), the
 * nearest edge (replicate) or wrap around (circular). */
cudaError_t rl_cuda_pad             (RlCudaPadMode mode, float value, float x_scale, int ndim,
                                     void *y, cudaDataType_t y_type,
                                     const int64_t *y_shape, const int64_t *y_strides,
                                     const void *x, cudaDataType_t x_type,
                                     const int64_t *x_shape, const int64_t *x_strides,
                                     const int64_t *pad_before, cudaStream_t stream);

/* Copies `calls` × `rows` rows of `width` bytes: row r of call c from
 * src + c·src_call + r·src_pitch to dst + c·dst_call + r·dst_pitch (bytes).
 * Every pointer, pitch, call stride and the width must be multiples of 16
 * bytes (cudaErrorInvalidValue otherwise: the caller falls back to
 * cudaMemcpy2DAsync). Short rows (a few heads of a token, the Ulysses
 * exchange's packing) move at close to memory bandwidth, where the 2-D
 * memcpy manages about a quarter of it. */
cudaError_t rl_cuda_copy_rows       (void *dst, int64_t dst_pitch, int64_t dst_call,
                                     const void *src, int64_t src_pitch, int64_t src_call,
                                     int64_t width, int64_t rows, int64_t calls,
                                     cudaStream_t stream);

/* y[r, 2h+i, 2w+j] = x[r, h, w] for dense x [rows, height, width]. */
cudaError_t rl_cuda_upsample2x      (void *y, const void *x, cudaDataType_t type,
                                     int64_t rows, int64_t height, int64_t width,
                                     cudaStream_t stream);

/* y[n, :] = table[ids[n], :] for n < count; table dense [vocab, dim], ids
 * CUDA_R_32I or CUDA_R_64I. An id outside [0, vocab) writes a zero row and
 * lowers *first_bad (device, initialised by the caller to UINT64_MAX) to
 * its position. */
cudaError_t rl_cuda_embedding       (void *y, cudaDataType_t y_type,
                                     const void *table, cudaDataType_t table_type,
                                     int64_t vocab, int64_t dim,
                                     const void *ids, cudaDataType_t ids_type, int64_t count,
                                     unsigned long long *first_bad, cudaStream_t stream);

/* Geometry of a 3-D convolution over one image [channels, T, H, W]
 * (conv2d: T = kernel[0] = 1). */
typedef struct {
  int64_t channels;
  int64_t in[3];          /* T, H, W */
  int64_t out[3];         /* To, Ho, Wo */
  int64_t kernel[3];      /* kt, kh, kw */
  int64_t stride[3];
  int64_t pad_before[3];  /* padded values are zero */
} RlCudaConvGeometry;

/* Gathers output positions [p0, p0 + count) into cols [count, K] with
 * K = channels·kt·kh·kw ordered (c, kt, kh, kw), matching a weight
 * [O, C, kt, kh, kw] viewed as [O, K]. */
cudaError_t rl_cuda_im2col          (void *cols, cudaDataType_t cols_type,
                                     const void *x, cudaDataType_t x_type,
                                     const RlCudaConvGeometry *geometry,
                                     int64_t p0, int64_t count, cudaStream_t stream);

#ifdef __cplusplus
}
#endif
