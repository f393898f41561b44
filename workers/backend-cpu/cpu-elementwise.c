/* Elementwise ops with numpy broadcasting and arbitrary strides: add, mul,
 * activation, scale_shift, fill. Work is split by rows of the output's
 * last dim; each row is loaded to f32, computed, rounded once. */
#include "workers/backend-cpu/cpu-internal.h"

typedef struct {
  RlActivation act;
  float        alpha;
  float        beta;
} RowParams;

typedef void (*RowFn) (float *out, const float *a, const float *b, int64_t n,
                       const RowParams *p);

/* Strides that read `t` as if it had y's shape (0 on broadcast dims). */
static RlStatus
broadcast_strides (const char *op, const char *arg, const RlTensor *t,
                   const RlTensor *y, int64_t *strides)
{
  char dt[RL_TENSOR_DESCRIBE_SIZE], dy[RL_TENSOR_DESCRIBE_SIZE];
  int lead = y->ndim - t->ndim;

  if (lead < 0)
    goto mismatch;
  for (int d = 0; d < y->ndim; d++)
    {
      int e = d - lead;
      if (e < 0)
        strides[d] = 0;
      else if (t->shape[e] == y->shape[d])
        strides[d] = t->shape[e] == 1 ? 0 : t->strides[e];
      else if (t->shape[e] == 1)
        strides[d] = 0;
      else
        goto mismatch;
    }
  return RL_OK;
mismatch:
  return rl_set_error (RL_E_SHAPE, "%s: %s %s does not broadcast to the output %s", op, arg,
                       rl_tensor_describe (t, dt, sizeof dt), rl_tensor_describe (y, dy, sizeof dy));
}

static RlStatus
run_rows (RlContext *ctx, const char *op, RlTensor *y, const RlTensor *a,
          const RlTensor *b, RowFn fn, const RowParams *params)
{
  int64_t sa[RL_MAX_DIMS] = { 0 }, sb[RL_MAX_DIMS] = { 0 };
  RlStatus st;

  if ((st = cpu_check (op, "y", y, CPU_FLOAT)) != RL_OK
      || (a != NULL && (st = cpu_check (op, "a", a, CPU_FLOAT | CPU_FLOAT8)) != RL_OK)
      || (b != NULL && (st = cpu_check (op, "b", b, CPU_FLOAT | CPU_FLOAT8)) != RL_OK))
    return st;
  if ((a != NULL && (st = broadcast_strides (op, "a", a, y, sa)) != RL_OK)
      || (b != NULL && (st = broadcast_strides (op, "b", b, y, sb)) != RL_OK))
    return st;
  int last = y->ndim - 1;
  int64_t n = y->ndim > 0 ? y->shape[last] : 1;
  int64_t rows = n > 0 ? rl_tensor_numel (y) / n : 0;
  int64_t y_step = y->ndim > 0 ? y->strides[last] : 1;
  int64_t a_step = y->ndim > 0 ? sa[last] : 1;
  int64_t b_step = y->ndim > 0 ? sb[last] : 1;
  float sc_a = a != NULL ? rl_tensor_scale (a) : 1.0f;
  float sc_b = b != NULL ? rl_tensor_scale (b) : 1.0f;
  float *scratch;
  int threads = cpu_thread_count ();

  if ((st = cpu_scratch (ctx, (size_t) (threads * 3 * n) * sizeof (float), (void **) &scratch)) != RL_OK)
    return st;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; r++)
    {
      float *out = scratch + cpu_thread_slot () * 3 * n;
      float *ra = out + n, *rb = out + 2 * n;
      if (a != NULL)
        {
          cpu_load_row (a->dtype, a->data, cpu_outer_offset (last, y->shape, sa, r), a_step, n, ra);
          if (sc_a != 1.0f)
            for (int64_t i = 0; i < n; i++)
              ra[i] *= sc_a;
        }
      if (b != NULL)
        {
          cpu_load_row (b->dtype, b->data, cpu_outer_offset (last, y->shape, sb, r), b_step, n, rb);
          if (sc_b != 1.0f)
            for (int64_t i = 0; i < n; i++)
              rb[i] *= sc_b;
        }
      fn (out, ra, rb, n, params);
      cpu_store_row (y->dtype, y->data, cpu_outer_offset (last, y->shape, y->strides, r), y_step, n, out);
    }
  cpu_scratch_free (ctx, scratch);
  return RL_OK;
}

