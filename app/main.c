/* raylight: the command-line entry point. Subcommands run workflows,
 * check them, list node types and read the job history; the desktop app
 * starts when there is no subcommand and the UI is built. */
#include <libavutil/log.h>
#include <locale.h>
#include <stdio.h>

#include "raylight-config.h"
#include "app/cli-commands.h"
#include "app/exit-codes.h"
#include "engine/engine-error.h"
#if RAYLIGHT_HAVE_UI
#include "ui/gui-main.h"
#endif

typedef struct {
  const char *name;
  int       (*run) (int argc, char **argv);
  const char *summary;
} Subcommand;

static const Subcommand subcommands[] = {
  { "run",      rl_cli_run,      "Run a workflow and write its outputs" },
  { "validate", rl_cli_validate, "Check a workflow without running it" },
  { "nodes",    rl_cli_nodes,    "List the node types (--json: ComfyUI /object_info)" },
  { "history",  rl_cli_history,  "List, show or delete past jobs" },
};

int
rl_cli_exit_code_for_error (const GError *error)
{
  if (error == NULL || error->domain != RL_ENGINE_ERROR)
    return RL_EXIT_FAILED;
  switch ((RlEngineError) error->code)
    {
    case RL_ENGINE_ERROR_INVALID_WORKFLOW:
    case RL_ENGINE_ERROR_UNKNOWN_NODE_TYPE:
    case RL_ENGINE_ERROR_VALIDATION:
    case RL_ENGINE_ERROR_MODEL_NOT_FOUND:
      return RL_EXIT_INVALID;
    case RL_ENGINE_ERROR_HISTORY:
      return RL_EXIT_ENVIRONMENT;
    case RL_ENGINE_ERROR_INTERRUPTED:
      return RL_EXIT_INTERRUPTED;
    case RL_ENGINE_ERROR_IO:
    case RL_ENGINE_ERROR_EXECUTION:
    case RL_ENGINE_ERROR_MEDIA:
    case RL_ENGINE_ERROR_POOL:
      return RL_EXIT_FAILED;
    }
  return RL_EXIT_FAILED;
}

gboolean
rl_cli_parse_options (GOptionContext   *context,
                      int              *argc,
                      char           ***argv)
{
  g_autoptr(GError) error = NULL;

  if (g_option_context_parse (context, argc, argv, &error))
    return TRUE;
  fprintf (stderr, "raylight: %s (see --help)\n", error->message);
  return FALSE;
}

static void
print_usage (FILE *out)
{
  fprintf (out, "Usage: raylight COMMAND [OPTIONS]\n\nCommands:\n");
  for (guint i = 0; i < G_N_ELEMENTS (subcommands); i++)
    fprintf (out, "  %-10s %s\n", subcommands[i].name, subcommands[i].summary);
  fprintf (out, "\n'raylight COMMAND --help' shows a command's options.\n"
                "Environment: RAYLIGHT_MODEL_PATHS (model folders, ':'-separated),\n"
                "RAYLIGHT_HISTORY (history database).\n");
}

int
main (int    argc,
      char **argv)
{
  setlocale (LC_ALL, "");
  g_set_prgname ("raylight");
  /* Encoder chatter (x264's statistics) is noise in a CLI; errors stay. */
  av_log_set_level (AV_LOG_ERROR);

#if RAYLIGHT_HAVE_UI
  /* No subcommand (or only files to open): the desktop app. */
  if (argc < 2 || (argv[1][0] != '-' && g_file_test (argv[1], G_FILE_TEST_EXISTS)))
    return rl_gui_main (argc, argv);
#endif
  if (argc < 2)
    {
      print_usage (stderr);
      return RL_EXIT_USAGE;
    }
  if (g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h") ||
      g_str_equal (argv[1], "help"))
    {
      print_usage (stdout);
      return RL_EXIT_OK;
    }
  if (g_str_equal (argv[1], "--version"))
    {
      printf ("raylight %s\n", RAYLIGHT_VERSION);
      return RL_EXIT_OK;
    }
  for (guint i = 0; i < G_N_ELEMENTS (subcommands); i++)
    if (g_str_equal (argv[1], subcommands[i].name))
      return subcommands[i].run (argc - 1, argv + 1);

  fprintf (stderr, "raylight: unknown command '%s'\n\n", argv[1]);
  print_usage (stderr);
  return RL_EXIT_USAGE;
}
