/* RlApplication: the desktop app. It owns the node registry (built-in
 * types), the settings, and the app-wide actions (open, about, quit). */
#pragma once

#include "engine/engine-types.h"
#include "ui/ui-types.h"

G_BEGIN_DECLS

#define RL_APPLICATION_ID "io.github.raylight.Raylight"

#define RL_TYPE_APPLICATION (rl_application_get_type ())
G_DECLARE_FINAL_TYPE (RlApplication, rl_application, RL, APPLICATION, AdwApplication)

RlApplication  *rl_application_new              (void);
RlRegistry     *rl_application_get_registry     (RlApplication  *self);
/* The app's settings, or NULL when the schema is not installed (an
 * uninstalled run without GSETTINGS_SCHEMA_DIR). */
GSettings      *rl_application_get_settings     (RlApplication  *self);
/* Puts @file first in the recent files (at most ten are kept). */
void            rl_application_add_recent       (RlApplication  *self,
                                                 GFile          *file);
/* Runs the windows' jobs: pool, queue and history (ui/run/rl-run-service.h). */
RlRunService   *rl_application_get_run_service  (RlApplication *self);
/* The folder holding the bundled workflow templates. */
char           *rl_application_get_templates_dir (RlApplication *self);

G_END_DECLS
