/* Validation: every ComfyUI error kind, messages, output closures. */
#include <glib/gstdio.h>
#include <string.h>

#include "engine/engine-error.h"
#include "engine/graph/graph.h"
#include "engine/graph/model-paths.h"
#include "engine/graph/registry.h"
#include "engine/graph/validate.h"
#include "test-graph-nodes.h"

typedef struct {
  RlRegistry *registry;
  RlGraph    *graph;
  char       *models_dir;
  char       *checkpoint;
} Fixture;

/* The SD prompt against a registry whose checkpoints folder holds the
 * file it names. */
static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autofree char *path = graph_test_data_path ("sd-text-to-image-api.json");
  g_autofree char *folder = NULL;
  g_autoptr(RlModelPaths) paths = rl_model_paths_new ();
  g_autoptr(GError) error = NULL;

  fixture->models_dir = g_dir_make_tmp ("raylight-validate-XXXXXX", &error);
  g_assert_no_error (error);
  folder = g_build_filename (fixture->models_dir, "checkpoints", NULL);
  g_assert_cmpint (g_mkdir_with_parents (folder, 0755), ==, 0);
  fixture->checkpoint = g_build_filename (folder, "v1-5-pruned-emaonly.safetensors", NULL);
  g_file_set_contents (fixture->checkpoint, "", 0, &error);
  g_assert_no_error (error);
  rl_model_paths_add_root (paths, fixture->models_dir);

  fixture->registry = graph_test_registry_new ();
  rl_registry_set_model_paths (fixture->registry, paths);
  fixture->graph = rl_graph_load_prompt_file (path, &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autofree char *folder = g_path_get_dirname (fixture->checkpoint);

  rl_graph_unref (fixture->graph);
  rl_registry_unref (fixture->registry);
  g_unlink (fixture->checkpoint);
  g_rmdir (folder);
  g_rmdir (fixture->models_dir);
  g_free (fixture->checkpoint);
  g_free (fixture->models_dir);
}

static RlGraphNode *
node (Fixture    *fixture,
      const char *id)
{
  RlGraphNode *found = rl_graph_lookup (fixture->graph, id);

  g_assert_nonnull (found);
  return found;
}

/* Validates and asserts that the only issue is @kind on @node_id/@input. */
static RlValidationIssue *
expect_single (Fixture    *fixture,
               GPtrArray **issues_out,
               const char *kind,
               const char *node_id,
               const char *input)
{
  GPtrArray *issues = rl_graph_validate (fixture->graph, fixture->registry);
  RlValidationIssue *issue;

  *issues_out = issues;
  if (issues->len != 1)
    {
      g_autofree char *text = rl_validation_issues_to_string (issues);

      g_error ("expected one %s issue, got:\n%s", kind, text);
    }
  issue = g_ptr_array_index (issues, 0);
  g_assert_cmpstr (issue->kind, ==, kind);
  g_assert_cmpstr (issue->node_id, ==, node_id);
  g_assert_cmpstr (issue->input_name, ==, input);
  g_assert_nonnull (issue->message);
  return issue;
}

static void
test_valid (Fixture       *fixture,
            gconstpointer  data)
{
  g_autoptr(GPtrArray) issues = rl_graph_validate (fixture->graph, fixture->registry);
  g_autoptr(GError) error = NULL;

  g_assert_cmpuint (issues->len, ==, 0);
  g_assert_true (rl_graph_check (fixture->graph, fixture->registry, &error));
  g_assert_no_error (error);
}

static void
test_required_input_missing (Fixture       *fixture,
                             gconstpointer  data)
{
  g_autoptr(GPtrArray) issues = NULL;
  RlValidationIssue *issue;

  g_autoptr(GPtrArray) null_issues = NULL;
  g_autoptr(JsonNode) null_value = json_node_new (JSON_NODE_NULL);

  g_assert_true (rl_graph_node_remove_input (node (fixture, "3"), "steps"));
  issue = expect_single (fixture, &issues, "required_input_missing", "3", "steps");
  g_assert_cmpstr (issue->node_type, ==, "KSampler");
  g_assert_cmpstr (issue->title, ==, "KSampler");

  /* null is no value. */
  rl_graph_node_set_int (node (fixture, "3"), "steps", 20);
  rl_graph_node_set_literal (node (fixture, "9"), "filename_prefix", null_value);
  expect_single (fixture, &null_issues, "required_input_missing", "9", "filename_prefix");
}

