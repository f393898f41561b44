/* RlWindow: tabs of RlWorkflowPage, file actions, window state. */
#include <string.h>

#include "engine/graph/workflow.h"
#include "ui/canvas/rl-canvas.h"
#include "ui/rl-application.h"
#include "ui/rl-autosave.h"
#include "ui/history/rl-history-browser.h"
#include "ui/rl-preferences-window.h"
#include "ui/rl-window.h"
#include "ui/rl-workflow-page.h"
#include "ui/run/rl-queue-panel.h"
#include "ui/run/rl-run-service.h"
#include "ui/run/rl-run-pool-link.h"

struct _RlWindow
{
  AdwApplicationWindow  parent_instance;

  AdwWindowTitle       *window_title;
  AdwHeaderBar         *header_bar;
  RlQueuePanel         *queue_panel;
  AdwToastOverlay      *toast_overlay;
  GtkStack             *stack;
  AdwTabView           *tab_view;
  GtkBox               *template_box;
  GMenu                *recent_section;

  char                 *last_toast;
  RlHistory            *history;       /* opened when the history browser first opens */
  guint                 untitled_count;
  guint                 autosave_timer;
  gboolean              snap_to_grid;
  gboolean              show_grid;
};

G_DEFINE_FINAL_TYPE (RlWindow, rl_window, ADW_TYPE_APPLICATION_WINDOW)

enum { PROP_0, PROP_SNAP_TO_GRID, N_PROPS };
static GParamSpec *properties[N_PROPS];

static RlApplication *
get_app (RlWindow *self)
{
  return RL_APPLICATION (gtk_window_get_application (GTK_WINDOW (self)));
}

