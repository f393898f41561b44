/* The job queue and its runner thread. See queue.h for the contract.
 *
 * One mutex guards the pending list, the job table and the listeners; it
 * is never held while a listener, the executor or history runs, so a
 * listener may call back into the queue. */
#include "engine/run/queue.h"

#include "engine/engine-error.h"
#include "engine/graph/graph.h"
#include "engine/run/history.h"

typedef struct {
  gint64         id;
  RlGraph       *graph;            /* released once the job is over */
  char          *output_dir;
  char          *workflow_json;
  char          *prompt_json;
  char        *(*describe_devices) (gpointer user_data);
  gpointer       describe_devices_data;
  RlEventFunc    listener;
  gpointer       listener_data;
  GCancellable  *cancellable;
  RlJobStatus    status;
  GError        *error;            /* why it did not succeed */
  RlRunReport    report;           /* the executor's, once finished */
} Job;

typedef struct {
  guint          id;
  RlEventFunc    func;
  gpointer       user_data;
} Listener;

struct _RlJobQueue {
  RlExecutor    *executor;
  RlHistory     *history;
  GMutex         lock;
  GCond          changed;          /* pending, paused, stopping or a job's status */
  GQueue         pending;          /* Job*, borrowed from jobs */
  Job           *running;
  GHashTable    *jobs;             /* id -> Job*, every job ever queued; owns them */
  GArray        *listeners;        /* Listener */
  guint          next_listener_id;
  gint64         next_job_id;      /* without history */
  gboolean       paused;
  gboolean       stopping;
  GThread       *runner;
};

static void
job_free (Job *job)
{
  g_clear_pointer (&job->graph, rl_graph_unref);
  g_free (job->output_dir);
  g_free (job->workflow_json);
  g_free (job->prompt_json);
  g_clear_object (&job->cancellable);
  g_clear_error (&job->error);
  rl_run_report_clear (&job->report);
  g_free (job);
}

static gboolean
status_is_final (RlJobStatus status)
{
  return status != RL_JOB_QUEUED && status != RL_JOB_RUNNING;
}

/* ---- events ----------------------------------------------------------- */

/* Delivers @event to the global listeners and @job's own, without the lock. */
static void
deliver (RlJobQueue     *self,
         Job            *job,
         const RlEvent  *event)
{
  g_mutex_lock (&self->lock);
  g_autoptr (GArray) listeners = g_array_copy (self->listeners);
  g_mutex_unlock (&self->lock);

  for (guint i = 0; i < listeners->len; i++)
    {
      const Listener *listener = &g_array_index (listeners, Listener, i);
      listener->func (event, listener->user_data);
    }
  if (job->listener != NULL)
    job->listener (event, job->listener_data);
}

static void
warn_history (const char *what,
              gint64      job_id,
              GError     *error)
{
  /* History is a record, not a reason to stop a generation. */
  g_warning ("Could not record %s of job %" G_GINT64_FORMAT " in history: %s",
             what, job_id, error->message);
  g_error_free (error);
}

static void
record_started (RlJobQueue *self,
                Job        *job)
{
  GError *error = NULL;
  if (self->history != NULL && !rl_history_mark_started (self->history, job->id, &error))
    warn_history ("the start", job->id, error);
}

static void
record_output (RlJobQueue *self,
               Job        *job,
               const char *path)
{
  GError *error = NULL;
  if (self->history != NULL
      && !rl_history_add_output (self->history, job->id, path, NULL, 0, 0, 0, &error))
    warn_history ("an output file", job->id, error);
}

/* For a job that ran: the pool's shape it was queued with was the
 * default one (a Parallel Settings node regroups the workers only when
 * its SAMPLE runs), so the configuration is described again at its end. */
static void
record_devices (RlJobQueue *self,
                Job        *job)
{
  g_autofree char *described = NULL;
  GError *error = NULL;

  if (self->history == NULL || job->describe_devices == NULL)
    return;
  described = job->describe_devices (job->describe_devices_data);
  if (!rl_history_set_device_config (self->history, job->id, described, &error))
    warn_history ("the devices", job->id, error);
}

static void
record_finished (RlJobQueue    *self,
                 Job           *job,
                 RlJobStatus    status,
                 const GError  *job_error)
{
  GError *error = NULL;
  if (self->history != NULL
      && !rl_history_mark_finished (self->history, job->id, status,
                                    job_error != NULL ? job_error->message : NULL, &error))
    warn_history ("the end", job->id, error);
}

