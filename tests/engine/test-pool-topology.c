/* The GPU topology report (raylight-topology's JSON) as the app reads it:
 * the H100 fixture, malformed reports, link labels and costs, the real
 * tool on this machine (no GPU: an empty list, exit 0), and the pool
 * service's cached self-test. */
#include <string.h>

#include <glib/gstdio.h>

#include "engine/engine-error.h"
#include "engine/pool/pool-service.h"
#include "engine/pool/pool-topology.h"
#include "raylight-config.h"

static char *
fixture_path (void)
{
  return g_build_filename (RAYLIGHT_SOURCE_DIR, "tests", "ui", "data", "topology-h100x2-synthetic.json", NULL);
}

static void
test_fixture (void)
{
  g_autofree char *path = fixture_path ();
  g_autoptr(GError) error = NULL;
  g_autoptr(RlPoolTopology) topology = rl_pool_topology_load_file (path, &error);
  const RlGpuInfo *gpu;
  const RlGpuLink *link;
  g_autofree char *label = NULL;

  g_assert_no_error (error);
  g_assert_cmpuint (rl_pool_topology_get_n_devices (topology), ==, 2);
  g_assert_true (rl_pool_topology_is_synthetic (topology));
  g_assert_true (g_str_has_prefix (rl_pool_topology_get_source (topology), "Synthetic fixture"));
  gpu = rl_pool_topology_get_device (topology, 1);
  g_assert_cmpstr (gpu->name, ==, "NVIDIA H100 80GB HBM3");
  g_assert_cmpuint (gpu->memory_total, ==, 85520809984);
  g_assert_cmpint (gpu->temperature_c, ==, 33);
  g_assert_cmpint (gpu->utilization_gpu, ==, 3);
  g_assert_null (rl_pool_topology_get_device (topology, 2));
  link = rl_pool_topology_get_link (topology, 1, 0);
  g_assert_nonnull (link);
  g_assert_cmpstr (link->type, ==, "nvlink");
  g_assert_true (link->peer_access && link->measured && link->data_ok && !link->staged);
  g_assert_cmpfloat_with_epsilon (link->bandwidth_gbs, 390.1, 1e-9);
  label = rl_gpu_link_describe (link);
  g_assert_cmpstr (label, ==, "NVLink ×18");
  g_assert_null (rl_pool_topology_get_link (topology, 0, 0));
  g_assert_false (rl_pool_topology_p2p_broken (topology));
}

static void
test_malformed (void)
{
  static const char * const reports[] = {
    "",
    "[1, 2]",
    "{\"format\": \"something-else\", \"version\": 1, \"devices\": [], \"links\": []}",
    "{\"format\": \"raylight-topology\", \"version\": 2, \"devices\": [], \"links\": []}",
    "{\"format\": \"raylight-topology\", \"version\": 1, \"links\": []}",
    "{\"format\": \"raylight-topology\", \"version\": 1, \"devices\": [{\"name\": \"a\"}],"
    " \"links\": [{\"from\": 0, \"to\": 1}]}",
    "{\"format\": \"raylight-topology\", \"version\": 1, \"devices\": [7], \"links\": []}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (reports); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(RlPoolTopology) topology = rl_pool_topology_parse (reports[i], -1, &error);

      g_assert_null (topology);
      g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_POOL);
      g_assert_true (g_str_has_prefix (error->message, "The GPU topology report is not usable"));
    }
}

static void
test_links (void)
{
  const char *json =
    "{\"format\": \"raylight-topology\", \"version\": 1, \"nvml_note\": \"\", \"cuda_note\": \"\","
    " \"devices\": [{\"name\": \"A\"}, {\"name\": \"B\"}, {\"name\": \"C\"}],"
    " \"links\": ["
    "  {\"from\": 0, \"to\": 1, \"type\": \"pcie-switch\", \"measured\": true, \"staged\": false,"
    "   \"data_ok\": false, \"bandwidth_gbs\": 20.0, \"note\": \"corrupted\"},"
    "  {\"from\": 1, \"to\": 0, \"type\": \"pcie-switch\", \"measured\": true, \"staged\": true,"
    "   \"data_ok\": true, \"bandwidth_gbs\": 25.0},"
    "  {\"from\": 0, \"to\": 2, \"type\": \"system\"},"
    "  {\"from\": 2, \"to\": 0, \"type\": \"host-bridge\"}]}";
  g_autoptr(GError) error = NULL;
  g_autoptr(RlPoolTopology) topology = rl_pool_topology_parse (json, -1, &error);
  g_autofree char *system = NULL;
  g_autofree char *bridge = NULL;

  g_assert_no_error (error);
  g_assert_false (rl_pool_topology_is_synthetic (topology));
  g_assert_cmpstr (rl_pool_topology_get_source (topology), ==, "measured on this machine");
  /* A direct copy that came back wrong means P2P is broken here. */
  g_assert_true (rl_pool_topology_p2p_broken (topology));
  system = rl_gpu_link_describe (rl_pool_topology_get_link (topology, 0, 2));
  bridge = rl_gpu_link_describe (rl_pool_topology_get_link (topology, 2, 0));
  g_assert_cmpstr (system, ==, "Across CPUs");
  g_assert_cmpstr (bridge, ==, "Host bridge");
  /* Costs: a measured good link by its bandwidth, a corrupted one by type. */
  g_assert_cmpfloat_with_epsilon (rl_gpu_link_cost (rl_pool_topology_get_link (topology, 1, 0)), 16, 1e-9);
  g_assert_cmpfloat_with_epsilon (rl_gpu_link_cost (rl_pool_topology_get_link (topology, 0, 1)), 6, 1e-9);
  g_assert_cmpfloat (rl_gpu_link_cost (rl_pool_topology_get_link (topology, 2, 0)), <,
                     rl_gpu_link_cost (rl_pool_topology_get_link (topology, 0, 2)));
}