static void
test_optional_inputs_may_be_absent (Fixture       *fixture,
                                    gconstpointer  data)
{
  g_autoptr(GPtrArray) issues = NULL;
  RlGraphNode *preview = rl_graph_add_node (fixture->graph, "20", "PreviewAny");

  g_autoptr(JsonNode) null_value = json_node_new (JSON_NODE_NULL);

  rl_graph_node_set_int (preview, "count", 2);
  rl_graph_node_set_literal (preview, "label", null_value);
  issues = rl_graph_validate (fixture->graph, fixture->registry);
  g_assert_cmpuint (issues->len, ==, 0);
  /* "*" takes any type. */
  rl_graph_node_set_link (preview, "source", "4", 2);
  g_clear_pointer (&issues, g_ptr_array_unref);
  issues = rl_graph_validate (fixture->graph, fixture->registry);
  g_assert_cmpuint (issues->len, ==, 0);
}

static void
test_return_type_mismatch (Fixture       *fixture,
                           gconstpointer  data)
{
  g_autoptr(GPtrArray) issues = NULL;
  RlValidationIssue *issue;

  rl_graph_node_set_link (node (fixture, "3"), "model", "4", 1);   /* CLIP, not MODEL */
  issue = expect_single (fixture, &issues, "return_type_mismatch", "3", "model");
  g_assert_nonnull (strstr (issue->details, "CLIP"));
  g_assert_nonnull (strstr (issue->details, "MODEL"));
}

