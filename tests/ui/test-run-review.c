/* Acceptance test of running, watching and reviewing jobs in the real
 * window under Xvfb, on CPU workers with the tiny Wan model set
 * (tools/make-tiny-wan.py): jobs queued with Ctrl+Enter and the Run
 * button (batch count 2), reordered and cancelled with real clicks, the
 * progress bar and live previews changing while the sampler runs, the
 * finished video opened in the viewer and stepped with the , and . keys,
 * compared with another output, shown in the (fake) file manager and its
 * workflow restored into a new tab; failures as toasts whose Details
 * button opens the whole message; desktop notifications only while no
 * window is active; the Pool settings changed to two CPU workers with
 * Ulysses 2 and the workflow run again (the same video), that job found
 * in the history browser and its workflow restored; a batch of two with
 * an incrementing seed recorded with successive seeds; the running job
 * stopped from the panel, and a worker killed mid-sample failing its job
 * visibly before the restarted pool runs it again. Screenshots go next to
 * the log. */
#include <signal.h>
#include <string.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "engine/graph/workflow.h"
#include "engine/pool/pool-service.h"
#include "engine/run/history.h"
#include "tests/ui/ui-test-input.h"
#include "tests/ui/ui-test-util.h"
#include "tests/ui/ui-test-widgets.h"
#include "ui/canvas/rl-canvas.h"
#include "ui/history/rl-history-browser.h"
#include "ui/rl-application.h"
#include "ui/pool/rl-pool-panel.h"
#include "ui/rl-notify.h"
#include "ui/rl-preferences-window.h"
#include "ui/rl-window.h"
#include "ui/rl-workflow-page.h"
#include "ui/run/rl-queue-panel.h"
#include "ui/run/rl-run-service.h"
#include "ui/viewer/rl-output-viewer.h"
#include "ui/viewer/rl-video-frames.h"

/* The tiny workflow: 9 frames of 64×64, 4 sampler steps. */
#define TINY_FRAMES 9
#define JOB_TIMEOUT_MS (240 * 1000)

static char *test_dir;
/* The video the one-worker job made (for the sequence-parallel run). */
static char *one_worker_output;
/* A fake org.freedesktop.Notifications owns the name (under
 * dbus-run-session). */
static gboolean have_notification_server;

/* ---- Real input through xdotool ----------------------------------------- */

/* xdotool's events need a little main loop after them (ui_test_xdotool). */
#define INPUT_SETTLE_MS 40

/* A real click in the middle of @widget. */
static void
real_click (GtkWidget *widget)
{
  g_assert_true (gtk_widget_get_mapped (widget));
  ui_test_real_click_at (widget, gtk_widget_get_width (widget) / 2.0, gtk_widget_get_height (widget) / 2.0,
                         UI_TEST_FOCUS, INPUT_SETTLE_MS);
}

/* Drags job @from_id's row by its title onto job @to_id's row. */
static void
real_drag_row (RlQueuePanel *panel,
               gint64        from_id,
               gint64        to_id)
{
  GtkWidget *from = GTK_WIDGET (rl_queue_panel_get_row (panel, from_id));
  GtkWidget *to = GTK_WIDGET (rl_queue_panel_get_row (panel, to_id));

  g_assert_true (gtk_widget_get_mapped (from) && gtk_widget_get_mapped (to));
  ui_test_real_drag (from, 40, 14, to, 40, gtk_widget_get_height (to) / 2.0, INPUT_SETTLE_MS);
}

static void
real_keys (GtkWidget  *window,
           const char *keys)
{
  ui_test_real_keys (window, keys, UI_TEST_FOCUS, INPUT_SETTLE_MS);
}

/* ---- Waiting on jobs ------------------------------------------------------------ */

typedef gboolean (*Condition) (gpointer data);

static gboolean
wait_until (Condition  condition,
            gpointer   data,
            guint      timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (!condition (data) && g_get_monotonic_time () < end)
    {
      while (g_main_context_pending (NULL))
        g_main_context_iteration (NULL, FALSE);
      if (!condition (data))
        g_usleep (5000);
    }
  return condition (data);
}

static gboolean
job_is_final (gpointer data)
{
  RlJobStatus status = rl_job_item_get_status (data);

  return status != RL_JOB_QUEUED && status != RL_JOB_RUNNING;
}

static RlJobItem *
item_at (RlRunService *service,
         guint         index)
{
  g_autoptr(RlJobItem) item = g_list_model_get_item (rl_run_service_get_jobs (service), index);

  return item;   /* the list keeps it */
}

static guint
index_of (RlRunService *service,
          gint64        job_id)
{
  GListModel *jobs = rl_run_service_get_jobs (service);

  for (guint i = 0; i < g_list_model_get_n_items (jobs); i++)
    if (rl_job_item_get_id (item_at (service, i)) == job_id)
      return i;
  g_assert_not_reached ();
}

typedef struct {
  GListModel *model;
  guint       n;
} CountWait;

static gboolean
has_n_items (gpointer data)
{
  CountWait *wait = data;

  return g_list_model_get_n_items (wait->model) >= wait->n;
}

static void
wait_for_jobs (RlRunService *service,
               guint         n)
{
  CountWait wait = { rl_run_service_get_jobs (service), n };

  g_assert_true (wait_until (has_n_items, &wait, 5000));
}

static void
assert_finished (RlJobItem   *item,
                 RlJobStatus  status)
{
  if (!wait_until (job_is_final, item, JOB_TIMEOUT_MS))
    g_error ("job %s did not finish: %s", rl_job_item_get_title (item), rl_job_item_describe_progress (item));
  if (rl_job_item_get_status (item) != status)
    g_error ("job %s ended as %s, not %s: %s", rl_job_item_get_title (item),
             rl_job_status_to_string (rl_job_item_get_status (item)), rl_job_status_to_string (status),
             rl_job_item_get_error (item));
}

/* ---- What the running job's row showed ---------------------------------------- */

typedef struct {
  RlQueuePanel *panel;
  gint64        job_id;
  guint         sampler_steps_seen;   /* distinct sampler steps with a preview after them */
  guint         last_step;
  double        fractions[16];        /* the row's progress bar at each sampler step */
  GdkPaintable *previews[16];         /* the row's preview at each sampler step (refs) */
  guint         n_previews_seen;
  gboolean      saw_speed;
} Watch;

