/* The built-in nodes run through the real executor: the test pattern
 * becomes a video, PNGs and an animated WebP on disk, each decoding back
 * to the right frame count and size and carrying the job's prompt and
 * workflow; counters advance from run to run. */
#include <string.h>
#include <libavutil/log.h>

#include "engine/engine-error.h"
#include "engine/graph/graph.h"
#include "engine/graph/registry.h"
#include "engine/media/metadata-reader.h"
#include "engine/media/video-reader.h"
#include "engine/nodes/builtin-nodes.h"
#include "engine/run/executor.h"
#include "media-test-util.h"

typedef struct {
  GRand       *rand;
  char        *dir;
  RlRegistry  *registry;
  RlExecutor  *executor;
  char        *workflow;
} Fixture;

static void
fixture_set_up (Fixture       *fx,
                gconstpointer  data)
{
  fx->rand = media_test_rand ();
  fx->dir = media_test_mkdtemp ();
  fx->registry = rl_registry_new ();
  g_autoptr(GError) error = NULL;
  g_assert_true (rl_builtin_nodes_register (fx->registry, &error));
  g_assert_no_error (error);
  fx->executor = rl_executor_new (fx->registry);
  fx->workflow = g_strdup_printf ("{\"version\": 0.4, \"extra\": {\"token\": %u}}",
                                  g_rand_int (fx->rand));
}

static void
fixture_tear_down (Fixture       *fx,
                   gconstpointer  data)
{
  rl_executor_free (fx->executor);
  rl_registry_unref (fx->registry);
  media_test_rmdir (fx->dir);
  g_free (fx->dir);
  g_free (fx->workflow);
  g_rand_free (fx->rand);
}

/* Runs @prompt_json; returns the files written (owned array of paths). */
static GPtrArray *
run_prompt (Fixture    *fx,
            const char *prompt_json)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RlGraph) graph = rl_graph_load_prompt_data (prompt_json, -1, "test prompt", &error);
  g_assert_no_error (error);
  RlRunOptions options = {
    .output_dir = fx->dir,
    .prompt_json = prompt_json,
    .workflow_json = fx->workflow,
  };
  RlRunReport report = { 0 };
  gboolean ok = rl_executor_run (fx->executor, graph, &options, &report, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  g_assert_cmpint (report.status, ==, RL_JOB_SUCCEEDED);
  GPtrArray *files = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; report.output_files != NULL && i < report.output_files->len; i++)
    g_ptr_array_add (files, g_strdup (report.output_files->pdata[i]));
  rl_run_report_clear (&report);
  return files;
}

static void
assert_embedded (const char *path,
                 const char *prompt,
                 const char *workflow)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RlMediaMetadata) meta = rl_media_metadata_read (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (meta->prompt_json, ==, prompt);
  g_assert_cmpstr (meta->workflow_json, ==, workflow);
}

static RlVideo *
decode (const char *path)
{
  g_autoptr(GError) error = NULL;
  RlVideo *video = rl_video_read (path, 0, &error);
  g_assert_no_error (error);
  return video;
}

/* Mean absolute difference between two frames of @video. */
static double
frame_difference (const RlVideo *video,
                  guint          a,
                  guint          b)
{
  gsize n = (gsize) video->frames->width * video->frames->height * 3;
  const float *pa = video->frames->pixels + n * a, *pb = video->frames->pixels + n * b;
  double sum = 0;
  for (gsize i = 0; i < n; i++)
    sum += fabs (pa[i] - pb[i]);
  return sum / n;
}

static void
test_registered (Fixture       *fx,
                 gconstpointer  data)
{
  const char *expected[] = {
    "PrimitiveInt", "PrimitiveFloat", "PrimitiveString", "PrimitiveStringMultiline",
    "PrimitiveBoolean", "EmptyLatentImage", "EmptyHunyuanLatentVideo", "LatentFromBatch",
    "RaylightTestPattern",
    "CreateVideo", "GetVideoComponents", "SaveVideo", "SaveAnimatedWEBP", "SaveImage",
    "PreviewImage", "UNETLoader", "CLIPLoader", "VAELoader", "CLIPTextEncode",
    "ModelSamplingSD3", "RaylightParallelSettings", "KSampler", "KSamplerAdvanced", "VAEDecode", "VAEDecodeTiled",
    "VAEEncode", "Wan22ImageToVideoLatent",
  };
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    g_assert_nonnull (rl_registry_lookup (fx->registry, expected[i]));
  guint n = 0;
  rl_builtin_nodes_list (&n);
  g_assert_cmpuint (n, ==, G_N_ELEMENTS (expected));
  g_assert_cmpuint (rl_registry_get_n_types (fx->registry), ==, n);

  /* A second registration is refused, not silently doubled. */
  g_autoptr(GError) error = NULL;
  g_assert_false (rl_builtin_nodes_register (fx->registry, &error));
  g_assert_nonnull (error);
}