void
rl_window_show_toast (RlWindow   *self,
                      const char *message)
{
  AdwToast *toast;

  g_return_if_fail (RL_IS_WINDOW (self));
  g_free (self->last_toast);
  self->last_toast = g_strdup (message);
  toast = adw_toast_new (message);
  adw_toast_set_timeout (toast, 6);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

void
rl_window_add_toast (RlWindow *self,
                     AdwToast *toast)
{
  g_return_if_fail (RL_IS_WINDOW (self));
  g_free (self->last_toast);
  self->last_toast = g_strdup (adw_toast_get_title (toast));
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

RlQueuePanel *
rl_window_get_queue_panel (RlWindow *self)
{
  g_return_val_if_fail (RL_IS_WINDOW (self), NULL);
  return self->queue_panel;
}

const char *
rl_window_get_last_toast (RlWindow *self)
{
  g_return_val_if_fail (RL_IS_WINDOW (self), NULL);
  return self->last_toast;
}

AdwTabView *
rl_window_get_tab_view (RlWindow *self)
{
  g_return_val_if_fail (RL_IS_WINDOW (self), NULL);
  return self->tab_view;
}

RlWorkflowPage *
rl_window_get_current_page (RlWindow *self)
{
  AdwTabPage *page;

  g_return_val_if_fail (RL_IS_WINDOW (self), NULL);
  page = adw_tab_view_get_selected_page (self->tab_view);
  return page != NULL ? RL_WORKFLOW_PAGE (adw_tab_page_get_child (page)) : NULL;
}

/* ---- Tabs ------------------------------------------------------------------- */

static void
update_tab_title (RlWorkflowPage *page,
                  GParamSpec     *pspec,
                  AdwTabPage     *tab)
{
  g_autofree char *title = g_strdup_printf ("%s%s", rl_workflow_page_get_modified (page) ? "• " : "",
                                            rl_workflow_page_get_title (page));
  GFile *file = rl_workflow_page_get_file (page);

  adw_tab_page_set_title (tab, title);
  if (file != NULL)
    {
      g_autofree char *path = g_file_get_parse_name (file);

      adw_tab_page_set_tooltip (tab, path);
    }
}

static void
update_window_title (RlWindow *self)
{
  RlWorkflowPage *page = rl_window_get_current_page (self);
  GFile *file = page != NULL ? rl_workflow_page_get_file (page) : NULL;
  g_autofree char *subtitle = file != NULL ? g_file_get_parse_name (file) : NULL;

  adw_window_title_set_title (self->window_title, page != NULL ? rl_workflow_page_get_title (page) : "Raylight");
  adw_window_title_set_subtitle (self->window_title, subtitle);
  gtk_stack_set_visible_child_name (self->stack, adw_tab_view_get_n_pages (self->tab_view) > 0 ? "tabs" : "empty");
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.save", page != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.save-as", page != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.close-tab", page != NULL);
}

static void
on_page_title_changed (RlWorkflowPage *page,
                       GParamSpec     *pspec,
                       RlWindow       *self)
{
  if (page == rl_window_get_current_page (self))
    update_window_title (self);
}

static void
add_page (RlWindow       *self,
          RlWorkflowPage *page)
{
  AdwTabPage *tab = adw_tab_view_append (self->tab_view, GTK_WIDGET (page));

  g_signal_connect_object (page, "notify::title", G_CALLBACK (update_tab_title), tab, 0);
  g_signal_connect_object (page, "notify::modified", G_CALLBACK (update_tab_title), tab, 0);
  g_signal_connect_object (page, "notify::title", G_CALLBACK (on_page_title_changed), self, 0);
  update_tab_title (page, NULL, tab);
  rl_canvas_set_snap_to_grid (rl_workflow_page_get_canvas (page), self->snap_to_grid);
  rl_canvas_set_show_grid (rl_workflow_page_get_canvas (page), self->show_grid);
  adw_tab_view_set_selected_page (self->tab_view, tab);
  update_window_title (self);
  gtk_widget_grab_focus (GTK_WIDGET (rl_workflow_page_get_canvas (page)));
}

RlWorkflowPage *
rl_window_new_page (RlWindow *self)
{
  g_autofree char *title = NULL;
  RlWorkflowPage *page;

  g_return_val_if_fail (RL_IS_WINDOW (self), NULL);
  title = ++self->untitled_count == 1 ? g_strdup ("Untitled") : g_strdup_printf ("Untitled %u", self->untitled_count);
  page = rl_workflow_page_new (rl_application_get_registry (get_app (self)), title);
  add_page (self, page);
  return page;
}

/* An untouched empty tab is replaced by the next file opened, as editors
 * do with a blank document. */
static AdwTabPage *
find_blank_tab (RlWindow *self)
{
  RlWorkflowPage *page = rl_window_get_current_page (self);

  if (page == NULL || rl_workflow_page_get_file (page) != NULL || rl_workflow_page_get_modified (page) ||
      rl_workflow_get_n_nodes (rl_canvas_get_workflow (rl_workflow_page_get_canvas (page))) > 0)
    return NULL;
  return adw_tab_view_get_selected_page (self->tab_view);
}

static void
report_missing_types (RlWindow       *self,
                      RlWorkflowPage *page)
{
  g_autoptr(GPtrArray) missing = rl_workflow_page_list_missing_types (page);
  g_autoptr(GString) message = NULL;

  if (missing->len == 0)
    return;
  message = g_string_new ("Missing node types: ");
  for (guint i = 0; i < missing->len; i++)
    g_string_append_printf (message, "%s%s", i > 0 ? ", " : "", (char *) g_ptr_array_index (missing, i));
  g_string_append (message, ". Their nodes are kept and shown in red.");
  rl_window_show_toast (self, message->str);
}

static void
show_page_loaded (RlWindow       *self,
                  RlWorkflowPage *page)
{
  AdwTabPage *blank = find_blank_tab (self);

  add_page (self, page);
  if (blank != NULL)
    adw_tab_view_close_page (self->tab_view, blank);
  report_missing_types (self, page);
}

gboolean
rl_window_open_file (RlWindow *self,
                     GFile    *file)
{
  g_autoptr(GError) error = NULL;
  RlWorkflowPage *page;

  g_return_val_if_fail (RL_IS_WINDOW (self), FALSE);
  g_return_val_if_fail (G_IS_FILE (file), FALSE);

  page = g_object_ref_sink (rl_workflow_page_new (rl_application_get_registry (get_app (self)), NULL));
  if (!rl_workflow_page_load_file (page, file, &error))
    {
      rl_window_show_toast (self, error->message);
      g_object_unref (page);
      return FALSE;
    }
  show_page_loaded (self, page);
  g_object_unref (page);
  rl_application_add_recent (get_app (self), file);
  return TRUE;
}

gboolean
rl_window_open_workflow_data (RlWindow   *self,
                              const char *workflow_json,
                              const char *title)
{
  g_autoptr(GError) error = NULL;
  RlWorkflowPage *page;

  g_return_val_if_fail (RL_IS_WINDOW (self), FALSE);
  g_return_val_if_fail (workflow_json != NULL, FALSE);
  page = g_object_ref_sink (rl_workflow_page_new (rl_application_get_registry (get_app (self)), NULL));
  if (!rl_workflow_page_load_data (page, workflow_json, title, &error))
    {
      rl_window_show_toast (self, error->message);
      g_object_unref (page);
      return FALSE;
    }
  show_page_loaded (self, page);
  rl_canvas_fit_view (rl_workflow_page_get_canvas (page));
  g_object_unref (page);
  return TRUE;
}

static void
on_history_open_workflow (RlHistoryBrowser *browser,
                          gint64            job_id,
                          const char       *workflow_json,
                          const char       *title,
                          RlWindow         *self)
{
  if (rl_window_open_workflow_data (self, workflow_json, title))
    {
      g_autofree char *message = g_strdup_printf ("Restored the workflow of job #%" G_GINT64_FORMAT, job_id);
      rl_window_show_toast (self, message);
      gtk_window_present (GTK_WINDOW (self));
    }
}

RlHistoryBrowser *
rl_window_show_history (RlWindow *self)
{
  g_autoptr(GError) error = NULL;
  RlHistoryBrowser *browser;

  g_return_val_if_fail (RL_IS_WINDOW (self), NULL);
  if (self->history == NULL)
    self->history = rl_history_open (g_getenv ("RAYLIGHT_HISTORY"), &error);
  if (self->history == NULL)
    {
      rl_window_show_toast (self, error->message);
      return NULL;
    }
  browser = rl_history_browser_new (self->history, GTK_WINDOW (self));
  g_signal_connect_object (browser, "open-workflow", G_CALLBACK (on_history_open_workflow), self, 0);
  /* Jobs finishing while it is open appear in it. */
  if (rl_application_get_run_service (get_app (self)) != NULL)
    g_signal_connect_object (rl_application_get_run_service (get_app (self)), "job-finished",
                             G_CALLBACK (rl_history_browser_reload), browser, G_CONNECT_SWAPPED);
  gtk_window_present (GTK_WINDOW (browser));
  return browser;
}

RlPreferencesWindow *
rl_window_show_pool_settings (RlWindow *self)
{
  GSettings *settings;
  RlPreferencesWindow *preferences;

  g_return_val_if_fail (RL_IS_WINDOW (self), NULL);
  settings = rl_application_get_settings (get_app (self));
  if (settings == NULL)
    {
      rl_window_show_toast (self, "Pool settings need the installed settings schema");
      return NULL;
    }
  preferences = rl_preferences_window_new (settings, GTK_WINDOW (self));
  rl_run_pool_link (rl_application_get_run_service (get_app (self)), rl_preferences_window_get_pool_panel (preferences));
  rl_preferences_window_show_pool (preferences);
  gtk_window_present (GTK_WINDOW (preferences));
  return preferences;
}

static void
action_show_history (GtkWidget  *widget,
                     const char *name,
                     GVariant   *param)
{
  rl_window_show_history (RL_WINDOW (widget));
}

static void
action_show_pool (GtkWidget  *widget,
                  const char *name,
                  GVariant   *param)
{
  rl_window_show_pool_settings (RL_WINDOW (widget));
}

/* History and Pool settings in the header bar. */
static void
add_history_and_pool_buttons (RlWindow *self)
{
  AdwHeaderBar *bar = self->header_bar;
  GtkWidget *history = gtk_button_new_from_icon_name ("document-open-recent-symbolic");
  GtkWidget *pool = gtk_button_new_from_icon_name ("computer-symbolic");

  gtk_actionable_set_action_name (GTK_ACTIONABLE (history), "win.show-history");
  gtk_widget_set_tooltip_text (history, "History of Past Jobs (Ctrl+H)");
  gtk_accessible_update_property (GTK_ACCESSIBLE (history), GTK_ACCESSIBLE_PROPERTY_LABEL, "History", -1);
  gtk_widget_set_name (history, "history-button");
  gtk_actionable_set_action_name (GTK_ACTIONABLE (pool), "win.show-pool");
  gtk_widget_set_tooltip_text (pool, "Worker Pool Settings");
  gtk_accessible_update_property (GTK_ACCESSIBLE (pool), GTK_ACCESSIBLE_PROPERTY_LABEL, "Pool Settings", -1);
  gtk_widget_set_name (pool, "pool-button");
  adw_header_bar_pack_end (bar, pool);
  adw_header_bar_pack_end (bar, history);
}

static void
open_template (RlWindow   *self,
               const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *basename = g_path_get_basename (path);
  RlWorkflowPage *page;

  if (!g_file_get_contents (path, &contents, NULL, &error))
    {
      rl_window_show_toast (self, error->message);
      return;
    }
  page = g_object_ref_sink (rl_workflow_page_new (rl_application_get_registry (get_app (self)), NULL));
  if (rl_workflow_page_load_data (page, contents, basename, &error))
    {
      show_page_loaded (self, page);
      rl_canvas_fit_view (rl_workflow_page_get_canvas (page));
    }
  else
    rl_window_show_toast (self, error->message);
  g_object_unref (page);
}

/* ---- File dialogs ------------------------------------------------------------ */

static GtkFileFilter *
workflow_filter (void)
{
  GtkFileFilter *filter = gtk_file_filter_new ();

  gtk_file_filter_set_name (filter, "Workflows and outputs that carry one");
  gtk_file_filter_add_suffix (filter, "json");
  gtk_file_filter_add_mime_type (filter, "image/png");
  gtk_file_filter_add_mime_type (filter, "image/webp");
  gtk_file_filter_add_mime_type (filter, "video/mp4");
  gtk_file_filter_add_mime_type (filter, "video/webm");
  return filter;
}

static void
on_open_response (GtkNativeDialog *dialog,
                  int              response,
                  RlWindow        *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));

      rl_window_open_file (self, file);
    }
  g_object_unref (dialog);
}

