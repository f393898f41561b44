/* Normalisation, modulation, RoPE, softmax and reduction ops of the CUDA
 * op table. */
#include "cuda-internal.h"

#include "cuda-elementwise.h"
#include "cuda-channel-norm.h"
#include "cuda-norm.h"

/* An optional [d] vector as dense f32 on the device (*out NULL if absent). */
static RlStatus
load_vector (RlContext *ctx, const char *op, const char *arg, const RlTensor *t, int64_t d,
             void **out, bool *owned)
{
  char desc[RL_TENSOR_DESCRIBE_SIZE];
  *out = NULL;
  *owned = false;
  if (t == NULL)
    return RL_OK;
  RlStatus st = cuda_check (ctx, op, arg, t, CUDA_FLOAT);
  if (st != RL_OK)
    return st;
  if (rl_tensor_numel (t) != d || t->ndim < 1 || t->shape[t->ndim - 1] != d)
    return rl_set_error (RL_E_SHAPE, "%s: %s is %s; expected [%lld]", op, arg,
                         rl_tensor_describe (t, desc, sizeof desc), (long long) d);
  return cuda_dense_as (ctx, op, t, RL_F32, out, owned);
}

static void
free_vector (RlContext *ctx, void *data, bool owned)
{
  if (owned)
    cuda_scratch_free (ctx, data);
}

/* Describes a modulation tensor [B or 1, G, D] or [B or 1, D] with a
 * contiguous last dim as a row vector. */
static RlStatus
modulation_vector (RlContext *ctx, const char *op, const char *arg, const RlTensor *m,
                   int64_t batch, int64_t d, RlTokenGroups groups, RlCudaRowVector *out)
{
  char desc[RL_TENSOR_DESCRIBE_SIZE];
  RlStatus st = cuda_check (ctx, op, arg, m, CUDA_FLOAT);
  if (st != RL_OK)
    return st;
  bool ok = (m->ndim == 2 || m->ndim == 3) && m->shape[m->ndim - 1] == d
            && (m->shape[0] == batch || m->shape[0] == 1) && m->strides[m->ndim - 1] == 1;
  if (!ok)
    return rl_set_error (RL_E_SHAPE, "%s: %s is %s; expected [%lld or 1, G, %lld] with a "
                         "contiguous last dim", op, arg, rl_tensor_describe (m, desc, sizeof desc),
                         (long long) batch, (long long) d);
  *out = (RlCudaRowVector) {
    .ptr = m->data,
    .dtype = cuda_type (m->dtype),
    .batch_stride = m->shape[0] == 1 ? 0 : m->strides[0],
    .groups = 1,
  };
  if (m->ndim == 3 && m->shape[1] > 1) {
    out->groups = m->shape[1];
    out->group_stride = m->strides[1];
    out->tokens_per_group = groups.tokens_per_group > 0 ? groups.tokens_per_group : 1;
    out->token_offset = groups.token_offset > 0 ? groups.token_offset : 0;
  }
  return RL_OK;
}

static RlStatus
check_tokens (RlContext *ctx, const char *op, const char *arg, const RlTensor *t, unsigned flags)
{
  char desc[RL_TENSOR_DESCRIBE_SIZE];
  RlStatus st = cuda_check (ctx, op, arg, t, flags);
  if (st == RL_OK && t->ndim != 3)
    return rl_set_error (RL_E_SHAPE, "%s: %s is %s; expected [B, L, D]", op, arg,
                         rl_tensor_describe (t, desc, sizeof desc));
  return st;
}

