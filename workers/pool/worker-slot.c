#include "worker-slot.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "workers/protocol/fd-passing.h"
#include "workers/protocol/frame.h"
#include "worker-spawn.h"

#define CONTROL_SEND_TIMEOUT_MS 2000
#define RESTART_BACKOFF_MAX_MS  5000

/* The one request a worker runs at a time. Guarded by RlWorkerSlot.lock,
 * except progress/user_data, guarded by progress_lock so a caller that
 * gives up can detach its callback while the supervisor may be calling it. */
typedef struct {
  bool               active;     /* claimed by a caller */
  bool               done;       /* answer, crash or hang recorded */
  bool               abandoned;  /* caller timed out; drop the late answer */
  uint64_t           id;
  uint16_t           type;
  int                status;
  char               message[RL_ERROR_INFO_MESSAGE_SIZE];
  RlPoolResult       result;
  RlPoolProgressFunc progress;
  void              *user_data;
} PendingRequest;

struct RlWorkerSlot {
  RlPoolShared    *shared;
  int              rank;
  int              device_id;
  pthread_t        thread;
  bool             joined;
  int              wake_fd;

  pthread_mutex_t  lock;          /* everything below unless noted */
  pthread_cond_t   changed;
  pthread_mutex_t  send_lock;     /* writes to sock; closing sock */
  pthread_mutex_t  progress_lock;
  RlWorkerState    state;
  pid_t            pid;
  int              pidfd;
  int              sock;
  uint64_t         generation;    /* bumped whenever sock is replaced */
  int              restarts;
  int              failure_code;
  char             last_error[RL_ERROR_INFO_MESSAGE_SIZE];
  RlMsgHello       hello;
  PendingRequest   pending;
  uint64_t         next_request_id;

  /* Supervisor thread only. */
  int64_t          last_heard_ms;
  int64_t          last_beat_ms;
  uint64_t         beat_sequence;
};

static bool
stopping (const RlWorkerSlot *worker)
{
  return atomic_load (&worker->shared->stopping);
}

static void
set_state (RlWorkerSlot *worker, RlWorkerState state)
{
  worker->state = state;
  pthread_cond_broadcast (&worker->changed);
}

/* Tells the pool's owner about a lifecycle change (no lock held). */
static void
notify (RlWorkerSlot *worker, RlWorkerState state, pid_t pid, const char *message)
{
  const RlPoolOptions *options = &worker->shared->options;
  RlPoolEvent event = { .rank = worker->rank, .state = state, .pid = (int) pid,
                        .message = message ? message : "" };
  if (options->on_event != NULL)
    options->on_event (&event, options->event_data);
  else if (message != NULL && message[0] != '\0')
    fprintf (stderr, "raylight pool: %s\n", message);
}

/* Records the outcome of the pending request (lock held). */
static void
complete_pending (RlWorkerSlot *worker, int status, const char *message,
                  RlPoolResult *result)
{
  PendingRequest *pending = &worker->pending;
  if (!pending->active || pending->done)
    {
      if (result)
        rl_pool_result_clear (result);
      return;
    }
  if (pending->abandoned)
    {
      if (result)
        rl_pool_result_clear (result);
      memset (pending, 0, sizeof *pending);
      pthread_cond_broadcast (&worker->changed);
      return;
    }
  pending->done = true;
  pending->status = status;
  snprintf (pending->message, sizeof pending->message, "%s", message ? message : "");
  if (result)
    {
      pending->result = *result;
      memset (result, 0, sizeof *result);
    }
  pthread_cond_broadcast (&worker->changed);
}

/* Closes the connection and process handles (supervisor thread). */
static void
drop_process (RlWorkerSlot *worker)
{
  pthread_mutex_lock (&worker->send_lock);
  pthread_mutex_lock (&worker->lock);
  if (worker->sock >= 0)
    close (worker->sock);
  if (worker->pidfd >= 0)
    close (worker->pidfd);
  worker->sock = -1;
  worker->pidfd = -1;
  worker->pid = 0;
  worker->generation++;
  pthread_mutex_unlock (&worker->lock);
  pthread_mutex_unlock (&worker->send_lock);
}

/* The process died or hung: reap it, fail its request, mark it for restart. */
static void
lose_process (RlWorkerSlot *worker, int code, const char *why)
{
  char how[160];
  pid_t pid = worker->pid;
  if (code == RL_WIRE_HUNG || code == RL_WIRE_BAD_MESSAGE)
    rl_spawn_signal (pid, worker->pidfd, SIGKILL);
  rl_spawn_reap (pid, worker->pidfd, worker->shared->options.shutdown_grace_ms, how,
                 sizeof how);
  char message[RL_ERROR_INFO_MESSAGE_SIZE];
  pthread_mutex_lock (&worker->lock);
  const char *request = worker->pending.active && !worker->pending.done
                          ? rl_message_type_name (worker->pending.type) : NULL;
  if (why != NULL)
    snprintf (message, sizeof message, "rank %d (pid %d) %s; it %s%s%s; restarting it",
              worker->rank, (int) pid, why, how, request ? " during " : "",
              request ? request : "");
  else
    snprintf (message, sizeof message, "rank %d (pid %d) %s%s%s; restarting it",
              worker->rank, (int) pid, how, request ? " during " : "",
              request ? request : "");
  snprintf (worker->last_error, sizeof worker->last_error, "%s", message);
  worker->failure_code = code;
  complete_pending (worker, code, message, NULL);
  set_state (worker, RL_WORKER_CRASHED);
  pthread_mutex_unlock (&worker->lock);
  drop_process (worker);
  notify (worker, RL_WORKER_CRASHED, pid, message);
}