static void
action_open (GtkWidget  *widget,
             const char *name,
             GVariant   *param)
{
  GtkFileChooserNative *dialog = gtk_file_chooser_native_new ("Open Workflow", GTK_WINDOW (widget),
                                                              GTK_FILE_CHOOSER_ACTION_OPEN, "_Open", "_Cancel");

  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (dialog), workflow_filter ());
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (dialog), TRUE);
  g_signal_connect (dialog, "response", G_CALLBACK (on_open_response), widget);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

static void
save_page_to (RlWindow       *self,
              RlWorkflowPage *page,
              GFile          *file)
{
  g_autoptr(GError) error = NULL;

  if (!rl_workflow_page_save (page, file, &error))
    {
      rl_window_show_toast (self, error->message);
      return;
    }
  rl_application_add_recent (get_app (self), rl_workflow_page_get_file (page));
  update_window_title (self);
  rl_window_show_toast (self, "Saved");
}

static void
on_save_response (GtkNativeDialog *dialog,
                  int              response,
                  RlWindow        *self)
{
  RlWorkflowPage *page = g_object_get_data (G_OBJECT (dialog), "rl-page");

  if (response == GTK_RESPONSE_ACCEPT && page != NULL)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));

      save_page_to (self, page, file);
    }
  g_object_unref (dialog);
}

