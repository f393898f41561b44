/* The attention setting through a pool of CPU workers and SAMPLE jobs of
 * the tiny Wan DiT: the pool's setting (HELLO_ACK) becomes the worker's
 * default and runs; a pool setting the worker does not have is logged and
 * ignored (the worker still samples); a SAMPLE naming an unknown variant
 * fails with the known variants listed. Worker stderr is captured to check
 * the log lines. Needs $RAYLIGHT_WORKER and $RAYLIGHT_PLUGIN_PATH (meson
 * sets both). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/plain-test.h"
#include "workers/jobs/job-params.h"
#include "workers/pool/pool.h"
#include "workers/protocol/shared-tensor.h"

static char dit_path[4096];
static char plugin_env[4200];
static char log_path[] = "/tmp/raylight-attention-pool-XXXXXX";
static int saved_stderr = -1;

/* Worker stderr (inherited) goes to log_path while a pool runs. */
static void
capture_begin (void)
{
  fflush (stderr);
  saved_stderr = dup (2);
  int fd = open (log_path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
  dup2 (fd, 2);
  close (fd);
}

static char *
capture_end (void)
{
  fflush (stderr);
  dup2 (saved_stderr, 2);
  close (saved_stderr);
  static char text[16384];
  FILE *f = fopen (log_path, "r");
  size_t n = f != NULL ? fread (text, 1, sizeof text - 1, f) : 0;
  text[n] = '\0';
  if (f != NULL)
    fclose (f);
  for (char *line = text; *line != '\0';)
    {
      char *end = strchr (line, '\n');
      printf ("# stderr: %.*s\n", end ? (int) (end - line) : (int) strlen (line), line);
      line = end ? end + 1 : line + strlen (line);
    }
  return text;
}

static RlPool *
start_pool (const char *attention)
{
  const char *env[] = { plugin_env, "OMP_NUM_THREADS=1", NULL };
  char worker[4096];
  RlPoolOptions options;
  RlErrorInfo err = { 0 };
  rl_pool_options_init (&options);
  options.worker_path = rl_pool_find_worker (worker, sizeof worker);
  options.n_workers = 1;
  options.extra_env = env;
  options.request_timeout_ms = 120000;
  options.attention = attention;
  RlPool *pool = options.worker_path != NULL ? rl_pool_new (&options, &err) : NULL;
  if (pool == NULL || rl_pool_start (pool, &err) != RL_WIRE_OK)
    {
      printf ("# cannot start a pool: %s\n", err.message);
      rl_pool_free (pool);
      return NULL;
    }
  return pool;
}

static RlSharedTensor *
shared_f32 (uint32_t ndim, const uint64_t *shape, const char *name, float scale)
{
  RlErrorInfo err = { 0 };
  RlSharedTensor *t = rl_shared_tensor_new (RL_WIRE_DTYPE_F32, ndim, shape, name, &err);
  if (t == NULL)
    return NULL;
  size_t n = 1;
  for (uint32_t i = 0; i < ndim; i++)
    n *= shape[i];
  float *data = rl_shared_tensor_data (t);
  uint32_t state = 12345;
  for (size_t i = 0; i < n; i++)
    {
      state = state * 1664525u + 1013904223u;
      data[i] = scale * ((float) (state >> 8) / 16777216.0f - 0.5f);
    }
  if (rl_shared_tensor_seal (t, &err) != RL_WIRE_OK)
    {
      rl_shared_tensor_free (t);
      return NULL;
    }
  return t;
}

/* One euler step of the tiny DiT with cfg 1; the job's attention variant
 * when `attention` is not NULL. */
static int
sample (RlPool *pool, const char *attention, RlErrorInfo *err)
{
  const uint64_t latent_shape[5] = { 1, 16, 2, 6, 4 }, context_shape[3] = { 1, 8, 4096 };
  RlSharedTensor *tensors[2] = { shared_f32 (5, latent_shape, "latent", 0.0f),
                                 shared_f32 (3, context_shape, "positive", 2.0f) };
  RlSampleParams params;
  rl_sample_params_init (&params);
  params.model = (RlJobModel) { dit_path, "" };
  params.steps = 1;
  params.sampler = "euler";
  params.scheduler = "simple";
  params.attention = (char *) attention;
  RlWireWriter w;
  rl_wire_writer_init (&w);
  rl_sample_params_encode (&params, &w);
  RlPoolCall call = { .type = RL_MSG_SAMPLE, .family = "", .params = w.data,
                      .params_size = w.size, .tensors = tensors, .n_tensors = 2 };
  RlPoolResult result = { 0 };
  int status = tensors[0] && tensors[1] ? rl_pool_call (pool, 0, &call, &result, err)
                                        : RL_WIRE_INVALID;
  if (status == RL_WIRE_OK && result.n_tensors != 1)
    status = rl_error_set (err, RL_WIRE_INVALID, "SAMPLE returned %d tensors", result.n_tensors);
  rl_pool_result_clear (&result);
  rl_wire_writer_clear (&w);
  rl_shared_tensor_free (tensors[0]);
  rl_shared_tensor_free (tensors[1]);
  return status;
}

static void
test_pool_setting_is_the_default (void)
{
  capture_begin ();
  RlPool *pool = start_pool ("reference");
  RlErrorInfo err = { 0 };
  int status = pool != NULL ? sample (pool, NULL, &err) : RL_WIRE_INVALID;
  rl_pool_free (pool);
  const char *log = capture_end ();
  PT_REQUIRE (pool != NULL, "no pool");
  PT_CHECK (status == RL_WIRE_OK, "SAMPLE: %s", err.message);
  PT_CHECK (strstr (log, "attention: default 'reference' (set by the pool)") != NULL,
            "the pool's setting did not reach the worker");
  PT_CHECK (strstr (log, "attention: running 'reference'") != NULL, "reference did not run");
}

static void
test_unknown_pool_setting_is_ignored (void)
{
  capture_begin ();
  RlPool *pool = start_pool ("warp-drive");
  RlErrorInfo err = { 0 };
  int status = pool != NULL ? sample (pool, NULL, &err) : RL_WIRE_INVALID;
  rl_pool_free (pool);
  const char *log = capture_end ();
  PT_REQUIRE (pool != NULL, "no pool");
  PT_CHECK (status == RL_WIRE_OK, "SAMPLE: %s", err.message);
  PT_CHECK (strstr (log, "the pool's attention setting is ignored: unknown attention variant "
                         "'warp-drive' for the cpu backend; known: auto, reference") != NULL,
            "no line saying the pool's setting was ignored");
}

static void
test_unknown_job_variant_lists_known (void)
{
  capture_begin ();
  RlPool *pool = start_pool (NULL);
  RlErrorInfo err = { 0 };
  int status = pool != NULL ? sample (pool, "flash-9000", &err) : RL_WIRE_OK;
  RlErrorInfo err_ok = { 0 };
  int status_ok = pool != NULL ? sample (pool, "reference", &err_ok) : RL_WIRE_INVALID;
  rl_pool_free (pool);
  capture_end ();
  PT_REQUIRE (pool != NULL, "no pool");
  printf ("# %s\n", err.message);
  PT_CHECK (status != RL_WIRE_OK, "an unknown variant was accepted");
  PT_CHECK (strstr (err.message, "unknown attention variant 'flash-9000' for the cpu backend; "
                                 "known: auto, reference") != NULL, "%s", err.message);
  PT_CHECK (status_ok == RL_WIRE_OK, "the next SAMPLE failed: %s", err_ok.message);
}

int
main (void)
{
  const char *source = getenv ("RAYLIGHT_SOURCE_DIR");
  const char *plugins = getenv ("RAYLIGHT_PLUGIN_PATH");
  if (source == NULL || plugins == NULL)
    pt_skip_all ("RAYLIGHT_SOURCE_DIR / RAYLIGHT_PLUGIN_PATH unset; run through meson test");
  snprintf (dit_path, sizeof dit_path, "%s/tests/wan/data/tiny-dit.safetensors", source);
  snprintf (plugin_env, sizeof plugin_env, "RAYLIGHT_PLUGIN_PATH=%s", plugins);
  int fd = mkstemp (log_path);
  if (fd < 0)
    {
      printf ("Bail out! no temporary file\n");
      return 1;
    }
  close (fd);
  PT_RUN (test_pool_setting_is_the_default);
  PT_RUN (test_unknown_pool_setting_is_ignored);
  PT_RUN (test_unknown_job_variant_lists_known);
  unlink (log_path);
  return pt_finish ();
}
