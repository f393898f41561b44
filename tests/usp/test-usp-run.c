/* Sequence parallelism end to end: the real `raylight run` of
 * data/workflows/wan2.1-t2v-tiny.json on the tiny model set
 * (tools/make-tiny-wan.py) gives the same video frames with 2 CPU workers
 * in Ulysses 2 and ring 2, and 4 in Ulysses 2 × ring 2, as with one
 * worker; degrees that do not fit the workers fail before any worker
 * starts, listing the valid ones; degrees the model's heads do not allow
 * fail the job, listing the valid Ulysses degrees. The latent is sized so
 * the token count needs sequence padding; the seed is fresh per run.
 * Frames are compared by mean decoded-pixel difference (lossy video). */
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>

#include "engine/media/video-reader.h"
#include "tests/tiny-wan-fixture.h"

static TinyWanSetup setup;

/* `raylight run` of the tiny workflow (80×48, 9 frames: 45 tokens) with
 * `workers` CPU workers and the given degrees, into a folder of its own. */
static TinyWanRun
run_tiny (const char *name,
          const char *workers,
          const char *ulysses,
          const char *ring)
{
  g_autofree char *raylight = g_build_filename (g_getenv ("RAYLIGHT_BUILD_DIR"), "app",
                                                "raylight", NULL);
  g_autofree char *workflow = tiny_wan_source_path ("data/workflows/wan2.1-t2v-tiny.json");
  g_autofree char *outputs = g_build_filename (setup.dir, name, NULL);
  g_autofree char *history = g_build_filename (setup.dir, name, "history.sqlite3", NULL);
  const char *argv[] = { raylight, "run", workflow, "--output-dir", outputs, "--history", history,
                         "--set", "40.width=80", "--set", "40.height=48",
                         "--set", setup.seed_set, NULL };
  char **env = tiny_wan_cpu_environ (setup.models, workers);
  TinyWanRun r;

  env = g_environ_setenv (env, "RAYLIGHT_ULYSSES", ulysses, TRUE);
  env = g_environ_setenv (env, "RAYLIGHT_RING", ring, TRUE);
  env = g_environ_setenv (env, "OMP_NUM_THREADS", "1", TRUE);
  r = tiny_wan_run_spawn (argv, env);
  g_strfreev (env);
  if (g_test_verbose () || r.status != 0)
    g_printerr ("# %s: workers %s, Ulysses %s, ring %s -> %d\n%s%s", name, workers, ulysses,
                ring, r.status, r.out, r.err);
  return r;
}

/* The video path: the first line of `raylight run`'s output. */
static char *
video_path (const TinyWanRun *r)
{
  const char *nl = strchr (r->out, '\n');

  return nl ? g_strndup (r->out, (gsize) (nl - r->out)) : g_strdup (r->out);
}

/* Mean and largest difference of decoded pixels (0..1) of two videos. */
static double
mean_pixel_difference (const char *a_path,
                       const char *b_path,
                       double     *max_out)
{
  g_autoptr(GError) error = NULL;
  RlVideo *a = rl_video_read (a_path, 0, &error);
  g_assert_no_error (error);
  RlVideo *b = rl_video_read (b_path, 0, &error);
  g_assert_no_error (error);
  double worst = 0.0, spread = 0.0, sum = 0.0;
  gsize n;

  g_assert_cmpuint (a->frames->n_frames, ==, b->frames->n_frames);
  g_assert_cmpuint (a->frames->width, ==, b->frames->width);
  g_assert_cmpuint (a->frames->height, ==, b->frames->height);
  g_assert_cmpuint (a->frames->width, ==, 80);
  n = (gsize) a->frames->n_frames * a->frames->width * a->frames->height * 3;
  for (gsize i = 0; i < n; i++)
    {
      double d = fabs ((double) a->frames->pixels[i] - b->frames->pixels[i]);
      worst = fmax (worst, d);
      sum += d;
      spread = fmax (spread, fabs ((double) a->frames->pixels[i] - a->frames->pixels[0]));
    }
  g_assert_cmpfloat (spread, >, 0.01);   /* not a flat frame that anything would match */
  rl_video_free (a);
  rl_video_free (b);
  *max_out = worst;
  return sum / (double) n;
}

static void
check_matches_one_worker (const char *name,
                          const char *workers,
                          const char *ulysses,
                          const char *ring)
{
  TinyWanRun r = run_tiny (name, workers, ulysses, ring);
  g_autofree char *video = NULL;
  double diff, worst;

  g_assert_cmpint (r.status, ==, 0);
  video = video_path (&r);
  diff = mean_pixel_difference (setup.reference, video, &worst);
  g_test_message ("%s workers, Ulysses %s x ring %s: mean pixel difference %.5f, max %.4f (of 1)",
                  workers, ulysses, ring, diff, worst);
  /* The video is lossy-encoded: latents that agree to 1e-6 (as one worker
   * with 1 or 2 threads do) can flip encoder decisions and move a few
   * pixels by up to ~0.14 while the mean stays under 0.6/255; a wrong split
   * changes the whole picture. The 1e-5 latent check is test-usp-sample. */
  g_assert_cmpfloat (diff, <=, 2.0 / 255.0);
  tiny_wan_run_clear (&r);
}

static void
test_ulysses2 (void)
{
  check_matches_one_worker ("u2", "2", "2", "1");
}

static void
test_ring2 (void)
{
  check_matches_one_worker ("r2", "2", "1", "2");
}

static void
test_ulysses2_ring2 (void)
{
  check_matches_one_worker ("u2r2", "4", "2", "2");
}

/* 2 workers cannot hold Ulysses 3: refused at pool start, no worker runs. */
static void
test_invalid_degrees (void)
{
  TinyWanRun r = run_tiny ("invalid", "2", "3", "1");

  g_assert_cmpint (r.status, !=, 0);
  g_assert_nonnull (strstr (r.err, "valid Ulysses×ring degrees for 2 workers: 1×2, 2×1"));
  g_assert_null (strstr (r.err, "rank 0"));   /* the refusal came before any worker */
  tiny_wan_run_clear (&r);
}

/* The tiny DiT has 2 heads: Ulysses 4 is refused by the model when the
 * job runs, with the degrees it allows. */
static void
test_heads_refuse_ulysses4 (void)
{
  TinyWanRun r = run_tiny ("u4", "4", "4", "1");

  g_assert_cmpint (r.status, !=, 0);
  g_assert_nonnull (strstr (r.err, "valid Ulysses degrees for this model: 1, 2"));
  tiny_wan_run_clear (&r);
}

int
main (int    argc,
      char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  if (!tiny_wan_setup_init (&setup, "raylight-usp-run-XXXXXX"))
    return 77;   /* no python with numpy: skip */
  {
    TinyWanRun r = run_tiny ("one", "1", "1", "1");
    g_assert_cmpint (r.status, ==, 0);
    setup.reference = video_path (&r);
    tiny_wan_run_clear (&r);
  }
  g_test_add_func ("/usp/run/ulysses2", test_ulysses2);
  g_test_add_func ("/usp/run/ring2", test_ring2);
  g_test_add_func ("/usp/run/ulysses2-ring2", test_ulysses2_ring2);
  g_test_add_func ("/usp/run/invalid-degrees", test_invalid_degrees);
  g_test_add_func ("/usp/run/heads-refuse-ulysses4", test_heads_refuse_ulysses4);
  status = g_test_run ();
  tiny_wan_setup_clear (&setup);
  return status;
}
