#include "engine/pool/pool-service.h"

#include <unistd.h>

#include "raylight-config.h"
#include "engine/engine-error.h"
#include "engine/graph/image.h"
#include "engine/graph/node-type.h"

#define POLL_INTERVAL_US (50 * G_TIME_SPAN_MILLISECOND)

struct _RlPoolService {
  GMutex          lock;          /* guards pool start */
  char           *worker_path;
  char           *plugin_path;
  RlPoolDevices   devices;
  guint           n_workers;
  guint           ulysses_degree;   /* $RAYLIGHT_ULYSSES, 1 = none */
  guint           ring_degree;      /* $RAYLIGHT_RING, 1 = none */
  guint           cfg_degree;       /* $RAYLIGHT_CFG_PARALLEL, 1 = none */
  guint           data_degree;      /* $RAYLIGHT_DATA_PARALLEL, 1 = none */
  RlPool         *pool;
  RlPoolParallel  active;           /* the running pool's shape */
  guint           active_workers;
  gboolean        restart_needed;   /* a parallel SAMPLE failed: its collectives may be aborted */
  char          **extra_env;        /* settings' "KEY=VALUE" for the workers */
  GMutex          notes_lock;       /* guards crash_notes: written on supervisor threads */
  GPtrArray      *crash_notes;      /* char* per rank: its last crash or failure, or NULL */
  GMutex          topology_lock;    /* guards topology: the self-test takes seconds */
  RlPoolTopology *topology;         /* the self-test's result, once run */
  guint           comm_timeout_ms;  /* 0: the pool's default */
  guint           heartbeat_timeout_ms; /* 0: the pool's default */
  gboolean        degrees_from_settings; /* the app's Pool settings gave them, not $RAYLIGHT_* */
};

/* ------------------------------------------------------------ settings */

static char *
find_worker (const char *configured)
{
  g_autofree char *exe = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *in_build = NULL;

  if (configured != NULL)
    return g_strdup (configured);
  if (g_getenv ("RAYLIGHT_WORKER") != NULL)
    return g_strdup (g_getenv ("RAYLIGHT_WORKER"));
  /* Running from the build tree: build/app/raylight beside
   * build/workers/worker/raylight-worker. */
  exe = g_file_read_link ("/proc/self/exe", NULL);
  if (exe != NULL)
    {
      dir = g_path_get_dirname (exe);
      in_build = g_build_filename (dir, "..", "workers", "worker", "raylight-worker", NULL);
      if (g_file_test (in_build, G_FILE_TEST_IS_EXECUTABLE))
        return g_canonicalize_filename (in_build, NULL);
    }
  return g_build_filename (RAYLIGHT_LIBEXEC_DIR, "raylight-worker", NULL);
}

static char *
find_plugins (const char *configured)
{
  g_autofree char *exe = NULL;

  if (configured != NULL)
    return g_strdup (configured);
  if (g_getenv ("RAYLIGHT_PLUGIN_PATH") != NULL)
    return g_strdup (g_getenv ("RAYLIGHT_PLUGIN_PATH"));
  exe = g_file_read_link ("/proc/self/exe", NULL);
  if (exe != NULL)
    {
      g_autofree char *dir = g_path_get_dirname (exe);
      g_autofree char *in_build = g_build_filename (dir, "..", "plugins", NULL);
      if (g_file_test (in_build, G_FILE_TEST_IS_DIR))
        return g_canonicalize_filename (in_build, NULL);
    }
  return g_strdup (RAYLIGHT_PLUGIN_DIR);
}

