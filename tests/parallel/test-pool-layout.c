/* Rank layout from the GPU topology the pool's self-test reports: on four
 * GPUs where only 0–2 and 1–3 are NVLink pairs (the rest cross CPUs), the
 * link costs the pool service derives lay a Ulysses 2 × ring 2 pool out
 * with its Ulysses groups on the NVLink pairs, also when the pool's device
 * list is reordered; a topology missing a device gives no costs (equal
 * links, identity layout). */
#include "engine/pool/pool-service.h"
#include "workers/parallel/parallel-plan.h"

static char *
four_gpu_json (void)
{
  GString *json = g_string_new ("{\"format\":\"raylight-topology\",\"version\":1,\"synthetic\":true,"
                                "\"nvml\":true,\"cuda\":true,\"devices\":[");
  for (int i = 0; i < 4; i++)
    g_string_append_printf (json, "%s{\"index\":%d,\"cuda_index\":%d,\"nvml_index\":%d,"
                            "\"name\":\"GPU %d\",\"pci_bus_id\":\"0000000%d:00:00.0\","
                            "\"memory_total\":1,\"memory_used\":0,\"utilization_gpu\":0,"
                            "\"temperature_c\":30,\"nvlinks_active\":4}",
                            i ? "," : "", i, i, i, i, i);
  g_string_append (json, "],\"links\":[");
  gboolean first = TRUE;
  for (int a = 0; a < 4; a++)
    for (int b = 0; b < 4; b++)
      {
        gboolean nvlink = (a % 2) == (b % 2);
        if (a == b)
          continue;
        g_string_append_printf (json, "%s{\"from\":%d,\"to\":%d,\"type\":\"%s\",\"nvlinks\":%d,"
                                "\"peer_access\":true,\"measured\":false,\"staged\":false,"
                                "\"data_ok\":true,\"bandwidth_gbs\":0,\"note\":\"\"}",
                                first ? "" : ",", a, b, nvlink ? "nvlink" : "system",
                                nvlink ? 4 : 0);
        first = FALSE;
      }
  g_string_append (json, "]}");
  return g_string_free (json, FALSE);
}

static void
assert_ulysses_on_nvlink (const int *device_ids)
{
  g_autofree char *json = four_gpu_json ();
  g_autoptr(GError) error = NULL;
  g_autoptr(RlPoolTopology) topology = rl_pool_topology_parse (json, -1, &error);
  RlParallelDegrees degrees = { 2, 2, 1, 1 };
  double cost[16];
  int order[4];

  g_assert_no_error (error);
  g_assert_true (rl_pool_service_link_costs (topology, device_ids, 4, cost));
  g_assert_cmpint (rl_parallel_layout (&degrees, 4, cost, order), ==, RL_OK);
  /* Ranks 0, 1 and 2, 3 are the Ulysses groups; order[] indexes device_ids. */
  for (int g = 0; g < 2; g++)
    {
      int a = device_ids ? device_ids[order[2 * g]] : order[2 * g];
      int b = device_ids ? device_ids[order[2 * g + 1]] : order[2 * g + 1];
      g_test_message ("Ulysses group %d on GPUs %d and %d", g, a, b);
      g_assert_cmpint (a % 2, ==, b % 2);
    }
}

static void
test_identity_device_list (void)
{
  assert_ulysses_on_nvlink (NULL);
}

static void
test_reordered_device_list (void)
{
  const int device_ids[] = { 3, 2, 1, 0 };
  assert_ulysses_on_nvlink (device_ids);
}

static void
test_missing_device_gives_no_costs (void)
{
  g_autofree char *json = four_gpu_json ();
  g_autoptr(GError) error = NULL;
  g_autoptr(RlPoolTopology) topology = rl_pool_topology_parse (json, -1, &error);
  const int device_ids[] = { 0, 1, 2, 7 };
  double cost[16];

  g_assert_no_error (error);
  g_assert_false (rl_pool_service_link_costs (topology, device_ids, 4, cost));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/parallel/pool-layout/identity", test_identity_device_list);
  g_test_add_func ("/parallel/pool-layout/reordered", test_reordered_device_list);
  g_test_add_func ("/parallel/pool-layout/missing-device", test_missing_device_gives_no_costs);
  return g_test_run ();
}
