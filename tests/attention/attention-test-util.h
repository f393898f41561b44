/* Shared by the attention tests: a seeded RNG (seed printed, fresh per run
 * unless RAYLIGHT_TEST_SEED is set), random q/k/v in any of the ABI's
 * dtypes, the registry of the build tree, problem sizes and error
 * measures. */
#pragma once

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plugins/attention/attention-registry.h"
#include "tests/plain-test.h"
#include "workers/runtime/float-convert.h"

static uint64_t at_rng_state;

static inline uint64_t
at_next (void)
{
  uint64_t z = (at_rng_state += UINT64_C (0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static inline void
at_seed (void)
{
  const char *env = getenv ("RAYLIGHT_TEST_SEED");
  uint64_t seed;
  if (env != NULL)
    seed = strtoull (env, NULL, 0);
  else
    {
      struct timespec ts;
      clock_gettime (CLOCK_REALTIME, &ts);
      seed = (uint64_t) ts.tv_sec * 1000000007u ^ (uint64_t) ts.tv_nsec;
    }
  at_rng_state = seed;
  printf ("# seed %llu (rerun with RAYLIGHT_TEST_SEED=%llu)\n", (unsigned long long) seed,
          (unsigned long long) seed);
}

/* Uniform in [-1, 1). */
static inline float
at_uniform (void)
{
  return (float) (-1.0 + 2.0 * (double) (at_next () >> 11) * (1.0 / 9007199254740992.0));
}

static inline int64_t
at_int (int64_t lo, int64_t hi) /* inclusive */
{
  return lo + (int64_t) (at_next () % (uint64_t) (hi - lo + 1));
}

static inline float
at_load (int32_t dtype, const void *base, int64_t i)
{
  switch (dtype)
    {
    case RL_ATTENTION_F16:  return rl_f16_to_f32 (((const uint16_t *) base)[i]);
    case RL_ATTENTION_BF16: return rl_bf16_to_f32 (((const uint16_t *) base)[i]);
    default:                return ((const float *) base)[i];
    }
}

static inline void
at_store (int32_t dtype, void *base, int64_t i, float value)
{
  switch (dtype)
    {
    case RL_ATTENTION_F16:  ((uint16_t *) base)[i] = rl_f32_to_f16 (value); break;
    case RL_ATTENTION_BF16: ((uint16_t *) base)[i] = rl_f32_to_bf16 (value); break;
    default:                ((float *) base)[i] = value; break;
    }
}

/* `count` random values of `dtype` times `amplitude` (malloc'ed). */
static inline void *
at_random (int32_t dtype, int64_t count, float amplitude)
{
  void *data = malloc ((size_t) count * rl_attention_dtype_size (dtype));
  for (int64_t i = 0; data != NULL && i < count; i++)
    at_store (dtype, data, i, amplitude * at_uniform ());
  return data;
}

/* `count` elements of `dtype` as f32 (malloc'ed). */
static inline float *
at_upcast (int32_t dtype, const void *data, int64_t count)
{
  float *copy = malloc ((size_t) count * sizeof (float));
  for (int64_t i = 0; copy != NULL && i < count; i++)
    copy[i] = at_load (dtype, data, i);
  return copy;
}

/* ‖a − b‖ / ‖b‖ over `count` floats; +inf when a holds a NaN/inf. */
static inline double
at_relative_error (const float *a, const float *b, int64_t count)
{
  double diff = 0.0, norm = 0.0;
  for (int64_t i = 0; i < count; i++)
    {
      if (!isfinite (a[i]))
        return INFINITY;
      diff += ((double) a[i] - b[i]) * ((double) a[i] - b[i]);
      norm += (double) b[i] * b[i];
    }
  return sqrt (diff) / (norm > 0 ? sqrt (norm) : 1.0);
}

/* |a − b|, with equal infinities as 0 and NaN as +inf. */
static inline double
at_difference (float a, float b)
{
  if (isinf (a) && a == b)
    return 0.0;
  double d = fabs ((double) a - b);
  return isnan (d) ? INFINITY : d;
}

/* max |a − b| (at_difference). */
static inline double
at_max_abs_error (const float *a, const float *b, int64_t count)
{
  double worst = 0.0;
  for (int64_t i = 0; i < count; i++)
    worst = fmax (worst, at_difference (a[i], b[i]));
  return worst;
}

/* The root mean square of a − b (at_difference). */
static inline double
at_rms_error (const float *a, const float *b, int64_t count)
{
  double sum = 0.0;
  for (int64_t i = 0; i < count; i++)
    {
      double d = at_difference (a[i], b[i]);
      sum += d * d;
    }
  return count > 0 ? sqrt (sum / (double) count) : 0.0;
}

/* The registry of the build tree's plugins (and $RAYLIGHT_ATTENTION_PATH). */
static inline RlAttentionRegistry *
at_registry (RlAttentionLogFn log, void *user)
{
  char **dirs = rl_attention_default_dirs ();
  RlAttentionRegistry *registry = rl_attention_registry_new ((const char *const *) dirs, log, user);
  rl_attention_dirs_free (dirs);
  return registry;
}

static inline RlAttentionProblem
at_problem (int32_t batch, int32_t heads, int32_t q_len, int32_t kv_len, int32_t head_dim,
            int32_t dtype)
{
  return (RlAttentionProblem) {
    .struct_size = sizeof (RlAttentionProblem), .batch = batch, .heads = heads,
    .q_len = q_len, .kv_len = kv_len, .head_dim = head_dim, .v_head_dim = head_dim,
    .qkv_dtype = dtype, .out_dtype = dtype, .layout = RL_ATTENTION_LAYOUT_BLHD,
    .scale = 1.0f / sqrtf ((float) head_dim),
  };
}

/* Elements of q (and of out, whose head dim the tests keep equal), of k or
 * v, and rows of lse for `p`. */
static inline int64_t
at_q_count (const RlAttentionProblem *p)
{
  return (int64_t) p->batch * p->q_len * p->heads * p->head_dim;
}

static inline int64_t
at_kv_count (const RlAttentionProblem *p)
{
  return (int64_t) p->batch * p->kv_len * p->heads * p->head_dim;
}

static inline size_t
at_lse_count (const RlAttentionProblem *p)
{
  return (size_t) p->batch * p->heads * p->q_len;
}

/* Runs variant `name` of the registry directly on host memory. */
static inline int
at_run_host (const RlAttentionRegistry *registry, const char *name,
             const RlAttentionProblem *p, const RlAttentionArgs *args, char *error, size_t size)
{
  const RlAttentionVariant *variant = rl_attention_registry_find (registry, name);
  if (variant == NULL)
    {
      snprintf (error, size, "variant %s not found", name);
      return RL_ATTENTION_UNAVAILABLE;
    }
  RlAttentionInstance *instance = NULL;
  int result = variant->open (0, &instance, error, size);
  if (result == RL_ATTENTION_OK)
    result = variant->run (instance, p, args, error, size);
  if (instance != NULL)
    variant->close (instance);
  return result;
}
