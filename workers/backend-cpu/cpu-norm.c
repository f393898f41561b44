/* Normalisations: layer/RMS norm over the last dim (optionally fused with
 * adaLN modulation), gated residual, group norm and Wan's channel RMS
 * norm. Statistics are accumulated in double in a fixed order, one row per
 * thread, so results do not depend on the thread count. */
#include "workers/backend-cpu/cpu-internal.h"

#include <math.h>

/* Normalises row[0..d) in place. */
static void
normalize_row (RlNormKind kind, float *row, int64_t d, float eps)
{
  double mean = 0.0;
  if (kind == RL_NORM_LAYER)
    {
      double sum = 0.0;
      for (int64_t i = 0; i < d; i++)
        sum += row[i];
      mean = d > 0 ? sum / (double) d : 0.0;
    }
  double sq = 0.0;
  for (int64_t i = 0; i < d; i++)
    {
      double v = row[i] - mean;
      sq += v * v;
    }
  double var = d > 0 ? sq / (double) d : 0.0;
  float inv = (float) (1.0 / sqrt (var + (double) eps));
  float fmean = (float) mean;
  for (int64_t i = 0; i < d; i++)
    row[i] = (row[i] - fmean) * inv;
}

/* Optional [D] vector as dense f32 (NULL stays NULL). */
static RlStatus
load_vector (RlContext *ctx, const char *op, const char *arg, const RlTensor *t,
             int64_t d, float **out, bool *owned)
{
  char desc[RL_TENSOR_DESCRIBE_SIZE];
  RlStatus st;

  *out = NULL;
  *owned = false;
  if (t == NULL)
    return RL_OK;
  if ((st = cpu_check (op, arg, t, CPU_FLOAT)) != RL_OK)
    return st;
  if (rl_tensor_numel (t) != d || t->ndim < 1 || t->shape[t->ndim - 1] != d)
    return rl_set_error (RL_E_SHAPE, "%s: %s is %s; expected [%lld]", op, arg,
                         rl_tensor_describe (t, desc, sizeof desc), (long long) d);
  return cpu_dense_f32 (ctx, t, out, owned);
}

/* A norm's optional affine parameters as dense f32 rows, shared by
 * layer_norm, rms_norm and norm_modulate. */
typedef struct {
  float *w, *b;
  bool   w_owned, b_owned;
} Affine;

static RlStatus
load_affine (RlContext *ctx, const char *op, const char *weight_name, const RlTensor *weight,
             const char *bias_name, const RlTensor *bias, int64_t d, Affine *a)
{
  RlStatus st = load_vector (ctx, op, weight_name, weight, d, &a->w, &a->w_owned);
  if (st == RL_OK)
    st = load_vector (ctx, op, bias_name, bias, d, &a->b, &a->b_owned);
  return st;
}

static void
free_affine (RlContext *ctx, Affine *a)
{
  if (a->w != NULL)
    cpu_dense_f32_free (ctx, a->w, a->w_owned);
  if (a->b != NULL)
    cpu_dense_f32_free (ctx, a->b, a->b_owned);
}

/* row[i]·w[i] + b[i], each factor optional. */
static inline float
apply_affine (const Affine *a, const float *row, int64_t i)
{
  float v = a->w != NULL ? row[i] * a->w[i] : row[i];
  return a->b != NULL ? v + a->b[i] : v;
}

