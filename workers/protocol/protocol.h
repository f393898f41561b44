/* The vocabulary of the worker <-> pool wire protocol: version, frame
 * limits, message types and status codes. Plain C, shared by the pool
 * manager (linked into the app) and raylight-worker.
 *
 * A connection carries frames (frame.h): a 24-byte little-endian header
 * followed by a payload of at most RL_PROTOCOL_MAX_PAYLOAD bytes, whose
 * fields are encoded by messages.h. Tensors never travel in the payload:
 * they are sealed memfds (shared-tensor.h) passed with SCM_RIGHTS alongside
 * the frame (fd-passing.h). Bump RL_PROTOCOL_VERSION on any change to a
 * payload layout; both ends refuse a frame of another version. */
#pragma once

#include <stdint.h>

#define RL_PROTOCOL_VERSION       2
#define RL_PROTOCOL_MAGIC         0x4B574C52u /* "RLWK" read little-endian */
#define RL_PROTOCOL_HEADER_SIZE   24
#define RL_PROTOCOL_MAX_PAYLOAD   (16u * 1024u * 1024u)
#define RL_PROTOCOL_MAX_FDS       16
#define RL_PROTOCOL_MAX_STRING    (64u * 1024u)
#define RL_PROTOCOL_TOKEN_LENGTH  64 /* hex characters of the auth token */
#define RL_PROTOCOL_NCCL_ID_SIZE  128 /* bytes of an ncclUniqueId */

/* Header flags: the low byte holds how many file descriptors travel with
 * the frame, so a receiver can tell a lost or forged descriptor. */
#define RL_FRAME_FLAG_FD_COUNT_MASK 0xffu

/* X-macro of every message type: name, wire value, direction. */
#define RL_MESSAGE_TYPES(X)                                                  \
  X (HELLO,         1, "worker -> pool: version, pid, token, device facts")  \
  X (HELLO_ACK,     2, "pool -> worker: token accepted or refused")          \
  X (LOAD_MODEL,    3, "pool -> worker: load a checkpoint into the cache")   \
  X (UNLOAD_MODEL,  4, "pool -> worker: drop a cached model")                \
  X (FREE_MEMORY,   5, "pool -> worker: drop every cached model")           \
  X (ENCODE_TEXT,   6, "pool -> worker: family text encoder")                \
  X (SAMPLE,        7, "pool -> worker: family sampling loop")               \
  X (VAE_ENCODE,    8, "pool -> worker: family VAE encoder")                 \
  X (VAE_DECODE,    9, "pool -> worker: family VAE decoder")                 \
  X (CANCEL,       10, "pool -> worker: stop the running request")           \
  X (PROGRESS,     11, "worker -> pool: step of total, optional preview")    \
  X (HEARTBEAT,    12, "pool -> worker: are you alive")                      \
  X (HEARTBEAT_ACK,13, "worker -> pool: alive")                              \
  X (SHUTDOWN,     14, "pool -> worker: exit cleanly")                       \
  X (ERROR,        15, "worker -> pool: request failed, code + message")     \
  X (RESULT,       16, "worker -> pool: request done, blob + tensors")       \
  X (DIAGNOSTIC,   17, "pool -> worker: test op on the runtime")

typedef enum {
#define RL_MESSAGE_ENUM(name, value, doc) RL_MSG_##name = value,
  RL_MESSAGE_TYPES (RL_MESSAGE_ENUM)
#undef RL_MESSAGE_ENUM
} RlMessageType;

/* X-macro of status codes carried by ERROR messages and returned by the
 * protocol and pool calls. */
#define RL_WIRE_STATUSES(X)                                                  \
  X (OK,                0, "success")                                        \
  X (IO,               -1, "socket or file I/O failed")                      \
  X (PEER_CLOSED,      -2, "the other end closed the connection")            \
  X (TIMEOUT,          -3, "timed out")                                      \
  X (BAD_MESSAGE,      -4, "malformed message")                              \
  X (VERSION_MISMATCH, -5, "protocol version mismatch")                      \
  X (AUTH,             -6, "authentication refused")                         \
  X (NOT_SUPPORTED,    -7, "not supported by this worker")                   \
  X (NO_MEMORY,        -8, "out of memory")                                  \
  X (NOT_FOUND,        -9, "file not found")                                 \
  X (INVALID,         -10, "invalid argument")                               \
  X (CANCELLED,       -11, "cancelled")                                      \
  X (CRASHED,         -12, "worker crashed")                                 \
  X (HUNG,            -13, "worker stopped answering")                       \
  X (BUSY,            -14, "worker busy")                                    \
  X (STOPPED,         -15, "pool stopped")                                   \
  X (INTERNAL,        -16, "internal error")

typedef enum {
#define RL_WIRE_STATUS_ENUM(name, value, doc) RL_WIRE_##name = value,
  RL_WIRE_STATUSES (RL_WIRE_STATUS_ENUM)
#undef RL_WIRE_STATUS_ENUM
} RlWireStatus;

/* Returns the message type's name ("LOAD_MODEL"), or NULL if unknown. */
const char *rl_message_type_name (uint32_t type);

/* Returns a short text for a status code ("timed out"); never NULL. */
const char *rl_wire_status_text  (int status);
