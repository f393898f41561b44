/* ComfyUI's UI workflow document and its conversion to a graph (see
 * workflow.h). */
#include "engine/graph/workflow.h"

#include <math.h>
#include <string.h>

#include "engine/engine-error.h"
#include "engine/graph/graph.h"
#include "engine/graph/json-copy.h"
#include "engine/graph/json-load.h"
#include "engine/graph/registry.h"

/* Reroute and bypass chains longer than this are loops. */
#define MAX_LINK_HOPS 1024

struct _RlWorkflow {
  gatomicrefcount  ref_count;
  JsonNode        *root;      /* the document, owned */
  char            *source;    /* file name for messages */
};

/* ---- Small JSON readers that never fail: a wrong shape reads as absent. */

static JsonNode *
member (JsonObject *object,
        const char *name)
{
  return object != NULL ? json_object_get_member (object, name) : NULL;
}

/* An integer held as an int, an integral double, or a numeric string
 * (ComfyUI's slot indexes may be strings). */
static gboolean
node_get_integer (JsonNode *node,
                  gint64   *value)
{
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  switch (json_node_get_value_type (node))
    {
    case G_TYPE_INT64:
      *value = json_node_get_int (node);
      return TRUE;
    case G_TYPE_DOUBLE:
      {
        double d = json_node_get_double (node);

        if (!isfinite (d) || d != floor (d) || fabs (d) > 9.0e15)
          return FALSE;
        *value = (gint64) d;
        return TRUE;
      }
    case G_TYPE_STRING:
      {
        const char *text = json_node_get_string (node);
        char *end = NULL;

        if (*text == '\0')
          return FALSE;
        *value = g_ascii_strtoll (text, &end, 10);
        return *end == '\0';
      }
    default:
      return FALSE;
    }
}

static gboolean
member_integer (JsonObject *object,
                const char *name,
                gint64     *value)
{
  return node_get_integer (member (object, name), value);
}

static const char *
member_string (JsonObject *object,
               const char *name)
{
  JsonNode *node = member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static JsonArray *
member_array (JsonObject *object,
              const char *name)
{
  JsonNode *node = member (object, name);

  return node != NULL && JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
}

static JsonObject *
member_object (JsonObject *object,
               const char *name)
{
  JsonNode *node = member (object, name);

  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

static JsonObject *
array_object (JsonArray *array,
              guint      index)
{
  JsonNode *node;

  if (array == NULL || index >= json_array_get_length (array))
    return NULL;
  node = json_array_get_element (array, index);
  return JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

/* A slot's type: a string, or "*" for litegraph's numeric event types. */
static const char *
slot_type (JsonObject *slot)
{
  const char *type = member_string (slot, "type");

  return type != NULL ? type : "*";
}

/* ---- The document */

static JsonObject *
doc (RlWorkflow *workflow)
{
  return json_node_get_object (workflow->root);
}

static JsonArray *
doc_nodes (RlWorkflow *workflow)
{
  return member_array (doc (workflow), "nodes");
}

/* What shape errors need: the document's name and, when it was parsed
 * here, the line of each object. */
typedef struct {
  const char *source;
  GHashTable *lines;    /* JsonObject * -> line, or NULL */
} ShapeContext;

static gboolean
shape_fail (GError             **error,
            const ShapeContext  *ctx,
            JsonObject          *where,
            const char          *format,
            ...) G_GNUC_PRINTF (4, 5);

static gboolean
shape_fail (GError             **error,
            const ShapeContext  *ctx,
            JsonObject          *where,
            const char          *format,
            ...)
{
  g_autofree char *what = NULL;
  guint line = rl_json_object_line (ctx->lines, where);
  va_list args;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  if (line > 0)
    g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INVALID_WORKFLOW,
                 "%s:%u: not a ComfyUI workflow: %s", ctx->source, line, what);
  else
    g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INVALID_WORKFLOW,
                 "%s: not a ComfyUI workflow: %s", ctx->source, what);
  return FALSE;
}

/* Reads a link in either shape; FALSE when it is neither. */
static gboolean
parse_link (JsonNode       *node,
            RlWorkflowLink *link)
{
  gint64 origin_slot, target_slot;

  memset (link, 0, sizeof *link);
  link->type = "*";
  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);
      guint length = json_array_get_length (array);

      if (length < 5
          || !node_get_integer (json_array_get_element (array, 0), &link->id)
          || !node_get_integer (json_array_get_element (array, 1), &link->origin_id)
          || !node_get_integer (json_array_get_element (array, 2), &origin_slot)
          || !node_get_integer (json_array_get_element (array, 3), &link->target_id)
          || !node_get_integer (json_array_get_element (array, 4), &target_slot))
        return FALSE;
      if (length > 5)
        {
          JsonNode *type = json_array_get_element (array, 5);

          if (JSON_NODE_HOLDS_VALUE (type) && json_node_get_value_type (type) == G_TYPE_STRING)
            link->type = json_node_get_string (type);
        }
    }
  else if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *object = json_node_get_object (node);

      if (!member_integer (object, "id", &link->id)
          || !member_integer (object, "origin_id", &link->origin_id)
          || !member_integer (object, "origin_slot", &origin_slot)
          || !member_integer (object, "target_id", &link->target_id)
          || !member_integer (object, "target_slot", &target_slot))
        return FALSE;
      if (member_string (object, "type") != NULL)
        link->type = member_string (object, "type");
    }
  else
    return FALSE;
  if (origin_slot < 0 || origin_slot > G_MAXINT || target_slot < 0 || target_slot > G_MAXINT)
    return FALSE;
  link->origin_slot = (guint) origin_slot;
  link->target_slot = (guint) target_slot;
  return TRUE;
}

