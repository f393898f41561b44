/* The worker's side of a parallel pool: the collectives it shares with its
 * peers and the groups made from them, set up once at start so every job
 * reuses them (a shm segment has a bounded number of group records, an
 * NCCL split costs a collective).
 *
 * CPU workers attach the pool's shared-memory segment (handed over at
 * HELLO_ACK); GPU workers join an NCCL world communicator whose unique id
 * rank 0 made before its HELLO and the pool handed every rank at
 * HELLO_ACK. From the world, as the pool's degrees say (parallel-plan.h):
 * the sequence-parallel group with its Ulysses and ring groups (the
 * family's forward uses them) and the CFG × data split group (the
 * sampler's guidance uses it). */
#pragma once

#include <stdbool.h>

#include "plugins/family.h"
#include "workers/parallel/parallel-guider.h"
#include "workers/protocol/messages.h"

typedef struct RlWorkerParallel RlWorkerParallel;

/* Rank 0 of a pool of GPU workers makes the NCCL unique id it sends in its
 * HELLO: true with `id` filled when this worker is that rank (backend
 * "cuda", rank 0, world_size > 1, a build with NCCL). */
bool              rl_worker_parallel_make_nccl_id (const char *backend, int rank,
                                                   int world_size, unsigned char *id);

/* Whether the pool shares collectives: parallel jobs (some degree above
 * 1) or weights sharded over the workers (FSDP degree above 1). */
bool              rl_worker_parallel_expected (const RlMsgHelloAck *ack);

/* Joins the collectives the HELLO_ACK announced — the shm segment `fd`
 * (taken: closed here; -1 when none) or ack->nccl_id on CUDA device
 * `device` — and builds the groups; collective over every worker of the
 * pool. `cancelled` (may be NULL) is polled while a collective waits: a
 * cancelled request gives up a wait on a peer that stopped after one
 * second instead of at the timeout. NULL with a message on stderr naming
 * the rank on failure, or when the ack announced no collectives. */
RlWorkerParallel *rl_worker_parallel_join  (const RlMsgHelloAck *ack, int fd, int device,
                                            bool (*cancelled) (void *), void *user);
void              rl_worker_parallel_free  (RlWorkerParallel *parallel);   /* NULL-safe */

/* The context a family's set_parallel takes, or NULL when the pool runs
 * no sequence parallelism. */
const RlParallelContext *rl_worker_parallel_context (const RlWorkerParallel *parallel);

/* NCCL groups: the Ulysses group's calls wait for `compute_stream` (a
 * cudaStream_t, the one model code runs on) instead of the whole device,
 * so its started exchanges overlap attention. No-op otherwise. */
RlStatus                 rl_worker_parallel_order_after (RlWorkerParallel *parallel,
                                                         void *compute_stream);

/* The CFG × data split of the guidance, or NULL when there is none. */
const RlParallelSplit   *rl_worker_parallel_split   (const RlWorkerParallel *parallel);

/* The pool's world communicator (every worker), or NULL without one. */
RlComm                  *rl_worker_parallel_world   (const RlWorkerParallel *parallel);
