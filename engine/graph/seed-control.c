/* Seed controls (ComfyUI's control_after_generate); see seed-control.h. */
#include "engine/graph/seed-control.h"

#include <string.h>

static const char * const control_names[] = {
  [RL_SEED_CONTROL_FIXED] = "fixed",
  [RL_SEED_CONTROL_INCREMENT] = "increment",
  [RL_SEED_CONTROL_DECREMENT] = "decrement",
  [RL_SEED_CONTROL_RANDOMIZE] = "randomize",
};

gboolean
rl_seed_control_from_string (const char    *text,
                             RlSeedControl *control)
{
  for (guint i = 0; text != NULL && i < G_N_ELEMENTS (control_names); i++)
    if (strcmp (text, control_names[i]) == 0)
      {
        *control = (RlSeedControl) i;
        return TRUE;
      }
  return FALSE;
}

static gboolean
node_holds_string (JsonNode *node)
{
  return node != NULL && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING;
}

static gboolean
node_holds_integer (JsonNode *node)
{
  return node != NULL && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_INT64;
}

/* Whether widget @name of @node was turned into a socket that a link
 * feeds (ComfyUI keeps the widget's stale value in widgets_values). */
static gboolean
widget_is_linked (JsonObject *node,
                  const char *name)
{
  JsonNode *inputs = json_object_get_member (node, "inputs");
  JsonArray *slots = inputs != NULL && JSON_NODE_HOLDS_ARRAY (inputs) ? json_node_get_array (inputs) : NULL;

  for (guint i = 0; slots != NULL && i < json_array_get_length (slots); i++)
    {
      JsonNode *slot_node = json_array_get_element (slots, i);
      JsonObject *slot, *widget;
      JsonNode *widget_node, *widget_name, *link;

      if (!JSON_NODE_HOLDS_OBJECT (slot_node))
        continue;
      slot = json_node_get_object (slot_node);
      widget_node = json_object_get_member (slot, "widget");
      if (widget_node == NULL || !JSON_NODE_HOLDS_OBJECT (widget_node))
        continue;
      widget = json_node_get_object (widget_node);
      widget_name = json_object_get_member (widget, "name");
      if (!node_holds_string (widget_name) || strcmp (json_node_get_string (widget_name), name) != 0)
        continue;
      link = json_object_get_member (slot, "link");
      return node_holds_integer (link);
    }
  return FALSE;
}

/* A uniform draw from [0, @bound), @bound > 0, without modulo bias. */
static guint64
draw_below (GRand   *rand,
            guint64  bound)
{
  guint64 limit = G_MAXUINT64 - G_MAXUINT64 % bound;

  for (;;)
    {
      guint64 high = rand != NULL ? g_rand_int (rand) : g_random_int ();
      guint64 low = rand != NULL ? g_rand_int (rand) : g_random_int ();
      guint64 draw = high << 32 | low;

      if (draw < limit)
        return draw % bound;
    }
}

/* The seed after one application of @control (see the header). */
static gint64
next_seed (const RlInputSpec *spec,
           RlSeedControl      control,
           gint64             seed,
           GRand             *rand)
{
  gint64 step = spec->int_step > 0 ? spec->int_step : 1;
  gint64 min = spec->int_min, max = spec->int_max;

  switch (control)
    {
    case RL_SEED_CONTROL_FIXED:
      return seed;
    case RL_SEED_CONTROL_INCREMENT:
      return seed >= max || seed > max - step ? max : MAX (seed + step, min);
    case RL_SEED_CONTROL_DECREMENT:
      return seed <= min || seed < min + step ? min : MIN (seed - step, max);
    case RL_SEED_CONTROL_RANDOMIZE:
      {
        gint64 low = MAX (min, -RL_SEED_RANDOM_LIMIT);
        gint64 high = MIN (max, RL_SEED_RANDOM_LIMIT);
        guint64 choices = high > low ? (guint64) (high - low) / (guint64) step : 0;

        return choices == 0 ? low : low + (gint64) draw_below (rand, choices) * step;
      }
    default:
      g_assert_not_reached ();
    }
}

