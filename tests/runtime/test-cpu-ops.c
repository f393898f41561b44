/* Every op of the CPU backend against a naive double-precision reference
 * on fresh random data: relative error ‖out−ref‖/‖ref‖ ≤ 1e-5 for f32
 * outputs (1e-2 bf16), every output element written (outputs are poisoned
 * with NaN first), and bit-identical results when run twice. */
#include "tests/runtime/runtime-test-util.h"

#include <omp.h>

#include "workers/runtime/rope-table.h"

static const RlBackend *backend;
static const RlOps *ops;
static RlContext *ctx;
static RlAllocator *alloc;

#define T(dtype, ...) rt_make (dtype, (int64_t[]) { __VA_ARGS__ }, \
                               (int) (sizeof ((int64_t[]) { __VA_ARGS__ }) / sizeof (int64_t)))

static RlTensor
rt_make (RlDType dtype, const int64_t *shape, int ndim)
{
  return rt_tensor (alloc, dtype, ndim, shape);
}

static RlTensor
random_tensor (RlDType dtype, const int64_t *shape, int ndim, float amp)
{
  RlTensor t = rt_make (dtype, shape, ndim);
  rt_fill_random (&t, amp);
  return t;
}

#define R(dtype, amp, ...) random_tensor (dtype, (int64_t[]) { __VA_ARGS__ }, \
                                         (int) (sizeof ((int64_t[]) { __VA_ARGS__ }) / sizeof (int64_t)), amp)

/* Compares two runs of an op with the reference and releases them. */
static void
finish (const char *what, RlTensor *y1, RlTensor *y2, double *ref)
{
  double tol = rt_tolerance (y1->dtype);
  int64_t nan1 = rt_count_nan (y1);
  int64_t ref_nan = 0;
  for (int64_t i = 0; i < rl_tensor_numel (y1); i++)
    ref_nan += isnan (ref[i]) ? 1 : 0;
  PT_CHECK (nan1 == ref_nan, "%s: %lld of %lld outputs not written (NaN)", what, (long long) nan1,
            (long long) rl_tensor_numel (y1));
  double err = rt_rel_error (y1, ref);
  PT_CHECK (err <= tol, "%s: relative error %.3g > %.1g", what, err, tol);
  if (y2 != NULL)
    {
      PT_CHECK (rt_same_bytes (y1, y2), "%s: two runs differ", what);
      rl_tensor_release (y2);
    }
  rl_tensor_release (y1);
  free (ref);
}

static RlTensor
poisoned (RlDType dtype, const int64_t *shape, int ndim)
{
  RlTensor t = rt_make (dtype, shape, ndim);
  rt_poison (&t);
  return t;
}

#define P(dtype, ...) poisoned (dtype, (int64_t[]) { __VA_ARGS__ }, \
                                (int) (sizeof ((int64_t[]) { __VA_ARGS__ }) / sizeof (int64_t)))

static double
act_ref (RlActivation act, double x)
{
  switch (act)
    {
    case RL_ACT_GELU_TANH: return 0.5 * x * (1.0 + tanh (sqrt (2.0 / M_PI) * (x + 0.044715 * x * x * x)));
    case RL_ACT_SILU:      return x / (1.0 + exp (-x));
    case RL_ACT_GELU_ERF:  return 0.5 * x * (1.0 + erf (x / sqrt (2.0)));
    default:               return x;
    }
}

/* ------------------------------------------------------------ matmuls */

static void
check_gemm_sized (RlDType xt, RlDType wt, RlDType yt, RlActivation act, bool with_bias, float wscale,
                  int64_t m0, int64_t m1, int64_t k, int64_t n)
{
  RlTensor x = R (xt, 1.0f, m0, m1, k);
  RlTensor w = R (wt, wt == RL_F8_E4M3FN ? 200.0f : 1.0f, n, k);
  w.scale = wscale;
  RlTensor b = R (RL_F32, 1.0f, n);
  RlTensor y1 = P (yt, m0, m1, n), y2 = P (yt, m0, m1, n);
  RT_REQUIRE_OK (ops->gemm (ctx, &y1, &x, &w, with_bias ? &b : NULL, act));
  RT_REQUIRE_OK (ops->gemm (ctx, &y2, &x, &w, with_bias ? &b : NULL, act));
  double *xd = rt_to_double (&x), *wd = rt_to_double (&w), *bd = rt_to_double (&b);
  double *ref = malloc (sizeof (double) * (size_t) (m0 * m1 * n));
  for (int64_t r = 0; r < m0 * m1; r++)
    for (int64_t j = 0; j < n; j++)
      {
        double s = 0.0;
        for (int64_t i = 0; i < k; i++)
          s += xd[r * k + i] * wd[j * k + i] * wscale;
        ref[r * n + j] = act_ref (act, s + (with_bias ? bd[j] : 0.0));
      }
  char what[96];
  snprintf (what, sizeof what, "gemm x %s w %s y %s act %d bias %d [%lld,%lld,%lld]",
            rl_dtype_name (xt), rl_dtype_name (wt), rl_dtype_name (yt), (int) act, with_bias,
            (long long) (m0 * m1), (long long) k, (long long) n);
  finish (what, &y1, &y2, ref);
  free (xd), free (wd), free (bd);
  rl_tensor_release (&x), rl_tensor_release (&w), rl_tensor_release (&b);
}

static void
check_gemm (RlDType xt, RlDType wt, RlDType yt, RlActivation act, bool with_bias, float wscale)
{
  check_gemm_sized (xt, wt, yt, act, with_bias, wscale, rt_int (1, 3), rt_int (1, 9), rt_int (1, 70),
                    rt_int (1, 40));
}

static void
test_gemm (void)
{
  /* 16 MiB f32 weight panels: K = 1024 makes 4096-row panels, so N > 4096
   * crosses a panel boundary. */
  check_gemm_sized (RL_F32, RL_BF16, RL_F32, RL_ACT_GELU_TANH, true, 1.0f, 1, 3, 1024,
                    rt_int (4097, 4200));
  check_gemm_sized (RL_BF16, RL_F8_E4M3FN, RL_BF16, RL_ACT_SILU, true, 0.01f, 2, 2, 1024,
                    rt_int (4097, 4200));
  check_gemm (RL_F32, RL_F32, RL_F32, RL_ACT_NONE, true, 1.0f);
  check_gemm (RL_F32, RL_F32, RL_F32, RL_ACT_GELU_TANH, true, 1.0f);
  check_gemm (RL_F32, RL_BF16, RL_F32, RL_ACT_SILU, true, 1.0f);
  check_gemm (RL_BF16, RL_BF16, RL_BF16, RL_ACT_GELU_TANH, false, 1.0f);
  check_gemm (RL_F32, RL_F16, RL_F32, RL_ACT_GELU_ERF, true, 1.0f);
  check_gemm (RL_BF16, RL_F8_E4M3FN, RL_F32, RL_ACT_NONE, true, 0.0037f);
  check_gemm (RL_F32, RL_F8_E5M2, RL_F16, RL_ACT_SILU, false, 0.5f);
}

static void
test_gemm_errors (void)
{
  RlTensor x = R (RL_F32, 1.0f, 4, 8), w = R (RL_F32, 1.0f, 5, 9), y = P (RL_F32, 4, 5);
  rl_clear_error ();
  PT_CHECK (ops->gemm (ctx, &y, &x, &w, NULL, RL_ACT_NONE) == RL_E_SHAPE, "K mismatch refused");
  PT_CHECK (strstr (rl_last_error (), "f32[5,9]") != NULL && strstr (rl_last_error (), "f32[4,8]") != NULL,
            "message names both shapes: %s", rl_last_error ());
  RlTensor wi = R (RL_I32, 1.0f, 5, 8);
  PT_CHECK (ops->gemm (ctx, &y, &x, &wi, NULL, RL_ACT_NONE) == RL_E_DTYPE, "i32 weight refused");
  PT_CHECK (rt_count_nan (&y) == rl_tensor_numel (&y), "failed op leaves y alone");
  rl_tensor_release (&x), rl_tensor_release (&w), rl_tensor_release (&y), rl_tensor_release (&wi);
}

