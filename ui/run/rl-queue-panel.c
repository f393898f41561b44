/* RlQueuePanel: queue controls and the job list of the app's RlRunService. */
#include "ui/run/rl-queue-panel.h"

#include "engine/graph/workflow.h"
#include "ui/canvas/rl-canvas.h"
#include "ui/rl-notify.h"
#include "ui/rl-window.h"
#include "ui/rl-workflow-page.h"
#include "ui/viewer/rl-output-viewer.h"

#define PANEL_WIDTH 300

struct _RlQueuePanel
{
  GtkWidget        parent_instance;
  RlRunService    *service;
  RlWindow        *window;         /* weak: owns the panel */
  GtkWidget       *box;
  GtkSpinButton   *batch;
  GtkListBox      *list;
  GtkWidget       *run_button;
  GtkWidget       *pause_button;
  GtkWidget       *stop_button;
  GtkWidget       *free_button;
  GtkWidget       *show_button;
  GSimpleActionGroup *actions;
  GtkWindow       *viewer;         /* weak */
};

G_DEFINE_FINAL_TYPE (RlQueuePanel, rl_queue_panel, GTK_TYPE_WIDGET)

/* ---- Queueing ------------------------------------------------------------------ */

static void
queue_current (RlQueuePanel  *self,
               RlJobPosition  position)
{
  RlWorkflowPage *page = self->window != NULL ? rl_window_get_current_page (self->window) : NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(RlWorkflow) queued = NULL;
  g_autofree char *text = NULL;
  guint count = (guint) gtk_spin_button_get_value_as_int (self->batch);
  RlCanvas *canvas;
  gint64 id;

  if (page == NULL)
    {
      rl_window_show_toast (self->window, "Open a workflow to run it");
      return;
    }
  /* The service steps the seeds of what it queues; the tab then shows the
   * next seeds, as ComfyUI's canvas does. The copy goes through text: a
   * JsonNode copy would share the document's objects. */
  canvas = rl_workflow_page_get_canvas (page);
  text = rl_workflow_to_string (rl_canvas_get_workflow (canvas), FALSE);
  queued = rl_workflow_load_data (text, -1, rl_workflow_page_get_title (page), &error);
  id = queued != NULL ? rl_run_service_queue_workflow (self->service, queued, rl_workflow_page_get_title (page),
                                                       position, count, &error)
                      : 0;
  if (id <= 0)
    {
      rl_notify_error (GTK_WINDOW (self->window), "The workflow cannot run", error->message);
      return;
    }
  rl_canvas_take_queued_document (canvas, queued);
  {
    g_autofree char *message = count > 1 ? g_strdup_printf ("Queued #%" G_GINT64_FORMAT " and %u more", id, count - 1)
                                         : g_strdup_printf ("Queued #%" G_GINT64_FORMAT, id);
    rl_window_show_toast (self->window, message);
  }
}

static void
action_queue (GSimpleAction *action,
              GVariant      *param,
              gpointer       data)
{
  queue_current (RL_QUEUE_PANEL (data), RL_JOB_POSITION_BACK);
}

static void
action_queue_front (GSimpleAction *action,
                    GVariant      *param,
                    gpointer       data)
{
  queue_current (RL_QUEUE_PANEL (data), RL_JOB_POSITION_FRONT);
}

static void
action_pause (GSimpleAction *action,
              GVariant      *state,
              gpointer       data)
{
  RlQueuePanel *self = RL_QUEUE_PANEL (data);
  gboolean paused = g_variant_get_boolean (state);

  rl_run_service_set_paused (self->service, paused);
  g_simple_action_set_state (action, state);
  gtk_widget_set_tooltip_text (self->pause_button, paused ? "Resume the Queue" : "Pause the Queue");
}

/* The pane gives the canvas all the room while nothing was queued; it
 * opens by itself when a job is queued. */
static void
action_show_queue (GSimpleAction *action,
                   GVariant      *state,
                   gpointer       data)
{
  RlQueuePanel *self = RL_QUEUE_PANEL (data);

  g_simple_action_set_state (action, state);
  gtk_widget_set_visible (GTK_WIDGET (self), g_variant_get_boolean (state));
}

static void
on_jobs_changed (GListModel   *jobs,
                 guint         position,
                 guint         removed,
                 guint         added,
                 RlQueuePanel *self)
{
  /* Reordering removes and adds as many; only new jobs open the pane. */
  if (added > removed)
    g_action_group_change_action_state (G_ACTION_GROUP (self->actions), "show-queue", g_variant_new_boolean (TRUE));
}

