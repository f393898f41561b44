/* UI workflow documents: loading, round trips, conversion, editing. */
#include <glib/gstdio.h>
#include <string.h>

#include "engine/engine-error.h"
#include "engine/graph/graph.h"
#include "engine/graph/registry.h"
#include "engine/graph/workflow.h"
#include "test-graph-nodes.h"

static RlWorkflow *
load_workflow (const char *name)
{
  g_autofree char *path = graph_test_data_path (name);
  g_autoptr(GError) error = NULL;
  RlWorkflow *workflow = rl_workflow_load_file (path, &error);

  g_assert_no_error (error);
  return workflow;
}

static char *
read_data (const char *name,
           gsize      *length)
{
  g_autofree char *path = graph_test_data_path (name);
  char *text = NULL;

  g_assert_true (g_file_get_contents (path, &text, length, NULL));
  return text;
}

static void
assert_converts_to (const char *workflow_name,
                    const char *prompt_name)
{
  g_autoptr(RlRegistry) registry = graph_test_registry_new ();
  g_autoptr(RlWorkflow) workflow = load_workflow (workflow_name);
  g_autoptr(JsonNode) expected = graph_test_load_json (prompt_name);
  g_autoptr(GError) error = NULL;
  g_autoptr(RlGraph) graph = rl_workflow_to_graph (workflow, registry, &error);
  g_autoptr(JsonNode) prompt = NULL;

  g_assert_no_error (error);
  prompt = rl_graph_to_prompt_json (graph);
  if (!json_node_equal (prompt, expected))
    {
      g_autofree char *got = json_to_string (prompt, TRUE);

      g_error ("%s did not convert to %s; got:\n%s", workflow_name, prompt_name, got);
    }
}

static void
test_load_v04 (void)
{
  g_autoptr(RlWorkflow) workflow = load_workflow ("sd-text-to-image-0.4.json");
  RlWorkflowLink link;
  const char *title = NULL;
  double box[4], x, y;

  g_assert_cmpfloat (rl_workflow_get_version (workflow), ==, 0.4);
  g_assert_cmpuint (rl_workflow_get_n_nodes (workflow), ==, 7);
  g_assert_cmpint (rl_workflow_get_node_id (workflow, 0), ==, 7);
  g_assert_cmpstr (rl_workflow_node_get_type (workflow, 3), ==, "KSampler");
  g_assert_cmpstr (rl_workflow_node_get_title (workflow, 6), ==, "Positive Prompt");
  g_assert_null (rl_workflow_node_get_title (workflow, 3));
  g_assert_true (rl_workflow_node_get_pos (workflow, 3, &x, &y));
  g_assert_cmpfloat (x, ==, 863);
  g_assert_cmpfloat (y, ==, 186);
  g_assert_cmpint (rl_workflow_node_get_mode (workflow, 3), ==, RL_WORKFLOW_MODE_ALWAYS);
  g_assert_cmpuint (json_array_get_length (rl_workflow_node_get_widgets_values (workflow, 3)), ==, 7);
  g_assert_null (rl_workflow_lookup_node (workflow, 1234));

  g_assert_cmpuint (rl_workflow_get_n_links (workflow), ==, 9);
  g_assert_true (rl_workflow_get_link (workflow, 2, &link));
  g_assert_cmpint (link.id, ==, 3);
  g_assert_cmpint (link.origin_id, ==, 4);
  g_assert_cmpuint (link.origin_slot, ==, 1);
  g_assert_cmpint (link.target_id, ==, 6);
  g_assert_cmpstr (link.type, ==, "CLIP");
  g_assert_false (rl_workflow_get_link (workflow, 9, &link));

  g_assert_cmpuint (rl_workflow_get_n_groups (workflow), ==, 1);
  g_assert_true (rl_workflow_get_group (workflow, 0, &title, box));
  g_assert_cmpstr (title, ==, "Prompts");
  g_assert_cmpfloat (box[2], ==, 450);
  g_assert_cmpuint (rl_workflow_get_n_reroutes (workflow), ==, 0);
}

