/* NCCL backend of RlComm (comm-nccl.h).
 *
 * Every communicator is created non-blocking (config.blocking = 0), so an
 * NCCL call returns at once and progress is observed with
 * ncclCommGetAsyncError and cudaStreamQuery. That polling loop is the
 * watchdog: past the deadline it aborts the communicator (ncclCommAbort)
 * and reports the operation, its call number and the ranks involved. The
 * pool compares the call numbers that each rank reports to find the rank
 * that fell behind. */
#include "workers/comm/comm-nccl.h"
#include "workers/comm/comm-private.h"

#include <cuda_runtime_api.h>
/* nccl.h declares ncclGroupStart () and friends without "void". */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <nccl.h>
#pragma GCC diagnostic pop
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

_Static_assert (sizeof (ncclUniqueId) == RL_COMM_NCCL_ID_BYTES,
                "NCCL unique id size changed");

/* The blocking collectives whose time is counted (rl_comm_nccl_stats). */
static const char *const stat_ops[] = { "all_reduce", "all_gather", "all_to_all", "broadcast",
                                        "sendrecv" };
enum { STAT_OPS = sizeof stat_ops / sizeof stat_ops[0] };

typedef struct {
  RlComm       base;
  ncclComm_t   nccl;
  cudaStream_t stream;
  int          cuda_device;
  int64_t     *scratch;        /* one device i64: barriers, host reductions */
  /* When set (rl_comm_nccl_order_after), a call waits only for the work
   * queued on this stream, through order_event, instead of the device. */
  cudaStream_t order_stream;
  cudaEvent_t  order_event;
  uint64_t     op_count;
  bool         aborted;
  const char  *pending_op;     /* name of the started transfer */
  char         peers[64];      /* its peers, for the timeout message */
  /* Per blocking collective: calls, bytes and the time from its launch to
   * its completion; apart, the time spent waiting for queued compute
   * before collectives. Printed at free with RAYLIGHT_COMM_STATS=1. */
  int          stat_op;        /* index into stat_ops of the running call, or -1 */
  uint64_t     stat_pending_bytes;
  int64_t      stat_started_ns;
  RlCommNcclStats stats[STAT_OPS];
  int64_t      compute_wait_ns;
  /* Exchange groups (rl_comm_split_exchange): zero-CTA policy, and the
   * symmetric window their all-to-alls run from on the copy engines. */
  bool         exchange_group;
  void        *window;
  size_t       window_bytes;
  ncclWindow_t window_handle;
  uint64_t     window_calls;   /* all-to-alls that ran from the window */
} NcclComm;

static const RlCommMethods nccl_methods;

static int64_t
now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
stat_index (const char *op)
{
  if (strcmp (op, "send") == 0 || strcmp (op, "recv") == 0)
    op = "sendrecv";
  for (int i = 0; i < STAT_OPS; i++)
    if (strcmp (stat_ops[i], op) == 0)
      return i;
  return -1;
}

static int64_t
now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* NVLS needs multicast objects (cuMulticastCreate) that the driver setups
 * we run on do not provide; NCCL must never try it. */
static void
disable_nvls (void)
{
  setenv ("NCCL_NVLS_ENABLE", "0", 1);
}

static RlStatus
cuda_status (cudaError_t err, const char *what)
{
  if (err == cudaSuccess)
    return RL_OK;
  return rl_set_error (err == cudaErrorMemoryAllocation ? RL_E_DEVICE_OOM : RL_E_DEVICE,
                       "nccl comm: %s: %s", what, cudaGetErrorString (err));
}

static RlStatus
abort_with (NcclComm *c, const char *op, const char *why)
{
  if (!c->aborted && c->nccl != NULL)
    ncclCommAbort (c->nccl);
  c->aborted = true;
  c->nccl = NULL;
  return rl_set_error (RL_E_DEVICE, "nccl comm %s (call %llu) on rank %d of "
                       "%d (world rank %d): %s — the communicator is "
                       "aborted, restart the group", op,
                       (unsigned long long) c->op_count, c->base.rank,
                       c->base.size, rl_comm_world_rank (&c->base, c->base.rank),
                       why);
}

/* Waits for the communicator's pending NCCL work (and, when `stream_too`,
 * for its stream) to finish, within the timeout. `peers` names the ranks
 * this call depends on, for the message. */
/* Pauses between two polls of a waiting call: none for its first
 * POLL_SPIN_NS (a Ulysses exchange or a ring step finishes within a
 * millisecond or two, and a sleep of even 50 µs wakes up 100 µs late under
 * the default timer slack, while the GPU idles behind the blocking call),
 * then short sleeps so that a long wait costs no CPU. */
#define POLL_SPIN_NS ((int64_t) 2000000)

static void
poll_pause (int64_t started_ns)
{
  if (now_ns () - started_ns < POLL_SPIN_NS)
    sched_yield ();
  else
    usleep (50);
}

