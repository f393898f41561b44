#include "worker-inbox.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

typedef struct QueuedFrame QueuedFrame;
struct QueuedFrame {
  RlFrame      frame;
  QueuedFrame *next;
};

struct RlWorkerInbox {
  RlWorkerLink    *link;
  pthread_t        thread;
  pthread_mutex_t  lock;
  pthread_cond_t   changed;
  QueuedFrame     *head;
  QueuedFrame     *tail;
  bool             closed;          /* reader finished: EOF or bad frame */
  atomic_uint_fast64_t current;     /* request being executed */
  atomic_uint_fast64_t cancel_target;
  atomic_bool      stop_everything; /* SHUTDOWN or connection gone */
};

static void
push (RlWorkerInbox *inbox, const RlFrame *frame)
{
  QueuedFrame *item = calloc (1, sizeof *item);
  if (item == NULL)
    {
      RlFrame copy = *frame;
      rl_frame_clear (&copy);
      rl_worker_link_send_error (inbox->link, frame->header.request_id,
                                 RL_WIRE_NO_MEMORY, "rank %d: out of memory queuing a request",
                                 inbox->link->rank);
      return;
    }
  item->frame = *frame;
  pthread_mutex_lock (&inbox->lock);
  if (inbox->tail)
    inbox->tail->next = item;
  else
    inbox->head = item;
  inbox->tail = item;
  pthread_cond_signal (&inbox->changed);
  pthread_mutex_unlock (&inbox->lock);
}

static void
answer_heartbeat (RlWorkerInbox *inbox, RlFrame *frame)
{
  RlMsgHeartbeat beat;
  if (rl_msg_heartbeat_decode (frame->payload, frame->header.payload_size, &beat, NULL)
      != RL_WIRE_OK)
    return;
  RlWireWriter w;
  rl_wire_writer_init (&w);
  rl_msg_heartbeat_encode (&beat, &w);
  rl_worker_link_send (inbox->link, RL_MSG_HEARTBEAT_ACK, frame->header.request_id,
                       &w, NULL, 0);
  rl_wire_writer_clear (&w);
}

static void *
read_loop (void *data)
{
  RlWorkerInbox *inbox = data;
  for (;;)
    {
      RlFrame frame;
      RlErrorInfo err = { 0 };
      int status = rl_frame_recv (inbox->link->sock, &frame, -1, &err);
      if (status != RL_WIRE_OK)
        {
          if (status != RL_WIRE_PEER_CLOSED)
            fprintf (stderr, "raylight-worker[rank %d]: dropping the connection: %s\n",
                     inbox->link->rank, err.message);
          break;
        }
      switch (frame.header.type)
        {
        case RL_MSG_HEARTBEAT:
          if (!atomic_load (&inbox->link->silent))
            answer_heartbeat (inbox, &frame);
          rl_frame_clear (&frame);
          break;
        case RL_MSG_CANCEL:
          {
            RlMsgCancel cancel;
            if (rl_msg_cancel_decode (frame.payload, frame.header.payload_size,
                                      &cancel, NULL) == RL_WIRE_OK)
              atomic_store (&inbox->cancel_target, cancel.target_request_id);
            rl_frame_clear (&frame);
          }
          break;
        case RL_MSG_SHUTDOWN:
          atomic_store (&inbox->stop_everything, true);
          push (inbox, &frame);
          break;
        default:
          push (inbox, &frame);
          break;
        }
    }
  atomic_store (&inbox->stop_everything, true);
  pthread_mutex_lock (&inbox->lock);
  inbox->closed = true;
  pthread_cond_broadcast (&inbox->changed);
  pthread_mutex_unlock (&inbox->lock);
  return NULL;
}

RlWorkerInbox *
rl_worker_inbox_start (RlWorkerLink *link)
{
  RlWorkerInbox *inbox = calloc (1, sizeof *inbox);
  if (inbox == NULL)
    return NULL;
  inbox->link = link;
  pthread_mutex_init (&inbox->lock, NULL);
  pthread_cond_init (&inbox->changed, NULL);
  if (pthread_create (&inbox->thread, NULL, read_loop, inbox) != 0)
    {
      pthread_cond_destroy (&inbox->changed);
      pthread_mutex_destroy (&inbox->lock);
      free (inbox);
      return NULL;
    }
  return inbox;
}

bool
rl_worker_inbox_next (RlWorkerInbox *inbox, RlFrame *frame)
{
  pthread_mutex_lock (&inbox->lock);
  while (inbox->head == NULL && !inbox->closed)
    pthread_cond_wait (&inbox->changed, &inbox->lock);
  QueuedFrame *item = inbox->head;
  if (item != NULL)
    {
      inbox->head = item->next;
      if (inbox->head == NULL)
        inbox->tail = NULL;
    }
  pthread_mutex_unlock (&inbox->lock);
  if (item == NULL)
    return false;
  *frame = item->frame;
  free (item);
  return true;
}

void
rl_worker_inbox_begin (RlWorkerInbox *inbox, uint64_t request_id)
{
  atomic_store (&inbox->current, request_id);
}

bool
rl_worker_inbox_cancelled (RlWorkerInbox *inbox)
{
  if (atomic_load (&inbox->stop_everything))
    return true;
  uint64_t current = atomic_load (&inbox->current);
  return current != 0 && atomic_load (&inbox->cancel_target) == current;
}

void
rl_worker_inbox_go_silent (RlWorkerInbox *inbox)
{
  atomic_store (&inbox->link->silent, true);
}

void
rl_worker_inbox_free (RlWorkerInbox *inbox)
{
  if (inbox == NULL)
    return;
  shutdown (inbox->link->sock, SHUT_RDWR);
  pthread_join (inbox->thread, NULL);
  for (QueuedFrame *item = inbox->head; item != NULL;)
    {
      QueuedFrame *next = item->next;
      rl_frame_clear (&item->frame);
      free (item);
      item = next;
    }
  pthread_cond_destroy (&inbox->changed);
  pthread_mutex_destroy (&inbox->lock);
  free (inbox);
}