static void
action_save_as (GtkWidget  *widget,
                const char *name,
                GVariant   *param)
{
  RlWindow *self = RL_WINDOW (widget);
  RlWorkflowPage *page = rl_window_get_current_page (self);
  GtkFileChooserNative *dialog;
  g_autofree char *suggested = NULL;

  if (page == NULL)
    return;
  dialog = gtk_file_chooser_native_new ("Save Workflow", GTK_WINDOW (self), GTK_FILE_CHOOSER_ACTION_SAVE,
                                        "_Save", "_Cancel");
  suggested = g_str_has_suffix (rl_workflow_page_get_title (page), ".json")
              ? g_strdup (rl_workflow_page_get_title (page))
              : g_strdup_printf ("%s.json", rl_workflow_page_get_title (page));
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (dialog), suggested);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (dialog), TRUE);
  g_object_set_data_full (G_OBJECT (dialog), "rl-page", g_object_ref (page), g_object_unref);
  g_signal_connect (dialog, "response", G_CALLBACK (on_save_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

static void
action_save (GtkWidget  *widget,
             const char *name,
             GVariant   *param)
{
  RlWindow *self = RL_WINDOW (widget);
  RlWorkflowPage *page = rl_window_get_current_page (self);

  if (page == NULL)
    return;
  if (rl_workflow_page_get_file (page) == NULL)
    action_save_as (widget, name, param);
  else
    save_page_to (self, page, NULL);
}

static void
action_new_tab (GtkWidget  *widget,
                const char *name,
                GVariant   *param)
{
  rl_window_new_page (RL_WINDOW (widget));
}

static void
action_close_tab (GtkWidget  *widget,
                  const char *name,
                  GVariant   *param)
{
  RlWindow *self = RL_WINDOW (widget);
  AdwTabPage *tab = adw_tab_view_get_selected_page (self->tab_view);

  if (tab != NULL)
    adw_tab_view_close_page (self->tab_view, tab);
}

static void
action_open_path (GtkWidget  *widget,
                  const char *name,
                  GVariant   *param)
{
  g_autoptr(GFile) file = g_file_new_for_path (g_variant_get_string (param, NULL));

  if (g_str_equal (name, "win.open-template"))
    open_template (RL_WINDOW (widget), g_variant_get_string (param, NULL));
  else
    rl_window_open_file (RL_WINDOW (widget), file);
}

/* ---- Closing tabs with unsaved edits ---------------------------------------- */

static void
on_discard_response (AdwMessageDialog *dialog,
                     const char       *response,
                     RlWindow         *self)
{
  AdwTabPage *tab = g_object_get_data (G_OBJECT (dialog), "rl-tab");
  gboolean discard = g_str_equal (response, "discard");

  if (discard)
    rl_workflow_page_forget_autosave (RL_WORKFLOW_PAGE (adw_tab_page_get_child (tab)));
  adw_tab_view_close_page_finish (self->tab_view, tab, discard);
}

static gboolean
on_close_page (AdwTabView *view,
               AdwTabPage *tab,
               RlWindow   *self)
{
  RlWorkflowPage *page = RL_WORKFLOW_PAGE (adw_tab_page_get_child (tab));
  GtkWidget *dialog;

  if (!rl_workflow_page_get_modified (page))
    {
      rl_workflow_page_forget_autosave (page);
      adw_tab_view_close_page_finish (view, tab, TRUE);
      return GDK_EVENT_STOP;
    }
  dialog = adw_message_dialog_new (GTK_WINDOW (self), "Discard Changes?", NULL);
  adw_message_dialog_format_body (ADW_MESSAGE_DIALOG (dialog),
                                  "“%s” has unsaved changes that will be lost.",
                                  rl_workflow_page_get_title (page));
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog), "cancel", "_Cancel", "discard", "_Discard", NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "discard",
                                              ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_object_set_data (G_OBJECT (dialog), "rl-tab", tab);
  g_signal_connect (dialog, "response", G_CALLBACK (on_discard_response), self);
  gtk_window_present (GTK_WINDOW (dialog));
  return GDK_EVENT_STOP;
}

static void
on_pages_changed (RlWindow *self)
{
  update_window_title (self);
}

/* ---- Autosave and recovery -------------------------------------------------- */

void
rl_window_autosave_now (RlWindow *self)
{
  g_return_if_fail (RL_IS_WINDOW (self));
  for (int i = 0; i < adw_tab_view_get_n_pages (self->tab_view); i++)
    {
      AdwTabPage *tab = adw_tab_view_get_nth_page (self->tab_view, i);
      g_autoptr(GError) error = NULL;

      if (!rl_workflow_page_autosave (RL_WORKFLOW_PAGE (adw_tab_page_get_child (tab)), &error))
        g_warning ("Autosave failed: %s", error->message);
    }
}

static gboolean
autosave_tick (gpointer data)
{
  rl_window_autosave_now (data);
  return G_SOURCE_CONTINUE;
}

static void
action_restore_autosaved (GtkWidget  *widget,
                          const char *name,
                          GVariant   *param)
{
  RlWindow *self = RL_WINDOW (widget);
  g_autoptr(GPtrArray) found = rl_autosave_list ();

  for (guint i = 0; i < found->len; i++)
    {
      RlAutosaved *autosaved = g_ptr_array_index (found, i);
      RlWorkflowPage *page = g_object_ref_sink (rl_workflow_page_new (rl_application_get_registry (get_app (self)), NULL));
      g_autoptr(GError) error = NULL;

      if (rl_workflow_page_restore (page, autosaved->workflow, autosaved->title, autosaved->file_path, &error))
        {
          show_page_loaded (self, page);
          /* The page autosaves under its own name from now on. */
          rl_workflow_page_autosave (page, NULL);
          rl_autosave_remove (autosaved->id);
        }
      else
        rl_window_show_toast (self, error->message);
      g_object_unref (page);
    }
}

/* The first window of a run offers what an earlier run left unsaved. */
static void
offer_recovery (RlWindow *self)
{
  GApplication *app = G_APPLICATION (get_app (self));
  g_autoptr(GPtrArray) found = NULL;
  g_autofree char *message = NULL;
  AdwToast *toast;

  if (g_object_get_data (G_OBJECT (app), "rl-recovery-offered") != NULL)
    return;
  g_object_set_data (G_OBJECT (app), "rl-recovery-offered", GINT_TO_POINTER (1));
  found = rl_autosave_list ();
  if (found->len == 0)
    return;
  message = g_strdup_printf (found->len == 1 ? "%u unsaved workflow was recovered"
                                             : "%u unsaved workflows were recovered", found->len);
  g_free (self->last_toast);
  self->last_toast = g_strdup (message);
  toast = adw_toast_new (message);
  adw_toast_set_button_label (toast, "_Restore");
  adw_toast_set_action_name (toast, "win.restore-autosaved");
  adw_toast_set_timeout (toast, 0);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

/* ---- Drag and drop ---------------------------------------------------------- */

static gboolean
on_drop (GtkDropTarget *target,
         const GValue  *value,
         double         x,
         double         y,
         RlWindow      *self)
{
  GSList *files;

  if (!G_VALUE_HOLDS (value, GDK_TYPE_FILE_LIST))
    return FALSE;
  files = gdk_file_list_get_files (g_value_get_boxed (value));
  for (GSList *l = files; l != NULL; l = l->next)
    rl_window_open_file (self, l->data);
  g_slist_free (files);
  return TRUE;
}

/* ---- Templates, recent files and window state ------------------------------- */

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return g_strcmp0 (*(char * const *) a, *(char * const *) b);
}

static void
fill_templates (RlWindow *self)
{
  g_autofree char *dir_path = rl_application_get_templates_dir (get_app (self));
  g_autoptr(GDir) dir = g_dir_open (dir_path, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_suffix (name, ".json"))
      g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_strings);
  for (guint i = 0; i < names->len; i++)
    {
      const char *file_name = g_ptr_array_index (names, i);
      g_autofree char *path = g_build_filename (dir_path, file_name, NULL);
      g_autofree char *label = g_strdup_printf ("Template: %.*s", (int) strlen (file_name) - 5, file_name);
      GtkWidget *button = gtk_button_new_with_label (label);

      gtk_actionable_set_action_name (GTK_ACTIONABLE (button), "win.open-template");
      gtk_actionable_set_action_target (GTK_ACTIONABLE (button), "s", path);
      gtk_widget_add_css_class (button, "pill");
      gtk_box_append (self->template_box, button);
    }
}

