/* Streams and events of one device, with errors that say what failed.
 *
 * A worker runs compute on one stream and copies (weight uploads, offload)
 * on another; events order the two without synchronising the host. These
 * wrappers exist so callers need not translate cudaError_t themselves. */
#pragma once

#include <stdbool.h>

#include <cuda_runtime_api.h>

#include "cuda-error.h"
#include "workers/runtime/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Creates a non-blocking stream (no implicit sync with the legacy stream),
 * with a higher priority when `high_priority`. */
bool rl_cuda_stream_new       (cudaStream_t *stream, bool high_priority, RlCudaError *error);
void rl_cuda_stream_free      (cudaStream_t stream);
/* Blocks the host until all work queued on `stream` has finished; reports
 * any asynchronous error a kernel raised. */
bool rl_cuda_stream_sync      (cudaStream_t stream, RlCudaError *error);

/* Creates an event; `timing` events can measure elapsed time, others are
 * cheaper and only order streams. */
bool rl_cuda_event_new        (cudaEvent_t *event, bool timing, RlCudaError *error);
void rl_cuda_event_free       (cudaEvent_t event);
bool rl_cuda_event_record     (cudaEvent_t event, cudaStream_t stream, RlCudaError *error);
/* Makes later work on `stream` wait for `event` without blocking the host. */
bool rl_cuda_stream_wait      (cudaStream_t stream, cudaEvent_t event, RlCudaError *error);
/* Milliseconds between two recorded timing events (waits for `end`). */
bool rl_cuda_event_elapsed_ms (cudaEvent_t start, cudaEvent_t end, float *ms, RlCudaError *error);

/* Number of visible devices; 0 when there is no driver or no GPU. */
int  rl_cuda_device_count     (void);

/* The CUDA stream behind a backend stream of `ctx` (NULL: the context's
 * current stream, where its ops run), for code that enqueues work the op
 * table does not cover (NCCL collectives, FSDP weight gathers). */
cudaStream_t rl_cuda_context_stream (RlContext *ctx, RlStream *stream);

#ifdef __cplusplus
}
#endif