static void
on_item_changed (RlJobItem *item,
                 Watch     *watch)
{
  RlJobRow *row = rl_queue_panel_get_row (watch->panel, watch->job_id);
  guint step, total;
  g_autofree char *detail = rl_job_item_describe_progress (item);

  rl_job_item_get_step (item, &step, &total);
  if (row == NULL || g_strcmp0 (rl_job_item_get_node_title (item), "KSampler") != 0 || step == 0)
    return;
  if (strstr (detail, "it/s") != NULL || strstr (detail, "s/it") != NULL)
    watch->saw_speed = TRUE;
  /* Previews come right after the step's progress; record each step once
   * its preview is in. */
  if (rl_job_item_get_n_previews (item) > watch->n_previews_seen && step != watch->last_step &&
      watch->sampler_steps_seen < G_N_ELEMENTS (watch->fractions))
    {
      GdkPaintable *preview = gtk_picture_get_paintable (rl_job_row_get_preview (row));

      watch->fractions[watch->sampler_steps_seen] = gtk_progress_bar_get_fraction (rl_job_row_get_progress_bar (row));
      watch->previews[watch->sampler_steps_seen] = preview != NULL ? g_object_ref (preview) : NULL;
      watch->sampler_steps_seen++;
      watch->last_step = step;
      watch->n_previews_seen = rl_job_item_get_n_previews (item);
    }
}

/* ---- A fake file manager on the session bus ----------------------------------- */

static const char file_manager_xml[] =
  "<node><interface name='org.freedesktop.FileManager1'>"
  "<method name='ShowItems'><arg type='as' direction='in'/><arg type='s' direction='in'/></method>"
  "</interface></node>";

static char *shown_uri;

static void
on_file_manager_call (GDBusConnection       *connection,
                      const char            *sender,
                      const char            *path,
                      const char            *interface,
                      const char            *method,
                      GVariant              *parameters,
                      GDBusMethodInvocation *invocation,
                      gpointer               data)
{
  g_autofree const char **uris = NULL;
  const char *startup = NULL;

  g_variant_get (parameters, "(^a&s&s)", &uris, &startup);
  g_free (shown_uri);
  shown_uri = g_strdup (uris[0]);
  g_dbus_method_invocation_return_value (invocation, NULL);
}

static gboolean
uri_shown (gpointer data)
{
  return shown_uri != NULL;
}

/* ---- A fake notification server ----------------------------------------------- */

static const char notifications_xml[] =
  "<node><interface name='org.freedesktop.Notifications'>"
  "<method name='Notify'><arg type='s' direction='in'/><arg type='u' direction='in'/>"
  "<arg type='s' direction='in'/><arg type='s' direction='in'/><arg type='s' direction='in'/>"
  "<arg type='as' direction='in'/><arg type='a{sv}' direction='in'/><arg type='i' direction='in'/>"
  "<arg type='u' direction='out'/></method>"
  "<method name='CloseNotification'><arg type='u' direction='in'/></method>"
  "<method name='GetCapabilities'><arg type='as' direction='out'/></method>"
  "<method name='GetServerInformation'><arg type='s' direction='out'/><arg type='s' direction='out'/>"
  "<arg type='s' direction='out'/><arg type='s' direction='out'/></method>"
  "</interface></node>";

static GPtrArray *notified;   /* summaries the fake server got */

static void
on_notifications_call (GDBusConnection       *connection,
                       const char            *sender,
                       const char            *path,
                       const char            *interface,
                       const char            *method,
                       GVariant              *parameters,
                       GDBusMethodInvocation *invocation,
                       gpointer               data)
{
  static const char *no_capabilities[] = { "body", NULL };

  if (g_str_equal (method, "Notify"))
    {
      const char *summary = NULL;

      g_variant_get_child (parameters, 3, "&s", &summary);
      g_ptr_array_add (notified, g_strdup (summary));
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(u)", notified->len));
    }
  else if (g_str_equal (method, "GetCapabilities"))
    g_dbus_method_invocation_return_value (invocation, g_variant_new ("(^as)", no_capabilities));
  else if (g_str_equal (method, "GetServerInformation"))
    g_dbus_method_invocation_return_value (invocation, g_variant_new ("(ssss)", "fake", "raylight", "1", "1.2"));
  else
    g_dbus_method_invocation_return_value (invocation, NULL);
}

/* Owns @name on the session bus with @xml's interface at @path. */
static gboolean
own_fake_service (const char                 *name,
                  const char                 *path,
                  const char                 *xml,
                  GDBusInterfaceMethodCallFunc  handler)
{
  GDBusInterfaceVTable vtable = { .method_call = handler };
  /* Kept for the whole run: the name goes with the last reference. */
  static GDBusConnection *bus;
  g_autoptr(GDBusNodeInfo) info = g_dbus_node_info_new_for_xml (xml, NULL);
  g_autoptr(GVariant) reply = NULL;
  guint32 result = 0;

  if (bus == NULL)
    bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  if (bus == NULL)
    return FALSE;
  g_assert_cmpuint (g_dbus_connection_register_object (bus, path, info->interfaces[0], &vtable, NULL, NULL, NULL),
                    >, 0);
  reply = g_dbus_connection_call_sync (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "RequestName",
                                       g_variant_new ("(su)", name, 4 /* DO_NOT_QUEUE */),
                                       G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, 5000, NULL, NULL);
  if (reply == NULL)
    return FALSE;
  g_variant_get (reply, "(u)", &result);
  return result == 1;   /* PRIMARY_OWNER */
}

static gboolean
was_notified (gpointer data)
{
  for (guint i = 0; i < notified->len; i++)
    if (g_str_equal (notified->pdata[i], data))
      return TRUE;
  return FALSE;
}

/* ---- The test ------------------------------------------------------------------ */

static gboolean
viewer_loaded (gpointer data)
{
  return rl_output_viewer_is_loaded (data) || rl_output_viewer_get_error (data) != NULL;
}

static gboolean
viewer_open (gpointer data)
{
  return rl_queue_panel_get_viewer (data) != NULL;
}

static gboolean
has_preview (gpointer data)
{
  return rl_job_item_get_preview (data) != NULL;
}

static gboolean
toast_is (gpointer data)
{
  return g_strcmp0 (rl_window_get_last_toast (data), "Memory freed") == 0;
}

