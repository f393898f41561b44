/* Runs one function on `size` forked CPU ranks that share a fresh
 * shared-memory segment, as the pool's CPU workers do. Each rank gets its
 * world communicator; a rank whose case failed exits 1. Plain C, for the
 * comm, parallel, USP and FSDP tests. */
#pragma once

#include <stddef.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/plain-test.h"
#include "workers/comm/comm-shm.h"

typedef void (*RankMain) (RlComm *world, const void *arg);

/* RANK_MAIN (world, ARG) on SIZE ranks (at most 8) over a segment of
 * SLOT_BYTES slots, each world timing out after TIMEOUT_MS. Returns the
 * number of ranks that failed. */
static inline int
fork_ranks_on (int size, size_t slot_bytes, int timeout_ms, RankMain rank_main, const void *arg)
{
  int fd = -1, failed = 0;
  pid_t pids[8];

  if (size > 8 || rl_comm_shm_segment_new (size, slot_bytes, &fd) != RL_OK) {
    printf ("# segment for %d ranks: %s\n", size, rl_last_error ());
    return size;
  }
  fflush (stdout);
  for (int r = 0; r < size; r++) {
    pids[r] = fork ();
    if (pids[r] == 0) {
      RlComm *world = NULL;
      if (rl_comm_shm_attach (fd, r, size, &world) != RL_OK) {
        printf ("# rank %d attach: %s\n", r, rl_last_error ());
        fflush (stdout);
        _exit (1);
      }
      rl_comm_set_timeout_ms (world, timeout_ms);
      pt_case_failed = 0;   /* the rank answers for its own checks only */
      rank_main (world, arg);
      rl_comm_free (world);
      fflush (stdout);
      _exit (pt_case_failed ? 1 : 0);
    }
  }
  for (int r = 0; r < size; r++) {
    int st = 0;
    waitpid (pids[r], &st, 0);
    if (!WIFEXITED (st) || WEXITSTATUS (st) != 0) {
      printf ("# rank %d of %d failed (status 0x%x)\n", r, size, st);
      failed++;
    }
  }
  close (fd);
  return failed;
}

/* The FSDP tests' ranks: 256 KiB slots, 30 s timeout. */
static inline int
fork_ranks (int size, RankMain rank_main, const void *arg)
{
  return fork_ranks_on (size, 256 << 10, 30000, rank_main, arg);
}
