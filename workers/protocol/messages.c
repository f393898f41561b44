#include "messages.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

#define MAX_CAPABILITIES 64

static void
put_desc (RlWireWriter *w, const RlTensorDesc *d)
{
  rl_wire_put_u32 (w, d->dtype);
  rl_wire_put_u32 (w, d->ndim);
  for (uint32_t i = 0; i < d->ndim && i < RL_TENSOR_DESC_MAX_DIMS; i++)
    rl_wire_put_u64 (w, d->shape[i]);
  rl_wire_put_u64 (w, d->offset);
  rl_wire_put_u64 (w, d->nbytes);
}

static void
get_desc (RlWireReader *r, RlTensorDesc *d)
{
  memset (d, 0, sizeof *d);
  d->dtype = rl_wire_get_u32 (r, "tensor.dtype");
  d->ndim = rl_wire_get_u32 (r, "tensor.ndim");
  if (d->ndim > RL_TENSOR_DESC_MAX_DIMS)
    {
      rl_wire_reader_fail (r, "tensor.ndim", "more dimensions than the protocol allows");
      return;
    }
  for (uint32_t i = 0; i < d->ndim; i++)
    d->shape[i] = rl_wire_get_u64 (r, "tensor.shape");
  d->offset = rl_wire_get_u64 (r, "tensor.offset");
  d->nbytes = rl_wire_get_u64 (r, "tensor.nbytes");
  if (!rl_wire_reader_ok (r))
    return;
  RlErrorInfo problem = { 0 };
  if (rl_tensor_desc_validate (d, &problem) != RL_WIRE_OK)
    rl_wire_reader_fail (r, "tensor", problem.message);
}

static void
put_descs (RlWireWriter *w, uint32_t n, const RlTensorDesc *descs)
{
  rl_wire_put_u32 (w, n);
  for (uint32_t i = 0; i < n && i < RL_PROTOCOL_MAX_FDS; i++)
    put_desc (w, &descs[i]);
}

static uint32_t
get_descs (RlWireReader *r, RlTensorDesc *descs)
{
  uint32_t n = rl_wire_get_u32 (r, "n_tensors");
  if (n > RL_PROTOCOL_MAX_FDS)
    {
      rl_wire_reader_fail (r, "n_tensors", "more tensors than a frame carries");
      return 0;
    }
  for (uint32_t i = 0; i < n; i++)
    get_desc (r, &descs[i]);
  return n;
}

/* Finishes a decode: on failure releases what was decoded via clear. */
#define FINISH(r, m, clear_fn, err)                                          \
  do {                                                                       \
    int status_ = rl_wire_reader_finish (r, err);                           \
    if (status_ != RL_WIRE_OK)                                               \
      clear_fn (m);                                                          \
    return status_;                                                          \
  } while (0)

/* HELLO */

void
rl_msg_hello_encode (const RlMsgHello *m, RlWireWriter *w)
{
  rl_wire_put_u32 (w, m->protocol_version);
  rl_wire_put_u32 (w, m->pid);
  rl_wire_put_u32 (w, m->rank);
  rl_wire_put_string (w, m->token);
  rl_wire_put_string (w, m->backend);
  rl_wire_put_string (w, m->device_name);
  rl_wire_put_u64 (w, m->total_memory);
  rl_wire_put_u64 (w, m->free_memory);
  rl_wire_put_u32 (w, m->compute_major);
  rl_wire_put_u32 (w, m->compute_minor);
  rl_wire_put_u32 (w, m->n_capabilities);
  for (uint32_t i = 0; i < m->n_capabilities; i++)
    rl_wire_put_string (w, m->capabilities[i]);
  rl_wire_put_blob (w, m->nccl_id, m->nccl_id_size);
}

