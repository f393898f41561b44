/* Faults on CPU workers: kill -9 mid-request, a worker that stops
 * answering, a missing worker binary, a wrong auth token, an unavailable
 * backend, a checkpoint deleted between jobs, shutdown during a request.
 * Each gives a clear error naming the rank, and the pool serves the next
 * request. */
#include <pthread.h>
#include <signal.h>

#include "pool-test-util.h"
#include "workers/protocol/wire.h"

static uint64_t seed;

static RlPoolCall
sleep_call (uint8_t *params, uint32_t steps, uint32_t step_ms)
{
  rl_le_store_u32 (params, steps);
  rl_le_store_u32 (params + 4, step_ms);
  return (RlPoolCall) { .type = RL_MSG_DIAGNOSTIC, .family = "sleep", .params = params,
                        .params_size = 8 };
}

/* Lifecycle events seen by a pool, in order. */
typedef struct {
  pthread_mutex_t lock;
  int             count;
  RlPoolEvent     events[64];
  char            messages[64][RL_ERROR_INFO_MESSAGE_SIZE];
} EventLog;

static EventLog event_log = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void
record_event (const RlPoolEvent *event, void *user_data)
{
  EventLog *log = user_data;
  pthread_mutex_lock (&log->lock);
  if (log->count < 64)
    {
      log->events[log->count] = *event;
      snprintf (log->messages[log->count], sizeof log->messages[0], "%s", event->message);
      log->events[log->count].message = log->messages[log->count];
      log->count++;
    }
  pthread_mutex_unlock (&log->lock);
}

/* Index of the first event of rank in state after index from, or -1. */
static int
find_event (EventLog *log, int from, int rank, RlWorkerState state)
{
  pthread_mutex_lock (&log->lock);
  int found = -1;
  for (int i = from; i < log->count && found < 0; i++)
    if (log->events[i].rank == rank && log->events[i].state == state)
      found = i;
  pthread_mutex_unlock (&log->lock);
  return found;
}

static RlPool *
start_pool (int n_workers, const char *const *extra_env, RlErrorInfo *err)
{
  RlPoolOptions options;
  pt_pool_options (&options, n_workers);
  options.extra_env = extra_env;
  pthread_mutex_lock (&event_log.lock);
  event_log.count = 0;
  pthread_mutex_unlock (&event_log.lock);
  options.on_event = record_event;
  options.event_data = &event_log;
  RlPool *pool = rl_pool_new (&options, err);
  if (pool != NULL && rl_pool_start (pool, err) != RL_WIRE_OK)
    {
      rl_pool_free (pool);
      return NULL;
    }
  return pool;
}

/* A quick request that must succeed on a healthy rank. */
static int
sleep_briefly (RlPool *pool, int rank, RlErrorInfo *err)
{
  uint8_t params[8];
  RlPoolCall call = sleep_call (params, 2, 1);
  return rl_pool_call (pool, rank, &call, NULL, err);
}

typedef struct {
  int pid;
  int killed;
} Killer;

static void
kill_at_step_two (const RlPoolProgress *progress, void *user_data)
{
  Killer *killer = user_data;
  if (progress->done == 2 && !killer->killed)
    {
      kill (killer->pid, SIGKILL);
      killer->killed = 1;
    }
}

