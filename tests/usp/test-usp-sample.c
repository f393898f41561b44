/* A full 4-step Wan sample through the pool, without the app: pools of
 * CPU workers in Ulysses 2, ring 2 and Ulysses 2 × ring 2 run SAMPLE SPMD
 * on every rank (same seed) and each rank's latent equals the one-worker
 * latent within 1e-5 relative (the acceptance of U2 / R2 / U2×R2 on CPU
 * fp32). The latent (3 frames of 10×18 pixels: 3·5·9 = 135 tokens) needs
 * sequence padding on 2 and 4 ranks and the patch padding of an odd
 * width; the seed is fresh per run. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "tests/plain-test.h"
#include "tests/pool/pool-jobs-util.h"
#include "tests/pool/pool-test-util.h"
#include "workers/jobs/job-params.h"
#include "workers/pool/pool.h"

enum { MAX_RANKS = 4 };

static uint64_t seed;
static char dit_path[512], te_path[512], plugin_env[1024];
static const uint64_t latent_shape[5] = { 1, 16, 3, 10, 18 };

static RlPool *
start_pool (int workers, int ulysses, int ring)
{
  const char *env[] = { plugin_env, "OMP_NUM_THREADS=1", NULL };
  RlPoolOptions options;
  RlErrorInfo err = { 0 };
  pt_pool_options (&options, workers);
  options.extra_env = env;
  options.request_timeout_ms = 120000;
  options.heartbeat_timeout_ms = 10000;
  options.ulysses_degree = ulysses;
  options.ring_degree = ring;
  options.comm_timeout_ms = 60000;
  RlPool *pool = rl_pool_new (&options, &err);
  if (pool == NULL || rl_pool_start (pool, &err) != RL_WIRE_OK)
    {
      printf ("# cannot start a pool of %d (U%d R%d): %s\n", workers, ulysses, ring, err.message);
      rl_pool_free (pool);
      return NULL;
    }
  return pool;
}

/* Runs one call on every rank at once; rank r's answer in results[r]. */
static int
call_all (RlPool *pool, const RlPoolCall *call, RlPoolResult *results, RlErrorInfo *err)
{
  int n = rl_pool_size (pool), ranks[MAX_RANKS];
  RlPoolCall calls[MAX_RANKS];
  for (int r = 0; r < n; r++)
    {
      ranks[r] = r;
      calls[r] = *call;
    }
  return rl_pool_call_group (pool, ranks, n, calls, results, err);
}

/* SAMPLE on every rank of `pool`; copies each rank's latent into out[r]. */
typedef struct {
  RlPool *pool;
  int     victim;     /* rank to kill -9 at its first step, or -1 */
  bool    killed;
} Killer;

static void
kill_at_first_step (const RlPoolProgress *progress, void *user)
{
  Killer *killer = user;
  RlWorkerInfo info;
  if (killer == NULL || killer->killed || progress->kind != RL_PROGRESS_STEPS
      || rl_pool_worker_info (killer->pool, killer->victim, &info) != 0 || info.pid <= 0)
    return;
  kill (info.pid, SIGKILL);
  killer->killed = true;
}

static bool
sample_steps (RlPool *pool, RlSharedTensor *positive, RlSharedTensor *negative, float **out,
              int steps, Killer *killer, RlErrorInfo *err_out)
{
  RlSampleParams params;
  rl_sample_params_init (&params);
  params.model = (RlJobModel) { dit_path, "" };
  params.seed = seed;
  params.steps = (uint32_t) steps;
  params.cfg = 5.0f;
  params.sampler = "euler";
  params.scheduler = "simple";
  return pt_sample_all (pool, &params, latent_shape, positive, negative,
                        killer ? kill_at_first_step : NULL, killer, out, NULL, err_out);
}

static bool
sample (RlPool *pool, RlSharedTensor *positive, RlSharedTensor *negative, float **out)
{
  return sample_steps (pool, positive, negative, out, 4, NULL, NULL);
}

static size_t
latent_numel (void)
{
  size_t n = 1;
  for (int i = 0; i < 5; i++)
    n *= latent_shape[i];
  return n;
}

static double
relative_error (const float *got, const float *want)
{
  double max_diff = 0.0, max_ref = 0.0;
  for (size_t i = 0; i < latent_numel (); i++)
    {
      double d = fabs ((double) got[i] - want[i]);
      max_diff = isnan (d) ? INFINITY : fmax (max_diff, d);
      max_ref = fmax (max_ref, fabs ((double) want[i]));
    }
  return max_diff / max_ref;
}

static RlSharedTensor *positive, *negative;
static float *reference;

