/* Graph validation against the registry (see validate.h). */
#include "engine/graph/validate.h"

#include <math.h>
#include <string.h>

#include "engine/engine-error.h"
#include "engine/graph/model-paths.h"
#include "engine/graph/registry.h"

/* Enough options to recognise the right one; the rest are counted. */
#define MAX_LISTED_OPTIONS 24

void
rl_validation_issue_free (RlValidationIssue *issue)
{
  if (issue == NULL)
    return;
  g_free (issue->kind);
  g_free (issue->node_id);
  g_free (issue->node_type);
  g_free (issue->title);
  g_free (issue->input_name);
  g_free (issue->message);
  g_free (issue->details);
  g_free (issue);
}

static void
add_issue (GPtrArray         *issues,
           const char        *kind,
           const RlGraphNode *node,
           const char        *input_name,
           char              *message,   /* taken */
           char              *details)   /* taken, may be NULL */
{
  RlValidationIssue *issue = g_new0 (RlValidationIssue, 1);

  issue->kind = g_strdup (kind);
  if (node != NULL)
    {
      issue->node_id = g_strdup (rl_graph_node_get_id (node));
      issue->node_type = g_strdup (rl_graph_node_get_class_type (node));
      issue->title = g_strdup (rl_graph_node_get_display_title (node));
    }
  issue->input_name = g_strdup (input_name);
  issue->message = message;
  issue->details = details;
  g_ptr_array_add (issues, issue);
}

static const char *
spec_type_name (const RlInputSpec *spec)
{
  switch (spec->kind)
    {
    case RL_INPUT_LINK:    return spec->type;
    case RL_INPUT_INT:     return "INT";
    case RL_INPUT_FLOAT:   return "FLOAT";
    case RL_INPUT_STRING:  return "STRING";
    case RL_INPUT_BOOLEAN: return "BOOLEAN";
    case RL_INPUT_COMBO:   return "COMBO";
    default:               return "?";
    }
}

static const char *
json_type_name (JsonNode *value)
{
  if (JSON_NODE_HOLDS_NULL (value))
    return "null";
  if (JSON_NODE_HOLDS_ARRAY (value))
    return "a list";
  if (JSON_NODE_HOLDS_OBJECT (value))
    return "an object";
  switch (json_node_get_value_type (value))
    {
    case G_TYPE_INT64:   return "an integer";
    case G_TYPE_DOUBLE:  return "a number";
    case G_TYPE_BOOLEAN: return "a boolean";
    case G_TYPE_STRING:  return "a string";
    default:             return "a value";
    }
}

static char *
json_to_short_text (JsonNode *value)
{
  g_autofree char *text = json_to_string (value, FALSE);

  if (strlen (text) > 80)
    return g_strdup_printf ("%.77s...", text);
  return g_steal_pointer (&text);
}

/* ---- Links */

static void
check_link (GPtrArray         *issues,
            RlGraph           *graph,
            const RlRegistry  *registry,
            const RlGraphNode *node,
            const RlInputSpec *spec,
            const char        *from_id,
            guint              from_output)
{
  RlGraphNode *source = rl_graph_lookup (graph, from_id);
  const RlNodeType *source_type;
  const char *received, *expected;

  if (source == NULL)
    {
      add_issue (issues, "bad_linked_input", node, spec->name,
                 g_strdup_printf ("Input %s is linked to node %s, which does not exist",
                                  spec->name, from_id),
                 g_strdup_printf ("link [\"%s\", %u]", from_id, from_output));
      return;
    }
  source_type = rl_registry_lookup (registry, rl_graph_node_get_class_type (source));
  if (source_type == NULL)
    return;   /* reported on the source itself */
  if (from_output >= source_type->n_outputs)
    {
      add_issue (issues, "bad_linked_input", node, spec->name,
                 g_strdup_printf ("Input %s is linked to output %u of node %s (%s), which has %u output%s",
                                  spec->name, from_output, from_id, source_type->name,
                                  source_type->n_outputs, source_type->n_outputs == 1 ? "" : "s"),
                 g_strdup_printf ("link [\"%s\", %u]", from_id, from_output));
      return;
    }
  received = source_type->outputs[from_output].type;
  expected = spec_type_name (spec);
  if (rl_socket_types_compatible (received, expected))
    return;
  if (spec->kind == RL_INPUT_COMBO && rl_socket_types_compatible (received, "STRING"))
    return;
  add_issue (issues, "return_type_mismatch", node, spec->name,
             g_strdup_printf ("Input %s takes %s but is linked to output %u of node %s (%s), which gives %s",
                              spec->name, expected, from_output, from_id, source_type->name, received),
             g_strdup_printf ("received_type %s, input_type %s", received, expected));
}