static gboolean
check_node_shape (JsonNode           *node_json,
                  guint               index,
                  GHashTable         *seen_ids,
                  const ShapeContext *ctx,
                  GError            **error)
{
  JsonObject *node;
  gint64 id;
  JsonNode *field;

  if (!JSON_NODE_HOLDS_OBJECT (node_json))
    return shape_fail (error, ctx, NULL, "nodes[%u] is not an object", index);
  node = json_node_get_object (node_json);
  field = member (node, "id");
  if (field != NULL && JSON_NODE_HOLDS_VALUE (field)
      && json_node_get_value_type (field) == G_TYPE_STRING)
    return shape_fail (error, ctx, node,
                       "nodes[%u] has the string id \"%s\"; group nodes and subgraphs are not supported yet",
                       index, json_node_get_string (field));
  if (!node_get_integer (field, &id))
    return shape_fail (error, ctx, node, "nodes[%u]: field \"id\" is missing or not an integer", index);
  if (member_string (node, "type") == NULL)
    return shape_fail (error, ctx, node, "node %" G_GINT64_FORMAT ": field \"type\" is missing or not a string", id);
  if (g_hash_table_contains (seen_ids, &id))
    return shape_fail (error, ctx, node, "node id %" G_GINT64_FORMAT " is used by two nodes", id);
  g_hash_table_add (seen_ids, g_memdup2 (&id, sizeof id));

  field = member (node, "widgets_values");
  if (field != NULL && !JSON_NODE_HOLDS_ARRAY (field) && !JSON_NODE_HOLDS_OBJECT (field)
      && !JSON_NODE_HOLDS_NULL (field))
    return shape_fail (error, ctx, node, "node %" G_GINT64_FORMAT ": field \"widgets_values\" must be a list", id);
  field = member (node, "inputs");
  if (field != NULL && !JSON_NODE_HOLDS_ARRAY (field) && !JSON_NODE_HOLDS_NULL (field))
    return shape_fail (error, ctx, node, "node %" G_GINT64_FORMAT ": field \"inputs\" must be a list", id);
  field = member (node, "outputs");
  if (field != NULL && !JSON_NODE_HOLDS_ARRAY (field) && !JSON_NODE_HOLDS_NULL (field))
    return shape_fail (error, ctx, node, "node %" G_GINT64_FORMAT ": field \"outputs\" must be a list", id);
  return TRUE;
}

static gboolean
check_document_shape (JsonNode           *root,
                      const ShapeContext *ctx,
                      GError            **error)
{
  JsonObject *object;
  JsonNode *field;
  JsonArray *nodes, *links;
  g_autoptr(GHashTable) seen_ids = NULL;

  if (!JSON_NODE_HOLDS_OBJECT (root))
    return shape_fail (error, ctx, NULL, "the top level must be an object with \"nodes\" and \"links\"");
  object = json_node_get_object (root);
  field = member (object, "nodes");
  if (field == NULL)
    {
      if (json_object_get_size (object) > 0)
        {
          GList *values = json_object_get_values (object);
          gboolean is_prompt = JSON_NODE_HOLDS_OBJECT ((JsonNode *) values->data)
                               && json_object_has_member (json_node_get_object (values->data), "class_type");

          g_list_free (values);
          if (is_prompt)
            return shape_fail (error, ctx, NULL, "this is an API prompt; load it as a prompt");
        }
      return shape_fail (error, ctx, NULL, "field \"nodes\" is missing");
    }
  if (!JSON_NODE_HOLDS_ARRAY (field))
    return shape_fail (error, ctx, NULL, "field \"nodes\" must be a list");

  nodes = json_node_get_array (field);
  seen_ids = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  for (guint i = 0; i < json_array_get_length (nodes); i++)
    if (!check_node_shape (json_array_get_element (nodes, i), i, seen_ids, ctx, error))
      return FALSE;

  field = member (object, "links");
  if (field != NULL && !JSON_NODE_HOLDS_ARRAY (field) && !JSON_NODE_HOLDS_NULL (field))
    return shape_fail (error, ctx, NULL, "field \"links\" must be a list");
  links = member_array (object, "links");
  for (guint i = 0; links != NULL && i < json_array_get_length (links); i++)
    {
      JsonNode *element = json_array_get_element (links, i);
      RlWorkflowLink link;

      if (JSON_NODE_HOLDS_NULL (element))
        continue;   /* old files carry holes where links were deleted */
      if (!parse_link (element, &link))
        return shape_fail (error, ctx,
                           JSON_NODE_HOLDS_OBJECT (element) ? json_node_get_object (element) : NULL,
                           "links[%u] must be [id, origin_id, origin_slot, target_id, target_slot, type] "
                           "or an object with id, origin_id, origin_slot, target_id, target_slot, type", i);
    }
  return TRUE;
}

/* Keeps a reference to @root itself, not a copy: callers pass a tree of
 * their own. */
static RlWorkflow *
workflow_new_checked (JsonNode    *root,
                      const char  *source_name,
                      GHashTable  *lines,
                      GError     **error)
{
  RlWorkflow *workflow;
  ShapeContext ctx = { source_name != NULL ? source_name : "<data>", lines };

  if (!check_document_shape (root, &ctx, error))
    return NULL;
  workflow = g_new0 (RlWorkflow, 1);
  g_atomic_ref_count_init (&workflow->ref_count);
  workflow->root = json_node_ref (root);
  workflow->source = g_strdup (ctx.source);
  return workflow;
}

RlWorkflow *
rl_workflow_new_from_json (JsonNode   *root,
                           const char *source_name,
                           GError    **error)
{
  g_autoptr(JsonNode) copy = NULL;

  g_return_val_if_fail (root != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* A deep copy: the caller's tree and the workflow are edited apart. */
  copy = rl_json_node_deep_copy (root);
  return workflow_new_checked (copy, source_name, NULL, error);
}

RlWorkflow *
rl_workflow_load_data (const char *data,
                       gssize      length,
                       const char *source_name,
                       GError    **error)
{
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GHashTable) lines = NULL;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  root = rl_json_load_data_with_lines (data, length, source_name, &lines, error);
  if (root == NULL)
    return NULL;
  return workflow_new_checked (root, source_name, lines, error);
}

RlWorkflow *
rl_workflow_load_file (const char *path,
                       GError    **error)
{
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GHashTable) lines = NULL;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  root = rl_json_load_file (path, &lines, error);
  if (root == NULL)
    return NULL;
  return workflow_new_checked (root, path, lines, error);
}

RlWorkflow *
rl_workflow_ref (RlWorkflow *workflow)
{
  g_return_val_if_fail (workflow != NULL, NULL);

  g_atomic_ref_count_inc (&workflow->ref_count);
  return workflow;
}

void
rl_workflow_unref (RlWorkflow *workflow)
{
  if (workflow == NULL || !g_atomic_ref_count_dec (&workflow->ref_count))
    return;
  json_node_unref (workflow->root);
  g_free (workflow->source);
  g_free (workflow);
}

gboolean
rl_workflow_json_is_workflow (JsonNode *root)
{
  g_return_val_if_fail (root != NULL, FALSE);

  return JSON_NODE_HOLDS_OBJECT (root)
         && member_array (json_node_get_object (root), "nodes") != NULL;
}

JsonNode *
rl_workflow_get_root (RlWorkflow *workflow)
{
  g_return_val_if_fail (workflow != NULL, NULL);

  return workflow->root;
}

