/* Telling the user how jobs went: a desktop notification when a long job
 * ends while no Raylight window is active, and failures as toasts whose
 * "Details" button opens a dialog with the whole message. */
#pragma once

#include <adwaita.h>

#include "ui/run/rl-run-service.h"

G_BEGIN_DECLS

/* Jobs that ran at least this long notify (override:
 * $RAYLIGHT_NOTIFY_AFTER_SECONDS). */
#define RL_NOTIFY_DEFAULT_SECONDS 30

/* Shows @summary as a toast in @window (or the window it belongs to) with
 * a "Details" button opening rl_notify_show_details. */
void         rl_notify_error                 (GtkWindow      *window,
                                              const char     *summary,
                                              const char     *details);
/* A dialog, transient for @parent, with @heading and the selectable
 * @details; returns it (already presented). */
GtkWindow   *rl_notify_show_details          (GtkWindow      *parent,
                                              const char     *heading,
                                              const char     *details);
/* Follows @service's finished jobs for @app: failures become toasts in
 * the active window, and jobs that ran long notify when no window is
 * active. */
void         rl_notify_watch_jobs            (GtkApplication *app,
                                              RlRunService   *service);
/* The id and title of the last desktop notification sent (for tests and
 * the log), or NULL. */
const char  *rl_notify_get_last_notification (void);
/* The last details dialog opened, while it is open, or NULL (tests). */
GtkWindow   *rl_notify_get_details_dialog    (void);

G_END_DECLS
