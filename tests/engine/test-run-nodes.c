/* Test node types; see test-run-nodes.h. The counters are test-only state
 * shared with the runner thread, hence atomic. */
#include "test-run-nodes.h"

#include <stdio.h>
#include <string.h>

#include "engine/engine-error.h"
#include "engine/graph/image.h"
#include "engine/graph/node-type.h"
#include "engine/graph/value.h"

static gint counts[TEST_NODE_N_TYPES];
static gint64 last_sink_value;
static gint slow_steps;
static gint clock_ticks;

static void
count (TestNodeKind kind)
{
  g_atomic_int_inc (&counts[kind]);
}

guint
test_run_nodes_count (TestNodeKind kind)
{
  return (guint) g_atomic_int_get (&counts[kind]);
}

void
test_run_nodes_reset_counts (void)
{
  for (guint i = 0; i < TEST_NODE_N_TYPES; i++)
    g_atomic_int_set (&counts[i], 0);
}

gint64
test_run_nodes_last_sink (void)
{
  return last_sink_value;
}

guint
test_run_nodes_slow_steps (void)
{
  return (guint) g_atomic_int_get (&slow_steps);
}

/* ---- execute functions ------------------------------------------------ */

static gint64
input_int (RlNodeContext *ctx,
           const char    *name)
{
  RlValue *value = rl_node_context_get_input (ctx, name);
  g_assert_nonnull (value);
  return rl_value_get_int (value);
}

static gboolean
number_execute (RlNodeContext  *ctx,
                GError        **error)
{
  count (TEST_NODE_NUMBER);
  rl_node_context_set_output (ctx, 0, rl_value_new_int (rl_node_context_get_int (ctx, "value")));
  return TRUE;
}

static gboolean
add_execute (RlNodeContext  *ctx,
             GError        **error)
{
  count (TEST_NODE_ADD);
  gint64 sum = input_int (ctx, "a") + rl_node_context_get_int (ctx, "b");
  rl_node_context_set_output (ctx, 0, rl_value_new_int (sum));
  return TRUE;
}

static gboolean
mix_execute (RlNodeContext  *ctx,
             GError        **error)
{
  count (TEST_NODE_MIX);
  gint64 a = input_int (ctx, "a");
  double scale = rl_node_context_get_float (ctx, "scale");
  const char *mode = rl_node_context_get_string (ctx, "mode");
  gint64 offset = rl_node_context_get_int (ctx, "offset");
  gint64 result = g_strcmp0 (mode, "product") == 0 ? (gint64) (a * scale) * offset
                                                   : (gint64) (a * scale) + offset;
  if (rl_node_context_get_boolean (ctx, "negate"))
    result = -result;
  /* The label adds its length, so a test sees that strings arrive. */
  result += (gint64) strlen (rl_node_context_get_string (ctx, "label"));
  rl_node_context_set_output (ctx, 0, rl_value_new_int (result));
  return TRUE;
}

static gboolean
clock_execute (RlNodeContext  *ctx,
               GError        **error)
{
  count (TEST_NODE_CLOCK);
  rl_node_context_set_output (ctx, 0, rl_value_new_int (g_atomic_int_add (&clock_ticks, 1) + 1));
  return TRUE;
}

static gboolean
slow_execute (RlNodeContext  *ctx,
              GError        **error)
{
  count (TEST_NODE_SLOW);
  guint steps = (guint) rl_node_context_get_int (ctx, "steps");
  g_autoptr (RlImage) preview = rl_image_new (1, 2, 2, NULL);
  g_atomic_int_set (&slow_steps, 0);
  for (guint i = 0; i < steps; i++)
    {
      if (!rl_node_context_check_interrupt (ctx, error))
        return FALSE;
      g_usleep (500);
      g_atomic_int_inc (&slow_steps);
      rl_node_context_report_progress (ctx, i + 1, steps, (i % 4 == 3) ? preview : NULL);
    }
  rl_node_context_set_output (ctx, 0, rl_value_new_int (input_int (ctx, "in")));
  return TRUE;
}

static gboolean
fail_execute (RlNodeContext  *ctx,
              GError        **error)
{
  count (TEST_NODE_FAIL);
  g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_IO,
               "deliberate failure with input %" G_GINT64_FORMAT, input_int (ctx, "in"));
  return FALSE;
}

static gboolean
block_execute (RlNodeContext  *ctx,
               GError        **error)
{
  count (TEST_NODE_BLOCK);
  printf ("ready\n");
  fflush (stdout);
  for (guint i = 0; i < 60000; i++)
    {
      if (!rl_node_context_check_interrupt (ctx, error))
        return FALSE;
      g_usleep (1000);
    }
  rl_node_context_set_output (ctx, 0, rl_value_new_int (input_int (ctx, "in")));
  return TRUE;
}

static gboolean
sink_execute (RlNodeContext  *ctx,
              GError        **error)
{
  count (TEST_NODE_SINK);
  gint64 value = input_int (ctx, "value");
  last_sink_value = value;
  g_autofree char *name = g_strdup_printf ("sink-%s.txt", rl_node_context_get_node_id (ctx));
  g_autofree char *path = g_build_filename (rl_node_context_get_output_dir (ctx), name, NULL);
  g_autofree char *text = g_strdup_printf ("%" G_GINT64_FORMAT "\n", value);
  if (!g_file_set_contents (path, text, -1, error))
    return FALSE;
  rl_node_context_add_output_file (ctx, path);
  return TRUE;
}

