/* safetensors reader: files written by make-checkpoint read back exactly,
 * with lookup, file order, metadata, views, scaled fp8, ranged reads and
 * FSDP row shards; the writer's file is the same on any number of threads.
 * Weights are random per run (seed printed). */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/plain-test.h"
#include "tools/make-checkpoint-writer.h"
#include "workers/checkpoint/safetensors.h"
#include "workers/runtime/float-convert.h"

static uint64_t seed;
static char dir[256];

static const char *spec_lines[] = {
  "blocks.0.self_attn.q.weight F8_E4M3 [64, 48]",
  "blocks.0.self_attn.q.bias BF16 [64]",
  "blocks.0.norm.weight F32 [48]",
  "blocks.0.ffn.0.weight F16 [96, 48]",
  "blocks.0.ffn.2.weight F8_E5M2 [48, 96]",
  "patch_embedding.weight BF16 [32, 16, 1, 2, 2]",
  "head.modulation F32 [1, 2, 48]",
  "token_ids I32 3x7",
  "quant I8 100",
  "scalar F32 []",
  "empty F16 [0, 4]",
};
#define N_SPECS (sizeof spec_lines / sizeof spec_lines[0])

static void
path_in_dir (char *out, size_t size, const char *name)
{
  snprintf (out, size, "%s/%s", dir, name);
}

static int
load_specs (MakeCheckpointSpec *specs)
{
  for (size_t i = 0; i < N_SPECS; i++) {
    char error[256];
    if (make_checkpoint_parse_line (spec_lines[i], RL_DTYPE_INVALID, &specs[i], error, sizeof error) != 1) {
      printf ("# bad spec line '%s': %s\n", spec_lines[i], error);
      return -1;
    }
  }
  return 0;
}

/* The value the reader should decode for element e of spec i. */
static float
expected_value (const MakeCheckpointSpec *spec, size_t i, int64_t e, float scale)
{
  float v = make_checkpoint_value (seed, i, e) * make_checkpoint_int_range (spec->dtype);
  uint8_t encoded[8];
  rl_convert_row_from_f32 (spec->dtype, encoded, &v, 1, scale);
  float back;
  rl_convert_row_to_f32 (spec->dtype, encoded, 1, scale, &back);
  return back;
}

