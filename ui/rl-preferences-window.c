/* RlPreferencesWindow: pages built in code over the app's GSettings. */
#include "engine/graph/model-paths.h"
#include "ui/rl-preferences-window.h"
#include "ui/pool/rl-pool-panel.h"

struct _RlPreferencesWindow
{
  AdwPreferencesWindow  parent_instance;
  GSettings            *settings;
  AdwPreferencesGroup  *folders_group;
  GPtrArray            *folder_rows;      /* AdwActionRow, one per folder */
  GtkWidget            *add_folder_row;   /* AdwEntryRow */
  GtkWidget            *comfyui_row;      /* AdwEntryRow */
  GtkWidget            *show_grid_switch;
  GtkWidget            *snap_switch;
  RlPoolPanel          *pool_panel;
};

G_DEFINE_FINAL_TYPE (RlPreferencesWindow, rl_preferences_window, ADW_TYPE_PREFERENCES_WINDOW)

static void
complain (RlPreferencesWindow *self,
          GtkWidget           *row,
          const char          *message)
{
  gtk_widget_add_css_class (row, "error");
  adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self), adw_toast_new (message));
}

/* A folder typed or chosen: absolute, '~' expanded, and existing. */
static char *
checked_folder (RlPreferencesWindow *self,
                GtkWidget           *row,
                const char          *text)
{
  g_autofree char *stripped = g_strstrip (g_strdup (text));
  g_autofree char *expanded = NULL;
  g_autofree char *message = NULL;

  if (g_str_has_prefix (stripped, "~"))
    expanded = g_build_filename (g_get_home_dir (), stripped + 1, NULL);
  else
    expanded = g_canonicalize_filename (stripped, NULL);
  if (g_file_test (expanded, G_FILE_TEST_IS_DIR))
    return g_steal_pointer (&expanded);
  message = g_strdup_printf ("No folder at %s", stripped);
  complain (self, row, message);
  return NULL;
}

static void
add_folder (RlPreferencesWindow *self,
            const char          *text)
{
  g_autofree char *folder = checked_folder (self, self->add_folder_row, text);
  g_auto(GStrv) old = NULL;
  g_autoptr(GStrvBuilder) builder = NULL;
  g_auto(GStrv) folders = NULL;

  if (folder == NULL)
    return;
  gtk_widget_remove_css_class (self->add_folder_row, "error");
  gtk_editable_set_text (GTK_EDITABLE (self->add_folder_row), "");
  old = g_settings_get_strv (self->settings, "model-folders");
  if (g_strv_contains ((const char * const *) old, folder))
    return;
  builder = g_strv_builder_new ();
  g_strv_builder_addv (builder, (const char **) old);
  g_strv_builder_add (builder, folder);
  folders = g_strv_builder_end (builder);
  g_settings_set_strv (self->settings, "model-folders", (const char * const *) folders);
}

static void
remove_folder (GtkButton           *button,
               RlPreferencesWindow *self)
{
  const char *folder = g_object_get_data (G_OBJECT (button), "folder");
  g_auto(GStrv) old = g_settings_get_strv (self->settings, "model-folders");
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) folders = NULL;

  for (guint i = 0; old[i] != NULL; i++)
    if (!g_str_equal (old[i], folder))
      g_strv_builder_add (builder, old[i]);
  folders = g_strv_builder_end (builder);
  g_settings_set_strv (self->settings, "model-folders", (const char * const *) folders);
}

static void
fill_folder_rows (RlPreferencesWindow *self)
{
  g_auto(GStrv) folders = g_settings_get_strv (self->settings, "model-folders");

  for (guint i = 0; i < self->folder_rows->len; i++)
    adw_preferences_group_remove (self->folders_group, g_ptr_array_index (self->folder_rows, i));
  g_ptr_array_set_size (self->folder_rows, 0);
  for (guint i = 0; folders[i] != NULL; i++)
    {
      GtkWidget *row = adw_action_row_new ();
      GtkWidget *remove = gtk_button_new_from_icon_name ("user-trash-symbolic");

      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), folders[i]);
      gtk_widget_set_valign (remove, GTK_ALIGN_CENTER);
      gtk_widget_add_css_class (remove, "flat");
      gtk_widget_set_tooltip_text (remove, "Remove this folder");
      g_object_set_data_full (G_OBJECT (remove), "folder", g_strdup (folders[i]), g_free);
      g_signal_connect (remove, "clicked", G_CALLBACK (remove_folder), self);
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), remove);
      adw_preferences_group_add (self->folders_group, row);
      g_ptr_array_add (self->folder_rows, row);
    }
}

