/* RlOutputViewer: decoded frames in GtkPictures, played by a tick
 * callback against the frame clock. */
#include "ui/viewer/rl-output-viewer.h"

#include "ui/rl-notify.h"
#include "ui/rl-window.h"
#include "ui/rl-workflow-page.h"
#include "ui/viewer/rl-show-in-files.h"
#include "ui/viewer/rl-video-frames.h"

static const double speeds[] = { 0.25, 0.5, 1.0, 2.0 };
static const char *const speed_names[] = { "0.25×", "0.5×", "1×", "2×", NULL };

struct _RlOutputViewer
{
  AdwWindow       parent_instance;
  GtkWindow      *main_window;      /* weak */
  char           *title;
  char           *workflow_json;
  RlVideoFrames  *frames[2];
  char           *paths[2];
  guint           n_pending;        /* decodes under way */
  char           *error;
  GCancellable   *cancellable;

  AdwWindowTitle *window_title;
  GtkStack       *stack;
  AdwStatusPage  *status;
  GtkPicture     *pictures[2];
  GtkWidget      *play;
  GtkWidget      *previous;
  GtkWidget      *next;
  GtkScale       *scrub;
  GtkLabel       *position;
  GtkToggleButton *loop;
  GtkDropDown    *speed;
  GtkWidget      *show_in_files;
  GtkWidget      *compare;
  GtkWidget      *open_workflow;

  guint           frame;
  gboolean        playing;
  guint           tick_id;
  gint64          play_start_us;    /* frame clock time playing started */
  guint           play_start_frame;
  gboolean        updating_scrub;
};

G_DEFINE_FINAL_TYPE (RlOutputViewer, rl_output_viewer, ADW_TYPE_WINDOW)

enum { SIGNAL_LOADED, N_SIGNALS };
static guint signals[N_SIGNALS];

static guint
n_frames (RlOutputViewer *self)
{
  return self->frames[0] != NULL ? self->frames[0]->textures->len : 0;
}

static double
current_speed (RlOutputViewer *self)
{
  guint i = gtk_drop_down_get_selected (self->speed);

  return i < G_N_ELEMENTS (speeds) ? speeds[i] : 1.0;
}

static void
show_frame (RlOutputViewer *self,
            guint           index)
{
  g_autofree char *position = NULL;

  self->frame = index;
  for (guint i = 0; i < 2; i++)
    if (self->frames[i] != NULL)
      {
        GPtrArray *textures = self->frames[i]->textures;

        gtk_picture_set_paintable (self->pictures[i], g_ptr_array_index (textures, MIN (index, textures->len - 1)));
      }
  position = g_strdup_printf ("%u / %u", index + 1, n_frames (self));
  gtk_label_set_label (self->position, position);
  self->updating_scrub = TRUE;
  gtk_range_set_value (GTK_RANGE (self->scrub), index);
  self->updating_scrub = FALSE;
}