static void
test_round_trip (void)
{
  MakeCheckpointSpec specs[N_SPECS];
  bool ok_1 = load_specs (specs) == 0;
  PT_REQUIRE (ok_1, "specs");
  char path[512];
  path_in_dir (path, sizeof path, "round-trip.safetensors");
  const char *metadata[] = { "format", "pt", "modelspec.title", "Wan \"2.1\"\n\u00e9" };
  bool ok_2 = make_checkpoint_write (path, specs, N_SPECS, seed, MAKE_CHECKPOINT_SCALED_FP8, metadata, 2) == RL_OK;
  PT_REQUIRE (ok_2,
              "write: %s", rl_last_error ());

  RlSafetensors *st = NULL;
  bool ok_3 = rl_safetensors_open (path, &st) == RL_OK;
  PT_REQUIRE (ok_3, "open: %s", rl_last_error ());
  /* Two fp8 weights get a scale_weight each, plus the scaled_fp8 marker. */
  PT_CHECK (rl_safetensors_count (st) == N_SPECS + 3, "count %zu", rl_safetensors_count (st));
  PT_CHECK (rl_safetensors_is_scaled_fp8 (st), "scaled fp8 not detected");
  PT_CHECK (rl_safetensors_metadata_count (st) == 2, "metadata count");
  PT_CHECK (strcmp (rl_safetensors_metadata (st, "format"), "pt") == 0, "metadata format");
  PT_CHECK (strcmp (rl_safetensors_metadata (st, "modelspec.title"), metadata[3]) == 0, "escaped metadata");
  PT_CHECK (rl_safetensors_metadata (st, "missing") == NULL, "missing metadata key");
  PT_CHECK (rl_safetensors_find (st, "no.such.tensor") == NULL, "missing tensor found");

  uint64_t previous_end = 0;
  for (size_t i = 0; i < rl_safetensors_count (st); i++) {
    const RlSafetensorsTensor *t = rl_safetensors_tensor_at (st, i);
    PT_CHECK (t->file_offset == rl_safetensors_data_offset (st) + previous_end, "'%s' not in file order", t->name);
    previous_end = t->file_offset + t->nbytes - rl_safetensors_data_offset (st);
    PT_CHECK (rl_safetensors_find (st, t->name) == t, "lookup of '%s'", t->name);
  }
  PT_CHECK (previous_end == rl_safetensors_data_size (st), "tensors do not cover the data");

  size_t mismatches = 0, compared = 0;
  for (size_t i = 0; i < N_SPECS; i++) {
    const RlSafetensorsTensor *t = rl_safetensors_find (st, specs[i].name);
    PT_REQUIRE (t != NULL, "tensor '%s' missing", specs[i].name);
    PT_CHECK (t->dtype == specs[i].dtype && t->ndim == specs[i].ndim, "'%s' dtype/ndim", t->name);
    for (int d = 0; d < t->ndim; d++)
      PT_CHECK (t->shape[d] == specs[i].shape[d], "'%s' dim %d", t->name, d);
    bool fp8_weight = (t->dtype == RL_F8_E4M3FN || t->dtype == RL_F8_E5M2);
    PT_CHECK (t->has_scale == fp8_weight, "'%s' has_scale %d", t->name, t->has_scale);
    float scale = fp8_weight ? make_checkpoint_scale (seed, i) : 1.0f;
    PT_CHECK (t->scale == scale, "'%s' scale %g, want %g", t->name, t->scale, scale);
    if (t->numel == 0)
      continue;
    float *values = malloc ((size_t) t->numel * sizeof *values);
    bool ok_4 = rl_convert_row_to_f32 (t->dtype, t->data, t->numel, t->scale, values) == RL_OK;
    PT_REQUIRE (ok_4, "convert");
    for (int64_t e = 0; e < t->numel; e++, compared++) {
      float want = expected_value (&specs[i], i, e, scale);
      if (memcmp (&want, &values[e], 4) != 0 && mismatches++ < 5)
        printf ("# '%s'[%lld] = %g, want %g\n", t->name, (long long) e, values[e], want);
    }
    free (values);
  }
  PT_CHECK (mismatches == 0, "%zu of %zu values differ", mismatches, compared);
  rl_safetensors_close (st);
}

static RlSafetensors *
open_small (MakeCheckpointSpec *specs, const char *name)
{
  char path[512];
  path_in_dir (path, sizeof path, name);
  if (load_specs (specs) != 0 || make_checkpoint_write (path, specs, N_SPECS, seed, 0, NULL, 0) != RL_OK)
    return NULL;
  RlSafetensors *st = NULL;
  rl_safetensors_open (path, &st);
  return st;
}

