#include "worker-parallel.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "workers/comm/comm-shm.h"
#include "workers/parallel/usp-attention.h"

struct RlWorkerParallel {
  RlComm            *world;
  RlComm            *ulysses;
  RlComm            *ring;
  RlParallelContext  context;
  bool               sequence_parallel;
};

RlWorkerParallel *
rl_worker_parallel_new (int fd, int rank, int world_size, int timeout_ms, int ulysses_degree,
                        int ring_degree)
{
  RlWorkerParallel *p = calloc (1, sizeof *p);
  RlStatus s = p != NULL ? rl_comm_shm_attach (fd, rank, world_size, &p->world)
                         : rl_set_error (RL_E_NO_MEMORY, "out of memory");
  close (fd);   /* the mapping keeps the segment alive */
  if (s == RL_OK && timeout_ms > 0)
    rl_comm_set_timeout_ms (p->world, timeout_ms);
  if (s == RL_OK && ulysses_degree * ring_degree > 1)
    {
      s = rl_usp_groups_new (p->world, ulysses_degree, ring_degree, &p->ulysses, &p->ring);
      p->sequence_parallel = s == RL_OK;
      p->context = (RlParallelContext) { p->world, p->ulysses, p->ring, ulysses_degree,
                                         ring_degree };
    }
  if (s < 0)
    {
      fprintf (stderr, "raylight-worker[rank %d]: joining the pool's collectives "
               "(%d ranks, Ulysses %d × ring %d): %s\n", rank, world_size, ulysses_degree,
               ring_degree, rl_last_error ());
      rl_worker_parallel_free (p);
      return NULL;
    }
  return p;
}

void
rl_worker_parallel_free (RlWorkerParallel *p)
{
  if (p == NULL)
    return;
  rl_comm_free (p->ulysses);
  rl_comm_free (p->ring);
  rl_comm_free (p->world);
  free (p);
}

const RlParallelContext *
rl_worker_parallel_context (const RlWorkerParallel *p)
{
  return p != NULL && p->sequence_parallel ? &p->context : NULL;
}