static void
test_bounds (Fixture       *fixture,
             gconstpointer  data)
{
  struct { const char *node; const char *input; const char *json; const char *kind; } cases[] = {
    { "3", "steps", "0", "value_smaller_than_min" },
    { "3", "steps", "10001", "value_bigger_than_max" },
    { "3", "seed", "-1", "value_smaller_than_min" },
    { "3", "seed", "1e23", "value_bigger_than_max" },
    { "3", "seed", "-1e23", "value_smaller_than_min" },
    { "3", "cfg", "100.5", "value_bigger_than_max" },
    { "3", "denoise", "-0.01", "value_smaller_than_min" },
    { "5", "width", "8", "value_smaller_than_min" },
    { "5", "batch_size", "4097", "value_bigger_than_max" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(JsonNode) value = json_from_string (cases[i].json, NULL);
      g_autoptr(GPtrArray) issues = NULL;
      g_autoptr(RlGraph) saved = rl_graph_copy (fixture->graph);
      RlValidationIssue *issue;

      rl_graph_node_set_literal (node (fixture, cases[i].node), cases[i].input, value);
      issue = expect_single (fixture, &issues, cases[i].kind, cases[i].node, cases[i].input);
      g_assert_nonnull (strstr (issue->details, "min"));
      rl_graph_unref (fixture->graph);
      fixture->graph = g_steal_pointer (&saved);
    }
}

/* Random values inside the bounds pass; outside they fail on the right side. */
static void
test_bounds_random (Fixture       *fixture,
                    gconstpointer  data)
{
  GRand *rand = g_rand_new_with_seed (graph_test_random_seed ());
  RlGraphNode *sampler = node (fixture, "3");

  for (int round = 0; round < 200; round++)
    {
      gint64 steps = g_rand_int_range (rand, -20000, 20000);
      double cfg = g_rand_double_range (rand, -200, 200);
      g_autoptr(GPtrArray) issues = NULL;
      guint expected = (steps < 1 || steps > 10000) + (cfg < 0 || cfg > 100);

      rl_graph_node_set_int (sampler, "steps", steps);
      rl_graph_node_set_float (sampler, "cfg", cfg);
      issues = rl_graph_validate (fixture->graph, fixture->registry);
      g_assert_cmpuint (issues->len, ==, expected);
      for (guint i = 0; i < issues->len; i++)
        {
          RlValidationIssue *issue = g_ptr_array_index (issues, i);
          gboolean low = strcmp (issue->input_name, "steps") == 0 ? steps < 1 : cfg < 0;

          g_assert_cmpstr (issue->kind, ==, low ? "value_smaller_than_min" : "value_bigger_than_max");
        }
    }
  g_rand_free (rand);
}

static void
test_value_not_in_list (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autoptr(GPtrArray) issues = NULL;
  g_autoptr(GPtrArray) model_issues = NULL;
  RlValidationIssue *issue;

  rl_graph_node_set_string (node (fixture, "3"), "sampler_name", "euler_turbo");
  issue = expect_single (fixture, &issues, "value_not_in_list", "3", "sampler_name");
  g_assert_nonnull (strstr (issue->details, "\"dpmpp_2m\""));
  g_assert_nonnull (strstr (issue->message, "euler_turbo"));
  rl_graph_node_set_string (node (fixture, "3"), "sampler_name", "euler");

  /* Model combos list the files in the model folders. */
  rl_graph_node_set_string (node (fixture, "4"), "ckpt_name", "sdxl.safetensors");
  issue = expect_single (fixture, &model_issues, "value_not_in_list", "4", "ckpt_name");
  g_assert_nonnull (strstr (issue->details, "v1-5-pruned-emaonly.safetensors"));
}

static void
test_model_folder_empty (Fixture       *fixture,
                         gconstpointer  data)
{
  g_autoptr(GPtrArray) issues = NULL;
  RlValidationIssue *issue;

  g_unlink (fixture->checkpoint);
  issue = expect_single (fixture, &issues, "value_not_in_list", "4", "ckpt_name");
  g_assert_nonnull (strstr (issue->details, "checkpoints"));
  g_assert_nonnull (strstr (issue->details, fixture->models_dir));
}

static void
test_invalid_input_type (Fixture       *fixture,
                         gconstpointer  data)
{
  struct { const char *node; const char *input; const char *json; } cases[] = {
    { "3", "steps", "\"20\"" },
    { "3", "steps", "2.5" },
    { "3", "steps", "true" },
    { "3", "cfg", "\"eight\"" },
    { "3", "cfg", "[8]" },
    { "3", "scheduler", "3" },
    { "6", "text", "42" },
    { "3", "model", "5" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(JsonNode) value = json_from_string (cases[i].json, NULL);
      g_autoptr(GPtrArray) issues = NULL;
      g_autoptr(RlGraph) saved = rl_graph_copy (fixture->graph);

      g_assert_nonnull (value);
      rl_graph_node_set_literal (node (fixture, cases[i].node), cases[i].input, value);
      expect_single (fixture, &issues, "invalid_input_type", cases[i].node, cases[i].input);
      rl_graph_unref (fixture->graph);
      fixture->graph = g_steal_pointer (&saved);
    }
}

static void
test_boolean (Fixture       *fixture,
              gconstpointer  data)
{
  RlGraphNode *webp = rl_graph_add_node (fixture->graph, "30", "SaveAnimatedWEBP");
  g_autoptr(GPtrArray) issues = NULL;
  g_autoptr(GPtrArray) ok = NULL;

  rl_graph_node_set_link (webp, "images", "8", 0);
  rl_graph_node_set_string (webp, "filename_prefix", "anim");
  rl_graph_node_set_float (webp, "fps", 8);
  rl_graph_node_set_string (webp, "lossless", "yes");
  rl_graph_node_set_int (webp, "quality", 90);
  rl_graph_node_set_string (webp, "method", "default");
  expect_single (fixture, &issues, "invalid_input_type", "30", "lossless");
  rl_graph_node_set_boolean (webp, "lossless", TRUE);
  ok = rl_graph_validate (fixture->graph, fixture->registry);
  g_assert_cmpuint (ok->len, ==, 0);
}

static void
test_bad_linked_input (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autoptr(GPtrArray) missing = NULL;
  g_autoptr(GPtrArray) out_of_range = NULL;
  RlValidationIssue *issue;

  rl_graph_node_set_link (node (fixture, "8"), "vae", "99", 0);
  issue = expect_single (fixture, &missing, "bad_linked_input", "8", "vae");
  g_assert_nonnull (strstr (issue->message, "99"));
  rl_graph_node_set_link (node (fixture, "8"), "vae", "4", 3);
  issue = expect_single (fixture, &out_of_range, "bad_linked_input", "8", "vae");
  g_assert_nonnull (strstr (issue->message, "has 3 outputs"));
}

/* Inputs a type does not declare are ignored, unless they link nowhere:
 * such a link would still order (and break) execution. */
static void
test_undeclared_inputs (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autoptr(GPtrArray) ignored = NULL;
  g_autoptr(GPtrArray) issues = NULL;
  RlValidationIssue *issue;

  rl_graph_node_set_int (node (fixture, "8"), "tile_size", 512);
  rl_graph_node_set_link (node (fixture, "8"), "extra_latent", "5", 0);
  ignored = rl_graph_validate (fixture->graph, fixture->registry);
  g_assert_cmpuint (ignored->len, ==, 0);
  rl_graph_node_set_link (node (fixture, "8"), "extra_latent", "55", 0);
  issue = expect_single (fixture, &issues, "bad_linked_input", "8", "extra_latent");
  g_assert_nonnull (strstr (issue->message, "55"));
}

static void
test_dependency_cycle (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autoptr(GPtrArray) issues = NULL;
  RlGraphNode *upscale = rl_graph_add_node (fixture->graph, "10", "LatentUpscaleBy");
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) order = NULL;

  rl_graph_node_set_link (upscale, "samples", "3", 0);
  rl_graph_node_set_string (upscale, "upscale_method", "bilinear");
  rl_graph_node_set_float (upscale, "scale_by", 1.5);
  rl_graph_node_set_link (node (fixture, "3"), "latent_image", "10", 0);

  issues = rl_graph_validate (fixture->graph, fixture->registry);
  g_assert_cmpuint (issues->len, ==, 2);   /* 3 and 10; not 8 or 9 downstream */
  g_assert_cmpstr (((RlValidationIssue *) g_ptr_array_index (issues, 0))->kind, ==, "dependency_cycle");
  g_assert_cmpstr (((RlValidationIssue *) g_ptr_array_index (issues, 0))->node_id, ==, "3");
  g_assert_cmpstr (((RlValidationIssue *) g_ptr_array_index (issues, 1))->node_id, ==, "10");

  order = rl_graph_output_closure (fixture->graph, fixture->registry, NULL, &error);
  g_assert_null (order);
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_VALIDATION);
}

