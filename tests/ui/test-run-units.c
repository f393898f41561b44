/* Non-UI logic of the queue panel and the output viewer: speed and time
 * left, preview frames to 8-bit RGB, decoding a video into textures, the
 * frame shown at a time, the run service's job order and batch seeds. */
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "engine/engine-error.h"
#include "engine/graph/image.h"
#include "engine/graph/registry.h"
#include "engine/graph/workflow.h"
#include "engine/nodes/builtin-nodes.h"
#include "engine/media/video-writer.h"
#include "engine/run/history.h"
#include "ui/run/rl-progress-rate.h"
#include "ui/run/rl-preview-frames.h"
#include "ui/run/rl-run-service.h"
#include "ui/viewer/rl-video-frames.h"

#define SECOND G_USEC_PER_SEC

static void
test_rate_steady (void)
{
  RlProgressRate rate;

  rl_progress_rate_reset (&rate);
  g_assert_cmpfloat (rl_progress_rate_per_second (&rate), ==, 0);
  g_assert_cmpfloat (rl_progress_rate_eta_seconds (&rate), ==, -1);
  rl_progress_rate_add (&rate, 1, 30, 10 * SECOND);
  g_assert_cmpfloat (rl_progress_rate_per_second (&rate), ==, 0);
  /* Two steps a second: 2 it/s, 26 steps left = 13 s. */
  for (guint step = 2; step <= 4; step++)
    rl_progress_rate_add (&rate, step, 30, 10 * SECOND + (step - 1) * SECOND / 2);
  g_assert_cmpfloat_with_epsilon (rl_progress_rate_per_second (&rate), 2.0, 1e-9);
  g_assert_cmpfloat_with_epsilon (rl_progress_rate_eta_seconds (&rate), 13.0, 1e-9);
}

static void
test_rate_window_forgets_slow_start (void)
{
  RlProgressRate rate;

  rl_progress_rate_reset (&rate);
  /* A 60 s first step (model load), then 1 step/s: once the window has
   * moved past it, the rate is 1 it/s. */
  rl_progress_rate_add (&rate, 0, 100, 0);
  rl_progress_rate_add (&rate, 1, 100, 60 * SECOND);
  for (guint step = 2; step <= 1 + RL_PROGRESS_RATE_WINDOW; step++)
    rl_progress_rate_add (&rate, step, 100, (60 + step - 1) * (gint64) SECOND);
  g_assert_cmpfloat_with_epsilon (rl_progress_rate_per_second (&rate), 1.0, 1e-9);
}

static void
test_rate_restarts_and_ignores_repeats (void)
{
  RlProgressRate rate;

  rl_progress_rate_reset (&rate);
  rl_progress_rate_add (&rate, 1, 4, 0);
  rl_progress_rate_add (&rate, 2, 4, SECOND);
  /* The same step again (a preview for it) does not count as progress. */
  rl_progress_rate_add (&rate, 2, 4, 5 * SECOND);
  g_assert_cmpfloat_with_epsilon (rl_progress_rate_per_second (&rate), 1.0, 1e-9);
  /* A new node counting from 1 again (or another total) starts over. */
  rl_progress_rate_add (&rate, 1, 4, 6 * SECOND);
  g_assert_cmpfloat (rl_progress_rate_per_second (&rate), ==, 0);
  g_assert_cmpuint (rate.n_samples, ==, 1);
  rl_progress_rate_add (&rate, 2, 8, 7 * SECOND);
  g_assert_cmpuint (rate.n_samples, ==, 1);
  g_assert_cmpuint (rate.total, ==, 8);
}

static void
test_rate_formatting (void)
{
  g_autofree char *fast = rl_progress_rate_format_speed (2.14);
  g_autofree char *slow = rl_progress_rate_format_speed (0.25);
  g_autofree char *none = rl_progress_rate_format_speed (0);
  g_autofree char *short_eta = rl_progress_rate_format_eta (32.4);
  g_autofree char *minutes = rl_progress_rate_format_eta (725);
  g_autofree char *hours = rl_progress_rate_format_eta (3723);
  g_autofree char *unknown = rl_progress_rate_format_eta (-1);

  g_assert_cmpstr (fast, ==, "2.1 it/s");
  g_assert_cmpstr (slow, ==, "4.0 s/it");
  g_assert_cmpstr (none, ==, "");
  g_assert_cmpstr (short_eta, ==, "0:32");
  g_assert_cmpstr (minutes, ==, "12:05");
  g_assert_cmpstr (hours, ==, "1:02:03");
  g_assert_cmpstr (unknown, ==, "");
}

