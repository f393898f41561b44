/* GPU workers sharing NCCL collectives through the pool (rank 0 makes the
 * NCCL id, the pool hands it to every rank at HELLO_ACK): a 4-step Wan
 * SAMPLE at cfg 5 on a checkpoint of random bf16 weights in the Wan 2.1
 * key layout (1.3B by default) equals the one-GPU latent within 1e-2
 * relative on every rank of every parallel mode, and so does one step at
 * cfg 1 (one forward) of the sequence-parallel modes — which tells the
 * forward's own bf16 differences from the sampler's amplification of them.
 * The speed-ups of the same modes are tests/bench/bench-pool-speed's.
 *
 * Variables (all optional):
 *   RAYLIGHT_NCCL_TEST_MODES        parity modes, e.g. "U2 R2 CFG2 DP2 FSDP2
 *                                   U2+FSDP2 FSDP2+OFFLOAD U4 U2xR2 FSDP4";
 *                                   default: the two-GPU ones, and the
 *                                   four-GPU ones where there are four
 *   RAYLIGHT_NCCL_TEST_PARITY=0     no parity checks
 *   RAYLIGHT_NCCL_TEST_KILL=0       no kill -9 fault test
 *   RAYLIGHT_NCCL_TEST_ATTENTION    the attention variant of every worker,
 *                                   the one-GPU reference's too, so both
 *                                   sides run the same kernels (default
 *                                   "cudnn" on GPUs: under "auto" a rank's
 *                                   slice of a problem may pick another
 *                                   kernel than the whole problem does;
 *                                   the CPU workers' default is "auto")
 *   RAYLIGHT_NCCL_TEST_FLOOR        a second variant ("flash"): the
 *                                   one-GPU sample with it against the
 *                                   reference — how far bf16 kernel
 *                                   differences alone move the sample
 *   RAYLIGHT_NCCL_TEST_KEYS         key list of the checkpoint (default
 *                                   tests/pool/data/wan21-t2v-1.3b-keys.txt)
 *   RAYLIGHT_NCCL_TEST_BLOCKS       blocks kept (default 30)
 *   RAYLIGHT_NCCL_TEST_WEIGHTS      "uniform" (default: every weight in
 *                                   [-1, 1)) or "fan-in" (weights of two or
 *                                   more dims times 1/sqrt(fan-in), as
 *                                   trained models are scaled)
 *   RAYLIGHT_NCCL_TEST_CHECKPOINT   a checkpoint written beforehand (then
 *                                   KEYS and BLOCKS are not used)
 *   RAYLIGHT_NCCL_TEST_LABEL        the model's name in the result lines
 *   RAYLIGHT_NCCL_TEST_LATENT       parity latent F×H×W (default 3x30x52:
 *                                   1170 tokens, which U4 pads)
 *   RAYLIGHT_NCCL_TEST_GPUS         GPUs to use (default: all, at most 4)
 *   RAYLIGHT_NCCL_TEST_BACKEND=cpu  the same checks on CPU workers (fp32
 *                                   over shared memory: the real model's
 *                                   split rules without bf16 rounding)
 *   RAYLIGHT_NCCL_TEST_RSS=MODE     host memory of a pool in MODE (e.g.
 *                                   "FSDP4") with the model loaded and one
 *                                   step sampled: every worker's RSS, its
 *                                   parts and Pss against the checkpoint's
 *                                   size (issue 5: summed RSS ≤ 1.3×)
 *   RAYLIGHT_NCCL_TEST_FAULTS=1     the five faults of issue 5 on these
 *                                   workers: kill -9 mid-sampling, a rank
 *                                   that stops answering (SIGSTOP), a
 *                                   missing worker binary, invalid degrees,
 *                                   a checkpoint deleted between jobs; each
 *                                   a clear error, then a job that succeeds
 * Result lines start "# parity LABEL MODE", "# rss
 * LABEL MODE" and "# fault NAME" (the session scripts tabulate them).
 * Exits 77 without two GPUs. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tests/plain-test.h"
#include "tests/pool/pool-jobs-util.h"
#include "tests/pool/parallel-mode.h"
#include "tests/pool/pool-test-util.h"
#include "tests/pool/process-memory.h"
#include "workers/jobs/job-params.h"
#include "workers/pool/pool.h"

enum { MAX_RANKS = 4, MAX_MODES = 16, TEXT_DIM = 4096, CHANNELS = PT_LATENT_CHANNELS };

static uint64_t seed;
static int gpus;
static char dit_path[512], plugin_env[1024], label[64] = "1.3B";
static const char *attention, *floor_attention;
static bool own_checkpoint;
static unsigned checkpoint_flags;   /* MAKE_CHECKPOINT_FAN_IN or 0 */
static RlSharedTensor *positive, *negative;
static RlPoolBackend backend = RL_POOL_BACKEND_CUDA;
static int64_t latent_fhw[3] = { 3, 30, 52 };