/* The fused kernel with optional parts; shared by every norm op. */
static RlStatus
run_norm (RlContext *ctx, const char *op, RlCudaNormKind kind, RlTensor *y, const RlTensor *x,
          int64_t batch, int64_t tokens, int64_t d, const RlTensor *weight, const RlTensor *bias,
          float eps, const RlCudaRowVector *shift, const RlCudaRowVector *scale)
{
  void *w = NULL, *b = NULL;
  bool w_owned = false, b_owned = false;
  RlStatus st = load_vector (ctx, op, "weight", weight, d, &w, &w_owned);
  if (st == RL_OK)
    st = load_vector (ctx, op, "bias", bias, d, &b, &b_owned);
  if (st == RL_OK) {
    RlCudaNormModulate args = {
      .kind = kind, .eps = eps,
      .x = x->data, .x_type = cuda_type (x->dtype),
      .y = y->data, .y_type = cuda_type (y->dtype),
      .batch = batch, .tokens = tokens, .dim = d,
      .weight = w, .weight_type = CUDA_R_32F, .bias = b, .bias_type = CUDA_R_32F,
    };
    if (shift != NULL) args.shift = *shift;
    if (scale != NULL) args.scale = *scale;
    st = cuda_launch_status (rl_cuda_norm_modulate (&args, ctx->stream), op);
  }
  free_vector (ctx, w, w_owned);
  free_vector (ctx, b, b_owned);
  return st;
}

static RlStatus
row_norm (RlContext *ctx, const char *op, RlCudaNormKind kind, RlTensor *y, const RlTensor *x,
          const RlTensor *weight, const RlTensor *bias, float eps)
{
  char desc[RL_TENSOR_DESCRIBE_SIZE];
  RlStatus st;
  if ((st = cuda_check (ctx, op, "y", y, CUDA_FLOAT | CUDA_CONTIGUOUS)) != RL_OK
      || (st = cuda_check (ctx, op, "x", x, CUDA_FLOAT | CUDA_CONTIGUOUS)) != RL_OK
      || (st = cuda_check_same_shape (op, "y", y, "x", x)) != RL_OK)
    return st;
  if (x->ndim < 1)
    return rl_set_error (RL_E_SHAPE, "%s: x %s needs at least one dim", op,
                         rl_tensor_describe (x, desc, sizeof desc));
  int64_t d = x->shape[x->ndim - 1];
  if (d > 16384)
    return rl_set_error (RL_E_NOT_SUPPORTED, "%s: rows of %lld elements exceed the 16384 the "
                         "cuda kernel holds (x %s)", op, (long long) d,
                         rl_tensor_describe (x, desc, sizeof desc));
  if (d == 0 || rl_tensor_numel (x) == 0)
    return RL_OK;
  return run_norm (ctx, op, kind, y, x, 1, rl_tensor_numel (x) / d, d, weight, bias, eps, NULL,
                   NULL);
}

RlStatus
cuda_layer_norm (RlContext *ctx, RlTensor *y, const RlTensor *x, const RlTensor *weight,
                 const RlTensor *bias, float eps)
{
  return row_norm (ctx, "layer_norm", RL_CUDA_NORM_LAYER, y, x, weight, bias, eps);
}

RlStatus
cuda_rms_norm (RlContext *ctx, RlTensor *y, const RlTensor *x, const RlTensor *weight, float eps)
{
  return row_norm (ctx, "rms_norm", RL_CUDA_NORM_RMS, y, x, weight, NULL, eps);
}

RlStatus
cuda_norm_modulate (RlContext *ctx, RlTensor *y, const RlTensor *x, RlNormKind kind,
                    const RlTensor *norm_weight, const RlTensor *norm_bias, float eps,
                    const RlTensor *shift, const RlTensor *scale, RlTokenGroups groups)
{
  const char *op = "norm_modulate";
  RlStatus st;
  if ((st = check_tokens (ctx, op, "y", y, CUDA_FLOAT | CUDA_CONTIGUOUS)) != RL_OK
      || (st = check_tokens (ctx, op, "x", x, CUDA_FLOAT | CUDA_CONTIGUOUS)) != RL_OK
      || (st = cuda_check_same_shape (op, "y", y, "x", x)) != RL_OK)
    return st;
  if (kind != RL_NORM_LAYER && kind != RL_NORM_RMS)
    return rl_set_error (RL_E_INVALID_ARG, "%s: unknown norm kind %d", op, (int) kind);
  int64_t batch = x->shape[0], len = x->shape[1], d = x->shape[2];
  RlCudaRowVector sh, sc;
  if ((st = modulation_vector (ctx, op, "shift", shift, batch, d, groups, &sh)) != RL_OK
      || (st = modulation_vector (ctx, op, "scale", scale, batch, d, groups, &sc)) != RL_OK)
    return st;
  if (d > 16384)
    return rl_set_error (RL_E_NOT_SUPPORTED, "%s: D = %lld exceeds 16384", op, (long long) d);
  if (batch * len == 0 || d == 0)
    return RL_OK;
  return run_norm (ctx, op, kind == RL_NORM_LAYER ? RL_CUDA_NORM_LAYER : RL_CUDA_NORM_RMS, y, x,
                   batch, len, d, norm_weight, norm_bias, eps, &sh, &sc);
}

