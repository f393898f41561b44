/* Bounded little-endian field codec for payloads. The writer grows a
 * buffer; the reader never reads past its end: the first out-of-bounds or
 * malformed field marks it failed, later reads return zeros, and
 * rl_wire_reader_finish() reports the first problem with the field name. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error-info.h"

typedef struct {
  uint8_t *data;
  size_t   size;
  size_t   capacity;
  bool     failed;     /* allocation failure or field too large */
} RlWireWriter;

typedef struct {
  const uint8_t *data;
  size_t         size;
  size_t         pos;
  const char    *message;  /* what failed: a message type name */
  char           problem[160];
} RlWireReader;

static inline void     rl_le_store_u16 (uint8_t *p, uint16_t v) { p[0] = (uint8_t) v; p[1] = (uint8_t) (v >> 8); }
static inline void     rl_le_store_u32 (uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t) (v >> (8 * i)); }
static inline void     rl_le_store_u64 (uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t) (v >> (8 * i)); }
static inline uint16_t rl_le_load_u16  (const uint8_t *p) { return (uint16_t) (p[0] | (p[1] << 8)); }
static inline uint32_t rl_le_load_u32  (const uint8_t *p) { uint32_t v = 0; for (int i = 3; i >= 0; i--) v = (v << 8) | p[i]; return v; }
static inline uint64_t rl_le_load_u64  (const uint8_t *p) { uint64_t v = 0; for (int i = 7; i >= 0; i--) v = (v << 8) | p[i]; return v; }

void  rl_wire_writer_init    (RlWireWriter *w);
void  rl_wire_writer_clear   (RlWireWriter *w);
void  rl_wire_put_u32        (RlWireWriter *w, uint32_t v);
void  rl_wire_put_u64        (RlWireWriter *w, uint64_t v);
/* A u32 length then the bytes, no NUL; NULL is written as "". */
void  rl_wire_put_string     (RlWireWriter *w, const char *s);
/* A u32 length then the bytes. */
void  rl_wire_put_blob       (RlWireWriter *w, const void *data, size_t size);

/* message names the payload being read, for error texts. */
void  rl_wire_reader_init    (RlWireReader *r, const void *data, size_t size,
                              const char *message);
uint32_t rl_wire_get_u32     (RlWireReader *r, const char *field);
uint64_t rl_wire_get_u64     (RlWireReader *r, const char *field);
/* Returns a malloc'ed NUL-terminated copy (caller frees), or NULL once the
 * reader failed: over RL_PROTOCOL_MAX_STRING, past the end, or holding a
 * NUL byte. */
char    *rl_wire_get_string  (RlWireReader *r, const char *field);
/* Returns a malloc'ed copy of a blob of at most max_size bytes and its size;
 * NULL with *size 0 for an empty blob or once the reader failed. */
void    *rl_wire_get_blob    (RlWireReader *r, const char *field,
                              size_t max_size, size_t *size);
/* Marks the reader failed with a problem text, unless it already failed. */
void     rl_wire_reader_fail (RlWireReader *r, const char *field,
                              const char *problem);
bool     rl_wire_reader_ok   (const RlWireReader *r);
/* Fails on an earlier problem or on trailing bytes; 0 when clean. */
int      rl_wire_reader_finish (RlWireReader *r, RlErrorInfo *err);