static void
test_load_v1 (void)
{
  g_autoptr(RlWorkflow) workflow = load_workflow ("sd-text-to-image-1.0.json");
  RlWorkflowLink link;

  g_assert_cmpfloat (rl_workflow_get_version (workflow), ==, 1.0);
  g_assert_cmpuint (rl_workflow_get_n_nodes (workflow), ==, 7);
  g_assert_cmpuint (rl_workflow_get_n_links (workflow), ==, 9);
  g_assert_true (rl_workflow_lookup_link (workflow, 8, &link));
  g_assert_cmpint (link.origin_id, ==, 4);
  g_assert_cmpuint (link.origin_slot, ==, 2);
  g_assert_cmpuint (link.target_slot, ==, 1);
  g_assert_cmpstr (link.type, ==, "VAE");
  g_assert_cmpuint (rl_workflow_get_n_reroutes (workflow), ==, 1);
}

/* save(load(x)) is the same JSON value as x, through text and files. */
static void
test_round_trip (void)
{
  const char *names[] = {
    "sd-text-to-image-0.4.json", "sd-text-to-image-1.0.json", "reroute-primitive-modes-0.4.json",
  };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autoptr(JsonNode) original = graph_test_load_json (names[i]);
      g_autoptr(RlWorkflow) workflow = load_workflow (names[i]);
      g_autofree char *text = rl_workflow_to_string (workflow, i % 2 == 0);
      g_autoptr(GError) error = NULL;
      g_autoptr(RlWorkflow) again = rl_workflow_load_data (text, -1, "round-trip", &error);
      g_autofree char *tmp = g_dir_make_tmp ("raylight-workflow-XXXXXX", NULL);
      g_autofree char *path = g_build_filename (tmp, "saved.json", NULL);
      g_autoptr(RlWorkflow) from_file = NULL;

      g_assert_no_error (error);
      g_assert_true (json_node_equal (original, rl_workflow_get_root (workflow)));
      g_assert_true (json_node_equal (original, rl_workflow_get_root (again)));
      g_assert_true (rl_workflow_save_file (workflow, path, &error));
      g_assert_no_error (error);
      from_file = rl_workflow_load_file (path, &error);
      g_assert_no_error (error);
      g_assert_true (json_node_equal (original, rl_workflow_get_root (from_file)));
      /* Unknown fields survive (spot-check one deep in "extra"). */
      if (i == 0)
        g_assert_nonnull (strstr (text, "unknown to Raylight"));
      g_unlink (path);
      g_rmdir (tmp);
    }
}

static void
test_convert_v04 (void)
{
  assert_converts_to ("sd-text-to-image-0.4.json", "sd-text-to-image-api.json");
}

static void
test_convert_v1 (void)
{
  assert_converts_to ("sd-text-to-image-1.0.json", "sd-text-to-image-api.json");
}

static void
test_convert_reroute_primitive_modes (void)
{
  assert_converts_to ("reroute-primitive-modes-0.4.json", "reroute-primitive-modes-api.json");
}

static void
test_unknown_types (void)
{
  g_autoptr(RlRegistry) registry = graph_test_registry_new ();
  g_autoptr(RlWorkflow) workflow = load_workflow ("sd-text-to-image-0.4.json");
  g_autoptr(GError) error = NULL;
  g_autoptr(RlGraph) graph = NULL;

  json_object_set_string_member (rl_workflow_lookup_node (workflow, 3), "type", "FancySampler");
  json_object_set_string_member (rl_workflow_lookup_node (workflow, 9), "type", "FancySampler");
  json_object_set_string_member (rl_workflow_lookup_node (workflow, 7), "type", "FancyEncoder");
  graph = rl_workflow_to_graph (workflow, registry, &error);
  g_assert_null (graph);
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_UNKNOWN_NODE_TYPE);
  g_assert_nonnull (strstr (error->message, "2 node types"));
  g_assert_nonnull (strstr (error->message, "FancySampler, used by node 3 (FancySampler), node 9 (FancySampler)"));
  g_assert_nonnull (strstr (error->message, "FancyEncoder, used by node 7 \"Negative Prompt\""));
  g_assert_nonnull (strstr (error->message, "sd-text-to-image-0.4.json"));
}

