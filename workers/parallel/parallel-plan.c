/* Degrees, mesh coordinates and the rank → device layout of a parallel
 * pool (parallel-plan.h). */
#include "workers/parallel/parallel-plan.h"

#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Traffic of one step per pair kind, relative: Ulysses moves Q, K, V and O
 * per layer, the ring K and V per layer, CFG and data one latent a step. */
#define WEIGHT_ULYSSES 4.0
#define WEIGHT_RING    2.0
#define WEIGHT_BATCH   0.01

/* Beyond this many devices the layout is searched by pairwise swaps. */
#define EXHAUSTIVE_MAX 8

RlParallelDegrees
rl_parallel_degrees_none (void)
{
  return (RlParallelDegrees) { 1, 1, 1, 1 };
}

int
rl_parallel_world_size (const RlParallelDegrees *d)
{
  return d->ulysses * d->ring * d->cfg * d->data;
}

int
rl_parallel_sp_size (const RlParallelDegrees *d)
{
  return d->ulysses * d->ring;
}

bool
rl_parallel_is_parallel (const RlParallelDegrees *d)
{
  return rl_parallel_world_size (d) > 1;
}

RlParallelCoords
rl_parallel_coords (const RlParallelDegrees *d, int rank)
{
  RlParallelCoords c;
  c.ulysses_index = rank % d->ulysses;
  rank /= d->ulysses;
  c.ring_index = rank % d->ring;
  rank /= d->ring;
  c.cfg_index = rank % d->cfg;
  c.data_index = rank / d->cfg;
  c.sp_index = c.ring_index * d->ulysses + c.ulysses_index;
  return c;
}

char *
rl_parallel_describe (const RlParallelDegrees *d, char *buf, size_t size)
{
  snprintf (buf, size, "U%d×R%d CFG%d DP%d", d->ulysses, d->ring, d->cfg, d->data);
  return buf;
}

char *
rl_parallel_valid_list (int ranks, char *buf, size_t size)
{
  size_t used = 0;

  if (size == 0)
    return buf;
  buf[0] = '\0';
  /* Ulysses-heavy first: on NVLink the best choice for a model with
   * enough heads (PARALLEL.md §1.2). */
  for (int cfg = 1; cfg <= 2; cfg++)
    for (int data = 1; data <= ranks; data++)
      for (int u = ranks; u >= 1; u--)
        {
          if (ranks % (cfg * data * u) != 0)
            continue;
          RlParallelDegrees d = { u, ranks / (cfg * data * u), cfg, data };
          char one[64];
          rl_parallel_describe (&d, one, sizeof one);
          if (used + strlen (one) + 8 >= size)
            {
              if (used + 4 < size)
                used += (size_t) snprintf (buf + used, size - used, ", …");
              return buf;
            }
          used += (size_t) snprintf (buf + used, size - used, "%s%s", used ? ", " : "", one);
        }
  return buf;
}

RlStatus
rl_parallel_validate (const RlParallelDegrees *d, int ranks)
{
  char valid[768], mine[64];

  if (ranks < 1)
    return rl_set_error (RL_E_INVALID_ARG, "a parallel pool has at least one rank, not %d",
                         ranks);
  rl_parallel_valid_list (ranks, valid, sizeof valid);
  if (d->ulysses < 1 || d->ring < 1 || d->cfg < 1 || d->data < 1)
    return rl_set_error (RL_E_INVALID_ARG, "parallel degrees Ulysses %d, ring %d, CFG %d, "
                         "data %d must all be at least 1; valid for %d workers: %s",
                         d->ulysses, d->ring, d->cfg, d->data, ranks, valid);
  if (d->cfg > 2)
    return rl_set_error (RL_E_INVALID_ARG, "CFG parallelism splits the positive and the "
                         "negative prompt: its degree is 1 or 2, not %d; valid for %d "
                         "workers: %s", d->cfg, ranks, valid);
  int world = rl_parallel_world_size (d);
  if (world != 1 && world != ranks)
    return rl_set_error (RL_E_INVALID_ARG, "parallel configuration %s needs %d workers, not "
                         "%d; valid for %d workers: %s (all degrees 1 turns parallelism off)",
                         rl_parallel_describe (d, mine, sizeof mine), world, ranks, ranks,
                         valid);
  return RL_OK;
}