/* NVIDIA GPUs the driver exposes, counted without CUDA in this process. */
guint
rl_pool_service_count_gpus (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/driver/nvidia/gpus", 0, NULL);
  guint n = 0;

  if (dir == NULL)
    return 0;
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

static RlPoolDevices
devices_from_env (RlPoolDevices configured)
{
  const char *env = g_getenv ("RAYLIGHT_DEVICES");

  if (env == NULL)
    return configured;
  if (g_ascii_strcasecmp (env, "cpu") == 0)
    return RL_POOL_DEVICES_CPU;
  if (g_ascii_strcasecmp (env, "cuda") == 0 || g_ascii_strcasecmp (env, "gpu") == 0)
    return RL_POOL_DEVICES_CUDA;
  return configured;
}

/* A degree from the environment; unset is 1, and anything that is not a
 * positive number is kept as 0 for validation to refuse with a message. */
static guint
degree_from_env (const char *name)
{
  const char *env = g_getenv (name);
  guint64 value = 0;

  if (env == NULL || env[0] == '\0')
    return 1;
  if (!g_ascii_string_to_unsigned (env, 10, 1, 4096, &value, NULL))
    return 0;
  return (guint) value;
}

/* Checks the parallel degrees against the worker count (and the GPUs)
 * before anything launches (rl_pool_check_degrees lists the valid ones).
 * The model's heads are checked by the workers when a job runs. */
static gboolean
validate_degrees (RlPoolService         *self,
                  const RlPoolParallel  *want,
                  guint                  n_workers,
                  gboolean               from_node,
                  GError               **error)
{
  RlErrorInfo info = { 0 };
  RlPoolBackend backend = self->devices == RL_POOL_DEVICES_CUDA ? RL_POOL_BACKEND_CUDA
                                                                 : RL_POOL_BACKEND_CPU;
  guint gpus = backend == RL_POOL_BACKEND_CUDA ? rl_pool_service_count_gpus () : 0;

  if (backend == RL_POOL_BACKEND_CUDA && gpus > 0 && n_workers > gpus)
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_VALIDATION,
                   "Ulysses %u × ring %u × CFG %u × data %u needs %u GPUs, and this machine has "
                   "%u; lower the degrees", want->ulysses_degree, want->ring_degree,
                   want->cfg_degree, want->data_degree, n_workers, gpus);
      return FALSE;
    }
  if (rl_pool_check_degrees ((int) n_workers, backend, (int) want->ulysses_degree,
                             (int) want->ring_degree, (int) want->cfg_degree,
                             (int) want->data_degree, &info) == RL_WIRE_OK)
    return TRUE;
  g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_VALIDATION, "%s (%s)", info.message,
               from_node ? "change the Parallel Settings node"
               : self->degrees_from_settings
                 ? "change the degrees or the worker count in Pool settings"
                 : "set $RAYLIGHT_ULYSSES, $RAYLIGHT_RING, $RAYLIGHT_CFG_PARALLEL and "
                   "$RAYLIGHT_DATA_PARALLEL, or $RAYLIGHT_WORKERS to their product");
  return FALSE;
}

static guint
world_of (const RlPoolParallel *p)
{
  return p->ulysses_degree * p->ring_degree * p->cfg_degree * p->data_degree;
}

/* The shape a job without a Parallel Settings node runs with. */
static RlPoolParallel
default_parallel (RlPoolService *self)
{
  RlPoolParallel p = { .ulysses_degree = self->ulysses_degree, .ring_degree = self->ring_degree,
                       .cfg_degree = self->cfg_degree, .data_degree = self->data_degree,
                       .fsdp_degree = 1 };
  return p;
}

static gboolean
same_parallel (const RlPoolParallel *a,
               const RlPoolParallel *b)
{
  return a->ulysses_degree == b->ulysses_degree && a->ring_degree == b->ring_degree
         && a->cfg_degree == b->cfg_degree && a->data_degree == b->data_degree
         && a->fsdp_degree == b->fsdp_degree && !a->cpu_offload == !b->cpu_offload
         && g_strcmp0 (a->attention, b->attention) == 0;
}

RlPoolService *
rl_pool_service_new (const RlPoolSettings *settings)
{
  RlPoolService *self = g_new0 (RlPoolService, 1);
  const char *workers_env = g_getenv ("RAYLIGHT_WORKERS");

  g_mutex_init (&self->lock);
  g_mutex_init (&self->topology_lock);
  g_mutex_init (&self->notes_lock);
  self->crash_notes = g_ptr_array_new_with_free_func (g_free);
  self->worker_path = find_worker (settings ? settings->worker_path : NULL);
  self->plugin_path = find_plugins (settings ? settings->plugin_path : NULL);
  self->extra_env = g_strdupv ((char **) (settings ? settings->extra_env : NULL));
  self->comm_timeout_ms = settings ? settings->comm_timeout_ms : 0;
  self->heartbeat_timeout_ms = settings && settings->heartbeat_timeout_ms > 0
                                 ? MAX (settings->heartbeat_timeout_ms, 100) : 0;
  self->devices = devices_from_env (settings ? settings->devices : RL_POOL_DEVICES_AUTO);
  self->n_workers = settings && settings->n_workers ? settings->n_workers : 1;
  if (workers_env != NULL && g_ascii_strtoull (workers_env, NULL, 10) > 0)
    self->n_workers = (guint) g_ascii_strtoull (workers_env, NULL, 10);
  if (self->devices == RL_POOL_DEVICES_AUTO)
    self->devices = rl_pool_service_count_gpus () > 0 ? RL_POOL_DEVICES_CUDA : RL_POOL_DEVICES_CPU;
  self->ulysses_degree = settings && settings->ulysses_degree ? settings->ulysses_degree
                                                              : degree_from_env ("RAYLIGHT_ULYSSES");
  self->ring_degree = settings && settings->ring_degree ? settings->ring_degree
                                                        : degree_from_env ("RAYLIGHT_RING");
  self->cfg_degree = settings && settings->cfg_degree ? settings->cfg_degree
                                                      : degree_from_env ("RAYLIGHT_CFG_PARALLEL");
  self->data_degree = settings && settings->data_degree ? settings->data_degree
                                                        : degree_from_env ("RAYLIGHT_DATA_PARALLEL");
  self->degrees_from_settings = settings && (settings->ulysses_degree || settings->ring_degree
                                             || settings->cfg_degree || settings->data_degree);
  return self;
}

