/* Matrix-product ops of the CUDA op table: gemm, batched_gemm and the
 * reference attention (convolutions are in cuda-ops-conv.c). */
#include "cuda-internal.h"

#include "cuda-elementwise.h"
#include "cuda-layout.h"
#include "cuda-norm.h"

/* Whether cuBLASLt can write a product of `compute` inputs as `out`. */
static bool
direct_output (RlDType compute, RlDType out)
{
  return out == RL_F32 || out == compute;
}

static RlCudaEpilogue
epilogue_for (RlActivation act, bool bias)
{
  switch (act) {
  case RL_ACT_GELU_TANH: return bias ? RL_CUDA_EPILOGUE_BIAS_GELU_TANH : RL_CUDA_EPILOGUE_GELU_TANH;
  case RL_ACT_SILU:      return bias ? RL_CUDA_EPILOGUE_BIAS_SILU : RL_CUDA_EPILOGUE_SILU;
  default:               return bias ? RL_CUDA_EPILOGUE_BIAS : RL_CUDA_EPILOGUE_NONE;
  }
}

/* Runs one cuBLASLt product and turns its error into an RlStatus. */
static RlStatus
run_gemm (RlContext *ctx, const char *op, const RlCudaGemmShape *shape, const void *x,
          const void *w, const void *bias, void *y, float alpha, float beta)
{
  RlCudaError error = { 0 };
  if (!rl_cuda_gemm_run (ctx->gemm, shape, x, w, bias, y, alpha, beta, ctx->stream, &error))
    return cuda_error_status (&error, op);
  return RL_OK;
}

/* Converts a dense f32 scratch of `count` elements into `y`. */
static RlStatus
store_from_f32 (RlContext *ctx, const char *op, RlTensor *y, const float *src, int64_t count)
{
  return cuda_launch_status (rl_cuda_unary (rl_cuda_pointwise (RL_CUDA_UNARY_COPY), y->data,
                                            cuda_type (y->dtype), src, CUDA_R_32F, count,
                                            ctx->stream), op);
}