/* The traffic weight between world ranks a and b. */
static double
pair_weight (const RlParallelDegrees *d, int a, int b)
{
  RlParallelCoords x = rl_parallel_coords (d, a), y = rl_parallel_coords (d, b);
  bool same_sp_group = x.cfg_index == y.cfg_index && x.data_index == y.data_index;

  if (same_sp_group && x.ring_index == y.ring_index)
    return WEIGHT_ULYSSES;
  if (same_sp_group && x.ulysses_index == y.ulysses_index)
    {
      int step = abs (x.ring_index - y.ring_index);
      /* Ring neighbours, the wrap-around pair included. */
      return step == 1 || step == d->ring - 1 ? WEIGHT_RING : 0.0;
    }
  if (x.sp_index == y.sp_index)
    return WEIGHT_BATCH;
  return 0.0;
}

double
rl_parallel_layout_cost (const RlParallelDegrees *d, int n, const double *cost,
                         const int *device_of_rank)
{
  double total = 0.0;

  if (cost == NULL)
    return 0.0;
  for (int a = 0; a < n; a++)
    for (int b = a + 1; b < n; b++)
      {
        double w = pair_weight (d, a, b);
        int i = device_of_rank[a], j = device_of_rank[b];
        if (w > 0.0)
          total += w * 0.5 * (cost[i * n + j] + cost[j * n + i]);
      }
  return total;
}

typedef struct {
  const RlParallelDegrees *degrees;
  int                      n;
  const double            *cost;
  int                     *current;
  bool                    *used;
  int                     *best;
  double                   best_cost;
} Search;

/* Every permutation, keeping the cheapest; the first of equal cost wins,
 * so equal links keep the identity layout. */
static void
search_permutations (Search *s, int rank)
{
  if (rank == s->n)
    {
      double c = rl_parallel_layout_cost (s->degrees, s->n, s->cost, s->current);
      if (c < s->best_cost - 1e-12)
        {
          s->best_cost = c;
          memcpy (s->best, s->current, sizeof (int) * (size_t) s->n);
        }
      return;
    }
  for (int dev = 0; dev < s->n; dev++)
    {
      if (s->used[dev])
        continue;
      s->used[dev] = true;
      s->current[rank] = dev;
      search_permutations (s, rank + 1);
      s->used[dev] = false;
    }
}

/* Pairwise swaps from the identity while any swap lowers the cost. */
static void
swap_descent (const RlParallelDegrees *d, int n, const double *cost, int *layout)
{
  double current = rl_parallel_layout_cost (d, n, cost, layout);
  bool improved = true;

  while (improved)
    {
      improved = false;
      for (int a = 0; a < n; a++)
        for (int b = a + 1; b < n; b++)
          {
            int t = layout[a];
            layout[a] = layout[b];
            layout[b] = t;
            double c = rl_parallel_layout_cost (d, n, cost, layout);
            if (c < current - 1e-12)
              {
                current = c;
                improved = true;
              }
            else
              {
                layout[b] = layout[a];
                layout[a] = t;
              }
          }
    }
}

RlStatus
rl_parallel_layout (const RlParallelDegrees *d, int n, const double *cost,
                    int *device_of_rank)
{
  if (d == NULL || device_of_rank == NULL || n < 1)
    return rl_set_error (RL_E_INVALID_ARG, "parallel layout: degrees, a rank count and "
                         "an output are required");
  if (rl_parallel_world_size (d) != n)
    return rl_set_error (RL_E_INVALID_ARG, "parallel layout: the degrees make %d ranks "
                         "but %d devices were given", rl_parallel_world_size (d), n);
  for (int r = 0; r < n; r++)
    device_of_rank[r] = r;
  if (cost == NULL || n == 1)
    return RL_OK;
  if (n > EXHAUSTIVE_MAX)
    {
      swap_descent (d, n, cost, device_of_rank);
      return RL_OK;
    }
  int current[EXHAUSTIVE_MAX];
  bool used[EXHAUSTIVE_MAX] = { false };
  Search s = { d, n, cost, current, used, device_of_rank, DBL_MAX };
  s.best_cost = rl_parallel_layout_cost (d, n, cost, device_of_rank);
  search_permutations (&s, 0);
  return RL_OK;
}