/* ---- Literal values */

static void
report_wrong_type (GPtrArray         *issues,
                   const RlGraphNode *node,
                   const RlInputSpec *spec,
                   JsonNode          *value,
                   const char        *wanted)
{
  g_autofree char *text = json_to_short_text (value);

  add_issue (issues, "invalid_input_type", node, spec->name,
             g_strdup_printf ("Input %s takes %s, got %s", spec->name, wanted, json_type_name (value)),
             g_strdup_printf ("received %s", text));
}

static void
check_int (GPtrArray         *issues,
           const RlGraphNode *node,
           const RlInputSpec *spec,
           JsonNode          *value)
{
  gboolean bounded = spec->int_min != 0 || spec->int_max != 0;
  gint64 min = bounded ? spec->int_min : G_MININT64;
  gint64 max = bounded ? spec->int_max : G_MAXINT64;
  g_autofree char *text = json_to_short_text (value);
  gint64 v;

  if (!JSON_NODE_HOLDS_VALUE (value))
    {
      report_wrong_type (issues, node, spec, value, "a whole number");
      return;
    }
  if (json_node_get_value_type (value) == G_TYPE_DOUBLE)
    {
      double d = json_node_get_double (value);

      /* 2^63 is the first double beyond int64. */
      if (d >= 9223372036854775808.0)
        {
          add_issue (issues, "value_bigger_than_max", node, spec->name,
                     g_strdup_printf ("Value %s of input %s is bigger than the maximum %" G_GINT64_FORMAT,
                                      text, spec->name, max),
                     g_strdup_printf ("min %" G_GINT64_FORMAT ", max %" G_GINT64_FORMAT, min, max));
          return;
        }
      if (d < -9223372036854775808.0)
        {
          add_issue (issues, "value_smaller_than_min", node, spec->name,
                     g_strdup_printf ("Value %s of input %s is smaller than the minimum %" G_GINT64_FORMAT,
                                      text, spec->name, min),
                     g_strdup_printf ("min %" G_GINT64_FORMAT ", max %" G_GINT64_FORMAT, min, max));
          return;
        }
      if (isnan (d) || d != floor (d))
        {
          add_issue (issues, "invalid_input_type", node, spec->name,
                     g_strdup_printf ("Input %s takes a whole number, got %s", spec->name, text),
                     g_strdup_printf ("received %s", text));
          return;
        }
      v = (gint64) d;
    }
  else if (json_node_get_value_type (value) == G_TYPE_INT64)
    v = json_node_get_int (value);
  else
    {
      report_wrong_type (issues, node, spec, value, "a whole number");
      return;
    }

  if (v < min)
    add_issue (issues, "value_smaller_than_min", node, spec->name,
               g_strdup_printf ("Value %" G_GINT64_FORMAT " of input %s is smaller than the minimum %" G_GINT64_FORMAT,
                                v, spec->name, min),
               g_strdup_printf ("min %" G_GINT64_FORMAT ", max %" G_GINT64_FORMAT, min, max));
  else if (v > max)
    add_issue (issues, "value_bigger_than_max", node, spec->name,
               g_strdup_printf ("Value %" G_GINT64_FORMAT " of input %s is bigger than the maximum %" G_GINT64_FORMAT,
                                v, spec->name, max),
               g_strdup_printf ("min %" G_GINT64_FORMAT ", max %" G_GINT64_FORMAT, min, max));
}