static RlStatus
nccl_wait (NcclComm *c, const char *op, bool stream_too, const char *peers)
{
  int64_t started_ns = now_ns ();
  int64_t started = now_ms ();
  int64_t deadline = started + c->base.timeout_ms;
  char why[256];

  for (;;) {
    ncclResult_t state = ncclSuccess;
    ncclResult_t r = ncclCommGetAsyncError (c->nccl, &state);
    if (r != ncclSuccess)
      state = r;
    if (state != ncclSuccess && state != ncclInProgress) {
      snprintf (why, sizeof why, "NCCL reported %s (%s)",
                ncclGetErrorString (state), ncclGetLastError (c->nccl));
      return abort_with (c, op, why);
    }
    if (state == ncclSuccess) {
      cudaError_t q = stream_too ? cudaStreamQuery (c->stream) : cudaSuccess;
      if (q == cudaSuccess)
        return RL_OK;
      if (q != cudaErrorNotReady) {
        snprintf (why, sizeof why, "CUDA error %s", cudaGetErrorString (q));
        return abort_with (c, op, why);
      }
    }
    if (c->base.cancelled != NULL && now_ms () > started + 1000
        && c->base.cancelled (c->base.cancel_user)) {
      snprintf (why, sizeof why, "the request was cancelled while %s had not "
                "arrived", peers);
      return abort_with (c, op, why);
    }
    if (now_ms () > deadline) {
      snprintf (why, sizeof why, "not complete after %d ms: %s never "
                "arrived (the rank with the lowest call number is stuck)",
                c->base.timeout_ms, peers);
      return abort_with (c, op, why);
    }
    poll_pause (started_ns);
  }
}

static RlStatus
nccl_begin (NcclComm *c, const char *op)
{
  if (c->aborted)
    return rl_set_error (RL_E_DEVICE, "nccl comm %s: the communicator was "
                         "aborted by an earlier failure; restart the group", op);
  c->op_count++;
  RlStatus status = cuda_status (cudaSetDevice (c->cuda_device), "cudaSetDevice");
  if (status != RL_OK)
    return status;
  /* The input was produced on the compute stream: let it finish first —
   * on the device, after the order stream's queued work, when one is set
   * (the host does not wait, and work queued later may overlap);
   * otherwise by waiting for the whole device. */
  int64_t before = now_ns ();
  if (c->order_stream != NULL) {
    status = cuda_status (cudaEventRecord (c->order_event, c->order_stream),
                          "ordering a collective after compute");
    if (status == RL_OK)
      status = cuda_status (cudaStreamWaitEvent (c->stream, c->order_event, 0),
                            "ordering a collective after compute");
  } else {
    status = cuda_status (cudaDeviceSynchronize (), "waiting for compute before a collective");
  }
  c->stat_started_ns = now_ns ();
  c->compute_wait_ns += c->stat_started_ns - before;
  c->stat_op = stat_index (op);
  c->stat_pending_bytes = 0;
  return status;
}

static RlStatus
nccl_call (NcclComm *c, const char *op, ncclResult_t r, const char *peers)
{
  char why[256];
  if (r != ncclSuccess && r != ncclInProgress) {
    snprintf (why, sizeof why, "NCCL refused the call: %s (%s)",
              ncclGetErrorString (r), ncclGetLastError (c->nccl));
    return abort_with (c, op, why);
  }
  RlStatus status = nccl_wait (c, op, true, peers);
  if (status == RL_OK && c->stat_op >= 0) {
    RlCommNcclStats *st = &c->stats[c->stat_op];
    double ms = (double) (now_ns () - c->stat_started_ns) * 1e-6;
    if (st->calls == 0)
      st->first_ms = ms;
    st->calls++;
    st->bytes += c->stat_pending_bytes;
    st->ms += ms;
  }
  c->stat_op = -1;
  return status;
}

static bool
nccl_type (RlDType dtype, ncclDataType_t *out)
{
  switch (dtype) {
  case RL_F32:  *out = ncclFloat32; return true;
  case RL_F64:  *out = ncclFloat64; return true;
  case RL_F16:  *out = ncclFloat16; return true;
  case RL_BF16: *out = ncclBfloat16; return true;
  case RL_I32:  *out = ncclInt32; return true;
  case RL_I64:  *out = ncclInt64; return true;
  default:      return false;
  }
}

static bool
nccl_reduces (RlDType dtype)
{
  ncclDataType_t t;
  return nccl_type (dtype, &t);
}

static RlStatus
nccl_all_reduce (RlComm *comm, RlTensor *data, RlCommReduce op)
{
  NcclComm *c = (NcclComm *) comm;
  ncclDataType_t type = ncclFloat32;
  RlStatus status = nccl_begin (c, "all_reduce");

  if (status != RL_OK)
    return status;
  nccl_type (data->dtype, &type);
  c->stat_pending_bytes = rl_comm_bytes (data);
  return nccl_call (c, "all_reduce",
                    ncclAllReduce (data->data, data->data, (size_t) rl_tensor_numel (data),
                                   type, op == RL_COMM_SUM ? ncclSum : ncclMax,
                                   c->nccl, c->stream),
                    "a rank of the group");
}

