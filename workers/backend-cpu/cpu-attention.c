/* Reference attention with log-sum-exp, and softmax. One (batch, head,
 * query) row per task; scores and sums in double; exact, not fast. */
#include "workers/backend-cpu/cpu-internal.h"

#include <math.h>

RlStatus
cpu_softmax (RlContext *ctx, RlTensor *y, const RlTensor *x)
{
  const char *op = "softmax";
  RlStatus st;

  if ((st = cpu_check (op, "y", y, CPU_FLOAT | CPU_CONTIGUOUS)) != RL_OK
      || (st = cpu_check (op, "x", x, CPU_FLOAT | CPU_CONTIGUOUS)) != RL_OK
      || (st = cpu_check_same_shape (op, "y", y, "x", x)) != RL_OK)
    return st;
  if (x->ndim < 1)
    return rl_set_error (RL_E_SHAPE, "softmax: x must have at least one dim");
  int64_t n = x->shape[x->ndim - 1];
  int64_t rows = n > 0 ? rl_tensor_numel (x) / n : 0;
  float *scratch;
  int threads = cpu_thread_count ();
  if ((st = cpu_scratch (ctx, (size_t) (threads * n) * sizeof (float), (void **) &scratch)) != RL_OK)
    return st;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; r++)
    {
      float *row = scratch + cpu_thread_slot () * n;
      cpu_load_row (x->dtype, x->data, r * n, 1, n, row);
      float max = -INFINITY;
      for (int64_t i = 0; i < n; i++)
        max = row[i] > max ? row[i] : max;
      double sum = 0.0;
      for (int64_t i = 0; i < n; i++)
        {
          double e = exp ((double) row[i] - (double) max);
          row[i] = (float) e;
          sum += e;
        }
      for (int64_t i = 0; i < n; i++)
        row[i] = (float) (row[i] / sum);
      cpu_store_row (y->dtype, y->data, r * n, 1, n, row);
    }
  cpu_scratch_free (ctx, scratch);
  return RL_OK;
}

RlStatus
cpu_attention (RlContext *ctx, RlTensor *out, RlTensor *lse, const RlTensor *q,
               const RlTensor *k, const RlTensor *v, float scale)
{
  const char *op = "attention";
  char dq[RL_TENSOR_DESCRIBE_SIZE], dk[RL_TENSOR_DESCRIBE_SIZE], dv[RL_TENSOR_DESCRIBE_SIZE],
       dout[RL_TENSOR_DESCRIBE_SIZE];
  RlStatus st;

  if ((st = cpu_check (op, "out", out, CPU_FLOAT | CPU_CONTIGUOUS)) != RL_OK
      || (st = cpu_check (op, "q", q, CPU_FLOAT)) != RL_OK
      || (st = cpu_check (op, "k", k, CPU_FLOAT)) != RL_OK
      || (st = cpu_check (op, "v", v, CPU_FLOAT)) != RL_OK
      || (lse != NULL && (st = cpu_check (op, "lse", lse, CPU_FLOAT | CPU_CONTIGUOUS)) != RL_OK))
    return st;
  bool ok = q->ndim == 4 && k->ndim == 4 && v->ndim == 4 && out->ndim == 4;
  int64_t batch = q->shape[0], lq = q->shape[1], heads = q->shape[2], dh = q->shape[3];
  int64_t lk = k->shape[1], dv_ = v->shape[3];
  ok = ok && k->shape[0] == batch && v->shape[0] == batch && k->shape[2] == heads
       && v->shape[2] == heads && k->shape[3] == dh && v->shape[1] == lk
       && out->shape[0] == batch && out->shape[1] == lq && out->shape[2] == heads
       && out->shape[3] == dv_;
  if (!ok)
    return rl_set_error (RL_E_SHAPE, "attention: need q [B,Lq,H,D], k [B,Lk,H,D], v [B,Lk,H,Dv], out [B,Lq,H,Dv]; "
                         "got q %s, k %s, v %s, out %s",
                         rl_tensor_describe (q, dq, sizeof dq), rl_tensor_describe (k, dk, sizeof dk),
                         rl_tensor_describe (v, dv, sizeof dv), rl_tensor_describe (out, dout, sizeof dout));
  if (lse != NULL && (lse->ndim != 3 || lse->shape[0] != batch || lse->shape[1] != heads
                      || lse->shape[2] != lq))
    return rl_set_error (RL_E_SHAPE, "attention: lse %s must be [%lld, %lld, %lld]",
                         rl_tensor_describe (lse, dq, sizeof dq), (long long) batch,
                         (long long) heads, (long long) lq);

  float *qs = NULL, *ks = NULL, *vs = NULL, *scratch = NULL;
  bool q_owned = false, k_owned = false, v_owned = false;
  int threads = cpu_thread_count ();
  size_t per_thread = (size_t) lk * sizeof (double) + (size_t) dv_ * sizeof (double)
                      + (size_t) dv_ * sizeof (float);
  if ((st = cpu_dense_f32 (ctx, q, &qs, &q_owned)) != RL_OK)
    return st;
  if ((st = cpu_dense_f32 (ctx, k, &ks, &k_owned)) != RL_OK
      || (st = cpu_dense_f32 (ctx, v, &vs, &v_owned)) != RL_OK
      || (st = cpu_scratch (ctx, threads * per_thread + 1, (void **) &scratch)) != RL_OK)
    goto done;
#pragma omp parallel for schedule(static)
  for (int64_t task = 0; task < batch * heads * lq; task++)
    {
      char *mine = (char *) scratch + cpu_thread_slot () * per_thread;
      double *scores = (double *) mine;
      double *acc = scores + lk;
      float *row = (float *) (acc + dv_);
      int64_t b = task / (heads * lq), h = (task / lq) % heads, i = task % lq;
      const float *qi = qs + ((b * lq + i) * heads + h) * dh;
      double max = -INFINITY;
      for (int64_t j = 0; j < lk; j++)
        {
          const float *kj = ks + ((b * lk + j) * heads + h) * dh;
          double dot = 0.0;
          for (int64_t e = 0; e < dh; e++)
            dot += (double) qi[e] * kj[e];
          scores[j] = dot * scale;
          max = scores[j] > max ? scores[j] : max;
        }
      double sum = 0.0;
      for (int64_t e = 0; e < dv_; e++)
        acc[e] = 0.0;
      for (int64_t j = 0; j < lk; j++)
        {
          double p = exp (scores[j] - max);
          sum += p;
          const float *vj = vs + ((b * lk + j) * heads + h) * dv_;
          for (int64_t e = 0; e < dv_; e++)
            acc[e] += p * vj[e];
        }
      for (int64_t e = 0; e < dv_; e++)
        row[e] = lk > 0 ? (float) (acc[e] / sum) : 0.0f;
      cpu_store_row (out->dtype, out->data, ((b * lq + i) * heads + h) * dv_, 1, dv_, row);
      if (lse != NULL)
        cpu_store (lse->dtype, lse->data, (b * heads + h) * lq + i,
                   lk > 0 ? (float) (max + log (sum)) : -INFINITY);
    }
done:
  if (scratch != NULL)
    cpu_scratch_free (ctx, scratch);
  cpu_dense_f32_free (ctx, qs, q_owned);
  if (ks != NULL)
    cpu_dense_f32_free (ctx, ks, k_owned);
  if (vs != NULL)
    cpu_dense_f32_free (ctx, vs, v_owned);
  return st;
}
