/* FSDP and CPU offload of a worker's diffusion models (workers/fsdp): the
 * pool's settings — or, for a pool that sends none, the environment — and
 * the FSDP group made from the world communicator, handed to the model
 * loader (RlModelLoader.fsdp) so every diffusion model this worker loads
 * is sharded the same way. */
#pragma once

#include <stdbool.h>

#include "workers/comm/comm.h"
#include "workers/fsdp/fsdp-store.h"

typedef struct RlWorkerFsdp RlWorkerFsdp;

/* The settings from the environment: $RAYLIGHT_FSDP ("1": shard over
 * every rank of the pool; N > 1: over groups of N consecutive ranks; unset
 * or "0": none) and $RAYLIGHT_CPU_OFFLOAD ("1": shards, or whole blocks
 * without FSDP, in pinned host memory). *degree is 0 for "every rank". */
void  rl_worker_fsdp_from_env  (int *degree, bool *cpu_offload);

/* Splits the FSDP group from `world` (collective: every worker of the pool
 * calls this at the same point, after the pool's other groups) when
 * `degree` is 0 (every rank) or above 1, and records `cpu_offload`. NULL
 * without sharding or offload (nothing to do), and NULL with *error set
 * when the degree does not divide the world or there is no world to shard
 * over. `world` must outlive the result. */
RlWorkerFsdp        *rl_worker_fsdp_new     (RlComm *world, int rank, int degree, bool cpu_offload,
                                             char *error, size_t error_size);
void                 rl_worker_fsdp_free    (RlWorkerFsdp *fsdp);   /* NULL-safe */

/* What RlModelLoader.fsdp takes; NULL for a NULL `fsdp`. */
const RlFsdpOptions *rl_worker_fsdp_options (const RlWorkerFsdp *fsdp);