/* An NCCL id blob: absent, or exactly RL_PROTOCOL_NCCL_ID_SIZE bytes. */
static void *
get_nccl_id (RlWireReader *r, size_t *size)
{
  void *id = rl_wire_get_blob (r, "nccl_id", RL_PROTOCOL_NCCL_ID_SIZE, size);
  if (rl_wire_reader_ok (r) && *size != 0 && *size != RL_PROTOCOL_NCCL_ID_SIZE)
    rl_wire_reader_fail (r, "nccl_id", "an NCCL unique id is 128 bytes");
  return id;
}

int
rl_msg_hello_decode (const void *p, size_t n, RlMsgHello *m, RlErrorInfo *err)
{
  memset (m, 0, sizeof *m);
  RlWireReader r;
  rl_wire_reader_init (&r, p, n, "HELLO");
  m->protocol_version = rl_wire_get_u32 (&r, "protocol_version");
  m->pid = rl_wire_get_u32 (&r, "pid");
  m->rank = rl_wire_get_u32 (&r, "rank");
  m->token = rl_wire_get_string (&r, "token");
  m->backend = rl_wire_get_string (&r, "backend");
  m->device_name = rl_wire_get_string (&r, "device_name");
  m->total_memory = rl_wire_get_u64 (&r, "total_memory");
  m->free_memory = rl_wire_get_u64 (&r, "free_memory");
  m->compute_major = rl_wire_get_u32 (&r, "compute_major");
  m->compute_minor = rl_wire_get_u32 (&r, "compute_minor");
  uint32_t count = rl_wire_get_u32 (&r, "n_capabilities");
  if (count > MAX_CAPABILITIES)
    rl_wire_reader_fail (&r, "n_capabilities", "too many capabilities");
  else if (rl_wire_reader_ok (&r) && count > 0)
    {
      m->capabilities = calloc (count, sizeof (char *));
      if (m->capabilities == NULL)
        rl_wire_reader_fail (&r, "capabilities", "out of memory");
      else
        for (m->n_capabilities = 0; m->n_capabilities < count && rl_wire_reader_ok (&r);
             m->n_capabilities++)
          m->capabilities[m->n_capabilities] = rl_wire_get_string (&r, "capability");
    }
  m->nccl_id = get_nccl_id (&r, &m->nccl_id_size);
  FINISH (&r, m, rl_msg_hello_clear, err);
}

void
rl_msg_hello_clear (RlMsgHello *m)
{
  free (m->token);
  free (m->backend);
  free (m->device_name);
  for (uint32_t i = 0; i < m->n_capabilities; i++)
    free (m->capabilities[i]);
  free (m->capabilities);
  free (m->nccl_id);
  memset (m, 0, sizeof *m);
}

/* Parallel settings */

void
rl_msg_parallel_init (RlMsgParallel *m)
{
  *m = (RlMsgParallel) { .version = RL_PARALLEL_SETTINGS_VERSION, .ulysses_degree = 1,
                         .ring_degree = 1, .cfg_degree = 1, .data_degree = 1,
                         .fsdp_degree = 1 };
}

void
rl_msg_parallel_encode (const RlMsgParallel *m, RlWireWriter *w)
{
  /* A degree of 0 (a zeroed struct) means 1. */
  rl_wire_put_u32 (w, RL_PARALLEL_SETTINGS_VERSION);
  rl_wire_put_u32 (w, m->ulysses_degree ? m->ulysses_degree : 1);
  rl_wire_put_u32 (w, m->ring_degree ? m->ring_degree : 1);
  rl_wire_put_u32 (w, m->cfg_degree ? m->cfg_degree : 1);
  rl_wire_put_u32 (w, m->data_degree ? m->data_degree : 1);
  rl_wire_put_u32 (w, m->fsdp_degree ? m->fsdp_degree : 1);
  rl_wire_put_u32 (w, m->cpu_offload);
  rl_wire_put_string (w, m->attention);
}