void
rl_pool_service_free (RlPoolService *self)
{
  if (self == NULL)
    return;
  rl_pool_free (self->pool);
  g_mutex_clear (&self->lock);
  g_mutex_clear (&self->topology_lock);
  g_mutex_clear (&self->notes_lock);
  g_ptr_array_unref (self->crash_notes);
  g_free (self->worker_path);
  g_free (self->plugin_path);
  g_strfreev (self->extra_env);
  g_clear_pointer (&self->topology, rl_pool_topology_unref);
  g_free (self);
}

static GError *
error_from_info (const RlErrorInfo *info,
                 const char        *what)
{
  if (info->code == RL_WIRE_CANCELLED)
    return g_error_new (RL_ENGINE_ERROR, RL_ENGINE_ERROR_INTERRUPTED, "%s: interrupted", what);
  return g_error_new (RL_ENGINE_ERROR, RL_ENGINE_ERROR_POOL, "%s: %s", what,
                      info->message[0] ? info->message : rl_wire_status_text (info->code));
}

/* Whether a rank of a parallel pool was restarted (it came back without
 * the collectives its peers share) or a parallel job failed (NCCL
 * communicators abort on a lost peer): the pool must start anew. */
static gboolean
sequence_parallel_lost (RlPoolService *self)
{
  RlWorkerInfo info;

  if (world_of (&self->active) <= 1)
    return FALSE;
  if (self->restart_needed)
    return TRUE;
  for (guint r = 0; r < self->active_workers; r++)
    if (rl_pool_worker_info (self->pool, (int) r, &info) == 0 && info.restarts > 0)
      return TRUE;
  return FALSE;
}

static RlPoolTopology *run_self_test (RlPoolService *self, gboolean refresh, GError **error);

/* A worker crashed or failed (supervisor thread). The pool forgets the
 * message once the rank is back, and a panel polling once a second can
 * miss a fast restart, so the service keeps the last one per rank. */
static void
on_pool_event (const RlPoolEvent *event,
               void              *user_data)
{
  RlPoolService *self = user_data;

  if (event->state != RL_WORKER_CRASHED && event->state != RL_WORKER_FAILED)
    return;
  g_message ("%s", event->message);
  g_mutex_lock (&self->notes_lock);
  if (self->crash_notes->len <= (guint) event->rank)
    g_ptr_array_set_size (self->crash_notes, event->rank + 1);
  g_free (g_ptr_array_index (self->crash_notes, event->rank));
  g_ptr_array_index (self->crash_notes, event->rank) = g_strdup (event->message);
  g_mutex_unlock (&self->notes_lock);
}

static void
forget_crashes (RlPoolService *self)
{
  g_mutex_lock (&self->notes_lock);
  g_ptr_array_set_size (self->crash_notes, 0);
  g_mutex_unlock (&self->notes_lock);
}

/* The start-up self-test of a multi-GPU pool: when peer-to-peer copies
 * arrive corrupted and P2P was not already turned off, the workers get
 * NCCL_P2P_DISABLE=1 (slower, correct) and a warning says why. A self-test
 * that cannot run does not stop the pool. */
