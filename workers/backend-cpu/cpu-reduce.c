/* Reductions along one dim (double accumulation, fixed order). */
#include "workers/backend-cpu/cpu-internal.h"

#include <math.h>

RlStatus
cpu_reduce (RlContext *ctx, RlTensor *y, const RlTensor *x, int dim, RlReduceKind kind)
{
  const char *op = "reduce";
  char dx[RL_TENSOR_DESCRIBE_SIZE], dy[RL_TENSOR_DESCRIBE_SIZE];
  RlStatus st;

  if ((st = cpu_check (op, "y", y, CPU_FLOAT | CPU_CONTIGUOUS)) != RL_OK
      || (st = cpu_check (op, "x", x, CPU_FLOAT | CPU_FLOAT8)) != RL_OK)
    return st;
  int d = dim < 0 ? dim + x->ndim : dim;
  if (d < 0 || d >= x->ndim)
    return rl_set_error (RL_E_INVALID_ARG, "reduce: dim %d out of range for x %s", dim,
                         rl_tensor_describe (x, dx, sizeof dx));
  if (kind < RL_REDUCE_SUM || kind > RL_REDUCE_MAX)
    return rl_set_error (RL_E_INVALID_ARG, "reduce: unknown reduction %d", (int) kind);
  bool ok = y->ndim == x->ndim;
  for (int e = 0; ok && e < x->ndim; e++)
    ok = y->shape[e] == (e == d ? 1 : x->shape[e]);
  if (!ok)
    return rl_set_error (RL_E_SHAPE, "reduce: y %s must be x %s with dim %d of size 1",
                         rl_tensor_describe (y, dy, sizeof dy), rl_tensor_describe (x, dx, sizeof dx), d);
  int64_t n = x->shape[d];
  if (n == 0 && kind != RL_REDUCE_SUM)
    return rl_set_error (RL_E_SHAPE, "reduce: mean/max over an empty dim of x %s",
                         rl_tensor_describe (x, dx, sizeof dx));
  int64_t outputs = rl_tensor_numel (y);
  float scale = rl_tensor_scale (x);
#pragma omp parallel for schedule(static)
  for (int64_t o = 0; o < outputs; o++)
    {
      /* Offset of x at output index o (dim d at 0): walk y's shape with x's strides. */
      int64_t base = cpu_outer_offset (x->ndim, y->shape, x->strides, o);
      double acc = kind == RL_REDUCE_MAX ? -INFINITY : 0.0;
      bool nan_seen = false;
      for (int64_t i = 0; i < n; i++)
        {
          double v = (double) cpu_load (x->dtype, x->data, base + i * x->strides[d]) * scale;
          if (kind == RL_REDUCE_MAX)
            {
              nan_seen |= isnan (v);
              acc = v > acc ? v : acc;
            }
          else
            acc += v;
        }
      if (kind == RL_REDUCE_MEAN)
        acc /= (double) n;
      if (nan_seen)
        acc = NAN;
      cpu_store (y->dtype, y->data, o, (float) acc);
    }
  return RL_OK;
}