/* The listener data of one job's run. */
typedef struct {
  RlJobQueue  *queue;
  Job         *job;
} JobRun;

/* The executor's listener for the running job (nodes may report from
 * their own threads): history first, so a listener that reads history
 * after an event sees it recorded. */
static void
forward_event (const RlEvent *event,
               gpointer       user_data)
{
  const JobRun *run = user_data;
  RlJobQueue *self = run->queue;
  Job *job = run->job;

  if (event->kind == RL_EVENT_JOB_STARTED)
    record_started (self, job);
  else if (event->kind == RL_EVENT_OUTPUT_FILE)
    record_output (self, job, event->path);
  else if (event->kind == RL_EVENT_JOB_FINISHED)
    {
      record_devices (self, job);
      record_finished (self, job, event->status, event->error);
    }
  deliver (self, job, event);
}

/* ---- runner ----------------------------------------------------------- */

/* Waits for the next job to run; NULL when the queue is stopping. */
static Job *
take_next_job (RlJobQueue *self)
{
  g_mutex_lock (&self->lock);
  while (!self->stopping && (self->paused || g_queue_is_empty (&self->pending)))
    g_cond_wait (&self->changed, &self->lock);
  Job *job = NULL;
  if (!self->stopping)
    {
      job = g_queue_pop_head (&self->pending);
      job->status = RL_JOB_RUNNING;
      self->running = job;
      g_cond_broadcast (&self->changed);
    }
  g_mutex_unlock (&self->lock);
  return job;
}

static void
run_job (RlJobQueue *self,
         Job        *job)
{
  JobRun job_run = { .queue = self, .job = job };
  RlRunOptions options = {
    .job_id = job->id,
    .output_dir = job->output_dir,
    .prompt_json = job->prompt_json,
    .workflow_json = job->workflow_json,
    .cancellable = job->cancellable,
    .listener = forward_event,
    .listener_data = &job_run,
  };
  RlRunReport report = { 0 };
  GError *error = NULL;
  rl_executor_run (self->executor, job->graph, &options, &report, &error);

  g_mutex_lock (&self->lock);
  job->status = report.status;
  job->error = error;
  job->report = report;
  g_clear_pointer (&job->graph, rl_graph_unref);
  self->running = NULL;
  g_cond_broadcast (&self->changed);
  g_mutex_unlock (&self->lock);
}

static gpointer
runner_main (gpointer data)
{
  RlJobQueue *self = data;
  Job *job;
  while ((job = take_next_job (self)) != NULL)
    run_job (self, job);
  return NULL;
}

/* ---- public ----------------------------------------------------------- */

RlJobQueue *
rl_job_queue_new (RlExecutor *executor,
                  RlHistory  *history)
{
  g_return_val_if_fail (executor != NULL, NULL);

  RlJobQueue *self = g_new0 (RlJobQueue, 1);
  self->executor = executor;
  self->history = history;
  g_mutex_init (&self->lock);
  g_cond_init (&self->changed);
  g_queue_init (&self->pending);
  self->jobs = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, (GDestroyNotify) job_free);
  self->listeners = g_array_new (FALSE, FALSE, sizeof (Listener));
  self->runner = g_thread_new ("raylight-jobs", runner_main, self);
  return self;
}

/* Marks a job that never ran as cancelled and tells everyone (lock not
 * held). */
static void
finish_cancelled (RlJobQueue  *self,
                  Job         *job,
                  const char  *why)
{
  g_autoptr (GError) error = g_error_new (RL_ENGINE_ERROR, RL_ENGINE_ERROR_INTERRUPTED,
                                          "Job %" G_GINT64_FORMAT " was cancelled %s",
                                          job->id, why);
  record_finished (self, job, RL_JOB_CANCELLED, error);

  g_mutex_lock (&self->lock);
  job->status = RL_JOB_CANCELLED;
  job->error = g_error_copy (error);
  g_clear_pointer (&job->graph, rl_graph_unref);
  g_cond_broadcast (&self->changed);
  g_mutex_unlock (&self->lock);

  RlEvent event = { .kind = RL_EVENT_JOB_FINISHED, .job_id = job->id,
                    .status = RL_JOB_CANCELLED, .error = error };
  deliver (self, job, &event);
}

