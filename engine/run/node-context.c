/* The rl_node_context_* functions of node-type.h: what a node's execute
 * function sees of the run it is part of. */
#include "engine/run/executor-private.h"

#include <math.h>

#include "engine/engine-error.h"
#include "engine/graph/registry.h"

RlNodeContext *
_rl_node_context_new (RlRun             *run,
                      RlGraphNode       *node,
                      const RlNodeType  *type)
{
  RlNodeContext *ctx = g_new0 (RlNodeContext, 1);
  ctx->run = run;
  ctx->node = node;
  ctx->type = type;
  ctx->inputs = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                       (GDestroyNotify) rl_value_unref);
  ctx->outputs = g_new0 (RlValue *, MAX (type->n_outputs, 1));
  ctx->output_files = g_ptr_array_new_with_free_func (g_free);
  return ctx;
}

void
_rl_node_context_free (RlNodeContext *ctx)
{
  if (ctx == NULL)
    return;
  g_hash_table_unref (ctx->inputs);
  for (guint i = 0; i < ctx->type->n_outputs; i++)
    g_clear_pointer (&ctx->outputs[i], rl_value_unref);
  g_free (ctx->outputs);
  g_ptr_array_unref (ctx->output_files);
  g_free (ctx);
}

static gboolean
json_is_number (JsonNode *node)
{
  if (!JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  GType type = json_node_get_value_type (node);
  return type == G_TYPE_INT64 || type == G_TYPE_DOUBLE;
}

static RlValue *
literal_error (const RlInputSpec  *spec,
               RlGraphNode        *node,
               const char         *expected,
               GError            **error)
{
  g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_VALIDATION,
               "Node %s “%s” (%s), input %s: expected %s. Fix the value in the "
               "workflow (validate it with `raylight validate`).",
               rl_graph_node_get_id (node), rl_graph_node_get_display_title (node),
               rl_graph_node_get_class_type (node), spec->name, expected);
  return NULL;
}

RlValue *
_rl_literal_to_value (const RlInputSpec *spec,
                      JsonNode          *literal,
                      RlGraphNode       *node,
                      GError           **error)
{
  gboolean is_value = JSON_NODE_HOLDS_VALUE (literal);
  GType type = is_value ? json_node_get_value_type (literal) : G_TYPE_INVALID;

  switch (spec->kind)
    {
    case RL_INPUT_INT:
      if (type == G_TYPE_INT64)
        return rl_value_new_int (json_node_get_int (literal));
      /* Files written by JavaScript may hold 5.0 for 5. */
      if (type == G_TYPE_DOUBLE)
        {
          double v = json_node_get_double (literal);
          if (isfinite (v) && v == floor (v) && fabs (v) < 9.2e18)
            return rl_value_new_int ((gint64) v);
        }
      return literal_error (spec, node, "an integer", error);
    case RL_INPUT_FLOAT:
      if (json_is_number (literal))
        return rl_value_new_float (json_node_get_double (literal));
      return literal_error (spec, node, "a number", error);
    case RL_INPUT_STRING:
    case RL_INPUT_COMBO:
      if (type == G_TYPE_STRING)
        return rl_value_new_string (json_node_get_string (literal));
      return literal_error (spec, node, "a string", error);
    case RL_INPUT_BOOLEAN:
      if (type == G_TYPE_BOOLEAN)
        return rl_value_new_boolean (json_node_get_boolean (literal));
      return literal_error (spec, node, "true or false", error);
    case RL_INPUT_LINK:
    default:
      return literal_error (spec, node, "a link from another node's output", error);
    }
}

/* ---- inputs ----------------------------------------------------------- */

RlValue *
rl_node_context_get_input (RlNodeContext *ctx,
                           const char    *name)
{
  g_return_val_if_fail (ctx != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);
  return g_hash_table_lookup (ctx->inputs, name);
}

/* The input's value when it has @kind; NULL when absent (or, after a
 * critical, of another kind: a node asking for the wrong kind is a bug). */
static RlValue *
get_scalar (RlNodeContext *ctx,
            const char    *name,
            RlValueKind    kind)
{
  RlValue *value = rl_node_context_get_input (ctx, name);
  if (value == NULL)
    return NULL;
  if (rl_value_get_kind (value) == kind)
    return value;
  /* An INT literal or link feeding a FLOAT input is a number all the same. */
  if (kind == RL_VALUE_FLOAT && rl_value_get_kind (value) == RL_VALUE_INT)
    return value;
  g_critical ("Node %s (%s) asked input %s for a %d but it holds a %s",
              rl_graph_node_get_id (ctx->node), ctx->type->name, name, kind,
              rl_value_get_type_name (value));
  return NULL;
}

static const RlInputSpec *
find_spec (RlNodeContext *ctx,
           const char    *name)
{
  return rl_node_type_find_input (ctx->type, name);
}

gint64
rl_node_context_get_int (RlNodeContext *ctx,
                         const char    *name)
{
  g_return_val_if_fail (ctx != NULL, 0);
  RlValue *value = get_scalar (ctx, name, RL_VALUE_INT);
  if (value != NULL)
    return rl_value_get_int (value);
  const RlInputSpec *spec = find_spec (ctx, name);
  return spec != NULL ? spec->int_default : 0;
}

