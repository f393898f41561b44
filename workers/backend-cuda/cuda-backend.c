/* The CUDA backend: context (allocator, cuBLASLt, streams) and op table. */
#include "cuda-internal.h"

#include <stdlib.h>

#include "cuda-stream.h"

/* ------------------------------------------------------ allocator view */

static RlStatus
view_alloc (RlAllocator *self, size_t bytes, void **out)
{
  CudaAllocatorView *view = (CudaAllocatorView *) self;
  RlCudaError error = { 0 };
  *out = rl_cuda_allocator_alloc (view->cache, bytes, view->ctx->stream, &error);
  if (*out != NULL)
    return RL_OK;
  return rl_set_error (RL_E_DEVICE_OOM, "%s", error.message);
}

static void
view_free (RlAllocator *self, void *ptr)
{
  CudaAllocatorView *view = (CudaAllocatorView *) self;
  rl_cuda_allocator_release (view->cache, ptr, view->ctx->stream);
}

static void
view_get_stats (RlAllocator *self, RlAllocatorStats *out)
{
  CudaAllocatorView *view = (CudaAllocatorView *) self;
  RlCudaAllocatorStats stats;
  rl_cuda_allocator_get_stats (view->cache, &stats);
  out->current_bytes = stats.in_use_bytes;
  out->peak_bytes = stats.peak_in_use_bytes;
  out->cached_bytes = stats.cached_bytes;
  out->reserved_bytes = stats.reserved_bytes;
  out->alloc_count = stats.alloc_calls;
  out->cache_hits = stats.alloc_calls - stats.malloc_calls;
}

static void
view_reset_peak (RlAllocator *self)
{
  rl_cuda_allocator_reset_peak (((CudaAllocatorView *) self)->cache);
}

static void
view_trim (RlAllocator *self)
{
  rl_cuda_allocator_trim (((CudaAllocatorView *) self)->cache);
}

/* The view belongs to its context; context_free destroys the cache. */
static void
view_destroy (RlAllocator *self)
{
  (void) self;
}

static const RlAllocatorOps view_ops = {
  view_alloc, view_free, view_get_stats, view_reset_peak, view_trim, view_destroy,
};

/* ------------------------------------------------------------- context */

static RlStatus
device_status (cudaError_t status, int device, const char *what)
{
  cudaGetLastError ();
  return rl_set_error (RL_E_DEVICE, "cuda:%d: %s failed: %s", device, what,
                       cudaGetErrorString (status));
}

static int
cuda_device_count (void)
{
  return rl_cuda_device_count ();
}

static void
cuda_context_free (RlContext *ctx)
{
  if (ctx == NULL)
    return;
  cudaSetDevice (ctx->device);
  if (ctx->default_stream != NULL)
    cudaStreamSynchronize (ctx->default_stream);
  rl_cuda_gemm_free (ctx->gemm);
  rl_cuda_cudnn_conv_free (ctx->cudnn_conv);
  rl_cuda_allocator_free (ctx->allocator.cache);
  rl_cuda_stream_free (ctx->default_stream);
  free (ctx);
}

static RlStatus
cuda_context_new (int index, RlContext **out)
{
  *out = NULL;
  int count = rl_cuda_device_count ();
  if (index < 0 || index >= count)
    return rl_set_error (RL_E_INVALID_ARG, "cuda:%d does not exist (%d GPU%s visible); check "
                         "CUDA_VISIBLE_DEVICES", index, count, count == 1 ? "" : "s");
  cudaError_t cuda_status = cudaSetDevice (index);
  if (cuda_status != cudaSuccess)
    return device_status (cuda_status, index, "selecting the device");
  RlContext *ctx = calloc (1, sizeof *ctx);
  if (ctx == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "cuda:%d: out of host memory for a context", index);
  ctx->device = index;
  RlCudaError error = { 0 };
  if (!rl_cuda_stream_new (&ctx->default_stream, false, &error)) {
    free (ctx);
    return rl_set_error (RL_E_DEVICE, "%s", error.message);
  }
  ctx->stream = ctx->default_stream;
  ctx->allocator.base.ops = &view_ops;
  ctx->allocator.base.device = rl_device_cuda (index);
  ctx->allocator.ctx = ctx;
  ctx->allocator.cache = rl_cuda_allocator_new (index);
  ctx->gemm = rl_cuda_gemm_new (0, &error);
  if (ctx->allocator.cache == NULL || ctx->gemm == NULL) {
    cuda_context_free (ctx);
    return rl_set_error (RL_E_DEVICE, "cuda:%d: %s", index,
                         error.message[0] ? error.message : "out of host memory");
  }
  *out = ctx;
  return RL_OK;
}