/* Every cut of a file short of its end is an error naming the place. */
static void
test_truncated (void)
{
  const char *names[] = { "sd-text-to-image-0.4.json", "sd-text-to-image-1.0.json" };
  GRand *rand = g_rand_new_with_seed (graph_test_random_seed ());

  for (guint n = 0; n < G_N_ELEMENTS (names); n++)
    {
      gsize length;
      g_autofree char *text = read_data (names[n], &length);
      gsize last_brace = length;

      while (last_brace > 0 && text[last_brace - 1] != '}')
        last_brace--;
      for (int round = 0; round < 200; round++)
        {
          gsize cut = round == 0 ? 0 : (gsize) g_rand_int_range (rand, 1, (gint32) last_brace - 1);
          g_autoptr(GError) error = NULL;
          g_autoptr(RlWorkflow) workflow = rl_workflow_load_data (text, (gssize) cut, names[n], &error);

          g_assert_null (workflow);
          g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INVALID_WORKFLOW);
          g_assert_true (g_str_has_prefix (error->message, names[n]));
          if (cut > 0 && !g_regex_match_simple ("^[^:]+:[0-9]+:[0-9]+: ", error->message, 0, 0)
              && strstr (error->message, "not a ComfyUI workflow") == NULL)
            g_error ("cut at %" G_GSIZE_FORMAT ": no line and column in \"%s\"", cut, error->message);
        }
    }
  g_rand_free (rand);
}

static void
test_malformed_shapes (void)
{
  struct { const char *text; const char *words; } cases[] = {
    { "{\"nodes\": 5, \"links\": []}", "\"nodes\" must be a list" },
    { "{\"links\": []}", "\"nodes\" is missing" },
    { "{\"3\": {\"class_type\": \"KSampler\", \"inputs\": {}}}", "API prompt" },
    { "{\"nodes\": [{\"type\": \"KSampler\"}]}", "\"id\"" },
    { "{\"nodes\": [{\"id\": \"5:3\", \"type\": \"KSampler\"}]}", "group nodes" },
    { "{\"nodes\": [{\"id\": 5}]}", "\"type\"" },
    { "{\"nodes\": [{\"id\": 5, \"type\": \"A\"}, {\"id\": 5, \"type\": \"B\"}]}", "used by two nodes" },
    { "{\"nodes\": [{\"id\": 5, \"type\": \"A\", \"widgets_values\": \"x\"}]}", "widgets_values" },
    { "{\"nodes\": [{\"id\": 5, \"type\": \"A\", \"inputs\": {}}]}", "\"inputs\"" },
    { "{\"nodes\": [], \"links\": [[1, 2, 0]]}", "links[0]" },
    { "{\"nodes\": [], \"links\": [{\"id\": 1, \"origin_id\": 2}]}", "links[0]" },
    { "{\"nodes\": [], \"links\": [[1, 2, -1, 3, 0, \"X\"]]}", "links[0]" },
    { "[]", "top level" },
    { "{'nodes': []}", "double quotes" },
    { "{\"nodes\": []} {\"nodes\": []}", "after the end" },
    { "{\"nodes\": [], \"x\": 1e999}", "too large" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(RlWorkflow) workflow = rl_workflow_load_data (cases[i].text, -1, "shape.json", &error);

      g_assert_null (workflow);
      g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INVALID_WORKFLOW);
      if (strstr (error->message, cases[i].words) == NULL || !g_str_has_prefix (error->message, "shape.json"))
        g_error ("case %u: message \"%s\" lacks \"%s\" or the file name", i, error->message, cases[i].words);
    }
}

/* Shape errors in a parsed file say on which line the node starts. */
static void
test_shape_error_line (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RlWorkflow) workflow = rl_workflow_load_data (
    "{\n"
    "  \"nodes\": [\n"
    "    {\"id\": 1, \"type\": \"SaveImage\"},\n"
    "    {\"id\": 2,\n"
    "     \"typo\": \"KSampler\"}\n"
    "  ],\n"
    "  \"links\": []\n"
    "}\n", -1, "lines.json", &error);

  g_assert_null (workflow);
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INVALID_WORKFLOW);
  g_assert_true (g_str_has_prefix (error->message, "lines.json:4: "));
  g_assert_nonnull (strstr (error->message, "node 2: field \"type\""));
}

