/* Argument checks shared by every backend, then dispatch. */
#include "workers/comm/comm-private.h"

#include <stdlib.h>
#include <string.h>

RlStatus
rl_comm_init_base (RlComm *comm, const RlCommMethods *methods, int rank,
                   int size, const int *world_ranks, RlDevice device,
                   int timeout_ms)
{
  comm->methods = methods;
  comm->rank = rank;
  comm->size = size;
  comm->device = device;
  comm->timeout_ms = timeout_ms > 0 ? timeout_ms : RL_COMM_DEFAULT_TIMEOUT_MS;
  comm->world_ranks = malloc (sizeof (int) * (size_t) size);
  if (comm->world_ranks == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "comm: rank table of %d ranks", size);
  for (int i = 0; i < size; i++)
    comm->world_ranks[i] = world_ranks != NULL ? world_ranks[i] : i;
  return RL_OK;
}

void
rl_comm_free_base (RlComm *comm)
{
  free (comm->world_ranks);
  comm->world_ranks = NULL;
}

size_t
rl_comm_bytes (const RlTensor *t)
{
  return (size_t) rl_tensor_numel (t) * rl_dtype_block_bytes (t->dtype);
}

int
rl_comm_rank (const RlComm *comm)
{
  return comm->rank;
}

int
rl_comm_size (const RlComm *comm)
{
  return comm->size;
}

int
rl_comm_world_rank (const RlComm *comm, int rank)
{
  if (rank < 0 || rank >= comm->size)
    return -1;
  return comm->world_ranks[rank];
}

const char *
rl_comm_backend_name (const RlComm *comm)
{
  return comm->methods->name;
}

RlDevice
rl_comm_device (const RlComm *comm)
{
  return comm->device;
}

void
rl_comm_set_timeout_ms (RlComm *comm, int timeout_ms)
{
  if (timeout_ms > 0)
    comm->timeout_ms = timeout_ms;
}

void
rl_comm_set_cancel_check (RlComm *comm, RlCommCancelFunc cancelled, void *user)
{
  if (comm == NULL)
    return;
  comm->cancelled = cancelled;
  comm->cancel_user = user;
}

int
rl_comm_timeout_ms (const RlComm *comm)
{
  return comm->timeout_ms;
}

/* A tensor every call can hand to a backend: present, plain dtype, on the
 * communicator's device, contiguous. */
static RlStatus
check_tensor (const RlComm *comm, const char *op, const char *arg,
              const RlTensor *t)
{
  char desc[RL_TENSOR_DESCRIBE_SIZE];

  if (comm == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "comm %s: communicator is NULL", op);
  if (t == NULL || t->data == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "comm %s: %s is NULL", op, arg);
  if (rl_dtype_block_elems (t->dtype) != 1)
    return rl_set_error (RL_E_DTYPE, "comm %s: %s %s is a block type; "
                         "communicate plain dtypes only", op, arg,
                         rl_tensor_describe (t, desc, sizeof desc));
  if (!rl_device_equal (t->device, comm->device))
    return rl_set_error (RL_E_DEVICE_MISMATCH,
                         "comm %s (%s rank %d): %s %s is not on the "
                         "communicator's device %s:%d", op,
                         comm->methods->name, comm->rank, arg,
                         rl_tensor_describe (t, desc, sizeof desc),
                         rl_device_kind_name (comm->device.kind),
                         comm->device.index);
  if (!rl_tensor_is_contiguous (t))
    return rl_set_error (RL_E_NOT_CONTIGUOUS, "comm %s: %s %s must be "
                         "contiguous", op, arg,
                         rl_tensor_describe (t, desc, sizeof desc));
  return RL_OK;
}

static RlStatus
check_peer (const RlComm *comm, const char *op, const char *what, int peer)
{
  if (peer < 0 || peer >= comm->size)
    return rl_set_error (RL_E_INVALID_ARG, "comm %s: %s rank %d is outside "
                         "the group of %d ranks", op, what, peer, comm->size);
  return RL_OK;
}

static RlStatus
check_pair (const RlComm *comm, const char *op, const RlTensor *out,
            const RlTensor *in, int64_t out_per_in)
{
  char a[RL_TENSOR_DESCRIBE_SIZE], b[RL_TENSOR_DESCRIBE_SIZE];
  RlStatus status;

  if ((status = check_tensor (comm, op, "out", out)) != RL_OK
      || (status = check_tensor (comm, op, "in", in)) != RL_OK)
    return status;
  if (out->dtype != in->dtype
      || rl_tensor_numel (out) != out_per_in * rl_tensor_numel (in))
    return rl_set_error (RL_E_SHAPE, "comm %s: out %s must hold %lld× the "
                         "elements of in %s, same dtype", op,
                         rl_tensor_describe (out, a, sizeof a),
                         (long long) out_per_in,
                         rl_tensor_describe (in, b, sizeof b));
  return RL_OK;
}

