/* GGUF reader; see gguf.h for the contract. All integers little-endian. */
#include "workers/checkpoint/gguf.h"
#include "workers/checkpoint/mapped-file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define GGUF_MAGIC "GGUF"
/* Longest key or tensor name we accept; ggml itself allows 63-char names. */
#define MAX_NAME_LENGTH 4096

struct RlGguf {
  char          *path;
  const uint8_t *bytes;
  uint64_t       size;
  bool           mapped;
  uint32_t       version;
  uint64_t       alignment;
  uint64_t       data_offset;
  RlGgufKv      *kvs;
  size_t         kv_count;
  RlGgufTensor  *tensors;
  size_t         tensor_count;
  uint32_t      *table;        /* name index, open addressing: index + 1, 0 = empty */
  size_t         table_mask;
};

typedef struct {
  const RlGguf *gguf;
  uint64_t      pos;
  char          where[200];   /* what is being read, for messages */
} Cursor;

static RlStatus
format_error (const RlGguf *g, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static RlStatus
format_error (const RlGguf *g, const char *fmt, ...)
{
  char what[768];
  va_list args;
  va_start (args, fmt);
  vsnprintf (what, sizeof what, fmt, args);
  va_end (args);
  return rl_set_error (RL_E_FORMAT, "%s: %s", g->path, what);
}

static uint64_t
read_le (const uint8_t *p, int n)
{
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--)
    v = v << 8 | p[i];
  return v;
}

static RlStatus
truncated (const Cursor *c, uint64_t need)
{
  return format_error (c->gguf, "%s: needs %llu bytes at offset %llu but the file ends at %llu: "
                       "truncated download or corrupt file", c->where, (unsigned long long) need,
                       (unsigned long long) c->pos, (unsigned long long) c->gguf->size);
}

static RlStatus
take (Cursor *c, uint64_t n, const uint8_t **out)
{
  if (n > c->gguf->size - c->pos)
    return truncated (c, n);
  *out = c->gguf->bytes + c->pos;
  c->pos += n;
  return RL_OK;
}

static RlStatus
take_u32 (Cursor *c, uint32_t *out)
{
  const uint8_t *p;
  RlStatus status = take (c, 4, &p);
  if (status == RL_OK)
    *out = (uint32_t) read_le (p, 4);
  return status;
}

static RlStatus
take_u64 (Cursor *c, uint64_t *out)
{
  const uint8_t *p;
  RlStatus status = take (c, 8, &p);
  if (status == RL_OK)
    *out = read_le (p, 8);
  return status;
}

static RlStatus
take_string (Cursor *c, const char **out, uint64_t *len)
{
  RlStatus status = take_u64 (c, len);
  if (status != RL_OK)
    return status;
  return take (c, *len, (const uint8_t **) out);
}

/* A NUL-terminated copy of a name or key; empty, overlong or embedded-NUL
 * names are corrupt. */
static RlStatus
copy_name (Cursor *c, const char *what, char **out)
{
  const char *raw;
  uint64_t len;
  RlStatus status = take_string (c, &raw, &len);
  if (status != RL_OK)
    return status;
  if (len == 0 || len > MAX_NAME_LENGTH || memchr (raw, '\0', len) != NULL)
    return format_error (c->gguf, "%s at offset %llu: %llu-byte name is empty, too long or contains NUL "
                         "(corrupt file)", what, (unsigned long long) (c->pos - len), (unsigned long long) len);
  *out = strndup (raw, len);
  if (*out == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "%s: out of memory", c->gguf->path);
  return RL_OK;
}

static int
scalar_size (RlGgufType type)
{
  switch (type) {
  case RL_GGUF_UINT8: case RL_GGUF_INT8: case RL_GGUF_BOOL: return 1;
  case RL_GGUF_UINT16: case RL_GGUF_INT16: return 2;
  case RL_GGUF_UINT32: case RL_GGUF_INT32: case RL_GGUF_FLOAT32: return 4;
  case RL_GGUF_UINT64: case RL_GGUF_INT64: case RL_GGUF_FLOAT64: return 8;
  default: return 0;
  }
}

