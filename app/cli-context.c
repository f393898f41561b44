#include "app/cli-context.h"

#include "engine/engine-error.h"
#include "engine/graph/model-paths.h"
#include "engine/nodes/builtin-nodes.h"

void
rl_cli_add_common_options (GOptionGroup       *group,
                           RlCliCommonOptions *options)
{
  const GOptionEntry entries[] = {
    { "models", 'm', 0, G_OPTION_ARG_FILENAME_ARRAY, &options->model_roots,
      "Also search DIR for models (a models folder or a ComfyUI installation); repeatable", "DIR" },
    { "history", 0, 0, G_OPTION_ARG_FILENAME, &options->history_path,
      "History database (default: $RAYLIGHT_HISTORY or ~/.local/share/raylight/history.sqlite3)", "FILE" },
    { NULL }
  };
  g_option_group_add_entries (group, entries);
}

void
rl_cli_common_options_clear (RlCliCommonOptions *options)
{
  g_clear_pointer (&options->model_roots, g_strfreev);
  g_clear_pointer (&options->history_path, g_free);
}

static gboolean
add_model_root (RlModelPaths  *paths,
                const char    *root,
                GError       **error)
{
  g_autofree char *comfy_main = g_build_filename (root, "main.py", NULL);
  g_autofree char *comfy_models = g_build_filename (root, "models", NULL);

  if (!g_file_test (root, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_IO,
                   "--models %s: not a folder. Give a models folder (holding "
                   "diffusion_models/, vae/, text_encoders/) or a ComfyUI installation.",
                   root);
      return FALSE;
    }
  /* A ComfyUI installation brings its extra_model_paths.yaml along. */
  if (g_file_test (comfy_main, G_FILE_TEST_EXISTS) &&
      g_file_test (comfy_models, G_FILE_TEST_IS_DIR))
    return rl_model_paths_add_comfyui_install (paths, root, error);

  rl_model_paths_add_root (paths, root);
  return TRUE;
}

gboolean
rl_cli_context_init (RlCliContext              *ctx,
                     const RlCliCommonOptions  *options,
                     GError                   **error)
{
  g_autoptr(RlModelPaths) paths = rl_model_paths_new_default ();

  ctx->registry = rl_registry_new ();
  ctx->history = NULL;
  for (guint i = 0; options->model_roots && options->model_roots[i]; i++)
    if (!add_model_root (paths, options->model_roots[i], error))
      return FALSE;
  rl_registry_set_model_paths (ctx->registry, paths);
  return rl_builtin_nodes_register (ctx->registry, error);
}

gboolean
rl_cli_context_open_history (RlCliContext              *ctx,
                             const RlCliCommonOptions  *options,
                             GError                   **error)
{
  const char *path = options->history_path;

  if (path == NULL)
    path = g_getenv ("RAYLIGHT_HISTORY");
  ctx->history = rl_history_open (path, error);
  return ctx->history != NULL;
}

void
rl_cli_context_clear (RlCliContext *ctx)
{
  g_clear_pointer (&ctx->history, rl_history_close);
  g_clear_pointer (&ctx->registry, rl_registry_unref);
}