static GtkDragSource *
drag_source_of (GtkWidget *widget)
{
  g_autoptr(GListModel) controllers = gtk_widget_observe_controllers (widget);

  for (guint i = 0; i < g_list_model_get_n_items (controllers); i++)
    {
      g_autoptr(GObject) controller = g_list_model_get_item (controllers, i);

      if (GTK_IS_DRAG_SOURCE (controller))
        return GTK_DRAG_SOURCE (controller);
    }
  return NULL;
}

static guint
n_tabs (RlWindow *window)
{
  return (guint) adw_tab_view_get_n_pages (rl_window_get_tab_view (window));
}

static void
test_queue_watch_review (void)
{
  RlWindow *window;
  RlRunService *service;
  RlQueuePanel *panel;
  g_autofree char *workflow_path = NULL;
  g_autoptr(GFile) workflow_file = NULL;
  RlJobItem *a, *b, *c;
  gint64 a_id, b_id, c_id;
  Watch watch = { 0 };
  gulong watch_handler;
  RlOutputViewer *viewer;
  guint frame, tabs_before, nodes_before;
  const char *a_output, *c_output;

  if (!ui_test_have_x11 ())
    return;
  window = ui_test_new_window ();
  service = rl_application_get_run_service (ui_test_get_app ());
  panel = rl_window_get_queue_panel (window);
  g_assert_nonnull (panel);
  workflow_path = g_build_filename (g_getenv ("RAYLIGHT_SOURCE_DIR"), "data", "workflows", "wan2.1-t2v-tiny.json",
                                    NULL);
  workflow_file = g_file_new_for_path (workflow_path);
  g_assert_true (rl_window_open_file (window, workflow_file));
  nodes_before = rl_workflow_get_n_nodes (rl_canvas_get_workflow (rl_workflow_page_get_canvas (
                                            rl_window_get_current_page (window))));

  /* Nothing queued yet: the canvas has the whole width; the header's
   * button shows and hides the queue. */
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (panel)));
  real_click (rl_queue_panel_get_button (panel, "show-queue"));
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (panel)));
  real_click (rl_queue_panel_get_button (panel, "show-queue"));
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (panel)));

  /* The queue paused first, so that A, B and C all wait while B and C are
   * moved and B is cancelled. Running, the tiny job A could end within
   * those clicks on a fast machine: rows then vanish and start under the
   * pointer, and B could succeed before its cancel (both seen, session 14).
   * The pause button itself is clicked below, where the panel shows. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "run.pause", NULL));
  g_assert_true (rl_run_service_get_paused (service));

  /* Job A with the shortcut (the queue opens), then B and C with the Run
   * button and a batch count of two. */
  real_keys (GTK_WIDGET (window), "ctrl+Return");
  wait_for_jobs (service, 1);
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (panel)));
  gtk_test_widget_wait_for_draw (GTK_WIDGET (window));
  a = item_at (service, 0);
  a_id = rl_job_item_get_id (a);
  g_test_message ("queued job %" G_GINT64_FORMAT ": %s", a_id, rl_window_get_last_toast (window));
  watch.panel = panel;
  watch.job_id = a_id;
  watch_handler = g_signal_connect (a, "changed", G_CALLBACK (on_item_changed), &watch);
  gtk_spin_button_set_value (rl_queue_panel_get_batch_spin (panel), 2);
  real_click (rl_queue_panel_get_button (panel, "run"));
  wait_for_jobs (service, 3);
  b_id = a_id + 1;
  c_id = a_id + 2;
  b = rl_run_service_lookup (service, b_id);
  c = rl_run_service_lookup (service, c_id);
  g_assert_nonnull (b);
  g_assert_nonnull (c);
  g_assert_cmpint (rl_job_item_get_status (b), ==, RL_JOB_QUEUED);
  g_assert_cmpint (rl_job_item_get_status (c), ==, RL_JOB_QUEUED);
  g_assert_cmpuint (index_of (service, b_id), <, index_of (service, c_id));

  /* C moves up past B; then B is cancelled. */
  real_click (rl_job_row_get_button (rl_queue_panel_get_row (panel, c_id), "up"));
  g_assert_cmpuint (index_of (service, c_id), <, index_of (service, b_id));
  /* Dragged by hand: B's row dropped on C's takes its place, and back. */
  real_drag_row (panel, b_id, c_id);
  g_assert_cmpuint (index_of (service, b_id), <, index_of (service, c_id));
  real_drag_row (panel, c_id, b_id);
  g_assert_cmpuint (index_of (service, c_id), <, index_of (service, b_id));
  real_click (rl_job_row_get_button (rl_queue_panel_get_row (panel, b_id), "cancel"));
  assert_finished (b, RL_JOB_CANCELLED);
  g_assert_cmpint (rl_job_item_get_status (c), ==, RL_JOB_QUEUED);
  g_assert_cmpint (rl_job_item_get_status (a), ==, RL_JOB_QUEUED);
  real_click (rl_queue_panel_get_button (panel, "pause"));
  g_assert_false (rl_run_service_get_paused (service));

  /* A runs: the row's progress bar and preview change with each step. */
  while (!job_is_final (a) && watch.sampler_steps_seen < 2)
    ui_test_wait (20);
  if (watch.sampler_steps_seen >= 2)
    g_free (ui_test_screenshot (GTK_WIDGET (window), "run-queue-running"));
  assert_finished (a, RL_JOB_SUCCEEDED);
  g_signal_handler_disconnect (a, watch_handler);
  g_test_message ("sampler steps seen with previews: %u", watch.sampler_steps_seen);
  g_assert_cmpuint (watch.sampler_steps_seen, >=, 3);
  g_assert_true (watch.saw_speed);
  for (guint i = 1; i < watch.sampler_steps_seen; i++)
    {
      g_assert_cmpfloat (watch.fractions[i], >, watch.fractions[i - 1]);
      g_assert_nonnull (watch.previews[i]);
      g_assert_true (watch.previews[i] != watch.previews[i - 1]);
    }
  for (guint i = 0; i < watch.sampler_steps_seen; i++)
    g_clear_object (&watch.previews[i]);
  /* Video latents preview as several frames, which the row plays. */
  g_assert_cmpuint (rl_job_item_get_preview (a)->len, >, 1);

  assert_finished (c, RL_JOB_SUCCEEDED);
  g_assert_cmpuint (rl_job_item_get_outputs (a)->len, >=, 1);
  g_assert_cmpuint (rl_job_item_get_outputs (c)->len, >=, 1);
  a_output = g_ptr_array_index (rl_job_item_get_outputs (a), rl_job_item_get_outputs (a)->len - 1);
  c_output = g_ptr_array_index (rl_job_item_get_outputs (c), rl_job_item_get_outputs (c)->len - 1);
  g_assert_true (g_str_has_suffix (a_output, ".mp4"));
  one_worker_output = g_strdup (a_output);
  /* C's sampler came from the cache, so it showed no preview: its row
   * gets the video's first frame. */
  g_assert_true (wait_until (has_preview, c, 10000));
  g_assert_cmpuint (rl_job_item_get_preview (c)->len, ==, 1);
  g_free (ui_test_screenshot (GTK_WIDGET (window), "run-queue-done"));

  /* Paused, queued jobs wait; resumed, they run (from the cache). */
  {
    GtkWidget *pause = rl_queue_panel_get_button (panel, "pause");
    RlJobItem *d, *e;
    guint n = g_list_model_get_n_items (rl_run_service_get_jobs (service));

    real_click (pause);
    g_assert_true (gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (pause)));
    gtk_spin_button_set_value (rl_queue_panel_get_batch_spin (panel), 1);
    real_keys (GTK_WIDGET (window), "ctrl+Return");
    wait_for_jobs (service, n + 1);
    d = rl_run_service_lookup (service, c_id + 1);
    g_assert_nonnull (d);
    /* Ctrl+Shift+Enter queues E in front of D. */
    real_keys (GTK_WIDGET (window), "ctrl+shift+Return");
    wait_for_jobs (service, n + 2);
    e = rl_run_service_lookup (service, c_id + 2);
    g_assert_nonnull (e);
    g_assert_cmpuint (index_of (service, c_id + 2), <, index_of (service, c_id + 1));
    ui_test_wait (1000);
    g_assert_cmpint (rl_job_item_get_status (d), ==, RL_JOB_QUEUED);
    g_assert_cmpint (rl_job_item_get_status (e), ==, RL_JOB_QUEUED);
    real_click (pause);
    g_assert_false (rl_run_service_get_paused (service));
    assert_finished (e, RL_JOB_SUCCEEDED);
    assert_finished (d, RL_JOB_SUCCEEDED);
  }

  /* Free memory: the executor's cache and the workers' models go. */
  real_click (rl_queue_panel_get_button (panel, "free-memory"));
  g_assert_true (wait_until (toast_is, (gpointer) window, 30000));

  /* The finished video in the viewer, stepped with real keys. */
  real_click (rl_job_row_get_button (rl_queue_panel_get_row (panel, a_id), "view"));
  g_assert_true (wait_until (viewer_open, panel, 5000));
  viewer = RL_OUTPUT_VIEWER (rl_queue_panel_get_viewer (panel));
  g_assert_true (wait_until (viewer_loaded, viewer, 30000));
  g_assert_null (rl_output_viewer_get_error (viewer));
  g_assert_cmpuint (rl_output_viewer_get_n_frames (viewer), ==, TINY_FRAMES);
  g_assert_true (rl_output_viewer_get_playing (viewer));
  gtk_test_widget_wait_for_draw (GTK_WIDGET (viewer));
  real_keys (GTK_WIDGET (viewer), "period");
  g_assert_false (rl_output_viewer_get_playing (viewer));
  frame = rl_output_viewer_get_frame (viewer);
  {
    GdkPaintable *before = gtk_picture_get_paintable (rl_output_viewer_get_picture (viewer, 0));

    real_keys (GTK_WIDGET (viewer), "period");
    g_assert_cmpuint (rl_output_viewer_get_frame (viewer), ==, (frame + 1) % TINY_FRAMES);
    g_assert_true (gtk_picture_get_paintable (rl_output_viewer_get_picture (viewer, 0)) != before);
  }
  real_keys (GTK_WIDGET (viewer), "comma comma");
  g_assert_cmpuint (rl_output_viewer_get_frame (viewer), ==, (frame + TINY_FRAMES - 1) % TINY_FRAMES);
  real_click (rl_output_viewer_get_button (viewer, "next"));
  g_assert_cmpuint (rl_output_viewer_get_frame (viewer), ==, frame);
  g_free (ui_test_screenshot (GTK_WIDGET (viewer), "viewer"));

  /* Compared with job C's output, side by side on the same frame. */
  rl_output_viewer_compare (viewer, c_output);
  g_assert_true (wait_until (viewer_loaded, viewer, 30000));
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (rl_output_viewer_get_picture (viewer, 1))));
  gtk_test_widget_wait_for_draw (GTK_WIDGET (viewer));
  real_keys (GTK_WIDGET (viewer), "period");
  g_assert_nonnull (gtk_picture_get_paintable (rl_output_viewer_get_picture (viewer, 1)));
  g_free (ui_test_screenshot (GTK_WIDGET (viewer), "viewer-compare"));

  /* Dragging the picture out offers the file itself. */
  {
    GtkDragSource *drag = drag_source_of (GTK_WIDGET (rl_output_viewer_get_picture (viewer, 0)));
    g_autoptr(GdkContentProvider) content = NULL;
    g_auto(GValue) value = G_VALUE_INIT;
    g_autofree char *dragged = NULL;

    g_assert_nonnull (drag);
    g_signal_emit_by_name (drag, "prepare", 10.0, 10.0, &content);
    g_assert_nonnull (content);
    g_value_init (&value, G_TYPE_FILE);
    g_assert_true (gdk_content_provider_get_value (content, &value, NULL));
    dragged = g_file_get_path (g_value_get_object (&value));
    g_assert_cmpstr (dragged, ==, a_output);
  }

  /* Show in Files asks the file manager to show that very file. */
  if (own_fake_service ("org.freedesktop.FileManager1", "/org/freedesktop/FileManager1", file_manager_xml,
                        on_file_manager_call))
    {
      g_autoptr(GFile) output = g_file_new_for_path (a_output);
      g_autofree char *uri = g_file_get_uri (output);

      real_click (rl_output_viewer_get_button (viewer, "show-in-files"));
      g_assert_true (wait_until (uri_shown, NULL, 5000));
      g_assert_cmpstr (shown_uri, ==, uri);
    }
  else
    g_test_message ("no session bus: Show in Files not checked");

  /* Open Workflow restores the job's graph into a new tab. */
  tabs_before = n_tabs (window);
  real_click (rl_output_viewer_get_button (viewer, "open-workflow"));
  g_assert_cmpuint (n_tabs (window), ==, tabs_before + 1);
  g_assert_cmpuint (rl_workflow_get_n_nodes (rl_canvas_get_workflow (rl_workflow_page_get_canvas (
                      rl_window_get_current_page (window)))), ==, nodes_before);
  gtk_window_destroy (GTK_WINDOW (viewer));

  /* Every job is in the history, the cancelled one too. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(RlHistoryJob) job = rl_history_get_job (rl_run_service_get_history (service), a_id, &error);
    g_autoptr(RlHistoryJob) cancelled = rl_history_get_job (rl_run_service_get_history (service), b_id, &error);

    g_assert_no_error (error);
    g_assert_cmpint (job->status, ==, RL_JOB_SUCCEEDED);
    g_assert_cmpuint (job->outputs->len, >=, 1);
    g_assert_nonnull (job->workflow_json);
    g_assert_cmpint (cancelled->status, ==, RL_JOB_CANCELLED);
  }
  gtk_window_destroy (GTK_WINDOW (window));
}

/* A workflow that cannot run: the toast's Details button (a real click)
 * opens the whole message. */