RlStatus
rl_comm_all_reduce (RlComm *comm, RlTensor *data, RlCommReduce op)
{
  char desc[RL_TENSOR_DESCRIBE_SIZE];
  RlStatus status = check_tensor (comm, "all_reduce", "data", data);

  if (status != RL_OK)
    return status;
  if (op != RL_COMM_SUM && op != RL_COMM_MAX)
    return rl_set_error (RL_E_INVALID_ARG, "comm all_reduce: unknown "
                         "reduction %d", (int) op);
  if (!comm->methods->reduces (data->dtype))
    return rl_set_error (RL_E_DTYPE, "comm all_reduce (%s): cannot reduce "
                         "%s; convert to f32 or i64 first",
                         comm->methods->name,
                         rl_tensor_describe (data, desc, sizeof desc));
  return comm->methods->all_reduce (comm, data, op);
}

RlStatus
rl_comm_all_reduce_host (RlComm *comm, int64_t *value, RlCommReduce op)
{
  if (comm == NULL || value == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "comm all_reduce_host: communicator "
                         "and value are required");
  if (op != RL_COMM_SUM && op != RL_COMM_MAX)
    return rl_set_error (RL_E_INVALID_ARG, "comm all_reduce_host: unknown "
                         "reduction %d", (int) op);
  return comm->methods->all_reduce_host (comm, value, op);
}

RlStatus
rl_comm_all_gather (RlComm *comm, RlTensor *out, const RlTensor *in)
{
  RlStatus status = check_pair (comm, "all_gather", out, in,
                                comm != NULL ? comm->size : 1);
  if (status != RL_OK)
    return status;
  return comm->methods->all_gather (comm, out, in);
}

static RlStatus
check_all_to_all (RlComm *comm, RlTensor *out, const RlTensor *in)
{
  char desc[RL_TENSOR_DESCRIBE_SIZE];
  RlStatus status = check_pair (comm, "all_to_all", out, in, 1);

  if (status != RL_OK)
    return status;
  if (rl_tensor_numel (in) % comm->size != 0)
    return rl_set_error (RL_E_SHAPE, "comm all_to_all: in %s does not split "
                         "into %d equal chunks",
                         rl_tensor_describe (in, desc, sizeof desc),
                         comm->size);
  if (out->data == in->data)
    return rl_set_error (RL_E_INVALID_ARG, "comm all_to_all: out and in "
                         "must be different buffers");
  return RL_OK;
}

RlStatus
rl_comm_all_to_all (RlComm *comm, RlTensor *out, const RlTensor *in)
{
  RlStatus status = check_all_to_all (comm, out, in);

  if (status != RL_OK)
    return status;
  return comm->methods->all_to_all (comm, out, in);
}

static RlStatus
all_to_all_many (RlComm *comm, int n, RlTensor *const *outs, const RlTensor *const *ins,
                 bool start)
{
  RlStatus status = RL_OK;

  if (comm == NULL || n < 1 || outs == NULL || ins == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "comm all_to_all_many: communicator and at "
                         "least one pair are required");
  for (int i = 0; i < n && status == RL_OK; i++)
    status = check_all_to_all (comm, outs[i], ins[i]);
  if (status != RL_OK)
    return status;
  if (comm->pending)
    return rl_set_error (RL_E_INVALID_ARG, "comm all_to_all_many: a started transfer is "
                         "still pending; call rl_comm_wait first");
  if (comm->methods->all_to_all_many == NULL) {
    for (int i = 0; i < n && status == RL_OK; i++)
      status = comm->methods->all_to_all (comm, outs[i], ins[i]);
    return status;
  }
  status = comm->methods->all_to_all_many (comm, n, outs, ins, start);
  comm->pending = start && status == RL_OK;
  return status;
}

RlStatus
rl_comm_all_to_all_many (RlComm *comm, int n, RlTensor *const *outs,
                         const RlTensor *const *ins)
{
  return all_to_all_many (comm, n, outs, ins, false);
}

RlStatus
rl_comm_all_to_all_many_start (RlComm *comm, int n, RlTensor *const *outs,
                               const RlTensor *const *ins)
{
  return all_to_all_many (comm, n, outs, ins, true);
}

