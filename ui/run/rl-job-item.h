/* RlJobItem: one job as the queue panel shows it — its state, the node
 * that runs, step progress with speed and time left, the latest preview
 * frames, its output files and its error. Updated on the main thread by
 * RlRunService from the engine's events; "changed" tells rows to redraw. */
#pragma once

#include <gtk/gtk.h>

#include "engine/run/event.h"

G_BEGIN_DECLS

#define RL_TYPE_JOB_ITEM (rl_job_item_get_type ())
G_DECLARE_FINAL_TYPE (RlJobItem, rl_job_item, RL, JOB_ITEM, GObject)

RlJobItem   *rl_job_item_new              (gint64       id,
                                           const char  *title,
                                           const char  *workflow_json);
gint64       rl_job_item_get_id           (RlJobItem   *self);
const char  *rl_job_item_get_title        (RlJobItem   *self);
/* The UI workflow the job was queued from (for "Open workflow"), or NULL. */
const char  *rl_job_item_get_workflow_json (RlJobItem  *self);
RlJobStatus  rl_job_item_get_status       (RlJobItem   *self);
/* Title of the node that runs, or NULL. */
const char  *rl_job_item_get_node_title   (RlJobItem   *self);
/* Step and total of the running node; total 0 when it reports none. */
void         rl_job_item_get_step         (RlJobItem   *self,
                                           guint       *step,
                                           guint       *total);
/* 0..1 within the running node's steps. */
double       rl_job_item_get_fraction     (RlJobItem   *self);
double       rl_job_item_get_speed        (RlJobItem   *self);
/* Seconds left for the running node's steps; -1 unknown. */
double       rl_job_item_get_eta          (RlJobItem   *self);
/* Seconds the job ran (final for finished jobs). */
double       rl_job_item_get_elapsed      (RlJobItem   *self);
/* How many previews arrived, and the latest one's frames (GdkTexture*;
 * borrowed; NULL before the first). */
guint        rl_job_item_get_n_previews   (RlJobItem   *self);
GPtrArray   *rl_job_item_get_preview      (RlJobItem   *self);
/* Files the job wrote (char*, borrowed). */
GPtrArray   *rl_job_item_get_outputs      (RlJobItem   *self);
const char  *rl_job_item_get_error        (RlJobItem   *self);
/* "#12 · 14/30 · KSampler · 2.1 it/s · 0:32": the progress line. */
char        *rl_job_item_describe_progress (RlJobItem  *self);

/* Applied by RlRunService on the main thread; each emits "changed". */
void         rl_job_item_set_status       (RlJobItem   *self,
                                           RlJobStatus  status,
                                           double       elapsed_s);
void         rl_job_item_set_node         (RlJobItem   *self,
                                           const char  *node_title);
void         rl_job_item_set_progress     (RlJobItem   *self,
                                           guint        step,
                                           guint        total,
                                           gint64       time_us);
/* Takes @frames (GdkTexture*). */
void         rl_job_item_set_preview      (RlJobItem   *self,
                                           GPtrArray   *frames);
void         rl_job_item_add_output       (RlJobItem   *self,
                                           const char  *path);
void         rl_job_item_set_error        (RlJobItem   *self,
                                           const char  *message);

G_END_DECLS