/* The real tool: on a machine without NVIDIA's driver it reports no GPU
 * and says why; with GPUs it lists them. Either way it is valid JSON. */
static void
test_real_tool (void)
{
  g_autofree char *tool = rl_pool_topology_find_tool ();
  g_autoptr(GError) error = NULL;
  g_autoptr(RlPoolTopology) topology = NULL;

  g_assert_true (g_file_test (tool, G_FILE_TEST_IS_EXECUTABLE));
  topology = rl_pool_topology_run (tool, TRUE, 120, &error);
  g_assert_no_error (error);
  g_assert_false (rl_pool_topology_is_synthetic (topology));
  if (!g_file_test ("/proc/driver/nvidia/gpus", G_FILE_TEST_IS_DIR))
    {
      g_assert_cmpuint (rl_pool_topology_get_n_devices (topology), ==, 0);
      g_assert_nonnull (strstr (rl_pool_topology_get_notes (topology), "NVML"));
    }
  else
    g_assert_cmpuint (rl_pool_topology_get_n_devices (topology), >, 0);
}

/* Listing without measuring passes --no-bandwidth: a stand-in tool echoes
 * its arguments into the report's note. */
static void
test_run_without_bandwidth (void)
{
  g_autofree char *dir = g_dir_make_tmp ("rl-topology-tool-XXXXXX", NULL);
  g_autofree char *tool = g_build_filename (dir, "fake-topology", NULL);
  const char *script =
    "#!/bin/sh\nprintf '{\"format\": \"raylight-topology\", \"version\": 1, \"nvml_note\": \"args:%s\","
    " \"devices\": [], \"links\": []}' \"$*\"\n";
  g_autoptr(RlPoolTopology) listed = NULL;
  g_autoptr(RlPoolTopology) measured = NULL;
  g_autofree char *cleanup = g_strdup_printf ("rm -rf '%s'", dir);

  g_assert_true (g_file_set_contents (tool, script, -1, NULL));
  g_assert_cmpint (g_chmod (tool, 0755), ==, 0);
  listed = rl_pool_topology_run (tool, FALSE, 10, NULL);
  measured = rl_pool_topology_run (tool, TRUE, 10, NULL);
  g_assert_nonnull (listed);
  g_assert_nonnull (measured);
  g_assert_cmpstr (rl_pool_topology_get_notes (listed), ==, "args:--no-bandwidth.");
  g_assert_cmpstr (rl_pool_topology_get_notes (measured), ==, "args:.");
  g_spawn_command_line_sync (cleanup, NULL, NULL, NULL, NULL);
}

static void
test_tool_failure (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RlPoolTopology) topology = rl_pool_topology_run ("/bin/false", TRUE, 5, &error);

  g_assert_null (topology);
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_POOL);
  g_assert_nonnull (strstr (error->message, "GPU self-test"));
}

/* The report captured on the GPU machine (2×H200 over NVSwitch): NVLink
 * pairs with their measured bandwidth, and, read from a file, labelled as
 * a captured report rather than this machine's. */