static gboolean
is_button_with_label (GtkWidget     *widget,
                      gconstpointer  label)
{
  return GTK_IS_BUTTON (widget) && g_strcmp0 (gtk_button_get_label (GTK_BUTTON (widget)), label) == 0;
}

static GtkWidget *
find_button_with_label (GtkWidget  *root,
                        const char *label)
{
  return ui_test_find_widget (root, is_button_with_label, label);
}

static gboolean
details_button_shown (gpointer data)
{
  return find_button_with_label (data, "_Details") != NULL;
}

static gboolean
label_contains (GtkWidget  *root,
                const char *text)
{
  if (GTK_IS_LABEL (root) && strstr (gtk_label_get_label (GTK_LABEL (root)), text) != NULL)
    return TRUE;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL; child = gtk_widget_get_next_sibling (child))
    if (label_contains (child, text))
      return TRUE;
  return FALSE;
}

static void
test_error_details_and_notifications (void)
{
  RlWindow *window;
  RlRunService *service;
  RlWorkflowPage *page;
  RlWorkflow *workflow;
  g_autofree char *workflow_path = NULL;
  g_autoptr(GFile) workflow_file = NULL;
  GtkWidget *details;
  GtkWindow *dialog;
  g_autoptr(RlJobItem) long_job = NULL;
  guint n_jobs;

  if (!ui_test_have_x11 ())
    return;
  window = ui_test_new_window ();
  service = rl_application_get_run_service (ui_test_get_app ());
  workflow_path = g_build_filename (g_getenv ("RAYLIGHT_SOURCE_DIR"), "data", "workflows", "wan2.1-t2v-tiny.json",
                                    NULL);
  workflow_file = g_file_new_for_path (workflow_path);
  g_assert_true (rl_window_open_file (window, workflow_file));
  page = rl_window_get_current_page (window);
  workflow = rl_canvas_get_workflow (rl_workflow_page_get_canvas (page));
  /* KSampler (id 3) with 0 steps is refused by validation. */
  {
    g_autoptr(JsonNode) zero = json_node_new (JSON_NODE_VALUE);

    json_node_set_int (zero, 0);
    rl_workflow_node_set_widget_value (workflow, 3, 2, zero);
  }
  n_jobs = g_list_model_get_n_items (rl_run_service_get_jobs (service));

  real_keys (GTK_WIDGET (window), "ctrl+Return");
  g_assert_true (wait_until (details_button_shown, window, 5000));
  g_assert_cmpuint (g_list_model_get_n_items (rl_run_service_get_jobs (service)), ==, n_jobs);
  g_assert_cmpstr (rl_window_get_last_toast (window), ==, "The workflow cannot run");
  details = find_button_with_label (GTK_WIDGET (window), "_Details");
  real_click (details);
  dialog = rl_notify_get_details_dialog ();
  g_assert_nonnull (dialog);
  g_assert_true (gtk_window_get_transient_for (dialog) == GTK_WINDOW (window));
  g_assert_true (label_contains (GTK_WIDGET (dialog), "steps"));
  g_assert_true (label_contains (GTK_WIDGET (dialog), "KSampler"));
  gtk_test_widget_wait_for_draw (GTK_WIDGET (dialog));
  g_free (ui_test_screenshot (GTK_WIDGET (dialog), "error-details"));
  gtk_window_destroy (dialog);

  /* A long job that ends while no window is active notifies (through
   * the fake server on the session bus); the same while the window is
   * active does not. */
  if (!have_notification_server)
    {
      g_test_message ("no session bus: desktop notifications not checked");
      gtk_window_destroy (GTK_WINDOW (window));
      return;
    }
  long_job = rl_job_item_new (999001, "#999001 long", NULL);
  rl_job_item_set_status (long_job, RL_JOB_SUCCEEDED, 3 * RL_NOTIFY_DEFAULT_SECONDS);
  gtk_widget_set_visible (GTK_WIDGET (window), FALSE);
  ui_test_wait (50);
  g_signal_emit_by_name (service, "job-finished", long_job);
  g_assert_cmpstr (rl_notify_get_last_notification (), ==, "job-999001: #999001 long finished");
  g_assert_true (wait_until (was_notified, "#999001 long finished", 5000));
  gtk_window_present (GTK_WINDOW (window));
  gtk_test_widget_wait_for_draw (GTK_WIDGET (window));
  real_keys (GTK_WIDGET (window), "shift");
  if (gtk_window_is_active (GTK_WINDOW (window)))
    {
      g_autoptr(RlJobItem) seen = rl_job_item_new (999002, "#999002 long", NULL);

      rl_job_item_set_status (seen, RL_JOB_SUCCEEDED, 3 * RL_NOTIFY_DEFAULT_SECONDS);
      g_signal_emit_by_name (service, "job-finished", seen);
      g_assert_cmpstr (rl_notify_get_last_notification (), ==, "job-999001: #999001 long finished");
    }
  else
    g_test_message ("the X server gave the window no focus: the active-window case is not checked");
  gtk_window_destroy (GTK_WINDOW (window));
}

