/* The registry: registration rules, listing, /object_info shape. */
#include <glib/gstdio.h>
#include <string.h>

#include "engine/engine-error.h"
#include "engine/graph/model-paths.h"
#include "engine/graph/registry.h"
#include "test-graph-nodes.h"

static const RlInputSpec bad_link_inputs[] = {
  { .name = "thing", .kind = RL_INPUT_LINK },
};
static const RlInputSpec bad_combo_inputs[] = {
  { .name = "choice", .kind = RL_INPUT_COMBO },
};
static const RlInputSpec twice_inputs[] = {
  { .name = "x", .kind = RL_INPUT_INT },
  { .name = "x", .kind = RL_INPUT_FLOAT },
};
static const RlNodeType bad_link_type = {
  .name = "BadLink", .inputs = bad_link_inputs, .n_inputs = 1,
};
static const RlNodeType bad_combo_type = {
  .name = "BadCombo", .inputs = bad_combo_inputs, .n_inputs = 1,
};
static const RlNodeType twice_type = {
  .name = "Twice", .inputs = twice_inputs, .n_inputs = 2,
};
static const RlNodeType another_ksampler = { .name = "KSampler", .category = "elsewhere" };

static void
test_add_and_lookup (void)
{
  g_autoptr(RlRegistry) registry = graph_test_registry_new ();
  g_autoptr(GPtrArray) types = rl_registry_list_types (registry);
  g_autoptr(GPtrArray) categories = rl_registry_list_categories (registry);
  g_autoptr(GError) error = NULL;

  g_assert_cmpuint (rl_registry_get_n_types (registry), ==, 10);
  g_assert_cmpuint (types->len, ==, 10);
  for (guint i = 1; i < types->len; i++)
    g_assert_cmpint (strcmp (((const RlNodeType *) g_ptr_array_index (types, i - 1))->name,
                             ((const RlNodeType *) g_ptr_array_index (types, i))->name), <, 0);
  g_assert_cmpstr (rl_registry_lookup (registry, "VAEDecode")->category, ==, "latent");
  g_assert_null (rl_registry_lookup (registry, "VAEDecodeTiled"));
  g_assert_null (rl_registry_lookup (registry, NULL));

  g_assert_cmpuint (categories->len, ==, 8);
  g_assert_cmpstr (g_ptr_array_index (categories, 0), ==, "advanced/loaders");
  g_assert_cmpstr (g_ptr_array_index (categories, categories->len - 1), ==, "utils");

  g_assert_false (rl_registry_add (registry, &another_ksampler, &error));
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INVALID_WORKFLOW);
  g_assert_nonnull (strstr (error->message, "KSampler"));
  g_assert_cmpstr (rl_registry_lookup (registry, "KSampler")->category, ==, "sampling");
}

static void
test_refuse_malformed (void)
{
  g_autoptr(RlRegistry) registry = rl_registry_new ();
  const RlNodeType *bad[] = { &bad_link_type, &bad_combo_type, &twice_type };
  const char *words[] = { "socket type", "neither options", "two inputs" };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_false (rl_registry_add (registry, bad[i], &error));
      g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INVALID_WORKFLOW);
      g_assert_nonnull (strstr (error->message, words[i]));
      g_assert_nonnull (strstr (error->message, bad[i]->name));
    }
  g_assert_cmpuint (rl_registry_get_n_types (registry), ==, 0);
}

static JsonArray *
input_entry (JsonObject *info,
             const char *group,
             const char *name)
{
  JsonObject *inputs = json_object_get_object_member (info, "input");
  JsonObject *members = json_object_get_object_member (inputs, group);

  g_assert_true (json_object_has_member (members, name));
  return json_object_get_array_member (members, name);
}