static void
test_deep_nesting (void)
{
  GString *text = g_string_new ("{\"nodes\": [], \"extra\": ");
  g_autoptr(GError) error = NULL;
  g_autoptr(RlWorkflow) workflow = NULL;

  for (int i = 0; i < 100000; i++)
    g_string_append_c (text, '[');
  workflow = rl_workflow_load_data (text->str, (gssize) text->len, "deep.json", &error);
  g_assert_null (workflow);
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INVALID_WORKFLOW);
  g_assert_nonnull (strstr (error->message, "nested deeper"));
  g_string_free (text, TRUE);
}

/* Integers past int64 load as doubles instead of wrapping to other
 * numbers, so validation can say they are too big. */
static void
test_huge_integers (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RlWorkflow) workflow = rl_workflow_load_data (
    "{\"nodes\": [{\"id\": 1, \"type\": \"EmptyLatentImage\", \"widgets_values\": "
    "[99999999999999999999999, -99999999999999999999999, 1]}], \"links\": []}", -1, "huge.json", &error);
  JsonArray *values;

  g_assert_no_error (error);
  values = rl_workflow_node_get_widgets_values (workflow, 1);
  g_assert_cmpfloat (json_array_get_double_element (values, 0), >, 9.9e22);
  g_assert_cmpfloat (json_array_get_double_element (values, 1), <, -9.9e22);
  g_assert_cmpint (json_array_get_int_element (values, 2), ==, 1);
}

static void
test_link_to_missing_node (void)
{
  g_autoptr(RlRegistry) registry = graph_test_registry_new ();
  g_autoptr(RlWorkflow) workflow = load_workflow ("sd-text-to-image-0.4.json");
  g_autoptr(GError) error = NULL;
  g_autoptr(RlGraph) graph = NULL;
  JsonArray *link = json_array_get_array_element (json_object_get_array_member (
                      json_node_get_object (rl_workflow_get_root (workflow)), "links"), 0);

  /* [1, 4, 0, 3, 0, "MODEL"] now comes from node 44. */
  json_array_remove_element (link, 1);
  json_array_remove_element (link, 1);
  json_array_remove_element (link, 1);
  json_array_remove_element (link, 1);
  json_array_remove_element (link, 1);
  json_array_add_int_element (link, 44);
  json_array_add_int_element (link, 0);
  json_array_add_int_element (link, 3);
  json_array_add_int_element (link, 0);
  json_array_add_string_element (link, "MODEL");
  graph = rl_workflow_to_graph (workflow, registry, &error);
  g_assert_null (graph);
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INVALID_WORKFLOW);
  g_assert_nonnull (strstr (error->message, "node 44"));
  g_assert_nonnull (strstr (error->message, "node 3 (KSampler)"));
}

static void
test_reroute_loop (void)
{
  g_autoptr(RlRegistry) registry = graph_test_registry_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(RlWorkflow) workflow = rl_workflow_load_data (
    "{\"nodes\": ["
    " {\"id\": 1, \"type\": \"Reroute\", \"inputs\": [{\"name\": \"\", \"type\": \"*\", \"link\": 2}],"
    "  \"outputs\": [{\"name\": \"\", \"type\": \"*\", \"links\": [1, 3]}]},"
    " {\"id\": 2, \"type\": \"Reroute\", \"inputs\": [{\"name\": \"\", \"type\": \"*\", \"link\": 1}],"
    "  \"outputs\": [{\"name\": \"\", \"type\": \"*\", \"links\": [2]}]},"
    " {\"id\": 3, \"type\": \"VAEDecode\", \"inputs\": [{\"name\": \"samples\", \"type\": \"LATENT\", \"link\": 3}]}],"
    " \"links\": [[1, 1, 0, 2, 0, \"*\"], [2, 2, 0, 1, 0, \"*\"], [3, 1, 0, 3, 0, \"LATENT\"]], \"version\": 0.4}",
    -1, "loop.json", &error);
  g_autoptr(RlGraph) graph = NULL;

  g_assert_no_error (error);
  graph = rl_workflow_to_graph (workflow, registry, &error);
  g_assert_null (graph);
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INVALID_WORKFLOW);
  g_assert_nonnull (strstr (error->message, "loop"));
}