/* The key list with blocks ≥ `blocks` left out, as bf16 random weights. */
static bool
make_checkpoint (const char *keys, int blocks, const char *path)
{
  FILE *in = fopen (keys, "re");
  if (in == NULL)
    return false;
  enum { MAX_SPECS = 2048 };
  MakeCheckpointSpec *specs = calloc (MAX_SPECS, sizeof *specs);
  size_t n = 0;
  char line[1024], error[256];
  while (specs != NULL && n < MAX_SPECS && fgets (line, sizeof line, in) != NULL)
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
  bool ok = specs != NULL
            && make_checkpoint_write (path, specs, n, seed, checkpoint_flags, NULL, 0) == RL_OK;
  free (specs);
  return ok;
}

/* The fault tests change these for one pool at a time; start_error is the
 * last failed start's. */
static const char *worker_path_override;
static int heartbeat_timeout_ms = 20000;
static RlErrorInfo start_error;

/* A pool for `m` whose workers all run the attention variant `variant`
 * (NULL: the backend's choice per problem). */
static RlPool *
start_pool (const PtMode *m, const char *variant)
{
  PtModePoolSetup setup = { backend, plugin_env, label, worker_path_override,
                            heartbeat_timeout_ms };
  RlErrorInfo err = { 0 };
  RlPool *pool = pt_start_mode_pool (&setup, m, variant, &err);
  if (pool == NULL)
    start_error = err;
  return pool;
}

/* A signal (SIGKILL unless set: kill -9; SIGSTOP: a rank that stops
 * answering) to one rank at its first sampling step, for the fault tests. */
typedef struct {
  RlPool *pool;
  int     victim;
  int     signal;
  bool    killed;
  double  killed_at;   /* pt_now_s () */
} Killer;

static void
kill_at_first_step (const RlPoolProgress *progress, void *user)
{
  Killer *killer = user;
  RlWorkerInfo info;
  if (killer->killed || progress->kind != RL_PROGRESS_STEPS
      || rl_pool_worker_info (killer->pool, killer->victim, &info) != 0 || info.pid <= 0)
    return;
  kill (info.pid, killer->signal != 0 ? killer->signal : SIGKILL);
  killer->killed = true;
  killer->killed_at = pt_now_s ();
}

static Killer *killer_for_next_sample;
static RlErrorInfo last_error;

static uint64_t
latent_numel (int batch, const int64_t *fhw)
{
  return (uint64_t) batch * CHANNELS * (uint64_t) (fhw[0] * fhw[1] * fhw[2]);
}

/* The checkpoint SAMPLE names: dit_path unless a fault test points it
 * elsewhere. */
static char *job_model = dit_path;

/* SAMPLE of a zero latent of `batch` × 16 × fhw on every rank; out[r] gets
 * rank r's result (out may be NULL). */
