/* RlRunService: pool, executor, queue and history for the app, and the
 * hand-over of engine events from the runner thread to the main loop. */
#include "ui/run/rl-run-service.h"

#include <errno.h>
#include <string.h>

#include "engine/engine-error.h"
#include "engine/graph/graph.h"
#include "engine/graph/image.h"
#include "engine/graph/registry.h"
#include "engine/graph/seed-control.h"
#include "engine/graph/validate.h"
#include "engine/graph/workflow.h"
#include "engine/pool/pool-service.h"
#include "engine/run/executor.h"
#include "engine/run/history.h"
#include "ui/pool/rl-pool-config.h"
#include "ui/run/rl-preview-frames.h"
#include "ui/viewer/rl-video-frames.h"

struct _RlRunService
{
  GObject         parent_instance;
  RlRegistry     *registry;
  GMutex          pool_lock;      /* guards pool against a swap during free-memory */
  RlPoolService  *pool;
  RlExecutor     *executor;
  RlHistory      *history;
  char           *history_error;
  RlJobQueue     *queue;
  char           *output_dir;
  GListStore     *jobs;
  GHashTable     *by_id;          /* gint64* -> RlJobItem* (borrowed from jobs) */
  GPtrArray      *finished;       /* RlJobItem*, in the order they ended */
  GSettings      *settings;       /* the Pool settings followed, or NULL */
  guint           pool_settings_idle;
  gboolean        pool_change_pending;
  char           *pool_error;
  GPtrArray      *retired_pools;  /* RlPoolService*, stopped, freed with the service */
};

G_DEFINE_FINAL_TYPE (RlRunService, rl_run_service, G_TYPE_OBJECT)

