/* Helpers for the runtime tests: a seeded RNG (seed printed, fresh per
 * run unless RAYLIGHT_TEST_SEED is set), random/poisoned host tensors and
 * error norms against double-precision references. */
#pragma once

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/plain-test.h"
#include "workers/runtime/backend.h"
#include "workers/runtime/float-convert.h"
#include "workers/runtime/tensor.h"

/* PT_REQUIRE evaluates its condition twice; this evaluates `expr` once. */
#define RT_REQUIRE_OK(expr)                                                  \
  do {                                                                       \
    RlStatus rt_status_ = (expr);                                            \
    PT_REQUIRE (rt_status_ == RL_OK, "%s -> %s: %s", #expr,                  \
                rl_status_name (rt_status_), rl_last_error ());              \
  } while (0)

static uint64_t rt_rng_state;

static inline uint64_t
rt_next (void)
{
  /* splitmix64 */
  uint64_t z = (rt_rng_state += UINT64_C (0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static inline void
rt_seed (void)
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
  rt_rng_state = seed;
  printf ("# seed %llu (rerun with RAYLIGHT_TEST_SEED=%llu)\n", (unsigned long long) seed,
          (unsigned long long) seed);
}

/* Uniform in [lo, hi). */
static inline double
rt_uniform (double lo, double hi)
{
  return lo + (hi - lo) * (double) (rt_next () >> 11) * (1.0 / 9007199254740992.0);
}

/* Non-zero: avoid exact zeros so a skipped element can't pass by luck. */
static inline float
rt_value (void)
{
  double v = rt_uniform (-1.0, 1.0);
  if (fabs (v) < 1e-3)
    v = v < 0 ? -0.5 : 0.5;
  return (float) v;
}

static inline int64_t
rt_int (int64_t lo, int64_t hi)   /* inclusive */
{
  return lo + (int64_t) (rt_next () % (uint64_t) (hi - lo + 1));
}

/* Allocates a host tensor and checks it worked. */
static inline RlTensor
rt_tensor (RlAllocator *alloc, RlDType dtype, int ndim, const int64_t *shape)
{
  RlTensor t = { 0 };
  RlStatus st = rl_tensor_alloc (&t, alloc, dtype, ndim, shape);
  if (st != RL_OK)
    {
      fprintf (stdout, "# rl_tensor_alloc failed: %s\n", rl_last_error ());
      exit (1);
    }
  return t;
}

static inline float
rt_get (const RlTensor *t, int64_t i)   /* i-th element in row-major order */
{
  int64_t off = 0, rest = i;
  for (int d = t->ndim - 1; d >= 0; d--)
    {
      off += (rest % t->shape[d]) * t->strides[d];
      rest /= t->shape[d];
    }
  switch (t->dtype)
    {
    case RL_F32:       return ((float *) t->data)[off];
    case RL_BF16:      return rl_bf16_to_f32 (((uint16_t *) t->data)[off]);
    case RL_F16:       return rl_f16_to_f32 (((uint16_t *) t->data)[off]);
    case RL_F8_E4M3FN: return rl_f8_e4m3fn_to_f32 (((uint8_t *) t->data)[off]);
    case RL_F8_E5M2:   return rl_f8_e5m2_to_f32 (((uint8_t *) t->data)[off]);
    case RL_I32:       return (float) ((int32_t *) t->data)[off];
    case RL_I64:       return (float) ((int64_t *) t->data)[off];
    default:           return NAN;
    }
}

static inline void
rt_set (RlTensor *t, int64_t i, float v)
{
  int64_t off = 0, rest = i;
  for (int d = t->ndim - 1; d >= 0; d--)
    {
      off += (rest % t->shape[d]) * t->strides[d];
      rest /= t->shape[d];
    }
  size_t size = rl_dtype_block_bytes (t->dtype);
  rl_convert_row_from_f32 (t->dtype, (char *) t->data + off * (int64_t) size, &v, 1, 1.0f);
}

/* Random non-zero values in [-amp, amp). */
static inline void
rt_fill_random (RlTensor *t, float amp)
{
  int64_t n = rl_tensor_numel (t);
  for (int64_t i = 0; i < n; i++)
    rt_set (t, i, amp * rt_value ());
}

/* Every element NaN (or all-ones bytes for integer types). */
static inline void
rt_poison (RlTensor *t)
{
  int64_t n = rl_tensor_numel (t);
  if (rl_dtype_is_integer (t->dtype))
    {
      memset (t->data, 0xff, rl_tensor_nbytes (t));
      return;
    }
  for (int64_t i = 0; i < n; i++)
    rt_set (t, i, NAN);
}

static inline int64_t
rt_count_nan (const RlTensor *t)
{
  int64_t n = rl_tensor_numel (t), bad = 0;
  for (int64_t i = 0; i < n; i++)
    bad += isnan (rt_get (t, i)) ? 1 : 0;
  return bad;
}

/* Snapshot of a tensor as double. */
static inline double *
rt_to_double (const RlTensor *t)
{
  int64_t n = rl_tensor_numel (t);
  double *d = malloc ((size_t) (n > 0 ? n : 1) * sizeof *d);
  for (int64_t i = 0; i < n; i++)
    d[i] = rt_get (t, i);
  return d;
}

/* ‖out − ref‖₂ / ‖ref‖₂ (NaN anywhere gives +inf). */
static inline double
rt_rel_error (const RlTensor *out, const double *ref)
{
  int64_t n = rl_tensor_numel (out);
  double num = 0.0, den = 0.0;
  for (int64_t i = 0; i < n; i++)
    {
      double o = rt_get (out, i);
      if (isnan (o) != isnan (ref[i]))
        return INFINITY;
      if (isnan (o))
        continue;
      num += (o - ref[i]) * (o - ref[i]);
      den += ref[i] * ref[i];
    }
  if (den == 0.0)
    return num == 0.0 ? 0.0 : INFINITY;
  return sqrt (num / den);
}

static inline int
rt_same_bytes (const RlTensor *a, const RlTensor *b)
{
  return rl_tensor_nbytes (a) == rl_tensor_nbytes (b)
         && memcmp (a->data, b->data, rl_tensor_nbytes (a)) == 0;
}

/* Tolerance for an output dtype: 1e-5 for f32 (issue acceptance),
 * 1e-2 for bf16, 2e-3 for f16. */
static inline double
rt_tolerance (RlDType dtype)
{
  return dtype == RL_F32 ? 1e-5 : dtype == RL_F16 ? 2e-3 : 1e-2;
}