/* After a failed send the stream may hold half a frame, so nothing more
 * can be said on it: shut it down (send lock held), which the supervisor
 * sees as the worker going away, and the worker is replaced. Failures that
 * happen before any byte leaves (bad arguments) keep the connection. */
static void
break_connection_after (RlWorkerSlot *worker, int status)
{
  if (status == RL_WIRE_OK || status == RL_WIRE_INVALID || worker->sock < 0)
    return;
  shutdown (worker->sock, SHUT_RDWR);
}

/* Sends a payload-less or small control frame under the send lock. */
static int
send_control (RlWorkerSlot *worker, uint16_t type, uint64_t request_id,
              const RlWireWriter *w)
{
  pthread_mutex_lock (&worker->send_lock);
  int status = RL_WIRE_PEER_CLOSED;
  if (worker->sock >= 0)
    {
      status = rl_frame_send (worker->sock, type, request_id, w ? w->data : NULL,
                              w ? w->size : 0, NULL, 0, CONTROL_SEND_TIMEOUT_MS, NULL);
      break_connection_after (worker, status);
    }
  pthread_mutex_unlock (&worker->send_lock);
  return status;
}

/* ------------------------------------------------------------ handshake */

static int
refuse (RlWorkerSlot *worker, int sock, const char *why)
{
  RlMsgHelloAck ack = { .accepted = 0, .rank = (uint32_t) worker->rank,
                        .message = (char *) why };
  RlWireWriter w;
  rl_wire_writer_init (&w);
  rl_msg_hello_ack_encode (&ack, &w);
  rl_msg_send (sock, RL_MSG_HELLO_ACK, 0, &w, NULL, 0, CONTROL_SEND_TIMEOUT_MS, NULL);
  rl_wire_writer_clear (&w);
  return RL_WIRE_AUTH;
}

static bool
tokens_equal (const char *a, const char *b)
{
  size_t length = strlen (b);
  if (a == NULL || strlen (a) != length)
    return false;
  unsigned char difference = 0;
  for (size_t i = 0; i < length; i++)
    difference |= (unsigned char) (a[i] ^ b[i]);
  return difference == 0;
}

/* The NCCL id of a GPU pool: rank 0 made it and sent it in its HELLO; the
 * other ranks wait (within the start deadline) for rank 0's handshake to
 * publish it. An error names rank 0 when it never does. */
static int
exchange_nccl_id (RlWorkerSlot *worker, const RlMsgHello *hello, int64_t deadline,
                  unsigned char *id, RlErrorInfo *err)
{
  RlPoolShared *shared = worker->shared;
  pthread_mutex_lock (&shared->nccl_lock);
  if (worker->rank == 0)
    {
      if (hello->nccl_id_size != RL_PROTOCOL_NCCL_ID_SIZE)
        {
          pthread_mutex_unlock (&shared->nccl_lock);
          return rl_error_set (err, RL_WIRE_NOT_SUPPORTED,
                               "rank 0 brought no NCCL id in its HELLO: a parallel pool of GPU "
                               "workers needs a raylight-worker built with CUDA and NCCL");
        }
      memcpy (shared->nccl_id, hello->nccl_id, RL_PROTOCOL_NCCL_ID_SIZE);
      shared->have_nccl_id = true;
      pthread_cond_broadcast (&shared->nccl_cond);
    }
  while (!shared->have_nccl_id && !stopping (worker) && rl_monotonic_ms () < deadline)
    {
      struct timespec until;
      clock_gettime (CLOCK_REALTIME, &until);
      until.tv_nsec += 50 * 1000000L;
      if (until.tv_nsec >= 1000000000L)
        {
          until.tv_sec++;
          until.tv_nsec -= 1000000000L;
        }
      pthread_cond_timedwait (&shared->nccl_cond, &shared->nccl_lock, &until);
    }
  bool have = shared->have_nccl_id;
  if (have)
    memcpy (id, shared->nccl_id, RL_PROTOCOL_NCCL_ID_SIZE);
  pthread_mutex_unlock (&shared->nccl_lock);
  if (!have)
    return rl_error_set (err, RL_WIRE_TIMEOUT,
                         "rank %d: rank 0 never said hello with the NCCL id the GPU workers "
                         "join their collectives with (did rank 0 fail to start?)",
                         worker->rank);
  return RL_WIRE_OK;
}

