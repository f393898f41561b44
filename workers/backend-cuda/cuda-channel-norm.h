/* The Wan VAE's RMS norm over channels, on the GPU (cuda-channel-norm.cu).
 * Internal to the CUDA backend; plain C API. */
#pragma once

#include <stdint.h>

#include <cuda_runtime_api.h>
#include <library_types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Wan VAE RMS norm over the channels of dense x [batch, channels, spatial]:
 * y = x / max(‖x[b,:,s]‖₂, eps) · √channels · gamma[c] (+ bias[c]).
 * y may equal x. batch ≤ 65535. */
cudaError_t rl_cuda_channel_rms_norm (void *y, cudaDataType_t y_type,
                                      const void *x, cudaDataType_t x_type,
                                      int64_t batch, int64_t channels, int64_t spatial,
                                      float eps, const void *gamma, const void *bias,
                                      cudaDataType_t affine_type, cudaStream_t stream);

#ifdef __cplusplus
}
#endif
