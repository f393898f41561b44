/* Helpers for the CUDA tests: skip without a GPU, a seeded RNG (seed
 * printed, fresh per run unless RAYLIGHT_TEST_SEED is set), and a pair of
 * CPU and CUDA contexts with random inputs mirrored on both, poisoned
 * outputs, one statement run on both sides, and the relative error
 * ‖out − ref‖ / ‖ref‖ of a device result against the CPU backend's. */
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

#define CT_REQUIRE_OK(expr)                                                  \
  do {                                                                       \
    RlStatus ct_status_ = (expr);                                            \
    PT_REQUIRE (ct_status_ == RL_OK, "%s -> %s: %s", #expr,                  \
                rl_status_name (ct_status_), rl_last_error ());              \
  } while (0)

static uint64_t ct_rng_state;

static inline uint64_t
ct_next (void)
{
  uint64_t z = (ct_rng_state += UINT64_C (0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static inline void
ct_seed (void)
{
  const char *env = getenv ("RAYLIGHT_TEST_SEED");
  uint64_t seed;
  if (env != NULL) {
    seed = strtoull (env, NULL, 0);
  } else {
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    seed = (uint64_t) ts.tv_sec * 1000000007u ^ (uint64_t) ts.tv_nsec;
  }
  ct_rng_state = seed;
  printf ("# seed %llu (rerun with RAYLIGHT_TEST_SEED=%llu)\n", (unsigned long long) seed,
          (unsigned long long) seed);
}

/* Uniform in [-1, 1) without values near zero. */
static inline float
ct_value (void)
{
  double v = -1.0 + 2.0 * (double) (ct_next () >> 11) * (1.0 / 9007199254740992.0);
  if (fabs (v) < 1e-3)
    v = v < 0 ? -0.5 : 0.5;
  return (float) v;
}

static inline int64_t
ct_int (int64_t lo, int64_t hi) /* inclusive */
{
  return lo + (int64_t) (ct_next () % (uint64_t) (hi - lo + 1));
}

/* Exits 77 (meson SKIP) when no CUDA backend or GPU is there. */
static inline const RlBackend *
ct_require_gpu (void)
{
  const RlBackend *gpu = rl_backend_find ("cuda");
  if (gpu == NULL)
    pt_skip_all ("the cuda backend is not linked");
  if (gpu->device_count () < 1)
    pt_skip_all ("no CUDA GPU visible");
  return gpu;
}

typedef struct {
  const RlBackend *cpu_be, *gpu_be;
  RlContext       *cpu, *gpu;
} CtPair;

static inline void
ct_pair_open (CtPair *p)
{
  p->gpu_be = ct_require_gpu ();
  p->cpu_be = rl_backend_find ("cpu");
  if (p->cpu_be == NULL || p->cpu_be->context_new (0, &p->cpu) != RL_OK) {
    printf ("Bail out! no cpu backend: %s\n", rl_last_error ());
    exit (1);
  }
  if (p->gpu_be->context_new (0, &p->gpu) != RL_OK) {
    printf ("Bail out! cuda context: %s\n", rl_last_error ());
    exit (1);
  }
}

static inline void
ct_pair_close (CtPair *p)
{
  p->gpu_be->context_free (p->gpu);
  p->cpu_be->context_free (p->cpu);
}

/* The test's CPU/CUDA pair (one test program per file, so one pair). */
static CtPair P;

/* Runs the statement once with the CPU side's tensors and once with the
 * GPU side's: T(x) picks x.host or x.dev, OPS and CTX the side's backend
 * ops and context. */
#define FOR_BOTH for (int side = 0; side < 2; side++)
#define OPS      (side ? P.gpu_be->ops : P.cpu_be->ops)
#define CTX      (side ? P.gpu : P.cpu)
#define T(x)     (side ? &(x).dev : &(x).host)

/* A host tensor and its device twin with the same contents. */
typedef struct {
  RlTensor host;
  RlTensor dev;
} CtTensor;

static inline void
ct_release (CtTensor *t)
{
  rl_tensor_release (&t->host);
  rl_tensor_release (&t->dev);
}

static inline RlStatus
ct_alloc_pair (CtPair *p, CtTensor *t, RlDType dtype, int ndim, const int64_t *shape)
{
  memset (t, 0, sizeof *t);
  RlStatus st = rl_tensor_alloc (&t->host, p->cpu_be->context_allocator (p->cpu), dtype, ndim, shape);
  if (st == RL_OK)
    st = rl_tensor_alloc (&t->dev, p->gpu_be->context_allocator (p->gpu), dtype, ndim, shape);
  return st;
}

/* Random contents (values in [-amp, amp), never zero), copied to both. */
static inline RlStatus
ct_random (CtPair *p, CtTensor *t, RlDType dtype, int ndim, const int64_t *shape, float amp)
{
  RlStatus st = ct_alloc_pair (p, t, dtype, ndim, shape);
  if (st != RL_OK)
    return st;
  int64_t n = rl_tensor_numel (&t->host);
  float *values = malloc ((size_t) (n > 0 ? n : 1) * sizeof (float));
  for (int64_t i = 0; i < n; i++)
    values[i] = ct_value () * amp;
  if (dtype == RL_I32 || dtype == RL_I64)
    for (int64_t i = 0; i < n; i++)
      values[i] = (float) ct_int (0, (int64_t) amp - 1);
  st = rl_convert_row_from_f32 (dtype, t->host.data, values, n, 1.0f);
  free (values);
  if (st == RL_OK)
    st = p->gpu_be->transfer (p->gpu, &t->dev, &t->host);
  return st;
}

/* Uninitialised-looking outputs: NaN (or 0x7f bytes for non-floats) on
 * both sides, so an element an op forgets to write fails the check. */
static inline RlStatus
ct_poisoned (CtPair *p, CtTensor *t, RlDType dtype, int ndim, const int64_t *shape)
{
  RlStatus st = ct_alloc_pair (p, t, dtype, ndim, shape);
  if (st != RL_OK)
    return st;
  if (rl_dtype_is_float (dtype)) {
    st = p->cpu_be->ops->fill (p->cpu, &t->host, NAN);
    if (st == RL_OK)
      st = p->gpu_be->ops->fill (p->gpu, &t->dev, NAN);
    return st;
  }
  memset (t->host.data, 0x7f, rl_tensor_nbytes (&t->host));
  return p->gpu_be->transfer (p->gpu, &t->dev, &t->host);
}

/* ‖dev − host‖ / ‖host‖ over contiguous tensors of one shape; +inf when
 * the device result holds a NaN or inf the reference does not. */
static inline double
ct_rel_error (CtPair *p, const RlTensor *host_ref, const RlTensor *dev)
{
  int64_t n = rl_tensor_numel (host_ref);
  RlTensor back = { 0 };
  if (rl_tensor_alloc (&back, p->cpu_be->context_allocator (p->cpu), dev->dtype, dev->ndim,
                       dev->shape) != RL_OK
      || p->gpu_be->transfer (p->gpu, &back, dev) != RL_OK) {
    printf ("# download failed: %s\n", rl_last_error ());
    rl_tensor_release (&back);
    return INFINITY;
  }
  float *a = malloc ((size_t) (n > 0 ? n : 1) * sizeof (float));
  float *b = malloc ((size_t) (n > 0 ? n : 1) * sizeof (float));
  rl_convert_row_to_f32 (host_ref->dtype, host_ref->data, n, 1.0f, a);
  rl_convert_row_to_f32 (back.dtype, back.data, n, 1.0f, b);
  double diff = 0.0, norm = 0.0;
  for (int64_t i = 0; i < n; i++) {
    if (isfinite (a[i]) && !isfinite (b[i])) {
      diff = INFINITY;
      break;
    }
    double d = (double) b[i] - (double) a[i];
    diff += d * d;
    norm += (double) a[i] * (double) a[i];
  }
  free (a);
  free (b);
  rl_tensor_release (&back);
  if (isinf (diff))
    return INFINITY;
  return norm > 0 ? sqrt (diff / norm) : sqrt (diff);
}

/* Tolerance of the acceptance criteria for an output dtype. */
static inline double
ct_tolerance (RlDType dtype)
{
  return dtype == RL_F32 ? 1e-5 : 1e-2;
}

/* Prints the relative error of y's device result against its host one and
 * checks it is at most `tolerance` (0 for copies, which must be exact). */
static inline void
ct_expect_within (const char *what, const CtTensor *y, double tolerance)
{
  double err = ct_rel_error (&P, &y->host, &y->dev);
  printf ("# %-52s %-5s rel err %.3g (tol %.0e)\n", what, rl_dtype_name (y->host.dtype), err,
          tolerance);
  PT_CHECK (err <= tolerance, "%s: relative error %g exceeds %g", what, err, tolerance);
}
