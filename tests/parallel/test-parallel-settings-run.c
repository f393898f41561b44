/* The Parallel Settings node end to end: `raylight run` of the tiny Wan
 * workflow with a RaylightParallelSettings node between the model and the
 * KSampler. Its widgets override the pool's default (one CPU worker here)
 * for the run: CFG parallel on 2 workers, CFG × Ulysses 2 on 4, data
 * parallel on 2 give the frames of the run without parallelism; a
 * Ulysses degree the model's heads do not allow fails the job listing the
 * valid ones. Frames are compared by mean decoded-pixel difference (lossy
 * video; the latent checks are test-cfg-data-parallel); the workers that
 * wrote to stderr show the pool was regrouped to the node's shape, and
 * the run's history entry records that shape, not the default one the
 * pool had when the job was queued. */
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>

#include "engine/media/video-reader.h"
#include "engine/nodes/builtin-node-tables.h"
#include "tests/tiny-wan-fixture.h"
#include "engine/run/history.h"
#include "engine/run/history-summary.h"

static TinyWanSetup setup;

/* `raylight run` with one default CPU worker; `sets` are extra --set
 * arguments for the Parallel Settings node (id 60). */
static TinyWanRun
run_tiny (const char         *name,
          const char * const *sets)
{
  g_autofree char *raylight = g_build_filename (g_getenv ("RAYLIGHT_BUILD_DIR"), "app",
                                                "raylight", NULL);
  g_autofree char *workflow = tiny_wan_source_path ("tests/parallel/data/wan2.1-t2v-tiny-parallel.json");
  g_autofree char *outputs = g_build_filename (setup.dir, name, NULL);
  g_autofree char *history = g_build_filename (setup.dir, name, "history.sqlite3", NULL);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  char **env = tiny_wan_cpu_environ (setup.models, "1");
  TinyWanRun r;
  const char *fixed[] = { raylight, "run", workflow, "--output-dir", outputs, "--history", history,
                          "--set", "40.width=80", "--set", "40.height=48",
                          "--set", setup.seed_set };

  for (guint i = 0; i < G_N_ELEMENTS (fixed); i++)
    g_ptr_array_add (argv, (gpointer) fixed[i]);
  for (guint i = 0; sets != NULL && sets[i] != NULL; i++)
    {
      g_ptr_array_add (argv, (gpointer) "--set");
      g_ptr_array_add (argv, (gpointer) sets[i]);
    }
  g_ptr_array_add (argv, NULL);
  env = g_environ_unsetenv (env, "RAYLIGHT_ULYSSES");
  env = g_environ_unsetenv (env, "RAYLIGHT_RING");
  env = g_environ_setenv (env, "OMP_NUM_THREADS", "1", TRUE);
  r = tiny_wan_run_spawn ((const char * const *) argv->pdata, env);
  g_strfreev (env);
  if (g_test_verbose () || r.status != 0)
    g_printerr ("# %s -> %d\n%s%s", name, r.status, r.out, r.err);
  return r;
}

static char *
video_path (const TinyWanRun *r)
{
  const char *nl = strchr (r->out, '\n');

  return nl ? g_strndup (r->out, (gsize) (nl - r->out)) : g_strdup (r->out);
}

static double
mean_pixel_difference (const char *a_path,
                       const char *b_path)
{
  g_autoptr(GError) error = NULL;
  RlVideo *a = rl_video_read (a_path, 0, &error);
  g_assert_no_error (error);
  RlVideo *b = rl_video_read (b_path, 0, &error);
  g_assert_no_error (error);
  double spread = 0.0, sum = 0.0;
  gsize n;

  g_assert_cmpuint (a->frames->n_frames, ==, b->frames->n_frames);
  g_assert_cmpuint (a->frames->width * a->frames->height, ==, b->frames->width * b->frames->height);
  n = (gsize) a->frames->n_frames * a->frames->width * a->frames->height * 3;
  for (gsize i = 0; i < n; i++)
    {
      sum += fabs ((double) a->frames->pixels[i] - b->frames->pixels[i]);
      spread = fmax (spread, fabs ((double) a->frames->pixels[i] - a->frames->pixels[0]));
    }
  g_assert_cmpfloat (spread, >, 0.01);
  rl_video_free (a);
  rl_video_free (b);
  return sum / (double) n;
}

/* The run's workers: ranks 0 .. n−1 wrote to stderr, rank n did not. */
static void
assert_workers (const TinyWanRun *r,
                int               n)
{
  g_autofree char *last = g_strdup_printf ("raylight-worker[rank %d]", n - 1);
  g_autofree char *beyond = g_strdup_printf ("raylight-worker[rank %d]", n);

  g_assert_nonnull (strstr (r->err, last));
  g_assert_null (strstr (r->err, beyond));
}

/* The parallel configuration history recorded for the run `name` (its
 * only job); owned by the caller. */
