/* The worker faults of the pool's acceptance list, end to end through the
 * app's own job path: the tiny Wan text-to-video workflow
 * (data/workflows/wan2.1-t2v-tiny.json on tools/make-tiny-wan.py's models)
 * queued on an RlJobQueue whose RlExecutor dispatches to a real
 * RlPoolService of CPU workers, with an RlHistory database — what
 * `raylight run` and the desktop app's run service put together.
 *
 * Each test injects one fault: kill -9 of the worker while it samples, a
 * worker that stops answering (SIGSTOP, short heartbeat timeout), a worker
 * program that is missing, Ulysses × ring degrees the workers cannot
 * make, and the diffusion model's file deleted between two jobs; and the
 * first two again on rank 1 of a Ulysses-2 pool, where rank 0 waits in a
 * collective for the lost peer and must not hang there. Each
 * checks that the job ends failed within a bounded wait with a message
 * that names the rank / signal / file and says what to do, that history
 * holds the job as failed with that message, and that the next job, with
 * the fault removed, succeeds on the same queue and executor and is
 * recorded as succeeded. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "engine/engine-error.h"
#include "engine/graph/graph.h"
#include "engine/graph/model-paths.h"
#include "engine/graph/registry.h"
#include "engine/graph/validate.h"
#include "engine/graph/workflow.h"
#include "engine/nodes/builtin-nodes.h"
#include "engine/pool/pool-service.h"
#include "engine/run/executor.h"
#include "engine/run/history.h"
#include "engine/run/queue.h"
#include "tests/tiny-wan-fixture.h"

/* How long a job may take before the test calls it a hang. A tiny job
 * takes a few seconds on two busy cores; a hung one would never end. */
#define JOB_DEADLINE_S 60
/* Sampler steps: enough that the worker is still sampling when the
 * fault lands on the first step's progress. */
#define SAMPLER_STEPS "8"
#define DIT_NAME "tiny-wan2.1-t2v.safetensors"

static char *models_dir;

typedef enum {
  FAULT_NONE,
  FAULT_KILL,    /* kill -9 a rank at the sampler's first progress */
  FAULT_STOP,    /* SIGSTOP it there: it stops answering heartbeats */
} SamplerFault;

typedef struct {
  char           *dir;
  char           *outputs;
  RlRegistry     *registry;
  RlHistory      *history;
  RlPoolService  *pool;
  GPtrArray      *retired_pools;  /* replaced services, freed after the queue */
  RlExecutor     *executor;
  RlJobQueue     *queue;

  GMutex          lock;           /* guards what follows: written on the runner thread */
  GCond           changed;
  GHashTable     *finished;       /* job ids (gint64*) that ended */
  SamplerFault    fault;
  guint           fault_rank;     /* the rank it hits */
  pid_t           faulted_pid;    /* the worker the fault hit, 0 before */
  guint           fault_step;     /* the sampler progress it landed on */
  guint           fault_total;
  gint64          delete_after_job; /* unlink dit_path when this job ends */
  char           *dit_path;
  char           *dit_backup;     /* a second link to the DiT, to put it back */
  const char     *workflow;       /* under the source tree; NULL: the tiny Wan t2v */
  const char     *widget_override; /* one more "NODE.INPUT=VALUE", or NULL */
} Fixture;

/* ---- the app's job path ------------------------------------------------- */

static RlPoolService *
new_pool (const RlPoolSettings *overrides)
{
  g_autofree char *plugins = g_build_filename (g_getenv ("RAYLIGHT_BUILD_DIR"), "plugins", NULL);
  RlPoolSettings settings = overrides ? *overrides : (RlPoolSettings) { 0 };

  settings.devices = RL_POOL_DEVICES_CPU;
  if (settings.worker_path == NULL)
    settings.worker_path = g_getenv ("RAYLIGHT_WORKER");
  settings.plugin_path = plugins;   /* copied by the service */
  return rl_pool_service_new (&settings);
}

/* What the app does when the user changes the pool settings between jobs
 * (the run service's pool swap): the executor dispatches to the new
 * service; the old one stops. */