static void
check_batched_gemm (bool ta, bool tb, bool broadcast_b, float alpha, float beta, RlDType ct)
{
  int64_t batch = rt_int (1, 4), m = rt_int (1, 12), k = rt_int (1, 20), n = rt_int (1, 12);
  RlTensor a = ta ? R (RL_F32, 1.0f, batch, k, m) : R (RL_F32, 1.0f, batch, m, k);
  int64_t bb = broadcast_b ? 1 : batch;
  RlTensor b = tb ? R (RL_BF16, 1.0f, bb, n, k) : R (RL_BF16, 1.0f, bb, k, n);
  RlTensor c1 = R (ct, 1.0f, batch, m, n);
  RlTensor c2 = rt_make (ct, c1.shape, 3);
  memcpy (c2.data, c1.data, rl_tensor_nbytes (&c1));
  double *ad = rt_to_double (&a), *bd = rt_to_double (&b), *cd = rt_to_double (&c1);
  if (beta == 0.0f)
    {
      rt_poison (&c1);   /* beta = 0 must ignore old contents, even NaN */
      rt_poison (&c2);
    }
  RT_REQUIRE_OK (ops->batched_gemm (ctx, &c1, &a, ta, &b, tb, alpha, beta));
  RT_REQUIRE_OK (ops->batched_gemm (ctx, &c2, &a, ta, &b, tb, alpha, beta));
  double *ref = malloc (sizeof (double) * (size_t) (batch * m * n));
  for (int64_t z = 0; z < batch; z++)
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++)
        {
          double s = 0.0;
          for (int64_t e = 0; e < k; e++)
            {
              double av = ta ? ad[(z * k + e) * m + i] : ad[(z * m + i) * k + e];
              int64_t zb = broadcast_b ? 0 : z;
              double bv = tb ? bd[(zb * n + j) * k + e] : bd[(zb * k + e) * n + j];
              s += av * bv;
            }
          int64_t o = (z * m + i) * n + j;
          ref[o] = alpha * s + (beta != 0.0f ? beta * cd[o] : 0.0);
        }
  finish ("batched_gemm", &c1, &c2, ref);
  free (ad), free (bd), free (cd);
  rl_tensor_release (&a), rl_tensor_release (&b);
}

static void
test_batched_gemm (void)
{
  check_batched_gemm (false, false, false, 1.0f, 0.0f, RL_F32);
  check_batched_gemm (true, false, true, 0.5f, 0.0f, RL_F32);
  check_batched_gemm (false, true, false, 1.5f, 0.75f, RL_F32);
  check_batched_gemm (true, true, true, -1.0f, 1.0f, RL_BF16);
}

/* -------------------------------------------------------------- norms */

static void
norm_row_ref (bool layer, const double *x, int64_t d, double eps, double *out)
{
  double mean = 0.0, var = 0.0;
  if (layer)
    {
      for (int64_t i = 0; i < d; i++)
        mean += x[i];
      mean /= (double) d;
    }
  for (int64_t i = 0; i < d; i++)
    var += (x[i] - mean) * (x[i] - mean);
  var /= (double) d;
  for (int64_t i = 0; i < d; i++)
    out[i] = (x[i] - mean) / sqrt (var + eps);
}

static void
check_row_norm (bool layer, bool affine, RlDType xt, RlDType yt)
{
  int64_t rows = rt_int (1, 20), d = rt_int (2, 300);
  float eps = 1e-6f;
  RlTensor x = R (xt, 3.0f, rows, d);
  /* Offset rows so the mean matters. */
  for (int64_t i = 0; i < rows * d; i++)
    rt_set (&x, i, rt_get (&x, i) + 2.0f);
  RlTensor w = R (RL_BF16, 1.0f, d), b = R (RL_F32, 1.0f, d);
  RlTensor y1 = P (yt, rows, d), y2 = P (yt, rows, d);
  if (layer)
    {
      RT_REQUIRE_OK (ops->layer_norm (ctx, &y1, &x, affine ? &w : NULL, affine ? &b : NULL, eps));
      RT_REQUIRE_OK (ops->layer_norm (ctx, &y2, &x, affine ? &w : NULL, affine ? &b : NULL, eps));
    }
  else
    {
      RT_REQUIRE_OK (ops->rms_norm (ctx, &y1, &x, affine ? &w : NULL, eps));
      RT_REQUIRE_OK (ops->rms_norm (ctx, &y2, &x, affine ? &w : NULL, eps));
    }
  double *xd = rt_to_double (&x), *wd = rt_to_double (&w), *bd = rt_to_double (&b);
  double *ref = malloc (sizeof (double) * (size_t) (rows * d));
  for (int64_t r = 0; r < rows; r++)
    {
      norm_row_ref (layer, xd + r * d, d, eps, ref + r * d);
      if (affine)
        for (int64_t i = 0; i < d; i++)
          ref[r * d + i] = ref[r * d + i] * wd[i] + (layer ? bd[i] : 0.0);
    }
  finish (layer ? "layer_norm" : "rms_norm", &y1, &y2, ref);
  free (xd), free (wd), free (bd);
  rl_tensor_release (&x), rl_tensor_release (&w), rl_tensor_release (&b);
}

static void
test_norms (void)
{
  check_row_norm (true, false, RL_F32, RL_F32);
  check_row_norm (true, true, RL_BF16, RL_F32);
  check_row_norm (false, false, RL_F32, RL_F32);
  check_row_norm (false, true, RL_F32, RL_BF16);
  /* In place. */
  RlTensor x = R (RL_F32, 1.0f, 3, 17);
  double *xd = rt_to_double (&x);
  double *ref = malloc (sizeof (double) * 51);
  for (int r = 0; r < 3; r++)
    norm_row_ref (false, xd + r * 17, 17, 1e-6, ref + r * 17);
  RT_REQUIRE_OK (ops->rms_norm (ctx, &x, &x, NULL, 1e-6f));
  finish ("rms_norm in place", &x, NULL, ref);
  free (xd);
}

static void
check_norm_modulate (RlNormKind kind, RlDType xt)
{
  int64_t batch = rt_int (1, 2), groups = rt_int (1, 4), per = rt_int (1, 5), d = rt_int (2, 64);
  int64_t offset = rt_int (0, per * groups);
  int64_t len = rt_int (1, per * groups + 3);
  RlTensor x = R (xt, 2.0f, batch, len, d);
  RlTensor e0 = R (RL_F32, 1.0f, batch, groups, 6, d);   /* Wan e0 [B, G, 6, D] */
  RlTensor shift = { 0 }, scale = { 0 };
  RT_REQUIRE_OK (rl_tensor_narrow (&shift, &e0, 2, 0, 1));
  RT_REQUIRE_OK (rl_tensor_narrow (&scale, &e0, 2, 1, 1));
  int64_t mshape[3] = { batch, groups, d };
  RT_REQUIRE_OK (rl_tensor_reshape (&shift, &shift, 3, mshape));
  RT_REQUIRE_OK (rl_tensor_reshape (&scale, &scale, 3, mshape));
  RlTensor nw = R (RL_F32, 1.0f, d), nb = R (RL_F32, 1.0f, d);
  bool affine = kind == RL_NORM_LAYER && (rt_next () & 1);
  RlTokenGroups tg = { per, offset };
  RlTensor y1 = P (RL_F32, batch, len, d), y2 = P (RL_F32, batch, len, d);
  RT_REQUIRE_OK (ops->norm_modulate (ctx, &y1, &x, kind, affine ? &nw : NULL, affine ? &nb : NULL,
                                     1e-6f, &shift, &scale, tg));
  RT_REQUIRE_OK (ops->norm_modulate (ctx, &y2, &x, kind, affine ? &nw : NULL, affine ? &nb : NULL,
                                     1e-6f, &shift, &scale, tg));
  double *xd = rt_to_double (&x), *ed = rt_to_double (&e0), *wd = rt_to_double (&nw),
         *bd = rt_to_double (&nb);
  double *ref = malloc (sizeof (double) * (size_t) (batch * len * d));
  for (int64_t b = 0; b < batch; b++)
    for (int64_t l = 0; l < len; l++)
      {
        int64_t g = (offset + l) / per;
        if (g > groups - 1)
          g = groups - 1;
        double *row = ref + (b * len + l) * d;
        norm_row_ref (kind == RL_NORM_LAYER, xd + (b * len + l) * d, d, 1e-6, row);
        for (int64_t i = 0; i < d; i++)
          {
            double v = affine ? row[i] * wd[i] + bd[i] : row[i];
            double sh = ed[((b * groups + g) * 6 + 0) * d + i];
            double sc = ed[((b * groups + g) * 6 + 1) * d + i];
            row[i] = v * (1.0 + sc) + sh;
          }
      }
  finish ("norm_modulate", &y1, &y2, ref);
  free (xd), free (ed), free (wd), free (bd);
  rl_tensor_release (&x), rl_tensor_release (&e0), rl_tensor_release (&shift);
  rl_tensor_release (&scale), rl_tensor_release (&nw), rl_tensor_release (&nb);
}

