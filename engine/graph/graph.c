/* The executable graph, ComfyUI's API prompt (see graph.h). */
#include "engine/graph/graph.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "engine/engine-error.h"
#include "engine/graph/json-copy.h"
#include "engine/graph/json-load.h"
#include "engine/graph/registry.h"

typedef struct {
  char     *name;
  JsonNode *literal;       /* owned; NULL for a link */
  char     *from_node_id;  /* link source, or NULL */
  guint     from_output;
} GraphInput;

struct _RlGraphNode {
  char      *id;
  char      *class_type;
  char      *title;        /* or NULL */
  GPtrArray *inputs;       /* GraphInput *, in insertion order */
};

struct _RlGraph {
  gatomicrefcount  ref_count;
  GHashTable      *by_id;  /* id (borrowed from node) -> RlGraphNode * */
  GPtrArray       *nodes;  /* RlGraphNode *, owned, in stable order */
};

static void
graph_input_free (gpointer data)
{
  GraphInput *input = data;

  g_free (input->name);
  if (input->literal != NULL)
    json_node_unref (input->literal);
  g_free (input->from_node_id);
  g_free (input);
}

static void
graph_node_free (gpointer data)
{
  RlGraphNode *node = data;

  g_free (node->id);
  g_free (node->class_type);
  g_free (node->title);
  g_ptr_array_unref (node->inputs);
  g_free (node);
}

RlGraph *
rl_graph_new (void)
{
  RlGraph *graph = g_new0 (RlGraph, 1);

  g_atomic_ref_count_init (&graph->ref_count);
  graph->by_id = g_hash_table_new (g_str_hash, g_str_equal);
  graph->nodes = g_ptr_array_new_with_free_func (graph_node_free);
  return graph;
}

RlGraph *
rl_graph_ref (RlGraph *graph)
{
  g_return_val_if_fail (graph != NULL, NULL);

  g_atomic_ref_count_inc (&graph->ref_count);
  return graph;
}

void
rl_graph_unref (RlGraph *graph)
{
  if (graph == NULL || !g_atomic_ref_count_dec (&graph->ref_count))
    return;
  g_hash_table_unref (graph->by_id);
  g_ptr_array_unref (graph->nodes);
  g_free (graph);
}

/* An id made of at most 18 digits, read as a number for ordering. */
static gboolean
id_as_number (const char *id,
              guint64    *number)
{
  gsize len = strlen (id);

  if (len == 0 || len > 18)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isdigit (id[i]))
      return FALSE;
  *number = g_ascii_strtoull (id, NULL, 10);
  return TRUE;
}

/* Integer ids first, numerically (then by text, for "01" vs "1"); then
 * the others by strcmp. */
static int
compare_ids (const char *a,
             const char *b)
{
  guint64 na = 0, nb = 0;
  gboolean a_num = id_as_number (a, &na);
  gboolean b_num = id_as_number (b, &nb);

  if (a_num && b_num && na != nb)
    return na < nb ? -1 : 1;
  if (a_num != b_num)
    return a_num ? -1 : 1;
  return strcmp (a, b);
}

RlGraphNode *
rl_graph_add_node (RlGraph    *graph,
                   const char *node_id,
                   const char *class_type)
{
  RlGraphNode *node;
  guint lo = 0, hi;

  g_return_val_if_fail (graph != NULL, NULL);
  g_return_val_if_fail (node_id != NULL, NULL);
  g_return_val_if_fail (class_type != NULL, NULL);

  if (g_hash_table_contains (graph->by_id, node_id))
    return NULL;

  node = g_new0 (RlGraphNode, 1);
  node->id = g_strdup (node_id);
  node->class_type = g_strdup (class_type);
  node->inputs = g_ptr_array_new_with_free_func (graph_input_free);

  hi = graph->nodes->len;
  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      RlGraphNode *other = g_ptr_array_index (graph->nodes, mid);

      if (compare_ids (other->id, node_id) < 0)
        lo = mid + 1;
      else
        hi = mid;
    }
  g_ptr_array_insert (graph->nodes, (gint) lo, node);
  g_hash_table_insert (graph->by_id, node->id, node);
  return node;
}