static void
test_preview_to_rgb8 (void)
{
  g_autoptr(RlImage) image = rl_image_new (2, 1, 3, NULL);
  const float values[] = { 0.0f, 0.5f, 1.0f,  -0.2f, 1.7f, NAN,  0.25f, 0.75f, 0.1f,
                           0.9f, 0.0f, 0.0f,   0.0f, 0.9f, 0.0f,  0.0f, 0.0f, 0.9f };
  const guint8 expected0[] = { 0, 128, 255,  0, 255, 0,  64, 191, 26 };
  g_autoptr(GBytes) frame0 = NULL;
  g_autoptr(GBytes) frame1 = NULL;
  g_autoptr(GPtrArray) textures = NULL;
  guint8 rgba[3 * 4];

  memcpy (image->pixels, values, sizeof values);
  frame0 = rl_preview_frame_to_rgb8 (image, 0);
  frame1 = rl_preview_frame_to_rgb8 (image, 1);
  g_assert_cmpmem (g_bytes_get_data (frame0, NULL), g_bytes_get_size (frame0), expected0, sizeof expected0);
  g_assert_cmpuint (((const guint8 *) g_bytes_get_data (frame1, NULL))[4], ==, 230);

  /* One texture per latent frame, of the frame's size and colours. */
  textures = rl_preview_frames_textures (image);
  g_assert_cmpuint (textures->len, ==, 2);
  g_assert_cmpint (gdk_texture_get_width (textures->pdata[1]), ==, 3);
  g_assert_cmpint (gdk_texture_get_height (textures->pdata[1]), ==, 1);
  gdk_texture_download (textures->pdata[1], rgba, 3 * 4);
  /* GDK_MEMORY_DEFAULT is premultiplied B8G8R8A8 on little endian. */
  g_assert_cmpuint (rgba[2], ==, 230);   /* red of pixel 0 */
  g_assert_cmpuint (rgba[5], ==, 230);   /* green of pixel 1 */
  g_assert_cmpuint (rgba[8], ==, 230);   /* blue of pixel 2 */
  g_assert_cmpuint (rgba[3], ==, 255);
}

/* A 5-frame 32×16 video, frame k a flat grey of k/4: decoded back, frame
 * count, size, rate and brightness order survive H.264. */
static void
test_decode_video (void)
{
  g_autofree char *dir = g_dir_make_tmp ("raylight-run-units-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "grey.mp4", NULL);
  g_autoptr(RlImage) image = rl_image_new (5, 16, 32, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(RlVideoFrames) frames = NULL;
  RlVideoWriteOptions options;
  guint8 previous = 0;

  for (guint f = 0; f < 5; f++)
    for (gsize i = 0; i < 16 * 32 * 3; i++)
      image->pixels[f * 16 * 32 * 3 + i] = f / 4.0f;
  rl_video_write_options_init (&options);
  options.fps_num = 8;
  options.fps_den = 1;
  if (!rl_video_write (path, image, &options, &error))
    {
      /* This FFmpeg has no H.264 encoder: nothing to decode. */
      g_test_skip (error->message);
      g_rmdir (dir);
      return;
    }
  frames = rl_video_frames_load (path, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (frames->textures->len, ==, 5);
  g_assert_cmpuint (frames->width, ==, 32);
  g_assert_cmpuint (frames->height, ==, 16);
  g_assert_cmpfloat_with_epsilon (frames->fps, 8.0, 1e-6);
  g_assert_cmpfloat_with_epsilon (rl_video_frames_duration (frames), 5 / 8.0, 1e-6);
  for (guint f = 0; f < 5; f++)
    {
      guint8 pixels[16 * 32 * 4];
      guint8 grey;

      gdk_texture_download (frames->textures->pdata[f], pixels, 32 * 4);
      grey = pixels[(8 * 32 + 16) * 4 + 1];
      g_assert_cmpint (ABS ((int) grey - (int) lrintf (f / 4.0f * 255)), <=, 6);
      g_assert_true (f == 0 || grey > previous);
      previous = grey;
    }
  g_remove (path);
  g_rmdir (dir);
}

static void
test_decode_missing_file (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RlVideoFrames) frames = rl_video_frames_load ("/nonexistent/raylight.mp4", 0, &error);

  g_assert_null (frames);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "/nonexistent/raylight.mp4"));
}

