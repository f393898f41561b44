/* Private to the pool: one worker slot and its supervisor thread, which
 * owns the process (spawn, handshake, heartbeats, reaping, restarts) and
 * reads every frame the worker sends. Callers hand it one request at a time
 * through begin/finish; the supervisor completes the request when the
 * worker answers, dies or hangs. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

#include "pool.h"

typedef struct RlWorkerSlot RlWorkerSlot;

/* Settings every worker of a pool shares; owned by the RlPool. */
typedef struct {
  RlPoolOptions  options;       /* strings and arrays owned by the pool */
  const char    *runtime_dir;
  char *const   *envp;
  const char    *backend_name;
  int            comm_fd;       /* shm collectives segment of CPU workers, or -1 */
  bool           uses_nccl;     /* GPU workers in a parallel pool: rank 0's HELLO
                                   brings the NCCL id the others get at HELLO_ACK */
  pthread_mutex_t nccl_lock;
  pthread_cond_t nccl_cond;
  bool           have_nccl_id;
  unsigned char  nccl_id[RL_PROTOCOL_NCCL_ID_SIZE];
  atomic_bool    stopping;
} RlPoolShared;

/* Creates the slot and starts its supervisor, which spawns the process. */
RlWorkerSlot *rl_worker_slot_start  (RlPoolShared *shared, int rank, int device_id,
                                     RlErrorInfo *err);

/* Wakes the supervisor so it notices shared->stopping; returns at once. */
void          rl_worker_slot_wake   (RlWorkerSlot *worker);

/* Waits for the supervisor to stop the process and end. Call after setting
 * shared->stopping and waking it; one thread at a time; idempotent. The
 * slot stays valid: callers still inside it get RL_WIRE_STOPPED. */
void          rl_worker_slot_join   (RlWorkerSlot *worker);

/* Joins if needed and frees the slot; no caller may be inside it. */
void          rl_worker_slot_free   (RlWorkerSlot *worker);

void          rl_worker_slot_info   (RlWorkerSlot *worker, RlWorkerInfo *info);

/* Waits for READY (0) or a failure (its error) until deadline_ms (-1: none). */
int           rl_worker_slot_wait_ready (RlWorkerSlot *worker, int64_t deadline_ms,
                                         RlErrorInfo *err);

/* Claims the worker (waiting until deadline for it to be READY and idle)
 * and sends one request; fds are borrowed. Returns the request id (> 0) or
 * 0 with err set; a send failure is reported by finish instead. */
uint64_t      rl_worker_slot_begin  (RlWorkerSlot *worker, uint16_t type,
                                     const RlWireWriter *payload, const int *fds,
                                     int n_fds, RlPoolProgressFunc progress,
                                     void *user_data, int64_t deadline_ms,
                                     RlErrorInfo *err);

/* Waits for request id's answer until deadline. On success moves the
 * result into *result (may be NULL to discard). On timeout, cancels the
 * request on the worker and returns RL_WIRE_TIMEOUT. */
int           rl_worker_slot_finish (RlWorkerSlot *worker, uint64_t id,
                                     int64_t deadline_ms, RlPoolResult *result,
                                     RlErrorInfo *err);

/* Waits until request id has its answer (true) or deadline passes
 * (false), without giving the request up; collect it with finish. */
bool          rl_worker_slot_wait_done (RlWorkerSlot *worker, uint64_t id,
                                        int64_t deadline_ms);

/* Sends CANCEL for the running request, if any. */
void          rl_worker_slot_cancel (RlWorkerSlot *worker);

/* True when the worker has a live process (READY or BUSY). */
bool          rl_worker_slot_is_running (RlWorkerSlot *worker);
