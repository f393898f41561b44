/* What the history browser needs from RlHistory: search, deleting with
 * Undo (trash, restore, purge, output files), and the card summary
 * (model, seed, parallel configuration, the output to thumbnail). */
#include <string.h>

#include <glib/gstdio.h>

#include "engine/engine-error.h"
#include "engine/run/history-summary.h"
#include "engine/run/history.h"

typedef struct {
  char       *dir;
  RlHistory  *history;
} Fixture;

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;

  f->dir = g_dir_make_tmp ("rl-history-browse-XXXXXX", &error);
  g_assert_no_error (error);
  path = g_build_filename (f->dir, "history.sqlite3", NULL);
  f->history = rl_history_open (path, &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  g_autofree char *command = g_strdup_printf ("rm -rf '%s'", f->dir);

  rl_history_close (f->history);
  g_assert_true (g_spawn_command_line_sync (command, NULL, NULL, NULL, NULL));
  g_free (f->dir);
}

static gint64
add_finished (Fixture    *f,
              const char *parameters,
              const char *devices,
              RlJobStatus status)
{
  g_autoptr(GError) error = NULL;
  RlHistoryJobInfo info = { .workflow_json = "{\"nodes\":[]}", .parameters_json = parameters,
                            .device_config_json = devices };
  gint64 id = rl_history_add_job (f->history, &info, &error);

  g_assert_no_error (error);
  g_assert_true (rl_history_mark_started (f->history, id, &error));
  g_assert_true (rl_history_mark_finished (f->history, id, status,
                                           status == RL_JOB_FAILED ? "rank 1 died (SIGKILL)" : NULL, &error));
  g_assert_no_error (error);
  return id;
}

static gint64
count_search (Fixture    *f,
              const char *text)
{
  RlHistoryQuery query = { .search = text };

  return rl_history_count (f->history, &query, NULL);
}

static void
test_search (Fixture       *f,
             gconstpointer  data)
{
  add_finished (f, "{\"seed\":42,\"unet_name\":\"wan2.1_t2v_1.3B.safetensors\"}", NULL, RL_JOB_SUCCEEDED);
  add_finished (f, "{\"seed\":7,\"unet_name\":\"flux.safetensors\"}",
                "{\"backend\":\"cpu\",\"workers\":2,\"parallel\":\"usp\",\"ulysses\":2,\"ring\":1}",
                RL_JOB_FAILED);
  g_assert_cmpint (count_search (f, "wan2.1"), ==, 1);
  g_assert_cmpint (count_search (f, "safetensors"), ==, 2);
  g_assert_cmpint (count_search (f, "\"ulysses\":2"), ==, 1);
  g_assert_cmpint (count_search (f, "SIGKILL"), ==, 1);
  /* LIKE wildcards are plain characters. */
  g_assert_cmpint (count_search (f, "%"), ==, 0);
  g_assert_cmpint (count_search (f, "no such text"), ==, 0);
}

static void
test_trash_restore (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  gint64 keep = add_finished (f, "{\"seed\":1}", NULL, RL_JOB_SUCCEEDED);
  gint64 gone = add_finished (f, "{\"seed\":2}", NULL, RL_JOB_SUCCEEDED);
  g_autoptr(GPtrArray) jobs = NULL;
  g_autoptr(GArray) trashed = NULL;
  g_autoptr(RlHistoryJob) job = NULL;

  g_assert_true (rl_history_trash_job (f->history, gone, &error));
  g_assert_no_error (error);
  g_assert_cmpint (rl_history_count (f->history, NULL, NULL), ==, 1);
  jobs = rl_history_list (f->history, NULL, &error);
  g_assert_cmpuint (jobs->len, ==, 1);
  g_assert_cmpint (((RlHistoryJob *) g_ptr_array_index (jobs, 0))->id, ==, keep);
  /* Still readable (the browser shows what Undo brings back). */
  job = rl_history_get_job (f->history, gone, &error);
  g_assert_no_error (error);
  g_assert_nonnull (job);
  trashed = rl_history_list_trashed (f->history, 0, &error);
  g_assert_cmpuint (trashed->len, ==, 1);
  g_assert_cmpint (g_array_index (trashed, gint64, 0), ==, gone);

  /* Twice is an error, not a silent success. */
  g_assert_false (rl_history_trash_job (f->history, gone, &error));
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_HISTORY);
  g_clear_error (&error);

  g_assert_true (rl_history_restore_job (f->history, gone, &error));
  g_assert_no_error (error);
  g_assert_cmpint (rl_history_count (f->history, NULL, NULL), ==, 2);
  g_assert_false (rl_history_restore_job (f->history, gone, &error));
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_HISTORY);
  g_clear_error (&error);

  /* Purging: trash, then delete for good. */
  g_assert_true (rl_history_trash_job (f->history, gone, NULL));
  g_assert_true (rl_history_delete_job (f->history, gone, &error));
  g_assert_null (rl_history_get_job (f->history, gone, &error));
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_HISTORY);
  g_clear_error (&error);
  g_clear_pointer (&trashed, g_array_unref);
  trashed = rl_history_list_trashed (f->history, 0, NULL);
  g_assert_cmpuint (trashed->len, ==, 0);
}

/* A trashed job stays trashed across a reopen (the app died before the
 * toast went away): list_trashed finds it for purging. */