RlStatus
cuda_gated_residual (RlContext *ctx, RlTensor *x, const RlTensor *y, const RlTensor *gate,
                     RlTokenGroups groups)
{
  const char *op = "gated_residual";
  RlStatus st;
  if ((st = check_tokens (ctx, op, "x", x, CUDA_FLOAT | CUDA_CONTIGUOUS)) != RL_OK
      || (st = check_tokens (ctx, op, "y", y, CUDA_FLOAT | CUDA_CONTIGUOUS)) != RL_OK
      || (st = cuda_check_same_shape (op, "x", x, "y", y)) != RL_OK)
    return st;
  int64_t batch = x->shape[0], len = x->shape[1], d = x->shape[2];
  RlCudaRowVector g = { .ptr = NULL, .groups = 1 };
  if (gate != NULL && (st = modulation_vector (ctx, op, "gate", gate, batch, d, groups, &g)) != RL_OK)
    return st;
  if (batch * len == 0 || d == 0)
    return RL_OK;
  return cuda_launch_status (rl_cuda_gated_residual (x->data, cuda_type (x->dtype), y->data,
                                                     cuda_type (y->dtype), g, batch, len, d,
                                                     ctx->stream), op);
}

/* [B, C, spatial...] with at least 2 dims: B, C and the spatial count. */
static RlStatus
channel_layout (const char *op, const RlTensor *x, int64_t *b, int64_t *c, int64_t *s)
{
  char desc[RL_TENSOR_DESCRIBE_SIZE];
  if (x->ndim < 2)
    return rl_set_error (RL_E_SHAPE, "%s: x %s must be [B, C, ...]", op,
                         rl_tensor_describe (x, desc, sizeof desc));
  *b = x->shape[0];
  *c = x->shape[1];
  *s = cuda_span (x, 2, x->ndim);
  return RL_OK;
}

RlStatus
cuda_group_norm (RlContext *ctx, RlTensor *y, const RlTensor *x, int groups,
                 const RlTensor *weight, const RlTensor *bias, float eps)
{
  const char *op = "group_norm";
  char desc[RL_TENSOR_DESCRIBE_SIZE];
  int64_t batch, ch, sp;
  RlStatus st;
  if ((st = cuda_check (ctx, op, "y", y, CUDA_FLOAT | CUDA_CONTIGUOUS)) != RL_OK
      || (st = cuda_check (ctx, op, "x", x, CUDA_FLOAT | CUDA_CONTIGUOUS)) != RL_OK
      || (st = cuda_check_same_shape (op, "y", y, "x", x)) != RL_OK
      || (st = channel_layout (op, x, &batch, &ch, &sp)) != RL_OK)
    return st;
  if (groups <= 0 || ch % groups != 0)
    return rl_set_error (RL_E_INVALID_ARG, "%s: %d groups do not divide the %lld channels of %s",
                         op, groups, (long long) ch, rl_tensor_describe (x, desc, sizeof desc));
  if (batch == 0 || sp == 0)
    return RL_OK;
  void *w = NULL, *b = NULL, *stats = NULL;
  bool w_owned = false, b_owned = false;
  if ((st = load_vector (ctx, op, "weight", weight, ch, &w, &w_owned)) == RL_OK
      && (st = load_vector (ctx, op, "bias", bias, ch, &b, &b_owned)) == RL_OK
      && (st = cuda_scratch (ctx, (size_t) (2 * batch * groups) * sizeof (float), &stats)) == RL_OK)
    st = cuda_launch_status (rl_cuda_group_norm (y->data, cuda_type (y->dtype), x->data,
                                                 cuda_type (x->dtype), batch, ch, sp, groups, eps,
                                                 w, b, CUDA_R_32F, stats, ctx->stream), op);
  if (stats != NULL)
    cuda_scratch_free (ctx, stats);
  free_vector (ctx, w, w_owned);
  free_vector (ctx, b, b_owned);
  return st;
}

