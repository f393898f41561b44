/* The CPU backend: context, no-op streams/events, host transfers, and the
 * op table. */
#include "workers/backend-cpu/cpu-internal.h"

#include <stdlib.h>

/* Streams and events are accepted and ignored on the CPU: every op has
 * finished when it returns. Distinct non-NULL handles keep callers'
 * NULL checks meaningful. */
struct RlStream { int unused; };
struct RlEvent  { int unused; };

static int
cpu_device_count (void)
{
  return 1;
}

static RlStatus
cpu_context_new (int index, RlContext **out)
{
  *out = NULL;
  if (index != 0)
    return rl_set_error (RL_E_INVALID_ARG, "cpu backend: device index %d (only 0 exists)", index);
  RlContext *ctx = calloc (1, sizeof *ctx);
  if (ctx == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "cpu backend: out of host memory");
  ctx->allocator = rl_host_allocator_new ();
  if (ctx->allocator == NULL)
    {
      free (ctx);
      return rl_set_error (RL_E_NO_MEMORY, "cpu backend: out of host memory");
    }
  *out = ctx;
  return RL_OK;
}

static void
cpu_context_free (RlContext *ctx)
{
  if (ctx == NULL)
    return;
  rl_allocator_destroy (ctx->allocator);
  free (ctx);
}

static RlDevice
cpu_context_device (RlContext *ctx)
{
  return rl_device_cpu ();
}

static RlAllocator *
cpu_context_allocator (RlContext *ctx)
{
  return ctx->allocator;
}

static RlStatus
cpu_stream_new (RlContext *ctx, RlStream **out)
{
  *out = calloc (1, sizeof **out);
  return *out != NULL ? RL_OK : rl_set_error (RL_E_NO_MEMORY, "cpu stream: out of memory");
}

static void
cpu_stream_free (RlContext *ctx, RlStream *stream)
{
  free (stream);
}

static RlStatus
cpu_set_stream (RlContext *ctx, RlStream *stream)
{
  return RL_OK;
}

static RlStatus
cpu_event_new (RlContext *ctx, RlEvent **out)
{
  *out = calloc (1, sizeof **out);
  return *out != NULL ? RL_OK : rl_set_error (RL_E_NO_MEMORY, "cpu event: out of memory");
}

static void
cpu_event_free (RlContext *ctx, RlEvent *event)
{
  free (event);
}

static RlStatus
cpu_event_record (RlContext *ctx, RlEvent *event, RlStream *stream)
{
  return RL_OK;
}

static RlStatus
cpu_stream_wait (RlContext *ctx, RlStream *stream, RlEvent *event)
{
  return RL_OK;
}

static RlStatus
cpu_event_sync (RlContext *ctx, RlEvent *event)
{
  return RL_OK;
}

static RlStatus
cpu_synchronize (RlContext *ctx)
{
  return RL_OK;
}

static RlStatus
cpu_transfer (RlContext *ctx, RlTensor *dst, const RlTensor *src)
{
  RlStatus st;
  if ((st = cpu_check ("transfer", "dst", dst, CPU_CONTIGUOUS)) != RL_OK
      || (st = cpu_check ("transfer", "src", src, CPU_CONTIGUOUS)) != RL_OK
      || (st = cpu_check_same_shape ("transfer", "dst", dst, "src", src)) != RL_OK)
    return st;
  if (dst->dtype != src->dtype)
    return rl_set_error (RL_E_DTYPE, "transfer: dst is %s but src is %s; use convert",
                         rl_dtype_name (dst->dtype), rl_dtype_name (src->dtype));
  memmove (dst->data, src->data, rl_tensor_nbytes (src));
  return RL_OK;
}

static const RlOps cpu_ops = {
  .version = RL_OPS_VERSION,
  .struct_size = sizeof (RlOps),
  .gemm = cpu_gemm,
  .batched_gemm = cpu_batched_gemm,
  .layer_norm = cpu_layer_norm,
  .rms_norm = cpu_rms_norm,
  .norm_modulate = cpu_norm_modulate,
  .gated_residual = cpu_gated_residual,
  .group_norm = cpu_group_norm,
  .channel_rms_norm = cpu_channel_rms_norm,
  .rope = cpu_rope,
  .softmax = cpu_softmax,
  .add = cpu_add,
  .mul = cpu_mul,
  .activation = cpu_activation,
  .scale_shift = cpu_scale_shift,
  .embedding = cpu_embedding,
  .copy = cpu_copy,
  .convert = cpu_convert,
  .concat = cpu_concat,
  .pad = cpu_pad,
  .fill = cpu_fill,
  .upsample_nearest2x = cpu_upsample_nearest2x,
  .conv2d = cpu_conv2d,
  .conv3d = cpu_conv3d,
  .reduce = cpu_reduce,
  .attention = cpu_attention,
};

static const RlBackend cpu_backend = {
  .version = RL_BACKEND_VERSION,
  .name = "cpu",
  .device_kind = RL_DEVICE_CPU,
  .ops = &cpu_ops,
  .device_count = cpu_device_count,
  .context_new = cpu_context_new,
  .context_free = cpu_context_free,
  .context_device = cpu_context_device,
  .context_allocator = cpu_context_allocator,
  .stream_new = cpu_stream_new,
  .stream_free = cpu_stream_free,
  .set_stream = cpu_set_stream,
  .event_new = cpu_event_new,
  .event_free = cpu_event_free,
  .event_record = cpu_event_record,
  .stream_wait = cpu_stream_wait,
  .event_sync = cpu_event_sync,
  .synchronize = cpu_synchronize,
  .transfer = cpu_transfer,
};

const RlBackend *
rl_backend_cpu (void)
{
  return &cpu_backend;
}
