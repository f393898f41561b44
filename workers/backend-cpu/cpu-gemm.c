/* GEMMs on the CPU: operands converted to f32 (weights panel by panel, so
 * a bf16/fp8/GGUF weight never needs a full f32 copy), OpenBLAS sgemm,
 * then bias + activation + output rounding per panel of output columns. */
#include "workers/backend-cpu/cpu-internal.h"

#include <cblas.h>
#include <limits.h>

/* f32 weight panel budget: bounds scratch for huge weights. */
#define PANEL_BYTES (16u << 20)

/* f32 output panel budget when y is f16/bf16. */
#define Y_PANEL_BYTES (64u << 20)

/* Rows [row0, row0 + rows) of the [N, K] weight w as dense f32, scale
 * applied. */
static RlStatus
load_weight_rows (const RlTensor *w, int64_t row0, int64_t rows, float *out)
{
  int64_t k = w->shape[1];
  float scale = rl_tensor_scale (w);
  RlStatus st = RL_OK;

  if (rl_dtype_is_quantized (w->dtype))
    {
      size_t row_bytes = (size_t) (k / rl_dtype_block_elems (w->dtype)) * rl_dtype_block_bytes (w->dtype);
      const char *src = (const char *) w->data + (size_t) row0 * row_bytes;
      st = cpu_dequantize (w->dtype, src, rows * k, out);
      if (st == RL_OK && scale != 1.0f)
        for (int64_t i = 0; i < rows * k; i++)
          out[i] *= scale;
      return st;
    }
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; r++)
    {
      cpu_load_row (w->dtype, w->data, (row0 + r) * w->strides[0], w->strides[1], k, out + r * k);
      if (scale != 1.0f)
        for (int64_t i = 0; i < k; i++)
          out[r * k + i] *= scale;
    }
  return st;
}

