/* Model folders: ComfyUI layout, search order, extra_model_paths.yaml. */
#include <glib/gstdio.h>
#include <string.h>

#include "engine/engine-error.h"
#include "engine/graph/model-paths.h"
#include "test-graph-nodes.h"

/* Creates @relative (with its folders) under @root. */
static void
touch (const char *root,
       const char *relative)
{
  g_autofree char *path = g_build_filename (root, relative, NULL);
  g_autofree char *dir = g_path_get_dirname (path);
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_file_set_contents (path, "x", 1, &error);
  g_assert_no_error (error);
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

static char *
make_temp_dir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("raylight-model-paths-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

static void
assert_names (GPtrArray          *names,
              const char * const *expected)
{
  guint n = g_strv_length ((char **) expected);

  for (guint i = 0; i < names->len && i < n; i++)
    g_assert_cmpstr (g_ptr_array_index (names, i), ==, expected[i]);
  g_assert_cmpuint (names->len, ==, n);
}

static void
test_layout_and_order (void)
{
  g_autofree char *tmp = make_temp_dir ();
  g_autofree char *root1 = g_build_filename (tmp, "root1", NULL);
  g_autofree char *root2 = g_build_filename (tmp, "root2", NULL);
  g_autoptr(RlModelPaths) paths = rl_model_paths_new ();
  g_autoptr(GPtrArray) files = NULL;
  g_autoptr(GPtrArray) legacy = NULL;
  g_autoptr(GPtrArray) dirs = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *resolved = NULL;
  g_autofree char *expected = NULL;
  const char * const want[] = { "a.safetensors", "b.gguf", "sub/c.sft", "z.ckpt", NULL };

  touch (root1, "diffusion_models/a.safetensors");
  touch (root1, "unet/b.gguf");
  touch (root1, "diffusion_models/sub/c.sft");
  touch (root1, "diffusion_models/readme.txt");
  touch (root1, "diffusion_models/.hidden.safetensors");
  touch (root2, "diffusion_models/a.safetensors");
  touch (root2, "diffusion_models/z.ckpt");
  touch (root2, "vae/v.pt");

  rl_model_paths_add_root (paths, root1);
  rl_model_paths_add_root (paths, root2);
  rl_model_paths_add_root (paths, root1);   /* a second time changes nothing */

  dirs = rl_model_paths_list_folder_dirs (paths, "diffusion_models");
  g_assert_cmpuint (dirs->len, ==, 4);
  files = rl_model_paths_list_files (paths, "diffusion_models");
  assert_names (files, want);
  legacy = rl_model_paths_list_files (paths, "unet");
  assert_names (legacy, want);

  resolved = rl_model_paths_resolve (paths, "diffusion_models", "a.safetensors", &error);
  g_assert_no_error (error);
  expected = g_build_filename (root1, "diffusion_models", "a.safetensors", NULL);
  g_assert_cmpstr (resolved, ==, expected);
  g_clear_pointer (&resolved, g_free);
  resolved = rl_model_paths_resolve (paths, "vae", "v.pt", &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (resolved, root2));

  remove_tree (tmp);
}

static void
test_resolve_missing (void)
{
  g_autofree char *tmp = make_temp_dir ();
  g_autoptr(RlModelPaths) paths = rl_model_paths_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *expected_dir = NULL;
  char *resolved;

  touch (tmp, "text_encoders/t5.safetensors");
  rl_model_paths_add_root (paths, tmp);

  resolved = rl_model_paths_resolve (paths, "text_encoders", "umt5.safetensors", &error);
  g_assert_null (resolved);
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_MODEL_NOT_FOUND);
  expected_dir = g_build_filename (tmp, "clip", NULL);
  g_assert_nonnull (strstr (error->message, "umt5.safetensors"));
  g_assert_nonnull (strstr (error->message, expected_dir));
  g_assert_nonnull (strstr (error->message, "RAYLIGHT_MODEL_PATHS"));
  g_clear_error (&error);

  /* Names cannot leave the folder, even toward a file that exists. */
  resolved = rl_model_paths_resolve (paths, "vae", "../text_encoders/t5.safetensors", &error);
  g_assert_null (resolved);
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_MODEL_NOT_FOUND);
  g_clear_error (&error);
  resolved = rl_model_paths_resolve (paths, "text_encoders", "/etc/passwd", &error);
  g_assert_null (resolved);
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_MODEL_NOT_FOUND);

  remove_tree (tmp);
}

