/* The worker's end of its socket: one send lock, because the executor
 * (results, progress) and the inbox thread (heartbeat answers) both send.
 * A link can be made silent, which drops every outgoing frame: the
 * test-only 'hang' diagnostic uses it to look exactly like a hung worker. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "workers/protocol/messages.h"

typedef struct {
  int             sock;
  int             rank;
  pthread_mutex_t send_lock;
  atomic_bool     silent;
} RlWorkerLink;

void rl_worker_link_init       (RlWorkerLink *link, int sock, int rank);
void rl_worker_link_clear      (RlWorkerLink *link);

/* Sends one encoded message (and descriptors); 0 or a negative status.
 * A silent link reports success and sends nothing. */
int  rl_worker_link_send       (RlWorkerLink *link, uint16_t type,
                                uint64_t request_id, const RlWireWriter *w,
                                const int *fds, int n_fds);

/* Sends an ERROR for request_id with a formatted message. */
int  rl_worker_link_send_error (RlWorkerLink *link, uint64_t request_id,
                                int code, const char *format, ...)
  __attribute__ ((format (printf, 4, 5)));

/* Sends a PROGRESS frame of kind for request_id. */
int  rl_worker_link_progress   (RlWorkerLink *link, uint64_t request_id,
                                uint32_t kind, uint64_t done, uint64_t total,
                                const char *message);

/* Same, with a sealed preview tensor (a latent) passed by descriptor. */
int  rl_worker_link_progress_preview (RlWorkerLink *link, uint64_t request_id,
                                      uint32_t kind, uint64_t done, uint64_t total,
                                      const char *message,
                                      const RlSharedTensor *preview);
