/* Seed controls (control_after_generate) applied to ComfyUI-shaped UI
 * workflows, as the frontend applies them after each queued prompt. */
#include <string.h>

#include "engine/graph/graph.h"
#include "engine/graph/seed-control.h"
#include "test-graph-nodes.h"

static const char * const enable_disable[] = { "enable", "disable", NULL };
static const char * const disable_enable[] = { "disable", "enable", NULL };
static const char * const samplers[] = { "euler", NULL };
static const char * const schedulers[] = { "normal", NULL };

/* KSamplerAdvanced's widget layout: the seed is the second widget, so its
 * control sits at widgets_values[2]. */
static const RlInputSpec advanced_inputs[] = {
  { .name = "model", .kind = RL_INPUT_LINK, .type = "MODEL" },
  { .name = "add_noise", .kind = RL_INPUT_COMBO, .combo_options = enable_disable },
  { .name = "noise_seed", .kind = RL_INPUT_INT, .int_min = 0, .int_max = G_MAXINT64, .int_step = 1,
    .control_after_generate = TRUE },
  { .name = "steps", .kind = RL_INPUT_INT, .int_default = 20, .int_min = 1, .int_max = 10000 },
  { .name = "cfg", .kind = RL_INPUT_FLOAT, .float_default = 8.0, .float_min = 0.0, .float_max = 100.0 },
  { .name = "sampler_name", .kind = RL_INPUT_COMBO, .combo_options = samplers },
  { .name = "scheduler", .kind = RL_INPUT_COMBO, .combo_options = schedulers },
  { .name = "positive", .kind = RL_INPUT_LINK, .type = "CONDITIONING" },
  { .name = "negative", .kind = RL_INPUT_LINK, .type = "CONDITIONING" },
  { .name = "latent_image", .kind = RL_INPUT_LINK, .type = "LATENT" },
  { .name = "start_at_step", .kind = RL_INPUT_INT, .int_min = 0, .int_max = 10000 },
  { .name = "end_at_step", .kind = RL_INPUT_INT, .int_min = 0, .int_max = 10000, .int_default = 10000 },
  { .name = "return_with_leftover_noise", .kind = RL_INPUT_COMBO, .combo_options = disable_enable },
};
static const RlOutputSpec latent_output[] = { { .name = "LATENT", .type = "LATENT" } };
static const RlNodeType advanced_type = {
  .name = "KSamplerAdvanced", .category = "sampling",
  .inputs = advanced_inputs, .n_inputs = G_N_ELEMENTS (advanced_inputs),
  .outputs = latent_output, .n_outputs = G_N_ELEMENTS (latent_output),
};

/* Nodes as ComfyUI's frontend saves them (version 1 document). */
#define SEED_SLOT(link) "{ \"name\": \"seed\", \"type\": \"INT\", \"widget\": { \"name\": \"seed\" }, \"link\": " link " }"
static const char seeds_document[] =
  "{ \"state\": { \"lastNodeId\": 12, \"lastLinkId\": 1 }, \"version\": 1, \"links\": ["
  "  { \"id\": 1, \"origin_id\": 11, \"origin_slot\": 0, \"target_id\": 6, \"target_slot\": 0, \"type\": \"INT\" } ],"
  " \"nodes\": ["
  "  { \"id\": 1, \"type\": \"KSampler\", \"mode\": 0, \"inputs\": [" SEED_SLOT ("null") "],"
  "    \"widgets_values\": [156680208700286, \"fixed\", 20, 8, \"euler\", \"normal\", 1] },"
  "  { \"id\": 2, \"type\": \"KSampler\", \"mode\": 0, \"widgets_values\": [5, \"increment\", 20, 8, \"euler\", \"normal\", 1] },"
  "  { \"id\": 3, \"type\": \"KSampler\", \"mode\": 0, \"widgets_values\": [10, \"decrement\", 20, 8, \"euler\", \"normal\", 1] },"
  "  { \"id\": 4, \"type\": \"KSampler\", \"mode\": 0, \"widgets_values\": [0, \"decrement\", 20, 8, \"euler\", \"normal\", 1] },"
  "  { \"id\": 5, \"type\": \"KSampler\", \"mode\": 0, \"widgets_values\": [9223372036854775807, \"increment\", 20, 8, \"euler\", \"normal\", 1] },"
  "  { \"id\": 6, \"type\": \"KSampler\", \"mode\": 0, \"inputs\": [" SEED_SLOT ("1") "],"
  "    \"widgets_values\": [77, \"randomize\", 20, 8, \"euler\", \"normal\", 1] },"
  "  { \"id\": 7, \"type\": \"KSamplerAdvanced\", \"mode\": 0,"
  "    \"widgets_values\": [\"enable\", 42, \"randomize\", 20, 8, \"euler\", \"normal\", 0, 10000, \"disable\"] },"
  "  { \"id\": 8, \"type\": \"EmptyLatentImage\", \"mode\": 0, \"widgets_values\": [512, 512, 1] },"
  "  { \"id\": 9, \"type\": \"KSampler\", \"mode\": 0, \"widgets_values\": [7, 20, 8, \"euler\", \"normal\", 1] },"
  "  { \"id\": 10, \"type\": \"KSampler\", \"mode\": 4, \"widgets_values\": [100, \"randomize\", 20, 8, \"euler\", \"normal\", 1] },"
  "  { \"id\": 11, \"type\": \"PrimitiveNode\", \"mode\": 0, \"outputs\": [ { \"name\": \"INT\", \"type\": \"INT\", \"links\": [1],"
  "    \"widget\": { \"name\": \"seed\" } } ], \"widgets_values\": [500, \"increment\"] },"
  "  { \"id\": 12, \"type\": \"PrimitiveNode\", \"mode\": 0, \"outputs\": [ { \"name\": \"connect to widget input\","
  "    \"type\": \"*\", \"links\": [] } ], \"widgets_values\": [3, \"increment\"] } ] }";