RlStatus
cuda_gemm (RlContext *ctx, RlTensor *y, const RlTensor *x, const RlTensor *w,
           const RlTensor *bias, RlActivation act)
{
  const char *op = "gemm";
  char dx[RL_TENSOR_DESCRIBE_SIZE], dw[RL_TENSOR_DESCRIBE_SIZE], dy[RL_TENSOR_DESCRIBE_SIZE];
  RlStatus st;
  if ((st = cuda_check (ctx, op, "y", y, CUDA_FLOAT | CUDA_CONTIGUOUS)) != RL_OK
      || (st = cuda_check (ctx, op, "x", x, CUDA_FLOAT)) != RL_OK
      || (st = cuda_check (ctx, op, "weight", w, 0)) != RL_OK
      || (bias != NULL && (st = cuda_check (ctx, op, "bias", bias, CUDA_FLOAT)) != RL_OK))
    return st;
  if (!(w->dtype == RL_F32 || w->dtype == RL_F16 || w->dtype == RL_BF16
        || w->dtype == RL_F8_E4M3FN || w->dtype == RL_F8_E5M2 || rl_dtype_is_quantized (w->dtype)))
    return rl_set_error (RL_E_DTYPE, "gemm: weight %s has an unsupported dtype",
                         rl_tensor_describe (w, dw, sizeof dw));
  if (w->ndim != 2 || x->ndim < 1 || y->ndim != x->ndim)
    return rl_set_error (RL_E_SHAPE, "gemm: need weight [N, K], x [..., K], y [..., N]; got "
                         "weight %s, x %s, y %s", rl_tensor_describe (w, dw, sizeof dw),
                         rl_tensor_describe (x, dx, sizeof dx), rl_tensor_describe (y, dy, sizeof dy));
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
  int64_t m = rl_tensor_numel (y) / (n > 0 ? n : 1);
  if (m == 0 || n == 0)
    return RL_OK;
  if (k == 0) {
    /* An empty sum: y = act(bias) or act(0). */
    return rl_set_error (RL_E_NOT_SUPPORTED, "gemm: K = 0 (weight %s) is not supported on cuda",
                         rl_tensor_describe (w, dw, sizeof dw));
  }
  RlDType compute = cuda_compute_dtype (w->dtype);
  bool y_direct = direct_output (compute, y->dtype);
  RlDType out_dtype = y_direct ? y->dtype : RL_F32;
  bool w_fp = w->dtype == RL_F32 || w->dtype == RL_F16 || w->dtype == RL_BF16;
  float alpha = w_fp ? rl_tensor_scale (w) : 1.0f;
  void *xs = NULL, *ws = NULL, *bs = NULL, *ys = NULL;
  bool x_owned = false, w_owned = false, b_owned = false;
  if ((st = cuda_dense_as (ctx, op, x, compute, &xs, &x_owned)) != RL_OK)
    return st;
  if (w_fp && rl_tensor_is_contiguous (w)) {
    ws = w->data; /* scale goes into alpha; no copy of a big weight */
    if (w->dtype != compute)
      st = cuda_dense_as (ctx, op, w, compute, &ws, &w_owned);
  } else {
    st = cuda_dense_as (ctx, op, w, compute, &ws, &w_owned);
    alpha = 1.0f;
  }
  if (st == RL_OK && w_owned && w_fp)
    alpha = 1.0f; /* cuda_dense_as applied the scale */
  if (st == RL_OK && bias != NULL)
    st = cuda_dense_as (ctx, op, bias, out_dtype, &bs, &b_owned);
  if (st == RL_OK) {
    ys = y->data;
    if (!y_direct)
      st = cuda_scratch (ctx, (size_t) (m * n) * sizeof (float), &ys);
  }
  if (st == RL_OK) {
    RlCudaGemmShape shape = {
      .m = m, .n = n, .k = k,
      .x_type = cuda_type (compute), .w_type = cuda_type (compute),
      .y_type = cuda_type (out_dtype), .bias_type = cuda_type (out_dtype),
      .epilogue = epilogue_for (act == RL_ACT_GELU_ERF ? RL_ACT_NONE : act, bias != NULL),
    };
    st = run_gemm (ctx, op, &shape, xs, ws, bs, ys, alpha, 0.0f);
  }
  if (st == RL_OK && act == RL_ACT_GELU_ERF)
    st = cuda_launch_status (rl_cuda_unary (rl_cuda_pointwise (RL_CUDA_UNARY_GELU_ERF), ys,
                                            cuda_type (out_dtype), ys, cuda_type (out_dtype), m * n,
                                            ctx->stream), op);
  if (st == RL_OK && !y_direct)
    st = store_from_f32 (ctx, op, y, ys, m * n);
  if (!y_direct && ys != NULL)
    cuda_scratch_free (ctx, ys);
  if (x_owned) cuda_scratch_free (ctx, xs);
  if (w_owned) cuda_scratch_free (ctx, ws);
  if (b_owned) cuda_scratch_free (ctx, bs);
  return st;
}