enum { SIGNAL_JOB_STARTED, SIGNAL_JOB_FINISHED, SIGNAL_POOL_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

/* ---- Events, from the runner thread to the main loop ----------------------- */

/* What the main loop needs of one RlEvent, copied since the event's
 * pointers live only for the callback. */
typedef struct {
  RlRunService  *service;     /* a reference */
  RlEventKind    kind;
  gint64         job_id;
  char          *node_title;
  guint          step;
  guint          total;
  GPtrArray     *preview;     /* GdkTexture*, made on the runner thread */
  char          *path;
  char          *error;
  RlJobStatus    status;
  double         elapsed_s;
  gint64         time_us;
} EventCopy;

static void
event_copy_free (gpointer data)
{
  EventCopy *copy = data;

  g_object_unref (copy->service);
  g_free (copy->node_title);
  g_clear_pointer (&copy->preview, g_ptr_array_unref);
  g_free (copy->path);
  g_free (copy->error);
  g_free (copy);
}

static void reorder_items (RlRunService *self);
static gboolean apply_pool_settings_idle (gpointer data);

static void
on_thumbnail_loaded (GObject      *source,
                     GAsyncResult *result,
                     gpointer      data)
{
  g_autoptr(RlJobItem) item = data;
  g_autoptr(RlVideoFrames) frames = rl_video_frames_load_finish (result, NULL);

  /* An output that cannot be decoded (a latent file) has no thumbnail. */
  if (frames != NULL && rl_job_item_get_preview (item) == NULL)
    rl_job_item_set_preview (item, g_ptr_array_ref (frames->textures));
}

/* A finished job that showed no preview (its sampler was cached, or it
 * has none) gets its output's first frame as a thumbnail. */
static void
load_thumbnail (RlJobItem *item)
{
  GPtrArray *outputs = rl_job_item_get_outputs (item);

  if (rl_job_item_get_preview (item) != NULL || outputs->len == 0)
    return;
  rl_video_frames_load_async (g_ptr_array_index (outputs, outputs->len - 1), 1, NULL, on_thumbnail_loaded,
                              g_object_ref (item));
}

static gboolean
apply_event (gpointer data)
{
  EventCopy *copy = data;
  RlRunService *self = copy->service;
  RlJobItem *item = rl_run_service_lookup (self, copy->job_id);

  if (item == NULL)
    return G_SOURCE_REMOVE;
  switch (copy->kind)
    {
    case RL_EVENT_JOB_STARTED:
      rl_job_item_set_status (item, RL_JOB_RUNNING, 0);
      reorder_items (self);
      g_signal_emit (self, signals[SIGNAL_JOB_STARTED], 0, item);
      break;
    case RL_EVENT_NODE_STARTED:
      rl_job_item_set_node (item, copy->node_title);
      break;
    case RL_EVENT_PROGRESS:
      rl_job_item_set_progress (item, copy->step, copy->total, copy->time_us);
      break;
    case RL_EVENT_PREVIEW:
      if (copy->preview != NULL && copy->preview->len > 0)
        rl_job_item_set_preview (item, g_steal_pointer (&copy->preview));
      break;
    case RL_EVENT_OUTPUT_FILE:
      rl_job_item_add_output (item, copy->path);
      break;
    case RL_EVENT_ERROR:
      rl_job_item_set_error (item, copy->error);
      break;
    case RL_EVENT_JOB_FINISHED:
      if (copy->error != NULL && rl_job_item_get_error (item) == NULL && copy->status == RL_JOB_FAILED)
        rl_job_item_set_error (item, copy->error);
      rl_job_item_set_status (item, copy->status, copy->elapsed_s);
      if (copy->status == RL_JOB_SUCCEEDED)
        load_thumbnail (item);
      g_ptr_array_add (self->finished, item);
      reorder_items (self);
      if (self->pool_change_pending && self->pool_settings_idle == 0)
        self->pool_settings_idle = g_idle_add (apply_pool_settings_idle, self);
      g_signal_emit (self, signals[SIGNAL_JOB_FINISHED], 0, item);
      break;
    case RL_EVENT_JOB_QUEUED:
    case RL_EVENT_NODE_CACHED:
    case RL_EVENT_NODE_FINISHED:
      break;
    }
  return G_SOURCE_REMOVE;
}

/* On the runner thread (or the enqueuing / cancelling one): copy and post.
 * Always posted, never run in place, so the item of a job that is being
 * queued exists by the time its events are applied. */
static void
on_queue_event (const RlEvent *event,
                gpointer       user_data)
{
  RlRunService *self = user_data;
  EventCopy *copy = g_new0 (EventCopy, 1);
  GSource *source;

  copy->service = g_object_ref (self);
  copy->kind = event->kind;
  copy->job_id = event->job_id;
  copy->node_title = g_strdup (event->node_title != NULL ? event->node_title : event->node_type);
  copy->step = event->step;
  copy->total = event->total;
  if (event->kind == RL_EVENT_PREVIEW && event->preview != NULL)
    copy->preview = rl_preview_frames_textures (event->preview);
  copy->path = g_strdup (event->path);
  copy->error = event->error != NULL ? g_strdup (event->error->message) : NULL;
  copy->status = event->status;
  copy->elapsed_s = event->elapsed_s;
  copy->time_us = g_get_monotonic_time ();

  source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, apply_event, copy, event_copy_free);
  g_source_set_static_name (source, "[raylight] job event");
  g_source_attach (source, NULL);
  g_source_unref (source);
}

/* ---- Item order -------------------------------------------------------------- */

static void
reorder_items (RlRunService *self)
{
  /* Holds references: the splice below drops the store's own first. */
  g_autoptr(GPtrArray) order = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GArray) pending = NULL;
  gint64 running = 0;
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->jobs));
  gboolean same = TRUE;

  if (self->queue != NULL)
    {
      running = rl_job_queue_get_running (self->queue);
      pending = rl_job_queue_list_pending (self->queue);
    }
  /* The engine may already run a job whose JOB_STARTED is still on its
   * way; the item's own state decides what the panel shows. */
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(RlJobItem) item = g_list_model_get_item (G_LIST_MODEL (self->jobs), i);

      if (rl_job_item_get_status (item) == RL_JOB_RUNNING)
        g_ptr_array_add (order, g_object_ref (item));
    }
  for (guint i = 0; pending != NULL && i < pending->len; i++)
    {
      RlJobItem *item = rl_run_service_lookup (self, g_array_index (pending, gint64, i));

      if (item != NULL && rl_job_item_get_status (item) == RL_JOB_QUEUED)
        g_ptr_array_add (order, g_object_ref (item));
    }
  /* Queued items the engine has taken but not yet announced as started. */
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(RlJobItem) item = g_list_model_get_item (G_LIST_MODEL (self->jobs), i);

      if (rl_job_item_get_status (item) == RL_JOB_QUEUED && !g_ptr_array_find (order, item, NULL))
        g_ptr_array_insert (order, rl_job_item_get_id (item) == running ? 0 : -1, g_object_ref (item));
    }
  for (guint i = self->finished->len; i > 0; i--)
    g_ptr_array_add (order, g_object_ref (g_ptr_array_index (self->finished, i - 1)));

  g_return_if_fail (order->len == n);
  for (guint i = 0; i < n && same; i++)
    {
      g_autoptr(RlJobItem) item = g_list_model_get_item (G_LIST_MODEL (self->jobs), i);

      same = item == g_ptr_array_index (order, i);
    }
  if (!same)
    g_list_store_splice (self->jobs, 0, n, order->pdata, order->len);
}