static void
test_views (void)
{
  MakeCheckpointSpec specs[N_SPECS];
  RlSafetensors *st = open_small (specs, "views.safetensors");
  PT_REQUIRE (st != NULL, "open: %s", rl_last_error ());
  const RlSafetensorsTensor *t = rl_safetensors_find (st, "patch_embedding.weight");
  RlTensor view;
  bool ok_5 = rl_safetensors_view (st, t, &view) == RL_OK;
  PT_REQUIRE (ok_5, "view: %s", rl_last_error ());
  PT_CHECK (view.data == t->data, "view copied the data");
  PT_CHECK (view.ndim == 5 && view.shape[1] == 16 && view.strides[0] == 16 * 4, "view shape/strides");
  PT_CHECK (view.dtype == RL_BF16 && view.storage == NULL && view.scale == 1.0f, "view dtype/storage/scale");
  RlTensor row = { 0 };   /* rl_tensor_narrow releases what `out` held */
  PT_CHECK (rl_tensor_narrow (&row, &view, 0, 3, 1) == RL_OK, "narrow");
  PT_CHECK ((const uint8_t *) row.data == (const uint8_t *) t->data + 3 * 64 * 2, "narrowed view offset");
  rl_tensor_release (&row);
  rl_tensor_release (&view);

  const RlSafetensorsTensor *scalar = rl_safetensors_find (st, "scalar");
  PT_CHECK (rl_safetensors_view (st, scalar, &view) == RL_OK && view.ndim == 0, "scalar view");
  rl_tensor_release (&view);
  rl_safetensors_close (st);

  /* Scaled fp8: the view carries the checkpoint's scale. */
  char path[512];
  path_in_dir (path, sizeof path, "views-fp8.safetensors");
  bool written = make_checkpoint_write (path, specs, N_SPECS, seed, MAKE_CHECKPOINT_SCALED_FP8, NULL, 0) == RL_OK;
  bool opened = written && rl_safetensors_open (path, &st) == RL_OK;
  PT_REQUIRE (opened, "scaled fp8 checkpoint: %s", rl_last_error ());
  t = rl_safetensors_find (st, "blocks.0.self_attn.q.weight");
  PT_CHECK (rl_safetensors_view (st, t, &view) == RL_OK && view.dtype == RL_F8_E4M3FN
            && view.scale == make_checkpoint_scale (seed, 0) && view.scale != 1.0f, "fp8 view scale %g", view.scale);
  PT_CHECK (t->scale_tensor == rl_safetensors_find (st, "blocks.0.self_attn.q.scale_weight"), "scale tensor");
  rl_tensor_release (&view);
  rl_safetensors_close (st);
}

/* MAKE_CHECKPOINT_FAN_IN: floating tensors of two or more dims hold their
 * values times 1/sqrt(elements per row), everything else is unscaled. */
static void
test_fan_in_gain (void)
{
  MakeCheckpointSpec specs[N_SPECS];
  PT_REQUIRE (load_specs (specs) == 0, "specs");
  char path[512];
  path_in_dir (path, sizeof path, "fan-in.safetensors");
  PT_REQUIRE (make_checkpoint_write (path, specs, N_SPECS, seed, MAKE_CHECKPOINT_FAN_IN, NULL, 0)
              == RL_OK, "write: %s", rl_last_error ());
  RlSafetensors *st = NULL;
  PT_REQUIRE (rl_safetensors_open (path, &st) == RL_OK, "open: %s", rl_last_error ());
  static const struct { size_t index; float gain; } cases[] = {
    { 3, 0.14433757f },    /* blocks.0.ffn.0.weight F16 [96, 48]: 1/sqrt(48) */
    { 5, 0.125f },         /* patch_embedding.weight BF16 [32, 16, 1, 2, 2]: 1/sqrt(64) */
    { 6, 0.10206207f },    /* head.modulation F32 [1, 2, 48]: 1/sqrt(96) */
    { 1, 1.0f },           /* a bias */
    { 2, 1.0f },           /* a norm weight */
    { 7, 1.0f },           /* integers */
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    const MakeCheckpointSpec *spec = &specs[cases[c].index];
    float gain = make_checkpoint_gain (spec, MAKE_CHECKPOINT_FAN_IN);
    PT_CHECK (fabsf (gain - cases[c].gain) <= 1e-6f * cases[c].gain, "'%s' gain %.8g, want %.8g",
              spec->name, gain, cases[c].gain);
    PT_CHECK (make_checkpoint_gain (spec, 0) == 1.0f, "'%s' gain without the flag", spec->name);
    const RlSafetensorsTensor *t = rl_safetensors_find (st, spec->name);
    PT_REQUIRE (t != NULL, "'%s' missing", spec->name);
    uint8_t *bytes = malloc (t->nbytes);
    PT_REQUIRE (bytes != NULL && rl_safetensors_read (st, t, 0, t->nbytes, bytes) == RL_OK,
                "read '%s'", spec->name);
    int64_t n = (int64_t) (t->nbytes / rl_dtype_block_bytes (t->dtype));
    size_t wrong = 0;
    for (int64_t e = 0; e < n; e++) {
      float v = make_checkpoint_value (seed, cases[c].index, e)
                * make_checkpoint_int_range (spec->dtype) * gain, want, got;
      uint8_t encoded[8];
      rl_convert_row_from_f32 (spec->dtype, encoded, &v, 1, 1.0f);
      rl_convert_row_to_f32 (spec->dtype, encoded, 1, 1.0f, &want);
      rl_convert_row_to_f32 (spec->dtype, bytes + (size_t) e * rl_dtype_block_bytes (t->dtype), 1,
                             1.0f, &got);
      wrong += got != want;
    }
    PT_CHECK (wrong == 0, "'%s': %zu of %lld values differ", spec->name, wrong, (long long) n);
    free (bytes);
  }
  rl_safetensors_close (st);
}

