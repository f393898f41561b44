/* The API prompt graph: loading, saving, ordering, overrides. */
#include <glib/gstdio.h>
#include <string.h>

#include "engine/engine-error.h"
#include "engine/graph/graph.h"
#include "test-graph-nodes.h"

static RlGraph *
load_api (const char *name)
{
  g_autofree char *path = graph_test_data_path (name);
  g_autoptr(GError) error = NULL;
  RlGraph *graph = rl_graph_load_prompt_file (path, &error);

  g_assert_no_error (error);
  return graph;
}

static void
test_load_sd (void)
{
  g_autoptr(RlGraph) graph = load_api ("sd-text-to-image-api.json");
  const char *expected_order[] = { "3", "4", "5", "6", "7", "8", "9" };
  RlGraphNode *ksampler;
  const char *from;
  guint output;

  g_assert_cmpuint (rl_graph_get_n_nodes (graph), ==, 7);
  for (guint i = 0; i < 7; i++)
    g_assert_cmpstr (rl_graph_node_get_id (rl_graph_get_node (graph, i)), ==, expected_order[i]);

  ksampler = rl_graph_lookup (graph, "3");
  g_assert_cmpstr (rl_graph_node_get_class_type (ksampler), ==, "KSampler");
  g_assert_cmpstr (rl_graph_node_get_title (ksampler), ==, "KSampler");
  g_assert_cmpuint (rl_graph_node_get_n_inputs (ksampler), ==, 10);
  g_assert_cmpstr (rl_graph_node_get_input_name (ksampler, 0), ==, "seed");
  g_assert_true (rl_graph_node_get_link (ksampler, "latent_image", &from, &output));
  g_assert_cmpstr (from, ==, "5");
  g_assert_cmpuint (output, ==, 0);
  g_assert_false (rl_graph_node_get_link (ksampler, "seed", NULL, NULL));
  g_assert_cmpint (json_node_get_int (rl_graph_node_get_literal (ksampler, "seed")), ==, 156680208700286);
  g_assert_null (rl_graph_node_get_literal (ksampler, "model"));
  g_assert_null (rl_graph_node_get_literal (ksampler, "nothing"));
  g_assert_cmpstr (rl_graph_node_get_display_title (rl_graph_lookup (graph, "6")), ==, "Positive Prompt");
}

static void
test_round_trip (void)
{
  g_autoptr(JsonNode) original = graph_test_load_json ("sd-text-to-image-api.json");
  g_autoptr(RlGraph) graph = load_api ("sd-text-to-image-api.json");
  g_autoptr(JsonNode) saved = rl_graph_to_prompt_json (graph);
  g_autoptr(GError) error = NULL;
  g_autofree char *tmp = g_dir_make_tmp ("raylight-prompt-XXXXXX", &error);
  g_autofree char *path = g_build_filename (tmp, "prompt.json", NULL);
  g_autoptr(RlGraph) reloaded = NULL;
  g_autoptr(JsonNode) saved_again = NULL;
  g_autofree char *text = NULL;

  g_assert_true (json_node_equal (original, saved));
  g_assert_true (rl_graph_save_prompt_file (graph, path, &error));
  g_assert_no_error (error);
  reloaded = rl_graph_load_prompt_file (path, &error);
  g_assert_no_error (error);
  saved_again = rl_graph_to_prompt_json (reloaded);
  g_assert_true (json_node_equal (original, saved_again));

  /* Text output lists nodes in stable order. */
  text = rl_graph_to_prompt_string (graph, FALSE);
  g_assert_true (strstr (text, "\"3\"") < strstr (text, "\"9\""));
  g_unlink (path);
  g_rmdir (tmp);
}

