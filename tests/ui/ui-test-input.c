/* Real X input for UI tests, through xdotool. */
#include <gdk/x11/gdkx.h>

#include "tests/ui/ui-test-input.h"
#include "tests/ui/ui-test-util.h"

gboolean
ui_test_have_x11 (void)
{
  GdkDisplay *display = gdk_display_get_default ();
  g_autofree char *xdotool = NULL;

  if (display == NULL || !GDK_IS_X11_DISPLAY (display))
    {
      g_test_skip ("needs an X11 display (run under Xvfb with GDK_BACKEND=x11)");
      return FALSE;
    }
  xdotool = g_find_program_in_path ("xdotool");
  if (xdotool == NULL)
    {
      g_test_skip ("needs xdotool");
      return FALSE;
    }
  return TRUE;
}

void
ui_test_xdotool (const char *arguments,
                 guint       settle_ms)
{
  g_autofree char *command = g_strdup_printf ("xdotool %s", arguments);
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;
  int status = 0;

  g_assert_true (g_spawn_command_line_sync (command, NULL, &err, &status, &error));
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("%s failed: %s", command, err);
  /* xdotool waits for the server (XSync) before it exits, so after our
   * own round trip every event it caused is queued for us; handle them,
   * and what handling them queued in turn. */
  gdk_display_sync (gdk_display_get_default ());
  ui_test_wait (settle_ms);
  gdk_display_sync (gdk_display_get_default ());
  ui_test_wait (settle_ms);
}

gulong
ui_test_xid_of (GtkWidget *widget)
{
  return gdk_x11_surface_get_xid (gtk_native_get_surface (gtk_widget_get_native (widget)));
}

void
ui_test_point_in_window (GtkWidget *widget,
                         double     x,
                         double     y,
                         int       *wx,
                         int       *wy,
                         gulong    *xid)
{
  GtkNative *native = gtk_widget_get_native (widget);
  graphene_point_t point;
  double sx = 0, sy = 0;

  g_assert_true (gtk_widget_compute_point (widget, GTK_WIDGET (native), &GRAPHENE_POINT_INIT (x, y), &point));
  gtk_native_get_surface_transform (native, &sx, &sy);
  *wx = (int) (point.x + sx);
  *wy = (int) (point.y + sy);
  *xid = gdk_x11_surface_get_xid (gtk_native_get_surface (native));
}

/* The xdotool commands that get window @xid ready, as @focus says, each
 * followed by a space. */
static char *
focus_commands (gulong      xid,
                UiTestFocus focus)
{
  if (focus == UI_TEST_RAISE_AND_FOCUS)
    return g_strdup_printf ("windowraise %lu windowfocus --sync %lu ", xid, xid);
  return g_strdup_printf ("windowfocus --sync %lu ", xid);
}

void
ui_test_real_click_at (GtkWidget   *widget,
                       double       x,
                       double       y,
                       UiTestFocus  focus,
                       guint        settle_ms)
{
  int wx, wy;
  gulong xid;
  g_autofree char *ready = NULL;
  g_autofree char *args = NULL;

  ui_test_point_in_window (widget, x, y, &wx, &wy, &xid);
  ready = focus_commands (xid, focus);
  args = g_strdup_printf ("%smousemove --window %lu %d %d click 1", ready, xid, wx, wy);
  ui_test_xdotool (args, settle_ms);
}

void
ui_test_real_drag (GtkWidget *from,
                   double     fx,
                   double     fy,
                   GtkWidget *to,
                   double     tx,
                   double     ty,
                   guint      settle_ms)
{
  int x1, y1, x2, y2;
  gulong from_xid, to_xid;
  g_autofree char *args = NULL;

  ui_test_point_in_window (from, fx, fy, &x1, &y1, &from_xid);
  ui_test_point_in_window (to, tx, ty, &x2, &y2, &to_xid);
  g_assert_cmpuint (from_xid, ==, to_xid);
  /* The last small step lands on the target again: a drop target learns
   * where the pointer is from motion, not from the release. */
  args = g_strdup_printf ("mousemove --window %lu %d %d mousedown 1 sleep 0.05 "
                          "mousemove --window %lu %d %d sleep 0.05 mousemove --window %lu %d %d sleep 0.05 "
                          "mousemove --window %lu %d %d sleep 0.05 mousemove --window %lu %d %d sleep 0.05 "
                          "mouseup 1",
                          from_xid, x1, y1, from_xid, x1 + (x2 - x1) / 4, y1 + (y2 - y1) / 4,
                          from_xid, (x1 + x2) / 2, (y1 + y2) / 2, from_xid, x2 + 1, y2, from_xid, x2, y2);
  ui_test_xdotool (args, settle_ms);
}

void
ui_test_real_keys (GtkWidget   *widget,
                   const char  *keys,
                   UiTestFocus  focus,
                   guint        settle_ms)
{
  g_autofree char *ready = focus_commands (ui_test_xid_of (widget), focus);
  g_autofree char *args = g_strdup_printf ("%skey --clearmodifiers %s", ready, keys);

  ui_test_xdotool (args, settle_ms);
}

void
ui_test_real_type (const char *text,
                   guint       settle_ms)
{
  g_autofree char *quoted = g_shell_quote (text);
  g_autofree char *args = g_strdup_printf ("type --clearmodifiers --delay 8 %s", quoted);

  ui_test_xdotool (args, settle_ms);
}
