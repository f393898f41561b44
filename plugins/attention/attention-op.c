/* Attention variants behind the op-table signature. See attention-op.h. */
#include "plugins/attention/attention-op.h"

#include <limits.h>
#include <stdio.h>

static _Thread_local RlAttentionSelector *bound_selector;

RlAttentionSelector *
rl_attention_bind (RlAttentionSelector *selector)
{
  RlAttentionSelector *previous = bound_selector;
  bound_selector = selector;
  return previous;
}

static int32_t
attention_dtype (RlDType dtype)
{
  switch (dtype)
    {
    case RL_F32:  return RL_ATTENTION_F32;
    case RL_F16:  return RL_ATTENTION_F16;
    case RL_BF16: return RL_ATTENTION_BF16;
    default:      return -1;
    }
}

static RlStatus
shape_error (const RlTensor *out, const RlTensor *lse, const RlTensor *q, const RlTensor *k,
             const RlTensor *v)
{
  char dq[RL_TENSOR_DESCRIBE_SIZE], dk[RL_TENSOR_DESCRIBE_SIZE], dv[RL_TENSOR_DESCRIBE_SIZE],
       dout[RL_TENSOR_DESCRIBE_SIZE], dlse[RL_TENSOR_DESCRIBE_SIZE] = "none";
  if (lse != NULL)
    rl_tensor_describe (lse, dlse, sizeof dlse);
  return rl_set_error (RL_E_SHAPE, "attention: need contiguous q [B,Lq,H,D], k [B,Lk,H,D], "
                       "v [B,Lk,H,Dv], out [B,Lq,H,Dv] (f32/f16/bf16, q k v one dtype), "
                       "lse f32 [B,H,Lq]; got q %s, k %s, v %s, out %s, lse %s",
                       rl_tensor_describe (q, dq, sizeof dq), rl_tensor_describe (k, dk, sizeof dk),
                       rl_tensor_describe (v, dv, sizeof dv),
                       rl_tensor_describe (out, dout, sizeof dout), dlse);
}

static bool
all_on (RlDevice device, const RlTensor *const *tensors, int count)
{
  for (int i = 0; i < count; i++)
    if (tensors[i] != NULL && !rl_device_equal (tensors[i]->device, device))
      return false;
  return true;
}

RlStatus
rl_attention_describe (const RlTensor *out, const RlTensor *lse, const RlTensor *q,
                       const RlTensor *k, const RlTensor *v, float scale,
                       RlAttentionProblem *problem, RlAttentionArgs *args)
{
  if (out == NULL || q == NULL || k == NULL || v == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "attention: out, q, k and v must not be NULL");
  bool ok = q->ndim == 4 && k->ndim == 4 && v->ndim == 4 && out->ndim == 4
            && rl_tensor_is_contiguous (q) && rl_tensor_is_contiguous (k)
            && rl_tensor_is_contiguous (v) && rl_tensor_is_contiguous (out)
            && q->dtype == k->dtype && q->dtype == v->dtype && attention_dtype (q->dtype) >= 0
            && attention_dtype (out->dtype) >= 0;
  ok = ok && k->shape[0] == q->shape[0] && v->shape[0] == q->shape[0]
       && k->shape[2] == q->shape[2] && v->shape[2] == q->shape[2] && k->shape[3] == q->shape[3]
       && v->shape[1] == k->shape[1] && out->shape[0] == q->shape[0]
       && out->shape[1] == q->shape[1] && out->shape[2] == q->shape[2]
       && out->shape[3] == v->shape[3];
  ok = ok && (lse == NULL
              || (lse->ndim == 3 && lse->dtype == RL_F32 && rl_tensor_is_contiguous (lse)
                  && lse->shape[0] == q->shape[0] && lse->shape[1] == q->shape[2]
                  && lse->shape[2] == q->shape[1]));
  for (int d = 0; ok && d < 4; d++)
    ok = q->shape[d] <= INT32_MAX && k->shape[d] <= INT32_MAX && v->shape[d] <= INT32_MAX;
  if (!ok)
    return shape_error (out, lse, q, k, v);
  const RlTensor *all[] = { out, lse, q, k, v };
  if (!all_on (q->device, all, 5))
    return rl_set_error (RL_E_DEVICE_MISMATCH, "attention: q, k, v, out and lse must be on one "
                         "device (q is on %s %d)", rl_device_kind_name (q->device.kind),
                         q->device.index);
  *problem = (RlAttentionProblem) {
    .struct_size = sizeof (RlAttentionProblem),
    .batch = (int32_t) q->shape[0], .heads = (int32_t) q->shape[2],
    .q_len = (int32_t) q->shape[1], .kv_len = (int32_t) k->shape[1],
    .head_dim = (int32_t) q->shape[3], .v_head_dim = (int32_t) v->shape[3],
    .qkv_dtype = attention_dtype (q->dtype), .out_dtype = attention_dtype (out->dtype),
    .layout = RL_ATTENTION_LAYOUT_BLHD, .has_kv_lengths = 0,
    .device_index = q->device.kind == RL_DEVICE_CUDA ? q->device.index : 0, .scale = scale,
  };
  *args = (RlAttentionArgs) {
    .struct_size = sizeof (RlAttentionArgs),
    .q = q->data, .k = k->data, .v = v->data, .out = out->data,
    .lse = lse != NULL ? (float *) lse->data : NULL,
  };
  return RL_OK;
}

RlStatus
rl_attention_run_tensors (RlAttentionSelector *selector, RlTensor *out, RlTensor *lse,
                          const RlTensor *q, const RlTensor *k, const RlTensor *v, float scale)
{
  RlAttentionProblem problem;
  RlAttentionArgs args;
  RlStatus status = rl_attention_describe (out, lse, q, k, v, scale, &problem, &args);
  if (status != RL_OK)
    return status;
  RlDeviceKind wanted = rl_attention_selector_backend (selector) == RL_ATTENTION_BACKEND_CUDA
                        ? RL_DEVICE_CUDA : RL_DEVICE_CPU;
  if (q->device.kind != wanted
      || (wanted == RL_DEVICE_CUDA && q->device.index != rl_attention_selector_device (selector)))
    return rl_set_error (RL_E_DEVICE_MISMATCH, "attention: tensors are on %s %d but the attention "
                         "selector serves %s %d; make a selector per device",
                         rl_device_kind_name (q->device.kind), q->device.index,
                         rl_device_kind_name (wanted), rl_attention_selector_device (selector));
  char error[1024] = "";
  int result = rl_attention_selector_run (selector, &problem, &args, error, sizeof error);
  switch (result)
    {
    case RL_ATTENTION_OK:          return RL_OK;
    case RL_ATTENTION_UNSUPPORTED:
    case RL_ATTENTION_UNAVAILABLE: return rl_set_error (RL_E_NOT_SUPPORTED, "%s", error);
    case RL_ATTENTION_INVALID:     return rl_set_error (RL_E_INVALID_ARG, "%s", error);
    default:                       return rl_set_error (RL_E_DEVICE, "%s", error);
    }
}

RlStatus
rl_attention_op (RlContext *ctx, RlTensor *out, RlTensor *lse, const RlTensor *q,
                 const RlTensor *k, const RlTensor *v, float scale)
{
  if (bound_selector == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "attention: no attention selector is bound to this "
                         "thread; call rl_attention_bind first");
  return rl_attention_run_tensors (bound_selector, out, lse, q, k, v, scale);
}

void
rl_attention_ops_with_variants (const RlOps *base, RlOps *out)
{
  *out = *base;
  out->attention = rl_attention_op;
}
