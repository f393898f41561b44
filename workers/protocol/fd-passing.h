/* Byte-stream I/O on a Unix socket with file descriptors attached
 * (SCM_RIGHTS). Both calls retry on EINTR and short transfers, wait with
 * poll() up to an absolute deadline, and never raise SIGPIPE: a dead peer
 * is RL_WIRE_PEER_CLOSED. Received descriptors are close-on-exec. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "error-info.h"

/* Milliseconds of CLOCK_MONOTONIC, for deadlines. */
int64_t rl_monotonic_ms   (void);

/* Deadline timeout_ms from now; timeout_ms < 0 gives -1 (no deadline). */
int64_t rl_deadline_after (int timeout_ms);

/* Sends every byte of iov[0..iovcnt), attaching fds[0..n_fds) to the first
 * byte. Does not modify iov. Returns 0 or a negative RlWireStatus. */
int     rl_fd_send        (int sock, const struct iovec *iov, int iovcnt,
                           const int *fds, int n_fds, int64_t deadline_ms,
                           RlErrorInfo *err);

/* Receives exactly len bytes into buf. Descriptors that arrive are appended
 * to fds (capacity max_fds, count in *n_fds); any beyond max_fds are closed
 * and make the call fail with RL_WIRE_BAD_MESSAGE. On failure, descriptors
 * already received stay in fds for the caller to close. */
int     rl_fd_recv_exact  (int sock, void *buf, size_t len,
                           int *fds, int max_fds, int *n_fds,
                           int64_t deadline_ms, RlErrorInfo *err);
