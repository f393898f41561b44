/* RlHistoryBrowser: the history window, built in code. */
#include "ui/history/rl-history-browser.h"

#include "engine/run/event.h"

#define SEARCH_DELAY_MS 150
/* Each card holds its job's workflow JSON; the newest this many are
 * listed, and the search reaches the rest. */
#define MAX_CARDS       500

/* A deleted job waiting for its Undo toast to go. */
typedef struct {
  RlHistoryBrowser *self;
  gint64            job_id;
  gboolean          delete_files;
  gboolean          undone;
  AdwToast         *toast;     /* its Undo toast, while shown */
} PendingDelete;

static void
pending_delete_free (PendingDelete *pending)
{
  g_signal_handlers_disconnect_by_data (pending->toast, pending);
  g_object_unref (pending->toast);
  g_free (pending);
}

struct _RlHistoryBrowser
{
  AdwWindow          parent_instance;

  RlHistory         *history;            /* borrowed */
  GListStore        *items;
  GHashTable        *widgets;            /* name → widget (borrowed) */
  AdwToastOverlay   *toasts;
  GtkStack          *stack;              /* "grid", "empty", "job" */
  AdwWindowTitle    *title;
  RlHistoryJobPage  *job_page;
  GPtrArray         *pending;            /* PendingDelete* whose toast is up */
  gint64             n_matching;         /* jobs matching the search, listed or not */
  char              *last_toast;
  guint              search_timeout;
};

G_DEFINE_FINAL_TYPE (RlHistoryBrowser, rl_history_browser, ADW_TYPE_WINDOW)

enum { SIGNAL_OPEN_WORKFLOW, N_SIGNALS };
static guint signals[N_SIGNALS];

static const char * const filter_labels[] = { "All Jobs", "Succeeded", "Failed", "Interrupted", "Cancelled" };
static const RlJobStatus filter_status[] = { RL_JOB_QUEUED /* unused */, RL_JOB_SUCCEEDED, RL_JOB_FAILED,
                                             RL_JOB_INTERRUPTED, RL_JOB_CANCELLED };

static void
remember (RlHistoryBrowser *self,
          const char       *name,
          GtkWidget        *widget)
{
  g_hash_table_insert (self->widgets, g_strdup (name), widget);
}

static void
show_toast (RlHistoryBrowser *self,
            AdwToast         *toast)
{
  g_free (self->last_toast);
  self->last_toast = g_strdup (adw_toast_get_title (toast));
  adw_toast_overlay_add_toast (self->toasts, toast);
}

static void
show_message (RlHistoryBrowser *self,
              const char       *message)
{
  show_toast (self, adw_toast_new (message));
}

/* ---- Cards -------------------------------------------------------------- */

static const char *
status_icon (RlJobStatus status)
{
  switch (status)
    {
    case RL_JOB_SUCCEEDED:   return "emblem-ok-symbolic";
    case RL_JOB_FAILED:      return "dialog-error-symbolic";
    case RL_JOB_RUNNING:     return "media-playback-start-symbolic";
    case RL_JOB_QUEUED:      return "content-loading-symbolic";
    case RL_JOB_INTERRUPTED:
    case RL_JOB_CANCELLED:
    default:                 return "process-stop-symbolic";
    }
}

static void
append_card_row (GtkWidget *card,
                 GtkWidget *row)
{
  gtk_widget_set_margin_start (row, 8);
  gtk_widget_set_margin_end (row, 8);
  gtk_box_append (GTK_BOX (card), row);
}

static void
style_caption (GtkWidget *label)
{
  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
  gtk_widget_add_css_class (label, "caption");
}