static void
fill_recent (RlWindow *self)
{
  GSettings *settings = rl_application_get_settings (get_app (self));
  g_auto(GStrv) recent = NULL;

  g_menu_remove_all (self->recent_section);
  if (settings == NULL)
    return;
  recent = g_settings_get_strv (settings, "recent-files");
  for (guint i = 0; recent[i] != NULL; i++)
    {
      g_autofree char *label = g_path_get_basename (recent[i]);
      g_autoptr(GMenuItem) item = g_menu_item_new (label, NULL);

      g_menu_item_set_action_and_target_value (item, "win.open-recent", g_variant_new_string (recent[i]));
      g_menu_append_item (self->recent_section, item);
    }
}

/* Snap to grid is one setting for every tab, remembered in GSettings
 * when the schema has the key (an older installed schema may not). */
static GSettings *
snap_settings (RlWindow *self)
{
  RlApplication *app = get_app (self);
  GSettings *settings = app != NULL ? rl_application_get_settings (app) : NULL;
  g_autoptr(GSettingsSchema) schema = NULL;

  if (settings == NULL)
    return NULL;
  g_object_get (settings, "settings-schema", &schema, NULL);
  return schema != NULL && g_settings_schema_has_key (schema, "snap-to-grid") ? settings : NULL;
}