/* ---- Pool settings: two CPU workers with Ulysses 2 ----------------------------- */

static gboolean
pool_is_ulysses2 (gpointer data)
{
  g_autofree char *description = rl_run_service_describe_pool (data);

  return strstr (description, "\"workers\":2") != NULL && strstr (description, "\"ulysses\":2") != NULL;
}

/* Mean absolute difference of two frames' 8-bit channels. */
static double
mean_difference (GdkTexture *a,
                 GdkTexture *b)
{
  int width = gdk_texture_get_width (a), height = gdk_texture_get_height (a);
  g_autofree guint8 *pa = g_malloc ((gsize) width * height * 4);
  g_autofree guint8 *pb = g_malloc ((gsize) width * height * 4);
  double sum = 0;

  g_assert_cmpint (gdk_texture_get_width (b), ==, width);
  g_assert_cmpint (gdk_texture_get_height (b), ==, height);
  gdk_texture_download (a, pa, (gsize) width * 4);
  gdk_texture_download (b, pb, (gsize) width * 4);
  for (gsize i = 0; i < (gsize) width * height * 4; i++)
    sum += ABS ((int) pa[i] - (int) pb[i]);
  return sum / ((double) width * height * 4);
}

typedef struct {
  RlHistoryBrowser *browser;
  gint64            job_id;
} HistoryWait;