static void
setup_card (GtkSignalListItemFactory *factory,
            GtkListItem              *list_item,
            gpointer                  data)
{
  GtkWidget *card = gtk_box_new (GTK_ORIENTATION_VERTICAL, 4);
  GtkWidget *frame = gtk_overlay_new ();
  GtkWidget *picture = gtk_picture_new ();
  GtkWidget *placeholder = gtk_image_new_from_icon_name ("image-missing-symbolic");
  GtkWidget *title_box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *icon = gtk_image_new ();
  GtkWidget *title = gtk_label_new (NULL);
  GtkWidget *line1 = gtk_label_new (NULL);
  GtkWidget *line2 = gtk_label_new (NULL);

  gtk_widget_add_css_class (card, "card");
  gtk_widget_set_size_request (card, 220, -1);
  gtk_widget_set_margin_start (card, 6);
  gtk_widget_set_margin_end (card, 6);
  gtk_widget_set_margin_top (card, 6);
  gtk_widget_set_margin_bottom (card, 6);
  gtk_picture_set_can_shrink (GTK_PICTURE (picture), TRUE);
  gtk_widget_set_size_request (picture, 208, 124);
  gtk_image_set_pixel_size (GTK_IMAGE (placeholder), 48);
  gtk_widget_add_css_class (placeholder, "dim-label");
  gtk_overlay_set_child (GTK_OVERLAY (frame), picture);
  gtk_overlay_add_overlay (GTK_OVERLAY (frame), placeholder);
  gtk_widget_set_margin_top (frame, 6);
  gtk_box_append (GTK_BOX (card), frame);
  gtk_box_append (GTK_BOX (title_box), icon);
  gtk_label_set_ellipsize (GTK_LABEL (title), PANGO_ELLIPSIZE_END);
  gtk_label_set_xalign (GTK_LABEL (title), 0);
  gtk_widget_add_css_class (title, "heading");
  gtk_box_append (GTK_BOX (title_box), title);
  append_card_row (card, title_box);
  append_card_row (card, line1);
  append_card_row (card, line2);
  style_caption (line1);
  style_caption (line2);
  gtk_widget_set_margin_bottom (line2, 8);
  gtk_widget_add_css_class (line2, "dim-label");
  g_object_set_data (G_OBJECT (card), "picture", picture);
  g_object_set_data (G_OBJECT (card), "placeholder", placeholder);
  g_object_set_data (G_OBJECT (card), "icon", icon);
  g_object_set_data (G_OBJECT (card), "title", title);
  g_object_set_data (G_OBJECT (card), "line1", line1);
  g_object_set_data (G_OBJECT (card), "line2", line2);
  gtk_list_item_set_child (list_item, card);
}

static void
update_card_thumbnail (GtkWidget     *card,
                       RlHistoryItem *item)
{
  GdkTexture *thumbnail = rl_history_item_get_thumbnail (item);
  GtkWidget *placeholder = g_object_get_data (G_OBJECT (card), "placeholder");

  gtk_picture_set_paintable (GTK_PICTURE (g_object_get_data (G_OBJECT (card), "picture")),
                             GDK_PAINTABLE (thumbnail));
  gtk_widget_set_visible (placeholder, thumbnail == NULL);
  gtk_widget_set_tooltip_text (placeholder, rl_history_item_get_thumbnail_problem (item));
}

static void
on_item_thumbnail (RlHistoryItem *item,
                   GParamSpec    *pspec,
                   GtkWidget     *card)
{
  update_card_thumbnail (card, item);
}