/* A bypassed node with no input of the output's type passes nothing; a
 * widgets_values object maps by name; a stale link id is unconnected; a
 * missing widget value takes the default. */
static void
test_convert_edge_cases (void)
{
  g_autoptr(RlRegistry) registry = graph_test_registry_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(RlWorkflow) workflow = rl_workflow_load_data (
    "{\"nodes\": ["
    " {\"id\": 1, \"type\": \"EmptyLatentImage\", \"mode\": 0, \"widgets_values\": {\"width\": 640, \"height\": 384}},"
    " {\"id\": 2, \"type\": \"VAEDecode\", \"mode\": 4,"
    "  \"inputs\": [{\"name\": \"samples\", \"type\": \"LATENT\", \"link\": 1}, {\"name\": \"vae\", \"type\": \"VAE\", \"link\": null}],"
    "  \"outputs\": [{\"name\": \"IMAGE\", \"type\": \"IMAGE\", \"links\": [2]}]},"
    " {\"id\": 3, \"type\": \"SaveImage\", \"inputs\": [{\"name\": \"images\", \"type\": \"IMAGE\", \"link\": 2}],"
    "  \"widgets_values\": []},"
    " {\"id\": 4, \"type\": \"KSampler\", \"inputs\": [{\"name\": \"model\", \"type\": \"MODEL\", \"link\": 77}],"
    "  \"widgets_values\": [5, 20, 7, \"euler\", \"normal\", 0.5]}],"
    " \"links\": [[1, 1, 0, 2, 0, \"LATENT\"], [2, 2, 0, 3, 0, \"IMAGE\"]], \"version\": 0.4}",
    -1, "edge.json", &error);
  g_autoptr(RlGraph) graph = NULL;
  RlGraphNode *latent, *save, *sampler;

  g_assert_no_error (error);
  graph = rl_workflow_to_graph (workflow, registry, &error);
  g_assert_no_error (error);
  g_assert_null (rl_graph_lookup (graph, "2"));
  latent = rl_graph_lookup (graph, "1");
  g_assert_cmpint (json_node_get_int (rl_graph_node_get_literal (latent, "width")), ==, 640);
  g_assert_cmpint (json_node_get_int (rl_graph_node_get_literal (latent, "batch_size")), ==, 1);
  save = rl_graph_lookup (graph, "3");
  g_assert_false (rl_graph_node_has_input (save, "images"));
  g_assert_cmpstr (json_node_get_string (rl_graph_node_get_literal (save, "filename_prefix")), ==, "ComfyUI");
  /* Saved without the control value after the seed: still maps. */
  sampler = rl_graph_lookup (graph, "4");
  g_assert_cmpint (json_node_get_int (rl_graph_node_get_literal (sampler, "seed")), ==, 5);
  g_assert_cmpint (json_node_get_int (rl_graph_node_get_literal (sampler, "steps")), ==, 20);
  g_assert_cmpfloat (json_node_get_double (rl_graph_node_get_literal (sampler, "denoise")), ==, 0.5);
  g_assert_false (rl_graph_node_has_input (sampler, "model"));
}

static void
assert_link_shape (RlWorkflow *workflow,
                   gboolean    objects)
{
  JsonArray *links = json_object_get_array_member (json_node_get_object (rl_workflow_get_root (workflow)), "links");
  JsonNode *last = json_array_get_element (links, json_array_get_length (links) - 1);

  g_assert_true (objects ? JSON_NODE_HOLDS_OBJECT (last) : JSON_NODE_HOLDS_ARRAY (last));
}