static void
check_float (GPtrArray         *issues,
             const RlGraphNode *node,
             const RlInputSpec *spec,
             JsonNode          *value)
{
  gboolean bounded = spec->float_min != 0.0 || spec->float_max != 0.0;
  double d;

  if (!JSON_NODE_HOLDS_VALUE (value)
      || (json_node_get_value_type (value) != G_TYPE_DOUBLE
          && json_node_get_value_type (value) != G_TYPE_INT64))
    {
      report_wrong_type (issues, node, spec, value, "a number");
      return;
    }
  d = json_node_get_double (value);
  if (!isfinite (d))
    {
      report_wrong_type (issues, node, spec, value, "a finite number");
      return;
    }
  if (!bounded)
    return;
  if (d < spec->float_min)
    add_issue (issues, "value_smaller_than_min", node, spec->name,
               g_strdup_printf ("Value %g of input %s is smaller than the minimum %g",
                                d, spec->name, spec->float_min),
               g_strdup_printf ("min %g, max %g", spec->float_min, spec->float_max));
  else if (d > spec->float_max)
    add_issue (issues, "value_bigger_than_max", node, spec->name,
               g_strdup_printf ("Value %g of input %s is bigger than the maximum %g",
                                d, spec->name, spec->float_max),
               g_strdup_printf ("min %g, max %g", spec->float_min, spec->float_max));
}

static char *
describe_options (GPtrArray         *options,
                  const RlRegistry  *registry,
                  const RlInputSpec *spec)
{
  GString *text = g_string_new ("allowed: ");

  if (options->len == 0)
    {
      RlModelPaths *paths = rl_registry_get_model_paths (registry);

      g_string_append (text, "none");
      if (spec->combo_model_folder != NULL && paths != NULL)
        {
          g_autoptr(GPtrArray) dirs = rl_model_paths_list_folder_dirs (paths, spec->combo_model_folder);

          g_string_append_printf (text, " (no model files in the %s folders:", spec->combo_model_folder);
          for (guint i = 0; i < dirs->len; i++)
            g_string_append_printf (text, " %s", (const char *) g_ptr_array_index (dirs, i));
          g_string_append (text, ")");
        }
      else if (spec->combo_model_folder != NULL)
        g_string_append (text, " (no model folders are configured)");
      return g_string_free (text, FALSE);
    }
  for (guint i = 0; i < options->len && i < MAX_LISTED_OPTIONS; i++)
    g_string_append_printf (text, "%s\"%s\"", i > 0 ? ", " : "",
                            (const char *) g_ptr_array_index (options, i));
  if (options->len > MAX_LISTED_OPTIONS)
    g_string_append_printf (text, " and %u more", options->len - MAX_LISTED_OPTIONS);
  return g_string_free (text, FALSE);
}

static void
check_combo (GPtrArray         *issues,
             const RlRegistry  *registry,
             const RlGraphNode *node,
             const RlInputSpec *spec,
             JsonNode          *value)
{
  g_autoptr(GPtrArray) options = NULL;
  const char *chosen;

  if (!JSON_NODE_HOLDS_VALUE (value) || json_node_get_value_type (value) != G_TYPE_STRING)
    {
      report_wrong_type (issues, node, spec, value, "one of its listed options (a string)");
      return;
    }
  chosen = json_node_get_string (value);
  options = rl_registry_list_combo_options (registry, spec);
  for (guint i = 0; i < options->len; i++)
    if (strcmp (g_ptr_array_index (options, i), chosen) == 0)
      return;
  add_issue (issues, "value_not_in_list", node, spec->name,
             g_strdup_printf ("Value \"%s\" of input %s is not in the list of options", chosen, spec->name),
             describe_options (options, registry, spec));
}

