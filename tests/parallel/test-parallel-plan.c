/* The shape of a parallel pool (parallel-plan.h): mesh coordinates,
 * validation that lists the valid combinations, and the rank → device
 * layout that puts Ulysses groups on the cheapest links. */
#include <string.h>

#include "tests/plain-test.h"
#include "workers/parallel/parallel-plan.h"

static void
test_coordinates_put_ulysses_fastest (void)
{
  RlParallelDegrees d = { 2, 2, 2, 1 };   /* 8 ranks: U2 × R2 × CFG2 */
  RlParallelCoords c = rl_parallel_coords (&d, 5);   /* 5 = (1·2 + 0)·2 + 1 */
  PT_CHECK (c.ulysses_index == 1 && c.ring_index == 0 && c.cfg_index == 1
            && c.data_index == 0 && c.sp_index == 1, "rank 5: u%d r%d c%d d%d s%d",
            c.ulysses_index, c.ring_index, c.cfg_index, c.data_index, c.sp_index);
  RlParallelDegrees dp = { 1, 1, 2, 3 };
  c = rl_parallel_coords (&dp, 5);
  PT_CHECK (c.cfg_index == 1 && c.data_index == 2 && c.sp_index == 0, "CFG2×DP3 rank 5");
  PT_CHECK (rl_parallel_world_size (&d) == 8 && rl_parallel_sp_size (&d) == 4, "sizes");
}

static void
test_validate_lists_valid_combinations (void)
{
  RlParallelDegrees bad = { 2, 1, 2, 1 };
  PT_CHECK (rl_parallel_validate (&bad, 2) != RL_OK, "U2 CFG2 accepted on 2 workers");
  const char *msg = rl_last_error ();
  PT_CHECK (strstr (msg, "needs 4 workers, not 2") != NULL, "%s", msg);
  PT_CHECK (strstr (msg, "U2×R1 CFG1 DP1") != NULL && strstr (msg, "U1×R1 CFG2 DP1") != NULL
            && strstr (msg, "U1×R1 CFG1 DP2") != NULL, "valid list incomplete: %s", msg);
  RlParallelDegrees cfg3 = { 1, 1, 3, 1 };
  PT_CHECK (rl_parallel_validate (&cfg3, 3) != RL_OK
            && strstr (rl_last_error (), "1 or 2") != NULL, "CFG3: %s", rl_last_error ());
  RlParallelDegrees zero = { 0, 1, 1, 1 };
  PT_CHECK (rl_parallel_validate (&zero, 1) != RL_OK, "Ulysses 0 accepted");
  RlParallelDegrees ok = { 2, 1, 2, 1 };
  PT_CHECK (rl_parallel_validate (&ok, 4) == RL_OK, "U2 CFG2 on 4: %s", rl_last_error ());
  RlParallelDegrees off = rl_parallel_degrees_none ();
  PT_CHECK (rl_parallel_validate (&off, 3) == RL_OK, "no parallelism on 3 workers refused");
  char list[512];
  rl_parallel_valid_list (4, list, sizeof list);
  PT_CHECK (strncmp (list, "U4×R1 CFG1 DP1", strlen ("U4×R1 CFG1 DP1")) == 0,
            "Ulysses-heavy first: %s", list);
}

/* 4 GPUs where 0–2 and 1–3 are NVLink pairs (cost 1) and every other pair
 * goes through the host (cost 10): U2×R2 must make {0,2} and {1,3} the
 * Ulysses groups, whatever order the devices are listed in. */
