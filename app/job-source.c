#include "app/job-source.h"

#include <json-glib/json-glib.h>

#include "engine/engine-error.h"
#include "engine/media/metadata-reader.h"

static gboolean
load_json_text (RlJobSource       *source,
                const char        *text,
                gssize             length,
                const char        *source_name,
                const char        *kind_suffix,
                const RlRegistry  *registry,
                GError           **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) parse_error = NULL;
  JsonNode *root;

  if (!json_parser_load_from_data (parser, text, length, &parse_error))
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INVALID_WORKFLOW,
                   "%s is not valid JSON (%s). Is the file truncated or not a workflow?",
                   source_name, parse_error->message);
      return FALSE;
    }
  root = json_parser_get_root (parser);
  if (root == NULL)
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INVALID_WORKFLOW,
                   "%s is empty: expected a ComfyUI workflow or API prompt", source_name);
      return FALSE;
    }

  if (rl_workflow_json_is_workflow (root))
    {
      source->workflow = rl_workflow_new_from_json (root, source_name, error);
      if (source->workflow == NULL)
        return FALSE;
      source->graph = rl_workflow_to_graph (source->workflow, registry, error);
      source->source_kind = g_strconcat ("workflow", kind_suffix, NULL);
    }
  else
    {
      source->graph = rl_graph_new_from_prompt_json (root, source_name, error);
      source->source_kind = g_strconcat ("API prompt", kind_suffix, NULL);
    }
  return source->graph != NULL;
}

static gboolean
looks_like_json (const char *data,
                 gsize       length)
{
  for (gsize i = 0; i < length; i++)
    {
      if (g_ascii_isspace (data[i]))
        continue;
      return data[i] == '{' || data[i] == '[';
    }
  return TRUE; /* empty: let the JSON loader say so */
}

gboolean
rl_job_source_load (RlJobSource       *source,
                    const char        *path,
                    const RlRegistry  *registry,
                    GError           **error)
{
  g_autofree char *data = NULL;
  gsize length = 0;
  g_autoptr(GError) read_error = NULL;

  g_return_val_if_fail (source != NULL && path != NULL, FALSE);
  memset (source, 0, sizeof *source);

  if (!g_file_get_contents (path, &data, &length, &read_error))
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_IO,
                   "Cannot read %s: %s", path, read_error->message);
      return FALSE;
    }

  if (looks_like_json (data, length))
    return load_json_text (source, data, length, path, "", registry, error);

  {
    g_autoptr(RlMediaMetadata) meta = rl_media_metadata_read (path, error);
    g_autofree char *what = NULL;

    if (meta == NULL)
      return FALSE;
    /* The UI workflow keeps titles, groups and layout: prefer it. */
    if (meta->workflow_json != NULL)
      {
        what = g_strdup_printf ("%s (workflow embedded)", path);
        return load_json_text (source, meta->workflow_json, -1, what,
                               " embedded in a media file", registry, error);
      }
    what = g_strdup_printf ("%s (prompt embedded)", path);
    return load_json_text (source, meta->prompt_json, -1, what,
                           " embedded in a media file", registry, error);
  }
}

/* Finds the workflow node that graph node @node_id came from: ids are
 * shared, since rl_workflow_to_graph keeps the workflow's node ids. */
static void
apply_to_workflow (RlJobSource       *source,
                   const RlRegistry  *registry,
                   const char        *node_id)
{
  RlGraphNode *gnode = rl_graph_lookup (source->graph, node_id);
  const RlNodeType *type;
  gint64 wid;
  char *end = NULL;

  if (source->workflow == NULL || gnode == NULL)
    return;
  wid = g_ascii_strtoll (node_id, &end, 10);
  if (end == NULL || *end != '\0')
    return;
  type = rl_registry_lookup (registry, rl_graph_node_get_class_type (gnode));
  if (type == NULL)
    return;

  /* The slots are found by the rule the graph was read with, so a file
   * without a seed's control value gets each value in its own slot. */
  for (guint i = 0; i < type->n_inputs; i++)
    {
      const RlInputSpec *spec = &type->inputs[i];
      JsonNode *value = rl_graph_node_get_literal (gnode, spec->name);
      guint widget_index;

      if (value != NULL
          && rl_workflow_node_find_widget_index (source->workflow, wid, type, spec->name, &widget_index))
        rl_workflow_node_set_widget_value (source->workflow, wid, widget_index, value);
    }
}

gboolean
rl_job_source_apply_overrides (RlJobSource       *source,
                               const RlRegistry  *registry,
                               char * const      *assignments,
                               GError           **error)
{
  for (guint i = 0; assignments != NULL && assignments[i] != NULL; i++)
    {
      g_autofree char *target = NULL;
      const char *equals;
      char *dot;
      const char *node_ref;

      if (!rl_graph_apply_override (source->graph, registry, assignments[i], error))
        return FALSE;
      /* VALUE may hold dots ("3.cfg=7.5"): split at '=' first. */
      equals = strchr (assignments[i], '=');
      if (equals == NULL)
        continue;
      target = g_strndup (assignments[i], equals - assignments[i]);
      dot = strrchr (target, '.');
      if (dot == NULL)
        continue;
      *dot = '\0';
      node_ref = target;
      /* A title resolves to the one node that carries it. */
      for (guint n = 0; n < rl_graph_get_n_nodes (source->graph); n++)
        {
          RlGraphNode *node = rl_graph_get_node (source->graph, n);
          const char *title = rl_graph_node_get_title (node);

          if (g_strcmp0 (rl_graph_node_get_id (node), node_ref) == 0 ||
              g_strcmp0 (title, node_ref) == 0)
            {
              apply_to_workflow (source, registry, rl_graph_node_get_id (node));
              break;
            }
        }
    }
  return TRUE;
}

void
rl_job_source_clear (RlJobSource *source)
{
  g_clear_pointer (&source->graph, rl_graph_unref);
  g_clear_pointer (&source->workflow, rl_workflow_unref);
  g_clear_pointer (&source->source_kind, g_free);
}
