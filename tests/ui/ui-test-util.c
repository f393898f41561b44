/* UI test helpers. */
#include "tests/ui/ui-test-util.h"
#include "ui/rl-application.h"
#include "ui/rl-window.h"

static RlApplication *test_app;

RlApplication *
ui_test_get_app (void)
{
  g_autoptr(GError) error = NULL;

  if (test_app != NULL)
    return test_app;
  test_app = rl_application_new ();
  if (!g_application_register (G_APPLICATION (test_app), NULL, &error))
    g_error ("Could not register the application: %s", error->message);
  /* Windows keep the application alive; hold it so closing them in a
   * test does not end anything. */
  g_application_hold (G_APPLICATION (test_app));
  return test_app;
}

void
ui_test_wait (guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;

  while (g_get_monotonic_time () < end)
    {
      while (g_main_context_pending (NULL))
        g_main_context_iteration (NULL, FALSE);
      g_usleep (2000);
    }
}

gboolean
ui_test_wait_for (gboolean *flag,
                  guint     timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (!*flag && g_get_monotonic_time () < end)
    {
      while (g_main_context_pending (NULL))
        g_main_context_iteration (NULL, FALSE);
      if (!*flag)
        g_usleep (2000);
    }
  return *flag;
}

RlWindow *
ui_test_new_window (void)
{
  RlWindow *window = rl_window_new (ui_test_get_app ());

  gtk_window_set_default_size (GTK_WINDOW (window), 1280, 800);
  gtk_window_present (GTK_WINDOW (window));
  gtk_test_widget_wait_for_draw (GTK_WIDGET (window));
  ui_test_wait (100);
  return window;
}

char *
ui_test_screenshot (GtkWidget  *widget,
                    const char *name)
{
  g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (widget);
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  g_autofree char *file_name = g_strdup_printf ("ui-%s.png", name);
  const char *build_dir = g_getenv ("RAYLIGHT_BUILD_DIR");
  const char *extra_dir = g_getenv ("RAYLIGHT_SCREENSHOT_DIR");
  g_autofree char *log_dir = g_build_filename (build_dir != NULL ? build_dir : ".", "meson-logs", NULL);
  char *path = g_build_filename (log_dir, file_name, NULL);
  GskRenderer *renderer = gtk_native_get_renderer (gtk_widget_get_native (widget));
  int width = gtk_widget_get_width (widget), height = gtk_widget_get_height (widget);

  g_assert_true (gtk_widget_get_mapped (widget));
  for (int attempt = 0; attempt < 20 && node == NULL; attempt++)
    {
      g_autoptr(GtkSnapshot) retry = gtk_snapshot_new ();

      gtk_test_widget_wait_for_draw (widget);
      gdk_paintable_snapshot (paintable, GDK_SNAPSHOT (retry), width, height);
      node = gtk_snapshot_to_node (retry);
      if (node == NULL)
        g_printerr ("# screenshot attempt %d empty\n", attempt);
    }
  g_assert_nonnull (node);
  texture = gsk_renderer_render_texture (renderer, node, &GRAPHENE_RECT_INIT (0, 0, width, height));
  g_mkdir_with_parents (log_dir, 0755);
  g_assert_true (gdk_texture_save_to_png (texture, path));
  if (extra_dir != NULL && *extra_dir != '\0')
    {
      g_autofree char *extra = g_build_filename (extra_dir, file_name, NULL);

      g_mkdir_with_parents (extra_dir, 0755);
      gdk_texture_save_to_png (texture, extra);
    }
  g_test_message ("screenshot: %s", path);
  return path;
}

guint32
ui_test_seed (void)
{
  static guint32 seed;
  const char *env = g_getenv ("RAYLIGHT_TEST_SEED");

  if (seed != 0)
    return seed;
  seed = env != NULL ? (guint32) g_ascii_strtoull (env, NULL, 10) : (guint32) g_get_real_time ();
  if (seed == 0)
    seed = 1;
  g_printerr ("# seed %u (RAYLIGHT_TEST_SEED=%u reproduces)\n", seed, seed);
  return seed;
}
