/* Shared-memory backend of RlComm (comm-shm.h).
 *
 * Segment layout: ShmHeader, then RL_COMM_SHM_MAX_GROUPS ShmGroup records,
 * then one staging slot of slot_bytes per world rank. Every collective is
 * a sequence of pieces; for each piece a rank writes its contribution into
 * its own slot, all members meet at a barrier, each reads what it needs
 * from the others' slots, and a second barrier frees the slots for reuse.
 * Reductions read the slots in rank order, so every rank computes the same
 * sum in the same order: results are bitwise identical and independent of
 * timing. Point-to-point transfers use a mailbox per rank: the sender posts
 * a piece in its slot addressed to one peer and waits for that peer's
 * acknowledgement.
 *
 * Waiting is a futex on one shared "pulse" word that every state change
 * increments; waiters re-check their condition, the abort flag, the
 * deadline and whether the ranks they wait for are still alive. */
#include "workers/comm/comm-shm.h"
#include "workers/comm/comm-private.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SHM_MAGIC   0x4d4d4f43u   /* "COMM" */
#define SHM_VERSION 1u
#define SHM_ALIGN   256u
#define SHM_MESSAGE 384

typedef struct {
  _Atomic uint64_t post_seq;    /* pieces posted by this rank */
  _Atomic uint64_t ack_seq;     /* pieces of it consumed by the receiver */
  _Atomic int32_t  post_dst;    /* world rank the posted piece is for */
  _Atomic uint64_t post_bytes;
} ShmMailbox;

typedef struct {
  int32_t          size;
  int32_t          world_ranks[RL_COMM_SHM_MAX_RANKS];
  _Atomic uint64_t arrived[RL_COMM_SHM_MAX_RANKS];   /* barrier count reached */
} ShmGroup;

typedef struct {
  uint32_t         magic;
  uint32_t         version;
  int32_t          world_size;
  uint32_t         pad0;
  uint64_t         slot_bytes;
  uint64_t         slots_offset;
  uint64_t         total_bytes;
  _Atomic uint32_t pulse;                            /* futex word */
  _Atomic uint32_t groups_used;
  _Atomic int32_t  aborted;
  _Atomic int32_t  pids[RL_COMM_SHM_MAX_RANKS];
  char             abort_message[SHM_MESSAGE];
  ShmMailbox       mailboxes[RL_COMM_SHM_MAX_RANKS];
  ShmGroup         groups[RL_COMM_SHM_MAX_GROUPS];
} ShmHeader;

typedef struct {
  RlComm     base;
  ShmHeader *header;
  size_t     map_bytes;
  int        group_index;
  ShmGroup  *group;
  uint64_t   barrier_count;    /* barriers this handle has entered */
  uint64_t   op_count;         /* calls, for error messages */
  int       *refcount;         /* shared by handles of one mapping */
} ShmComm;

static const RlCommMethods shm_methods;

/* ------------------------------------------------------------ basics */

static size_t
align_up (size_t n, size_t a)
{
  return (n + a - 1) / a * a;
}

static unsigned char *
slot_of (ShmComm *c, int world_rank)
{
  return (unsigned char *) c->header + c->header->slots_offset
         + (size_t) world_rank * c->header->slot_bytes;
}

static int
world_of (ShmComm *c, int rank)
{
  return c->base.world_ranks[rank];
}

