/* Pool with two CPU workers: hello facts, private runtime directory,
 * checkpoint loading with monotonic byte progress, the model cache, a
 * 16 MiB tensor through a worker and back, cancel, timeouts, and free
 * memory reaching every worker. */
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include "pool-test-util.h"
#include "workers/protocol/wire.h"

static uint64_t seed;
static RlPool *pool;
static char model_path[512];

typedef struct {
  pthread_mutex_t lock;
  int             calls[2];
  uint64_t        last_done[2];
  uint64_t        total[2];
  int             regressions;
  int             total_changes;
} LoadWatch;

static void
watch_load (const RlPoolProgress *progress, void *user_data)
{
  LoadWatch *watch = user_data;
  pthread_mutex_lock (&watch->lock);
  int r = progress->rank;
  if (progress->kind == RL_PROGRESS_LOAD_BYTES && r >= 0 && r < 2)
    {
      if (watch->calls[r] > 0 && progress->done < watch->last_done[r])
        watch->regressions++;
      if (watch->calls[r] > 0 && progress->total != watch->total[r])
        watch->total_changes++;
      watch->calls[r]++;
      watch->last_done[r] = progress->done;
      watch->total[r] = progress->total;
    }
  pthread_mutex_unlock (&watch->lock);
}

/* Runs before any thread exists, so changing the environment is safe. */
static void
test_find_worker (void)
{
  char expected[PATH_MAX], found[PATH_MAX];
  PT_REQUIRE (realpath (pt_worker_path (), expected) != NULL, "no worker at %s",
              pt_worker_path ());
  char saved[PATH_MAX];
  snprintf (saved, sizeof saved, "%s", pt_worker_path ());
  char path[PATH_MAX];
  PT_CHECK (rl_pool_find_worker (path, sizeof path) != NULL && strcmp (path, saved) == 0,
            "RAYLIGHT_WORKER not honoured: %s", path);
  unsetenv ("RAYLIGHT_WORKER");
  /* This test runs from the build tree, so the built worker is preferred. */
  const char *result = rl_pool_find_worker (path, sizeof path);
  PT_CHECK (result != NULL && realpath (path, found) != NULL && strcmp (found, expected) == 0,
            "found '%s', expected '%s'", path, expected);
  setenv ("RAYLIGHT_WORKER", saved, 1);
}

static void
test_start_and_hello (void)
{
  RlPoolOptions options;
  pt_pool_options (&options, 2);
  RlErrorInfo err = { 0 };
  pool = rl_pool_new (&options, &err);
  PT_REQUIRE (pool != NULL, "%s", err.message);
  int status = rl_pool_start (pool, &err);
  PT_REQUIRE (status == RL_WIRE_OK, "%s", err.message);
  PT_CHECK (rl_pool_size (pool) == 2, "size");
  struct stat st;
  PT_CHECK (stat (rl_pool_runtime_dir (pool), &st) == 0 && (st.st_mode & 0777) == 0700,
            "runtime dir %s mode %o", rl_pool_runtime_dir (pool), st.st_mode & 0777);
  for (int r = 0; r < 2; r++)
    {
      RlWorkerInfo info;
      PT_CHECK (rl_pool_worker_info (pool, r, &info) == RL_WIRE_OK, "info");
      PT_CHECK (info.state == RL_WORKER_READY, "rank %d is %s", r, rl_worker_state_name (info.state));
      PT_CHECK (info.pid > 0 && info.pid != getpid (), "pid %d", info.pid);
      PT_CHECK (strcmp (info.backend, "cpu") == 0, "backend '%s'", info.backend);
      PT_CHECK (info.device_name[0] != '\0' && info.total_memory > 0, "device facts");
      PT_CHECK (info.device_id == r && info.rank == r, "ids");
    }
  RlWorkerInfo bogus;
  PT_CHECK (rl_pool_worker_info (pool, 2, &bogus) == RL_WIRE_INVALID, "rank 2 exists");
}