static RlDevice
cuda_context_device (RlContext *ctx)
{
  return rl_device_cuda (ctx->device);
}

static RlAllocator *
cuda_context_allocator (RlContext *ctx)
{
  return &ctx->allocator.base;
}

/* ----------------------------------------------------- streams, events */

static RlStatus
cuda_stream_new (RlContext *ctx, RlStream **out)
{
  *out = calloc (1, sizeof **out);
  if (*out == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "cuda:%d: out of host memory for a stream", ctx->device);
  RlCudaError error = { 0 };
  if (!rl_cuda_stream_new (&(*out)->stream, false, &error)) {
    free (*out);
    *out = NULL;
    return rl_set_error (RL_E_DEVICE, "%s", error.message);
  }
  return RL_OK;
}

static void
cuda_stream_free (RlContext *ctx, RlStream *stream)
{
  if (stream == NULL)
    return;
  if (ctx->stream == stream->stream)
    ctx->stream = ctx->default_stream;
  rl_cuda_stream_free (stream->stream);
  free (stream);
}

static RlStatus
cuda_set_stream (RlContext *ctx, RlStream *stream)
{
  ctx->stream = stream != NULL ? stream->stream : ctx->default_stream;
  return RL_OK;
}

static RlStatus
cuda_event_new (RlContext *ctx, RlEvent **out)
{
  *out = calloc (1, sizeof **out);
  if (*out == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "cuda:%d: out of host memory for an event", ctx->device);
  RlCudaError error = { 0 };
  if (!rl_cuda_event_new (&(*out)->event, false, &error)) {
    free (*out);
    *out = NULL;
    return rl_set_error (RL_E_DEVICE, "%s", error.message);
  }
  return RL_OK;
}

static void
cuda_event_free (RlContext *ctx, RlEvent *event)
{
  (void) ctx;
  if (event == NULL)
    return;
  rl_cuda_event_free (event->event);
  free (event);
}

static cudaStream_t
stream_of (RlContext *ctx, RlStream *stream)
{
  return stream != NULL ? stream->stream : ctx->default_stream;
}

cudaStream_t
rl_cuda_context_stream (RlContext *ctx, RlStream *stream)
{
  return stream != NULL ? stream->stream : ctx->stream;
}

static RlStatus
cuda_event_record (RlContext *ctx, RlEvent *event, RlStream *stream)
{
  RlCudaError error = { 0 };
  if (!rl_cuda_event_record (event->event, stream_of (ctx, stream), &error))
    return rl_set_error (RL_E_DEVICE, "%s", error.message);
  return RL_OK;
}

static RlStatus
cuda_stream_wait (RlContext *ctx, RlStream *stream, RlEvent *event)
{
  RlCudaError error = { 0 };
  if (!rl_cuda_stream_wait (stream_of (ctx, stream), event->event, &error))
    return rl_set_error (RL_E_DEVICE, "%s", error.message);
  return RL_OK;
}

static RlStatus
cuda_event_sync (RlContext *ctx, RlEvent *event)
{
  cudaError_t status = cudaEventSynchronize (event->event);
  return status == cudaSuccess ? RL_OK : device_status (status, ctx->device, "waiting for an event");
}

static RlStatus
cuda_synchronize (RlContext *ctx)
{
  cudaError_t status = cudaDeviceSynchronize ();
  return status == cudaSuccess ? RL_OK
                               : device_status (status, ctx->device, "running queued GPU work");
}

