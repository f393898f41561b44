/* Show in Files: FileManager1 first, the folder as a fallback. */
#include "ui/viewer/rl-show-in-files.h"

typedef struct {
  GtkWindow *parent;   /* weak */
  GFile     *file;
} ShowData;

static void
show_data_free (gpointer data)
{
  ShowData *show = data;

  g_clear_weak_pointer (&show->parent);
  g_object_unref (show->file);
  g_free (show);
}

static void
on_show_items (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  g_autoptr(GTask) task = data;
  ShowData *show = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);

  if (reply != NULL)
    {
      g_task_return_int (task, RL_SHOWN_BY_FILE_MANAGER);
      return;
    }
  g_debug ("No file manager showed the file (%s); opening its folder", error->message);
  {
    g_autoptr(GFile) folder = g_file_get_parent (show->file);
    g_autofree char *uri = g_file_get_uri (folder != NULL ? folder : show->file);

    gtk_show_uri (show->parent, uri, GDK_CURRENT_TIME);
  }
  g_task_return_int (task, RL_SHOWN_AS_FOLDER);
}

void
rl_show_in_files (GtkWindow           *parent,
                  GFile               *file,
                  GAsyncReadyCallback  callback,
                  gpointer             user_data)
{
  GTask *task = g_task_new (NULL, NULL, callback, user_data);
  ShowData *show = g_new0 (ShowData, 1);
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  g_autofree char *uri = g_file_get_uri (file);
  const char *uris[] = { uri, NULL };

  g_set_weak_pointer (&show->parent, parent);
  show->file = g_object_ref (file);
  g_task_set_task_data (task, show, show_data_free);
  if (bus == NULL)
    {
      g_autoptr(GFile) folder = g_file_get_parent (file);
      g_autofree char *folder_uri = g_file_get_uri (folder != NULL ? folder : file);

      gtk_show_uri (parent, folder_uri, GDK_CURRENT_TIME);
      g_task_return_int (task, RL_SHOWN_AS_FOLDER);
      g_object_unref (task);
      return;
    }
  /* Auto-start lets the bus launch the file manager if it is not running. */
  g_dbus_connection_call (bus, "org.freedesktop.FileManager1", "/org/freedesktop/FileManager1",
                          "org.freedesktop.FileManager1", "ShowItems",
                          g_variant_new ("(^ass)", uris, ""), NULL, G_DBUS_CALL_FLAGS_NONE, 5000, NULL,
                          on_show_items, task);
}

RlShownBy
rl_show_in_files_finish (GAsyncResult *result)
{
  return (RlShownBy) g_task_propagate_int (G_TASK (result), NULL);
}
