/* Latent previews of a Wan sampler reach the executor's listeners: the
 * tiny 2.1 workflow (data/workflows/wan2.1-t2v-tiny.json) runs through
 * RlExecutor with a one-CPU-worker pool, as the editor runs it, and every
 * KSampler step arrives as a PROGRESS event followed by a PREVIEW event
 * carrying ComfyUI's latent-to-RGB projection of the step's denoised
 * latent: one image per latent frame at latent resolution, values in
 * [0, 1], changing from step to step. */
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "engine/graph/graph.h"
#include "engine/graph/image.h"
#include "engine/graph/model-paths.h"
#include "engine/graph/registry.h"
#include "engine/graph/workflow.h"
#include "engine/nodes/builtin-nodes.h"
#include "engine/pool/pool-service.h"
#include "engine/run/executor.h"
#include "tests/tiny-wan-fixture.h"

#define SAMPLER_NODE "3"
#define STEPS        4

typedef struct {
  guint     progress;        /* PROGRESS events of the sampler */
  guint     previews;
  guint     last_step;
  gboolean  out_of_order;    /* a preview not right after its step's progress */
  GPtrArray *images;         /* copies of the previews' pixels (GBytes) */
  guint     frames, height, width;
  gboolean  out_of_range;
} Log;

static void
on_event (const RlEvent *event,
          gpointer       user_data)
{
  Log *log = user_data;
  const RlImage *image = event->preview;
  gsize n;

  if (event->node_id == NULL || strcmp (event->node_id, SAMPLER_NODE) != 0)
    return;
  if (event->kind == RL_EVENT_PROGRESS)
    {
      log->progress++;
      log->last_step = event->step;
      g_assert_cmpuint (event->total, ==, STEPS);
      return;
    }
  if (event->kind != RL_EVENT_PREVIEW)
    return;
  log->previews++;
  if (event->step != log->last_step || log->previews != log->progress)
    log->out_of_order = TRUE;
  log->frames = image->n_frames;
  log->height = image->height;
  log->width = image->width;
  n = (gsize) image->n_frames * image->height * image->width * 3;
  for (gsize i = 0; i < n; i++)
    if (!(image->pixels[i] >= 0.0f && image->pixels[i] <= 1.0f))
      log->out_of_range = TRUE;
  g_ptr_array_add (log->images, g_bytes_new (image->pixels, n * sizeof (float)));
}

static double
mean_difference (GBytes *a,
                 GBytes *b)
{
  gsize n = g_bytes_get_size (a) / sizeof (float);
  const float *x = g_bytes_get_data (a, NULL), *y = g_bytes_get_data (b, NULL);
  double sum = 0.0;

  g_assert_cmpuint (g_bytes_get_size (b), ==, g_bytes_get_size (a));
  for (gsize i = 0; i < n; i++)
    sum += fabs ((double) x[i] - y[i]);
  return sum / n;
}

static char *models_dir;

static void
test_previews_per_step (void)
{
  g_autofree char *workflow_path = g_build_filename (g_getenv ("RAYLIGHT_SOURCE_DIR"), "data",
                                                     "workflows", "wan2.1-t2v-tiny.json", NULL);
  g_autofree char *out_dir = g_build_filename (models_dir, "..", "out", NULL);
  g_autoptr(RlModelPaths) paths = rl_model_paths_new ();
  g_autoptr(RlRegistry) registry = rl_registry_new ();
  g_autoptr(RlWorkflow) workflow = NULL;
  g_autoptr(RlGraph) graph = NULL;
  g_autoptr(RlPoolService) pool = NULL;
  g_autoptr(RlExecutor) executor = NULL;
  g_autoptr(GError) error = NULL;
  Log log = { .images = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref) };
  RlRunOptions options = { .job_id = 1, .output_dir = out_dir, .listener = on_event,
                           .listener_data = &log };
  RlRunReport report = { 0 };

  rl_model_paths_add_root (paths, models_dir);
  rl_registry_set_model_paths (registry, paths);
  g_assert_true (rl_builtin_nodes_register (registry, &error));
  g_assert_no_error (error);
  workflow = rl_workflow_load_file (workflow_path, &error);
  g_assert_no_error (error);
  graph = rl_workflow_to_graph (workflow, registry, &error);
  g_assert_no_error (error);

  pool = rl_pool_service_new (NULL);
  executor = rl_executor_new (registry);
  rl_executor_set_pool_service (executor, pool);
  rl_executor_run (executor, graph, &options, &report, &error);
  g_assert_no_error (error);
  g_assert_cmpint (report.status, ==, RL_JOB_SUCCEEDED);
  g_assert_cmpuint (report.output_files->len, ==, 1);

  g_assert_cmpuint (log.progress, ==, STEPS);
  g_assert_cmpuint (log.previews, ==, STEPS);
  g_assert_false (log.out_of_order);
  g_assert_false (log.out_of_range);
  /* 64×64, 9 frames: 3 latent frames of 8×8. */
  g_assert_cmpuint (log.frames, ==, 3);
  g_assert_cmpuint (log.height, ==, 8);
  g_assert_cmpuint (log.width, ==, 8);
  for (guint i = 1; i < log.images->len; i++)
    {
      double d = mean_difference (log.images->pdata[i - 1], log.images->pdata[i]);
      g_test_message ("preview %u vs %u: mean difference %.4f", i, i + 1, d);
      g_assert_cmpfloat (d, >, 1e-4);
    }
  rl_run_report_clear (&report);
  rl_pool_service_stop (pool);
  g_ptr_array_unref (log.images);
}

int
main (int    argc,
      char **argv)
{
  g_autofree char *dir = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);
  dir = g_dir_make_tmp ("raylight-wan-previews-XXXXXX", NULL);
  models_dir = g_build_filename (dir, "models", NULL);
  if (!tiny_wan_make_models (models_dir, FALSE))
    {
      tiny_wan_remove_tree (dir);
      return 77;   /* no python with numpy: skip */
    }
  g_setenv ("RAYLIGHT_DEVICES", "cpu", TRUE);
  g_setenv ("RAYLIGHT_WORKERS", "1", TRUE);
  g_unsetenv ("RAYLIGHT_ULYSSES");
  g_unsetenv ("RAYLIGHT_RING");
  g_test_add_func ("/wan/previews/one-per-step", test_previews_per_step);
  status = g_test_run ();
  tiny_wan_remove_tree (dir);
  g_free (models_dir);
  return status;
}