static RlStatus
cuda_transfer (RlContext *ctx, RlTensor *dst, const RlTensor *src)
{
  char dd[RL_TENSOR_DESCRIBE_SIZE], ds[RL_TENSOR_DESCRIBE_SIZE];
  if (dst == NULL || src == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "transfer: NULL tensor");
  if (dst->dtype != src->dtype || !rl_tensor_same_shape (dst, src)
      || !rl_tensor_is_contiguous (dst) || !rl_tensor_is_contiguous (src))
    return rl_set_error (RL_E_SHAPE, "transfer: %s -> %s needs one dtype, one shape and "
                         "contiguous tensors", rl_tensor_describe (src, ds, sizeof ds),
                         rl_tensor_describe (dst, dd, sizeof dd));
  bool dst_here = dst->device.kind == RL_DEVICE_CUDA && dst->device.index == ctx->device;
  bool src_here = src->device.kind == RL_DEVICE_CUDA && src->device.index == ctx->device;
  if ((!dst_here && dst->device.kind != RL_DEVICE_CPU)
      || (!src_here && src->device.kind != RL_DEVICE_CPU))
    return rl_set_error (RL_E_DEVICE_MISMATCH, "transfer: %s -> %s: each side must be the host "
                         "or cuda:%d", rl_tensor_describe (src, ds, sizeof ds),
                         rl_tensor_describe (dst, dd, sizeof dd), ctx->device);
  size_t bytes = rl_tensor_nbytes (src);
  if (bytes == 0)
    return RL_OK;
  enum cudaMemcpyKind kind = dst_here ? (src_here ? cudaMemcpyDeviceToDevice
                                                  : cudaMemcpyHostToDevice)
                                      : (src_here ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
  cudaError_t status = cudaMemcpyAsync (dst->data, src->data, bytes, kind, ctx->stream);
  if (status == cudaSuccess && !dst_here)
    status = cudaStreamSynchronize (ctx->stream);
  return status == cudaSuccess ? RL_OK : device_status (status, ctx->device, "copying a tensor");
}

/* ----------------------------------------------------------- the table */

static const RlOps cuda_ops = {
  .version = RL_OPS_VERSION,
  .struct_size = sizeof (RlOps),
  .gemm = cuda_gemm,
  .batched_gemm = cuda_batched_gemm,
  .layer_norm = cuda_layer_norm,
  .rms_norm = cuda_rms_norm,
  .norm_modulate = cuda_norm_modulate,
  .gated_residual = cuda_gated_residual,
  .group_norm = cuda_group_norm,
  .channel_rms_norm = cuda_channel_rms_norm,
  .rope = cuda_rope,
  .softmax = cuda_softmax,
  .add = cuda_add,
  .mul = cuda_mul,
  .activation = cuda_activation,
  .scale_shift = cuda_scale_shift,
  .embedding = cuda_embedding,
  .copy = cuda_copy,
  .convert = cuda_convert,
  .concat = cuda_concat,
  .pad = cuda_pad,
  .fill = cuda_fill,
  .upsample_nearest2x = cuda_upsample_nearest2x,
  .conv2d = cuda_conv2d,
  .conv3d = cuda_conv3d,
  .reduce = cuda_reduce,
  .attention = cuda_attention,
};

static const RlBackend cuda_backend = {
  .version = RL_BACKEND_VERSION,
  .name = "cuda",
  .device_kind = RL_DEVICE_CUDA,
  .ops = &cuda_ops,
  .device_count = cuda_device_count,
  .context_new = cuda_context_new,
  .context_free = cuda_context_free,
  .context_device = cuda_context_device,
  .context_allocator = cuda_context_allocator,
  .stream_new = cuda_stream_new,
  .stream_free = cuda_stream_free,
  .set_stream = cuda_set_stream,
  .event_new = cuda_event_new,
  .event_free = cuda_event_free,
  .event_record = cuda_event_record,
  .stream_wait = cuda_stream_wait,
  .event_sync = cuda_event_sync,
  .synchronize = cuda_synchronize,
  .transfer = cuda_transfer,
};

const RlBackend *rl_backend_cuda (void);

const RlBackend *
rl_backend_cuda (void)
{
  return &cuda_backend;
}
