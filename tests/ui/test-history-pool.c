/* UI tests of the history browser and the Pool settings panel: the real
 * windows driven by real X input (xdotool through XTEST: clicks, typed
 * search text, keys) over a history database made here with real output
 * files, and the GPU topology fixture (tests/ui/data). Each step saves a
 * screenshot next to the log. */
#include <signal.h>
#include <string.h>

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "engine/graph/workflow.h"
#include "engine/media/png-writer.h"
#include "engine/media/video-writer.h"
#include "engine/run/history.h"
#include "tests/ui/ui-test-input.h"
#include "tests/ui/ui-test-util.h"
#include "tests/ui/ui-test-widgets.h"
#include "ui/canvas/rl-canvas.h"
#include "ui/history/rl-history-browser.h"
#include "ui/pool/rl-pool-config.h"
#include "ui/pool/rl-pool-panel.h"
#include "ui/rl-application.h"
#include "ui/rl-preferences-window.h"
#include "ui/rl-window.h"
#include "ui/rl-workflow-page.h"

/* ---- Real input --------------------------------------------------------- */

/* xdotool's events need a little main loop after them (ui_test_xdotool). */
#define INPUT_SETTLE_MS 40

/* Clicks the middle of @widget, in its toplevel's (or popover's) X window. */
static void
real_click (GtkWidget *widget)
{
  g_assert_true (gtk_widget_get_mapped (widget));
  ui_test_real_click_at (widget, gtk_widget_get_width (widget) / 2.0, gtk_widget_get_height (widget) / 2.0,
                         UI_TEST_RAISE_AND_FOCUS, INPUT_SETTLE_MS);
}

static void
real_keys (GtkWidget  *widget,
           const char *keys)
{
  ui_test_real_keys (widget, keys, UI_TEST_RAISE_AND_FOCUS, INPUT_SETTLE_MS);
}

/* ---- Finding widgets ------------------------------------------------------ */

static gboolean
has_name (GtkWidget     *widget,
          gconstpointer  name)
{
  return g_strcmp0 (gtk_widget_get_name (widget), name) == 0;
}

/* The newest toplevel of @type. */
static GtkWindow *
find_toplevel (GType type)
{
  GListModel *toplevels = gtk_window_get_toplevels ();   /* transfer none */

  for (guint i = g_list_model_get_n_items (toplevels); i > 0; i--)
    {
      g_autoptr(GObject) window = g_list_model_get_item (toplevels, i - 1);

      if (G_TYPE_CHECK_INSTANCE_TYPE (window, type) && gtk_widget_get_mapped (GTK_WIDGET (window)))
        return GTK_WINDOW (window);
    }
  return NULL;
}

static GtkWindow *
wait_for_toplevel (GType type)
{
  GtkWindow *window = NULL;

  for (int i = 0; i < 200 && window == NULL; i++)
    {
      ui_test_wait (20);
      window = find_toplevel (type);
    }
  g_assert_nonnull (window);
  gtk_test_widget_wait_for_draw (GTK_WIDGET (window));
  return window;
}

static gboolean
is_mapped_popover (GtkWidget     *widget,
                   gconstpointer  data)
{
  return GTK_IS_POPOVER (widget);
}

/* Picks @label in an AdwComboRow's list with real clicks. */
static void
choose_in_combo (GtkWidget  *combo,
                 const char *label)
{
  GtkWidget *item = NULL;

  real_click (combo);
  for (int i = 0; i < 100 && item == NULL; i++)
    {
      GtkWidget *popover;

      ui_test_wait (20);
      popover = ui_test_find_widget (combo, is_mapped_popover, NULL);
      if (popover != NULL)
        item = ui_test_find_label (popover, label);
    }
  g_assert_nonnull (item);
  real_click (item);
}

/* ---- The test history ------------------------------------------------------ */

typedef struct {
  char    *dir;
  char    *history_path;
  char    *png;
  char    *video;
  char    *workflow_json;
  gint64   wan_job;       /* succeeded, PNG output, workflow, Ulysses 2 */
  gint64   flux_job;      /* failed */
  gint64   video_job;     /* succeeded, WebM output */
} TestHistory;

static TestHistory data;