char *
rl_workflow_to_string (RlWorkflow *workflow,
                       gboolean    pretty)
{
  g_autoptr(JsonGenerator) generator = NULL;

  g_return_val_if_fail (workflow != NULL, NULL);

  generator = json_generator_new ();
  json_generator_set_pretty (generator, pretty);
  json_generator_set_indent (generator, 2);
  json_generator_set_root (generator, workflow->root);
  return json_generator_to_data (generator, NULL);
}

gboolean
rl_workflow_save_file (RlWorkflow *workflow,
                       const char *path,
                       GError    **error)
{
  g_return_val_if_fail (workflow != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  return rl_json_save_file (workflow->root, path, error);
}

double
rl_workflow_get_version (RlWorkflow *workflow)
{
  JsonNode *version;

  g_return_val_if_fail (workflow != NULL, 0.4);

  version = member (doc (workflow), "version");
  if (version == NULL || !JSON_NODE_HOLDS_VALUE (version)
      || (json_node_get_value_type (version) != G_TYPE_DOUBLE
          && json_node_get_value_type (version) != G_TYPE_INT64))
    return 0.4;
  return json_node_get_double (version);
}

/* Version 1 documents keep links as objects and counters in "state". */
static gboolean
is_version_1 (RlWorkflow *workflow)
{
  return rl_workflow_get_version (workflow) >= 1.0;
}

/* ---- Nodes */

guint
rl_workflow_get_n_nodes (RlWorkflow *workflow)
{
  g_return_val_if_fail (workflow != NULL, 0);

  return json_array_get_length (doc_nodes (workflow));
}

gint64
rl_workflow_get_node_id (RlWorkflow *workflow,
                         guint       index)
{
  gint64 id = -1;

  g_return_val_if_fail (workflow != NULL, -1);
  g_return_val_if_fail (index < rl_workflow_get_n_nodes (workflow), -1);

  member_integer (array_object (doc_nodes (workflow), index), "id", &id);
  return id;
}

/* The index of node @id in "nodes", or -1. */
static int
find_node_index (RlWorkflow *workflow,
                 gint64      id)
{
  JsonArray *nodes = doc_nodes (workflow);

  for (guint i = 0; i < json_array_get_length (nodes); i++)
    {
      gint64 node_id;

      if (member_integer (array_object (nodes, i), "id", &node_id) && node_id == id)
        return (int) i;
    }
  return -1;
}

JsonObject *
rl_workflow_lookup_node (RlWorkflow *workflow,
                         gint64      id)
{
  int index;

  g_return_val_if_fail (workflow != NULL, NULL);

  index = find_node_index (workflow, id);
  return index >= 0 ? array_object (doc_nodes (workflow), (guint) index) : NULL;
}

const char *
rl_workflow_node_get_type (RlWorkflow *workflow,
                           gint64      id)
{
  return member_string (rl_workflow_lookup_node (workflow, id), "type");
}

const char *
rl_workflow_node_get_title (RlWorkflow *workflow,
                            gint64      id)
{
  return member_string (rl_workflow_lookup_node (workflow, id), "title");
}

void
rl_workflow_node_set_title (RlWorkflow *workflow,
                            gint64      id,
                            const char *title)
{
  JsonObject *node = rl_workflow_lookup_node (workflow, id);

  g_return_if_fail (node != NULL);

  if (title == NULL)
    json_object_remove_member (node, "title");
  else
    json_object_set_string_member (node, "title", title);
}

/* [a, b] or, as old files have it, {"0": a, "1": b}. */
static gboolean
get_pair (JsonObject *node,
          const char *name,
          double     *a,
          double     *b)
{
  JsonNode *field = member (node, name);
  JsonNode *first = NULL, *second = NULL;

  if (field != NULL && JSON_NODE_HOLDS_ARRAY (field) && json_array_get_length (json_node_get_array (field)) >= 2)
    {
      first = json_array_get_element (json_node_get_array (field), 0);
      second = json_array_get_element (json_node_get_array (field), 1);
    }
  else if (field != NULL && JSON_NODE_HOLDS_OBJECT (field))
    {
      first = member (json_node_get_object (field), "0");
      second = member (json_node_get_object (field), "1");
    }
  if (first == NULL || second == NULL || !JSON_NODE_HOLDS_VALUE (first) || !JSON_NODE_HOLDS_VALUE (second))
    return FALSE;
  if (a != NULL)
    *a = json_node_get_double (first);
  if (b != NULL)
    *b = json_node_get_double (second);
  return TRUE;
}

static void
set_pair (JsonObject *node,
          const char *name,
          double      a,
          double      b)
{
  JsonArray *pair = json_array_new ();

  json_array_add_double_element (pair, a);
  json_array_add_double_element (pair, b);
  json_object_set_array_member (node, name, pair);
}

gboolean
rl_workflow_node_get_pos (RlWorkflow *workflow,
                          gint64      id,
                          double     *x,
                          double     *y)
{
  g_return_val_if_fail (workflow != NULL, FALSE);

  return get_pair (rl_workflow_lookup_node (workflow, id), "pos", x, y);
}

void
rl_workflow_node_set_pos (RlWorkflow *workflow,
                          gint64      id,
                          double      x,
                          double      y)
{
  JsonObject *node = rl_workflow_lookup_node (workflow, id);

  g_return_if_fail (node != NULL);
  set_pair (node, "pos", x, y);
}

gboolean
rl_workflow_node_get_size (RlWorkflow *workflow,
                           gint64      id,
                           double     *width,
                           double     *height)
{
  g_return_val_if_fail (workflow != NULL, FALSE);

  return get_pair (rl_workflow_lookup_node (workflow, id), "size", width, height);
}

void
rl_workflow_node_set_size (RlWorkflow *workflow,
                           gint64      id,
                           double      width,
                           double      height)
{
  JsonObject *node = rl_workflow_lookup_node (workflow, id);

  g_return_if_fail (node != NULL);
  set_pair (node, "size", width, height);
}

static int
node_mode (JsonObject *node)
{
  gint64 mode = RL_WORKFLOW_MODE_ALWAYS;

  if (!member_integer (node, "mode", &mode) || mode < 0 || mode > G_MAXINT)
    return RL_WORKFLOW_MODE_ALWAYS;
  return (int) mode;
}

int
rl_workflow_node_get_mode (RlWorkflow *workflow,
                           gint64      id)
{
  g_return_val_if_fail (workflow != NULL, RL_WORKFLOW_MODE_ALWAYS);

  return node_mode (rl_workflow_lookup_node (workflow, id));
}

void
rl_workflow_node_set_mode (RlWorkflow *workflow,
                           gint64      id,
                           int         mode)
{
  JsonObject *node = rl_workflow_lookup_node (workflow, id);

  g_return_if_fail (node != NULL);
  json_object_set_int_member (node, "mode", mode);
}

JsonArray *
rl_workflow_node_get_widgets_values (RlWorkflow *workflow,
                                     gint64      id)
{
  g_return_val_if_fail (workflow != NULL, NULL);

  return member_array (rl_workflow_lookup_node (workflow, id), "widgets_values");
}

void
rl_workflow_node_set_widget_value (RlWorkflow *workflow,
                                   gint64      id,
                                   guint       index,
                                   JsonNode   *value)
{
  JsonObject *node = rl_workflow_lookup_node (workflow, id);
  JsonArray *old, *values;

  g_return_if_fail (node != NULL);
  g_return_if_fail (value != NULL);

  /* JsonArray cannot replace an element in place: rebuild the list. */
  old = member_array (node, "widgets_values");
  values = json_array_new ();
  for (guint i = 0; old != NULL && i < json_array_get_length (old); i++)
    json_array_add_element (values, i == index ? rl_json_node_deep_copy (value)
                                               : json_node_copy (json_array_get_element (old, i)));
  while (json_array_get_length (values) < index)
    json_array_add_null_element (values);
  if (json_array_get_length (values) == index)
    json_array_add_element (values, rl_json_node_deep_copy (value));
  json_object_set_array_member (node, "widgets_values", values);
}

/* ---- Links */

static JsonArray *
doc_links (RlWorkflow *workflow)
{
  return member_array (doc (workflow), "links");
}

guint
rl_workflow_get_n_links (RlWorkflow *workflow)
{
  JsonArray *links;
  guint count = 0;

  g_return_val_if_fail (workflow != NULL, 0);

  links = doc_links (workflow);
  for (guint i = 0; links != NULL && i < json_array_get_length (links); i++)
    if (!JSON_NODE_HOLDS_NULL (json_array_get_element (links, i)))
      count++;
  return count;
}

gboolean
rl_workflow_get_link (RlWorkflow     *workflow,
                      guint           index,
                      RlWorkflowLink *link)
{
  JsonArray *links;
  guint seen = 0;

  g_return_val_if_fail (workflow != NULL, FALSE);
  g_return_val_if_fail (link != NULL, FALSE);

  links = doc_links (workflow);
  for (guint i = 0; links != NULL && i < json_array_get_length (links); i++)
    {
      JsonNode *element = json_array_get_element (links, i);

      if (JSON_NODE_HOLDS_NULL (element))
        continue;
      if (seen++ == index)
        return parse_link (element, link);
    }
  return FALSE;
}

/* The position of link @link_id in "links", or -1. */
static int
find_link_index (RlWorkflow     *workflow,
                 gint64          link_id,
                 RlWorkflowLink *link)
{
  JsonArray *links = doc_links (workflow);

  for (guint i = 0; links != NULL && i < json_array_get_length (links); i++)
    {
      RlWorkflowLink candidate;
      JsonNode *element = json_array_get_element (links, i);

      if (!JSON_NODE_HOLDS_NULL (element) && parse_link (element, &candidate) && candidate.id == link_id)
        {
          if (link != NULL)
            *link = candidate;
          return (int) i;
        }
    }
  return -1;
}

gboolean
rl_workflow_lookup_link (RlWorkflow     *workflow,
                         gint64          link_id,
                         RlWorkflowLink *link)
{
  g_return_val_if_fail (workflow != NULL, FALSE);

  return find_link_index (workflow, link_id, link) >= 0;
}

/* The next id from a counter kept in "state" (1) or at the top (0.4),
 * also above every id in use; the counter is advanced. */
static gint64
next_id (RlWorkflow *workflow,
         const char *state_name,
         const char *legacy_name,
         gint64      highest_in_use)
{
  JsonObject *root = doc (workflow);
  JsonObject *state = member_object (root, "state");
  gint64 last = 0, next;

  if (is_version_1 (workflow) && state != NULL)
    member_integer (state, state_name, &last);
  else
    member_integer (root, legacy_name, &last);
  next = MAX (last, highest_in_use) + 1;
  if (is_version_1 (workflow))
    {
      if (state == NULL)
        {
          state = json_object_new ();
          json_object_set_object_member (root, "state", state);
        }
      json_object_set_int_member (state, state_name, next);
    }
  else
    json_object_set_int_member (root, legacy_name, next);
  return next;
}

static gint64
highest_link_id (RlWorkflow *workflow)
{
  gint64 highest = 0;

  for (guint i = 0; i < rl_workflow_get_n_links (workflow); i++)
    {
      RlWorkflowLink link;

      if (rl_workflow_get_link (workflow, i, &link))
        highest = MAX (highest, link.id);
    }
  return highest;
}

/* Removes @link_id from the "links" list of output @slot of @node. */
static void
output_forget_link (JsonObject *node,
                    guint       slot,
                    gint64      link_id)
{
  JsonObject *output = array_object (member_array (node, "outputs"), slot);
  JsonArray *old = member_array (output, "links");
  JsonArray *kept;

  if (old == NULL)
    return;
  kept = json_array_new ();
  for (guint i = 0; i < json_array_get_length (old); i++)
    {
      gint64 id;

      if (node_get_integer (json_array_get_element (old, i), &id) && id == link_id)
        continue;
      json_array_add_element (kept, json_node_copy (json_array_get_element (old, i)));
    }
  json_object_set_array_member (output, "links", kept);
}

gboolean
rl_workflow_remove_link (RlWorkflow *workflow,
                         gint64      link_id)
{
  RlWorkflowLink link;
  JsonObject *target, *origin, *input;
  gint64 current;
  int index;

  g_return_val_if_fail (workflow != NULL, FALSE);

  index = find_link_index (workflow, link_id, &link);
  if (index < 0)
    return FALSE;
  json_array_remove_element (doc_links (workflow), (guint) index);

  target = rl_workflow_lookup_node (workflow, link.target_id);
  input = array_object (member_array (target, "inputs"), link.target_slot);
  if (input != NULL && member_integer (input, "link", &current) && current == link_id)
    json_object_set_null_member (input, "link");
  origin = rl_workflow_lookup_node (workflow, link.origin_id);
  if (origin != NULL)
    output_forget_link (origin, link.origin_slot, link_id);
  return TRUE;
}

static void
append_link (RlWorkflow           *workflow,
             const RlWorkflowLink *link)
{
  JsonObject *root = doc (workflow);
  JsonArray *links = member_array (root, "links");

  if (links == NULL)
    {
      links = json_array_new ();
      json_object_set_array_member (root, "links", links);
    }
  if (is_version_1 (workflow))
    {
      JsonObject *object = json_object_new ();

      json_object_set_int_member (object, "id", link->id);
      json_object_set_int_member (object, "origin_id", link->origin_id);
      json_object_set_int_member (object, "origin_slot", link->origin_slot);
      json_object_set_int_member (object, "target_id", link->target_id);
      json_object_set_int_member (object, "target_slot", link->target_slot);
      json_object_set_string_member (object, "type", link->type);
      json_array_add_object_element (links, object);
    }
  else
    {
      JsonArray *array = json_array_new ();

      json_array_add_int_element (array, link->id);
      json_array_add_int_element (array, link->origin_id);
      json_array_add_int_element (array, link->origin_slot);
      json_array_add_int_element (array, link->target_id);
      json_array_add_int_element (array, link->target_slot);
      json_array_add_string_element (array, link->type);
      json_array_add_array_element (links, array);
    }
}

gint64
rl_workflow_add_link (RlWorkflow *workflow,
                      gint64      origin_id,
                      guint       origin_slot,
                      gint64      target_id,
                      guint       target_slot,
                      GError    **error)
{
  JsonObject *origin, *target, *output, *input;
  JsonArray *output_links;
  RlWorkflowLink link = { 0 };
  g_autofree char *type = NULL;
  gint64 old_link;

  g_return_val_if_fail (workflow != NULL, -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  origin = rl_workflow_lookup_node (workflow, origin_id);
  target = rl_workflow_lookup_node (workflow, target_id);
  output = array_object (member_array (origin, "outputs"), origin_slot);
  input = array_object (member_array (target, "inputs"), target_slot);
  if (output == NULL || input == NULL)
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INVALID_WORKFLOW,
                   "Cannot link node %" G_GINT64_FORMAT " output %u to node %" G_GINT64_FORMAT
                   " input %u: %s does not exist",
                   origin_id, origin_slot, target_id, target_slot,
                   origin == NULL ? "the source node" : target == NULL ? "the target node"
                   : output == NULL ? "that output" : "that input");
      return -1;
    }
  if (member_integer (input, "link", &old_link))
    rl_workflow_remove_link (workflow, old_link);

  type = g_strdup (slot_type (output));
  link.id = next_id (workflow, "lastLinkId", "last_link_id", highest_link_id (workflow));
  link.origin_id = origin_id;
  link.origin_slot = origin_slot;
  link.target_id = target_id;
  link.target_slot = target_slot;
  link.type = type;
  append_link (workflow, &link);

  json_object_set_int_member (input, "link", link.id);
  output_links = member_array (output, "links");
  if (output_links == NULL)
    {
      output_links = json_array_new ();
      json_object_set_array_member (output, "links", output_links);
    }
  json_array_add_int_element (output_links, link.id);
  return link.id;
}

