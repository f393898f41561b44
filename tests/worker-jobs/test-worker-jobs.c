/* Wan text-to-video end to end on one CPU worker: the real `raylight` CLI
 * runs data/workflows/wan2.1-t2v-tiny.json on the tiny model set that
 * tools/make-tiny-wan.py writes (the family plugin, the worker's model
 * jobs, the samplers, the VAE and the video writer all take part), and
 * broken checkpoints fail with messages that name the problem. */
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>

#include "engine/media/video-reader.h"
#include "tests/tiny-wan-fixture.h"

typedef struct {
  char *dir;        /* temporary folder of the whole run */
  char *models;     /* the tiny model set inside it */
  char *history;
  char *outputs;
} Setup;

static Setup setup;

/* Runs argv (NULL-terminated) with the CPU-worker environment. */
static TinyWanRun
spawn (const char * const *argv)
{
  char **env = tiny_wan_cpu_environ (setup.models, "1");
  TinyWanRun r;

  env = g_environ_setenv (env, "OMP_NUM_THREADS", "2", TRUE);
  r = tiny_wan_run_spawn (argv, env);
  g_strfreev (env);
  if (g_test_verbose ())
    g_printerr ("$ %s %s ... -> %d\n%s%s", argv[0], argv[1], r.status, r.out, r.err);
  return r;
}

/* `raylight run` of the tiny workflow with extra --set overrides. */
static TinyWanRun
run_tiny (const char *set_1, const char *set_2)
{
  g_autofree char *raylight = g_build_filename (g_getenv ("RAYLIGHT_BUILD_DIR"), "app",
                                                "raylight", NULL);
  g_autofree char *workflow = tiny_wan_source_path ("data/workflows/wan2.1-t2v-tiny.json");
  const char *argv[16] = { raylight, "run", workflow, "--output-dir", setup.outputs,
                           "--history", setup.history };
  int n = 7;

  if (set_1 != NULL)
    {
      argv[n++] = "--set";
      argv[n++] = set_1;
    }
  if (set_2 != NULL)
    {
      argv[n++] = "--set";
      argv[n++] = set_2;
    }
  argv[n] = NULL;
  return spawn (argv);
}

static char *
first_line (const char *text)
{
  const char *nl = strchr (text, '\n');

  return nl ? g_strndup (text, nl - text) : g_strdup (text);
}

/* Checks the video: frames, size, finite pixels that are not one flat
 * colour (random weights still give structure through the VAE). */
static void
check_video (const char *path,
             guint       frames,
             guint       width,
             guint       height)
{
  g_autoptr(GError) error = NULL;
  RlVideo *video = rl_video_read (path, 0, &error);
  double sum = 0.0, sum_sq = 0.0;
  gsize n;

  g_assert_no_error (error);
  g_assert_cmpuint (video->frames->n_frames, ==, frames);
  g_assert_cmpuint (video->frames->width, ==, width);
  g_assert_cmpuint (video->frames->height, ==, height);
  n = (gsize) frames * width * height * 3;
  for (gsize i = 0; i < n; i++)
    {
      float v = video->frames->pixels[i];
      g_assert_true (isfinite (v));
      sum += v;
      sum_sq += (double) v * v;
    }
  g_assert_cmpfloat (sum_sq / n - (sum / n) * (sum / n), >, 1e-6);
  rl_video_free (video);
}

/* The newest job's status and error in history. */
static void
newest_job (char **status,
            char **error_text)
{
  g_autofree char *raylight = g_build_filename (g_getenv ("RAYLIGHT_BUILD_DIR"), "app",
                                                "raylight", NULL);
  const char *argv[] = { raylight, "history", "list", "--json", "--history", setup.history, NULL };
  TinyWanRun r = spawn (argv);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) root = json_from_string (r.out, &error);
  JsonObject *job;

  g_assert_no_error (error);
  g_assert_cmpint (r.status, ==, 0);
  job = json_array_get_object_element (json_node_get_array (root), 0);
  *status = g_strdup (json_object_get_string_member (job, "status"));
  *error_text = json_object_has_member (job, "error")
                  ? g_strdup (json_object_get_string_member (job, "error")) : NULL;
  tiny_wan_run_clear (&r);
}

static void
test_tiny_t2v (void)
{
  TinyWanRun r = run_tiny (NULL, NULL);
  g_autofree char *video = first_line (r.out);

  g_assert_cmpint (r.status, ==, 0);
  g_assert_true (g_str_has_suffix (video, ".mp4"));
  /* EmptyHunyuanLatentVideo 64×64, 9 frames → 3 latent frames → 9 frames. */
  check_video (video, 9, 64, 64);
  tiny_wan_run_clear (&r);
}

static void
test_missing_key (void)
{
  g_autofree char *status = NULL, *error_text = NULL;
  TinyWanRun r = run_tiny ("37.unet_name=tiny-wan2.1-missing-key.safetensors", NULL);
  TinyWanRun next;

  g_assert_cmpint (r.status, ==, 1);
  g_assert_nonnull (strstr (r.err, "blocks.1.ffn.2.weight"));
  g_assert_nonnull (strstr (r.err, "tiny-wan2.1-missing-key.safetensors"));
  newest_job (&status, &error_text);
  g_assert_cmpstr (status, ==, "failed");
  g_assert_nonnull (error_text);
  g_assert_nonnull (strstr (error_text, "blocks.1.ffn.2.weight"));
  tiny_wan_run_clear (&r);

  /* The pool survives: the next job, with the good model, succeeds. A
   * different seed, so nothing comes from a cache. */
  next = run_tiny ("3.seed=7", NULL);
  g_assert_cmpint (next.status, ==, 0);
  tiny_wan_run_clear (&next);
}

static void
test_vae_as_diffusion_model (void)
{
  g_autofree char *status = NULL, *error_text = NULL;
  TinyWanRun r = run_tiny ("37.unet_name=tiny-vae-as-dit.safetensors", NULL);

  g_assert_cmpint (r.status, ==, 1);
  g_assert_nonnull (strstr (r.err, "tiny-vae-as-dit.safetensors is a VAE"));
  newest_job (&status, &error_text);
  g_assert_cmpstr (status, ==, "failed");
  tiny_wan_run_clear (&r);
}

int
main (int    argc,
      char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  setup.dir = g_dir_make_tmp ("raylight-worker-jobs-XXXXXX", NULL);
  g_assert_nonnull (setup.dir);
  setup.models = g_build_filename (setup.dir, "models", NULL);
  setup.history = g_build_filename (setup.dir, "history.sqlite3", NULL);
  setup.outputs = g_build_filename (setup.dir, "out", NULL);
  if (!tiny_wan_make_models (setup.models, TRUE))
    {
      tiny_wan_remove_tree (setup.dir);
      return 77;   /* no python with numpy: skip */
    }
  g_test_add_func ("/worker-jobs/wan/tiny-t2v", test_tiny_t2v);
  g_test_add_func ("/worker-jobs/wan/missing-key", test_missing_key);
  g_test_add_func ("/worker-jobs/wan/vae-as-diffusion-model", test_vae_as_diffusion_model);
  status = g_test_run ();
  tiny_wan_remove_tree (setup.dir);
  return status;
}
