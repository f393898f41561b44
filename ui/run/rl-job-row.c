/* RlJobRow: a job's row, redrawn on the item's "changed". */
#include "ui/run/rl-job-row.h"

#include "ui/rl-notify.h"

/* Previews of video latents play at this rate (the latent frames are
 * 4 video frames apart; their real rate does not matter for a preview). */
#define PREVIEW_FPS 8

struct _RlJobRow
{
  GtkListBoxRow   parent_instance;
  RlRunService   *service;
  RlJobItem      *item;
  GtkImage       *state_icon;
  GtkLabel       *title;
  GtkLabel       *detail;
  GtkProgressBar *progress;
  GtkPicture     *preview;
  GtkWidget      *up;
  GtkWidget      *down;
  GtkWidget      *cancel;
  GtkWidget      *stop;
  GtkWidget      *view;
  RlJobRow       *drop_row;       /* weak: marked while this row is dragged */
  guint           preview_frame;
  guint           play_timer;
  gulong          changed_handler;
};

G_DEFINE_FINAL_TYPE (RlJobRow, rl_job_row, GTK_TYPE_LIST_BOX_ROW)

enum { SIGNAL_VIEW_OUTPUT, N_SIGNALS };
static guint signals[N_SIGNALS];

static const char *
state_icon_name (RlJobStatus status)
{
  switch (status)
    {
    case RL_JOB_QUEUED:      return "content-loading-symbolic";
    case RL_JOB_RUNNING:     return "media-playback-start-symbolic";
    case RL_JOB_SUCCEEDED:   return "emblem-ok-symbolic";
    case RL_JOB_FAILED:      return "dialog-error-symbolic";
    case RL_JOB_INTERRUPTED: return "media-playback-stop-symbolic";
    case RL_JOB_CANCELLED:   return "list-remove-symbolic";
    }
  return "content-loading-symbolic";
}

static const char *
first_output (RlJobRow *self)
{
  GPtrArray *outputs = rl_job_item_get_outputs (self->item);

  /* The last file is the one the graph ends with (the video after its
   * frames, say). */
  return outputs->len > 0 ? g_ptr_array_index (outputs, outputs->len - 1) : NULL;
}

static void
show_preview_frame (RlJobRow *self)
{
  GPtrArray *frames = rl_job_item_get_preview (self->item);

  if (frames == NULL || frames->len == 0)
    return;
  self->preview_frame %= frames->len;
  gtk_picture_set_paintable (self->preview, g_ptr_array_index (frames, self->preview_frame));
}

static gboolean
advance_preview (gpointer data)
{
  RlJobRow *self = data;

  self->preview_frame++;
  show_preview_frame (self);
  return G_SOURCE_CONTINUE;
}

static void
update (RlJobRow *self)
{
  RlJobStatus status = rl_job_item_get_status (self->item);
  GPtrArray *frames = rl_job_item_get_preview (self->item);
  g_autofree char *detail = rl_job_item_describe_progress (self->item);
  gboolean plays = frames != NULL && frames->len > 1;

  gtk_image_set_from_icon_name (self->state_icon, state_icon_name (status));
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->state_icon), rl_job_status_to_string (status));
  gtk_label_set_label (self->title, rl_job_item_get_title (self->item));
  gtk_label_set_label (self->detail, detail);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->detail), detail);
  gtk_progress_bar_set_fraction (self->progress, rl_job_item_get_fraction (self->item));
  gtk_widget_set_visible (GTK_WIDGET (self->progress), status == RL_JOB_RUNNING);
  gtk_widget_set_visible (GTK_WIDGET (self->preview), frames != NULL && frames->len > 0);
  gtk_widget_set_visible (self->up, status == RL_JOB_QUEUED);
  gtk_widget_set_visible (self->down, status == RL_JOB_QUEUED);
  gtk_widget_set_visible (self->cancel, status == RL_JOB_QUEUED);
  gtk_widget_set_visible (self->stop, status == RL_JOB_RUNNING);
  gtk_widget_set_visible (self->view, first_output (self) != NULL && status == RL_JOB_SUCCEEDED);
  show_preview_frame (self);
  if (plays && self->play_timer == 0)
    self->play_timer = g_timeout_add (1000 / PREVIEW_FPS, advance_preview, self);
  else if (!plays)
    g_clear_handle_id (&self->play_timer, g_source_remove);
}

static void
report_error (RlJobRow   *self,
              const char *what,
              GError     *error)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));

  if (GTK_IS_WINDOW (root))
    rl_notify_error (GTK_WINDOW (root), what, error->message);
}

static void
on_up (RlJobRow *self)
{
  g_autoptr(GError) error = NULL;

  if (!rl_run_service_move_by (self->service, rl_job_item_get_id (self->item), -1, &error))
    report_error (self, "The job could not be moved", error);
}

static void
on_down (RlJobRow *self)
{
  g_autoptr(GError) error = NULL;

  if (!rl_run_service_move_by (self->service, rl_job_item_get_id (self->item), +1, &error))
    report_error (self, "The job could not be moved", error);
}

