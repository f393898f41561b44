/* Random-weights safetensors writer; see make-checkpoint-writer.h. */
#include "tools/make-checkpoint-writer.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "workers/runtime/float-convert.h"

#define CHUNK_ELEMS 65536

static inline uint64_t
mix64 (uint64_t x)
{
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/* make_checkpoint_value in two halves: the per-tensor part once, the
 * per-element part in the writer's inner loop. */
static inline uint64_t
value_key (uint64_t seed, size_t tensor_index)
{
  return mix64 (seed ^ mix64 (tensor_index + 1));
}

static inline float
value_from_key (uint64_t key, int64_t element)
{
  uint64_t h = mix64 (key ^ (uint64_t) element);
  /* (u + 0.5) / 2^23 - 1 for a 24-bit u is never exactly zero. */
  return ((float) (h >> 40) + 0.5f) / 8388608.0f - 1.0f;
}

float
make_checkpoint_value (uint64_t seed, size_t tensor_index, int64_t element)
{
  return value_from_key (value_key (seed, tensor_index), element);
}

float
make_checkpoint_scale (uint64_t seed, size_t tensor_index)
{
  float u = (make_checkpoint_value (seed ^ 0x5CA1Eull, tensor_index, -1) + 1.0f) * 0.5f;
  return (1.0f / 64.0f) * (1.0f + 15.0f * u);
}

float
make_checkpoint_int_range (RlDType dtype)
{
  switch (dtype) {
  case RL_I8: return 100.0f;
  case RL_U8: return 100.0f;
  case RL_I16: case RL_I32: case RL_I64: return 1e4f;
  default: return 1.0f;
  }
}

float
make_checkpoint_gain (const MakeCheckpointSpec *spec, unsigned flags)
{
  int64_t numel = 1;
  for (int d = 0; d < spec->ndim; d++)
    numel *= spec->shape[d];
  if (!(flags & MAKE_CHECKPOINT_FAN_IN) || spec->ndim < 2 || numel == 0
      || make_checkpoint_int_range (spec->dtype) != 1.0f)
    return 1.0f;
  return (float) (1.0 / sqrt ((double) (numel / spec->shape[0])));
}

static bool
is_fp8 (RlDType dtype)
{
  return dtype == RL_F8_E4M3FN || dtype == RL_F8_E5M2;
}

static bool
is_scaled_weight (const MakeCheckpointSpec *spec, unsigned flags)
{
  size_t n = strlen (spec->name);
  return (flags & MAKE_CHECKPOINT_SCALED_FP8) && is_fp8 (spec->dtype) && n >= 7
         && strcmp (spec->name + n - 7, ".weight") == 0;
}

static int
parse_shape (const char *s, MakeCheckpointSpec *out, char *error, size_t error_size)
{
  out->ndim = 0;
  while (*s == ' ' || *s == '\t' || *s == '[')
    s++;
  for (;;) {
    while (*s == ' ' || *s == '\t' || *s == ',' || *s == 'x')
      s++;
    if (*s == ']' || *s == '\0' || *s == '\n' || *s == '\r')
      break;
    if (!isdigit ((unsigned char) *s)) {
      snprintf (error, error_size, "bad character '%c' in shape", *s);
      return -1;
    }
    if (out->ndim == MAKE_CHECKPOINT_MAX_DIMS) {
      snprintf (error, error_size, "more than %d dimensions", MAKE_CHECKPOINT_MAX_DIMS);
      return -1;
    }
    char *end;
    errno = 0;
    long long v = strtoll (s, &end, 10);
    if (errno != 0 || v < 0) {
      snprintf (error, error_size, "bad dimension in shape");
      return -1;
    }
    out->shape[out->ndim++] = v;
    s = end;
  }
  return 1;
}

int
make_checkpoint_parse_line (const char *line, RlDType default_dtype, MakeCheckpointSpec *out, char *error,
                            size_t error_size)
{
  memset (out, 0, sizeof *out);
  while (*line == ' ' || *line == '\t')
    line++;
  if (*line == '\0' || *line == '\n' || *line == '\r' || *line == '#')
    return 0;
  size_t name_len = strcspn (line, " \t\r\n");
  if (name_len >= MAKE_CHECKPOINT_MAX_NAME) {
    snprintf (error, error_size, "name longer than %d bytes", MAKE_CHECKPOINT_MAX_NAME - 1);
    return -1;
  }
  memcpy (out->name, line, name_len);
  const char *rest = line + name_len;
  while (*rest == ' ' || *rest == '\t')
    rest++;
  out->dtype = default_dtype;
  if (isalpha ((unsigned char) *rest)) {
    char dtype[32] = { 0 };
    size_t n = strcspn (rest, " \t\r\n[");
    if (n >= sizeof dtype) {
      snprintf (error, error_size, "dtype name too long");
      return -1;
    }
    memcpy (dtype, rest, n);
    for (size_t i = 0; i < n; i++)
      dtype[i] = (char) toupper ((unsigned char) dtype[i]);
    out->dtype = rl_dtype_from_safetensors (dtype);
    if (out->dtype == RL_DTYPE_INVALID) {
      snprintf (error, error_size, "unknown dtype '%s' (F32 F16 BF16 F8_E4M3 F8_E5M2 I8 I32 ...)", dtype);
      return -1;
    }
    rest += n;
  }
  if (out->dtype == RL_DTYPE_INVALID) {
    snprintf (error, error_size, "no dtype given for '%s' and no default", out->name);
    return -1;
  }
  return parse_shape (rest, out, error, error_size);
}

/* Appends to a growing buffer; returns false on out-of-memory. */
typedef struct {
  char  *data;
  size_t len;
  size_t cap;
  bool   failed;
} Text;

static void
text_append (Text *t, const char *s, size_t n)
{
  if (t->failed)
    return;
  if (t->len + n + 1 > t->cap) {
    size_t cap = t->cap ? t->cap : 4096;
    while (cap < t->len + n + 1)
      cap *= 2;
    char *grown = realloc (t->data, cap);
    if (grown == NULL) {
      t->failed = true;
      return;
    }
    t->data = grown;
    t->cap = cap;
  }
  memcpy (t->data + t->len, s, n);
  t->len += n;
  t->data[t->len] = '\0';
}

static void
text_printf (Text *t, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static void
text_printf (Text *t, const char *fmt, ...)
{
  char buf[512];
  va_list args;
  va_start (args, fmt);
  int n = vsnprintf (buf, sizeof buf, fmt, args);
  va_end (args);
  text_append (t, buf, (size_t) n < sizeof buf ? (size_t) n : sizeof buf - 1);
}

static void
text_json_string (Text *t, const char *s)
{
  text_append (t, "\"", 1);
  for (; *s; s++) {
    unsigned char c = (unsigned char) *s;
    if (c == '"' || c == '\\')
      text_printf (t, "\\%c", c);
    else if (c < 0x20)
      text_printf (t, "\\u%04x", c);
    else
      text_append (t, (const char *) &c, 1);
  }
  text_append (t, "\"", 1);
}

static int64_t
numel_of (const MakeCheckpointSpec *spec)
{
  int64_t n = 1;
  for (int i = 0; i < spec->ndim; i++)
    n *= spec->shape[i];
  return n;
}

static void
text_entry (Text *t, const char *name, RlDType dtype, int ndim, const int64_t *shape, uint64_t begin,
            uint64_t end, bool *first)
{
  text_append (t, *first ? "" : ",", *first ? 0 : 1);
  *first = false;
  text_json_string (t, name);
  text_printf (t, ":{\"dtype\":\"%s\",\"shape\":[", rl_dtype_safetensors_name (dtype));
  for (int i = 0; i < ndim; i++)
    text_printf (t, "%s%lld", i ? "," : "", (long long) shape[i]);
  text_printf (t, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long) begin, (unsigned long long) end);
}

/* The header JSON, padded with spaces to a multiple of 8 bytes. */
static RlStatus
build_header (const MakeCheckpointSpec *specs, size_t n, unsigned flags, const char *const *metadata,
              size_t n_metadata, Text *t)
{
  bool first = true;
  text_append (t, "{", 1);
  if (n_metadata > 0) {
    text_append (t, "\"__metadata__\":{", 16);
    for (size_t i = 0; i < n_metadata; i++) {
      if (i)
        text_append (t, ",", 1);
      text_json_string (t, metadata[2 * i]);
      text_append (t, ":", 1);
      text_json_string (t, metadata[2 * i + 1]);
    }
    text_append (t, "}", 1);
    first = false;
  }
  uint64_t offset = 0;
  for (size_t i = 0; i < n; i++) {
    size_t bytes;
    RlStatus status = rl_dtype_bytes_for (specs[i].dtype, numel_of (&specs[i]), &bytes);
    if (status != RL_OK)
      return rl_prefix_error (status, "tensor '%s': ", specs[i].name);
    text_entry (t, specs[i].name, specs[i].dtype, specs[i].ndim, specs[i].shape, offset, offset + bytes, &first);
    offset += bytes;
    if (is_scaled_weight (&specs[i], flags)) {
      char name[MAKE_CHECKPOINT_MAX_NAME + 16];
      snprintf (name, sizeof name, "%.*sscale_weight", (int) (strlen (specs[i].name) - 6), specs[i].name);
      text_entry (t, name, RL_F32, 0, NULL, offset, offset + 4, &first);
      offset += 4;
    }
  }
  if (flags & MAKE_CHECKPOINT_SCALED_FP8) {
    int64_t zero = 0;
    text_entry (t, "scaled_fp8", RL_F8_E4M3FN, 1, &zero, offset, offset, &first);
  }
  text_append (t, "}", 1);
  while (t->len % 8 != 0)
    text_append (t, " ", 1);
  return t->failed ? rl_set_error (RL_E_NO_MEMORY, "out of memory building a header") : RL_OK;
}

/* The data is cut into units of UNIT_ELEMS elements of one tensor (a
 * multiple of CHUNK_ELEMS); threads take the units in turn and pwrite each
 * one at its own offset. Every value depends only on (seed, tensor,
 * element), so the file is the same byte for byte whatever the number of
 * threads. */
#define UNIT_ELEMS (16 * CHUNK_ELEMS)
#define MAX_THREADS 256

typedef struct {
  size_t  tensor;
  int64_t start;
  int64_t count;
} Unit;

typedef struct {
  int                       fd;
  const MakeCheckpointSpec *specs;
  const uint64_t           *offsets;   /* each tensor's data in the file */
  const Unit               *units;
  size_t                    n_units;
  uint64_t                  seed;
  unsigned                  flags;
  atomic_size_t             next_unit;
  atomic_bool               failed;
  pthread_mutex_t           lock;
  RlStatus                  status;    /* the first failure */
  char                      message[512];
} WriteJob;

static void
job_fail (WriteJob *job, RlStatus status)
{
  pthread_mutex_lock (&job->lock);
  if (job->status == RL_OK) {
    job->status = status;
    snprintf (job->message, sizeof job->message, "%s", rl_last_error ());
  }
  pthread_mutex_unlock (&job->lock);
  atomic_store (&job->failed, true);
}

static RlStatus
pwrite_all (int fd, const void *data, size_t size, uint64_t offset)
{
  const uint8_t *p = data;
  while (size > 0) {
    ssize_t n = pwrite (fd, p, size, (off_t) offset);
    if (n < 0 && errno == EINTR)
      continue;
    char text[128];   /* strerror's buffer is shared between threads */
    if (n <= 0)
      return rl_set_error (RL_E_IO, "%s", n < 0 ? strerror_r (errno, text, sizeof text) : "short write");
    p += n;
    size -= (size_t) n;
    offset += (uint64_t) n;
  }
  return RL_OK;
}

static RlStatus
write_unit (WriteJob *job, const Unit *unit, float *values, uint8_t *encoded)
{
  const MakeCheckpointSpec *spec = &job->specs[unit->tensor];
  bool scaled = is_scaled_weight (spec, job->flags);
  float scale = scaled ? make_checkpoint_scale (job->seed, unit->tensor) : 1.0f;
  float range = make_checkpoint_int_range (spec->dtype) * make_checkpoint_gain (spec, job->flags);
  uint64_t tensor_key = value_key (job->seed, unit->tensor);
  size_t elem = rl_dtype_block_bytes (spec->dtype);
  for (int64_t done = 0; done < unit->count; done += CHUNK_ELEMS) {
    int64_t start = unit->start + done;
    int64_t count = unit->count - done < CHUNK_ELEMS ? unit->count - done : CHUNK_ELEMS;
    for (int64_t i = 0; i < count; i++)
      values[i] = value_from_key (tensor_key, start + i) * range;
    RlStatus status = rl_convert_row_from_f32 (spec->dtype, encoded + (size_t) done * elem, values,
                                               count, scale);
    if (status != RL_OK)
      return rl_prefix_error (status, "tensor '%s': ", spec->name);
  }
  RlStatus status = pwrite_all (job->fd, encoded, (size_t) unit->count * elem,
                                job->offsets[unit->tensor] + (uint64_t) unit->start * elem);
  return status == RL_OK ? RL_OK : rl_prefix_error (status, "writing tensor '%s': ", spec->name);
}

static void *
write_units (void *data)
{
  WriteJob *job = data;
  float *values = malloc (CHUNK_ELEMS * sizeof *values);
  uint8_t *encoded = malloc ((size_t) UNIT_ELEMS * 8);
  if (values == NULL || encoded == NULL)
    job_fail (job, rl_set_error (RL_E_NO_MEMORY, "out of memory"));
  while (!atomic_load (&job->failed)) {
    size_t i = atomic_fetch_add (&job->next_unit, 1);
    if (i >= job->n_units)
      break;
    RlStatus status = write_unit (job, &job->units[i], values, encoded);
    if (status != RL_OK)
      job_fail (job, status);
  }
  free (values);
  free (encoded);
  return NULL;
}

int
make_checkpoint_default_threads (void)
{
  long n = sysconf (_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int) n;
}

/* Each tensor's offset in the file and its units. */
static RlStatus
plan_units (const MakeCheckpointSpec *specs, size_t n, unsigned flags, uint64_t data_start,
            uint64_t *offsets, Unit **units_out, size_t *n_units_out, uint64_t *file_size)
{
  size_t n_units = 0, cap = 0;
  Unit *units = NULL;
  uint64_t offset = data_start;
  for (size_t i = 0; i < n; i++) {
    int64_t numel = numel_of (&specs[i]);
    size_t bytes;
    RlStatus status = rl_dtype_bytes_for (specs[i].dtype, numel, &bytes);
    if (status != RL_OK) {
      free (units);
      return rl_prefix_error (status, "tensor '%s': ", specs[i].name);
    }
    offsets[i] = offset;
    offset += bytes + (is_scaled_weight (&specs[i], flags) ? 4 : 0);
    for (int64_t start = 0; start < numel; start += UNIT_ELEMS) {
      if (n_units == cap) {
        cap = cap ? cap * 2 : 256;
        Unit *grown = realloc (units, cap * sizeof *grown);
        if (grown == NULL) {
          free (units);
          return rl_set_error (RL_E_NO_MEMORY, "out of memory");
        }
        units = grown;
      }
      units[n_units++] = (Unit) { i, start, numel - start < UNIT_ELEMS ? numel - start : UNIT_ELEMS };
    }
  }
  *units_out = units;
  *n_units_out = n_units;
  *file_size = offset;
  return RL_OK;
}

static RlStatus
write_all (int fd, const MakeCheckpointSpec *specs, size_t n, uint64_t seed, unsigned flags,
           const Text *header, int threads)
{
  uint8_t length[8];
  for (int i = 0; i < 8; i++)
    length[i] = (uint8_t) ((uint64_t) header->len >> (8 * i));
  RlStatus status = pwrite_all (fd, length, 8, 0);
  if (status == RL_OK)
    status = pwrite_all (fd, header->data, header->len, 8);
  if (status != RL_OK)
    return rl_prefix_error (status, "writing the header: ");
  uint64_t *offsets = malloc ((n ? n : 1) * sizeof *offsets);
  if (offsets == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "out of memory");
  WriteJob job = { .fd = fd, .specs = specs, .offsets = offsets, .seed = seed, .flags = flags,
                   .status = RL_OK };
  Unit *units = NULL;
  uint64_t file_size = 0;
  status = plan_units (specs, n, flags, 8 + header->len, offsets, &units, &job.n_units, &file_size);
  if (status == RL_OK && ftruncate (fd, (off_t) file_size) != 0)
    status = rl_set_error (RL_E_IO, "%s", strerror (errno));
  if (status != RL_OK) {
    free (offsets);
    return status;
  }
  /* The scales after their scaled fp8 weights (empty weights have one too). */
  for (size_t i = 0; i < n && status == RL_OK; i++) {
    size_t bytes = 0;
    if (!is_scaled_weight (&specs[i], flags))
      continue;
    float scale = make_checkpoint_scale (seed, i);
    rl_dtype_bytes_for (specs[i].dtype, numel_of (&specs[i]), &bytes);
    status = pwrite_all (fd, &scale, 4, offsets[i] + bytes);
  }
  if (status != RL_OK) {
    free (units);
    free (offsets);
    return rl_prefix_error (status, "writing a scale: ");
  }
  job.units = units;
  atomic_init (&job.next_unit, 0);
  atomic_init (&job.failed, false);
  pthread_mutex_init (&job.lock, NULL);
  if (threads < 1)
    threads = make_checkpoint_default_threads ();
  if ((size_t) threads > job.n_units)
    threads = job.n_units > 0 ? (int) job.n_units : 1;
  if (threads > MAX_THREADS)
    threads = MAX_THREADS;
  /* The calling thread is one of them. */
  pthread_t helpers[MAX_THREADS];
  int started = 0;
  for (; started < threads - 1; started++)
    if (pthread_create (&helpers[started], NULL, write_units, &job) != 0)
      break;
  write_units (&job);
  for (int i = 0; i < started; i++)
    pthread_join (helpers[i], NULL);
  pthread_mutex_destroy (&job.lock);
  free (units);
  free (offsets);
  if (job.status != RL_OK)
    return rl_set_error (job.status, "%s", job.message);
  return RL_OK;
}

RlStatus
make_checkpoint_write_threads (const char *path, const MakeCheckpointSpec *specs, size_t n_specs,
                               uint64_t seed, unsigned flags, const char *const *metadata,
                               size_t n_metadata, int threads)
{
  Text header = { 0 };
  RlStatus status = build_header (specs, n_specs, flags, metadata, n_metadata, &header);
  if (status != RL_OK) {
    free (header.data);
    return status;
  }
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    free (header.data);
    return rl_set_error (RL_E_IO, "%s: cannot create: %s", path, strerror (errno));
  }
  status = write_all (fd, specs, n_specs, seed, flags, &header, threads);
  if (close (fd) != 0 && status == RL_OK)
    status = rl_set_error (RL_E_IO, "%s: %s", path, strerror (errno));
  free (header.data);
  if (status != RL_OK) {
    remove (path);
    return rl_prefix_error (status, "%s: ", path);
  }
  return RL_OK;
}