static RlStatus
nccl_all_reduce_host (RlComm *comm, int64_t *value, RlCommReduce op)
{
  NcclComm *c = (NcclComm *) comm;
  RlStatus status = nccl_begin (c, "all_reduce_host");

  if (status != RL_OK
      || (status = cuda_status (cudaMemcpy (c->scratch, value, sizeof *value,
                                            cudaMemcpyHostToDevice),
                                "all_reduce_host upload")) != RL_OK
      || (status = nccl_call (c, "all_reduce_host",
                              ncclAllReduce (c->scratch, c->scratch, 1, ncclInt64,
                                             op == RL_COMM_SUM ? ncclSum : ncclMax,
                                             c->nccl, c->stream),
                              "a rank of the group")) != RL_OK)
    return status;
  return cuda_status (cudaMemcpy (value, c->scratch, sizeof *value, cudaMemcpyDeviceToHost),
                      "all_reduce_host download");
}

static RlStatus
nccl_all_gather (RlComm *comm, RlTensor *out, const RlTensor *in)
{
  NcclComm *c = (NcclComm *) comm;
  RlStatus status = nccl_begin (c, "all_gather");

  if (status != RL_OK)
    return status;
  c->stat_pending_bytes = rl_comm_bytes (out);
  return nccl_call (c, "all_gather",
                    ncclAllGather (in->data, out->data, rl_comm_bytes (in), ncclInt8,
                                   c->nccl, c->stream),
                    "a rank of the group");
}

static bool
in_window (const NcclComm *c, const RlTensor *t)
{
  const char *begin = c->window, *data = t->data;
  return begin != NULL && data >= begin && data + rl_comm_bytes (t) <= begin + c->window_bytes;
}

/* Enqueues n all-to-alls as one group, one chunk per peer and pair (this
 * rank's own chunk included). When every buffer lies in the symmetric
 * window of a zero-CTA group, each pair is one ncclAlltoAll, which NCCL
 * moves with the copy engines; otherwise grouped sends and receives on
 * NCCL's kernels. */
static ncclResult_t
enqueue_all_to_all (NcclComm *c, int n, RlTensor *const *outs, const RlTensor *const *ins)
{
  ncclResult_t r = ncclSuccess;
  bool windowed = true;
  for (int t = 0; t < n; t++)
    windowed = windowed && in_window (c, ins[t]) && in_window (c, outs[t]);

  ncclGroupStart ();
  if (windowed) {
    c->window_calls++;
    for (int t = 0; t < n && (r == ncclSuccess || r == ncclInProgress); t++)
      r = ncclAlltoAll (ins[t]->data, outs[t]->data,
                        rl_comm_bytes (ins[t]) / (size_t) c->base.size, ncclInt8, c->nccl,
                        c->stream);
  }
  for (int j = 0; !windowed && j < c->base.size; j++)
    for (int t = 0; t < n && (r == ncclSuccess || r == ncclInProgress); t++) {
      size_t chunk = rl_comm_bytes (ins[t]) / (size_t) c->base.size;
      r = ncclSend ((const char *) ins[t]->data + (size_t) j * chunk, chunk, ncclInt8, j,
                    c->nccl, c->stream);
      if (r == ncclSuccess || r == ncclInProgress)
        r = ncclRecv ((char *) outs[t]->data + (size_t) j * chunk, chunk, ncclInt8, j,
                      c->nccl, c->stream);
    }
  ncclResult_t end = ncclGroupEnd ();
  return r != ncclSuccess && r != ncclInProgress ? r : end;
}

static RlStatus
nccl_all_to_all_many (RlComm *comm, int n, RlTensor *const *outs, const RlTensor *const *ins,
                      bool start)
{
  NcclComm *c = (NcclComm *) comm;
  char why[256];
  RlStatus status = nccl_begin (c, "all_to_all");

  if (status != RL_OK)
    return status;
  if (!start) {
    c->stat_pending_bytes = 0;
    for (int t = 0; t < n; t++)
      c->stat_pending_bytes += rl_comm_bytes (ins[t]);
    return nccl_call (c, "all_to_all", enqueue_all_to_all (c, n, outs, ins),
                      "a rank of the group");
  }
  c->stat_op = -1;   /* overlapped with compute: its time is not the transfer's */
  c->pending_op = "all_to_all";
  snprintf (c->peers, sizeof c->peers, "a rank of the group");
  ncclResult_t r = enqueue_all_to_all (c, n, outs, ins);
  if (r != ncclSuccess && r != ncclInProgress) {
    snprintf (why, sizeof why, "NCCL refused the call: %s (%s)",
              ncclGetErrorString (r), ncclGetLastError (c->nccl));
    return abort_with (c, "all_to_all", why);
  }
  return RL_OK;
}