/* Row-wise norm with optional affine, shared by layer_norm and rms_norm. */
static RlStatus
row_norm (RlContext *ctx, const char *op, RlNormKind kind, RlTensor *y,
          const RlTensor *x, const RlTensor *weight, const RlTensor *bias, float eps)
{
  RlStatus st;
  if ((st = cpu_check (op, "y", y, CPU_FLOAT | CPU_CONTIGUOUS)) != RL_OK
      || (st = cpu_check (op, "x", x, CPU_FLOAT | CPU_CONTIGUOUS)) != RL_OK
      || (st = cpu_check_same_shape (op, "y", y, "x", x)) != RL_OK)
    return st;
  if (x->ndim < 1)
    return rl_set_error (RL_E_SHAPE, "%s: x must have at least one dim", op);
  int64_t d = x->shape[x->ndim - 1];
  int64_t rows = d > 0 ? rl_tensor_numel (x) / d : 0;
  float *scratch = NULL;
  Affine aff = { 0 };

  if ((st = load_affine (ctx, op, "weight", weight, "bias", bias, d, &aff)) != RL_OK)
    goto out;
  int threads = cpu_thread_count ();
  if ((st = cpu_scratch (ctx, (size_t) (threads * d) * sizeof (float), (void **) &scratch)) != RL_OK)
    goto out;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; r++)
    {
      float *row = scratch + cpu_thread_slot () * d;
      cpu_load_row (x->dtype, x->data, r * d, 1, d, row);
      normalize_row (kind, row, d, eps);
      for (int64_t i = 0; i < d; i++)
        row[i] = apply_affine (&aff, row, i);
      cpu_store_row (y->dtype, y->data, r * d, 1, d, row);
    }
out:
  if (scratch != NULL)
    cpu_scratch_free (ctx, scratch);
  free_affine (ctx, &aff);
  return st;
}

RlStatus
cpu_layer_norm (RlContext *ctx, RlTensor *y, const RlTensor *x,
                const RlTensor *weight, const RlTensor *bias, float eps)
{
  return row_norm (ctx, "layer_norm", RL_NORM_LAYER, y, x, weight, bias, eps);
}

RlStatus
cpu_rms_norm (RlContext *ctx, RlTensor *y, const RlTensor *x,
              const RlTensor *weight, float eps)
{
  return row_norm (ctx, "rms_norm", RL_NORM_RMS, y, x, weight, NULL, eps);
}

/* A [B, G, D] modulation tensor: 2-D [B, D] counts as G = 1. Returns the
 * element offset of (b, g, 0); batch 1 broadcasts. */
static RlStatus
check_modulation (const char *op, const char *arg, const RlTensor *m,
                  int64_t batch, int64_t d)
{
  char desc[RL_TENSOR_DESCRIBE_SIZE];
  RlStatus st;
  if ((st = cpu_check (op, arg, m, CPU_FLOAT)) != RL_OK)
    return st;
  bool ok = (m->ndim == 2 || m->ndim == 3) && m->shape[m->ndim - 1] == d
            && (m->shape[0] == batch || m->shape[0] == 1) && m->strides[m->ndim - 1] == 1;
  if (!ok)
    return rl_set_error (RL_E_SHAPE, "%s: %s is %s; expected [%lld or 1, G, %lld] with a contiguous last dim",
                         op, arg, rl_tensor_describe (m, desc, sizeof desc),
                         (long long) batch, (long long) d);
  return RL_OK;
}

static int64_t
modulation_offset (const RlTensor *m, int64_t b, int64_t token, RlTokenGroups groups)
{
  int64_t bi = m->shape[0] == 1 ? 0 : b;
  int64_t offset = bi * m->strides[0];
  if (m->ndim == 3 && m->shape[1] > 1)
    {
      int64_t per = groups.tokens_per_group > 0 ? groups.tokens_per_group : 1;
      int64_t g = (groups.token_offset + token) / per;
      if (g < 0)
        g = 0;
      if (g >= m->shape[1])
        g = m->shape[1] - 1;
      offset += g * m->strides[1];
    }
  return offset;
}

static RlStatus
check_tokens (const char *op, const char *arg, const RlTensor *t, unsigned flags)
{
  char desc[RL_TENSOR_DESCRIBE_SIZE];
  RlStatus st = cpu_check (op, arg, t, flags);
  if (st == RL_OK && t->ndim != 3)
    return rl_set_error (RL_E_SHAPE, "%s: %s is %s; expected [B, L, D]", op, arg,
                         rl_tensor_describe (t, desc, sizeof desc));
  return st;
}