static void
test_object_info_shape (void)
{
  g_autoptr(RlRegistry) registry = graph_test_registry_new ();
  g_autoptr(JsonNode) all = rl_registry_to_object_info_json (registry);
  g_autofree char *text = json_to_string (all, TRUE);
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *ksampler, *save, *preview, *options;
  JsonArray *seed, *sampler, *model, *order;

  g_assert_true (json_parser_load_from_data (parser, text, -1, NULL));
  g_assert_cmpuint (json_object_get_size (json_node_get_object (all)), ==, 10);
  ksampler = json_object_get_object_member (json_node_get_object (all), "KSampler");

  seed = input_entry (ksampler, "required", "seed");
  g_assert_cmpstr (json_array_get_string_element (seed, 0), ==, "INT");
  options = json_array_get_object_element (seed, 1);
  g_assert_true (json_object_get_boolean_member (options, "control_after_generate"));
  g_assert_cmpint (json_object_get_int_member (options, "min"), ==, 0);
  g_assert_cmpint (json_object_get_int_member (options, "max"), ==, G_MAXINT64);

  options = json_array_get_object_element (input_entry (ksampler, "required", "cfg"), 1);
  g_assert_cmpfloat (json_object_get_double_member (options, "default"), ==, 8.0);
  g_assert_cmpfloat (json_object_get_double_member (options, "round"), ==, 0.01);
  g_assert_cmpfloat (json_object_get_double_member (options, "step"), ==, 0.1);

  sampler = input_entry (ksampler, "required", "sampler_name");
  g_assert_cmpuint (json_array_get_length (json_array_get_array_element (sampler, 0)), ==, 7);
  g_assert_cmpstr (json_array_get_string_element (json_array_get_array_element (sampler, 0), 0), ==, "euler");

  model = input_entry (ksampler, "required", "model");
  g_assert_cmpstr (json_array_get_string_element (model, 0), ==, "MODEL");

  order = json_object_get_array_member (json_object_get_object_member (ksampler, "input_order"), "required");
  g_assert_cmpuint (json_array_get_length (order), ==, 10);
  g_assert_cmpstr (json_array_get_string_element (order, 1), ==, "seed");

  g_assert_cmpstr (json_array_get_string_element (json_object_get_array_member (ksampler, "output"), 0), ==, "LATENT");
  g_assert_false (json_array_get_boolean_element (json_object_get_array_member (ksampler, "output_is_list"), 0));
  g_assert_cmpstr (json_array_get_string_element (json_object_get_array_member (ksampler, "output_name"), 0), ==, "LATENT");
  g_assert_cmpstr (json_object_get_string_member (ksampler, "name"), ==, "KSampler");
  g_assert_cmpstr (json_object_get_string_member (ksampler, "category"), ==, "sampling");
  g_assert_false (json_object_get_boolean_member (ksampler, "output_node"));
  g_assert_false (json_object_has_member (json_object_get_object_member (ksampler, "input"), "optional"));

  save = json_object_get_object_member (json_node_get_object (all), "SaveImage");
  g_assert_true (json_object_get_boolean_member (save, "output_node"));
  g_assert_cmpstr (json_object_get_string_member (save, "display_name"), ==, "Save Image");
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (save, "output")), ==, 0);

  preview = json_object_get_object_member (json_node_get_object (all), "PreviewAny");
  g_assert_cmpstr (json_array_get_string_element (input_entry (preview, "optional", "source"), 0), ==, "*");
  options = json_array_get_object_element (input_entry (preview, "optional", "strength"), 1);
  g_assert_true (json_object_get_boolean_member (options, "forceInput"));
  save = json_object_get_object_member (json_node_get_object (all), "SaveAnimatedWEBP");
  options = json_array_get_object_element (input_entry (save, "required", "lossless"), 1);
  g_assert_false (json_object_get_boolean_member (options, "default"));
}

static void
test_model_folder_combos (void)
{
  g_autoptr(RlRegistry) registry = graph_test_registry_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *tmp = g_dir_make_tmp ("raylight-registry-XXXXXX", &error);
  g_autofree char *folder = g_build_filename (tmp, "checkpoints", NULL);
  g_autofree char *file_a = g_build_filename (folder, "sd15.safetensors", NULL);
  g_autofree char *file_b = g_build_filename (folder, "flux.gguf", NULL);
  g_autoptr(RlModelPaths) paths = rl_model_paths_new ();
  g_autoptr(JsonNode) info = NULL;
  g_autoptr(GPtrArray) before = NULL;
  JsonArray *choices;
  const RlInputSpec *ckpt;

  g_assert_no_error (error);
  ckpt = rl_node_type_find_input (rl_registry_lookup (registry, "CheckpointLoaderSimple"), "ckpt_name");
  before = rl_registry_list_combo_options (registry, ckpt);
  g_assert_cmpuint (before->len, ==, 0);

  g_assert_cmpint (g_mkdir_with_parents (folder, 0755), ==, 0);
  g_file_set_contents (file_a, "", 0, NULL);
  g_file_set_contents (file_b, "", 0, NULL);
  rl_model_paths_add_root (paths, tmp);
  rl_registry_set_model_paths (registry, paths);
  g_assert_true (rl_registry_get_model_paths (registry) == paths);

  info = rl_registry_node_type_to_object_info (registry, rl_registry_lookup (registry, "CheckpointLoaderSimple"));
  choices = json_array_get_array_element (input_entry (json_node_get_object (info), "required", "ckpt_name"), 0);
  g_assert_cmpuint (json_array_get_length (choices), ==, 2);
  g_assert_cmpstr (json_array_get_string_element (choices, 0), ==, "flux.gguf");
  g_assert_cmpstr (json_array_get_string_element (choices, 1), ==, "sd15.safetensors");

  g_unlink (file_a);
  g_unlink (file_b);
  g_rmdir (folder);
  g_rmdir (tmp);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/registry/add-and-lookup", test_add_and_lookup);
  g_test_add_func ("/registry/refuse-malformed", test_refuse_malformed);
  g_test_add_func ("/registry/object-info/shape", test_object_info_shape);
  g_test_add_func ("/registry/object-info/model-folder-combos", test_model_folder_combos);
  return g_test_run ();
}