static void
test_norm_modulate (void)
{
  check_norm_modulate (RL_NORM_LAYER, RL_F32);
  check_norm_modulate (RL_NORM_LAYER, RL_BF16);
  check_norm_modulate (RL_NORM_RMS, RL_F32);
  check_norm_modulate (RL_NORM_LAYER, RL_F32);
}

static void
test_gated_residual (void)
{
  for (int with_gate = 0; with_gate < 2; with_gate++)
    {
      int64_t batch = 2, groups = 3, per = 2, len = 7, d = rt_int (1, 40);
      RlTensor x1 = R (RL_F32, 1.0f, batch, len, d), y = R (RL_BF16, 1.0f, batch, len, d);
      RlTensor x2 = rt_make (RL_F32, x1.shape, 3);
      memcpy (x2.data, x1.data, rl_tensor_nbytes (&x1));
      RlTensor e0 = R (RL_F32, 1.0f, batch, groups, 6, d), gate = { 0 };
      int64_t gshape[3] = { batch, groups, d };
      RT_REQUIRE_OK (rl_tensor_narrow (&gate, &e0, 2, 2, 1));
      RT_REQUIRE_OK (rl_tensor_reshape (&gate, &gate, 3, gshape));
      double *xd = rt_to_double (&x1), *yd = rt_to_double (&y), *ed = rt_to_double (&e0);
      RlTokenGroups tg = { per, 1 };
      RT_REQUIRE_OK (ops->gated_residual (ctx, &x1, &y, with_gate ? &gate : NULL, tg));
      RT_REQUIRE_OK (ops->gated_residual (ctx, &x2, &y, with_gate ? &gate : NULL, tg));
      double *ref = malloc (sizeof (double) * (size_t) (batch * len * d));
      for (int64_t b = 0; b < batch; b++)
        for (int64_t l = 0; l < len; l++)
          {
            int64_t g = (1 + l) / per > groups - 1 ? groups - 1 : (1 + l) / per;
            for (int64_t i = 0; i < d; i++)
              {
                int64_t o = (b * len + l) * d + i;
                double gv = with_gate ? ed[((b * groups + g) * 6 + 2) * d + i] : 1.0;
                ref[o] = xd[o] + yd[o] * gv;
              }
          }
      finish ("gated_residual", &x1, &x2, ref);
      free (xd), free (yd), free (ed);
      rl_tensor_release (&y), rl_tensor_release (&e0), rl_tensor_release (&gate);
    }
}

static void
test_group_norm (void)
{
  int64_t batch = 2, groups = rt_int (1, 4), cpg = rt_int (1, 4), ch = groups * cpg;
  int64_t t = rt_int (1, 3), h = rt_int (1, 6), w = rt_int (1, 6), sp = t * h * w;
  RlTensor x = R (RL_F32, 2.0f, batch, ch, t, h, w);
  RlTensor g = R (RL_F32, 1.0f, ch), b = R (RL_BF16, 1.0f, ch);
  RlTensor y1 = P (RL_F32, batch, ch, t, h, w), y2 = P (RL_F32, batch, ch, t, h, w);
  RT_REQUIRE_OK (ops->group_norm (ctx, &y1, &x, (int) groups, &g, &b, 1e-5f));
  RT_REQUIRE_OK (ops->group_norm (ctx, &y2, &x, (int) groups, &g, &b, 1e-5f));
  double *xd = rt_to_double (&x), *gd = rt_to_double (&g), *bd = rt_to_double (&b);
  double *ref = malloc (sizeof (double) * (size_t) (batch * ch * sp));
  for (int64_t bg = 0; bg < batch * groups; bg++)
    {
      norm_row_ref (true, xd + bg * cpg * sp, cpg * sp, 1e-5, ref + bg * cpg * sp);
      for (int64_t c = 0; c < cpg; c++)
        for (int64_t s = 0; s < sp; s++)
          {
            int64_t cc = (bg % groups) * cpg + c;
            double *v = ref + (bg * cpg + c) * sp + s;
            *v = *v * gd[cc] + bd[cc];
          }
    }
  finish ("group_norm", &y1, &y2, ref);
  free (xd), free (gd), free (bd);
  rl_tensor_release (&x), rl_tensor_release (&g), rl_tensor_release (&b);
}

static void
test_channel_rms_norm (void)
{
  int64_t batch = 2, ch = rt_int (1, 12), t = rt_int (1, 3), h = rt_int (1, 7), w = rt_int (1, 40);
  int64_t sp = t * h * w;
  RlTensor x = R (RL_BF16, 2.0f, batch, ch, t, h, w);
  RlTensor g = R (RL_F32, 1.0f, ch), b = R (RL_F32, 1.0f, ch);
  bool with_bias = rt_next () & 1;
  RlTensor y1 = P (RL_F32, batch, ch, t, h, w), y2 = P (RL_F32, batch, ch, t, h, w);
  RT_REQUIRE_OK (ops->channel_rms_norm (ctx, &y1, &x, &g, with_bias ? &b : NULL, 1e-12f));
  RT_REQUIRE_OK (ops->channel_rms_norm (ctx, &y2, &x, &g, with_bias ? &b : NULL, 1e-12f));
  double *xd = rt_to_double (&x), *gd = rt_to_double (&g), *bd = rt_to_double (&b);
  double *ref = malloc (sizeof (double) * (size_t) (batch * ch * sp));
  for (int64_t bi = 0; bi < batch; bi++)
    for (int64_t s = 0; s < sp; s++)
      {
        double sq = 0.0;
        for (int64_t c = 0; c < ch; c++)
          sq += xd[(bi * ch + c) * sp + s] * xd[(bi * ch + c) * sp + s];
        double norm = fmax (sqrt (sq), 1e-12);
        for (int64_t c = 0; c < ch; c++)
          {
            int64_t o = (bi * ch + c) * sp + s;
            ref[o] = xd[o] / norm * sqrt ((double) ch) * gd[c] + (with_bias ? bd[c] : 0.0);
          }
      }
  finish ("channel_rms_norm", &y1, &y2, ref);
  free (xd), free (gd), free (bd);
  rl_tensor_release (&x), rl_tensor_release (&g), rl_tensor_release (&b);
}

/* ------------------------------------------------------- positional */

static void
test_rope (void)
{
  for (int per_batch = 0; per_batch < 2; per_batch++)
    {
      int64_t batch = 2, len = rt_int (1, 9), heads = rt_int (1, 3), dh = 2 * rt_int (1, 10);
      int64_t pairs = rt_int (1, dh / 2);
      RlTensor x = R (RL_BF16, 1.0f, batch, len, heads, dh);
      RlTensor c = per_batch ? R (RL_F32, 1.0f, batch, len, pairs) : R (RL_F32, 1.0f, len, pairs);
      RlTensor s = per_batch ? R (RL_F32, 1.0f, batch, len, pairs) : R (RL_F32, 1.0f, len, pairs);
      RlTensor y1 = P (RL_F32, batch, len, heads, dh), y2 = P (RL_F32, batch, len, heads, dh);
      RT_REQUIRE_OK (ops->rope (ctx, &y1, &x, &c, &s));
      RT_REQUIRE_OK (ops->rope (ctx, &y2, &x, &c, &s));
      double *xd = rt_to_double (&x), *cd = rt_to_double (&c), *sd = rt_to_double (&s);
      double *ref = malloc (sizeof (double) * (size_t) (batch * len * heads * dh));
      for (int64_t b = 0; b < batch; b++)
        for (int64_t l = 0; l < len; l++)
          for (int64_t h = 0; h < heads; h++)
            for (int64_t p = 0; p < dh / 2; p++)
              {
                int64_t o = ((b * len + l) * heads + h) * dh + 2 * p;
                int64_t tr = (per_batch ? b * len + l : l) * pairs + p;
                double x0 = xd[o], x1 = xd[o + 1];
                if (p >= pairs)
                  {
                    ref[o] = x0, ref[o + 1] = x1;
                    continue;
                  }
                ref[o] = cd[tr] * x0 - sd[tr] * x1;
                ref[o + 1] = sd[tr] * x0 + cd[tr] * x1;
              }
      finish ("rope", &y1, &y2, ref);
      free (xd), free (cd), free (sd);
      rl_tensor_release (&x), rl_tensor_release (&c), rl_tensor_release (&s);
    }
}

