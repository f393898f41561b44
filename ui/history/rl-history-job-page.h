/* RlHistoryJobPage: one past job in full — its thumbnail, status, times,
 * model, seed, size, parallel configuration and error, its output files
 * (each opens in the default app), and the parameters and device
 * configuration it ran with. The history browser shows it when a card is
 * opened, with Open Workflow and Delete in its header bar. */
#pragma once

#include "ui/history/rl-history-item.h"
#include "ui/ui-types.h"

G_BEGIN_DECLS

#define RL_TYPE_HISTORY_JOB_PAGE (rl_history_job_page_get_type ())
G_DECLARE_FINAL_TYPE (RlHistoryJobPage, rl_history_job_page, RL, HISTORY_JOB_PAGE, GtkBox)

RlHistoryJobPage *rl_history_job_page_new            (RlHistoryItem    *item);
RlHistoryItem    *rl_history_job_page_get_item       (RlHistoryJobPage *self);
/* Whether the "Delete its output files too" switch is on. */
gboolean          rl_history_job_page_get_delete_files (RlHistoryJobPage *self);
GtkWidget        *rl_history_job_page_get_delete_files_switch (RlHistoryJobPage *self);
/* "Label: value" of each fact row, for tests. */
GStrv             rl_history_job_page_get_facts      (RlHistoryJobPage *self);

G_END_DECLS