static void
test_read_ranges_and_shards (void)
{
  MakeCheckpointSpec specs[N_SPECS];
  RlSafetensors *st = open_small (specs, "shards.safetensors");
  PT_REQUIRE (st != NULL, "open: %s", rl_last_error ());
  const RlSafetensorsTensor *t = rl_safetensors_find (st, "blocks.0.ffn.0.weight");   /* F16 [96, 48] */
  PT_REQUIRE (t != NULL, "tensor");
  int world = 5;
  int64_t rows_seen = 0;
  uint8_t *assembled = malloc (t->nbytes);
  for (int rank = 0; rank < world; rank++) {
    int64_t start, count;
    uint64_t offset, length;
    bool ok_6 = rl_safetensors_shard_rows (t, rank, world, &start, &count, &offset, &length) == RL_OK;
    PT_REQUIRE (ok_6, "shard");
    PT_CHECK (start == rows_seen, "rank %d starts at row %lld", rank, (long long) start);
    PT_CHECK (count == 96 / 5 + (rank < 96 % 5), "rank %d has %lld rows", rank, (long long) count);
    PT_CHECK (length == (uint64_t) count * 48 * 2 && offset == (uint64_t) start * 48 * 2, "byte range");
    PT_CHECK (rl_safetensors_read (st, t, offset, length, assembled + offset) == RL_OK, "read: %s",
              rl_last_error ());
    rows_seen += count;
  }
  PT_CHECK (rows_seen == 96, "rows covered %lld", (long long) rows_seen);
  PT_CHECK (memcmp (assembled, t->data, t->nbytes) == 0, "shards do not reassemble the tensor");
  PT_CHECK (rl_safetensors_bytes_read (st) == t->nbytes, "bytes read %llu",
            (unsigned long long) rl_safetensors_bytes_read (st));
  rl_safetensors_note_read (st, 10);
  PT_CHECK (rl_safetensors_bytes_read (st) == t->nbytes + 10, "note_read");

  uint8_t byte;
  PT_CHECK (rl_safetensors_read (st, t, t->nbytes, 1, &byte) == RL_E_INVALID_ARG, "read past the end accepted");
  PT_CHECK (strstr (rl_last_error (), "blocks.0.ffn.0.weight") != NULL, "range error names the tensor: %s",
            rl_last_error ());
  PT_CHECK (rl_safetensors_read (st, t, 1, UINT64_MAX, &byte) == RL_E_INVALID_ARG, "overflowing range accepted");

  int64_t start, count;
  uint64_t offset, length;
  const RlSafetensorsTensor *scalar = rl_safetensors_find (st, "scalar");
  PT_CHECK (rl_safetensors_shard_rows (scalar, 2, 4, &start, &count, &offset, &length) == RL_OK
            && length == 4 && offset == 0, "scalars go whole to every rank");
  PT_CHECK (rl_safetensors_shard_rows (t, 4, 4, &start, &count, &offset, &length) == RL_E_INVALID_ARG,
            "rank == world accepted");
  rl_safetensors_advise (st, t, RL_SAFETENSORS_WILL_NEED);
  rl_safetensors_advise (st, t, RL_SAFETENSORS_DONT_NEED);
  rl_safetensors_advise (st, NULL, RL_SAFETENSORS_SEQUENTIAL);
  PT_CHECK (memcmp (assembled, t->data, t->nbytes) == 0, "data changed after DONT_NEED");
  free (assembled);
  rl_safetensors_close (st);
}

