/* rl_lse_merge: host loop for CPU tensors, a kernel for CUDA tensors. */
#include "workers/parallel/lse-merge.h"

#include <math.h>

#include "raylight-config.h"
#if RAYLIGHT_HAVE_CUDA
#include "workers/parallel/lse-merge-cuda.h"
#endif

static RlStatus
check_f32 (const char *arg, const RlTensor *t, int ndim, const int64_t *shape)
{
  char desc[RL_TENSOR_DESCRIBE_SIZE];
  bool ok = t != NULL && t->dtype == RL_F32 && t->ndim == ndim && rl_tensor_is_contiguous (t);
  for (int d = 0; ok && d < ndim; d++)
    ok = t->shape[d] == shape[d];
  if (!ok)
    return rl_set_error (RL_E_SHAPE, "lse merge: %s %s must be contiguous f32 "
                         "[%lld, %lld, %lld%s%s]", arg,
                         t != NULL ? rl_tensor_describe (t, desc, sizeof desc) : "NULL",
                         (long long) shape[0], (long long) shape[1],
                         (long long) shape[2], ndim == 4 ? ", ..." : "", "");
  return RL_OK;
}

static void
merge_host (float *acc_out, float *acc_lse, const float *part_out,
            const float *part_lse, int64_t batch, int64_t q_len, int64_t heads,
            int64_t v_dim)
{
  for (int64_t b = 0; b < batch; b++)
    for (int64_t h = 0; h < heads; h++)
      for (int64_t i = 0; i < q_len; i++) {
        int64_t row = (b * heads + h) * q_len + i;
        float *o = acc_out + ((b * q_len + i) * heads + h) * v_dim;
        const float *po = part_out + ((b * q_len + i) * heads + h) * v_dim;
        double a = acc_lse[row], p = part_lse[row];
        if (p == -INFINITY)
          continue;
        if (a == -INFINITY) {
          for (int64_t e = 0; e < v_dim; e++)
            o[e] = po[e];
          acc_lse[row] = (float) p;
          continue;
        }
        double m = a > p ? a : p;
        double wa = exp (a - m), wp = exp (p - m), sum = wa + wp;
        for (int64_t e = 0; e < v_dim; e++)
          o[e] = (float) ((wa * o[e] + wp * po[e]) / sum);
        acc_lse[row] = (float) (m + log (sum));
      }
}

RlStatus
rl_lse_merge (const RlBackend *backend, RlContext *ctx, RlTensor *acc_out,
              RlTensor *acc_lse, const RlTensor *part_out, const RlTensor *part_lse)
{
  RlStatus status;

  if (acc_out == NULL || acc_out->ndim != 4)
    return rl_set_error (RL_E_SHAPE, "lse merge: acc_out must be f32 [B, Lq, H, Dv]");
  int64_t batch = acc_out->shape[0], q_len = acc_out->shape[1];
  int64_t heads = acc_out->shape[2], v_dim = acc_out->shape[3];
  int64_t lse_shape[3] = { batch, heads, q_len };
  if ((status = check_f32 ("acc_out", acc_out, 4, acc_out->shape)) != RL_OK
      || (status = check_f32 ("part_out", part_out, 4, acc_out->shape)) != RL_OK
      || (status = check_f32 ("acc_lse", acc_lse, 3, lse_shape)) != RL_OK
      || (status = check_f32 ("part_lse", part_lse, 3, lse_shape)) != RL_OK)
    return status;
  if (acc_out->device.kind == RL_DEVICE_CPU) {
    merge_host (acc_out->data, acc_lse->data, part_out->data, part_lse->data,
                batch, q_len, heads, v_dim);
    return RL_OK;
  }
#if RAYLIGHT_HAVE_CUDA
  /* The op table exposes no stream: order after the context's work, run
   * on the default stream and wait, so the next op sees the result. */
  if ((status = backend->synchronize (ctx)) != RL_OK)
    return status;
  int err = rl_lse_merge_cuda (acc_out->data, acc_lse->data, part_out->data,
                               part_lse->data, batch, q_len, heads, v_dim, NULL);
  if (err == 0)
    err = rl_lse_merge_cuda_sync ();
  if (err != 0)
    return rl_set_error (RL_E_DEVICE, "lse merge: CUDA kernel failed (error %d)", err);
  return RL_OK;
#else
  return rl_set_error (RL_E_NOT_SUPPORTED, "lse merge: tensors on %s, but this "
                       "build has no CUDA", rl_device_kind_name (acc_out->device.kind));
#endif
}