/* ---- Adding and removing nodes */

static JsonNode *
default_widget_value (const RlInputSpec *spec)
{
  switch (spec->kind)
    {
    case RL_INPUT_INT:
      return json_node_init_int (json_node_alloc (), spec->int_default);
    case RL_INPUT_FLOAT:
      return json_node_init_double (json_node_alloc (), spec->float_default);
    case RL_INPUT_STRING:
      return json_node_init_string (json_node_alloc (), spec->string_default != NULL ? spec->string_default : "");
    case RL_INPUT_BOOLEAN:
      return json_node_init_boolean (json_node_alloc (), spec->boolean_default);
    case RL_INPUT_COMBO:
      if (spec->combo_default != NULL)
        return json_node_init_string (json_node_alloc (), spec->combo_default);
      if (spec->combo_options != NULL && spec->combo_options[0] != NULL)
        return json_node_init_string (json_node_alloc (), spec->combo_options[0]);
      return NULL;
    case RL_INPUT_LINK:
    default:
      return NULL;
    }
}

static gboolean
is_widget (const RlInputSpec *spec)
{
  return spec->kind != RL_INPUT_LINK && !spec->force_input;
}

/* The widget inputs of @type in the order the frontend lays them out:
 * required ones, then optional ones. */
static GPtrArray *
list_widgets (const RlNodeType *type)
{
  GPtrArray *widgets = g_ptr_array_new ();

  for (int optional = 0; optional <= 1; optional++)
    for (guint i = 0; i < type->n_inputs; i++)
      if (is_widget (&type->inputs[i]) && (type->inputs[i].optional != FALSE) == (optional != 0))
        g_ptr_array_add (widgets, (gpointer) &type->inputs[i]);
  return widgets;
}

