/* Scratch tensors and small checks shared by workers/parallel. Private. */
#pragma once

#include "workers/runtime/backend.h"

/* A contiguous scratch tensor on the context's device. */
RlStatus pl_alloc        (const RlBackend *backend, RlContext *ctx,
                          RlTensor *out, RlDType dtype, int ndim,
                          const int64_t *shape);

/* A contiguous copy of src (a fresh scratch tensor). */
RlStatus pl_contiguous   (const RlBackend *backend, RlContext *ctx,
                          RlTensor *out, const RlTensor *src);

/* Checks backend, op table version and context. */
RlStatus pl_check_backend (const char *op, const RlBackend *backend,
                           RlContext *ctx);