static void
set_snap_to_grid (RlWindow *self,
                  gboolean  snap)
{
  GSettings *settings;

  snap = snap != FALSE;
  if (self->snap_to_grid == snap)
    return;
  self->snap_to_grid = snap;
  for (int i = 0; i < adw_tab_view_get_n_pages (self->tab_view); i++)
    {
      GtkWidget *child = adw_tab_page_get_child (adw_tab_view_get_nth_page (self->tab_view, i));

      rl_canvas_set_snap_to_grid (rl_workflow_page_get_canvas (RL_WORKFLOW_PAGE (child)), snap);
    }
  settings = snap_settings (self);
  if (settings != NULL && g_settings_get_boolean (settings, "snap-to-grid") != snap)
    g_settings_set_boolean (settings, "snap-to-grid", snap);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SNAP_TO_GRID]);
}

static void
on_snap_setting_changed (RlWindow  *self,
                         const char *key,
                         GSettings *settings)
{
  set_snap_to_grid (self, g_settings_get_boolean (settings, key));
}

static RlCanvas *
nth_canvas (RlWindow *self,
            int       index)
{
  GtkWidget *child = adw_tab_page_get_child (adw_tab_view_get_nth_page (self->tab_view, index));

  return rl_workflow_page_get_canvas (RL_WORKFLOW_PAGE (child));
}

