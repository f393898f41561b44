/* RlHistoryBrowser: the window of past jobs — a grid of cards (thumbnail
 * of the first frame, status, duration, model, seed, parallel
 * configuration), a search over everything a job recorded and a status
 * filter; opening a card shows the job's outputs and parameters, "Open
 * Workflow" restores the exact graph into a new tab (signal
 * "open-workflow"), and Delete removes it with an Undo toast (its files
 * too when asked, once the toast has gone). */
#pragma once

#include "engine/run/history.h"
#include "ui/history/rl-history-item.h"
#include "ui/history/rl-history-job-page.h"
#include "ui/ui-types.h"

G_BEGIN_DECLS

#define RL_TYPE_HISTORY_BROWSER (rl_history_browser_get_type ())
G_DECLARE_FINAL_TYPE (RlHistoryBrowser, rl_history_browser, RL, HISTORY_BROWSER, AdwWindow)

/* A browser over @history (borrowed: it must stay open while the window
 * lives), transient for @parent (may be NULL). */
RlHistoryBrowser *rl_history_browser_new           (RlHistory         *history,
                                                    GtkWindow         *parent);
/* Reads the jobs again with the current search and filter. */
void              rl_history_browser_reload        (RlHistoryBrowser  *self);
/* The cards shown (RlHistoryItem), newest first. */
GListModel       *rl_history_browser_get_items     (RlHistoryBrowser  *self);
/* Shows job @job_id's page; FALSE when it is not among the cards. */
gboolean          rl_history_browser_open_job      (RlHistoryBrowser  *self,
                                                    gint64             job_id);
/* The job page shown, or NULL when the grid is shown. */
RlHistoryJobPage *rl_history_browser_get_job_page  (RlHistoryBrowser  *self);
/* Back to the grid. */
void              rl_history_browser_show_grid     (RlHistoryBrowser  *self);
const char       *rl_history_browser_get_last_toast (RlHistoryBrowser *self);

/* Widgets for tests: "search" (entry), "status-filter" (drop-down),
 * "grid" (grid view), "back", "open-workflow", "delete" (header buttons),
 * "empty" (status page shown when no job matches). */
GtkWidget        *rl_history_browser_get_widget    (RlHistoryBrowser  *self,
                                                    const char        *name);

/* Signal "open-workflow" (gint64 job_id, const char *workflow_json,
 * const char *title): the user asked to restore the job's graph. */

G_END_DECLS