static RlStatus
nccl_all_to_all (RlComm *comm, RlTensor *out, const RlTensor *in)
{
  return nccl_all_to_all_many (comm, 1, &out, &in, false);
}

static RlStatus
nccl_broadcast (RlComm *comm, RlTensor *data, int root)
{
  NcclComm *c = (NcclComm *) comm;
  char peers[64];
  RlStatus status = nccl_begin (c, "broadcast");

  if (status != RL_OK)
    return status;
  snprintf (peers, sizeof peers, "root rank %d or another rank", root);
  c->stat_pending_bytes = rl_comm_bytes (data);
  return nccl_call (c, "broadcast",
                    ncclBroadcast (data->data, data->data, rl_comm_bytes (data),
                                   ncclInt8, root, c->nccl, c->stream),
                    peers);
}

/* Enqueues the grouped send/recv on the communicator's stream; *peers
 * names the ranks involved for messages. */
static ncclResult_t
enqueue_sendrecv (NcclComm *c, const RlTensor *send, int dst, RlTensor *recv,
                  int src)
{
  ncclResult_t r = ncclSuccess;

  ncclGroupStart ();
  if (send != NULL)
    r = ncclSend (send->data, rl_comm_bytes (send), ncclInt8, dst, c->nccl, c->stream);
  if (recv != NULL && (r == ncclSuccess || r == ncclInProgress))
    r = ncclRecv (recv->data, rl_comm_bytes (recv), ncclInt8, src, c->nccl, c->stream);
  ncclResult_t end = ncclGroupEnd ();
  return r != ncclSuccess && r != ncclInProgress ? r : end;
}

static const char *
sendrecv_name (const RlTensor *send, const RlTensor *recv)
{
  return send != NULL && recv != NULL ? "sendrecv" : send != NULL ? "send" : "recv";
}

static void
describe_peers (NcclComm *c, const RlTensor *send, int dst, const RlTensor *recv, int src)
{
  if (send != NULL && recv != NULL)
    snprintf (c->peers, sizeof c->peers, "peer ranks %d / %d", dst, src);
  else
    snprintf (c->peers, sizeof c->peers, "peer rank %d", send != NULL ? dst : src);
}

static RlStatus
nccl_sendrecv (RlComm *comm, const RlTensor *send, int dst, RlTensor *recv,
               int src)
{
  NcclComm *c = (NcclComm *) comm;
  const char *op = sendrecv_name (send, recv);
  RlStatus status = nccl_begin (c, op);

  if (status != RL_OK)
    return status;
  describe_peers (c, send, dst, recv, src);
  c->stat_pending_bytes = (send != NULL ? rl_comm_bytes (send) : 0)
                          + (recv != NULL ? rl_comm_bytes (recv) : 0);
  return nccl_call (c, op, enqueue_sendrecv (c, send, dst, recv, src), c->peers);
}

static RlStatus
nccl_sendrecv_start (RlComm *comm, const RlTensor *send, int dst, RlTensor *recv,
                     int src)
{
  NcclComm *c = (NcclComm *) comm;
  const char *op = sendrecv_name (send, recv);
  char why[256];
  RlStatus status = nccl_begin (c, op);

  if (status != RL_OK)
    return status;
  describe_peers (c, send, dst, recv, src);
  c->stat_op = -1;   /* overlapped with compute: its time is not the transfer's */
  c->pending_op = op;
  ncclResult_t r = enqueue_sendrecv (c, send, dst, recv, src);
  if (r != ncclSuccess && r != ncclInProgress) {
    snprintf (why, sizeof why, "NCCL refused the call: %s (%s)",
              ncclGetErrorString (r), ncclGetLastError (c->nccl));
    return abort_with (c, op, why);
  }
  return RL_OK;
}

static RlStatus
nccl_wait_started (RlComm *comm)
{
  NcclComm *c = (NcclComm *) comm;
  if (c->aborted)
    return rl_set_error (RL_E_DEVICE, "nccl comm %s: the communicator was "
                         "aborted by an earlier failure; restart the group",
                         c->pending_op);
  return nccl_wait (c, c->pending_op, true, c->peers);
}

static RlStatus
nccl_barrier (RlComm *comm)
{
  NcclComm *c = (NcclComm *) comm;
  RlStatus status = nccl_begin (c, "barrier");

  if (status != RL_OK)
    return status;
  return nccl_call (c, "barrier",
                    ncclAllReduce (c->scratch, c->scratch, 1, ncclInt64, ncclSum,
                                   c->nccl, c->stream),
                    "a rank of the group");
}

static ncclConfig_t
nonblocking_config (void)
{
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  return config;
}

/* A handle around an NCCL communicator whose initialisation is under way:
 * waits for it, then creates the stream and scratch. Takes `nccl`. */