/* ----------------------------------------------------- elementwise */

static void
test_softmax (void)
{
  int64_t rows = rt_int (1, 10), n = rt_int (1, 200);
  RlTensor x = R (RL_F32, 20.0f, rows, n);
  RlTensor y1 = P (RL_F32, rows, n), y2 = P (RL_F32, rows, n);
  RT_REQUIRE_OK (ops->softmax (ctx, &y1, &x));
  RT_REQUIRE_OK (ops->softmax (ctx, &y2, &x));
  double *xd = rt_to_double (&x);
  double *ref = malloc (sizeof (double) * (size_t) (rows * n));
  for (int64_t r = 0; r < rows; r++)
    {
      double mx = -INFINITY, sum = 0.0;
      for (int64_t i = 0; i < n; i++)
        mx = fmax (mx, xd[r * n + i]);
      for (int64_t i = 0; i < n; i++)
        sum += exp (xd[r * n + i] - mx);
      for (int64_t i = 0; i < n; i++)
        ref[r * n + i] = exp (xd[r * n + i] - mx) / sum;
    }
  finish ("softmax", &y1, &y2, ref);
  free (xd);
  rl_tensor_release (&x);
}

static void
test_add_mul_broadcast (void)
{
  int64_t d0 = rt_int (1, 3), d1 = rt_int (1, 5), d2 = rt_int (1, 7);
  RlTensor a = R (RL_F32, 1.0f, d0, d1, d2);
  RlTensor b_row = R (RL_BF16, 1.0f, d2);            /* broadcast over d0, d1 */
  RlTensor b_col = R (RL_F32, 1.0f, d1, 1);          /* broadcast over d0, d2 */
  RlTensor at_src = R (RL_F32, 1.0f, d0, d2, d1), at = { 0 };
  RT_REQUIRE_OK (rl_tensor_transpose (&at, &at_src, 1, 2));   /* strided a */
  double *ad = rt_to_double (&a), *rd = rt_to_double (&b_row), *cd = rt_to_double (&b_col),
         *td = rt_to_double (&at);
  int64_t n = d0 * d1 * d2;
  for (int which = 0; which < 3; which++)
    {
      RlTensor y1 = P (RL_F32, d0, d1, d2), y2 = P (RL_F32, d0, d1, d2);
      double *ref = malloc (sizeof (double) * (size_t) n);
      for (int64_t i = 0; i < n; i++)
        {
          int64_t j = (i / d2) % d1, k = i % d2;
          if (which == 0)
            ref[i] = 0.5 * ad[i] - 2.0 * rd[k];
          else if (which == 1)
            ref[i] = ad[i] * cd[j];
          else
            ref[i] = td[i] + cd[j];
        }
      if (which == 0)
        {
          RT_REQUIRE_OK (ops->add (ctx, &y1, &a, &b_row, 0.5f, -2.0f));
          RT_REQUIRE_OK (ops->add (ctx, &y2, &a, &b_row, 0.5f, -2.0f));
        }
      else if (which == 1)
        {
          RT_REQUIRE_OK (ops->mul (ctx, &y1, &a, &b_col));
          RT_REQUIRE_OK (ops->mul (ctx, &y2, &a, &b_col));
        }
      else
        {
          RT_REQUIRE_OK (ops->add (ctx, &y1, &at, &b_col, 1.0f, 1.0f));
          RT_REQUIRE_OK (ops->add (ctx, &y2, &at, &b_col, 1.0f, 1.0f));
        }
      finish (which == 0 ? "add broadcast" : which == 1 ? "mul broadcast" : "add strided", &y1, &y2, ref);
    }
  RlTensor bad = R (RL_F32, 1.0f, d2 + 1);
  RlTensor y = P (RL_F32, d0, d1, d2);
  PT_CHECK (ops->add (ctx, &y, &a, &bad, 1.0f, 1.0f) == RL_E_SHAPE, "non-broadcastable refused");
  free (ad), free (rd), free (cd), free (td);
  rl_tensor_release (&a), rl_tensor_release (&b_row), rl_tensor_release (&b_col);
  rl_tensor_release (&at_src), rl_tensor_release (&at), rl_tensor_release (&bad), rl_tensor_release (&y);
}

static void
test_activation_scale_shift (void)
{
  int64_t n = rt_int (1, 500);
  RlTensor x = R (RL_BF16, 4.0f, n);
  double *xd = rt_to_double (&x);
  for (int act = RL_ACT_NONE; act <= RL_ACT_GELU_ERF; act++)
    {
      RlTensor y1 = P (RL_F32, n), y2 = P (RL_F32, n);
      RT_REQUIRE_OK (ops->activation (ctx, &y1, &x, (RlActivation) act));
      RT_REQUIRE_OK (ops->activation (ctx, &y2, &x, (RlActivation) act));
      double *ref = malloc (sizeof (double) * (size_t) n);
      for (int64_t i = 0; i < n; i++)
        ref[i] = act_ref ((RlActivation) act, xd[i]);
      finish ("activation", &y1, &y2, ref);
    }
  RlTensor y1 = P (RL_F32, n), y2 = P (RL_F32, n);
  RT_REQUIRE_OK (ops->scale_shift (ctx, &y1, &x, 1.7f, -0.25f));
  RT_REQUIRE_OK (ops->scale_shift (ctx, &y2, &x, 1.7f, -0.25f));
  double *ref = malloc (sizeof (double) * (size_t) n);
  for (int64_t i = 0; i < n; i++)
    ref[i] = xd[i] * (double) 1.7f - 0.25;
  finish ("scale_shift", &y1, &y2, ref);
  free (xd);
  rl_tensor_release (&x);
}

static void
test_embedding (void)
{
  int64_t vocab = rt_int (2, 50), d = rt_int (1, 30);
  RlTensor table = R (RL_BF16, 1.0f, vocab, d);
  for (int wide = 0; wide < 2; wide++)
    {
      RlTensor ids = wide ? T (RL_I64, 2, 3) : T (RL_I32, 2, 3);
      for (int64_t i = 0; i < 6; i++)
        rt_set (&ids, i, (float) rt_int (0, vocab - 1));
      RlTensor y1 = P (RL_F32, 2, 3, d), y2 = P (RL_F32, 2, 3, d);
      RT_REQUIRE_OK (ops->embedding (ctx, &y1, &table, &ids));
      RT_REQUIRE_OK (ops->embedding (ctx, &y2, &table, &ids));
      double *td = rt_to_double (&table);
      double *ref = malloc (sizeof (double) * (size_t) (6 * d));
      for (int64_t i = 0; i < 6; i++)
        for (int64_t j = 0; j < d; j++)
          ref[i * d + j] = td[(int64_t) rt_get (&ids, i) * d + j];
      finish ("embedding", &y1, &y2, ref);
      free (td);
      rt_set (&ids, 4, (float) vocab);
      RlTensor y = P (RL_F32, 2, 3, d);
      PT_CHECK (ops->embedding (ctx, &y, &table, &ids) == RL_E_INVALID_ARG
                && strstr (rl_last_error (), "position 4") != NULL, "bad id named: %s", rl_last_error ());
      rl_tensor_release (&ids), rl_tensor_release (&y);
    }
  rl_tensor_release (&table);
}

/* ------------------------------------------------------------ layout */