RlStatus
cuda_channel_rms_norm (RlContext *ctx, RlTensor *y, const RlTensor *x, const RlTensor *gamma,
                       const RlTensor *bias, float eps)
{
  const char *op = "channel_rms_norm";
  int64_t batch, ch, sp;
  RlStatus st;
  if ((st = cuda_check (ctx, op, "y", y, CUDA_FLOAT | CUDA_CONTIGUOUS)) != RL_OK
      || (st = cuda_check (ctx, op, "x", x, CUDA_FLOAT | CUDA_CONTIGUOUS)) != RL_OK
      || (st = cuda_check_same_shape (op, "y", y, "x", x)) != RL_OK
      || (st = channel_layout (op, x, &batch, &ch, &sp)) != RL_OK)
    return st;
  if (gamma == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "%s: gamma is required", op);
  if (batch == 0 || sp == 0)
    return RL_OK;
  void *g = NULL, *b = NULL;
  bool g_owned = false, b_owned = false;
  if ((st = load_vector (ctx, op, "gamma", gamma, ch, &g, &g_owned)) == RL_OK
      && (st = load_vector (ctx, op, "bias", bias, ch, &b, &b_owned)) == RL_OK)
    st = cuda_launch_status (rl_cuda_channel_rms_norm (y->data, cuda_type (y->dtype), x->data,
                                                       cuda_type (x->dtype), batch, ch, sp, eps, g,
                                                       b, CUDA_R_32F, ctx->stream), op);
  free_vector (ctx, g, g_owned);
  free_vector (ctx, b, b_owned);
  return st;
}

RlStatus
cuda_rope (RlContext *ctx, RlTensor *y, const RlTensor *x, const RlTensor *cos_t,
           const RlTensor *sin_t)
{
  const char *op = "rope";
  char desc[RL_TENSOR_DESCRIBE_SIZE];
  RlStatus st;
  if ((st = cuda_check (ctx, op, "y", y, CUDA_FLOAT | CUDA_CONTIGUOUS)) != RL_OK
      || (st = cuda_check (ctx, op, "x", x, CUDA_FLOAT | CUDA_CONTIGUOUS)) != RL_OK
      || (st = cuda_check (ctx, op, "cos", cos_t, CUDA_CONTIGUOUS)) != RL_OK
      || (st = cuda_check (ctx, op, "sin", sin_t, CUDA_CONTIGUOUS)) != RL_OK
      || (st = cuda_check_same_shape (op, "y", y, "x", x)) != RL_OK
      || (st = cuda_check_same_shape (op, "cos", cos_t, "sin", sin_t)) != RL_OK)
    return st;
  if (x->ndim != 4 || x->shape[3] % 2 != 0)
    return rl_set_error (RL_E_SHAPE, "%s: x %s must be [B, L, H, Dh] with Dh even", op,
                         rl_tensor_describe (x, desc, sizeof desc));
  int64_t batch = x->shape[0], len = x->shape[1], heads = x->shape[2], dh = x->shape[3];
  int tn = cos_t->ndim;
  bool table_ok = cos_t->dtype == RL_F32 && sin_t->dtype == RL_F32 && (tn == 2 || tn == 3)
                  && cos_t->shape[tn - 2] == len && cos_t->shape[tn - 1] <= dh / 2
                  && (tn == 2 || cos_t->shape[0] == batch || cos_t->shape[0] == 1);
  if (!table_ok)
    return rl_set_error (RL_E_SHAPE, "%s: cos %s must be f32 [L, P] or [B, L, P] with L = %lld "
                         "and P <= %lld", op, rl_tensor_describe (cos_t, desc, sizeof desc),
                         (long long) len, (long long) (dh / 2));
  if (batch * len * heads == 0 || dh == 0)
    return RL_OK;
  int64_t pairs = cos_t->shape[tn - 1];
  RlCudaRope rope = {
    .cos = cos_t->data, .sin = sin_t->data, .pairs = pairs, .head_dim = dh,
    .batch_stride = tn == 3 && cos_t->shape[0] == batch && batch > 1 ? len * pairs : 0,
  };
  return cuda_launch_status (rl_cuda_rope (y->data, cuda_type (y->dtype), x->data,
                                           cuda_type (x->dtype), batch, len, heads, rope,
                                           ctx->stream), op);
}