static void
replace_pool (Fixture              *f,
              const RlPoolSettings *settings)
{
  rl_pool_service_stop (f->pool);
  g_ptr_array_add (f->retired_pools, f->pool);
  f->pool = new_pool (settings);
  rl_executor_set_pool_service (f->executor, f->pool);
}

/* Rank @rank's pid, 0 when the pool is not running (or is starting). */
static pid_t
rank_pid (RlPoolService *pool,
          guint          rank)
{
  GArray *workers = rl_pool_service_list_workers (pool);
  pid_t pid = 0;

  if (workers == NULL)
    return 0;
  if (workers->len > rank)
    pid = g_array_index (workers, RlWorkerInfo, rank).pid;
  g_array_unref (workers);
  return pid;
}

static gboolean
process_exists (pid_t pid)
{
  return kill (pid, 0) == 0 || errno != ESRCH;
}

/* Whether @pid is still a child of this test (a worker the pool spawned),
 * not a later process that reused the number. */
static gboolean
is_own_child (pid_t pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *stat = NULL;
  const char *after_name;
  int parent = 0;

  if (!g_file_get_contents (path, &stat, NULL, NULL))
    return FALSE;
  /* "pid (comm) state ppid ...": comm may hold spaces and parentheses. */
  after_name = strrchr (stat, ')');
  return after_name != NULL && sscanf (after_name, ") %*c %d", &parent) == 1 && parent == getpid ();
}

/* Every job's events, on the runner thread. */
static void
on_event (const RlEvent *event,
          gpointer       user_data)
{
  Fixture *f = user_data;

  g_mutex_lock (&f->lock);
  if (event->kind == RL_EVENT_PROGRESS && f->fault != FAULT_NONE
      && g_strcmp0 (event->node_type, "KSampler") == 0 && event->step < event->total)
    {
      pid_t pid = rank_pid (f->pool, f->fault_rank);

      if (pid > 0 && is_own_child (pid) && kill (pid, f->fault == FAULT_KILL ? SIGKILL : SIGSTOP) == 0)
        {
          f->faulted_pid = pid;
          f->fault_step = event->step;
          f->fault_total = event->total;
          f->fault = FAULT_NONE;
        }
    }
  if (event->kind == RL_EVENT_JOB_FINISHED)
    {
      /* "Between jobs": this job is over (history has it) and the next
       * has not started; the runner thread waits for this listener. */
      if (event->job_id == f->delete_after_job)
        {
          g_assert_cmpint (g_unlink (f->dit_path), ==, 0);
          f->delete_after_job = 0;
        }
      g_hash_table_add (f->finished, g_memdup2 (&event->job_id, sizeof event->job_id));
      g_cond_broadcast (&f->changed);
    }
  g_mutex_unlock (&f->lock);
}

/* The tiny workflow (or f->workflow) as the app queues it: loaded, the
 * latent made small, SAMPLER_STEPS steps, @seed and f->widget_override,
 * validated. */
static RlGraph *
tiny_graph (Fixture *f,
            gint64   seed)
{
  g_autofree char *path = tiny_wan_source_path (f->workflow ? f->workflow
                                                            : "data/workflows/wan2.1-t2v-tiny.json");
  g_autofree char *seed_set = g_strdup_printf ("3.seed=%" G_GINT64_FORMAT, seed);
  const char *overrides[] = { "40.width=32", "40.height=32", "40.length=1",
                              "3.steps=" SAMPLER_STEPS, seed_set, f->widget_override };
  g_autoptr(GError) error = NULL;
  g_autoptr(RlWorkflow) workflow = rl_workflow_load_file (path, &error);
  g_autoptr(RlGraph) graph = NULL;
  g_autoptr(GPtrArray) issues = NULL;

  g_assert_no_error (error);
  graph = rl_workflow_to_graph (workflow, f->registry, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (overrides) && overrides[i] != NULL; i++)
    {
      g_assert_true (rl_graph_apply_override (graph, f->registry, overrides[i], &error));
      g_assert_no_error (error);
    }
  issues = rl_graph_validate (graph, f->registry);
  if (issues->len > 0)
    g_error ("the tiny workflow does not validate: %s", rl_validation_issues_to_string (issues));
  return g_steal_pointer (&graph);
}

