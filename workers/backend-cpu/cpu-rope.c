/* Rotary embedding on interleaved pairs, in f32. */
#include "workers/backend-cpu/cpu-internal.h"

RlStatus
cpu_rope (RlContext *ctx, RlTensor *y, const RlTensor *x, const RlTensor *cos_t,
          const RlTensor *sin_t)
{
  const char *op = "rope";
  char dx[RL_TENSOR_DESCRIBE_SIZE], dc[RL_TENSOR_DESCRIBE_SIZE];
  RlStatus st;

  if ((st = cpu_check (op, "y", y, CPU_FLOAT | CPU_CONTIGUOUS)) != RL_OK
      || (st = cpu_check (op, "x", x, CPU_FLOAT | CPU_CONTIGUOUS)) != RL_OK
      || (st = cpu_check (op, "cos", cos_t, CPU_FLOAT | CPU_CONTIGUOUS)) != RL_OK
      || (st = cpu_check (op, "sin", sin_t, CPU_FLOAT | CPU_CONTIGUOUS)) != RL_OK
      || (st = cpu_check_same_shape (op, "y", y, "x", x)) != RL_OK
      || (st = cpu_check_same_shape (op, "cos", cos_t, "sin", sin_t)) != RL_OK)
    return st;
  if (x->ndim != 4 || x->shape[3] % 2 != 0)
    return rl_set_error (RL_E_SHAPE, "rope: x %s must be [B, L, H, Dh] with even Dh",
                         rl_tensor_describe (x, dx, sizeof dx));
  int64_t batch = x->shape[0], len = x->shape[1], heads = x->shape[2], dh = x->shape[3];
  int tn = cos_t->ndim;
  bool table_ok = (tn == 2 || tn == 3) && cos_t->shape[tn - 2] == len && cos_t->shape[tn - 1] <= dh / 2
                  && (tn == 2 || cos_t->shape[0] == batch || cos_t->shape[0] == 1);
  if (!table_ok)
    return rl_set_error (RL_E_SHAPE, "rope: table %s must be [L=%lld, ≤%lld] or [B, L, ≤%lld] for x %s",
                         rl_tensor_describe (cos_t, dc, sizeof dc), (long long) len,
                         (long long) (dh / 2), (long long) (dh / 2), rl_tensor_describe (x, dx, sizeof dx));
  int64_t pairs = cos_t->shape[tn - 1];
  bool per_batch = tn == 3 && cos_t->shape[0] == batch && batch > 1;
  float *scratch;
  int threads = cpu_thread_count ();
  if ((st = cpu_scratch (ctx, (size_t) (threads * (dh + 2 * pairs)) * sizeof (float),
                         (void **) &scratch)) != RL_OK)
    return st;
#pragma omp parallel for schedule(static)
  for (int64_t bl = 0; bl < batch * len; bl++)
    {
      float *row = scratch + cpu_thread_slot () * (dh + 2 * pairs);
      float *c = row + dh, *s = c + pairs;
      int64_t table_row = per_batch ? bl : bl % len;
      cpu_load_row (cos_t->dtype, cos_t->data, table_row * pairs, 1, pairs, c);
      cpu_load_row (sin_t->dtype, sin_t->data, table_row * pairs, 1, pairs, s);
      for (int64_t h = 0; h < heads; h++)
        {
          int64_t off = (bl * heads + h) * dh;
          cpu_load_row (x->dtype, x->data, off, 1, dh, row);
          for (int64_t p = 0; p < pairs; p++)
            {
              float x0 = row[2 * p], x1 = row[2 * p + 1];
              row[2 * p] = c[p] * x0 - s[p] * x1;
              row[2 * p + 1] = s[p] * x0 + c[p] * x1;
            }
          cpu_store_row (y->dtype, y->data, off, 1, dh, row);
        }
    }
  cpu_scratch_free (ctx, scratch);
  return RL_OK;
}