static void
check_literal (GPtrArray         *issues,
               const RlRegistry  *registry,
               const RlGraphNode *node,
               const RlInputSpec *spec,
               JsonNode          *value)
{
  switch (spec->kind)
    {
    case RL_INPUT_LINK:
      {
        g_autofree char *text = json_to_short_text (value);

        add_issue (issues, "invalid_input_type", node, spec->name,
                   g_strdup_printf ("Input %s must be linked to a node that gives %s, not set to a value",
                                    spec->name, spec->type),
                   g_strdup_printf ("received %s", text));
      }
      break;
    case RL_INPUT_INT:
      check_int (issues, node, spec, value);
      break;
    case RL_INPUT_FLOAT:
      check_float (issues, node, spec, value);
      break;
    case RL_INPUT_STRING:
      if (!JSON_NODE_HOLDS_VALUE (value) || json_node_get_value_type (value) != G_TYPE_STRING)
        report_wrong_type (issues, node, spec, value, "a string");
      break;
    case RL_INPUT_BOOLEAN:
      if (!JSON_NODE_HOLDS_VALUE (value) || json_node_get_value_type (value) != G_TYPE_BOOLEAN)
        report_wrong_type (issues, node, spec, value, "true or false");
      break;
    case RL_INPUT_COMBO:
      check_combo (issues, registry, node, spec, value);
      break;
    default:
      g_assert_not_reached ();
    }
}

/* Inputs the type does not declare are ignored, as ComfyUI does, but a
 * link among them still orders execution: it must point somewhere. */
static void
check_undeclared_links (GPtrArray        *issues,
                        RlGraph          *graph,
                        RlGraphNode      *node,
                        const RlNodeType *type)
{
  for (guint i = 0; i < rl_graph_node_get_n_inputs (node); i++)
    {
      const char *name = rl_graph_node_get_input_name (node, i);
      const char *from_id;
      guint from_output;

      if (rl_node_type_find_input (type, name) != NULL
          || !rl_graph_node_get_link (node, name, &from_id, &from_output)
          || rl_graph_lookup (graph, from_id) != NULL)
        continue;
      add_issue (issues, "bad_linked_input", node, name,
                 g_strdup_printf ("Input %s, which %s does not have, is linked to node %s, which does not exist",
                                  name, type->name, from_id),
                 g_strdup_printf ("link [\"%s\", %u]", from_id, from_output));
    }
}

static void
check_node (GPtrArray        *issues,
            RlGraph          *graph,
            const RlRegistry *registry,
            RlGraphNode      *node)
{
  const RlNodeType *type = rl_registry_lookup (registry, rl_graph_node_get_class_type (node));

  if (type == NULL)
    {
      add_issue (issues, "exception_during_validation", node, NULL,
                 g_strdup_printf ("Node %s uses node type \"%s\", which does not exist",
                                  rl_graph_node_get_id (node), rl_graph_node_get_class_type (node)),
                 g_strdup ("install or enable the plugin that provides it, or replace the node"));
      return;
    }
  for (guint i = 0; i < type->n_inputs; i++)
    {
      const RlInputSpec *spec = &type->inputs[i];
      const char *from_id;
      guint from_output;
      JsonNode *literal;

      if (rl_graph_node_get_link (node, spec->name, &from_id, &from_output))
        {
          check_link (issues, graph, registry, node, spec, from_id, from_output);
          continue;
        }
      literal = rl_graph_node_get_literal (node, spec->name);
      /* null means "no value", as for an optional input left empty. */
      if (literal != NULL && !JSON_NODE_HOLDS_NULL (literal))
        {
          check_literal (issues, registry, node, spec, literal);
          continue;
        }
      if (!spec->optional)
        add_issue (issues, "required_input_missing", node, spec->name,
                   g_strdup_printf ("Required input %s is missing", spec->name),
                   g_strdup_printf ("input %s of type %s", spec->name, spec_type_name (spec)));
    }
  check_undeclared_links (issues, graph, node, type);
}

/* ---- Dependencies */

/* The index (in stable order) of each node, and for each node the indexes
 * of the existing nodes it links from. */