static void
test_stable_order (void)
{
  g_autoptr(RlGraph) graph = rl_graph_new ();
  const char *ids[] = { "10", "abc", "9", "2", "1:5", "100", "01" };
  const char *sorted[] = { "01", "2", "9", "10", "100", "1:5", "abc" };
  GRand *rand = g_rand_new_with_seed (graph_test_random_seed ());

  /* Insert in a random order: the order of nodes never depends on it. */
  for (guint i = G_N_ELEMENTS (ids) - 1; i > 0; i--)
    {
      guint j = g_rand_int_range (rand, 0, i + 1);
      const char *t = ids[i];

      ids[i] = ids[j];
      ids[j] = t;
    }
  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    g_assert_nonnull (rl_graph_add_node (graph, ids[i], "EmptyLatentImage"));
  g_assert_null (rl_graph_add_node (graph, "9", "KSampler"));
  for (guint i = 0; i < G_N_ELEMENTS (sorted); i++)
    g_assert_cmpstr (rl_graph_node_get_id (rl_graph_get_node (graph, i)), ==, sorted[i]);
  g_assert_true (rl_graph_remove_node (graph, "9"));
  g_assert_false (rl_graph_remove_node (graph, "9"));
  g_assert_cmpuint (rl_graph_get_n_nodes (graph), ==, G_N_ELEMENTS (ids) - 1);
  g_assert_cmpstr (rl_graph_node_get_id (rl_graph_get_node (graph, 2)), ==, "10");
  g_rand_free (rand);
}

static void
test_links_and_wrapper (void)
{
  const char *text =
    "{\"prompt\": {"
    "  \"1\": {\"class_type\": \"A\", \"inputs\": {"
    "     \"int_link\": [4, 0], \"str_link\": [\"4\", 2], \"pair\": [\"a\", \"b\"],"
    "     \"triple\": [1, 2, 3], \"negative\": [\"4\", -1], \"obj\": {\"x\": 1}}},"
    "  \"4\": {\"class_type\": \"B\"}},"
    " \"client_id\": \"cli\"}";
  g_autoptr(GError) error = NULL;
  g_autoptr(RlGraph) graph = rl_graph_load_prompt_data (text, -1, "wrapped.json", &error);
  RlGraphNode *node;
  const char *from;
  guint output;

  g_assert_no_error (error);
  g_assert_cmpuint (rl_graph_get_n_nodes (graph), ==, 2);
  node = rl_graph_lookup (graph, "1");
  g_assert_true (rl_graph_node_get_link (node, "int_link", &from, &output));
  g_assert_cmpstr (from, ==, "4");
  g_assert_true (rl_graph_node_get_link (node, "str_link", &from, &output));
  g_assert_cmpuint (output, ==, 2);
  g_assert_nonnull (rl_graph_node_get_literal (node, "pair"));
  g_assert_nonnull (rl_graph_node_get_literal (node, "triple"));
  g_assert_nonnull (rl_graph_node_get_literal (node, "negative"));
  g_assert_nonnull (rl_graph_node_get_literal (node, "obj"));
  g_assert_null (rl_graph_node_get_title (rl_graph_lookup (graph, "4")));
  g_assert_cmpstr (rl_graph_node_get_display_title (rl_graph_lookup (graph, "4")), ==, "B");
}

static void
test_malformed (void)
{
  struct { const char *text; const char *words; } cases[] = {
    { "{\"3\": {\"inputs\": {}}}", "class_type" },
    { "{\"3\": {\"class_type\": 5}}", "class_type" },
    { "{\"3\": {\"class_type\": \"KSampler\", \"inputs\": [1]}}", "\"inputs\" must be an object" },
    { "{\"3\": 17}", "node \"3\"" },
    { "[1, 2]", "JSON object" },
    { "{\"3\": {\"class_type\": \"KSampler\", \"inputs\": {\"seed\": 1}", "malformed or truncated" },
    { "{\"nodes\": [], \"links\": []}", "UI workflow" },
    { "", "empty" },
    { "   \n  ", "empty" },
    { "{\"3\": {\"class_type\": \"A\"}} trailing", "after the end" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(RlGraph) graph = rl_graph_load_prompt_data (cases[i].text, -1, "bad-prompt.json", &error);

      g_assert_null (graph);
      g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INVALID_WORKFLOW);
      if (strstr (error->message, cases[i].words) == NULL || strstr (error->message, "bad-prompt.json") == NULL)
        g_error ("case %u: message \"%s\" lacks \"%s\" or the file name", i, error->message, cases[i].words);
    }
}