RlStatus
make_checkpoint_write (const char *path, const MakeCheckpointSpec *specs, size_t n_specs, uint64_t seed,
                       unsigned flags, const char *const *metadata, size_t n_metadata)
{
  return make_checkpoint_write_threads (path, specs, n_specs, seed, flags, metadata, n_metadata, 0);
}

static const char *corruption_names[] = {
  [MAKE_CHECKPOINT_TRUNCATED] = "truncated",
  [MAKE_CHECKPOINT_HEADER_PAST_EOF] = "header-past-eof",
  [MAKE_CHECKPOINT_BAD_JSON] = "bad-json",
  [MAKE_CHECKPOINT_LYING_OFFSETS] = "lying-offsets",
  [MAKE_CHECKPOINT_OVERLAP] = "overlap",
  [MAKE_CHECKPOINT_UNKNOWN_DTYPE] = "unknown-dtype",
};

const char *
make_checkpoint_corruption_name (MakeCheckpointCorruption kind)
{
  return (unsigned) kind < MAKE_CHECKPOINT_CORRUPTION_COUNT ? corruption_names[kind] : "unknown";
}

int
make_checkpoint_corruption_parse (const char *name)
{
  for (int i = 0; i < MAKE_CHECKPOINT_CORRUPTION_COUNT; i++)
    if (strcmp (corruption_names[i], name) == 0)
      return i;
  return -1;
}