static bool
sample (RlPool *pool, int batch, const int64_t *fhw, int steps, float cfg, float **out,
        double *seconds)
{
  RlSampleParams params;
  pt_mode_sample_params (&params, job_model, seed, steps, cfg);
  const uint64_t shape[5] = { (uint64_t) batch, CHANNELS, (uint64_t) fhw[0], (uint64_t) fhw[1],
                              (uint64_t) fhw[2] };
  return pt_sample_all (pool, &params, shape, positive, negative,
                        killer_for_next_sample ? kill_at_first_step : NULL, killer_for_next_sample,
                        out, seconds, &last_error);
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

static PtMode modes[MAX_MODES];
static int n_modes;
/* The one-GPU results: 4 steps at cfg 5 for batch 1, 2 and 4 (indexed by
 * the batch; data parallelism splits the batch), and one forward. */
static float *reference[MAX_RANKS + 1], *reference_forward;

static bool
needs_batch (int batch)
{
  for (int i = 0; i < n_modes; i++)
    if (modes[i].data == batch)
      return true;
  return batch == 1;
}

static void
test_one_gpu_reference (void)
{
  PtMode one;
  pt_mode_parse ("1", &one);
  RlPool *pool = start_pool (&one, attention);
  PT_REQUIRE (pool != NULL, "one-GPU pool");
  for (int batch = 1; batch <= MAX_RANKS; batch++)
    {
      float *out[MAX_RANKS] = { 0 };
      double t = 0.0;
      if (!needs_batch (batch))
        continue;
      PT_CHECK (sample (pool, batch, latent_fhw, 4, 5.0f, out, &t), "one-GPU SAMPLE of batch %d",
                batch);
      reference[batch] = out[0];
      printf ("# one GPU, batch %d, 4 steps cfg 5: %.2f s%s\n", batch, t,
              batch == 1 ? " (model load included)" : "");
    }
  float *out[MAX_RANKS] = { 0 };
  PT_CHECK (sample (pool, 1, latent_fhw, 1, 1.0f, out, NULL), "one-GPU forward");
  reference_forward = out[0];
  if (reference[1] != NULL)
    {
      double sum = 0.0;
      for (uint64_t i = 0; i < latent_numel (1, latent_fhw); i++)
        sum += (double) reference[1][i] * reference[1][i];
      PT_CHECK (isfinite (sum) && sum > 0.0, "reference latent is zero or not finite");
    }
  rl_pool_free (pool);
}

/* The one-GPU sample with another attention variant against the reference:
 * the spread that bf16 kernel differences alone give this model. */
static void
test_variant_floor (void)
{
  PtMode one;
  pt_mode_parse ("1", &one);
  PT_REQUIRE (reference[1] != NULL && reference_forward != NULL, "no one-GPU reference");
  RlPool *pool = start_pool (&one, floor_attention);
  PT_REQUIRE (pool != NULL, "one-GPU pool with %s", floor_attention);
  float *out[MAX_RANKS] = { 0 }, *forward[MAX_RANKS] = { 0 };
  uint64_t numel = latent_numel (1, latent_fhw);
  PT_CHECK (sample (pool, 1, latent_fhw, 4, 5.0f, out, NULL), "SAMPLE with %s", floor_attention);
  PT_CHECK (sample (pool, 1, latent_fhw, 1, 1.0f, forward, NULL), "forward with %s",
            floor_attention);
  if (out[0] != NULL && forward[0] != NULL)
    printf ("# parity %s 1GPU-%s-vs-%s sample %.3g rms %.3g forward %.3g (floor, not checked)\n",
            label, floor_attention, attention ? attention : "auto",
            relative_error (out[0], reference[1], numel),
            relative_rms (out[0], reference[1], numel),
            relative_error (forward[0], reference_forward, numel));
  free (out[0]);
  free (forward[0]);
  rl_pool_free (pool);
}

static const PtMode *current_mode;

/* 4 steps at cfg 5 on every rank against the one-GPU result, and for the
 * sequence-parallel modes one forward (1 step at cfg 1) too. */
static void
test_parity (void)
{
  const PtMode *m = current_mode;
  int batch = m->data, workers = pt_mode_workers (m);
  const float *want = batch <= MAX_RANKS ? reference[batch] : NULL;
  uint64_t numel = latent_numel (batch, latent_fhw);
  PT_REQUIRE (want != NULL, "no one-GPU reference of batch %d", batch);
  RlPool *pool = start_pool (m, attention);
  PT_REQUIRE (pool != NULL, "%d-worker pool for %s", workers, m->name);
  float *out[MAX_RANKS] = { 0 };
  double t = 0.0, worst = 0.0, worst_rms = 0.0, forward_err = -1.0;
  PT_CHECK (sample (pool, batch, latent_fhw, 4, 5.0f, out, &t), "SAMPLE %s", m->name);
  for (int r = 0; r < workers && out[r] != NULL; r++)
    {
      double err = relative_error (out[r], want, numel);
      PT_CHECK (err <= 1e-2, "rank %d of %s: relative error %.3g", r, m->name, err);
      worst = fmax (worst, err);
      worst_rms = fmax (worst_rms, relative_rms (out[r], want, numel));
      if (r > 0 && out[0] != NULL)
        PT_CHECK (memcmp (out[0], out[r], numel * sizeof (float)) == 0,
                  "ranks 0 and %d of %s differ", r, m->name);
    }
  if (m->ulysses * m->ring > 1 && reference_forward != NULL)
    {
      float *forward[MAX_RANKS] = { 0 };
      uint64_t forward_numel = latent_numel (1, latent_fhw);
      if (m->data == 1
          && sample (pool, 1, latent_fhw, 1, 1.0f, forward, NULL) && forward[0] != NULL)
        {
          forward_err = relative_error (forward[0], reference_forward, forward_numel);
          PT_CHECK (forward_err <= 1e-2, "one forward of %s: relative error %.3g", m->name,
                    forward_err);
        }
      for (int r = 0; r < MAX_RANKS; r++)
        free (forward[r]);
    }
  char forward_text[32] = "-";
  if (forward_err >= 0.0)
    snprintf (forward_text, sizeof forward_text, "%.3g", forward_err);
  printf ("# parity %s %s sample %.3g rms %.3g forward %s (%d workers, %.2f s with load) %s\n",
          label, m->name, worst, worst_rms, forward_text, workers, t,
          out[0] != NULL && worst <= 1e-2 && (forward_err < 0.0 || forward_err <= 1e-2)
          ? "ok" : "FAIL");
  for (int r = 0; r < MAX_RANKS; r++)
    free (out[r]);
  rl_pool_free (pool);
}

/* ---- Faults: each a clear error, then a job that succeeds -------------- */

/* One line per fault for the session scripts: what the failing job said
 * and whether the next one succeeded. */
static void
report_fault (const char *name, bool clear, double failed_after, const char *message, bool next_ok,
              double next_seconds)
{
  printf ("# fault %s: %s in %.2f s: %s | next job %s in %.2f s\n", name,
          clear ? "clear error" : "UNCLEAR ERROR", failed_after, message,
          next_ok ? "ok" : "FAILED", next_seconds);
  fflush (stdout);
}

/* The job after a fault that took the pool down: a fresh pool (what the
 * app's pool service starts) in `m` samples one step. */
static bool
fresh_pool_samples (const PtMode *m, double *seconds)
{
  double t0 = pt_now_s ();
  RlPool *pool = start_pool (m, attention);
  bool ok = pool != NULL && sample (pool, 1, latent_fhw, 1, 1.0f, NULL, NULL);
  rl_pool_free (pool);
  *seconds = pt_now_s () - t0;
  return ok;
}

/* `signal` to rank 1 at its first step of a 30-step U2 sample: SIGKILL
 * (kill -9) or SIGSTOP (a rank that stops answering, found by the pool's
 * heartbeats). Rank 0, inside an NCCL collective, gives up once the pool
 * cancels it (the peer never comes); the job fails in seconds naming rank
 * 1 (and `expected`), and a fresh pool samples. */
static void
signal_rank_1_mid_sample (const char *name, int signal, const char *expected, double bound_s)
{
  PtMode u2;
  pt_mode_parse ("U2", &u2);
  RlPool *pool = start_pool (&u2, attention);
  PT_REQUIRE (pool != NULL, "two-GPU pool");
  Killer killer = { .pool = pool, .victim = 1, .signal = signal };
  double t = 0.0;
  killer_for_next_sample = &killer;
  bool ok = sample (pool, 1, latent_fhw, 30, 5.0f, NULL, &t);
  double after_signal = killer.killed ? pt_now_s () - killer.killed_at : t;
  killer_for_next_sample = NULL;
  char message[sizeof last_error.message];
  snprintf (message, sizeof message, "%s", ok ? "(no error)" : last_error.message);
  PT_CHECK (!ok, "a SAMPLE whose rank 1 got %s succeeded", name);
  PT_CHECK (killer.killed, "rank 1 never got %s", name);
  bool clear = !ok && strstr (last_error.message, "rank 1") != NULL
               && (expected == NULL || strstr (last_error.message, expected) != NULL);
  PT_CHECK (clear, "error does not name rank 1%s%s: %s", expected ? " and " : "",
            expected ? expected : "", last_error.message);
  PT_CHECK (after_signal < bound_s, "the SAMPLE failed %.1f s after the signal", after_signal);
  rl_pool_free (pool);
  double next_s = 0.0;
  bool next = fresh_pool_samples (&u2, &next_s);
  PT_CHECK (next, "SAMPLE after %s: %s", name, last_error.message);
  report_fault (name, clear, after_signal, message, next, next_s);
}

/* kill -9 of rank 1 mid-sample in U2. */
static void
test_kill_rank_1 (void)
{
  signal_rank_1_mid_sample ("kill-9-mid-sample", SIGKILL, NULL, 20.0);
}

/* Rank 1 stopped (SIGSTOP) mid-sample in U2: no answer to heartbeats, so
 * the pool kills it after its heartbeat timeout (5 s here). */
static void
test_fault_stops_answering (void)
{
  heartbeat_timeout_ms = 5000;
  signal_rank_1_mid_sample ("rank-stops-answering", SIGSTOP, "stopped answering", 25.0);
  heartbeat_timeout_ms = 20000;
}

/* The pool the last three faults leave standing for their next jobs. */
static RlPool *fault_pool;
static PtMode fault_mode;

static bool
fault_pool_samples (double *seconds)
{
  double t0 = pt_now_s ();
  if (fault_pool == NULL)
    fault_pool = start_pool (&fault_mode, attention);
  bool ok = fault_pool != NULL && sample (fault_pool, 1, latent_fhw, 1, 1.0f, NULL, NULL);
  *seconds = pt_now_s () - t0;
  return ok;
}

/* The job after a fault that left the standing pool up: it samples one
 * step there; both outcomes go into the fault's summary line. */
static void
next_job_on_standing_pool (const char *name, const char *what, bool clear, double failed_after,
                           const char *message)
{
  double next_s = 0.0;
  bool next = fault_pool_samples (&next_s);
  PT_CHECK (next, "SAMPLE after the %s: %s", what, last_error.message);
  report_fault (name, clear, failed_after, message, next, next_s);
}

/* A U2 pool whose worker binary is missing fails to start naming the
 * path; the next job starts a pool with the real one. */
static void
test_fault_missing_binary (void)
{
  const char *missing = "/nonexistent/raylight/raylight-worker";
  pt_mode_parse ("U2", &fault_mode);
  worker_path_override = missing;
  double t0 = pt_now_s ();
  RlPool *pool = start_pool (&fault_mode, attention);
  double took = pt_now_s () - t0;
  worker_path_override = NULL;
  PT_CHECK (pool == NULL, "a pool of a missing binary started");
  rl_pool_free (pool);
  bool clear = pool == NULL && start_error.code == RL_WIRE_NOT_FOUND
               && strstr (start_error.message, missing) != NULL
               && strstr (start_error.message, "not found") != NULL;
  PT_CHECK (clear, "missing binary: %d %s", start_error.code, start_error.message);
  next_job_on_standing_pool ("missing-worker-binary", "missing binary", clear, took,
                             start_error.message);
}

/* Ulysses 2 × ring 2 on two workers never launches anything: the error
 * lists the valid degrees, and the standing pool takes the next job. */
static void
test_fault_invalid_degrees (void)
{
  RlPoolOptions options;
  RlErrorInfo err = { 0 };
  pt_pool_options (&options, 2);
  options.backend = backend;
  options.ulysses_degree = 2;
  options.ring_degree = 2;
  double t0 = pt_now_s ();
  RlPool *pool = rl_pool_new (&options, &err);
  double took = pt_now_s () - t0;
  PT_CHECK (pool == NULL, "U2xR2 on two workers accepted");
  rl_pool_free (pool);
  bool clear = pool == NULL && err.code == RL_WIRE_INVALID
               && strstr (err.message, "valid Ulysses×ring degrees for 2 workers: 1×2, 2×1") != NULL;
  PT_CHECK (clear, "invalid degrees: %d %s", err.code, err.message);
  next_job_on_standing_pool ("invalid-degrees", "invalid degrees", clear, took, err.message);
}

/* A job on a checkpoint (a hard link to the test's), the link deleted, the
 * same job again: it fails on every rank naming the file; the next job, on
 * a checkpoint that exists, succeeds on the same pool. */
static void
test_fault_checkpoint_deleted (void)
{
  char linked[sizeof dit_path + 32];
  snprintf (linked, sizeof linked, "%s.deleted-between-jobs", dit_path);
  unlink (linked);
  PT_REQUIRE (link (dit_path, linked) == 0, "cannot link %s", linked);
  double t = 0.0;
  if (fault_pool == NULL)
    fault_pool = start_pool (&fault_mode, attention);
  job_model = linked;
  bool first = fault_pool != NULL && sample (fault_pool, 1, latent_fhw, 1, 1.0f, NULL, &t);
  PT_CHECK (first, "SAMPLE before the delete: %s", last_error.message);
  unlink (linked);
  bool ok = fault_pool != NULL && sample (fault_pool, 1, latent_fhw, 1, 1.0f, NULL, &t);
  job_model = dit_path;
  char message[sizeof last_error.message];
  snprintf (message, sizeof message, "%s", ok ? "(no error)" : last_error.message);
  PT_CHECK (!ok, "a SAMPLE of a deleted checkpoint succeeded");
  bool clear = !ok && strstr (message, "deleted-between-jobs") != NULL;
  PT_CHECK (clear, "deleted checkpoint: %s", message);
  next_job_on_standing_pool ("checkpoint-deleted", "deleted checkpoint", clear, t, message);
  rl_pool_free (fault_pool);
  fault_pool = NULL;
}

/* ---- Host memory (RAYLIGHT_NCCL_TEST_RSS=MODE) -------------------------- */

/* MemTotal − MemAvailable of the host, KiB. */
static long
host_used_kib (void)
{
  long total = -1, available = -1;
  const char *names[] = { "MemTotal", "MemAvailable" };
  long *fields[] = { &total, &available };
  pt_read_kib_fields ("/proc/meminfo", names, fields, 2);
  return total >= 0 && available >= 0 ? total - available : -1;
}

static double
mib (long kib)
{
  return (double) kib / 1024.0;
}

/* A pool in the mode RAYLIGHT_NCCL_TEST_RSS names loads the checkpoint and
 * samples one step at the parity latent; then, with every worker alive
 * and the model resident, each one's memory from /proc and the sums
 * against the checkpoint's size. */
static void
test_host_memory (void)
{
  PtMode m;
  const char *name = getenv ("RAYLIGHT_NCCL_TEST_RSS");
  PT_REQUIRE (pt_mode_parse (name, &m), "RAYLIGHT_NCCL_TEST_RSS: unknown mode '%s'", name);
  int workers = pt_mode_workers (&m);
  if (workers > gpus)
    {
      printf ("# rss %s %s skipped: needs %d GPUs\n", label, m.name, workers);
      return;
    }
  struct stat st;
  PT_REQUIRE (stat (dit_path, &st) == 0, "%s: cannot stat", dit_path);
  long file_kib = (long) (st.st_size / 1024);
  long used_before = host_used_kib ();
  RlPool *pool = start_pool (&m, attention);
  PT_REQUIRE (pool != NULL, "%d-worker pool for %s", workers, m.name);
  double t = 0.0;
  bool ok = sample (pool, 1, latent_fhw, 1, 1.0f, NULL, &t);
  PT_CHECK (ok, "SAMPLE in %s: %s", m.name, last_error.message);
  long used_after = host_used_kib ();
  printf ("# rss note: VmRSS = RssAnon (the worker's own heap: staging buffers, CPU-side\n"
          "# rss note: weights, the allocator's cache) + RssFile (file pages this worker\n"
          "# rss note: mapped AND touched: the checkpoint pieces it read, and its shared\n"
          "# rss note: libraries: CUDA, cuBLAS, cuDNN, NCCL) + RssShmem (memfd tensors,\n"
          "# rss note: shared segments). A checkpoint page two workers touched counts in\n"
          "# rss note: both RSS, so the RSS sum counts shared pages once per worker; Pss\n"
          "# rss note: splits each page among its mappers, so the Pss sum is the RAM these\n"
          "# rss note: processes hold. The page cache of the file itself is in no RSS\n"
          "# rss note: unless mapped and touched. 'ckpt' = the checkpoint's mappings alone.\n");
  printf ("# rss %s %s checkpoint %.1f MiB (%s), %d workers, load + 1 step %.2f s\n", label,
          m.name, mib (file_kib), dit_path, workers, t);
  PtProcessMemory sum = { 0 };
  int measured = 0;
  for (int r = 0; r < workers; r++)
    {
      RlWorkerInfo info;
      PtProcessMemory mem;
      if (rl_pool_worker_info (pool, r, &info) != 0 || info.pid <= 0
          || !pt_process_memory (info.pid, dit_path, &mem))
        {
          PT_CHECK (false, "rank %d: no process to measure", r);
          continue;
        }
      printf ("# rss %s %s rank %d pid %d: VmRSS %.0f MiB (anon %.0f, file %.0f, shmem %.0f) "
              "VmHWM %.0f MiB, Pss %.0f MiB (anon %.0f, file %.0f, shmem %.0f), "
              "ckpt Rss %.0f Pss %.0f MiB\n", label, m.name, r, info.pid, mib (mem.rss_kib),
              mib (mem.anon_kib), mib (mem.file_kib), mib (mem.shmem_kib), mib (mem.hwm_kib),
              mib (mem.pss_kib), mib (mem.pss_anon_kib), mib (mem.pss_file_kib),
              mib (mem.pss_shmem_kib), mib (mem.mapped_rss_kib), mib (mem.mapped_pss_kib));
      sum.rss_kib += mem.rss_kib, sum.anon_kib += mem.anon_kib, sum.file_kib += mem.file_kib;
      sum.shmem_kib += mem.shmem_kib, sum.hwm_kib += mem.hwm_kib, sum.pss_kib += mem.pss_kib;
      sum.mapped_rss_kib += mem.mapped_rss_kib, sum.mapped_pss_kib += mem.mapped_pss_kib;
      measured++;
    }
  double rss_ratio = (double) sum.rss_kib / (double) file_kib;
  printf ("# rss %s %s sum of %d: VmRSS %.0f MiB = %.3fx checkpoint (anon %.0f, file %.0f, "
          "shmem %.0f), VmHWM %.0f MiB = %.3fx, Pss %.0f MiB = %.3fx, ckpt Rss %.0f MiB = %.3fx "
          "Pss %.0f MiB; host used +%.0f MiB; bar 1.3x: %s\n", label, m.name, measured,
          mib (sum.rss_kib), rss_ratio, mib (sum.anon_kib), mib (sum.file_kib),
          mib (sum.shmem_kib), mib (sum.hwm_kib), (double) sum.hwm_kib / (double) file_kib,
          mib (sum.pss_kib), (double) sum.pss_kib / (double) file_kib, mib (sum.mapped_rss_kib),
          (double) sum.mapped_rss_kib / (double) file_kib, mib (sum.mapped_pss_kib),
          mib (used_after - used_before),
          rss_ratio <= 1.3 ? "met" : backend == RL_POOL_BACKEND_CPU
          ? "above (CPU workers keep their shards and the gathered blocks in host memory: "
            "not the bar's case)" : "NOT met");
  fflush (stdout);
  /* CPU workers' device memory is host memory (shards, gathered blocks,
   * activations): only GPU workers are the case. */
  if (backend == RL_POOL_BACKEND_CUDA)
    PT_CHECK (rss_ratio <= 1.3, "summed RSS %.3fx the checkpoint", rss_ratio);
  rl_pool_free (pool);
}

/* The modes of RAYLIGHT_NCCL_TEST_MODES, or every mode this many GPUs run. */
static bool
read_modes (void)
{
  const char *list = getenv ("RAYLIGHT_NCCL_TEST_MODES");
  char copy[512];
  snprintf (copy, sizeof copy, "%s", list != NULL ? list
           : gpus >= 4 ? "U2 R2 CFG2 DP2 FSDP2 U2+FSDP2 FSDP2+OFFLOAD U4 U2xR2 FSDP4"
                       : "U2 R2 CFG2 DP2 FSDP2 U2+FSDP2 FSDP2+OFFLOAD");
  for (char *save = NULL, *word = strtok_r (copy, " ,", &save); word != NULL;
       word = strtok_r (NULL, " ,", &save))
    {
      PtMode m;
      if (!pt_mode_parse (word, &m) || n_modes == MAX_MODES || m.data > MAX_RANKS)
        {
          printf ("# unknown or too many parity modes at '%s'\n", word);
          return false;
        }
      if (pt_mode_workers (&m) > gpus)
        printf ("# parity %s %s skipped: needs %d GPUs\n", label, m.name, pt_mode_workers (&m));
      else
        modes[n_modes++] = m;
    }
  return true;
}

static bool
setting_is_off (const char *name)
{
  const char *value = getenv (name);
  return value != NULL && strcmp (value, "0") == 0;
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
  const char *gpus_env = getenv ("RAYLIGHT_NCCL_TEST_GPUS");
  if (backend_env != NULL && strcmp (backend_env, "cpu") == 0)
    backend = RL_POOL_BACKEND_CPU, gpus = MAX_RANKS;
  else if ((gpus = pt_count_nvidia_gpus ()) < 2)
    pt_skip_all ("fewer than two NVIDIA GPUs");
  if (gpus_env != NULL && atoi (gpus_env) >= 1 && atoi (gpus_env) < gpus)
    gpus = atoi (gpus_env);
  gpus = gpus > MAX_RANKS ? MAX_RANKS : gpus;
  attention = getenv ("RAYLIGHT_NCCL_TEST_ATTENTION");
  floor_attention = getenv ("RAYLIGHT_NCCL_TEST_FLOOR");
  if (attention == NULL && backend == RL_POOL_BACKEND_CUDA)
    attention = "cudnn";
  if (attention != NULL && (attention[0] == '\0' || strcmp (attention, "auto") == 0))
    attention = NULL;
  if (floor_attention != NULL && floor_attention[0] == '\0')
    floor_attention = NULL;
  if (getenv ("RAYLIGHT_NCCL_TEST_LABEL") != NULL)
    snprintf (label, sizeof label, "%s", getenv ("RAYLIGHT_NCCL_TEST_LABEL"));
  if (getenv ("RAYLIGHT_NCCL_TEST_LATENT") != NULL
      && !pt_parse_fhw (getenv ("RAYLIGHT_NCCL_TEST_LATENT"), latent_fhw))
    {
      printf ("# RAYLIGHT_NCCL_TEST_LATENT: FxHxW with even H and W\n");
      return 1;
    }
  if (!read_modes ())
    return 1;
  snprintf (plugin_env, sizeof plugin_env, "RAYLIGHT_PLUGIN_PATH=%s", plugins);

  const char *given = getenv ("RAYLIGHT_NCCL_TEST_CHECKPOINT");
  if (given != NULL && given[0] != '\0')
    snprintf (dit_path, sizeof dit_path, "%s", given);
  else
    {
      const char *blocks_env = getenv ("RAYLIGHT_NCCL_TEST_BLOCKS");
      const char *keys_env = getenv ("RAYLIGHT_NCCL_TEST_KEYS");
      const char *weights = getenv ("RAYLIGHT_NCCL_TEST_WEIGHTS");
      if (weights != NULL && strcmp (weights, "fan-in") == 0)
        checkpoint_flags = MAKE_CHECKPOINT_FAN_IN;
      else if (weights != NULL && strcmp (weights, "uniform") != 0)
        {
          printf ("# RAYLIGHT_NCCL_TEST_WEIGHTS: uniform or fan-in, not '%s'\n", weights);
          return 1;
        }
      int blocks = blocks_env ? atoi (blocks_env) : 30;
      char keys[1024];
      snprintf (keys, sizeof keys, "%s", keys_env != NULL ? keys_env : "");
      if (keys_env == NULL)
        snprintf (keys, sizeof keys, "%s/tests/pool/data/wan21-t2v-1.3b-keys.txt", source);
      snprintf (dit_path, sizeof dit_path, "%s/wan-random.safetensors", pt_scratch_dir ());
      double t = pt_now_s ();
      if (!make_checkpoint (keys, blocks, dit_path))
        pt_skip_all ("cannot write the random Wan checkpoint");
      own_checkpoint = true;
      printf ("# random Wan %s checkpoint, %d blocks, bf16, %s weights: %.1f s\n", label, blocks,
              checkpoint_flags ? "fan-in scaled" : "uniform", pt_now_s () - t);
    }
  positive = pt_random_conditioning (seed, 1, TEXT_DIM);
  negative = pt_random_conditioning (seed, 2, TEXT_DIM);
  printf ("# %s on %d %s, attention %s, parity latent %lldx%lldx%lld\n", label, gpus,
          backend == RL_POOL_BACKEND_CPU ? "CPU workers" : "GPUs",
          attention ? attention : "auto", (long long) latent_fhw[0], (long long) latent_fhw[1],
          (long long) latent_fhw[2]);

  if (!setting_is_off ("RAYLIGHT_NCCL_TEST_PARITY"))
    {
      PT_RUN (test_one_gpu_reference);
      if (floor_attention != NULL)
        PT_RUN (test_variant_floor);
      for (int i = 0; i < n_modes; i++)
        {
          current_mode = &modes[i];
          PT_RUN (test_parity);
        }
      if (!setting_is_off ("RAYLIGHT_NCCL_TEST_KILL"))
        PT_RUN (test_kill_rank_1);
    }
  const char *rss = getenv ("RAYLIGHT_NCCL_TEST_RSS");
  if (rss != NULL && rss[0] != '\0')
    PT_RUN (test_host_memory);
  const char *faults = getenv ("RAYLIGHT_NCCL_TEST_FAULTS");
  if (faults != NULL && strcmp (faults, "0") != 0)
    {
      pt_mode_parse ("U2", &fault_mode);
      PT_RUN (test_kill_rank_1);
      PT_RUN (test_fault_stops_answering);
      PT_RUN (test_fault_missing_binary);
      PT_RUN (test_fault_invalid_degrees);
      PT_RUN (test_fault_checkpoint_deleted);
      rl_pool_free (fault_pool);
    }
  rl_shared_tensor_free (positive);
  rl_shared_tensor_free (negative);
  for (int b = 0; b <= MAX_RANKS; b++)
    free (reference[b]);
  free (reference_forward);
  if (own_checkpoint)
    {
      remove (dit_path);
      rmdir (pt_scratch_dir ());
    }
  return pt_finish ();
}