/* ---- Lifetime ------------------------------------------------------------------ */

static void
rl_run_service_dispose (GObject *object)
{
  rl_run_service_shutdown (RL_RUN_SERVICE (object));
  G_OBJECT_CLASS (rl_run_service_parent_class)->dispose (object);
}

static void
rl_run_service_finalize (GObject *object)
{
  RlRunService *self = RL_RUN_SERVICE (object);

  g_clear_pointer (&self->registry, rl_registry_unref);
  g_mutex_clear (&self->pool_lock);
  g_free (self->history_error);
  g_free (self->pool_error);
  g_clear_object (&self->settings);
  g_free (self->output_dir);
  g_hash_table_unref (self->by_id);
  g_ptr_array_unref (self->finished);
  g_ptr_array_unref (self->retired_pools);
  g_object_unref (self->jobs);
  G_OBJECT_CLASS (rl_run_service_parent_class)->finalize (object);
}

static void
rl_run_service_class_init (RlRunServiceClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = rl_run_service_dispose;
  G_OBJECT_CLASS (klass)->finalize = rl_run_service_finalize;
  signals[SIGNAL_JOB_FINISHED] = g_signal_new ("job-finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                               0, NULL, NULL, NULL, G_TYPE_NONE, 1, RL_TYPE_JOB_ITEM);
  signals[SIGNAL_JOB_STARTED] = g_signal_new ("job-started", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                              0, NULL, NULL, NULL, G_TYPE_NONE, 1, RL_TYPE_JOB_ITEM);
  signals[SIGNAL_POOL_CHANGED] = g_signal_new ("pool-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                               0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
rl_run_service_init (RlRunService *self)
{
  g_mutex_init (&self->pool_lock);
  self->jobs = g_list_store_new (RL_TYPE_JOB_ITEM);
  self->by_id = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  self->finished = g_ptr_array_new ();
  self->retired_pools = g_ptr_array_new_with_free_func ((GDestroyNotify) rl_pool_service_free);
}

static char *
default_output_dir (void)
{
  const char *env = g_getenv ("RAYLIGHT_OUTPUT_DIR");
  const char *videos = g_get_user_special_dir (G_USER_DIRECTORY_VIDEOS);

  if (env != NULL && *env != '\0')
    return g_strdup (env);
  return g_build_filename (videos != NULL ? videos : g_get_home_dir (), "Raylight", NULL);
}

RlRunService *
rl_run_service_new (RlRegistry *registry)
{
  RlRunService *self = g_object_new (RL_TYPE_RUN_SERVICE, NULL);
  g_autoptr(GError) error = NULL;

  self->registry = rl_registry_ref (registry);
  self->output_dir = default_output_dir ();
  self->history = rl_history_open (g_getenv ("RAYLIGHT_HISTORY"), &error);
  if (self->history == NULL)
    {
      self->history_error = g_strdup (error->message);
      g_warning ("Jobs are not recorded: %s", error->message);
    }
  /* Workers start when the first job needs them. */
  self->pool = rl_pool_service_new (NULL);
  self->executor = rl_executor_new (registry);
  rl_executor_set_pool_service (self->executor, self->pool);
  self->queue = rl_job_queue_new (self->executor, self->history);
  rl_job_queue_add_listener (self->queue, on_queue_event, self);
  return self;
}

void
rl_run_service_shutdown (RlRunService *self)
{
  g_return_if_fail (RL_IS_RUN_SERVICE (self));
  g_clear_handle_id (&self->pool_settings_idle, g_source_remove);
  /* The queue first (it runs on the executor), then the executor (it
   * borrows the pool), then the workers. */
  g_clear_pointer (&self->queue, rl_job_queue_free);
  g_clear_pointer (&self->executor, rl_executor_free);
  g_mutex_lock (&self->pool_lock);
  g_clear_pointer (&self->pool, rl_pool_service_free);
  g_mutex_unlock (&self->pool_lock);
  g_ptr_array_set_size (self->retired_pools, 0);
  g_clear_pointer (&self->history, rl_history_close);
}

/* ---- Queries ------------------------------------------------------------------- */

GListModel *
rl_run_service_get_jobs (RlRunService *self)
{
  g_return_val_if_fail (RL_IS_RUN_SERVICE (self), NULL);
  return G_LIST_MODEL (self->jobs);
}

RlJobItem *
rl_run_service_lookup (RlRunService *self,
                       gint64        job_id)
{
  g_return_val_if_fail (RL_IS_RUN_SERVICE (self), NULL);
  return g_hash_table_lookup (self->by_id, &job_id);
}

RlHistory *
rl_run_service_get_history (RlRunService *self)
{
  g_return_val_if_fail (RL_IS_RUN_SERVICE (self), NULL);
  return self->history;
}

const char *
rl_run_service_get_history_error (RlRunService *self)
{
  g_return_val_if_fail (RL_IS_RUN_SERVICE (self), NULL);
  return self->history_error;
}

const char *
rl_run_service_get_output_dir (RlRunService *self)
{
  g_return_val_if_fail (RL_IS_RUN_SERVICE (self), NULL);
  return self->output_dir;
}

/* ---- Queueing ------------------------------------------------------------------ */

static gboolean
check_running (RlRunService  *self,
               GError       **error)
{
  if (self->queue != NULL)
    return TRUE;
  g_set_error_literal (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_EXECUTION, "Raylight is shutting down");
  return FALSE;
}

/* The pool's shape once a job is over, for its history entry (a Parallel
 * Settings node regroups the workers only when its SAMPLE runs). */
static char *
describe_pool_for_history (gpointer self)
{
  return rl_run_service_describe_pool (self);
}

gint64
rl_run_service_queue_workflow (RlRunService   *self,
                               RlWorkflow     *workflow,
                               const char     *title,
                               RlJobPosition   position,
                               guint           count,
                               GError        **error)
{
  g_autoptr(RlGraph) graph = NULL;
  g_autofree char *device_config = NULL;
  RlJobOptions options = { 0 };
  gint64 first = 0;

  g_return_val_if_fail (RL_IS_RUN_SERVICE (self), 0);
  if (!check_running (self, error))
    return 0;
  graph = rl_workflow_to_graph (workflow, self->registry, error);
  if (graph == NULL || !rl_graph_check (graph, self->registry, error))
    return 0;
  if (g_mkdir_with_parents (self->output_dir, 0755) != 0)
    {
      int saved = errno;

      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_IO, "The output folder %s cannot be created: %s",
                   self->output_dir, g_strerror (saved));
      return 0;
    }
  g_mutex_lock (&self->pool_lock);
  device_config = rl_pool_service_describe (self->pool);
  g_mutex_unlock (&self->pool_lock);
  options.output_dir = self->output_dir;
  options.device_config_json = device_config;
  options.describe_devices = describe_pool_for_history;
  options.describe_devices_data = self;

  for (guint i = 0; i < MAX (count, 1); i++)
    {
      /* Several jobs to the front keep their order: each goes behind the
       * one queued just before it. */
      RlJobPosition where = position == RL_JOB_POSITION_FRONT && i > 0 ? RL_JOB_POSITION_BACK : position;
      g_autofree char *workflow_json = NULL;
      g_autofree char *prompt_json = NULL;
      g_autofree char *job_title = NULL;
      RlJobItem *item;
      gint64 id;

      /* Each job runs the seeds the document has now, then they move on
       * for the next one (ComfyUI's control_after_generate). */
      if (i > 0)
        {
          g_array_unref (rl_workflow_apply_seed_controls (workflow, self->registry, NULL));
          g_clear_pointer (&graph, rl_graph_unref);
          graph = rl_workflow_to_graph (workflow, self->registry, error);
          if (graph == NULL || !rl_graph_check (graph, self->registry, error))
            return first;
        }
      workflow_json = rl_workflow_to_string (workflow, FALSE);
      prompt_json = rl_graph_to_prompt_string (graph, FALSE);
      options.workflow_json = workflow_json;
      options.prompt_json = prompt_json;
      id = rl_job_queue_enqueue (self->queue, graph, &options, where, error);
      if (id <= 0)
        return first;
      if (where != position)
        {
          g_autoptr(GArray) pending = rl_job_queue_list_pending (self->queue);

          for (guint k = 0; k < pending->len; k++)
            if (g_array_index (pending, gint64, k) == first)
              {
                rl_job_queue_move (self->queue, id, k + i, NULL);
                break;
              }
        }
      job_title = g_strdup_printf ("#%" G_GINT64_FORMAT " %s", id, title);
      item = rl_job_item_new (id, job_title, workflow_json);
      g_list_store_append (self->jobs, item);
      g_hash_table_insert (self->by_id, g_memdup2 (&id, sizeof id), item);
      g_object_unref (item);
      if (first == 0)
        first = id;
    }
  g_array_unref (rl_workflow_apply_seed_controls (workflow, self->registry, NULL));
  reorder_items (self);
  return first;
}

gboolean
rl_run_service_cancel (RlRunService  *self,
                       gint64         job_id,
                       GError       **error)
{
  g_return_val_if_fail (RL_IS_RUN_SERVICE (self), FALSE);
  return check_running (self, error) && rl_job_queue_cancel (self->queue, job_id, error);
}

gboolean
rl_run_service_interrupt (RlRunService *self,
                          gint64        job_id)
{
  g_return_val_if_fail (RL_IS_RUN_SERVICE (self), FALSE);
  return self->queue != NULL && rl_job_queue_interrupt (self->queue, job_id);
}

/* The place of waiting job @job_id in the run order, or -1 with an error
 * saying it is not waiting. */
static int
pending_index (GArray      *pending,
               gint64       job_id,
               const char  *what,
               GError     **error)
{
  for (guint i = 0; i < pending->len; i++)
    if (g_array_index (pending, gint64, i) == job_id)
      return (int) i;
  g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_EXECUTION,
               "Job %" G_GINT64_FORMAT " is not waiting, so %s", job_id, what);
  return -1;
}

static gboolean
move_to_index (RlRunService  *self,
               gint64         job_id,
               int            index,
               GError       **error)
{
  if (!rl_job_queue_move (self->queue, job_id, (guint) index, error))
    return FALSE;
  reorder_items (self);
  return TRUE;
}

gboolean
rl_run_service_move_by (RlRunService  *self,
                        gint64         job_id,
                        int            delta,
                        GError       **error)
{
  g_autoptr(GArray) pending = NULL;
  int index;

  g_return_val_if_fail (RL_IS_RUN_SERVICE (self), FALSE);
  if (!check_running (self, error))
    return FALSE;
  pending = rl_job_queue_list_pending (self->queue);
  index = pending_index (pending, job_id, "it cannot be moved", error);
  return index >= 0 && move_to_index (self, job_id, CLAMP (index + delta, 0, (int) pending->len - 1), error);
}

gboolean
rl_run_service_move_to (RlRunService  *self,
                        gint64         job_id,
                        gint64         target_id,
                        GError       **error)
{
  g_autoptr(GArray) pending = NULL;
  int target;

  g_return_val_if_fail (RL_IS_RUN_SERVICE (self), FALSE);
  if (!check_running (self, error))
    return FALSE;
  pending = rl_job_queue_list_pending (self->queue);
  if (pending_index (pending, job_id, "it cannot be moved", error) < 0)
    return FALSE;
  target = pending_index (pending, target_id, "no job can be moved to its place", error);
  return target >= 0 && (job_id == target_id || move_to_index (self, job_id, target, error));
}

void
rl_run_service_set_paused (RlRunService *self,
                           gboolean      paused)
{
  g_return_if_fail (RL_IS_RUN_SERVICE (self));
  if (self->queue == NULL)
    return;
  if (paused)
    rl_job_queue_pause (self->queue);
  else
    rl_job_queue_resume (self->queue);
}

gboolean
rl_run_service_get_paused (RlRunService *self)
{
  g_return_val_if_fail (RL_IS_RUN_SERVICE (self), FALSE);
  return self->queue != NULL && rl_job_queue_is_paused (self->queue);
}

/* ---- Memory and pool ----------------------------------------------------------- */

static void
free_memory_thread (GTask        *task,
                    gpointer      source,
                    gpointer      task_data,
                    GCancellable *cancellable)
{
  RlRunService *self = source;
  g_autoptr(GError) error = NULL;
  gboolean ok;

  g_mutex_lock (&self->pool_lock);
  ok = self->pool == NULL || rl_pool_service_free_memory (self->pool, &error);
  g_mutex_unlock (&self->pool_lock);
  if (ok)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, g_steal_pointer (&error));
}

