/* Framing: one message = a 24-byte little-endian header, a payload, and up
 * to RL_PROTOCOL_MAX_FDS descriptors attached to the header's first byte.
 *
 *   offset 0  u32 magic        RL_PROTOCOL_MAGIC
 *          4  u16 version      RL_PROTOCOL_VERSION
 *          6  u16 type         RlMessageType
 *          8  u32 flags        low byte: number of attached descriptors
 *         12  u32 payload_size <= RL_PROTOCOL_MAX_PAYLOAD
 *         16  u64 request_id   pairs replies and progress with requests
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "error-info.h"
#include "protocol.h"

typedef struct {
  uint32_t magic;
  uint16_t version;
  uint16_t type;
  uint32_t flags;
  uint32_t payload_size;
  uint64_t request_id;
} RlFrameHeader;

/* A received frame. The caller owns payload and every fds[i] >= 0; take a
 * descriptor by copying it and setting fds[i] = -1. */
typedef struct {
  RlFrameHeader header;
  uint8_t      *payload;
  int           fds[RL_PROTOCOL_MAX_FDS];
  int           n_fds;
} RlFrame;

/* Writes header into out[RL_PROTOCOL_HEADER_SIZE], little-endian. */
void rl_frame_header_encode (const RlFrameHeader *header, uint8_t *out);

/* Parses and checks a header: magic, version (a mismatch says both
 * versions), payload size and descriptor count limits. */
int  rl_frame_header_decode (const uint8_t *in, RlFrameHeader *header,
                             RlErrorInfo *err);

/* Sends one frame; the whole frame must leave within timeout_ms (< 0: no
 * limit). fds stay owned by the caller. */
int  rl_frame_send          (int sock, uint16_t type, uint64_t request_id,
                             const void *payload, size_t payload_size,
                             const int *fds, int n_fds, int timeout_ms,
                             RlErrorInfo *err);

/* Receives one whole frame within timeout_ms (< 0: no limit) into frame,
 * which the caller releases with rl_frame_clear(). Fails, leaving nothing
 * to release, on a bad header, a short read, or a descriptor count that
 * differs from the header's. */
int  rl_frame_recv          (int sock, RlFrame *frame, int timeout_ms,
                             RlErrorInfo *err);

/* Frees the payload and closes descriptors still owned by the frame. */
void rl_frame_clear         (RlFrame *frame);