static char *
recorded_devices (const char *name)
{
  g_autofree char *path = g_build_filename (setup.dir, name, "history.sqlite3", NULL);
  g_autoptr(GError) error = NULL;
  RlHistory *history = rl_history_open (path, &error);
  GPtrArray *jobs;
  RlHistoryJob *job;
  char *devices;

  g_assert_no_error (error);
  jobs = rl_history_list (history, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (jobs->len, ==, 1);
  job = g_ptr_array_index (jobs, 0);
  g_assert_cmpint (job->status, ==, RL_JOB_SUCCEEDED);
  devices = g_strdup (job->device_config_json);
  g_ptr_array_unref (jobs);
  rl_history_close (history);
  g_assert_nonnull (devices);
  return devices;
}

static void
check_matches (const char         *name,
               const char * const *sets,
               int                 workers)
{
  TinyWanRun r = run_tiny (name, sets);
  g_autofree char *video = NULL;
  double diff;

  g_assert_cmpint (r.status, ==, 0);
  video = video_path (&r);
  diff = mean_pixel_difference (setup.reference, video);
  g_test_message ("%s: mean pixel difference %.5f (of 1)", name, diff);
  g_assert_cmpfloat (diff, <=, 2.0 / 255.0);
  assert_workers (&r, workers);
  tiny_wan_run_clear (&r);
}

static void
test_cfg_parallel (void)
{
  const char *sets[] = { "60.cfg_parallel=true", NULL };
  g_autofree char *devices = NULL;
  g_autoptr(RlHistoryJob) job = g_new0 (RlHistoryJob, 1);
  g_autoptr(RlHistorySummary) summary = NULL;

  check_matches ("cfg2", sets, 2);
  devices = recorded_devices ("cfg2");
  g_test_message ("cfg2 history devices: %s", devices);
  g_assert_nonnull (strstr (devices, "\"workers\":2"));
  g_assert_nonnull (strstr (devices, "\"cfg\":2"));
  g_assert_nonnull (strstr (devices, "\"rank\":1"));
  job->device_config_json = g_steal_pointer (&devices);
  summary = rl_history_summary_new (job);
  g_assert_cmpstr (summary->parallel, ==, "2 CPU workers · CFG 2");
}

/* The run without the node is recorded as one worker without parallelism. */
static void
test_default_shape_recorded (void)
{
  g_autofree char *devices = recorded_devices ("one");

  g_assert_nonnull (strstr (devices, "\"workers\":1"));
  g_assert_nonnull (strstr (devices, "\"parallel\":\"none\""));
  g_assert_null (strstr (devices, "\"rank\":1"));
}

static void
test_cfg_parallel_ulysses2 (void)
{
  const char *sets[] = { "60.cfg_parallel=true", "60.ulysses_degree=2", NULL };
  check_matches ("cfg2-u2", sets, 4);
}

static void
test_data_parallel (void)
{
  const char *sets[] = { "60.data_parallel=2", "40.batch_size=2", NULL };
  TinyWanRun one = run_tiny ("batch2-one", (const char *[]) { "40.batch_size=2", NULL });
  TinyWanRun two = run_tiny ("batch2-dp2", sets);
  g_autofree char *a = NULL, *b = NULL;

  g_assert_cmpint (one.status, ==, 0);
  g_assert_cmpint (two.status, ==, 0);
  a = video_path (&one);
  b = video_path (&two);
  g_assert_cmpfloat (mean_pixel_difference (a, b), <=, 2.0 / 255.0);
  assert_workers (&two, 2);
  tiny_wan_run_clear (&one);
  tiny_wan_run_clear (&two);
}

/* The tiny DiT has 2 heads: the node's Ulysses 4 reaches the model, which
 * refuses it with the degrees it allows. */
static void
test_heads_refuse_ulysses4 (void)
{
  const char *sets[] = { "60.ulysses_degree=4", NULL };
  TinyWanRun r = run_tiny ("u4", sets);

  g_assert_cmpint (r.status, !=, 0);
  g_assert_nonnull (strstr (r.err, "valid Ulysses degrees for this model: 1, 2"));
  tiny_wan_run_clear (&r);
}

/* The node offers the approximate variants by name; a CPU worker has
 * neither, and the run stops before sampling with a message that names the
 * kernels it does have (a named kernel is never swapped silently). */
static void
test_named_sage_on_cpu (void)
{
  const RlNodeType *node = &rl_node_parallel_settings;
  gboolean offered = FALSE;

  for (guint i = 0; i < node->n_inputs; i++)
    if (g_str_equal (node->inputs[i].name, "attention"))
      offered = g_strv_contains (node->inputs[i].combo_options, "sage")
                && g_strv_contains (node->inputs[i].combo_options, "sage16");
  g_assert_true (offered);

  const char *sets[] = { "60.attention=sage", NULL };
  TinyWanRun r = run_tiny ("sage", sets);

  g_assert_cmpint (r.status, !=, 0);
  g_assert_nonnull (strstr (r.err, "unknown attention variant 'sage' for the cpu backend; known: auto, reference"));
  tiny_wan_run_clear (&r);
}

int
main (int    argc,
      char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  if (!tiny_wan_setup_init (&setup, "raylight-parallel-node-XXXXXX"))
    return 77;   /* no python with numpy: skip */
  {
    TinyWanRun r = run_tiny ("one", NULL);
    g_assert_cmpint (r.status, ==, 0);
    assert_workers (&r, 1);
    setup.reference = video_path (&r);
    tiny_wan_run_clear (&r);
  }
  g_test_add_func ("/parallel/settings-node/default-shape-recorded", test_default_shape_recorded);
  g_test_add_func ("/parallel/settings-node/cfg-parallel", test_cfg_parallel);
  g_test_add_func ("/parallel/settings-node/cfg-parallel-ulysses2", test_cfg_parallel_ulysses2);
  g_test_add_func ("/parallel/settings-node/data-parallel", test_data_parallel);
  g_test_add_func ("/parallel/settings-node/heads-refuse-ulysses4", test_heads_refuse_ulysses4);
  g_test_add_func ("/parallel/settings-node/named-sage-on-cpu", test_named_sage_on_cpu);
  status = g_test_run ();
  tiny_wan_setup_clear (&setup);
  return status;
}
