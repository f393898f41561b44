/* Helpers for UI tests: an application registered once per test program,
 * main-loop waits, and screenshots written next to the test log. */
#pragma once

#include "ui/ui-types.h"

G_BEGIN_DECLS

/* The test program's RlApplication, registered (startup has run). */
RlApplication *ui_test_get_app           (void);
/* A new main window, presented and drawn. */
RlWindow      *ui_test_new_window        (void);
/* Runs the main loop for @ms milliseconds. */
void           ui_test_wait              (guint        ms);
/* Runs the main loop until *@flag is TRUE or @timeout_ms passes. */
gboolean       ui_test_wait_for          (gboolean    *flag,
                                          guint        timeout_ms);
/* Renders @widget to PNG "ui-<name>.png" in the build's meson-logs folder
 * (and in $RAYLIGHT_SCREENSHOT_DIR when set); returns the path written. */
char          *ui_test_screenshot        (GtkWidget   *widget,
                                          const char  *name);
/* The RNG seed of this run: from $RAYLIGHT_TEST_SEED or the clock; printed. */
guint32        ui_test_seed              (void);

G_END_DECLS