static void
test_overrides (void)
{
  g_autoptr(RlRegistry) registry = graph_test_registry_new ();
  g_autoptr(RlGraph) graph = load_api ("sd-text-to-image-api.json");
  g_autoptr(RlGraph) untouched = rl_graph_copy (graph);
  gint64 seed = g_test_rand_int_range (1, G_MAXINT32);
  g_autofree char *seed_assignment = g_strdup_printf ("3.seed=%" G_GINT64_FORMAT, seed);
  RlGraphNode *ksampler = rl_graph_lookup (graph, "3");
  const char *bad[] = {
    "3.cfg=abc", "99.steps=1", "3.model=1", "3.nope=1", "3.steps", "steps=4",
    "3.steps=12345678901234567890", "3.denoise=nan",
  };

  g_assert_true (rl_graph_apply_override (graph, registry, seed_assignment, NULL));
  g_assert_cmpint (json_node_get_int (rl_graph_node_get_literal (ksampler, "seed")), ==, seed);
  g_assert_true (rl_graph_apply_override (graph, registry, "3.cfg=6.5", NULL));
  g_assert_cmpfloat (json_node_get_double (rl_graph_node_get_literal (ksampler, "cfg")), ==, 6.5);
  g_assert_true (rl_graph_apply_override (graph, registry, "Positive Prompt.text=a red fox = cute", NULL));
  g_assert_cmpstr (json_node_get_string (rl_graph_node_get_literal (rl_graph_lookup (graph, "6"), "text")),
                   ==, "a red fox = cute");
  g_assert_true (rl_graph_apply_override (graph, registry, "3.sampler_name=heun", NULL));
  g_assert_cmpstr (json_node_get_string (rl_graph_node_get_literal (ksampler, "sampler_name")), ==, "heun");

  /* Without a registry, values read as JSON, else as strings. */
  g_assert_true (rl_graph_apply_override (graph, NULL, "3.steps=7", NULL));
  g_assert_cmpint (json_node_get_int (rl_graph_node_get_literal (ksampler, "steps")), ==, 7);
  g_assert_true (rl_graph_apply_override (graph, NULL, "3.scheduler=karras", NULL));
  g_assert_cmpstr (json_node_get_string (rl_graph_node_get_literal (ksampler, "scheduler")), ==, "karras");

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_false (rl_graph_apply_override (graph, registry, bad[i], &error));
      g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INVALID_WORKFLOW);
      g_assert_nonnull (strstr (error->message, bad[i]));
    }

  /* Titles must be unique to be used. */
  rl_graph_node_set_title (rl_graph_lookup (graph, "7"), "Positive Prompt");
  {
    g_autoptr(GError) error = NULL;

    g_assert_false (rl_graph_apply_override (graph, registry, "Positive Prompt.text=x", &error));
    g_assert_nonnull (strstr (error->message, "node id"));
  }

  /* The copy made before is independent. */
  g_assert_cmpint (json_node_get_int (rl_graph_node_get_literal (rl_graph_lookup (untouched, "3"), "seed")),
                   ==, 156680208700286);
}

static void
test_set_inputs (void)
{
  g_autoptr(RlGraph) graph = rl_graph_new ();
  RlGraphNode *node = rl_graph_add_node (graph, "1", "SaveAnimatedWEBP");

  rl_graph_node_set_string (node, "filename_prefix", "out");
  rl_graph_node_set_float (node, "fps", 12.0);
  rl_graph_node_set_boolean (node, "lossless", TRUE);
  rl_graph_node_set_int (node, "quality", 90);
  rl_graph_node_set_link (node, "images", "2", 0);
  g_assert_cmpuint (rl_graph_node_get_n_inputs (node), ==, 5);
  rl_graph_node_set_int (node, "images", 3);   /* replacing keeps its place */
  g_assert_cmpstr (rl_graph_node_get_input_name (node, 4), ==, "images");
  g_assert_false (rl_graph_node_get_link (node, "images", NULL, NULL));
  g_assert_true (rl_graph_node_remove_input (node, "images"));
  g_assert_false (rl_graph_node_has_input (node, "images"));
  g_assert_true (json_node_get_boolean (rl_graph_node_get_literal (node, "lossless")));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/graph/prompt/load-sd", test_load_sd);
  g_test_add_func ("/graph/prompt/round-trip", test_round_trip);
  g_test_add_func ("/graph/prompt/stable-order", test_stable_order);
  g_test_add_func ("/graph/prompt/links-and-wrapper", test_links_and_wrapper);
  g_test_add_func ("/graph/prompt/malformed", test_malformed);
  g_test_add_func ("/graph/prompt/overrides", test_overrides);
  g_test_add_func ("/graph/prompt/set-inputs", test_set_inputs);
  return g_test_run ();
}