static RlRegistry *
registry_new (void)
{
  RlRegistry *registry = graph_test_registry_new ();
  g_autoptr(GError) error = NULL;

  g_assert_true (rl_registry_add (registry, &advanced_type, &error));
  g_assert_no_error (error);
  return registry;
}

static RlWorkflow *
load_seeds_document (void)
{
  g_autoptr(GError) error = NULL;
  RlWorkflow *workflow = rl_workflow_load_data (seeds_document, -1, "seeds", &error);

  g_assert_no_error (error);
  return workflow;
}

static JsonNode *
widget_value (RlWorkflow *workflow,
              gint64      id,
              guint       index)
{
  JsonArray *values = rl_workflow_node_get_widgets_values (workflow, id);

  g_assert_nonnull (values);
  g_assert_cmpuint (index, <, json_array_get_length (values));
  return json_array_get_element (values, index);
}

static gint64
widget_int (RlWorkflow *workflow,
            gint64      id,
            guint       index)
{
  return json_node_get_int (widget_value (workflow, id, index));
}

static const RlSeedChange *
find_change (GArray *changes,
             gint64  id)
{
  for (guint i = 0; i < changes->len; i++)
    if (g_array_index (changes, RlSeedChange, i).node_id == id)
      return &g_array_index (changes, RlSeedChange, i);
  return NULL;
}

static void
test_control_names (void)
{
  RlSeedControl control = RL_SEED_CONTROL_FIXED;

  g_assert_true (rl_seed_control_from_string ("randomize", &control));
  g_assert_cmpint (control, ==, RL_SEED_CONTROL_RANDOMIZE);
  g_assert_true (rl_seed_control_from_string ("decrement", &control));
  g_assert_cmpint (control, ==, RL_SEED_CONTROL_DECREMENT);
  g_assert_false (rl_seed_control_from_string ("fixed seed", &control));
  g_assert_false (rl_seed_control_from_string (NULL, &control));
}

