#include "wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"

void
rl_wire_writer_init (RlWireWriter *w)
{
  memset (w, 0, sizeof *w);
}

void
rl_wire_writer_clear (RlWireWriter *w)
{
  free (w->data);
  rl_wire_writer_init (w);
}

/* Makes room for extra more bytes and returns where they go, or NULL. */
static uint8_t *
reserve (RlWireWriter *w, size_t extra)
{
  if (w->failed)
    return NULL;
  if (extra > RL_PROTOCOL_MAX_PAYLOAD || w->size + extra > RL_PROTOCOL_MAX_PAYLOAD)
    {
      w->failed = true;
      return NULL;
    }
  if (w->size + extra > w->capacity)
    {
      size_t capacity = w->capacity ? w->capacity : 256;
      while (capacity < w->size + extra)
        capacity *= 2;
      uint8_t *grown = realloc (w->data, capacity);
      if (grown == NULL)
        {
          w->failed = true;
          return NULL;
        }
      w->data = grown;
      w->capacity = capacity;
    }
  uint8_t *at = w->data + w->size;
  w->size += extra;
  return at;
}

void
rl_wire_put_u32 (RlWireWriter *w, uint32_t v)
{
  uint8_t *at = reserve (w, 4);
  if (at)
    rl_le_store_u32 (at, v);
}

void
rl_wire_put_u64 (RlWireWriter *w, uint64_t v)
{
  uint8_t *at = reserve (w, 8);
  if (at)
    rl_le_store_u64 (at, v);
}

void
rl_wire_put_blob (RlWireWriter *w, const void *data, size_t size)
{
  if (size > 0xffffffffu)
    {
      w->failed = true;
      return;
    }
  rl_wire_put_u32 (w, (uint32_t) size);
  uint8_t *at = reserve (w, size);
  if (at && size > 0)
    memcpy (at, data, size);
}

void
rl_wire_put_string (RlWireWriter *w, const char *s)
{
  size_t length = s ? strlen (s) : 0;
  if (length > RL_PROTOCOL_MAX_STRING)
    {
      w->failed = true;
      return;
    }
  rl_wire_put_blob (w, s, length);
}

void
rl_wire_reader_init (RlWireReader *r, const void *data, size_t size,
                     const char *message)
{
  memset (r, 0, sizeof *r);
  r->data = data;
  r->size = size;
  r->message = message ? message : "payload";
}

void
rl_wire_reader_fail (RlWireReader *r, const char *field, const char *problem)
{
  if (r->problem[0] != '\0')
    return;
  snprintf (r->problem, sizeof r->problem, "field '%s': %s", field, problem);
}

bool
rl_wire_reader_ok (const RlWireReader *r)
{
  return r->problem[0] == '\0';
}

/* Returns the next size bytes, or NULL (and fails) if fewer remain. */
static const uint8_t *
take (RlWireReader *r, size_t size, const char *field)
{
  if (!rl_wire_reader_ok (r))
    return NULL;
  if (size > r->size - r->pos)
    {
      char problem[96];
      snprintf (problem, sizeof problem,
                "needs %zu bytes but only %zu remain (truncated)", size,
                r->size - r->pos);
      rl_wire_reader_fail (r, field, problem);
      return NULL;
    }
  const uint8_t *at = r->data + r->pos;
  r->pos += size;
  return at;
}

uint32_t
rl_wire_get_u32 (RlWireReader *r, const char *field)
{
  const uint8_t *at = take (r, 4, field);
  return at ? rl_le_load_u32 (at) : 0;
}

uint64_t
rl_wire_get_u64 (RlWireReader *r, const char *field)
{
  const uint8_t *at = take (r, 8, field);
  return at ? rl_le_load_u64 (at) : 0;
}

void *
rl_wire_get_blob (RlWireReader *r, const char *field, size_t max_size,
                  size_t *size)
{
  *size = 0;
  uint32_t length = rl_wire_get_u32 (r, field);
  if (!rl_wire_reader_ok (r))
    return NULL;
  if (length > max_size)
    {
      char problem[96];
      snprintf (problem, sizeof problem, "length %u exceeds the limit of %zu",
                length, max_size);
      rl_wire_reader_fail (r, field, problem);
      return NULL;
    }
  const uint8_t *at = take (r, length, field);
  if (at == NULL || length == 0)
    return NULL;
  void *copy = malloc (length);
  if (copy == NULL)
    {
      rl_wire_reader_fail (r, field, "out of memory");
      return NULL;
    }
  memcpy (copy, at, length);
  *size = length;
  return copy;
}

char *
rl_wire_get_string (RlWireReader *r, const char *field)
{
  uint32_t length = rl_wire_get_u32 (r, field);
  if (!rl_wire_reader_ok (r))
    return NULL;
  if (length > RL_PROTOCOL_MAX_STRING)
    {
      rl_wire_reader_fail (r, field, "string longer than the protocol allows");
      return NULL;
    }
  const uint8_t *at = take (r, length, field);
  if (at == NULL)
    return NULL;
  if (memchr (at, '\0', length) != NULL)
    {
      rl_wire_reader_fail (r, field, "string holds a NUL byte");
      return NULL;
    }
  char *copy = malloc ((size_t) length + 1);
  if (copy == NULL)
    {
      rl_wire_reader_fail (r, field, "out of memory");
      return NULL;
    }
  memcpy (copy, at, length);
  copy[length] = '\0';
  return copy;
}

int
rl_wire_reader_finish (RlWireReader *r, RlErrorInfo *err)
{
  if (!rl_wire_reader_ok (r))
    return rl_error_set (err, RL_WIRE_BAD_MESSAGE, "malformed %s message: %s",
                         r->message, r->problem);
  if (r->pos != r->size)
    return rl_error_set (err, RL_WIRE_BAD_MESSAGE,
                         "malformed %s message: %zu unexpected trailing bytes",
                         r->message, r->size - r->pos);
  return RL_WIRE_OK;
}