/* The pool's shape when the job is over, for history (as the app does). */
static char *
describe_pool (gpointer data)
{
  Fixture *f = data;

  return rl_pool_service_describe (f->pool);
}

static gint64
submit (Fixture *f,
        gint64   seed)
{
  g_autoptr(RlGraph) graph = tiny_graph (f, seed);
  g_autofree char *prompt = rl_graph_to_prompt_string (graph, FALSE);
  g_autofree char *devices = rl_pool_service_describe (f->pool);
  g_autoptr(GError) error = NULL;
  RlJobOptions options = { .output_dir = f->outputs, .prompt_json = prompt,
                           .device_config_json = devices,
                           .describe_devices = describe_pool, .describe_devices_data = f };
  gint64 id = rl_job_queue_enqueue (f->queue, graph, &options, RL_JOB_POSITION_BACK, &error);

  g_assert_no_error (error);
  g_assert_cmpint (id, >, 0);
  return id;
}

/* Waits for @id to end, at most JOB_DEADLINE_S: a job that never ends is
 * the hang these faults must not cause. Returns its status; @error gets
 * its error. */
static RlJobStatus
wait_job (Fixture  *f,
          gint64    id,
          GError  **error)
{
  gint64 deadline = g_get_monotonic_time () + JOB_DEADLINE_S * G_TIME_SPAN_SECOND;
  gboolean ended;

  g_mutex_lock (&f->lock);
  while (!(ended = g_hash_table_contains (f->finished, &id)))
    if (!g_cond_wait_until (&f->changed, &f->lock, deadline))
      break;
  ended = g_hash_table_contains (f->finished, &id);
  g_mutex_unlock (&f->lock);
  if (!ended)
    g_error ("job %" G_GINT64_FORMAT " did not end within %d s: the app hung", id, JOB_DEADLINE_S);
  return rl_job_queue_wait (f->queue, id, NULL, error);
}

/* ---- checks ------------------------------------------------------------- */

static void
assert_contains (const char *text,
                 const char *needle)
{
  if (strstr (text, needle) == NULL)
    g_error ("“%s” is not in the message: %s", needle, text);
}

/* The job failed with a message holding every one of @needles (NULL-
 * terminated), and history has it failed with that same message. Returns
 * the message. */
static char *
assert_failed (Fixture     *f,
               gint64       id,
               RlJobStatus  status,
               GError      *error,
               ...)
{
  g_autoptr(GError) history_error = NULL;
  g_autoptr(RlHistoryJob) job = NULL;
  const char *needle;
  va_list args;

  g_test_message ("job %" G_GINT64_FORMAT ": %s: %s", id, rl_job_status_to_string (status),
                  error ? error->message : "(no error)");
  g_assert_cmpint (status, ==, RL_JOB_FAILED);
  g_assert_nonnull (error);
  va_start (args, error);
  while ((needle = va_arg (args, const char *)) != NULL)
    assert_contains (error->message, needle);
  va_end (args);

  job = rl_history_get_job (f->history, id, &history_error);
  g_assert_no_error (history_error);
  g_assert_cmpint (job->status, ==, RL_JOB_FAILED);
  g_assert_cmpstr (job->error_text, ==, error->message);
  g_assert_cmpint (job->finished_at, >=, job->started_at);
  g_assert_cmpuint (job->outputs->len, ==, 0);
  /* The queue is idle again, not wedged on the failed job. */
  g_assert_cmpint (rl_job_queue_get_running (f->queue), ==, 0);
  return g_strdup (error->message);
}

/* A job with @seed (new, so nothing comes from the node cache's sampler)
 * succeeds, wrote its video, and history records it so. Returns its id. */