static void
test_apply_once (void)
{
  g_autoptr(RlRegistry) registry = registry_new ();
  g_autoptr(RlWorkflow) workflow = load_seeds_document ();
  g_autoptr(GRand) rand = g_rand_new_with_seed (graph_test_random_seed ());
  g_autoptr(GArray) changes = rl_workflow_apply_seed_controls (workflow, registry, rand);
  const RlSeedChange *change;

  /* fixed, decrement at the minimum, increment at the maximum, a linked
   * seed, a node without seeds, an old file without the control and a
   * PrimitiveNode that feeds nothing are left as they were. */
  g_assert_cmpint (widget_int (workflow, 1, 0), ==, G_GINT64_CONSTANT (156680208700286));
  g_assert_cmpint (widget_int (workflow, 4, 0), ==, 0);
  g_assert_cmpint (widget_int (workflow, 5, 0), ==, G_MAXINT64);
  g_assert_cmpint (widget_int (workflow, 6, 0), ==, 77);
  g_assert_cmpint (widget_int (workflow, 8, 0), ==, 512);
  g_assert_cmpint (widget_int (workflow, 9, 0), ==, 7);
  g_assert_cmpint (widget_int (workflow, 9, 1), ==, 20);
  g_assert_cmpint (widget_int (workflow, 12, 0), ==, 3);
  g_assert_null (find_change (changes, 12));
  g_assert_null (find_change (changes, 1));
  g_assert_null (find_change (changes, 4));
  g_assert_null (find_change (changes, 6));
  g_assert_null (find_change (changes, 9));

  g_assert_cmpint (widget_int (workflow, 2, 0), ==, 6);
  g_assert_cmpint (widget_int (workflow, 3, 0), ==, 9);
  change = find_change (changes, 2);
  g_assert_nonnull (change);
  g_assert_cmpstr (change->input_name, ==, "seed");
  g_assert_cmpint (change->control, ==, RL_SEED_CONTROL_INCREMENT);
  g_assert_cmpint (change->old_value, ==, 5);
  g_assert_cmpint (change->new_value, ==, 6);
  g_assert_cmpuint (change->value_index, ==, 0);

  /* KSamplerAdvanced: the seed is widgets_values[1], its control [2]. */
  change = find_change (changes, 7);
  g_assert_nonnull (change);
  g_assert_cmpstr (change->input_name, ==, "noise_seed");
  g_assert_cmpuint (change->value_index, ==, 1);
  g_assert_cmpint (change->old_value, ==, 42);
  g_assert_cmpint (widget_int (workflow, 7, 1), ==, change->new_value);
  g_assert_cmpint (change->new_value, >=, 0);
  g_assert_cmpint (change->new_value, <, RL_SEED_RANDOM_LIMIT);
  g_assert_cmpstr (json_node_get_string (widget_value (workflow, 7, 0)), ==, "enable");
  g_assert_cmpint (widget_int (workflow, 7, 3), ==, 20);

  /* A bypassed node's seed moves too: the frontend steps every node. */
  g_assert_nonnull (find_change (changes, 10));

  /* The PrimitiveNode feeding node 6's seed steps; node 6 keeps its stale
   * widget value (the prompt takes the primitive's). */
  change = find_change (changes, 11);
  g_assert_nonnull (change);
  g_assert_cmpstr (change->input_name, ==, "value");
  g_assert_cmpint (change->new_value, ==, 501);
  g_assert_cmpint (widget_int (workflow, 11, 0), ==, 501);
  g_assert_cmpint (widget_int (workflow, 6, 0), ==, 77);
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(RlGraph) graph = rl_workflow_to_graph (workflow, registry, &error);
    g_autoptr(JsonNode) prompt = NULL;
    JsonObject *inputs;

    g_assert_no_error (error);
    prompt = rl_graph_to_prompt_json (graph);
    inputs = json_object_get_object_member (json_object_get_object_member (json_node_get_object (prompt), "6"),
                                            "inputs");
    g_assert_cmpint (json_object_get_int_member (inputs, "seed"), ==, 501);
  }

  /* The controls themselves stay where they were. */
  g_assert_cmpstr (json_node_get_string (widget_value (workflow, 2, 1)), ==, "increment");
  g_assert_cmpstr (json_node_get_string (widget_value (workflow, 7, 2)), ==, "randomize");
  g_assert_cmpuint (changes->len, ==, 5);
}

/* Randomize stays inside the frontend's range and does not repeat itself. */
static void
test_randomize_range (void)
{
  g_autoptr(RlRegistry) registry = registry_new ();
  g_autoptr(RlWorkflow) workflow = load_seeds_document ();
  g_autoptr(GRand) rand = g_rand_new_with_seed (graph_test_random_seed ());
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  gint64 highest = 0;

  for (guint round = 0; round < 200; round++)
    {
      g_autoptr(GArray) changes = rl_workflow_apply_seed_controls (workflow, registry, rand);
      const RlSeedChange *change = find_change (changes, 7);
      gint64 seed = widget_int (workflow, 7, 1);

      g_assert_nonnull (change);
      g_assert_cmpint (change->new_value, ==, seed);
      g_assert_cmpint (seed, >=, 0);
      g_assert_cmpint (seed, <, RL_SEED_RANDOM_LIMIT);
      g_hash_table_add (seen, g_memdup2 (&seed, sizeof seed));
      highest = MAX (highest, seed);
    }
  /* 200 draws from 2^50 values: a repeat or a maximum under 2^40 would
   * mean the draw is not spread over the range. */
  g_assert_cmpuint (g_hash_table_size (seen), ==, 200);
  g_assert_cmpint (highest, >, G_GINT64_CONSTANT (1) << 40);
  /* Increment went on every round; decrement stopped at the minimum. */
  g_assert_cmpint (widget_int (workflow, 2, 0), ==, 205);
  g_assert_cmpint (widget_int (workflow, 3, 0), ==, 0);
}