/* Hand-written headers the format allows: whitespace, escapes, empty file. */
static void
test_header_forms (void)
{
  const char *header = " {\"a\\u00e9\\n\" : { \"shape\" : [2] , \"data_offsets\":[0,8], \"dtype\":\"F32\"},"
                       "\"__metadata__\":{}}   ";
  /* A header must start with '{' — leading space is refused, like the
   * reference implementation does. */
  size_t hlen = strlen (header);
  uint8_t buf[256] = { 0 };
  buf[0] = (uint8_t) hlen;
  memcpy (buf + 8, header, hlen);
  RlSafetensors *st = NULL;
  PT_CHECK (rl_safetensors_open_memory (buf, 8 + hlen + 8, "lead-space", &st) == RL_E_FORMAT, "leading space");

  header++;
  hlen--;
  memset (buf, 0, sizeof buf);
  buf[0] = (uint8_t) hlen;
  memcpy (buf + 8, header, hlen);
  float values[2] = { 1.5f, -2.25f };
  memcpy (buf + 8 + hlen, values, 8);
  bool ok_7 = rl_safetensors_open_memory (buf, 8 + hlen + 8, "forms", &st) == RL_OK;
  PT_REQUIRE (ok_7, "open: %s", rl_last_error ());
  const RlSafetensorsTensor *t = rl_safetensors_find (st, "a\xc3\xa9\n");
  PT_CHECK (t != NULL && ((const float *) t->data)[1] == -2.25f, "escaped name / data");
  PT_CHECK (!rl_safetensors_is_scaled_fp8 (st), "not scaled");
  rl_safetensors_close (st);

  const char *empty = "{}      ";
  memset (buf, 0, sizeof buf);
  buf[0] = 8;
  memcpy (buf + 8, empty, 8);
  PT_CHECK (rl_safetensors_open_memory (buf, 16, "empty", &st) == RL_OK && rl_safetensors_count (st) == 0,
            "empty checkpoint: %s", rl_last_error ());
  rl_safetensors_close (st);
}

static uint8_t *
read_whole (const char *path, long *size)
{
  FILE *f = fopen (path, "rb");
  uint8_t *bytes = NULL;
  *size = -1;
  if (f != NULL && fseek (f, 0, SEEK_END) == 0 && (*size = ftell (f)) > 0) {
    bytes = malloc ((size_t) *size);
    fseek (f, 0, SEEK_SET);
    if (bytes != NULL && fread (bytes, 1, (size_t) *size, f) != (size_t) *size) {
      free (bytes);
      bytes = NULL;
    }
  }
  if (f != NULL)
    fclose (f);
  return bytes;
}

/* The writer's threads take 1 Mi-element pieces: tensors spanning several
 * pieces (a scaled fp8 one among them) give the same file on 1, 3 and 7
 * threads, and the values at the pieces' edges are the ones expected. */