static RlStatus
finish_handle (ncclComm_t nccl, int rank, int size, const int *world_ranks,
               int cuda_device, int timeout_ms, const char *op, RlComm **out)
{
  NcclComm *c = calloc (1, sizeof *c);
  RlStatus status;

  if (c == NULL) {
    ncclCommAbort (nccl);
    return rl_set_error (RL_E_NO_MEMORY, "nccl comm: handle");
  }
  status = rl_comm_init_base (&c->base, &nccl_methods, rank, size, world_ranks,
                              rl_device_cuda (cuda_device), timeout_ms);
  c->nccl = nccl;
  c->cuda_device = cuda_device;
  c->stat_op = -1;
  if (status == RL_OK)
    status = nccl_wait (c, op, false, "a rank of the group");
  if (status == RL_OK)
    status = cuda_status (cudaStreamCreateWithFlags (&c->stream, cudaStreamNonBlocking),
                          "creating the communication stream");
  if (status == RL_OK)
    status = cuda_status (cudaMalloc ((void **) &c->scratch, sizeof (int64_t)),
                          "barrier scratch");
  if (status != RL_OK) {
    nccl_methods.free (&c->base);
    return status;
  }
  *out = &c->base;
  return RL_OK;
}

static RlStatus
split_with (RlComm *comm, int color, int key, bool exchange_group, RlComm **out)
{
  NcclComm *c = (NcclComm *) comm;
  ncclConfig_t config = nonblocking_config ();
  ncclComm_t child = NULL;
  if (exchange_group)
    config.CTAPolicy = NCCL_CTA_POLICY_ZERO;
  char why[256];
  RlStatus status = nccl_begin (c, "split");

  if (status != RL_OK)
    return status;
  ncclResult_t r = ncclCommSplit (c->nccl, color < 0 ? NCCL_SPLIT_NOCOLOR : color,
                                  key, &child, &config);
  if (r != ncclSuccess && r != ncclInProgress) {
    snprintf (why, sizeof why, "ncclCommSplit failed: %s (%s)",
              ncclGetErrorString (r), ncclGetLastError (c->nccl));
    return abort_with (c, "split", why);
  }
  /* The parent finishes the split with the child. */
  if ((status = nccl_wait (c, "split", false, "a rank of the group")) != RL_OK)
    return status;
  if (color < 0 || child == NULL)
    return RL_OK;

  int child_rank = 0, child_size = 0;
  ncclCommUserRank (child, &child_rank);
  ncclCommCount (child, &child_size);
  /* World ranks of the child's members: gathered through the parent. */
  int *host = calloc ((size_t) comm->size * 2, sizeof (int));
  int *device = NULL;
  if (host == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "nccl comm split: rank table");
  int mine[2] = { color, key };
  status = cuda_status (cudaMalloc ((void **) &device, sizeof (int) * 2 * (size_t) comm->size),
                        "split rank table");
  if (status == RL_OK)
    status = cuda_status (cudaMemcpy (device + 2 * comm->rank, mine, sizeof mine,
                                      cudaMemcpyHostToDevice), "split rank table");
  if (status == RL_OK)
    status = nccl_call (c, "split", ncclAllGather (device + 2 * comm->rank, device, 2,
                                                   ncclInt32, c->nccl, c->stream),
                        "a rank of the group");
  if (status == RL_OK)
    status = cuda_status (cudaMemcpy (host, device, sizeof (int) * 2 * (size_t) comm->size,
                                      cudaMemcpyDeviceToHost), "split rank table");
  cudaFree (device);
  int *world = calloc ((size_t) child_size, sizeof (int));
  if (status == RL_OK && world == NULL)
    status = rl_set_error (RL_E_NO_MEMORY, "nccl comm split: rank table");
  if (status == RL_OK) {
    /* NCCL orders members by key, then parent rank: rebuild that order. */
    int n = 0;
    while (n < child_size) {
      int best = -1;
      for (int r2 = 0; r2 < comm->size; r2++) {
        if (host[2 * r2] != color)
          continue;
        if (best < 0 || host[2 * r2 + 1] < host[2 * best + 1])
          best = r2;
      }
      if (best < 0)
        break;
      world[n++] = rl_comm_world_rank (comm, best);
      host[2 * best] = -2;   /* taken */
    }
  }
  free (host);
  if (status != RL_OK) {
    free (world);
    ncclCommAbort (child);
    return status;
  }
  status = finish_handle (child, child_rank, child_size, world, c->cuda_device,
                          comm->timeout_ms, "split", out);
  free (world);
  if (status == RL_OK)
    ((NcclComm *) *out)->exchange_group = exchange_group;
  return status;
}

static RlStatus
nccl_split (RlComm *comm, int color, int key, RlComm **out)
{
  return split_with (comm, color, key, false, out);
}

/* RAYLIGHT_NCCL_COPY_ENGINES=0 makes exchange groups ordinary ones (their
 * all-to-alls on NCCL's kernels), to compare the two in one run. */
static RlStatus
nccl_split_exchange (RlComm *comm, int color, int key, RlComm **out)
{
  const char *env = getenv ("RAYLIGHT_NCCL_COPY_ENGINES");
  return split_with (comm, color, key, env == NULL || strcmp (env, "0") != 0, out);
}

