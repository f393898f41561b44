/* NCCL collectives for GPU workers (CUDA builds only).
 *
 * Rank 0 of the world makes the unique id (rl_comm_nccl_unique_id); the
 * pool forwards the 128 bytes to every worker, and each calls
 * rl_comm_nccl_new with its rank and CUDA device. Communicators are
 * non-blocking NCCL communicators: every call polls the operation and
 * ncclCommGetAsyncError until done, and on timeout calls ncclCommAbort so
 * a lost rank becomes an error instead of a hang.
 *
 * Calls are synchronous with respect to the device: a call first waits for
 * the device's outstanding work (the caller's compute that produced the
 * input; only one stream's with rl_comm_nccl_order_after), runs the
 * transfer on the communicator's own stream and returns when it is
 * complete (a started one: when rl_comm_wait returns). NVLink SHARP (NVLS) is always disabled
 * (NCCL_NVLS_ENABLE=0): its multicast objects are not available on the
 * machines we run on. */
#pragma once

#include <cuda_runtime_api.h>

#include "workers/comm/comm.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RL_COMM_NCCL_ID_BYTES 128

/* A fresh NCCL unique id (ncclGetUniqueId), to be made on world rank 0's
 * host and passed to every rank. */
RlStatus rl_comm_nccl_unique_id (unsigned char id[RL_COMM_NCCL_ID_BYTES]);

/* Joins the world communicator `id` as `rank` of `world_size` on CUDA
 * device `cuda_device`; waits at most `timeout_ms` (0: the default) for
 * every rank to join. */
RlStatus rl_comm_nccl_new       (const unsigned char id[RL_COMM_NCCL_ID_BYTES],
                                 int rank, int world_size, int cuda_device,
                                 int timeout_ms, RlComm **out);

/* Enqueues an all-gather of `bytes_per_rank` bytes per rank on `stream`
 * and returns once NCCL has accepted it — without first waiting for the
 * device and without waiting for the transfer, unlike rl_comm_all_gather.
 * The caller orders producers and consumers with events on `stream`.
 * `in` may be out + rank·bytes_per_rank (in place). */
RlStatus rl_comm_nccl_all_gather_enqueue (RlComm *comm, void *out, const void *in,
                                          size_t bytes_per_rank, cudaStream_t stream);

/* Orders every later call after the work queued on `stream` (the
 * worker's compute stream) with an event, instead of waiting for the
 * whole device first, so that a started transfer (rl_comm_*_start) runs
 * while kernels queued after the start on `stream` proceed. Callers must
 * then produce every input on `stream`. NULL: the device-wide wait. */
RlStatus rl_comm_nccl_order_after        (RlComm *comm, cudaStream_t stream);

/* Registers `bytes` of device memory at `buffer` with the communicator
 * (ncclCommRegister) so that NCCL can move data to and from it directly
 * instead of through its staging buffers (NCCL exchanges the mappings
 * with the peers when a call first uses them). The handle goes to rl_comm_nccl_deregister
 * before the memory is freed. */
RlStatus rl_comm_nccl_register           (RlComm *comm, void *buffer, size_t bytes,
                                          void **handle);
RlStatus rl_comm_nccl_deregister         (RlComm *comm, void *handle);

/* Waits on the host until `done` (recorded after enqueued collectives)
 * has completed, within the communicator's timeout; a timeout or an NCCL
 * error aborts the communicator and names `op`. */
RlStatus rl_comm_nccl_wait_event         (RlComm *comm, cudaEvent_t done, const char *op);

/* Totals of one kind of blocking collective on `comm` since it was made:
 * calls, bytes (the tensor each rank passed: an all-to-all's whole input,
 * an all-gather's whole output, a sendrecv's both buffers) and the time
 * from launch to completion on the host, the wait for queued compute
 * before it not counted. With RAYLIGHT_COMM_STATS=1 the communicator
 * prints its totals to stderr when freed. */
typedef struct {
  uint64_t calls;
  uint64_t bytes;
  double   ms;
  double   first_ms;   /* the first call's share of ms (it connects the peers) */
  uint64_t window_calls; /* all-to-alls that ran from the exchange window */
} RlCommNcclStats;

/* `op`: "all_reduce", "all_gather", "all_to_all", "broadcast" or
 * "sendrecv" (also "send", "recv"; the started transfers of
 * rl_comm_sendrecv_start are not counted: they overlap compute). False
 * for another op or a communicator that is not NCCL's. */
bool     rl_comm_nccl_stats              (const RlComm *comm, const char *op,
                                          RlCommNcclStats *out);

#ifdef __cplusplus
}
#endif
