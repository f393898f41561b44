/* The worker's receiving side: a thread that reads every frame from the
 * pool, answers HEARTBEAT at once (so a long request never looks like a
 * hang), records CANCEL and SHUTDOWN as flags the running request polls,
 * and queues every other frame for the executor (the main thread). */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "workers/protocol/frame.h"
#include "worker-link.h"

typedef struct RlWorkerInbox RlWorkerInbox;

/* Starts the reader thread on link (borrowed; must outlive the inbox). */
RlWorkerInbox *rl_worker_inbox_start     (RlWorkerLink *link);

/* Blocks for the next queued frame. Returns false once the pool closed the
 * connection (or sent garbage) and nothing is left to execute. The caller
 * owns *frame and releases it with rl_frame_clear(). */
bool           rl_worker_inbox_next      (RlWorkerInbox *inbox, RlFrame *frame);

/* Marks request_id as the one executing, for CANCEL matching. */
void           rl_worker_inbox_begin     (RlWorkerInbox *inbox, uint64_t request_id);

/* True once the pool asked to cancel the executing request, asked to shut
 * down, or went away. Long requests poll this between steps. */
bool           rl_worker_inbox_cancelled (RlWorkerInbox *inbox);

/* Stops answering heartbeats (test-only hang). */
void           rl_worker_inbox_go_silent (RlWorkerInbox *inbox);

/* Joins the reader (after the socket was shut down) and frees the queue. */
void           rl_worker_inbox_free      (RlWorkerInbox *inbox);