static gboolean
p2p_needs_disabling (RlPoolService *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RlPoolTopology) topology = run_self_test (self, FALSE, &error);

  if (topology == NULL)
    {
      g_message ("The GPU self-test did not run (%s); starting the pool without it", error->message);
      return FALSE;
    }
  if (!rl_pool_topology_p2p_broken (topology) ||
      (self->extra_env != NULL && g_strv_contains ((const char * const *) self->extra_env, "NCCL_P2P_DISABLE=1")))
    return FALSE;
  g_warning ("The GPU self-test found peer-to-peer copies that arrive corrupted; the workers run with "
             "NCCL_P2P_DISABLE=1 (through host memory). Pool settings shows which pair.");
  return TRUE;
}

/* The topology index of CUDA device @cuda_index, or -1. */
static int
topology_index (RlPoolTopology *topology,
                int             cuda_index)
{
  for (guint i = 0; i < rl_pool_topology_get_n_devices (topology); i++)
    if (rl_pool_topology_get_device (topology, i)->cuda_index == cuda_index)
      return (int) i;
  return -1;
}

gboolean
rl_pool_service_link_costs (RlPoolTopology *topology,
                            const int      *device_ids,
                            guint           n,
                            double         *cost)
{
  for (guint a = 0; a < n; a++)
    for (guint b = 0; b < n; b++)
      {
        int from = topology_index (topology, device_ids ? device_ids[a] : (int) a);
        int to = topology_index (topology, device_ids ? device_ids[b] : (int) b);
        const RlGpuLink *link;

        if (from < 0 || to < 0)
          return FALSE;
        if (a == b)
          {
            cost[a * n + b] = 0.0;
            continue;
          }
        link = rl_pool_topology_get_link (topology, (guint) from, (guint) to);
        if (link == NULL)
          return FALSE;
        cost[a * n + b] = rl_gpu_link_cost (link);
      }
  return TRUE;
}

/* The link costs of the first @n GPUs from the (cached) self-test, or
 * NULL (equal links) when it did not run or lacks them. */
static double *
gpu_link_costs (RlPoolService *self,
                guint          n)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RlPoolTopology) topology = run_self_test (self, FALSE, &error);
  g_autofree double *cost = g_new0 (double, (gsize) n * n);

  if (topology == NULL || !rl_pool_service_link_costs (topology, NULL, n, cost))
    return NULL;
  return g_steal_pointer (&cost);
}

/* Makes the running pool the shape @want of @n_workers (lock held): keeps
 * it when it already is and its collectives are intact, else shuts it
 * down and starts that one. */
static gboolean
start_locked (RlPoolService         *self,
              const RlPoolParallel  *want,
              guint                  n_workers,
              gboolean               from_node,
              GError               **error)
{
  g_autofree char *plugin_env = g_strdup_printf ("RAYLIGHT_PLUGIN_PATH=%s", self->plugin_path);
  g_autofree char *attention_env = NULL;
  g_autoptr(GStrvBuilder) env_builder = g_strv_builder_new ();
  g_auto(GStrv) extra_env = NULL;
  g_autofree double *link_cost = NULL;
  RlPoolOptions options;
  RlErrorInfo info = { 0 };
  gboolean same = self->pool != NULL && n_workers == self->active_workers
                  && same_parallel (want, &self->active);

  if (same && !sequence_parallel_lost (self))
    return TRUE;
  if (self->pool != NULL && same)
    g_message ("A rank of the parallel pool was restarted or a parallel job failed; "
               "restarting the whole pool so its ranks share collectives again");
  if (!validate_degrees (self, want, n_workers, from_node, error))
    return FALSE;
  g_clear_pointer (&self->pool, rl_pool_free);
  self->restart_needed = FALSE;
  if (!g_file_test (self->worker_path, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_POOL,
                   "The worker program %s is missing. Reinstall Raylight, or point "
                   "$RAYLIGHT_WORKER at a raylight-worker you built.", self->worker_path);
      return FALSE;
    }
  g_strv_builder_add (env_builder, plugin_env);
  if (self->extra_env != NULL)
    g_strv_builder_addv (env_builder, (const char **) self->extra_env);
  if (self->devices == RL_POOL_DEVICES_CUDA && n_workers > 1 && p2p_needs_disabling (self))
    g_strv_builder_add (env_builder, "NCCL_P2P_DISABLE=1");
  /* The worker's attention variant comes from its environment. */
  if (want->attention[0] != '\0' && g_strcmp0 (want->attention, "auto") != 0)
    {
      attention_env = g_strdup_printf ("RAYLIGHT_ATTENTION=%s", want->attention);
      g_strv_builder_add (env_builder, attention_env);
    }
  extra_env = g_strv_builder_end (env_builder);
  rl_pool_options_init (&options);
  options.worker_path = self->worker_path;
  options.n_workers = (int) n_workers;
  options.backend = self->devices == RL_POOL_DEVICES_CUDA ? RL_POOL_BACKEND_CUDA : RL_POOL_BACKEND_CPU;
  options.extra_env = (const char *const *) extra_env;
  options.on_event = on_pool_event;
  options.event_data = self;
  forget_crashes (self);
  if (self->comm_timeout_ms > 0)
    options.comm_timeout_ms = (int) self->comm_timeout_ms;
  if (self->heartbeat_timeout_ms > 0)
    {
      /* Several beats must fit in the silence the pool tolerates, or a
       * busy but healthy worker would count as hung. */
      options.heartbeat_timeout_ms = (int) self->heartbeat_timeout_ms;
      options.heartbeat_interval_ms = MIN (options.heartbeat_interval_ms,
                                           (int) self->heartbeat_timeout_ms / 4);
    }
  options.ulysses_degree = (int) want->ulysses_degree;
  options.ring_degree = (int) want->ring_degree;
  options.cfg_degree = (int) want->cfg_degree;
  options.data_degree = (int) want->data_degree;
  options.fsdp_degree = (int) want->fsdp_degree;
  options.cpu_offload = want->cpu_offload;
  options.attention = want->attention;
  /* Ranks onto GPUs by measured links: Ulysses groups on the fastest. */
  if (self->devices == RL_POOL_DEVICES_CUDA && n_workers > 1 && world_of (want) > 1)
    options.link_cost = link_cost = gpu_link_costs (self, n_workers);
  self->pool = rl_pool_new (&options, &info);
  if (self->pool != NULL && rl_pool_start (self->pool, &info) == 0)
    {
      self->active = *want;
      self->active_workers = n_workers;
      return TRUE;
    }
  g_clear_pointer (&self->pool, rl_pool_free);
  g_propagate_error (error, error_from_info (&info, "Starting the worker pool"));
  return FALSE;
}