static void
test_frame_at_time (void)
{
  RlVideoFrames frames = { .fps = 16 };

  frames.textures = g_ptr_array_new ();
  for (guint i = 0; i < 9; i++)
    g_ptr_array_add (frames.textures, NULL);
  g_assert_cmpuint (rl_video_frames_index_at (&frames, 0, 1, TRUE), ==, 0);
  g_assert_cmpuint (rl_video_frames_index_at (&frames, 0.25, 1, TRUE), ==, 4);
  /* Half speed: a quarter second is two frames. */
  g_assert_cmpuint (rl_video_frames_index_at (&frames, 0.25, 0.5, TRUE), ==, 2);
  /* Past the end: wraps when looping, holds the last frame otherwise. */
  g_assert_cmpuint (rl_video_frames_index_at (&frames, 10 / 16.0, 1, TRUE), ==, 1);
  g_assert_cmpuint (rl_video_frames_index_at (&frames, 10 / 16.0, 1, FALSE), ==, 8);
  frames.fps = 0;   /* a still image */
  g_assert_cmpuint (rl_video_frames_index_at (&frames, 3, 1, TRUE), ==, 0);
  g_ptr_array_unref (frames.textures);
}

/* ---- The run service's job list ---------------------------------------------- */

static RlWorkflow *
pattern_workflow (RlRegistry *registry)
{
  g_autoptr(GError) error = NULL;
  RlWorkflow *workflow = rl_workflow_load_data ("{\"last_node_id\":0,\"last_link_id\":0,\"nodes\":[],"
                                                "\"links\":[],\"version\":0.4}", -1, "pattern", &error);
  gint64 pattern, preview;

  g_assert_no_error (error);
  pattern = rl_workflow_add_node (workflow, rl_registry_lookup (registry, "RaylightTestPattern"), 0, 0);
  preview = rl_workflow_add_node (workflow, rl_registry_lookup (registry, "PreviewImage"), 300, 0);
  g_assert_cmpint (rl_workflow_add_link (workflow, pattern, 0, preview, 0, &error), >, 0);
  g_assert_no_error (error);
  return workflow;
}

static void
assert_order (RlRunService *service,
              const gint64 *ids,
              guint         n)
{
  GListModel *jobs = rl_run_service_get_jobs (service);

  g_assert_cmpuint (g_list_model_get_n_items (jobs), ==, n);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(RlJobItem) item = g_list_model_get_item (jobs, i);

      g_assert_cmpint (rl_job_item_get_id (item), ==, ids[i]);
    }
}

static void
count_finished (RlRunService *service,
                RlJobItem    *item,
                guint        *n)
{
  (*n)++;
}

/* Back and front (a batch to the front keeps its order), a move, a
 * cancel while paused; then resumed, every job runs, and the list shows
 * finished jobs newest first. */
