/* ComfyUI-compatible node clipboard. */
#include <json-glib/json-glib.h>

#include "engine/engine-error.h"
#include "engine/graph/workflow.h"
#include "ui/canvas/rl-clipboard.h"

static int
index_of (GArray *ids,
          gint64  id)
{
  for (guint i = 0; i < ids->len; i++)
    if (g_array_index (ids, gint64, i) == id)
      return (int) i;
  return -1;
}

char *
rl_clipboard_serialize (RlWorkflow *workflow,
                        GArray     *ids)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  g_return_val_if_fail (workflow != NULL, NULL);
  g_return_val_if_fail (ids != NULL, NULL);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "nodes");
  json_builder_begin_array (builder);
  for (guint i = 0; i < ids->len; i++)
    {
      JsonObject *node = rl_workflow_lookup_node (workflow, g_array_index (ids, gint64, i));
      JsonNode *copy = json_node_new (JSON_NODE_OBJECT);

      json_node_set_object (copy, node);
      json_builder_add_value (builder, json_node_copy (copy));
      json_node_unref (copy);
    }
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "links");
  json_builder_begin_array (builder);
  for (guint i = 0; i < rl_workflow_get_n_links (workflow); i++)
    {
      RlWorkflowLink link;
      int origin, target;

      if (!rl_workflow_get_link (workflow, i, &link))
        continue;
      origin = index_of (ids, link.origin_id);
      target = index_of (ids, link.target_id);
      if (origin < 0 || target < 0)
        continue;
      json_builder_begin_array (builder);
      json_builder_add_int_value (builder, origin);
      json_builder_add_int_value (builder, link.origin_slot);
      json_builder_add_int_value (builder, target);
      json_builder_add_int_value (builder, link.target_slot);
      json_builder_add_int_value (builder, link.origin_id);
      json_builder_end_array (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  return json_to_string (root, FALSE);
}

static gint64
highest_node_id (RlWorkflow *workflow)
{
  JsonObject *root = json_node_get_object (rl_workflow_get_root (workflow));
  gint64 highest = 0;

  for (guint i = 0; i < rl_workflow_get_n_nodes (workflow); i++)
    highest = MAX (highest, rl_workflow_get_node_id (workflow, i));
  if (json_object_has_member (root, "last_node_id"))
    highest = MAX (highest, json_object_get_int_member (root, "last_node_id"));
  if (json_object_has_member (root, "state") &&
      JSON_NODE_HOLDS_OBJECT (json_object_get_member (root, "state")))
    {
      JsonObject *state = json_object_get_object_member (root, "state");

      highest = MAX (highest, json_object_get_int_member_with_default (state, "lastNodeId", 0));
    }
  return highest;
}

static void
set_last_node_id (RlWorkflow *workflow,
                  gint64      id)
{
  JsonObject *root = json_node_get_object (rl_workflow_get_root (workflow));

  if (rl_workflow_get_version (workflow) >= 1 &&
      json_object_has_member (root, "state") &&
      JSON_NODE_HOLDS_OBJECT (json_object_get_member (root, "state")))
    json_object_set_int_member (json_object_get_object_member (root, "state"), "lastNodeId", id);
  else
    json_object_set_int_member (root, "last_node_id", id);
}

/* A pasted node starts unconnected: its links belonged to the source. */
static void
clear_slots (JsonObject *node)
{
  JsonNode *inputs = json_object_get_member (node, "inputs");
  JsonNode *outputs = json_object_get_member (node, "outputs");

  for (guint i = 0; inputs != NULL && JSON_NODE_HOLDS_ARRAY (inputs) &&
                    i < json_array_get_length (json_node_get_array (inputs)); i++)
    {
      JsonObject *slot = json_array_get_object_element (json_node_get_array (inputs), i);

      if (slot != NULL)
        json_object_set_null_member (slot, "link");
    }
  for (guint i = 0; outputs != NULL && JSON_NODE_HOLDS_ARRAY (outputs) &&
                    i < json_array_get_length (json_node_get_array (outputs)); i++)
    {
      JsonObject *slot = json_array_get_object_element (json_node_get_array (outputs), i);

      if (slot != NULL)
        json_object_set_array_member (slot, "links", json_array_new ());
    }
}

static gboolean
read_pos (JsonObject *node,
          double     *x,
          double     *y)
{
  JsonNode *pos = json_object_get_member (node, "pos");
  JsonArray *array;

  if (pos == NULL || !JSON_NODE_HOLDS_ARRAY (pos))
    return FALSE;
  array = json_node_get_array (pos);
  if (json_array_get_length (array) < 2)
    return FALSE;
  *x = json_array_get_double_element (array, 0);
  *y = json_array_get_double_element (array, 1);
  return TRUE;
}

static JsonArray *
checked_array (JsonObject *object,
               const char *name)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, name) : NULL;

  return node != NULL && JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
}