RlStatus
cpu_norm_modulate (RlContext *ctx, RlTensor *y, const RlTensor *x, RlNormKind kind,
                   const RlTensor *norm_weight, const RlTensor *norm_bias, float eps,
                   const RlTensor *shift, const RlTensor *scale, RlTokenGroups groups)
{
  const char *op = "norm_modulate";
  RlStatus st;

  if ((st = check_tokens (op, "y", y, CPU_FLOAT | CPU_CONTIGUOUS)) != RL_OK
      || (st = check_tokens (op, "x", x, CPU_FLOAT | CPU_CONTIGUOUS)) != RL_OK
      || (st = cpu_check_same_shape (op, "y", y, "x", x)) != RL_OK)
    return st;
  if (kind != RL_NORM_LAYER && kind != RL_NORM_RMS)
    return rl_set_error (RL_E_INVALID_ARG, "%s: unknown norm kind %d", op, (int) kind);
  int64_t batch = x->shape[0], len = x->shape[1], d = x->shape[2];
  if ((st = check_modulation (op, "shift", shift, batch, d)) != RL_OK
      || (st = check_modulation (op, "scale", scale, batch, d)) != RL_OK)
    return st;

  float *scratch = NULL;
  Affine aff = { 0 };
  if ((st = load_affine (ctx, op, "norm_weight", norm_weight, "norm_bias", norm_bias, d, &aff)) != RL_OK)
    goto out;
  int threads = cpu_thread_count ();
  if ((st = cpu_scratch (ctx, (size_t) (threads * 3 * d) * sizeof (float), (void **) &scratch)) != RL_OK)
    goto out;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < batch * len; r++)
    {
      float *row = scratch + cpu_thread_slot () * 3 * d;
      float *sh = row + d, *sc = row + 2 * d;
      int64_t bi = r / len, l = r % len;
      cpu_load_row (x->dtype, x->data, r * d, 1, d, row);
      cpu_load_row (shift->dtype, shift->data, modulation_offset (shift, bi, l, groups), 1, d, sh);
      cpu_load_row (scale->dtype, scale->data, modulation_offset (scale, bi, l, groups), 1, d, sc);
      normalize_row (kind, row, d, eps);
      for (int64_t i = 0; i < d; i++)
        row[i] = apply_affine (&aff, row, i) * (1.0f + sc[i]) + sh[i];
      cpu_store_row (y->dtype, y->data, r * d, 1, d, row);
    }
out:
  if (scratch != NULL)
    cpu_scratch_free (ctx, scratch);
  free_affine (ctx, &aff);
  return st;
}

RlStatus
cpu_gated_residual (RlContext *ctx, RlTensor *x, const RlTensor *y,
                    const RlTensor *gate, RlTokenGroups groups)
{
  const char *op = "gated_residual";
  RlStatus st;

  if ((st = check_tokens (op, "x", x, CPU_FLOAT | CPU_CONTIGUOUS)) != RL_OK
      || (st = check_tokens (op, "y", y, CPU_FLOAT | CPU_CONTIGUOUS)) != RL_OK
      || (st = cpu_check_same_shape (op, "x", x, "y", y)) != RL_OK)
    return st;
  int64_t batch = x->shape[0], len = x->shape[1], d = x->shape[2];
  if (gate != NULL && (st = check_modulation (op, "gate", gate, batch, d)) != RL_OK)
    return st;
  float *scratch;
  int threads = cpu_thread_count ();
  if ((st = cpu_scratch (ctx, (size_t) (threads * 3 * d) * sizeof (float), (void **) &scratch)) != RL_OK)
    return st;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < batch * len; r++)
    {
      float *xr = scratch + cpu_thread_slot () * 3 * d;
      float *yr = xr + d, *gr = xr + 2 * d;
      cpu_load_row (x->dtype, x->data, r * d, 1, d, xr);
      cpu_load_row (y->dtype, y->data, r * d, 1, d, yr);
      if (gate != NULL)
        {
          cpu_load_row (gate->dtype, gate->data, modulation_offset (gate, r / len, r % len, groups),
                        1, d, gr);
          for (int64_t i = 0; i < d; i++)
            xr[i] += yr[i] * gr[i];
        }
      else
        for (int64_t i = 0; i < d; i++)
          xr[i] += yr[i];
      cpu_store_row (x->dtype, x->data, r * d, 1, d, xr);
    }
  cpu_scratch_free (ctx, scratch);
  return RL_OK;
}