static void
on_cancel (RlJobRow *self)
{
  g_autoptr(GError) error = NULL;

  if (!rl_run_service_cancel (self->service, rl_job_item_get_id (self->item), &error))
    report_error (self, "The job could not be cancelled", error);
}

static void
on_stop (RlJobRow *self)
{
  rl_run_service_interrupt (self->service, rl_job_item_get_id (self->item));
}

static void
on_view (RlJobRow *self)
{
  const char *path = first_output (self);

  if (path != NULL)
    g_signal_emit (self, signals[SIGNAL_VIEW_OUTPUT], 0, path);
}

/* Reordering by hand: a waiting job's row dragged onto another waiting
 * job's row takes that job's place in the run order. A pointer gesture
 * inside the list, not a drag-and-drop of data: nothing leaves the panel,
 * and it works the same on X11 and Wayland. The row under the pointer is
 * marked while the drag lasts. */
static GtkListBox *
row_list (RlJobRow *self)
{
  GtkWidget *parent = gtk_widget_get_parent (GTK_WIDGET (self));

  return GTK_IS_LIST_BOX (parent) ? GTK_LIST_BOX (parent) : NULL;
}

/* The waiting job's row (not this one) under the drag's current point. */
static RlJobRow *
drop_row_at (RlJobRow       *self,
             GtkGestureDrag *gesture,
             double          dx,
             double          dy)
{
  GtkListBox *list = row_list (self);
  graphene_point_t point;
  double x0, y0;
  GtkListBoxRow *row;

  if (list == NULL || !gtk_gesture_drag_get_start_point (gesture, &x0, &y0)
      || !gtk_widget_compute_point (GTK_WIDGET (self), GTK_WIDGET (list), &GRAPHENE_POINT_INIT (x0 + dx, y0 + dy),
                                    &point))
    return NULL;
  row = gtk_list_box_get_row_at_y (list, (int) point.y);
  if (row == NULL || !RL_IS_JOB_ROW (row) || row == GTK_LIST_BOX_ROW (self)
      || rl_job_item_get_status (RL_JOB_ROW (row)->item) != RL_JOB_QUEUED)
    return NULL;
  return RL_JOB_ROW (row);
}

static void
mark_drop_row (RlJobRow *self,
               RlJobRow *row)
{
  if (self->drop_row == row)
    return;
  if (self->drop_row != NULL)
    gtk_widget_remove_css_class (GTK_WIDGET (self->drop_row), "rl-drop-target");
  g_set_weak_pointer (&self->drop_row, row);
  if (row != NULL)
    gtk_widget_add_css_class (GTK_WIDGET (row), "rl-drop-target");
}

static void
on_reorder_begin (GtkGestureDrag *gesture,
                  double          x,
                  double          y,
                  RlJobRow       *self)
{
  if (rl_job_item_get_status (self->item) != RL_JOB_QUEUED)
    gtk_gesture_set_state (GTK_GESTURE (gesture), GTK_EVENT_SEQUENCE_DENIED);
}

static void
on_reorder_update (GtkGestureDrag *gesture,
                   double          dx,
                   double          dy,
                   RlJobRow       *self)
{
  double x0, y0;

  if (!gtk_gesture_drag_get_start_point (gesture, &x0, &y0)
      || !gtk_drag_check_threshold (GTK_WIDGET (self), (int) x0, (int) y0, (int) (x0 + dx), (int) (y0 + dy)))
    return;
  gtk_gesture_set_state (GTK_GESTURE (gesture), GTK_EVENT_SEQUENCE_CLAIMED);
  mark_drop_row (self, drop_row_at (self, gesture, dx, dy));
}

static void
on_reorder_end (GtkGestureDrag *gesture,
                double          dx,
                double          dy,
                RlJobRow       *self)
{
  RlJobRow *target = self->drop_row != NULL ? drop_row_at (self, gesture, dx, dy) : NULL;
  g_autoptr(GError) error = NULL;

  mark_drop_row (self, NULL);
  if (target != NULL
      && !rl_run_service_move_to (self->service, rl_job_item_get_id (self->item), rl_job_item_get_id (target->item),
                                  &error))
    report_error (self, "The job could not be moved", error);
}

static void
on_reorder_cancel (GtkGesture       *gesture,
                   GdkEventSequence *sequence,
                   RlJobRow         *self)
{
  mark_drop_row (self, NULL);
}

static void
add_reorder_gesture (RlJobRow *self)
{
  GtkGesture *drag = gtk_gesture_drag_new ();

  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (drag), GDK_BUTTON_PRIMARY);
  g_signal_connect (drag, "drag-begin", G_CALLBACK (on_reorder_begin), self);
  g_signal_connect (drag, "drag-update", G_CALLBACK (on_reorder_update), self);
  g_signal_connect (drag, "drag-end", G_CALLBACK (on_reorder_end), self);
  g_signal_connect (drag, "cancel", G_CALLBACK (on_reorder_cancel), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drag));
}

