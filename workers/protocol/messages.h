/* Payload layouts of every message type, as plain C structs with encode
 * and decode functions. Decoders check every bound and leave the struct
 * empty on failure; each struct is released with its _clear() function.
 * Strings are UTF-8 without NUL bytes; descriptors travel beside the frame
 * in the order of the tensors[] array. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "error-info.h"
#include "protocol.h"
#include "shared-tensor.h"
#include "wire.h"

/* HELLO: first frame of a connection, worker -> pool. */
typedef struct {
  uint32_t  protocol_version;
  uint32_t  pid;
  uint32_t  rank;
  char     *token;            /* the auth token the pool gave at spawn */
  char     *backend;          /* "cpu" or "cuda" */
  char     *device_name;
  uint64_t  total_memory;     /* bytes of the device (host RAM for cpu) */
  uint64_t  free_memory;
  uint32_t  compute_major;    /* 0.0 for cpu */
  uint32_t  compute_minor;
  uint32_t  n_capabilities;
  char    **capabilities;     /* e.g. "diagnostic", "load-model" */
  /* Rank 0 of a pool of GPU workers (world size > 1) makes the NCCL
   * unique id the pool hands every rank in HELLO_ACK: the app never links
   * NCCL. Empty (size 0) otherwise. */
  void     *nccl_id;
  size_t    nccl_id_size;     /* 0 or RL_PROTOCOL_NCCL_ID_SIZE */
} RlMsgHello;

/* How a pool splits its jobs, as HELLO_ACK carries it to every worker.
 * Versioned on its own (RL_PARALLEL_SETTINGS_VERSION) inside the frame:
 * fields are appended, never reordered. */
#define RL_PARALLEL_SETTINGS_VERSION 1
typedef struct {
  uint32_t  version;          /* RL_PARALLEL_SETTINGS_VERSION */
  uint32_t  ulysses_degree;   /* sequence parallelism of SAMPLE: 1 = none */
  uint32_t  ring_degree;
  uint32_t  cfg_degree;       /* 2: cond and uncond on two groups */
  uint32_t  data_degree;      /* batch items split over this many groups */
  uint32_t  fsdp_degree;      /* weights sharded over this many ranks; 1 = none */
  uint32_t  cpu_offload;      /* 1: weight shards live in pinned host memory */
  char     *attention;        /* attention variant ("" = the backend's default) */
} RlMsgParallel;

/* HELLO_ACK: pool -> worker. A refused worker exits. With has_comm the
 * frame carries one descriptor: the shared-memory collectives segment of
 * the pool's CPU workers (comm-shm.h), which the worker attaches as
 * `rank` of `world_size` with comm_timeout_ms per collective. GPU workers
 * get nccl_id instead (rank 0's, from its HELLO) and join the NCCL world
 * communicator with it. A restarted worker gets neither: its peers'
 * collectives are gone, and it refuses parallel jobs until the pool is
 * restarted. `parallel` says how jobs are split (parallel-plan.h). */
typedef struct {
  uint32_t  accepted;
  uint32_t  rank;
  uint32_t  world_size;
  char     *message;          /* why it was refused */
  uint32_t  has_comm;         /* 1: a segment descriptor travels with the frame */
  uint32_t  comm_timeout_ms;
  void     *nccl_id;          /* RL_PROTOCOL_NCCL_ID_SIZE bytes, or NULL */
  size_t    nccl_id_size;
  RlMsgParallel parallel;
} RlMsgHelloAck;

/* LOAD_MODEL and UNLOAD_MODEL: a checkpoint path and its options string
 * ("dtype=bf16;budget=..."); the pair is the model cache key. */
typedef struct {
  char *path;
  char *options;
} RlMsgModel;

/* ENCODE_TEXT, SAMPLE, VAE_ENCODE, VAE_DECODE, DIAGNOSTIC: a family name
 * (or diagnostic op name), an opaque parameter blob for that family, and
 * input tensors. */
typedef struct {
  char         *family;
  void         *params;
  size_t        params_size;
  uint32_t      n_tensors;
  RlTensorDesc  tensors[RL_PROTOCOL_MAX_FDS];
} RlMsgCall;

typedef enum {
  RL_PROGRESS_LOAD_BYTES = 1,   /* done/total are bytes read */
  RL_PROGRESS_STEPS      = 2,   /* done/total are sampling steps */
} RlProgressKind;

/* PROGRESS: worker -> pool, tagged with the request's id. */
typedef struct {
  uint32_t      kind;         /* RlProgressKind */
  uint64_t      done;
  uint64_t      total;
  char         *message;
  uint32_t      has_preview;  /* 1: one descriptor travels with the frame */
  RlTensorDesc  preview;
} RlMsgProgress;

/* HEARTBEAT and HEARTBEAT_ACK. */
typedef struct {
  uint64_t sequence;
} RlMsgHeartbeat;

