/* The `reference` attention variant: CPU, exact. Scores, exponentials and
 * sums in double, one (batch, head, query) row per OpenMP task; inputs of
 * any supported dtype are upcast to fp32 first. The oracle the fast
 * variants are tested against; not meant to be fast. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/attention/attention.h"
#include "plugins/attention/variant-util.h"
#include "workers/runtime/float-convert.h"

const RlAttentionVariant *raylight_attention_variant (uint32_t host_abi_version);

struct RlAttentionInstance {
  int unused;
};

static float
load_element (int32_t dtype, const void *base, int64_t index)
{
  switch (dtype)
    {
    case RL_ATTENTION_F16:  return rl_f16_to_f32 (((const uint16_t *) base)[index]);
    case RL_ATTENTION_BF16: return rl_bf16_to_f32 (((const uint16_t *) base)[index]);
    default:                return ((const float *) base)[index];
    }
}

static void
store_element (int32_t dtype, void *base, int64_t index, float value)
{
  switch (dtype)
    {
    case RL_ATTENTION_F16:  ((uint16_t *) base)[index] = rl_f32_to_f16 (value); break;
    case RL_ATTENTION_BF16: ((uint16_t *) base)[index] = rl_f32_to_bf16 (value); break;
    default:                ((float *) base)[index] = value; break;
    }
}

/* A dense fp32 copy of `count` elements. */
static float *
upcast (int32_t dtype, const void *data, int64_t count)
{
  float *copy = malloc ((size_t) count * sizeof (float));
  if (copy == NULL)
    return NULL;
  for (int64_t i = 0; i < count; i++)
    copy[i] = load_element (dtype, data, i);
  return copy;
}

static int reference_supports (RlAttentionInstance *instance, const RlAttentionProblem *p,
                               char *why, size_t why_size);

static int
reference_open (int32_t device_index, RlAttentionInstance **out, char *error, size_t error_size)
{
  *out = calloc (1, sizeof (RlAttentionInstance));
  return *out != NULL ? RL_ATTENTION_OK
                      : rl_attention_fail (RL_ATTENTION_FAILED, error, error_size,
                                           "reference: out of memory");
}

static void
reference_close (RlAttentionInstance *instance)
{
  free (instance);
}

static double
reference_cost_hint (RlAttentionInstance *instance, const RlAttentionProblem *p)
{
  /* About 1 GFLOP/s of double math per core, assume 4 cores. */
  return rl_attention_flops (p) / 4e9 * 1e3;
}

/* One output row: out[b,i,h,:] and lse[b,h,i]. `scores` holds Lk doubles,
 * `acc` Dv doubles. */
static void
reference_row (const RlAttentionProblem *p, const RlAttentionArgs *args, const float *q,
               const float *k, const float *v, int64_t row, double *scores, double *acc)
{
  int64_t heads = p->heads, lq = p->q_len, lk = p->kv_len, d = p->head_dim, dv = p->v_head_dim;
  int64_t b = row / (heads * lq), h = (row / lq) % heads, i = row % lq;
  int64_t keys = rl_attention_keys_of (p, args, (int32_t) b);
  const float *qi = q + ((b * lq + i) * heads + h) * d;
  double max = -INFINITY;
  for (int64_t j = 0; j < keys; j++)
    {
      const float *kj = k + ((b * lk + j) * heads + h) * d;
      double dot = 0.0;
      for (int64_t e = 0; e < d; e++)
        dot += (double) qi[e] * kj[e];
      scores[j] = dot * p->scale;
      max = scores[j] > max ? scores[j] : max;
    }
  double sum = 0.0;
  memset (acc, 0, (size_t) dv * sizeof (double));
  for (int64_t j = 0; j < keys; j++)
    {
      double weight = exp (scores[j] - max);
      const float *vj = v + ((b * lk + j) * heads + h) * dv;
      sum += weight;
      for (int64_t e = 0; e < dv; e++)
        acc[e] += weight * vj[e];
    }
  int64_t out_base = ((b * lq + i) * heads + h) * dv;
  for (int64_t e = 0; e < dv; e++)
    store_element (p->out_dtype, args->out, out_base + e, keys > 0 ? (float) (acc[e] / sum) : 0.0f);
  if (args->lse != NULL)
    args->lse[(b * heads + h) * lq + i] = keys > 0 ? (float) (max + log (sum)) : -INFINITY;
}

