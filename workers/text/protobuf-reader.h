/* A bounds-checked reader for the protobuf wire format, just enough to walk
 * a serialized sentencepiece ModelProto: field keys, varints, 32/64-bit
 * fixed values and length-delimited payloads. Internal to workers/text.
 *
 * Every function returns 0 on success and -1 on malformed input (truncated
 * data, an over-long varint, a group, an unknown wire type); the reader is
 * then unusable and the caller reports the error with its own context. */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef struct {
  const uint8_t *pos;
  const uint8_t *end;
} RlPbReader;

enum {
  RL_PB_VARINT = 0,
  RL_PB_FIXED64 = 1,
  RL_PB_BYTES = 2,
  RL_PB_FIXED32 = 5,
};

/* Starts reading `size` bytes at `data`. */
void rl_pb_reader_init (RlPbReader *reader, const uint8_t *data, size_t size);

/* 1 while unread bytes remain, 0 at the end. */
int  rl_pb_has_more    (const RlPbReader *reader);

/* Reads the next field key. */
int  rl_pb_read_key    (RlPbReader *reader, uint32_t *field, uint32_t *wire_type);

int  rl_pb_read_varint (RlPbReader *reader, uint64_t *value);
int  rl_pb_read_fixed32 (RlPbReader *reader, uint32_t *value);

/* Points *data at a length-delimited payload inside the buffer (no copy). */
int  rl_pb_read_bytes  (RlPbReader *reader, const uint8_t **data, size_t *size);

/* Skips the value of a field of `wire_type` (groups are rejected). */
int  rl_pb_skip        (RlPbReader *reader, uint32_t wire_type);