gboolean
rl_graph_remove_node (RlGraph    *graph,
                      const char *node_id)
{
  RlGraphNode *node;

  g_return_val_if_fail (graph != NULL, FALSE);
  g_return_val_if_fail (node_id != NULL, FALSE);

  node = g_hash_table_lookup (graph->by_id, node_id);
  if (node == NULL)
    return FALSE;
  g_hash_table_remove (graph->by_id, node_id);
  g_ptr_array_remove (graph->nodes, node);
  return TRUE;
}

RlGraphNode *
rl_graph_lookup (RlGraph    *graph,
                 const char *node_id)
{
  g_return_val_if_fail (graph != NULL, NULL);

  if (node_id == NULL)
    return NULL;
  return g_hash_table_lookup (graph->by_id, node_id);
}

guint
rl_graph_get_n_nodes (RlGraph *graph)
{
  g_return_val_if_fail (graph != NULL, 0);

  return graph->nodes->len;
}

RlGraphNode *
rl_graph_get_node (RlGraph *graph,
                   guint    index)
{
  g_return_val_if_fail (graph != NULL, NULL);
  g_return_val_if_fail (index < graph->nodes->len, NULL);

  return g_ptr_array_index (graph->nodes, index);
}

const char *
rl_graph_node_get_id (const RlGraphNode *node)
{
  g_return_val_if_fail (node != NULL, NULL);

  return node->id;
}

const char *
rl_graph_node_get_class_type (const RlGraphNode *node)
{
  g_return_val_if_fail (node != NULL, NULL);

  return node->class_type;
}

const char *
rl_graph_node_get_title (const RlGraphNode *node)
{
  g_return_val_if_fail (node != NULL, NULL);

  return node->title;
}

const char *
rl_graph_node_get_display_title (const RlGraphNode *node)
{
  g_return_val_if_fail (node != NULL, NULL);

  return node->title != NULL && *node->title != '\0' ? node->title : node->class_type;
}

void
rl_graph_node_set_title (RlGraphNode *node,
                         const char  *title)
{
  g_return_if_fail (node != NULL);

  g_free (node->title);
  node->title = g_strdup (title);
}

guint
rl_graph_node_get_n_inputs (const RlGraphNode *node)
{
  g_return_val_if_fail (node != NULL, 0);

  return node->inputs->len;
}

const char *
rl_graph_node_get_input_name (const RlGraphNode *node,
                              guint              index)
{
  g_return_val_if_fail (node != NULL, NULL);
  g_return_val_if_fail (index < node->inputs->len, NULL);

  return ((GraphInput *) g_ptr_array_index (node->inputs, index))->name;
}

static GraphInput *
find_input (const RlGraphNode *node,
            const char        *name)
{
  for (guint i = 0; i < node->inputs->len; i++)
    {
      GraphInput *input = g_ptr_array_index (node->inputs, i);

      if (strcmp (input->name, name) == 0)
        return input;
    }
  return NULL;
}

