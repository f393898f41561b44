/* Real X input for UI tests: xdotool drives the X server's XTEST
 * extension, so GTK gets the same events a user's mouse and keyboard make.
 * Needs GDK's X11 backend (GDK_BACKEND=x11 under Xvfb). */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* TRUE when the display is X11 and xdotool is installed; otherwise marks
 * the running test skipped (say why) and returns FALSE. */
gboolean  ui_test_have_x11         (void);
/* Runs "xdotool @arguments" (failing the test when it fails), then lets
 * GTK handle the events it caused: two rounds of a server round trip and
 * @settle_ms of main loop. */
void      ui_test_xdotool          (const char *arguments,
                                    guint       settle_ms);
/* The X window id of @widget's native (its toplevel or popover). */
gulong    ui_test_xid_of           (GtkWidget  *widget);
/* Widget point (@x, @y) of @widget in the coordinates of its native's X
 * window (*@wx, *@wy), and that window's id (*@xid). */
void      ui_test_point_in_window  (GtkWidget  *widget,
                                    double      x,
                                    double      y,
                                    int        *wx,
                                    int        *wy,
                                    gulong     *xid);
/* How a real click or key press gets @widget's X window ready first.
 * Without a window manager the newest window is not always on top, so a
 * test with several toplevels raises the one it clicks. */
typedef enum {
  UI_TEST_FOCUS,
  UI_TEST_RAISE_AND_FOCUS,
} UiTestFocus;

/* Focuses @widget's X window (as @focus says), moves the pointer to widget
 * point (@x, @y) and clicks button 1. */
void      ui_test_real_click_at    (GtkWidget  *widget,
                                    double      x,
                                    double      y,
                                    UiTestFocus focus,
                                    guint       settle_ms);
/* Presses button 1 at widget point (@fx, @fy) of @from, moves the pointer
 * in steps (pausing between them, as a hand does, so a drag-and-drop
 * source sees the motion pass its threshold) to point (@tx, @ty) of @to,
 * and releases it there. Both widgets must share one X window. */
void      ui_test_real_drag        (GtkWidget  *from,
                                    double      fx,
                                    double      fy,
                                    GtkWidget  *to,
                                    double      tx,
                                    double      ty,
                                    guint       settle_ms);
/* Focuses @widget's X window (as @focus says) and presses @keys, xdotool
 * key names such as "ctrl+z" (several separated by spaces). */
void      ui_test_real_keys        (GtkWidget  *widget,
                                    const char *keys,
                                    UiTestFocus focus,
                                    guint       settle_ms);
/* Types @text into whatever has the keyboard focus, as key events. */
void      ui_test_real_type        (const char *text,
                                    guint       settle_ms);

G_END_DECLS
