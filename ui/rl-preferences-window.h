/* RlPreferencesWindow: the app's settings (GSettings), each one used at
 * once by every open window: extra model folders and an existing ComfyUI
 * installation (the registry's model search paths, so model combos list
 * their files), and the canvas's grid options. */
#pragma once

#include "ui/ui-types.h"

G_BEGIN_DECLS

#define RL_TYPE_PREFERENCES_WINDOW (rl_preferences_window_get_type ())
G_DECLARE_FINAL_TYPE (RlPreferencesWindow, rl_preferences_window, RL, PREFERENCES_WINDOW, AdwPreferencesWindow)

/* A preferences window editing @settings (which must hold the app's
 * schema), transient for @parent (may be NULL). */
RlPreferencesWindow *rl_preferences_window_new                 (GSettings  *settings,
                                                                GtkWindow  *parent);
/* The rows, for tests that drive them with real input. */
GtkWidget           *rl_preferences_window_get_add_folder_row  (RlPreferencesWindow *self);
GtkWidget           *rl_preferences_window_get_comfyui_row     (RlPreferencesWindow *self);
GtkWidget           *rl_preferences_window_get_show_grid_switch (RlPreferencesWindow *self);
GtkWidget           *rl_preferences_window_get_snap_switch     (RlPreferencesWindow *self);
/* The Pool settings page (ui/pool/rl-pool-panel.h), and showing it. */
RlPoolPanel         *rl_preferences_window_get_pool_panel      (RlPreferencesWindow *self);
void                 rl_preferences_window_show_pool           (RlPreferencesWindow *self);
/* The number of rows listing extra model folders. */
guint                rl_preferences_window_get_n_folder_rows   (RlPreferencesWindow *self);

G_END_DECLS
