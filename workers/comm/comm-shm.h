/* Shared-memory collectives for CPU workers on one machine.
 *
 * The pool creates one segment per parallel group of worker processes
 * (rl_comm_shm_segment_new gives a memfd), passes the descriptor to each
 * worker (SCM_RIGHTS or fork inheritance) with its rank, and each worker
 * attaches. The segment holds a staging slot per rank and the group
 * records of every sub-communicator split from the world; waits use
 * futexes on the shared mapping, so no thread or daemon is involved.
 *
 * A timeout or a dead peer (its pid gone) aborts the whole segment: every
 * rank's next or current call fails with the same message naming the rank
 * and operation. Group records are never reused: a segment supports up to
 * RL_COMM_SHM_MAX_GROUPS communicators (world included) over its life;
 * create a new segment per job configuration. */
#pragma once

#include <stddef.h>

#include "workers/comm/comm.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RL_COMM_SHM_MAX_RANKS  64
#define RL_COMM_SHM_MAX_GROUPS 256

/* Default staging bytes per rank: larger tensors go through in pieces. */
#define RL_COMM_SHM_DEFAULT_SLOT_BYTES (8u << 20)

/* Creates and initialises a segment for `world_size` ranks with
 * `slot_bytes` (0: the default) of staging per rank; *fd_out is a memfd
 * (close-on-exec: clear the flag or pass it with SCM_RIGHTS). */
RlStatus rl_comm_shm_segment_new (int world_size, size_t slot_bytes,
                                  int *fd_out);

/* Maps the segment `fd` (the caller keeps ownership of fd) and returns the
 * world communicator for `rank`. `world_size` must match the segment's. */
RlStatus rl_comm_shm_attach      (int fd, int rank, int world_size,
                                  RlComm **out);

/* rl_comm_shm_attach for a segment named by a path instead of a
 * descriptor: a file under /dev/shm that the pool filled with the bytes
 * of a segment, or /proc/<pool pid>/fd/<n> of its memfd. */
RlStatus rl_comm_shm_attach_path (const char *path, int rank, int world_size,
                                  RlComm **out);

#ifdef __cplusplus
}
#endif