void
rl_msg_parallel_read (RlWireReader *r, RlMsgParallel *m)
{
  m->version = rl_wire_get_u32 (r, "parallel.version");
  if (rl_wire_reader_ok (r) && m->version != RL_PARALLEL_SETTINGS_VERSION)
    {
      rl_wire_reader_fail (r, "parallel.version", "parallel settings of another version");
      return;
    }
  m->ulysses_degree = rl_wire_get_u32 (r, "parallel.ulysses_degree");
  m->ring_degree = rl_wire_get_u32 (r, "parallel.ring_degree");
  m->cfg_degree = rl_wire_get_u32 (r, "parallel.cfg_degree");
  m->data_degree = rl_wire_get_u32 (r, "parallel.data_degree");
  m->fsdp_degree = rl_wire_get_u32 (r, "parallel.fsdp_degree");
  m->cpu_offload = rl_wire_get_u32 (r, "parallel.cpu_offload");
  m->attention = rl_wire_get_string (r, "parallel.attention");
  if (rl_wire_reader_ok (r)
      && (m->ulysses_degree < 1 || m->ring_degree < 1 || m->cfg_degree < 1 || m->cfg_degree > 2
          || m->data_degree < 1 || m->fsdp_degree < 1 || m->cpu_offload > 1))
    rl_wire_reader_fail (r, "parallel", "degrees must be at least 1 (CFG 1 or 2), offload 0 or 1");
}

void
rl_msg_parallel_clear (RlMsgParallel *m)
{
  free (m->attention);
  m->attention = NULL;
}

/* HELLO_ACK */

void
rl_msg_hello_ack_encode (const RlMsgHelloAck *m, RlWireWriter *w)
{
  rl_wire_put_u32 (w, m->accepted);
  rl_wire_put_u32 (w, m->rank);
  rl_wire_put_u32 (w, m->world_size);
  rl_wire_put_string (w, m->message);
  rl_wire_put_u32 (w, m->has_comm);
  rl_wire_put_u32 (w, m->comm_timeout_ms);
  rl_wire_put_blob (w, m->nccl_id, m->nccl_id_size);
  rl_msg_parallel_encode (&m->parallel, w);
}

int
rl_msg_hello_ack_decode (const void *p, size_t n, RlMsgHelloAck *m, RlErrorInfo *err)
{
  memset (m, 0, sizeof *m);
  RlWireReader r;
  rl_wire_reader_init (&r, p, n, "HELLO_ACK");
  m->accepted = rl_wire_get_u32 (&r, "accepted");
  m->rank = rl_wire_get_u32 (&r, "rank");
  m->world_size = rl_wire_get_u32 (&r, "world_size");
  m->message = rl_wire_get_string (&r, "message");
  m->has_comm = rl_wire_get_u32 (&r, "has_comm");
  m->comm_timeout_ms = rl_wire_get_u32 (&r, "comm_timeout_ms");
  m->nccl_id = get_nccl_id (&r, &m->nccl_id_size);
  rl_msg_parallel_read (&r, &m->parallel);
  FINISH (&r, m, rl_msg_hello_ack_clear, err);
}

void
rl_msg_hello_ack_clear (RlMsgHelloAck *m)
{
  free (m->message);
  free (m->nccl_id);
  rl_msg_parallel_clear (&m->parallel);
  memset (m, 0, sizeof *m);
}

/* LOAD_MODEL / UNLOAD_MODEL */

void
rl_msg_model_encode (const RlMsgModel *m, RlWireWriter *w)
{
  rl_wire_put_string (w, m->path);
  rl_wire_put_string (w, m->options);
}

int
rl_msg_model_decode (const void *p, size_t n, RlMsgModel *m, RlErrorInfo *err)
{
  memset (m, 0, sizeof *m);
  RlWireReader r;
  rl_wire_reader_init (&r, p, n, "model");
  m->path = rl_wire_get_string (&r, "path");
  m->options = rl_wire_get_string (&r, "options");
  if (rl_wire_reader_ok (&r) && m->path[0] == '\0')
    rl_wire_reader_fail (&r, "path", "empty checkpoint path");
  FINISH (&r, m, rl_msg_model_clear, err);
}

