/* RlApplication: app id, registry, settings, app-wide actions. */
#include "raylight-config.h"
#include "engine/graph/model-paths.h"
#include "engine/graph/registry.h"
#include "engine/nodes/builtin-nodes.h"
#include "ui/rl-application.h"
#include "ui/rl-notify.h"
#include "ui/rl-preferences-window.h"
#include "ui/rl-window.h"
#include "ui/run/rl-run-pool-link.h"
#include "ui/run/rl-run-service.h"

#define MAX_RECENT 10

struct _RlApplication
{
  AdwApplication  parent_instance;
  RlRegistry     *registry;
  GSettings      *settings;
  RlRunService   *run_service;
};

G_DEFINE_FINAL_TYPE (RlApplication, rl_application, ADW_TYPE_APPLICATION)

static RlWindow *
new_window (RlApplication *self)
{
  return rl_window_new (self);
}

static void
rl_application_activate (GApplication *app)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (app));

  if (window == NULL)
    window = GTK_WINDOW (new_window (RL_APPLICATION (app)));
  gtk_window_present (window);
}

static void
rl_application_open (GApplication  *app,
                     GFile        **files,
                     int            n_files,
                     const char    *hint)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (app));

  if (window == NULL)
    window = GTK_WINDOW (new_window (RL_APPLICATION (app)));
  for (int i = 0; i < n_files; i++)
    rl_window_open_file (RL_WINDOW (window), files[i]);
  gtk_window_present (window);
}

static void
action_about (GSimpleAction *action,
              GVariant      *param,
              gpointer       data)
{
  static const char *developers[] = { "The Raylight developers", NULL };
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (data));

  adw_show_about_window (window,
                         "application-name", "Raylight",
                         "application-icon", RL_APPLICATION_ID,
                         "version", RAYLIGHT_VERSION,
                         "developers", developers,
                         "license-type", GTK_LICENSE_GPL_3_0,
                         "comments", "Build and run image and video diffusion workflows",
                         NULL);
}

static void
action_quit (GSimpleAction *action,
             GVariant      *param,
             gpointer       data)
{
  g_application_quit (G_APPLICATION (data));
}

static void
action_new_window (GSimpleAction *action,
                   GVariant      *param,
                   gpointer       data)
{
  gtk_window_present (GTK_WINDOW (new_window (RL_APPLICATION (data))));
}

static void
action_preferences (GSimpleAction *action,
                    GVariant      *param,
                    gpointer       data)
{
  RlApplication *self = RL_APPLICATION (data);
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));

  if (self->settings == NULL)
    {
      if (RL_IS_WINDOW (window))
        rl_window_show_toast (RL_WINDOW (window), "Preferences need the installed settings schema");
      return;
    }
  {
    RlPreferencesWindow *preferences = rl_preferences_window_new (self->settings, window);

    rl_run_pool_link (self->run_service, rl_preferences_window_get_pool_panel (preferences));
    gtk_window_present (GTK_WINDOW (preferences));
  }
}

/* Whether the installed schema is new enough to hold @key. */
static gboolean
settings_have_key (GSettings  *settings,
                   const char *key)
{
  g_autoptr(GSettingsSchema) schema = NULL;

  if (settings == NULL)
    return FALSE;
  g_object_get (settings, "settings-schema", &schema, NULL);
  return schema != NULL && g_settings_schema_has_key (schema, key);
}

/* The default search paths plus the folders chosen in the preferences.
 * Runs before any window's handler of the same change, so windows that
 * reload their nodes then see the new files. */
static void
apply_model_settings (RlApplication *self)
{
  g_autoptr(RlModelPaths) paths = rl_model_paths_new_default ();
  g_auto(GStrv) folders = NULL;
  g_autofree char *comfyui = NULL;
  g_autoptr(GError) error = NULL;

  if (settings_have_key (self->settings, "model-folders"))
    {
      folders = g_settings_get_strv (self->settings, "model-folders");
      for (guint i = 0; folders[i] != NULL; i++)
        rl_model_paths_add_root (paths, folders[i]);
    }
  if (settings_have_key (self->settings, "comfyui-folder"))
    comfyui = g_settings_get_string (self->settings, "comfyui-folder");
  if (comfyui != NULL && *comfyui != '\0' && !rl_model_paths_add_comfyui_install (paths, comfyui, &error))
    g_warning ("The ComfyUI installation chosen in the preferences is not used: %s", error->message);
  rl_registry_set_model_paths (self->registry, paths);
}

