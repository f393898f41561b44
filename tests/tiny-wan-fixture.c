#include "tests/tiny-wan-fixture.h"

#include <glib/gstdio.h>
#include <sys/wait.h>

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

void
tiny_wan_run_clear (TinyWanRun *run)
{
  g_clear_pointer (&run->out, g_free);
  g_clear_pointer (&run->err, g_free);
}

char **
tiny_wan_cpu_environ (const char *models,
                      const char *workers)
{
  g_autofree char *plugins = g_build_filename (g_getenv ("RAYLIGHT_BUILD_DIR"), "plugins", NULL);
  char **env = g_get_environ ();

  env = g_environ_setenv (env, "RAYLIGHT_MODEL_PATHS", models, TRUE);
  env = g_environ_setenv (env, "RAYLIGHT_WORKERS", workers, TRUE);
  env = g_environ_setenv (env, "RAYLIGHT_DEVICES", "cpu", TRUE);
  env = g_environ_setenv (env, "RAYLIGHT_PLUGIN_PATH", plugins, TRUE);
  return env;
}

TinyWanRun
tiny_wan_run_spawn (const char * const *argv,
                    char              **env)
{
  g_autoptr(GError) error = NULL;
  TinyWanRun run = { 0 };
  int wait_status = 0;

  g_spawn_sync (NULL, (char **) argv, env, G_SPAWN_DEFAULT, NULL, NULL, &run.out, &run.err,
                &wait_status, &error);
  g_assert_no_error (error);
  g_assert_true (WIFEXITED (wait_status));
  run.status = WEXITSTATUS (wait_status);
  return run;
}

gboolean
tiny_wan_setup_init (TinyWanSetup *setup,
                     const char   *template)
{
  const char *seed_env = g_getenv ("RL_TEST_SEED");
  guint32 seed = seed_env ? (guint32) g_ascii_strtoull (seed_env, NULL, 10) : g_random_int ();

  *setup = (TinyWanSetup) { 0 };
  setup->dir = g_dir_make_tmp (template, NULL);
  g_assert_nonnull (setup->dir);
  setup->models = g_build_filename (setup->dir, "models", NULL);
  setup->seed_set = g_strdup_printf ("3.seed=%u", seed);
  g_print ("# seed %u (RL_TEST_SEED to repeat)\n", seed);
  if (tiny_wan_make_models (setup->models, FALSE))
    return TRUE;
  tiny_wan_setup_clear (setup);
  return FALSE;
}

void
tiny_wan_setup_clear (TinyWanSetup *setup)
{
  if (setup->dir != NULL)
    tiny_wan_remove_tree (setup->dir);
  g_clear_pointer (&setup->dir, g_free);
  g_clear_pointer (&setup->models, g_free);
  g_clear_pointer (&setup->seed_set, g_free);
  g_clear_pointer (&setup->reference, g_free);
}
