/* The worker's FSDP settings: $RAYLIGHT_FSDP / $RAYLIGHT_CPU_OFFLOAD, and
 * the FSDP group split from a pool of 4 forked CPU ranks (every rank, pairs
 * of consecutive ranks, offload alone, degrees refused). */
#include <stdlib.h>
#include <string.h>

#include "tests/fork-ranks.h"
#include "workers/worker/worker-fsdp.h"

static void
test_env (void)
{
  int degree;
  bool offload;

  unsetenv ("RAYLIGHT_FSDP");
  unsetenv ("RAYLIGHT_CPU_OFFLOAD");
  rl_worker_fsdp_from_env (&degree, &offload);
  PT_CHECK (degree == 1 && !offload, "unset: degree %d offload %d", degree, offload);
  setenv ("RAYLIGHT_FSDP", "1", 1);
  setenv ("RAYLIGHT_CPU_OFFLOAD", "1", 1);
  rl_worker_fsdp_from_env (&degree, &offload);
  PT_CHECK (degree == 0 && offload, "FSDP=1: degree %d (0 = every rank) offload %d", degree, offload);
  setenv ("RAYLIGHT_FSDP", "2", 1);
  setenv ("RAYLIGHT_CPU_OFFLOAD", "0", 1);
  rl_worker_fsdp_from_env (&degree, &offload);
  PT_CHECK (degree == 2 && !offload, "FSDP=2: degree %d offload %d", degree, offload);
  unsetenv ("RAYLIGHT_FSDP");
  unsetenv ("RAYLIGHT_CPU_OFFLOAD");
}

static void
test_without_world (void)
{
  char error[256];

  PT_CHECK (rl_worker_fsdp_new (NULL, 0, 1, false, error, sizeof error) == NULL
            && error[0] == '\0', "nothing to do must give NULL without an error: %s", error);
  RlWorkerFsdp *offload = rl_worker_fsdp_new (NULL, 0, 1, true, error, sizeof error);
  const RlFsdpOptions *o = rl_worker_fsdp_options (offload);
  PT_CHECK (o != NULL && o->group == NULL && o->cpu_offload, "offload alone: %s", error);
  rl_worker_fsdp_free (offload);
  PT_CHECK (rl_worker_fsdp_new (NULL, 0, 2, false, error, sizeof error) == NULL
            && strstr (error, "collectives") != NULL, "FSDP without a world: '%s'", error);
}

static void
rank_main (RlComm *world, const void *arg)
{
  int rank = rl_comm_rank (world);
  char error[256];
  (void) arg;

  RlWorkerFsdp *all = rl_worker_fsdp_new (world, rank, 0, false, error, sizeof error);
  PT_REQUIRE (all != NULL, "every rank: %s", error);
  const RlFsdpOptions *o = rl_worker_fsdp_options (all);
  PT_CHECK (rl_comm_size (o->group) == 4 && !o->cpu_offload, "group of %d", rl_comm_size (o->group));

  RlWorkerFsdp *pairs = rl_worker_fsdp_new (world, rank, 2, true, error, sizeof error);
  PT_REQUIRE (pairs != NULL, "pairs: %s", error);
  o = rl_worker_fsdp_options (pairs);
  PT_CHECK (rl_comm_size (o->group) == 2 && o->cpu_offload
            && rl_comm_world_rank (o->group, 0) == rank / 2 * 2
            && rl_comm_world_rank (o->group, 1) == rank / 2 * 2 + 1,
            "rank %d: pair of world ranks %d and %d", rank, rl_comm_world_rank (o->group, 0),
            rl_comm_world_rank (o->group, 1));

  PT_CHECK (rl_worker_fsdp_new (world, rank, 3, false, error, sizeof error) == NULL
            && strstr (error, "does not divide") != NULL, "degree 3 of 4: '%s'", error);
  rl_worker_fsdp_free (pairs);
  rl_worker_fsdp_free (all);
}

static void
test_groups_of_a_pool (void)
{
  PT_CHECK (fork_ranks (4, rank_main, NULL) == 0, "4 ranks failed");
}

int
main (void)
{
  PT_RUN (test_env);
  PT_RUN (test_without_world);
  PT_RUN (test_groups_of_a_pool);
  return pt_finish ();
}
