/* The worker's sequence-parallel group: the pool's shared-memory
 * collectives segment (handed over at HELLO_ACK) attached as this worker's
 * rank, and the Ulysses and ring groups of the pool's USP degrees, made
 * once at start so that every SAMPLE reuses them (a segment has a bounded
 * number of group records). */
#pragma once

#include "plugins/family.h"

typedef struct RlWorkerParallel RlWorkerParallel;

/* Attaches segment `fd` (taken: closed here) as `rank` of `world_size`
 * and, when ulysses_degree × ring_degree > 1, builds the USP groups — a
 * collective over every worker of the pool, which all call this at start.
 * NULL with a message on stderr naming the rank on failure. */
RlWorkerParallel *rl_worker_parallel_new   (int fd, int rank, int world_size,
                                            int timeout_ms, int ulysses_degree,
                                            int ring_degree);
void              rl_worker_parallel_free  (RlWorkerParallel *parallel);   /* NULL-safe */

/* The context a family's set_parallel takes, or NULL when the pool runs
 * no sequence parallelism (degrees 1 × 1, or no segment). */
const RlParallelContext *rl_worker_parallel_context (const RlWorkerParallel *parallel);