/* [B, C, spatial...] with at least 2 dims: returns B, C and the spatial
 * element count S. */
static RlStatus
channel_layout (const char *op, const RlTensor *x, int64_t *b, int64_t *c, int64_t *s)
{
  char desc[RL_TENSOR_DESCRIBE_SIZE];
  if (x->ndim < 2)
    return rl_set_error (RL_E_SHAPE, "%s: x %s must be [B, C, ...]", op,
                         rl_tensor_describe (x, desc, sizeof desc));
  *b = x->shape[0];
  *c = x->shape[1];
  *s = 1;
  for (int i = 2; i < x->ndim; i++)
    *s *= x->shape[i];
  return RL_OK;
}

RlStatus
cpu_group_norm (RlContext *ctx, RlTensor *y, const RlTensor *x, int groups,
                const RlTensor *weight, const RlTensor *bias, float eps)
{
  const char *op = "group_norm";
  char desc[RL_TENSOR_DESCRIBE_SIZE];
  int64_t batch, ch, sp;
  RlStatus st;

  if ((st = cpu_check (op, "y", y, CPU_FLOAT | CPU_CONTIGUOUS)) != RL_OK
      || (st = cpu_check (op, "x", x, CPU_FLOAT | CPU_CONTIGUOUS)) != RL_OK
      || (st = cpu_check_same_shape (op, "y", y, "x", x)) != RL_OK
      || (st = channel_layout (op, x, &batch, &ch, &sp)) != RL_OK)
    return st;
  if (groups <= 0 || ch % groups != 0)
    return rl_set_error (RL_E_INVALID_ARG, "%s: %d groups do not divide the %lld channels of %s",
                         op, groups, (long long) ch, rl_tensor_describe (x, desc, sizeof desc));
  float *w = NULL, *b = NULL, *scratch = NULL;
  bool w_owned = false, b_owned = false;
  int64_t cpg = ch / groups;
  int64_t n = cpg * sp;
  if ((st = load_vector (ctx, op, "weight", weight, ch, &w, &w_owned)) != RL_OK)
    return st;
  if ((st = load_vector (ctx, op, "bias", bias, ch, &b, &b_owned)) != RL_OK)
    goto out;
  int threads = cpu_thread_count ();
  if ((st = cpu_scratch (ctx, (size_t) (threads * n) * sizeof (float), (void **) &scratch)) != RL_OK)
    goto out;
#pragma omp parallel for schedule(static)
  for (int64_t bg = 0; bg < batch * groups; bg++)
    {
      float *buf = scratch + cpu_thread_slot () * n;
      int64_t c0 = (bg % groups) * cpg;
      int64_t base = bg * n;   /* groups are contiguous runs of channels */
      cpu_load_row (x->dtype, x->data, base, 1, n, buf);
      normalize_row (RL_NORM_LAYER, buf, n, eps);
      for (int64_t c = 0; c < cpg; c++)
        {
          float wc = w != NULL ? w[c0 + c] : 1.0f;
          float bc = b != NULL ? b[c0 + c] : 0.0f;
          for (int64_t i = 0; i < sp; i++)
            buf[c * sp + i] = buf[c * sp + i] * wc + bc;
        }
      cpu_store_row (y->dtype, y->data, base, 1, n, buf);
    }
out:
  if (scratch != NULL)
    cpu_scratch_free (ctx, scratch);
  if (w != NULL)
    cpu_dense_f32_free (ctx, w, w_owned);
  if (b != NULL)
    cpu_dense_f32_free (ctx, b, b_owned);
  return st;
}