/* The controlled seeds of one node, in widget order, appended to @changes. */
static void
collect_node_changes (RlWorkflow       *workflow,
                      JsonObject       *node,
                      gint64            node_id,
                      const RlNodeType *type,
                      GRand            *rand,
                      GArray           *changes)
{
  JsonNode *values_node = json_object_get_member (node, "widgets_values");
  JsonArray *values;
  guint n_values;

  if (values_node == NULL || !JSON_NODE_HOLDS_ARRAY (values_node))
    return;
  values = json_node_get_array (values_node);
  n_values = json_array_get_length (values);
  /* The seed's slot comes from the same walk the graph is read with; its
   * control, when present, is the value right after it. */
  for (int optional = 0; optional <= 1; optional++)
    for (guint i = 0; i < type->n_inputs; i++)
      {
        const RlInputSpec *spec = &type->inputs[i];
        guint at;
        JsonNode *after;
        RlSeedControl control;
        RlSeedChange change;

        if (!spec->control_after_generate || (spec->optional != FALSE) != (optional != 0)
            || !rl_workflow_node_find_widget_index (workflow, node_id, type, spec->name, &at)
            || at + 1 >= n_values)
          continue;
        after = json_array_get_element (values, at + 1);
        if (!node_holds_string (after) || !rl_seed_control_from_string (json_node_get_string (after), &control))
          continue;
        if (spec->kind != RL_INPUT_INT || !node_holds_integer (json_array_get_element (values, at))
            || widget_is_linked (node, spec->name))
          continue;
        change = (RlSeedChange) {
          .node_id = node_id, .input_name = spec->name, .value_index = at, .control = control,
          .old_value = json_array_get_int_element (values, at),
        };
        change.new_value = next_seed (spec, control, change.old_value, rand);
        if (change.new_value != change.old_value)
          g_array_append_val (changes, change);
      }
}

/* The integer widget a PrimitiveNode's links feed (the spec of the first
 * target; @min and @max narrowed to what every target accepts, as the
 * frontend merges its targets' configs), or NULL when it feeds none. */
static const RlInputSpec *
primitive_target (RlWorkflow       *workflow,
                  const RlRegistry *registry,
                  JsonObject       *node,
                  gint64           *min,
                  gint64           *max)
{
  JsonNode *outputs = json_object_get_member (node, "outputs");
  JsonArray *slots = outputs != NULL && JSON_NODE_HOLDS_ARRAY (outputs) ? json_node_get_array (outputs) : NULL;
  JsonNode *output = slots != NULL && json_array_get_length (slots) > 0 ? json_array_get_element (slots, 0) : NULL;
  JsonNode *links_node = output != NULL && JSON_NODE_HOLDS_OBJECT (output)
                         ? json_object_get_member (json_node_get_object (output), "links") : NULL;
  JsonArray *links = links_node != NULL && JSON_NODE_HOLDS_ARRAY (links_node) ? json_node_get_array (links_node) : NULL;
  const RlInputSpec *first = NULL;

  for (guint i = 0; links != NULL && i < json_array_get_length (links); i++)
    {
      JsonNode *link_id = json_array_get_element (links, i);
      RlWorkflowLink link;
      JsonObject *target;
      JsonNode *inputs, *slot, *widget, *name;
      const char *type_name;
      const RlNodeType *type;
      const RlInputSpec *spec;

      if (!node_holds_integer (link_id) || !rl_workflow_lookup_link (workflow, json_node_get_int (link_id), &link))
        continue;
      target = rl_workflow_lookup_node (workflow, link.target_id);
      type_name = target != NULL ? rl_workflow_node_get_type (workflow, link.target_id) : NULL;
      type = type_name != NULL ? rl_registry_lookup (registry, type_name) : NULL;
      inputs = target != NULL ? json_object_get_member (target, "inputs") : NULL;
      if (type == NULL || inputs == NULL || !JSON_NODE_HOLDS_ARRAY (inputs)
          || link.target_slot >= json_array_get_length (json_node_get_array (inputs)))
        continue;
      slot = json_array_get_element (json_node_get_array (inputs), link.target_slot);
      widget = JSON_NODE_HOLDS_OBJECT (slot) ? json_object_get_member (json_node_get_object (slot), "widget") : NULL;
      name = widget != NULL && JSON_NODE_HOLDS_OBJECT (widget)
             ? json_object_get_member (json_node_get_object (widget), "name") : NULL;
      spec = node_holds_string (name) ? rl_node_type_find_input (type, json_node_get_string (name)) : NULL;
      if (spec == NULL || spec->kind != RL_INPUT_INT)
        continue;
      if (first == NULL)
        {
          first = spec;
          *min = spec->int_min;
          *max = spec->int_max;
        }
      *min = MAX (*min, spec->int_min);
      *max = MIN (*max, spec->int_max);
    }
  return first;
}