static void
bind_card (GtkSignalListItemFactory *factory,
           GtkListItem              *list_item,
           gpointer                  data)
{
  RlHistoryItem *item = gtk_list_item_get_item (list_item);
  GtkWidget *card = gtk_list_item_get_child (list_item);
  const RlHistoryJob *job = rl_history_item_get_job (item);
  const RlHistorySummary *summary = rl_history_item_get_summary (item);
  g_autofree char *duration = rl_history_format_duration (job->duration_s);
  g_autofree char *line1 = g_strdup_printf ("%s · %s", rl_job_status_to_string (job->status), duration);
  g_autofree char *line2 = summary->has_seed
                             ? g_strdup_printf ("seed %" G_GINT64_FORMAT " · %s", summary->seed, summary->parallel)
                             : g_strdup (summary->parallel);
  g_autofree char *accessible = g_strdup_printf ("Job %s, %s, %s", rl_history_item_get_title (item), line1, line2);

  gtk_label_set_text (g_object_get_data (G_OBJECT (card), "title"), rl_history_item_get_title (item));
  gtk_label_set_text (g_object_get_data (G_OBJECT (card), "line1"), line1);
  gtk_label_set_text (g_object_get_data (G_OBJECT (card), "line2"), line2);
  gtk_image_set_from_icon_name (g_object_get_data (G_OBJECT (card), "icon"), status_icon (job->status));
  gtk_widget_set_tooltip_text (card, job->error_text);
  gtk_accessible_update_property (GTK_ACCESSIBLE (card), GTK_ACCESSIBLE_PROPERTY_LABEL, accessible, -1);
  if (job->status == RL_JOB_FAILED)
    gtk_widget_add_css_class (card, "error");
  else
    gtk_widget_remove_css_class (card, "error");
  update_card_thumbnail (card, item);
  g_signal_connect (item, "notify::thumbnail", G_CALLBACK (on_item_thumbnail), card);
}

static void
unbind_card (GtkSignalListItemFactory *factory,
             GtkListItem              *list_item,
             gpointer                  data)
{
  g_signal_handlers_disconnect_by_func (gtk_list_item_get_item (list_item), on_item_thumbnail,
                                        gtk_list_item_get_child (list_item));
}

/* ---- Loading ------------------------------------------------------------ */

static void
update_header (RlHistoryBrowser *self)
{
  gboolean job = self->job_page != NULL;
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->items));
  g_autofree char *subtitle = job ? NULL
                              : self->n_matching > (gint64) n
                                ? g_strdup_printf ("newest %u of %" G_GINT64_FORMAT " jobs", n, self->n_matching)
                                : g_strdup_printf ("%u job%s", n, n == 1 ? "" : "s");

  gtk_widget_set_visible (g_hash_table_lookup (self->widgets, "back"), job);
  gtk_widget_set_visible (g_hash_table_lookup (self->widgets, "open-workflow"), job);
  gtk_widget_set_visible (g_hash_table_lookup (self->widgets, "delete"), job);
  gtk_widget_set_visible (g_hash_table_lookup (self->widgets, "search"), !job);
  gtk_widget_set_visible (g_hash_table_lookup (self->widgets, "status-filter"), !job);
  if (job)
    {
      const RlHistoryJob *data = rl_history_item_get_job (rl_history_job_page_get_item (self->job_page));
      gtk_widget_set_sensitive (g_hash_table_lookup (self->widgets, "open-workflow"), data->workflow_json != NULL);
    }
  adw_window_title_set_title (self->title, job ? rl_history_item_get_title (rl_history_job_page_get_item (self->job_page))
                                              : "History");
  adw_window_title_set_subtitle (self->title, subtitle);
}

void
rl_history_browser_reload (RlHistoryBrowser *self)
{
  GtkEditable *search = g_hash_table_lookup (self->widgets, "search");
  guint filter = gtk_drop_down_get_selected (g_hash_table_lookup (self->widgets, "status-filter"));
  RlHistoryQuery query = { .search = gtk_editable_get_text (search), .limit = MAX_CARDS };
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) jobs = NULL;
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func (g_object_unref);

  g_return_if_fail (RL_IS_HISTORY_BROWSER (self));
  if (filter > 0 && filter < G_N_ELEMENTS (filter_status))
    {
      query.filter_status = TRUE;
      query.status = filter_status[filter];
    }
  jobs = rl_history_list (self->history, &query, &error);
  self->n_matching = jobs != NULL ? rl_history_count (self->history, &query, NULL) : 0;
  if (jobs == NULL)
    {
      show_message (self, error->message);
      return;
    }
  /* The items take the jobs over. */
  g_ptr_array_set_free_func (jobs, NULL);
  for (guint i = 0; i < jobs->len; i++)
    g_ptr_array_add (items, rl_history_item_new (g_ptr_array_index (jobs, i)));
  g_list_store_splice (self->items, 0, g_list_model_get_n_items (G_LIST_MODEL (self->items)), items->pdata, items->len);
  if (self->job_page == NULL)
    gtk_stack_set_visible_child_name (self->stack, items->len > 0 ? "grid" : "empty");
  update_header (self);
}

