/* The desktop app's entry point, called by `raylight` without a
 * subcommand when the UI is built. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Runs the GTK application with @argc/@argv (file arguments open as tabs);
 * returns its exit status. */
int     rl_gui_main     (int      argc,
                         char   **argv);

G_END_DECLS
