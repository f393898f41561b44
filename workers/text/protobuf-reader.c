/* Protobuf wire-format reader. See protobuf-reader.h. */
#include "workers/text/protobuf-reader.h"


void
rl_pb_reader_init (RlPbReader *reader, const uint8_t *data, size_t size)
{
  reader->pos = data;
  reader->end = data + size;
}

int
rl_pb_has_more (const RlPbReader *reader)
{
  return reader->pos < reader->end;
}

int
rl_pb_read_varint (RlPbReader *reader, uint64_t *value)
{
  uint64_t result = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (reader->pos >= reader->end)
      return -1;
    uint8_t byte = *reader->pos++;
    result |= (uint64_t) (byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *value = result;
      return 0;
    }
  }
  return -1;
}

int
rl_pb_read_key (RlPbReader *reader, uint32_t *field, uint32_t *wire_type)
{
  uint64_t key;
  if (rl_pb_read_varint (reader, &key) != 0)
    return -1;
  *field = (uint32_t) (key >> 3);
  *wire_type = (uint32_t) (key & 7);
  if (*field == 0 || (key >> 3) > 0x1fffffff)
    return -1;
  return 0;
}

int
rl_pb_read_fixed32 (RlPbReader *reader, uint32_t *value)
{
  if (reader->end - reader->pos < 4)
    return -1;
  const uint8_t *p = reader->pos;
  *value = (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
  reader->pos += 4;
  return 0;
}

int
rl_pb_read_bytes (RlPbReader *reader, const uint8_t **data, size_t *size)
{
  uint64_t length;
  if (rl_pb_read_varint (reader, &length) != 0)
    return -1;
  if (length > (uint64_t) (reader->end - reader->pos))
    return -1;
  *data = reader->pos;
  *size = (size_t) length;
  reader->pos += length;
  return 0;
}

int
rl_pb_skip (RlPbReader *reader, uint32_t wire_type)
{
  uint64_t ignored;
  const uint8_t *data;
  size_t size;
  switch (wire_type) {
  case RL_PB_VARINT:
    return rl_pb_read_varint (reader, &ignored);
  case RL_PB_FIXED64:
    if (reader->end - reader->pos < 8)
      return -1;
    reader->pos += 8;
    return 0;
  case RL_PB_BYTES:
    return rl_pb_read_bytes (reader, &data, &size);
  case RL_PB_FIXED32:
    if (reader->end - reader->pos < 4)
      return -1;
    reader->pos += 4;
    return 0;
  default:
    return -1;
  }
}