gboolean
rl_pool_service_start (RlPoolService  *self,
                       GError        **error)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&self->lock);
  RlPoolParallel defaults = default_parallel (self);

  /* Any running pool serves jobs without settings of their own. */
  if (self->pool != NULL && !sequence_parallel_lost (self))
    return TRUE;
  if (self->pool != NULL)
    return start_locked (self, &self->active, self->active_workers, FALSE, error);
  return start_locked (self, &defaults, self->n_workers, FALSE, error);
}

/* The pool a SAMPLE with @parallel (NULL: the defaults) runs on. */
static gboolean
start_for_sample (RlPoolService         *self,
                  const RlPoolParallel  *parallel,
                  GError               **error)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&self->lock);
  RlPoolParallel want = parallel ? *parallel : default_parallel (self);
  guint n = parallel ? MAX (world_of (&want), 1) : self->n_workers;

  if (want.fsdp_degree < 1)
    want.fsdp_degree = 1;
  return start_locked (self, &want, n, parallel != NULL, error);
}

RlPoolParallel
rl_pool_service_get_default_parallel (RlPoolService *self)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&self->lock);
  return default_parallel (self);
}

gboolean
rl_pool_service_get_active (RlPoolService   *self,
                            RlPoolParallel  *parallel,
                            guint           *n_workers)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&self->lock);

  if (self->pool == NULL)
    return FALSE;
  if (parallel != NULL)
    *parallel = self->active;
  if (n_workers != NULL)
    *n_workers = self->active_workers;
  return TRUE;
}

guint
rl_pool_service_get_n_workers (RlPoolService *self)
{
  return self->n_workers;
}

gboolean
rl_pool_service_free_memory (RlPoolService  *self,
                             GError        **error)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&self->lock);
  RlErrorInfo info = { 0 };

  if (self->pool == NULL || rl_pool_free_memory (self->pool, NULL, &info) == 0)
    return TRUE;
  g_propagate_error (error, error_from_info (&info, "Freeing the workers' memory"));
  return FALSE;
}

void
rl_pool_service_stop (RlPoolService *self)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&self->lock);

  g_clear_pointer (&self->pool, rl_pool_free);
  forget_crashes (self);
}