static void
pulse (ShmHeader *h)
{
  atomic_fetch_add (&h->pulse, 1);
  syscall (SYS_futex, &h->pulse, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

static int64_t
now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Records `message` as the segment's abort reason (first one wins) and
 * wakes every waiter. */
static void
abort_segment (ShmHeader *h, const char *message)
{
  int32_t expected = 0;
  if (atomic_compare_exchange_strong (&h->aborted, &expected, 1)) {
    snprintf (h->abort_message, sizeof h->abort_message, "%s", message);
    atomic_store (&h->aborted, 2);   /* message complete */
  }
  pulse (h);
}

/* ------------------------------------------------------------ waiting */

/* What a wait is for: a condition and the ranks it depends on. */
typedef struct ShmWait ShmWait;
struct ShmWait {
  const char *op;
  /* Returns true when done; otherwise writes the group ranks still
   * missing into stuck (count in *n_stuck). */
  bool      (*ready) (ShmComm *c, const ShmWait *w, int *stuck, int *n_stuck);
  uint64_t    target;      /* barrier count or mailbox sequence */
  int         peer;        /* group rank for point-to-point waits */
};

static bool
rank_is_dead (ShmComm *c, int world_rank)
{
  pid_t pid = atomic_load (&c->header->pids[world_rank]);
  return pid > 0 && kill (pid, 0) != 0 && errno == ESRCH;
}

static RlStatus
fail_wait (ShmComm *c, const ShmWait *w, const int *stuck, int n_stuck,
           const char *why)
{
  char ranks[256] = "";
  size_t used = 0;
  char message[SHM_MESSAGE];

  for (int i = 0; i < n_stuck && used + 16 < sizeof ranks; i++)
    used += (size_t) snprintf (ranks + used, sizeof ranks - used, "%s%d",
                               i > 0 ? ", " : "", world_of (c, stuck[i]));
  snprintf (message, sizeof message,
            "shm comm %s (call %llu of a %d-rank group): rank%s %s %s; "
            "seen from rank %d — the collective is aborted, restart the "
            "group", w->op, (unsigned long long) c->op_count, c->base.size,
            n_stuck > 1 ? "s" : "", ranks, why, world_of (c, c->base.rank));
  abort_segment (c->header, message);
  return rl_set_error (RL_E_DEVICE, "%s", message);
}

static RlStatus
shm_wait (ShmComm *c, const ShmWait *w)
{
  ShmHeader *h = c->header;
  int stuck[RL_COMM_SHM_MAX_RANKS];
  int n_stuck = 0;
  int64_t started = now_ms ();
  int64_t deadline = started + c->base.timeout_ms;
  int spins = 0;

  for (;;) {
    uint32_t seen = atomic_load (&h->pulse);
    if (atomic_load (&h->aborted) != 0) {
      while (atomic_load (&h->aborted) != 2)
        ;
      return rl_set_error (RL_E_DEVICE, "shm comm %s on rank %d failed: %s",
                           w->op, world_of (c, c->base.rank), h->abort_message);
    }
    if (w->ready (c, w, stuck, &n_stuck))
      return RL_OK;
    if (spins++ < 64)
      continue;
    for (int i = 0; i < n_stuck; i++)
      if (rank_is_dead (c, world_of (c, stuck[i]))) {
        /* The stuck list is from before the check: a peer may have
         * arrived and then exited (its last collective done). Look again;
         * a dead peer still missing now never comes. */
        if (w->ready (c, w, stuck, &n_stuck))
          return RL_OK;
        for (int j = 0; j < n_stuck; j++)
          if (rank_is_dead (c, world_of (c, stuck[j])))
            return fail_wait (c, w, stuck + j, 1, "exited (its process is gone)");
        break;
      }
    /* A peer that stopped at the cancel never comes: give up after a
     * second rather than at the timeout. */
    if (c->base.cancelled != NULL && now_ms () > started + 1000
        && c->base.cancelled (c->base.cancel_user))
      return fail_wait (c, w, stuck, n_stuck, "had not arrived when the request was cancelled");
    int64_t left = deadline - now_ms ();
    if (left <= 0)
      return fail_wait (c, w, stuck, n_stuck, "never arrived (timed out)");
    int64_t slice = left < 50 ? left : 50;
    struct timespec ts = { slice / 1000, (slice % 1000) * 1000000 };
    syscall (SYS_futex, &h->pulse, FUTEX_WAIT, seen, &ts, NULL, 0);
  }
}

static bool
barrier_ready (ShmComm *c, const ShmWait *w, int *stuck, int *n_stuck)
{
  *n_stuck = 0;
  for (int i = 0; i < c->base.size; i++)
    if (atomic_load (&c->group->arrived[i]) < w->target)
      stuck[(*n_stuck)++] = i;
  return *n_stuck == 0;
}

static RlStatus
group_barrier (ShmComm *c, const char *op)
{
  ShmWait w = { op, barrier_ready, ++c->barrier_count, -1 };

  atomic_store (&c->group->arrived[c->base.rank], w.target);
  pulse (c->header);
  return shm_wait (c, &w);
}

/* ------------------------------------------------------------ reductions */

static bool
shm_reduces (RlDType dtype)
{
  return dtype == RL_F32 || dtype == RL_F64 || dtype == RL_I32 || dtype == RL_I64;
}

#define DEFINE_REDUCE(name, type)                                            \
  static void name (type *acc, const type *x, size_t n, RlCommReduce op)     \
  {                                                                          \
    if (op == RL_COMM_SUM)                                                   \
      for (size_t i = 0; i < n; i++) acc[i] += x[i];                         \
    else                                                                     \
      for (size_t i = 0; i < n; i++) acc[i] = x[i] > acc[i] ? x[i] : acc[i]; \
  }
DEFINE_REDUCE (reduce_f32, float)
DEFINE_REDUCE (reduce_f64, double)
DEFINE_REDUCE (reduce_i32, int32_t)
DEFINE_REDUCE (reduce_i64, int64_t)

static void
reduce_into (void *acc, const void *x, size_t bytes, RlDType dtype,
             RlCommReduce op)
{
  switch (dtype) {
  case RL_F32: reduce_f32 (acc, x, bytes / 4, op); break;
  case RL_F64: reduce_f64 (acc, x, bytes / 8, op); break;
  case RL_I32: reduce_i32 (acc, x, bytes / 4, op); break;
  default:     reduce_i64 (acc, x, bytes / 8, op); break;
  }
}

/* Largest piece of at most `limit` bytes that is a whole number of
 * `elem` sized elements. */
static size_t
piece_bytes (size_t limit, size_t elem)
{
  return limit / elem * elem;
}

static RlStatus
shm_all_reduce (RlComm *comm, RlTensor *data, RlCommReduce op)
{
  ShmComm *c = (ShmComm *) comm;
  size_t elem = rl_dtype_block_bytes (data->dtype);
  size_t total = rl_comm_bytes (data);
  size_t piece = piece_bytes (c->header->slot_bytes, elem);
  unsigned char *bytes = data->data;
  RlStatus status;

  c->op_count++;
  for (size_t off = 0; off < total || off == 0; off += piece) {
    size_t n = total - off < piece ? total - off : piece;
    memcpy (slot_of (c, world_of (c, comm->rank)), bytes + off, n);
    if ((status = group_barrier (c, "all_reduce")) != RL_OK)
      return status;
    memcpy (bytes + off, slot_of (c, world_of (c, 0)), n);
    for (int r = 1; r < comm->size; r++)
      reduce_into (bytes + off, slot_of (c, world_of (c, r)), n, data->dtype, op);
    if ((status = group_barrier (c, "all_reduce")) != RL_OK)
      return status;
    if (total == 0)
      break;
  }
  return RL_OK;
}

static RlStatus
shm_all_reduce_host (RlComm *comm, int64_t *value, RlCommReduce op)
{
  RlTensor t = { 0 };
  int64_t one = 1;
  RlStatus status = rl_tensor_wrap (&t, value, rl_device_cpu (), RL_I64, 1, &one,
                                    NULL, NULL);
  return status != RL_OK ? status : shm_all_reduce (comm, &t, op);
}

static RlStatus
shm_all_gather (RlComm *comm, RlTensor *out, const RlTensor *in)
{
  ShmComm *c = (ShmComm *) comm;
  size_t total = rl_comm_bytes (in);
  size_t piece = piece_bytes (c->header->slot_bytes, rl_dtype_block_bytes (in->dtype));
  const unsigned char *src = in->data;
  unsigned char *dst = out->data;
  RlStatus status;

  c->op_count++;
  for (size_t off = 0; off < total; off += piece) {
    size_t n = total - off < piece ? total - off : piece;
    memcpy (slot_of (c, world_of (c, comm->rank)), src + off, n);
    if ((status = group_barrier (c, "all_gather")) != RL_OK)
      return status;
    for (int r = 0; r < comm->size; r++)
      memcpy (dst + (size_t) r * total + off, slot_of (c, world_of (c, r)), n);
    if ((status = group_barrier (c, "all_gather")) != RL_OK)
      return status;
  }
  return RL_OK;
}

static RlStatus
shm_all_to_all (RlComm *comm, RlTensor *out, const RlTensor *in)
{
  ShmComm *c = (ShmComm *) comm;
  int size = comm->size;
  size_t chunk = rl_comm_bytes (in) / (size_t) size;
  size_t elem = rl_dtype_block_bytes (in->dtype);
  size_t piece = piece_bytes (c->header->slot_bytes / (size_t) size, elem);
  const unsigned char *src = in->data;
  unsigned char *dst = out->data;
  RlStatus status;

  if (piece == 0)
    return rl_set_error (RL_E_INVALID_ARG, "shm comm all_to_all: slots of %llu "
                         "bytes cannot hold %d pieces; create the segment with "
                         "larger slots", (unsigned long long) c->header->slot_bytes,
                         size);
  c->op_count++;
  for (size_t off = 0; off < chunk; off += piece) {
    size_t n = chunk - off < piece ? chunk - off : piece;
    unsigned char *mine = slot_of (c, world_of (c, comm->rank));
    for (int j = 0; j < size; j++)
      memcpy (mine + (size_t) j * piece, src + (size_t) j * chunk + off, n);
    if ((status = group_barrier (c, "all_to_all")) != RL_OK)
      return status;
    for (int i = 0; i < size; i++)
      memcpy (dst + (size_t) i * chunk + off,
              slot_of (c, world_of (c, i)) + (size_t) comm->rank * piece, n);
    if ((status = group_barrier (c, "all_to_all")) != RL_OK)
      return status;
  }
  return RL_OK;
}

static RlStatus
shm_broadcast (RlComm *comm, RlTensor *data, int root)
{
  ShmComm *c = (ShmComm *) comm;
  size_t total = rl_comm_bytes (data);
  size_t piece = c->header->slot_bytes;
  unsigned char *bytes = data->data;
  RlStatus status;

  c->op_count++;
  for (size_t off = 0; off < total; off += piece) {
    size_t n = total - off < piece ? total - off : piece;
    if (comm->rank == root)
      memcpy (slot_of (c, world_of (c, root)), bytes + off, n);
    if ((status = group_barrier (c, "broadcast")) != RL_OK)
      return status;
    if (comm->rank != root)
      memcpy (bytes + off, slot_of (c, world_of (c, root)), n);
    if ((status = group_barrier (c, "broadcast")) != RL_OK)
      return status;
  }
  return RL_OK;
}

static RlStatus
shm_barrier (RlComm *comm)
{
  ShmComm *c = (ShmComm *) comm;
  c->op_count++;
  return group_barrier (c, "barrier");
}

/* ------------------------------------------------------- point to point */

static bool
posted_for_me (ShmComm *c, const ShmWait *w, int *stuck, int *n_stuck)
{
  ShmMailbox *box = &c->header->mailboxes[world_of (c, w->peer)];
  uint64_t posted = atomic_load (&box->post_seq);
  bool ready = posted > atomic_load (&box->ack_seq)
               && atomic_load (&box->post_dst) == world_of (c, c->base.rank);
  stuck[0] = w->peer;
  *n_stuck = ready ? 0 : 1;
  return ready;
}

static bool
acknowledged (ShmComm *c, const ShmWait *w, int *stuck, int *n_stuck)
{
  ShmMailbox *box = &c->header->mailboxes[world_of (c, c->base.rank)];
  bool ready = atomic_load (&box->ack_seq) >= w->target;
  stuck[0] = w->peer;
  *n_stuck = ready ? 0 : 1;
  return ready;
}

static RlStatus
shm_sendrecv (RlComm *comm, const RlTensor *send, int dst, RlTensor *recv,
              int src)
{
  ShmComm *c = (ShmComm *) comm;
  ShmMailbox *mine = &c->header->mailboxes[world_of (c, comm->rank)];
  ShmMailbox *theirs = src >= 0 ? &c->header->mailboxes[world_of (c, src)] : NULL;
  size_t piece = c->header->slot_bytes;
  size_t send_total = send != NULL ? rl_comm_bytes (send) : 0;
  size_t recv_total = recv != NULL ? rl_comm_bytes (recv) : 0;
  size_t send_off = 0, recv_off = 0;
  const char *op = send != NULL && recv != NULL ? "sendrecv"
                   : send != NULL ? "send" : "recv";
  RlStatus status;

  c->op_count++;
  /* Post a piece, take a piece, wait for the post to be taken: a ring of
   * such calls always makes progress because posting never blocks. */
  while (send_off < send_total || recv_off < recv_total) {
    uint64_t posted = 0;
    size_t sent = 0;
    if (send != NULL && send_off < send_total) {
      sent = send_total - send_off < piece ? send_total - send_off : piece;
      memcpy (slot_of (c, world_of (c, comm->rank)),
              (const unsigned char *) send->data + send_off, sent);
      atomic_store (&mine->post_dst, world_of (c, dst));
      atomic_store (&mine->post_bytes, sent);
      posted = atomic_fetch_add (&mine->post_seq, 1) + 1;
      pulse (c->header);
    }
    if (recv != NULL && recv_off < recv_total) {
      ShmWait w = { op, posted_for_me, 0, src };
      if ((status = shm_wait (c, &w)) != RL_OK)
        return status;
      size_t n = atomic_load (&theirs->post_bytes);
      if (n > recv_total - recv_off)
        return rl_set_error (RL_E_SHAPE, "shm comm recv from rank %d: it sent "
                             "more bytes than the %zu-byte receive buffer; "
                             "sender and receiver disagree on the tensor size",
                             world_of (c, src), recv_total);
      memcpy ((unsigned char *) recv->data + recv_off, slot_of (c, world_of (c, src)), n);
      recv_off += n;
      atomic_store (&theirs->ack_seq, atomic_load (&theirs->post_seq));
      pulse (c->header);
    }
    if (posted != 0) {
      ShmWait w = { op, acknowledged, posted, dst };
      if ((status = shm_wait (c, &w)) != RL_OK)
        return status;
      send_off += sent;
    }
  }
  return RL_OK;
}

/* ------------------------------------------------------------ split */

typedef struct {
  int32_t color;
  int32_t key;
} SplitEntry;

typedef struct {
  int32_t key;
  int32_t rank;
} SplitMember;

static int
compare_members (const void *a, const void *b)
{
  const SplitMember *x = a, *y = b;
  if (x->key != y->key)
    return x->key < y->key ? -1 : 1;
  return x->rank < y->rank ? -1 : x->rank > y->rank;
}

static int
compare_ints (const void *a, const void *b)
{
  int x = *(const int *) a, y = *(const int *) b;
  return x < y ? -1 : x > y;
}

/* Distinct non-negative colors of `entries`, sorted; returns the count. */
static int
distinct_colors (const SplitEntry *entries, int n, int *colors)
{
  int count = 0;
  for (int i = 0; i < n; i++)
    if (entries[i].color >= 0)
      colors[count++] = entries[i].color;
  qsort (colors, (size_t) count, sizeof *colors, compare_ints);
  int unique = 0;
  for (int i = 0; i < count; i++)
    if (unique == 0 || colors[unique - 1] != colors[i])
      colors[unique++] = colors[i];
  return unique;
}

/* Members of group `color` in (key, parent rank) order. */
static int
members_of (const SplitEntry *entries, int n, int color, SplitMember *members)
{
  int count = 0;
  for (int i = 0; i < n; i++)
    if (entries[i].color == color)
      members[count++] = (SplitMember) { entries[i].key, i };
  qsort (members, (size_t) count, sizeof *members, compare_members);
  return count;
}

static RlStatus
new_handle (ShmHeader *header, size_t map_bytes, int *refcount,
            int group_index, int rank, int timeout_ms, ShmComm **out)
{
  ShmComm *c = calloc (1, sizeof *c);
  ShmGroup *group = &header->groups[group_index];
  RlStatus status;

  if (c == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "shm comm: handle");
  status = rl_comm_init_base (&c->base, &shm_methods, rank, group->size,
                              group->world_ranks, rl_device_cpu (), timeout_ms);
  if (status != RL_OK) {
    free (c);
    return status;
  }
  c->header = header;
  c->map_bytes = map_bytes;
  c->group_index = group_index;
  c->group = group;
  c->refcount = refcount;
  (*refcount)++;
  *out = c;
  return RL_OK;
}

static RlStatus
shm_split (RlComm *comm, int color, int key, RlComm **out)
{
  ShmComm *c = (ShmComm *) comm;
  ShmHeader *h = c->header;
  int size = comm->size;
  SplitEntry entries[RL_COMM_SHM_MAX_RANKS];
  SplitMember members[RL_COMM_SHM_MAX_RANKS];
  int colors[RL_COMM_SHM_MAX_RANKS];
  int64_t *base_slot = (int64_t *) (slot_of (c, world_of (c, 0)) + SHM_ALIGN);
  RlStatus status;

  c->op_count++;
  if (h->slot_bytes < 2 * SHM_ALIGN)
    return rl_set_error (RL_E_INVALID_ARG, "shm comm split: slots too small");
  memcpy (slot_of (c, world_of (c, comm->rank)),
          &(SplitEntry) { color < 0 ? -1 : color, key }, sizeof (SplitEntry));
  if ((status = group_barrier (c, "split")) != RL_OK)
    return status;
  for (int r = 0; r < size; r++)
    memcpy (&entries[r], slot_of (c, world_of (c, r)), sizeof (SplitEntry));
  int n_colors = distinct_colors (entries, size, colors);
  if (comm->rank == 0) {
    /* The first rank reserves and fills the records of every new group;
     * the others learn the base index after the next barrier. */
    uint32_t base = atomic_fetch_add (&h->groups_used, (uint32_t) n_colors);
    if (base + (uint32_t) n_colors > RL_COMM_SHM_MAX_GROUPS) {
      *base_slot = -1;
    } else {
      for (int g = 0; g < n_colors; g++) {
        ShmGroup *group = &h->groups[base + (uint32_t) g];
        int n = members_of (entries, size, colors[g], members);
        group->size = n;
        for (int m = 0; m < n; m++) {
          group->world_ranks[m] = world_of (c, members[m].rank);
          atomic_store (&group->arrived[m], 0);
        }
      }
      *base_slot = base;
    }
  }
  if ((status = group_barrier (c, "split")) != RL_OK)
    return status;
  int64_t base = *base_slot;
  if ((status = group_barrier (c, "split")) != RL_OK)
    return status;
  if (base < 0)
    return rl_set_error (RL_E_NO_MEMORY, "shm comm split: the segment's %d "
                         "group records are used up; create a new segment "
                         "for this job", RL_COMM_SHM_MAX_GROUPS);
  if (color < 0)
    return RL_OK;
  int g = 0;
  while (colors[g] != color)
    g++;
  int n = members_of (entries, size, color, members);
  int my_rank = 0;
  while (members[my_rank].rank != comm->rank)
    my_rank++;
  (void) n;
  ShmComm *child;
  status = new_handle (h, c->map_bytes, c->refcount, (int) base + g, my_rank,
                       comm->timeout_ms, &child);
  if (status == RL_OK)
    *out = &child->base;
  return status;
}

/* ------------------------------------------------------------ lifetime */

static void
shm_free (RlComm *comm)
{
  ShmComm *c = (ShmComm *) comm;
  if (--(*c->refcount) == 0) {
    munmap (c->header, c->map_bytes);
    free (c->refcount);
  }
  rl_comm_free_base (comm);
  free (c);
}

static const RlCommMethods shm_methods = {
  .name = "shm",
  .all_reduce = shm_all_reduce,
  .all_reduce_host = shm_all_reduce_host,
  .all_gather = shm_all_gather,
  .all_to_all = shm_all_to_all,
  .broadcast = shm_broadcast,
  .sendrecv = shm_sendrecv,
  .barrier = shm_barrier,
  .split = shm_split,
  .free = shm_free,
  .reduces = shm_reduces,
};

RlStatus
rl_comm_shm_segment_new (int world_size, size_t slot_bytes, int *fd_out)
{
  if (fd_out == NULL || world_size < 1 || world_size > RL_COMM_SHM_MAX_RANKS)
    return rl_set_error (RL_E_INVALID_ARG, "shm comm: world size %d is "
                         "outside 1..%d", world_size, RL_COMM_SHM_MAX_RANKS);
  slot_bytes = align_up (slot_bytes != 0 ? slot_bytes : RL_COMM_SHM_DEFAULT_SLOT_BYTES,
                         SHM_ALIGN);
  if (slot_bytes < 2 * SHM_ALIGN)
    slot_bytes = 2 * SHM_ALIGN;
  size_t slots_offset = align_up (sizeof (ShmHeader), SHM_ALIGN);
  size_t total = slots_offset + slot_bytes * (size_t) world_size;

  int fd = memfd_create ("raylight-comm", MFD_CLOEXEC);
  if (fd < 0)
    return rl_set_error (RL_E_IO, "shm comm: memfd_create failed: %s",
                         strerror (errno));
  if (ftruncate (fd, (off_t) total) != 0) {
    int err = errno;
    close (fd);
    return rl_set_error (RL_E_NO_MEMORY, "shm comm: sizing the %zu-byte "
                         "segment failed: %s", total, strerror (err));
  }
  ShmHeader *h = mmap (NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (h == MAP_FAILED) {
    int err = errno;
    close (fd);
    return rl_set_error (RL_E_NO_MEMORY, "shm comm: mapping the segment "
                         "failed: %s", strerror (err));
  }
  /* memfd pages start zeroed: only the non-zero fields need writing. */
  h->magic = SHM_MAGIC;
  h->version = SHM_VERSION;
  h->world_size = world_size;
  h->slot_bytes = slot_bytes;
  h->slots_offset = slots_offset;
  h->total_bytes = total;
  h->groups[0].size = world_size;
  for (int r = 0; r < world_size; r++)
    h->groups[0].world_ranks[r] = r;
  atomic_store (&h->groups_used, 1);
  munmap (h, total);
  *fd_out = fd;
  return RL_OK;
}

RlStatus
rl_comm_shm_attach (int fd, int rank, int world_size, RlComm **out)
{
  ShmHeader probe;
  if (out == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "shm comm attach: out is NULL");
  *out = NULL;
  if (pread (fd, &probe, sizeof probe, 0) != (ssize_t) sizeof probe
      || probe.magic != SHM_MAGIC)
    return rl_set_error (RL_E_FORMAT, "shm comm attach: descriptor %d is not "
                         "a comm segment (create it with "
                         "rl_comm_shm_segment_new)", fd);
  if (probe.version != SHM_VERSION)
    return rl_set_error (RL_E_VERSION, "shm comm attach: segment version %u, "
                         "this worker speaks %u", probe.version, SHM_VERSION);
  if (probe.world_size != world_size || rank < 0 || rank >= world_size)
    return rl_set_error (RL_E_INVALID_ARG, "shm comm attach: rank %d of %d "
                         "does not fit the segment's %d ranks", rank,
                         world_size, probe.world_size);
  size_t total = probe.total_bytes;
  ShmHeader *h = mmap (NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (h == MAP_FAILED)
    return rl_set_error (RL_E_NO_MEMORY, "shm comm attach: mapping %zu bytes "
                         "failed: %s", total, strerror (errno));
  int *refcount = calloc (1, sizeof *refcount);
  ShmComm *c = NULL;
  RlStatus status = refcount != NULL
                    ? new_handle (h, total, refcount, 0, rank, 0, &c)
                    : rl_set_error (RL_E_NO_MEMORY, "shm comm attach");
  if (status != RL_OK) {
    free (refcount);
    munmap (h, total);
    return status;
  }
  atomic_store (&h->pids[rank], (int32_t) getpid ());
  *out = &c->base;
  return RL_OK;
}

RlStatus
rl_comm_shm_attach_path (const char *path, int rank, int world_size, RlComm **out)
{
  if (path == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "shm comm attach: path is NULL");
  int fd = open (path, O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return rl_set_error (RL_E_NOT_FOUND, "shm comm attach: cannot open %s: %s",
                         path, strerror (errno));
  /* The mapping keeps the segment alive; the descriptor is not needed. */
  RlStatus status = rl_comm_shm_attach (fd, rank, world_size, out);
  close (fd);
  if (status != RL_OK)
    rl_prefix_error (status, "%s: ", path);
  return status;
}