static void
row_add (float *out, const float *a, const float *b, int64_t n, const RowParams *p)
{
  for (int64_t i = 0; i < n; i++)
    out[i] = p->alpha * a[i] + p->beta * b[i];
}

static void
row_mul (float *out, const float *a, const float *b, int64_t n, const RowParams *p)
{
  for (int64_t i = 0; i < n; i++)
    out[i] = a[i] * b[i];
}

static void
row_activation (float *out, const float *a, const float *b, int64_t n, const RowParams *p)
{
  for (int64_t i = 0; i < n; i++)
    out[i] = cpu_activate (p->act, a[i]);
}

static void
row_scale_shift (float *out, const float *a, const float *b, int64_t n, const RowParams *p)
{
  for (int64_t i = 0; i < n; i++)
    out[i] = a[i] * p->alpha + p->beta;
}

static void
row_fill (float *out, const float *a, const float *b, int64_t n, const RowParams *p)
{
  for (int64_t i = 0; i < n; i++)
    out[i] = p->alpha;
}

RlStatus
cpu_add (RlContext *ctx, RlTensor *y, const RlTensor *a, const RlTensor *b,
         float alpha, float beta)
{
  RowParams p = { .alpha = alpha, .beta = beta };
  if (a == NULL || b == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "add: a and b are required");
  return run_rows (ctx, "add", y, a, b, row_add, &p);
}

RlStatus
cpu_mul (RlContext *ctx, RlTensor *y, const RlTensor *a, const RlTensor *b)
{
  RowParams p = { 0 };
  if (a == NULL || b == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "mul: a and b are required");
  return run_rows (ctx, "mul", y, a, b, row_mul, &p);
}

RlStatus
cpu_activation (RlContext *ctx, RlTensor *y, const RlTensor *x, RlActivation act)
{
  RowParams p = { .act = act };
  if (x == NULL || y == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "activation: x and y are required");
  if (act < RL_ACT_NONE || act > RL_ACT_GELU_ERF)
    return rl_set_error (RL_E_INVALID_ARG, "activation: unknown activation %d", (int) act);
  if (!rl_tensor_same_shape (x, y))
    return cpu_check_same_shape ("activation", "y", y, "x", x);
  return run_rows (ctx, "activation", y, x, NULL, row_activation, &p);
}

RlStatus
cpu_scale_shift (RlContext *ctx, RlTensor *y, const RlTensor *x, float alpha, float beta)
{
  RowParams p = { .alpha = alpha, .beta = beta };
  if (x == NULL || y == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "scale_shift: x and y are required");
  if (!rl_tensor_same_shape (x, y))
    return cpu_check_same_shape ("scale_shift", "y", y, "x", x);
  return run_rows (ctx, "scale_shift", y, x, NULL, row_scale_shift, &p);
}

RlStatus
cpu_fill (RlContext *ctx, RlTensor *y, float value)
{
  RowParams p = { .alpha = value };
  RlStatus st = cpu_check ("fill", "y", y, CPU_PLAIN);
  if (st != RL_OK)
    return st;
  if (y->dtype == RL_F32 || y->dtype == RL_F16 || y->dtype == RL_BF16)
    return run_rows (ctx, "fill", y, NULL, NULL, row_fill, &p);
  /* Other dtypes (f8, f64, integers): element by element. */
  int64_t numel = rl_tensor_numel (y);
  for (int64_t i = 0; i < numel; i++)
    cpu_store (y->dtype, y->data, cpu_outer_offset (y->ndim, y->shape, y->strides, i), value);
  return RL_OK;
}
