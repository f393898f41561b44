#include "fd-passing.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "protocol.h"

int64_t
rl_monotonic_ms (void)
{
  struct timespec now;
  clock_gettime (CLOCK_MONOTONIC, &now);
  return (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

int64_t
rl_deadline_after (int timeout_ms)
{
  return timeout_ms < 0 ? -1 : rl_monotonic_ms () + timeout_ms;
}

/* Waits until sock is ready for events or the deadline passes. */
static int
wait_ready (int sock, short events, int64_t deadline_ms, const char *what,
            RlErrorInfo *err)
{
  for (;;)
    {
      int timeout = -1;
      if (deadline_ms >= 0)
        {
          int64_t left = deadline_ms - rl_monotonic_ms ();
          if (left <= 0)
            return rl_error_set (err, RL_WIRE_TIMEOUT, "timed out %s", what);
          timeout = left > 0x7fffffff ? 0x7fffffff : (int) left;
        }
      struct pollfd pfd = { .fd = sock, .events = events };
      int ready = poll (&pfd, 1, timeout);
      if (ready > 0)
        return RL_WIRE_OK;
      if (ready < 0 && errno != EINTR)
        return rl_error_set (err, RL_WIRE_IO, "poll failed %s: %s", what,
                             strerror (errno));
    }
}

int
rl_fd_send (int sock, const struct iovec *iov, int iovcnt, const int *fds,
            int n_fds, int64_t deadline_ms, RlErrorInfo *err)
{
  if (iovcnt <= 0 || iovcnt > 8 || n_fds < 0 || n_fds > RL_PROTOCOL_MAX_FDS)
    return rl_error_set (err, RL_WIRE_INVALID,
                         "rl_fd_send: %d buffers and %d descriptors is out of range",
                         iovcnt, n_fds);
  struct iovec left[8];
  memcpy (left, iov, sizeof *iov * (size_t) iovcnt);
  int first = 0;
  int fds_pending = n_fds > 0;
  char control[CMSG_SPACE (sizeof (int) * RL_PROTOCOL_MAX_FDS)];

  while (first < iovcnt)
    {
      if (left[first].iov_len == 0)
        {
          first++;
          continue;
        }
      struct msghdr msg = { .msg_iov = left + first,
                            .msg_iovlen = (size_t) (iovcnt - first) };
      if (fds_pending)
        {
          memset (control, 0, sizeof control);
          msg.msg_control = control;
          msg.msg_controllen = CMSG_SPACE (sizeof (int) * (size_t) n_fds);
          struct cmsghdr *cmsg = CMSG_FIRSTHDR (&msg);
          cmsg->cmsg_level = SOL_SOCKET;
          cmsg->cmsg_type = SCM_RIGHTS;
          cmsg->cmsg_len = CMSG_LEN (sizeof (int) * (size_t) n_fds);
          memcpy (CMSG_DATA (cmsg), fds, sizeof (int) * (size_t) n_fds);
        }
      ssize_t sent = sendmsg (sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (sent < 0)
        {
          if (errno == EINTR)
            continue;
          if (errno == EAGAIN || errno == EWOULDBLOCK)
            {
              int status = wait_ready (sock, POLLOUT, deadline_ms,
                                       "sending to the peer", err);
              if (status != RL_WIRE_OK)
                return status;
              continue;
            }
          if (errno == EPIPE || errno == ECONNRESET)
            return rl_error_set (err, RL_WIRE_PEER_CLOSED,
                                 "the peer closed the connection while we were sending");
          return rl_error_set (err, RL_WIRE_IO, "sendmsg failed: %s",
                               strerror (errno));
        }
      fds_pending = 0;
      size_t done = (size_t) sent;
      while (first < iovcnt && done >= left[first].iov_len)
        done -= left[first++].iov_len;
      if (first < iovcnt)
        {
          left[first].iov_base = (char *) left[first].iov_base + done;
          left[first].iov_len -= done;
        }
    }
  return RL_WIRE_OK;
}

/* Moves the descriptors of one received control block into fds. */
static int
collect_fds (struct msghdr *msg, int *fds, int max_fds, int *n_fds,
             RlErrorInfo *err)
{
  int status = RL_WIRE_OK;
  if (msg->msg_flags & MSG_CTRUNC)
    status = rl_error_set (err, RL_WIRE_BAD_MESSAGE,
                           "descriptor list truncated: the peer sent more than %d",
                           RL_PROTOCOL_MAX_FDS);
  for (struct cmsghdr *cmsg = CMSG_FIRSTHDR (msg); cmsg != NULL;
       cmsg = CMSG_NXTHDR (msg, cmsg))
    {
      if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
        continue;
      size_t count = (cmsg->cmsg_len - CMSG_LEN (0)) / sizeof (int);
      for (size_t i = 0; i < count; i++)
        {
          int fd;
          memcpy (&fd, CMSG_DATA (cmsg) + i * sizeof (int), sizeof fd);
          if (fds != NULL && *n_fds < max_fds)
            fds[(*n_fds)++] = fd;
          else
            {
              close (fd);
              status = rl_error_set (err, RL_WIRE_BAD_MESSAGE,
                                     "the peer sent more descriptors than the %d expected",
                                     max_fds);
            }
        }
    }
  return status;
}

int
rl_fd_recv_exact (int sock, void *buf, size_t len, int *fds, int max_fds,
                  int *n_fds, int64_t deadline_ms, RlErrorInfo *err)
{
  size_t got = 0;
  char control[CMSG_SPACE (sizeof (int) * RL_PROTOCOL_MAX_FDS)];
  while (got < len)
    {
      struct iovec iov = { .iov_base = (char *) buf + got, .iov_len = len - got };
      struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                            .msg_control = control,
                            .msg_controllen = sizeof control };
      ssize_t n = recvmsg (sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          if (errno == EAGAIN || errno == EWOULDBLOCK)
            {
              int status = wait_ready (sock, POLLIN, deadline_ms,
                                       got == 0 ? "waiting for a message"
                                                : "in the middle of a message", err);
              if (status != RL_WIRE_OK)
                return status;
              continue;
            }
          if (errno == ECONNRESET)
            return rl_error_set (err, RL_WIRE_PEER_CLOSED,
                                 "the peer reset the connection");
          return rl_error_set (err, RL_WIRE_IO, "recvmsg failed: %s",
                               strerror (errno));
        }
      int status = collect_fds (&msg, fds, max_fds, n_fds, err);
      if (status != RL_WIRE_OK)
        return status;
      if (n == 0)
        return rl_error_set (err, RL_WIRE_PEER_CLOSED,
                             got == 0 ? "the peer closed the connection"
                                      : "the peer closed the connection in the middle of a message (%zu of %zu bytes)",
                             got, len);
      got += (size_t) n;
    }
  return RL_WIRE_OK;
}