const char *
rl_gguf_type_name (RlGgufType type)
{
  static const char *names[] = { "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
                                 "bool", "string", "array", "uint64", "int64", "float64" };
  return (unsigned) type < sizeof names / sizeof names[0] ? names[type] : "unknown";
}

static RlStatus
parse_value (Cursor *c, RlGgufKv *kv)
{
  uint32_t type;
  RlStatus status = take_u32 (c, &type);
  if (status != RL_OK)
    return status;
  if (type > RL_GGUF_FLOAT64)
    return format_error (c->gguf, "key '%s': unknown value type %u (corrupt file)", kv->key, type);
  kv->type = (RlGgufType) type;
  uint64_t start = c->pos;
  if (kv->type == RL_GGUF_STRING) {
    const char *s;
    uint64_t len;
    if ((status = take_string (c, &s, &len)) != RL_OK)
      return status;
    if (memchr (s, '\0', len) != NULL)
      return format_error (c->gguf, "key '%s': string value contains NUL (corrupt file)", kv->key);
    if ((kv->string = strndup (s, len)) == NULL)
      return rl_set_error (RL_E_NO_MEMORY, "%s: out of memory", c->gguf->path);
  } else if (kv->type == RL_GGUF_ARRAY) {
    uint32_t elem;
    if ((status = take_u32 (c, &elem)) != RL_OK || (status = take_u64 (c, &kv->array_count)) != RL_OK)
      return status;
    if (elem > RL_GGUF_FLOAT64 || elem == RL_GGUF_ARRAY)
      return format_error (c->gguf, "key '%s': array of %s is not supported (corrupt file?)", kv->key,
                           elem == RL_GGUF_ARRAY ? "arrays" : "an unknown type");
    kv->array_type = (RlGgufType) elem;
    start = c->pos;
    if (kv->array_type == RL_GGUF_STRING) {
      for (uint64_t i = 0; i < kv->array_count; i++) {
        const char *s;
        uint64_t len;
        if ((status = take_string (c, &s, &len)) != RL_OK)
          return rl_prefix_error (status, "key '%s' string %llu: ", kv->key, (unsigned long long) i);
      }
    } else {
      uint64_t bytes;
      const uint8_t *p;
      if (__builtin_mul_overflow (kv->array_count, (uint64_t) scalar_size (kv->array_type), &bytes))
        return format_error (c->gguf, "key '%s': array of %llu elements is absurd (corrupt file)", kv->key,
                             (unsigned long long) kv->array_count);
      if ((status = take (c, bytes, &p)) != RL_OK)
        return status;
    }
  } else {
    const uint8_t *p;
    if ((status = take (c, (uint64_t) scalar_size (kv->type), &p)) != RL_OK)
      return status;
    if (kv->type == RL_GGUF_BOOL && *p > 1)
      return format_error (c->gguf, "key '%s': bool value %u is neither 0 nor 1 (corrupt file)", kv->key, *p);
  }
  kv->raw = c->gguf->bytes + start;
  kv->raw_size = c->pos - start;
  return RL_OK;
}

/* find_duplicate reads the name as each record's first member. */
_Static_assert (offsetof (RlGgufKv, key) == 0, "key must come first");
_Static_assert (offsetof (RlGgufTensor, name) == 0, "name must come first");