static void
action_interrupt (GSimpleAction *action,
                  GVariant      *param,
                  gpointer       data)
{
  RlQueuePanel *self = RL_QUEUE_PANEL (data);

  if (!rl_run_service_interrupt (self->service, 0))
    rl_window_show_toast (self->window, "No job is running");
}

static void
on_memory_freed (GObject      *source,
                 GAsyncResult *result,
                 gpointer      data)
{
  g_autoptr(RlQueuePanel) self = data;
  g_autoptr(GError) error = NULL;

  gtk_widget_set_sensitive (self->free_button, TRUE);
  if (self->window == NULL)
    return;
  if (rl_run_service_free_memory_finish (RL_RUN_SERVICE (source), result, &error))
    rl_window_show_toast (self->window, "Memory freed");
  else
    rl_notify_error (GTK_WINDOW (self->window), "Memory could not be freed", error->message);
}

static void
action_free_memory (GSimpleAction *action,
                    GVariant      *param,
                    gpointer       data)
{
  RlQueuePanel *self = RL_QUEUE_PANEL (data);

  gtk_widget_set_sensitive (self->free_button, FALSE);
  rl_run_service_free_memory_async (self->service, on_memory_freed, g_object_ref (self));
}

/* ---- Rows and the viewer ----------------------------------------------------------- */

static void
on_view_output (RlJobRow     *row,
                const char   *path,
                RlQueuePanel *self)
{
  RlJobItem *item = rl_job_row_get_item (row);
  RlOutputViewer *viewer = rl_output_viewer_new (GTK_WINDOW (self->window), path,
                                                 rl_job_item_get_title (item),
                                                 rl_job_item_get_workflow_json (item));

  g_set_weak_pointer (&self->viewer, GTK_WINDOW (viewer));
  gtk_window_present (GTK_WINDOW (viewer));
}

static GtkWidget *
create_row (gpointer item,
            gpointer data)
{
  RlQueuePanel *self = data;
  RlJobRow *row = rl_job_row_new (self->service, RL_JOB_ITEM (item));

  g_signal_connect_object (row, "view-output", G_CALLBACK (on_view_output), self, 0);
  return GTK_WIDGET (row);
}

static void
on_row_activated (GtkListBox    *list,
                  GtkListBoxRow *row,
                  RlQueuePanel  *self)
{
  GtkWidget *view = rl_job_row_get_button (RL_JOB_ROW (row), "view");

  if (gtk_widget_get_visible (view))
    gtk_widget_activate (view);
}

static void
update_stop_sensitivity (RlQueuePanel *self)
{
  GListModel *jobs = rl_run_service_get_jobs (self->service);
  gboolean running = FALSE;

  for (guint i = 0; i < g_list_model_get_n_items (jobs) && !running; i++)
    {
      g_autoptr(RlJobItem) item = g_list_model_get_item (jobs, i);

      running = rl_job_item_get_status (item) == RL_JOB_RUNNING;
    }
  g_simple_action_set_enabled (G_SIMPLE_ACTION (g_action_map_lookup_action (G_ACTION_MAP (self->actions),
                                                                            "interrupt")), running);
}

/* ---- Widget ----------------------------------------------------------------- */

static GtkWidget *
header_button (const char *icon,
               const char *tooltip,
               const char *action)
{
  GtkWidget *button = gtk_button_new_from_icon_name (icon);

  gtk_widget_set_tooltip_text (button, tooltip);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (button), action);
  gtk_widget_add_css_class (button, "flat");
  return button;
}

static void
rl_queue_panel_dispose (GObject *object)
{
  RlQueuePanel *self = RL_QUEUE_PANEL (object);

  g_clear_pointer (&self->box, gtk_widget_unparent);
  g_clear_weak_pointer (&self->window);
  g_clear_weak_pointer (&self->viewer);
  g_clear_object (&self->actions);
  g_clear_object (&self->service);
  G_OBJECT_CLASS (rl_queue_panel_parent_class)->dispose (object);
}