/* The header as written by build_header: entries `"name":{"dtype":"X",
 * "shape":[..],"data_offsets":[B,E]}` with no spaces, in data order. */
typedef struct {
  uint8_t *bytes;
  size_t   size;
  size_t   header_len;
} FileImage;

static RlStatus
load_image (const char *path, FileImage *img)
{
  FILE *f = fopen (path, "rb");
  if (f == NULL)
    return rl_set_error (RL_E_IO, "%s: %s", path, strerror (errno));
  fseek (f, 0, SEEK_END);
  long n = ftell (f);
  fseek (f, 0, SEEK_SET);
  /* One spare NUL byte so string searches stop at the end. */
  img->bytes = calloc ((n > 0 ? (size_t) n : 0) + 1, 1);
  img->size = img->bytes ? fread (img->bytes, 1, (size_t) n, f) : 0;
  fclose (f);
  if (img->bytes == NULL || img->size < 8 || img->size != (size_t) n)
    return rl_set_error (RL_E_IO, "%s: cannot read it back", path);
  img->header_len = 0;
  for (int i = 7; i >= 0; i--)
    img->header_len = img->header_len << 8 | img->bytes[i];
  if (img->header_len > img->size - 8)
    return rl_set_error (RL_E_FORMAT, "%s: not written by make-checkpoint", path);
  return RL_OK;
}

