/* Helpers every variant shares (header-only, so each .so stays one
 * self-contained object): error formatting, the capability checks that
 * follow from RlAttentionVariant's declared fields, the checks GPU
 * variants add, and per-batch pointers. */
#pragma once

#include <stdarg.h>
#include <stdio.h>

#include "plugins/attention/attention.h"

/* snprintf into an optional error buffer; returns `result`. */
static inline int
rl_attention_fail (int result, char *error, size_t error_size, const char *fmt, ...)
  __attribute__ ((format (printf, 4, 5)));

static inline int
rl_attention_fail (int result, char *error, size_t error_size, const char *fmt, ...)
{
  if (error != NULL && error_size > 0)
    {
      va_list ap;
      va_start (ap, fmt);
      vsnprintf (error, error_size, fmt, ap);
      va_end (ap);
    }
  return result;
}

/* RL_ATTENTION_OK when `p` is well formed and within what `variant`
 * declares (dtypes, head dims, layout, padded keys); the reason otherwise.
 * Malformed sizes give RL_ATTENTION_INVALID, unsupported ones
 * RL_ATTENTION_UNSUPPORTED. */
static inline int
rl_attention_check_declared (const RlAttentionVariant *variant,
                             const RlAttentionProblem *p, char *why, size_t why_size)
{
  if (p == NULL || p->struct_size < sizeof (RlAttentionProblem))
    return rl_attention_fail (RL_ATTENTION_INVALID, why, why_size,
                              "%s: problem struct missing or from an older host", variant->name);
  if (p->batch < 1 || p->heads < 1 || p->q_len < 1 || p->kv_len < 1 || p->head_dim < 1
      || p->v_head_dim < 1)
    return rl_attention_fail (RL_ATTENTION_INVALID, why, why_size,
                              "%s: sizes must be positive (B=%d H=%d Lq=%d Lk=%d D=%d Dv=%d)",
                              variant->name, p->batch, p->heads, p->q_len, p->kv_len,
                              p->head_dim, p->v_head_dim);
  if (p->layout != RL_ATTENTION_LAYOUT_BLHD)
    return rl_attention_fail (RL_ATTENTION_UNSUPPORTED, why, why_size,
                              "%s: layout %d is not [B, L, H, D]", variant->name, p->layout);
  if (rl_attention_dtype_size (p->qkv_dtype) == 0
      || !(variant->qkv_dtypes & RL_ATTENTION_DTYPE_BIT (p->qkv_dtype)))
    return rl_attention_fail (RL_ATTENTION_UNSUPPORTED, why, why_size,
                              "%s: q/k/v dtype %s not supported", variant->name,
                              rl_attention_dtype_name (p->qkv_dtype));
  if (rl_attention_dtype_size (p->out_dtype) == 0
      || !(variant->out_dtypes & RL_ATTENTION_DTYPE_BIT (p->out_dtype)))
    return rl_attention_fail (RL_ATTENTION_UNSUPPORTED, why, why_size,
                              "%s: output dtype %s not supported", variant->name,
                              rl_attention_dtype_name (p->out_dtype));
  if (p->has_kv_lengths && !variant->supports_kv_lengths)
    return rl_attention_fail (RL_ATTENTION_UNSUPPORTED, why, why_size,
                              "%s: padded keys (per-batch key lengths) not supported", variant->name);
  if (variant->head_dims == NULL)
    {
      if (variant->max_head_dim > 0
          && (p->head_dim > variant->max_head_dim || p->v_head_dim > variant->max_head_dim))
        return rl_attention_fail (RL_ATTENTION_UNSUPPORTED, why, why_size,
                                  "%s: head dim %d/%d above %d", variant->name, p->head_dim,
                                  p->v_head_dim, variant->max_head_dim);
      return RL_ATTENTION_OK;
    }
  if (p->head_dim != p->v_head_dim)
    return rl_attention_fail (RL_ATTENTION_UNSUPPORTED, why, why_size,
                              "%s: head dims of q/k (%d) and v (%d) must match", variant->name,
                              p->head_dim, p->v_head_dim);
  for (const int32_t *d = variant->head_dims; *d != 0; d++)
    if (*d == p->head_dim)
      return RL_ATTENTION_OK;
  return rl_attention_fail (RL_ATTENTION_UNSUPPORTED, why, why_size,
                            "%s: head dim %d not supported", variant->name, p->head_dim);
}