typedef struct {
  GHashTable *index_of;   /* id -> GUINT_TO_POINTER (index + 1) */
  GArray    **sources;    /* per node: guint indexes, sorted, unique */
  guint       n_nodes;
} Dependencies;

static void
dependencies_clear (Dependencies *deps)
{
  for (guint i = 0; i < deps->n_nodes; i++)
    g_array_unref (deps->sources[i]);
  g_free (deps->sources);
  g_hash_table_unref (deps->index_of);
}

static int
compare_guint (gconstpointer a,
               gconstpointer b)
{
  guint x = *(const guint *) a, y = *(const guint *) b;

  return x < y ? -1 : x > y;
}

static void
dependencies_init (Dependencies *deps,
                   RlGraph      *graph)
{
  deps->n_nodes = rl_graph_get_n_nodes (graph);
  deps->index_of = g_hash_table_new (g_str_hash, g_str_equal);
  deps->sources = g_new0 (GArray *, deps->n_nodes);
  for (guint i = 0; i < deps->n_nodes; i++)
    g_hash_table_insert (deps->index_of, (gpointer) rl_graph_node_get_id (rl_graph_get_node (graph, i)),
                         GUINT_TO_POINTER (i + 1));
  for (guint i = 0; i < deps->n_nodes; i++)
    {
      RlGraphNode *node = rl_graph_get_node (graph, i);
      GArray *sources = g_array_new (FALSE, FALSE, sizeof (guint));

      for (guint j = 0; j < rl_graph_node_get_n_inputs (node); j++)
        {
          const char *from_id;
          guint index;

          if (!rl_graph_node_get_link (node, rl_graph_node_get_input_name (node, j), &from_id, NULL))
            continue;
          index = GPOINTER_TO_UINT (g_hash_table_lookup (deps->index_of, from_id));
          if (index == 0)
            continue;
          index--;
          g_array_append_val (sources, index);
        }
      g_array_sort (sources, compare_guint);
      for (guint k = 1; k < sources->len; )
        if (g_array_index (sources, guint, k) == g_array_index (sources, guint, k - 1))
          g_array_remove_index (sources, k);
        else
          k++;
      deps->sources[i] = sources;
    }
}

/* Marks on_cycle[i] for every node in a strongly connected component with
 * more than one node or a link to itself (Tarjan, iterative: graphs from
 * files may be long chains). */
static void
find_cycles (const Dependencies *deps,
             gboolean           *on_cycle)
{
  guint n = deps->n_nodes;
  guint *index = g_new (guint, n);
  guint *lowlink = g_new (guint, n);
  gboolean *on_stack = g_new0 (gboolean, n);
  guint *stack = g_new (guint, n);
  guint *call_node = g_new (guint, n);
  guint *call_edge = g_new (guint, n);
  guint stack_len = 0, next_index = 0;

  for (guint i = 0; i < n; i++)
    index[i] = G_MAXUINT;

  for (guint root = 0; root < n; root++)
    {
      guint depth = 0;

      if (index[root] != G_MAXUINT)
        continue;
      call_node[0] = root;
      call_edge[0] = 0;
      index[root] = lowlink[root] = next_index++;
      stack[stack_len++] = root;
      on_stack[root] = TRUE;

      while (TRUE)
        {
          guint v = call_node[depth];
          GArray *edges = deps->sources[v];

          if (call_edge[depth] < edges->len)
            {
              guint w = g_array_index (edges, guint, call_edge[depth]++);

              if (index[w] == G_MAXUINT)
                {
                  index[w] = lowlink[w] = next_index++;
                  stack[stack_len++] = w;
                  on_stack[w] = TRUE;
                  depth++;
                  call_node[depth] = w;
                  call_edge[depth] = 0;
                }
              else if (on_stack[w])
                lowlink[v] = MIN (lowlink[v], index[w]);
              continue;
            }

          if (lowlink[v] == index[v])
            {
              guint start = stack_len;
              gboolean cyclic;

              do
                start--;
              while (stack[start] != v);
              cyclic = stack_len - start > 1;
              for (guint k = 0; k < edges->len && !cyclic; k++)
                cyclic = g_array_index (edges, guint, k) == v;
              for (guint k = start; k < stack_len; k++)
                {
                  on_stack[stack[k]] = FALSE;
                  on_cycle[stack[k]] = cyclic;
                }
              stack_len = start;
            }
          if (depth == 0)
            break;
          depth--;
          lowlink[call_node[depth]] = MIN (lowlink[call_node[depth]], lowlink[v]);
        }
    }

  g_free (index);
  g_free (lowlink);
  g_free (on_stack);
  g_free (stack);
  g_free (call_node);
  g_free (call_edge);
}