RlStatus
cuda_softmax (RlContext *ctx, RlTensor *y, const RlTensor *x)
{
  const char *op = "softmax";
  RlStatus st;
  if ((st = cuda_check (ctx, op, "y", y, CUDA_FLOAT | CUDA_CONTIGUOUS)) != RL_OK
      || (st = cuda_check (ctx, op, "x", x, CUDA_FLOAT | CUDA_CONTIGUOUS)) != RL_OK
      || (st = cuda_check_same_shape (op, "y", y, "x", x)) != RL_OK)
    return st;
  int64_t cols = x->ndim > 0 ? x->shape[x->ndim - 1] : 1;
  if (cols == 0 || rl_tensor_numel (x) == 0)
    return RL_OK;
  return cuda_launch_status (rl_cuda_softmax (y->data, cuda_type (y->dtype), x->data,
                                              cuda_type (x->dtype), rl_tensor_numel (x) / cols,
                                              cols, NULL, ctx->stream), op);
}

RlStatus
cuda_reduce (RlContext *ctx, RlTensor *y, const RlTensor *x, int dim, RlReduceKind kind)
{
  const char *op = "reduce";
  char dx[RL_TENSOR_DESCRIBE_SIZE], dy[RL_TENSOR_DESCRIBE_SIZE];
  RlStatus st;
  if ((st = cuda_check (ctx, op, "y", y, CUDA_FLOAT | CUDA_CONTIGUOUS)) != RL_OK
      || (st = cuda_check (ctx, op, "x", x, CUDA_FLOAT)) != RL_OK)
    return st;
  int d = dim < 0 ? dim + x->ndim : dim;
  if (d < 0 || d >= x->ndim)
    return rl_set_error (RL_E_INVALID_ARG, "reduce: dim %d out of range for x %s", dim,
                         rl_tensor_describe (x, dx, sizeof dx));
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
  if (rl_tensor_numel (y) == 0)
    return RL_OK;
  if (n == 0)
    return cuda_launch_status (rl_cuda_fill (y->data, cuda_type (y->dtype), rl_tensor_numel (y),
                                             0.0f, ctx->stream), op);
  void *xs = NULL;
  bool owned = false;
  if ((st = cuda_dense_as (ctx, op, x, x->dtype, &xs, &owned)) != RL_OK)
    return st;
  RlCudaReduceKind k = kind == RL_REDUCE_MEAN ? RL_CUDA_REDUCE_MEAN
                       : kind == RL_REDUCE_MAX ? RL_CUDA_REDUCE_MAX : RL_CUDA_REDUCE_SUM;
  st = cuda_launch_status (rl_cuda_reduce (k, y->data, cuda_type (y->dtype), xs,
                                           cuda_type (x->dtype), cuda_span (x, 0, d), n,
                                           cuda_span (x, d + 1, x->ndim), ctx->stream), op);
  if (owned)
    cuda_scratch_free (ctx, xs);
  return st;
}