gboolean
rl_graph_node_has_input (const RlGraphNode *node,
                         const char        *name)
{
  g_return_val_if_fail (node != NULL, FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  return find_input (node, name) != NULL;
}

gboolean
rl_graph_node_get_link (const RlGraphNode  *node,
                        const char         *name,
                        const char        **from_node_id,
                        guint              *from_output)
{
  GraphInput *input;

  g_return_val_if_fail (node != NULL, FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  input = find_input (node, name);
  if (input == NULL || input->from_node_id == NULL)
    return FALSE;
  if (from_node_id != NULL)
    *from_node_id = input->from_node_id;
  if (from_output != NULL)
    *from_output = input->from_output;
  return TRUE;
}

JsonNode *
rl_graph_node_get_literal (const RlGraphNode *node,
                           const char        *name)
{
  GraphInput *input;

  g_return_val_if_fail (node != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);

  input = find_input (node, name);
  return input != NULL ? input->literal : NULL;
}

/* The input @name emptied for a new value, created at the end if absent
 * (an existing input keeps its place, so overrides keep file order). */
static GraphInput *
reset_input (RlGraphNode *node,
             const char  *name)
{
  GraphInput *input = find_input (node, name);

  if (input == NULL)
    {
      input = g_new0 (GraphInput, 1);
      input->name = g_strdup (name);
      g_ptr_array_add (node->inputs, input);
      return input;
    }
  g_clear_pointer (&input->literal, json_node_unref);
  g_clear_pointer (&input->from_node_id, g_free);
  input->from_output = 0;
  return input;
}

void
rl_graph_node_set_literal (RlGraphNode *node,
                           const char  *name,
                           JsonNode    *value)
{
  GraphInput *input;

  g_return_if_fail (node != NULL);
  g_return_if_fail (name != NULL);
  g_return_if_fail (value != NULL);

  input = reset_input (node, name);
  input->literal = rl_json_node_deep_copy (value);
}

void
rl_graph_node_set_int (RlGraphNode *node,
                       const char  *name,
                       gint64       value)
{
  g_autoptr(JsonNode) json = json_node_init_int (json_node_alloc (), value);

  rl_graph_node_set_literal (node, name, json);
}

void
rl_graph_node_set_float (RlGraphNode *node,
                         const char  *name,
                         double       value)
{
  g_autoptr(JsonNode) json = json_node_init_double (json_node_alloc (), value);

  rl_graph_node_set_literal (node, name, json);
}

void
rl_graph_node_set_string (RlGraphNode *node,
                          const char  *name,
                          const char  *value)
{
  g_autoptr(JsonNode) json = json_node_init_string (json_node_alloc (), value != NULL ? value : "");

  rl_graph_node_set_literal (node, name, json);
}

void
rl_graph_node_set_boolean (RlGraphNode *node,
                           const char  *name,
                           gboolean     value)
{
  g_autoptr(JsonNode) json = json_node_init_boolean (json_node_alloc (), value);

  rl_graph_node_set_literal (node, name, json);
}

void
rl_graph_node_set_link (RlGraphNode *node,
                        const char  *name,
                        const char  *from_node_id,
                        guint        from_output)
{
  GraphInput *input;

  g_return_if_fail (node != NULL);
  g_return_if_fail (name != NULL);
  g_return_if_fail (from_node_id != NULL);

  input = reset_input (node, name);
  input->from_node_id = g_strdup (from_node_id);
  input->from_output = from_output;
}

gboolean
rl_graph_node_remove_input (RlGraphNode *node,
                            const char  *name)
{
  GraphInput *input;

  g_return_val_if_fail (node != NULL, FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  input = find_input (node, name);
  if (input == NULL)
    return FALSE;
  g_ptr_array_remove (node->inputs, input);
  return TRUE;
}

RlGraph *
rl_graph_copy (RlGraph *graph)
{
  RlGraph *copy;

  g_return_val_if_fail (graph != NULL, NULL);

  copy = rl_graph_new ();
  for (guint i = 0; i < graph->nodes->len; i++)
    {
      RlGraphNode *node = g_ptr_array_index (graph->nodes, i);
      RlGraphNode *node_copy = rl_graph_add_node (copy, node->id, node->class_type);

      rl_graph_node_set_title (node_copy, node->title);
      for (guint j = 0; j < node->inputs->len; j++)
        {
          GraphInput *input = g_ptr_array_index (node->inputs, j);

          if (input->from_node_id != NULL)
            rl_graph_node_set_link (node_copy, input->name, input->from_node_id, input->from_output);
          else
            rl_graph_node_set_literal (node_copy, input->name, input->literal);
        }
    }
  return copy;
}

/* ---- Reading the API prompt */

/* A link is [node_id, output_index] as ComfyUI reads it: a two-element
 * list whose first element is a string or integer and whose second is a
 * non-negative integer. */
static gboolean
read_link (JsonNode  *value,
           char     **from_node_id,
           guint     *from_output)
{
  JsonArray *array;
  JsonNode *first, *second;
  gint64 output;

  if (!JSON_NODE_HOLDS_ARRAY (value))
    return FALSE;
  array = json_node_get_array (value);
  if (json_array_get_length (array) != 2)
    return FALSE;
  first = json_array_get_element (array, 0);
  second = json_array_get_element (array, 1);
  if (!JSON_NODE_HOLDS_VALUE (first) || !JSON_NODE_HOLDS_VALUE (second))
    return FALSE;
  if (json_node_get_value_type (second) != G_TYPE_INT64)
    return FALSE;
  output = json_node_get_int (second);
  if (output < 0 || output > G_MAXINT)
    return FALSE;
  if (json_node_get_value_type (first) == G_TYPE_STRING)
    *from_node_id = g_strdup (json_node_get_string (first));
  else if (json_node_get_value_type (first) == G_TYPE_INT64)
    *from_node_id = g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (first));
  else
    return FALSE;
  *from_output = (guint) output;
  return TRUE;
}

static gboolean
prompt_fail (GError    **error,
             const char *source,
             const char *node_id,
             const char *what)
{
  g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INVALID_WORKFLOW,
               "%s: node \"%s\": %s", source, node_id, what);
  return FALSE;
}

static gboolean
read_prompt_node (RlGraph    *graph,
                  const char *source,
                  const char *node_id,
                  JsonNode   *node_json,
                  GError    **error)
{
  JsonObject *object, *meta;
  JsonObject *inputs = NULL;
  JsonNode *member;
  RlGraphNode *node;
  const char *class_type;

  if (!JSON_NODE_HOLDS_OBJECT (node_json))
    return prompt_fail (error, source, node_id,
                        "must be an object with \"class_type\" and \"inputs\"");
  object = json_node_get_object (node_json);
  member = json_object_get_member (object, "class_type");
  if (member == NULL || !JSON_NODE_HOLDS_VALUE (member)
      || json_node_get_value_type (member) != G_TYPE_STRING
      || *(class_type = json_node_get_string (member)) == '\0')
    return prompt_fail (error, source, node_id, "field \"class_type\" is missing or not a string");

  member = json_object_get_member (object, "inputs");
  if (member != NULL && !JSON_NODE_HOLDS_NULL (member))
    {
      if (!JSON_NODE_HOLDS_OBJECT (member))
        return prompt_fail (error, source, node_id, "field \"inputs\" must be an object");
      inputs = json_node_get_object (member);
    }

  node = rl_graph_add_node (graph, node_id, class_type);
  if (node == NULL)
    return prompt_fail (error, source, node_id, "the node id is used twice");

  member = json_object_get_member (object, "_meta");
  if (member != NULL && JSON_NODE_HOLDS_OBJECT (member))
    {
      meta = json_node_get_object (member);
      member = json_object_get_member (meta, "title");
      if (member != NULL && JSON_NODE_HOLDS_VALUE (member)
          && json_node_get_value_type (member) == G_TYPE_STRING)
        rl_graph_node_set_title (node, json_node_get_string (member));
    }

  if (inputs != NULL)
    {
      /* json_object_get_members keeps file order; iterators do not. */
      g_autoptr(GList) names = json_object_get_members (inputs);

      for (GList *l = names; l != NULL; l = l->next)
        {
          const char *name = l->data;
          JsonNode *value = json_object_get_member (inputs, name);
          g_autofree char *from_node_id = NULL;
          guint from_output = 0;

          if (read_link (value, &from_node_id, &from_output))
            rl_graph_node_set_link (node, name, from_node_id, from_output);
          else
            rl_graph_node_set_literal (node, name, value);
        }
    }
  return TRUE;
}

/* ComfyUI's POST /prompt body wraps the prompt: {"prompt": {...}, ...}. */
static JsonObject *
unwrap_prompt (JsonObject *root)
{
  JsonNode *inner = json_object_get_member (root, "prompt");

  if (inner != NULL && JSON_NODE_HOLDS_OBJECT (inner)
      && !json_object_has_member (json_node_get_object (inner), "class_type"))
    return json_node_get_object (inner);
  return root;
}

RlGraph *
rl_graph_new_from_prompt_json (JsonNode   *root,
                               const char *source_name,
                               GError    **error)
{
  g_autoptr(RlGraph) graph = NULL;
  const char *source = source_name != NULL ? source_name : "<data>";
  JsonObject *object;
  g_autoptr(GList) names = NULL;

  g_return_val_if_fail (root != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INVALID_WORKFLOW,
                   "%s: an API prompt must be a JSON object of nodes by id", source);
      return NULL;
    }
  object = unwrap_prompt (json_node_get_object (root));
  if (json_object_has_member (object, "nodes") && json_object_has_member (object, "links"))
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INVALID_WORKFLOW,
                   "%s: this is a UI workflow, not an API prompt; load it as a workflow", source);
      return NULL;
    }

  graph = rl_graph_new ();
  names = json_object_get_members (object);
  for (GList *l = names; l != NULL; l = l->next)
    if (!read_prompt_node (graph, source, l->data, json_object_get_member (object, l->data), error))
      return NULL;
  return g_steal_pointer (&graph);
}