/* Rewrites the decimal number at p with a value not longer than it,
 * right-aligned and padded with spaces (JSON allows them). */
static void
rewrite_number (char *p, unsigned long long value)
{
  size_t width = strspn (p, "0123456789");
  char digits[32];
  int n = snprintf (digits, sizeof digits, "%llu", value);
  memset (p, ' ', width);
  memcpy (p + width - (size_t) n, digits, (size_t) n);
}

/* The name of the entry that `at` (inside its object) belongs to. */
static void
entry_name (const FileImage *img, const char *at, char *out, size_t size)
{
  const char *header = (const char *) img->bytes + 8;
  const char *open = at;
  while (open > header && !(open[0] == '{' && open[-1] == ':'))
    open--;
  const char *end = open - 2, *start = end;   /* closing quote of the name */
  while (start > header && start[-1] != '"')
    start--;
  snprintf (out, size, "%.*s", (int) (end - start), start);
}

static RlStatus
damage (FileImage *img, MakeCheckpointCorruption kind, char *blamed, size_t blamed_size, size_t *new_size)
{
  char *header = (char *) img->bytes + 8;
  /* The last tensor with data (and not at offset 0, so it can move). */
  char *offsets = NULL, *begin = NULL, *end = NULL;
  unsigned long long b = 0, e = 0;
  for (char *at = strstr (header, "\"data_offsets\":["); at != NULL && at < header + img->header_len;
       at = strstr (at + 1, "\"data_offsets\":[")) {
    char *at_begin = at + strlen ("\"data_offsets\":[");
    char *at_end = at_begin + strspn (at_begin, "0123456789") + 1;
    unsigned long long at_b = strtoull (at_begin, NULL, 10), at_e = strtoull (at_end, NULL, 10);
    if (at_e > at_b && at_b >= 2) {
      offsets = at, begin = at_begin, end = at_end, b = at_b, e = at_e;
    }
  }
  if (offsets == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "needs a non-empty tensor after the first");
  *new_size = img->size;
  blamed[0] = '\0';
  switch (kind) {
  case MAKE_CHECKPOINT_TRUNCATED: {
    size_t data_size = img->size - 8 - img->header_len;
    *new_size = 8 + img->header_len + data_size * 3 / 4;
    /* Blame the first tensor (in header order = data order) cut short. */
    for (char *at = strstr (header, "\"data_offsets\":["); at != NULL && at < header + img->header_len;
         at = strstr (at + 1, "\"data_offsets\":[")) {
      char *end_digits = at + strlen ("\"data_offsets\":[");
      end_digits += strspn (end_digits, "0123456789") + 1;
      if (strtoull (end_digits, NULL, 10) > data_size * 3 / 4) {
        entry_name (img, at, blamed, blamed_size);
        break;
      }
    }
    break;
  }
  case MAKE_CHECKPOINT_HEADER_PAST_EOF:
    for (int i = 0; i < 8; i++)
      img->bytes[i] = (uint8_t) ((uint64_t) img->size >> (8 * i));
    break;
  case MAKE_CHECKPOINT_BAD_JSON: {
    char *brace = header + img->header_len;
    while (brace > header && *brace != '}')
      brace--;
    *brace = ' ';
    break;
  }
  case MAKE_CHECKPOINT_LYING_OFFSETS:
    rewrite_number (end, e - 1);
    entry_name (img, offsets, blamed, blamed_size);
    break;
  case MAKE_CHECKPOINT_OVERLAP:
    rewrite_number (begin, b - 2);
    rewrite_number (end, e - 2);
    entry_name (img, offsets, blamed, blamed_size);
    break;
  case MAKE_CHECKPOINT_UNKNOWN_DTYPE: {
    char *dtype = strstr (header, "\"dtype\":\"");
    dtype[strlen ("\"dtype\":\"")] = 'X';
    entry_name (img, dtype, blamed, blamed_size);
    break;
  }
  default:
    return rl_set_error (RL_E_INVALID_ARG, "unknown corruption %d", (int) kind);
  }
  return RL_OK;
}

RlStatus
make_checkpoint_corrupt (const char *path, MakeCheckpointCorruption kind, char *blamed, size_t blamed_size)
{
  char scratch[8];
  if (blamed == NULL) {
    blamed = scratch;
    blamed_size = sizeof scratch;
  }
  FileImage img = { 0 };
  size_t new_size = 0;
  RlStatus status = load_image (path, &img);
  if (status == RL_OK)
    status = damage (&img, kind, blamed, blamed_size, &new_size);
  if (status == RL_OK) {
    FILE *f = fopen (path, "wb");
    if (f == NULL || fwrite (img.bytes, 1, new_size, f) != new_size)
      status = rl_set_error (RL_E_IO, "%s: %s", path, strerror (errno));
    if (f != NULL && fclose (f) != 0 && status == RL_OK)
      status = rl_set_error (RL_E_IO, "%s: %s", path, strerror (errno));
  }
  free (img.bytes);
  return status == RL_OK ? RL_OK : rl_prefix_error (status, "corrupting %s (%s): ", path,
                                                    make_checkpoint_corruption_name (kind));
}
