/* RlComm: collective communication between the ranks of a parallel group.
 *
 * One interface, one implementation per backend: shared memory between CPU
 * worker processes on one machine (comm-shm.h) and NCCL between GPUs
 * (comm-nccl.h). Model and parallel code call only this header, so every
 * parallel mode runs unchanged on CPU workers in CI.
 *
 * Conventions for every call:
 *  - Collective calls are made by every rank of the communicator, in the
 *    same order, with tensors of the same dtype and element count (SPMD).
 *  - Tensors live on the communicator's device (rl_comm_device) and are
 *    contiguous; `out` must not overlap `in` unless marked [in-place].
 *  - Calls block until this rank's part is complete (its output is ready to
 *    read by ordinary ops; on GPUs the device has finished the transfer).
 *  - A call that does not complete within the communicator's timeout fails
 *    with RL_E_DEVICE and a message naming the operation, its sequence
 *    number and the rank(s) that never arrived; the communicator (and the
 *    group's other ranks, which fail fast) is then unusable: free it and
 *    let the pool restart the group.
 *  - Reductions are deterministic: the result does not depend on timing
 *    and is bitwise identical on every rank. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "workers/runtime/device.h"
#include "workers/runtime/status.h"
#include "workers/runtime/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct RlComm RlComm;

typedef enum {
  RL_COMM_SUM = 0,
  RL_COMM_MAX,
} RlCommReduce;

/* Default timeout of a new communicator. */
#define RL_COMM_DEFAULT_TIMEOUT_MS 300000

/* This process's rank in [0, size) and the group size. */
int         rl_comm_rank            (const RlComm *comm);
int         rl_comm_size            (const RlComm *comm);

/* Rank of member `rank` in the world communicator this one was split from
 * (itself for a world communicator); used in error messages. */
int         rl_comm_world_rank      (const RlComm *comm, int rank);

/* "shm" or "nccl". */
const char *rl_comm_backend_name    (const RlComm *comm);

/* Device whose memory the tensors of every call must live on. */
RlDevice    rl_comm_device          (const RlComm *comm);

/* Per-call timeout in milliseconds (> 0); sub-communicators inherit it. */
void        rl_comm_set_timeout_ms  (RlComm *comm, int timeout_ms);
int         rl_comm_timeout_ms      (const RlComm *comm);

/* A function the backend polls while a call waits on its peers: once it
 * returns true (the request was cancelled) and the call has waited a
 * second, the call gives up as on a timeout (the communicator is then
 * unusable: the pool restarts the group) instead of waiting until the
 * timeout for a peer that stopped at the cancel a step earlier.
 * Sub-communicators made later inherit it. */
typedef bool (*RlCommCancelFunc) (void *user);
void        rl_comm_set_cancel_check (RlComm *comm, RlCommCancelFunc cancelled,
                                      void *user);

/* data = reduce over ranks of data, elementwise. f32, f64, i32 and i64 on
 * every backend; f16/bf16 where the backend supports them. [in-place] */
RlStatus    rl_comm_all_reduce      (RlComm *comm, RlTensor *data,
                                     RlCommReduce op);

/* *value = reduce over ranks of this rank's host-side *value: the SPMD
 * agreement step for decisions a rank could take alone (a cache skip, an
 * early exit, a step count), without the caller allocating device memory.
 * Use MAX on 0/1 for "any rank", SUM to count. */
RlStatus    rl_comm_all_reduce_host (RlComm *comm, int64_t *value,
                                     RlCommReduce op);

/* out = concatenation of every rank's `in` in rank order: out holds
 * size × numel(in) elements, rank i's at element offset i·numel(in). */
RlStatus    rl_comm_all_gather      (RlComm *comm, RlTensor *out,
                                     const RlTensor *in);

/* Equal-chunk all-to-all: `in` and `out` hold size·c elements; chunk j of
 * `in` (elements [j·c, (j+1)·c)) goes to rank j and lands there as chunk
 * i of `out`, i being the sender. */
