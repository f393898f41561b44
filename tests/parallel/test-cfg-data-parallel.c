/* CFG and data parallelism through the pool, without the app: a full
 * 4-step tiny-Wan SAMPLE on CPU workers with the positive and negative
 * prompt on two groups (CFG2), the batch split over two groups (DP2, an
 * even and an uneven batch), and both combined with Ulysses inside each
 * group, equals the one-worker latent on every rank, and every rank
 * returns the same bytes. CFG2 alone runs the one-worker forwards
 * unchanged: within 1e-6 (in practice bitwise equal). A split batch or
 * sequence changes the GEMM shapes of the forward itself: within 1e-5, the
 * acceptance of fp32 CPU parallelism (sequence parallelism's too). The seed
 * is fresh per run. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/plain-test.h"
#include "tests/pool/pool-jobs-util.h"
#include "tests/pool/pool-test-util.h"
#include "workers/jobs/job-params.h"
#include "workers/pool/pool.h"

enum { MAX_RANKS = 4, MAX_BATCH = 3 };

static uint64_t seed;
static int fsdp_degree = 1;   /* of the pools start_pool makes */
static char dit_path[512], te_path[512], plugin_env[1024];
static RlSharedTensor *positive, *negative;
static float *reference[MAX_BATCH + 1][2];   /* [batch][cfg is 1] */

static uint64_t
latent_numel (int batch)
{
  return (uint64_t) batch * 16 * 3 * 10 * 18;
}

static RlPool *
start_pool (int workers, int ulysses, int ring, int cfg, int data)
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
  options.cfg_degree = cfg;
  options.data_degree = data;
  options.fsdp_degree = fsdp_degree;
  options.comm_timeout_ms = 60000;
  RlPool *pool = rl_pool_new (&options, &err);
  if (pool == NULL || rl_pool_start (pool, &err) != RL_WIRE_OK)
    {
      printf ("# cannot start a pool of %d (U%d R%d CFG%d DP%d): %s\n", workers, ulysses, ring,
              cfg, data, err.message);
      rl_pool_free (pool);
      return NULL;
    }
  return pool;
}

/* Cancels every rank of the pool at the second sampling step. */
typedef struct {
  RlPool *pool;
  bool    cancelled;
} Canceller;

static void
cancel_at_second_step (const RlPoolProgress *progress, void *user)
{
  Canceller *canceller = user;
  if (progress->kind == RL_PROGRESS_STEPS && progress->done >= 2 && !canceller->cancelled)
    {
      canceller->cancelled = true;
      rl_pool_cancel (canceller->pool, -1);
    }
}

/* A SAMPLE of `steps` steps of a zero latent of `batch` items on every
 * rank at once; out[r] receives rank r's latent. */
static bool
sample_steps (RlPool *pool, int batch, float cfg, int steps, Canceller *canceller, float **out,
              RlErrorInfo *err_out)
{
  RlSampleParams params;
  rl_sample_params_init (&params);
  params.model = (RlJobModel) { dit_path, "" };
  params.seed = seed;
  params.steps = (uint32_t) steps;
  params.cfg = cfg;
  params.sampler = "euler";
  params.scheduler = "simple";
  const uint64_t shape[5] = { (uint64_t) batch, 16, 3, 10, 18 };
  return pt_sample_all (pool, &params, shape, positive, negative,
                        canceller ? cancel_at_second_step : NULL, canceller, out, NULL, err_out);
}

static bool
sample (RlPool *pool, int batch, float cfg, float **out)
{
  return sample_steps (pool, batch, cfg, 4, NULL, out, NULL);
}

static double
relative_error (const float *got, const float *want, uint64_t n)
{
  double max_diff = 0.0, max_ref = 0.0;
  for (uint64_t i = 0; i < n; i++)
    {
      double d = fabs ((double) got[i] - want[i]);
      max_diff = isnan (d) ? INFINITY : fmax (max_diff, d);
      max_ref = fmax (max_ref, fabs ((double) want[i]));
    }
  return max_diff / max_ref;
}