static void
check_cycles (GPtrArray *issues,
              RlGraph   *graph)
{
  Dependencies deps;
  gboolean *on_cycle;

  dependencies_init (&deps, graph);
  on_cycle = g_new0 (gboolean, deps.n_nodes);
  find_cycles (&deps, on_cycle);
  for (guint i = 0; i < deps.n_nodes; i++)
    {
      RlGraphNode *node = rl_graph_get_node (graph, i);
      g_autoptr(GString) members = NULL;

      if (!on_cycle[i])
        continue;
      members = g_string_new ("links from:");
      for (guint k = 0; k < deps.sources[i]->len; k++)
        {
          guint source = g_array_index (deps.sources[i], guint, k);

          if (on_cycle[source])
            g_string_append_printf (members, " %s", rl_graph_node_get_id (rl_graph_get_node (graph, source)));
        }
      add_issue (issues, "dependency_cycle", node, NULL,
                 g_strdup_printf ("Node %s is part of a dependency cycle: its inputs depend on its own output",
                                  rl_graph_node_get_id (node)),
                 g_string_free (g_steal_pointer (&members), FALSE));
    }
  g_free (on_cycle);
  dependencies_clear (&deps);
}

GPtrArray *
rl_graph_list_output_nodes (RlGraph          *graph,
                            const RlRegistry *registry)
{
  GPtrArray *outputs;

  g_return_val_if_fail (graph != NULL, NULL);
  g_return_val_if_fail (registry != NULL, NULL);

  outputs = g_ptr_array_new ();
  for (guint i = 0; i < rl_graph_get_n_nodes (graph); i++)
    {
      RlGraphNode *node = rl_graph_get_node (graph, i);
      const RlNodeType *type = rl_registry_lookup (registry, rl_graph_node_get_class_type (node));

      if (type != NULL && type->output_node)
        g_ptr_array_add (outputs, (gpointer) rl_graph_node_get_id (node));
    }
  return outputs;
}

GPtrArray *
rl_graph_validate (RlGraph          *graph,
                   const RlRegistry *registry)
{
  GPtrArray *issues;
  g_autoptr(GPtrArray) outputs = NULL;

  g_return_val_if_fail (graph != NULL, NULL);
  g_return_val_if_fail (registry != NULL, NULL);

  issues = g_ptr_array_new_with_free_func ((GDestroyNotify) rl_validation_issue_free);
  for (guint i = 0; i < rl_graph_get_n_nodes (graph); i++)
    check_node (issues, graph, registry, rl_graph_get_node (graph, i));
  check_cycles (issues, graph);

  outputs = rl_graph_list_output_nodes (graph, registry);
  if (outputs->len == 0)
    add_issue (issues, "prompt_no_outputs", NULL, NULL,
               g_strdup ("The workflow has no output node, so running it would do nothing"),
               g_strdup ("add a node that saves or previews a result (SaveImage, SaveVideo, ...)"));
  return issues;
}