static void
test_copy_and_convert (void)
{
  int64_t a = rt_int (1, 4), b = rt_int (1, 5), c = rt_int (1, 6);
  RlTensor src = R (RL_BF16, 1.0f, a, b, c), perm = { 0 };
  int order[3] = { 2, 0, 1 };
  RT_REQUIRE_OK (rl_tensor_permute (&perm, &src, order));
  double *pd = rt_to_double (&perm);
  /* strided → contiguous copy */
  RlTensor y1 = P (RL_BF16, c, a, b), y2 = P (RL_BF16, c, a, b);
  RT_REQUIRE_OK (ops->copy (ctx, &y1, &perm));
  RT_REQUIRE_OK (ops->copy (ctx, &y2, &perm));
  double *ref = malloc (sizeof (double) * (size_t) (a * b * c));
  memcpy (ref, pd, sizeof (double) * (size_t) (a * b * c));
  PT_CHECK (rt_rel_error (&y1, ref) == 0.0, "copy is exact");
  finish ("copy strided", &y1, &y2, ref);
  /* strided bf16 → contiguous f32 convert (exact) */
  y1 = P (RL_F32, c, a, b), y2 = P (RL_F32, c, a, b);
  RT_REQUIRE_OK (ops->convert (ctx, &y1, &perm));
  RT_REQUIRE_OK (ops->convert (ctx, &y2, &perm));
  ref = malloc (sizeof (double) * (size_t) (a * b * c));
  memcpy (ref, pd, sizeof (double) * (size_t) (a * b * c));
  PT_CHECK (rt_rel_error (&y1, ref) == 0.0, "widening convert is exact");
  finish ("convert bf16→f32", &y1, &y2, ref);
  /* copy into a slice of a bigger tensor; the rest stays untouched */
  RlTensor big = P (RL_BF16, c, a, b + 2), slice = { 0 };
  RT_REQUIRE_OK (rl_tensor_narrow (&slice, &big, 2, 1, b));
  RT_REQUIRE_OK (ops->copy (ctx, &slice, &perm));
  PT_CHECK (rt_count_nan (&big) == 2 * a * c, "slice copy wrote exactly the slice (%lld NaN left)",
            (long long) rt_count_nan (&big));
  PT_CHECK (rt_rel_error (&slice, pd) == 0.0, "slice contents");
  rl_tensor_release (&slice), rl_tensor_release (&big);
  /* f32 → f8 e4m3fn with a scale: stored = rne(x / scale), bit-exact */
  RlTensor f = R (RL_F32, 3.0f, 40);
  RlTensor q = P (RL_F8_E4M3FN, 40);
  q.scale = 0.01f;
  RT_REQUIRE_OK (ops->convert (ctx, &q, &f));
  int bad = 0;
  for (int i = 0; i < 40; i++)
    bad += ((uint8_t *) q.data)[i] != rl_f32_to_f8_e4m3fn (((float *) f.data)[i] / 0.01f);
  PT_CHECK (bad == 0, "%d fp8 codes differ from rne(x/scale)", bad);
  RlTensor back = P (RL_F32, 40);
  RT_REQUIRE_OK (ops->convert (ctx, &back, &q));
  bad = 0;
  for (int i = 0; i < 40; i++)
    bad += ((float *) back.data)[i] != rl_f8_e4m3fn_to_f32 (((uint8_t *) q.data)[i]) * 0.01f;
  PT_CHECK (bad == 0, "%d dequantised values differ from code·scale", bad);
  free (pd);
  rl_tensor_release (&src), rl_tensor_release (&perm), rl_tensor_release (&f);
  rl_tensor_release (&q), rl_tensor_release (&back);
}

static void
test_convert_gguf (void)
{
  /* A Q8_0 row built by hand: x = d · q. */
  uint8_t blocks[2 * 34];
  float want[64];
  for (int b = 0; b < 2; b++)
    {
      float d = (float) rt_uniform (0.01, 0.1);
      uint16_t dh = rl_f32_to_f16 (d);
      memcpy (blocks + b * 34, &dh, 2);
      for (int i = 0; i < 32; i++)
        {
          int8_t q = (int8_t) rt_int (-127, 127);
          blocks[b * 34 + 2 + i] = (uint8_t) q;
          want[b * 32 + i] = rl_f16_to_f32 (dh) * (float) q;
        }
    }
  int64_t shape[2] = { 1, 64 };
  RlTensor src = { 0 };
  RT_REQUIRE_OK (rl_tensor_wrap (&src, blocks, rl_device_cpu (), RL_Q8_0, 2, shape, NULL, NULL));
  RlTensor y = P (RL_F32, 1, 64);
  RlStatus st = ops->convert (ctx, &y, &src);
  if (st == RL_E_NOT_SUPPORTED)
    {
      printf ("# GGUF dequantisers not linked: %s\n", rl_last_error ());
      PT_CHECK (strstr (rl_last_error (), "checkpoint_dep") != NULL, "says what to link");
    }
  else
    {
      PT_CHECK (st == RL_OK, "convert q8_0: %s", rl_last_error ());
      PT_CHECK (memcmp (y.data, want, sizeof want) == 0, "q8_0 dequantisation bit-exact");
      /* The same blocks as a [2, 32] Q8_0 weight of a gemm. */
      int64_t wshape[2] = { 2, 32 };
      RlTensor w = { 0 };
      RT_REQUIRE_OK (rl_tensor_wrap (&w, blocks, rl_device_cpu (), RL_Q8_0, 2, wshape, NULL, NULL));
      RlTensor x = R (RL_F32, 1.0f, 3, 32), g1 = P (RL_F32, 3, 2), g2 = P (RL_F32, 3, 2);
      RT_REQUIRE_OK (ops->gemm (ctx, &g1, &x, &w, NULL, RL_ACT_NONE));
      RT_REQUIRE_OK (ops->gemm (ctx, &g2, &x, &w, NULL, RL_ACT_NONE));
      double *xd = rt_to_double (&x);
      double *ref = malloc (sizeof (double) * 6);
      for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++)
          {
            double acc = 0.0;
            for (int e = 0; e < 32; e++)
              acc += xd[i * 32 + e] * want[j * 32 + e];
            ref[i * 2 + j] = acc;
          }
      finish ("gemm with a q8_0 weight", &g1, &g2, ref);
      free (xd);
      rl_tensor_release (&x);
      /* ... and as a [2, 32] embedding table. */
      RlTensor ids = T (RL_I32, 3);
      int32_t pick[3] = { 1, 0, 1 };
      memcpy (ids.data, pick, sizeof pick);
      RlTensor e = P (RL_F32, 3, 32);
      RT_REQUIRE_OK (ops->embedding (ctx, &e, &w, &ids));
      int bad = 0;
      for (int i = 0; i < 3; i++)
        bad += memcmp ((float *) e.data + i * 32, want + pick[i] * 32, 32 * sizeof (float)) != 0;
      PT_CHECK (bad == 0, "q8_0 embedding rows bit-exact (%d wrong)", bad);
      rl_tensor_release (&ids), rl_tensor_release (&e);
    }
  rl_tensor_release (&y);
}

static void
test_concat (void)
{
  int64_t a = rt_int (1, 3), c = rt_int (1, 5), n0 = rt_int (1, 4), n1 = rt_int (1, 4), n2 = rt_int (1, 4);
  RlTensor x0 = R (RL_F32, 1.0f, a, n0, c), x1 = R (RL_BF16, 1.0f, a, n1, c);
  RlTensor x2src = R (RL_F32, 1.0f, a, c, n2), x2 = { 0 };
  RT_REQUIRE_OK (rl_tensor_transpose (&x2, &x2src, 1, 2));
  const RlTensor *in[3] = { &x0, &x1, &x2 };
  int64_t total = n0 + n1 + n2;
  RlTensor y1 = P (RL_F32, a, total, c), y2 = P (RL_F32, a, total, c);
  RT_REQUIRE_OK (ops->concat (ctx, &y1, in, 3, 1));
  RT_REQUIRE_OK (ops->concat (ctx, &y2, in, 3, -2));
  double *d0 = rt_to_double (&x0), *d1 = rt_to_double (&x1), *d2 = rt_to_double (&x2);
  double *ref = malloc (sizeof (double) * (size_t) (a * total * c));
  for (int64_t i = 0; i < a; i++)
    for (int64_t j = 0; j < total; j++)
      for (int64_t k = 0; k < c; k++)
        {
          double v = j < n0 ? d0[(i * n0 + j) * c + k]
                   : j < n0 + n1 ? d1[(i * n1 + j - n0) * c + k]
                   : d2[(i * n2 + j - n0 - n1) * c + k];
          ref[(i * total + j) * c + k] = v;
        }
  finish ("concat", &y1, &y2, ref);
  free (d0), free (d1), free (d2);
  rl_tensor_release (&x0), rl_tensor_release (&x1), rl_tensor_release (&x2src), rl_tensor_release (&x2);
}

static int64_t
pad_src_ref (int64_t i, int64_t before, int64_t size, RlPadMode mode)
{
  int64_t s = i - before;
  if (s >= 0 && s < size)
    return s;
  if (mode == RL_PAD_REPLICATE)
    return s < 0 ? 0 : size - 1;
  if (mode == RL_PAD_CIRCULAR)
    return ((s % size) + size) % size;
  return -1;
}