static void
test_layout_puts_ulysses_on_nvlink (void)
{
  double cost[16];
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++)
      cost[i * 4 + j] = i == j ? 0.0 : 10.0;
  cost[0 * 4 + 2] = cost[2 * 4 + 0] = 1.0;
  cost[1 * 4 + 3] = cost[3 * 4 + 1] = 1.0;
  RlParallelDegrees d = { 2, 2, 1, 1 };
  int layout[4];
  PT_REQUIRE (rl_parallel_layout (&d, 4, cost, layout) == RL_OK, "%s", rl_last_error ());
  /* Ulysses groups are ranks {0,1} and {2,3}. */
  PT_CHECK (cost[layout[0] * 4 + layout[1]] == 1.0 && cost[layout[2] * 4 + layout[3]] == 1.0,
            "Ulysses groups on devices {%d,%d} and {%d,%d}", layout[0], layout[1], layout[2],
            layout[3]);
  int identity[4] = { 0, 1, 2, 3 };
  PT_CHECK (rl_parallel_layout_cost (&d, 4, cost, layout)
            < rl_parallel_layout_cost (&d, 4, cost, identity), "no better than identity");
  bool seen[4] = { false };
  for (int r = 0; r < 4; r++)
    seen[layout[r]] = true;
  PT_CHECK (seen[0] && seen[1] && seen[2] && seen[3], "not a permutation");
}

/* CFG2 × U2 on 4 GPUs: the Ulysses pairs (ranks 0–1, 2–3) get the NVLink
 * pairs; the CFG exchange (one latent a step) crosses the slow link. */
static void
test_layout_cfg_groups_cross_slow_links (void)
{
  double cost[16];
  for (int i = 0; i < 16; i++)
    cost[i] = 10.0;
  for (int i = 0; i < 4; i++)
    cost[i * 4 + i] = 0.0;
  cost[0 * 4 + 3] = cost[3 * 4 + 0] = 1.0;
  cost[1 * 4 + 2] = cost[2 * 4 + 1] = 1.0;
  RlParallelDegrees d = { 2, 1, 2, 1 };
  int layout[4];
  PT_REQUIRE (rl_parallel_layout (&d, 4, cost, layout) == RL_OK, "%s", rl_last_error ());
  PT_CHECK (cost[layout[0] * 4 + layout[1]] == 1.0 && cost[layout[2] * 4 + layout[3]] == 1.0,
            "Ulysses groups on devices {%d,%d} and {%d,%d}", layout[0], layout[1], layout[2],
            layout[3]);
}

/* Equal links keep the identity; 12 devices (swap descent) still find the
 * NVLink pairs of a U2 × DP6 pool. */
static void
test_layout_identity_and_large_pools (void)
{
  RlParallelDegrees d = { 2, 2, 1, 1 };
  double flat[16];
  int layout[12];
  for (int i = 0; i < 16; i++)
    flat[i] = i % 5 == 0 ? 0.0 : 3.0;
  PT_REQUIRE (rl_parallel_layout (&d, 4, flat, layout) == RL_OK, "%s", rl_last_error ());
  PT_CHECK (layout[0] == 0 && layout[1] == 1 && layout[2] == 2 && layout[3] == 3,
            "equal links moved ranks: %d %d %d %d", layout[0], layout[1], layout[2], layout[3]);
  PT_CHECK (rl_parallel_layout (&d, 3, flat, layout) != RL_OK, "4 ranks on 3 devices accepted");

  enum { N = 12 };
  double cost[N * N];
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++)
      cost[i * N + j] = i == j ? 0.0 : (i % 6 == j % 6) ? 1.0 : 10.0;   /* pairs i, i+6 */
  RlParallelDegrees big = { 2, 1, 1, 6 };
  PT_REQUIRE (rl_parallel_layout (&big, N, cost, layout) == RL_OK, "%s", rl_last_error ());
  for (int g = 0; g < N / 2; g++)
    PT_CHECK (cost[layout[2 * g] * N + layout[2 * g + 1]] == 1.0,
              "Ulysses group %d on devices %d and %d", g, layout[2 * g], layout[2 * g + 1]);
}

int
main (void)
{
  PT_RUN (test_coordinates_put_ulysses_fastest);
  PT_RUN (test_validate_lists_valid_combinations);
  PT_RUN (test_layout_puts_ulysses_on_nvlink);
  PT_RUN (test_layout_cfg_groups_cross_slow_links);
  PT_RUN (test_layout_identity_and_large_pools);
  return pt_finish ();
}