static char *
video_prompt (Fixture    *fx,
              const char *pattern,
              guint       seed,
              const char *format,
              const char *codec)
{
  return g_strdup_printf (
    "{\"1\": {\"class_type\": \"RaylightTestPattern\", \"inputs\": {\"width\": 64, \"height\": 48,"
    " \"frames\": 9, \"pattern\": \"%s\", \"seed\": %u}},"
    " \"2\": {\"class_type\": \"PrimitiveFloat\", \"inputs\": {\"value\": 12.0}},"
    " \"3\": {\"class_type\": \"CreateVideo\", \"inputs\": {\"images\": [\"1\", 0], \"fps\": [\"2\", 0]}},"
    " \"4\": {\"class_type\": \"SaveVideo\", \"inputs\": {\"video\": [\"3\", 0],"
    " \"filename_prefix\": \"video/Raylight\", \"format\": \"%s\", \"codec\": \"%s\", \"crf\": 10}}}",
    pattern, seed, format, codec);
}

static void
test_save_video (Fixture       *fx,
                 gconstpointer  data)
{
  const char *patterns[] = { "bars", "gradient", "moving-circle" };
  const char *pattern = patterns[g_rand_int_range (fx->rand, 0, 3)];
  g_autofree char *prompt = video_prompt (fx, pattern, g_rand_int (fx->rand), "auto", "auto");
  g_autoptr(GPtrArray) files = run_prompt (fx, prompt);
  g_assert_cmpuint (files->len, ==, 1);
  g_autofree char *want = g_build_filename (fx->dir, "video", "Raylight_00001_.mp4", NULL);
  g_assert_cmpstr (files->pdata[0], ==, want);

  g_autoptr(RlVideo) video = decode (want);
  g_assert_cmpuint (video->frames->n_frames, ==, 9);
  g_assert_cmpuint (video->frames->width, ==, 64);
  g_assert_cmpuint (video->frames->height, ==, 48);
  g_assert_cmpint (video->fps_num, ==, 12);
  g_assert_cmpint (video->fps_den, ==, 1);
  /* The picture moves: the first and a middle frame differ visibly. */
  g_test_message ("pattern %s: mean frame difference %.3f", pattern, frame_difference (video, 0, 4));
  g_assert_cmpfloat (frame_difference (video, 0, 4), >, 0.01);
  assert_embedded (want, prompt, fx->workflow);

  /* A changed seed runs again and takes the next counter; WebM this time. */
  g_autofree char *again = video_prompt (fx, pattern, g_rand_int (fx->rand), "webm", "auto");
  g_autoptr(GPtrArray) second = run_prompt (fx, again);
  g_autofree char *want2 = g_build_filename (fx->dir, "video", "Raylight_00002_.webm", NULL);
  g_assert_cmpuint (second->len, ==, 1);
  g_assert_cmpstr (second->pdata[0], ==, want2);
  g_autoptr(RlVideo) webm = decode (want2);
  g_assert_cmpuint (webm->frames->n_frames, ==, 9);
  assert_embedded (want2, again, fx->workflow);
}

static void
test_save_video_rejects_webm_h264 (Fixture       *fx,
                                   gconstpointer  data)
{
  g_autofree char *prompt = video_prompt (fx, "bars", 1, "webm", "h264");
  g_autoptr(GError) error = NULL;
  g_autoptr(RlGraph) graph = rl_graph_load_prompt_data (prompt, -1, "test prompt", &error);
  RlRunOptions options = { .output_dir = fx->dir };
  RlRunReport report = { 0 };
  g_assert_false (rl_executor_run (fx->executor, graph, &options, &report, &error));
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_MEDIA);
  g_assert_nonnull (strstr (error->message, "vp9"));
  rl_run_report_clear (&report);
}

static void
test_save_image_and_webp (Fixture       *fx,
                          gconstpointer  data)
{
  guint frames = (guint) g_rand_int_range (fx->rand, 2, 5);
  g_autofree char *prompt = g_strdup_printf (
    "{\"1\": {\"class_type\": \"RaylightTestPattern\", \"inputs\": {\"width\": 40, \"height\": 24,"
    " \"frames\": %u, \"pattern\": \"moving-circle\", \"seed\": 7}},"
    " \"2\": {\"class_type\": \"SaveImage\", \"inputs\": {\"images\": [\"1\", 0],"
    " \"filename_prefix\": \"stills/frame\"}},"
    " \"3\": {\"class_type\": \"SaveAnimatedWEBP\", \"inputs\": {\"images\": [\"1\", 0],"
    " \"filename_prefix\": \"anim\", \"fps\": 10.0, \"lossless\": true, \"quality\": 80,"
    " \"method\": \"fastest\"}}}", frames);
  g_autoptr(GPtrArray) files = run_prompt (fx, prompt);
  g_assert_cmpuint (files->len, ==, frames + 1);

  guint n_png = 0;
  for (guint i = 0; i < files->len; i++)
    {
      const char *path = files->pdata[i];
      g_autoptr(RlVideo) video = decode (path);
      g_assert_cmpuint (video->frames->width, ==, 40);
      g_assert_cmpuint (video->frames->height, ==, 24);
      assert_embedded (path, prompt, fx->workflow);
      if (g_str_has_suffix (path, ".png"))
        {
          g_autofree char *want = g_strdup_printf ("%s/stills/frame_%05u_.png", fx->dir, ++n_png);
          g_assert_cmpstr (path, ==, want);
          g_assert_cmpuint (video->frames->n_frames, ==, 1);
        }
      else
        {
          g_autofree char *want = g_build_filename (fx->dir, "anim_00001_.webp", NULL);
          g_assert_cmpstr (path, ==, want);
          g_assert_cmpuint (video->frames->n_frames, ==, frames);
          g_assert_cmpfloat_with_epsilon (rl_video_get_fps (video), 10.0, 1e-9);
        }
    }
  g_assert_cmpuint (n_png, ==, frames);
}