static gint64
assert_next_job_succeeds (Fixture *f,
                          gint64   seed)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) history_error = NULL;
  g_autoptr(RlHistoryJob) job = NULL;
  gint64 id = submit (f, seed);
  RlJobStatus status = wait_job (f, id, &error);

  if (status != RL_JOB_SUCCEEDED)
    g_error ("the job after the fault ended %s: %s", rl_job_status_to_string (status),
             error ? error->message : "(no error)");
  job = rl_history_get_job (f->history, id, &history_error);
  g_assert_no_error (history_error);
  g_assert_cmpint (job->status, ==, RL_JOB_SUCCEEDED);
  g_assert_null (job->error_text);
  g_assert_cmpuint (job->outputs->len, ==, 1);
  g_assert_true (g_file_test (((RlHistoryOutput *) g_ptr_array_index (job->outputs, 0))->path,
                              G_FILE_TEST_IS_REGULAR));
  return id;
}

/* ---- fixture ------------------------------------------------------------ */

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  const RlPoolSettings *settings = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(RlModelPaths) paths = rl_model_paths_new ();
  g_autofree char *history_path = NULL;

  f->dir = g_dir_make_tmp ("raylight-job-faults-XXXXXX", &error);
  g_assert_no_error (error);
  f->outputs = g_build_filename (f->dir, "out", NULL);
  history_path = g_build_filename (f->dir, "history.sqlite3", NULL);
  f->dit_path = g_build_filename (models_dir, "diffusion_models", DIT_NAME, NULL);
  f->dit_backup = g_build_filename (f->dir, DIT_NAME, NULL);

  f->registry = rl_registry_new ();
  rl_model_paths_add_root (paths, models_dir);
  rl_registry_set_model_paths (f->registry, paths);
  g_assert_true (rl_builtin_nodes_register (f->registry, &error));
  g_assert_no_error (error);
  f->history = rl_history_open (history_path, &error);
  g_assert_no_error (error);
  f->pool = new_pool (settings);
  f->retired_pools = g_ptr_array_new_with_free_func ((GDestroyNotify) rl_pool_service_free);
  f->executor = rl_executor_new (f->registry);
  rl_executor_set_pool_service (f->executor, f->pool);
  f->queue = rl_job_queue_new (f->executor, f->history);
  g_mutex_init (&f->lock);
  g_cond_init (&f->changed);
  f->finished = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  rl_job_queue_add_listener (f->queue, on_event, f);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  /* A worker left stopped by a failed test would hold up the pool's
   * shutdown; it is this test's own child. */
  if (f->faulted_pid > 0 && is_own_child (f->faulted_pid))
    kill (f->faulted_pid, SIGKILL);
  /* The model set is shared by the tests: the DiT goes back. */
  if (!g_file_test (f->dit_path, G_FILE_TEST_EXISTS) && g_file_test (f->dit_backup, G_FILE_TEST_EXISTS))
    g_assert_cmpint (link (f->dit_backup, f->dit_path), ==, 0);
  g_clear_pointer (&f->queue, rl_job_queue_free);
  g_clear_pointer (&f->executor, rl_executor_free);
  g_clear_pointer (&f->pool, rl_pool_service_free);
  g_clear_pointer (&f->retired_pools, g_ptr_array_unref);
  g_clear_pointer (&f->history, rl_history_close);
  g_clear_pointer (&f->registry, rl_registry_unref);
  g_clear_pointer (&f->finished, g_hash_table_unref);
  g_mutex_clear (&f->lock);
  g_cond_clear (&f->changed);
  tiny_wan_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->outputs);
  g_free (f->dit_path);
  g_free (f->dit_backup);
}

/* History records job `id` as run by two workers in Ulysses 2. */
static void
assert_ran_ulysses2 (Fixture *f,
                     gint64   id)
{
  g_autoptr(RlHistoryJob) job = rl_history_get_job (f->history, id, NULL);

  g_assert_nonnull (job);
  g_assert_nonnull (strstr (job->device_config_json, "\"workers\":2"));
  g_assert_nonnull (strstr (job->device_config_json, "\"ulysses\":2"));
}

/* ---- the faults --------------------------------------------------------- */

/* Runs a job during which `fault` hits rank `rank` at the sampler's first
 * step, and checks the failure: it names KSampler, the rank and its pid,
 * `symptom` (and `detail` unless NULL), says to run the job again, and is
 * a pool error. Returns the faulted pid. */
