/* raylight validate WORKFLOW [--set NODE.INPUT=VALUE]... [--json]
 * Checks a workflow as `run` would, without running it. */
#include <stdio.h>

#include "app/cli-commands.h"
#include "app/cli-context.h"
#include "app/exit-codes.h"
#include "app/job-source.h"
#include "engine/graph/validate.h"

int
rl_cli_validate (int    argc,
                 char **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("WORKFLOW - check a workflow without running it");
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) issues = NULL;
  g_auto(GStrv) assignments = NULL;
  RlCliCommonOptions common = { 0 };
  RlCliContext ctx = { 0 };
  RlJobSource source = { 0 };
  gboolean json = FALSE;
  int code = RL_EXIT_OK;
  const GOptionEntry entries[] = {
    { "set", 's', 0, G_OPTION_ARG_STRING_ARRAY, &assignments,
      "Set a widget first, as run does; repeatable", "NODE.INPUT=VALUE" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print the issues as JSON", NULL },
    { NULL }
  };

  g_option_context_add_main_entries (context, entries, NULL);
  rl_cli_add_common_options (g_option_context_get_main_group (context), &common);
  if (!rl_cli_parse_options (context, &argc, &argv))
    return RL_EXIT_USAGE;
  if (argc != 2)
    {
      fprintf (stderr, "raylight validate: give exactly one workflow file\n");
      return RL_EXIT_USAGE;
    }

  if (!rl_cli_context_init (&ctx, &common, &error) ||
      !rl_job_source_load (&source, argv[1], ctx.registry, &error) ||
      !rl_job_source_apply_overrides (&source, ctx.registry, assignments, &error))
    {
      fprintf (stderr, "raylight: %s\n", error->message);
      code = rl_cli_exit_code_for_error (error);
      goto out;
    }

  issues = rl_graph_validate (source.graph, ctx.registry);
  if (json)
    {
      g_autoptr(JsonNode) node = rl_validation_issues_to_json (issues);
      g_autofree char *text = json_to_string (node, TRUE);
      printf ("%s\n", text);
    }
  else if (issues->len > 0)
    {
      g_autofree char *text = rl_validation_issues_to_string (issues);
      fprintf (stderr, "%s\n", text);
    }
  else
    {
      g_autoptr(GPtrArray) outputs = rl_graph_list_output_nodes (source.graph, ctx.registry);
      printf ("%s: valid %s, %u nodes, %u output node(s)\n", argv[1], source.source_kind,
              rl_graph_get_n_nodes (source.graph), outputs->len);
    }
  code = issues->len > 0 ? RL_EXIT_INVALID : RL_EXIT_OK;

out:
  rl_job_source_clear (&source);
  rl_cli_context_clear (&ctx);
  rl_cli_common_options_clear (&common);
  return code;
}
