/* raylight nodes [--json] [--category PREFIX]
 * Lists the node types; --json prints ComfyUI's /object_info shape. */
#include <stdio.h>

#include "app/cli-commands.h"
#include "app/cli-context.h"
#include "app/exit-codes.h"

static const char *
location_name (const RlNodeType *type)
{
  return type->location == RL_RUN_ON_POOL ? "pool" : "app";
}

int
rl_cli_nodes (int    argc,
              char **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("- list the node types");
  g_autoptr(GError) error = NULL;
  g_autofree char *category = NULL;
  RlCliCommonOptions common = { 0 };
  RlCliContext ctx = { 0 };
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json,
      "Print the registry as ComfyUI's /object_info JSON", NULL },
    { "category", 'c', 0, G_OPTION_ARG_STRING, &category,
      "Only types whose category starts with PREFIX", "PREFIX" },
    { NULL }
  };

  g_option_context_add_main_entries (context, entries, NULL);
  rl_cli_add_common_options (g_option_context_get_main_group (context), &common);
  if (!rl_cli_parse_options (context, &argc, &argv))
    return RL_EXIT_USAGE;
  if (!rl_cli_context_init (&ctx, &common, &error))
    {
      fprintf (stderr, "raylight: %s\n", error->message);
      rl_cli_common_options_clear (&common);
      return rl_cli_exit_code_for_error (error);
    }

  if (json)
    {
      g_autoptr(JsonNode) info = rl_registry_to_object_info_json (ctx.registry);
      JsonObject *all = json_node_get_object (info);
      g_autofree char *text = NULL;

      if (category != NULL)
        {
          g_autoptr(GList) names = json_object_get_members (all);
          for (GList *l = names; l != NULL; l = l->next)
            {
              JsonObject *one = json_object_get_object_member (all, l->data);
              if (!g_str_has_prefix (json_object_get_string_member (one, "category"), category))
                json_object_remove_member (all, l->data);
            }
        }
      text = json_to_string (info, TRUE);
      printf ("%s\n", text);
    }
  else
    {
      g_autoptr(GPtrArray) types = rl_registry_list_types (ctx.registry);

      for (guint i = 0; i < types->len; i++)
        {
          const RlNodeType *type = g_ptr_array_index (types, i);
          if (category != NULL && !g_str_has_prefix (type->category, category))
            continue;
          printf ("%-28s %-24s %-4s %s\n", type->name, type->category,
                  location_name (type), type->display_name ? type->display_name : type->name);
        }
    }

  rl_cli_context_clear (&ctx);
  rl_cli_common_options_clear (&common);
  return RL_EXIT_OK;
}
