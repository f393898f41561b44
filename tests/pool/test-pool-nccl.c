/* GPU workers sharing NCCL collectives through the pool (rank 0 makes the
 * NCCL id, the pool hands it to every rank at HELLO_ACK): a 4-step Wan
 * SAMPLE on a Wan 2.1 1.3B-shaped checkpoint of random bf16 weights in
 * Ulysses 2, ring 2, CFG 2 and data 2 on two GPUs equals the one-GPU
 * latent within 1e-2 relative on every rank (and, to tell the forward's
 * own bf16 differences from the sampler's amplification of them at cfg 5,
 * one step at cfg 1 — one forward — of U2 and R2 is checked alone);
 * RAYLIGHT_NCCL_TEST_PARITY=0 skips these; then, with
 * RAYLIGHT_NCCL_TEST_SPEED=1, one sampling step (one DiT forward, cfg 1)
 * at 832×480×81 (21×60×104 latent, 32,760 tokens) on one GPU and on two
 * in Ulysses 2, timed in the same process, and the speed-up printed.
 * RAYLIGHT_NCCL_TEST_BLOCKS (default 30, the real count) trims the blocks.
 * RAYLIGHT_NCCL_TEST_BACKEND=cpu runs the same checks on CPU workers (fp32
 * compute over shared memory: the real model dimensions' split rules
 * without bf16 rounding). Exits 77 without two GPUs. */
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/plain-test.h"
#include "tests/pool/pool-test-util.h"
#include "workers/jobs/job-params.h"
#include "workers/pool/pool.h"

enum { MAX_RANKS = 2, TEXT_TOKENS = 512, TEXT_DIM = 4096 };

static uint64_t seed;
static char dit_path[512], plugin_env[1024];
static RlSharedTensor *positive, *negative;
static RlPoolBackend backend = RL_POOL_BACKEND_CUDA;

static int
count_gpus (void)
{
  DIR *dir = opendir ("/proc/driver/nvidia/gpus");
  int n = 0;
  if (dir == NULL)
    return 0;
  for (struct dirent *e; (e = readdir (dir)) != NULL;)
    n += e->d_name[0] != '.';
  closedir (dir);
  return n;
}