static void
rl_queue_panel_class_init (RlQueuePanelClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = rl_queue_panel_dispose;
  gtk_widget_class_set_layout_manager_type (GTK_WIDGET_CLASS (klass), GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (GTK_WIDGET_CLASS (klass), "queuepanel");
}

static void
rl_queue_panel_init (RlQueuePanel *self)
{
}

RlQueuePanel *
rl_queue_panel_new (RlRunService *service,
                    RlWindow     *window)
{
  static const GActionEntry entries[] = {
    { .name = "queue", .activate = action_queue },
    { .name = "queue-front", .activate = action_queue_front },
    { .name = "pause", .state = "false", .change_state = action_pause },
    { .name = "show-queue", .state = "false", .change_state = action_show_queue },
    { .name = "interrupt", .activate = action_interrupt },
    { .name = "free-memory", .activate = action_free_memory },
  };
  RlQueuePanel *self = g_object_new (RL_TYPE_QUEUE_PANEL, NULL);
  GtkWidget *header = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 2);
  GtkWidget *batch_row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *title = gtk_label_new ("Queue");
  GtkWidget *batch_label = gtk_label_new_with_mnemonic ("_Batch");
  GtkWidget *front = gtk_button_new_with_mnemonic ("To _Front");
  GtkWidget *scroller = gtk_scrolled_window_new ();
  GtkWidget *placeholder = gtk_label_new ("Queued jobs show here (Ctrl+Enter)");

  self->service = g_object_ref (service);
  g_set_weak_pointer (&self->window, window);
  self->actions = g_simple_action_group_new ();
  g_action_map_add_action_entries (G_ACTION_MAP (self->actions), entries, G_N_ELEMENTS (entries), self);
  gtk_widget_insert_action_group (GTK_WIDGET (window), "run", G_ACTION_GROUP (self->actions));

  self->box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  gtk_widget_set_parent (self->box, GTK_WIDGET (self));
  gtk_widget_set_size_request (GTK_WIDGET (self), PANEL_WIDTH, -1);

  gtk_widget_add_css_class (title, "heading");
  gtk_label_set_xalign (GTK_LABEL (title), 0);
  gtk_widget_set_hexpand (title, TRUE);
  gtk_widget_set_margin_start (title, 6);
  self->pause_button = gtk_toggle_button_new ();
  gtk_button_set_icon_name (GTK_BUTTON (self->pause_button), "media-playback-pause-symbolic");
  gtk_actionable_set_action_name (GTK_ACTIONABLE (self->pause_button), "run.pause");
  gtk_widget_set_tooltip_text (self->pause_button, "Pause the Queue");
  gtk_widget_add_css_class (self->pause_button, "flat");
  self->stop_button = header_button ("media-playback-stop-symbolic", "Stop the Running Job", "run.interrupt");
  self->free_button = header_button ("edit-clear-all-symbolic", "Free Memory (unload models)", "run.free-memory");
  gtk_box_append (GTK_BOX (header), title);
  gtk_box_append (GTK_BOX (header), self->pause_button);
  gtk_box_append (GTK_BOX (header), self->stop_button);
  gtk_box_append (GTK_BOX (header), self->free_button);

  self->batch = GTK_SPIN_BUTTON (gtk_spin_button_new_with_range (1, 100, 1));
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->batch), "How many times to queue the workflow");
  gtk_label_set_mnemonic_widget (GTK_LABEL (batch_label), GTK_WIDGET (self->batch));
  gtk_actionable_set_action_name (GTK_ACTIONABLE (front), "run.queue-front");
  gtk_widget_set_tooltip_text (front, "Queue to the Front (Ctrl+Shift+Enter)");
  gtk_widget_set_hexpand (front, TRUE);
  gtk_widget_set_halign (front, GTK_ALIGN_END);
  gtk_widget_set_margin_start (batch_row, 6);
  gtk_widget_set_margin_end (batch_row, 6);
  gtk_box_append (GTK_BOX (batch_row), batch_label);
  gtk_box_append (GTK_BOX (batch_row), GTK_WIDGET (self->batch));
  gtk_box_append (GTK_BOX (batch_row), front);

  self->list = GTK_LIST_BOX (gtk_list_box_new ());
  gtk_list_box_set_selection_mode (self->list, GTK_SELECTION_NONE);
  gtk_widget_add_css_class (GTK_WIDGET (self->list), "navigation-sidebar");
  gtk_label_set_wrap (GTK_LABEL (placeholder), TRUE);
  gtk_widget_add_css_class (placeholder, "dim-label");
  gtk_widget_set_margin_top (placeholder, 24);
  gtk_list_box_set_placeholder (self->list, placeholder);
  gtk_list_box_bind_model (self->list, rl_run_service_get_jobs (service), create_row, self, NULL);
  g_signal_connect (self->list, "row-activated", G_CALLBACK (on_row_activated), self);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scroller), GTK_WIDGET (self->list));
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scroller), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
  gtk_widget_set_vexpand (scroller, TRUE);

  gtk_widget_set_margin_top (self->box, 6);
  gtk_box_append (GTK_BOX (self->box), header);
  gtk_box_append (GTK_BOX (self->box), batch_row);
  gtk_box_append (GTK_BOX (self->box), scroller);

  g_signal_connect_object (rl_run_service_get_jobs (service), "items-changed",
                           G_CALLBACK (update_stop_sensitivity), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (service, "job-started", G_CALLBACK (update_stop_sensitivity), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (rl_run_service_get_jobs (service), "items-changed", G_CALLBACK (on_jobs_changed), self, 0);
  g_action_group_change_action_state (G_ACTION_GROUP (self->actions), "show-queue",
                                      g_variant_new_boolean (g_list_model_get_n_items (rl_run_service_get_jobs (service))
                                                             > 0));
  g_signal_connect_object (service, "job-finished", G_CALLBACK (update_stop_sensitivity), self,
                           G_CONNECT_SWAPPED);
  update_stop_sensitivity (self);
  return self;
}

void
rl_queue_panel_attach (RlQueuePanel *self,
                       GtkWidget    *content,
                       AdwHeaderBar *header)
{
  GtkWidget *parent = gtk_widget_get_parent (content);
  GtkWidget *paned = gtk_paned_new (GTK_ORIENTATION_HORIZONTAL);

  g_return_if_fail (ADW_IS_TOAST_OVERLAY (parent));
  g_object_ref (content);
  adw_toast_overlay_set_child (ADW_TOAST_OVERLAY (parent), NULL);
  gtk_paned_set_start_child (GTK_PANED (paned), content);
  gtk_paned_set_resize_start_child (GTK_PANED (paned), TRUE);
  gtk_paned_set_shrink_start_child (GTK_PANED (paned), FALSE);
  gtk_paned_set_end_child (GTK_PANED (paned), GTK_WIDGET (self));
  gtk_paned_set_resize_end_child (GTK_PANED (paned), FALSE);
  gtk_paned_set_shrink_end_child (GTK_PANED (paned), FALSE);
  adw_toast_overlay_set_child (ADW_TOAST_OVERLAY (parent), paned);
  g_object_unref (content);

  self->run_button = gtk_button_new ();
  gtk_button_set_child (GTK_BUTTON (self->run_button),
                        adw_button_content_new ());
  adw_button_content_set_icon_name (ADW_BUTTON_CONTENT (gtk_button_get_child (GTK_BUTTON (self->run_button))),
                                    "media-playback-start-symbolic");
  adw_button_content_set_label (ADW_BUTTON_CONTENT (gtk_button_get_child (GTK_BUTTON (self->run_button))), "_Run");
  adw_button_content_set_use_underline (ADW_BUTTON_CONTENT (gtk_button_get_child (GTK_BUTTON (self->run_button))),
                                        TRUE);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (self->run_button), "run.queue");
  gtk_widget_set_tooltip_text (self->run_button, "Queue the Workflow (Ctrl+Enter)");
  gtk_widget_add_css_class (self->run_button, "suggested-action");
  adw_header_bar_pack_end (header, self->run_button);

  self->show_button = gtk_toggle_button_new ();
  gtk_button_set_icon_name (GTK_BUTTON (self->show_button), "sidebar-show-right-symbolic");
  gtk_actionable_set_action_name (GTK_ACTIONABLE (self->show_button), "run.show-queue");
  gtk_widget_set_tooltip_text (self->show_button, "Show the Queue");
  adw_header_bar_pack_end (header, self->show_button);
}

GtkSpinButton *
rl_queue_panel_get_batch_spin (RlQueuePanel *self)
{
  return self->batch;
}

RlJobRow *
rl_queue_panel_get_row (RlQueuePanel *self,
                        gint64        job_id)
{
  for (GtkWidget *child = gtk_widget_get_first_child (GTK_WIDGET (self->list)); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    if (RL_IS_JOB_ROW (child) && rl_job_item_get_id (rl_job_row_get_item (RL_JOB_ROW (child))) == job_id)
      return RL_JOB_ROW (child);
  return NULL;
}

GtkWidget *
rl_queue_panel_get_button (RlQueuePanel *self,
                           const char   *name)
{
  if (g_str_equal (name, "run"))
    return self->run_button;
  if (g_str_equal (name, "pause"))
    return self->pause_button;
  if (g_str_equal (name, "stop"))
    return self->stop_button;
  if (g_str_equal (name, "free-memory"))
    return self->free_button;
  if (g_str_equal (name, "show-queue"))
    return self->show_button;
  g_return_val_if_reached (NULL);
}

GtkWindow *
rl_queue_panel_get_viewer (RlQueuePanel *self)
{
  return self->viewer;
}