void
rl_msg_model_clear (RlMsgModel *m)
{
  free (m->path);
  free (m->options);
  memset (m, 0, sizeof *m);
}

/* Calls */

void
rl_msg_call_encode (const RlMsgCall *m, RlWireWriter *w)
{
  rl_wire_put_string (w, m->family);
  rl_wire_put_blob (w, m->params, m->params_size);
  put_descs (w, m->n_tensors, m->tensors);
}

int
rl_msg_call_decode (const void *p, size_t n, RlMsgCall *m, RlErrorInfo *err)
{
  memset (m, 0, sizeof *m);
  RlWireReader r;
  rl_wire_reader_init (&r, p, n, "call");
  m->family = rl_wire_get_string (&r, "family");
  m->params = rl_wire_get_blob (&r, "params", RL_PROTOCOL_MAX_PAYLOAD, &m->params_size);
  m->n_tensors = get_descs (&r, m->tensors);
  FINISH (&r, m, rl_msg_call_clear, err);
}

void
rl_msg_call_clear (RlMsgCall *m)
{
  free (m->family);
  free (m->params);
  memset (m, 0, sizeof *m);
}

/* PROGRESS */

void
rl_msg_progress_encode (const RlMsgProgress *m, RlWireWriter *w)
{
  rl_wire_put_u32 (w, m->kind);
  rl_wire_put_u64 (w, m->done);
  rl_wire_put_u64 (w, m->total);
  rl_wire_put_string (w, m->message);
  rl_wire_put_u32 (w, m->has_preview ? 1 : 0);
  if (m->has_preview)
    put_desc (w, &m->preview);
}

int
rl_msg_progress_decode (const void *p, size_t n, RlMsgProgress *m, RlErrorInfo *err)
{
  memset (m, 0, sizeof *m);
  RlWireReader r;
  rl_wire_reader_init (&r, p, n, "PROGRESS");
  m->kind = rl_wire_get_u32 (&r, "kind");
  m->done = rl_wire_get_u64 (&r, "done");
  m->total = rl_wire_get_u64 (&r, "total");
  m->message = rl_wire_get_string (&r, "message");
  m->has_preview = rl_wire_get_u32 (&r, "has_preview");
  if (m->has_preview > 1)
    rl_wire_reader_fail (&r, "has_preview", "must be 0 or 1");
  else if (m->has_preview)
    get_desc (&r, &m->preview);
  if (rl_wire_reader_ok (&r) && m->done > m->total)
    rl_wire_reader_fail (&r, "done", "larger than total");
  FINISH (&r, m, rl_msg_progress_clear, err);
}

void
rl_msg_progress_clear (RlMsgProgress *m)
{
  free (m->message);
  memset (m, 0, sizeof *m);
}

/* HEARTBEAT / HEARTBEAT_ACK / CANCEL */

void
rl_msg_heartbeat_encode (const RlMsgHeartbeat *m, RlWireWriter *w)
{
  rl_wire_put_u64 (w, m->sequence);
}

int
rl_msg_heartbeat_decode (const void *p, size_t n, RlMsgHeartbeat *m, RlErrorInfo *err)
{
  RlWireReader r;
  rl_wire_reader_init (&r, p, n, "HEARTBEAT");
  m->sequence = rl_wire_get_u64 (&r, "sequence");
  return rl_wire_reader_finish (&r, err);
}

void
rl_msg_cancel_encode (const RlMsgCancel *m, RlWireWriter *w)
{
  rl_wire_put_u64 (w, m->target_request_id);
}

int
rl_msg_cancel_decode (const void *p, size_t n, RlMsgCancel *m, RlErrorInfo *err)
{
  RlWireReader r;
  rl_wire_reader_init (&r, p, n, "CANCEL");
  m->target_request_id = rl_wire_get_u64 (&r, "target_request_id");
  return rl_wire_reader_finish (&r, err);
}

/* ERROR */