RlStatus
cuda_batched_gemm (RlContext *ctx, RlTensor *c, const RlTensor *a, bool trans_a,
                   const RlTensor *b, bool trans_b, float alpha, float beta)
{
  const char *op = "batched_gemm";
  char da[RL_TENSOR_DESCRIBE_SIZE], db[RL_TENSOR_DESCRIBE_SIZE], dc[RL_TENSOR_DESCRIBE_SIZE];
  RlStatus st;
  if ((st = cuda_check (ctx, op, "c", c, CUDA_FLOAT | CUDA_CONTIGUOUS)) != RL_OK
      || (st = cuda_check (ctx, op, "a", a, CUDA_FLOAT | CUDA_FLOAT8)) != RL_OK
      || (st = cuda_check (ctx, op, "b", b, CUDA_FLOAT | CUDA_FLOAT8)) != RL_OK)
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
  if (batch == 0 || m == 0 || n == 0)
    return RL_OK;
  if (k == 0)
    return rl_set_error (RL_E_NOT_SUPPORTED, "batched_gemm: K = 0 is not supported on cuda");
  bool any_f32 = a->dtype == RL_F32 || b->dtype == RL_F32;
  RlDType compute = any_f32 ? RL_F32
                    : (a->dtype == RL_F16 && b->dtype == RL_F16) ? RL_F16 : RL_BF16;
  bool c_direct = direct_output (compute, c->dtype);
  int64_t count = batch * m * n;
  void *as = NULL, *bs = NULL, *cs = c->data;
  bool a_owned = false, b_owned = false;
  if ((st = cuda_dense_as (ctx, op, a, compute, &as, &a_owned)) != RL_OK)
    return st;
  if ((st = cuda_dense_as (ctx, op, b, compute, &bs, &b_owned)) != RL_OK)
    goto out;
  if (!c_direct) {
    bool unused;
    cs = NULL;
    if (beta != 0.0f)
      st = cuda_dense_as (ctx, op, c, RL_F32, &cs, &unused);
    else
      st = cuda_scratch (ctx, (size_t) count * sizeof (float), &cs);
    if (st != RL_OK)
      goto out;
  }
  {
    /* Row-major c = op(a)·op(b): a is the GEMM's x, b its w (w_kn when b
     * is stored [k, n], i.e. not transposed). */
    RlCudaGemmShape shape = {
      .m = m, .n = n, .k = k, .batch = batch,
      .stride_x = a->shape[0] == 1 ? 0 : m * k,
      .stride_w = b->shape[0] == 1 ? 0 : k * n,
      .stride_y = m * n,
      .x_type = cuda_type (compute), .w_type = cuda_type (compute),
      .y_type = c_direct ? cuda_type (c->dtype) : CUDA_R_32F,
      .bias_type = c_direct ? cuda_type (c->dtype) : CUDA_R_32F,
      .x_km = trans_a, .w_kn = !trans_b,
    };
    if (batch == 1) {
      shape.batch = 1;
    } else if (shape.stride_x == 0 || shape.stride_w == 0) {
      /* cuBLASLt wants nonzero strides for dense batches; broadcast ones
       * run batch by batch. */
      RlCudaGemmShape one = shape;
      one.batch = 1;
      int esize = rl_cuda_dtype_size (cuda_type (compute));
      int ysize = rl_cuda_dtype_size (shape.y_type);
      for (int64_t i = 0; i < batch && st == RL_OK; i++)
        st = run_gemm (ctx, op, &one, (const char *) as + i * shape.stride_x * esize,
                       (const char *) bs + i * shape.stride_w * esize, NULL,
                       (char *) cs + i * m * n * ysize, alpha, beta);
      goto finish;
    }
    st = run_gemm (ctx, op, &shape, as, bs, NULL, cs, alpha, beta);
  }
finish:
  if (st == RL_OK && !c_direct)
    st = store_from_f32 (ctx, op, c, cs, count);
out:
  if (!c_direct && cs != NULL)
    cuda_scratch_free (ctx, cs);
  if (a_owned) cuda_scratch_free (ctx, as);
  if (b_owned) cuda_scratch_free (ctx, bs);
  return st;
}

