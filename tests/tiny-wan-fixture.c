#include "tests/tiny-wan-fixture.h"

#include <glib/gstdio.h>

char *
tiny_wan_source_path (const char *relative)
{
  return g_build_filename (g_getenv ("RAYLIGHT_SOURCE_DIR"), relative, NULL);
}

gboolean
tiny_wan_make_models (const char *models,
                      gboolean    failure_cases)
{
  g_autofree char *venv = tiny_wan_source_path (".venv/bin/python");
  g_autofree char *tool = tiny_wan_source_path ("tools/make-tiny-wan.py");
  const char *python = g_file_test (venv, G_FILE_TEST_IS_EXECUTABLE) ? venv : "python3";
  const char *argv[5];
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;
  int wait_status = 0;
  int n = 0;

  argv[n++] = python;
  argv[n++] = tool;
  if (failure_cases)
    argv[n++] = "--failure-cases";
  argv[n++] = models;
  argv[n] = NULL;
  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                     NULL, NULL, NULL, &err, &wait_status, &error)
      || !g_spawn_check_wait_status (wait_status, NULL))
    {
      g_printerr ("# cannot generate the tiny models with %s: %s%s\n", python,
                  error ? error->message : "", err ? err : "");
      return FALSE;
    }
  return TRUE;
}

void
tiny_wan_remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir != NULL)
    while ((name = g_dir_read_name (dir)) != NULL)
      {
        g_autofree char *child = g_build_filename (path, name, NULL);
        tiny_wan_remove_tree (child);
      }
  g_remove (path);
}
