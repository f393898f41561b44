/* The shape of a parallel pool: how many ranks do data parallelism, CFG
 * parallelism and sequence parallelism (Ulysses × ring), where each rank
 * sits in that mesh, and which device each rank gets. Plain C with no
 * collectives, so the pool manager (linked by the app) can validate a
 * configuration and lay ranks out before anything launches.
 *
 * World ranks are ordered data (slowest) → cfg → ring → Ulysses (fastest):
 *   rank = ((data_index · cfg + cfg_index) · ring + ring_index) · ulysses
 *          + ulysses_index
 * so a Ulysses group is `ulysses` consecutive ranks, a ring group the ranks
 * `ulysses` apart, and the CFG and data groups the farthest apart: the
 * group that exchanges the most data (Ulysses: 4 all-to-alls per layer)
 * gets the closest ranks, the CFG and data groups (one all-gather of the
 * latent per step) the farthest. rl_parallel_layout then maps ranks onto
 * devices by link cost. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "workers/runtime/status.h"

typedef struct {
  int ulysses;   /* Ulysses degree, ≥ 1 */
  int ring;      /* ring degree, ≥ 1 */
  int cfg;       /* 1, or 2: cond and uncond on two groups */
  int data;      /* data-parallel groups (batch items split), ≥ 1 */
} RlParallelDegrees;

/* Where one world rank sits in the mesh. */
typedef struct {
  int ulysses_index;
  int ring_index;
  int cfg_index;     /* 0: positive conditioning, 1: negative */
  int data_index;
  int sp_index;      /* rank inside its sequence-parallel group */
} RlParallelCoords;

/* 1 × 1 × 1 × 1: every rank runs the whole job alone. */
RlParallelDegrees rl_parallel_degrees_none (void);

/* ulysses · ring · cfg · data. */
int      rl_parallel_world_size  (const RlParallelDegrees *d);
int      rl_parallel_sp_size     (const RlParallelDegrees *d);

/* Whether any rank shares work with another (world size > 1). */
bool     rl_parallel_is_parallel (const RlParallelDegrees *d);

RlParallelCoords rl_parallel_coords (const RlParallelDegrees *d, int rank);

/* Checks a configuration against `ranks` workers before anything launches:
 * every degree ≥ 1, cfg 1 or 2, and the product equal to `ranks` (or 1:
 * parallelism off). The error lists the valid combinations for `ranks`. */
RlStatus rl_parallel_validate    (const RlParallelDegrees *d, int ranks);

/* Writes the valid combinations for `ranks` workers, "U2 R1 CFG1 DP1,
 * U1 R2 CFG1 DP1, ..." (Ulysses-heavy first), into buf; returns buf. */
char    *rl_parallel_valid_list  (int ranks, char *buf, size_t size);

/* "U2×R1 CFG2 DP1" for messages and history. */
char    *rl_parallel_describe    (const RlParallelDegrees *d, char *buf, size_t size);

/* Picks the device of each world rank: device_of_rank[r] is an index into
 * the n devices whose pairwise link costs are cost[i·n + j] (symmetric or
 * not; lower is faster, e.g. 1 for NVLink, 10 for PCIe through the host;
 * NULL: all links equal, identity layout). The layout minimises the
 * traffic-weighted cost: each Ulysses pair weighs 4 (all-to-alls of Q, K,
 * V, O), each ring neighbour pair 2 (K and V), each CFG / data pair 0.01
 * (one latent per step). Exhaustive for n ≤ 8, pairwise-swap descent
 * above. n must equal the world size. */
RlStatus rl_parallel_layout      (const RlParallelDegrees *d, int n,
                                  const double *cost, int *device_of_rank);

/* The layout's traffic-weighted cost (what rl_parallel_layout minimises). */
double   rl_parallel_layout_cost (const RlParallelDegrees *d, int n,
                                  const double *cost, const int *device_of_rank);