static void
test_pad (void)
{
  for (int mode = RL_PAD_CONSTANT; mode <= RL_PAD_CIRCULAR; mode++)
    {
      int64_t xs[3] = { rt_int (1, 3), rt_int (2, 5), rt_int (2, 6) };
      int64_t before[3] = { rt_int (0, 1), rt_int (-1, 2), rt_int (0, 3) };
      int64_t after[3] = { 0, rt_int (0, 2), rt_int (-1, 1) };
      int64_t ys[3];
      for (int d = 0; d < 3; d++)
        ys[d] = xs[d] + before[d] + after[d];
      RlTensor x = random_tensor (RL_F32, xs, 3, 1.0f);
      RlTensor y1 = poisoned (RL_F32, ys, 3), y2 = poisoned (RL_F32, ys, 3);
      RT_REQUIRE_OK (ops->pad (ctx, &y1, &x, before, after, (RlPadMode) mode, 0.75f));
      RT_REQUIRE_OK (ops->pad (ctx, &y2, &x, before, after, (RlPadMode) mode, 0.75f));
      double *xd = rt_to_double (&x);
      double *ref = malloc (sizeof (double) * (size_t) (ys[0] * ys[1] * ys[2]));
      for (int64_t i = 0; i < ys[0]; i++)
        for (int64_t j = 0; j < ys[1]; j++)
          for (int64_t k = 0; k < ys[2]; k++)
            {
              int64_t si = pad_src_ref (i, before[0], xs[0], (RlPadMode) mode);
              int64_t sj = pad_src_ref (j, before[1], xs[1], (RlPadMode) mode);
              int64_t sk = pad_src_ref (k, before[2], xs[2], (RlPadMode) mode);
              ref[(i * ys[1] + j) * ys[2] + k] = (si < 0 || sj < 0 || sk < 0)
                ? 0.75 : xd[(si * xs[1] + sj) * xs[2] + sk];
            }
      finish ("pad", &y1, &y2, ref);
      free (xd);
      rl_tensor_release (&x);
    }
}

static void
test_fill (void)
{
  RlTensor big = P (RL_BF16, 4, 6), view = { 0 };
  RT_REQUIRE_OK (rl_tensor_narrow (&view, &big, 1, 2, 3));
  RT_REQUIRE_OK (ops->fill (ctx, &view, 1.5f));
  PT_CHECK (rt_count_nan (&big) == 12, "fill wrote only the view");
  for (int64_t i = 0; i < 12; i++)
    PT_CHECK (rt_get (&view, i) == 1.5f, "value");
  RlTensor ints = T (RL_I32, 5);
  RT_REQUIRE_OK (ops->fill (ctx, &ints, 7.0f));
  for (int i = 0; i < 5; i++)
    PT_CHECK (((int32_t *) ints.data)[i] == 7, "int fill");
  rl_tensor_release (&big), rl_tensor_release (&view), rl_tensor_release (&ints);
}

static void
test_upsample (void)
{
  for (int five = 0; five < 2; five++)
    {
      int64_t b = 2, c = rt_int (1, 3), t = five ? rt_int (1, 3) : 1, h = rt_int (1, 5), w = rt_int (1, 6);
      RlTensor x = five ? R (RL_BF16, 1.0f, b, c, t, h, w) : R (RL_BF16, 1.0f, b, c, h, w);
      RlTensor y1 = five ? P (RL_BF16, b, c, t, 2 * h, 2 * w) : P (RL_BF16, b, c, 2 * h, 2 * w);
      RlTensor y2 = five ? P (RL_BF16, b, c, t, 2 * h, 2 * w) : P (RL_BF16, b, c, 2 * h, 2 * w);
      RT_REQUIRE_OK (ops->upsample_nearest2x (ctx, &y1, &x));
      RT_REQUIRE_OK (ops->upsample_nearest2x (ctx, &y2, &x));
      double *xd = rt_to_double (&x);
      int64_t planes = b * c * t;
      double *ref = malloc (sizeof (double) * (size_t) (planes * 4 * h * w));
      for (int64_t p = 0; p < planes; p++)
        for (int64_t i = 0; i < 2 * h; i++)
          for (int64_t j = 0; j < 2 * w; j++)
            ref[(p * 2 * h + i) * 2 * w + j] = xd[(p * h + i / 2) * w + j / 2];
      PT_CHECK (rt_rel_error (&y1, ref) == 0.0, "upsample exact");
      finish ("upsample_nearest2x", &y1, &y2, ref);
      free (xd);
      rl_tensor_release (&x);
    }
}

/* ----------------------------------------------------- convolutions */

static void
check_conv (int spatial, const int *k, const RlConvParams *p, RlDType xt)
{
  int64_t b = rt_int (1, 2), ci = rt_int (1, 4), co = rt_int (1, 5);
  int64_t in[3] = { spatial == 3 ? rt_int (k[0], k[0] + 3) : 1, rt_int (3, 9), rt_int (3, 9) };
  int64_t kk[3] = { spatial == 3 ? k[0] : 1, k[spatial == 3 ? 1 : 0], k[spatial == 3 ? 2 : 1] };
  int st_[3], pb[3];
  int64_t out[3];
  for (int i = 0; i < 3; i++)
    {
      int s = i - (3 - spatial);
      st_[i] = s < 0 ? 1 : p->stride[s];
      pb[i] = s < 0 ? 0 : p->pad_before[s];
      int pa = s < 0 ? 0 : p->pad_after[s];
      out[i] = (in[i] + pb[i] + pa - kk[i]) / st_[i] + 1;
    }
  RlTensor x, w, y1, y2;
  if (spatial == 3)
    {
      x = R (xt, 1.0f, b, ci, in[0], in[1], in[2]);
      w = R (RL_BF16, 0.5f, co, ci, kk[0], kk[1], kk[2]);
      y1 = P (RL_F32, b, co, out[0], out[1], out[2]);
      y2 = P (RL_F32, b, co, out[0], out[1], out[2]);
    }
  else
    {
      x = R (xt, 1.0f, b, ci, in[1], in[2]);
      w = R (RL_BF16, 0.5f, co, ci, kk[1], kk[2]);
      y1 = P (RL_F32, b, co, out[1], out[2]);
      y2 = P (RL_F32, b, co, out[1], out[2]);
    }
  RlTensor bias = R (RL_F32, 1.0f, co);
  RlStatus (*conv) (RlContext *, RlTensor *, const RlTensor *, const RlTensor *, const RlTensor *,
                    const RlConvParams *) = spatial == 3 ? ops->conv3d : ops->conv2d;
  RT_REQUIRE_OK (conv (ctx, &y1, &x, &w, &bias, p));
  RT_REQUIRE_OK (conv (ctx, &y2, &x, &w, &bias, p));
  double *xd = rt_to_double (&x), *wd = rt_to_double (&w), *bd = rt_to_double (&bias);
  int64_t nout = b * co * out[0] * out[1] * out[2];
  double *ref = malloc (sizeof (double) * (size_t) nout);
  for (int64_t bi = 0; bi < b; bi++)
    for (int64_t o = 0; o < co; o++)
      for (int64_t t = 0; t < out[0]; t++)
        for (int64_t h = 0; h < out[1]; h++)
          for (int64_t v = 0; v < out[2]; v++)
            {
              double s = bd[o];
              for (int64_t c = 0; c < ci; c++)
                for (int64_t dt = 0; dt < kk[0]; dt++)
                  for (int64_t dh = 0; dh < kk[1]; dh++)
                    for (int64_t dw = 0; dw < kk[2]; dw++)
                      {
                        int64_t it = t * st_[0] - pb[0] + dt, ih = h * st_[1] - pb[1] + dh,
                                iw = v * st_[2] - pb[2] + dw;
                        if (it < 0 || it >= in[0] || ih < 0 || ih >= in[1] || iw < 0 || iw >= in[2])
                          continue;
                        s += xd[(((bi * ci + c) * in[0] + it) * in[1] + ih) * in[2] + iw]
                             * wd[(((o * ci + c) * kk[0] + dt) * kk[1] + dh) * kk[2] + dw];
                      }
              ref[(((bi * co + o) * out[0] + t) * out[1] + h) * out[2] + v] = s;
            }
  finish (spatial == 3 ? "conv3d" : "conv2d", &y1, &y2, ref);
  free (xd), free (wd), free (bd);
  rl_tensor_release (&x), rl_tensor_release (&w), rl_tensor_release (&bias);
}