static gboolean
on_tick (GtkWidget     *widget,
         GdkFrameClock *clock,
         gpointer       data)
{
  RlOutputViewer *self = RL_OUTPUT_VIEWER (widget);
  RlVideoFrames *frames = self->frames[0];
  double speed = current_speed (self);
  gboolean loop = gtk_toggle_button_get_active (self->loop);
  gint64 now = gdk_frame_clock_get_frame_time (clock);
  double seconds;
  guint index;

  if (self->play_start_us == 0)
    self->play_start_us = now;
  /* Time since the start of the video, as if it had played from frame 0. */
  seconds = (double) (now - self->play_start_us) / G_USEC_PER_SEC + self->play_start_frame / (frames->fps * speed);
  index = rl_video_frames_index_at (frames, seconds, speed, loop);
  if (index != self->frame)
    show_frame (self, index);
  if (!loop && index + 1 >= n_frames (self))
    {
      rl_output_viewer_set_playing (self, FALSE);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

void
rl_output_viewer_set_playing (RlOutputViewer *self,
                              gboolean        playing)
{
  g_return_if_fail (RL_IS_OUTPUT_VIEWER (self));
  playing = playing && self->frames[0] != NULL && self->frames[0]->fps > 0 && n_frames (self) > 1;
  if (playing && !gtk_toggle_button_get_active (self->loop) && self->frame + 1 >= n_frames (self))
    show_frame (self, 0);   /* play again from the start */
  self->playing = playing;
  gtk_button_set_icon_name (GTK_BUTTON (self->play), playing ? "media-playback-pause-symbolic"
                                                             : "media-playback-start-symbolic");
  gtk_widget_set_tooltip_text (self->play, playing ? "Pause (Space)" : "Play (Space)");
  if (playing && self->tick_id == 0)
    {
      self->play_start_us = 0;
      self->play_start_frame = self->frame;
      self->tick_id = gtk_widget_add_tick_callback (GTK_WIDGET (self), on_tick, NULL, NULL);
    }
  else if (!playing && self->tick_id != 0)
    {
      gtk_widget_remove_tick_callback (GTK_WIDGET (self), self->tick_id);
      self->tick_id = 0;
    }
}

gboolean
rl_output_viewer_get_playing (RlOutputViewer *self)
{
  g_return_val_if_fail (RL_IS_OUTPUT_VIEWER (self), FALSE);
  return self->playing;
}

/* Restarts the clock from the frame shown, after a speed change. */
static void
restart_clock (RlOutputViewer *self)
{
  self->play_start_us = 0;
  self->play_start_frame = self->frame;
}

void
rl_output_viewer_seek (RlOutputViewer *self,
                       guint           index)
{
  g_return_if_fail (RL_IS_OUTPUT_VIEWER (self));
  if (n_frames (self) == 0)
    return;
  rl_output_viewer_set_playing (self, FALSE);
  show_frame (self, MIN (index, n_frames (self) - 1));
}

void
rl_output_viewer_step (RlOutputViewer *self,
                       int             delta)
{
  guint n = n_frames (self);
  gint64 target;

  g_return_if_fail (RL_IS_OUTPUT_VIEWER (self));
  if (n == 0)
    return;
  target = (gint64) self->frame + delta;
  if (gtk_toggle_button_get_active (self->loop))
    target = ((target % n) + n) % n;
  rl_output_viewer_seek (self, (guint) CLAMP (target, 0, (gint64) n - 1));
}

void
rl_output_viewer_set_loop (RlOutputViewer *self,
                           gboolean        loop)
{
  g_return_if_fail (RL_IS_OUTPUT_VIEWER (self));
  gtk_toggle_button_set_active (self->loop, loop);
}

void
rl_output_viewer_set_speed (RlOutputViewer *self,
                            double          speed)
{
  guint best = 2;

  g_return_if_fail (RL_IS_OUTPUT_VIEWER (self));
  for (guint i = 0; i < G_N_ELEMENTS (speeds); i++)
    if (ABS (speeds[i] - speed) < ABS (speeds[best] - speed))
      best = i;
  gtk_drop_down_set_selected (self->speed, best);
}

gboolean
rl_output_viewer_is_loaded (RlOutputViewer *self)
{
  g_return_val_if_fail (RL_IS_OUTPUT_VIEWER (self), FALSE);
  return self->n_pending == 0 && self->frames[0] != NULL;
}

const char *
rl_output_viewer_get_error (RlOutputViewer *self)
{
  return self->error;
}

guint
rl_output_viewer_get_n_frames (RlOutputViewer *self)
{
  return n_frames (self);
}

guint
rl_output_viewer_get_frame (RlOutputViewer *self)
{
  return self->frame;
}

GtkPicture *
rl_output_viewer_get_picture (RlOutputViewer *self,
                              guint           index)
{
  g_return_val_if_fail (index < 2, NULL);
  return self->pictures[index];
}

GtkWidget *
rl_output_viewer_get_button (RlOutputViewer *self,
                             const char     *name)
{
  if (g_str_equal (name, "show-in-files"))
    return self->show_in_files;
  if (g_str_equal (name, "compare"))
    return self->compare;
  if (g_str_equal (name, "open-workflow"))
    return self->open_workflow;
  if (g_str_equal (name, "play"))
    return self->play;
  if (g_str_equal (name, "previous"))
    return self->previous;
  if (g_str_equal (name, "next"))
    return self->next;
  g_return_val_if_reached (NULL);
}

/* ---- Loading ---------------------------------------------------------------------- */

typedef struct {
  RlOutputViewer *viewer;   /* a reference */
  guint           slot;
} LoadData;

static void
update_controls (RlOutputViewer *self)
{
  guint n = n_frames (self);
  gboolean video = n > 1;

  gtk_widget_set_sensitive (self->play, video);
  gtk_widget_set_sensitive (self->previous, video);
  gtk_widget_set_sensitive (self->next, video);
  gtk_widget_set_sensitive (GTK_WIDGET (self->scrub), video);
  gtk_range_set_range (GTK_RANGE (self->scrub), 0, MAX (n, 2) - 1);
  gtk_widget_set_visible (GTK_WIDGET (self->pictures[1]), self->frames[1] != NULL || self->paths[1] != NULL);
}

static void
on_loaded (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  LoadData *load = data;
  g_autoptr(RlOutputViewer) self = load->viewer;
  guint slot = load->slot;
  g_autoptr(GError) error = NULL;
  RlVideoFrames *frames = rl_video_frames_load_finish (result, &error);

  g_free (load);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self->n_pending--;
  if (frames == NULL)
    {
      g_free (self->error);
      self->error = g_strdup (error->message);
      if (slot == 0)
        {
          adw_status_page_set_title (self->status, "The output cannot be shown");
          adw_status_page_set_description (self->status, error->message);
          adw_status_page_set_icon_name (self->status, "dialog-error-symbolic");
        }
      else
        rl_notify_error (GTK_WINDOW (self), "The output to compare cannot be shown", error->message);
      g_signal_emit (self, signals[SIGNAL_LOADED], 0);
      return;
    }
  g_clear_pointer (&self->frames[slot], rl_video_frames_free);
  self->frames[slot] = frames;
  gtk_stack_set_visible_child_name (self->stack, "view");
  update_controls (self);
  show_frame (self, MIN (self->frame, n_frames (self) - 1));
  if (slot == 0 && n_frames (self) > 1)
    rl_output_viewer_set_playing (self, TRUE);
  g_signal_emit (self, signals[SIGNAL_LOADED], 0);
}

static void
load (RlOutputViewer *self,
      guint           slot,
      const char     *path)
{
  LoadData *data = g_new0 (LoadData, 1);

  data->viewer = g_object_ref (self);
  data->slot = slot;
  g_free (self->paths[slot]);
  self->paths[slot] = g_strdup (path);
  self->n_pending++;
  update_controls (self);
  rl_video_frames_load_async (path, 0, self->cancellable, on_loaded, data);
}

void
rl_output_viewer_compare (RlOutputViewer *self,
                          const char     *path)
{
  g_return_if_fail (RL_IS_OUTPUT_VIEWER (self));
  load (self, 1, path);
}

/* ---- Actions ---------------------------------------------------------------------- */

static void
on_play_clicked (RlOutputViewer *self)
{
  rl_output_viewer_set_playing (self, !self->playing);
}

static void
on_previous_clicked (RlOutputViewer *self)
{
  rl_output_viewer_step (self, -1);
}

static void
on_next_clicked (RlOutputViewer *self)
{
  rl_output_viewer_step (self, +1);
}

static void
on_scrub_changed (RlOutputViewer *self)
{
  if (self->updating_scrub)
    return;
  rl_output_viewer_seek (self, (guint) gtk_range_get_value (GTK_RANGE (self->scrub)));
}

static void
on_speed_changed (RlOutputViewer *self)
{
  restart_clock (self);
}

static void
on_shown (GObject      *source,
          GAsyncResult *result,
          gpointer      data)
{
  rl_show_in_files_finish (result);
}

static void
on_show_in_files_clicked (RlOutputViewer *self)
{
  g_autoptr(GFile) file = g_file_new_for_path (self->paths[0]);

  rl_show_in_files (GTK_WINDOW (self), file, on_shown, NULL);
}

static void
on_compare_chosen (GtkNativeDialog *dialog,
                   int              response,
                   RlOutputViewer  *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = g_file_get_path (file);

      if (path != NULL)
        rl_output_viewer_compare (self, path);
    }
  g_object_unref (dialog);
}

static void
on_compare_clicked (RlOutputViewer *self)
{
  GtkFileChooserNative *chooser = gtk_file_chooser_native_new ("Compare With", GTK_WINDOW (self),
                                                               GTK_FILE_CHOOSER_ACTION_OPEN, "_Compare",
                                                               "_Cancel");
  g_autoptr(GFile) first = g_file_new_for_path (self->paths[0]);
  g_autoptr(GFile) folder = g_file_get_parent (first);

  if (folder != NULL)
    gtk_file_chooser_set_current_folder (GTK_FILE_CHOOSER (chooser), folder, NULL);
  g_signal_connect (chooser, "response", G_CALLBACK (on_compare_chosen), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
on_open_workflow_clicked (RlOutputViewer *self)
{
  RlWorkflowPage *page;
  g_autoptr(GError) error = NULL;

  if (self->workflow_json == NULL || !RL_IS_WINDOW (self->main_window))
    return;
  page = rl_window_new_page (RL_WINDOW (self->main_window));
  if (!rl_workflow_page_load_data (page, self->workflow_json, self->title, &error))
    {
      rl_notify_error (GTK_WINDOW (self), "The workflow cannot be opened", error->message);
      return;
    }
  gtk_window_present (self->main_window);
}

static GdkContentProvider *
on_drag_prepare (GtkDragSource  *source,
                 double          x,
                 double          y,
                 RlOutputViewer *self)
{
  GtkWidget *picture = gtk_event_controller_get_widget (GTK_EVENT_CONTROLLER (source));
  guint slot = picture == GTK_WIDGET (self->pictures[1]) ? 1 : 0;
  g_autoptr(GFile) file = NULL;

  if (self->paths[slot] == NULL)
    return NULL;
  file = g_file_new_for_path (self->paths[slot]);
  /* GTK offers a GFile as text/uri-list too, which file managers,
   * browsers and chat apps take. */
  return gdk_content_provider_new_typed (G_TYPE_FILE, file);
}

static void
on_drag_begin (GtkDragSource  *source,
               GdkDrag        *drag,
               RlOutputViewer *self)
{
  GtkWidget *picture = gtk_event_controller_get_widget (GTK_EVENT_CONTROLLER (source));
  GdkPaintable *paintable = gtk_picture_get_paintable (GTK_PICTURE (picture));

  if (paintable != NULL)
    gtk_drag_source_set_icon (source, paintable, 0, 0);
}

/* ---- Widget ---------------------------------------------------------------------- */

static gboolean
key_toggle_play (GtkWidget *widget,
                 GVariant  *args,
                 gpointer   data)
{
  on_play_clicked (RL_OUTPUT_VIEWER (widget));
  return TRUE;
}

static gboolean
key_step (GtkWidget *widget,
          GVariant  *args,
          gpointer   data)
{
  rl_output_viewer_step (RL_OUTPUT_VIEWER (widget), g_variant_get_int32 (args));
  return TRUE;
}

static void
rl_output_viewer_dispose (GObject *object)
{
  RlOutputViewer *self = RL_OUTPUT_VIEWER (object);

  g_cancellable_cancel (self->cancellable);
  if (self->tick_id != 0)
    {
      gtk_widget_remove_tick_callback (GTK_WIDGET (self), self->tick_id);
      self->tick_id = 0;
    }
  G_OBJECT_CLASS (rl_output_viewer_parent_class)->dispose (object);
}

static void
rl_output_viewer_finalize (GObject *object)
{
  RlOutputViewer *self = RL_OUTPUT_VIEWER (object);

  g_clear_weak_pointer (&self->main_window);
  for (guint i = 0; i < 2; i++)
    {
      g_clear_pointer (&self->frames[i], rl_video_frames_free);
      g_free (self->paths[i]);
    }
  g_free (self->title);
  g_free (self->workflow_json);
  g_free (self->error);
  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (rl_output_viewer_parent_class)->finalize (object);
}

static void
rl_output_viewer_class_init (RlOutputViewerClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = rl_output_viewer_dispose;
  G_OBJECT_CLASS (klass)->finalize = rl_output_viewer_finalize;
  signals[SIGNAL_LOADED] = g_signal_new ("loaded", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                         0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  gtk_widget_class_add_binding (widget_class, GDK_KEY_space, 0, key_toggle_play, NULL);
  gtk_widget_class_add_binding (widget_class, GDK_KEY_comma, 0, key_step, "i", -1);
  gtk_widget_class_add_binding (widget_class, GDK_KEY_period, 0, key_step, "i", 1);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static GtkWidget *
flat_button (const char *icon,
             const char *tooltip)
{
  GtkWidget *button = gtk_button_new_from_icon_name (icon);

  gtk_widget_set_tooltip_text (button, tooltip);
  return button;
}

static GtkPicture *
new_picture (RlOutputViewer *self)
{
  GtkPicture *picture = GTK_PICTURE (gtk_picture_new ());
  GtkDragSource *drag = gtk_drag_source_new ();

  gtk_picture_set_can_shrink (picture, TRUE);
  gtk_widget_set_hexpand (GTK_WIDGET (picture), TRUE);
  gtk_widget_set_vexpand (GTK_WIDGET (picture), TRUE);
  gtk_widget_set_size_request (GTK_WIDGET (picture), 240, 180);
  gtk_widget_set_tooltip_text (GTK_WIDGET (picture), "Drag to copy the file to another app");
  gtk_drag_source_set_actions (drag, GDK_ACTION_COPY);
  g_signal_connect (drag, "prepare", G_CALLBACK (on_drag_prepare), self);
  g_signal_connect (drag, "drag-begin", G_CALLBACK (on_drag_begin), self);
  gtk_widget_add_controller (GTK_WIDGET (picture), GTK_EVENT_CONTROLLER (drag));
  return picture;
}

static void
rl_output_viewer_init (RlOutputViewer *self)
{
  GtkWidget *content = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *header = adw_header_bar_new ();
  GtkWidget *pictures = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *controls = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *view = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);

  self->cancellable = g_cancellable_new ();
  self->window_title = ADW_WINDOW_TITLE (adw_window_title_new ("Output", NULL));
  adw_header_bar_set_title_widget (ADW_HEADER_BAR (header), GTK_WIDGET (self->window_title));
  self->show_in_files = flat_button ("folder-open-symbolic", "Show in Files");
  self->compare = flat_button ("view-dual-symbolic", "Compare With Another Output…");
  self->open_workflow = gtk_button_new_with_mnemonic ("Open _Workflow");
  gtk_widget_set_tooltip_text (self->open_workflow, "Open the workflow that made this output in a new tab");
  adw_header_bar_pack_start (ADW_HEADER_BAR (header), self->open_workflow);
  adw_header_bar_pack_end (ADW_HEADER_BAR (header), self->show_in_files);
  adw_header_bar_pack_end (ADW_HEADER_BAR (header), self->compare);
  g_signal_connect_swapped (self->show_in_files, "clicked", G_CALLBACK (on_show_in_files_clicked), self);
  g_signal_connect_swapped (self->compare, "clicked", G_CALLBACK (on_compare_clicked), self);
  g_signal_connect_swapped (self->open_workflow, "clicked", G_CALLBACK (on_open_workflow_clicked), self);

  self->pictures[0] = new_picture (self);
  self->pictures[1] = new_picture (self);
  gtk_widget_set_visible (GTK_WIDGET (self->pictures[1]), FALSE);
  gtk_box_append (GTK_BOX (pictures), GTK_WIDGET (self->pictures[0]));
  gtk_box_append (GTK_BOX (pictures), GTK_WIDGET (self->pictures[1]));
  gtk_box_set_homogeneous (GTK_BOX (pictures), TRUE);

  self->previous = flat_button ("go-previous-symbolic", "Previous Frame (,)");
  self->play = flat_button ("media-playback-start-symbolic", "Play (Space)");
  self->next = flat_button ("go-next-symbolic", "Next Frame (.)");
  self->scrub = GTK_SCALE (gtk_scale_new_with_range (GTK_ORIENTATION_HORIZONTAL, 0, 1, 1));
  gtk_scale_set_draw_value (self->scrub, FALSE);
  gtk_widget_set_hexpand (GTK_WIDGET (self->scrub), TRUE);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->scrub), "Scrub");
  self->position = GTK_LABEL (gtk_label_new ("0 / 0"));
  gtk_widget_add_css_class (GTK_WIDGET (self->position), "numeric");
  self->loop = GTK_TOGGLE_BUTTON (gtk_toggle_button_new ());
  gtk_button_set_icon_name (GTK_BUTTON (self->loop), "media-playlist-repeat-symbolic");
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->loop), "Loop");
  gtk_toggle_button_set_active (self->loop, TRUE);
  self->speed = GTK_DROP_DOWN (gtk_drop_down_new_from_strings (speed_names));
  gtk_drop_down_set_selected (self->speed, 2);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->speed), "Speed");
  g_signal_connect_swapped (self->play, "clicked", G_CALLBACK (on_play_clicked), self);
  g_signal_connect_swapped (self->previous, "clicked", G_CALLBACK (on_previous_clicked), self);
  g_signal_connect_swapped (self->next, "clicked", G_CALLBACK (on_next_clicked), self);
  g_signal_connect_swapped (self->scrub, "value-changed", G_CALLBACK (on_scrub_changed), self);
  g_signal_connect_swapped (self->speed, "notify::selected", G_CALLBACK (on_speed_changed), self);
  gtk_box_append (GTK_BOX (controls), self->previous);
  gtk_box_append (GTK_BOX (controls), self->play);
  gtk_box_append (GTK_BOX (controls), self->next);
  gtk_box_append (GTK_BOX (controls), GTK_WIDGET (self->scrub));
  gtk_box_append (GTK_BOX (controls), GTK_WIDGET (self->position));
  gtk_box_append (GTK_BOX (controls), GTK_WIDGET (self->loop));
  gtk_box_append (GTK_BOX (controls), GTK_WIDGET (self->speed));
  gtk_widget_set_margin_start (controls, 6);
  gtk_widget_set_margin_end (controls, 6);
  gtk_widget_set_margin_bottom (controls, 6);

  gtk_box_append (GTK_BOX (view), pictures);
  gtk_box_append (GTK_BOX (view), controls);
  self->status = ADW_STATUS_PAGE (adw_status_page_new ());
  adw_status_page_set_title (self->status, "Decoding…");
  self->stack = GTK_STACK (gtk_stack_new ());
  gtk_stack_add_named (self->stack, GTK_WIDGET (self->status), "status");
  gtk_stack_add_named (self->stack, view, "view");
  gtk_stack_set_visible_child_name (self->stack, "status");
  gtk_widget_set_vexpand (GTK_WIDGET (self->stack), TRUE);

  gtk_box_append (GTK_BOX (content), header);
  gtk_box_append (GTK_BOX (content), GTK_WIDGET (self->stack));
  adw_window_set_content (ADW_WINDOW (self), content);
  gtk_window_set_default_size (GTK_WINDOW (self), 720, 560);
  update_controls (self);
}

RlOutputViewer *
rl_output_viewer_new (GtkWindow  *parent,
                      const char *path,
                      const char *title,
                      const char *workflow_json)
{
  RlOutputViewer *self = g_object_new (RL_TYPE_OUTPUT_VIEWER, NULL);
  g_autofree char *name = g_path_get_basename (path);

  g_set_weak_pointer (&self->main_window, parent);
  if (parent != NULL)
    {
      gtk_window_set_transient_for (GTK_WINDOW (self), parent);
      gtk_window_set_application (GTK_WINDOW (self), gtk_window_get_application (parent));
    }
  self->title = g_strdup (title != NULL ? title : name);
  self->workflow_json = g_strdup (workflow_json);
  adw_window_title_set_title (self->window_title, self->title);
  adw_window_title_set_subtitle (self->window_title, name);
  gtk_window_set_title (GTK_WINDOW (self), self->title);
  gtk_widget_set_visible (self->open_workflow, workflow_json != NULL && RL_IS_WINDOW (parent));
  load (self, 0, path);
  return self;
}