static RlImage *
gradient (guint frames,
          guint height,
          guint width)
{
  RlImage *image = rl_image_new (frames, height, width, NULL);

  for (guint f = 0; f < frames; f++)
    for (guint y = 0; y < height; y++)
      for (guint x = 0; x < width; x++)
        {
          float *p = image->pixels + (((gsize) f * height + y) * width + x) * 3;
          p[0] = (float) x / width;
          p[1] = (float) y / height;
          p[2] = 0.3f + 0.1f * f;
        }
  return image;
}

static gint64
add_job (RlHistory   *history,
         const char  *workflow,
         const char  *parameters,
         const char  *devices,
         RlJobStatus  status,
         const char  *error_text,
         const char  *output)
{
  RlHistoryJobInfo info = { .workflow_json = workflow, .parameters_json = parameters,
                            .device_config_json = devices };
  gint64 id = rl_history_add_job (history, &info, NULL);

  g_assert_cmpint (id, >, 0);
  g_assert_true (rl_history_mark_started (history, id, NULL));
  g_usleep (20000);
  g_assert_true (rl_history_mark_finished (history, id, status, error_text, NULL));
  if (output != NULL)
    g_assert_true (rl_history_add_output (history, id, output, NULL, 96, 64, 1, NULL));
  return id;
}

/* Jobs made in a few milliseconds would all show 0.0 s; give them the
 * running times of real tiny-Wan jobs so cards and screenshots read as
 * they do in use. */