static void
test_one_worker_references (void)
{
  RlPool *pool = start_pool (1, 1, 1, 1, 1);
  PT_REQUIRE (pool != NULL, "one-worker pool");
  positive = pt_encode_text (pool, te_path, "a lighthouse in a storm, waves breaking");
  negative = pt_encode_text (pool, te_path, "calm, still water");
  PT_REQUIRE (positive != NULL && negative != NULL, "conditioning");
  for (int batch = 1; batch <= MAX_BATCH; batch++)
    for (int one = 0; one < 2; one++)
      {
        float *out[MAX_RANKS] = { 0 };
        PT_CHECK (sample (pool, batch, one ? 1.0f : 5.0f, out), "batch %d reference", batch);
        reference[batch][one] = out[0];
      }
  /* Batch items differ (their noise does), so splitting them is a test. */
  if (reference[2][0] != NULL)
    PT_CHECK (memcmp (reference[2][0], reference[2][0] + latent_numel (1),
                      latent_numel (1) * sizeof (float)) != 0, "batch items are identical");
  rl_pool_free (pool);
}

static void
check (int workers, int ulysses, int ring, int cfg_degree, int data, int batch, float cfg)
{
  bool cfg_one = cfg == 1.0f;
  double tolerance = ulysses * ring * data == 1 ? 1e-6 : 1e-5;
  const float *want = reference[batch][cfg_one];
  PT_REQUIRE (want != NULL, "no reference latent for batch %d", batch);
  RlPool *pool = start_pool (workers, ulysses, ring, cfg_degree, data);
  PT_REQUIRE (pool != NULL, "pool");
  float *out[MAX_RANKS] = { 0 };
  PT_CHECK (sample (pool, batch, cfg, out), "SAMPLE U%d R%d CFG%d DP%d", ulysses, ring,
            cfg_degree, data);
  for (int r = 0; r < workers && out[r] != NULL; r++)
    {
      double err = relative_error (out[r], want, latent_numel (batch));
      PT_CHECK (err <= tolerance, "rank %d of U%d×R%d CFG%d DP%d (batch %d, cfg %g): relative "
                "error %.3g", r, ulysses, ring, cfg_degree, data, batch, (double) cfg, err);
      if (r == 0)
        printf ("# 4-step sample, U%d×R%d CFG%d DP%d, batch %d, cfg %g on %d CPU workers vs "
                "one: relative error %.3g\n", ulysses, ring, cfg_degree, data, batch,
                (double) cfg, workers, err);
      if (r > 0)
        PT_CHECK (memcmp (out[r], out[0], latent_numel (batch) * sizeof (float)) == 0,
                  "rank %d's latent differs from rank 0's", r);
    }
  for (int r = 0; r < workers; r++)
    free (out[r]);
  rl_pool_free (pool);
}

static void test_cfg2 (void) { check (2, 1, 1, 2, 1, 1, 5.0f); }
static void test_cfg2_cfg_one (void) { check (2, 1, 1, 2, 1, 1, 1.0f); }
static void test_cfg2_batch2 (void) { check (2, 1, 1, 2, 1, 2, 5.0f); }
static void test_data2_batch2 (void) { check (2, 1, 1, 1, 2, 2, 5.0f); }
static void test_data2_uneven_batch3 (void) { check (2, 1, 1, 1, 2, 3, 5.0f); }
static void test_data2_batch1_idle_group (void) { check (2, 1, 1, 1, 2, 1, 5.0f); }
static void test_cfg2_ulysses2 (void) { check (4, 2, 1, 2, 1, 1, 5.0f); }
static void test_data2_ring2 (void) { check (4, 1, 2, 1, 2, 2, 5.0f); }
static void test_cfg2_data2 (void) { check (4, 1, 1, 2, 2, 3, 5.0f); }

static double
seconds_since (const struct timespec *start)
{
  struct timespec now;
  clock_gettime (CLOCK_MONOTONIC, &now);
  return (double) (now.tv_sec - start->tv_sec) + 1e-9 * (double) (now.tv_nsec - start->tv_nsec);
}

/* Cancelling a CFG2 × DP2 sample mid-way ends it within seconds on every
 * rank (a rank waiting in the step's exchange for a peer that stopped at
 * the cancel gives up a second later instead of at the 60 s timeout), and
 * a fresh pool then samples correctly. */
