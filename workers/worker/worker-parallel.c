#include "worker-parallel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "raylight-config.h"
#include "workers/comm/comm-shm.h"
#if RAYLIGHT_HAVE_CUDA
#include "workers/comm/comm-nccl.h"
#endif
#include "workers/parallel/parallel-plan.h"
#include "workers/parallel/usp-attention.h"

struct RlWorkerParallel {
  bool               nccl;        /* the collectives are NCCL's */
  RlComm            *world;
  RlComm            *sp;          /* sequence-parallel group, or NULL */
  RlComm            *ulysses;
  RlComm            *ring;
  RlComm            *split_comm;  /* CFG × data group, or NULL */
  RlParallelContext  context;
  RlParallelSplit    split;
};

bool
rl_worker_parallel_make_nccl_id (const char *backend, int rank, int world_size,
                                 unsigned char *id)
{
  if (strcmp (backend, "cuda") != 0 || rank != 0 || world_size < 2)
    return false;
#if RAYLIGHT_HAVE_CUDA
  _Static_assert (RL_COMM_NCCL_ID_BYTES == RL_PROTOCOL_NCCL_ID_SIZE, "NCCL id size");
  if (rl_comm_nccl_unique_id (id) == RL_OK)
    return true;
  fprintf (stderr, "raylight-worker[rank 0]: %s\n", rl_last_error ());
#else
  (void) id;
#endif
  return false;
}

static RlParallelDegrees
degrees_of (const RlMsgHelloAck *ack)
{
  return (RlParallelDegrees) { (int) ack->parallel.ulysses_degree,
                               (int) ack->parallel.ring_degree,
                               (int) ack->parallel.cfg_degree,
                               (int) ack->parallel.data_degree };
}

bool
rl_worker_parallel_expected (const RlMsgHelloAck *ack)
{
  RlParallelDegrees d = degrees_of (ack);
  return rl_parallel_is_parallel (&d) || ack->parallel.fsdp_degree > 1;
}

static RlStatus
join_world (RlWorkerParallel *p, const RlMsgHelloAck *ack, int fd, int device)
{
  int rank = (int) ack->rank, world = (int) ack->world_size;
  if (fd >= 0)
    return rl_comm_shm_attach (fd, rank, world, &p->world);
#if RAYLIGHT_HAVE_CUDA
  if (ack->nccl_id_size == RL_PROTOCOL_NCCL_ID_SIZE)
    {
      p->nccl = true;
      return rl_comm_nccl_new (ack->nccl_id, rank, world, device, (int) ack->comm_timeout_ms,
                               &p->world);
    }
#else
  (void) device;
#endif
  return rl_set_error (RL_E_NOT_SUPPORTED, "the pool announced no collectives this worker "
                       "can join");
}

/* The sequence-parallel, Ulysses, ring and split groups of this rank. Every
 * rank makes the same splits in the same order (they are collective). */
static RlStatus
build_groups (RlWorkerParallel *p, const RlParallelDegrees *d, int rank)
{
  RlParallelCoords c = rl_parallel_coords (d, rank);
  int sp_size = rl_parallel_sp_size (d), batch_ranks = d->cfg * d->data;
  int sp_group = c.data_index * d->cfg + c.cfg_index;
  RlStatus s = RL_OK;
  if (sp_size > 1)
    {
      s = batch_ranks == 1 ? RL_OK : rl_comm_split (p->world, sp_group, c.sp_index, &p->sp);
      RlComm *sp = batch_ranks == 1 ? p->world : p->sp;
      if (s == RL_OK)
        s = rl_usp_groups_new (sp, d->ulysses, d->ring, &p->ulysses, &p->ring);
      p->context = (RlParallelContext) { sp, p->ulysses, p->ring, d->ulysses, d->ring };
    }
  if (s == RL_OK && batch_ranks > 1)
    {
      s = sp_size == 1 ? RL_OK : rl_comm_split (p->world, c.sp_index, sp_group, &p->split_comm);
      p->split = (RlParallelSplit) { sp_size == 1 ? p->world : p->split_comm, d->cfg, d->data,
                                     c.cfg_index, c.data_index };
    }
  return s;
}

RlWorkerParallel *
rl_worker_parallel_join (const RlMsgHelloAck *ack, int fd, int device,
                         bool (*cancelled) (void *), void *user)
{
  RlParallelDegrees d = degrees_of (ack);
  char shape[64];
  RlWorkerParallel *p = calloc (1, sizeof *p);
  RlStatus s = p != NULL ? join_world (p, ack, fd, device)
                         : rl_set_error (RL_E_NO_MEMORY, "out of memory");
  if (fd >= 0)
    close (fd);   /* the mapping keeps the segment alive */
  if (s == RL_OK)
    {
      if (ack->comm_timeout_ms > 0)
        rl_comm_set_timeout_ms (p->world, (int) ack->comm_timeout_ms);
      rl_comm_set_cancel_check (p->world, cancelled, user);
      s = build_groups (p, &d, (int) ack->rank);
    }
  if (s < 0)
    {
      fprintf (stderr, "raylight-worker[rank %u]: joining the pool's collectives (%u ranks, "
               "%s): %s\n", ack->rank, ack->world_size,
               rl_parallel_describe (&d, shape, sizeof shape), rl_last_error ());
      rl_worker_parallel_free (p);
      return NULL;
    }
  return p;
}

RlStatus
rl_worker_parallel_order_after (RlWorkerParallel *p, void *compute_stream)
{
  if (p == NULL || !p->nccl || p->ulysses == NULL)
    return RL_OK;
#if RAYLIGHT_HAVE_CUDA
  /* Only the Ulysses group: its exchanges are the ones started ahead of
   * attention (usp-attention.c); the other groups keep waiting for the
   * whole device (FSDP's side stream and the ring rely on it). */
  return rl_comm_nccl_order_after (p->ulysses, (cudaStream_t) compute_stream);
#else
  (void) compute_stream;
  return RL_OK;
#endif
}

void
rl_worker_parallel_free (RlWorkerParallel *p)
{
  if (p == NULL)
    return;
  rl_comm_free (p->ulysses);
  rl_comm_free (p->ring);
  rl_comm_free (p->sp);
  rl_comm_free (p->split_comm);
  rl_comm_free (p->world);
  free (p);
}

const RlParallelContext *
rl_worker_parallel_context (const RlWorkerParallel *p)
{
  return p != NULL && p->context.sp != NULL ? &p->context : NULL;
}

const RlParallelSplit *
rl_worker_parallel_split (const RlWorkerParallel *p)
{
  return p != NULL && p->split.comm != NULL ? &p->split : NULL;
}

RlComm *
rl_worker_parallel_world (const RlWorkerParallel *p)
{
  return p != NULL ? p->world : NULL;
}