static void
rl_application_startup (GApplication *app)
{
  RlApplication *self = RL_APPLICATION (app);
  static const GActionEntry entries[] = {
    { .name = "about", .activate = action_about },
    { .name = "quit", .activate = action_quit },
    { .name = "new-window", .activate = action_new_window },
    { .name = "preferences", .activate = action_preferences },
  };
  g_autoptr(GError) error = NULL;
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr(GSettingsSchema) schema = NULL;

  G_APPLICATION_CLASS (rl_application_parent_class)->startup (app);

  self->registry = rl_registry_new ();
  if (!rl_builtin_nodes_register (self->registry, &error))
    g_critical ("Built-in node types could not be registered: %s", error->message);
  if (source != NULL)
    schema = g_settings_schema_source_lookup (source, RL_APPLICATION_ID, TRUE);
  if (schema != NULL)
    self->settings = g_settings_new (RL_APPLICATION_ID);
  else
    g_message ("Settings schema %s is not installed; window size and recent files are not remembered",
               RL_APPLICATION_ID);
  apply_model_settings (self);
  if (self->settings != NULL)
    {
      g_signal_connect_object (self->settings, "changed::model-folders", G_CALLBACK (apply_model_settings), self,
                               G_CONNECT_SWAPPED);
      g_signal_connect_object (self->settings, "changed::comfyui-folder", G_CALLBACK (apply_model_settings), self,
                               G_CONNECT_SWAPPED);
    }

  g_action_map_add_action_entries (G_ACTION_MAP (app), entries, G_N_ELEMENTS (entries), app);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "app.quit", (const char *[]) { "<Control>q", NULL });
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "app.new-window",
                                         (const char *[]) { "<Control><Shift>n", NULL });
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "app.preferences",
                                         (const char *[]) { "<Control>comma", NULL });
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "win.open", (const char *[]) { "<Control>o", NULL });
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "win.save", (const char *[]) { "<Control>s", NULL });
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "win.save-as",
                                         (const char *[]) { "<Control><Shift>s", NULL });
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "win.new-tab", (const char *[]) { "<Control>t", NULL });
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "win.close-tab", (const char *[]) { "<Control>w", NULL });

  self->run_service = rl_run_service_new (self->registry);
  rl_notify_watch_jobs (GTK_APPLICATION (app), self->run_service);
  if (self->settings != NULL)
    rl_run_service_follow_settings (self->run_service, self->settings);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "run.queue",
                                         (const char *[]) { "<Control>Return", "<Control>KP_Enter", NULL });
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "run.queue-front",
                                         (const char *[]) { "<Control><Shift>Return", "<Control><Shift>KP_Enter",
                                                            NULL });
}

static void
rl_application_shutdown (GApplication *app)
{
  RlApplication *self = RL_APPLICATION (app);

  /* Waiting jobs are cancelled and the workers stopped before the app
   * goes; a running job is interrupted. */
  if (self->run_service != NULL)
    rl_run_service_shutdown (self->run_service);
  G_APPLICATION_CLASS (rl_application_parent_class)->shutdown (app);
}

static void
rl_application_finalize (GObject *object)
{
  RlApplication *self = RL_APPLICATION (object);

  g_clear_pointer (&self->registry, rl_registry_unref);
  g_clear_object (&self->settings);
  g_clear_object (&self->run_service);
  G_OBJECT_CLASS (rl_application_parent_class)->finalize (object);
}

static void
rl_application_class_init (RlApplicationClass *klass)
{
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = rl_application_finalize;
  app_class->startup = rl_application_startup;
  app_class->shutdown = rl_application_shutdown;
  app_class->activate = rl_application_activate;
  app_class->open = rl_application_open;
}

static void
rl_application_init (RlApplication *self)
{
}

RlApplication *
rl_application_new (void)
{
  return g_object_new (RL_TYPE_APPLICATION,
                       "application-id", RL_APPLICATION_ID,
                       "flags", G_APPLICATION_HANDLES_OPEN | G_APPLICATION_NON_UNIQUE,
                       "resource-base-path", "/io/github/raylight/Raylight",
                       NULL);
}

RlRegistry *
rl_application_get_registry (RlApplication *self)
{
  g_return_val_if_fail (RL_IS_APPLICATION (self), NULL);
  return self->registry;
}

GSettings *
rl_application_get_settings (RlApplication *self)
{
  g_return_val_if_fail (RL_IS_APPLICATION (self), NULL);
  return self->settings;
}

void
rl_application_add_recent (RlApplication *self,
                           GFile         *file)
{
  g_auto(GStrv) old = NULL;
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) recent = NULL;
  g_autofree char *path = NULL;
  guint n = 1;

  g_return_if_fail (RL_IS_APPLICATION (self));
  g_return_if_fail (G_IS_FILE (file));
  path = g_file_get_path (file);
  if (self->settings == NULL || path == NULL)
    return;
  old = g_settings_get_strv (self->settings, "recent-files");
  g_strv_builder_add (builder, path);
  for (guint i = 0; old[i] != NULL && n < MAX_RECENT; i++)
    if (!g_str_equal (old[i], path))
      {
        g_strv_builder_add (builder, old[i]);
        n++;
      }
  recent = g_strv_builder_end (builder);
  g_settings_set_strv (self->settings, "recent-files", (const char * const *) recent);
}

RlRunService *
rl_application_get_run_service (RlApplication *self)
{
  g_return_val_if_fail (RL_IS_APPLICATION (self), NULL);
  return self->run_service;
}

char *
rl_application_get_templates_dir (RlApplication *self)
{
  const char *override = g_getenv ("RAYLIGHT_TEMPLATES_DIR");
  g_autofree char *source_dir = g_build_filename (RAYLIGHT_SOURCE_DIR, "data", "workflows", NULL);
  g_autofree char *installed = g_build_filename (RAYLIGHT_DATA_DIR, "workflows", NULL);

  if (override != NULL && *override != '\0')
    return g_strdup (override);
  if (g_file_test (installed, G_FILE_TEST_IS_DIR))
    return g_steal_pointer (&installed);
  /* An uninstalled build reads the templates from the source tree. */
  return g_steal_pointer (&source_dir);
}