/* The browser reads the history as it opens; a job recorded a moment ago
 * shows after a reload. */
static gboolean
history_has_job (gpointer data)
{
  HistoryWait *wait = data;

  if (rl_history_browser_open_job (wait->browser, wait->job_id))
    return TRUE;
  rl_history_browser_reload (wait->browser);
  return FALSE;
}

static void
test_pool_settings_sequence_parallel (void)
{
  RlWindow *window;
  RlRunService *service;
  GSettings *settings;
  g_autofree char *workflow_path = NULL;
  g_autoptr(GFile) workflow_file = NULL;
  g_autofree char *description = NULL;
  RlJobItem *job;
  guint n_jobs;
  const char *output;

  if (!ui_test_have_x11 ())
    return;
  if (one_worker_output == NULL)
    {
      g_test_skip ("needs the one-worker video of /ui/run/queue-watch-review");
      return;
    }
  window = ui_test_new_window ();
  service = rl_application_get_run_service (ui_test_get_app ());
  settings = rl_application_get_settings (ui_test_get_app ());
  g_assert_nonnull (settings);
  workflow_path = g_build_filename (g_getenv ("RAYLIGHT_SOURCE_DIR"), "data", "workflows", "wan2.1-t2v-tiny.json",
                                    NULL);
  workflow_file = g_file_new_for_path (workflow_path);
  g_assert_true (rl_window_open_file (window, workflow_file));

  /* Two CPU workers (typed into the panel's spin button) with Ulysses 2
   * in Pool settings; the app makes a new pool, which the panel shows. */
  {
    RlPreferencesWindow *preferences = rl_window_show_pool_settings (window);
    RlPoolPanel *pool_panel = rl_preferences_window_get_pool_panel (preferences);
    GtkWidget *spin = rl_pool_panel_get_widget (pool_panel, "cpu-workers");
    AdwComboRow *parallel = ADW_COMBO_ROW (rl_pool_panel_get_widget (pool_panel, "sequence-parallel"));
    GListModel *choices;
    guint ulysses2 = G_MAXUINT;

    gtk_window_set_default_size (GTK_WINDOW (preferences), 900, 1000);
    gtk_test_widget_wait_for_draw (GTK_WIDGET (preferences));
    real_click (spin);
    real_keys (spin, "ctrl+a");
    ui_test_real_type ("2", INPUT_SETTLE_MS);
    real_keys (spin, "Tab");
    g_assert_cmpint (g_settings_get_int (settings, "pool-cpu-workers"), ==, 2);
    choices = adw_combo_row_get_model (parallel);
    for (guint i = 0; i < g_list_model_get_n_items (choices); i++)
      {
        g_autoptr(GObject) choice = g_list_model_get_item (choices, i);

        if (GTK_IS_STRING_OBJECT (choice) && g_str_has_prefix (gtk_string_object_get_string (GTK_STRING_OBJECT (choice)),
                                                               "Ulysses 2"))
          ulysses2 = i;
      }
    g_assert_cmpuint (ulysses2, !=, G_MAXUINT);
    adw_combo_row_set_selected (parallel, ulysses2);
    g_assert_cmpint (g_settings_get_int (settings, "pool-ulysses"), ==, 2);
    g_assert_true (wait_until (pool_is_ulysses2, service, 5000));
    g_assert_null (rl_run_service_get_pool_error (service));
    ui_test_wait (100);
    g_free (ui_test_screenshot (GTK_WIDGET (preferences), "pool-ulysses"));
    gtk_window_destroy (GTK_WINDOW (preferences));
  }
  description = rl_run_service_describe_pool (service);
  g_test_message ("pool: %s", description);
  g_assert_nonnull (strstr (description, "\"workers\":2"));

  n_jobs = g_list_model_get_n_items (rl_run_service_get_jobs (service));
  real_keys (GTK_WIDGET (window), "ctrl+Return");
  wait_for_jobs (service, n_jobs + 1);
  job = item_at (service, 0);
  assert_finished (job, RL_JOB_SUCCEEDED);
  g_free (ui_test_screenshot (GTK_WIDGET (window), "run-ulysses"));

  /* Recorded with its parallel configuration, and the same video as one
   * worker made (the frames agree within the codec's rounding). */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(RlHistoryJob) row = rl_history_get_job (rl_run_service_get_history (service),
                                                      rl_job_item_get_id (job), &error);
    g_autoptr(RlVideoFrames) one = NULL;
    g_autoptr(RlVideoFrames) two = NULL;

    g_assert_no_error (error);
    g_assert_nonnull (strstr (row->device_config_json, "\"ulysses\":2"));
    output = g_ptr_array_index (rl_job_item_get_outputs (job), rl_job_item_get_outputs (job)->len - 1);
    one = rl_video_frames_load (one_worker_output, 0, &error);
    g_assert_no_error (error);
    two = rl_video_frames_load (output, 0, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (two->textures->len, ==, one->textures->len);
    for (guint f = 0; f < one->textures->len; f++)
      {
        double difference = mean_difference (one->textures->pdata[f], two->textures->pdata[f]);

        g_test_message ("frame %u: mean difference %.3f", f, difference);
        g_assert_cmpfloat (difference, <, 2.0);
      }
  }

  /* Found in the history browser and restored into a new tab with the
   * browser's Open Workflow (a real click). */
  {
    RlHistoryBrowser *browser = rl_window_show_history (window);
    RlWorkflow *original = rl_canvas_get_workflow (rl_workflow_page_get_canvas (rl_window_get_current_page (window)));
    guint nodes = rl_workflow_get_n_nodes (original);
    guint tabs = n_tabs (window);
    HistoryWait wait = { browser, rl_job_item_get_id (job) };

    g_assert_nonnull (browser);
    g_assert_true (wait_until (history_has_job, &wait, 10000));
    gtk_test_widget_wait_for_draw (GTK_WIDGET (browser));
    g_free (ui_test_screenshot (GTK_WIDGET (browser), "history-job"));
    real_click (rl_history_browser_get_widget (browser, "open-workflow"));
    g_assert_cmpuint (n_tabs (window), ==, tabs + 1);
    g_assert_cmpuint (rl_workflow_get_n_nodes (rl_canvas_get_workflow (rl_workflow_page_get_canvas (
                        rl_window_get_current_page (window)))), ==, nodes);
    gtk_window_destroy (GTK_WINDOW (browser));
  }

  /* Back to one worker for whatever runs next. */
  g_settings_reset (settings, "pool-ulysses");
  g_settings_reset (settings, "pool-cpu-workers");
  gtk_window_destroy (GTK_WINDOW (window));
}