static GtkWidget *
icon_button (RlJobRow   *self,
             const char *icon,
             const char *tooltip,
             GCallback   handler)
{
  GtkWidget *button = gtk_button_new_from_icon_name (icon);

  gtk_widget_set_tooltip_text (button, tooltip);
  gtk_widget_add_css_class (button, "flat");
  gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
  g_signal_connect_swapped (button, "clicked", handler, self);
  return button;
}

static void
rl_job_row_dispose (GObject *object)
{
  RlJobRow *self = RL_JOB_ROW (object);

  g_clear_handle_id (&self->play_timer, g_source_remove);
  mark_drop_row (self, NULL);
  g_clear_signal_handler (&self->changed_handler, self->item);
  g_clear_object (&self->item);
  g_clear_object (&self->service);
  G_OBJECT_CLASS (rl_job_row_parent_class)->dispose (object);
}

static void
rl_job_row_class_init (RlJobRowClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = rl_job_row_dispose;
  signals[SIGNAL_VIEW_OUTPUT] = g_signal_new ("view-output", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                              0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
rl_job_row_init (RlJobRow *self)
{
}

RlJobRow *
rl_job_row_new (RlRunService *service,
                RlJobItem    *item)
{
  RlJobRow *self = g_object_new (RL_TYPE_JOB_ROW, NULL);
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 4);
  GtkWidget *top = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);

  self->service = g_object_ref (service);
  self->item = g_object_ref (item);
  gtk_widget_set_margin_start (box, 6);
  gtk_widget_set_margin_end (box, 6);
  gtk_widget_set_margin_top (box, 6);
  gtk_widget_set_margin_bottom (box, 6);

  self->state_icon = GTK_IMAGE (gtk_image_new ());
  self->title = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_xalign (self->title, 0);
  gtk_label_set_ellipsize (self->title, PANGO_ELLIPSIZE_END);
  gtk_widget_set_hexpand (GTK_WIDGET (self->title), TRUE);
  gtk_widget_add_css_class (GTK_WIDGET (self->title), "heading");
  self->up = icon_button (self, "go-up-symbolic", "Run Earlier (or drag the job onto another)", G_CALLBACK (on_up));
  self->down = icon_button (self, "go-down-symbolic", "Run Later", G_CALLBACK (on_down));
  self->cancel = icon_button (self, "window-close-symbolic", "Cancel Job", G_CALLBACK (on_cancel));
  self->stop = icon_button (self, "media-playback-stop-symbolic", "Stop Job", G_CALLBACK (on_stop));
  self->view = icon_button (self, "view-reveal-symbolic", "View Output", G_CALLBACK (on_view));
  gtk_box_append (GTK_BOX (top), GTK_WIDGET (self->state_icon));
  gtk_box_append (GTK_BOX (top), GTK_WIDGET (self->title));
  gtk_box_append (GTK_BOX (top), self->up);
  gtk_box_append (GTK_BOX (top), self->down);
  gtk_box_append (GTK_BOX (top), self->cancel);
  gtk_box_append (GTK_BOX (top), self->stop);
  gtk_box_append (GTK_BOX (top), self->view);

  self->progress = GTK_PROGRESS_BAR (gtk_progress_bar_new ());
  self->detail = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_xalign (self->detail, 0);
  gtk_label_set_ellipsize (self->detail, PANGO_ELLIPSIZE_END);
  /* A failure's message gets a few lines; the tooltip has all of it. */
  gtk_label_set_wrap (self->detail, TRUE);
  gtk_label_set_wrap_mode (self->detail, PANGO_WRAP_WORD_CHAR);
  gtk_label_set_lines (self->detail, 3);
  gtk_widget_add_css_class (GTK_WIDGET (self->detail), "caption");
  gtk_widget_add_css_class (GTK_WIDGET (self->detail), "numeric");
  self->preview = GTK_PICTURE (gtk_picture_new ());
  gtk_picture_set_can_shrink (self->preview, TRUE);
  gtk_widget_set_size_request (GTK_WIDGET (self->preview), -1, 120);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->preview), "Live preview");

  gtk_box_append (GTK_BOX (box), top);
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->progress));
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->detail));
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->preview));
  gtk_list_box_row_set_child (GTK_LIST_BOX_ROW (self), box);

  add_reorder_gesture (self);
  self->changed_handler = g_signal_connect_swapped (item, "changed", G_CALLBACK (update), self);
  update (self);
  return self;
}

RlJobItem      *rl_job_row_get_item          (RlJobRow *self) { return self->item; }
GtkProgressBar *rl_job_row_get_progress_bar  (RlJobRow *self) { return self->progress; }
GtkPicture     *rl_job_row_get_preview       (RlJobRow *self) { return self->preview; }
guint           rl_job_row_get_preview_frame (RlJobRow *self) { return self->preview_frame; }

GtkWidget *
rl_job_row_get_button (RlJobRow   *self,
                       const char *name)
{
  if (g_str_equal (name, "up"))
    return self->up;
  if (g_str_equal (name, "down"))
    return self->down;
  if (g_str_equal (name, "cancel"))
    return self->cancel;
  if (g_str_equal (name, "stop"))
    return self->stop;
  if (g_str_equal (name, "view"))
    return self->view;
  g_return_val_if_reached (NULL);
}