/* ---- type tables ------------------------------------------------------ */

static const RlOutputSpec int_output[] = { { .name = "INT", .type = "INT" } };

static const RlInputSpec number_inputs[] = {
  { .name = "value", .kind = RL_INPUT_INT, .int_min = -1000000000, .int_max = 1000000000, .int_step = 1 },
};
static const RlInputSpec add_inputs[] = {
  { .name = "a", .kind = RL_INPUT_LINK, .type = "INT" },
  { .name = "b", .kind = RL_INPUT_INT, .int_min = -1000000000, .int_max = 1000000000, .int_step = 1 },
};
static const char * const mix_modes[] = { "sum", "product", NULL };
static const RlInputSpec mix_inputs[] = {
  { .name = "a", .kind = RL_INPUT_LINK, .type = "INT" },
  { .name = "scale", .kind = RL_INPUT_FLOAT, .float_min = -100, .float_max = 100, .float_step = 0.5,
    .float_default = 1 },
  { .name = "negate", .kind = RL_INPUT_BOOLEAN },
  { .name = "mode", .kind = RL_INPUT_COMBO, .combo_options = mix_modes, .combo_default = "sum" },
  { .name = "label", .kind = RL_INPUT_STRING, .optional = TRUE, .string_default = "none" },
  { .name = "offset", .kind = RL_INPUT_INT, .optional = TRUE, .int_min = -100, .int_max = 100,
    .int_step = 1, .int_default = 7 },
};
static const RlInputSpec in_link[] = {
  { .name = "in", .kind = RL_INPUT_LINK, .type = "INT" },
};
static const RlInputSpec slow_inputs[] = {
  { .name = "in", .kind = RL_INPUT_LINK, .type = "INT" },
  { .name = "steps", .kind = RL_INPUT_INT, .int_min = 1, .int_max = 100000, .int_step = 1, .int_default = 10 },
};
static const RlInputSpec sink_inputs[] = {
  { .name = "value", .kind = RL_INPUT_LINK, .type = "INT" },
};

#define TEST_TYPE(NAME, INPUTS, EXECUTE, ...) \
  { .name = NAME, .display_name = NAME, .category = "testing", \
    .inputs = INPUTS, .n_inputs = G_N_ELEMENTS (INPUTS), \
    .outputs = int_output, .n_outputs = 1, .execute = EXECUTE, __VA_ARGS__ }

static const RlNodeType number_type = TEST_TYPE ("TestNumber", number_inputs, number_execute);
static const RlNodeType add_type = TEST_TYPE ("TestAdd", add_inputs, add_execute);
static const RlNodeType mix_type = TEST_TYPE ("TestMix", mix_inputs, mix_execute);
static const RlNodeType clock_type = {
  .name = "TestClock", .display_name = "TestClock", .category = "testing",
  .outputs = int_output, .n_outputs = 1, .not_idempotent = TRUE, .execute = clock_execute,
};
static const RlNodeType slow_type = TEST_TYPE ("TestSlow", slow_inputs, slow_execute);
static const RlNodeType fail_type = TEST_TYPE ("TestFail", in_link, fail_execute);
static const RlNodeType block_type = TEST_TYPE ("TestBlock", in_link, block_execute);
static const RlNodeType sink_type = {
  .name = "TestSink", .display_name = "TestSink", .category = "testing",
  .inputs = sink_inputs, .n_inputs = G_N_ELEMENTS (sink_inputs),
  .output_node = TRUE, .execute = sink_execute,
};

RlRegistry *
test_run_nodes_registry (void)
{
  static const RlNodeType * const types[] = {
    &number_type, &add_type, &mix_type, &clock_type, &slow_type, &fail_type, &block_type, &sink_type,
  };
  g_autoptr (GError) error = NULL;
  RlRegistry *registry = rl_registry_new ();
  g_assert_true (rl_registry_add_all (registry, types, G_N_ELEMENTS (types), &error));
  g_assert_no_error (error);
  return registry;
}

/* ---- graph building --------------------------------------------------- */

RlGraphNode *
test_graph_add_number (RlGraph    *graph,
                       const char *id,
                       gint64      value)
{
  RlGraphNode *node = rl_graph_add_node (graph, id, "TestNumber");
  g_assert_nonnull (node);
  rl_graph_node_set_int (node, "value", value);
  return node;
}

RlGraphNode *
test_graph_add_linked (RlGraph    *graph,
                       const char *id,
                       const char *class_type,
                       const char *input,
                       const char *from_id)
{
  RlGraphNode *node = rl_graph_add_node (graph, id, class_type);
  g_assert_nonnull (node);
  rl_graph_node_set_link (node, input, from_id, 0);
  return node;
}

gint64
test_read_sink_file (const char *output_dir,
                     const char *node_id)
{
  g_autofree char *name = g_strdup_printf ("sink-%s.txt", node_id);
  g_autofree char *path = g_build_filename (output_dir, name, NULL);
  g_autofree char *text = NULL;
  if (!g_file_get_contents (path, &text, NULL, NULL))
    return G_MININT64;
  return g_ascii_strtoll (text, NULL, 10);
}