static JsonArray *
new_node_inputs (const RlNodeType *type)
{
  JsonArray *inputs = json_array_new ();

  for (guint i = 0; i < type->n_inputs; i++)
    {
      const RlInputSpec *spec = &type->inputs[i];
      JsonObject *slot;

      if (is_widget (spec))
        continue;
      slot = json_object_new ();
      json_object_set_string_member (slot, "name", spec->name);
      json_object_set_string_member (slot, "type", spec->kind == RL_INPUT_LINK ? spec->type
                                     : spec->kind == RL_INPUT_INT ? "INT"
                                     : spec->kind == RL_INPUT_FLOAT ? "FLOAT"
                                     : spec->kind == RL_INPUT_BOOLEAN ? "BOOLEAN"
                                     : spec->kind == RL_INPUT_COMBO ? "COMBO" : "STRING");
      if (spec->kind != RL_INPUT_LINK)
        {
          JsonObject *widget = json_object_new ();

          json_object_set_string_member (widget, "name", spec->name);
          json_object_set_object_member (slot, "widget", widget);
        }
      json_object_set_null_member (slot, "link");
      json_array_add_object_element (inputs, slot);
    }
  return inputs;
}

static JsonArray *
new_node_outputs (const RlNodeType *type)
{
  JsonArray *outputs = json_array_new ();

  for (guint i = 0; i < type->n_outputs; i++)
    {
      JsonObject *slot = json_object_new ();

      json_object_set_string_member (slot, "name", type->outputs[i].name != NULL
                                     ? type->outputs[i].name : type->outputs[i].type);
      json_object_set_string_member (slot, "type", type->outputs[i].type);
      json_object_set_array_member (slot, "links", json_array_new ());
      json_object_set_int_member (slot, "slot_index", i);
      json_array_add_object_element (outputs, slot);
    }
  return outputs;
}