void
rl_run_service_clear_cache (RlRunService *self)
{
  g_return_if_fail (RL_IS_RUN_SERVICE (self));
  if (self->executor != NULL)
    rl_executor_clear_cache (self->executor);
}

void
rl_run_service_free_memory_async (RlRunService        *self,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, callback, user_data);

  g_return_if_fail (RL_IS_RUN_SERVICE (self));
  /* Cached node results hold models and tensors on the app's side. */
  rl_run_service_clear_cache (self);
  g_task_run_in_thread (task, free_memory_thread);
}

gboolean
rl_run_service_free_memory_finish (RlRunService  *self,
                                   GAsyncResult  *result,
                                   GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Swaps in a pool made from @settings for the next jobs. Refused while a
 * job runs and for degrees the workers cannot form. */
static gboolean
replace_pool (RlRunService          *self,
              const RlPoolSettings  *settings,
              GError               **error)
{
  RlErrorInfo info = { 0 };
  RlPoolBackend backend = settings->devices == RL_POOL_DEVICES_CUDA ? RL_POOL_BACKEND_CUDA : RL_POOL_BACKEND_CPU;
  gboolean was_paused;
  RlPoolService *old;

  if (!check_running (self, error))
    return FALSE;
  if (rl_pool_check_parallel ((int) MAX (settings->n_workers, 1), backend, (int) MAX (settings->ulysses_degree, 1),
                              (int) MAX (settings->ring_degree, 1), &info) != RL_WIRE_OK)
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_VALIDATION, "%s", info.message);
      return FALSE;
    }
  /* Paused, no job can start between the check and the swap. */
  was_paused = rl_job_queue_is_paused (self->queue);
  rl_job_queue_pause (self->queue);
  if (rl_job_queue_get_running (self->queue) != 0)
    {
      if (!was_paused)
        rl_job_queue_resume (self->queue);
      g_set_error_literal (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_EXECUTION,
                           "The pool cannot change while a job runs; wait for it or interrupt it");
      return FALSE;
    }
  g_mutex_lock (&self->pool_lock);
  old = self->pool;
  self->pool = rl_pool_service_new (settings);
  rl_executor_set_pool_service (self->executor, self->pool);
  g_mutex_unlock (&self->pool_lock);
  /* Stops the old workers; their models go with them, and so must the
   * cached results that refer to them. The object itself stays until the
   * service goes: a Pool settings panel may still be reading it on a
   * thread (its self-test, its worker list). */
  rl_pool_service_stop (old);
  g_ptr_array_add (self->retired_pools, old);
  rl_executor_clear_cache (self->executor);
  if (!was_paused)
    rl_job_queue_resume (self->queue);
  self->pool_change_pending = FALSE;
  g_signal_emit (self, signals[SIGNAL_POOL_CHANGED], 0);
  return TRUE;
}

