/* A CPU attention variant for the worker-selection test that runs only
 * head dim 64 (f32), so a problem with another head dim makes the selector
 * fall back and log why. Exact like the reference (double accumulation),
 * but it declares itself the cheapest so "auto" would pick it. */
#include <math.h>
#include <stdlib.h>

#include "plugins/attention/attention.h"
#include "plugins/attention/variant-util.h"

struct RlAttentionInstance {
  int unused;
};

static const int32_t head_dims[] = { 64, 0 };

static int
d64_open (int32_t device_index, RlAttentionInstance **out, char *error, size_t error_size)
{
  *out = calloc (1, sizeof **out);
  return *out != NULL ? RL_ATTENTION_OK
                      : rl_attention_fail (RL_ATTENTION_FAILED, error, error_size,
                                           "head-dim-64: out of memory");
}

static void
d64_close (RlAttentionInstance *instance)
{
  free (instance);
}

static const RlAttentionVariant variant;

static int
d64_supports (RlAttentionInstance *instance, const RlAttentionProblem *p, char *why,
              size_t why_size)
{
  return rl_attention_check_declared (&variant, p, why, why_size);
}

static double
d64_cost (RlAttentionInstance *instance, const RlAttentionProblem *p)
{
  return 0.0;
}

static int
d64_run (RlAttentionInstance *instance, const RlAttentionProblem *p, const RlAttentionArgs *args,
         char *error, size_t error_size)
{
  int status = rl_attention_check_args (&variant, p, args, error, error_size);
  if (status != RL_ATTENTION_OK)
    return status;
  const float *q = args->q, *k = args->k, *v = args->v;
  float *out = args->out;
  const int D = p->head_dim, H = p->heads, Lq = p->q_len, Lk = p->kv_len;
  double *scores = malloc (sizeof (double) * (size_t) Lk);
  if (scores == NULL)
    return rl_attention_fail (RL_ATTENTION_FAILED, error, error_size, "head-dim-64: no memory");
  for (int b = 0; b < p->batch; b++)
    for (int i = 0; i < Lq; i++)
      for (int h = 0; h < H; h++)
        {
          const float *qi = q + (((size_t) b * Lq + i) * H + h) * D;
          double top = -INFINITY, sum = 0;
          for (int j = 0; j < Lk; j++)
            {
              const float *kj = k + (((size_t) b * Lk + j) * H + h) * D;
              double dot = 0;
              for (int e = 0; e < D; e++)
                dot += (double) qi[e] * kj[e];
              scores[j] = dot * p->scale;
              top = fmax (top, scores[j]);
            }
          for (int j = 0; j < Lk; j++)
            sum += scores[j] = exp (scores[j] - top);
          float *oi = out + (((size_t) b * Lq + i) * H + h) * D;
          for (int e = 0; e < D; e++)
            {
              double acc = 0;
              for (int j = 0; j < Lk; j++)
                acc += scores[j] * v[(((size_t) b * Lk + j) * H + h) * D + e];
              oi[e] = (float) (acc / sum);
            }
          if (args->lse != NULL)
            args->lse[((size_t) b * H + h) * Lq + i] = (float) (top + log (sum));
        }
  free (scores);
  return RL_ATTENTION_OK;
}

static const RlAttentionVariant variant = {
  .abi_version = RL_ATTENTION_ABI_VERSION,
  .struct_size = sizeof (RlAttentionVariant),
  .name = "head-dim-64",
  .description = "test variant: CPU, f32, head dim 64 only",
  .backend = RL_ATTENTION_BACKEND_CPU,
  .qkv_dtypes = RL_ATTENTION_DTYPE_BIT (RL_ATTENTION_F32),
  .out_dtypes = RL_ATTENTION_DTYPE_BIT (RL_ATTENTION_F32),
  .head_dims = head_dims,
  .open = d64_open,
  .close = d64_close,
  .supports = d64_supports,
  .cost_hint = d64_cost,
  .run = d64_run,
};

const RlAttentionVariant *raylight_attention_variant (uint32_t host_abi_version);

const RlAttentionVariant *
raylight_attention_variant (uint32_t host_abi_version)
{
  return host_abi_version == RL_ATTENTION_ABI_VERSION ? &variant : NULL;
}