/* ---- Stopping a job, and a worker killed from outside ---------------------------- */

static gboolean
sampler_started (gpointer data)
{
  guint step, total;

  rl_job_item_get_step (data, &step, &total);
  return job_is_final (data) ||
         (g_strcmp0 (rl_job_item_get_node_title (data), "KSampler") == 0 && step >= 1);
}

/* Queues the open workflow with seed @seed (so the sampler is not taken
 * from the cache) and waits until it samples. */
static RlJobItem *
queue_sampling_job (RlWindow     *window,
                    RlRunService *service,
                    gint64        seed)
{
  RlWorkflow *workflow = rl_canvas_get_workflow (rl_workflow_page_get_canvas (rl_window_get_current_page (window)));
  g_autoptr(JsonNode) value = json_node_new (JSON_NODE_VALUE);
  guint n = g_list_model_get_n_items (rl_run_service_get_jobs (service));
  RlJobItem *job;

  json_node_set_int (value, seed);
  rl_workflow_node_set_widget_value (workflow, 3, 0, value);
  real_keys (GTK_WIDGET (window), "ctrl+Return");
  wait_for_jobs (service, n + 1);
  job = item_at (service, 0);
  g_assert_true (wait_until (sampler_started, job, JOB_TIMEOUT_MS));
  g_assert_cmpint (rl_job_item_get_status (job), ==, RL_JOB_RUNNING);
  return job;
}

static void
test_stop_and_worker_crash (void)
{
  RlWindow *window;
  RlRunService *service;
  RlQueuePanel *panel;
  g_autofree char *workflow_path = NULL;
  g_autoptr(GFile) workflow_file = NULL;
  RlJobItem *job;

  if (!ui_test_have_x11 ())
    return;
  window = ui_test_new_window ();
  service = rl_application_get_run_service (ui_test_get_app ());
  panel = rl_window_get_queue_panel (window);
  workflow_path = g_build_filename (g_getenv ("RAYLIGHT_SOURCE_DIR"), "data", "workflows", "wan2.1-t2v-tiny.json",
                                    NULL);
  workflow_file = g_file_new_for_path (workflow_path);
  g_assert_true (rl_window_open_file (window, workflow_file));

  /* The header's Stop interrupts the sampling job. */
  job = queue_sampling_job (window, service, 1001);
  g_assert_true (gtk_widget_get_sensitive (rl_queue_panel_get_button (panel, "stop")));
  real_click (rl_queue_panel_get_button (panel, "stop"));
  assert_finished (job, RL_JOB_INTERRUPTED);

  /* kill -9 of the worker mid-sample: the job fails naming what
   * happened, in its row and in a toast with Details. */
  job = queue_sampling_job (window, service, 1002);
  {
    g_autoptr(GArray) workers = rl_pool_service_list_workers (rl_run_service_get_pool (service));
    RlWorkerInfo *info;

    g_assert_cmpuint (workers->len, >=, 1);
    info = &g_array_index (workers, RlWorkerInfo, 0);
    g_assert_cmpint (info->pid, >, 0);
    g_assert_cmpint (kill (info->pid, SIGKILL), ==, 0);
  }
  assert_finished (job, RL_JOB_FAILED);
  g_test_message ("after kill -9: %s", rl_job_item_get_error (job));
  g_assert_nonnull (rl_job_item_get_error (job));
  {
    g_autofree char *detail = rl_job_item_describe_progress (job);
    g_autofree char *expected = g_strdup_printf ("%s failed", rl_job_item_get_title (job));

    g_assert_true (g_str_has_prefix (detail, "Failed: "));
    g_assert_true (wait_until (details_button_shown, window, 5000));
    g_assert_cmpstr (rl_window_get_last_toast (window), ==, expected);
  }
  g_free (ui_test_screenshot (GTK_WIDGET (window), "run-worker-killed"));

  /* The pool restarted the worker: the same job runs again. */
  job = queue_sampling_job (window, service, 1002);
  assert_finished (job, RL_JOB_SUCCEEDED);
  gtk_window_destroy (GTK_WINDOW (window));
}

/* ---- Setup ------------------------------------------------------------------------ */