RlStatus
cpu_gemm (RlContext *ctx, RlTensor *y, const RlTensor *x, const RlTensor *w,
          const RlTensor *bias, RlActivation act)
{
  const char *op = "gemm";
  char dx[RL_TENSOR_DESCRIBE_SIZE], dw[RL_TENSOR_DESCRIBE_SIZE], dy[RL_TENSOR_DESCRIBE_SIZE];
  RlStatus st;

  if ((st = cpu_check (op, "y", y, CPU_FLOAT | CPU_CONTIGUOUS)) != RL_OK
      || (st = cpu_check (op, "x", x, CPU_FLOAT)) != RL_OK
      || (st = cpu_check (op, "weight", w, 0)) != RL_OK
      || (bias != NULL && (st = cpu_check (op, "bias", bias, CPU_FLOAT)) != RL_OK))
    return st;
  if (!(w->dtype == RL_F32 || w->dtype == RL_F16 || w->dtype == RL_BF16
        || w->dtype == RL_F8_E4M3FN || w->dtype == RL_F8_E5M2 || rl_dtype_is_quantized (w->dtype)))
    return rl_set_error (RL_E_DTYPE, "gemm: weight %s has an unsupported dtype",
                         rl_tensor_describe (w, dw, sizeof dw));
  if (w->ndim != 2 || x->ndim < 1 || y->ndim != x->ndim)
    return rl_set_error (RL_E_SHAPE, "gemm: need weight [N, K], x [..., K], y [..., N]; got weight %s, x %s, y %s",
                         rl_tensor_describe (w, dw, sizeof dw), rl_tensor_describe (x, dx, sizeof dx),
                         rl_tensor_describe (y, dy, sizeof dy));
  int64_t n = w->shape[0], k = w->shape[1];
  bool shapes_ok = x->shape[x->ndim - 1] == k && y->shape[y->ndim - 1] == n;
  for (int d = 0; d + 1 < x->ndim; d++)
    shapes_ok = shapes_ok && x->shape[d] == y->shape[d];
  if (!shapes_ok)
    return rl_set_error (RL_E_SHAPE, "gemm: x %s · weight %sᵀ does not give y %s",
                         rl_tensor_describe (x, dx, sizeof dx), rl_tensor_describe (w, dw, sizeof dw),
                         rl_tensor_describe (y, dy, sizeof dy));
  if (bias != NULL && (bias->ndim != 1 || bias->shape[0] != n))
    return rl_set_error (RL_E_SHAPE, "gemm: bias %s must be [%lld]",
                         rl_tensor_describe (bias, dx, sizeof dx), (long long) n);
  if (rl_dtype_is_quantized (w->dtype) && !rl_tensor_is_contiguous (w))
    return rl_set_error (RL_E_NOT_CONTIGUOUS, "gemm: quantised weight %s must be contiguous",
                         rl_tensor_describe (w, dw, sizeof dw));

  int64_t m = k > 0 ? rl_tensor_numel (x) / k : rl_tensor_numel (y) / (n > 0 ? n : 1);
  if (m > INT_MAX || n > INT_MAX || k > INT_MAX)
    return rl_set_error (RL_E_OVERFLOW, "gemm: [%lld, %lld] x [%lld, %lld] exceeds BLAS int sizes; split it",
                         (long long) m, (long long) k, (long long) n, (long long) k);
  float *xs = NULL, *ys = NULL, *panel = NULL, *bs = NULL;
  bool x_owned = false, b_owned = false;
  bool y_direct = y->dtype == RL_F32;
  bool w_direct = w->dtype == RL_F32 && rl_tensor_scale (w) == 1.0f && rl_tensor_is_contiguous (w);

  /* Output columns per step: bounded by the f32 weight panel and, when y
   * needs rounding, by an f32 output panel [m, rows] of Y_PANEL_BYTES. */
  int64_t panel_rows = w_direct ? n : (int64_t) (PANEL_BYTES / sizeof (float)) / (k > 0 ? k : 1);
  if (!y_direct)
    {
      int64_t by_y = (int64_t) (Y_PANEL_BYTES / sizeof (float)) / (m > 0 ? m : 1);
      panel_rows = by_y < panel_rows ? by_y : panel_rows;
    }
  if (panel_rows > n)
    panel_rows = n;
  if (panel_rows < 1)
    panel_rows = 1;

  if ((st = cpu_dense_f32 (ctx, x, &xs, &x_owned)) != RL_OK)
    return st;
  if (bias != NULL && (st = cpu_dense_f32 (ctx, bias, &bs, &b_owned)) != RL_OK)
    goto out;
  if (!w_direct && (st = cpu_scratch (ctx, (size_t) (panel_rows * k + 1) * sizeof (float),
                                      (void **) &panel)) != RL_OK)
    goto out;
  if (!y_direct && (st = cpu_scratch (ctx, (size_t) (m * panel_rows + 1) * sizeof (float),
                                      (void **) &ys)) != RL_OK)
    goto out;

  for (int64_t n0 = 0; n0 < n && m > 0; n0 += panel_rows)
    {
      int64_t rows = n - n0 < panel_rows ? n - n0 : panel_rows;
      const float *wp = w_direct ? (const float *) w->data + n0 * k : panel;
      float *out = y_direct ? (float *) y->data + n0 : ys;
      int64_t ldc = y_direct ? n : rows;
      if (!w_direct && k > 0 && (st = load_weight_rows (w, n0, rows, panel)) != RL_OK)
        goto out;
      /* Zero first: sgemm with beta = 0 must not see NaN from old contents. */
      for (int64_t r = 0; r < m; r++)
        memset (out + r * ldc, 0, (size_t) rows * sizeof (float));
      if (k > 0)
        cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, (int) m, (int) rows, (int) k,
                     1.0f, xs, (int) k, wp, (int) k, 0.0f, out, (int) ldc);
      if (bs == NULL && act == RL_ACT_NONE && y_direct)
        continue;
#pragma omp parallel for schedule(static)
      for (int64_t r = 0; r < m; r++)
        {
          float *row = out + r * ldc;
          for (int64_t j = 0; j < rows; j++)
            row[j] = cpu_activate (act, bs != NULL ? row[j] + bs[n0 + j] : row[j]);
          if (!y_direct)
            cpu_store_row (y->dtype, y->data, r * n + n0, 1, rows, row);
        }
    }

out:
  if (ys != NULL)
    cpu_scratch_free (ctx, ys);
  if (panel != NULL)
    cpu_scratch_free (ctx, panel);
  cpu_dense_f32_free (ctx, xs, x_owned);
  if (bs != NULL)
    cpu_dense_f32_free (ctx, bs, b_owned);
  return st;
}