static void
drop_window (NcclComm *c)
{
  if (c->window_handle != NULL && c->nccl != NULL) {
    ncclResult_t r = ncclCommWindowDeregister (c->nccl, c->window_handle);
    if (r == ncclInProgress)
      nccl_wait (c, "window deregister", false, "a rank of the group");
  }
  if (c->window != NULL)
    ncclMemFree (c->window);
  c->window = NULL;
  c->window_handle = NULL;
  c->window_bytes = 0;
}

static RlStatus
nccl_exchange_window (RlComm *comm, size_t bytes, void **data)
{
  NcclComm *c = (NcclComm *) comm;
  char why[256];

  if (!c->exchange_group)
    return RL_OK;
  if (bytes <= c->window_bytes) {
    *data = c->window;
    return RL_OK;
  }
  if (c->aborted)
    return rl_set_error (RL_E_DEVICE, "nccl comm exchange window: the communicator was "
                         "aborted by an earlier failure; restart the group");
  RlStatus status = cuda_status (cudaSetDevice (c->cuda_device), "cudaSetDevice");
  /* Queued work may still read the old window. */
  if (status == RL_OK)
    status = cuda_status (cudaDeviceSynchronize (), "waiting before the window grows");
  if (status != RL_OK)
    return status;
  drop_window (c);
  /* Grown in 64 MiB steps so that a slightly longer video does not
   * re-register (a collective) on every job. */
  size_t step = (size_t) 64 << 20;
  size_t size = (bytes + step - 1) / step * step;
  void *memory = NULL;
  ncclResult_t r = ncclMemAlloc (&memory, size);
  bool allocated = r == ncclSuccess;
  /* Registration is collective: a rank whose allocation failed (its GPU
   * fuller than the others') must not leave the others waiting in it, so
   * the group agrees first and all fall back together. */
  int64_t failed = !allocated;
  if ((status = nccl_all_reduce_host (comm, &failed, RL_COMM_MAX)) != RL_OK) {
    if (allocated)
      ncclMemFree (memory);
    return status;
  }
  if (!failed) {
    r = ncclCommWindowRegister (c->nccl, memory, size, &c->window_handle,
                                NCCL_WIN_COLL_SYMMETRIC);
    if (r == ncclInProgress || r == ncclSuccess) {
      if ((status = nccl_wait (c, "window register", false, "a rank of the group")) != RL_OK) {
        c->window_handle = NULL;
        ncclMemFree (memory);
        return status;
      }
      c->window = memory;
      c->window_bytes = size;
      *data = c->window;
      return RL_OK;
    }
  }
  /* Refused (no memory on some rank, or no symmetric memory on this
   * driver or link, which every rank sees alike): all fall back to
   * ordinary buffers. */
  if (failed)
    snprintf (why, sizeof why, "%s", allocated ? "another rank could not allocate it"
                                               : ncclGetErrorString (r));
  else
    snprintf (why, sizeof why, "%s (%s)", ncclGetErrorString (r), ncclGetLastError (c->nccl));
  if (allocated)
    ncclMemFree (memory);
  c->window_handle = NULL;
  c->exchange_group = false;
  fprintf (stderr, "raylight comm nccl (world rank %d): no exchange window of %zu MB: %s; "
           "all-to-alls stay on NCCL's kernels\n",
           rl_comm_world_rank (&c->base, c->base.rank), size >> 20, why);
  return RL_OK;
}

/* One stderr line of the communicator's totals, when RAYLIGHT_COMM_STATS
 * is set (to anything but 0) and it ran a counted collective. */
static void
print_stats (NcclComm *c)
{
  const char *env = getenv ("RAYLIGHT_COMM_STATS");
  char line[1024];
  int used = 0;
  if (env == NULL || env[0] == '\0' || strcmp (env, "0") == 0)
    return;
  for (int i = 0; i < STAT_OPS; i++) {
    const RlCommNcclStats *st = &c->stats[i];
    if (st->calls == 0 || used >= (int) sizeof line - 1)
      continue;
    /* The first call of a kind also connects the peers (NCCL sets up
     * send/recv channels lazily): its time is shown apart. */
    double rest_ms = st->ms - st->first_ms;
    double rest_mb = st->calls > 1 ? (double) st->bytes / 1e6 * (double) (st->calls - 1)
                                     / (double) st->calls : 0.0;
    used += snprintf (line + used, sizeof line - (size_t) used,
                      "%s%s %llu calls %.1f MB, first %.1f ms, the rest %.1f ms (%.1f GB/s)",
                      used > 0 ? "; " : "", stat_ops[i], (unsigned long long) st->calls,
                      (double) st->bytes / 1e6, st->first_ms, rest_ms,
                      rest_ms > 0.0 ? rest_mb / rest_ms : 0.0);
  }
  if (used > 0)
    fprintf (stderr, "raylight comm nccl (world rank %d, rank %d of %d, cuda %d): %s; "
             "%llu all-to-alls from the exchange window (copy engines); "
             "waited %.1f ms for compute before collectives\n",
             rl_comm_world_rank (&c->base, c->base.rank), c->base.rank, c->base.size,
             c->cuda_device, line, (unsigned long long) c->window_calls,
             (double) c->compute_wait_ns * 1e-6);
}