static void
test_load_model_progress (void)
{
  PT_REQUIRE (pool != NULL, "no pool");
  snprintf (model_path, sizeof model_path, "%s/model-a.safetensors", pt_scratch_dir ());
  int written = pt_make_model (model_path, seed, 3, 1024);
  PT_REQUIRE (written == 0, "cannot write %s", model_path);
  uint64_t data_bytes = 3ull * 1024 * 1024 * 4;

  LoadWatch watch = { .lock = PTHREAD_MUTEX_INITIALIZER };
  RlMsgCacheReport report;
  RlErrorInfo err = { 0 };
  int status = rl_pool_load_model (pool, -1, model_path, "dtype=f32", watch_load, &watch, 0,
                                   &report, &err);
  PT_REQUIRE (status == RL_WIRE_OK, "%s", err.message);
  PT_CHECK (report.was_cached == 0 && report.resident_models == 1, "report");
  PT_CHECK (report.model_bytes > data_bytes, "model bytes %llu",
            (unsigned long long) report.model_bytes);
  for (int r = 0; r < 2; r++)
    {
      PT_CHECK (watch.calls[r] >= 3, "rank %d sent %d progress reports for 12 MiB", r,
                watch.calls[r]);
      PT_CHECK (watch.total[r] == data_bytes, "rank %d total %llu", r,
                (unsigned long long) watch.total[r]);
      PT_CHECK (watch.last_done[r] == watch.total[r], "rank %d ended at %llu of %llu", r,
                (unsigned long long) watch.last_done[r], (unsigned long long) watch.total[r]);
    }
  PT_CHECK (watch.regressions == 0 && watch.total_changes == 0,
            "progress went backwards %d times, total changed %d times", watch.regressions,
            watch.total_changes);

  /* The same key is served from the cache; other options are another key. */
  status = rl_pool_load_model (pool, 1, model_path, "dtype=f32", NULL, NULL, 0, &report, &err);
  PT_CHECK (status == RL_WIRE_OK && report.was_cached == 1, "second load not cached: %s",
            err.message);
  status = rl_pool_load_model (pool, 1, model_path, "dtype=bf16", NULL, NULL, 0, &report, &err);
  PT_CHECK (status == RL_WIRE_OK && report.was_cached == 0 && report.resident_models == 2,
            "other options shared a cache entry");

  status = rl_pool_load_model (pool, 0, "/nonexistent/model.safetensors", "", NULL, NULL, 0,
                               NULL, &err);
  PT_CHECK (status == RL_WIRE_NOT_FOUND && strstr (err.message, "/nonexistent/model") != NULL
            && strstr (err.message, "rank 0") != NULL, "missing checkpoint: %d %s", status,
            err.message);
  char garbage[512];
  snprintf (garbage, sizeof garbage, "%s/garbage.safetensors", pt_scratch_dir ());
  FILE *file = fopen (garbage, "w");
  fputs ("this is not a checkpoint at all, just text", file);
  fclose (file);
  status = rl_pool_load_model (pool, 0, garbage, "", NULL, NULL, 0, NULL, &err);
  PT_CHECK (status == RL_WIRE_INVALID && strstr (err.message, "garbage.safetensors") != NULL,
            "garbage checkpoint: %d %s", status, err.message);
}