static gboolean
search_now (gpointer data)
{
  RlHistoryBrowser *self = data;

  self->search_timeout = 0;
  rl_history_browser_reload (self);
  return G_SOURCE_REMOVE;
}

static void
on_search_changed (RlHistoryBrowser *self)
{
  g_clear_handle_id (&self->search_timeout, g_source_remove);
  self->search_timeout = g_timeout_add (SEARCH_DELAY_MS, search_now, self);
}

/* ---- Job page ------------------------------------------------------------ */

static void
show_job (RlHistoryBrowser *self,
          RlHistoryItem    *item)
{
  GtkWidget *old = gtk_stack_get_child_by_name (self->stack, "job");

  if (old != NULL)
    gtk_stack_remove (self->stack, old);
  self->job_page = rl_history_job_page_new (item);
  gtk_stack_add_named (self->stack, GTK_WIDGET (self->job_page), "job");
  gtk_stack_set_visible_child_name (self->stack, "job");
  update_header (self);
}

gboolean
rl_history_browser_open_job (RlHistoryBrowser *self,
                             gint64            job_id)
{
  g_return_val_if_fail (RL_IS_HISTORY_BROWSER (self), FALSE);
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->items)); i++)
    {
      g_autoptr(RlHistoryItem) item = g_list_model_get_item (G_LIST_MODEL (self->items), i);

      if (rl_history_item_get_id (item) == job_id)
        {
          show_job (self, item);
          return TRUE;
        }
    }
  return FALSE;
}

static void
on_activate (GtkGridView      *grid,
             guint             position,
             RlHistoryBrowser *self)
{
  g_autoptr(RlHistoryItem) item = g_list_model_get_item (G_LIST_MODEL (self->items), position);

  if (item != NULL)
    show_job (self, item);
}

void
rl_history_browser_show_grid (RlHistoryBrowser *self)
{
  GtkWidget *old;

  g_return_if_fail (RL_IS_HISTORY_BROWSER (self));
  old = gtk_stack_get_child_by_name (self->stack, "job");
  self->job_page = NULL;
  gtk_stack_set_visible_child_name (self->stack,
                                    g_list_model_get_n_items (G_LIST_MODEL (self->items)) > 0 ? "grid" : "empty");
  if (old != NULL)
    gtk_stack_remove (self->stack, old);
  update_header (self);
}

static void
on_back (RlHistoryBrowser *self)
{
  rl_history_browser_show_grid (self);
}

static void
on_open_workflow (RlHistoryBrowser *self)
{
  RlHistoryItem *item;
  const RlHistoryJob *job;
  g_autofree char *title = NULL;

  if (self->job_page == NULL)
    return;
  item = rl_history_job_page_get_item (self->job_page);
  job = rl_history_item_get_job (item);
  if (job->workflow_json == NULL)
    {
      show_message (self, "This job did not record its workflow (it was run from an API prompt)");
      return;
    }
  title = g_strdup_printf ("Job %" G_GINT64_FORMAT, job->id);
  g_signal_emit (self, signals[SIGNAL_OPEN_WORKFLOW], 0, job->id, job->workflow_json, title);
}

/* ---- Deleting with Undo --------------------------------------------------- */

/* Deletes the job for good, and its files when asked. */
static void
purge (RlHistoryBrowser *self,
       gint64            job_id,
       gboolean          delete_files)
{
  g_autoptr(GError) error = NULL;

  if (delete_files)
    {
      g_autoptr(RlHistoryJob) job = rl_history_get_job (self->history, job_id, &error);

      if (job == NULL || (rl_history_delete_output_files (job, &error), error != NULL))
        {
          g_warning ("%s", error->message);
          g_clear_error (&error);
        }
    }
  if (!rl_history_delete_job (self->history, job_id, &error))
    g_warning ("%s", error->message);
}