RlGraph *
rl_graph_load_prompt_data (const char *data,
                           gssize      length,
                           const char *source_name,
                           GError    **error)
{
  g_autoptr(JsonNode) root = NULL;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  root = rl_json_load_data (data, length, source_name, error);
  if (root == NULL)
    return NULL;
  return rl_graph_new_from_prompt_json (root, source_name, error);
}

RlGraph *
rl_graph_load_prompt_file (const char *path,
                           GError    **error)
{
  g_autoptr(JsonNode) root = NULL;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  root = rl_json_load_file (path, NULL, error);
  if (root == NULL)
    return NULL;
  return rl_graph_new_from_prompt_json (root, path, error);
}

/* ---- Writing */

static void
add_input_json (JsonBuilder *builder,
                GraphInput  *input)
{
  json_builder_set_member_name (builder, input->name);
  if (input->from_node_id == NULL)
    {
      json_builder_add_value (builder, json_node_copy (input->literal));
      return;
    }
  json_builder_begin_array (builder);
  json_builder_add_string_value (builder, input->from_node_id);
  json_builder_add_int_value (builder, input->from_output);
  json_builder_end_array (builder);
}

JsonNode *
rl_graph_to_prompt_json (RlGraph *graph)
{
  g_autoptr(JsonBuilder) builder = NULL;

  g_return_val_if_fail (graph != NULL, NULL);

  builder = json_builder_new ();
  json_builder_begin_object (builder);
  for (guint i = 0; i < graph->nodes->len; i++)
    {
      RlGraphNode *node = g_ptr_array_index (graph->nodes, i);

      json_builder_set_member_name (builder, node->id);
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "inputs");
      json_builder_begin_object (builder);
      for (guint j = 0; j < node->inputs->len; j++)
        add_input_json (builder, g_ptr_array_index (node->inputs, j));
      json_builder_end_object (builder);
      json_builder_set_member_name (builder, "class_type");
      json_builder_add_string_value (builder, node->class_type);
      json_builder_set_member_name (builder, "_meta");
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "title");
      json_builder_add_string_value (builder, rl_graph_node_get_display_title (node));
      json_builder_end_object (builder);
      json_builder_end_object (builder);
    }
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