static void
test_tensor_through_worker (void)
{
  PT_REQUIRE (pool != NULL, "no pool");
  uint64_t shape[2] = { 1024, 4096 };
  RlErrorInfo err = { 0 };
  RlSharedTensor *input = rl_shared_tensor_new (RL_WIRE_DTYPE_F32, 2, shape, "input", &err);
  PT_REQUIRE (input != NULL, "%s", err.message);
  float *x = rl_shared_tensor_data (input);
  uint64_t state = seed | 1;
  double expected = 0.0;
  for (size_t i = 0; i < 1024 * 4096; i++)
    {
      state ^= state << 13, state ^= state >> 7, state ^= state << 17;
      x[i] = (float) (state % 1000) / 500.0f - 0.999f;
      expected += x[i];
    }
  int sealed = rl_shared_tensor_seal (input, &err);
  PT_REQUIRE (sealed == RL_WIRE_OK, "%s", err.message);
  RlSharedTensor *inputs[1] = { input };
  RlPoolCall call = { .type = RL_MSG_DIAGNOSTIC, .family = "sum", .tensors = inputs,
                      .n_tensors = 1 };
  for (int r = 0; r < 2; r++)
    {
      RlPoolResult result;
      int status = rl_pool_call (pool, r, &call, &result, &err);
      PT_CHECK (status == RL_WIRE_OK, "rank %d: %s", r, err.message);
      if (status != RL_WIRE_OK)
        continue;
      PT_CHECK (result.n_tensors == 2, "%d outputs", result.n_tensors);
      if (result.n_tensors == 2)
        {
          float sum = *(const float *) rl_shared_tensor_data (result.tensors[0]);
          PT_CHECK (fabs (sum - expected) <= 1e-3 * (1.0 + fabs (expected)),
                    "rank %d: sum %g, expected %g", r, sum, expected);
          const float *y = rl_shared_tensor_data (result.tensors[1]);
          size_t bad = 0;
          for (size_t i = 0; i < 1024 * 4096; i++)
            bad += y[i] != 2.0f * x[i];
          PT_CHECK (bad == 0, "rank %d: %zu elements of 2x differ", r, bad);
          PT_CHECK (rl_shared_tensor_desc (result.tensors[1])->shape[1] == 4096, "shape");
        }
      rl_pool_result_clear (&result);
    }

  /* The same step on both ranks at once. */
  int ranks[2] = { 1, 0 };
  RlPoolCall calls[2] = { call, call };
  RlPoolResult results[2];
  int status = rl_pool_call_group (pool, ranks, 2, calls, results, &err);
  PT_CHECK (status == RL_WIRE_OK, "group: %s", err.message);
  for (int i = 0; i < 2 && status == RL_WIRE_OK; i++)
    {
      PT_CHECK (results[i].n_tensors == 2, "group result %d: %d tensors", i, results[i].n_tensors);
      if (results[i].n_tensors == 2)
        {
          float sum = *(const float *) rl_shared_tensor_data (results[i].tensors[0]);
          PT_CHECK (fabs (sum - expected) <= 1e-3 * (1.0 + fabs (expected)), "group sum %g", sum);
        }
      rl_pool_result_clear (&results[i]);
    }
  int twice[2] = { 0, 0 };
  PT_CHECK (rl_pool_call_group (pool, twice, 2, calls, NULL, &err) == RL_WIRE_INVALID,
            "a rank twice in a group was accepted");
  rl_shared_tensor_free (input);
}

static void
test_family_requests_not_supported (void)
{
  PT_REQUIRE (pool != NULL, "no pool");
  RlMessageType types[] = { RL_MSG_ENCODE_TEXT, RL_MSG_SAMPLE, RL_MSG_VAE_ENCODE,
                            RL_MSG_VAE_DECODE };
  for (size_t i = 0; i < 4; i++)
    {
      RlPoolCall call = { .type = types[i], .family = "wan", .params = "x", .params_size = 1 };
      RlErrorInfo err = { 0 };
      int status = rl_pool_call (pool, 1, &call, NULL, &err);
      PT_CHECK (status == RL_WIRE_NOT_SUPPORTED && strstr (err.message, "wan") != NULL
                && strstr (err.message, rl_message_type_name (types[i])) != NULL
                && strstr (err.message, "rank 1") != NULL, "%s: %d %s",
                rl_message_type_name (types[i]), status, err.message);
    }
  RlPoolCall unknown = { .type = RL_MSG_DIAGNOSTIC, .family = "no-such-op" };
  RlErrorInfo err = { 0 };
  PT_CHECK (rl_pool_call (pool, 0, &unknown, NULL, &err) == RL_WIRE_NOT_SUPPORTED,
            "unknown diagnostic: %s", err.message);
  /* 'hang' is refused unless the test fault is enabled. */
  RlPoolCall hang = { .type = RL_MSG_DIAGNOSTIC, .family = "hang" };
  PT_CHECK (rl_pool_call (pool, 0, &hang, NULL, &err) == RL_WIRE_NOT_SUPPORTED,
            "hang ran without RAYLIGHT_WORKER_TEST_FAULTS: %s", err.message);
}

typedef struct {
  int         steps_seen;
  RlPool     *pool;
  int         cancel_at;
} StepWatch;

static void
watch_steps (const RlPoolProgress *progress, void *user_data)
{
  StepWatch *watch = user_data;
  watch->steps_seen++;
  if (watch->cancel_at > 0 && (int) progress->done == watch->cancel_at)
    rl_pool_cancel (watch->pool, progress->rank);
}

static RlPoolCall
sleep_call (uint8_t *params, uint32_t steps, uint32_t step_ms)
{
  rl_le_store_u32 (params, steps);
  rl_le_store_u32 (params + 4, step_ms);
  return (RlPoolCall) { .type = RL_MSG_DIAGNOSTIC, .family = "sleep", .params = params,
                        .params_size = 8 };
}