GArray *
rl_pool_service_list_workers (RlPoolService *self)
{
  GArray *workers;

  /* Start and stop hold the lock for seconds; the UI polls from its main
   * loop and must not wait for them. */
  if (!g_mutex_trylock (&self->lock))
    return NULL;
  workers = g_array_new (FALSE, TRUE, sizeof (RlWorkerInfo));

  for (int r = 0; self->pool != NULL && r < rl_pool_size (self->pool); r++)
    {
      RlWorkerInfo info;

      if (rl_pool_worker_info (self->pool, r, &info) != 0)
        continue;
      g_mutex_lock (&self->notes_lock);
      if (info.last_error[0] == '\0' && (guint) r < self->crash_notes->len &&
          g_ptr_array_index (self->crash_notes, r) != NULL)
        g_strlcpy (info.last_error, g_ptr_array_index (self->crash_notes, r), sizeof info.last_error);
      g_mutex_unlock (&self->notes_lock);
      g_array_append_val (workers, info);
    }
  g_mutex_unlock (&self->lock);
  return workers;
}

static RlPoolTopology *
run_self_test (RlPoolService  *self,
               gboolean        refresh,
               GError        **error)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&self->topology_lock);
  const char *captured = g_getenv ("RAYLIGHT_TOPOLOGY_FILE");

  if (self->topology == NULL || refresh)
    {
      RlPoolTopology *topology;

      if (captured != NULL && *captured != '\0')
        topology = rl_pool_topology_load_file (captured, error);
      else
        {
          g_autofree char *tool = rl_pool_topology_find_tool ();
          /* 2 × 256 MiB copies per ordered pair take well under a second
           * on a working machine; a hung GPU must not hang the app. */
          topology = rl_pool_topology_run (tool, TRUE, 60, error);
        }
      if (topology == NULL)
        return NULL;
      g_clear_pointer (&self->topology, rl_pool_topology_unref);
      self->topology = topology;
    }
  return rl_pool_topology_ref (self->topology);
}

RlPoolTopology *
rl_pool_service_get_topology (RlPoolService  *self,
                              gboolean        refresh,
                              GError        **error)
{
  return run_self_test (self, refresh, error);
}

char *
rl_pool_service_describe (RlPoolService *self)
{
  g_autoptr(GString) json = g_string_new (NULL);

  g_mutex_lock (&self->lock);
  /* A running pool may have the worker count of a Parallel Settings node. */
  g_string_append_printf (json, "{\"backend\":\"%s\",\"workers\":%u",
                          self->devices == RL_POOL_DEVICES_CUDA ? "cuda" : "cpu",
                          self->pool != NULL ? self->active_workers : self->n_workers);
  if (self->pool != NULL)
    {
      RlWorkerInfo info;
      g_string_append (json, ",\"devices\":[");
      for (guint r = 0; r < self->active_workers; r++)
        if (rl_pool_worker_info (self->pool, (int) r, &info) == 0)
          {
            g_autofree char *name = g_strescape (info.device_name, NULL);
            g_string_append_printf (json, "%s{\"rank\":%u,\"name\":\"%s\"}", r ? "," : "", r, name);
          }
      g_string_append_c (json, ']');
    }
  RlPoolParallel shape = self->pool != NULL ? self->active : default_parallel (self);
  g_mutex_unlock (&self->lock);
  if (shape.cfg_degree * shape.data_degree > 1)
    g_string_append_printf (json, ",\"parallel\":\"%s\",\"ulysses\":%u,\"ring\":%u,"
                            "\"cfg\":%u,\"data\":%u}",
                            shape.ulysses_degree * shape.ring_degree > 1 ? "usp" : "batch",
                            shape.ulysses_degree, shape.ring_degree, shape.cfg_degree,
                            shape.data_degree);
  else if (shape.ulysses_degree * shape.ring_degree > 1)
    g_string_append_printf (json, ",\"parallel\":\"usp\",\"ulysses\":%u,\"ring\":%u}",
                            shape.ulysses_degree, shape.ring_degree);
  else
    g_string_append (json, ",\"parallel\":\"none\"}");
  return g_string_free (g_steal_pointer (&json), FALSE);
}

/* ------------------------------------------------ waiting on a request */

/* A pool call runs on a thread of its own so the node's thread can watch
 * for an interrupt and relay progress; progress arrives on the pool's
 * supervisor threads and is handed over through this slot. */
typedef struct {
  GMutex           lock;
  GCond            cond;
  gboolean         done;
  gboolean         have_progress;
  guint            step;
  guint            total;
  RlImage         *preview;        /* owned, latest */
  /* the call */
  RlPool          *pool;
  gboolean         is_load;
  const char      *path;
  const char      *options;
  RlPoolCall      *calls;
  int             *ranks;
  int              n;
  RlPoolResult    *results;
  RlErrorInfo      info;
  int              status;
} Waiter;