static void
set_comfyui_folder (RlPreferencesWindow *self,
                    const char          *text)
{
  g_autofree char *folder = NULL;
  g_autoptr(RlModelPaths) probe = NULL;
  g_autoptr(GError) error = NULL;

  if (*text == '\0')
    {
      gtk_widget_remove_css_class (self->comfyui_row, "error");
      g_settings_set_string (self->settings, "comfyui-folder", "");
      return;
    }
  folder = checked_folder (self, self->comfyui_row, text);
  if (folder == NULL)
    return;
  /* Its extra_model_paths.yaml must parse, or the setting would be
   * silently half-applied at every start. */
  probe = rl_model_paths_new ();
  if (!rl_model_paths_add_comfyui_install (probe, folder, &error))
    {
      complain (self, self->comfyui_row, error->message);
      return;
    }
  gtk_widget_remove_css_class (self->comfyui_row, "error");
  gtk_editable_set_text (GTK_EDITABLE (self->comfyui_row), folder);
  g_settings_set_string (self->settings, "comfyui-folder", folder);
}

static void
on_add_folder_activated (RlPreferencesWindow *self)
{
  add_folder (self, gtk_editable_get_text (GTK_EDITABLE (self->add_folder_row)));
}

static void
on_comfyui_activated (RlPreferencesWindow *self)
{
  set_comfyui_folder (self, gtk_editable_get_text (GTK_EDITABLE (self->comfyui_row)));
}

static void
on_folder_chosen (GtkNativeDialog *dialog,
                  int              response,
                  gpointer         data)
{
  RlPreferencesWindow *self = RL_PREFERENCES_WINDOW (data);
  g_autoptr(GFile) file = NULL;
  g_autofree char *path = NULL;

  if (response == GTK_RESPONSE_ACCEPT)
    file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
  if (file != NULL)
    path = g_file_get_path (file);
  if (path != NULL && g_object_get_data (G_OBJECT (dialog), "comfyui") != NULL)
    set_comfyui_folder (self, path);
  else if (path != NULL)
    add_folder (self, path);
  g_object_unref (dialog);
}

static void
choose_folder (GtkButton           *button,
               RlPreferencesWindow *self)
{
  gboolean comfyui = g_object_get_data (G_OBJECT (button), "comfyui") != NULL;
  GtkFileChooserNative *dialog = gtk_file_chooser_native_new (comfyui ? "Choose the ComfyUI Folder"
                                                                      : "Add a Model Folder",
                                                              GTK_WINDOW (self),
                                                              GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER,
                                                              "_Select", "_Cancel");

  if (comfyui)
    g_object_set_data (G_OBJECT (dialog), "comfyui", GINT_TO_POINTER (1));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (dialog), TRUE);
  g_signal_connect (dialog, "response", G_CALLBACK (on_folder_chosen), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

static GtkWidget *
chooser_button (RlPreferencesWindow *self,
                gboolean             comfyui)
{
  GtkWidget *button = gtk_button_new_from_icon_name ("folder-open-symbolic");

  gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (button, "flat");
  gtk_widget_set_tooltip_text (button, "Choose a folder…");
  if (comfyui)
    g_object_set_data (G_OBJECT (button), "comfyui", GINT_TO_POINTER (1));
  g_signal_connect (button, "clicked", G_CALLBACK (choose_folder), self);
  return button;
}

static GtkWidget *
new_entry_row (RlPreferencesWindow *self,
               const char          *title,
               gboolean             comfyui,
               GCallback            activated)
{
  GtkWidget *row = adw_entry_row_new ();

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_entry_row_add_suffix (ADW_ENTRY_ROW (row), chooser_button (self, comfyui));
  g_signal_connect_swapped (row, "entry-activated", activated, self);
  return row;
}

static AdwPreferencesPage *
build_models_page (RlPreferencesWindow *self)
{
  AdwPreferencesPage *page = ADW_PREFERENCES_PAGE (adw_preferences_page_new ());
  AdwPreferencesGroup *comfyui = ADW_PREFERENCES_GROUP (adw_preferences_group_new ());
  g_autofree char *current = g_settings_get_string (self->settings, "comfyui-folder");

  adw_preferences_page_set_title (page, "Models");
  adw_preferences_page_set_icon_name (page, "folder-symbolic");
  self->folders_group = ADW_PREFERENCES_GROUP (adw_preferences_group_new ());
  adw_preferences_group_set_title (self->folders_group, "Model Folders");
  adw_preferences_group_set_description (self->folders_group,
                                         "Searched for models besides the default folders. Each holds "
                                         "ComfyUI's layout (checkpoints, vae, loras, …) or a models folder.");
  self->add_folder_row = new_entry_row (self, "Add a folder (type its path, then Enter)", FALSE,
                                        G_CALLBACK (on_add_folder_activated));
  adw_preferences_group_add (self->folders_group, self->add_folder_row);
  adw_preferences_page_add (page, self->folders_group);

  adw_preferences_group_set_title (comfyui, "Existing ComfyUI Installation");
  adw_preferences_group_set_description (comfyui, "Its models folder and extra_model_paths.yaml are used too. "
                                                  "Clear the path to stop using it.");
  self->comfyui_row = new_entry_row (self, "ComfyUI folder", TRUE, G_CALLBACK (on_comfyui_activated));
  gtk_editable_set_text (GTK_EDITABLE (self->comfyui_row), current);
  adw_preferences_group_add (comfyui, self->comfyui_row);
  adw_preferences_page_add (page, comfyui);
  return page;
}

static GtkWidget *
switch_row (RlPreferencesWindow *self,
            AdwPreferencesGroup *group,
            const char          *title,
            const char          *subtitle,
            const char          *key)
{
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *toggle = gtk_switch_new ();

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  gtk_widget_set_valign (toggle, GTK_ALIGN_CENTER);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), toggle);
  adw_action_row_set_activatable_widget (ADW_ACTION_ROW (row), toggle);
  g_settings_bind (self->settings, key, toggle, "active", G_SETTINGS_BIND_DEFAULT);
  adw_preferences_group_add (group, row);
  return toggle;
}

