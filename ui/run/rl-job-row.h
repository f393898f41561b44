/* RlJobRow: one job in the queue panel — state, title, progress bar with
 * step, speed and time left, the live preview (a video preview plays its
 * frames), and the buttons that apply to its state: move up/down and
 * cancel while it waits (or drag it onto another waiting job's row to take
 * its place), stop while it runs, view its output when done. */
#pragma once

#include <gtk/gtk.h>

#include "ui/run/rl-job-item.h"
#include "ui/run/rl-run-service.h"

G_BEGIN_DECLS

#define RL_TYPE_JOB_ROW (rl_job_row_get_type ())
G_DECLARE_FINAL_TYPE (RlJobRow, rl_job_row, RL, JOB_ROW, GtkListBoxRow)

RlJobRow     *rl_job_row_new             (RlRunService *service,
                                          RlJobItem    *item);
RlJobItem    *rl_job_row_get_item        (RlJobRow     *self);
GtkProgressBar *rl_job_row_get_progress_bar (RlJobRow  *self);
GtkPicture   *rl_job_row_get_preview     (RlJobRow     *self);
/* The preview frame shown now (for tests: it advances while it plays). */
guint         rl_job_row_get_preview_frame (RlJobRow   *self);
/* The button for @name: "up", "down", "cancel", "stop", "view". */
GtkWidget    *rl_job_row_get_button      (RlJobRow     *self,
                                          const char   *name);

/* "view-output" (char *path): the row's "View" button or activation of a
 * finished job with an output. */

G_END_DECLS