static JsonArray *
new_widgets_values (const RlNodeType *type)
{
  g_autoptr(GPtrArray) widgets = list_widgets (type);
  JsonArray *values = json_array_new ();

  for (guint i = 0; i < widgets->len; i++)
    {
      const RlInputSpec *spec = g_ptr_array_index (widgets, i);
      JsonNode *value = default_widget_value (spec);

      if (value != NULL)
        json_array_add_element (values, value);
      else
        json_array_add_null_element (values);
      if (spec->control_after_generate)
        json_array_add_string_element (values, "randomize");
    }
  return values;
}

gint64
rl_workflow_add_node (RlWorkflow       *workflow,
                      const RlNodeType *type,
                      double            x,
                      double            y)
{
  JsonObject *node, *properties;
  gint64 highest = 0, id;

  g_return_val_if_fail (workflow != NULL, -1);
  g_return_val_if_fail (type != NULL, -1);

  for (guint i = 0; i < rl_workflow_get_n_nodes (workflow); i++)
    highest = MAX (highest, rl_workflow_get_node_id (workflow, i));
  id = next_id (workflow, "lastNodeId", "last_node_id", highest);

  node = json_object_new ();
  json_object_set_int_member (node, "id", id);
  json_object_set_string_member (node, "type", type->name);
  set_pair (node, "pos", x, y);
  set_pair (node, "size", 315, 60 + 24.0 * (type->n_inputs + type->n_outputs));
  json_object_set_object_member (node, "flags", json_object_new ());
  json_object_set_int_member (node, "order", rl_workflow_get_n_nodes (workflow));
  json_object_set_int_member (node, "mode", RL_WORKFLOW_MODE_ALWAYS);
  json_object_set_array_member (node, "inputs", new_node_inputs (type));
  json_object_set_array_member (node, "outputs", new_node_outputs (type));
  properties = json_object_new ();
  json_object_set_string_member (properties, "Node name for S&R", type->name);
  json_object_set_object_member (node, "properties", properties);
  json_object_set_array_member (node, "widgets_values", new_widgets_values (type));
  json_array_add_object_element (doc_nodes (workflow), node);
  return id;
}

gboolean
rl_workflow_remove_node (RlWorkflow *workflow,
                         gint64      id)
{
  g_autoptr(GArray) doomed = g_array_new (FALSE, FALSE, sizeof (gint64));
  int index;

  g_return_val_if_fail (workflow != NULL, FALSE);

  index = find_node_index (workflow, id);
  if (index < 0)
    return FALSE;
  for (guint i = 0; i < rl_workflow_get_n_links (workflow); i++)
    {
      RlWorkflowLink link;

      if (rl_workflow_get_link (workflow, i, &link) && (link.origin_id == id || link.target_id == id))
        g_array_append_val (doomed, link.id);
    }
  for (guint i = 0; i < doomed->len; i++)
    rl_workflow_remove_link (workflow, g_array_index (doomed, gint64, i));
  json_array_remove_element (doc_nodes (workflow), (guint) find_node_index (workflow, id));
  return TRUE;
}

/* ---- Groups and reroutes */

guint
rl_workflow_get_n_groups (RlWorkflow *workflow)
{
  JsonArray *groups;

  g_return_val_if_fail (workflow != NULL, 0);

  groups = member_array (doc (workflow), "groups");
  return groups != NULL ? json_array_get_length (groups) : 0;
}

gboolean
rl_workflow_get_group (RlWorkflow  *workflow,
                       guint        index,
                       const char **title,
                       double       bounding[4])
{
  JsonObject *group;
  JsonArray *box;

  g_return_val_if_fail (workflow != NULL, FALSE);

  group = array_object (member_array (doc (workflow), "groups"), index);
  if (group == NULL)
    return FALSE;
  if (title != NULL)
    *title = member_string (group, "title");
  box = member_array (group, "bounding");
  for (guint i = 0; bounding != NULL && i < 4; i++)
    {
      JsonNode *element = box != NULL && i < json_array_get_length (box)
                          ? json_array_get_element (box, i) : NULL;

      bounding[i] = element != NULL && JSON_NODE_HOLDS_VALUE (element)
                    ? json_node_get_double (element) : 0.0;
    }
  return TRUE;
}

guint
rl_workflow_get_n_reroutes (RlWorkflow *workflow)
{
  JsonArray *reroutes;

  g_return_val_if_fail (workflow != NULL, 0);

  reroutes = member_array (doc (workflow), "reroutes");
  if (reroutes == NULL)
    reroutes = member_array (member_object (doc (workflow), "extra"), "reroutes");
  return reroutes != NULL ? json_array_get_length (reroutes) : 0;
}

/* ---- Conversion to a graph */

typedef struct {
  RlWorkflow       *workflow;
  const RlRegistry *registry;
  GHashTable       *nodes;   /* gint64 * id -> JsonObject * */
  GHashTable       *links;   /* gint64 * id -> RlWorkflowLink * */
} Converter;

typedef enum {
  SOURCE_NONE,     /* nothing: muted, dangling, or an empty reroute */
  SOURCE_NODE,     /* an output of a node that runs */
  SOURCE_LITERAL,  /* a PrimitiveNode's value */
} SourceKind;

typedef struct {
  SourceKind  kind;
  gint64      node_id;
  guint       slot;
  JsonNode   *literal;   /* borrowed from the document */
} Source;

static gboolean
is_frontend_only (const char *type)
{
  return strcmp (type, "Reroute") == 0 || strcmp (type, "PrimitiveNode") == 0
         || strcmp (type, "Note") == 0 || strcmp (type, "MarkdownNote") == 0;
}

static JsonObject *
converter_node (Converter *conv,
                gint64     id)
{
  return g_hash_table_lookup (conv->nodes, &id);
}

static const char *
node_label (JsonObject *node,
            char       *buffer,
            gsize       size)
{
  gint64 id = -1;
  const char *title = member_string (node, "title");

  member_integer (node, "id", &id);
  if (title != NULL)
    g_snprintf (buffer, size, "node %" G_GINT64_FORMAT " \"%s\" (%s)", id, title, member_string (node, "type"));
  else
    g_snprintf (buffer, size, "node %" G_GINT64_FORMAT " (%s)", id, member_string (node, "type"));
  return buffer;
}

/* The input of a bypassed node that stands in for its output @slot of
 * type @type: the input at the same index when its type matches, else the
 * first input of that type. -1 when none. */