static int
compare_names (const void *a, const void *b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Sorts the names (the first member of each of n records of `stride`
 * bytes) and reports one that occurs twice, or NULL. O(n log n), so a
 * hostile file with many keys stays cheap. */
static RlStatus
find_duplicate (const RlGguf *g, const void *records, size_t n, size_t stride, const char **duplicate)
{
  *duplicate = NULL;
  const char **names = malloc ((n ? n : 1) * sizeof *names);
  if (names == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "%s: out of memory", g->path);
  for (size_t i = 0; i < n; i++)
    memcpy (&names[i], (const uint8_t *) records + i * stride, sizeof (const char *));
  qsort (names, n, sizeof *names, compare_names);
  for (size_t i = 1; i < n && *duplicate == NULL; i++)
    if (strcmp (names[i - 1], names[i]) == 0)
      *duplicate = names[i];
  free (names);
  return RL_OK;
}

static RlStatus
parse_kvs (RlGguf *g, Cursor *c, uint64_t count)
{
  /* Each key/value takes at least 8 + 1 + 4 + 1 bytes: cap the allocation
   * by what the file could hold. */
  if (count > (g->size - c->pos) / 14)
    return format_error (g, "the header claims %llu metadata keys, more than the file can hold (corrupt file)",
                         (unsigned long long) count);
  g->kvs = calloc (count ? count : 1, sizeof *g->kvs);
  if (g->kvs == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "%s: out of memory", g->path);
  for (uint64_t i = 0; i < count; i++) {
    RlGgufKv *kv = &g->kvs[i];
    snprintf (c->where, sizeof c->where, "metadata key %llu", (unsigned long long) i);
    RlStatus status = copy_name (c, "metadata key", (char **) &kv->key);
    if (status != RL_OK)
      return status;
    g->kv_count = i + 1;
    snprintf (c->where, sizeof c->where, "value of key '%.160s'", kv->key);
    if ((status = parse_value (c, kv)) != RL_OK)
      return status;
  }
  const char *duplicate = NULL;
  RlStatus status = find_duplicate (g, g->kvs, g->kv_count, sizeof *g->kvs, &duplicate);
  if (status == RL_OK && duplicate != NULL)
    status = format_error (g, "metadata key '%s' appears twice (corrupt file)", duplicate);
  return status;
}

static RlStatus
read_alignment (RlGguf *g)
{
  g->alignment = RL_GGUF_DEFAULT_ALIGNMENT;
  const RlGgufKv *kv = rl_gguf_find_kv (g, "general.alignment");
  if (kv == NULL)
    return RL_OK;
  uint64_t value;
  if (kv->type != RL_GGUF_UINT32 || rl_gguf_kv_uint (kv, &value) != RL_OK)
    return format_error (g, "general.alignment must be a uint32, not %s (corrupt file)",
                         rl_gguf_type_name (kv->type));
  if (value == 0 || (value & (value - 1)) != 0)
    return format_error (g, "general.alignment %llu is not a power of two (corrupt file)",
                         (unsigned long long) value);
  g->alignment = value;
  return RL_OK;
}

static RlStatus
parse_tensor_info (RlGguf *g, Cursor *c, RlGgufTensor *t, uint64_t *relative_offset)
{
  snprintf (c->where, sizeof c->where, "tensor info %zu", (size_t) (t - g->tensors));
  RlStatus status = copy_name (c, "tensor name", (char **) &t->name);
  if (status != RL_OK)
    return status;
  snprintf (c->where, sizeof c->where, "tensor '%.160s'", t->name);
  uint32_t ndim;
  if ((status = take_u32 (c, &ndim)) != RL_OK)
    return status;
  if (ndim > RL_GGUF_MAX_DIMS)
    return format_error (g, "tensor '%s': %u dimensions, at most %d allowed (corrupt file)", t->name, ndim,
                         RL_GGUF_MAX_DIMS);
  t->ndim = (int) ndim;
  uint64_t numel = 1;
  for (int i = 0; i < RL_GGUF_MAX_DIMS; i++)
    t->ne[i] = 1;
  for (uint32_t i = 0; i < ndim; i++) {
    uint64_t dim;
    if ((status = take_u64 (c, &dim)) != RL_OK)
      return status;
    if (dim > ((uint64_t) 1 << 53) || __builtin_mul_overflow (numel, dim, &numel) || numel > INT64_MAX)
      return format_error (g, "tensor '%s': dimension %u is %llu, an absurd shape (corrupt file)", t->name, i,
                           (unsigned long long) dim);
    t->ne[i] = (int64_t) dim;
    t->shape[ndim - 1 - i] = (int64_t) dim;
  }
  t->numel = (int64_t) numel;
  if ((status = take_u32 (c, &t->ggml_type)) != RL_OK || (status = take_u64 (c, relative_offset)) != RL_OK)
    return status;
  t->dtype = rl_dtype_from_gguf (t->ggml_type);
  if (t->dtype == RL_DTYPE_INVALID)
    return format_error (g, "tensor '%s': ggml type %u is unknown or not supported (supported: F32 F16 BF16 "
                         "F64 I8-I64 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K-Q6_K)", t->name, t->ggml_type);
  int64_t block = rl_dtype_block_elems (t->dtype);
  if (t->ne[0] % block != 0)
    return format_error (g, "tensor '%s': rows of %lld elements are not a whole number of %s blocks of %lld "
                         "(corrupt file)", t->name, (long long) t->ne[0], rl_dtype_name (t->dtype),
                         (long long) block);
  size_t nbytes;
  if (rl_dtype_bytes_for (t->dtype, t->numel, &nbytes) != RL_OK) {
    rl_clear_error ();
    return format_error (g, "tensor '%s': %lld elements overflow the byte count (corrupt file)", t->name,
                         (long long) t->numel);
  }
  t->nbytes = nbytes;
  if (*relative_offset % g->alignment != 0)
    return format_error (g, "tensor '%s': data offset %llu is not a multiple of the alignment %llu "
                         "(corrupt file)", t->name, (unsigned long long) *relative_offset,
                         (unsigned long long) g->alignment);
  return RL_OK;
}

static int
compare_by_offset (const void *a, const void *b)
{
  const RlGgufTensor *x = *(const RlGgufTensor *const *) a, *y = *(const RlGgufTensor *const *) b;
  if (x->file_offset != y->file_offset)
    return x->file_offset < y->file_offset ? -1 : 1;
  return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

/* Names must be unique and data ranges disjoint. */
static RlStatus
check_tensor_layout (RlGguf *g)
{
  size_t n = g->tensor_count;
  const RlGgufTensor **sorted = malloc ((n ? n : 1) * sizeof *sorted);
  if (sorted == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "%s: out of memory", g->path);
  for (size_t i = 0; i < n; i++)
    sorted[i] = &g->tensors[i];
  qsort (sorted, n, sizeof *sorted, compare_by_offset);
  RlStatus status = RL_OK;
  for (size_t i = 1; i < n && status == RL_OK; i++)
    if (sorted[i]->file_offset < sorted[i - 1]->file_offset + sorted[i - 1]->nbytes)
      status = format_error (g, "tensor '%s' (bytes %llu..%llu) overlaps tensor '%s': lying offsets, "
                             "corrupt file", sorted[i]->name, (unsigned long long) sorted[i]->file_offset,
                             (unsigned long long) (sorted[i]->file_offset + sorted[i]->nbytes),
                             sorted[i - 1]->name);
  free (sorted);
  const char *duplicate = NULL;
  if (status == RL_OK)
    status = find_duplicate (g, g->tensors, n, sizeof *g->tensors, &duplicate);
  if (status == RL_OK && duplicate != NULL)
    status = format_error (g, "tensor '%s' appears twice (corrupt file)", duplicate);
  return status;
}

static uint64_t
hash_name (const char *name)
{
  uint64_t h = 1469598103934665603ull;
  for (const unsigned char *c = (const unsigned char *) name; *c; c++)
    h = (h ^ *c) * 1099511628211ull;
  return h;
}

/* Names are known to be unique here (check_tensor_layout ran). */
static RlStatus
build_index (RlGguf *g)
{
  size_t capacity = 16;
  while (capacity < g->tensor_count * 2)
    capacity *= 2;
  g->table = calloc (capacity, sizeof *g->table);
  if (g->table == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "%s: out of memory for the tensor index", g->path);
  g->table_mask = capacity - 1;
  for (size_t i = 0; i < g->tensor_count; i++) {
    size_t slot = hash_name (g->tensors[i].name) & g->table_mask;
    while (g->table[slot] != 0)
      slot = (slot + 1) & g->table_mask;
    g->table[slot] = (uint32_t) i + 1;
  }
  return RL_OK;
}

static RlStatus
parse_tensors (RlGguf *g, Cursor *c, uint64_t count)
{
  /* A tensor info takes at least 8 + 1 + 4 + 4 + 8 bytes. */
  if (count > (g->size - c->pos) / 25)
    return format_error (g, "the header claims %llu tensors, more than the file can hold (corrupt file)",
                         (unsigned long long) count);
  g->tensors = calloc (count ? count : 1, sizeof *g->tensors);
  uint64_t *offsets = calloc (count ? count : 1, sizeof *offsets);
  if (g->tensors == NULL || offsets == NULL) {
    free (offsets);
    return rl_set_error (RL_E_NO_MEMORY, "%s: out of memory", g->path);
  }
  RlStatus status = RL_OK;
  for (uint64_t i = 0; i < count && status == RL_OK; i++) {
    g->tensor_count = i + 1;
    status = parse_tensor_info (g, c, &g->tensors[i], &offsets[i]);
  }
  if (status == RL_OK) {
    uint64_t data = (c->pos + g->alignment - 1) / g->alignment * g->alignment;
    g->data_offset = data;
    uint64_t data_size = data <= g->size ? g->size - data : 0;
    for (uint64_t i = 0; i < count && status == RL_OK; i++) {
      RlGgufTensor *t = &g->tensors[i];
      if (offsets[i] > data_size || t->nbytes > data_size - offsets[i]) {
        status = format_error (g, "tensor '%s': bytes %llu..+%llu run past the end of the %llu data bytes: the "
                               "file is truncated (incomplete download?) or its offsets lie", t->name,
                               (unsigned long long) offsets[i], (unsigned long long) t->nbytes,
                               (unsigned long long) data_size);
        break;
      }
      /* Empty tensors of a file whose padding is missing point at its end. */
      t->file_offset = data + offsets[i] <= g->size ? data + offsets[i] : g->size;
      t->data = g->bytes + t->file_offset;
    }
  }
  free (offsets);
  if (status == RL_OK)
    status = check_tensor_layout (g);
  if (status == RL_OK && count > UINT32_MAX - 1)
    status = format_error (g, "%llu tensors: too many", (unsigned long long) count);
  if (status == RL_OK)
    status = build_index (g);
  return status;
}

static RlStatus
parse_file (RlGguf *g)
{
  Cursor c = { .gguf = g, .pos = 0, .where = "file header" };
  const uint8_t *magic;
  if (g->size < 4 || memcmp (g->bytes, GGUF_MAGIC, 4) != 0)
    return format_error (g, "does not start with \"GGUF\": not a GGUF file");
  RlStatus status = take (&c, 4, &magic);
  uint64_t tensor_count, kv_count;
  if (status == RL_OK)
    status = take_u32 (&c, &g->version);
  if (status != RL_OK)
    return status;
  if (g->version == 1)
    return rl_set_error (RL_E_VERSION, "%s: GGUF version 1 is obsolete; convert the model again", g->path);
  if (g->version != 2 && g->version != 3)
    return rl_set_error (RL_E_VERSION, "%s: GGUF version %u is not supported (2 and 3 are; a big-endian file "
                         "reads as a huge version)", g->path, g->version);
  if ((status = take_u64 (&c, &tensor_count)) != RL_OK || (status = take_u64 (&c, &kv_count)) != RL_OK)
    return status;
  if ((status = parse_kvs (g, &c, kv_count)) != RL_OK)
    return status;
  if ((status = read_alignment (g)) != RL_OK)
    return status;
  return parse_tensors (g, &c, tensor_count);
}

static RlStatus
finish_open (RlGguf *g, RlGguf **out)
{
  RlStatus status = parse_file (g);
  if (status != RL_OK) {
    rl_gguf_close (g);
    return status;
  }
  *out = g;
  return RL_OK;
}

RlStatus
rl_gguf_open_memory (const void *data, size_t size, const char *display_name, RlGguf **out)
{
  if (out == NULL || (data == NULL && size > 0))
    return rl_set_error (RL_E_INVALID_ARG, "rl_gguf_open_memory: NULL argument");
  *out = NULL;
  RlGguf *g = calloc (1, sizeof *g);
  if (g == NULL || (g->path = strdup (display_name ? display_name : "<memory>")) == NULL) {
    free (g);
    return rl_set_error (RL_E_NO_MEMORY, "out of memory opening %s", display_name);
  }
  g->bytes = data;
  g->size = size;
  return finish_open (g, out);
}

RlStatus
rl_gguf_open (const char *path, RlGguf **out)
{
  if (path == NULL || out == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "rl_gguf_open: NULL argument");
  *out = NULL;
  RlMappedFile file;
  RlStatus status = rl_mapped_file_open (path, 0, &file);
  if (status != RL_OK)
    return status;
  RlGguf *g = calloc (1, sizeof *g);
  if (g == NULL || (g->path = strdup (path)) == NULL) {
    free (g);
    rl_mapped_file_close (&file);
    return rl_set_error (RL_E_NO_MEMORY, "out of memory opening %s", path);
  }
  g->bytes = file.bytes;
  g->size = file.size;
  g->mapped = file.mapped;
  return finish_open (g, out);
}

void
rl_gguf_close (RlGguf *g)
{
  if (g == NULL)
    return;
  for (size_t i = 0; i < g->kv_count; i++) {
    free ((char *) g->kvs[i].key);
    free ((char *) g->kvs[i].string);
  }
  for (size_t i = 0; i < g->tensor_count; i++)
    free ((char *) g->tensors[i].name);
  free (g->kvs);
  free (g->tensors);
  free (g->table);
  if (g->mapped) {
    RlMappedFile file = { g->bytes, g->size, true };
    rl_mapped_file_close (&file);
  }
  free (g->path);
  free (g);
}

const char *rl_gguf_path (const RlGguf *g) { return g->path; }
uint32_t rl_gguf_version (const RlGguf *g) { return g->version; }
uint64_t rl_gguf_alignment (const RlGguf *g) { return g->alignment; }
uint64_t rl_gguf_data_offset (const RlGguf *g) { return g->data_offset; }
size_t rl_gguf_kv_count (const RlGguf *g) { return g->kv_count; }
size_t rl_gguf_tensor_count (const RlGguf *g) { return g->tensor_count; }

const RlGgufKv *
rl_gguf_kv_at (const RlGguf *g, size_t index)
{
  return index < g->kv_count ? &g->kvs[index] : NULL;
}

const RlGgufKv *
rl_gguf_find_kv (const RlGguf *g, const char *key)
{
  for (size_t i = 0; i < g->kv_count; i++)
    if (strcmp (g->kvs[i].key, key) == 0)
      return &g->kvs[i];
  return NULL;
}

const RlGgufTensor *
rl_gguf_tensor_at (const RlGguf *g, size_t index)
{
  return index < g->tensor_count ? &g->tensors[index] : NULL;
}

const RlGgufTensor *
rl_gguf_find (const RlGguf *g, const char *name)
{
  if (g->table == NULL || name == NULL)
    return NULL;
  for (size_t slot = hash_name (name) & g->table_mask; g->table[slot] != 0; slot = (slot + 1) & g->table_mask) {
    const RlGgufTensor *t = &g->tensors[g->table[slot] - 1];
    if (strcmp (t->name, name) == 0)
      return t;
  }
  return NULL;
}

void
rl_gguf_advise (const RlGguf *g, const RlGgufTensor *t, RlGgufAdvice advice)
{
  if (g == NULL || !g->mapped)
    return;
  uint64_t begin = t ? t->file_offset : 0, end = t ? t->file_offset + t->nbytes : g->size;
  long page = sysconf (_SC_PAGESIZE);
  uint64_t page_size = page > 0 ? (uint64_t) page : 4096;
  /* Whole pages; a dropped neighbour page of this read-only shared mapping
   * just faults back in from the page cache. */
  begin = begin / page_size * page_size;
  if (end <= begin)
    return;
  int how = advice == RL_GGUF_WILL_NEED ? MADV_WILLNEED : advice == RL_GGUF_SEQUENTIAL ? MADV_SEQUENTIAL
                                                                                       : MADV_DONTNEED;
  madvise ((void *) (g->bytes + begin), (size_t) (end - begin), how);
}

/* Reads one scalar of `type` at p as both a signed and an unsigned integer
 * or a double; `kind` says which readings are exact. */
typedef struct {
  bool     is_signed_ok;
  bool     is_unsigned_ok;
  bool     is_float;
  int64_t  i;
  uint64_t u;
  double   f;
} Scalar;

static bool
read_scalar (RlGgufType type, const uint8_t *p, Scalar *s)
{
  memset (s, 0, sizeof *s);
  int size = scalar_size (type);
  if (size == 0)
    return false;
  uint64_t raw = read_le (p, size);
  switch (type) {
  case RL_GGUF_UINT8: case RL_GGUF_UINT16: case RL_GGUF_UINT32: case RL_GGUF_UINT64: case RL_GGUF_BOOL:
    s->u = raw;
    s->is_unsigned_ok = true;
    s->is_signed_ok = raw <= INT64_MAX;
    s->i = (int64_t) raw;
    s->f = (double) raw;
    return true;
  case RL_GGUF_INT8: s->i = (int8_t) raw; break;
  case RL_GGUF_INT16: s->i = (int16_t) raw; break;
  case RL_GGUF_INT32: s->i = (int32_t) raw; break;
  case RL_GGUF_INT64: s->i = (int64_t) raw; break;
  case RL_GGUF_FLOAT32: { uint32_t b = (uint32_t) raw; float f; memcpy (&f, &b, 4); s->f = f; s->is_float = true; return true; }
  case RL_GGUF_FLOAT64: { memcpy (&s->f, &raw, 8); s->is_float = true; return true; }
  default: return false;
  }
  s->is_signed_ok = true;
  s->is_unsigned_ok = s->i >= 0;
  s->u = (uint64_t) s->i;
  s->f = (double) s->i;
  return true;
}

static RlStatus
scalar_of (const RlGgufKv *kv, uint64_t index, Scalar *s)
{
  if (kv == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "gguf: NULL key");
  if (kv->type == RL_GGUF_ARRAY) {
    if (index >= kv->array_count)
      return rl_set_error (RL_E_INVALID_ARG, "gguf key '%s': index %llu past its %llu elements", kv->key,
                           (unsigned long long) index, (unsigned long long) kv->array_count);
    if (!read_scalar (kv->array_type, kv->raw + index * (uint64_t) scalar_size (kv->array_type), s))
      return rl_set_error (RL_E_DTYPE, "gguf key '%s': array of %s, not numbers", kv->key,
                           rl_gguf_type_name (kv->array_type));
    return RL_OK;
  }
  if (!read_scalar (kv->type, kv->raw, s))
    return rl_set_error (RL_E_DTYPE, "gguf key '%s' is a %s, not a number", kv->key, rl_gguf_type_name (kv->type));
  return RL_OK;
}

static RlStatus
scalar_to_int (const RlGgufKv *kv, const Scalar *s, int64_t *out)
{
  if (s->is_float || !s->is_signed_ok)
    return rl_set_error (s->is_float ? RL_E_DTYPE : RL_E_OVERFLOW, "gguf key '%s': not an int64 value", kv->key);
  *out = s->i;
  return RL_OK;
}

RlStatus
rl_gguf_kv_int (const RlGgufKv *kv, int64_t *out)
{
  Scalar s;
  if (kv != NULL && kv->type == RL_GGUF_ARRAY)
    return rl_set_error (RL_E_DTYPE, "gguf key '%s' is an array", kv->key);
  RlStatus status = scalar_of (kv, 0, &s);
  return status != RL_OK ? status : scalar_to_int (kv, &s, out);
}

RlStatus
rl_gguf_kv_uint (const RlGgufKv *kv, uint64_t *out)
{
  Scalar s;
  if (kv != NULL && kv->type == RL_GGUF_ARRAY)
    return rl_set_error (RL_E_DTYPE, "gguf key '%s' is an array", kv->key);
  RlStatus status = scalar_of (kv, 0, &s);
  if (status != RL_OK)
    return status;
  if (s.is_float || !s.is_unsigned_ok)
    return rl_set_error (s.is_float ? RL_E_DTYPE : RL_E_OVERFLOW, "gguf key '%s': not a uint64 value", kv->key);
  *out = s.u;
  return RL_OK;
}

RlStatus
rl_gguf_kv_float (const RlGgufKv *kv, double *out)
{
  Scalar s;
  if (kv != NULL && kv->type == RL_GGUF_ARRAY)
    return rl_set_error (RL_E_DTYPE, "gguf key '%s' is an array", kv->key);
  RlStatus status = scalar_of (kv, 0, &s);
  if (status == RL_OK)
    *out = s.f;
  return status;
}

RlStatus
rl_gguf_kv_array_int (const RlGgufKv *kv, uint64_t index, int64_t *out)
{
  Scalar s;
  if (kv == NULL || kv->type != RL_GGUF_ARRAY)
    return rl_set_error (RL_E_DTYPE, "gguf key '%s' is not an array", kv ? kv->key : "(null)");
  RlStatus status = scalar_of (kv, index, &s);
  return status != RL_OK ? status : scalar_to_int (kv, &s, out);
}

RlStatus
rl_gguf_kv_array_float (const RlGgufKv *kv, uint64_t index, double *out)
{
  Scalar s;
  if (kv == NULL || kv->type != RL_GGUF_ARRAY)
    return rl_set_error (RL_E_DTYPE, "gguf key '%s' is not an array", kv ? kv->key : "(null)");
  RlStatus status = scalar_of (kv, index, &s);
  if (status == RL_OK)
    *out = s.f;
  return status;
}

RlStatus
rl_gguf_kv_array_string (const RlGgufKv *kv, uint64_t index, const char **out, uint64_t *len)
{
  if (kv == NULL || kv->type != RL_GGUF_ARRAY || kv->array_type != RL_GGUF_STRING)
    return rl_set_error (RL_E_DTYPE, "gguf key '%s' is not an array of strings", kv ? kv->key : "(null)");
  if (index >= kv->array_count)
    return rl_set_error (RL_E_INVALID_ARG, "gguf key '%s': index %llu past its %llu elements", kv->key,
                         (unsigned long long) index, (unsigned long long) kv->array_count);
  /* Bounds were checked when the file was opened. */
  const uint8_t *p = kv->raw;
  for (uint64_t i = 0; i < index; i++)
    p += 8 + read_le (p, 8);
  *len = read_le (p, 8);
  *out = (const char *) p + 8;
  return RL_OK;
}

RlStatus
rl_gguf_view (const RlGguf *g, const RlGgufTensor *t, RlTensor *out)
{
  if (g == NULL || t == NULL || out == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "rl_gguf_view: NULL argument");
  RlStatus status = rl_tensor_wrap (out, (void *) t->data, rl_device_cpu (), t->dtype, t->ndim, t->shape,
                                    NULL, NULL);
  if (status != RL_OK)
    return rl_prefix_error (status, "%s: tensor '%s': ", g->path, t->name);
  return RL_OK;
}