double
rl_node_context_get_float (RlNodeContext *ctx,
                           const char    *name)
{
  g_return_val_if_fail (ctx != NULL, 0.0);
  RlValue *value = get_scalar (ctx, name, RL_VALUE_FLOAT);
  if (value != NULL)
    return rl_value_get_kind (value) == RL_VALUE_INT ? (double) rl_value_get_int (value)
                                                     : rl_value_get_float (value);
  const RlInputSpec *spec = find_spec (ctx, name);
  return spec != NULL ? spec->float_default : 0.0;
}

const char *
rl_node_context_get_string (RlNodeContext *ctx,
                            const char    *name)
{
  g_return_val_if_fail (ctx != NULL, NULL);
  RlValue *value = get_scalar (ctx, name, RL_VALUE_STRING);
  if (value != NULL)
    return rl_value_get_string (value);
  const RlInputSpec *spec = find_spec (ctx, name);
  if (spec == NULL)
    return NULL;
  return spec->kind == RL_INPUT_COMBO ? spec->combo_default : spec->string_default;
}

gboolean
rl_node_context_get_boolean (RlNodeContext *ctx,
                             const char    *name)
{
  g_return_val_if_fail (ctx != NULL, FALSE);
  RlValue *value = get_scalar (ctx, name, RL_VALUE_BOOLEAN);
  if (value != NULL)
    return rl_value_get_boolean (value);
  const RlInputSpec *spec = find_spec (ctx, name);
  return spec != NULL ? spec->boolean_default : FALSE;
}

gpointer
rl_node_context_get_object (RlNodeContext *ctx,
                            const char    *name,
                            const char    *type_name)
{
  g_return_val_if_fail (ctx != NULL, NULL);
  g_return_val_if_fail (type_name != NULL, NULL);
  RlValue *value = rl_node_context_get_input (ctx, name);
  if (value == NULL || rl_value_get_kind (value) != RL_VALUE_OBJECT
      || g_strcmp0 (rl_value_get_type_name (value), type_name) != 0)
    return NULL;
  return rl_value_get_object (value, type_name);
}

/* ---- outputs and reporting --------------------------------------------- */

void
rl_node_context_set_output (RlNodeContext *ctx,
                            guint          index,
                            RlValue       *value)
{
  g_return_if_fail (ctx != NULL);
  g_return_if_fail (value != NULL);
  if (index >= ctx->type->n_outputs)
    {
      g_critical ("Node type %s has %u outputs; output %u does not exist",
                  ctx->type->name, ctx->type->n_outputs, index);
      rl_value_unref (value);
      return;
    }
  g_clear_pointer (&ctx->outputs[index], rl_value_unref);
  ctx->outputs[index] = value;
}

const char *
rl_node_context_get_node_id (RlNodeContext *ctx)
{
  g_return_val_if_fail (ctx != NULL, NULL);
  return rl_graph_node_get_id (ctx->node);
}

const char *
rl_node_context_get_title (RlNodeContext *ctx)
{
  g_return_val_if_fail (ctx != NULL, NULL);
  return rl_graph_node_get_display_title (ctx->node);
}

gint64
rl_node_context_get_job_id (RlNodeContext *ctx)
{
  g_return_val_if_fail (ctx != NULL, 0);
  return ctx->run->options->job_id;
}

void
rl_node_context_report_progress (RlNodeContext  *ctx,
                                 guint           step,
                                 guint           total,
                                 const RlImage  *preview)
{
  g_return_if_fail (ctx != NULL);
  RlEvent event = { .step = step, .total = total };
  _rl_run_emit (ctx->run, RL_EVENT_PROGRESS, ctx->node, &event);
  if (preview != NULL)
    {
      event.preview = preview;
      _rl_run_emit (ctx->run, RL_EVENT_PREVIEW, ctx->node, &event);
    }
}

gboolean
rl_node_context_check_interrupt (RlNodeContext  *ctx,
                                 GError        **error)
{
  g_return_val_if_fail (ctx != NULL, FALSE);
  if (!g_cancellable_is_cancelled (ctx->run->cancellable))
    return TRUE;
  g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INTERRUPTED,
               "Interrupted by the user while node %s “%s” (%s) was running",
               rl_graph_node_get_id (ctx->node), rl_graph_node_get_display_title (ctx->node),
               ctx->type->name);
  return FALSE;
}

const char *
rl_node_context_get_output_dir (RlNodeContext *ctx)
{
  g_return_val_if_fail (ctx != NULL, NULL);
  const char *dir = ctx->run->options->output_dir;
  return dir != NULL ? dir : ".";
}

void
rl_node_context_add_output_file (RlNodeContext *ctx,
                                 const char    *path)
{
  g_return_if_fail (ctx != NULL);
  g_return_if_fail (path != NULL);
  g_ptr_array_add (ctx->output_files, g_strdup (path));
  _rl_run_add_output_file (ctx->run, ctx->node, path);
}

const char *
rl_node_context_get_prompt_json (RlNodeContext *ctx)
{
  g_return_val_if_fail (ctx != NULL, NULL);
  return ctx->run->prompt_json;
}

const char *
rl_node_context_get_workflow_json (RlNodeContext *ctx)
{
  g_return_val_if_fail (ctx != NULL, NULL);
  return ctx->run->options->workflow_json;
}

RlModelPaths *
rl_node_context_get_model_paths (RlNodeContext *ctx)
{
  g_return_val_if_fail (ctx != NULL, NULL);
  return rl_registry_get_model_paths (ctx->run->registry);
}

RlPoolService *
rl_node_context_get_pool_service (RlNodeContext *ctx)
{
  g_return_val_if_fail (ctx != NULL, NULL);
  return _rl_executor_get_pool_service (ctx->run->executor);
}