static void
on_show_grid_changed (RlWindow   *self,
                      const char *key,
                      GSettings  *settings)
{
  self->show_grid = g_settings_get_boolean (settings, "show-grid");
  for (int i = 0; i < adw_tab_view_get_n_pages (self->tab_view); i++)
    rl_canvas_set_show_grid (nth_canvas (self, i), self->show_grid);
}

/* The application has put the new model folders into the registry
 * (its handler runs first); combos list them once the nodes are rebuilt. */
static void
on_model_folders_changed (RlWindow *self)
{
  for (int i = 0; i < adw_tab_view_get_n_pages (self->tab_view); i++)
    rl_canvas_reload_nodes (nth_canvas (self, i));
}

/* The preferences' keys, when the installed schema has them. */
static void
follow_preferences (RlWindow  *self,
                    GSettings *settings)
{
  g_autoptr(GSettingsSchema) schema = NULL;

  g_object_get (settings, "settings-schema", &schema, NULL);
  if (schema == NULL)
    return;
  if (g_settings_schema_has_key (schema, "show-grid"))
    {
      on_show_grid_changed (self, "show-grid", settings);
      g_signal_connect_object (settings, "changed::show-grid", G_CALLBACK (on_show_grid_changed), self,
                               G_CONNECT_SWAPPED);
    }
  if (g_settings_schema_has_key (schema, "model-folders"))
    g_signal_connect_object (settings, "changed::model-folders", G_CALLBACK (on_model_folders_changed), self,
                             G_CONNECT_SWAPPED);
  if (g_settings_schema_has_key (schema, "comfyui-folder"))
    g_signal_connect_object (settings, "changed::comfyui-folder", G_CALLBACK (on_model_folders_changed), self,
                             G_CONNECT_SWAPPED);
}