static void
test_service_job_order (void)
{
  g_autofree char *dir = g_dir_make_tmp ("raylight-run-service-XXXXXX", NULL);
  g_autofree char *history = g_build_filename (dir, "history.sqlite3", NULL);
  g_autoptr(RlRegistry) registry = rl_registry_new ();
  g_autoptr(RlRunService) service = NULL;
  g_autoptr(RlWorkflow) workflow = NULL;
  g_autoptr(GError) error = NULL;
  gint64 back, front;
  guint n_finished = 0;
  gint64 end;

  g_setenv ("RAYLIGHT_HISTORY", history, TRUE);
  g_setenv ("RAYLIGHT_OUTPUT_DIR", dir, TRUE);
  g_assert_true (rl_builtin_nodes_register (registry, &error));
  service = rl_run_service_new (registry);
  g_assert_nonnull (rl_run_service_get_history (service));
  g_signal_connect (service, "job-finished", G_CALLBACK (count_finished), &n_finished);
  rl_run_service_set_paused (service, TRUE);
  workflow = pattern_workflow (registry);

  back = rl_run_service_queue_workflow (service, workflow, "pattern", RL_JOB_POSITION_BACK, 2, &error);
  g_assert_no_error (error);
  front = rl_run_service_queue_workflow (service, workflow, "pattern", RL_JOB_POSITION_FRONT, 2, &error);
  g_assert_no_error (error);
  assert_order (service, (gint64[]) { front, front + 1, back, back + 1 }, 4);

  g_assert_true (rl_run_service_move_by (service, back + 1, -1, &error));
  assert_order (service, (gint64[]) { front, front + 1, back + 1, back }, 4);
  g_assert_false (rl_run_service_move_by (service, 12345, -1, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  /* A drop onto another waiting job takes its place, up or down. */
  g_assert_true (rl_run_service_move_to (service, back, front, &error));
  assert_order (service, (gint64[]) { back, front, front + 1, back + 1 }, 4);
  g_assert_true (rl_run_service_move_to (service, back, back + 1, &error));
  assert_order (service, (gint64[]) { front, front + 1, back + 1, back }, 4);
  g_assert_false (rl_run_service_move_to (service, back, 12345, &error));
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_EXECUTION);
  g_clear_error (&error);
  assert_order (service, (gint64[]) { front, front + 1, back + 1, back }, 4);

  g_assert_true (rl_run_service_cancel (service, front, &error));
  while (n_finished < 1)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (rl_job_item_get_status (rl_run_service_lookup (service, front)), ==, RL_JOB_CANCELLED);
  assert_order (service, (gint64[]) { front + 1, back + 1, back, front }, 4);

  rl_run_service_set_paused (service, FALSE);
  end = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (n_finished < 4 && g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (n_finished, ==, 4);
  assert_order (service, (gint64[]) { back, back + 1, front + 1, front }, 4);
  for (guint i = 0; i < 3; i++)
    {
      RlJobItem *item = rl_run_service_lookup (service, (gint64[]) { back, back + 1, front + 1 }[i]);

      g_assert_cmpint (rl_job_item_get_status (item), ==, RL_JOB_SUCCEEDED);
      g_assert_cmpuint (rl_job_item_get_outputs (item)->len, >=, 1);
    }
  rl_run_service_shutdown (service);
  g_remove (history);
  {
    g_autofree char *wal = g_strconcat (history, "-wal", NULL);
    g_autofree char *shm = g_strconcat (history, "-shm", NULL);

    g_remove (wal);
    g_remove (shm);
  }
  g_rmdir (dir);
}

/* The seed job @job_id runs, read from its API prompt in the history,
 * and the seed its recorded workflow shows (widgets_values[4]: the test
 * pattern's width, height, frames, pattern, then the seed). */
static void
queued_seeds (RlRunService *service,
              gint64        job_id,
              gint64        node_id,
              gint64       *prompt_seed,
              gint64       *workflow_seed)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RlHistoryJob) job = rl_history_get_job (rl_run_service_get_history (service), job_id, &error);
  g_autoptr(JsonNode) prompt = NULL;
  g_autoptr(RlWorkflow) recorded = NULL;
  g_autofree char *key = g_strdup_printf ("%" G_GINT64_FORMAT, node_id);
  JsonObject *node;

  g_assert_no_error (error);
  prompt = json_from_string (job->prompt_json, &error);
  g_assert_no_error (error);
  node = json_object_get_object_member (json_node_get_object (prompt), key);
  *prompt_seed = json_object_get_int_member (json_object_get_object_member (node, "inputs"), "seed");
  recorded = rl_workflow_load_data (rl_job_item_get_workflow_json (rl_run_service_lookup (service, job_id)), -1,
                                    "job", &error);
  g_assert_no_error (error);
  *workflow_seed = json_array_get_int_element (rl_workflow_node_get_widgets_values (recorded, node_id), 4);
}

static void
set_seed (RlWorkflow *workflow,
          gint64      node_id,
          gint64      seed,
          const char *control)
{
  g_autoptr(JsonNode) seed_value = json_node_init_int (json_node_alloc (), seed);
  g_autoptr(JsonNode) control_value = json_node_init_string (json_node_alloc (), control);

  rl_workflow_node_set_widget_value (workflow, node_id, 4, seed_value);
  rl_workflow_node_set_widget_value (workflow, node_id, 5, control_value);
}

static gint64
document_seed (RlWorkflow *workflow,
               gint64      node_id)
{
  return json_array_get_int_element (rl_workflow_node_get_widgets_values (workflow, node_id), 4);
}

/* A batch queues successive seeds (ComfyUI's control_after_generate): the
 * prompt and the recorded workflow of job i carry the i-th seed, and the
 * document is left with the seed the next queue runs. */
