/* ComfyUI's primitive nodes (comfy_extras/nodes_primitive.py): a widget
 * named "value" whose value is the node's one output. */
#include "engine/nodes/builtin-node-tables.h"

#include "engine/engine-error.h"

/* Every primitive: output 0 is input "value", shared not copied. */
static gboolean
pass_value_through (RlNodeContext  *ctx,
                    GError        **error)
{
  RlValue *value = rl_node_context_get_input (ctx, "value");
  if (value == NULL)
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_EXECUTION,
                   "Input “value” is missing: give the primitive a value.");
      return FALSE;
    }
  rl_node_context_set_output (ctx, 0, rl_value_ref (value));
  return TRUE;
}

#define PRIMITIVE_NODE(symbol, class_name, title, input_table, output_table) \
  const RlNodeType symbol = {                                               \
    .name = class_name,                                                     \
    .display_name = title,                                                  \
    .category = "utils/primitive",                                          \
    .inputs = input_table,                                                  \
    .n_inputs = G_N_ELEMENTS (input_table),                                 \
    .outputs = output_table,                                                \
    .n_outputs = G_N_ELEMENTS (output_table),                               \
    .location = RL_RUN_IN_APP,                                              \
    .execute = pass_value_through,                                          \
  }

static const RlInputSpec int_inputs[] = {
  { .name = "value", .kind = RL_INPUT_INT, .int_min = -G_MAXINT64, .int_max = G_MAXINT64,
    .int_step = 1, .int_default = 0, .control_after_generate = TRUE },
};
static const RlOutputSpec int_outputs[] = { { .name = "INT", .type = "INT" } };
PRIMITIVE_NODE (rl_node_primitive_int, "PrimitiveInt", "Int", int_inputs, int_outputs);

static const RlInputSpec float_inputs[] = {
  { .name = "value", .kind = RL_INPUT_FLOAT, .float_min = -(double) G_MAXINT64,
    .float_max = (double) G_MAXINT64, .float_step = 0.1, .float_default = 0.0 },
};
static const RlOutputSpec float_outputs[] = { { .name = "FLOAT", .type = "FLOAT" } };
PRIMITIVE_NODE (rl_node_primitive_float, "PrimitiveFloat", "Float", float_inputs, float_outputs);

static const RlInputSpec string_inputs[] = {
  { .name = "value", .kind = RL_INPUT_STRING, .string_default = "" },
};
static const RlInputSpec string_multiline_inputs[] = {
  { .name = "value", .kind = RL_INPUT_STRING, .string_default = "", .multiline = TRUE },
};
static const RlOutputSpec string_outputs[] = { { .name = "STRING", .type = "STRING" } };
PRIMITIVE_NODE (rl_node_primitive_string, "PrimitiveString", "String",
                string_inputs, string_outputs);
PRIMITIVE_NODE (rl_node_primitive_string_multiline, "PrimitiveStringMultiline",
                "String (Multiline)", string_multiline_inputs, string_outputs);

static const RlInputSpec boolean_inputs[] = {
  { .name = "value", .kind = RL_INPUT_BOOLEAN, .boolean_default = FALSE },
};
static const RlOutputSpec boolean_outputs[] = { { .name = "BOOLEAN", .type = "BOOLEAN" } };
PRIMITIVE_NODE (rl_node_primitive_boolean, "PrimitiveBoolean", "Boolean",
                boolean_inputs, boolean_outputs);