static pid_t
run_rank_fault (Fixture      *f,
                SamplerFault  fault,
                int           rank,
                guint         seed,
                const char   *symptom,
                const char   *detail)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *message = NULL;
  g_autofree char *who = NULL;
  RlJobStatus status;
  gint64 id;

  f->fault = fault;
  f->fault_rank = rank;
  id = submit (f, seed);
  status = wait_job (f, id, &error);
  g_assert_cmpint (f->faulted_pid, >, 0);
  g_test_message ("%s rank %d (pid %d) at sampler step %u of %u",
                  fault == FAULT_KILL ? "killed" : "stopped", rank, (int) f->faulted_pid,
                  f->fault_step, f->fault_total);
  who = g_strdup_printf ("rank %d (pid %d)", rank, (int) f->faulted_pid);
  message = detail != NULL
            ? assert_failed (f, id, status, error, "KSampler", who, symptom, detail,
                             "run the job again", NULL)
            : assert_failed (f, id, status, error, "KSampler", who, symptom,
                             "run the job again", NULL);
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_POOL);
  return f->faulted_pid;
}

/* kill -9 of the worker while it samples: the job fails naming the rank,
 * its pid and SIGKILL; the pool restarts the rank and the next job runs
 * on the new process. */
static void
test_worker_killed_mid_sampling (Fixture       *f,
                                 gconstpointer  data)
{
  pid_t killed = run_rank_fault (f, FAULT_KILL, 0, 11, "SIGKILL", "SAMPLE");

  g_assert_false (process_exists (killed));
  assert_next_job_succeeds (f, 12);
  g_assert_cmpint (rank_pid (f->pool, 0), >, 0);
  g_assert_cmpint (rank_pid (f->pool, 0), !=, killed);
}

/* A worker that stops answering (stopped, so it neither works nor
 * answers heartbeats): after the heartbeat timeout the pool kills it, the
 * job fails saying so, and the next job runs on a restarted rank. */
static void
test_worker_stops_answering (Fixture       *f,
                             gconstpointer  data)
{
  pid_t stopped = run_rank_fault (f, FAULT_STOP, 0, 21, "stopped answering", "SAMPLE");

  g_assert_false (process_exists (stopped));
  assert_next_job_succeeds (f, 22);
  g_assert_cmpint (rank_pid (f->pool, 0), !=, stopped);
}

static void
test_worker_binary_missing (Fixture       *f,
                            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *message = NULL;
  g_autofree char *missing = g_build_filename (f->dir, "no-such-dir", "raylight-worker", NULL);
  RlPoolSettings settings = { .worker_path = missing };
  RlJobStatus status;
  gint64 id;

  replace_pool (f, &settings);
  id = submit (f, 31);
  status = wait_job (f, id, &error);
  message = assert_failed (f, id, status, error, missing, "is missing", "$RAYLIGHT_WORKER", NULL);
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_POOL);
  g_assert_false (rl_pool_service_get_active (f->pool, NULL, NULL));

  replace_pool (f, NULL);
  assert_next_job_succeeds (f, 32);
}

/* Ulysses 2 × ring 2 on 2 CPU workers: refused before any worker starts,
 * with the valid degrees; corrected to Ulysses 2, the job runs on the two
 * workers and history records that shape. */
static void
test_impossible_degrees (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *message = NULL;
  RlPoolSettings impossible = { .n_workers = 2, .ulysses_degree = 2, .ring_degree = 2 };
  RlPoolSettings valid = { .n_workers = 2, .ulysses_degree = 2, .ring_degree = 1 };
  RlJobStatus status;
  gint64 id;

  replace_pool (f, &impossible);
  id = submit (f, 41);
  status = wait_job (f, id, &error);
  message = assert_failed (f, id, status, error, "Ulysses 2", "ring 2", "2 workers",
                           "valid Ulysses", "in Pool settings", NULL);
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_VALIDATION);
  g_assert_false (rl_pool_service_get_active (f->pool, NULL, NULL));

  replace_pool (f, &valid);
  id = assert_next_job_succeeds (f, 42);
  assert_ran_ulysses2 (f, id);
}