/* Checks the pointers of `args` for `p`. */
static inline int
rl_attention_check_args (const RlAttentionVariant *variant, const RlAttentionProblem *p,
                         const RlAttentionArgs *args, char *error, size_t error_size)
{
  if (args == NULL || args->struct_size < sizeof (RlAttentionArgs))
    return rl_attention_fail (RL_ATTENTION_INVALID, error, error_size,
                              "%s: args struct missing or from an older host", variant->name);
  if (args->q == NULL || args->k == NULL || args->v == NULL || args->out == NULL)
    return rl_attention_fail (RL_ATTENTION_INVALID, error, error_size,
                              "%s: q, k, v and out must not be NULL", variant->name);
  if (p->has_kv_lengths && args->kv_lengths == NULL)
    return rl_attention_fail (RL_ATTENTION_INVALID, error, error_size,
                              "%s: has_kv_lengths set but kv_lengths is NULL", variant->name);
  if (p->has_kv_lengths)
    for (int32_t b = 0; b < p->batch; b++)
      if (args->kv_lengths[b] < 0 || args->kv_lengths[b] > p->kv_len)
        return rl_attention_fail (RL_ATTENTION_INVALID, error, error_size,
                                  "%s: kv_lengths[%d] = %d outside [0, %d]", variant->name, b,
                                  args->kv_lengths[b], p->kv_len);
  return RL_ATTENTION_OK;
}

/* What every run checks first: `p` through the variant's own supports (so
 * the reason names the variant's limits), then the pointers of `args`. */
static inline int
rl_attention_check_run (const RlAttentionVariant *variant, RlAttentionInstance *instance,
                        const RlAttentionProblem *p, const RlAttentionArgs *args, char *error,
                        size_t error_size)
{
  int result = variant->supports (instance, p, error, error_size);
  if (result != RL_ATTENTION_OK)
    return result;
  return rl_attention_check_args (variant, p, args, error, error_size);
}

/* For kernels that write the output in the input's dtype only. */
static inline int
rl_attention_check_out_is_input_dtype (const char *name, const RlAttentionProblem *p, char *why,
                                       size_t why_size)
{
  if (p->out_dtype == p->qkv_dtype)
    return RL_ATTENTION_OK;
  return rl_attention_fail (RL_ATTENTION_UNSUPPORTED, why, why_size,
                            "%s: output dtype must be the input's (%s), not %s", name,
                            rl_attention_dtype_name (p->qkv_dtype),
                            rl_attention_dtype_name (p->out_dtype));
}

/* For instances bound to the GPU they were opened on. */
static inline int
rl_attention_check_device (const char *name, int32_t opened_device, const RlAttentionProblem *p,
                           char *why, size_t why_size)
{
  if (p->device_index == opened_device)
    return RL_ATTENTION_OK;
  return rl_attention_fail (RL_ATTENTION_UNSUPPORTED, why, why_size,
                            "%s: opened on device %d, problem on device %d", name, opened_device,
                            p->device_index);
}

/* Where batch `b` of each tensor starts ([B, L, H, D] q/k/v/out, lse
 * [B, H, Lq]; lse NULL when the caller passes none): kernels that take
 * one key count per launch run padded batches one at a time. */
typedef struct {
  const void *q, *k, *v;
  void       *out;
  float      *lse;
} RlAttentionBatch;

static inline RlAttentionBatch
rl_attention_batch (const RlAttentionProblem *p, const RlAttentionArgs *args, int32_t b)
{
  size_t elem = rl_attention_dtype_size (p->qkv_dtype);
  size_t q_batch = (size_t) p->q_len * p->heads * p->head_dim * elem;
  size_t kv_batch = (size_t) p->kv_len * p->heads * p->head_dim * elem;
  size_t v_batch = (size_t) p->kv_len * p->heads * p->v_head_dim * elem;
  size_t out_batch = (size_t) p->q_len * p->heads * p->v_head_dim
                     * rl_attention_dtype_size (p->out_dtype);
  return (RlAttentionBatch) {
    .q = (const char *) args->q + b * q_batch,
    .k = (const char *) args->k + b * kv_batch,
    .v = (const char *) args->v + b * v_batch,
    .out = (char *) args->out + b * out_batch,
    .lse = args->lse != NULL ? args->lse + (size_t) b * p->heads * p->q_len : NULL,
  };
}

/* Keys that batch `b` attends to. */
static inline int32_t
rl_attention_keys_of (const RlAttentionProblem *p, const RlAttentionArgs *args, int32_t b)
{
  return p->has_kv_lengths ? args->kv_lengths[b] : p->kv_len;
}
