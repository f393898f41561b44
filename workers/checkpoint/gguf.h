/* GGUF checkpoints (versions 2 and 3): memory-mapped once, validated
 * completely, tensors handed out without copying.
 *
 * Layout: "GGUF", u32 version, u64 tensor count, u64 key/value count, the
 * key/values (typed, arrays included), the tensor infos (name, dims, ggml
 * type, offset), padding to general.alignment (default 32), then the data.
 * Opening checks every length and count against the bytes left, every
 * value type, the alignment, every tensor's type, dims (ne[0] a whole number
 * of blocks), byte size without overflow, alignment of its offset, bounds
 * and non-overlap; duplicate keys and tensor names are rejected. Failures
 * give RL_E_FORMAT (RL_E_VERSION for unsupported versions, RL_E_IO for
 * system errors) with an rl_last_error() message naming the file and the
 * tensor or key.
 *
 * Shapes: `ne` is ggml's order (ne[0] innermost); `shape` is the same
 * reversed, outermost first like safetensors and RlTensor, which gives back
 * the PyTorch shape of files converted from PyTorch. Tensors are listed in
 * header order; the mapping is read-only and shared between processes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "workers/runtime/dtype.h"
#include "workers/runtime/status.h"
#include "workers/runtime/tensor.h"

#define RL_GGUF_MAX_DIMS          4
#define RL_GGUF_DEFAULT_ALIGNMENT 32

typedef struct RlGguf RlGguf;

/* Metadata value types, numbered as in the file. */
typedef enum {
  RL_GGUF_UINT8   = 0,
  RL_GGUF_INT8    = 1,
  RL_GGUF_UINT16  = 2,
  RL_GGUF_INT16   = 3,
  RL_GGUF_UINT32  = 4,
  RL_GGUF_INT32   = 5,
  RL_GGUF_FLOAT32 = 6,
  RL_GGUF_BOOL    = 7,
  RL_GGUF_STRING  = 8,
  RL_GGUF_ARRAY   = 9,
  RL_GGUF_UINT64  = 10,
  RL_GGUF_INT64   = 11,
  RL_GGUF_FLOAT64 = 12,
} RlGgufType;

typedef struct {
  const char    *key;           /* NUL-terminated copy */
  RlGgufType     type;
  RlGgufType     array_type;    /* element type when type is ARRAY */
  uint64_t       array_count;
  const uint8_t *raw;           /* value bytes (first element for arrays) in the mapping */
  uint64_t       raw_size;      /* bytes of the whole value */
  const char    *string;        /* NUL-terminated copy when type is STRING */
} RlGgufKv;

typedef struct {
  const char    *name;          /* NUL-terminated copy */
  uint32_t       ggml_type;     /* the file's type id */
  RlDType        dtype;
  int            ndim;
  int64_t        ne[RL_GGUF_MAX_DIMS];      /* ggml order; unused entries 1 */
  int64_t        shape[RL_GGUF_MAX_DIMS];   /* outermost first */
  int64_t        numel;
  uint64_t       file_offset;   /* absolute */
  uint64_t       nbytes;
  const void    *data;          /* inside the read-only mapping */
} RlGgufTensor;

RlStatus    rl_gguf_open             (const char *path, RlGguf **out);

/* Same validation over caller-owned bytes (tests, fuzzing); `data` must
 * outlive the handle. */
RlStatus    rl_gguf_open_memory      (const void *data, size_t size,
                                      const char *display_name, RlGguf **out);
void        rl_gguf_close            (RlGguf *gguf);   /* NULL-safe */

const char *rl_gguf_path             (const RlGguf *gguf);
uint32_t    rl_gguf_version          (const RlGguf *gguf);
uint64_t    rl_gguf_alignment        (const RlGguf *gguf);
uint64_t    rl_gguf_data_offset      (const RlGguf *gguf);

size_t      rl_gguf_kv_count         (const RlGguf *gguf);
const RlGgufKv *rl_gguf_kv_at        (const RlGguf *gguf, size_t index);
const RlGgufKv *rl_gguf_find_kv      (const RlGguf *gguf, const char *key);

/* Typed reads of a scalar value. Integers (and bool) convert to int64 or
 * uint64 when the value fits; floats read f32/f64 and integers. Wrong type
 * or out of range gives RL_E_DTYPE / RL_E_OVERFLOW with the key named. */
RlStatus    rl_gguf_kv_int           (const RlGgufKv *kv, int64_t *out);
RlStatus    rl_gguf_kv_uint          (const RlGgufKv *kv, uint64_t *out);
RlStatus    rl_gguf_kv_float         (const RlGgufKv *kv, double *out);

/* Element `index` of an array value: numbers through the same conversions,
 * strings as (pointer into the mapping, length) — not NUL-terminated. String
 * elements are found by walking the array: O(index). */
RlStatus    rl_gguf_kv_array_int     (const RlGgufKv *kv, uint64_t index, int64_t *out);
RlStatus    rl_gguf_kv_array_float   (const RlGgufKv *kv, uint64_t index, double *out);
RlStatus    rl_gguf_kv_array_string  (const RlGgufKv *kv, uint64_t index,
                                      const char **out, uint64_t *len);

const char *rl_gguf_type_name        (RlGgufType type);

size_t      rl_gguf_tensor_count     (const RlGguf *gguf);
const RlGgufTensor *rl_gguf_tensor_at (const RlGguf *gguf, size_t index);
/* Tensor by exact name, or NULL. O(1). */
const RlGgufTensor *rl_gguf_find     (const RlGguf *gguf, const char *name);

/* madvise hints for a tensor's pages (or the whole file when t is NULL);
 * DONT_NEED drops them from this process's RSS after an upload, the page
 * cache keeps them for other workers. Does nothing for in-memory handles. */
typedef enum {
  RL_GGUF_WILL_NEED,
  RL_GGUF_SEQUENTIAL,
  RL_GGUF_DONT_NEED,
} RlGgufAdvice;

void        rl_gguf_advise           (const RlGguf *gguf, const RlGgufTensor *t,
                                      RlGgufAdvice advice);

/* A zero-copy CPU view of `t` in its storage dtype (block types included),
 * shape outermost first; borrowed read-only memory, the RlGguf must outlive
 * it. Dequantise with gguf-dequant.h or the backend's convert op. */
RlStatus    rl_gguf_view             (const RlGguf *gguf, const RlGgufTensor *t,
                                      RlTensor *out);