char *
rl_graph_to_prompt_string (RlGraph  *graph,
                           gboolean  pretty)
{
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(JsonGenerator) generator = NULL;

  g_return_val_if_fail (graph != NULL, NULL);

  root = rl_graph_to_prompt_json (graph);
  generator = json_generator_new ();
  json_generator_set_pretty (generator, pretty);
  json_generator_set_indent (generator, 2);
  json_generator_set_root (generator, root);
  return json_generator_to_data (generator, NULL);
}

gboolean
rl_graph_save_prompt_file (RlGraph    *graph,
                           const char *path,
                           GError    **error)
{
  g_autoptr(JsonNode) root = NULL;

  g_return_val_if_fail (graph != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  root = rl_graph_to_prompt_json (graph);
  return rl_json_save_file (root, path, error);
}

/* ---- Command-line overrides */

static gboolean
override_fail (GError    **error,
               const char *assignment,
               const char *format,
               ...) G_GNUC_PRINTF (3, 4);

static gboolean
override_fail (GError    **error,
               const char *assignment,
               const char *format,
               ...)
{
  g_autofree char *what = NULL;
  va_list args;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INVALID_WORKFLOW,
               "Cannot apply \"%s\": %s", assignment, what);
  return FALSE;
}

/* The node named @ref: by id, else by its unique title. */
static RlGraphNode *
find_override_node (RlGraph    *graph,
                    const char *ref,
                    const char *assignment,
                    GError    **error)
{
  RlGraphNode *found = rl_graph_lookup (graph, ref);

  if (found != NULL)
    return found;
  for (guint i = 0; i < graph->nodes->len; i++)
    {
      RlGraphNode *node = g_ptr_array_index (graph->nodes, i);

      if (g_strcmp0 (node->title, ref) != 0)
        continue;
      if (found != NULL)
        {
          override_fail (error, assignment, "nodes %s and %s are both titled \"%s\"; use the node id",
                         found->id, node->id, ref);
          return NULL;
        }
      found = node;
    }
  if (found == NULL)
    override_fail (error, assignment, "there is no node with id or title \"%s\"", ref);
  return found;
}