static void
test_trash_survives_reopen (Fixture       *f,
                            gconstpointer  data)
{
  g_autofree char *path = g_strdup (rl_history_get_path (f->history));
  gint64 id = add_finished (f, NULL, NULL, RL_JOB_SUCCEEDED);
  g_autoptr(GArray) trashed = NULL;

  g_assert_true (rl_history_trash_job (f->history, id, NULL));
  rl_history_close (f->history);
  f->history = rl_history_open (path, NULL);
  g_assert_nonnull (f->history);
  g_assert_cmpint (rl_history_count (f->history, NULL, NULL), ==, 0);
  trashed = rl_history_list_trashed (f->history, 0, NULL);
  g_assert_cmpuint (trashed->len, ==, 1);
  /* Trashed just now: not before a cutoff ten minutes ago, but before now + 1 s. */
  g_clear_pointer (&trashed, g_array_unref);
  trashed = rl_history_list_trashed (f->history, g_get_real_time () - 600 * G_USEC_PER_SEC, NULL);
  g_assert_cmpuint (trashed->len, ==, 0);
  g_clear_pointer (&trashed, g_array_unref);
  trashed = rl_history_list_trashed (f->history, g_get_real_time () + G_USEC_PER_SEC, NULL);
  g_assert_cmpuint (trashed->len, ==, 1);
}

static void
test_delete_files (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *video = g_build_filename (f->dir, "out.mp4", NULL);
  g_autofree char *missing = g_build_filename (f->dir, "already-gone.png", NULL);
  gint64 id = add_finished (f, NULL, NULL, RL_JOB_SUCCEEDED);
  g_autoptr(RlHistoryJob) job = NULL;

  g_assert_true (g_file_set_contents (video, "frames", -1, NULL));
  g_assert_true (rl_history_add_output (f->history, id, video, NULL, 64, 64, 5, NULL));
  g_assert_true (rl_history_add_output (f->history, id, missing, NULL, 64, 64, 1, NULL));
  job = rl_history_get_job (f->history, id, NULL);
  g_assert_cmpuint (rl_history_delete_output_files (job, &error), ==, 1);
  g_assert_no_error (error);
  g_assert_false (g_file_test (video, G_FILE_TEST_EXISTS));
}

static void
test_summary (Fixture       *f,
              gconstpointer  data)
{
  g_autofree char *gone = g_build_filename (f->dir, "gone.png", NULL);
  g_autofree char *latent = g_build_filename (f->dir, "x.latent", NULL);
  g_autofree char *video = g_build_filename (f->dir, "wan.webm", NULL);
  gint64 id = add_finished (f, "{\"noise_seed\":123456789012,\"steps\":4,\"width\":832,\"height\":480,"
                               "\"unet_name\":\"diffusion_models/wan2.1_t2v_1.3B_fp16.safetensors\"}",
                            "{\"backend\":\"cpu\",\"workers\":2,\"parallel\":\"usp\",\"ulysses\":2,\"ring\":1}",
                            RL_JOB_SUCCEEDED);
  g_autoptr(RlHistoryJob) job = NULL;
  g_autoptr(RlHistorySummary) summary = NULL;

  g_assert_true (g_file_set_contents (latent, "l", -1, NULL));
  g_assert_true (g_file_set_contents (video, "v", -1, NULL));
  rl_history_add_output (f->history, id, latent, NULL, 0, 0, 0, NULL);
  rl_history_add_output (f->history, id, gone, NULL, 8, 8, 1, NULL);
  rl_history_add_output (f->history, id, video, NULL, 8, 8, 5, NULL);
  job = rl_history_get_job (f->history, id, NULL);
  summary = rl_history_summary_new (job);
  g_assert_cmpstr (summary->model, ==, "wan2.1_t2v_1.3B_fp16");
  g_assert_true (summary->has_seed);
  g_assert_cmpint (summary->seed, ==, 123456789012);
  g_assert_cmpuint (summary->steps, ==, 4);
  g_assert_cmpuint (summary->width, ==, 832);
  g_assert_cmpuint (summary->height, ==, 480);
  g_assert_cmpstr (summary->parallel, ==, "2 CPU workers · Ulysses 2");
  /* The latent is no picture and the PNG is gone: the video is the poster. */
  g_assert_nonnull (summary->poster);
  g_assert_cmpstr (summary->poster->path, ==, video);
}

static void
test_summary_sparse (Fixture       *f,
                     gconstpointer  data)
{
  gint64 id = add_finished (f, "not json", "{\"backend\":\"cuda\",\"workers\":1,\"parallel\":\"none\"}",
                            RL_JOB_FAILED);
  gint64 plain = add_finished (f, NULL, NULL, RL_JOB_SUCCEEDED);
  g_autoptr(RlHistoryJob) job = rl_history_get_job (f->history, id, NULL);
  g_autoptr(RlHistoryJob) plain_job = rl_history_get_job (f->history, plain, NULL);
  g_autoptr(RlHistorySummary) summary = rl_history_summary_new (job);
  g_autoptr(RlHistorySummary) plain_summary = rl_history_summary_new (plain_job);

  g_assert_null (summary->model);
  g_assert_false (summary->has_seed);
  g_assert_null (summary->poster);
  g_assert_cmpstr (summary->parallel, ==, "1 GPU");
  g_assert_cmpstr (plain_summary->parallel, ==, "In the app");
}

static void
test_format_duration (void)
{
  static const struct { double seconds; const char *text; } cases[] = {
    { 0, "–" }, { 12.44, "12.4 s" }, { 65, "1:05" }, { 3599.4, "59:59" }, { 3720, "1 h 02 min" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = rl_history_format_duration (cases[i].seconds);
      g_assert_cmpstr (text, ==, cases[i].text);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, func) \
  g_test_add ("/history-browse/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("search", test_search);
  ADD ("trash/restore", test_trash_restore);
  ADD ("trash/survives-reopen", test_trash_survives_reopen);
  ADD ("delete/files", test_delete_files);
  ADD ("summary/full", test_summary);
  ADD ("summary/sparse", test_summary_sparse);
#undef ADD
  g_test_add_func ("/history-browse/format-duration", test_format_duration);
  return g_test_run ();
}