static void
edit_document (const char *name,
               gboolean    version_1)
{
  g_autoptr(RlRegistry) registry = graph_test_registry_new ();
  g_autoptr(RlWorkflow) workflow = load_workflow (name);
  g_autoptr(GError) error = NULL;
  g_autoptr(RlGraph) graph = NULL;
  JsonObject *root = json_node_get_object (rl_workflow_get_root (workflow));
  double x = g_test_rand_double_range (-500, 500), y = g_test_rand_double_range (-500, 500), gx, gy;
  gint64 sampler, link, link2;
  JsonArray *values;
  RlWorkflowLink found;
  g_autoptr(JsonNode) steps = json_node_init_int (json_node_alloc (), 33);

  sampler = rl_workflow_add_node (workflow, rl_registry_lookup (registry, "KSampler"), x, y);
  g_assert_cmpint (sampler, ==, 10);
  if (version_1)
    g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (root, "state"), "lastNodeId"), ==, 10);
  else
    g_assert_cmpint (json_object_get_int_member (root, "last_node_id"), ==, 10);
  g_assert_true (rl_workflow_node_get_pos (workflow, sampler, &gx, &gy));
  g_assert_cmpfloat (gx, ==, x);
  g_assert_cmpfloat (gy, ==, y);
  values = rl_workflow_node_get_widgets_values (workflow, sampler);
  g_assert_cmpuint (json_array_get_length (values), ==, 7);
  g_assert_cmpstr (json_array_get_string_element (values, 1), ==, "randomize");
  g_assert_cmpstr (json_array_get_string_element (values, 4), ==, "euler");

  rl_workflow_node_set_widget_value (workflow, sampler, 2, steps);
  rl_workflow_node_set_title (workflow, sampler, "Second pass");
  rl_workflow_node_set_mode (workflow, sampler, RL_WORKFLOW_MODE_MUTED);
  g_assert_cmpint (rl_workflow_node_get_mode (workflow, sampler), ==, RL_WORKFLOW_MODE_MUTED);
  rl_workflow_node_set_mode (workflow, sampler, RL_WORKFLOW_MODE_ALWAYS);
  rl_workflow_node_set_size (workflow, sampler, 400, 300);
  g_assert_true (rl_workflow_node_get_size (workflow, sampler, &gx, &gy));
  g_assert_cmpfloat (gy, ==, 300);

  /* Wire it: model, conditioning and latent from the existing nodes. */
  link = rl_workflow_add_link (workflow, 4, 0, sampler, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpint (link, ==, 10);
  assert_link_shape (workflow, version_1);
  rl_workflow_add_link (workflow, 6, 0, sampler, 1, &error);
  rl_workflow_add_link (workflow, 7, 0, sampler, 2, &error);
  rl_workflow_add_link (workflow, 3, 0, sampler, 3, &error);
  g_assert_no_error (error);
  /* Relinking an input replaces its link. */
  link2 = rl_workflow_add_link (workflow, 5, 0, sampler, 3, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rl_workflow_get_n_links (workflow), ==, 13);
  g_assert_true (rl_workflow_lookup_link (workflow, link2, &found));
  g_assert_cmpint (found.origin_id, ==, 5);
  g_assert_cmpint (rl_workflow_add_link (workflow, 4, 7, sampler, 0, &error), ==, -1);
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INVALID_WORKFLOW);
  g_clear_error (&error);

  graph = rl_workflow_to_graph (workflow, registry, &error);
  g_assert_no_error (error);
  {
    RlGraphNode *node = rl_graph_lookup (graph, "10");
    const char *from;

    g_assert_cmpstr (rl_graph_node_get_title (node), ==, "Second pass");
    g_assert_cmpint (json_node_get_int (rl_graph_node_get_literal (node, "steps")), ==, 33);
    g_assert_true (rl_graph_node_get_link (node, "latent_image", &from, NULL));
    g_assert_cmpstr (from, ==, "5");
  }

  /* Removing links and nodes keeps both ends consistent. */
  g_assert_true (rl_workflow_remove_link (workflow, link));
  g_assert_false (rl_workflow_remove_link (workflow, link));
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (
    json_array_get_object_element (json_object_get_array_member (rl_workflow_lookup_node (workflow, sampler), "inputs"), 0),
    "link")));
  g_assert_true (rl_workflow_remove_node (workflow, 3));
  g_assert_false (rl_workflow_remove_node (workflow, 3));
  g_assert_null (rl_workflow_lookup_node (workflow, 3));
  for (guint i = 0; i < rl_workflow_get_n_links (workflow); i++)
    {
      g_assert_true (rl_workflow_get_link (workflow, i, &found));
      g_assert_cmpint (found.origin_id, !=, 3);
      g_assert_cmpint (found.target_id, !=, 3);
    }
  /* Node 8 lost its samples link; node 4 still lists only live links. */
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (
    json_array_get_object_element (json_object_get_array_member (rl_workflow_lookup_node (workflow, 8), "inputs"), 0),
    "link")));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (
    json_array_get_object_element (json_object_get_array_member (rl_workflow_lookup_node (workflow, 4), "outputs"), 0),
    "links")), ==, 0);
}