void
rl_job_queue_free (RlJobQueue *self)
{
  if (self == NULL)
    return;

  g_mutex_lock (&self->lock);
  self->stopping = TRUE;
  GQueue waiting = self->pending;
  g_queue_init (&self->pending);
  if (self->running != NULL)
    g_cancellable_cancel (self->running->cancellable);
  g_cond_broadcast (&self->changed);
  g_mutex_unlock (&self->lock);

  for (GList *l = waiting.head; l != NULL; l = l->next)
    finish_cancelled (self, l->data, "because Raylight closed its job queue before it ran");
  g_queue_clear (&waiting);
  g_thread_join (self->runner);

  g_hash_table_unref (self->jobs);
  g_array_unref (self->listeners);
  g_cond_clear (&self->changed);
  g_mutex_clear (&self->lock);
  g_free (self);
}

guint
rl_job_queue_add_listener (RlJobQueue  *self,
                           RlEventFunc  func,
                           gpointer     user_data)
{
  g_return_val_if_fail (self != NULL, 0);
  g_return_val_if_fail (func != NULL, 0);

  g_mutex_lock (&self->lock);
  Listener listener = { .id = ++self->next_listener_id, .func = func, .user_data = user_data };
  g_array_append_val (self->listeners, listener);
  g_mutex_unlock (&self->lock);
  return listener.id;
}

void
rl_job_queue_remove_listener (RlJobQueue *self,
                              guint       listener_id)
{
  g_return_if_fail (self != NULL);

  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->listeners->len; i++)
    if (g_array_index (self->listeners, Listener, i).id == listener_id)
      {
        g_array_remove_index (self->listeners, i);
        break;
      }
  g_mutex_unlock (&self->lock);
}

gint64
rl_job_queue_enqueue (RlJobQueue          *self,
                      RlGraph             *graph,
                      const RlJobOptions  *options,
                      RlJobPosition        position,
                      GError             **error)
{
  g_return_val_if_fail (self != NULL, 0);
  g_return_val_if_fail (graph != NULL, 0);
  g_return_val_if_fail (error == NULL || *error == NULL, 0);
  static const RlJobOptions no_options = { 0 };
  if (options == NULL)
    options = &no_options;

  Job *job = g_new0 (Job, 1);
  job->graph = rl_graph_ref (graph);
  job->output_dir = g_strdup (options->output_dir);
  job->workflow_json = g_strdup (options->workflow_json);
  job->prompt_json = options->prompt_json != NULL ? g_strdup (options->prompt_json)
                                                  : rl_graph_to_prompt_string (graph, FALSE);
  job->describe_devices = options->describe_devices;
  job->describe_devices_data = options->describe_devices_data;
  job->listener = options->listener;
  job->listener_data = options->listener_data;
  job->cancellable = g_cancellable_new ();
  job->status = RL_JOB_QUEUED;

  if (self->history != NULL)
    {
      RlHistoryJobInfo info = {
        .workflow_json = job->workflow_json,
        .prompt_json = job->prompt_json,
        .parameters_json = options->parameters_json,
        .device_config_json = options->device_config_json,
      };
      job->id = rl_history_add_job (self->history, &info, error);
      if (job->id == 0)
        {
          job_free (job);
          return 0;
        }
    }

  g_mutex_lock (&self->lock);
  if (self->history == NULL)
    job->id = ++self->next_job_id;
  g_hash_table_insert (self->jobs, &job->id, job);
  gint64 id = job->id;
  g_mutex_unlock (&self->lock);

  /* Announced before the runner can see it, so JOB_QUEUED always comes
   * before the job's other events. */
  RlEvent event = { .kind = RL_EVENT_JOB_QUEUED, .job_id = id, .status = RL_JOB_QUEUED };
  deliver (self, job, &event);

  g_mutex_lock (&self->lock);
  if (position == RL_JOB_POSITION_FRONT)
    g_queue_push_head (&self->pending, job);
  else
    g_queue_push_tail (&self->pending, job);
  g_cond_broadcast (&self->changed);
  g_mutex_unlock (&self->lock);
  return id;
}

static void
set_not_waiting (GError     **error,
                 Job         *job,
                 gint64       job_id)
{
  if (job == NULL)
    g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INVALID_WORKFLOW,
                 "There is no job %" G_GINT64_FORMAT " in the queue.", job_id);
  else
    g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INVALID_WORKFLOW,
                 "Job %" G_GINT64_FORMAT " is not waiting in the queue (it is %s).%s",
                 job_id, rl_job_status_to_string (job->status),
                 job->status == RL_JOB_RUNNING ? " Interrupt it instead." : "");
}