static void
test_comfyui_install_and_yaml (void)
{
  g_autofree char *tmp = make_temp_dir ();
  g_autofree char *comfy = g_build_filename (tmp, "ComfyUI", NULL);
  g_autofree char *yaml = g_build_filename (comfy, "extra_model_paths.yaml", NULL);
  g_autofree char *yaml_text = NULL;
  g_autoptr(RlModelPaths) paths = rl_model_paths_new ();
  g_autoptr(GPtrArray) unets = NULL;
  g_autoptr(GPtrArray) loras = NULL;
  g_autoptr(GPtrArray) encoders = NULL;
  g_autoptr(GError) error = NULL;
  const char * const want_unets[] = { "extra-wan.gguf", "legacy.safetensors", "wan2.1.safetensors", NULL };
  const char * const want_loras[] = { "detail.safetensors", "lyco.safetensors", NULL };
  const char * const want_encoders[] = { "clip_l.safetensors", NULL };

  touch (comfy, "models/diffusion_models/wan2.1.safetensors");
  touch (tmp, "a1111/models/Lora/detail.safetensors");
  touch (tmp, "a1111/models/LyCORIS/lyco.safetensors");
  touch (tmp, "shared/unet-extra/extra-wan.gguf");
  touch (tmp, "shared/legacy/legacy.safetensors");
  touch (tmp, "shared/clip/clip_l.safetensors");
  yaml_text = g_strdup_printf (
    "# ComfyUI's example layout, trimmed\n"
    "a111:\n"
    "    base_path: ../a1111/   # relative to this file\n"
    "\n"
    "    loras: |\n"
    "         models/Lora\n"
    "         models/LyCORIS\n"
    "    upscale_models: models/ESRGAN\n"
    "comfyui:\n"
    "    base_path: %s/shared\n"
    "    is_default: true\n"
    "    diffusion_models: |\n"
    "        unet-extra\n"
    "        legacy\n"
    "    clip: \"clip\"\n",
    tmp);
  touch (comfy, "extra_model_paths.yaml");
  g_file_set_contents (yaml, yaml_text, -1, &error);
  g_assert_no_error (error);

  rl_model_paths_add_comfyui_install (paths, comfy, &error);
  g_assert_no_error (error);
  unets = rl_model_paths_list_files (paths, "diffusion_models");
  assert_names (unets, want_unets);
  loras = rl_model_paths_list_files (paths, "loras");
  assert_names (loras, want_loras);
  encoders = rl_model_paths_list_files (paths, "text_encoders");
  assert_names (encoders, want_encoders);

  remove_tree (tmp);
}

static void
test_yaml_malformed (void)
{
  g_autofree char *tmp = make_temp_dir ();
  g_autofree char *yaml = g_build_filename (tmp, "extra_model_paths.yaml", NULL);
  g_autoptr(RlModelPaths) paths = rl_model_paths_new ();
  g_autoptr(GError) error = NULL;

  g_file_set_contents (yaml, "comfyui:\n  base_path: /x\n  this line has no colon\n", -1, &error);
  g_assert_no_error (error);
  g_assert_false (rl_model_paths_load_extra_model_paths_yaml (paths, yaml, &error));
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INVALID_WORKFLOW);
  g_assert_nonnull (strstr (error->message, ":3:"));
  g_clear_error (&error);

  g_assert_false (rl_model_paths_add_comfyui_install (paths, "/nonexistent/raylight/ComfyUI", &error));
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_IO);
  remove_tree (tmp);
}