static gboolean
make_models (const char *folder)
{
  g_autofree char *venv = g_build_filename (g_getenv ("RAYLIGHT_SOURCE_DIR"), ".venv", "bin", "python", NULL);
  g_autofree char *tool = g_build_filename (g_getenv ("RAYLIGHT_SOURCE_DIR"), "tools", "make-tiny-wan.py", NULL);
  const char *python = g_file_test (venv, G_FILE_TEST_IS_EXECUTABLE) ? venv : "python3";
  const char *argv[] = { python, tool, folder, NULL };
  g_autofree char *err = NULL;
  int status = 0;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                     NULL, &err, &status, NULL) || !g_spawn_check_wait_status (status, NULL))
    {
      g_printerr ("# cannot make the tiny models with %s: %s\n", python, err != NULL ? err : "");
      return FALSE;
    }
  return TRUE;
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      remove_tree (child);
    }
  g_remove (path);
}

/* The seed node 1 of job @job_id ran, from its prompt in the history. */
static gint64
history_seed (RlRunService *service,
              gint64        job_id)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RlHistoryJob) job = rl_history_get_job (rl_run_service_get_history (service), job_id, &error);
  g_autoptr(JsonNode) prompt = NULL;

  g_assert_no_error (error);
  prompt = json_from_string (job->prompt_json, &error);
  g_assert_no_error (error);
  return json_object_get_int_member (json_object_get_object_member (json_object_get_object_member (
                                       json_node_get_object (prompt), "1"), "inputs"), "seed");
}

static gint64
canvas_seed (RlCanvas *canvas)
{
  return json_array_get_int_element (rl_workflow_node_get_widgets_values (rl_canvas_get_workflow (canvas), 1), 4);
}

/* Batch count 2 with the test pattern's seed on "increment": two jobs with
 * successive seeds in the history, and the tab shows the next seed as one
 * undo step (as ComfyUI's canvas does after a queue). */
static void
test_batch_seeds (void)
{
  RlWindow *window;
  RlRunService *service;
  RlQueuePanel *panel;
  RlCanvas *canvas;
  g_autofree char *workflow_path = NULL;
  g_autoptr(GFile) workflow_file = NULL;
  g_autoptr(JsonNode) control = json_node_init_string (json_node_alloc (), "increment");
  GListModel *jobs;
  gint64 highest = 0;
  guint n;

  if (!ui_test_have_x11 ())
    return;
  window = ui_test_new_window ();
  service = rl_application_get_run_service (ui_test_get_app ());
  panel = rl_window_get_queue_panel (window);
  workflow_path = g_build_filename (g_getenv ("RAYLIGHT_SOURCE_DIR"), "data", "workflows", "default.json", NULL);
  workflow_file = g_file_new_for_path (workflow_path);
  g_assert_true (rl_window_open_file (window, workflow_file));
  canvas = rl_workflow_page_get_canvas (rl_window_get_current_page (window));
  g_assert_cmpint (canvas_seed (canvas), ==, 42);
  rl_workflow_node_set_widget_value (rl_canvas_get_workflow (canvas), 1, 5, control);

  jobs = rl_run_service_get_jobs (service);
  n = g_list_model_get_n_items (jobs);
  for (guint i = 0; i < n; i++)
    highest = MAX (highest, rl_job_item_get_id (item_at (service, i)));
  gtk_spin_button_set_value (rl_queue_panel_get_batch_spin (panel), 2);
  real_keys (GTK_WIDGET (window), "ctrl+Return");
  wait_for_jobs (service, n + 2);
  gtk_spin_button_set_value (rl_queue_panel_get_batch_spin (panel), 1);

  g_assert_cmpint (history_seed (service, highest + 1), ==, 42);
  g_assert_cmpint (history_seed (service, highest + 2), ==, 43);
  g_assert_cmpint (canvas_seed (canvas), ==, 44);
  g_assert_true (rl_canvas_undo (canvas));
  g_assert_cmpint (canvas_seed (canvas), ==, 42);
  g_assert_true (rl_canvas_redo (canvas));
  g_assert_cmpint (canvas_seed (canvas), ==, 44);

  assert_finished (rl_run_service_lookup (service, highest + 1), RL_JOB_SUCCEEDED);
  assert_finished (rl_run_service_lookup (service, highest + 2), RL_JOB_SUCCEEDED);
  gtk_window_destroy (GTK_WINDOW (window));
}

int
main (int    argc,
      char **argv)
{
  g_autofree char *models = NULL;
  g_autofree char *history = NULL;
  g_autofree char *outputs = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);
  test_dir = g_dir_make_tmp ("raylight-run-review-XXXXXX", NULL);
  g_assert_nonnull (test_dir);
  models = g_build_filename (test_dir, "models", NULL);
  history = g_build_filename (test_dir, "history.sqlite3", NULL);
  outputs = g_build_filename (test_dir, "outputs", NULL);
  if (!make_models (models))
    {
      remove_tree (test_dir);
      return 77;
    }
  /* Read at startup, before GTK starts threads. */
  g_setenv ("RAYLIGHT_MODEL_PATHS", models, TRUE);
  g_setenv ("RAYLIGHT_HISTORY", history, TRUE);
  g_setenv ("RAYLIGHT_OUTPUT_DIR", outputs, TRUE);
  g_setenv ("RAYLIGHT_DEVICES", "cpu", TRUE);
  g_unsetenv ("RAYLIGHT_WORKERS");
  g_unsetenv ("RAYLIGHT_ULYSSES");
  g_unsetenv ("RAYLIGHT_RING");
  if (!gtk_init_check ())
    {
      g_printerr ("No display: run under Xvfb (tools/run-tests does)\n");
      remove_tree (test_dir);
      return 77;
    }
  ui_test_seed ();
  notified = g_ptr_array_new_with_free_func (g_free);
  have_notification_server = own_fake_service ("org.freedesktop.Notifications", "/org/freedesktop/Notifications",
                                               notifications_xml, on_notifications_call);
  g_test_add_func ("/ui/run/queue-watch-review", test_queue_watch_review);
  g_test_add_func ("/ui/run/error-details-and-notifications", test_error_details_and_notifications);
  g_test_add_func ("/ui/run/pool-settings-sequence-parallel", test_pool_settings_sequence_parallel);
  g_test_add_func ("/ui/run/batch-seeds", test_batch_seeds);
  g_test_add_func ("/ui/run/stop-and-worker-crash", test_stop_and_worker_crash);
  status = g_test_run ();
  /* The workers stop before their models are removed. */
  rl_run_service_shutdown (rl_application_get_run_service (ui_test_get_app ()));
  remove_tree (test_dir);
  return status;
}