static void
on_toast_dismissed (AdwToast      *toast,
                    PendingDelete *pending)
{
  RlHistoryBrowser *self = pending->self;

  if (!pending->undone)
    purge (self, pending->job_id, pending->delete_files);
  g_ptr_array_remove (self->pending, pending);
}

static void
on_undo (AdwToast      *toast,
         PendingDelete *pending)
{
  RlHistoryBrowser *self = pending->self;
  g_autoptr(GError) error = NULL;

  pending->undone = TRUE;
  if (!rl_history_restore_job (self->history, pending->job_id, &error))
    {
      show_message (self, error->message);
      return;
    }
  rl_history_browser_reload (self);
}

static void
on_delete (RlHistoryBrowser *self)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *message = NULL;
  PendingDelete *pending;
  AdwToast *toast;
  RlHistoryItem *item;

  if (self->job_page == NULL)
    return;
  item = rl_history_job_page_get_item (self->job_page);
  pending = g_new0 (PendingDelete, 1);
  pending->self = self;
  pending->job_id = rl_history_item_get_id (item);
  pending->delete_files = rl_history_job_page_get_delete_files (self->job_page);
  if (!rl_history_trash_job (self->history, pending->job_id, &error))
    {
      g_free (pending);
      show_message (self, error->message);
      return;
    }
  message = g_strdup_printf ("Job #%" G_GINT64_FORMAT " deleted%s", pending->job_id,
                             pending->delete_files ? " with its files" : "");
  toast = adw_toast_new (message);
  adw_toast_set_button_label (toast, "_Undo");
  adw_toast_set_timeout (toast, 8);
  pending->toast = g_object_ref (toast);
  g_ptr_array_add (self->pending, pending);
  g_signal_connect (toast, "button-clicked", G_CALLBACK (on_undo), pending);
  g_signal_connect (toast, "dismissed", G_CALLBACK (on_toast_dismissed), pending);
  rl_history_browser_show_grid (self);
  rl_history_browser_reload (self);
  show_toast (self, toast);
}

/* Jobs a previous session deleted but could not purge (it ended while the
 * toast was up) are deleted now; their files are kept, since whether they
 * were to go is not recorded. Ones trashed in the last minutes may still
 * have an Undo on offer in another window and are left alone. */
static void
purge_left_over (RlHistoryBrowser *self)
{
  gint64 cutoff = g_get_real_time () - 10 * 60 * G_USEC_PER_SEC;
  g_autoptr(GArray) trashed = rl_history_list_trashed (self->history, cutoff, NULL);

  for (guint i = 0; trashed != NULL && i < trashed->len; i++)
    purge (self, g_array_index (trashed, gint64, i), FALSE);
}

/* ---- Building ------------------------------------------------------------ */

static GtkWidget *
header_button (RlHistoryBrowser *self,
               const char       *name,
               const char       *label,
               const char       *css_class,
               GCallback         callback)
{
  GtkWidget *button = gtk_button_new_with_mnemonic (label);

  if (css_class != NULL)
    gtk_widget_add_css_class (button, css_class);
  g_signal_connect_swapped (button, "clicked", callback, self);
  remember (self, name, button);
  return button;
}

