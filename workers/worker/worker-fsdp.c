#include "worker-fsdp.h"

#include <stdio.h>
#include <stdlib.h>

struct RlWorkerFsdp {
  RlComm        *group;     /* owned; NULL with offload alone */
  RlFsdpOptions  options;
};

void
rl_worker_fsdp_from_env (int *degree, bool *cpu_offload)
{
  const char *fsdp = getenv ("RAYLIGHT_FSDP");
  const char *offload = getenv ("RAYLIGHT_CPU_OFFLOAD");
  long n = fsdp != NULL ? strtol (fsdp, NULL, 10) : 0;

  *degree = n == 1 ? 0 : n > 1 ? (int) n : 1;
  *cpu_offload = offload != NULL && strtol (offload, NULL, 10) == 1;
}

RlWorkerFsdp *
rl_worker_fsdp_new (RlComm *world, int rank, int degree, bool cpu_offload, char *error,
                    size_t error_size)
{
  int ranks = world != NULL ? rl_comm_size (world) : 1;
  int group_size = degree == 0 ? ranks : degree;
  bool sharded = group_size > 1;
  RlWorkerFsdp *fsdp;

  error[0] = '\0';
  if (!sharded && !cpu_offload)
    return NULL;
  if (sharded && world == NULL)
    {
      snprintf (error, error_size, "FSDP over %d ranks needs the pool's collectives, and this "
                "worker has none", group_size);
      return NULL;
    }
  if (sharded && (group_size > ranks || ranks % group_size != 0))
    {
      snprintf (error, error_size, "an FSDP degree of %d does not divide the pool's %d ranks",
                group_size, ranks);
      return NULL;
    }
  fsdp = calloc (1, sizeof *fsdp);
  if (fsdp == NULL)
    {
      snprintf (error, error_size, "out of memory");
      return NULL;
    }
  /* Consecutive ranks share the weights: with USP innermost they are
   * the ranks of one sequence-parallel group, on the fastest links. */
  if (sharded && rl_comm_split (world, rank / group_size, rank, &fsdp->group) != RL_OK)
    {
      snprintf (error, error_size, "making the FSDP group of %d ranks: %s", group_size,
                rl_last_error ());
      free (fsdp);
      return NULL;
    }
  fsdp->options = (RlFsdpOptions) { fsdp->group, cpu_offload };
  return fsdp;
}

void
rl_worker_fsdp_free (RlWorkerFsdp *fsdp)
{
  if (fsdp == NULL)
    return;
  rl_comm_free (fsdp->group);
  free (fsdp);
}

const RlFsdpOptions *
rl_worker_fsdp_options (const RlWorkerFsdp *fsdp)
{
  return fsdp != NULL ? &fsdp->options : NULL;
}