static void
test_cancel_and_timeout (void)
{
  PT_REQUIRE (pool != NULL, "no pool");
  uint8_t params[8];
  StepWatch watch = { .pool = pool, .cancel_at = 3 };
  RlPoolCall call = sleep_call (params, 200, 10);
  call.progress = watch_steps;
  call.user_data = &watch;
  RlErrorInfo err = { 0 };
  int status = rl_pool_call (pool, 0, &call, NULL, &err);
  PT_CHECK (status == RL_WIRE_CANCELLED && strstr (err.message, "rank 0") != NULL,
            "cancel from the progress callback: %d %s", status, err.message);
  PT_CHECK (watch.steps_seen >= 3 && watch.steps_seen < 200, "%d steps", watch.steps_seen);

  call = sleep_call (params, 200, 10);
  call.timeout_ms = 150;
  status = rl_pool_call (pool, 1, &call, NULL, &err);
  PT_CHECK (status == RL_WIRE_TIMEOUT && strstr (err.message, "rank 1") != NULL,
            "timeout: %d %s", status, err.message);
  /* The timed-out request was cancelled; the rank serves the next one. */
  call = sleep_call (params, 2, 1);
  call.timeout_ms = 10000;
  status = rl_pool_call (pool, 1, &call, NULL, &err);
  PT_CHECK (status == RL_WIRE_OK, "after a timeout: %s", err.message);
}

typedef struct {
  int   steps;
  int   previews;
  int   wrong;
} PreviewWatch;

static void
watch_previews (const RlPoolProgress *progress, void *user_data)
{
  PreviewWatch *watch = user_data;
  watch->steps++;
  if (progress->preview == NULL)
    return;
  watch->previews++;
  const RlTensorDesc *desc = rl_shared_tensor_desc (progress->preview);
  const float *values = rl_shared_tensor_data (progress->preview);
  if (desc->ndim != 2 || desc->shape[0] != 4 || values[15] != (float) progress->done)
    watch->wrong++;
}

static void
test_progress_previews (void)
{
  PT_REQUIRE (pool != NULL, "no pool");
  uint8_t params[12];
  RlPoolCall call = sleep_call (params, 6, 1);
  rl_le_store_u32 (params + 8, 1);
  call.params_size = 12;
  PreviewWatch watch = { 0 };
  call.progress = watch_previews;
  call.user_data = &watch;
  int fds_before = pt_count_fds ();
  RlErrorInfo err = { 0 };
  int status = rl_pool_call (pool, 1, &call, NULL, &err);
  PT_CHECK (status == RL_WIRE_OK, "%s", err.message);
  PT_CHECK (watch.steps == 6 && watch.previews == 6 && watch.wrong == 0,
            "%d steps, %d previews, %d wrong", watch.steps, watch.previews, watch.wrong);
  PT_CHECK (pt_count_fds () == fds_before, "preview descriptors leaked: %d -> %d", fds_before,
            pt_count_fds ());
}

typedef struct {
  RlPool   *pool;
  uint64_t  seed;
  int       failures;
  char      first_error[RL_ERROR_INFO_MESSAGE_SIZE];
} Hammer;

static void *
hammer (void *data)
{
  Hammer *h = data;
  uint64_t state = h->seed | 1;
  uint64_t shape[1] = { 4096 };
  for (int i = 0; i < 12; i++)
    {
      state ^= state << 13, state ^= state >> 7, state ^= state << 17;
      int rank = (int) (state % 2);
      RlErrorInfo err = { 0 };
      int status;
      if (state & 4)
        {
          uint8_t params[8];
          RlPoolCall call = sleep_call (params, 2, 1);
          status = rl_pool_call (h->pool, rank, &call, NULL, &err);
        }
      else
        {
          RlSharedTensor *x = rl_shared_tensor_new (RL_WIRE_DTYPE_F32, 1, shape, "x", &err);
          float *values = rl_shared_tensor_data (x);
          for (int j = 0; j < 4096; j++)
            values[j] = (float) ((state >> (j % 32)) & 7) + 0.25f;
          double expected = 0;
          for (int j = 0; j < 4096; j++)
            expected += values[j];
          rl_shared_tensor_seal (x, &err);
          RlSharedTensor *inputs[1] = { x };
          RlPoolCall call = { .type = RL_MSG_DIAGNOSTIC, .family = "sum", .tensors = inputs,
                              .n_tensors = 1 };
          RlPoolResult result;
          status = rl_pool_call (h->pool, rank, &call, &result, &err);
          if (status == RL_WIRE_OK)
            {
              float sum = *(const float *) rl_shared_tensor_data (result.tensors[0]);
              if (fabs (sum - expected) > 1e-3 * expected)
                status = rl_error_set (&err, RL_WIRE_INTERNAL, "sum %g != %g", sum, expected);
              rl_pool_result_clear (&result);
            }
          rl_shared_tensor_free (x);
        }
      if (status != RL_WIRE_OK && h->failures++ == 0)
        snprintf (h->first_error, sizeof h->first_error, "%s", err.message);
    }
  return NULL;
}