static AdwPreferencesPage *
build_canvas_page (RlPreferencesWindow *self)
{
  AdwPreferencesPage *page = ADW_PREFERENCES_PAGE (adw_preferences_page_new ());
  AdwPreferencesGroup *group = ADW_PREFERENCES_GROUP (adw_preferences_group_new ());

  adw_preferences_page_set_title (page, "Canvas");
  adw_preferences_page_set_icon_name (page, "view-grid-symbolic");
  adw_preferences_group_set_title (group, "Grid");
  self->show_grid_switch = switch_row (self, group, "Show Grid", "Draw the grid behind the nodes", "show-grid");
  self->snap_switch = switch_row (self, group, "Snap to Grid",
                                  "Nodes and reroute points dropped on the canvas land on the grid",
                                  "snap-to-grid");
  adw_preferences_page_add (page, group);
  return page;
}

static void
rl_preferences_window_dispose (GObject *object)
{
  RlPreferencesWindow *self = RL_PREFERENCES_WINDOW (object);

  g_clear_object (&self->settings);
  g_clear_pointer (&self->folder_rows, g_ptr_array_unref);
  G_OBJECT_CLASS (rl_preferences_window_parent_class)->dispose (object);
}

static void
rl_preferences_window_class_init (RlPreferencesWindowClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = rl_preferences_window_dispose;
}

static void
rl_preferences_window_init (RlPreferencesWindow *self)
{
  self->folder_rows = g_ptr_array_new ();
}

RlPreferencesWindow *
rl_preferences_window_new (GSettings *settings,
                           GtkWindow *parent)
{
  RlPreferencesWindow *self;

  g_return_val_if_fail (G_IS_SETTINGS (settings), NULL);
  self = g_object_new (RL_TYPE_PREFERENCES_WINDOW, "transient-for", parent, "modal", FALSE,
                       "search-enabled", FALSE, NULL);
  self->settings = g_object_ref (settings);
  adw_preferences_window_add (ADW_PREFERENCES_WINDOW (self), build_models_page (self));
  adw_preferences_window_add (ADW_PREFERENCES_WINDOW (self), build_canvas_page (self));
  self->pool_panel = rl_pool_panel_new (settings);
  adw_preferences_window_add (ADW_PREFERENCES_WINDOW (self), ADW_PREFERENCES_PAGE (self->pool_panel));
  fill_folder_rows (self);
  g_signal_connect_object (settings, "changed::model-folders", G_CALLBACK (fill_folder_rows), self,
                           G_CONNECT_SWAPPED);
  return self;
}

GtkWidget *
rl_preferences_window_get_add_folder_row (RlPreferencesWindow *self)
{
  g_return_val_if_fail (RL_IS_PREFERENCES_WINDOW (self), NULL);
  return self->add_folder_row;
}

GtkWidget *
rl_preferences_window_get_comfyui_row (RlPreferencesWindow *self)
{
  g_return_val_if_fail (RL_IS_PREFERENCES_WINDOW (self), NULL);
  return self->comfyui_row;
}

GtkWidget *
rl_preferences_window_get_show_grid_switch (RlPreferencesWindow *self)
{
  g_return_val_if_fail (RL_IS_PREFERENCES_WINDOW (self), NULL);
  return self->show_grid_switch;
}

GtkWidget *
rl_preferences_window_get_snap_switch (RlPreferencesWindow *self)
{
  g_return_val_if_fail (RL_IS_PREFERENCES_WINDOW (self), NULL);
  return self->snap_switch;
}

guint
rl_preferences_window_get_n_folder_rows (RlPreferencesWindow *self)
{
  g_return_val_if_fail (RL_IS_PREFERENCES_WINDOW (self), 0);
  return self->folder_rows->len;
}

RlPoolPanel *
rl_preferences_window_get_pool_panel (RlPreferencesWindow *self)
{
  g_return_val_if_fail (RL_IS_PREFERENCES_WINDOW (self), NULL);
  return self->pool_panel;
}

void
rl_preferences_window_show_pool (RlPreferencesWindow *self)
{
  g_return_if_fail (RL_IS_PREFERENCES_WINDOW (self));
  adw_preferences_window_set_visible_page (ADW_PREFERENCES_WINDOW (self), ADW_PREFERENCES_PAGE (self->pool_panel));
}