RlStatus
cpu_batched_gemm (RlContext *ctx, RlTensor *c, const RlTensor *a, bool trans_a,
                  const RlTensor *b, bool trans_b, float alpha, float beta)
{
  const char *op = "batched_gemm";
  char da[RL_TENSOR_DESCRIBE_SIZE], db[RL_TENSOR_DESCRIBE_SIZE], dc[RL_TENSOR_DESCRIBE_SIZE];
  RlStatus st;

  if ((st = cpu_check (op, "c", c, CPU_FLOAT | CPU_CONTIGUOUS)) != RL_OK
      || (st = cpu_check (op, "a", a, CPU_FLOAT | CPU_FLOAT8)) != RL_OK
      || (st = cpu_check (op, "b", b, CPU_FLOAT | CPU_FLOAT8)) != RL_OK)
    return st;
  if (a->ndim != 3 || b->ndim != 3 || c->ndim != 3)
    return rl_set_error (RL_E_SHAPE, "batched_gemm: a %s, b %s, c %s must be 3-D [batch, rows, cols]",
                         rl_tensor_describe (a, da, sizeof da), rl_tensor_describe (b, db, sizeof db),
                         rl_tensor_describe (c, dc, sizeof dc));
  int64_t batch = c->shape[0], m = c->shape[1], n = c->shape[2];
  int64_t m_a = trans_a ? a->shape[2] : a->shape[1];
  int64_t k = trans_a ? a->shape[1] : a->shape[2];
  int64_t k_b = trans_b ? b->shape[2] : b->shape[1];
  int64_t n_b = trans_b ? b->shape[1] : b->shape[2];
  if (m_a != m || n_b != n || k_b != k
      || (a->shape[0] != batch && a->shape[0] != 1) || (b->shape[0] != batch && b->shape[0] != 1))
    return rl_set_error (RL_E_SHAPE, "batched_gemm: op(a %s%s) · op(b %s%s) does not give c %s",
                         rl_tensor_describe (a, da, sizeof da), trans_a ? "ᵀ" : "",
                         rl_tensor_describe (b, db, sizeof db), trans_b ? "ᵀ" : "",
                         rl_tensor_describe (c, dc, sizeof dc));

  if (m > INT_MAX || n > INT_MAX || k > INT_MAX || a->shape[1] > INT_MAX || a->shape[2] > INT_MAX
      || b->shape[1] > INT_MAX || b->shape[2] > INT_MAX)
    return rl_set_error (RL_E_OVERFLOW, "batched_gemm: dims of a %s / b %s exceed BLAS int sizes",
                         rl_tensor_describe (a, da, sizeof da), rl_tensor_describe (b, db, sizeof db));
  float *as = NULL, *bs = NULL, *cs = NULL;
  bool a_owned = false, b_owned = false;
  bool c_direct = c->dtype == RL_F32;
  int64_t cn = batch * m * n;

  if ((st = cpu_dense_f32 (ctx, a, &as, &a_owned)) != RL_OK)
    return st;
  if ((st = cpu_dense_f32 (ctx, b, &bs, &b_owned)) != RL_OK)
    goto out;
  if (c_direct)
    cs = c->data;
  else
    {
      if ((st = cpu_scratch (ctx, (size_t) cn * sizeof (float), (void **) &cs)) != RL_OK)
        goto out;
      if (beta != 0.0f)
        cpu_load_row (c->dtype, c->data, 0, 1, cn, cs);
    }
  for (int64_t i = 0; i < batch; i++)
    {
      float *ci = cs + i * m * n;
      if (m == 0 || n == 0)
        continue;
      if (k == 0)
        {
          for (int64_t j = 0; j < m * n; j++)
            ci[j] = beta != 0.0f ? beta * ci[j] : 0.0f;
          continue;
        }
      const float *ai = as + (a->shape[0] == 1 ? 0 : i) * a->shape[1] * a->shape[2];
      const float *bi = bs + (b->shape[0] == 1 ? 0 : i) * b->shape[1] * b->shape[2];
      if (beta == 0.0f)
        memset (ci, 0, (size_t) (m * n) * sizeof (float));   /* NaN-safe */
      cblas_sgemm (CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                   trans_b ? CblasTrans : CblasNoTrans, (int) m, (int) n, (int) k, alpha,
                   ai, (int) a->shape[2], bi, (int) b->shape[2], beta, ci, (int) n);
    }
  if (!c_direct)
    cpu_store_row (c->dtype, c->data, 0, 1, cn, cs);

out:
  if (!c_direct && cs != NULL)
    cpu_scratch_free (ctx, cs);
  cpu_dense_f32_free (ctx, as, a_owned);
  if (bs != NULL)
    cpu_dense_f32_free (ctx, bs, b_owned);
  return st;
}