/* Reads HELLO from a fresh connection, checks it, answers HELLO_ACK. */
static int
handshake (RlWorkerSlot *worker, int sock, pid_t pid, const char *token,
           int64_t deadline, RlMsgHello *hello, RlErrorInfo *err)
{
  int left = (int) (deadline - rl_monotonic_ms ());
  RlFrame frame;
  int status = rl_frame_recv (sock, &frame, left > 0 ? left : 0, err);
  if (status != RL_WIRE_OK)
    {
      rl_error_prefix (err, "rank %d (pid %d) did not say hello: ", worker->rank, (int) pid);
      return status;
    }
  if (frame.header.type == RL_MSG_ERROR)
    {
      RlMsgError refusal;
      if (rl_msg_error_decode (frame.payload, frame.header.payload_size, &refusal, err)
          == RL_WIRE_OK)
        {
          status = rl_error_set (err, refusal.code, "%s (rank %d refused to start)",
                                 refusal.message, worker->rank);
          rl_msg_error_clear (&refusal);
        }
      rl_frame_clear (&frame);
      return status;
    }
  if (frame.header.type != RL_MSG_HELLO)
    {
      status = rl_error_set (err, RL_WIRE_BAD_MESSAGE,
                             "rank %d (pid %d) sent %s instead of HELLO", worker->rank,
                             (int) pid, rl_message_type_name (frame.header.type));
      rl_frame_clear (&frame);
      return status;
    }
  status = rl_msg_hello_decode (frame.payload, frame.header.payload_size, hello, err);
  rl_frame_clear (&frame);
  if (status != RL_WIRE_OK)
    return status;
  if (!tokens_equal (hello->token, token))
    {
      refuse (worker, sock, "wrong auth token: this socket belongs to another raylight pool");
      rl_msg_hello_clear (hello);
      return rl_error_set (err, RL_WIRE_AUTH,
                           "rank %d (pid %d) presented a wrong auth token; the pool "
                           "refused it (a worker serves only the pool that started it)",
                           worker->rank, (int) pid);
    }
  if (hello->pid != (uint32_t) pid || hello->rank != (uint32_t) worker->rank)
    {
      refuse (worker, sock, "pid or rank does not match the spawned worker");
      status = rl_error_set (err, RL_WIRE_AUTH,
                             "rank %d: HELLO claims rank %u pid %u but the pool spawned "
                             "pid %d; refused", worker->rank, hello->rank, hello->pid,
                             (int) pid);
      rl_msg_hello_clear (hello);
      return status;
    }
  const RlPoolOptions *o = &worker->shared->options;
  /* A restarted worker cannot join collectives its peers set up long ago
   * (and a crash aborts the segment): it comes up without them, and the
   * pool's owner restarts the whole pool before the next parallel job. */
  const int comm_fd = worker->restarts == 0 ? worker->shared->comm_fd : -1;
  unsigned char nccl_id[RL_PROTOCOL_NCCL_ID_SIZE];
  bool with_nccl = worker->restarts == 0 && worker->shared->uses_nccl;
  if (with_nccl)
    {
      status = exchange_nccl_id (worker, hello, deadline, nccl_id, err);
      if (status != RL_WIRE_OK)
        {
          refuse (worker, sock, err->message);
          rl_msg_hello_clear (hello);
          return status;
        }
    }
  RlMsgHelloAck ack = { .accepted = 1, .rank = (uint32_t) worker->rank,
                        .world_size = (uint32_t) o->n_workers,
                        .message = "welcome",
                        .has_comm = comm_fd >= 0,
                        .comm_timeout_ms = (uint32_t) o->comm_timeout_ms,
                        .nccl_id = with_nccl ? nccl_id : NULL,
                        .nccl_id_size = with_nccl ? sizeof nccl_id : 0 };
  rl_msg_parallel_init (&ack.parallel);
  ack.parallel.ulysses_degree = (uint32_t) o->ulysses_degree;
  ack.parallel.ring_degree = (uint32_t) o->ring_degree;
  ack.parallel.cfg_degree = (uint32_t) o->cfg_degree;
  ack.parallel.data_degree = (uint32_t) o->data_degree;
  ack.parallel.fsdp_degree = (uint32_t) o->fsdp_degree;
  ack.parallel.cpu_offload = o->cpu_offload ? 1 : 0;
  ack.parallel.attention = (char *) (o->attention ? o->attention : "");
  RlWireWriter w;
  rl_wire_writer_init (&w);
  rl_msg_hello_ack_encode (&ack, &w);
  status = rl_msg_send (sock, RL_MSG_HELLO_ACK, 0, &w, comm_fd >= 0 ? &comm_fd : NULL,
                        comm_fd >= 0 ? 1 : 0, CONTROL_SEND_TIMEOUT_MS, err);
  rl_wire_writer_clear (&w);
  if (status != RL_WIRE_OK)
    rl_msg_hello_clear (hello);
  return status;
}