gboolean
rl_run_service_configure_pool (RlRunService  *self,
                               guint          n_workers,
                               guint          ulysses_degree,
                               guint          ring_degree,
                               GError       **error)
{
  RlPoolSettings settings = { 0 };
  g_autofree char *current = NULL;

  g_return_val_if_fail (RL_IS_RUN_SERVICE (self), FALSE);
  current = rl_run_service_describe_pool (self);
  settings.devices = strstr (current, "\"backend\":\"cuda\"") != NULL ? RL_POOL_DEVICES_CUDA : RL_POOL_DEVICES_CPU;
  settings.n_workers = MAX (n_workers, 1);
  settings.ulysses_degree = MAX (ulysses_degree, 1);
  settings.ring_degree = MAX (ring_degree, 1);
  return replace_pool (self, &settings, error);
}

/* The Pool settings keys as the pool panel saves them (rl-pool-config.h). */
static gboolean
apply_pool_settings (RlRunService  *self,
                     GError       **error)
{
  g_autoptr(RlPoolConfig) config = rl_pool_config_load (self->settings);
  g_auto(GStrv) env = rl_pool_config_worker_env (config);
  RlPoolSettings settings;

  rl_pool_config_to_settings (config, rl_pool_service_count_gpus (), (const char *const *) env, &settings);
  settings.ulysses_degree = MAX (config->ulysses, 1);
  settings.ring_degree = MAX (config->ring, 1);
  return replace_pool (self, &settings, error);
}

