/* The save helper's ComfyUI filename rules: counters, subfolders,
 * variables, and refusal to leave the output folder. */
#include <string.h>

#include "engine/engine-error.h"
#include "engine/nodes/save-path.h"
#include "media-test-util.h"

static void
touch (const char *folder,
       const char *name)
{
  g_autofree char *path = g_build_filename (folder, name, NULL);
  g_assert_true (g_file_set_contents (path, "x", 1, NULL));
}

static void
test_counter_rule (void)
{
  const char *names[] = {
    "ComfyUI_00001_.png", "ComfyUI_00007_.mp4", "ComfyUI_00003_.webp",
    "ComfyUI_extra_00099_.png",    /* another prefix: "extra" is not a number */
    "ComfyUIx_00050_.png",         /* another prefix */
    "ComfyUI_12.png",              /* "12.png" is not a number: counts as 0, as in ComfyUI */
    "other_00500_.png",
  };
  g_assert_cmpuint (rl_save_path_max_counter ("ComfyUI", names, G_N_ELEMENTS (names)), ==, 7);
  g_assert_cmpuint (rl_save_path_max_counter ("ComfyUI_extra", names, G_N_ELEMENTS (names)), ==, 99);
  g_assert_cmpuint (rl_save_path_max_counter ("missing", names, G_N_ELEMENTS (names)), ==, 0);
  g_assert_cmpuint (rl_save_path_max_counter ("ComfyUI", names, 0), ==, 0);
}

/* Random existing counters: the next name follows the highest. */
static void
test_next_after_existing (void)
{
  g_autoptr(GRand) rand = media_test_rand ();
  g_autofree char *root = media_test_mkdtemp ();
  g_autofree char *videos = g_build_filename (root, "video", NULL);
  g_assert_cmpint (g_mkdir (videos, 0755), ==, 0);
  guint highest = 0;
  for (int i = 0; i < 5; i++)
    {
      guint counter = (guint) g_rand_int_range (rand, 1, 5000);
      highest = MAX (highest, counter);
      g_autofree char *name = g_strdup_printf ("clip_%05u_.mp4", counter);
      touch (videos, name);
    }
  touch (videos, "clipper_99999_.mp4");

  g_autoptr(GError) error = NULL;
  RlSavePath path;
  g_assert_true (rl_save_path_resolve (root, "video/clip", 64, 48, &path, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (path.subfolder, ==, "video");
  g_assert_cmpstr (path.filename, ==, "clip");
  g_assert_cmpuint (path.counter, ==, highest + 1);
  g_autofree char *first = rl_save_path_next_name (&path, "mp4", 0);
  g_autofree char *second = rl_save_path_next_name (&path, "mp4", 1);
  g_autofree char *want_first = g_strdup_printf ("clip_%05u_.mp4", highest + 1);
  g_autofree char *want_second = g_strdup_printf ("clip_%05u_.mp4", highest + 2);
  g_assert_cmpstr (first, ==, want_first);
  g_assert_cmpstr (second, ==, want_second);
  rl_save_path_clear (&path);
  media_test_rmdir (root);
}

static void
test_new_subfolders_created (void)
{
  g_autofree char *root = media_test_mkdtemp ();
  g_autoptr(GError) error = NULL;
  RlSavePath path;
  g_assert_true (rl_save_path_resolve (root, "a/b/c/img_%width%x%height%_%batch_num%", 640, 360,
                                       &path, &error));
  g_assert_no_error (error);
  g_autofree char *want_folder = g_build_filename (root, "a", "b", "c", NULL);
  g_assert_cmpstr (path.folder, ==, want_folder);
  g_assert_true (g_file_test (want_folder, G_FILE_TEST_IS_DIR));
  g_assert_cmpstr (path.subfolder, ==, "a/b/c");
  g_assert_cmpuint (path.counter, ==, 1);
  g_autofree char *name = rl_save_path_next_name (&path, "png", 3);
  g_assert_cmpstr (name, ==, "img_640x360_3_00001_.png");
  rl_save_path_clear (&path);

  g_assert_true (rl_save_path_resolve (root, "plain", 1, 1, &path, &error));
  g_assert_cmpstr (path.subfolder, ==, "");
  g_assert_cmpstr (path.folder, ==, root);
  rl_save_path_clear (&path);
  media_test_rmdir (root);
}

static void
test_date_variables (void)
{
  g_autofree char *root = media_test_mkdtemp ();
  g_autoptr(GError) error = NULL;
  RlSavePath path;
  g_assert_true (rl_save_path_resolve (root, "%year%-%month%/x", 1, 1, &path, &error));
  g_assert_no_error (error);
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *want = g_date_time_format (now, "%Y-%m");
  g_assert_cmpstr (path.subfolder, ==, want);   /* flaky only at midnight of a month's end */
  rl_save_path_clear (&path);
  media_test_rmdir (root);
}

static void
test_escape_refused (void)
{
  g_autofree char *root = media_test_mkdtemp ();
  const char *bad[] = { "../outside", "a/../../outside", "/etc/passwd", "", "a/..", "." };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      RlSavePath path;
      g_assert_false (rl_save_path_resolve (root, bad[i], 1, 1, &path, &error));
      g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_EXECUTION);
      g_assert_nonnull (strstr (error->message, "filename_prefix"));
      g_assert_null (path.folder);
    }
  /* ".." that stays inside is fine, as with ComfyUI's normpath. */
  g_autoptr(GError) error = NULL;
  RlSavePath path;
  g_assert_true (rl_save_path_resolve (root, "a/../b/name", 1, 1, &path, &error));
  g_assert_cmpstr (path.subfolder, ==, "b");
  rl_save_path_clear (&path);
  g_assert_cmpuint (media_test_count_files (root), ==, 1);
  media_test_rmdir (root);
}

static void
test_unwritable_output_dir (void)
{
  g_autofree char *root = media_test_mkdtemp ();
  g_autofree char *file = g_build_filename (root, "file", NULL);
  g_assert_true (g_file_set_contents (file, "x", 1, NULL));
  g_autoptr(GError) error = NULL;
  RlSavePath path;
  g_assert_false (rl_save_path_resolve (file, "video/x", 1, 1, &path, &error));
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_IO);
  g_assert_nonnull (strstr (error->message, file));
  media_test_rmdir (root);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/media/save-path/counter-rule", test_counter_rule);
  g_test_add_func ("/media/save-path/next-after-existing", test_next_after_existing);
  g_test_add_func ("/media/save-path/new-subfolders", test_new_subfolders_created);
  g_test_add_func ("/media/save-path/date-variables", test_date_variables);
  g_test_add_func ("/media/save-path/escape-refused", test_escape_refused);
  g_test_add_func ("/media/save-path/unwritable-output-dir", test_unwritable_output_dir);
  return g_test_run ();
}
