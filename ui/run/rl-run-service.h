/* RlRunService: the app's side of running workflows — the worker pool,
 * the executor, the job queue (its own runner thread) and the history,
 * with one RlJobItem per job of this session in a list model the queue
 * panels show. The engine's events arrive on the runner thread and are
 * applied to the items on the main loop, so the window never waits on a
 * job. One per application; every window shows the same queue. */
#pragma once

#include <gtk/gtk.h>

#include "engine/engine-types.h"
#include "engine/run/queue.h"
#include "ui/run/rl-job-item.h"

G_BEGIN_DECLS

#define RL_TYPE_RUN_SERVICE (rl_run_service_get_type ())
G_DECLARE_FINAL_TYPE (RlRunService, rl_run_service, RL, RUN_SERVICE, GObject)

/* Opens the history at $RAYLIGHT_HISTORY or the default path (a history
 * that cannot be opened is reported by "history-error" later and jobs run
 * unrecorded); outputs go to $RAYLIGHT_OUTPUT_DIR or ~/Videos/Raylight. */
RlRunService *rl_run_service_new            (RlRegistry      *registry);
/* Stops the runner (waiting jobs cancelled, the running one interrupted)
 * and the workers. Further calls fail. */
void          rl_run_service_shutdown       (RlRunService    *self);

/* Jobs of this session: running first, then waiting ones in run order,
 * then finished ones, newest first (RlJobItem). */
GListModel   *rl_run_service_get_jobs       (RlRunService    *self);
RlJobItem    *rl_run_service_lookup         (RlRunService    *self,
                                             gint64           job_id);
/* The open history, or NULL when it could not be opened. */
RlHistory    *rl_run_service_get_history    (RlRunService    *self);
/* Why the history could not be opened, or NULL. */
const char   *rl_run_service_get_history_error (RlRunService *self);
const char   *rl_run_service_get_output_dir (RlRunService    *self);

/* Converts @workflow to a graph, validates it and queues it @count times
 * (at the back, or at the front in order). As ComfyUI's frontend does,
 * each job runs the seeds @workflow has when it is queued, and then its
 * seed widgets step by their control_after_generate mode: the jobs get
 * successive seeds, and @workflow is left with the seeds the next queue
 * would run (pass a copy to keep the original). Returns the first job id,
 * or 0 with the validation or history error. */
gint64        rl_run_service_queue_workflow (RlRunService    *self,
                                             RlWorkflow      *workflow,
                                             const char      *title,
                                             RlJobPosition    position,
                                             guint            count,
                                             GError         **error);
gboolean      rl_run_service_cancel         (RlRunService    *self,
                                             gint64           job_id,
                                             GError         **error);
/* Interrupts the running job (0: whichever runs); FALSE when none runs. */
gboolean      rl_run_service_interrupt      (RlRunService    *self,
                                             gint64           job_id);
/* Moves a waiting job by @delta places in the run order (-1 up, +1 down). */
gboolean      rl_run_service_move_by        (RlRunService    *self,
                                             gint64           job_id,
                                             int              delta,
                                             GError         **error);
/* Moves a waiting job to the place of another waiting job, @target_id (the
 * drop of a drag in the queue): the jobs between shift by one towards
 * where @job_id was. */
gboolean      rl_run_service_move_to        (RlRunService    *self,
                                             gint64           job_id,
                                             gint64           target_id,
                                             GError         **error);
void          rl_run_service_set_paused     (RlRunService    *self,
                                             gboolean         paused);
gboolean      rl_run_service_get_paused     (RlRunService    *self);
/* Drops the executor's cached node results (they hold models). */
void          rl_run_service_clear_cache    (RlRunService    *self);
/* Drops the executor's cached node results and asks the workers to free
 * their models, on a thread; @callback gets the GTask (boolean result). */
void          rl_run_service_free_memory_async  (RlRunService        *self,
                                                 GAsyncReadyCallback  callback,
                                                 gpointer             user_data);
gboolean      rl_run_service_free_memory_finish (RlRunService        *self,
                                                 GAsyncResult        *result,
                                                 GError             **error);

/* Replaces the worker pool with @n_workers workers and the given
 * sequence-parallel degrees (1: none) for the next jobs. Refused while a
 * job runs, and for degrees the workers cannot form (the valid ones are
 * listed in the error). */
gboolean      rl_run_service_configure_pool (RlRunService    *self,
                                             guint            n_workers,
                                             guint            ulysses_degree,
                                             guint            ring_degree,
                                             GError         **error);
/* Follows the Pool settings keys of @settings (ui/pool/rl-pool-config.h):
 * the pool is made from them now, and made anew when they change — once
 * the running job, if any, has ended. Settings the workers cannot form
 * keep the previous pool (rl_run_service_get_pool_error says why). */
void          rl_run_service_follow_settings (RlRunService   *self,
                                              GSettings      *settings);
/* The pool the next jobs run on (borrowed; replaced on "pool-changed"). */
RlPoolService *rl_run_service_get_pool      (RlRunService    *self);
/* Why the last Pool settings were not used, or NULL. */
const char   *rl_run_service_get_pool_error (RlRunService    *self);
/* The current pool's description (JSON: backend, workers, parallel). */
char         *rl_run_service_describe_pool  (RlRunService    *self);

/* Signals (main thread): "job-started" (RlJobItem) when a job starts to
 * run; "job-finished" (RlJobItem) when a job ends in
 * any final state; "pool-changed" when the pool was replaced or the Pool
 * settings were refused. */

G_END_DECLS