/* @text read as the kind of @spec; NULL with an error when it is not one. */
static JsonNode *
parse_override_value (const RlInputSpec *spec,
                      const char        *text,
                      const char        *assignment,
                      GError           **error)
{
  if (spec != NULL && spec->kind == RL_INPUT_INT)
    {
      gint64 v;
      char *end = NULL;

      errno = 0;
      v = g_ascii_strtoll (text, &end, 10);
      if (*text == '\0' || *end != '\0' || errno == ERANGE)
        {
          override_fail (error, assignment, "input %s takes a whole number", spec->name);
          return NULL;
        }
      return json_node_init_int (json_node_alloc (), v);
    }
  if (spec != NULL && spec->kind == RL_INPUT_FLOAT)
    {
      double v;
      char *end = NULL;

      v = g_ascii_strtod (text, &end);
      if (*text == '\0' || *end != '\0' || !isfinite (v))
        {
          override_fail (error, assignment, "input %s takes a number", spec->name);
          return NULL;
        }
      return json_node_init_double (json_node_alloc (), v);
    }
  if (spec != NULL && spec->kind == RL_INPUT_BOOLEAN)
    {
      if (g_ascii_strcasecmp (text, "true") == 0 || strcmp (text, "1") == 0)
        return json_node_init_boolean (json_node_alloc (), TRUE);
      if (g_ascii_strcasecmp (text, "false") == 0 || strcmp (text, "0") == 0)
        return json_node_init_boolean (json_node_alloc (), FALSE);
      override_fail (error, assignment, "input %s takes true or false", spec->name);
      return NULL;
    }
  if (spec != NULL)
    return json_node_init_string (json_node_alloc (), text);

  {
    g_autoptr(JsonNode) parsed = rl_json_load_data (text, -1, "value", NULL);

    if (parsed != NULL)
      return g_steal_pointer (&parsed);
    return json_node_init_string (json_node_alloc (), text);
  }
}

gboolean
rl_graph_apply_override (RlGraph          *graph,
                         const RlRegistry *registry,
                         const char       *assignment,
                         GError          **error)
{
  g_autofree char *ref = NULL;
  const char *equals, *dot;
  const char *input_name;
  const RlInputSpec *spec = NULL;
  RlGraphNode *node;
  g_autoptr(JsonNode) value = NULL;

  g_return_val_if_fail (graph != NULL, FALSE);
  g_return_val_if_fail (assignment != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  equals = strchr (assignment, '=');
  if (equals == NULL)
    return override_fail (error, assignment, "expected NODE.INPUT=VALUE");
  /* The last dot before '=' splits node from input: titles may hold dots. */
  dot = NULL;
  for (const char *p = assignment; p < equals; p++)
    if (*p == '.')
      dot = p;
  if (dot == NULL || dot == assignment || dot + 1 == equals)
    return override_fail (error, assignment, "expected NODE.INPUT=VALUE");

  ref = g_strndup (assignment, (gsize) (dot - assignment));
  node = find_override_node (graph, ref, assignment, error);
  if (node == NULL)
    return FALSE;
  input_name = dot + 1;
  {
    g_autofree char *name = g_strndup (input_name, (gsize) (equals - input_name));
    const RlNodeType *type = registry != NULL ? rl_registry_lookup (registry, node->class_type) : NULL;

    if (type != NULL)
      {
        spec = rl_node_type_find_input (type, name);
        if (spec == NULL)
          return override_fail (error, assignment, "node %s (%s) has no input \"%s\"",
                                node->id, node->class_type, name);
        if (spec->kind == RL_INPUT_LINK)
          return override_fail (error, assignment, "input %s of node %s is a link, not a value",
                                name, node->id);
      }
    value = parse_override_value (spec, equals + 1, assignment, error);
    if (value == NULL)
      return FALSE;
    rl_graph_node_set_literal (node, name, value);
  }
  return TRUE;
}