void
rl_msg_error_encode (const RlMsgError *m, RlWireWriter *w)
{
  rl_wire_put_u32 (w, (uint32_t) m->code);
  rl_wire_put_string (w, m->message);
}

int
rl_msg_error_decode (const void *p, size_t n, RlMsgError *m, RlErrorInfo *err)
{
  memset (m, 0, sizeof *m);
  RlWireReader r;
  rl_wire_reader_init (&r, p, n, "ERROR");
  m->code = (int32_t) rl_wire_get_u32 (&r, "code");
  m->message = rl_wire_get_string (&r, "message");
  if (rl_wire_reader_ok (&r) && m->code == RL_WIRE_OK)
    rl_wire_reader_fail (&r, "code", "an ERROR must carry a failure code");
  FINISH (&r, m, rl_msg_error_clear, err);
}

void
rl_msg_error_clear (RlMsgError *m)
{
  free (m->message);
  memset (m, 0, sizeof *m);
}

/* RESULT */

void
rl_msg_result_encode (const RlMsgResult *m, RlWireWriter *w)
{
  rl_wire_put_blob (w, m->data, m->data_size);
  put_descs (w, m->n_tensors, m->tensors);
}

int
rl_msg_result_decode (const void *p, size_t n, RlMsgResult *m, RlErrorInfo *err)
{
  memset (m, 0, sizeof *m);
  RlWireReader r;
  rl_wire_reader_init (&r, p, n, "RESULT");
  m->data = rl_wire_get_blob (&r, "data", RL_PROTOCOL_MAX_PAYLOAD, &m->data_size);
  m->n_tensors = get_descs (&r, m->tensors);
  FINISH (&r, m, rl_msg_result_clear, err);
}

void
rl_msg_result_clear (RlMsgResult *m)
{
  free (m->data);
  memset (m, 0, sizeof *m);
}

/* Cache report */

void
rl_msg_cache_report_encode (const RlMsgCacheReport *m, RlWireWriter *w)
{
  rl_wire_put_u64 (w, m->model_bytes);
  rl_wire_put_u64 (w, m->released_bytes);
  rl_wire_put_u64 (w, m->resident_bytes);
  rl_wire_put_u64 (w, m->budget_bytes);
  rl_wire_put_u32 (w, m->resident_models);
  rl_wire_put_u32 (w, m->was_cached);
}

int
rl_msg_cache_report_decode (const void *p, size_t n, RlMsgCacheReport *m,
                            RlErrorInfo *err)
{
  memset (m, 0, sizeof *m);
  RlWireReader r;
  rl_wire_reader_init (&r, p, n, "cache report");
  m->model_bytes = rl_wire_get_u64 (&r, "model_bytes");
  m->released_bytes = rl_wire_get_u64 (&r, "released_bytes");
  m->resident_bytes = rl_wire_get_u64 (&r, "resident_bytes");
  m->budget_bytes = rl_wire_get_u64 (&r, "budget_bytes");
  m->resident_models = rl_wire_get_u32 (&r, "resident_models");
  m->was_cached = rl_wire_get_u32 (&r, "was_cached");
  return rl_wire_reader_finish (&r, err);
}

int
rl_msg_send (int sock, uint16_t type, uint64_t request_id,
             const RlWireWriter *w, const int *fds, int n_fds, int timeout_ms,
             RlErrorInfo *err)
{
  if (w->failed)
    return rl_error_set (err, RL_WIRE_INVALID,
                         "%s message too large or out of memory while encoding",
                         rl_message_type_name (type));
  return rl_frame_send (sock, type, request_id, w->data, w->size, fds, n_fds,
                        timeout_ms, err);
}

int
rl_msg_send_error (int sock, uint64_t request_id, int code, int timeout_ms,
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
  int status = rl_msg_send (sock, RL_MSG_ERROR, request_id, &w, NULL, 0,
                            timeout_ms, NULL);
  rl_wire_writer_clear (&w);
  return status;
}