static RlImage *
preview_from_tensor (RlSharedTensor *tensor)
{
  const RlTensorDesc *desc = rl_shared_tensor_desc (tensor);
  RlImage *image;

  if (desc->dtype != RL_WIRE_DTYPE_F32 || desc->ndim != 4 || desc->shape[3] != 3 ||
      desc->shape[0] == 0 || desc->shape[0] > 4096 || desc->shape[1] > 4096 || desc->shape[2] > 4096)
    return NULL;
  image = rl_image_new ((guint) desc->shape[0], (guint) desc->shape[1], (guint) desc->shape[2], NULL);
  if (image != NULL)
    memcpy (image->pixels, rl_shared_tensor_data (tensor), rl_image_n_floats (image) * sizeof (float));
  return image;
}

static void
on_progress (const RlPoolProgress *progress,
             void                 *user_data)
{
  Waiter *w = user_data;
  RlImage *preview = NULL;

  if (progress->rank != 0)
    return;
  if (progress->preview != NULL)
    preview = preview_from_tensor (progress->preview);
  g_mutex_lock (&w->lock);
  w->have_progress = TRUE;
  if (progress->kind == RL_PROGRESS_LOAD_BYTES)
    {
      w->step = (guint) (progress->done >> 20);
      w->total = (guint) MAX (progress->total >> 20, 1);
    }
  else
    {
      w->step = (guint) progress->done;
      w->total = (guint) progress->total;
    }
  if (preview != NULL)
    {
      g_clear_pointer (&w->preview, rl_image_free);
      w->preview = preview;
    }
  g_cond_signal (&w->cond);
  g_mutex_unlock (&w->lock);
}

static gpointer
call_thread (gpointer data)
{
  Waiter *w = data;
  int status;

  if (w->is_load)
    status = rl_pool_load_model (w->pool, -1, w->path, w->options, on_progress, w, 0, NULL, &w->info);
  else
    status = rl_pool_call_group (w->pool, w->ranks, w->n, w->calls, w->results, &w->info);
  g_mutex_lock (&w->lock);
  w->status = status;
  w->done = TRUE;
  g_cond_signal (&w->cond);
  g_mutex_unlock (&w->lock);
  return NULL;
}

/* A rank died or stopped answering: the message names it and the signal
 * (the pool's text); this adds what the user can do. The pool restarts
 * such a rank by itself, so running the job again is the answer, unless
 * the rank failed too often and the pool gave up on it. */
static void
append_lost_worker_advice (RlPool *pool,
                           int     code,
                           GError *error)
{
  const char *advice = code == RL_WIRE_HUNG
    ? "The pool restarts the worker: run the job again. If it stops answering again, see the "
      "worker's messages on stderr"
    : "The pool restarts the worker: run the job again. If it dies again, see the worker's "
      "messages on stderr (a SIGKILL that nobody sent is usually the kernel's out-of-memory killer)";
  char *message;

  for (int r = 0; r < rl_pool_size (pool); r++)
    {
      RlWorkerInfo info;

      if (rl_pool_worker_info (pool, r, &info) == 0 && info.state == RL_WORKER_FAILED)
        advice = "The pool gave up on the worker: stop and start the pool (Pool settings) or "
                 "restart Raylight, and see the worker's messages on stderr";
    }
  message = g_strdup_printf ("%s. %s.", error->message, advice);
  g_free (error->message);
  error->message = message;
}

/* Runs @w's call and waits, relaying progress to @ctx and cancelling every
 * rank once when the job is interrupted. FALSE with the error. */