static gboolean
apply_pool_settings_idle (gpointer data)
{
  RlRunService *self = data;
  g_autoptr(GError) error = NULL;

  self->pool_settings_idle = 0;
  if (self->queue != NULL && rl_job_queue_get_running (self->queue) != 0)
    {
      /* Applied when the running job ends. */
      self->pool_change_pending = TRUE;
      return G_SOURCE_REMOVE;
    }
  if (!apply_pool_settings (self, &error))
    {
      g_free (self->pool_error);
      self->pool_error = g_strdup (error->message);
      g_message ("The pool settings are not used: %s", error->message);
      g_signal_emit (self, signals[SIGNAL_POOL_CHANGED], 0);
    }
  else
    g_clear_pointer (&self->pool_error, g_free);
  return G_SOURCE_REMOVE;
}

static void
on_pool_setting_changed (GSettings    *settings,
                         const char   *key,
                         RlRunService *self)
{
  if (!g_str_has_prefix (key, "pool-") && !g_str_has_prefix (key, "nccl-") && !g_str_equal (key, "collective-timeout"))
    return;
  /* A panel often sets several keys at once (workers, then degrees):
   * one new pool for all of them. */
  if (self->pool_settings_idle == 0)
    self->pool_settings_idle = g_idle_add (apply_pool_settings_idle, self);
}

