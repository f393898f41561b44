#include "worker-link.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

/* A send may wait this long for socket space before the link is declared
 * broken; the pool reads continuously, so only a dead pool makes it slow. */
#define SEND_TIMEOUT_MS 30000

void
rl_worker_link_init (RlWorkerLink *link, int sock, int rank)
{
  link->sock = sock;
  link->rank = rank;
  pthread_mutex_init (&link->send_lock, NULL);
  atomic_init (&link->silent, false);
}

void
rl_worker_link_clear (RlWorkerLink *link)
{
  if (link->sock >= 0)
    close (link->sock);
  link->sock = -1;
  pthread_mutex_destroy (&link->send_lock);
}

int
rl_worker_link_send (RlWorkerLink *link, uint16_t type, uint64_t request_id,
                     const RlWireWriter *w, const int *fds, int n_fds)
{
  if (atomic_load (&link->silent))
    return RL_WIRE_OK;
  RlErrorInfo err = { 0 };
  pthread_mutex_lock (&link->send_lock);
  int status = rl_msg_send (link->sock, type, request_id, w, fds, n_fds,
                            SEND_TIMEOUT_MS, &err);
  pthread_mutex_unlock (&link->send_lock);
  if (status != RL_WIRE_OK && status != RL_WIRE_PEER_CLOSED)
    fprintf (stderr, "raylight-worker[rank %d]: cannot send %s: %s\n",
             link->rank, rl_message_type_name (type), err.message);
  return status;
}

int
rl_worker_link_send_error (RlWorkerLink *link, uint64_t request_id, int code,
                           const char *format, ...)
{
  char text[RL_ERROR_INFO_MESSAGE_SIZE];
  va_list args;
  va_start (args, format);
  vsnprintf (text, sizeof text, format, args);
  va_end (args);
  RlMsgError m = { .code = code, .message = text };
  RlWireWriter w;
  rl_wire_writer_init (&w);
  rl_msg_error_encode (&m, &w);
  int status = rl_worker_link_send (link, RL_MSG_ERROR, request_id, &w, NULL, 0);
  rl_wire_writer_clear (&w);
  return status;
}

int
rl_worker_link_progress (RlWorkerLink *link, uint64_t request_id,
                         uint32_t kind, uint64_t done, uint64_t total,
                         const char *message)
{
  return rl_worker_link_progress_preview (link, request_id, kind, done, total, message, NULL);
}

int
rl_worker_link_progress_preview (RlWorkerLink *link, uint64_t request_id,
                                 uint32_t kind, uint64_t done, uint64_t total,
                                 const char *message, const RlSharedTensor *preview)
{
  RlMsgProgress m = { .kind = kind, .done = done, .total = total,
                      .message = (char *) message, .has_preview = preview != NULL };
  int fd = -1;
  if (preview != NULL)
    {
      m.preview = *rl_shared_tensor_desc (preview);
      fd = rl_shared_tensor_fd (preview);
    }
  RlWireWriter w;
  rl_wire_writer_init (&w);
  rl_msg_progress_encode (&m, &w);
  int status = rl_worker_link_send (link, RL_MSG_PROGRESS, request_id, &w,
                                    preview ? &fd : NULL, preview ? 1 : 0);
  rl_wire_writer_clear (&w);
  return status;
}