static int
bypass_input (JsonObject *node,
              guint       slot,
              const char *type)
{
  JsonArray *inputs = member_array (node, "inputs");
  JsonObject *same = array_object (inputs, slot);

  if (same != NULL && rl_socket_types_compatible (slot_type (same), type))
    return (int) slot;
  for (guint i = 0; inputs != NULL && i < json_array_get_length (inputs); i++)
    {
      JsonObject *input = array_object (inputs, i);

      if (input != NULL && strcmp (slot_type (input), "*") != 0
          && rl_socket_types_compatible (slot_type (input), type))
        return (int) i;
    }
  return -1;
}

/* Follows link @link_id back through reroutes and bypassed nodes to what
 * feeds it. */
static gboolean
resolve_source (Converter   *conv,
                JsonObject  *target,
                gint64       link_id,
                Source      *source,
                GError     **error)
{
  char label[256];

  source->kind = SOURCE_NONE;
  for (guint hops = 0; hops < MAX_LINK_HOPS; hops++)
    {
      RlWorkflowLink *link = g_hash_table_lookup (conv->links, &link_id);
      JsonObject *origin, *output, *input;
      const char *type;
      int mode;

      if (link == NULL)
        return TRUE;   /* a stale id: the input is unconnected */
      origin = converter_node (conv, link->origin_id);
      if (origin == NULL)
        {
          g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INVALID_WORKFLOW,
                       "%s: link %" G_GINT64_FORMAT " into %s comes from node %" G_GINT64_FORMAT
                       ", which is not in the workflow",
                       conv->workflow->source, link_id, node_label (target, label, sizeof label),
                       link->origin_id);
          return FALSE;
        }
      type = member_string (origin, "type");
      mode = node_mode (origin);
      if (strcmp (type, "PrimitiveNode") == 0)
        {
          JsonArray *values = member_array (origin, "widgets_values");

          if (values != NULL && json_array_get_length (values) > 0)
            {
              source->kind = SOURCE_LITERAL;
              source->literal = json_array_get_element (values, 0);
            }
          return TRUE;
        }
      if (strcmp (type, "Note") == 0 || strcmp (type, "MarkdownNote") == 0
          || mode == RL_WORKFLOW_MODE_MUTED)
        return TRUE;
      if (strcmp (type, "Reroute") == 0 || mode == RL_WORKFLOW_MODE_BYPASS)
        {
          int slot = 0;

          if (mode == RL_WORKFLOW_MODE_BYPASS && strcmp (type, "Reroute") != 0)
            {
              output = array_object (member_array (origin, "outputs"), link->origin_slot);
              slot = bypass_input (origin, link->origin_slot,
                                   output != NULL ? slot_type (output) : link->type);
              if (slot < 0)
                return TRUE;
            }
          input = array_object (member_array (origin, "inputs"), (guint) slot);
          if (input == NULL || !member_integer (input, "link", &link_id))
            return TRUE;
          target = origin;
          continue;
        }
      source->kind = SOURCE_NODE;
      source->node_id = link->origin_id;
      source->slot = link->origin_slot;
      return TRUE;
    }
  g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INVALID_WORKFLOW,
               "%s: the links into %s go around a loop of reroutes or bypassed nodes",
               conv->workflow->source, node_label (target, label, sizeof label));
  return FALSE;
}

static gboolean
is_control_value (JsonNode *value)
{
  static const char * const controls[] = { "fixed", "increment", "decrement", "randomize", NULL };

  if (value == NULL || !JSON_NODE_HOLDS_VALUE (value) || json_node_get_value_type (value) != G_TYPE_STRING)
    return FALSE;
  return g_strv_contains (controls, json_node_get_string (value));
}

/* The widgets_values slot after widget @spec's, which starts at @cursor:
 * its value, then its control when it has control_after_generate and the
 * next value is a control (files from before the control have none). */
static guint
next_widget_slot (const RlInputSpec *spec,
                  JsonArray         *values,
                  guint              cursor)
{
  guint n_values = values != NULL ? json_array_get_length (values) : 0;

  cursor++;
  if (spec->control_after_generate && cursor < n_values
      && is_control_value (json_array_get_element (values, cursor)))
    cursor++;
  return cursor;
}

gboolean
rl_workflow_node_find_widget_index (RlWorkflow       *workflow,
                                    gint64            id,
                                    const RlNodeType *type,
                                    const char       *input_name,
                                    guint            *index)
{
  g_autoptr(GPtrArray) widgets = NULL;
  JsonObject *node;
  JsonArray *values;
  guint cursor = 0;

  g_return_val_if_fail (workflow != NULL, FALSE);
  g_return_val_if_fail (type != NULL, FALSE);
  g_return_val_if_fail (input_name != NULL, FALSE);
  g_return_val_if_fail (index != NULL, FALSE);

  node = rl_workflow_lookup_node (workflow, id);
  if (node == NULL || member_object (node, "widgets_values") != NULL)
    return FALSE;
  values = member_array (node, "widgets_values");
  widgets = list_widgets (type);
  for (guint i = 0; i < widgets->len; i++)
    {
      const RlInputSpec *spec = g_ptr_array_index (widgets, i);

      if (strcmp (spec->name, input_name) == 0)
        {
          *index = cursor;
          return TRUE;
        }
      cursor = next_widget_slot (spec, values, cursor);
    }
  return FALSE;
}

/* Maps widgets_values onto the node's widget inputs. */
static void
apply_widget_values (RlGraphNode      *graph_node,
                     const RlNodeType *type,
                     JsonObject       *node)
{
  g_autoptr(GPtrArray) widgets = list_widgets (type);
  JsonArray *values = member_array (node, "widgets_values");
  JsonObject *named = member_object (node, "widgets_values");
  guint cursor = 0;
  guint n_values = values != NULL ? json_array_get_length (values) : 0;

  for (guint i = 0; i < widgets->len; i++)
    {
      const RlInputSpec *spec = g_ptr_array_index (widgets, i);
      JsonNode *value = NULL;

      if (named != NULL)
        value = member (named, spec->name);
      else
        {
          if (cursor < n_values)
            value = json_array_get_element (values, cursor);
          cursor = next_widget_slot (spec, values, cursor);
        }

      if (value != NULL)
        rl_graph_node_set_literal (graph_node, spec->name, value);
      else
        {
          g_autoptr(JsonNode) fallback = default_widget_value (spec);

          if (fallback != NULL)
            rl_graph_node_set_literal (graph_node, spec->name, fallback);
        }
    }
}