static void
build (RlHistoryBrowser *self)
{
  GtkWidget *view = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *header = adw_header_bar_new ();
  GtkWidget *back = gtk_button_new_from_icon_name ("go-previous-symbolic");
  GtkWidget *search = gtk_search_entry_new ();
  GtkWidget *filter = gtk_drop_down_new_from_strings (filter_labels);
  GtkListItemFactory *factory = gtk_signal_list_item_factory_new ();
  GtkWidget *grid = gtk_grid_view_new (GTK_SELECTION_MODEL (gtk_no_selection_new (
                                         G_LIST_MODEL (g_object_ref (self->items)))), factory);
  GtkWidget *scrolled = gtk_scrolled_window_new ();
  GtkWidget *empty = adw_status_page_new ();

  self->title = ADW_WINDOW_TITLE (adw_window_title_new ("History", NULL));
  adw_header_bar_set_title_widget (ADW_HEADER_BAR (header), GTK_WIDGET (self->title));
  gtk_widget_set_tooltip_text (back, "Back to All Jobs");
  gtk_accessible_update_property (GTK_ACCESSIBLE (back), GTK_ACCESSIBLE_PROPERTY_LABEL, "Back to all jobs", -1);
  g_signal_connect_swapped (back, "clicked", G_CALLBACK (on_back), self);
  remember (self, "back", back);
  adw_header_bar_pack_start (ADW_HEADER_BAR (header), back);
  g_object_set (search, "placeholder-text", "Search model, seed, prompt, error…", NULL);
  gtk_widget_set_size_request (search, 300, -1);
  gtk_accessible_update_property (GTK_ACCESSIBLE (search), GTK_ACCESSIBLE_PROPERTY_LABEL, "Search jobs", -1);
  g_signal_connect_swapped (search, "search-changed", G_CALLBACK (on_search_changed), self);
  remember (self, "search", search);
  adw_header_bar_pack_start (ADW_HEADER_BAR (header), search);
  gtk_accessible_update_property (GTK_ACCESSIBLE (filter), GTK_ACCESSIBLE_PROPERTY_LABEL, "Show jobs by status", -1);
  g_signal_connect_swapped (filter, "notify::selected", G_CALLBACK (rl_history_browser_reload), self);
  remember (self, "status-filter", filter);
  adw_header_bar_pack_start (ADW_HEADER_BAR (header), filter);
  adw_header_bar_pack_end (ADW_HEADER_BAR (header),
                           header_button (self, "delete", "_Delete", "destructive-action", G_CALLBACK (on_delete)));
  adw_header_bar_pack_end (ADW_HEADER_BAR (header),
                           header_button (self, "open-workflow", "_Open Workflow", "suggested-action",
                                          G_CALLBACK (on_open_workflow)));
  gtk_box_append (GTK_BOX (view), header);

  g_signal_connect (factory, "setup", G_CALLBACK (setup_card), self);
  g_signal_connect (factory, "bind", G_CALLBACK (bind_card), self);
  g_signal_connect (factory, "unbind", G_CALLBACK (unbind_card), self);
  gtk_grid_view_set_max_columns (GTK_GRID_VIEW (grid), 6);
  gtk_grid_view_set_min_columns (GTK_GRID_VIEW (grid), 1);
  gtk_grid_view_set_single_click_activate (GTK_GRID_VIEW (grid), TRUE);
  gtk_accessible_update_property (GTK_ACCESSIBLE (grid), GTK_ACCESSIBLE_PROPERTY_LABEL, "Past jobs", -1);
  g_signal_connect (grid, "activate", G_CALLBACK (on_activate), self);
  remember (self, "grid", grid);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), grid);
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scrolled), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);

  adw_status_page_set_icon_name (ADW_STATUS_PAGE (empty), "document-open-recent-symbolic");
  adw_status_page_set_title (ADW_STATUS_PAGE (empty), "No Jobs");
  adw_status_page_set_description (ADW_STATUS_PAGE (empty),
                                   "Jobs you run appear here, with their outputs and the workflow that made them");
  remember (self, "empty", empty);

  self->stack = GTK_STACK (gtk_stack_new ());
  gtk_widget_set_vexpand (GTK_WIDGET (self->stack), TRUE);
  gtk_stack_add_named (self->stack, scrolled, "grid");
  gtk_stack_add_named (self->stack, empty, "empty");
  self->toasts = ADW_TOAST_OVERLAY (adw_toast_overlay_new ());
  adw_toast_overlay_set_child (self->toasts, GTK_WIDGET (self->stack));
  gtk_box_append (GTK_BOX (view), GTK_WIDGET (self->toasts));
  adw_window_set_content (ADW_WINDOW (self), view);
  gtk_window_set_title (GTK_WINDOW (self), "History");
  gtk_window_set_default_size (GTK_WINDOW (self), 1040, 720);
}