static void
test_one_worker_reference (void)
{
  RlPool *pool = start_pool (1, 1, 1);
  PT_REQUIRE (pool != NULL, "one-worker pool");
  positive = pt_encode_text (pool, te_path, "a red fox runs through fresh snow");
  negative = pt_encode_text (pool, te_path, "blurry, static");
  PT_REQUIRE (positive != NULL && negative != NULL, "conditioning");
  float *out[MAX_RANKS] = { 0 };
  PT_REQUIRE (sample (pool, positive, negative, out), "one-worker SAMPLE");
  reference = out[0];
  double sum_sq = 0.0;
  for (size_t i = 0; i < latent_numel (); i++)
    sum_sq += (double) reference[i] * reference[i];
  PT_CHECK (isfinite (sum_sq) && sum_sq > 0.0, "reference latent is zero or not finite");
  rl_pool_free (pool);
}

static void
check_parallel (int workers, int ulysses, int ring)
{
  PT_REQUIRE (reference != NULL, "no reference latent");
  RlPool *pool = start_pool (workers, ulysses, ring);
  PT_REQUIRE (pool != NULL, "pool");
  float *out[MAX_RANKS] = { 0 };
  PT_CHECK (sample (pool, positive, negative, out), "SAMPLE U%d R%d", ulysses, ring);
  for (int r = 0; r < workers && out[r] != NULL; r++)
    {
      double err = relative_error (out[r], reference);
      PT_CHECK (err <= 1e-5, "rank %d of U%d×R%d: relative error %.3g", r, ulysses, ring, err);
      if (r == 0)
        printf ("# 4-step sample, U%d×R%d on %d CPU workers vs one: relative error %.3g\n",
                ulysses, ring, workers, err);
      if (r > 0)
        PT_CHECK (memcmp (out[r], out[0], latent_numel () * sizeof (float)) == 0,
                  "rank %d's latent differs from rank 0's", r);
    }
  for (int r = 0; r < workers; r++)
    free (out[r]);
  rl_pool_free (pool);
}

static void test_ulysses2 (void) { check_parallel (2, 2, 1); }
static void test_ring2 (void) { check_parallel (2, 1, 2); }
static void test_ulysses2_ring2 (void) { check_parallel (4, 2, 2); }

static double
seconds_since (const struct timespec *start)
{
  struct timespec now;
  clock_gettime (CLOCK_MONOTONIC, &now);
  return (double) (now.tv_sec - start->tv_sec) + 1e-9 * (double) (now.tv_nsec - start->tv_nsec);
}

/* kill -9 of rank 1 mid-sampling in Ulysses 2: the job fails at once
 * naming the rank (rank 0, waiting in a collective, sees the dead peer
 * instead of hanging); the restarted rank comes up without the aborted
 * collectives and the next SAMPLE fails fast saying to restart the pool;
 * a fresh pool (what the app's pool service starts) samples correctly. */
static void
test_kill_9_mid_sample (void)
{
  PT_REQUIRE (reference != NULL, "no reference latent");
  RlPool *pool = start_pool (2, 2, 1);
  PT_REQUIRE (pool != NULL, "pool");
  float *out[MAX_RANKS] = { 0 };
  Killer killer = { .pool = pool, .victim = 1 };
  RlErrorInfo err = { 0 };
  struct timespec start;
  clock_gettime (CLOCK_MONOTONIC, &start);
  PT_CHECK (!sample_steps (pool, positive, negative, out, 30, &killer, &err),
            "a SAMPLE whose rank 1 was killed succeeded");
  double took = seconds_since (&start);
  PT_CHECK (killer.killed, "rank 1 was never killed");
  PT_CHECK (strstr (err.message, "rank 1") != NULL, "error does not name rank 1: %s",
            err.message);
  PT_CHECK (took < 20.0, "the failed SAMPLE took %.1f s", took);
  printf ("# kill -9 of rank 1: failed after %.2f s: %s\n", took, err.message);

  PT_CHECK (rl_pool_wait_ready (pool, 1, 20000, &err) == RL_WIRE_OK, "restart: %s", err.message);
  clock_gettime (CLOCK_MONOTONIC, &start);
  PT_CHECK (!sample_steps (pool, positive, negative, out, 4, NULL, &err),
            "SAMPLE after a crash succeeded on aborted collectives");
  took = seconds_since (&start);
  PT_CHECK (strstr (err.message, "restart the worker pool") != NULL || strstr (err.message, "abort") != NULL,
            "unclear error after the crash: %s", err.message);
  PT_CHECK (took < 20.0, "the SAMPLE after the crash took %.1f s", took);
  printf ("# next SAMPLE on that pool: failed after %.2f s: %s\n", took, err.message);
  for (int r = 0; r < MAX_RANKS; r++)
    free (out[r]), out[r] = NULL;
  rl_pool_free (pool);
  check_parallel (2, 2, 1);
}

