/* Shared helpers of the CUDA backend's op table: the context, argument
 * checks, dtype mapping and error translation. Private to
 * workers/backend-cuda. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <cuda_runtime_api.h>
#include <library_types.h>

#include "workers/runtime/backend.h"
#include "workers/runtime/ops.h"
#include "workers/runtime/tensor.h"

#include "cuda-allocator.h"
#include "cuda-conv-cudnn.h"
#include "cuda-gemm.h"

/* The RlAllocator view of a context's caching allocator: frees are ordered
 * on the context's current stream. */
typedef struct {
  RlAllocator      base;
  RlCudaAllocator *cache;
  RlContext       *ctx;
} CudaAllocatorView;

struct RlContext {
  int               device;
  CudaAllocatorView allocator;
  RlCudaGemm       *gemm;
  cudaStream_t      default_stream;   /* owned, non-blocking */
  cudaStream_t      stream;           /* current: default_stream or a user stream */
  /* cuDNN convolutions, opened on the first conv (cuda-ops-conv.c). */
  RlCudaCudnnConv  *cudnn_conv;
  bool              cudnn_conv_tried;
  char              cudnn_conv_missing[320];  /* why cudnn_conv is NULL */
  bool              conv_fallback_logged;
};

struct RlStream {
  cudaStream_t stream;
};

struct RlEvent {
  cudaEvent_t event;
};

/* Flags for cuda_check. */
enum {
  CUDA_FLOAT      = 1 << 0,   /* f32, f16 or bf16 */
  CUDA_FLOAT8     = 1 << 1,   /* also f8_e4m3fn / f8_e5m2 */
  CUDA_CONTIGUOUS = 1 << 2,
  CUDA_PLAIN      = 1 << 3,   /* any dtype the kernels handle */
  CUDA_INDEX      = 1 << 4,   /* i32 or i64 */
};

/* Validates one argument: non-NULL, on this context's device, dtype and
 * layout per `flags`. Sets an error naming op and argument. */
RlStatus       cuda_check            (RlContext *ctx, const char *op, const char *arg,
                                      const RlTensor *t, unsigned flags);
RlStatus       cuda_check_same_shape (const char *op, const char *name_a, const RlTensor *a,
                                      const char *name_b, const RlTensor *b);

/* The dtype the tensor cores see for a weight of `w_dtype`: f32 stays f32
 * (true fp32 products, the parity path); f16 stays f16; bf16, fp8 and GGUF
 * weights run in bf16 (fp8/GGUF dequantised with their scale first). */
RlDType        cuda_compute_dtype    (RlDType w_dtype);

/* cudaDataType_t of a plain dtype; (cudaDataType_t) -1 when kernels do not
 * handle it. */
cudaDataType_t cuda_type             (RlDType dtype);

/* Turns a launch status into an RlStatus with the op named. */
RlStatus       cuda_launch_status    (cudaError_t status, const char *op);
/* Same for an RlCudaError from the GEMM or allocator layers. */
RlStatus       cuda_error_status     (const RlCudaError *error, const char *op);

/* Scratch device memory from the context's allocator. */
RlStatus       cuda_scratch          (RlContext *ctx, size_t bytes, void **out);
void           cuda_scratch_free     (RlContext *ctx, void *ptr);

/* A dense device copy of `t` in `dtype` (scale applied; GGUF blocks
 * dequantised), or t->data itself when it already is one (*owned false). */
RlStatus       cuda_dense_as         (RlContext *ctx, const char *op, const RlTensor *t,
                                      RlDType dtype, void **out, bool *owned);

/* Product of shape[begin, end). */
int64_t        cuda_span             (const RlTensor *t, int begin, int end);

/* Op entry points, one per RlOps member, defined across the cuda-ops-*.c files. */
RlStatus cuda_gemm               (RlContext *, RlTensor *, const RlTensor *, const RlTensor *, const RlTensor *, RlActivation);
RlStatus cuda_batched_gemm       (RlContext *, RlTensor *, const RlTensor *, bool, const RlTensor *, bool, float, float);
RlStatus cuda_layer_norm         (RlContext *, RlTensor *, const RlTensor *, const RlTensor *, const RlTensor *, float);
RlStatus cuda_rms_norm           (RlContext *, RlTensor *, const RlTensor *, const RlTensor *, float);
RlStatus cuda_norm_modulate      (RlContext *, RlTensor *, const RlTensor *, RlNormKind, const RlTensor *, const RlTensor *, float, const RlTensor *, const RlTensor *, RlTokenGroups);
RlStatus cuda_gated_residual     (RlContext *, RlTensor *, const RlTensor *, const RlTensor *, RlTokenGroups);
RlStatus cuda_group_norm         (RlContext *, RlTensor *, const RlTensor *, int, const RlTensor *, const RlTensor *, float);
RlStatus cuda_channel_rms_norm   (RlContext *, RlTensor *, const RlTensor *, const RlTensor *, const RlTensor *, float);
RlStatus cuda_rope               (RlContext *, RlTensor *, const RlTensor *, const RlTensor *, const RlTensor *);
RlStatus cuda_softmax            (RlContext *, RlTensor *, const RlTensor *);
RlStatus cuda_add                (RlContext *, RlTensor *, const RlTensor *, const RlTensor *, float, float);
RlStatus cuda_mul                (RlContext *, RlTensor *, const RlTensor *, const RlTensor *);
RlStatus cuda_activation         (RlContext *, RlTensor *, const RlTensor *, RlActivation);
RlStatus cuda_scale_shift        (RlContext *, RlTensor *, const RlTensor *, float, float);
RlStatus cuda_embedding          (RlContext *, RlTensor *, const RlTensor *, const RlTensor *);
RlStatus cuda_copy               (RlContext *, RlTensor *, const RlTensor *);
RlStatus cuda_convert            (RlContext *, RlTensor *, const RlTensor *);
RlStatus cuda_concat             (RlContext *, RlTensor *, const RlTensor *const *, int, int);
RlStatus cuda_pad                (RlContext *, RlTensor *, const RlTensor *, const int64_t *, const int64_t *, RlPadMode, float);
RlStatus cuda_fill               (RlContext *, RlTensor *, float);
RlStatus cuda_upsample_nearest2x (RlContext *, RlTensor *, const RlTensor *);
RlStatus cuda_conv2d             (RlContext *, RlTensor *, const RlTensor *, const RlTensor *, const RlTensor *, const RlConvParams *);
RlStatus cuda_conv3d             (RlContext *, RlTensor *, const RlTensor *, const RlTensor *, const RlTensor *, const RlConvParams *);
RlStatus cuda_reduce             (RlContext *, RlTensor *, const RlTensor *, int, RlReduceKind);
RlStatus cuda_attention          (RlContext *, RlTensor *, RlTensor *, const RlTensor *, const RlTensor *, const RlTensor *, float);