gboolean
rl_job_queue_cancel (RlJobQueue  *self,
                     gint64       job_id,
                     GError     **error)
{
  g_return_val_if_fail (self != NULL, FALSE);

  g_mutex_lock (&self->lock);
  Job *job = g_hash_table_lookup (self->jobs, &job_id);
  gboolean waiting = job != NULL && g_queue_remove (&self->pending, job);
  if (!waiting)
    set_not_waiting (error, job, job_id);
  g_mutex_unlock (&self->lock);
  if (!waiting)
    return FALSE;

  finish_cancelled (self, job, "by the user before it ran");
  return TRUE;
}

gboolean
rl_job_queue_interrupt (RlJobQueue *self,
                        gint64      job_id)
{
  g_return_val_if_fail (self != NULL, FALSE);

  g_mutex_lock (&self->lock);
  gboolean found = self->running != NULL && (job_id == 0 || self->running->id == job_id);
  if (found)
    g_cancellable_cancel (self->running->cancellable);
  g_mutex_unlock (&self->lock);
  return found;
}

gboolean
rl_job_queue_move (RlJobQueue  *self,
                   gint64       job_id,
                   guint        index,
                   GError     **error)
{
  g_return_val_if_fail (self != NULL, FALSE);

  g_mutex_lock (&self->lock);
  Job *job = g_hash_table_lookup (self->jobs, &job_id);
  gboolean waiting = job != NULL && g_queue_remove (&self->pending, job);
  if (waiting)
    g_queue_push_nth (&self->pending, job, (gint) MIN (index, self->pending.length));
  else
    set_not_waiting (error, job, job_id);
  g_mutex_unlock (&self->lock);
  return waiting;
}

void
rl_job_queue_pause (RlJobQueue *self)
{
  g_return_if_fail (self != NULL);
  g_mutex_lock (&self->lock);
  self->paused = TRUE;
  g_mutex_unlock (&self->lock);
}

void
rl_job_queue_resume (RlJobQueue *self)
{
  g_return_if_fail (self != NULL);
  g_mutex_lock (&self->lock);
  self->paused = FALSE;
  g_cond_broadcast (&self->changed);
  g_mutex_unlock (&self->lock);
}

gboolean
rl_job_queue_is_paused (RlJobQueue *self)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_mutex_lock (&self->lock);
  gboolean paused = self->paused;
  g_mutex_unlock (&self->lock);
  return paused;
}

GArray *
rl_job_queue_list_pending (RlJobQueue *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_mutex_lock (&self->lock);
  for (GList *l = self->pending.head; l != NULL; l = l->next)
    g_array_append_val (ids, ((Job *) l->data)->id);
  g_mutex_unlock (&self->lock);
  return ids;
}

gint64
rl_job_queue_get_running (RlJobQueue *self)
{
  g_return_val_if_fail (self != NULL, 0);
  g_mutex_lock (&self->lock);
  gint64 id = self->running != NULL ? self->running->id : 0;
  g_mutex_unlock (&self->lock);
  return id;
}

gboolean
rl_job_queue_get_status (RlJobQueue  *self,
                         gint64       job_id,
                         RlJobStatus *status)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_mutex_lock (&self->lock);
  Job *job = g_hash_table_lookup (self->jobs, &job_id);
  if (job != NULL && status != NULL)
    *status = job->status;
  g_mutex_unlock (&self->lock);
  return job != NULL;
}

RlJobStatus
rl_job_queue_wait (RlJobQueue   *self,
                   gint64        job_id,
                   RlRunReport  *report,
                   GError      **error)
{
  g_return_val_if_fail (self != NULL, RL_JOB_FAILED);

  g_mutex_lock (&self->lock);
  Job *job = g_hash_table_lookup (self->jobs, &job_id);
  if (job == NULL)
    {
      g_mutex_unlock (&self->lock);
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INVALID_WORKFLOW,
                   "There is no job %" G_GINT64_FORMAT " in the queue.", job_id);
      return RL_JOB_FAILED;
    }
  while (!status_is_final (job->status))
    g_cond_wait (&self->changed, &self->lock);

  RlJobStatus status = job->status;
  if (job->error != NULL && error != NULL)
    *error = g_error_copy (job->error);
  if (report != NULL)
    {
      *report = job->report;
      report->status = status;
      report->output_files = job->report.output_files != NULL
                             ? g_ptr_array_ref (job->report.output_files)
                             : g_ptr_array_new_with_free_func (g_free);
    }
  g_mutex_unlock (&self->lock);
  return status;
}