GArray *
rl_clipboard_paste (RlWorkflow  *workflow,
                    const char  *text,
                    double       x,
                    double       y,
                    GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GArray) new_ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  JsonObject *clip;
  JsonArray *nodes, *links, *doc_nodes;
  double origin_x = 0, origin_y = 0;
  gint64 next;

  g_return_val_if_fail (workflow != NULL, NULL);
  g_return_val_if_fail (text != NULL, NULL);

  if (!json_parser_load_from_data (parser, text, -1, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    goto not_clipboard;
  clip = json_node_get_object (json_parser_get_root (parser));
  nodes = checked_array (clip, "nodes");
  links = checked_array (clip, "links");
  doc_nodes = checked_array (json_node_get_object (rl_workflow_get_root (workflow)), "nodes");
  if (nodes == NULL || doc_nodes == NULL)
    goto not_clipboard;
  for (guint i = 0; i < json_array_get_length (nodes); i++)
    {
      JsonObject *node = json_array_get_object_element (nodes, i);
      const char *type = node != NULL ? json_object_get_string_member_with_default (node, "type", NULL) : NULL;

      if (type == NULL)
        goto not_clipboard;
    }

  next = highest_node_id (workflow);
  for (guint i = 0; i < json_array_get_length (nodes); i++)
    {
      JsonNode *copy = json_node_copy (json_array_get_element (nodes, i));
      JsonObject *node = json_node_get_object (copy);
      double nx = 0, ny = 0;

      if (read_pos (node, &nx, &ny) && i == 0)
        {
          origin_x = nx;
          origin_y = ny;
        }
      json_object_set_int_member (node, "id", ++next);
      {
        JsonArray *pos = json_array_new ();

        json_array_add_double_element (pos, nx - origin_x + x);
        json_array_add_double_element (pos, ny - origin_y + y);
        json_object_set_array_member (node, "pos", pos);
      }
      clear_slots (node);
      json_array_add_element (doc_nodes, copy);
      g_array_append_val (new_ids, next);
    }
  set_last_node_id (workflow, next);

  for (guint i = 0; links != NULL && i < json_array_get_length (links); i++)
    {
      JsonArray *link = json_array_get_array_element (links, i);
      gint64 origin, target;

      if (link == NULL || json_array_get_length (link) < 4)
        continue;
      origin = json_array_get_int_element (link, 0);
      target = json_array_get_int_element (link, 2);
      if (origin < 0 || target < 0 || origin >= new_ids->len || target >= new_ids->len)
        continue;
      /* A link the new nodes cannot hold is dropped, not fatal: the paste
       * still gives the user the nodes. */
      rl_workflow_add_link (workflow, g_array_index (new_ids, gint64, origin),
                            json_array_get_int_element (link, 1),
                            g_array_index (new_ids, gint64, target),
                            json_array_get_int_element (link, 3), NULL);
    }
  return g_steal_pointer (&new_ids);

not_clipboard:
  g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INVALID_WORKFLOW,
               "The clipboard does not hold nodes (expected ComfyUI clipboard JSON with a \"nodes\" array)");
  return NULL;
}