RlStatus
rl_comm_broadcast (RlComm *comm, RlTensor *data, int root)
{
  RlStatus status = check_tensor (comm, "broadcast", "data", data);

  if (status != RL_OK
      || (status = check_peer (comm, "broadcast", "root", root)) != RL_OK)
    return status;
  return comm->methods->broadcast (comm, data, root);
}

static RlStatus
check_sendrecv (RlComm *comm, const RlTensor *send, int dst, RlTensor *recv,
                int src)
{
  RlStatus status;

  if (comm == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "comm sendrecv: communicator is NULL");
  if (send != NULL
      && ((status = check_tensor (comm, "send", "data", send)) != RL_OK
          || (status = check_peer (comm, "send", "destination", dst)) != RL_OK))
    return status;
  if (recv != NULL
      && ((status = check_tensor (comm, "recv", "data", recv)) != RL_OK
          || (status = check_peer (comm, "recv", "source", src)) != RL_OK))
    return status;
  if ((send != NULL && dst == comm->rank) || (recv != NULL && src == comm->rank))
    return rl_set_error (RL_E_INVALID_ARG, "comm sendrecv: rank %d cannot "
                         "send to or receive from itself", comm->rank);
  if (comm->pending)
    return rl_set_error (RL_E_INVALID_ARG, "comm sendrecv (rank %d): a started "
                         "transfer is still pending; call rl_comm_wait first",
                         comm->rank);
  return RL_OK;
}

RlStatus
rl_comm_sendrecv (RlComm *comm, const RlTensor *send, int dst,
                  RlTensor *recv, int src)
{
  RlStatus status = check_sendrecv (comm, send, dst, recv, src);

  if (status != RL_OK || (send == NULL && recv == NULL))
    return status;
  return comm->methods->sendrecv (comm, send, dst, recv, src);
}

RlStatus
rl_comm_sendrecv_start (RlComm *comm, const RlTensor *send, int dst,
                        RlTensor *recv, int src)
{
  RlStatus status = check_sendrecv (comm, send, dst, recv, src);

  if (status != RL_OK || (send == NULL && recv == NULL))
    return status;
  if (comm->methods->sendrecv_start == NULL)
    return comm->methods->sendrecv (comm, send, dst, recv, src);
  status = comm->methods->sendrecv_start (comm, send, dst, recv, src);
  comm->pending = status == RL_OK;
  return status;
}

RlStatus
rl_comm_wait (RlComm *comm)
{
  if (comm == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "comm wait: communicator is NULL");
  if (!comm->pending)
    return RL_OK;
  comm->pending = false;
  return comm->methods->wait (comm);
}

RlStatus
rl_comm_send (RlComm *comm, const RlTensor *data, int peer)
{
  if (data == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "comm send: data is NULL");
  return rl_comm_sendrecv (comm, data, peer, NULL, -1);
}

RlStatus
rl_comm_recv (RlComm *comm, RlTensor *data, int peer)
{
  if (data == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "comm recv: data is NULL");
  return rl_comm_sendrecv (comm, NULL, -1, data, peer);
}

RlStatus
rl_comm_barrier (RlComm *comm)
{
  if (comm == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "comm barrier: communicator is NULL");
  return comm->methods->barrier (comm);
}

RlStatus
rl_comm_split (RlComm *comm, int color, int key, RlComm **out)
{
  if (comm == NULL || out == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "comm split: communicator or out is NULL");
  *out = NULL;
  RlStatus status = comm->methods->split (comm, color, key, out);
  if (status == RL_OK && *out != NULL)
    rl_comm_set_cancel_check (*out, comm->cancelled, comm->cancel_user);
  return status;
}

RlStatus
rl_comm_split_exchange (RlComm *comm, int color, int key, RlComm **out)
{
  if (comm == NULL || out == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "comm split: communicator or out is NULL");
  if (comm->methods->split_exchange == NULL)
    return rl_comm_split (comm, color, key, out);
  *out = NULL;
  RlStatus status = comm->methods->split_exchange (comm, color, key, out);
  if (status == RL_OK && *out != NULL)
    rl_comm_set_cancel_check (*out, comm->cancelled, comm->cancel_user);
  return status;
}

RlStatus
rl_comm_exchange_window (RlComm *comm, size_t bytes, void **data)
{
  if (comm == NULL || data == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "comm exchange window: communicator or data is NULL");
  *data = NULL;
  if (comm->methods->exchange_window == NULL || bytes == 0)
    return RL_OK;
  return comm->methods->exchange_window (comm, bytes, data);
}

void
rl_comm_free (RlComm *comm)
{
  if (comm != NULL)
    comm->methods->free (comm);
}