static void
test_kill_9_mid_request (void)
{
  RlErrorInfo err = { 0 };
  RlPool *pool = start_pool (2, NULL, &err);
  PT_REQUIRE (pool != NULL, "%s", err.message);
  RlWorkerInfo before;
  rl_pool_worker_info (pool, 1, &before);
  Killer killer = { .pid = before.pid };
  uint8_t params[8];
  RlPoolCall call = sleep_call (params, 500, 10);
  call.progress = kill_at_step_two;
  call.user_data = &killer;
  int status = rl_pool_call (pool, 1, &call, NULL, &err);
  char pid_text[32];
  snprintf (pid_text, sizeof pid_text, "pid %d", before.pid);
  PT_CHECK (status == RL_WIRE_CRASHED, "status %d: %s", status, err.message);
  PT_CHECK (strstr (err.message, "rank 1") != NULL && strstr (err.message, "SIGKILL") != NULL
            && strstr (err.message, pid_text) != NULL, "message: %s", err.message);
  printf ("# crash error: %s\n", err.message);

  /* Rank 0 was not disturbed; rank 1 comes back as a new process. */
  PT_CHECK (sleep_briefly (pool, 0, &err) == RL_WIRE_OK, "rank 0: %s", err.message);
  PT_CHECK (rl_pool_wait_ready (pool, 1, 10000, &err) == RL_WIRE_OK, "restart: %s", err.message);
  RlWorkerInfo after;
  rl_pool_worker_info (pool, 1, &after);
  PT_CHECK (after.pid > 0 && after.pid != before.pid && after.restarts == 1,
            "pid %d -> %d, restarts %d", before.pid, after.pid, after.restarts);
  PT_CHECK (strstr (after.last_error, "SIGKILL") == NULL || after.state == RL_WORKER_READY,
            "state %s", rl_worker_state_name (after.state));
  PT_CHECK (sleep_briefly (pool, 1, &err) == RL_WIRE_OK, "next request: %s", err.message);

  /* The owner heard about it: READY, then CRASHED naming the signal, then
   * STARTING and READY again with the new pid. */
  int ready = find_event (&event_log, 0, 1, RL_WORKER_READY);
  int crashed = find_event (&event_log, 0, 1, RL_WORKER_CRASHED);
  int again = crashed >= 0 ? find_event (&event_log, crashed, 1, RL_WORKER_READY) : -1;
  PT_CHECK (ready >= 0 && crashed > ready && again > crashed, "events %d %d %d", ready, crashed,
            again);
  if (crashed >= 0 && again >= 0)
    {
      PT_CHECK (strstr (event_log.events[crashed].message, "SIGKILL") != NULL
                && event_log.events[crashed].pid == before.pid, "crash event: %s",
                event_log.events[crashed].message);
      PT_CHECK (event_log.events[again].pid == after.pid, "ready event pid %d, expected %d",
                event_log.events[again].pid, after.pid);
    }
  rl_pool_free (pool);
  PT_CHECK (find_event (&event_log, 0, 0, RL_WORKER_STOPPED) >= 0
            && find_event (&event_log, 0, 1, RL_WORKER_STOPPED) >= 0, "no STOPPED events");
}

static void
test_kill_9_idle_worker (void)
{
  RlErrorInfo err = { 0 };
  RlPool *pool = start_pool (1, NULL, &err);
  PT_REQUIRE (pool != NULL, "%s", err.message);
  RlWorkerInfo before;
  rl_pool_worker_info (pool, 0, &before);
  kill (before.pid, SIGKILL);
  /* The next request waits for the restart instead of failing. */
  usleep (50000);
  PT_CHECK (sleep_briefly (pool, 0, &err) == RL_WIRE_OK, "request after idle crash: %s",
            err.message);
  RlWorkerInfo after;
  rl_pool_worker_info (pool, 0, &after);
  PT_CHECK (after.pid != before.pid && after.restarts == 1, "restarts %d", after.restarts);
  rl_pool_free (pool);
}

static void
test_group_call_survives_a_dead_rank (void)
{
  RlErrorInfo err = { 0 };
  RlPool *pool = start_pool (2, NULL, &err);
  PT_REQUIRE (pool != NULL, "%s", err.message);
  RlWorkerInfo victim;
  rl_pool_worker_info (pool, 1, &victim);
  Killer killer = { .pid = victim.pid };
  uint8_t params[2][8];
  RlPoolCall calls[2] = { sleep_call (params[0], 100000, 10), sleep_call (params[1], 100000, 10) };
  calls[1].progress = kill_at_step_two;
  calls[1].user_data = &killer;
  int ranks[2] = { 0, 1 };
  RlPoolResult results[2];
  /* Rank 0 would sleep for 1000 s: only the cancel ends the call. */
  int status = rl_pool_call_group (pool, ranks, 2, calls, results, &err);
  PT_CHECK (status == RL_WIRE_CRASHED && strstr (err.message, "rank 1") != NULL
            && strstr (err.message, "SIGKILL") != NULL, "group: %d %s", status, err.message);
  PT_CHECK (results[0].n_tensors == 0 && results[1].n_tensors == 0, "results not cleared");
  PT_CHECK (rl_pool_wait_ready (pool, 1, 10000, &err) == RL_WIRE_OK, "restart: %s", err.message);
  calls[0] = sleep_call (params[0], 3, 1);
  calls[1] = sleep_call (params[1], 3, 1);
  status = rl_pool_call_group (pool, ranks, 2, calls, results, &err);
  PT_CHECK (status == RL_WIRE_OK, "next group call: %s", err.message);
  rl_pool_free (pool);
}