static void
test_conv (void)
{
  int k33[2] = { 3, 3 }, k333[3] = { 3, 3, 3 }, k111[3] = { 1, 1, 1 }, k311[3] = { 3, 1, 1 };
  RlConvParams same2d = { { 1, 1 }, { 1, 1 }, { 1, 1 } };
  RlConvParams down2d = { { 2, 2 }, { 0, 0 }, { 1, 1 } };   /* ZeroPad2d((0,1,0,1)) + stride 2 */
  RlConvParams causal = { { 1, 1, 1 }, { 2, 1, 1 }, { 0, 1, 1 } };
  RlConvParams pointwise = { { 1, 1, 1 }, { 0, 0, 0 }, { 0, 0, 0 } };
  RlConvParams time_down = { { 2, 1, 1 }, { 0, 0, 0 }, { 0, 0, 0 } };
  check_conv (2, k33, &same2d, RL_F32);
  check_conv (2, k33, &down2d, RL_BF16);
  check_conv (3, k333, &causal, RL_F32);
  check_conv (3, k111, &pointwise, RL_BF16);
  check_conv (3, k311, &time_down, RL_F32);
}

/* ------------------------------------------------------- reductions */

static void
test_reduce (void)
{
  int64_t s[3] = { rt_int (1, 4), rt_int (1, 5), rt_int (1, 6) };
  RlTensor x = random_tensor (RL_F32, s, 3, 1.0f);
  double *xd = rt_to_double (&x);
  for (int dim = 0; dim < 3; dim++)
    for (int kind = RL_REDUCE_SUM; kind <= RL_REDUCE_MAX; kind++)
      {
        int64_t ys[3] = { s[0], s[1], s[2] };
        ys[dim] = 1;
        RlTensor y1 = poisoned (RL_F32, ys, 3), y2 = poisoned (RL_F32, ys, 3);
        RT_REQUIRE_OK (ops->reduce (ctx, &y1, &x, dim, (RlReduceKind) kind));
        RT_REQUIRE_OK (ops->reduce (ctx, &y2, &x, dim, (RlReduceKind) kind));
        double *ref = malloc (sizeof (double) * (size_t) (ys[0] * ys[1] * ys[2]));
        for (int64_t i = 0; i < ys[0]; i++)
          for (int64_t j = 0; j < ys[1]; j++)
            for (int64_t k = 0; k < ys[2]; k++)
              {
                double acc = kind == RL_REDUCE_MAX ? -INFINITY : 0.0;
                for (int64_t r = 0; r < s[dim]; r++)
                  {
                    int64_t idx[3] = { i, j, k };
                    idx[dim] = r;
                    double v = xd[(idx[0] * s[1] + idx[1]) * s[2] + idx[2]];
                    acc = kind == RL_REDUCE_MAX ? fmax (acc, v) : acc + v;
                  }
                ref[(i * ys[1] + j) * ys[2] + k] = kind == RL_REDUCE_MEAN ? acc / (double) s[dim] : acc;
              }
        finish ("reduce", &y1, &y2, ref);
      }
  free (xd);
  rl_tensor_release (&x);
}

/* ------------------------------------------------------- attention */

static void
test_attention (void)
{
  int64_t b = rt_int (1, 2), lq = rt_int (1, 9), lk = rt_int (1, 11), h = rt_int (1, 3);
  int64_t d = rt_int (1, 16), dv = rt_int (1, 12);
  RlTensor q = R (RL_BF16, 2.0f, b, lq, h, d), k = R (RL_F32, 2.0f, b, lk, h, d);
  RlTensor v = R (RL_F32, 1.0f, b, lk, h, dv);
  RlTensor o1 = P (RL_F32, b, lq, h, dv), o2 = P (RL_F32, b, lq, h, dv);
  RlTensor l1 = P (RL_F32, b, h, lq), l2 = P (RL_F32, b, h, lq);
  float scale = 1.0f / sqrtf ((float) d);
  RT_REQUIRE_OK (ops->attention (ctx, &o1, &l1, &q, &k, &v, scale));
  RT_REQUIRE_OK (ops->attention (ctx, &o2, &l2, &q, &k, &v, scale));
  double *qd = rt_to_double (&q), *kd = rt_to_double (&k), *vd = rt_to_double (&v);
  double *ref = malloc (sizeof (double) * (size_t) (b * lq * h * dv));
  double *lref = malloc (sizeof (double) * (size_t) (b * h * lq));
  double *sc = malloc (sizeof (double) * (size_t) lk);
  for (int64_t bi = 0; bi < b; bi++)
    for (int64_t hi = 0; hi < h; hi++)
      for (int64_t i = 0; i < lq; i++)
        {
          double mx = -INFINITY, sum = 0.0;
          for (int64_t j = 0; j < lk; j++)
            {
              double dot = 0.0;
              for (int64_t e = 0; e < d; e++)
                dot += qd[((bi * lq + i) * h + hi) * d + e] * kd[((bi * lk + j) * h + hi) * d + e];
              sc[j] = dot * scale;
              mx = fmax (mx, sc[j]);
            }
          for (int64_t j = 0; j < lk; j++)
            sum += exp (sc[j] - mx);
          for (int64_t e = 0; e < dv; e++)
            {
              double acc = 0.0;
              for (int64_t j = 0; j < lk; j++)
                acc += exp (sc[j] - mx) / sum * vd[((bi * lk + j) * h + hi) * dv + e];
              ref[((bi * lq + i) * h + hi) * dv + e] = acc;
            }
          lref[(bi * h + hi) * lq + i] = mx + log (sum);
        }
  finish ("attention out", &o1, &o2, ref);
  finish ("attention lse", &l1, &l2, lref);
  free (qd), free (kd), free (vd), free (sc);
  rl_tensor_release (&q), rl_tensor_release (&k), rl_tensor_release (&v);
}

/* Ops that do not go through BLAS give the same bytes for any thread
 * count: each output row is computed by one thread in a fixed order. */
static void
test_thread_count_independence (void)
{
  int saved = omp_get_max_threads ();
  RlTensor x = R (RL_F32, 2.0f, 2, 37, 96), e0 = R (RL_F32, 1.0f, 2, 3, 6, 96);
  RlTensor shift = { 0 }, scale = { 0 };
  int64_t mshape[3] = { 2, 3, 96 };
  RT_REQUIRE_OK (rl_tensor_narrow (&shift, &e0, 2, 0, 1));
  RT_REQUIRE_OK (rl_tensor_narrow (&scale, &e0, 2, 1, 1));
  RT_REQUIRE_OK (rl_tensor_reshape (&shift, &shift, 3, mshape));
  RT_REQUIRE_OK (rl_tensor_reshape (&scale, &scale, 3, mshape));
  RlTensor v = R (RL_F32, 2.0f, 2, 5, 7, 3, 11), g = R (RL_F32, 1.0f, 5);
  RlTensor q = R (RL_F32, 1.0f, 1, 13, 2, 8), k = R (RL_F32, 1.0f, 1, 17, 2, 8);
  RlTensor y[2], c[2], o[2];
  for (int run = 0; run < 2; run++)
    {
      omp_set_num_threads (run == 0 ? 1 : 3);
      y[run] = P (RL_F32, 2, 37, 96);
      c[run] = P (RL_F32, 2, 5, 7, 3, 11);
      o[run] = P (RL_F32, 1, 13, 2, 8);
      RlTokenGroups tg = { 13, 0 };
      RT_REQUIRE_OK (ops->norm_modulate (ctx, &y[run], &x, RL_NORM_LAYER, NULL, NULL, 1e-6f, &shift,
                                         &scale, tg));
      RT_REQUIRE_OK (ops->channel_rms_norm (ctx, &c[run], &v, &g, NULL, 1e-12f));
      RT_REQUIRE_OK (ops->attention (ctx, &o[run], NULL, &q, &k, &k, 0.3f));
    }
  omp_set_num_threads (saved);
  PT_CHECK (rt_same_bytes (&y[0], &y[1]), "norm_modulate: 1 vs 3 threads differ");
  PT_CHECK (rt_same_bytes (&c[0], &c[1]), "channel_rms_norm: 1 vs 3 threads differ");
  PT_CHECK (rt_same_bytes (&o[0], &o[1]), "attention: 1 vs 3 threads differ");
  for (int run = 0; run < 2; run++)
    rl_tensor_release (&y[run]), rl_tensor_release (&c[run]), rl_tensor_release (&o[run]);
  rl_tensor_release (&x), rl_tensor_release (&e0), rl_tensor_release (&shift), rl_tensor_release (&scale);
  rl_tensor_release (&v), rl_tensor_release (&g), rl_tensor_release (&q), rl_tensor_release (&k);
}

