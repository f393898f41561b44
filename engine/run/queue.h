/* RlJobQueue: jobs waiting to run and the one thread that runs them, in
 * order, through an RlExecutor. A job can be queued at the back or the
 * front, cancelled while it waits, moved, or interrupted while it runs;
 * the queue can be paused (the running job finishes, no new one starts).
 *
 * Events of every job go to the global listeners and to the job's own
 * listener, on the runner thread (JOB_QUEUED on the enqueuing thread, and
 * JOB_FINISHED with status cancelled on the cancelling thread). When an
 * RlHistory is attached, every job and its state changes and output files
 * are recorded there, and job ids are history row ids. */
#pragma once

#include "engine/engine-types.h"
#include "engine/run/event.h"
#include "engine/run/executor.h"

G_BEGIN_DECLS

typedef enum {
  RL_JOB_POSITION_BACK,
  RL_JOB_POSITION_FRONT,
} RlJobPosition;

/* What a job needs besides its graph; strings are copied. */
typedef struct {
  const char    *output_dir;         /* NULL: current folder */
  const char    *workflow_json;      /* UI workflow the graph came from, or NULL */
  const char    *prompt_json;        /* API prompt of the graph, or NULL */
  const char    *parameters_json;    /* for history: {"seed":..,"steps":..} */
  const char    *device_config_json; /* for history: the parallel configuration as queued */
  /* The configuration the job ran in (the pool service's description),
   * recorded in history in place of device_config_json once the job is
   * over: a Parallel Settings node regroups the workers only when its
   * SAMPLE runs. NULL: keep device_config_json. Called on the runner
   * thread; the result is freed with g_free. */
  char        *(*describe_devices) (gpointer user_data);
  gpointer       describe_devices_data;
  RlEventFunc    listener;           /* this job's events only; may be NULL */
  gpointer       listener_data;
} RlJobOptions;

/* @executor and @history (may be NULL) are borrowed and must outlive the
 * queue. The runner thread starts at once. */
RlJobQueue  *rl_job_queue_new             (RlExecutor          *executor,
                                           RlHistory           *history);
/* Cancels waiting jobs, interrupts the running one and joins the runner. */
void         rl_job_queue_free            (RlJobQueue          *self);

/* Global listeners, for every job; returns an id for removal. */
guint        rl_job_queue_add_listener    (RlJobQueue          *self,
                                           RlEventFunc          func,
                                           gpointer             user_data);
void         rl_job_queue_remove_listener (RlJobQueue          *self,
                                           guint                listener_id);

/* Queues @graph (the queue takes a reference; validated by the caller). Returns the job
 * id (> 0), or 0 with @error (history could not record it). */
gint64       rl_job_queue_enqueue         (RlJobQueue          *self,
                                           RlGraph             *graph,
                                           const RlJobOptions  *options,
                                           RlJobPosition        position,
                                           GError             **error);
/* Removes a waiting job (status cancelled). FALSE with @error when the job
 * is not waiting (running: use interrupt; finished or unknown). */
gboolean     rl_job_queue_cancel          (RlJobQueue          *self,
                                           gint64               job_id,
                                           GError             **error);
/* Interrupts @job_id if it is running (0: whichever job runs). FALSE when
 * it is not running. */
gboolean     rl_job_queue_interrupt       (RlJobQueue          *self,
                                           gint64               job_id);
/* Moves a waiting job to @index in the pending order (clamped to the end).
 * FALSE with @error when the job is not waiting. */
gboolean     rl_job_queue_move            (RlJobQueue          *self,
                                           gint64               job_id,
                                           guint                index,
                                           GError             **error);
void         rl_job_queue_pause           (RlJobQueue          *self);
void         rl_job_queue_resume          (RlJobQueue          *self);
gboolean     rl_job_queue_is_paused       (RlJobQueue          *self);

/* Ids of the waiting jobs in the order they will run (GArray of gint64). */
GArray      *rl_job_queue_list_pending    (RlJobQueue          *self);
/* The running job's id, 0 when idle. */
gint64       rl_job_queue_get_running     (RlJobQueue          *self);
/* Status of @job_id (queued, running or final); FALSE for an unknown id. */
gboolean     rl_job_queue_get_status      (RlJobQueue          *self,
                                           gint64               job_id,
                                           RlJobStatus         *status);

/* Blocks until @job_id has finished (or was cancelled; a paused queue
 * keeps waiting jobs waiting) and returns its
 * final status; for failed/interrupted/cancelled jobs @error gets the
 * job's error (RL_ENGINE_ERROR_EXECUTION / _INTERRUPTED). Unknown ids
 * return RL_JOB_FAILED with an error. @report (may be NULL) receives the
 * executor's report (output files, counts). */
RlJobStatus  rl_job_queue_wait            (RlJobQueue          *self,
                                           gint64               job_id,
                                           RlRunReport         *report,
                                           GError             **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RlJobQueue, rl_job_queue_free)

G_END_DECLS