bool
rl_comm_nccl_stats (const RlComm *comm, const char *op, RlCommNcclStats *out)
{
  int i = stat_index (op);
  if (comm == NULL || comm->methods != &nccl_methods || i < 0)
    return false;
  const NcclComm *c = (const NcclComm *) comm;
  *out = c->stats[i];
  out->window_calls = strcmp (stat_ops[i], "all_to_all") == 0 ? c->window_calls : 0;
  return true;
}

/* Finalizes (flushing this rank's outstanding work) within the timeout,
 * then destroys; a communicator that cannot finalize is aborted instead,
 * so freeing never hangs on a lost peer. */
static void
nccl_free (RlComm *comm)
{
  NcclComm *c = (NcclComm *) comm;

  print_stats (c);
  cudaSetDevice (c->cuda_device);
  drop_window (c);
  if (c->nccl != NULL) {
    ncclResult_t r = ncclCommFinalize (c->nccl);
    if ((r == ncclSuccess || r == ncclInProgress)
        && nccl_wait (c, "free", false, "a rank of the group") == RL_OK)
      ncclCommDestroy (c->nccl);
    else if (c->nccl != NULL)
      ncclCommAbort (c->nccl);
    c->nccl = NULL;
  }
  if (c->scratch != NULL)
    cudaFree (c->scratch);
  if (c->order_event != NULL)
    cudaEventDestroy (c->order_event);
  if (c->stream != NULL)
    cudaStreamDestroy (c->stream);
  rl_comm_free_base (comm);
  free (c);
}

static const RlCommMethods nccl_methods = {
  .name = "nccl",
  .all_reduce = nccl_all_reduce,
  .all_reduce_host = nccl_all_reduce_host,
  .all_gather = nccl_all_gather,
  .all_to_all = nccl_all_to_all,
  .broadcast = nccl_broadcast,
  .sendrecv = nccl_sendrecv,
  .sendrecv_start = nccl_sendrecv_start,
  .all_to_all_many = nccl_all_to_all_many,
  .wait = nccl_wait_started,
  .barrier = nccl_barrier,
  .split = nccl_split,
  .split_exchange = nccl_split_exchange,
  .exchange_window = nccl_exchange_window,
  .free = nccl_free,
  .reduces = nccl_reduces,
};

/* Enqueue-only all-gather for callers that order it on their own stream
 * (FSDP's side stream): no device synchronisation before, no wait after
 * beyond NCCL accepting the call. */
RlStatus
rl_comm_nccl_all_gather_enqueue (RlComm *comm, void *out, const void *in,
                                 size_t bytes_per_rank, cudaStream_t stream)
{
  if (comm == NULL || comm->methods != &nccl_methods)
    return rl_set_error (RL_E_INVALID_ARG, "nccl comm: all_gather_enqueue needs an "
                         "NCCL communicator");
  NcclComm *c = (NcclComm *) comm;
  if (c->aborted)
    return rl_set_error (RL_E_DEVICE, "nccl comm all_gather: the communicator was "
                         "aborted by an earlier failure; restart the group");
  c->op_count++;
  ncclResult_t r = ncclAllGather (in, out, bytes_per_rank, ncclInt8, c->nccl, stream);
  if (r != ncclSuccess && r != ncclInProgress) {
    char why[256];
    snprintf (why, sizeof why, "NCCL refused the call: %s (%s)",
              ncclGetErrorString (r), ncclGetLastError (c->nccl));
    return abort_with (c, "all_gather", why);
  }
  /* A non-blocking communicator may still be enqueuing. */
  return nccl_wait (c, "all_gather", false, "a rank of the group");
}

RlStatus
rl_comm_nccl_order_after (RlComm *comm, cudaStream_t stream)
{
  if (comm == NULL || comm->methods != &nccl_methods)
    return rl_set_error (RL_E_INVALID_ARG, "nccl comm: order_after needs an NCCL communicator");
  NcclComm *c = (NcclComm *) comm;
  RlStatus status = cuda_status (cudaSetDevice (c->cuda_device), "cudaSetDevice");
  if (status == RL_OK && stream != NULL && c->order_event == NULL)
    status = cuda_status (cudaEventCreateWithFlags (&c->order_event, cudaEventDisableTiming),
                          "creating the ordering event");
  if (status == RL_OK)
    c->order_stream = stream;
  return status;
}