static gboolean
wait_for_call (Waiter         *w,
               RlNodeContext  *ctx,
               const char     *what,
               GError        **error)
{
  GThread *thread;
  gboolean interrupted = FALSE;

  g_mutex_init (&w->lock);
  g_cond_init (&w->cond);
  thread = g_thread_new ("pool-call", call_thread, w);

  g_mutex_lock (&w->lock);
  while (!w->done)
    {
      gint64 deadline = g_get_monotonic_time () + POLL_INTERVAL_US;
      g_cond_wait_until (&w->cond, &w->lock, deadline);
      if (w->have_progress && ctx != NULL)
        {
          guint step = w->step, total = w->total;
          RlImage *preview = g_steal_pointer (&w->preview);
          w->have_progress = FALSE;
          g_mutex_unlock (&w->lock);
          rl_node_context_report_progress (ctx, step, total, preview);
          g_clear_pointer (&preview, rl_image_free);
          g_mutex_lock (&w->lock);
        }
      if (!interrupted && ctx != NULL && !w->done)
        {
          g_autoptr(GError) stop = NULL;
          g_mutex_unlock (&w->lock);
          if (!rl_node_context_check_interrupt (ctx, &stop))
            {
              interrupted = TRUE;
              rl_pool_cancel (w->pool, -1);
            }
          g_mutex_lock (&w->lock);
        }
    }
  g_mutex_unlock (&w->lock);
  g_thread_join (thread);
  g_clear_pointer (&w->preview, rl_image_free);
  g_mutex_clear (&w->lock);
  g_cond_clear (&w->cond);

  if (interrupted)
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INTERRUPTED, "%s: interrupted", what);
      return FALSE;
    }
  if (w->status != 0)
    {
      GError *failure = error_from_info (&w->info, what);

      if (w->info.code == RL_WIRE_CRASHED || w->info.code == RL_WIRE_HUNG)
        append_lost_worker_advice (w->pool, w->info.code, failure);
      g_propagate_error (error, failure);
      return FALSE;
    }
  return TRUE;
}

gboolean
rl_pool_service_load_model (RlPoolService  *self,
                            const char     *path,
                            const char     *options,
                            RlNodeContext  *ctx,
                            GError        **error)
{
  g_autofree char *what = NULL;
  g_autofree char *base = g_path_get_basename (path);
  Waiter w = { 0 };

  if (!rl_pool_service_start (self, error))
    return FALSE;
  what = g_strdup_printf ("Loading %s on the workers", base);
  w.pool = self->pool;
  w.is_load = TRUE;
  w.path = path;
  w.options = options ? options : "";
  return wait_for_call (&w, ctx, what, error);
}

gboolean
rl_pool_service_run (RlPoolService          *self,
                     RlMessageType           type,
                     const char             *family,
                     const void             *params,
                     gsize                   params_size,
                     RlSharedTensor *const  *tensors,
                     int                     n_tensors,
                     RlNodeContext          *ctx,
                     RlPoolResult           *result,
                     GError                **error)
{
  return rl_pool_service_run_parallel (self, NULL, type, family, params, params_size, tensors,
                                       n_tensors, ctx, result, error);
}

gboolean
rl_pool_service_run_parallel (RlPoolService          *self,
                              const RlPoolParallel   *parallel,
                              RlMessageType           type,
                              const char             *family,
                              const void             *params,
                              gsize                   params_size,
                              RlSharedTensor *const  *tensors,
                              int                     n_tensors,
                              RlNodeContext          *ctx,
                              RlPoolResult           *result,
                              GError                **error)
{
  g_autofree RlPoolCall *calls = NULL;
  g_autofree int *ranks = NULL;
  g_autofree RlPoolResult *results = NULL;
  g_autofree char *what = NULL;
  Waiter w = { 0 };
  int n;
  gboolean ok;

  memset (result, 0, sizeof *result);
  if (type == RL_MSG_SAMPLE ? !start_for_sample (self, parallel, error)
                            : !rl_pool_service_start (self, error))
    return FALSE;
  n = (int) self->active_workers;
  calls = g_new0 (RlPoolCall, n);
  ranks = g_new0 (int, n);
  results = g_new0 (RlPoolResult, n);
  for (int r = 0; r < n; r++)
    {
      ranks[r] = r;
      calls[r].type = type;
      calls[r].family = family ? family : "";
      calls[r].params = params;
      calls[r].params_size = params_size;
      calls[r].tensors = tensors;
      calls[r].n_tensors = n_tensors;
      calls[r].progress = on_progress;
      calls[r].user_data = &w;
      calls[r].timeout_ms = -1;
    }
  what = g_strdup_printf ("%s on the workers", rl_message_type_name (type));
  w.pool = self->pool;
  w.calls = calls;
  w.ranks = ranks;
  w.n = n;
  w.results = results;
  ok = wait_for_call (&w, ctx, what, error);
  if (ok)
    {
      *result = results[0];
      memset (&results[0], 0, sizeof results[0]);
    }
  else if (n > 1)
    {
      /* A failed or interrupted parallel job may have left collectives
       * aborted or ranks out of step: the next job gets a fresh pool. */
      g_mutex_lock (&self->lock);
      self->restart_needed = TRUE;
      g_mutex_unlock (&self->lock);
    }
  for (int r = 0; r < n; r++)
    rl_pool_result_clear (&results[r]);
  return ok;
}
