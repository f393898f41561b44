/* Scratch helpers of workers/parallel. */
#include "workers/parallel/parallel-util.h"

RlStatus
pl_alloc (const RlBackend *backend, RlContext *ctx, RlTensor *out,
          RlDType dtype, int ndim, const int64_t *shape)
{
  return rl_tensor_alloc (out, backend->context_allocator (ctx), dtype, ndim, shape);
}

RlStatus
pl_contiguous (const RlBackend *backend, RlContext *ctx, RlTensor *out,
               const RlTensor *src)
{
  RlStatus status = pl_alloc (backend, ctx, out, src->dtype, src->ndim, src->shape);
  if (status == RL_OK && (status = backend->ops->copy (ctx, out, src)) != RL_OK)
    rl_tensor_release (out);
  return status;
}

RlStatus
pl_check_backend (const char *op, const RlBackend *backend, RlContext *ctx)
{
  if (backend == NULL || ctx == NULL || backend->ops == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "%s: backend and context are required", op);
  if (backend->ops->version != RL_OPS_VERSION)
    return rl_set_error (RL_E_VERSION, "%s: backend %s has op table version %u, "
                         "this code needs %d", op, backend->name,
                         backend->ops->version, RL_OPS_VERSION);
  return RL_OK;
}