static void
test_concurrent_callers (void)
{
  PT_REQUIRE (pool != NULL, "no pool");
  enum { THREADS = 4 };
  Hammer hammers[THREADS];
  pthread_t threads[THREADS];
  for (int t = 0; t < THREADS; t++)
    {
      hammers[t] = (Hammer) { .pool = pool, .seed = seed + 977 * (uint64_t) (t + 1) };
      pthread_create (&threads[t], NULL, hammer, &hammers[t]);
    }
  for (int t = 0; t < THREADS; t++)
    {
      pthread_join (threads[t], NULL);
      PT_CHECK (hammers[t].failures == 0, "thread %d: %d failures, first: %s", t,
                hammers[t].failures, hammers[t].first_error);
    }
}

static void
test_free_memory_everywhere (void)
{
  PT_REQUIRE (pool != NULL, "no pool");
  RlErrorInfo err = { 0 };
  int status = rl_pool_load_model (pool, 0, model_path, "dtype=f32", NULL, NULL, 0, NULL, &err);
  PT_REQUIRE (status == RL_WIRE_OK, "%s", err.message);
  RlMsgCacheReport reports[2];
  status = rl_pool_free_memory (pool, reports, &err);
  PT_REQUIRE (status == RL_WIRE_OK, "%s", err.message);
  /* Rank 0 holds one model, rank 1 two (f32 and bf16 options). */
  for (int r = 0; r < 2; r++)
    {
      PT_CHECK (reports[r].resident_bytes == 0 && reports[r].resident_models == 0,
                "rank %d still holds %llu bytes", r,
                (unsigned long long) reports[r].resident_bytes);
    }
  PT_CHECK (reports[1].released_bytes == 2 * reports[0].released_bytes
            && reports[0].released_bytes > 0, "released %llu and %llu",
            (unsigned long long) reports[0].released_bytes,
            (unsigned long long) reports[1].released_bytes);
  /* Unloading what is not loaded is fine. */
  PT_CHECK (rl_pool_unload_model (pool, -1, model_path, "dtype=f32", &err) == RL_WIRE_OK,
            "%s", err.message);
}

static void
test_shutdown (void)
{
  PT_REQUIRE (pool != NULL, "no pool");
  RlWorkerInfo info[2];
  memset (info, 0, sizeof info);
  for (int r = 0; r < 2; r++)
    rl_pool_worker_info (pool, r, &info[r]);
  char dir[256];
  snprintf (dir, sizeof dir, "%s", rl_pool_runtime_dir (pool));
  rl_pool_shutdown (pool);
  for (int r = 0; r < 2; r++)
    PT_CHECK (info[r].pid > 0 && kill (info[r].pid, 0) != 0, "rank %d (pid %d) survived shutdown",
              r, info[r].pid);
  struct stat st;
  PT_CHECK (stat (dir, &st) != 0, "runtime dir %s left behind", dir);
  RlPoolCall call = { .type = RL_MSG_DIAGNOSTIC, .family = "sum" };
  RlErrorInfo err = { 0 };
  PT_CHECK (rl_pool_call (pool, 0, &call, NULL, &err) == RL_WIRE_INVALID
            || err.code == RL_WIRE_STOPPED, "call after shutdown: %s", err.message);
  rl_pool_free (pool);
  pool = NULL;
}

int
main (void)
{
  seed = pt_seed ();
  PT_RUN (test_find_worker);
  PT_RUN (test_start_and_hello);
  PT_RUN (test_load_model_progress);
  PT_RUN (test_tensor_through_worker);
  PT_RUN (test_family_requests_not_supported);
  PT_RUN (test_cancel_and_timeout);
  PT_RUN (test_progress_previews);
  PT_RUN (test_concurrent_callers);
  PT_RUN (test_free_memory_everywhere);
  PT_RUN (test_shutdown);
  return pt_finish ();
}