/* Two jobs queued while the model is there; its file is deleted when the
 * first has ended and before the second starts. The first succeeds, the
 * second fails naming the file; with the file back, the next succeeds. */
static void
test_checkpoint_deleted_between_jobs (Fixture       *f,
                                      gconstpointer  data)
{
  g_autoptr(GError) first_error = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *message = NULL;
  RlJobStatus status;
  gint64 first, second;

  g_assert_cmpint (link (f->dit_path, f->dit_backup), ==, 0);
  rl_job_queue_pause (f->queue);
  first = submit (f, 51);
  second = submit (f, 52);
  g_mutex_lock (&f->lock);
  f->delete_after_job = first;
  g_mutex_unlock (&f->lock);
  rl_job_queue_resume (f->queue);

  g_assert_cmpint (wait_job (f, first, &first_error), ==, RL_JOB_SUCCEEDED);
  g_assert_no_error (first_error);
  status = wait_job (f, second, &error);
  g_assert_false (g_file_test (f->dit_path, G_FILE_TEST_EXISTS));
  message = assert_failed (f, second, status, error, DIT_NAME, "moved or deleted", "Put it back",
                           "Load Diffusion Model", NULL);
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_MODEL_NOT_FOUND);

  g_assert_cmpint (link (f->dit_backup, f->dit_path), ==, 0);
  assert_next_job_succeeds (f, 53);
}

/* kill -9 of rank 1 of a Ulysses-2 pool while both ranks sample: rank 0,
 * waiting in a collective for its lost peer, is cancelled rather than
 * left hanging; the job fails naming rank 1 and SIGKILL, and the next job
 * gets a whole new pool (its ranks must share collectives again). */
static void
test_parallel_rank_killed_mid_sampling (Fixture       *f,
                                        gconstpointer  data)
{
  pid_t killed = run_rank_fault (f, FAULT_KILL, 1, 61, "SIGKILL", NULL);
  pid_t rank0_before = rank_pid (f->pool, 0);

  assert_next_job_succeeds (f, 62);
  g_assert_cmpint (rank_pid (f->pool, 1), !=, killed);
  g_assert_cmpint (rank_pid (f->pool, 0), !=, rank0_before);
}

/* Rank 1 of a Ulysses-2 pool stops answering while both sample: rank 0
 * waits in a collective for it; the heartbeat timeout kills rank 1, rank
 * 0 is cancelled, the job fails naming rank 1, and the next job runs on a
 * fresh pool. */
static void
test_parallel_rank_stops_answering (Fixture       *f,
                                    gconstpointer  data)
{
  pid_t stopped = run_rank_fault (f, FAULT_STOP, 1, 71, "stopped answering", NULL);

  assert_next_job_succeeds (f, 72);
  g_assert_cmpint (rank_pid (f->pool, 1), !=, stopped);
}

/* A Parallel Settings node asking Ulysses 4 of a model with 2 attention
 * heads: the app refuses it from the checkpoint's header, before the pool
 * takes that shape, listing the degrees the model allows; with
 * the node set to one of them, the next job runs in that shape, and
 * history records it. */
static void
test_parallel_node_impossible_degree (Fixture       *f,
                                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *message = NULL;
  RlJobStatus status;
  gint64 id;

  f->workflow = "tests/parallel/data/wan2.1-t2v-tiny-parallel.json";
  f->widget_override = "60.ulysses_degree=4";
  id = submit (f, 81);
  status = wait_job (f, id, &error);
  message = assert_failed (f, id, status, error, "KSampler", "Ulysses 4 cannot split the 2 "
                           "attention heads", "valid Ulysses degrees for this model: 1, 2",
                           "Parallel Settings node", NULL);
  /* Refused from the checkpoint's header before the pool took that shape:
   * no four-worker pool was ever started for it. */
  guint n_workers = 0;
  RlPoolParallel active;
  g_assert_false (rl_pool_service_get_active (f->pool, &active, &n_workers)
                  && n_workers == 4);

  f->widget_override = "60.ulysses_degree=2";
  id = assert_next_job_succeeds (f, 82);
  assert_ran_ulysses2 (f, id);
}