/* The prompt is built before the step: it runs the current seed; the
 * stepped document still saves and loads with its controls. */
static void
test_prompt_then_step (void)
{
  g_autoptr(RlRegistry) registry = graph_test_registry_new ();
  g_autofree char *path = graph_test_data_path ("sd-text-to-image-1.0.json");
  g_autoptr(GError) error = NULL;
  g_autoptr(RlWorkflow) workflow = rl_workflow_load_file (path, &error);
  g_autoptr(GArray) changes = NULL;
  g_autoptr(RlGraph) before = NULL, after = NULL;
  g_autofree char *before_text = NULL, *fixed_text = NULL, *saved = NULL;
  g_autoptr(RlWorkflow) reloaded = NULL;
  g_autoptr(JsonNode) control = json_node_init_string (json_node_alloc (), "increment");
  JsonObject *inputs;
  gint64 sampler = -1;

  g_assert_no_error (error);
  for (guint i = 0; i < rl_workflow_get_n_nodes (workflow); i++)
    if (g_strcmp0 (rl_workflow_node_get_type (workflow, rl_workflow_get_node_id (workflow, i)), "KSampler") == 0)
      sampler = rl_workflow_get_node_id (workflow, i);
  g_assert_cmpint (sampler, >, 0);

  /* The file's "fixed" control: nothing changes, byte for byte. */
  before_text = rl_workflow_to_string (workflow, FALSE);
  changes = rl_workflow_apply_seed_controls (workflow, registry, NULL);
  g_assert_cmpuint (changes->len, ==, 0);
  fixed_text = rl_workflow_to_string (workflow, FALSE);
  g_assert_cmpstr (before_text, ==, fixed_text);
  g_clear_pointer (&changes, g_array_unref);

  rl_workflow_node_set_widget_value (workflow, sampler, 1, control);
  before = rl_workflow_to_graph (workflow, registry, &error);
  g_assert_no_error (error);
  changes = rl_workflow_apply_seed_controls (workflow, registry, NULL);
  g_assert_cmpuint (changes->len, ==, 1);
  after = rl_workflow_to_graph (workflow, registry, &error);
  g_assert_no_error (error);

  {
    g_autoptr(JsonNode) prompt = rl_graph_to_prompt_json (before);
    g_autofree char *key = g_strdup_printf ("%" G_GINT64_FORMAT, sampler);

    inputs = json_object_get_object_member (json_object_get_object_member (json_node_get_object (prompt), key), "inputs");
    g_assert_cmpint (json_object_get_int_member (inputs, "seed"), ==, G_GINT64_CONSTANT (156680208700286));
  }
  {
    g_autoptr(JsonNode) prompt = rl_graph_to_prompt_json (after);
    g_autofree char *key = g_strdup_printf ("%" G_GINT64_FORMAT, sampler);

    inputs = json_object_get_object_member (json_object_get_object_member (json_node_get_object (prompt), key), "inputs");
    g_assert_cmpint (json_object_get_int_member (inputs, "seed"), ==, G_GINT64_CONSTANT (156680208700287));
    g_assert_cmpint (json_object_get_int_member (inputs, "steps"), ==, 20);
  }

  saved = rl_workflow_to_string (workflow, FALSE);
  reloaded = rl_workflow_load_data (saved, -1, "saved", &error);
  g_assert_no_error (error);
  g_assert_cmpint (widget_int (reloaded, sampler, 0), ==, G_GINT64_CONSTANT (156680208700287));
  g_assert_cmpstr (json_node_get_string (widget_value (reloaded, sampler, 1)), ==, "increment");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/seed-control/names", test_control_names);
  g_test_add_func ("/seed-control/apply-once", test_apply_once);
  g_test_add_func ("/seed-control/randomize-range", test_randomize_range);
  g_test_add_func ("/seed-control/prompt-then-step", test_prompt_then_step);
  return g_test_run ();
}