/* Spatial positions handled per task of channel_rms_norm. */
#define SPATIAL_TILE 256

RlStatus
cpu_channel_rms_norm (RlContext *ctx, RlTensor *y, const RlTensor *x,
                      const RlTensor *gamma, const RlTensor *bias, float eps)
{
  const char *op = "channel_rms_norm";
  int64_t batch, ch, sp;
  RlStatus st;

  if ((st = cpu_check (op, "y", y, CPU_FLOAT | CPU_CONTIGUOUS)) != RL_OK
      || (st = cpu_check (op, "x", x, CPU_FLOAT | CPU_CONTIGUOUS)) != RL_OK
      || (st = cpu_check_same_shape (op, "y", y, "x", x)) != RL_OK
      || (st = channel_layout (op, x, &batch, &ch, &sp)) != RL_OK)
    return st;
  if (gamma == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "%s: gamma is required", op);
  float *g = NULL, *b = NULL, *scratch = NULL;
  bool g_owned = false, b_owned = false;
  if ((st = load_vector (ctx, op, "gamma", gamma, ch, &g, &g_owned)) != RL_OK)
    return st;
  if ((st = load_vector (ctx, op, "bias", bias, ch, &b, &b_owned)) != RL_OK)
    goto out;
  int threads = cpu_thread_count ();
  size_t per_thread = (size_t) (ch * SPATIAL_TILE) * sizeof (float) + SPATIAL_TILE * sizeof (double);
  if ((st = cpu_scratch (ctx, threads * per_thread, (void **) &scratch)) != RL_OK)
    goto out;
  int64_t tiles = (sp + SPATIAL_TILE - 1) / SPATIAL_TILE;
  float root_c = sqrtf ((float) ch);
#pragma omp parallel for schedule(static)
  for (int64_t task = 0; task < batch * tiles; task++)
    {
      char *mine = (char *) scratch + cpu_thread_slot () * per_thread;
      double *sumsq = (double *) mine;
      float *vals = (float *) (mine + SPATIAL_TILE * sizeof (double));
      int64_t bi = task / tiles, s0 = (task % tiles) * SPATIAL_TILE;
      int64_t ns = sp - s0 < SPATIAL_TILE ? sp - s0 : SPATIAL_TILE;
      for (int64_t i = 0; i < ns; i++)
        sumsq[i] = 0.0;
      for (int64_t c = 0; c < ch; c++)
        {
          float *v = vals + c * SPATIAL_TILE;
          cpu_load_row (x->dtype, x->data, (bi * ch + c) * sp + s0, 1, ns, v);
          for (int64_t i = 0; i < ns; i++)
            sumsq[i] += (double) v[i] * v[i];
        }
      for (int64_t i = 0; i < ns; i++)
        {
          double norm = sqrt (sumsq[i]);
          sumsq[i] = 1.0 / (norm > eps ? norm : (double) eps);
        }
      for (int64_t c = 0; c < ch; c++)
        {
          float *v = vals + c * SPATIAL_TILE;
          for (int64_t i = 0; i < ns; i++)
            {
              float r = v[i] * (float) sumsq[i] * root_c * g[c];
              v[i] = b != NULL ? r + b[c] : r;
            }
          cpu_store_row (y->dtype, y->data, (bi * ch + c) * sp + s0, 1, ns, v);
        }
    }
out:
  if (scratch != NULL)
    cpu_scratch_free (ctx, scratch);
  if (g != NULL)
    cpu_dense_f32_free (ctx, g, g_owned);
  if (b != NULL)
    cpu_dense_f32_free (ctx, b, b_owned);
  return st;
}