/* Bad arguments give a negative status and a message, never a crash. */
static void
test_bad_arguments (void)
{
  RlConvParams cp = { { 1, 1, 1 }, { 0, 0, 0 }, { 0, 0, 0 } };
  int64_t pads[5] = { 0 };
  RlTokenGroups tg = { 1, 0 };
  RlStatus st[26];
  int i = 0;
  st[i++] = ops->gemm (ctx, NULL, NULL, NULL, NULL, RL_ACT_NONE);
  st[i++] = ops->batched_gemm (ctx, NULL, NULL, false, NULL, false, 1.0f, 0.0f);
  st[i++] = ops->layer_norm (ctx, NULL, NULL, NULL, NULL, 1e-6f);
  st[i++] = ops->rms_norm (ctx, NULL, NULL, NULL, 1e-6f);
  st[i++] = ops->norm_modulate (ctx, NULL, NULL, RL_NORM_LAYER, NULL, NULL, 1e-6f, NULL, NULL, tg);
  st[i++] = ops->gated_residual (ctx, NULL, NULL, NULL, tg);
  st[i++] = ops->group_norm (ctx, NULL, NULL, 1, NULL, NULL, 1e-6f);
  st[i++] = ops->channel_rms_norm (ctx, NULL, NULL, NULL, NULL, 1e-12f);
  st[i++] = ops->rope (ctx, NULL, NULL, NULL, NULL);
  st[i++] = ops->softmax (ctx, NULL, NULL);
  st[i++] = ops->add (ctx, NULL, NULL, NULL, 1.0f, 1.0f);
  st[i++] = ops->mul (ctx, NULL, NULL, NULL);
  st[i++] = ops->activation (ctx, NULL, NULL, RL_ACT_SILU);
  st[i++] = ops->scale_shift (ctx, NULL, NULL, 1.0f, 0.0f);
  st[i++] = ops->embedding (ctx, NULL, NULL, NULL);
  st[i++] = ops->copy (ctx, NULL, NULL);
  st[i++] = ops->convert (ctx, NULL, NULL);
  st[i++] = ops->concat (ctx, NULL, NULL, 2, 0);
  st[i++] = ops->pad (ctx, NULL, NULL, pads, pads, RL_PAD_CONSTANT, 0.0f);
  st[i++] = ops->fill (ctx, NULL, 0.0f);
  st[i++] = ops->upsample_nearest2x (ctx, NULL, NULL);
  st[i++] = ops->conv2d (ctx, NULL, NULL, NULL, NULL, &cp);
  st[i++] = ops->conv3d (ctx, NULL, NULL, NULL, NULL, &cp);
  st[i++] = ops->reduce (ctx, NULL, NULL, 0, RL_REDUCE_SUM);
  st[i++] = ops->attention (ctx, NULL, NULL, NULL, NULL, NULL, 1.0f);
  for (int j = 0; j < i; j++)
    PT_CHECK (st[j] < 0, "op %d accepted NULL tensors", j);

  /* A tensor that claims to live on a GPU. */
  RlTensor x = R (RL_F32, 1.0f, 4, 8), w = R (RL_F32, 1.0f, 3, 8), y = P (RL_F32, 4, 3);
  RlTensor gpu_x = x;
  gpu_x.device = rl_device_cuda (0);
  rl_clear_error ();
  PT_CHECK (ops->gemm (ctx, &y, &gpu_x, &w, NULL, RL_ACT_NONE) == RL_E_DEVICE_MISMATCH, "device");
  PT_CHECK (strstr (rl_last_error (), "cuda:0") != NULL, "names the device: %s", rl_last_error ());
  RlTensor yx = P (RL_F32, 4, 8);
  PT_CHECK (ops->layer_norm (ctx, &yx, &gpu_x, NULL, NULL, 1e-6f) == RL_E_DEVICE_MISMATCH, "device");
  /* Strided input where the op needs contiguous rows. */
  RlTensor xt_src = R (RL_F32, 1.0f, 8, 4), xt = { 0 };
  RT_REQUIRE_OK (rl_tensor_transpose (&xt, &xt_src, 0, 1));
  PT_CHECK (ops->layer_norm (ctx, &yx, &xt, NULL, NULL, 1e-6f) == RL_E_NOT_CONTIGUOUS, "contiguity");
  /* Wrong ranks and bad parameters. */
  PT_CHECK (ops->rope (ctx, &yx, &x, &w, &w) == RL_E_SHAPE, "rope rank");
  PT_CHECK (ops->group_norm (ctx, &yx, &x, 3, NULL, NULL, 1e-6f) == RL_E_INVALID_ARG, "groups");
  PT_CHECK (ops->reduce (ctx, &y, &x, 7, RL_REDUCE_SUM) == RL_E_INVALID_ARG, "reduce dim");
  PT_CHECK (ops->activation (ctx, &yx, &x, (RlActivation) 99) == RL_E_INVALID_ARG, "activation kind");
  PT_CHECK (rt_count_nan (&yx) == rl_tensor_numel (&yx), "failed ops wrote nothing");
  rl_tensor_release (&x), rl_tensor_release (&w), rl_tensor_release (&y), rl_tensor_release (&yx);
  rl_tensor_release (&xt_src), rl_tensor_release (&xt);
}

/* -------------------------------------------------------- plumbing */

static void
test_backend_plumbing (void)
{
  PT_CHECK (rl_backend_find ("cpu") == backend, "lookup by name");
  PT_CHECK (rl_backend_find ("nonsense") == NULL, "unknown name");
  PT_CHECK (rl_backend_find ("cuda") == NULL, "cuda is not linked into this test");
  PT_CHECK (ops->version == RL_OPS_VERSION && ops->struct_size == sizeof (RlOps), "versioned table");
  const void *const *slots = (const void *const *) &ops->gemm;
  size_t count = (sizeof (RlOps) - offsetof (RlOps, gemm)) / sizeof (void *);
  size_t missing = 0;
  for (size_t i = 0; i < count; i++)
    missing += slots[i] == NULL;
  PT_CHECK (missing == 0, "%zu ops missing from the table", missing);
  RlStream *s = NULL;
  RlEvent *e = NULL;
  RT_REQUIRE_OK (backend->stream_new (ctx, &s));
  RT_REQUIRE_OK (backend->event_new (ctx, &e));
  PT_CHECK (backend->event_record (ctx, e, s) == RL_OK && backend->stream_wait (ctx, s, e) == RL_OK
            && backend->event_sync (ctx, e) == RL_OK && backend->synchronize (ctx) == RL_OK, "no-op sync");
  backend->event_free (ctx, e);
  backend->stream_free (ctx, s);
  RlTensor a = R (RL_F32, 1.0f, 3, 4), bt = P (RL_F32, 3, 4);
  RT_REQUIRE_OK (backend->transfer (ctx, &bt, &a));
  PT_CHECK (rt_same_bytes (&a, &bt), "transfer copies");
  rl_tensor_release (&a), rl_tensor_release (&bt);
  RlAllocatorStats st;
  rl_allocator_stats (alloc, &st);
  PT_CHECK (st.current_bytes == 0, "all op scratch and test tensors returned (%zu bytes live)",
            st.current_bytes);
  PT_CHECK (st.peak_bytes > 0 && st.cache_hits > 0, "the caching allocator was used");
}

int
main (void)
{
  rt_seed ();
  backend = rl_backend_cpu ();
  ops = backend->ops;
  if (backend->context_new (0, &ctx) != RL_OK)
    {
      printf ("Bail out! cpu context: %s\n", rl_last_error ());
      return 1;
    }
  alloc = backend->context_allocator (ctx);
  PT_RUN (test_gemm);
  PT_RUN (test_gemm_errors);
  PT_RUN (test_batched_gemm);
  PT_RUN (test_norms);
  PT_RUN (test_norm_modulate);
  PT_RUN (test_gated_residual);
  PT_RUN (test_group_norm);
  PT_RUN (test_channel_rms_norm);
  PT_RUN (test_rope);
  PT_RUN (test_softmax);
  PT_RUN (test_add_mul_broadcast);
  PT_RUN (test_activation_scale_shift);
  PT_RUN (test_embedding);
  PT_RUN (test_copy_and_convert);
  PT_RUN (test_convert_gguf);
  PT_RUN (test_concat);
  PT_RUN (test_pad);
  PT_RUN (test_fill);
  PT_RUN (test_upsample);
  PT_RUN (test_conv);
  PT_RUN (test_reduce);
  PT_RUN (test_attention);
  PT_RUN (test_thread_count_independence);
  PT_RUN (test_bad_arguments);
  PT_RUN (test_backend_plumbing);
  backend->context_free (ctx);
  return pt_finish ();
}