static void
test_self_cycle (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autoptr(GPtrArray) issues = NULL;

  rl_graph_node_set_link (node (fixture, "3"), "latent_image", "3", 0);
  expect_single (fixture, &issues, "dependency_cycle", "3", NULL);
}

/* Random graphs of LatentUpscaleBy nodes: the nodes reported on cycles are
 * exactly those that reach themselves (brute-force closure). */
static void
test_cycles_random (Fixture       *fixture,
                    gconstpointer  data)
{
  GRand *rand = g_rand_new_with_seed (graph_test_random_seed ());

  for (int round = 0; round < 50; round++)
    {
      guint n = g_rand_int_range (rand, 2, 14);
      g_autoptr(RlGraph) graph = rl_graph_new ();
      g_autoptr(GPtrArray) issues = NULL;
      gboolean reach[14][14] = { { FALSE } };
      guint reported = 0, expected = 0;

      for (guint i = 0; i < n; i++)
        {
          g_autofree char *id = g_strdup_printf ("%u", i);
          guint source = g_rand_int_range (rand, 0, n);
          g_autofree char *source_id = g_strdup_printf ("%u", source);
          RlGraphNode *added = rl_graph_add_node (graph, id, "LatentUpscaleBy");

          rl_graph_node_set_string (added, "upscale_method", "area");
          rl_graph_node_set_float (added, "scale_by", 2.0);
          if (g_rand_int_range (rand, 0, 4) > 0)
            {
              rl_graph_node_set_link (added, "samples", source_id, 0);
              reach[i][source] = TRUE;
            }
          else
            rl_graph_node_set_link (added, "samples", "missing", 0);
        }
      for (guint k = 0; k < n; k++)
        for (guint i = 0; i < n; i++)
          for (guint j = 0; j < n; j++)
            reach[i][j] = reach[i][j] || (reach[i][k] && reach[k][j]);
      for (guint i = 0; i < n; i++)
        expected += reach[i][i];

      issues = rl_graph_validate (graph, fixture->registry);
      for (guint i = 0; i < issues->len; i++)
        {
          RlValidationIssue *issue = g_ptr_array_index (issues, i);

          if (strcmp (issue->kind, "dependency_cycle") != 0)
            continue;
          reported++;
          g_assert_true (reach[atoi (issue->node_id)][atoi (issue->node_id)]);
        }
      g_assert_cmpuint (reported, ==, expected);
    }
  g_rand_free (rand);
}