/* In a group call, a rank the pool lost (here killed for not answering)
 * is the error reported, even when a peer failed first: in a parallel job
 * the peer's failure is usually the consequence ("peer exited"), the lost
 * rank the cause. Rank 0 fails at once (an unknown diagnostic); rank 1
 * hangs and is killed after the 1.5 s heartbeat timeout. */
static void
test_group_call_reports_the_lost_rank (void)
{
  const char *env[] = { "RAYLIGHT_WORKER_TEST_FAULTS=hang", NULL };
  RlErrorInfo err = { 0 };
  RlPool *pool = start_pool (2, env, &err);
  PT_REQUIRE (pool != NULL, "%s", err.message);
  RlPoolCall calls[2] = {
    { .type = RL_MSG_DIAGNOSTIC, .family = "no-such-diagnostic" },
    { .type = RL_MSG_DIAGNOSTIC, .family = "hang" },
  };
  int ranks[2] = { 0, 1 };
  RlPoolResult results[2];
  int status = rl_pool_call_group (pool, ranks, 2, calls, results, &err);
  PT_CHECK (status == RL_WIRE_HUNG && strstr (err.message, "rank 1") != NULL
            && strstr (err.message, "stopped answering") != NULL, "group: %d %s", status,
            err.message);
  PT_CHECK (rl_pool_wait_ready (pool, 1, 10000, &err) == RL_WIRE_OK, "restart: %s", err.message);
  PT_CHECK (sleep_briefly (pool, 1, &err) == RL_WIRE_OK, "next request: %s", err.message);
  rl_pool_free (pool);
}

/* An application that ignores SIGCHLD gets its children reaped by the
 * kernel: the pool cannot learn the signal then, but must still notice
 * the death, fail the request naming the rank, and restart. */
static void
test_crash_with_sigchld_ignored (void)
{
  struct sigaction ignore = { .sa_handler = SIG_IGN }, previous;
  sigaction (SIGCHLD, &ignore, &previous);
  RlErrorInfo err = { 0 };
  RlPool *pool = start_pool (1, NULL, &err);
  if (pool == NULL)
    {
      sigaction (SIGCHLD, &previous, NULL);
      PT_REQUIRE (pool != NULL, "%s", err.message);
    }
  RlWorkerInfo before;
  rl_pool_worker_info (pool, 0, &before);
  Killer killer = { .pid = before.pid };
  uint8_t params[8];
  RlPoolCall call = sleep_call (params, 500, 10);
  call.progress = kill_at_step_two;
  call.user_data = &killer;
  int status = rl_pool_call (pool, 0, &call, NULL, &err);
  PT_CHECK (status == RL_WIRE_CRASHED && strstr (err.message, "rank 0") != NULL,
            "status %d: %s", status, err.message);
  PT_CHECK (sleep_briefly (pool, 0, &err) == RL_WIRE_OK, "next request: %s", err.message);
  rl_pool_free (pool);
  sigaction (SIGCHLD, &previous, NULL);
}

static void
test_segfault_mid_request (void)
{
  const char *env[] = { "RAYLIGHT_WORKER_TEST_FAULTS=crash", NULL };
  RlErrorInfo err = { 0 };
  RlPool *pool = start_pool (1, env, &err);
  PT_REQUIRE (pool != NULL, "%s", err.message);
  RlPoolCall crash = { .type = RL_MSG_DIAGNOSTIC, .family = "crash" };
  int status = rl_pool_call (pool, 0, &crash, NULL, &err);
  PT_CHECK (status == RL_WIRE_CRASHED && strstr (err.message, "rank 0") != NULL
            && strstr (err.message, "SIGSEGV") != NULL, "status %d: %s", status, err.message);
  PT_CHECK (sleep_briefly (pool, 0, &err) == RL_WIRE_OK, "next request: %s", err.message);
  rl_pool_free (pool);
}

