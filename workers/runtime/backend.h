/* Backends: an op table (ops.h) plus the device plumbing around it.
 *
 * A backend is a static, immutable RlBackend. A worker picks one by name,
 * creates a context per device, and runs model code against backend->ops:
 *
 *   const RlBackend *be = rl_backend_find ("cuda");   // NULL if not linked
 *   RlContext *ctx;
 *   if (be == NULL || be->context_new (0, &ctx) != RL_OK) ...
 *   be->ops->gemm (ctx, &y, &x, &w, &b, RL_ACT_GELU_TANH);
 *   be->context_free (ctx);
 *
 * The CPU backend is always there; the CUDA backend is found when
 * backend_cuda_dep is linked (it defines rl_backend_cuda). The lookup uses
 * weak references, so each backend's dependency object passes
 * -Wl,-u,rl_backend_<name> to make the linker pull its table in. */
#pragma once

#include <stdint.h>

#include "workers/runtime/device.h"
#include "workers/runtime/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RL_BACKEND_VERSION 1

typedef struct RlBackend {
  uint32_t      version;        /* RL_BACKEND_VERSION */
  const char   *name;           /* "cpu", "cuda" */
  RlDeviceKind  device_kind;
  const RlOps  *ops;

  /* Devices this backend can drive now (0 if none, e.g. no GPU). */
  int       (*device_count)   (void);

  /* A context on device `index`: owns that device's caching allocator, the
   * current stream and library handles. One thread at a time per context. */
  RlStatus  (*context_new)    (int index, RlContext **out);
  void      (*context_free)   (RlContext *ctx);              /* NULL-safe */
  RlDevice  (*context_device) (RlContext *ctx);
  RlAllocator *(*context_allocator) (RlContext *ctx);

  /* Ops issued after set_stream run on `stream` (NULL: default stream). */
  RlStatus  (*stream_new)     (RlContext *ctx, RlStream **out);
  void      (*stream_free)    (RlContext *ctx, RlStream *stream);
  RlStatus  (*set_stream)     (RlContext *ctx, RlStream *stream);
  RlStatus  (*event_new)      (RlContext *ctx, RlEvent **out);
  void      (*event_free)     (RlContext *ctx, RlEvent *event);
  RlStatus  (*event_record)   (RlContext *ctx, RlEvent *event,
                               RlStream *stream);
  RlStatus  (*stream_wait)    (RlContext *ctx, RlStream *stream,
                               RlEvent *event);
  RlStatus  (*event_sync)     (RlContext *ctx, RlEvent *event);
  /* Waits until all work on the context's device is done. */
  RlStatus  (*synchronize)    (RlContext *ctx);

  /* dst = src where either side may be host memory (device kind CPU) and
   * the other this context's device; same dtype and shape, both
   * contiguous. Ordered on the current stream; a device-to-host copy is
   * complete when it returns. */
  RlStatus  (*transfer)       (RlContext *ctx, RlTensor *dst,
                               const RlTensor *src);
} RlBackend;

/* The reference backend (always linked via backend_cpu_dep). */
const RlBackend *rl_backend_cpu  (void);

/* "cpu" or "cuda"; NULL when no backend of that name is linked in. */
const RlBackend *rl_backend_find (const char *name);

#ifdef __cplusplus
}
#endif