static void
test_prompt_no_outputs (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autoptr(GPtrArray) issues = NULL;
  RlValidationIssue *issue;

  g_assert_true (rl_graph_remove_node (fixture->graph, "9"));
  issue = expect_single (fixture, &issues, "prompt_no_outputs", NULL, NULL);
  g_assert_null (issue->node_type);
}

static void
test_unknown_class_type (Fixture       *fixture,
                         gconstpointer  data)
{
  g_autoptr(GPtrArray) issues = NULL;
  RlValidationIssue *issue;
  RlGraphNode *mystery = rl_graph_add_node (fixture->graph, "11", "MysteryNode");

  rl_graph_node_set_title (mystery, "Mystery");
  issue = expect_single (fixture, &issues, "exception_during_validation", "11", NULL);
  g_assert_nonnull (strstr (issue->message, "MysteryNode"));
  g_assert_cmpstr (issue->title, ==, "Mystery");
}

static void
test_report_formats (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr(GPtrArray) issues = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autoptr(JsonNode) json = NULL;
  JsonObject *first;

  rl_graph_node_set_int (node (fixture, "3"), "steps", 0);
  rl_graph_node_set_string (node (fixture, "6"), "text", "fine");
  rl_graph_node_remove_input (node (fixture, "6"), "clip");
  issues = rl_graph_validate (fixture->graph, fixture->registry);
  g_assert_cmpuint (issues->len, ==, 2);

  text = rl_validation_issues_to_string (issues);
  g_assert_nonnull (strstr (text, "2 problems"));
  g_assert_nonnull (strstr (text, "node 3 \"KSampler\" (KSampler), input steps: value_smaller_than_min"));
  g_assert_nonnull (strstr (text, "node 6 \"Positive Prompt\" (CLIPTextEncode), input clip: required_input_missing"));

  g_assert_false (rl_graph_check (fixture->graph, fixture->registry, &error));
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_VALIDATION);
  g_assert_cmpstr (error->message, ==, text);

  json = rl_validation_issues_to_json (issues);
  g_assert_cmpuint (json_array_get_length (json_node_get_array (json)), ==, 2);
  first = json_array_get_object_element (json_node_get_array (json), 0);
  g_assert_cmpstr (json_object_get_string_member (first, "type"), ==, "value_smaller_than_min");
  g_assert_cmpstr (json_object_get_string_member (first, "node_id"), ==, "3");
  g_assert_cmpstr (json_object_get_string_member (first, "input_name"), ==, "steps");
}

static void
assert_topological (RlGraph   *graph,
                    GPtrArray *order)
{
  for (guint i = 0; i < order->len; i++)
    {
      RlGraphNode *current = rl_graph_lookup (graph, g_ptr_array_index (order, i));

      for (guint j = 0; j < rl_graph_node_get_n_inputs (current); j++)
        {
          const char *from;
          gboolean before = FALSE;

          if (!rl_graph_node_get_link (current, rl_graph_node_get_input_name (current, j), &from, NULL))
            continue;
          for (guint k = 0; k < i; k++)
            before = before || strcmp (g_ptr_array_index (order, k), from) == 0;
          g_assert_true (before);
        }
    }
}

static void
test_output_closure (Fixture       *fixture,
                     gconstpointer  data)
{
  const char *expected[] = { "4", "5", "6", "7", "3", "8", "9" };
  const char *only_decode[] = { "20", NULL };
  RlGraphNode *stray = rl_graph_add_node (fixture->graph, "12", "EmptyLatentImage");
  RlGraphNode *preview = rl_graph_add_node (fixture->graph, "20", "PreviewAny");
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) outputs = rl_graph_list_output_nodes (fixture->graph, fixture->registry);
  g_autoptr(GPtrArray) order = NULL;
  g_autoptr(GPtrArray) partial = NULL;

  rl_graph_node_set_int (stray, "width", 64);
  rl_graph_node_set_int (preview, "count", 1);
  rl_graph_node_set_link (preview, "source", "5", 0);
  g_assert_cmpuint (outputs->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (outputs, 0), ==, "9");
  g_assert_cmpstr (g_ptr_array_index (outputs, 1), ==, "20");

  order = rl_graph_output_closure (fixture->graph, fixture->registry, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (order->len, ==, 8);   /* the stray node is not needed */
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    g_assert_true (g_ptr_array_find_with_equal_func (order, expected[i], g_str_equal, NULL));
  g_assert_false (g_ptr_array_find_with_equal_func (order, "12", g_str_equal, NULL));
  assert_topological (fixture->graph, order);
  g_assert_cmpstr (g_ptr_array_index (order, 0), ==, "4");

  partial = rl_graph_output_closure (fixture->graph, fixture->registry, only_decode, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (partial->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (partial, 0), ==, "5");
  g_assert_cmpstr (g_ptr_array_index (partial, 1), ==, "20");
}

static void
test_output_closure_dangling (Fixture       *fixture,
                              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) order = NULL;
  const char *unknown[] = { "77", NULL };

  rl_graph_node_set_link (node (fixture, "8"), "vae", "99", 0);
  order = rl_graph_output_closure (fixture->graph, fixture->registry, NULL, &error);
  g_assert_null (order);
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_VALIDATION);
  g_assert_nonnull (strstr (error->message, "99"));
  g_clear_error (&error);
  order = rl_graph_output_closure (fixture->graph, fixture->registry, unknown, &error);
  g_assert_null (order);
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_VALIDATION);
}