static void
test_service_batch_seeds (void)
{
  g_autofree char *dir = g_dir_make_tmp ("raylight-run-seeds-XXXXXX", NULL);
  g_autofree char *history = g_build_filename (dir, "history.sqlite3", NULL);
  g_autoptr(RlRegistry) registry = rl_registry_new ();
  g_autoptr(RlRunService) service = NULL;
  g_autoptr(RlWorkflow) workflow = NULL;
  g_autoptr(GError) error = NULL;
  gint64 pattern, first, prompt_seed, workflow_seed, random_seeds[2];

  g_setenv ("RAYLIGHT_HISTORY", history, TRUE);
  g_setenv ("RAYLIGHT_OUTPUT_DIR", dir, TRUE);
  g_assert_true (rl_builtin_nodes_register (registry, &error));
  service = rl_run_service_new (registry);
  g_assert_nonnull (rl_run_service_get_history (service));
  rl_run_service_set_paused (service, TRUE);
  workflow = pattern_workflow (registry);
  pattern = rl_workflow_get_node_id (workflow, 0);
  g_assert_cmpstr (rl_workflow_node_get_type (workflow, pattern), ==, "RaylightTestPattern");

  set_seed (workflow, pattern, 10, "increment");
  first = rl_run_service_queue_workflow (service, workflow, "seeds", RL_JOB_POSITION_BACK, 3, &error);
  g_assert_no_error (error);
  for (gint64 i = 0; i < 3; i++)
    {
      queued_seeds (service, first + i, pattern, &prompt_seed, &workflow_seed);
      g_assert_cmpint (prompt_seed, ==, 10 + i);
      g_assert_cmpint (workflow_seed, ==, 10 + i);
    }
  g_assert_cmpint (document_seed (workflow, pattern), ==, 13);

  /* Queued to the front, the batch keeps its order and its seeds. */
  set_seed (workflow, pattern, 50, "decrement");
  first = rl_run_service_queue_workflow (service, workflow, "seeds", RL_JOB_POSITION_FRONT, 2, &error);
  g_assert_no_error (error);
  queued_seeds (service, first, pattern, &prompt_seed, &workflow_seed);
  g_assert_cmpint (prompt_seed, ==, 50);
  queued_seeds (service, first + 1, pattern, &prompt_seed, &workflow_seed);
  g_assert_cmpint (prompt_seed, ==, 49);
  g_assert_cmpint (document_seed (workflow, pattern), ==, 48);

  set_seed (workflow, pattern, 7, "fixed");
  first = rl_run_service_queue_workflow (service, workflow, "seeds", RL_JOB_POSITION_BACK, 2, &error);
  g_assert_no_error (error);
  for (gint64 i = 0; i < 2; i++)
    {
      queued_seeds (service, first + i, pattern, &prompt_seed, &workflow_seed);
      g_assert_cmpint (prompt_seed, ==, 7);
    }
  g_assert_cmpint (document_seed (workflow, pattern), ==, 7);

  /* Randomize: the first job runs the document's seed, the second a new
   * one, and the document shows a third. */
  set_seed (workflow, pattern, 7, "randomize");
  first = rl_run_service_queue_workflow (service, workflow, "seeds", RL_JOB_POSITION_BACK, 2, &error);
  g_assert_no_error (error);
  for (gint64 i = 0; i < 2; i++)
    {
      queued_seeds (service, first + i, pattern, &random_seeds[i], &workflow_seed);
      g_assert_cmpint (random_seeds[i], ==, workflow_seed);
    }
  g_assert_cmpint (random_seeds[0], ==, 7);
  g_assert_cmpint (random_seeds[1], !=, 7);
  g_assert_cmpint (document_seed (workflow, pattern), !=, random_seeds[1]);

  rl_run_service_shutdown (service);
  g_remove (history);
  {
    g_autofree char *wal = g_strconcat (history, "-wal", NULL);
    g_autofree char *shm = g_strconcat (history, "-shm", NULL);

    g_remove (wal);
    g_remove (shm);
  }
  g_rmdir (dir);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/run/rate/steady", test_rate_steady);
  g_test_add_func ("/run/rate/window-forgets-slow-start", test_rate_window_forgets_slow_start);
  g_test_add_func ("/run/rate/restarts-and-ignores-repeats", test_rate_restarts_and_ignores_repeats);
  g_test_add_func ("/run/rate/formatting", test_rate_formatting);
  g_test_add_func ("/run/preview/to-rgb8", test_preview_to_rgb8);
  g_test_add_func ("/viewer/decode-video", test_decode_video);
  g_test_add_func ("/viewer/decode-missing-file", test_decode_missing_file);
  g_test_add_func ("/viewer/frame-at-time", test_frame_at_time);
  g_test_add_func ("/run/service/job-order", test_service_job_order);
  g_test_add_func ("/run/service/batch-seeds", test_service_batch_seeds);
  return g_test_run ();
}