static void
test_threads_same_bytes (void)
{
  MakeCheckpointSpec specs[N_SPECS + 2];
  PT_REQUIRE (load_specs (specs) == 0, "specs");
  char error[256];
  PT_REQUIRE (make_checkpoint_parse_line ("blocks.1.ffn.0.weight BF16 [5, 1048579]", RL_DTYPE_INVALID,
                                          &specs[N_SPECS], error, sizeof error) == 1, "%s", error);
  PT_REQUIRE (make_checkpoint_parse_line ("blocks.1.ffn.2.weight F8_E4M3 [3, 1100000]", RL_DTYPE_INVALID,
                                          &specs[N_SPECS + 1], error, sizeof error) == 1, "%s", error);
  const char *metadata[] = { "format", "pt" };
  const unsigned flags = MAKE_CHECKPOINT_SCALED_FP8 | MAKE_CHECKPOINT_FAN_IN;
  const int thread_counts[] = { 1, 3, 7 };
  uint8_t *first = NULL;
  long first_size = 0;
  char path[300];
  for (size_t k = 0; k < sizeof thread_counts / sizeof thread_counts[0]; k++) {
    snprintf (path, sizeof path, "%s/threads-%d.safetensors", dir, thread_counts[k]);
    bool written = make_checkpoint_write_threads (path, specs, N_SPECS + 2, seed, flags, metadata, 1,
                                                  thread_counts[k]) == RL_OK;
    PT_REQUIRE (written, "%d threads: %s", thread_counts[k], rl_last_error ());
    long size;
    uint8_t *bytes = read_whole (path, &size);
    PT_REQUIRE (bytes != NULL, "cannot read %s back", path);
    if (first == NULL) {
      first = bytes, first_size = size;
      continue;
    }
    PT_CHECK (size == first_size && memcmp (bytes, first, (size_t) size) == 0,
              "%d threads wrote other bytes than 1 thread (%ld vs %ld bytes)", thread_counts[k], size,
              first_size);
    if (k + 1 < sizeof thread_counts / sizeof thread_counts[0])
      free (bytes);
    else
      free (first), first = bytes;
  }
  /* The last file (7 threads) holds the values make_checkpoint_value gives. */
  RlSafetensors *st = NULL;
  PT_REQUIRE (rl_safetensors_open (path, &st) == RL_OK, "open: %s", rl_last_error ());
  const int64_t edges[] = { 0, 1048575, 1048576, 2097152, 3145727, 3299999 };
  for (size_t w = 0; w < 2; w++) {
    const MakeCheckpointSpec *spec = &specs[N_SPECS + w];
    const RlSafetensorsTensor *t = rl_safetensors_find (st, spec->name);
    PT_REQUIRE (t != NULL, "%s missing", spec->name);
    float scale = w == 1 ? make_checkpoint_scale (seed, N_SPECS + w) : 1.0f;
    float gain = make_checkpoint_gain (spec, flags);
    size_t elem = rl_dtype_block_bytes (spec->dtype);
    for (size_t e = 0; e < sizeof edges / sizeof edges[0]; e++) {
      float v = make_checkpoint_value (seed, N_SPECS + w, edges[e]) * gain, back, want;
      uint8_t encoded[8];
      rl_convert_row_from_f32 (spec->dtype, encoded, &v, 1, scale);
      rl_convert_row_to_f32 (spec->dtype, encoded, 1, scale, &want);
      rl_convert_row_to_f32 (spec->dtype, (const uint8_t *) t->data + (size_t) edges[e] * elem, 1, scale,
                             &back);
      PT_CHECK (back == want, "%s[%lld]: %g, expected %g", spec->name, (long long) edges[e], (double) back,
                (double) want);
    }
  }
  rl_safetensors_close (st);
  free (first);
}

int
main (void)
{
  const char *env_seed = getenv ("RAYLIGHT_TEST_SEED");
  seed = env_seed ? strtoull (env_seed, NULL, 0) : (uint64_t) time (NULL) ^ (uint64_t) getpid () << 20;
  printf ("# seed %llu (set RAYLIGHT_TEST_SEED to repeat)\n", (unsigned long long) seed);
  snprintf (dir, sizeof dir, "%s/raylight-st-XXXXXX", getenv ("TMPDIR") ? getenv ("TMPDIR") : "/tmp");
  if (mkdtemp (dir) == NULL) {
    perror ("mkdtemp");
    return 1;
  }
  PT_RUN (test_round_trip);
  PT_RUN (test_views);
  PT_RUN (test_read_ranges_and_shards);
  PT_RUN (test_header_forms);
  PT_RUN (test_fan_in_gain);
  PT_RUN (test_threads_same_bytes);
  char command[600];
  snprintf (command, sizeof command, "rm -rf '%s'", dir);
  if (system (command) != 0)
    printf ("# could not remove %s\n", dir);
  return pt_finish ();
}