static void
rl_window_get_property (GObject    *object,
                        guint       prop_id,
                        GValue     *value,
                        GParamSpec *pspec)
{
  switch (prop_id)
    {
    case PROP_SNAP_TO_GRID:
      g_value_set_boolean (value, RL_WINDOW (object)->snap_to_grid);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
rl_window_set_property (GObject      *object,
                        guint         prop_id,
                        const GValue *value,
                        GParamSpec   *pspec)
{
  switch (prop_id)
    {
    case PROP_SNAP_TO_GRID:
      set_snap_to_grid (RL_WINDOW (object), g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
restore_window_state (RlWindow *self)
{
  GSettings *settings = rl_application_get_settings (get_app (self));

  if (settings == NULL)
    return;
  gtk_window_set_default_size (GTK_WINDOW (self), g_settings_get_int (settings, "window-width"),
                               g_settings_get_int (settings, "window-height"));
  if (g_settings_get_boolean (settings, "window-maximized"))
    gtk_window_maximize (GTK_WINDOW (self));
  g_signal_connect_object (settings, "changed::recent-files", G_CALLBACK (fill_recent), self,
                           G_CONNECT_SWAPPED);
  follow_preferences (self, settings);
  if (snap_settings (self) != NULL)
    {
      set_snap_to_grid (self, g_settings_get_boolean (settings, "snap-to-grid"));
      g_signal_connect_object (settings, "changed::snap-to-grid", G_CALLBACK (on_snap_setting_changed), self,
                               G_CONNECT_SWAPPED);
    }
}

static gboolean
rl_window_close_request (GtkWindow *window)
{
  RlWindow *self = RL_WINDOW (window);
  RlApplication *app = get_app (self);
  GSettings *settings = app != NULL ? rl_application_get_settings (app) : NULL;

  if (settings != NULL)
    {
      int width = 0, height = 0;

      gtk_window_get_default_size (window, &width, &height);
      g_settings_set_int (settings, "window-width", width);
      g_settings_set_int (settings, "window-height", height);
      g_settings_set_boolean (settings, "window-maximized", gtk_window_is_maximized (window));
    }
  return GTK_WINDOW_CLASS (rl_window_parent_class)->close_request (window);
}

static void
rl_window_dispose (GObject *object)
{
  g_clear_handle_id (&RL_WINDOW (object)->autosave_timer, g_source_remove);
  G_OBJECT_CLASS (rl_window_parent_class)->dispose (object);
}

static void
rl_window_finalize (GObject *object)
{
  g_free (RL_WINDOW (object)->last_toast);
  g_clear_pointer (&RL_WINDOW (object)->history, rl_history_close);
  G_OBJECT_CLASS (rl_window_parent_class)->finalize (object);
}

static void
rl_window_class_init (RlWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = rl_window_dispose;
  object_class->finalize = rl_window_finalize;
  object_class->get_property = rl_window_get_property;
  object_class->set_property = rl_window_set_property;
  /* Whether nodes and reroute points dropped on any tab's canvas snap to
   * the grid; the primary menu's "Snap to Grid" toggles it. */
  properties[PROP_SNAP_TO_GRID] = g_param_spec_boolean ("snap-to-grid", NULL, NULL, FALSE,
                                                        G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY |
                                                        G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
  GTK_WINDOW_CLASS (klass)->close_request = rl_window_close_request;

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/raylight/Raylight/rl-window.ui");
  gtk_widget_class_bind_template_child (widget_class, RlWindow, window_title);
  gtk_widget_class_bind_template_child (widget_class, RlWindow, header_bar);
  gtk_widget_class_bind_template_child (widget_class, RlWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, RlWindow, stack);
  gtk_widget_class_bind_template_child (widget_class, RlWindow, tab_view);
  gtk_widget_class_bind_template_child (widget_class, RlWindow, template_box);
  gtk_widget_class_bind_template_child (widget_class, RlWindow, recent_section);

  gtk_widget_class_install_action (widget_class, "win.open", NULL, action_open);
  gtk_widget_class_install_action (widget_class, "win.save", NULL, action_save);
  gtk_widget_class_install_action (widget_class, "win.save-as", NULL, action_save_as);
  gtk_widget_class_install_action (widget_class, "win.new-tab", NULL, action_new_tab);
  gtk_widget_class_install_action (widget_class, "win.close-tab", NULL, action_close_tab);
  gtk_widget_class_install_action (widget_class, "win.open-template", "s", action_open_path);
  gtk_widget_class_install_action (widget_class, "win.open-recent", "s", action_open_path);
  gtk_widget_class_install_action (widget_class, "win.restore-autosaved", NULL, action_restore_autosaved);
  gtk_widget_class_install_property_action (widget_class, "win.snap-to-grid", "snap-to-grid");
  gtk_widget_class_install_action (widget_class, "win.show-history", NULL, action_show_history);
  gtk_widget_class_install_action (widget_class, "win.show-pool", NULL, action_show_pool);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_h, GDK_CONTROL_MASK, "win.show-history", NULL);
}

static void
rl_window_init (RlWindow *self)
{
  GtkDropTarget *drop;

  gtk_widget_init_template (GTK_WIDGET (self));
  add_history_and_pool_buttons (self);
  self->show_grid = TRUE;
  g_signal_connect (self->tab_view, "close-page", G_CALLBACK (on_close_page), self);
  g_signal_connect_swapped (self->tab_view, "notify::selected-page", G_CALLBACK (on_pages_changed), self);
  g_signal_connect_swapped (self->tab_view, "notify::n-pages", G_CALLBACK (on_pages_changed), self);

  drop = gtk_drop_target_new (GDK_TYPE_FILE_LIST, GDK_ACTION_COPY);
  g_signal_connect (drop, "drop", G_CALLBACK (on_drop), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drop));
}

RlWindow *
rl_window_new (RlApplication *application)
{
  RlWindow *self;

  g_return_val_if_fail (RL_IS_APPLICATION (application), NULL);
  /* "application" is set after construction, so what needs it runs here. */
  self = g_object_new (RL_TYPE_WINDOW, "application", application, NULL);
  restore_window_state (self);
  /* The queue beside the tabs, with the Run button and the run.* actions. */
  self->queue_panel = rl_queue_panel_new (rl_application_get_run_service (application), self);
  rl_queue_panel_attach (self->queue_panel, GTK_WIDGET (self->stack), self->header_bar);
  fill_templates (self);
  fill_recent (self);
  update_window_title (self);
  {
    const char *seconds = g_getenv ("RAYLIGHT_AUTOSAVE_SECONDS");
    guint interval = seconds != NULL ? (guint) g_ascii_strtoull (seconds, NULL, 10) : 20;

    self->autosave_timer = g_timeout_add_seconds (MAX (interval, 1), autosave_tick, self);
  }
  offer_recovery (self);
  return self;
}