static void
set_durations (void)
{
  sqlite3 *db = NULL;
  g_autofree char *sql = g_strdup_printf ("UPDATE jobs SET duration = 72.4 WHERE id = %" G_GINT64_FORMAT ";"
                                          "UPDATE jobs SET duration = 3.1 WHERE id = %" G_GINT64_FORMAT ";"
                                          "UPDATE jobs SET duration = 41.8 WHERE id = %" G_GINT64_FORMAT ";",
                                          data.wan_job, data.flux_job, data.video_job);

  g_assert_cmpint (sqlite3_open (data.history_path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);
}

static void
make_history (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *workflow_path = g_build_filename (g_getenv ("RAYLIGHT_SOURCE_DIR"), "data", "workflows",
                                                     "wan2.1-t2v-tiny.json", NULL);
  g_autoptr(RlImage) still = gradient (1, 64, 96);
  g_autoptr(RlImage) clip = gradient (4, 64, 96);
  g_autoptr(RlHistory) history = NULL;
  RlVideoWriteOptions options;

  data.dir = g_dir_make_tmp ("rl-ui-history-XXXXXX", &error);
  g_assert_no_error (error);
  data.history_path = g_build_filename (data.dir, "history.sqlite3", NULL);
  data.png = g_build_filename (data.dir, "wan_00001.png", NULL);
  data.video = g_build_filename (data.dir, "wan_00002.webm", NULL);
  g_assert_true (g_file_get_contents (workflow_path, &data.workflow_json, NULL, NULL));
  g_assert_true (rl_png_write (data.png, still, 0, 1, NULL, data.workflow_json, &error));
  rl_video_write_options_init (&options);
  options.container = RL_VIDEO_CONTAINER_WEBM;
  options.codec = RL_VIDEO_CODEC_VP9;
  options.fps_num = 8;
  options.fps_den = 1;
  g_assert_true (rl_video_write (data.video, clip, &options, &error));
  g_assert_no_error (error);

  history = rl_history_open (data.history_path, &error);
  g_assert_no_error (error);
  data.wan_job = add_job (history, data.workflow_json,
                          "{\"seed\":42,\"steps\":4,\"width\":96,\"height\":64,"
                          "\"unet_name\":\"wan2.1_t2v_tiny.safetensors\"}",
                          "{\"backend\":\"cpu\",\"workers\":2,\"parallel\":\"usp\",\"ulysses\":2,\"ring\":1}",
                          RL_JOB_SUCCEEDED, NULL, data.png);
  data.flux_job = add_job (history, data.workflow_json, "{\"seed\":7,\"unet_name\":\"flux1-dev.safetensors\"}",
                           "{\"backend\":\"cpu\",\"workers\":1,\"parallel\":\"none\"}", RL_JOB_FAILED,
                           "KSampler: rank 1 (pid 4242) died with SIGKILL", NULL);
  data.video_job = add_job (history, data.workflow_json, "{\"seed\":1234,\"steps\":4,"
                            "\"unet_name\":\"wan2.1_t2v_tiny.safetensors\"}",
                            "{\"backend\":\"cpu\",\"workers\":1,\"parallel\":\"none\"}", RL_JOB_SUCCEEDED, NULL,
                            data.video);
  g_clear_pointer (&history, rl_history_close);
  set_durations ();
  g_setenv ("RAYLIGHT_HISTORY", data.history_path, TRUE);
}

/* ---- History browser ---------------------------------------------------------- */

static RlHistoryItem *
item_at (RlHistoryBrowser *browser,
         guint             position)
{
  RlHistoryItem *item = g_list_model_get_item (rl_history_browser_get_items (browser), position);

  g_object_unref (item);   /* the store keeps it */
  return item;
}

static RlHistoryItem *
item_with_id (RlHistoryBrowser *browser,
              gint64            id)
{
  for (guint i = 0; i < g_list_model_get_n_items (rl_history_browser_get_items (browser)); i++)
    if (rl_history_item_get_id (item_at (browser, i)) == id)
      return item_at (browser, i);
  return NULL;
}

static guint
n_items (RlHistoryBrowser *browser)
{
  return g_list_model_get_n_items (rl_history_browser_get_items (browser));
}

/* Types @text into the search entry after clearing it, and waits for the
 * delayed search to run. */
static void
search_for (RlHistoryBrowser *browser,
            const char       *text)
{
  GtkWidget *search = rl_history_browser_get_widget (browser, "search");

  real_click (search);
  real_keys (search, "ctrl+a BackSpace");
  if (*text != '\0')
    ui_test_real_type (text, INPUT_SETTLE_MS);
  ui_test_wait (400);
}

static void
open_card (RlHistoryBrowser *browser,
           gint64            id)
{
  RlHistoryItem *item = item_with_id (browser, id);
  GtkWidget *title;

  g_assert_nonnull (item);
  title = ui_test_find_label (rl_history_browser_get_widget (browser, "grid"), rl_history_item_get_title (item));
  g_assert_nonnull (title);
  real_click (title);
  ui_test_wait (100);
  g_assert_nonnull (rl_history_browser_get_job_page (browser));
  g_assert_cmpint (rl_history_item_get_id (rl_history_job_page_get_item (rl_history_browser_get_job_page (browser))),
                   ==, id);
}

/* GtkSwitch changes "active" when its toggle animation ends. */
static void
wait_for_switch (GtkWidget *toggle,
                 gboolean   active)
{
  for (int i = 0; i < 150 && gtk_switch_get_active (GTK_SWITCH (toggle)) != active; i++)
    ui_test_wait (20);
}

/* The switch sits at the bottom of the job page: focusing it scrolls it
 * into view, then a real Space key toggles it. */
static void
click_delete_files (RlHistoryBrowser *browser)
{
  GtkWidget *toggle = rl_history_job_page_get_delete_files_switch (rl_history_browser_get_job_page (browser));

  gtk_widget_grab_focus (toggle);
  ui_test_wait (300);
  real_keys (toggle, "space");
  wait_for_switch (toggle, TRUE);
}

static GtkWidget *
find_undo_button (RlHistoryBrowser *browser)
{
  GtkWidget *label = ui_test_find_label (GTK_WIDGET (browser), "Undo");

  for (GtkWidget *w = label; w != NULL; w = gtk_widget_get_parent (w))
    if (GTK_IS_BUTTON (w))
      return w;
  return NULL;
}

static gboolean
history_has_job (gint64 id)
{
  g_autoptr(RlHistory) history = rl_history_open (data.history_path, NULL);
  g_autoptr(RlHistoryJob) job = rl_history_get_job (history, id, NULL);

  return job != NULL;
}

static void
test_history_browser (void)
{
  RlWindow *window;
  RlHistoryBrowser *browser;
  RlWorkflowPage *page;
  g_autoptr(RlWorkflow) expected = NULL;
  g_auto(GStrv) facts = NULL;
  g_autofree char *shot = NULL;
  GtkWidget *button;
  gboolean loaded = FALSE;
  guint tabs_before;

  if (!ui_test_have_x11 ())
    return;
  window = ui_test_new_window ();
  button = ui_test_find_widget (GTK_WIDGET (window), has_name, "history-button");
  g_assert_nonnull (button);
  real_click (button);
  browser = RL_HISTORY_BROWSER (wait_for_toplevel (RL_TYPE_HISTORY_BROWSER));
  g_assert_cmpuint (n_items (browser), ==, 3);
  /* Newest first. */
  g_assert_cmpint (rl_history_item_get_id (item_at (browser, 0)), ==, data.video_job);

  /* Thumbnails: the PNG's and the video's first frames decode, the
   * failed job has none and says why. */
  for (int i = 0; i < 250 && !loaded; i++)
    {
      ui_test_wait (20);
      loaded = rl_history_item_get_thumbnail (item_with_id (browser, data.wan_job)) != NULL &&
               rl_history_item_get_thumbnail (item_with_id (browser, data.video_job)) != NULL;
    }
  g_assert_true (loaded);
  g_assert_cmpint (gdk_texture_get_width (rl_history_item_get_thumbnail (item_with_id (browser, data.wan_job))), ==, 96);
  g_assert_cmpstr (rl_history_item_get_thumbnail_problem (item_with_id (browser, data.flux_job)), ==,
                   "No image or video output");
  /* The cards' lines: status and duration, seed and parallel setup. */
  g_assert_nonnull (ui_test_find_label (rl_history_browser_get_widget (browser, "grid"), "succeeded · 1:12"));
  g_assert_nonnull (ui_test_find_label (rl_history_browser_get_widget (browser, "grid"), "seed 42 · 2 CPU workers · Ulysses 2"));
  g_assert_nonnull (ui_test_find_label (rl_history_browser_get_widget (browser, "grid"), "failed · 3.1 s"));
  ui_test_wait (200);
  shot = ui_test_screenshot (GTK_WIDGET (browser), "history-grid");
  g_clear_pointer (&shot, g_free);

  /* Search, typed: by model, by parallel configuration, by error text. */
  search_for (browser, "flux1");
  g_assert_cmpuint (n_items (browser), ==, 1);
  g_assert_cmpint (rl_history_item_get_id (item_at (browser, 0)), ==, data.flux_job);
  search_for (browser, "\"ulysses\":2");
  g_assert_cmpuint (n_items (browser), ==, 1);
  g_assert_cmpint (rl_history_item_get_id (item_at (browser, 0)), ==, data.wan_job);
  search_for (browser, "SIGKILL");
  g_assert_cmpuint (n_items (browser), ==, 1);
  search_for (browser, "no job has this");
  g_assert_cmpuint (n_items (browser), ==, 0);
  g_assert_true (gtk_widget_get_mapped (rl_history_browser_get_widget (browser, "empty")));
  search_for (browser, "");
  g_assert_cmpuint (n_items (browser), ==, 3);
  /* The status filter, chosen in its drop-down with real clicks. */
  choose_in_combo (rl_history_browser_get_widget (browser, "status-filter"), "Failed");
  ui_test_wait (100);
  g_assert_cmpuint (n_items (browser), ==, 1);
  g_assert_cmpint (rl_history_item_get_id (item_at (browser, 0)), ==, data.flux_job);
  choose_in_combo (rl_history_browser_get_widget (browser, "status-filter"), "All Jobs");
  ui_test_wait (100);
  g_assert_cmpuint (n_items (browser), ==, 3);

  /* Open the Wan job: its facts, then restore its workflow into a tab. */
  open_card (browser, data.wan_job);
  facts = rl_history_job_page_get_facts (rl_history_browser_get_job_page (browser));
  g_assert_true (g_strv_contains ((const char * const *) facts, "Status: succeeded"));
  g_assert_true (g_strv_contains ((const char * const *) facts, "Seed: 42"));
  g_assert_true (g_strv_contains ((const char * const *) facts, "Model: wan2.1_t2v_tiny"));
  g_assert_true (g_strv_contains ((const char * const *) facts, "Parallel: 2 CPU workers · Ulysses 2"));
  ui_test_wait (200);
  shot = ui_test_screenshot (GTK_WIDGET (browser), "history-job");
  g_clear_pointer (&shot, g_free);
  tabs_before = (guint) adw_tab_view_get_n_pages (rl_window_get_tab_view (window));
  real_click (rl_history_browser_get_widget (browser, "open-workflow"));
  ui_test_wait (200);
  page = rl_window_get_current_page (window);
  g_assert_nonnull (page);
  g_assert_cmpstr (rl_workflow_page_get_title (page), ==,
                   g_strdup_printf ("Job %" G_GINT64_FORMAT, data.wan_job));
  g_assert_cmpuint ((guint) adw_tab_view_get_n_pages (rl_window_get_tab_view (window)), >=, MAX (tabs_before, 1));
  expected = rl_workflow_load_data (data.workflow_json, -1, "expected", NULL);
  g_assert_nonnull (expected);
  {
    RlWorkflow *restored = rl_canvas_get_workflow (rl_workflow_page_get_canvas (page));

    g_assert_cmpuint (rl_workflow_get_n_nodes (restored), ==, rl_workflow_get_n_nodes (expected));
    g_assert_cmpuint (rl_workflow_get_n_links (restored), ==, rl_workflow_get_n_links (expected));
    for (guint i = 0; i < rl_workflow_get_n_nodes (expected); i++)
      {
        gint64 id = rl_workflow_get_node_id (expected, i);
        g_assert_cmpstr (rl_workflow_node_get_type (restored, id), ==, rl_workflow_node_get_type (expected, id));
      }
  }
  g_assert_nonnull (strstr (rl_window_get_last_toast (window), "Restored the workflow of job"));
  ui_test_screenshot (GTK_WIDGET (window), "history-restored");

  /* Delete the video job with its files, then Undo (a real click on the
   * toast's button): the job and its file are back. */
  gtk_window_present (GTK_WINDOW (browser));
  gtk_test_widget_wait_for_draw (GTK_WIDGET (browser));
  real_click (rl_history_browser_get_widget (browser, "back"));
  open_card (browser, data.video_job);
  click_delete_files (browser);
  g_assert_true (rl_history_job_page_get_delete_files (rl_history_browser_get_job_page (browser)));
  real_click (rl_history_browser_get_widget (browser, "delete"));
  g_assert_cmpuint (n_items (browser), ==, 2);
  g_assert_null (item_with_id (browser, data.video_job));
  g_assert_cmpstr (rl_history_browser_get_last_toast (browser), ==,
                   g_strdup_printf ("Job #%" G_GINT64_FORMAT " deleted with its files", data.video_job));
  g_assert_true (g_file_test (data.video, G_FILE_TEST_EXISTS));
  ui_test_wait (300);
  shot = ui_test_screenshot (GTK_WIDGET (browser), "history-deleted-undo");
  g_clear_pointer (&shot, g_free);
  button = find_undo_button (browser);
  g_assert_nonnull (button);
  real_click (button);
  ui_test_wait (200);
  g_assert_cmpuint (n_items (browser), ==, 3);
  g_assert_nonnull (item_with_id (browser, data.video_job));
  g_assert_true (g_file_test (data.video, G_FILE_TEST_EXISTS));
  g_assert_true (history_has_job (data.video_job));

  /* Delete again and close the window while the toast is up: the job and
   * its file go for good; the others stay. */
  open_card (browser, data.video_job);
  click_delete_files (browser);
  real_click (rl_history_browser_get_widget (browser, "delete"));
  real_keys (GTK_WIDGET (browser), "Escape");
  if (find_toplevel (RL_TYPE_HISTORY_BROWSER) != NULL)
    gtk_window_close (GTK_WINDOW (browser));
  ui_test_wait (200);
  g_assert_false (history_has_job (data.video_job));
  g_assert_false (g_file_test (data.video, G_FILE_TEST_EXISTS));
  g_assert_true (history_has_job (data.wan_job));
  g_assert_true (g_file_test (data.png, G_FILE_TEST_EXISTS));
  gtk_window_destroy (GTK_WINDOW (window));
}

/* ---- Pool settings --------------------------------------------------------------- */

static void
test_pool_panel (void)
{
  RlWindow *window;
  RlPreferencesWindow *preferences;
  RlPoolPanel *panel;
  GSettings *settings = rl_application_get_settings (ui_test_get_app ());
  g_autoptr(RlPoolConfig) config = NULL;
  g_autoptr(RlPoolService) own_service = NULL;
  RlPoolService *service;
  g_auto(GStrv) env = NULL;
  g_auto(GStrv) lines = NULL;
  RlPoolSettings pool_settings;
  GtkWidget *spin;
  const char *link;
  gboolean ready = FALSE;

  if (!ui_test_have_x11 ())
    return;
  g_assert_nonnull (settings);
  g_settings_reset (settings, "pool-devices");
  g_settings_reset (settings, "pool-cpu-workers");
  g_settings_reset (settings, "pool-ulysses");
  g_settings_reset (settings, "pool-ring");
  window = ui_test_new_window ();
  real_click (ui_test_find_widget (GTK_WIDGET (window), has_name, "pool-button"));
  preferences = RL_PREFERENCES_WINDOW (wait_for_toplevel (RL_TYPE_PREFERENCES_WINDOW));
  gtk_window_set_default_size (GTK_WINDOW (preferences), 900, 1000);
  panel = rl_preferences_window_get_pool_panel (preferences);
  g_assert_true (adw_preferences_window_get_visible_page (ADW_PREFERENCES_WINDOW (preferences)) ==
                 ADW_PREFERENCES_PAGE (panel));

  /* The fixture's two H100s and their NVLink. */
  for (int i = 0; i < 250 && rl_pool_panel_get_topology (panel) == NULL; i++)
    ui_test_wait (20);
  g_assert_nonnull (rl_pool_panel_get_topology (panel));
  g_assert_nonnull (rl_pool_panel_get_widget (panel, "gpu-0"));
  g_assert_nonnull (rl_pool_panel_get_widget (panel, "gpu-1"));
  g_assert_nonnull (ui_test_find_label (GTK_WIDGET (panel), "GPU 1 · NVIDIA H100 80GB HBM3"));
  link = rl_pool_panel_get_link_text (panel, 0, 1);
  g_assert_nonnull (link);
  g_assert_true (g_str_has_prefix (link, "NVLink ×18\n"));
  g_assert_nonnull (strstr (link, "GB/s"));
  g_assert_nonnull (strstr (rl_pool_panel_get_link_text (panel, 1, 0), "390 GB/s"));
  ui_test_wait (200);
  ui_test_screenshot (GTK_WIDGET (preferences), "pool-topology");

  /* The GPU machine's capture (tests/pool/gpu-topology.sh's topology.json,
   * saved as tests/ui/data/topology-measured.json) rendered the same way. */
  {
    g_autofree char *measured = g_build_filename (g_getenv ("RAYLIGHT_SOURCE_DIR"), "tests", "ui", "data",
                                                  "topology-measured.json", NULL);
    g_autoptr(RlPoolTopology) real = NULL;
    g_autoptr(GError) error = NULL;

    if (g_file_test (measured, G_FILE_TEST_EXISTS))
      {
        g_autoptr(RlPoolTopology) fixture_topology = rl_pool_topology_ref (rl_pool_panel_get_topology (panel));

        real = rl_pool_topology_load_file (measured, &error);
        g_assert_no_error (error);
        g_assert_false (rl_pool_topology_is_synthetic (real));
        rl_pool_panel_set_topology (panel, real);
        g_assert_nonnull (rl_pool_panel_get_widget (panel, "gpu-0"));
        if (rl_pool_topology_get_n_devices (real) >= 2)
          g_assert_nonnull (strstr (rl_pool_panel_get_link_text (panel, 0, 1), "GB/s"));
        ui_test_wait (200);
        ui_test_screenshot (GTK_WIDGET (preferences), "pool-topology-measured");
        rl_pool_panel_set_topology (panel, fixture_topology);
      }
  }

  /* Two CPU workers with Ulysses 2, chosen with real clicks and keys. */
  choose_in_combo (rl_pool_panel_get_widget (panel, "devices"), "CPU");
  g_assert_cmpstr (g_settings_get_string (settings, "pool-devices"), ==, "cpu");
  g_assert_nonnull (strstr (adw_preferences_group_get_description (
                              ADW_PREFERENCES_GROUP (gtk_widget_get_ancestor (rl_pool_panel_get_widget (panel, "gpu-0"),
                                                                              ADW_TYPE_PREFERENCES_GROUP))),
                            "these GPUs are not used"));
  spin = rl_pool_panel_get_widget (panel, "cpu-workers");
  real_click (spin);
  real_keys (spin, "ctrl+a");
  ui_test_real_type ("2", INPUT_SETTLE_MS);
  real_keys (spin, "Tab");
  g_assert_cmpint (g_settings_get_int (settings, "pool-cpu-workers"), ==, 2);
  g_assert_cmpuint (rl_pool_panel_get_n_workers (panel), ==, 2);
  g_assert_true (gtk_widget_get_sensitive (rl_pool_panel_get_widget (panel, "cfg-parallel")));
  /* FSDP needs a parallel shape to shard over. */
  g_assert_false (gtk_widget_get_sensitive (rl_pool_panel_get_widget (panel, "fsdp")));
  choose_in_combo (rl_pool_panel_get_widget (panel, "sequence-parallel"), "Ulysses 2");
  g_assert_true (gtk_widget_get_sensitive (rl_pool_panel_get_widget (panel, "fsdp")));
  g_assert_false (gtk_widget_get_sensitive (rl_pool_panel_get_widget (panel, "cpu-offload")));
  g_assert_cmpint (g_settings_get_int (settings, "pool-ulysses"), ==, 2);
  g_assert_cmpint (g_settings_get_int (settings, "pool-ring"), ==, 1);
  g_assert_nonnull (strstr (gtk_label_get_text (GTK_LABEL (rl_pool_panel_get_widget (panel, "explanation"))),
                            "Ulysses: the 2 workers split the attention heads"));
  /* Three workers cannot do CFG-parallel, and Ulysses 2 no longer fits:
   * the choice falls back to a valid one. */
  real_click (spin);
  real_keys (spin, "ctrl+a");
  ui_test_real_type ("3", INPUT_SETTLE_MS);
  real_keys (spin, "Tab");
  g_assert_false (gtk_widget_get_sensitive (rl_pool_panel_get_widget (panel, "cfg-parallel")));
  g_assert_cmpint (g_settings_get_int (settings, "pool-ulysses") * g_settings_get_int (settings, "pool-ring"), !=, 2);
  real_click (spin);
  real_keys (spin, "ctrl+a");
  ui_test_real_type ("2", INPUT_SETTLE_MS);
  real_keys (spin, "Tab");
  choose_in_combo (rl_pool_panel_get_widget (panel, "sequence-parallel"), "Ulysses 2");
  g_assert_cmpint (g_settings_get_int (settings, "pool-ulysses"), ==, 2);
  gtk_widget_grab_focus (rl_pool_panel_get_widget (panel, "p2p-disable"));
  ui_test_wait (300);
  real_keys (rl_pool_panel_get_widget (panel, "p2p-disable"), "space");
  wait_for_switch (rl_pool_panel_get_widget (panel, "p2p-disable"), TRUE);
  g_assert_true (g_settings_get_boolean (settings, "nccl-p2p-disable"));

  /* What the pool service gets from these settings. */
  config = rl_pool_config_load (settings);
  env = rl_pool_config_worker_env (config);
  rl_pool_config_to_settings (config, 2, (const char * const *) env, &pool_settings);
  g_assert_cmpint (pool_settings.devices, ==, RL_POOL_DEVICES_CPU);
  g_assert_cmpuint (pool_settings.n_workers, ==, 2);
  g_assert_cmpuint (config->ulysses, ==, 2);
  g_assert_true (g_strv_contains ((const char * const *) env, "NCCL_P2P_DISABLE=1"));

  /* A real pool of two CPU workers: the app's, when the window linked
   * the panel to it (it follows these settings), else one made here. */
  ui_test_wait (500);
  service = rl_pool_panel_get_service (panel);
  if (service == NULL)
    {
      own_service = rl_pool_service_new (&pool_settings);
      service = own_service;
      rl_pool_panel_set_service (panel, service);
    }
  g_assert_cmpuint (rl_pool_service_get_n_workers (service), ==, 2);
  real_click (rl_pool_panel_get_widget (panel, "start"));
  for (int i = 0; i < 1500 && !ready; i++)
    {
      ui_test_wait (20);
      ready = g_strcmp0 (rl_pool_panel_get_status (panel), "The pool is running.") == 0;
    }
  if (!ready)
    g_error ("pool did not start: %s", rl_pool_panel_get_status (panel));
  ui_test_wait (1200);
  lines = rl_pool_panel_get_worker_lines (panel);
  g_assert_cmpuint (g_strv_length (lines), ==, 2);
  g_assert_true (g_str_has_prefix (lines[0], "Rank 0 · ready — pid "));
  g_assert_nonnull (strstr (lines[1], "host "));
  ui_test_screenshot (GTK_WIDGET (preferences), "pool-workers");
  /* kill -9 of rank 1 from outside: the panel shows the crash with the
   * rank, pid and signal (kept after the pool restarted the rank);
   * Restart brings two ready workers back with a clean slate. */
  {
    g_autoptr(GArray) workers = rl_pool_service_list_workers (service);
    int victim = g_array_index (workers, RlWorkerInfo, 1).pid;
    gboolean seen = FALSE;

    g_assert_cmpint (kill (victim, SIGKILL), ==, 0);
    for (int i = 0; i < 500 && !seen; i++)
      {
        g_auto(GStrv) now = NULL;

        ui_test_wait (20);
        now = rl_pool_panel_get_worker_lines (panel);
        seen = g_strv_length (now) == 2 && strstr (now[1], "restarted 1×") != NULL &&
               strstr (now[1], "Last error: rank 1") != NULL && strstr (now[1], "SIGKILL") != NULL;
      }
    g_assert_true (seen);
    ui_test_screenshot (GTK_WIDGET (preferences), "pool-crashed");
    real_click (rl_pool_panel_get_widget (panel, "restart"));
    ready = FALSE;
    for (int i = 0; i < 1500 && !ready; i++)
      {
        ui_test_wait (20);
        ready = g_strcmp0 (rl_pool_panel_get_status (panel), "The pool is running.") == 0;
      }
    g_assert_true (ready);
    ui_test_wait (1200);
    g_clear_pointer (&lines, g_strfreev);
    lines = rl_pool_panel_get_worker_lines (panel);
    g_assert_true (g_str_has_prefix (lines[0], "Rank 0 · ready"));
    g_assert_true (g_str_has_prefix (lines[1], "Rank 1 · ready"));
    g_assert_null (strstr (lines[1], "Last error:"));
  }
  real_click (rl_pool_panel_get_widget (panel, "free-memory"));
  for (int i = 0; i < 500 && g_strcmp0 (rl_pool_panel_get_status (panel),
                                        "The workers dropped their models and caches.") != 0; i++)
    ui_test_wait (20);
  g_assert_cmpstr (rl_pool_panel_get_status (panel), ==, "The workers dropped their models and caches.");
  real_click (rl_pool_panel_get_widget (panel, "stop"));
  for (int i = 0; i < 500 && g_strcmp0 (rl_pool_panel_get_status (panel), "The pool is stopped.") != 0; i++)
    ui_test_wait (20);
  g_assert_cmpstr (rl_pool_panel_get_status (panel), ==, "The pool is stopped.");
  g_clear_pointer (&lines, g_strfreev);
  lines = rl_pool_panel_get_worker_lines (panel);
  g_assert_true (g_str_has_prefix (lines[0], "No workers running"));
  gtk_window_destroy (GTK_WINDOW (preferences));
  gtk_window_destroy (GTK_WINDOW (window));
}

int
main (int argc, char **argv)
{
  g_autofree char *fixture = g_build_filename (g_getenv ("RAYLIGHT_SOURCE_DIR"), "tests", "ui", "data",
                                               "topology-h100x2-synthetic.json", NULL);
  int status;

  gtk_test_init (&argc, &argv, NULL);
  g_setenv ("RAYLIGHT_TOPOLOGY_FILE", fixture, TRUE);
  make_history ();
  ui_test_get_app ();
  g_test_add_func ("/ui/history/browse-search-open-restore-delete-undo", test_history_browser);
  g_test_add_func ("/ui/pool/topology-cpu-workers-ulysses", test_pool_panel);
  status = g_test_run ();
  {
    g_autofree char *command = g_strdup_printf ("rm -rf '%s'", data.dir);
    g_spawn_command_line_sync (command, NULL, NULL, NULL, NULL);
  }
  return status;
}