RlStatus    rl_comm_all_to_all      (RlComm *comm, RlTensor *out,
                                     const RlTensor *in);

/* data = root's data on every rank. [in-place] */
RlStatus    rl_comm_broadcast       (RlComm *comm, RlTensor *data, int root);

/* Point to point. send blocks until `peer` has received (or, on NCCL, the
 * transfer is done); pair every send with the peer's recv. */
RlStatus    rl_comm_send            (RlComm *comm, const RlTensor *data,
                                     int peer);
RlStatus    rl_comm_recv            (RlComm *comm, RlTensor *data, int peer);

/* Sends `send` to `dst` while receiving `recv` from `src` — one step of a
 * ring (dst = rank+1, src = rank−1 on every rank never deadlocks). */
RlStatus    rl_comm_sendrecv        (RlComm *comm, const RlTensor *send,
                                     int dst, RlTensor *recv, int src);

/* Starts rl_comm_sendrecv so that the caller can compute while the data
 * moves (ring attention hands on the next key/value block this way);
 * rl_comm_wait completes it. Neither buffer may be touched in between.
 * One started transfer per communicator at a time. Backends that cannot
 * overlap (shm) complete the transfer before returning. */
RlStatus    rl_comm_sendrecv_start  (RlComm *comm, const RlTensor *send,
                                     int dst, RlTensor *recv, int src);

/* n all-to-alls (outs[i] = all-to-all of ins[i], each as
 * rl_comm_all_to_all) as one call: NCCL sends every pair in one launch.
 * Ulysses exchanges q, k and v this way. */
RlStatus    rl_comm_all_to_all_many (RlComm *comm, int n, RlTensor *const *outs,
                                     const RlTensor *const *ins);

/* Starts rl_comm_all_to_all_many so that the caller can compute while the
 * data moves (Ulysses exchanges one head group while another attends);
 * rl_comm_wait completes it. Rules as for rl_comm_sendrecv_start. */
RlStatus    rl_comm_all_to_all_many_start (RlComm *comm, int n, RlTensor *const *outs,
                                           const RlTensor *const *ins);

/* Completes the started transfer (timeout as for any call); RL_OK when
 * none is pending. */
RlStatus    rl_comm_wait            (RlComm *comm);

/* Returns once every rank has called it. */
RlStatus    rl_comm_barrier         (RlComm *comm);

/* Collective: ranks with the same `color` (≥ 0) form a new communicator,
 * ordered by `key` then by parent rank. A negative color joins no group:
 * *out is NULL. The parent stays usable; free each independently
 * (children first is not required). */
RlStatus    rl_comm_split           (RlComm *comm, int color, int key,
                                     RlComm **out);

/* rl_comm_split for a group whose traffic is large all-to-alls next to
 * compute (the Ulysses exchanges). The NCCL backend makes it with the
 * zero-CTA policy: its all-to-alls between exchange-window memory
 * (rl_comm_exchange_window) run on the copy engines and leave every SM to
 * the compute. Other backends: rl_comm_split. */
RlStatus    rl_comm_split_exchange  (RlComm *comm, int color, int key,
                                     RlComm **out);

/* *data = the communicator's exchange window: device memory of at least
 * `bytes`, at the same address offsets on every rank, that all-to-alls
 * move without the compute units when both `in` and `out` lie in it.
 * Collective (every rank, same `bytes`, same order). It grows and never
 * shrinks; a call that grows it invalidates pointers from earlier calls.
 * *data is NULL (and RL_OK) where the backend has no such memory (shm,
 * groups not made by rl_comm_split_exchange, or a driver that refused the
 * registration, said once on stderr): the caller uses its own memory. */
RlStatus    rl_comm_exchange_window (RlComm *comm, size_t bytes, void **data);

/* Releases this rank's handle (not collective). NULL-safe. */
void        rl_comm_free            (RlComm *comm);

#ifdef __cplusplus
}
#endif