static void
test_cancel_mid_sample (void)
{
  RlPool *pool = start_pool (4, 1, 1, 2, 2);
  PT_REQUIRE (pool != NULL, "pool");
  Canceller canceller = { .pool = pool };
  float *out[MAX_RANKS] = { 0 };
  RlErrorInfo err = { 0 };
  struct timespec start;
  clock_gettime (CLOCK_MONOTONIC, &start);
  PT_CHECK (!sample_steps (pool, 2, 5.0f, 40, &canceller, out, &err), "a cancelled SAMPLE succeeded");
  double took = seconds_since (&start);
  PT_CHECK (canceller.cancelled, "the sample never reached its second step");
  PT_CHECK (err.code == RL_WIRE_CANCELLED, "status %d: %s", err.code, err.message);
  PT_CHECK (took < 20.0, "the cancelled SAMPLE took %.1f s", took);
  printf ("# cancel at step 2 of 40, CFG2×DP2: every rank done after %.2f s\n", took);
  for (int r = 0; r < MAX_RANKS; r++)
    free (out[r]);
  rl_pool_free (pool);
  check (4, 1, 1, 2, 2, 2, 5.0f);
}

/* FSDP alone (no rank splits the work) still needs collectives to gather
 * the shards: a pool of 2 CPU workers with FSDP degree 2 gives them, the
 * workers say their blocks are sharded over 2 ranks (their stderr, caught
 * in a file), and the sample equals one worker. */
static void
test_fsdp2_alone_gets_collectives (void)
{
  char log_path[512];
  snprintf (log_path, sizeof log_path, "%s/fsdp2-workers.log", pt_scratch_dir ());
  int log_fd = open (log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  PT_REQUIRE (log_fd >= 0, "cannot create %s", log_path);
  fflush (stderr);
  int saved = dup (2);
  dup2 (log_fd, 2);   /* the workers inherit it */
  close (log_fd);
  fsdp_degree = 2;
  check (2, 1, 1, 1, 1, 1, 5.0f);
  fsdp_degree = 1;
  fflush (stderr);
  dup2 (saved, 2);
  close (saved);
  FILE *log = fopen (log_path, "re");
  PT_REQUIRE (log != NULL, "no worker log");
  char line[1024];
  int sharded = 0;
  while (fgets (line, sizeof line, log) != NULL)
    sharded += strstr (line, "sharded over 2 ranks") != NULL;
  fclose (log);
  PT_CHECK (sharded == 2, "%d of 2 workers report sharded blocks (see %s)", sharded, log_path);
}

/* Invalid combinations never reach a worker and list the valid ones. */
static void
test_invalid_combinations_refused (void)
{
  RlErrorInfo err = { 0 };
  PT_CHECK (rl_pool_check_degrees (2, RL_POOL_BACKEND_CPU, 2, 1, 2, 1, &err) == RL_WIRE_INVALID
            && strstr (err.message, "needs 4 workers") != NULL
            && strstr (err.message, "U1×R1 CFG2 DP1") != NULL, "%s", err.message);
  RlPoolOptions options;
  pt_pool_options (&options, 3);
  options.cfg_degree = 2;
  PT_CHECK (rl_pool_new (&options, &err) == NULL && strstr (err.message, "valid for 3") != NULL,
            "CFG2 on 3 workers: %s", err.message);
  PT_CHECK (rl_pool_check_degrees (4, RL_POOL_BACKEND_CUDA, 2, 1, 1, 2, &err) == RL_WIRE_OK,
            "U2 DP2 on 4 GPUs: %s", err.message);
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

  PT_RUN (test_invalid_combinations_refused);
  PT_RUN (test_one_worker_references);
  PT_RUN (test_cfg2);
  PT_RUN (test_cfg2_cfg_one);
  PT_RUN (test_cfg2_batch2);
  PT_RUN (test_data2_batch2);
  PT_RUN (test_data2_uneven_batch3);
  PT_RUN (test_data2_batch1_idle_group);
  PT_RUN (test_cfg2_ulysses2);
  PT_RUN (test_data2_ring2);
  PT_RUN (test_cfg2_data2);
  PT_RUN (test_cancel_mid_sample);
  PT_RUN (test_fsdp2_alone_gets_collectives);
  rl_shared_tensor_free (positive);
  rl_shared_tensor_free (negative);
  for (int b = 0; b <= MAX_BATCH; b++)
    free (reference[b][0]), free (reference[b][1]);
  char command[2048];
  snprintf (command, sizeof command, "rm -rf '%s'", dir);
  if (system (command) != 0)
    printf ("# could not remove %s\n", dir);
  return pt_finish ();
}