/* Long chains: no recursion depth limit in the cycle or order passes. */
static void
test_long_chain (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autoptr(RlGraph) graph = rl_graph_new ();
  g_autoptr(GPtrArray) issues = NULL;
  g_autoptr(GPtrArray) order = NULL;
  g_autoptr(GError) error = NULL;
  const guint n = 20000;
  RlGraphNode *first = rl_graph_add_node (graph, "0", "EmptyLatentImage");
  RlGraphNode *save;

  rl_graph_node_set_int (first, "width", 64);
  rl_graph_node_set_int (first, "height", 64);
  rl_graph_node_set_int (first, "batch_size", 1);
  for (guint i = 1; i < n; i++)
    {
      g_autofree char *id = g_strdup_printf ("%u", i);
      g_autofree char *prev = g_strdup_printf ("%u", i - 1);
      RlGraphNode *step = rl_graph_add_node (graph, id, "LatentUpscaleBy");

      rl_graph_node_set_link (step, "samples", prev, 0);
      rl_graph_node_set_string (step, "upscale_method", "area");
      rl_graph_node_set_float (step, "scale_by", 1.0);
    }
  save = rl_graph_add_node (graph, "out", "PreviewAny");
  rl_graph_node_set_int (save, "count", 1);
  rl_graph_node_set_link (save, "source", "19999", 0);

  issues = rl_graph_validate (graph, fixture->registry);
  g_assert_cmpuint (issues->len, ==, 0);
  order = rl_graph_output_closure (graph, fixture->registry, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (order->len, ==, n + 1);
  g_assert_cmpstr (g_ptr_array_index (order, n), ==, "out");
}

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  ADD ("/validate/valid", test_valid);
  ADD ("/validate/required-input-missing", test_required_input_missing);
  ADD ("/validate/optional-inputs", test_optional_inputs_may_be_absent);
  ADD ("/validate/return-type-mismatch", test_return_type_mismatch);
  ADD ("/validate/bounds/table", test_bounds);
  ADD ("/validate/bounds/random", test_bounds_random);
  ADD ("/validate/value-not-in-list", test_value_not_in_list);
  ADD ("/validate/value-not-in-list/empty-model-folder", test_model_folder_empty);
  ADD ("/validate/invalid-input-type", test_invalid_input_type);
  ADD ("/validate/invalid-input-type/boolean", test_boolean);
  ADD ("/validate/bad-linked-input", test_bad_linked_input);
  ADD ("/validate/bad-linked-input/undeclared", test_undeclared_inputs);
  ADD ("/validate/dependency-cycle/pair", test_dependency_cycle);
  ADD ("/validate/dependency-cycle/self", test_self_cycle);
  ADD ("/validate/dependency-cycle/random", test_cycles_random);
  ADD ("/validate/prompt-no-outputs", test_prompt_no_outputs);
  ADD ("/validate/unknown-class-type", test_unknown_class_type);
  ADD ("/validate/report-formats", test_report_formats);
  ADD ("/validate/output-closure/order", test_output_closure);
  ADD ("/validate/output-closure/dangling", test_output_closure_dangling);
  ADD ("/validate/long-chain", test_long_chain);
  return g_test_run ();
}
