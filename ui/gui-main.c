/* rl_gui_main: starts RlApplication. */
#include <glib.h>

#include "ui/gui-main.h"
#include "ui/rl-application.h"

int
rl_gui_main (int    argc,
             char **argv)
{
  g_autoptr(RlApplication) app = rl_application_new ();

  return g_application_run (G_APPLICATION (app), argc, argv);
}