static void
test_captured_report (void)
{
  g_autofree char *path = g_build_filename (RAYLIGHT_SOURCE_DIR, "tests", "ui", "data",
                                            "topology-measured.json", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(RlPoolTopology) topology = rl_pool_topology_load_file (path, &error);
  const RlGpuLink *link;

  g_assert_no_error (error);
  g_assert_false (rl_pool_topology_is_synthetic (topology));
  g_assert_cmpstr (rl_pool_topology_get_source (topology), ==,
                   "captured report topology-measured.json");
  g_assert_cmpuint (rl_pool_topology_get_n_devices (topology), ==, 2);
  link = rl_pool_topology_get_link (topology, 0, 1);
  g_assert_nonnull (link);
  g_assert_cmpstr (link->type, ==, "nvlink");
  g_assert_cmpint (link->nvlinks, ==, 18);
  g_assert_cmpfloat (link->bandwidth_gbs, >, 300.0);
  g_assert_false (rl_pool_topology_p2p_broken (topology));
}

/* The service runs the self-test once and hands out the same result;
 * $RAYLIGHT_TOPOLOGY_FILE substitutes a captured report. */
static void
test_service_cache (void)
{
  g_autofree char *path = fixture_path ();
  RlPoolSettings settings = { .devices = RL_POOL_DEVICES_CPU };
  g_autoptr(RlPoolService) service = NULL;
  g_autoptr(RlPoolTopology) first = NULL;
  g_autoptr(RlPoolTopology) second = NULL;
  g_autoptr(RlPoolTopology) fresh = NULL;
  g_autoptr(GArray) workers = NULL;
  g_autoptr(GError) error = NULL;

  g_setenv ("RAYLIGHT_TOPOLOGY_FILE", path, TRUE);
  service = rl_pool_service_new (&settings);
  first = rl_pool_service_get_topology (service, FALSE, &error);
  g_assert_no_error (error);
  second = rl_pool_service_get_topology (service, FALSE, &error);
  g_assert_true (first == second);
  fresh = rl_pool_service_get_topology (service, TRUE, &error);
  g_assert_true (fresh != first);
  g_assert_cmpuint (rl_pool_topology_get_n_devices (fresh), ==, 2);
  workers = rl_pool_service_list_workers (service);
  g_assert_nonnull (workers);
  g_assert_cmpuint (workers->len, ==, 0);
  g_setenv ("RAYLIGHT_TOPOLOGY_FILE", "/nonexistent/topology.json", TRUE);
  g_assert_null (rl_pool_service_get_topology (service, TRUE, &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_unsetenv ("RAYLIGHT_TOPOLOGY_FILE");
}

/* A pool of two GPUs whose self-test finds corrupted P2P copies starts
 * its workers with NCCL_P2P_DISABLE=1 and says so. The "worker" here is a
 * script that writes its environment down and exits, so this runs on a
 * machine without GPUs. */
static void
test_broken_p2p_disables_it (void)
{
  const char *report =
    "{\"format\": \"raylight-topology\", \"version\": 1,"
    " \"devices\": [{\"name\": \"A\", \"cuda_index\": 0}, {\"name\": \"B\", \"cuda_index\": 1}],"
    " \"links\": [{\"from\": 0, \"to\": 1, \"type\": \"pcie-switch\", \"peer_access\": true,"
    " \"measured\": true, \"staged\": false, \"data_ok\": false, \"bandwidth_gbs\": 20}]}";
  g_autofree char *dir = g_dir_make_tmp ("rl-p2p-XXXXXX", NULL);
  g_autofree char *report_path = g_build_filename (dir, "topology.json", NULL);
  g_autofree char *worker = g_build_filename (dir, "fake-worker", NULL);
  g_autofree char *env_path = g_build_filename (dir, "env.txt", NULL);
  g_autofree char *script = g_strdup_printf ("#!/bin/sh\nenv > '%s'\nexit 3\n", env_path);
  g_autofree char *env = NULL;
  g_autofree char *cleanup = g_strdup_printf ("rm -rf '%s'", dir);
  RlPoolSettings settings = { .devices = RL_POOL_DEVICES_CUDA, .n_workers = 2, .worker_path = worker };
  g_autoptr(RlPoolService) service = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_set_contents (report_path, report, -1, NULL));
  g_assert_true (g_file_set_contents (worker, script, -1, NULL));
  g_assert_cmpint (g_chmod (worker, 0755), ==, 0);
  g_setenv ("RAYLIGHT_TOPOLOGY_FILE", report_path, TRUE);
  g_unsetenv ("RAYLIGHT_ULYSSES");
  g_unsetenv ("RAYLIGHT_RING");
  g_unsetenv ("RAYLIGHT_WORKERS");
  g_unsetenv ("RAYLIGHT_DEVICES");
  service = rl_pool_service_new (&settings);
  g_test_expect_message ("raylight", G_LOG_LEVEL_WARNING, "*peer-to-peer copies that arrive corrupted*");
  g_assert_false (rl_pool_service_start (service, &error));
  g_test_assert_expected_messages ();
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_POOL);
  g_assert_true (g_file_get_contents (env_path, &env, NULL, NULL));
  g_assert_nonnull (strstr (env, "NCCL_P2P_DISABLE=1"));
  g_unsetenv ("RAYLIGHT_TOPOLOGY_FILE");
  g_spawn_command_line_sync (cleanup, NULL, NULL, NULL, NULL);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/pool-topology/fixture", test_fixture);
  g_test_add_func ("/pool-topology/captured-report", test_captured_report);
  g_test_add_func ("/pool-topology/malformed", test_malformed);
  g_test_add_func ("/pool-topology/links", test_links);
  g_test_add_func ("/pool-topology/real-tool", test_real_tool);
  g_test_add_func ("/pool-topology/tool-failure", test_tool_failure);
  g_test_add_func ("/pool-topology/run-without-bandwidth", test_run_without_bandwidth);
  g_test_add_func ("/pool-topology/service-cache", test_service_cache);
  g_test_add_func ("/pool-topology/broken-p2p-disables-it", test_broken_p2p_disables_it);
  return g_test_run ();
}