/* The input name of a slot: a converted widget names its widget. */
static const char *
slot_input_name (JsonObject *slot)
{
  const char *widget_name = member_string (member_object (slot, "widget"), "name");

  return widget_name != NULL ? widget_name : member_string (slot, "name");
}

static gboolean
apply_input_links (Converter   *conv,
                   RlGraphNode *graph_node,
                   JsonObject  *node,
                   GError     **error)
{
  JsonArray *inputs = member_array (node, "inputs");

  for (guint i = 0; inputs != NULL && i < json_array_get_length (inputs); i++)
    {
      JsonObject *slot = array_object (inputs, i);
      const char *name = slot_input_name (slot);
      gint64 link_id;
      Source source;

      if (name == NULL || !member_integer (slot, "link", &link_id))
        continue;
      if (!resolve_source (conv, node, link_id, &source, error))
        return FALSE;
      if (source.kind == SOURCE_NODE)
        {
          char id_text[32];

          g_snprintf (id_text, sizeof id_text, "%" G_GINT64_FORMAT, source.node_id);
          rl_graph_node_set_link (graph_node, name, id_text, source.slot);
        }
      else if (source.kind == SOURCE_LITERAL)
        rl_graph_node_set_literal (graph_node, name, source.literal);
      else if (member (slot, "widget") == NULL)
        rl_graph_node_remove_input (graph_node, name);
    }
  return TRUE;
}

/* Every node type the workflow uses that @registry lacks, with where. */
static gboolean
check_known_types (Converter *conv,
                   GError   **error)
{
  JsonArray *nodes = doc_nodes (conv->workflow);
  g_autoptr(GHashTable) missing = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                                         (GDestroyNotify) g_ptr_array_unref);
  g_autoptr(GPtrArray) order = g_ptr_array_new ();
  g_autoptr(GString) message = NULL;

  for (guint i = 0; i < json_array_get_length (nodes); i++)
    {
      JsonObject *node = array_object (nodes, i);
      const char *type = member_string (node, "type");
      int mode = node_mode (node);
      GPtrArray *uses;
      char label[256];

      if (is_frontend_only (type) || mode == RL_WORKFLOW_MODE_MUTED || mode == RL_WORKFLOW_MODE_BYPASS
          || rl_registry_lookup (conv->registry, type) != NULL)
        continue;
      uses = g_hash_table_lookup (missing, type);
      if (uses == NULL)
        {
          uses = g_ptr_array_new_with_free_func (g_free);
          g_hash_table_insert (missing, (gpointer) type, uses);
          g_ptr_array_add (order, (gpointer) type);
        }
      g_ptr_array_add (uses, g_strdup (node_label (node, label, sizeof label)));
    }
  if (order->len == 0)
    return TRUE;

  message = g_string_new (NULL);
  g_string_append_printf (message, "%s uses %u node type%s that Raylight does not have:",
                          conv->workflow->source, order->len, order->len == 1 ? "" : "s");
  for (guint i = 0; i < order->len; i++)
    {
      GPtrArray *uses = g_hash_table_lookup (missing, g_ptr_array_index (order, i));

      g_string_append_printf (message, "\n  %s, used by", (const char *) g_ptr_array_index (order, i));
      for (guint j = 0; j < uses->len; j++)
        g_string_append_printf (message, "%s %s", j > 0 ? "," : "", (const char *) g_ptr_array_index (uses, j));
    }
  g_string_append (message, "\nRemove or replace these nodes, or install the plugin that provides them.");
  g_set_error_literal (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_UNKNOWN_NODE_TYPE, message->str);
  return FALSE;
}

static void
index_document (Converter *conv,
                GArray    *link_storage)
{
  JsonArray *nodes = doc_nodes (conv->workflow);

  for (guint i = 0; i < json_array_get_length (nodes); i++)
    {
      JsonObject *node = array_object (nodes, i);
      gint64 *id = g_new (gint64, 1);

      member_integer (node, "id", id);
      g_hash_table_insert (conv->nodes, id, node);
    }
  for (guint i = 0; i < rl_workflow_get_n_links (conv->workflow); i++)
    {
      RlWorkflowLink link;

      if (rl_workflow_get_link (conv->workflow, i, &link))
        g_array_append_val (link_storage, link);
    }
  for (guint i = 0; i < link_storage->len; i++)
    {
      RlWorkflowLink *link = &g_array_index (link_storage, RlWorkflowLink, i);

      g_hash_table_insert (conv->links, &link->id, link);
    }
}

static gboolean
convert_node (Converter  *conv,
              RlGraph    *graph,
              JsonObject *node,
              GError    **error)
{
  const char *type_name = member_string (node, "type");
  const RlNodeType *type;
  RlGraphNode *graph_node;
  char id_text[32];
  gint64 id = 0;
  int mode = node_mode (node);

  if (is_frontend_only (type_name) || mode == RL_WORKFLOW_MODE_MUTED || mode == RL_WORKFLOW_MODE_BYPASS)
    return TRUE;
  type = rl_registry_lookup (conv->registry, type_name);
  g_assert (type != NULL);

  member_integer (node, "id", &id);
  g_snprintf (id_text, sizeof id_text, "%" G_GINT64_FORMAT, id);
  graph_node = rl_graph_add_node (graph, id_text, type_name);
  g_assert (graph_node != NULL);   /* ids were checked unique at load */
  rl_graph_node_set_title (graph_node, member_string (node, "title"));
  apply_widget_values (graph_node, type, node);
  return apply_input_links (conv, graph_node, node, error);
}

RlGraph *
rl_workflow_to_graph (RlWorkflow       *workflow,
                      const RlRegistry *registry,
                      GError          **error)
{
  g_autoptr(GArray) link_storage = g_array_new (FALSE, FALSE, sizeof (RlWorkflowLink));
  g_autoptr(RlGraph) graph = NULL;
  Converter conv;
  JsonArray *nodes;
  gboolean ok;

  g_return_val_if_fail (workflow != NULL, NULL);
  g_return_val_if_fail (registry != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  conv.workflow = workflow;
  conv.registry = registry;
  conv.nodes = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  conv.links = g_hash_table_new (g_int64_hash, g_int64_equal);
  index_document (&conv, link_storage);

  ok = check_known_types (&conv, error);
  graph = rl_graph_new ();
  nodes = doc_nodes (workflow);
  for (guint i = 0; ok && i < json_array_get_length (nodes); i++)
    ok = convert_node (&conv, graph, array_object (nodes, i), error);

  g_hash_table_unref (conv.nodes);
  g_hash_table_unref (conv.links);
  return ok ? g_steal_pointer (&graph) : NULL;
}
