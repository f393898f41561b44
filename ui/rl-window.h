/* RlWindow: the main window — header bar, one tab per open workflow, an
 * empty state offering the templates, toasts, and the file actions (open,
 * save, save as, drag and drop of workflow files and of images/videos
 * carrying a workflow). */
#pragma once

#include "ui/ui-types.h"

G_BEGIN_DECLS

#define RL_TYPE_WINDOW (rl_window_get_type ())
G_DECLARE_FINAL_TYPE (RlWindow, rl_window, RL, WINDOW, AdwApplicationWindow)

RlWindow        *rl_window_new              (RlApplication  *application);
/* Opens @file in a new tab (replacing an untouched empty one); a failure
 * or missing node types are reported in a toast. FALSE on failure. */
gboolean         rl_window_open_file        (RlWindow       *self,
                                             GFile          *file);
/* Adds a tab with an empty workflow and shows it. */
RlWorkflowPage  *rl_window_new_page         (RlWindow       *self);
/* The page of the selected tab, or NULL when none is open. */
RlWorkflowPage  *rl_window_get_current_page (RlWindow       *self);
AdwTabView      *rl_window_get_tab_view     (RlWindow       *self);
void             rl_window_show_toast       (RlWindow       *self,
                                             const char     *message);
/* Writes every tab with unsaved edits to its autosave now (a timer does
 * it every $RAYLIGHT_AUTOSAVE_SECONDS, 20 by default). */
void             rl_window_autosave_now     (RlWindow       *self);
/* Shows @toast (takes it): toasts with a button, such as errors with
 * "Details". */
void             rl_window_add_toast        (RlWindow       *self,
                                             AdwToast       *toast);
/* The window's queue panel (ui/run/rl-queue-panel.h). */
RlQueuePanel    *rl_window_get_queue_panel  (RlWindow       *self);
/* Opens @workflow_json (a ComfyUI UI workflow) in a new tab titled
 * @title, as the history's "Open Workflow" does; a failure is reported
 * in a toast. FALSE on failure. */
gboolean         rl_window_open_workflow_data (RlWindow     *self,
                                             const char     *workflow_json,
                                             const char     *title);
/* Opens the history browser over $RAYLIGHT_HISTORY or the default
 * history (win.show-history, Ctrl+H); its "Open Workflow" opens a tab
 * here. NULL (and a toast) when the history cannot be opened. */
RlHistoryBrowser *rl_window_show_history    (RlWindow       *self);
/* Opens Preferences at the Pool page (win.show-pool). */
RlPreferencesWindow *rl_window_show_pool_settings (RlWindow *self);
/* The message of the last toast shown (for tests), or NULL. */
const char      *rl_window_get_last_toast   (RlWindow       *self);

G_END_DECLS
