/* "Show in Files": asks the file manager to open the folder of a file with
 * the file selected (org.freedesktop.FileManager1.ShowItems on the session
 * bus, which Nautilus, Dolphin, Nemo and others implement), and opens the
 * folder itself when no file manager answers. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

typedef enum {
  RL_SHOWN_BY_FILE_MANAGER,   /* ShowItems was accepted */
  RL_SHOWN_AS_FOLDER,         /* the folder was handed to gtk_show_uri */
} RlShownBy;

void       rl_show_in_files        (GtkWindow           *parent,
                                    GFile               *file,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data);
RlShownBy  rl_show_in_files_finish (GAsyncResult        *result);

G_END_DECLS