/* Pool settings asking Ulysses 4 of the 2-head model (no Parallel
 * Settings node): the pool is up already (the text encoder ran on it), but
 * the sampler is refused from the checkpoint's header before any worker
 * samples, pointing at the settings; the workers' own refusal ("USP: …")
 * never comes. */
static void
test_pool_settings_impossible_heads (Fixture       *f,
                                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *message = NULL;
  RlPoolSettings too_wide = { .n_workers = 4, .ulysses_degree = 4, .ring_degree = 1 };
  RlPoolSettings valid = { .n_workers = 2, .ulysses_degree = 2, .ring_degree = 1 };
  RlJobStatus status;
  gint64 id;

  replace_pool (f, &too_wide);
  id = submit (f, 91);
  status = wait_job (f, id, &error);
  message = assert_failed (f, id, status, error, "Ulysses 4 cannot split the 2 attention heads",
                           "valid Ulysses degrees for this model: 1, 2", "Pool settings", NULL);
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_VALIDATION);
  g_assert_null (strstr (message, "USP:"));

  replace_pool (f, &valid);
  assert_ran_ulysses2 (f, assert_next_job_succeeds (f, 92));
}

int
main (int    argc,
      char **argv)
{
  static const RlPoolSettings one_worker = { .n_workers = 1 };
  static const RlPoolSettings ulysses2 = { .n_workers = 2, .ulysses_degree = 2, .ring_degree = 1 };
  static const RlPoolSettings ulysses2_short_heartbeat = { .n_workers = 2, .ulysses_degree = 2,
                                                           .ring_degree = 1,
                                                           .heartbeat_timeout_ms = 2000 };
  static const RlPoolSettings short_heartbeat = { .n_workers = 1, .heartbeat_timeout_ms = 2000 };
  g_autofree char *dir = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);
  if (g_getenv ("RAYLIGHT_WORKER") == NULL)
    return 77;
  /* The pool comes from the settings here, not the environment. */
  g_unsetenv ("RAYLIGHT_WORKERS");
  g_unsetenv ("RAYLIGHT_DEVICES");
  g_unsetenv ("RAYLIGHT_ULYSSES");
  g_unsetenv ("RAYLIGHT_RING");
  g_unsetenv ("RAYLIGHT_CFG_PARALLEL");
  g_unsetenv ("RAYLIGHT_DATA_PARALLEL");
  g_setenv ("OMP_NUM_THREADS", "1", TRUE);
  dir = g_dir_make_tmp ("raylight-job-faults-models-XXXXXX", NULL);
  g_assert_nonnull (dir);
  models_dir = g_build_filename (dir, "models", NULL);
  if (!tiny_wan_make_models (models_dir, FALSE))
    {
      tiny_wan_remove_tree (dir);
      return 77;   /* no python with numpy: skip */
    }

#define ADD(path, settings, func) \
  g_test_add (path, Fixture, settings, fixture_set_up, func, fixture_tear_down)
  ADD ("/job-faults/worker-killed-mid-sampling", &one_worker, test_worker_killed_mid_sampling);
  ADD ("/job-faults/worker-stops-answering", &short_heartbeat, test_worker_stops_answering);
  ADD ("/job-faults/worker-binary-missing", &one_worker, test_worker_binary_missing);
  ADD ("/job-faults/impossible-degrees", &one_worker, test_impossible_degrees);
  ADD ("/job-faults/checkpoint-deleted-between-jobs", &one_worker, test_checkpoint_deleted_between_jobs);
  ADD ("/job-faults/parallel-rank-killed-mid-sampling", &ulysses2, test_parallel_rank_killed_mid_sampling);
  ADD ("/job-faults/parallel-rank-stops-answering", &ulysses2_short_heartbeat,
       test_parallel_rank_stops_answering);
  ADD ("/job-faults/parallel-node-impossible-degree", &one_worker, test_parallel_node_impossible_degree);
  ADD ("/job-faults/pool-settings-impossible-heads", &one_worker, test_pool_settings_impossible_heads);
#undef ADD
  status = g_test_run ();
  tiny_wan_remove_tree (dir);
  g_free (models_dir);
  return status;
}