char *
rl_validation_issues_to_string (GPtrArray *issues)
{
  GString *text;

  g_return_val_if_fail (issues != NULL, NULL);

  text = g_string_new (NULL);
  g_string_append_printf (text, "The workflow is not valid (%u problem%s):",
                          issues->len, issues->len == 1 ? "" : "s");
  for (guint i = 0; i < issues->len; i++)
    {
      RlValidationIssue *issue = g_ptr_array_index (issues, i);

      g_string_append (text, "\n  ");
      if (issue->node_id != NULL)
        g_string_append_printf (text, "node %s \"%s\" (%s)", issue->node_id,
                                issue->title != NULL ? issue->title : "",
                                issue->node_type != NULL ? issue->node_type : "?");
      else
        g_string_append (text, "workflow");
      if (issue->input_name != NULL)
        g_string_append_printf (text, ", input %s", issue->input_name);
      g_string_append_printf (text, ": %s: %s", issue->kind, issue->message);
      if (issue->details != NULL)
        g_string_append_printf (text, " [%s]", issue->details);
    }
  return g_string_free (text, FALSE);
}

GError *
rl_validation_issues_to_error (GPtrArray *issues)
{
  g_autofree char *text = NULL;

  g_return_val_if_fail (issues != NULL, NULL);

  text = rl_validation_issues_to_string (issues);
  return g_error_new_literal (RL_ENGINE_ERROR, RL_ENGINE_ERROR_VALIDATION, text);
}