/* The tiny DiT has 2 heads: a pool in Ulysses 4 reaches the model, which
 * refuses the job naming the degrees it allows (so the pool's degrees do
 * reach every worker's forward). */
static void
test_model_refuses_ulysses4 (void)
{
  RlPool *pool = start_pool (4, 4, 1);
  PT_REQUIRE (pool != NULL, "pool");
  RlSampleParams params;
  rl_sample_params_init (&params);
  params.model = (RlJobModel) { dit_path, "" };
  params.steps = 1;
  params.sampler = "euler";
  params.scheduler = "simple";
  RlWireWriter w;
  rl_wire_writer_init (&w);
  rl_sample_params_encode (&params, &w);
  RlErrorInfo err = { 0 };
  RlSharedTensor *latent = rl_shared_tensor_new (RL_WIRE_DTYPE_F32, 5, latent_shape, "latent", &err);
  PT_REQUIRE (latent != NULL, "latent: %s", err.message);
  memset (rl_shared_tensor_data (latent), 0, latent_numel () * sizeof (float));
  rl_shared_tensor_seal (latent, &err);
  RlSharedTensor *inputs[3] = { latent, positive, negative };
  RlPoolCall call = { .type = RL_MSG_SAMPLE, .family = "", .params = w.data,
                      .params_size = w.size, .tensors = inputs, .n_tensors = 3 };
  RlPoolResult results[MAX_RANKS] = { 0 };
  int status = call_all (pool, &call, results, &err);
  PT_CHECK (status != RL_WIRE_OK
            && strstr (err.message, "valid Ulysses degrees for this model: 1, 2") != NULL,
            "U4 on 2 heads: status %d, %s", status, err.message);
  rl_wire_writer_clear (&w);
  rl_shared_tensor_free (latent);
  rl_pool_free (pool);
}

/* Degrees that do not multiply to the workers never reach a worker. */
static void
test_pool_refuses_degrees (void)
{
  RlErrorInfo err = { 0 };
  PT_CHECK (rl_pool_check_parallel (2, RL_POOL_BACKEND_CPU, 3, 1, &err) == RL_WIRE_INVALID
            && strstr (err.message, "valid Ulysses×ring degrees for 2 workers: 1×2, 2×1") != NULL,
            "%s", err.message);
  PT_CHECK (rl_pool_check_parallel (6, RL_POOL_BACKEND_CPU, 2, 2, &err) == RL_WIRE_INVALID
            && strstr (err.message, "1×6, 2×3, 3×2, 6×1") != NULL, "%s", err.message);
  PT_CHECK (rl_pool_check_parallel (4, RL_POOL_BACKEND_CPU, 2, 2, &err) == RL_WIRE_OK, "%s",
            err.message);
  PT_CHECK (rl_pool_check_parallel (3, RL_POOL_BACKEND_CPU, 1, 1, &err) == RL_WIRE_OK,
            "1×1 is always valid: %s", err.message);
  RlPoolOptions options;
  pt_pool_options (&options, 2);
  options.ulysses_degree = 4;
  PT_CHECK (rl_pool_new (&options, &err) == NULL && strstr (err.message, "1×2, 2×1") != NULL,
            "rl_pool_new accepted U4 on 2 workers: %s", err.message);
}

int
main (void)
{
  seed = pt_seed ();
  const char *source = getenv ("RAYLIGHT_SOURCE_DIR");
  const char *plugins = getenv ("RAYLIGHT_PLUGIN_PATH");
  if (source == NULL || plugins == NULL)
    pt_skip_all ("RAYLIGHT_SOURCE_DIR / RAYLIGHT_PLUGIN_PATH unset; run through meson test");
  const char *dir = pt_scratch_dir ();
  pt_make_tiny_wan_models (source, dir);
  snprintf (dit_path, sizeof dit_path, "%s/models/diffusion_models/tiny-wan2.1-t2v.safetensors", dir);
  snprintf (te_path, sizeof te_path, "%s/models/text_encoders/tiny-umt5.safetensors", dir);
  snprintf (plugin_env, sizeof plugin_env, "RAYLIGHT_PLUGIN_PATH=%s", plugins);

  PT_RUN (test_pool_refuses_degrees);
  PT_RUN (test_one_worker_reference);
  PT_RUN (test_ulysses2);
  PT_RUN (test_ring2);
  PT_RUN (test_ulysses2_ring2);
  PT_RUN (test_model_refuses_ulysses4);
  PT_RUN (test_kill_9_mid_sample);
  rl_shared_tensor_free (positive);
  rl_shared_tensor_free (negative);
  free (reference);
  char command[2048];
  snprintf (command, sizeof command, "rm -rf '%s'", dir);
  if (system (command) != 0)
    printf ("# could not remove %s\n", dir);
  return pt_finish ();
}