/* ---- GObject ----------------------------------------------------------------- */

static gboolean
rl_history_browser_close_request (GtkWindow *window)
{
  RlHistoryBrowser *self = RL_HISTORY_BROWSER (window);

  /* Toasts still up are the user's last chance to undo; closing the
   * window ends it, so their jobs go now. */
  while (self->pending->len > 0)
    {
      PendingDelete *pending = g_ptr_array_index (self->pending, 0);

      if (!pending->undone)
        purge (self, pending->job_id, pending->delete_files);
      pending->undone = TRUE;
      g_ptr_array_remove_index (self->pending, 0);
    }
  return GTK_WINDOW_CLASS (rl_history_browser_parent_class)->close_request (window);
}

static void
rl_history_browser_dispose (GObject *object)
{
  RlHistoryBrowser *self = RL_HISTORY_BROWSER (object);

  g_clear_handle_id (&self->search_timeout, g_source_remove);
  G_OBJECT_CLASS (rl_history_browser_parent_class)->dispose (object);
}

static void
rl_history_browser_finalize (GObject *object)
{
  RlHistoryBrowser *self = RL_HISTORY_BROWSER (object);

  g_clear_object (&self->items);
  g_clear_pointer (&self->widgets, g_hash_table_unref);
  g_clear_pointer (&self->pending, g_ptr_array_unref);
  g_free (self->last_toast);
  G_OBJECT_CLASS (rl_history_browser_parent_class)->finalize (object);
}

static void
rl_history_browser_class_init (RlHistoryBrowserClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = rl_history_browser_dispose;
  object_class->finalize = rl_history_browser_finalize;
  GTK_WINDOW_CLASS (klass)->close_request = rl_history_browser_close_request;
  signals[SIGNAL_OPEN_WORKFLOW] = g_signal_new ("open-workflow", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                                0, NULL, NULL, NULL, G_TYPE_NONE, 3,
                                                G_TYPE_INT64, G_TYPE_STRING, G_TYPE_STRING);
}

static void
rl_history_browser_init (RlHistoryBrowser *self)
{
  self->items = g_list_store_new (RL_TYPE_HISTORY_ITEM);
  self->widgets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  /* A pending delete lives until its toast is dismissed or the window
   * closes, whichever is first; the array owns it. */
  self->pending = g_ptr_array_new_with_free_func ((GDestroyNotify) pending_delete_free);
  build (self);
}

RlHistoryBrowser *
rl_history_browser_new (RlHistory *history,
                        GtkWindow *parent)
{
  RlHistoryBrowser *self;

  g_return_val_if_fail (history != NULL, NULL);
  self = g_object_new (RL_TYPE_HISTORY_BROWSER, "transient-for", parent, NULL);
  self->history = history;
  purge_left_over (self);
  rl_history_browser_reload (self);
  return self;
}

GListModel *
rl_history_browser_get_items (RlHistoryBrowser *self)
{
  g_return_val_if_fail (RL_IS_HISTORY_BROWSER (self), NULL);
  return G_LIST_MODEL (self->items);
}

RlHistoryJobPage *
rl_history_browser_get_job_page (RlHistoryBrowser *self)
{
  g_return_val_if_fail (RL_IS_HISTORY_BROWSER (self), NULL);
  return self->job_page;
}

const char *
rl_history_browser_get_last_toast (RlHistoryBrowser *self)
{
  g_return_val_if_fail (RL_IS_HISTORY_BROWSER (self), NULL);
  return self->last_toast;
}

GtkWidget *
rl_history_browser_get_widget (RlHistoryBrowser *self,
                               const char       *name)
{
  g_return_val_if_fail (RL_IS_HISTORY_BROWSER (self), NULL);
  return g_hash_table_lookup (self->widgets, name);
}
