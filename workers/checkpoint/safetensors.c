/* safetensors reader; see safetensors.h for the contract.
 *
 * Layout: u64 little-endian N, N bytes of JSON, then the data region. Every
 * header entry is "name": {"dtype": "F16", "shape": [..], "data_offsets":
 * [begin, end]} with offsets relative to the data region. */
#include "workers/checkpoint/safetensors.h"
#include "workers/checkpoint/mapped-file.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workers/checkpoint/json-lite.h"
#include "workers/runtime/float-convert.h"

#define JSON_MAX_DEPTH 4
#define MAX_DIM_SIZE ((int64_t) 1 << 53)

typedef struct {
  const char *key;
  const char *value;
} MetadataEntry;

struct RlSafetensors {
  char                *path;
  const uint8_t       *bytes;        /* whole file */
  uint64_t             size;
  bool                 mapped;       /* bytes came from our mmap */
  uint64_t             data_offset;
  RlJsonDoc           *header;       /* owns every name and metadata string */
  RlSafetensorsTensor *tensors;      /* file order */
  size_t               count;
  uint32_t            *table;        /* open addressing: index + 1, 0 = empty */
  size_t               table_mask;
  MetadataEntry       *metadata;
  size_t               metadata_count;
  bool                 scaled_fp8;
  uint64_t             bytes_read;   /* atomic */
};

/* An entry while validating: the tensor plus its position in the header. */
typedef struct {
  RlSafetensorsTensor tensor;
  uint64_t            begin;
  uint64_t            end;
  size_t              header_index;
} PendingTensor;

static uint64_t
read_le64 (const uint8_t *p)
{
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--)
    v = v << 8 | p[i];
  return v;
}

static uint64_t
hash_name (const char *name)
{
  uint64_t h = 1469598103934665603ull;
  for (const unsigned char *c = (const unsigned char *) name; *c; c++)
    h = (h ^ *c) * 1099511628211ull;
  return h;
}