static void
test_edit_v04 (void)
{
  edit_document ("sd-text-to-image-0.4.json", FALSE);
}

static void
test_edit_v1 (void)
{
  edit_document ("sd-text-to-image-1.0.json", TRUE);
}

static void
test_is_workflow (void)
{
  g_autoptr(JsonNode) workflow = graph_test_load_json ("sd-text-to-image-0.4.json");
  g_autoptr(JsonNode) prompt = graph_test_load_json ("sd-text-to-image-api.json");

  g_assert_true (rl_workflow_json_is_workflow (workflow));
  g_assert_false (rl_workflow_json_is_workflow (prompt));
}

/* Two workflows made from one JSON root are separate documents: json-glib's
 * json_node_copy would share the nodes' objects, so editing one workflow
 * (or the caller's root) would edit the other too. */
static void
test_new_from_json_copies (void)
{
  g_autoptr(JsonNode) root = graph_test_load_json ("sd-text-to-image-0.4.json");
  g_autoptr(JsonNode) pristine = graph_test_load_json ("sd-text-to-image-0.4.json");
  g_autoptr(JsonNode) steps = json_node_init_int (json_node_alloc (), 5);
  g_autoptr(GError) error = NULL;
  g_autoptr(RlWorkflow) first = rl_workflow_new_from_json (root, "first", &error);
  g_autoptr(RlWorkflow) second = NULL;
  JsonArray *values;

  g_assert_no_error (error);
  second = rl_workflow_new_from_json (root, "second", &error);
  g_assert_no_error (error);

  /* KSampler 3: [seed, "randomize", steps, cfg, ...]. */
  rl_workflow_node_set_widget_value (first, 3, 2, steps);
  rl_workflow_node_set_mode (first, 3, RL_WORKFLOW_MODE_BYPASS);
  g_assert_cmpint (json_array_get_int_element (rl_workflow_node_get_widgets_values (first, 3), 2), ==, 5);

  values = rl_workflow_node_get_widgets_values (second, 3);
  g_assert_cmpint (json_array_get_int_element (values, 2), ==, 20);
  g_assert_cmpint (rl_workflow_node_get_mode (second, 3), ==, RL_WORKFLOW_MODE_ALWAYS);
  g_assert_true (json_node_equal (pristine, rl_workflow_get_root (second)));
  g_assert_true (json_node_equal (pristine, root));

  /* The caller editing its root in place leaves both workflows alone. */
  json_object_set_string_member (json_node_get_object (root), "edited", "yes");
  json_array_remove_element (json_object_get_array_member (json_node_get_object (root), "nodes"), 0);
  g_assert_true (json_node_equal (pristine, rl_workflow_get_root (second)));
  g_assert_false (json_object_has_member (json_node_get_object (rl_workflow_get_root (first)), "edited"));

  /* A scalar value set into a widget is not shared with the caller's node
   * either (json_node_set_int changes a node's value in place). */
  json_node_set_int (steps, 7);
  g_assert_cmpint (json_array_get_int_element (rl_workflow_node_get_widgets_values (first, 3), 2), ==, 5);
}