/* CANCEL: the request id to stop (also in the header). */
typedef struct {
  uint64_t target_request_id;
} RlMsgCancel;

/* ERROR: a failed request. */
typedef struct {
  int32_t  code;              /* RlWireStatus */
  char    *message;
} RlMsgError;

/* RESULT: a finished request: a blob and output tensors. */
typedef struct {
  void         *data;
  size_t        data_size;
  uint32_t      n_tensors;
  RlTensorDesc  tensors[RL_PROTOCOL_MAX_FDS];
} RlMsgResult;

/* The RESULT data of LOAD_MODEL, UNLOAD_MODEL and FREE_MEMORY: the worker's
 * model cache after the request. */
typedef struct {
  uint64_t model_bytes;     /* the model's size (0 for FREE_MEMORY) */
  uint64_t released_bytes;  /* bytes dropped by eviction, unload or free */
  uint64_t resident_bytes;  /* every cached model */
  uint64_t budget_bytes;
  uint32_t resident_models;
  uint32_t was_cached;      /* LOAD_MODEL: 1 when it was already resident */
} RlMsgCacheReport;

void rl_msg_hello_encode      (const RlMsgHello *m, RlWireWriter *w);
int  rl_msg_hello_decode      (const void *p, size_t n, RlMsgHello *m, RlErrorInfo *err);
void rl_msg_hello_clear       (RlMsgHello *m);

/* Defaults: every degree 1, no offload, attention "". Encoding writes a
 * degree of 0 as 1, so a zeroed struct is valid. */
void rl_msg_parallel_init     (RlMsgParallel *m);
void rl_msg_parallel_encode   (const RlMsgParallel *m, RlWireWriter *w);
/* Reads the fields into m (clear with rl_msg_parallel_clear); failures
 * mark the reader. */
void rl_msg_parallel_read     (RlWireReader *r, RlMsgParallel *m);
void rl_msg_parallel_clear    (RlMsgParallel *m);

void rl_msg_hello_ack_encode  (const RlMsgHelloAck *m, RlWireWriter *w);
int  rl_msg_hello_ack_decode  (const void *p, size_t n, RlMsgHelloAck *m, RlErrorInfo *err);
void rl_msg_hello_ack_clear   (RlMsgHelloAck *m);

void rl_msg_model_encode      (const RlMsgModel *m, RlWireWriter *w);
int  rl_msg_model_decode      (const void *p, size_t n, RlMsgModel *m, RlErrorInfo *err);
void rl_msg_model_clear       (RlMsgModel *m);

void rl_msg_call_encode       (const RlMsgCall *m, RlWireWriter *w);
int  rl_msg_call_decode       (const void *p, size_t n, RlMsgCall *m, RlErrorInfo *err);
void rl_msg_call_clear        (RlMsgCall *m);

void rl_msg_progress_encode   (const RlMsgProgress *m, RlWireWriter *w);
int  rl_msg_progress_decode   (const void *p, size_t n, RlMsgProgress *m, RlErrorInfo *err);
void rl_msg_progress_clear    (RlMsgProgress *m);

void rl_msg_heartbeat_encode  (const RlMsgHeartbeat *m, RlWireWriter *w);
int  rl_msg_heartbeat_decode  (const void *p, size_t n, RlMsgHeartbeat *m, RlErrorInfo *err);

void rl_msg_cancel_encode     (const RlMsgCancel *m, RlWireWriter *w);
int  rl_msg_cancel_decode     (const void *p, size_t n, RlMsgCancel *m, RlErrorInfo *err);

void rl_msg_error_encode      (const RlMsgError *m, RlWireWriter *w);
int  rl_msg_error_decode      (const void *p, size_t n, RlMsgError *m, RlErrorInfo *err);
void rl_msg_error_clear       (RlMsgError *m);

void rl_msg_result_encode     (const RlMsgResult *m, RlWireWriter *w);
int  rl_msg_result_decode     (const void *p, size_t n, RlMsgResult *m, RlErrorInfo *err);
void rl_msg_result_clear      (RlMsgResult *m);

void rl_msg_cache_report_encode (const RlMsgCacheReport *m, RlWireWriter *w);
int  rl_msg_cache_report_decode (const void *p, size_t n, RlMsgCacheReport *m, RlErrorInfo *err);

/* Sends w's bytes as one frame; fails with RL_WIRE_INVALID if encoding
 * overflowed the payload limit. */
int  rl_msg_send              (int sock, uint16_t type, uint64_t request_id,
                               const RlWireWriter *w, const int *fds, int n_fds,
                               int timeout_ms, RlErrorInfo *err);

/* Sends an ERROR frame with a formatted message. */
int  rl_msg_send_error        (int sock, uint64_t request_id, int code,
                               int timeout_ms, const char *format, ...)
  __attribute__ ((format (printf, 5, 6)));
