/* cuDNN convolutions for the CUDA backend: libcudnn opened at run time
 * ($RAYLIGHT_CUDNN_LIBRARY, else libcudnn.so.9, else libcudnn.so), one
 * handle per backend context, and per convolution shape the descriptors and
 * the algorithm (see below) within a workspace limit, made once and kept.
 * Tensors are NC[D]HW, dense or views with element strides, with padding
 * the same on both sides of each spatial dim (the caller materialises the
 * rest); x, w and y share one dtype and products accumulate in f32. Plain
 * C API. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>
#include <library_types.h>

#include "cuda-error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct RlCudaCudnnConv RlCudaCudnnConv;

/* One convolution: x [batch, in_channels, in...] * w [out_channels,
 * in_channels, kernel...] → y [batch, out_channels, out...]. conv2d uses
 * spatial 2 and the first two entries of each array. x and y may be views
 * into larger tensors: their element strides (all zero: packed). */
typedef struct {
  int            spatial;        /* 2 or 3 */
  cudaDataType_t type;           /* CUDA_R_32F, CUDA_R_16F or CUDA_R_16BF */
  int64_t        batch, in_channels, out_channels;
  int64_t        in[3], kernel[3], stride[3], pad[3], out[3];
  int64_t        x_strides[5], y_strides[5];
} RlCudaConvShape;

/* f16/bf16 convolutions take IMPLICIT_PRECOMP_GEMM where it runs within
 * the workspace limit, without asking the heuristics (milliseconds per new
 * shape); $RAYLIGHT_CUDA_CONV_ALGO=N picks cudnnConvolutionFwdAlgo_t N
 * instead, =heuristic always asks. f32 always asks, keeping fma kernels. */

/* Opens libcudnn and makes a handle on the current device; NULL with the
 * reason in `error` when cuDNN is missing or too old. */
RlCudaCudnnConv *rl_cuda_cudnn_conv_new     (RlCudaError *error);
void             rl_cuda_cudnn_conv_free    (RlCudaCudnnConv *conv);

/* Chooses (first time per shape) the algorithm whose workspace fits
 * `workspace_limit` and gives its workspace size. False with the reason
 * when cuDNN cannot run the shape; that answer is kept too, so a refused
 * shape costs one query. *first_time tells the caller to log a refusal. */
bool             rl_cuda_cudnn_conv_prepare (RlCudaCudnnConv *conv, const RlCudaConvShape *shape,
                                             size_t workspace_limit, size_t *workspace_bytes,
                                             bool *first_time, RlCudaError *error);

/* y = conv(x, w) on `stream` with the algorithm prepare chose for
 * `shape`; `workspace` holds at least the bytes prepare gave. When cuDNN
 * answers "not supported" only now, *refused is set and the shape is kept
 * as refused from then on. */
bool             rl_cuda_cudnn_conv_run     (RlCudaCudnnConv *conv, const RlCudaConvShape *shape,
                                             const void *x, const void *w, void *y,
                                             void *workspace, size_t workspace_bytes,
                                             cudaStream_t stream, bool *refused,
                                             RlCudaError *error);

/* A one-line account of the algorithm chosen for `shape` (algorithm
 * number, math mode, workspace, time taken to choose), for logs; "" when
 * not prepared. */
void             rl_cuda_cudnn_conv_describe (RlCudaCudnnConv *conv, const RlCudaConvShape *shape,
                                              char *out, size_t out_size);

#ifdef __cplusplus
}
#endif