/* rl_workflow_node_find_widget_index reads slots as the graph conversion
 * does: a seed's control takes a slot only when present. */
static void
test_find_widget_index (void)
{
  static const char document[] =
    "{ \"nodes\": ["
    "  { \"id\": 1, \"type\": \"KSampler\", \"widgets_values\": [42, \"increment\", 20, 8, \"euler\", \"normal\", 1] },"
    "  { \"id\": 2, \"type\": \"KSampler\", \"widgets_values\": [42, 20, 8, \"euler\", \"normal\", 1] },"
    "  { \"id\": 3, \"type\": \"KSampler\", \"widgets_values\": { \"seed\": 42, \"steps\": 20 } } ],"
    "  \"links\": [], \"version\": 0.4 }";
  g_autoptr(RlRegistry) registry = graph_test_registry_new ();
  const RlNodeType *ksampler = rl_registry_lookup (registry, "KSampler");
  g_autoptr(GError) error = NULL;
  g_autoptr(RlWorkflow) workflow = rl_workflow_load_data (document, -1, "slots.json", &error);
  guint index = G_MAXUINT;

  g_assert_no_error (error);
  g_assert_nonnull (ksampler);
  g_assert_true (rl_workflow_node_find_widget_index (workflow, 1, ksampler, "seed", &index));
  g_assert_cmpuint (index, ==, 0);
  g_assert_true (rl_workflow_node_find_widget_index (workflow, 1, ksampler, "steps", &index));
  g_assert_cmpuint (index, ==, 2);
  g_assert_true (rl_workflow_node_find_widget_index (workflow, 1, ksampler, "denoise", &index));
  g_assert_cmpuint (index, ==, 6);
  g_assert_true (rl_workflow_node_find_widget_index (workflow, 2, ksampler, "steps", &index));
  g_assert_cmpuint (index, ==, 1);
  g_assert_true (rl_workflow_node_find_widget_index (workflow, 2, ksampler, "cfg", &index));
  g_assert_cmpuint (index, ==, 2);
  /* A link input has no slot; nor does a node keyed by name, or none. */
  g_assert_false (rl_workflow_node_find_widget_index (workflow, 1, ksampler, "model", &index));
  g_assert_false (rl_workflow_node_find_widget_index (workflow, 3, ksampler, "steps", &index));
  g_assert_false (rl_workflow_node_find_widget_index (workflow, 99, ksampler, "steps", &index));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/workflow/load/v0.4", test_load_v04);
  g_test_add_func ("/workflow/load/v1", test_load_v1);
  g_test_add_func ("/workflow/load/is-workflow", test_is_workflow);
  g_test_add_func ("/workflow/round-trip", test_round_trip);
  g_test_add_func ("/workflow/new-from-json-copies", test_new_from_json_copies);
  g_test_add_func ("/workflow/find-widget-index", test_find_widget_index);
  g_test_add_func ("/workflow/convert/v0.4", test_convert_v04);
  g_test_add_func ("/workflow/convert/v1", test_convert_v1);
  g_test_add_func ("/workflow/convert/reroute-primitive-modes", test_convert_reroute_primitive_modes);
  g_test_add_func ("/workflow/convert/edge-cases", test_convert_edge_cases);
  g_test_add_func ("/workflow/convert/unknown-types", test_unknown_types);
  g_test_add_func ("/workflow/convert/link-to-missing-node", test_link_to_missing_node);
  g_test_add_func ("/workflow/convert/reroute-loop", test_reroute_loop);
  g_test_add_func ("/workflow/malformed/truncated", test_truncated);
  g_test_add_func ("/workflow/malformed/shapes", test_malformed_shapes);
  g_test_add_func ("/workflow/malformed/shape-error-line", test_shape_error_line);
  g_test_add_func ("/workflow/malformed/deep-nesting", test_deep_nesting);
  g_test_add_func ("/workflow/malformed/huge-integers", test_huge_integers);
  g_test_add_func ("/workflow/edit/v0.4", test_edit_v04);
  g_test_add_func ("/workflow/edit/v1", test_edit_v1);
  return g_test_run ();
}