static int
reference_run (RlAttentionInstance *instance, const RlAttentionProblem *p,
               const RlAttentionArgs *args, char *error, size_t error_size)
{
  int result = rl_attention_check_run (raylight_attention_variant (RL_ATTENTION_ABI_VERSION),
                                       instance, p, args, error, error_size);
  if (result != RL_ATTENTION_OK)
    return result;
  int64_t q_count = (int64_t) p->batch * p->q_len * p->heads * p->head_dim;
  int64_t k_count = (int64_t) p->batch * p->kv_len * p->heads * p->head_dim;
  int64_t v_count = (int64_t) p->batch * p->kv_len * p->heads * p->v_head_dim;
  float *q = upcast (p->qkv_dtype, args->q, q_count);
  float *k = upcast (p->qkv_dtype, args->k, k_count);
  float *v = upcast (p->qkv_dtype, args->v, v_count);
  int64_t rows = (int64_t) p->batch * p->heads * p->q_len;
  result = q != NULL && k != NULL && v != NULL ? RL_ATTENTION_OK : RL_ATTENTION_FAILED;
  if (result == RL_ATTENTION_OK)
    {
#pragma omp parallel
      {
        double *scores = malloc ((size_t) (p->kv_len + p->v_head_dim) * sizeof (double));
        if (scores == NULL)
          {
#pragma omp atomic write
            result = RL_ATTENTION_FAILED;
          }
#pragma omp for schedule(static)
        for (int64_t row = 0; row < rows; row++)
          if (scores != NULL)
            reference_row (p, args, q, k, v, row, scores, scores + p->kv_len);
        free (scores);
      }
    }
  free (q);
  free (k);
  free (v);
  if (result != RL_ATTENTION_OK)
    return rl_attention_fail (result, error, error_size,
                              "reference: out of memory upcasting q/k/v (B=%d Lq=%d Lk=%d H=%d)",
                              p->batch, p->q_len, p->kv_len, p->heads);
  return RL_ATTENTION_OK;
}

static const RlAttentionVariant reference_variant = {
  .abi_version = RL_ATTENTION_ABI_VERSION,
  .struct_size = sizeof (RlAttentionVariant),
  .name = "reference",
  .description = "CPU, exact (double accumulation); the oracle, not fast",
  .backend = RL_ATTENTION_BACKEND_CPU,
  .qkv_dtypes = RL_ATTENTION_DTYPE_BIT (RL_ATTENTION_F32) | RL_ATTENTION_DTYPE_BIT (RL_ATTENTION_F16)
                | RL_ATTENTION_DTYPE_BIT (RL_ATTENTION_BF16),
  .out_dtypes = RL_ATTENTION_DTYPE_BIT (RL_ATTENTION_F32) | RL_ATTENTION_DTYPE_BIT (RL_ATTENTION_F16)
                | RL_ATTENTION_DTYPE_BIT (RL_ATTENTION_BF16),
  .head_dims = NULL,
  .max_head_dim = 0,
  .supports_kv_lengths = 1,
  .open = reference_open,
  .close = reference_close,
  .supports = reference_supports,
  .cost_hint = reference_cost_hint,
  .run = reference_run,
};

static int
reference_supports (RlAttentionInstance *instance, const RlAttentionProblem *p, char *why,
                    size_t why_size)
{
  return rl_attention_check_declared (&reference_variant, p, why, why_size);
}

const RlAttentionVariant *
raylight_attention_variant (uint32_t host_abi_version)
{
  return host_abi_version == RL_ATTENTION_ABI_VERSION ? &reference_variant : NULL;
}