static RlStatus
format_error (const RlSafetensors *st, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

static RlStatus
format_error (const RlSafetensors *st, const char *fmt, ...)
{
  char what[768];
  va_list args;
  va_start (args, fmt);
  vsnprintf (what, sizeof what, fmt, args);
  va_end (args);
  return rl_set_error (RL_E_FORMAT, "%s: %s", st->path, what);
}

static void
describe_shape (const int64_t *shape, int ndim, char *buf, size_t size)
{
  size_t n = (size_t) snprintf (buf, size, "[");
  for (int i = 0; i < ndim && n < size; i++)
    n += (size_t) snprintf (buf + n, size - n, "%s%lld", i ? ", " : "", (long long) shape[i]);
  if (n < size)
    snprintf (buf + n, size - n, "]");
}

static RlStatus
parse_shape (const RlSafetensors *st, const char *name, const RlJsonValue *v,
             RlSafetensorsTensor *t)
{
  if (v == NULL || v->kind != RL_JSON_ARRAY)
    return format_error (st, "tensor '%s': \"shape\" must be an array of integers (corrupt header)", name);
  if (v->count > RL_SAFETENSORS_MAX_DIMS)
    return format_error (st, "tensor '%s': %zu dimensions; at most %d are supported",
                         name, v->count, RL_SAFETENSORS_MAX_DIMS);
  t->ndim = (int) v->count;
  uint64_t numel = 1;
  for (size_t i = 0; i < v->count; i++) {
    const RlJsonValue *dim = &v->members[i].value;
    if (dim->kind != RL_JSON_NUMBER || !dim->is_integer)
      return format_error (st, "tensor '%s': shape entry %zu is not an integer (corrupt header)", name, i);
    if (dim->integer < 0 || dim->integer > MAX_DIM_SIZE)
      return format_error (st, "tensor '%s': shape entry %zu is %lld, which is absurd (corrupt header)",
                           name, i, (long long) dim->integer);
    t->shape[i] = dim->integer;
    if (__builtin_mul_overflow (numel, (uint64_t) dim->integer, &numel) || numel > (uint64_t) INT64_MAX) {
      char shape[256];
      describe_shape (t->shape, (int) i + 1, shape, sizeof shape);
      return format_error (st, "tensor '%s': shape %s... has more elements than fit in 64 bits (corrupt header)",
                           name, shape);
    }
  }
  t->numel = (int64_t) numel;
  return RL_OK;
}

static RlStatus
parse_offsets (const RlSafetensors *st, const char *name, const RlJsonValue *v,
               PendingTensor *p)
{
  if (v == NULL || v->kind != RL_JSON_ARRAY || v->count != 2)
    return format_error (st, "tensor '%s': \"data_offsets\" must be [begin, end] (corrupt header)", name);
  const RlJsonValue *b = &v->members[0].value, *e = &v->members[1].value;
  if (b->kind != RL_JSON_NUMBER || !b->is_integer || b->integer < 0
      || e->kind != RL_JSON_NUMBER || !e->is_integer || e->integer < 0)
    return format_error (st, "tensor '%s': \"data_offsets\" must be two non-negative integers (corrupt header)", name);
  if (e->integer < b->integer)
    return format_error (st, "tensor '%s': data_offsets [%lld, %lld] end before they begin (corrupt header)",
                         name, (long long) b->integer, (long long) e->integer);
  p->begin = (uint64_t) b->integer;
  p->end = (uint64_t) e->integer;
  return RL_OK;
}

static RlStatus
parse_entry (const RlSafetensors *st, const char *name, const RlJsonValue *v, PendingTensor *p)
{
  RlSafetensorsTensor *t = &p->tensor;
  t->name = name;
  t->scale = 1.0f;
  if (name[0] == '\0')
    return format_error (st, "a tensor has an empty name (corrupt header)");
  if (v->kind != RL_JSON_OBJECT)
    return format_error (st, "tensor '%s': entry is not an object (it is %s %s), expected dtype, shape and data_offsets",
                         name, v->kind == RL_JSON_ARRAY || v->kind == RL_JSON_OBJECT ? "an" : "a",
                         rl_json_kind_name (v->kind));
  for (size_t i = 0; i < v->count; i++) {
    const char *key = v->members[i].key;
    if (strcmp (key, "dtype") != 0 && strcmp (key, "shape") != 0 && strcmp (key, "data_offsets") != 0)
      return format_error (st, "tensor '%s': unexpected field \"%s\" (not a safetensors header?)", name, key);
    for (size_t j = 0; j < i; j++)
      if (strcmp (v->members[j].key, key) == 0)
        return format_error (st, "tensor '%s': field \"%s\" appears twice (corrupt header)", name, key);
  }
  const RlJsonValue *dtype = rl_json_get (v, "dtype");
  if (dtype == NULL || dtype->kind != RL_JSON_STRING)
    return format_error (st, "tensor '%s': \"dtype\" missing or not a string (corrupt header)", name);
  t->dtype = rl_dtype_from_safetensors (dtype->string);
  if (t->dtype == RL_DTYPE_INVALID)
    return format_error (st, "tensor '%s': unknown dtype \"%.32s\" (corrupt file, or a dtype raylight does not "
                         "support: F64 F32 F16 BF16 F8_E4M3 F8_E5M2 I64 I32 I16 I8 U8 BOOL)", name, dtype->string);
  RlStatus status = parse_shape (st, name, rl_json_get (v, "shape"), t);
  if (status != RL_OK)
    return status;
  status = parse_offsets (st, name, rl_json_get (v, "data_offsets"), p);
  if (status != RL_OK)
    return status;

  size_t nbytes;
  if (rl_dtype_bytes_for (t->dtype, t->numel, &nbytes) != RL_OK) {
    rl_clear_error ();
    return format_error (st, "tensor '%s': %lld elements of %s overflow the byte count (corrupt header)",
                         name, (long long) t->numel, dtype->string);
  }
  t->nbytes = nbytes;
  if (p->end - p->begin != t->nbytes) {
    char shape[256];
    describe_shape (t->shape, t->ndim, shape, sizeof shape);
    return format_error (st, "tensor '%s': %s%s needs %llu bytes but data_offsets [%llu, %llu] hold %llu "
                         "(corrupt header)", name, dtype->string, shape, (unsigned long long) t->nbytes,
                         (unsigned long long) p->begin, (unsigned long long) p->end,
                         (unsigned long long) (p->end - p->begin));
  }
  uint64_t data_size = st->size - st->data_offset;
  if (p->end > data_size)
    return format_error (st, "tensor '%s': data_offsets [%llu, %llu] run past the end of the file's %llu data "
                         "bytes: the file is truncated (incomplete download or copy?) — fetch it again",
                         name, (unsigned long long) p->begin, (unsigned long long) p->end,
                         (unsigned long long) data_size);
  t->file_offset = st->data_offset + p->begin;
  t->data = st->bytes + t->file_offset;
  return RL_OK;
}

static RlStatus
parse_metadata (RlSafetensors *st, const RlJsonValue *v)
{
  if (v->kind != RL_JSON_OBJECT)
    return format_error (st, "\"__metadata__\" is a %s, expected an object of strings (corrupt header)",
                         rl_json_kind_name (v->kind));
  st->metadata = calloc (v->count ? v->count : 1, sizeof *st->metadata);
  if (st->metadata == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "%s: out of memory for metadata", st->path);
  for (size_t i = 0; i < v->count; i++) {
    const RlJsonMember *m = &v->members[i];
    if (m->value.kind != RL_JSON_STRING)
      return format_error (st, "\"__metadata__\" entry \"%s\" is a %s; safetensors metadata values are strings",
                           m->key, rl_json_kind_name (m->value.kind));
    st->metadata[i] = (MetadataEntry) { m->key, m->value.string };
  }
  st->metadata_count = v->count;
  return RL_OK;
}

static int
compare_pending (const void *a, const void *b)
{
  const PendingTensor *x = a, *y = b;
  if (x->begin != y->begin)
    return x->begin < y->begin ? -1 : 1;
  if (x->end != y->end)
    return x->end < y->end ? -1 : 1;
  return x->header_index < y->header_index ? -1 : x->header_index > y->header_index;
}

/* Sorted by begin, each tensor must start where the previous one ended and
 * the last must end at the end of the file: no overlap, no gap. */
static RlStatus
check_coverage (const RlSafetensors *st, const PendingTensor *sorted, size_t count)
{
  uint64_t data_size = st->size - st->data_offset;
  uint64_t expected = 0;
  const char *previous = NULL;
  for (size_t i = 0; i < count; i++) {
    const PendingTensor *p = &sorted[i];
    if (p->begin < expected)
      return format_error (st, "tensor '%s' (bytes %llu..%llu) overlaps tensor '%s' (ends at %llu): "
                           "lying data_offsets, corrupt header", p->tensor.name,
                           (unsigned long long) p->begin, (unsigned long long) p->end,
                           previous, (unsigned long long) expected);
    if (p->begin > expected)
      return format_error (st, "data bytes %llu..%llu belong to no tensor (before tensor '%s'): "
                           "lying data_offsets, corrupt header", (unsigned long long) expected,
                           (unsigned long long) p->begin, p->tensor.name);
    expected = p->end;
    previous = p->tensor.name;
  }
  if (expected != data_size)
    return format_error (st, "the file has %llu data bytes but its tensors cover only %llu%s%s%s: "
                         "trailing garbage or a corrupt header", (unsigned long long) data_size,
                         (unsigned long long) expected, previous ? " (last tensor '" : "",
                         previous ? previous : "", previous ? "')" : "");
  return RL_OK;
}

static RlStatus
build_index (RlSafetensors *st)
{
  size_t capacity = 16;
  while (capacity < st->count * 2)
    capacity *= 2;
  st->table = calloc (capacity, sizeof *st->table);
  if (st->table == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "%s: out of memory for the tensor index", st->path);
  st->table_mask = capacity - 1;
  for (size_t i = 0; i < st->count; i++) {
    const char *name = st->tensors[i].name;
    size_t slot = hash_name (name) & st->table_mask;
    while (st->table[slot] != 0) {
      if (strcmp (st->tensors[st->table[slot] - 1].name, name) == 0)
        return format_error (st, "tensor '%s' appears twice in the header (corrupt header)", name);
      slot = (slot + 1) & st->table_mask;
    }
    st->table[slot] = (uint32_t) i + 1;
  }
  return RL_OK;
}

static bool
has_suffix (const char *s, const char *suffix)
{
  size_t n = strlen (s), m = strlen (suffix);
  return n >= m && strcmp (s + n - m, suffix) == 0;
}

static RlStatus
read_scalar_scale (const RlSafetensors *st, const RlSafetensorsTensor *s, float *out)
{
  switch (s->dtype) {
  case RL_F32: memcpy (out, s->data, sizeof (float)); break;
  case RL_F16: { uint16_t b; memcpy (&b, s->data, 2); *out = rl_f16_to_f32 (b); break; }
  case RL_BF16: { uint16_t b; memcpy (&b, s->data, 2); *out = rl_bf16_to_f32 (b); break; }
  default:
    return format_error (st, "tensor '%s': a scale must be F32, F16 or BF16, not %s",
                         s->name, rl_dtype_name (s->dtype));
  }
  if (!isfinite (*out))
    return format_error (st, "tensor '%s': scale %g is not finite (corrupt weights)", s->name, *out);
  return RL_OK;
}

/* Pairs every fp8 "<x>.weight" with "<x>.scale_weight" (ComfyUI scaled fp8). */
static RlStatus
pair_scales (RlSafetensors *st)
{
  if (rl_safetensors_find (st, "scaled_fp8") != NULL)
    st->scaled_fp8 = true;
  for (size_t i = 0; i < st->count; i++) {
    RlSafetensorsTensor *t = &st->tensors[i];
    if ((t->dtype != RL_F8_E4M3FN && t->dtype != RL_F8_E5M2) || !has_suffix (t->name, ".weight"))
      continue;
    size_t base = strlen (t->name) - strlen ("weight");
    char scale_name[4096];
    if (base + sizeof "scale_weight" > sizeof scale_name)
      continue;
    memcpy (scale_name, t->name, base);
    memcpy (scale_name + base, "scale_weight", sizeof "scale_weight");
    const RlSafetensorsTensor *s = rl_safetensors_find (st, scale_name);
    if (s == NULL)
      continue;
    if (s->numel != 1)
      return format_error (st, "tensor '%s': scale_weight of fp8 weight '%s' has %lld elements; only per-tensor "
                           "(scalar) scales are supported", s->name, t->name, (long long) s->numel);
    RlStatus status = read_scalar_scale (st, s, &t->scale);
    if (status != RL_OK)
      return status;
    t->has_scale = true;
    t->scale_tensor = s;
    st->scaled_fp8 = true;
  }
  return RL_OK;
}

static RlStatus
parse_tensors (RlSafetensors *st, const RlJsonValue *root)
{
  PendingTensor *pending = calloc (root->count ? root->count : 1, sizeof *pending);
  if (pending == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "%s: out of memory for %zu header entries", st->path, root->count);
  size_t n = 0;
  RlStatus status = RL_OK;
  for (size_t i = 0; i < root->count && status == RL_OK; i++) {
    const RlJsonMember *m = &root->members[i];
    if (strcmp (m->key, "__metadata__") == 0) {
      if (st->metadata != NULL)
        status = format_error (st, "\"__metadata__\" appears twice (corrupt header)");
      else
        status = parse_metadata (st, &m->value);
      continue;
    }
    pending[n].header_index = i;
    status = parse_entry (st, m->key, &m->value, &pending[n]);
    n++;
  }
  if (status == RL_OK && n > UINT32_MAX - 1)
    status = format_error (st, "%zu tensors: too many", n);
  if (status == RL_OK) {
    qsort (pending, n, sizeof *pending, compare_pending);
    status = check_coverage (st, pending, n);
  }
  if (status == RL_OK) {
    st->tensors = calloc (n ? n : 1, sizeof *st->tensors);
    if (st->tensors == NULL)
      status = rl_set_error (RL_E_NO_MEMORY, "%s: out of memory", st->path);
  }
  if (status == RL_OK) {
    for (size_t i = 0; i < n; i++)
      st->tensors[i] = pending[i].tensor;
    st->count = n;
  }
  free (pending);
  return status;
}

static RlStatus
parse_header (RlSafetensors *st)
{
  if (st->size < 8)
    return format_error (st, "only %llu bytes: too short to be a safetensors file (truncated or empty)",
                         (unsigned long long) st->size);
  uint64_t header_len = read_le64 (st->bytes);
  if (header_len > st->size - 8)
    return format_error (st, "the header claims %llu bytes but the file has only %llu after the length: "
                         "truncated download, or not a safetensors file",
                         (unsigned long long) header_len, (unsigned long long) (st->size - 8));
  if (header_len > RL_SAFETENSORS_MAX_HEADER)
    return format_error (st, "a %llu-byte header is larger than the %u bytes allowed (corrupt file?)",
                         (unsigned long long) header_len, RL_SAFETENSORS_MAX_HEADER);
  if (header_len < 2 || st->bytes[8] != '{')
    return format_error (st, "the header does not start with '{': not a safetensors file");
  st->data_offset = 8 + header_len;

  char json_error[256];
  st->header = rl_json_parse ((const char *) st->bytes + 8, header_len, JSON_MAX_DEPTH,
                              json_error, sizeof json_error);
  if (st->header == NULL)
    return format_error (st, "header: %s (corrupt or truncated header)", json_error);
  const RlJsonValue *root = rl_json_root (st->header);
  if (root->kind != RL_JSON_OBJECT)
    return format_error (st, "the header is a %s, expected an object", rl_json_kind_name (root->kind));

  RlStatus status = parse_tensors (st, root);
  if (status == RL_OK)
    status = build_index (st);
  if (status == RL_OK)
    status = pair_scales (st);
  return status;
}

static RlStatus
finish_open (RlSafetensors *st, RlSafetensors **out)
{
  RlStatus status = parse_header (st);
  if (status != RL_OK) {
    rl_safetensors_close (st);
    return status;
  }
  *out = st;
  return RL_OK;
}

RlStatus
rl_safetensors_open_memory (const void *data, size_t size, const char *display_name, RlSafetensors **out)
{
  if (out == NULL || (data == NULL && size > 0))
    return rl_set_error (RL_E_INVALID_ARG, "rl_safetensors_open_memory: NULL argument");
  *out = NULL;
  RlSafetensors *st = calloc (1, sizeof *st);
  if (st == NULL || (st->path = strdup (display_name ? display_name : "<memory>")) == NULL) {
    free (st);
    return rl_set_error (RL_E_NO_MEMORY, "out of memory opening %s", display_name);
  }
  st->bytes = data;
  st->size = size;
  return finish_open (st, out);
}

RlStatus
rl_safetensors_open (const char *path, RlSafetensors **out)
{
  if (path == NULL || out == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "rl_safetensors_open: NULL argument");
  *out = NULL;
  RlMappedFile file;
  RlStatus status = rl_mapped_file_open (path, 1u << 20, &file);
  if (status != RL_OK)
    return status;
  RlSafetensors *st = calloc (1, sizeof *st);
  if (st == NULL || (st->path = strdup (path)) == NULL) {
    free (st);
    rl_mapped_file_close (&file);
    return rl_set_error (RL_E_NO_MEMORY, "out of memory opening %s", path);
  }
  st->bytes = file.bytes;
  st->size = file.size;
  st->mapped = file.mapped;
  return finish_open (st, out);
}

void
rl_safetensors_close (RlSafetensors *st)
{
  if (st == NULL)
    return;
  if (st->mapped) {
    RlMappedFile file = { st->bytes, st->size, true };
    rl_mapped_file_close (&file);
  }
  rl_json_free (st->header);
  free (st->tensors);
  free (st->table);
  free (st->metadata);
  free (st->path);
  free (st);
}

const char *
rl_safetensors_path (const RlSafetensors *st)
{
  return st->path;
}

uint64_t
rl_safetensors_file_size (const RlSafetensors *st)
{
  return st->size;
}

uint64_t
rl_safetensors_data_offset (const RlSafetensors *st)
{
  return st->data_offset;
}

uint64_t
rl_safetensors_data_size (const RlSafetensors *st)
{
  return st->size - st->data_offset;
}

size_t
rl_safetensors_count (const RlSafetensors *st)
{
  return st->count;
}

const RlSafetensorsTensor *
rl_safetensors_tensor_at (const RlSafetensors *st, size_t index)
{
  return index < st->count ? &st->tensors[index] : NULL;
}

const RlSafetensorsTensor *
rl_safetensors_find (const RlSafetensors *st, const char *name)
{
  if (st->table == NULL || name == NULL)
    return NULL;
  size_t slot = hash_name (name) & st->table_mask;
  while (st->table[slot] != 0) {
    const RlSafetensorsTensor *t = &st->tensors[st->table[slot] - 1];
    if (strcmp (t->name, name) == 0)
      return t;
    slot = (slot + 1) & st->table_mask;
  }
  return NULL;
}

size_t
rl_safetensors_metadata_count (const RlSafetensors *st)
{
  return st->metadata_count;
}

void
rl_safetensors_metadata_at (const RlSafetensors *st, size_t index, const char **key, const char **value)
{
  bool valid = index < st->metadata_count;
  if (key)
    *key = valid ? st->metadata[index].key : NULL;
  if (value)
    *value = valid ? st->metadata[index].value : NULL;
}

const char *
rl_safetensors_metadata (const RlSafetensors *st, const char *key)
{
  for (size_t i = 0; i < st->metadata_count; i++)
    if (strcmp (st->metadata[i].key, key) == 0)
      return st->metadata[i].value;
  return NULL;
}

bool
rl_safetensors_is_scaled_fp8 (const RlSafetensors *st)
{
  return st->scaled_fp8;
}

RlStatus
rl_safetensors_view (const RlSafetensors *st, const RlSafetensorsTensor *t, RlTensor *out)
{
  if (st == NULL || t == NULL || out == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "rl_safetensors_view: NULL argument");
  if (t->ndim > RL_MAX_DIMS)
    return rl_set_error (RL_E_NOT_SUPPORTED, "%s: tensor '%s' has %d dimensions; the runtime handles at most %d",
                         st->path, t->name, t->ndim, RL_MAX_DIMS);
  RlStatus status = rl_tensor_wrap (out, (void *) t->data, rl_device_cpu (), t->dtype, t->ndim, t->shape,
                                    NULL, NULL);
  if (status != RL_OK)
    return rl_prefix_error (status, "%s: tensor '%s': ", st->path, t->name);
  out->scale = t->scale;
  return RL_OK;
}

RlStatus
rl_safetensors_read (RlSafetensors *st, const RlSafetensorsTensor *t, uint64_t offset, uint64_t length,
                     void *dst)
{
  if (st == NULL || t == NULL || (dst == NULL && length > 0))
    return rl_set_error (RL_E_INVALID_ARG, "rl_safetensors_read: NULL argument");
  if (offset > t->nbytes || length > t->nbytes - offset)
    return rl_set_error (RL_E_INVALID_ARG, "%s: tensor '%s': range [%llu, +%llu) is outside its %llu bytes",
                         st->path, t->name, (unsigned long long) offset, (unsigned long long) length,
                         (unsigned long long) t->nbytes);
  memcpy (dst, (const uint8_t *) t->data + offset, (size_t) length);
  rl_safetensors_note_read (st, length);
  return RL_OK;
}

void
rl_safetensors_note_read (RlSafetensors *st, uint64_t bytes)
{
  __atomic_fetch_add (&st->bytes_read, bytes, __ATOMIC_RELAXED);
}

uint64_t
rl_safetensors_bytes_read (const RlSafetensors *st)
{
  return __atomic_load_n (&st->bytes_read, __ATOMIC_RELAXED);
}

RlStatus
rl_safetensors_shard_rows (const RlSafetensorsTensor *t, int rank, int world, int64_t *row_start,
                           int64_t *row_count, uint64_t *byte_offset, uint64_t *byte_length)
{
  if (t == NULL || world < 1 || rank < 0 || rank >= world)
    return rl_set_error (RL_E_INVALID_ARG, "rl_safetensors_shard_rows: rank %d of world %d", rank, world);
  int64_t rows = t->ndim == 0 ? 1 : t->shape[0];
  if (rows <= 1 || t->numel == 0) {
    *row_start = 0;
    *row_count = rows;
    *byte_offset = 0;
    *byte_length = t->nbytes;
    return RL_OK;
  }
  uint64_t row_bytes = t->nbytes / (uint64_t) rows;
  int64_t base = rows / world, extra = rows % world;
  int64_t start = rank * base + (rank < extra ? rank : extra);
  int64_t count = base + (rank < extra ? 1 : 0);
  *row_start = start;
  *row_count = count;
  *byte_offset = (uint64_t) start * row_bytes;
  *byte_length = (uint64_t) count * row_bytes;
  return RL_OK;
}

void
rl_safetensors_advise (RlSafetensors *st, const RlSafetensorsTensor *t, RlSafetensorsAdvice advice)
{
  if (st == NULL || !st->mapped)
    return;
  uint64_t begin = t ? t->file_offset : st->data_offset;
  uint64_t end = t ? t->file_offset + t->nbytes : st->size;
  long page = sysconf (_SC_PAGESIZE);
  uint64_t page_size = page > 0 ? (uint64_t) page : 4096;
  /* Widening to whole pages is harmless even for DONTNEED: this is a
   * read-only shared file mapping, so a dropped neighbour page just faults
   * back in from the page cache. */
  uint64_t aligned_begin = begin / page_size * page_size;
  uint64_t aligned_end = end;
  if (aligned_end <= aligned_begin)
    return;
  int how = advice == RL_SAFETENSORS_WILL_NEED ? MADV_WILLNEED
          : advice == RL_SAFETENSORS_SEQUENTIAL ? MADV_SEQUENTIAL : MADV_DONTNEED;
  madvise ((void *) (st->bytes + aligned_begin), (size_t) (aligned_end - aligned_begin), how);
}