static double
now_s (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

/* The 1.3B key list with blocks ≥ `blocks` left out, as bf16 random weights. */
static bool
make_checkpoint (const char *keys, int blocks, const char *path)
{
  FILE *in = fopen (keys, "re");
  if (in == NULL)
    return false;
  MakeCheckpointSpec *specs = calloc (1024, sizeof *specs);
  size_t n = 0;
  char line[1024], error[256];
  while (specs != NULL && n < 1024 && fgets (line, sizeof line, in) != NULL)
    {
      int block = -1;
      if (sscanf (line, "blocks.%d.", &block) == 1 && block >= blocks)
        continue;
      int r = make_checkpoint_parse_line (line, RL_BF16, &specs[n], error, sizeof error);
      if (r < 0)
        printf ("# %s: %s\n", keys, error);
      n += r == 1;
    }
  fclose (in);
  bool ok = specs != NULL && make_checkpoint_write (path, specs, n, seed, 0, NULL, 0) == RL_OK;
  free (specs);
  return ok;
}

static RlSharedTensor *
random_conditioning (uint64_t which)
{
  const uint64_t shape[3] = { 1, TEXT_TOKENS, TEXT_DIM };
  RlErrorInfo err = { 0 };
  RlSharedTensor *t = rl_shared_tensor_new (RL_WIRE_DTYPE_F32, 3, shape, "conditioning", &err);
  if (t == NULL)
    return NULL;
  float *x = rl_shared_tensor_data (t);
  for (int64_t i = 0; i < (int64_t) TEXT_TOKENS * TEXT_DIM; i++)
    x[i] = make_checkpoint_value (seed ^ which, 7, i) * 0.5f;
  rl_shared_tensor_seal (t, &err);
  return t;
}

static RlPool *
start_pool (int workers, int ulysses, int ring, int cfg, int data)
{
  const char *env[] = { plugin_env, "NCCL_NVLS_ENABLE=0", NULL };
  RlPoolOptions options;
  RlErrorInfo err = { 0 };
  pt_pool_options (&options, workers);
  options.backend = backend;
  options.extra_env = env;
  options.start_timeout_ms = 60000;
  options.request_timeout_ms = 180000;
  options.heartbeat_timeout_ms = 20000;
  options.ulysses_degree = ulysses;
  options.ring_degree = ring;
  options.cfg_degree = cfg;
  options.data_degree = data;
  options.comm_timeout_ms = 60000;
  RlPool *pool = rl_pool_new (&options, &err);
  if (pool == NULL || rl_pool_start (pool, &err) != RL_WIRE_OK)
    {
      printf ("# cannot start %d GPU workers (U%d R%d CFG%d DP%d): %s\n", workers, ulysses,
              ring, cfg, data, err.message);
      rl_pool_free (pool);
      return NULL;
    }
  return pool;
}

/* kill -9 of one rank at its first sampling step, for the fault test. */
typedef struct {
  RlPool *pool;
  int     victim;
  bool    killed;
} Killer;

static void
kill_at_first_step (const RlPoolProgress *progress, void *user)
{
  Killer *killer = user;
  RlWorkerInfo info;
  if (killer->killed || progress->kind != RL_PROGRESS_STEPS
      || rl_pool_worker_info (killer->pool, killer->victim, &info) != 0 || info.pid <= 0)
    return;
  kill (info.pid, SIGKILL);
  killer->killed = true;
}

static Killer *killer_for_next_sample;
static RlErrorInfo last_error;

/* SAMPLE of a zero latent `shape` on every rank; out[r] gets rank r's. */
static bool
sample (RlPool *pool, const uint64_t *shape, int steps, float cfg, float **out, double *seconds)
{
  RlSampleParams params;
  rl_sample_params_init (&params);
  params.model = (RlJobModel) { dit_path, "" };
  params.seed = seed;
  params.steps = (uint32_t) steps;
  params.cfg = cfg;
  params.sampler = "euler";
  params.scheduler = "simple";
  RlWireWriter w;
  rl_wire_writer_init (&w);
  rl_sample_params_encode (&params, &w);
  uint64_t numel = shape[0] * shape[1] * shape[2] * shape[3] * shape[4];
  RlErrorInfo err = { 0 };
  RlSharedTensor *latent = rl_shared_tensor_new (RL_WIRE_DTYPE_F32, 5, shape, "latent", &err);
  bool ok = latent != NULL;
  if (ok)
    {
      memset (rl_shared_tensor_data (latent), 0, numel * sizeof (float));
      ok = rl_shared_tensor_seal (latent, &err) == RL_WIRE_OK;
    }
  RlSharedTensor *inputs[3] = { latent, positive, negative };
  int n = rl_pool_size (pool), ranks[MAX_RANKS];
  RlPoolCall calls[MAX_RANKS];
  for (int r = 0; r < n; r++)
    {
      ranks[r] = r;
      calls[r] = (RlPoolCall) { .type = RL_MSG_SAMPLE, .family = "", .params = w.data,
                                .params_size = w.size, .tensors = inputs, .n_tensors = 3,
                                .progress = killer_for_next_sample ? kill_at_first_step : NULL,
                                .user_data = killer_for_next_sample };
    }
  RlPoolResult results[MAX_RANKS] = { 0 };
  double start = now_s ();
  if (ok && rl_pool_call_group (pool, ranks, n, calls, results, &err) != RL_WIRE_OK)
    {
      printf ("# SAMPLE on %d GPUs: %s\n", n, err.message);
      ok = false;
    }
  last_error = err;
  if (seconds != NULL)
    *seconds = now_s () - start;
  for (int r = 0; r < n; r++)
    {
      RlSharedTensor *t = results[r].n_tensors == 1 ? results[r].tensors[0] : NULL;
      if (ok && out != NULL && t != NULL
          && rl_shared_tensor_desc (t)->nbytes == numel * sizeof (float))
        {
          out[r] = malloc (numel * sizeof (float));
          memcpy (out[r], rl_shared_tensor_data (t), numel * sizeof (float));
        }
      else if (out != NULL)
        ok = false;
      rl_pool_result_clear (&results[r]);
    }
  rl_wire_writer_clear (&w);
  rl_shared_tensor_free (latent);
  return ok;
}

/* sqrt(mean (got − want)²) / sqrt(mean want²): how far the whole latent
 * moved, where the max-based error below reports the worst element. */
static double
relative_rms (const float *got, const float *want, uint64_t n)
{
  double diff = 0.0, ref = 0.0;
  for (uint64_t i = 0; i < n; i++)
    {
      double d = (double) got[i] - want[i];
      diff += d * d;
      ref += (double) want[i] * want[i];
    }
  return ref > 0.0 ? sqrt (diff / ref) : INFINITY;
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
  return max_ref > 0.0 && isfinite (max_ref) ? max_diff / max_ref : INFINITY;
}

/* 3 latent frames of 30×52: 3·15·26 = 1170 tokens (odd: USP pads). */
static const uint64_t small1[5] = { 1, 16, 3, 30, 52 };
static const uint64_t small2[5] = { 2, 16, 3, 30, 52 };
static float *reference1, *reference2, *reference_forward;

static void
test_one_gpu_reference (void)
{
  RlPool *pool = start_pool (1, 1, 1, 1, 1);
  PT_REQUIRE (pool != NULL, "one-GPU pool");
  float *out[MAX_RANKS] = { 0 };
  double t = 0.0;
  PT_CHECK (sample (pool, small1, 4, 5.0f, out, &t), "one-GPU SAMPLE");
  reference1 = out[0];
  printf ("# one GPU, 4 steps cfg 5 (model load included): %.2f s\n", t);
  out[0] = NULL;
  PT_CHECK (sample (pool, small2, 4, 5.0f, out, NULL), "one-GPU SAMPLE of batch 2");
  reference2 = out[0];
  out[0] = NULL;
  PT_CHECK (sample (pool, small1, 1, 1.0f, out, NULL), "one-GPU forward");
  reference_forward = out[0];
  if (reference1 != NULL)
    {
      double sum = 0.0;
      for (uint64_t i = 0; i < 16 * 3 * 30 * 52; i++)
        sum += (double) reference1[i] * reference1[i];
      PT_CHECK (isfinite (sum) && sum > 0.0, "reference latent is zero or not finite");
    }
  rl_pool_free (pool);
}

static void
check (int ulysses, int ring, int cfg, int data)
{
  const uint64_t *shape = data > 1 ? small2 : small1;
  const float *want = data > 1 ? reference2 : reference1;
  uint64_t numel = shape[0] * 16 * 3 * 30 * 52;
  PT_REQUIRE (want != NULL, "no one-GPU reference");
  RlPool *pool = start_pool (2, ulysses, ring, cfg, data);
  PT_REQUIRE (pool != NULL, "two-GPU pool");
  float *out[MAX_RANKS] = { 0 };
  double t = 0.0;
  PT_CHECK (sample (pool, shape, 4, 5.0f, out, &t), "SAMPLE U%d R%d CFG%d DP%d", ulysses, ring,
            cfg, data);
  for (int r = 0; r < 2 && out[r] != NULL; r++)
    {
      double err = relative_error (out[r], want, numel);
      PT_CHECK (err <= 1e-2, "rank %d of U%d R%d CFG%d DP%d: relative error %.3g", r, ulysses,
                ring, cfg, data, err);
      printf ("# 2 GPUs NCCL U%d×R%d CFG%d DP%d, rank %d vs one GPU: relative error %.3g "
              "(rms %.3g; %.2f s with load)\n", ulysses, ring, cfg, data, r, err,
              relative_rms (out[r], want, numel), t);
    }
  if (out[0] != NULL && out[1] != NULL)
    PT_CHECK (memcmp (out[0], out[1], numel * sizeof (float)) == 0, "ranks differ");
  free (out[0]);
  free (out[1]);
  rl_pool_free (pool);
}

/* One step at cfg 1: the sampler's output is x − σ·v of one forward. */
static void
check_forward (int ulysses, int ring)
{
  uint64_t numel = 16 * 3 * 30 * 52;
  PT_REQUIRE (reference_forward != NULL, "no one-GPU forward");
  RlPool *pool = start_pool (2, ulysses, ring, 1, 1);
  PT_REQUIRE (pool != NULL, "two-GPU pool");
  float *out[MAX_RANKS] = { 0 };
  PT_CHECK (sample (pool, small1, 1, 1.0f, out, NULL), "forward U%d R%d", ulysses, ring);
  if (out[0] != NULL)
    {
      double err = relative_error (out[0], reference_forward, numel);
      PT_CHECK (err <= 1e-2, "one forward U%d R%d: relative error %.3g", ulysses, ring, err);
      printf ("# 2 GPUs NCCL U%d×R%d, one forward (1 step, cfg 1) vs one GPU: relative error "
              "%.3g (rms %.3g)\n", ulysses, ring, err,
              relative_rms (out[0], reference_forward, numel));
    }
  free (out[0]);
  free (out[1]);
  rl_pool_free (pool);
}

/* kill -9 of rank 1 mid-sample in U2: rank 0, inside an NCCL collective,
 * gives up a second after the pool cancels it (the dead peer never comes);
 * the job fails in seconds naming rank 1, and a fresh pool samples. */
static void
test_kill_rank_1 (void)
{
  RlPool *pool = start_pool (2, 2, 1, 1, 1);
  PT_REQUIRE (pool != NULL, "two-GPU pool");
  Killer killer = { .pool = pool, .victim = 1 };
  double t = 0.0;
  killer_for_next_sample = &killer;
  bool ok = sample (pool, small1, 30, 5.0f, NULL, &t);
  killer_for_next_sample = NULL;
  PT_CHECK (!ok, "a SAMPLE whose rank 1 was killed succeeded");
  PT_CHECK (killer.killed, "rank 1 was never killed");
  PT_CHECK (strstr (last_error.message, "rank 1") != NULL, "error does not name rank 1: %s",
            last_error.message);
  PT_CHECK (t < 20.0, "the failed SAMPLE took %.1f s", t);
  printf ("# kill -9 of rank 1 (NCCL U2): failed after %.2f s: %s\n", t, last_error.message);
  rl_pool_free (pool);
  check_forward (2, 1);
}

static void test_forward_ulysses2 (void) { check_forward (2, 1); }
static void test_forward_ring2 (void) { check_forward (1, 2); }
static void test_ulysses2 (void) { check (2, 1, 1, 1); }
static void test_ring2 (void) { check (1, 2, 1, 1); }
static void test_cfg2 (void) { check (1, 1, 2, 1); }
static void test_data2 (void) { check (1, 1, 1, 2); }

/* One sampling step (one forward, cfg 1) at 832×480×81: warm-up (model
 * load, kernels), then the best of three, on 1 GPU and on 2 in U2. */
static double
time_step (int workers, int ulysses, int cfg_degree, float cfg)
{
  static const uint64_t big[5] = { 1, 16, 21, 60, 104 };
  RlPool *pool = start_pool (workers, ulysses, 1, cfg_degree, 1);
  if (pool == NULL)
    return -1.0;
  double best = INFINITY, t = 0.0;
  bool ok = sample (pool, big, 1, cfg, NULL, &t);
  printf ("# %d GPU(s) U%d CFG%d cfg %g: warm-up step %.2f s\n", workers, ulysses, cfg_degree,
          (double) cfg, t);
  for (int i = 0; ok && i < 3; i++)
    {
      ok = sample (pool, big, 1, cfg, NULL, &t);
      best = fmin (best, t);
    }
  rl_pool_free (pool);
  return ok ? best : -1.0;
}

static void
test_speed (void)
{
  double one = time_step (1, 1, 1, 1.0f);
  double u2 = time_step (2, 2, 1, 1.0f);
  PT_CHECK (one > 0.0 && u2 > 0.0, "timing failed");
  printf ("# speed, Wan 1.3B-shaped, 832x480x81, one step (1 forward): 1 GPU %.3f s, "
          "2 GPUs U2 %.3f s, speed-up %.2fx\n", one, u2, one / u2);
  double one_cfg = time_step (1, 1, 1, 5.0f);
  double cfg2 = time_step (2, 1, 2, 5.0f);
  if (one_cfg > 0.0 && cfg2 > 0.0)
    printf ("# speed, one step with cfg 5 (2 forwards): 1 GPU %.3f s, 2 GPUs CFG2 %.3f s, "
            "speed-up %.2fx\n", one_cfg, cfg2, one_cfg / cfg2);
}

int
main (void)
{
  seed = pt_seed ();
  const char *source = getenv ("RAYLIGHT_SOURCE_DIR");
  const char *plugins = getenv ("RAYLIGHT_PLUGIN_PATH");
  if (source == NULL || plugins == NULL)
    pt_skip_all ("RAYLIGHT_SOURCE_DIR / RAYLIGHT_PLUGIN_PATH unset; run through meson test");
  const char *backend_env = getenv ("RAYLIGHT_NCCL_TEST_BACKEND");
  if (backend_env != NULL && strcmp (backend_env, "cpu") == 0)
    backend = RL_POOL_BACKEND_CPU;
  else if (count_gpus () < 2)
    pt_skip_all ("fewer than two NVIDIA GPUs");
  const char *blocks_env = getenv ("RAYLIGHT_NCCL_TEST_BLOCKS");
  int blocks = blocks_env ? atoi (blocks_env) : 30;
  char keys[1024];
  snprintf (keys, sizeof keys, "%s/tests/pool/data/wan21-t2v-1.3b-keys.txt", source);
  snprintf (dit_path, sizeof dit_path, "%s/wan2.1-t2v-1.3B-random.safetensors", pt_scratch_dir ());
  snprintf (plugin_env, sizeof plugin_env, "RAYLIGHT_PLUGIN_PATH=%s", plugins);
  double t = now_s ();
  if (!make_checkpoint (keys, blocks, dit_path))
    pt_skip_all ("cannot write the random 1.3B-shaped checkpoint");
  printf ("# random Wan 1.3B-shaped checkpoint, %d blocks, bf16: %.1f s\n", blocks, now_s () - t);
  positive = random_conditioning (1);
  negative = random_conditioning (2);

  const char *parity = getenv ("RAYLIGHT_NCCL_TEST_PARITY");
  if (parity == NULL || strcmp (parity, "0") != 0)
    {
      PT_RUN (test_one_gpu_reference);
      PT_RUN (test_forward_ulysses2);
      PT_RUN (test_forward_ring2);
      PT_RUN (test_cfg2);
      PT_RUN (test_data2);
      PT_RUN (test_ulysses2);
      PT_RUN (test_ring2);
      PT_RUN (test_kill_rank_1);
    }
  if (getenv ("RAYLIGHT_NCCL_TEST_SPEED") != NULL)
    PT_RUN (test_speed);
  rl_shared_tensor_free (positive);
  rl_shared_tensor_free (negative);
  free (reference1);
  free (reference2);
  free (reference_forward);
  remove (dit_path);
  rmdir (pt_scratch_dir ());
  return pt_finish ();
}