RlStatus
cuda_attention (RlContext *ctx, RlTensor *out, RlTensor *lse, const RlTensor *q,
                const RlTensor *k, const RlTensor *v, float scale)
{
  const char *op = "attention";
  char dq[RL_TENSOR_DESCRIBE_SIZE], dk[RL_TENSOR_DESCRIBE_SIZE], dv[RL_TENSOR_DESCRIBE_SIZE];
  RlStatus st;
  if ((st = cuda_check (ctx, op, "out", out, CUDA_FLOAT | CUDA_CONTIGUOUS)) != RL_OK
      || (st = cuda_check (ctx, op, "q", q, CUDA_FLOAT)) != RL_OK
      || (st = cuda_check (ctx, op, "k", k, CUDA_FLOAT)) != RL_OK
      || (st = cuda_check (ctx, op, "v", v, CUDA_FLOAT)) != RL_OK
      || (lse != NULL && (st = cuda_check (ctx, op, "lse", lse, CUDA_CONTIGUOUS)) != RL_OK))
    return st;
  if (q->ndim != 4 || k->ndim != 4 || v->ndim != 4 || out->ndim != 4)
    return rl_set_error (RL_E_SHAPE, "attention: q %s, k %s, v %s must be 4-D [B, L, H, D]",
                         rl_tensor_describe (q, dq, sizeof dq), rl_tensor_describe (k, dk, sizeof dk),
                         rl_tensor_describe (v, dv, sizeof dv));
  int64_t batch = q->shape[0], lq = q->shape[1], heads = q->shape[2], d = q->shape[3];
  int64_t lk = k->shape[1], dvh = v->shape[3];
  bool ok = k->shape[0] == batch && v->shape[0] == batch && k->shape[2] == heads
            && v->shape[2] == heads && k->shape[3] == d && v->shape[1] == lk
            && out->shape[0] == batch && out->shape[1] == lq && out->shape[2] == heads
            && out->shape[3] == dvh;
  if (lse != NULL)
    ok = ok && lse->dtype == RL_F32 && lse->ndim == 3 && lse->shape[0] == batch
         && lse->shape[1] == heads && lse->shape[2] == lq;
  if (!ok)
    return rl_set_error (RL_E_SHAPE, "attention: q %s, k %s, v %s, out and lse (f32 [B, H, Lq]) "
                         "disagree", rl_tensor_describe (q, dq, sizeof dq),
                         rl_tensor_describe (k, dk, sizeof dk), rl_tensor_describe (v, dv, sizeof dv));
  if (batch == 0 || lq == 0 || heads == 0)
    return RL_OK;
  if (lk == 0)
    return rl_set_error (RL_E_NOT_SUPPORTED, "attention: no keys (k %s)",
                         rl_tensor_describe (k, dk, sizeof dk));
  void *qs = NULL, *ks = NULL, *vs = NULL, *scores = NULL, *os = NULL;
  bool q_owned = false, k_owned = false, v_owned = false;
  bool out_direct = out->dtype == RL_F32;
  if ((st = cuda_dense_as (ctx, op, q, RL_F32, &qs, &q_owned)) != RL_OK)
    return st;
  if ((st = cuda_dense_as (ctx, op, k, RL_F32, &ks, &k_owned)) != RL_OK
      || (st = cuda_dense_as (ctx, op, v, RL_F32, &vs, &v_owned)) != RL_OK
      || (st = cuda_scratch (ctx, (size_t) (heads * lq * lk) * sizeof (float), &scores)) != RL_OK)
    goto out;
  os = out->data;
  if (!out_direct
      && (st = cuda_scratch (ctx, (size_t) rl_tensor_numel (out) * sizeof (float), &os)) != RL_OK)
    goto out;
  for (int64_t b = 0; b < batch && st == RL_OK; b++) {
    const float *q_b = (const float *) qs + b * lq * heads * d;
    const float *k_b = (const float *) ks + b * lk * heads * d;
    const float *v_b = (const float *) vs + b * lk * heads * dvh;
    float *o_b = (float *) os + b * lq * heads * dvh;
    /* scores[h] = scale · q[:, h, :] · k[:, h, :]ᵀ, heads as strided batches. */
    RlCudaGemmShape qk = {
      .m = lq, .n = lk, .k = d, .batch = heads, .ldx = heads * d, .ldw = heads * d,
      .stride_x = d, .stride_w = d, .stride_y = lq * lk,
      .x_type = CUDA_R_32F, .w_type = CUDA_R_32F, .y_type = CUDA_R_32F, .bias_type = CUDA_R_32F,
    };
    st = run_gemm (ctx, op, &qk, q_b, k_b, NULL, scores, scale, 0.0f);
    if (st == RL_OK)
      st = cuda_launch_status (rl_cuda_softmax (scores, CUDA_R_32F, scores, CUDA_R_32F,
                                                heads * lq, lk,
                                                lse != NULL ? (float *) lse->data + b * heads * lq
                                                            : NULL,
                                                ctx->stream), op);
    /* out[:, h, :] = P[h] · v[:, h, :]. */
    RlCudaGemmShape pv = {
      .m = lq, .n = dvh, .k = lk, .batch = heads, .ldw = heads * dvh, .ldy = heads * dvh,
      .stride_x = lq * lk, .stride_w = dvh, .stride_y = dvh, .w_kn = true,
      .x_type = CUDA_R_32F, .w_type = CUDA_R_32F, .y_type = CUDA_R_32F, .bias_type = CUDA_R_32F,
    };
    if (st == RL_OK)
      st = run_gemm (ctx, op, &pv, scores, v_b, NULL, o_b, 1.0f, 0.0f);
  }
  if (st == RL_OK && !out_direct)
    st = store_from_f32 (ctx, op, out, os, rl_tensor_numel (out));
out:
  if (!out_direct && os != NULL)
    cuda_scratch_free (ctx, os);
  if (scores != NULL) cuda_scratch_free (ctx, scores);
  if (q_owned) cuda_scratch_free (ctx, qs);
  if (k_owned) cuda_scratch_free (ctx, ks);
  if (v_owned) cuda_scratch_free (ctx, vs);
  return st;
}