void
rl_run_service_follow_settings (RlRunService *self,
                                GSettings    *settings)
{
  g_autoptr(GSettingsSchema) schema = NULL;

  g_return_if_fail (RL_IS_RUN_SERVICE (self));
  g_return_if_fail (G_IS_SETTINGS (settings));
  g_object_get (settings, "settings-schema", &schema, NULL);
  /* An older installed schema has no pool keys: the defaults stay. */
  if (schema == NULL || !g_settings_schema_has_key (schema, "pool-cpu-workers") ||
      !g_settings_schema_has_key (schema, "collective-timeout"))
    return;
  g_set_object (&self->settings, settings);
  g_signal_connect_object (settings, "changed", G_CALLBACK (on_pool_setting_changed), self, 0);
  apply_pool_settings_idle (self);
}

RlPoolService *
rl_run_service_get_pool (RlRunService *self)
{
  g_return_val_if_fail (RL_IS_RUN_SERVICE (self), NULL);
  return self->pool;
}

const char *
rl_run_service_get_pool_error (RlRunService *self)
{
  g_return_val_if_fail (RL_IS_RUN_SERVICE (self), NULL);
  return self->pool_error;
}

char *
rl_run_service_describe_pool (RlRunService *self)
{
  char *description;

  g_return_val_if_fail (RL_IS_RUN_SERVICE (self), NULL);
  g_mutex_lock (&self->pool_lock);
  description = self->pool != NULL ? rl_pool_service_describe (self->pool) : g_strdup ("{}");
  g_mutex_unlock (&self->pool_lock);
  return description;
}