gboolean
rl_graph_check (RlGraph          *graph,
                const RlRegistry *registry,
                GError          **error)
{
  g_autoptr(GPtrArray) issues = NULL;

  g_return_val_if_fail (graph != NULL, FALSE);
  g_return_val_if_fail (registry != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  issues = rl_graph_validate (graph, registry);
  if (issues->len == 0)
    return TRUE;
  g_propagate_error (error, rl_validation_issues_to_error (issues));
  return FALSE;
}

static void
add_optional_member (JsonBuilder *builder,
                     const char  *name,
                     const char  *value)
{
  json_builder_set_member_name (builder, name);
  if (value != NULL)
    json_builder_add_string_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

JsonNode *
rl_validation_issues_to_json (GPtrArray *issues)
{
  g_autoptr(JsonBuilder) builder = NULL;

  g_return_val_if_fail (issues != NULL, NULL);

  builder = json_builder_new ();
  json_builder_begin_array (builder);
  for (guint i = 0; i < issues->len; i++)
    {
      RlValidationIssue *issue = g_ptr_array_index (issues, i);

      json_builder_begin_object (builder);
      add_optional_member (builder, "type", issue->kind);
      add_optional_member (builder, "node_id", issue->node_id);
      add_optional_member (builder, "class_type", issue->node_type);
      add_optional_member (builder, "title", issue->title);
      add_optional_member (builder, "input_name", issue->input_name);
      add_optional_member (builder, "message", issue->message);
      add_optional_member (builder, "details", issue->details);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  return json_builder_get_root (builder);
}

/* ---- Output closure */

static gboolean
closure_fail (GError    **error,
              const char *what,
              const char *node_id)
{
  g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_VALIDATION,
               "Cannot order the workflow: %s %s; validate the workflow first", what, node_id);
  return FALSE;
}

/* Marks in @wanted every node that node @index depends on, and itself. */
static gboolean
mark_closure (RlGraph            *graph,
              const Dependencies *deps,
              guint               start,
              gboolean           *wanted,
              GError            **error)
{
  g_autoptr(GArray) todo = g_array_new (FALSE, FALSE, sizeof (guint));

  g_array_append_val (todo, start);
  while (todo->len > 0)
    {
      guint v = g_array_index (todo, guint, todo->len - 1);
      RlGraphNode *node = rl_graph_get_node (graph, v);

      g_array_set_size (todo, todo->len - 1);
      if (wanted[v])
        continue;
      wanted[v] = TRUE;
      /* A link to a missing node would run the node without its input. */
      for (guint j = 0; j < rl_graph_node_get_n_inputs (node); j++)
        {
          const char *from_id;

          if (rl_graph_node_get_link (node, rl_graph_node_get_input_name (node, j), &from_id, NULL)
              && !g_hash_table_contains (deps->index_of, from_id))
            return closure_fail (error, "a link points to the missing node", from_id);
        }
      for (guint k = 0; k < deps->sources[v]->len; k++)
        g_array_append_val (todo, g_array_index (deps->sources[v], guint, k));
    }
  return TRUE;
}

static int
compare_indexes (gconstpointer a,
                 gconstpointer b,
                 gpointer      user_data)
{
  guint x = GPOINTER_TO_UINT (a), y = GPOINTER_TO_UINT (b);

  return x < y ? -1 : x > y;
}

/* Kahn's algorithm over the wanted nodes; the ready node with the lowest
 * stable index goes first, so the order is deterministic. */
static GPtrArray *
order_closure (RlGraph            *graph,
               const Dependencies *deps,
               const gboolean     *wanted,
               GError            **error)
{
  guint n = deps->n_nodes;
  g_autofree guint *missing = g_new0 (guint, n);
  g_autofree gboolean *done = g_new0 (gboolean, n);
  g_autoptr(GPtrArray) dependents = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
  g_autoptr(GSequence) ready = g_sequence_new (NULL);
  g_autoptr(GPtrArray) order = g_ptr_array_new ();
  guint n_wanted = 0;

  for (guint i = 0; i < n; i++)
    g_ptr_array_add (dependents, g_array_new (FALSE, FALSE, sizeof (guint)));
  for (guint i = 0; i < n; i++)
    {
      if (!wanted[i])
        continue;
      n_wanted++;
      missing[i] = deps->sources[i]->len;
      for (guint k = 0; k < deps->sources[i]->len; k++)
        g_array_append_val (g_ptr_array_index (dependents, g_array_index (deps->sources[i], guint, k)), i);
      if (missing[i] == 0)
        g_sequence_append (ready, GUINT_TO_POINTER (i));
    }

  while (g_sequence_get_length (ready) > 0)
    {
      GSequenceIter *first = g_sequence_get_begin_iter (ready);
      guint v = GPOINTER_TO_UINT (g_sequence_get (first));
      GArray *next = g_ptr_array_index (dependents, v);

      g_sequence_remove (first);
      done[v] = TRUE;
      g_ptr_array_add (order, (gpointer) rl_graph_node_get_id (rl_graph_get_node (graph, v)));
      for (guint k = 0; k < next->len; k++)
        {
          guint w = g_array_index (next, guint, k);

          if (--missing[w] == 0)
            g_sequence_insert_sorted (ready, GUINT_TO_POINTER (w), compare_indexes, NULL);
        }
    }

  if (order->len != n_wanted)
    {
      for (guint i = 0; i < n; i++)
        if (wanted[i] && !done[i])
          {
            closure_fail (error, "there is a dependency cycle through node",
                          rl_graph_node_get_id (rl_graph_get_node (graph, i)));
            return NULL;
          }
    }
  return g_steal_pointer (&order);
}

GPtrArray *
rl_graph_output_closure (RlGraph            *graph,
                         const RlRegistry   *registry,
                         const char * const *output_ids,
                         GError            **error)
{
  g_autoptr(GPtrArray) all_outputs = NULL;
  g_autofree gboolean *wanted = NULL;
  Dependencies deps;
  GPtrArray *order = NULL;
  gboolean ok = TRUE;

  g_return_val_if_fail (graph != NULL, NULL);
  g_return_val_if_fail (registry != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  dependencies_init (&deps, graph);
  wanted = g_new0 (gboolean, deps.n_nodes + 1);
  if (output_ids == NULL)
    {
      all_outputs = rl_graph_list_output_nodes (graph, registry);
      g_ptr_array_add (all_outputs, NULL);
      output_ids = (const char * const *) all_outputs->pdata;
    }
  for (guint i = 0; ok && output_ids[i] != NULL; i++)
    {
      guint index = GPOINTER_TO_UINT (g_hash_table_lookup (deps.index_of, output_ids[i]));

      if (index == 0)
        ok = closure_fail (error, "there is no output node", output_ids[i]);
      else
        ok = mark_closure (graph, &deps, index - 1, wanted, error);
    }
  if (ok)
    order = order_closure (graph, &deps, wanted, error);
  dependencies_clear (&deps);
  return order;
}