static void
test_default_from_environment (void)
{
  g_autofree char *tmp = make_temp_dir ();
  g_autofree char *a = g_build_filename (tmp, "a", NULL);
  g_autofree char *b = g_build_filename (tmp, "b", NULL);
  g_autofree char *list = g_strdup_printf ("%s::%s", a, b);
  g_autoptr(RlModelPaths) paths = NULL;
  g_autoptr(GPtrArray) dirs = NULL;
  g_autoptr(GPtrArray) files = NULL;
  g_autofree char *first = NULL;

  touch (a, "vae/a.safetensors");
  touch (b, "vae/b.safetensors");
  g_setenv ("RAYLIGHT_MODEL_PATHS", list, TRUE);
  paths = rl_model_paths_new_default ();
  g_unsetenv ("RAYLIGHT_MODEL_PATHS");

  dirs = rl_model_paths_list_folder_dirs (paths, "vae");
  g_assert_cmpuint (dirs->len, ==, 3);   /* a, b, then Raylight's own data folder */
  first = g_build_filename (a, "vae", NULL);
  g_assert_cmpstr (g_ptr_array_index (dirs, 0), ==, first);
  g_assert_true (g_str_has_suffix (g_ptr_array_index (dirs, 2), "raylight/models/vae"));
  files = rl_model_paths_list_files (paths, "vae");
  g_assert_cmpuint (files->len, ==, 2);
  remove_tree (tmp);
}

/* Random file trees: the listing is exactly the sorted set of model files. */
static void
test_random_trees (void)
{
  GRand *rand = g_rand_new_with_seed (graph_test_random_seed ());
  static const char * const extensions[] = { ".safetensors", ".gguf", ".pt", ".txt", ".json", ".sft" };

  for (int round = 0; round < 5; round++)
    {
      g_autofree char *tmp = make_temp_dir ();
      g_autoptr(RlModelPaths) paths = rl_model_paths_new ();
      g_autoptr(GHashTable) expected = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      g_autoptr(GPtrArray) files = NULL;
      int n = g_rand_int_range (rand, 1, 30);

      rl_model_paths_add_root (paths, tmp);
      for (int i = 0; i < n; i++)
        {
          const char *ext = extensions[g_rand_int_range (rand, 0, G_N_ELEMENTS (extensions))];
          g_autofree char *name = g_strdup_printf ("%s%c%u%s",
                                                   g_rand_boolean (rand) ? "sub/" : "",
                                                   'a' + g_rand_int_range (rand, 0, 26),
                                                   g_rand_int (rand) % 1000, ext);
          g_autofree char *relative = g_strconcat ("loras/", name, NULL);

          touch (tmp, relative);
          if (strcmp (ext, ".txt") != 0 && strcmp (ext, ".json") != 0)
            g_hash_table_add (expected, g_steal_pointer (&name));
        }
      files = rl_model_paths_list_files (paths, "loras");
      g_assert_cmpuint (files->len, ==, g_hash_table_size (expected));
      for (guint i = 0; i < files->len; i++)
        {
          g_assert_true (g_hash_table_contains (expected, g_ptr_array_index (files, i)));
          if (i > 0)
            g_assert_cmpint (strcmp (g_ptr_array_index (files, i - 1), g_ptr_array_index (files, i)), <, 0);
        }
      remove_tree (tmp);
    }
  g_rand_free (rand);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/model-paths/layout-and-order", test_layout_and_order);
  g_test_add_func ("/model-paths/resolve-missing", test_resolve_missing);
  g_test_add_func ("/model-paths/comfyui-install-and-yaml", test_comfyui_install_and_yaml);
  g_test_add_func ("/model-paths/yaml-malformed", test_yaml_malformed);
  g_test_add_func ("/model-paths/default-from-environment", test_default_from_environment);
  g_test_add_func ("/model-paths/random-trees", test_random_trees);
  return g_test_run ();
}
