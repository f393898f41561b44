/* What a request handler in the worker needs besides its message: where to
 * send progress, how to notice a cancel, and the worker's settings. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "plugins/family.h"
#include "workers/parallel/parallel-guider.h"
#include "workers/runtime/backend.h"
#include "worker-attention.h"
#include "worker-inbox.h"
#include "worker-link.h"

typedef struct {
  RlWorkerLink  *link;
  RlWorkerInbox *inbox;
  uint64_t       request_id;
  int            rank;
  bool           test_faults;   /* RAYLIGHT_WORKER_TEST_FAULTS allows 'hang' */
  bool           test_faults_crash; /* ... and 'crash' */
  const RlBackend *backend;     /* the compute backend of this worker */
  RlContext     *compute;       /* its context on this worker's device */
  const RlParallelContext *parallel; /* sequence parallelism of SAMPLE, or NULL */
  const RlParallelSplit *split; /* CFG / data parallelism of SAMPLE, or NULL */
  bool           parallel_lost; /* the pool runs it but this worker could not join */
  RlWorkerAttention *attention; /* attention variants of `backend`, or NULL */
} RlRequestContext;