static void
test_worker_stops_answering (void)
{
  const char *env[] = { "RAYLIGHT_WORKER_TEST_FAULTS=hang", NULL };
  RlErrorInfo err = { 0 };
  RlPool *pool = start_pool (2, env, &err);
  PT_REQUIRE (pool != NULL, "%s", err.message);
  RlWorkerInfo before;
  rl_pool_worker_info (pool, 0, &before);

  /* A long request that keeps answering heartbeats is not a hang. */
  uint8_t params[8];
  RlPoolCall busy = sleep_call (params, 25, 100);
  PT_CHECK (rl_pool_call (pool, 1, &busy, NULL, &err) == RL_WIRE_OK,
            "a 2.5 s request looked hung with a 1.5 s heartbeat timeout: %s", err.message);

  RlPoolCall hang = { .type = RL_MSG_DIAGNOSTIC, .family = "hang" };
  int status = rl_pool_call (pool, 0, &hang, NULL, &err);
  PT_CHECK (status == RL_WIRE_HUNG, "status %d: %s", status, err.message);
  PT_CHECK (strstr (err.message, "rank 0") != NULL
            && strstr (err.message, "stopped answering") != NULL, "message: %s", err.message);
  printf ("# hang error: %s\n", err.message);
  PT_CHECK (kill (before.pid, 0) != 0, "the hung worker (pid %d) is still alive", before.pid);
  PT_CHECK (rl_pool_wait_ready (pool, 0, 10000, &err) == RL_WIRE_OK, "restart: %s", err.message);
  PT_CHECK (sleep_briefly (pool, 0, &err) == RL_WIRE_OK, "next request: %s", err.message);
  rl_pool_free (pool);
}

static void
test_missing_worker_binary (void)
{
  RlPoolOptions options;
  pt_pool_options (&options, 2);
  options.worker_path = "/nonexistent/raylight/raylight-worker";
  RlErrorInfo err = { 0 };
  RlPool *pool = rl_pool_new (&options, &err);
  PT_REQUIRE (pool != NULL, "%s", err.message);
  int status = rl_pool_start (pool, &err);
  PT_CHECK (status == RL_WIRE_NOT_FOUND, "status %d", status);
  PT_CHECK (strstr (err.message, "/nonexistent/raylight/raylight-worker") != NULL
            && strstr (err.message, "not found") != NULL, "message: %s", err.message);
  RlPoolCall call = { .type = RL_MSG_DIAGNOSTIC, .family = "sleep" };
  PT_CHECK (rl_pool_call (pool, 0, &call, NULL, &err) != RL_WIRE_OK, "call on a failed pool");
  rl_pool_free (pool);

  options.worker_path = NULL;
  PT_CHECK (rl_pool_new (&options, &err) == NULL && err.code == RL_WIRE_INVALID,
            "no worker path accepted");
}

static void
test_wrong_token_refused (void)
{
  const char *env[] = { "RAYLIGHT_WORKER_TEST_FAULTS=wrong-token", NULL };
  RlErrorInfo err = { 0 };
  RlPool *pool = start_pool (1, env, &err);
  PT_CHECK (pool == NULL, "a worker with a wrong token was accepted");
  PT_CHECK (err.code == RL_WIRE_AUTH && strstr (err.message, "wrong auth token") != NULL
            && strstr (err.message, "rank 0") != NULL, "message: %s", err.message);
  rl_pool_free (pool);
}

static void
test_unavailable_backend (void)
{
  RlPoolOptions options;
  pt_pool_options (&options, 1);
  options.backend = RL_POOL_BACKEND_CUDA;
  RlErrorInfo err = { 0 };
  RlPool *pool = rl_pool_new (&options, &err);
  PT_REQUIRE (pool != NULL, "%s", err.message);
  int status = rl_pool_start (pool, &err);
  if (status == RL_WIRE_OK)
    printf ("# this machine has a CUDA device and a CUDA build: nothing to refuse\n");
  else
    PT_CHECK (status == RL_WIRE_NOT_SUPPORTED && strcasestr (err.message, "cuda") != NULL
              && strstr (err.message, "rank 0") != NULL, "cuda without a GPU: %d %s", status,
              err.message);
  rl_pool_free (pool);
}