/* Only the process we spawned may connect: checked with SO_PEERCRED. */
static bool
peer_is (int sock, pid_t pid)
{
  struct ucred credentials;
  socklen_t length = sizeof credentials;
  return getsockopt (sock, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0
         && credentials.pid == pid;
}

/* Waits for the spawned process to connect and pass the handshake. */
static int
accept_worker (RlWorkerSlot *worker, int listen_fd, pid_t pid, int pidfd,
               const char *token, int64_t deadline, int *sock_out,
               RlMsgHello *hello, RlErrorInfo *err)
{
  for (;;)
    {
      if (stopping (worker))
        return rl_error_set (err, RL_WIRE_STOPPED, "the pool is shutting down");
      int64_t left = deadline - rl_monotonic_ms ();
      if (left <= 0)
        return rl_error_set (err, RL_WIRE_TIMEOUT,
                             "rank %d (pid %d) did not say hello within %d ms",
                             worker->rank, (int) pid,
                             worker->shared->options.start_timeout_ms);
      struct pollfd fds[3] = {
        { .fd = listen_fd, .events = POLLIN },
        { .fd = pidfd, .events = POLLIN },
        { .fd = worker->wake_fd, .events = POLLIN },
      };
      int slice = pidfd < 0 && left > 50 ? 50 : (int) left;
      if (poll (fds, 3, slice) < 0 && errno != EINTR)
        return rl_error_set (err, RL_WIRE_IO, "poll failed: %s", strerror (errno));
      if (pidfd < 0 && rl_spawn_has_exited (pid, -1, 0))
        fds[1].revents = POLLIN;
      if (fds[2].revents & POLLIN)
        {
          uint64_t count;
          if (read (worker->wake_fd, &count, sizeof count) < 0)
            continue;
        }
      if (fds[0].revents & POLLIN)
        {
          int sock = accept4 (listen_fd, NULL, NULL, SOCK_CLOEXEC);
          if (sock < 0)
            continue;
          if (!peer_is (sock, pid))
            {
              close (sock);
              continue;
            }
          int status = handshake (worker, sock, pid, token, deadline, hello, err);
          if (status != RL_WIRE_OK)
            {
              close (sock);
              return status;
            }
          *sock_out = sock;
          return RL_WIRE_OK;
        }
      if (fds[1].revents & POLLIN)
        return rl_error_set (err, RL_WIRE_CRASHED,
                             "rank %d (pid %d) ended before saying hello (see its "
                             "messages on stderr)", worker->rank, (int) pid);
    }
}

/* Spawns a process and waits for a good HELLO. */
static int
start_process (RlWorkerSlot *worker, RlErrorInfo *err)
{
  const RlPoolOptions *options = &worker->shared->options;
  char socket_path[256];
  snprintf (socket_path, sizeof socket_path, "%s/worker-%d.sock",
            worker->shared->runtime_dir, worker->rank);
  char token[RL_PROTOCOL_TOKEN_LENGTH + 1];
  int status = rl_spawn_check_binary (options->worker_path, err);
  if (status != RL_WIRE_OK || (status = rl_spawn_make_token (token, err)) != RL_WIRE_OK)
    return status;
  int listen_fd = rl_spawn_listen (socket_path, err);
  if (listen_fd < 0)
    return err->code;

  RlSpawnRequest request = {
    .worker_path = options->worker_path,
    .socket_path = socket_path,
    .rank = worker->rank,
    .world_size = options->n_workers,
    .backend = worker->shared->backend_name,
    .device_id = worker->device_id,
    .memory_budget = options->memory_budget,
    .envp = worker->shared->envp,
  };
  pid_t pid;
  int pidfd;
  status = rl_spawn_worker (&request, token, &pid, &pidfd, err);
  if (status != RL_WIRE_OK)
    {
      close (listen_fd);
      unlink (socket_path);
      return status;
    }
  pthread_mutex_lock (&worker->lock);
  worker->pid = pid;
  worker->pidfd = pidfd;
  set_state (worker, RL_WORKER_STARTING);
  pthread_mutex_unlock (&worker->lock);
  notify (worker, RL_WORKER_STARTING, pid, NULL);

  int sock = -1;
  RlMsgHello hello;
  status = accept_worker (worker, listen_fd, pid, pidfd, token,
                          rl_deadline_after (options->start_timeout_ms), &sock, &hello, err);
  close (listen_fd);
  unlink (socket_path);
  if (status != RL_WIRE_OK)
    {
      char how[160];
      rl_spawn_reap (pid, pidfd, status == RL_WIRE_CRASHED ? 1000 : 0, how, sizeof how);
      if (status == RL_WIRE_CRASHED)
        rl_error_set (err, status, "rank %d (pid %d) %s before saying hello (see its "
                      "messages on stderr)", worker->rank, (int) pid, how);
      drop_process (worker);
      return status;
    }
  pthread_mutex_lock (&worker->lock);
  rl_msg_hello_clear (&worker->hello);
  worker->hello = hello;
  worker->sock = sock;
  worker->generation++;
  worker->last_error[0] = '\0';
  worker->failure_code = RL_WIRE_OK;
  set_state (worker, RL_WORKER_READY);
  pthread_mutex_unlock (&worker->lock);
  worker->last_heard_ms = rl_monotonic_ms ();
  worker->last_beat_ms = worker->last_heard_ms;
  notify (worker, RL_WORKER_READY, pid, NULL);
  return RL_WIRE_OK;
}

/* SHUTDOWN, then SIGTERM, then SIGKILL; always reaps. */
static void
stop_process (RlWorkerSlot *worker)
{
  if (worker->pid <= 0)
    return;
  int grace = worker->shared->options.shutdown_grace_ms;
  send_control (worker, RL_MSG_SHUTDOWN, 0, NULL);
  if (!rl_spawn_has_exited (worker->pid, worker->pidfd, grace))
    {
      rl_spawn_signal (worker->pid, worker->pidfd, SIGTERM);
      rl_spawn_has_exited (worker->pid, worker->pidfd, grace);
    }
  char how[160];
  rl_spawn_reap (worker->pid, worker->pidfd, 0, how, sizeof how);
  drop_process (worker);
}

/* ------------------------------------------------------------ serving */

static void
deliver_progress (RlWorkerSlot *worker, RlFrame *frame)
{
  pthread_mutex_lock (&worker->lock);
  bool current = worker->pending.active && !worker->pending.done
                 && !worker->pending.abandoned
                 && worker->pending.id == frame->header.request_id;
  pthread_mutex_unlock (&worker->lock);
  if (!current)
    return;
  RlMsgProgress message;
  if (rl_msg_progress_decode (frame->payload, frame->header.payload_size, &message, NULL)
      != RL_WIRE_OK)
    return;
  RlSharedTensor *preview = NULL;
  if (message.has_preview && frame->n_fds == 1)
    {
      preview = rl_shared_tensor_from_fd (frame->fds[0], &message.preview, NULL);
      frame->fds[0] = -1;
    }
  RlPoolProgress progress = {
    .rank = worker->rank, .kind = message.kind, .done = message.done,
    .total = message.total, .message = message.message, .preview = preview,
  };
  pthread_mutex_lock (&worker->progress_lock);
  if (worker->pending.progress != NULL)
    worker->pending.progress (&progress, worker->pending.user_data);
  pthread_mutex_unlock (&worker->progress_lock);
  rl_shared_tensor_free (preview);
  rl_msg_progress_clear (&message);
}

/* Turns a RESULT frame into an RlPoolResult, mapping its tensors. */
static int
take_result (RlWorkerSlot *worker, RlFrame *frame, RlPoolResult *result, RlErrorInfo *err)
{
  memset (result, 0, sizeof *result);
  RlMsgResult message;
  int status = rl_msg_result_decode (frame->payload, frame->header.payload_size, &message, err);
  if (status != RL_WIRE_OK)
    return status;
  if ((int) message.n_tensors != frame->n_fds)
    {
      rl_msg_result_clear (&message);
      return rl_error_set (err, RL_WIRE_BAD_MESSAGE,
                           "RESULT lists %u tensors but %d descriptors came with it",
                           message.n_tensors, frame->n_fds);
    }
  result->data = message.data;
  result->data_size = message.data_size;
  message.data = NULL;
  for (uint32_t i = 0; i < message.n_tensors; i++)
    {
      int fd = frame->fds[i];
      frame->fds[i] = -1;
      result->tensors[i] = rl_shared_tensor_from_fd (fd, &message.tensors[i], err);
      if (result->tensors[i] == NULL)
        {
          rl_pool_result_clear (result);
          rl_msg_result_clear (&message);
          return err->code;
        }
      result->n_tensors++;
    }
  rl_msg_result_clear (&message);
  return RL_WIRE_OK;
}

static void
deliver_answer (RlWorkerSlot *worker, RlFrame *frame)
{
  RlErrorInfo err = { 0 };
  RlPoolResult result;
  int status;
  if (frame->header.type == RL_MSG_RESULT)
    status = take_result (worker, frame, &result, &err);
  else
    {
      RlMsgError failure;
      status = rl_msg_error_decode (frame->payload, frame->header.payload_size, &failure, &err);
      if (status == RL_WIRE_OK)
        {
          status = rl_error_set (&err, failure.code, "%s", failure.message);
          rl_msg_error_clear (&failure);
        }
    }
  pthread_mutex_lock (&worker->lock);
  if (worker->pending.active && worker->pending.id == frame->header.request_id)
    {
      if (worker->state == RL_WORKER_BUSY)
        set_state (worker, RL_WORKER_READY);
      complete_pending (worker, status, err.message,
                        status == RL_WIRE_OK ? &result : NULL);
    }
  else if (status == RL_WIRE_OK)
    rl_pool_result_clear (&result);
  pthread_mutex_unlock (&worker->lock);
}

static void
dispatch (RlWorkerSlot *worker, RlFrame *frame)
{
  switch (frame->header.type)
    {
    case RL_MSG_HEARTBEAT_ACK:
      break;
    case RL_MSG_PROGRESS:
      deliver_progress (worker, frame);
      break;
    case RL_MSG_RESULT:
    case RL_MSG_ERROR:
      deliver_answer (worker, frame);
      break;
    default:
      fprintf (stderr, "raylight pool: rank %d sent an unexpected %s; ignored\n",
               worker->rank, rl_message_type_name (frame->header.type));
      break;
    }
}

static void
send_heartbeat (RlWorkerSlot *worker)
{
  RlMsgHeartbeat beat = { .sequence = ++worker->beat_sequence };
  RlWireWriter w;
  rl_wire_writer_init (&w);
  rl_msg_heartbeat_encode (&beat, &w);
  send_control (worker, RL_MSG_HEARTBEAT, 0, &w);
  rl_wire_writer_clear (&w);
  worker->last_beat_ms = rl_monotonic_ms ();
}

/* One turn of the supervisor while the process runs: read what arrived,
 * notice death, send or check heartbeats. */
static void
serve_once (RlWorkerSlot *worker)
{
  const RlPoolOptions *options = &worker->shared->options;
  int64_t now = rl_monotonic_ms ();
  int64_t wait = worker->last_beat_ms + options->heartbeat_interval_ms - now;
  struct pollfd fds[3] = {
    { .fd = worker->sock, .events = POLLIN },
    { .fd = worker->pidfd, .events = POLLIN },
    { .fd = worker->wake_fd, .events = POLLIN },
  };
  if (worker->pidfd < 0 && wait > 50)
    wait = 50;   /* no pidfd: look for an exit every 50 ms */
  int ready = poll (fds, 3, wait > 0 ? (int) wait : 0);
  if (ready < 0 && errno != EINTR)
    return;
  if (worker->pidfd < 0 && rl_spawn_has_exited (worker->pid, -1, 0))
    fds[1].revents = POLLIN;
  if (fds[2].revents & POLLIN)
    {
      uint64_t count;
      if (read (worker->wake_fd, &count, sizeof count) < 0)
        return;
    }
  if (stopping (worker))
    return;
  if (fds[0].revents & (POLLIN | POLLHUP | POLLERR))
    {
      RlFrame frame;
      RlErrorInfo err = { 0 };
      int status = rl_frame_recv (worker->sock, &frame, options->heartbeat_timeout_ms, &err);
      if (status == RL_WIRE_PEER_CLOSED)
        {
          lose_process (worker, RL_WIRE_CRASHED, NULL);
          return;
        }
      if (status != RL_WIRE_OK)
        {
          char why[RL_ERROR_INFO_MESSAGE_SIZE];
          snprintf (why, sizeof why, "broke the protocol (%.300s), so the pool killed it",
                    err.message);
          lose_process (worker, status == RL_WIRE_TIMEOUT ? RL_WIRE_HUNG : RL_WIRE_BAD_MESSAGE,
                        why);
          return;
        }
      worker->last_heard_ms = rl_monotonic_ms ();
      dispatch (worker, &frame);
      rl_frame_clear (&frame);
      /* Time spent in our own progress callbacks is not the worker's silence. */
      worker->last_heard_ms = rl_monotonic_ms ();
      return;
    }
  if (fds[1].revents & POLLIN)
    {
      lose_process (worker, RL_WIRE_CRASHED, NULL);
      return;
    }
  now = rl_monotonic_ms ();
  if (now - worker->last_heard_ms > options->heartbeat_timeout_ms)
    {
      char why[128];
      snprintf (why, sizeof why,
                "stopped answering (no reply to heartbeats for %lld ms), so the pool killed it",
                (long long) (now - worker->last_heard_ms));
      lose_process (worker, RL_WIRE_HUNG, why);
      return;
    }
  if (now - worker->last_beat_ms >= options->heartbeat_interval_ms)
    send_heartbeat (worker);
}

/* Sleeps up to ms unless woken for shutdown. */
static void
nap (RlWorkerSlot *worker, int ms)
{
  struct pollfd pfd = { .fd = worker->wake_fd, .events = POLLIN };
  poll (&pfd, 1, ms);
}

static void
wait_for_stop (RlWorkerSlot *worker)
{
  while (!stopping (worker))
    nap (worker, 1000);
}

static bool
is_permanent (int code)
{
  return code == RL_WIRE_NOT_FOUND || code == RL_WIRE_NOT_SUPPORTED
         || code == RL_WIRE_VERSION_MISMATCH;
}

static void
fail_for_good (RlWorkerSlot *worker, int code, const char *message)
{
  pthread_mutex_lock (&worker->lock);
  snprintf (worker->last_error, sizeof worker->last_error, "%s", message);
  worker->failure_code = code;
  set_state (worker, RL_WORKER_FAILED);
  pthread_mutex_unlock (&worker->lock);
  notify (worker, RL_WORKER_FAILED, 0, message);
}

static void *
supervise (void *data)
{
  RlWorkerSlot *worker = data;
  const RlPoolOptions *options = &worker->shared->options;
  bool ever_ready = false;
  int failures_in_a_row = 0;
  while (!stopping (worker))
    {
      if (worker->sock >= 0)
        {
          serve_once (worker);
          continue;
        }
      if (ever_ready && worker->restarts >= options->max_restarts)
        {
          char message[RL_ERROR_INFO_MESSAGE_SIZE];
          snprintf (message, sizeof message,
                    "rank %d was restarted %d times and is not restarted again; last "
                    "error: %.300s", worker->rank, worker->restarts, worker->last_error);
          fail_for_good (worker, RL_WIRE_CRASHED, message);
          wait_for_stop (worker);
          break;
        }
      if (failures_in_a_row > 0)
        {
          int backoff = 250 << (failures_in_a_row < 5 ? failures_in_a_row : 5);
          nap (worker, backoff < RESTART_BACKOFF_MAX_MS ? backoff : RESTART_BACKOFF_MAX_MS);
          if (stopping (worker))
            break;
        }
      if (ever_ready)
        {
          pthread_mutex_lock (&worker->lock);
          worker->restarts++;
          pthread_mutex_unlock (&worker->lock);
        }
      RlErrorInfo err = { 0 };
      int status = start_process (worker, &err);
      if (status == RL_WIRE_OK)
        {
          ever_ready = true;
          failures_in_a_row = 0;
          continue;
        }
      if (stopping (worker))
        break;
      if (!ever_ready || is_permanent (status))
        {
          fail_for_good (worker, status, err.message);
          wait_for_stop (worker);
          break;
        }
      pthread_mutex_lock (&worker->lock);
      snprintf (worker->last_error, sizeof worker->last_error, "%s", err.message);
      pthread_mutex_unlock (&worker->lock);
      failures_in_a_row++;
    }
  stop_process (worker);
  pthread_mutex_lock (&worker->lock);
  complete_pending (worker, RL_WIRE_STOPPED, "the pool is shutting down", NULL);
  bool failed = worker->state == RL_WORKER_FAILED;
  if (!failed)
    set_state (worker, RL_WORKER_STOPPED);
  pthread_cond_broadcast (&worker->changed);
  pthread_mutex_unlock (&worker->lock);
  if (!failed)
    notify (worker, RL_WORKER_STOPPED, 0, NULL);
  return NULL;
}

/* ------------------------------------------------------------ public */

RlWorkerSlot *
rl_worker_slot_start (RlPoolShared *shared, int rank, int device_id, RlErrorInfo *err)
{
  RlWorkerSlot *worker = calloc (1, sizeof *worker);
  if (worker == NULL)
    {
      rl_error_set (err, RL_WIRE_NO_MEMORY, "out of memory");
      return NULL;
    }
  worker->shared = shared;
  worker->rank = rank;
  worker->device_id = device_id;
  worker->sock = -1;
  worker->pidfd = -1;
  worker->wake_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  pthread_mutex_init (&worker->lock, NULL);
  pthread_mutex_init (&worker->send_lock, NULL);
  pthread_mutex_init (&worker->progress_lock, NULL);
  pthread_condattr_t attributes;
  pthread_condattr_init (&attributes);
  pthread_condattr_setclock (&attributes, CLOCK_MONOTONIC);
  pthread_cond_init (&worker->changed, &attributes);
  pthread_condattr_destroy (&attributes);
  worker->state = RL_WORKER_STARTING;
  if (worker->wake_fd < 0 || pthread_create (&worker->thread, NULL, supervise, worker) != 0)
    {
      rl_error_set (err, RL_WIRE_IO, "cannot start the supervisor thread of rank %d", rank);
      if (worker->wake_fd >= 0)
        close (worker->wake_fd);
      free (worker);
      return NULL;
    }
  return worker;
}

void
rl_worker_slot_wake (RlWorkerSlot *worker)
{
  uint64_t one = 1;
  if (write (worker->wake_fd, &one, sizeof one) < 0)
    return;
  pthread_mutex_lock (&worker->lock);
  pthread_cond_broadcast (&worker->changed);
  pthread_mutex_unlock (&worker->lock);
}

void
rl_worker_slot_join (RlWorkerSlot *worker)
{
  if (worker == NULL || worker->joined)
    return;
  pthread_join (worker->thread, NULL);
  worker->joined = true;
}

void
rl_worker_slot_free (RlWorkerSlot *worker)
{
  if (worker == NULL)
    return;
  rl_worker_slot_join (worker);
  rl_pool_result_clear (&worker->pending.result);
  rl_msg_hello_clear (&worker->hello);
  close (worker->wake_fd);
  pthread_cond_destroy (&worker->changed);
  pthread_mutex_destroy (&worker->progress_lock);
  pthread_mutex_destroy (&worker->send_lock);
  pthread_mutex_destroy (&worker->lock);
  free (worker);
}

void
rl_worker_slot_info (RlWorkerSlot *worker, RlWorkerInfo *info)
{
  memset (info, 0, sizeof *info);
  pthread_mutex_lock (&worker->lock);
  info->rank = worker->rank;
  info->device_id = worker->device_id;
  info->state = worker->state;
  info->pid = (int) worker->pid;
  info->restarts = worker->restarts;
  snprintf (info->backend, sizeof info->backend, "%s",
            worker->hello.backend ? worker->hello.backend : "");
  snprintf (info->device_name, sizeof info->device_name, "%s",
            worker->hello.device_name ? worker->hello.device_name : "");
  info->total_memory = worker->hello.total_memory;
  info->free_memory = worker->hello.free_memory;
  info->compute_major = worker->hello.compute_major;
  info->compute_minor = worker->hello.compute_minor;
  snprintf (info->last_error, sizeof info->last_error, "%s", worker->last_error);
  pthread_mutex_unlock (&worker->lock);
}

bool
rl_worker_slot_is_running (RlWorkerSlot *worker)
{
  pthread_mutex_lock (&worker->lock);
  bool running = worker->state == RL_WORKER_READY || worker->state == RL_WORKER_BUSY;
  pthread_mutex_unlock (&worker->lock);
  return running;
}

/* Waits on the condition until deadline (-1: forever); false on timeout.
 * Lock held. */
static bool
wait_changed (RlWorkerSlot *worker, int64_t deadline_ms)
{
  if (deadline_ms < 0)
    {
      pthread_cond_wait (&worker->changed, &worker->lock);
      return true;
    }
  if (rl_monotonic_ms () >= deadline_ms)
    return false;
  struct timespec until = { .tv_sec = deadline_ms / 1000,
                            .tv_nsec = (long) (deadline_ms % 1000) * 1000000L };
  pthread_cond_timedwait (&worker->changed, &worker->lock, &until);
  return true;
}

/* Fails with the worker's standing error when it cannot serve (lock held). */
static int
unavailable (RlWorkerSlot *worker, RlErrorInfo *err)
{
  if (stopping (worker) || worker->state == RL_WORKER_STOPPED)
    return rl_error_set (err, RL_WIRE_STOPPED, "rank %d: the pool is shut down", worker->rank);
  if (worker->state == RL_WORKER_FAILED)
    return rl_error_set (err, worker->failure_code ? worker->failure_code : RL_WIRE_CRASHED,
                         "%s", worker->last_error);
  return RL_WIRE_OK;
}

int
rl_worker_slot_wait_ready (RlWorkerSlot *worker, int64_t deadline_ms, RlErrorInfo *err)
{
  pthread_mutex_lock (&worker->lock);
  int status = RL_WIRE_OK;
  while (worker->state != RL_WORKER_READY && worker->state != RL_WORKER_BUSY)
    {
      status = unavailable (worker, err);
      if (status != RL_WIRE_OK)
        break;
      if (!wait_changed (worker, deadline_ms))
        {
          status = rl_error_set (err, RL_WIRE_TIMEOUT, "rank %d is still %s%s%s",
                                 worker->rank, rl_worker_state_name (worker->state),
                                 worker->last_error[0] ? " after: " : "", worker->last_error);
          break;
        }
    }
  pthread_mutex_unlock (&worker->lock);
  return status;
}

uint64_t
rl_worker_slot_begin (RlWorkerSlot *worker, uint16_t type, const RlWireWriter *payload,
                      const int *fds, int n_fds, RlPoolProgressFunc progress,
                      void *user_data, int64_t deadline_ms, RlErrorInfo *err)
{
  pthread_mutex_lock (&worker->lock);
  while (worker->state != RL_WORKER_READY || worker->pending.active)
    {
      if (unavailable (worker, err) != RL_WIRE_OK)
        {
          pthread_mutex_unlock (&worker->lock);
          return 0;
        }
      if (!wait_changed (worker, deadline_ms))
        {
          rl_error_set (err, RL_WIRE_TIMEOUT, "rank %d stayed %s; %s was not sent",
                        worker->rank, worker->pending.active ? "busy with another request"
                                                             : rl_worker_state_name (worker->state),
                        rl_message_type_name (type));
          pthread_mutex_unlock (&worker->lock);
          return 0;
        }
    }
  uint64_t id = ++worker->next_request_id;
  memset (&worker->pending, 0, sizeof worker->pending);
  worker->pending.active = true;
  worker->pending.id = id;
  worker->pending.type = type;
  set_state (worker, RL_WORKER_BUSY);
  uint64_t generation = worker->generation;
  pthread_mutex_unlock (&worker->lock);

  pthread_mutex_lock (&worker->progress_lock);
  worker->pending.progress = progress;
  worker->pending.user_data = user_data;
  pthread_mutex_unlock (&worker->progress_lock);

  RlErrorInfo send_err = { 0 };
  pthread_mutex_lock (&worker->send_lock);
  int status = RL_WIRE_CRASHED;
  if (worker->generation == generation && worker->sock >= 0)
    {
      status = rl_msg_send (worker->sock, type, id, payload, fds, n_fds,
                            worker->shared->options.heartbeat_timeout_ms, &send_err);
      break_connection_after (worker, status);
    }
  pthread_mutex_unlock (&worker->send_lock);
  if (status != RL_WIRE_OK)
    {
      pthread_mutex_lock (&worker->lock);
      if (status == RL_WIRE_INVALID)
        {
          /* Nothing reached the worker: it stays usable. */
          if (worker->state == RL_WORKER_BUSY)
            set_state (worker, RL_WORKER_READY);
        }
      if (worker->pending.id == id && !worker->pending.done)
        {
          char message[RL_ERROR_INFO_MESSAGE_SIZE];
          snprintf (message, sizeof message, "rank %d: cannot send %s: %.400s", worker->rank,
                    rl_message_type_name (type),
                    send_err.message[0] ? send_err.message : "the worker went away");
          complete_pending (worker, status, message, NULL);
        }
      pthread_mutex_unlock (&worker->lock);
    }
  return id;
}

bool
rl_worker_slot_wait_done (RlWorkerSlot *worker, uint64_t id, int64_t deadline_ms)
{
  pthread_mutex_lock (&worker->lock);
  while (worker->pending.id == id && !worker->pending.done)
    if (!wait_changed (worker, deadline_ms))
      break;
  bool done = worker->pending.id != id || worker->pending.done;
  pthread_mutex_unlock (&worker->lock);
  return done;
}

int
rl_worker_slot_finish (RlWorkerSlot *worker, uint64_t id, int64_t deadline_ms,
                       RlPoolResult *result, RlErrorInfo *err)
{
  pthread_mutex_lock (&worker->lock);
  while (!(worker->pending.id == id && worker->pending.done))
    {
      if (worker->pending.id != id)
        {
          pthread_mutex_unlock (&worker->lock);
          return rl_error_set (err, RL_WIRE_INTERNAL, "rank %d lost request %llu",
                               worker->rank, (unsigned long long) id);
        }
      if (!wait_changed (worker, deadline_ms))
        {
          uint16_t type = worker->pending.type;
          worker->pending.abandoned = true;
          pthread_mutex_unlock (&worker->lock);
          pthread_mutex_lock (&worker->progress_lock);
          worker->pending.progress = NULL;
          worker->pending.user_data = NULL;
          pthread_mutex_unlock (&worker->progress_lock);
          RlMsgCancel cancel = { .target_request_id = id };
          RlWireWriter w;
          rl_wire_writer_init (&w);
          rl_msg_cancel_encode (&cancel, &w);
          send_control (worker, RL_MSG_CANCEL, id, &w);
          rl_wire_writer_clear (&w);
          return rl_error_set (err, RL_WIRE_TIMEOUT,
                               "rank %d did not finish %s in time; the request was cancelled",
                               worker->rank, rl_message_type_name (type));
        }
    }
  /* Done: the slot stays claimed, so no other caller can install a
   * callback while this one is detached outside the state lock (a progress
   * callback may itself take the state lock, e.g. through rl_pool_cancel). */
  pthread_mutex_unlock (&worker->lock);
  pthread_mutex_lock (&worker->progress_lock);
  worker->pending.progress = NULL;
  worker->pending.user_data = NULL;
  pthread_mutex_unlock (&worker->progress_lock);

  pthread_mutex_lock (&worker->lock);
  int status = worker->pending.status;
  if (status != RL_WIRE_OK)
    rl_error_set (err, status, "%s", worker->pending.message);
  if (result != NULL && status == RL_WIRE_OK)
    *result = worker->pending.result;
  else
    rl_pool_result_clear (&worker->pending.result);
  memset (&worker->pending, 0, sizeof worker->pending);
  pthread_cond_broadcast (&worker->changed);
  pthread_mutex_unlock (&worker->lock);
  return status;
}

void
rl_worker_slot_cancel (RlWorkerSlot *worker)
{
  pthread_mutex_lock (&worker->lock);
  uint64_t id = worker->pending.active && !worker->pending.done ? worker->pending.id : 0;
  pthread_mutex_unlock (&worker->lock);
  if (id == 0)
    return;
  RlMsgCancel cancel = { .target_request_id = id };
  RlWireWriter w;
  rl_wire_writer_init (&w);
  rl_msg_cancel_encode (&cancel, &w);
  send_control (worker, RL_MSG_CANCEL, id, &w);
  rl_wire_writer_clear (&w);
}
