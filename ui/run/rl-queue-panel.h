/* RlQueuePanel: the window's right pane — queueing the open workflow
 * (Ctrl+Enter; Ctrl+Shift+Enter to the front) with a batch count, the
 * jobs with their progress and live previews, pause/resume, stop the
 * running job and "Free memory". It installs the "run" action group on
 * its window: run.queue, run.queue-front, run.pause (stateful),
 * run.interrupt, run.free-memory, run.show-queue (stateful: the pane is
 * hidden until a job is queued, and a header button toggles it). */
#pragma once

#include <adwaita.h>

#include "ui/run/rl-job-row.h"
#include "ui/run/rl-run-service.h"
#include "ui/ui-types.h"

G_BEGIN_DECLS

#define RL_TYPE_QUEUE_PANEL (rl_queue_panel_get_type ())
G_DECLARE_FINAL_TYPE (RlQueuePanel, rl_queue_panel, RL, QUEUE_PANEL, GtkWidget)

/* A panel for @window's queue; the window must outlive it (it is a child
 * of the window). */
RlQueuePanel  *rl_queue_panel_new          (RlRunService  *service,
                                            RlWindow      *window);
/* Puts the panel beside @content (the window's tab area, inside its
 * toast overlay) and a Run button into @header. */
void           rl_queue_panel_attach       (RlQueuePanel  *self,
                                            GtkWidget     *content,
                                            AdwHeaderBar  *header);
GtkSpinButton *rl_queue_panel_get_batch_spin (RlQueuePanel *self);
/* The row showing @job_id, or NULL. */
RlJobRow      *rl_queue_panel_get_row      (RlQueuePanel  *self,
                                            gint64         job_id);
/* The header's buttons by name: "run", "pause", "stop", "free-memory",
 * "show-queue". */
GtkWidget     *rl_queue_panel_get_button   (RlQueuePanel  *self,
                                            const char    *name);
/* The output viewer last opened from this panel, while open, or NULL. */
GtkWindow     *rl_queue_panel_get_viewer   (RlQueuePanel  *self);

G_END_DECLS