/* ComfyUI's frontend-only PrimitiveNode: widgets_values [value, control]
 * when it feeds a number widget; stepped within its targets' bounds. */
static void
collect_primitive_change (RlWorkflow       *workflow,
                          const RlRegistry *registry,
                          JsonObject       *node,
                          gint64            node_id,
                          GRand            *rand,
                          GArray           *changes)
{
  JsonNode *values_node = json_object_get_member (node, "widgets_values");
  JsonArray *values;
  RlSeedControl control;
  RlInputSpec bounds;
  const RlInputSpec *target;
  RlSeedChange change;

  if (values_node == NULL || !JSON_NODE_HOLDS_ARRAY (values_node))
    return;
  values = json_node_get_array (values_node);
  if (json_array_get_length (values) < 2 || !node_holds_integer (json_array_get_element (values, 0))
      || !node_holds_string (json_array_get_element (values, 1))
      || !rl_seed_control_from_string (json_array_get_string_element (values, 1), &control))
    return;
  bounds = (RlInputSpec) { 0 };
  target = primitive_target (workflow, registry, node, &bounds.int_min, &bounds.int_max);
  if (target == NULL || bounds.int_min > bounds.int_max)
    return;
  bounds.int_step = target->int_step;
  change = (RlSeedChange) {
    .node_id = node_id, .input_name = "value", .value_index = 0, .control = control,
    .old_value = json_array_get_int_element (values, 0),
  };
  change.new_value = next_seed (&bounds, control, change.old_value, rand);
  if (change.new_value != change.old_value)
    g_array_append_val (changes, change);
}

GArray *
rl_workflow_apply_seed_controls (RlWorkflow       *workflow,
                                 const RlRegistry *registry,
                                 GRand            *rand)
{
  GArray *changes = g_array_new (FALSE, FALSE, sizeof (RlSeedChange));

  g_return_val_if_fail (workflow != NULL, changes);
  g_return_val_if_fail (registry != NULL, changes);

  for (guint i = 0; i < rl_workflow_get_n_nodes (workflow); i++)
    {
      gint64 id = rl_workflow_get_node_id (workflow, i);
      const char *type_name = rl_workflow_node_get_type (workflow, id);
      const RlNodeType *type = type_name != NULL ? rl_registry_lookup (registry, type_name) : NULL;
      JsonObject *node = rl_workflow_lookup_node (workflow, id);

      if (node == NULL)
        continue;
      if (type != NULL)
        collect_node_changes (workflow, node, id, type, rand, changes);
      else if (g_strcmp0 (type_name, "PrimitiveNode") == 0)
        collect_primitive_change (workflow, registry, node, id, rand, changes);
    }
  /* Written after collecting: setting a value rebuilds the node's list. */
  for (guint i = 0; i < changes->len; i++)
    {
      const RlSeedChange *change = &g_array_index (changes, RlSeedChange, i);
      g_autoptr(JsonNode) value = json_node_init_int (json_node_alloc (), change->new_value);

      rl_workflow_node_set_widget_value (workflow, change->node_id, change->value_index, value);
    }
  return changes;
}