static void
test_preview_image (Fixture       *fx,
                    gconstpointer  data)
{
  g_autofree char *prompt = g_strdup (
    "{\"1\": {\"class_type\": \"RaylightTestPattern\", \"inputs\": {\"width\": 16, \"height\": 16,"
    " \"frames\": 1, \"pattern\": \"gradient\", \"seed\": 3}},"
    " \"2\": {\"class_type\": \"PreviewImage\", \"inputs\": {\"images\": [\"1\", 0]}}}");
  g_autoptr(GPtrArray) files = run_prompt (fx, prompt);
  g_assert_cmpuint (files->len, ==, 1);
  const char *path = files->pdata[0];
  g_assert_true (g_str_has_prefix (path, g_get_tmp_dir ()));
  g_assert_nonnull (strstr (path, "ComfyUI_temp_"));
  g_autoptr(RlVideo) video = decode (path);
  g_assert_cmpuint (video->frames->n_frames, ==, 1);
  g_unlink (path);
  /* Nothing went to the output folder. */
  g_assert_cmpuint (media_test_count_files (fx->dir), ==, 0);
}

/* Video frames pass through GetVideoComponents unchanged into SaveImage. */
static void
test_video_components (Fixture       *fx,
                       gconstpointer  data)
{
  g_autofree char *prompt = g_strdup (
    "{\"1\": {\"class_type\": \"RaylightTestPattern\", \"inputs\": {\"width\": 32, \"height\": 16,"
    " \"frames\": 3, \"pattern\": \"bars\", \"seed\": 11}},"
    " \"2\": {\"class_type\": \"CreateVideo\", \"inputs\": {\"images\": [\"1\", 0], \"fps\": 8}},"
    " \"3\": {\"class_type\": \"GetVideoComponents\", \"inputs\": {\"video\": [\"2\", 0]}},"
    " \"4\": {\"class_type\": \"SaveAnimatedWEBP\", \"inputs\": {\"images\": [\"3\", 0],"
    " \"filename_prefix\": \"parts\", \"fps\": [\"3\", 2], \"lossless\": true, \"quality\": 80,"
    " \"method\": \"fastest\"}}}");
  g_autoptr(GPtrArray) files = run_prompt (fx, prompt);
  g_assert_cmpuint (files->len, ==, 1);
  g_autoptr(RlVideo) video = decode (files->pdata[0]);
  g_assert_cmpuint (video->frames->n_frames, ==, 3);
  g_assert_cmpfloat_with_epsilon (rl_video_get_fps (video), 8.0, 1e-9);
}

static void
test_prefix_escape_fails (Fixture       *fx,
                          gconstpointer  data)
{
  const char *prompt =
    "{\"1\": {\"class_type\": \"RaylightTestPattern\", \"inputs\": {\"width\": 16, \"height\": 16,"
    " \"frames\": 1, \"pattern\": \"bars\", \"seed\": 1}},"
    " \"2\": {\"class_type\": \"SaveImage\", \"inputs\": {\"images\": [\"1\", 0],"
    " \"filename_prefix\": \"../escape\"}}}";
  g_autoptr(GError) error = NULL;
  g_autoptr(RlGraph) graph = rl_graph_load_prompt_data (prompt, -1, "test prompt", &error);
  RlRunOptions options = { .output_dir = fx->dir };
  RlRunReport report = { 0 };
  g_assert_false (rl_executor_run (fx->executor, graph, &options, &report, &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "filename_prefix"));
  rl_run_report_clear (&report);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  av_log_set_level (AV_LOG_ERROR);
#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/media/nodes/registered", test_registered);
  ADD ("/media/nodes/save-video", test_save_video);
  ADD ("/media/nodes/save-video-webm-h264", test_save_video_rejects_webm_h264);
  ADD ("/media/nodes/save-image-and-webp", test_save_image_and_webp);
  ADD ("/media/nodes/preview-image", test_preview_image);
  ADD ("/media/nodes/video-components", test_video_components);
  ADD ("/media/nodes/prefix-escape", test_prefix_escape_fails);
#undef ADD
  return g_test_run ();
}