RlStatus
rl_comm_nccl_register (RlComm *comm, void *buffer, size_t bytes, void **handle)
{
  if (comm == NULL || comm->methods != &nccl_methods || handle == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "nccl comm: register needs an NCCL communicator");
  NcclComm *c = (NcclComm *) comm;
  *handle = NULL;
  RlStatus status = cuda_status (cudaSetDevice (c->cuda_device), "cudaSetDevice");
  if (status != RL_OK)
    return status;
  ncclResult_t r = ncclCommRegister (c->nccl, buffer, bytes, handle);
  if (r == ncclInProgress)
    return nccl_wait (c, "register", false, "a rank of the group");
  if (r != ncclSuccess)
    return rl_set_error (RL_E_DEVICE, "nccl comm: registering %zu bytes failed: %s (%s)",
                         bytes, ncclGetErrorString (r), ncclGetLastError (c->nccl));
  return RL_OK;
}

RlStatus
rl_comm_nccl_deregister (RlComm *comm, void *handle)
{
  if (comm == NULL || comm->methods != &nccl_methods)
    return rl_set_error (RL_E_INVALID_ARG, "nccl comm: deregister needs an NCCL communicator");
  if (handle == NULL)
    return RL_OK;
  NcclComm *c = (NcclComm *) comm;
  ncclResult_t r = ncclCommDeregister (c->nccl, handle);
  if (r == ncclInProgress)
    return nccl_wait (c, "deregister", false, "a rank of the group");
  if (r != ncclSuccess)
    return rl_set_error (RL_E_DEVICE, "nccl comm: deregistering a buffer failed: %s",
                         ncclGetErrorString (r));
  return RL_OK;
}

RlStatus
rl_comm_nccl_wait_event (RlComm *comm, cudaEvent_t done, const char *op)
{
  if (comm == NULL || comm->methods != &nccl_methods)
    return rl_set_error (RL_E_INVALID_ARG, "nccl comm: wait_event needs an NCCL communicator");
  NcclComm *c = (NcclComm *) comm;
  int64_t deadline = now_ms () + c->base.timeout_ms, started_ns = now_ns ();
  char why[256];

  for (;;) {
    if (c->aborted)
      return rl_set_error (RL_E_DEVICE, "nccl comm %s: the communicator was aborted "
                           "by an earlier failure; restart the group", op);
    ncclResult_t state = ncclSuccess;
    ncclResult_t r = ncclCommGetAsyncError (c->nccl, &state);
    if (r != ncclSuccess)
      state = r;
    if (state != ncclSuccess && state != ncclInProgress) {
      snprintf (why, sizeof why, "NCCL reported %s (%s)",
                ncclGetErrorString (state), ncclGetLastError (c->nccl));
      return abort_with (c, op, why);
    }
    cudaError_t q = cudaEventQuery (done);
    if (q == cudaSuccess)
      return RL_OK;
    if (q != cudaErrorNotReady) {
      snprintf (why, sizeof why, "CUDA error %s", cudaGetErrorString (q));
      return abort_with (c, op, why);
    }
    if (now_ms () > deadline) {
      snprintf (why, sizeof why, "not complete after %d ms: a rank of the group "
                "never arrived", c->base.timeout_ms);
      return abort_with (c, op, why);
    }
    poll_pause (started_ns);
  }
}

RlStatus
rl_comm_nccl_unique_id (unsigned char id[RL_COMM_NCCL_ID_BYTES])
{
  ncclUniqueId unique;

  disable_nvls ();
  ncclResult_t r = ncclGetUniqueId (&unique);
  if (r != ncclSuccess)
    return rl_set_error (RL_E_DEVICE, "nccl comm: ncclGetUniqueId failed: %s",
                         ncclGetErrorString (r));
  memcpy (id, &unique, sizeof unique);
  return RL_OK;
}

RlStatus
rl_comm_nccl_new (const unsigned char id[RL_COMM_NCCL_ID_BYTES], int rank,
                  int world_size, int cuda_device, int timeout_ms, RlComm **out)
{
  ncclUniqueId unique;
  ncclConfig_t config = nonblocking_config ();
  ncclComm_t nccl = NULL;

  if (out == NULL || id == NULL || world_size < 1 || rank < 0 || rank >= world_size)
    return rl_set_error (RL_E_INVALID_ARG, "nccl comm: rank %d of %d is not a "
                         "valid member", rank, world_size);
  *out = NULL;
  disable_nvls ();
  RlStatus status = cuda_status (cudaSetDevice (cuda_device), "cudaSetDevice");
  if (status != RL_OK)
    return status;
  memcpy (&unique, id, sizeof unique);
  ncclResult_t r = ncclCommInitRankConfig (&nccl, world_size, unique, rank, &config);
  if (r != ncclSuccess && r != ncclInProgress) {
    if (nccl != NULL)
      ncclCommAbort (nccl);
    return rl_set_error (RL_E_DEVICE, "nccl comm: joining as rank %d of %d on "
                         "cuda:%d failed: %s", rank, world_size, cuda_device,
                         ncclGetErrorString (r));
  }
  return finish_handle (nccl, rank, world_size, NULL, cuda_device, timeout_ms,
                        "init", out);
}
