/* The pool service regroups its workers only when a SAMPLE needs another
 * shape: text encoding starts the default pool (one CPU worker); a SAMPLE
 * with CFG parallelism replaces it with two workers; a second such SAMPLE
 * and a text encoding without settings keep those same processes; a
 * SAMPLE without settings goes back to the default. Worker pids tell
 * which processes ran. */
#include <glib.h>
#include <glib/gstdio.h>

#include "engine/pool/pool-service.h"
#include "workers/jobs/job-params.h"
#include "tests/tiny-wan-fixture.h"

static char *dir, *dit_path, *te_path;

/* The running workers' pids, rank order, as "p0,p1". */
static char *
worker_pids (RlPoolService *pool)
{
  GArray *workers = rl_pool_service_list_workers (pool);
  GString *pids = g_string_new (NULL);

  g_assert_nonnull (workers);
  for (guint i = 0; i < workers->len; i++)
    g_string_append_printf (pids, "%s%d", i ? "," : "",
                            g_array_index (workers, RlWorkerInfo, i).pid);
  g_array_unref (workers);
  return g_string_free (pids, FALSE);
}

static RlSharedTensor *
encode (RlPoolService *pool,
        const char    *text)
{
  RlTextEncodeParams params = { .model = { te_path, "" }, .text = (char *) text };
  RlPoolResult result = { 0 };
  g_autoptr(GError) error = NULL;
  RlWireWriter w;
  RlSharedTensor *out;

  rl_wire_writer_init (&w);
  rl_text_encode_params_encode (&params, &w);
  g_assert_true (rl_pool_service_run (pool, RL_MSG_ENCODE_TEXT, NULL, w.data, w.size, NULL, 0,
                                      NULL, &result, &error));
  g_assert_no_error (error);
  rl_wire_writer_clear (&w);
  g_assert_cmpint (result.n_tensors, ==, 1);
  out = result.tensors[0];
  result.tensors[0] = NULL;
  result.n_tensors = 0;
  rl_pool_result_clear (&result);
  return out;
}

static void
sample (RlPoolService        *pool,
        const RlPoolParallel *parallel,
        RlSharedTensor       *positive,
        RlSharedTensor       *negative)
{
  const guint64 shape[5] = { 1, 16, 1, 8, 8 };
  RlSampleParams params;
  RlPoolResult result = { 0 };
  g_autoptr(GError) error = NULL;
  RlErrorInfo info = { 0 };
  RlSharedTensor *latent = rl_shared_tensor_new (RL_WIRE_DTYPE_F32, 5, shape, "latent", &info);
  RlWireWriter w;

  g_assert_nonnull (latent);
  memset (rl_shared_tensor_data (latent), 0, rl_shared_tensor_desc (latent)->nbytes);
  g_assert_cmpint (rl_shared_tensor_seal (latent, &info), ==, 0);
  rl_sample_params_init (&params);
  params.model = (RlJobModel) { dit_path, "" };
  params.seed = 7;
  params.steps = 2;
  params.cfg = 4.0f;
  params.sampler = "euler";
  params.scheduler = "simple";
  rl_wire_writer_init (&w);
  rl_sample_params_encode (&params, &w);
  {
    RlSharedTensor *inputs[3] = { latent, positive, negative };
    g_assert_true (rl_pool_service_run_parallel (pool, parallel, RL_MSG_SAMPLE, NULL, w.data,
                                                 w.size, inputs, 3, NULL, &result, &error));
  }
  g_assert_no_error (error);
  rl_pool_result_clear (&result);
  rl_wire_writer_clear (&w);
  rl_shared_tensor_free (latent);
}

static void
test_regroup_only_when_needed (void)
{
  g_autofree char *plugins = g_build_filename (g_getenv ("RAYLIGHT_BUILD_DIR"), "plugins", NULL);
  RlPoolSettings settings = { .devices = RL_POOL_DEVICES_CPU, .n_workers = 1,
                              .worker_path = g_getenv ("RAYLIGHT_WORKER"),
                              .plugin_path = plugins };
  g_autoptr(RlPoolService) pool = rl_pool_service_new (&settings);
  RlPoolParallel cfg2 = { .ulysses_degree = 1, .ring_degree = 1, .cfg_degree = 2,
                          .data_degree = 1, .fsdp_degree = 1 };
  RlPoolParallel shape;
  guint n = 0;
  RlSharedTensor *positive = encode (pool, "a paper boat on a river");
  RlSharedTensor *negative = encode (pool, "still water");
  g_autofree char *default_pids = worker_pids (pool);
  g_autofree char *cfg_pids = NULL, *again_pids = NULL, *text_pids = NULL, *back_pids = NULL;

  g_assert_null (strchr (default_pids, ','));   /* one worker */

  sample (pool, &cfg2, positive, negative);
  cfg_pids = worker_pids (pool);
  g_assert_true (rl_pool_service_get_active (pool, &shape, &n));
  g_assert_cmpuint (n, ==, 2);
  g_assert_cmpuint (shape.cfg_degree, ==, 2);
  g_assert_nonnull (strchr (cfg_pids, ','));
  g_assert_cmpstr (cfg_pids, !=, default_pids);

  sample (pool, &cfg2, positive, negative);
  again_pids = worker_pids (pool);
  g_assert_cmpstr (again_pids, ==, cfg_pids);   /* same shape: same processes */

  rl_shared_tensor_free (encode (pool, "a paper boat at sea"));
  text_pids = worker_pids (pool);
  g_assert_cmpstr (text_pids, ==, cfg_pids);    /* no settings: the pool that is up */

  sample (pool, NULL, positive, negative);
  back_pids = worker_pids (pool);
  g_assert_true (rl_pool_service_get_active (pool, &shape, &n));
  g_assert_cmpuint (n, ==, 1);
  g_assert_cmpuint (shape.cfg_degree, ==, 1);
  g_assert_null (strchr (back_pids, ','));

  rl_shared_tensor_free (positive);
  rl_shared_tensor_free (negative);
}

static gboolean
make_models (void)
{
  g_autofree char *models = g_build_filename (dir, "models", NULL);

  if (!tiny_wan_make_models (models, FALSE))
    return FALSE;
  dit_path = g_build_filename (models, "diffusion_models", "tiny-wan2.1-t2v.safetensors", NULL);
  te_path = g_build_filename (models, "text_encoders", "tiny-umt5.safetensors", NULL);
  return TRUE;
}

int
main (int argc, char **argv)
{
  g_autofree char *rm = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);
  g_unsetenv ("RAYLIGHT_WORKERS");
  g_unsetenv ("RAYLIGHT_ULYSSES");
  g_unsetenv ("RAYLIGHT_RING");
  g_unsetenv ("RAYLIGHT_CFG_PARALLEL");
  g_unsetenv ("RAYLIGHT_DATA_PARALLEL");
  g_setenv ("OMP_NUM_THREADS", "1", TRUE);
  if (g_getenv ("RAYLIGHT_WORKER") == NULL)
    return 77;
  dir = g_dir_make_tmp ("raylight-regroup-XXXXXX", NULL);
  if (!make_models ())
    return 77;
  g_test_add_func ("/parallel/pool/regroup-only-when-needed", test_regroup_only_when_needed);
  status = g_test_run ();
  rm = g_strdup_printf ("rm -rf '%s'", dir);
  if (system (rm) != 0)
    g_printerr ("# could not remove %s\n", dir);
  return status;
}