static void
test_checkpoint_deleted_between_jobs (void)
{
  char a[512], b[512];
  snprintf (a, sizeof a, "%s/deleted.safetensors", pt_scratch_dir ());
  snprintf (b, sizeof b, "%s/kept.safetensors", pt_scratch_dir ());
  int written = pt_make_model (a, seed, 1, 64) + pt_make_model (b, seed + 1, 1, 64);
  PT_REQUIRE (written == 0, "cannot write checkpoints");
  RlErrorInfo err = { 0 };
  RlPool *pool = start_pool (1, NULL, &err);
  PT_REQUIRE (pool != NULL, "%s", err.message);
  PT_CHECK (rl_pool_load_model (pool, 0, a, "", NULL, NULL, 0, NULL, &err) == RL_WIRE_OK,
            "%s", err.message);
  unlink (a);
  int status = rl_pool_load_model (pool, 0, a, "", NULL, NULL, 0, NULL, &err);
  PT_CHECK (status == RL_WIRE_NOT_FOUND && strstr (err.message, "deleted.safetensors") != NULL,
            "deleted checkpoint: %d %s", status, err.message);
  RlMsgCacheReport report;
  PT_CHECK (rl_pool_load_model (pool, 0, b, "", NULL, NULL, 0, &report, &err) == RL_WIRE_OK,
            "next job: %s", err.message);
  PT_CHECK (report.resident_models == 1, "the deleted model stayed cached (%u models)",
            report.resident_models);

  /* A checkpoint replaced under the same name is loaded again, not served
   * from the cache. */
  uint64_t old_bytes = report.model_bytes;
  unlink (b);
  written = pt_make_model (b, seed + 2, 2, 64);
  PT_REQUIRE (written == 0, "cannot rewrite %s", b);
  PT_CHECK (rl_pool_load_model (pool, 0, b, "", NULL, NULL, 0, &report, &err) == RL_WIRE_OK,
            "replaced checkpoint: %s", err.message);
  PT_CHECK (report.was_cached == 0 && report.model_bytes > old_bytes,
            "replaced checkpoint served from the cache (%llu bytes, cached %u)",
            (unsigned long long) report.model_bytes, report.was_cached);
  rl_pool_free (pool);
}

typedef struct {
  RlPool     *pool;
  int         status;
  RlErrorInfo err;
} LongCall;

static void *
run_long_call (void *data)
{
  LongCall *call = data;
  uint8_t params[8];
  RlPoolCall request = sleep_call (params, 100000, 10);
  call->status = rl_pool_call (call->pool, 0, &request, NULL, &call->err);
  return NULL;
}

static void
test_shutdown_during_request (void)
{
  RlErrorInfo err = { 0 };
  RlPool *pool = start_pool (1, NULL, &err);
  PT_REQUIRE (pool != NULL, "%s", err.message);
  RlWorkerInfo info;
  rl_pool_worker_info (pool, 0, &info);
  LongCall call = { .pool = pool };
  pthread_t thread;
  pthread_create (&thread, NULL, run_long_call, &call);
  usleep (200000);
  rl_pool_shutdown (pool);
  pthread_join (thread, NULL);
  PT_CHECK (call.status == RL_WIRE_STOPPED, "request during shutdown: %d %s", call.status,
            call.err.message);
  PT_CHECK (kill (info.pid, 0) != 0, "worker survived shutdown");
  rl_pool_free (pool);
}

int
main (void)
{
  seed = pt_seed ();
  signal (SIGPIPE, SIG_DFL);
  PT_RUN (test_missing_worker_binary);
  PT_RUN (test_wrong_token_refused);
  PT_RUN (test_unavailable_backend);
  PT_RUN (test_kill_9_mid_request);
  PT_RUN (test_kill_9_idle_worker);
  PT_RUN (test_segfault_mid_request);
  PT_RUN (test_crash_with_sigchld_ignored);
  PT_RUN (test_group_call_survives_a_dead_rank);
  PT_RUN (test_group_call_reports_the_lost_rank);
  PT_RUN (test_worker_stops_answering);
  PT_RUN (test_checkpoint_deleted_between_jobs);
  PT_RUN (test_shutdown_during_request);
  return pt_finish ();
}
