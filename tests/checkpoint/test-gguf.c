/* GGUF reader and CPU dequantisation against the `gguf` Python package.
 *
 * tests/checkpoint/make_gguf_testfiles.py (run here with a fresh seed)
 * writes one tensor of every block type plus gguf's own float32
 * dequantisation; ours must match bit for bit. The interpreter is
 * $RAYLIGHT_GGUF_PYTHON, else the one meson found (.venv from
 * tools/install-deps). Without python + gguf the test FAILS: install-deps
 * provides them, and a silently skipped bit-exactness check is worthless.
 * Corrupted variants of the same file must give clear errors. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/plain-test.h"
#include "workers/checkpoint/gguf-dequant.h"
#include "workers/checkpoint/gguf.h"

#define ROWS 6
#define COLS 512

static const char *type_names[] = { "F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0",
                                     "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K" };
#define N_TYPES (sizeof type_names / sizeof type_names[0])

static char dir[256];
static uint8_t *all_bytes;
static size_t all_size;

static int
run_generator (uint64_t seed)
{
  const char *python = getenv ("RAYLIGHT_GGUF_PYTHON");
  if (python == NULL || *python == '\0')
    python = getenv ("RAYLIGHT_GGUF_PYTHON_DEFAULT");
  const char *source = getenv ("RAYLIGHT_SOURCE_DIR");
  if (python == NULL || source == NULL) {
    printf ("# RAYLIGHT_GGUF_PYTHON_DEFAULT / RAYLIGHT_SOURCE_DIR unset: run through meson test\n");
    return -1;
  }
  char script[1024], seed_text[32];
  snprintf (script, sizeof script, "%s/tests/checkpoint/make_gguf_testfiles.py", source);
  snprintf (seed_text, sizeof seed_text, "%llu", (unsigned long long) seed);
  pid_t pid = fork ();
  if (pid == 0) {
    execl (python, python, script, dir, seed_text, (char *) NULL);
    _exit (127);
  }
  int wstatus = 0;
  if (pid < 0 || waitpid (pid, &wstatus, 0) < 0 || !WIFEXITED (wstatus) || WEXITSTATUS (wstatus) != 0) {
    fprintf (stderr, "test-gguf: FAILED to run %s %s: the gguf Python package is required for this test.\n"
             "Run tools/install-deps (it creates .venv with the pinned numpy and gguf), or point\n"
             "RAYLIGHT_GGUF_PYTHON at a python3 that has them.\n", python, script);
    return -1;
  }
  return 0;
}

static void *
read_whole (const char *path, size_t *size)
{
  FILE *f = fopen (path, "rb");
  if (f == NULL)
    return NULL;
  fseek (f, 0, SEEK_END);
  long n = ftell (f);
  fseek (f, 0, SEEK_SET);
  void *buf = malloc (n > 0 ? (size_t) n : 1);
  *size = fread (buf, 1, (size_t) n, f);
  fclose (f);
  return buf;
}

static void
test_metadata (void)
{
  char path[512];
  snprintf (path, sizeof path, "%s/all.gguf", dir);
  RlGguf *g = NULL;
  bool ok_1 = rl_gguf_open (path, &g) == RL_OK;
  PT_REQUIRE (ok_1, "open: %s", rl_last_error ());
  PT_CHECK (rl_gguf_version (g) == 3, "version %u", rl_gguf_version (g));
  PT_CHECK (rl_gguf_alignment (g) == 32, "alignment");
  int64_t i;
  uint64_t u;
  double f;
  PT_CHECK (rl_gguf_kv_uint (rl_gguf_find_kv (g, "test.u8"), &u) == RL_OK && u == 200, "u8");
  PT_CHECK (rl_gguf_kv_int (rl_gguf_find_kv (g, "test.i8"), &i) == RL_OK && i == -100, "i8");
  PT_CHECK (rl_gguf_kv_uint (rl_gguf_find_kv (g, "test.u16"), &u) == RL_OK && u == 60000, "u16");
  PT_CHECK (rl_gguf_kv_int (rl_gguf_find_kv (g, "test.i16"), &i) == RL_OK && i == -30000, "i16");
  PT_CHECK (rl_gguf_kv_uint (rl_gguf_find_kv (g, "test.u32"), &u) == RL_OK && u == 4000000000u, "u32");
  PT_CHECK (rl_gguf_kv_int (rl_gguf_find_kv (g, "test.i32"), &i) == RL_OK && i == -2000000000, "i32");
  PT_CHECK (rl_gguf_kv_float (rl_gguf_find_kv (g, "test.f32"), &f) == RL_OK && f == 0.15625, "f32");
  PT_CHECK (rl_gguf_kv_int (rl_gguf_find_kv (g, "test.bool"), &i) == RL_OK && i == 1, "bool");
  PT_CHECK (strcmp (rl_gguf_find_kv (g, "test.string")->string, "Wan 2.1 \xc3\xa9") == 0, "string");
  PT_CHECK (rl_gguf_kv_uint (rl_gguf_find_kv (g, "test.u64"), &u) == RL_OK && u == 18000000000000000000ull, "u64");
  PT_CHECK (rl_gguf_kv_int (rl_gguf_find_kv (g, "test.u64"), &i) == RL_E_OVERFLOW, "u64 as int64 must overflow");
  PT_CHECK (rl_gguf_kv_int (rl_gguf_find_kv (g, "test.i64"), &i) == RL_OK && i == -9000000000000000000ll, "i64");
  PT_CHECK (rl_gguf_kv_uint (rl_gguf_find_kv (g, "test.i64"), &u) == RL_E_OVERFLOW, "negative as uint");
  PT_CHECK (rl_gguf_kv_float (rl_gguf_find_kv (g, "test.f64"), &f) == RL_OK && f == -2.5e-300, "f64");
  PT_CHECK (rl_gguf_kv_int (rl_gguf_find_kv (g, "test.f64"), &i) == RL_E_DTYPE, "float as int");
  PT_CHECK (strcmp (rl_gguf_find_kv (g, "general.architecture")->string, "raylighttest") == 0, "architecture");

  const RlGgufKv *ints = rl_gguf_find_kv (g, "test.ints");
  PT_REQUIRE (ints && ints->type == RL_GGUF_ARRAY && ints->array_count == 5, "ints array");
  int64_t want[] = { 3, -1, 4, 1, -5 };
  for (uint64_t k = 0; k < 5; k++)
    PT_CHECK (rl_gguf_kv_array_int (ints, k, &i) == RL_OK && i == want[k], "ints[%llu]", (unsigned long long) k);
  PT_CHECK (rl_gguf_kv_array_int (ints, 5, &i) == RL_E_INVALID_ARG, "index past the end");
  const RlGgufKv *strings = rl_gguf_find_kv (g, "test.strings");
  const char *want_s[] = { "alpha", "", "gamma\xc3\xa9" };
  for (uint64_t k = 0; k < 3; k++) {
    const char *s;
    uint64_t len;
    PT_CHECK (rl_gguf_kv_array_string (strings, k, &s, &len) == RL_OK && len == strlen (want_s[k])
              && memcmp (s, want_s[k], len) == 0, "strings[%llu]", (unsigned long long) k);
  }
  rl_gguf_close (g);
}

static void
test_dequantize_bit_exact (void)
{
  char path[512];
  snprintf (path, sizeof path, "%s/all.gguf", dir);
  RlGguf *g = NULL;
  bool ok_2 = rl_gguf_open (path, &g) == RL_OK;
  PT_REQUIRE (ok_2, "open: %s", rl_last_error ());
  PT_CHECK (rl_gguf_tensor_count (g) == N_TYPES, "%zu tensors", rl_gguf_tensor_count (g));
  float *ours = malloc (ROWS * COLS * sizeof *ours);
  for (size_t k = 0; k < N_TYPES; k++) {
    char name[64];
    snprintf (name, sizeof name, "t.%s", type_names[k]);
    const RlGgufTensor *t = rl_gguf_find (g, name);
    PT_CHECK (t != NULL, "tensor %s missing", name);
    if (t == NULL)
      continue;
    PT_CHECK (t->ndim == 2 && t->shape[0] == ROWS && t->shape[1] == COLS && t->ne[0] == COLS, "%s shape", name);
    PT_CHECK (t->file_offset % 32 == 0, "%s offset %llu unaligned", name, (unsigned long long) t->file_offset);
    PT_CHECK (strcasecmp (rl_dtype_name (t->dtype), type_names[k]) == 0, "%s dtype %s", name,
              rl_dtype_name (t->dtype));
    snprintf (path, sizeof path, "%s/%s.bin", dir, type_names[k]);
    size_t ref_size = 0;
    float *ref = read_whole (path, &ref_size);
    PT_CHECK (ref != NULL && ref_size == ROWS * COLS * sizeof (float), "%s: reference %s", name, path);
    memset (ours, 0xA5, ROWS * COLS * sizeof *ours);  /* poison: every element must be written */
    RlStatus status = rl_gguf_dequantize (t->dtype, t->data, t->numel, ours);
    PT_CHECK (status == RL_OK, "%s: %s", name, rl_last_error ());
    size_t mismatches = 0;
    for (size_t e = 0; ref != NULL && e < ROWS * COLS; e++)
      if (memcmp (&ours[e], &ref[e], 4) != 0 && mismatches++ < 3)
        printf ("# %s[%zu]: ours %.9g, gguf %.9g\n", name, e, ours[e], ref[e]);
    PT_CHECK (mismatches == 0, "%s: %zu of %d values differ from gguf.quants.dequantize", name, mismatches,
              ROWS * COLS);
    printf ("# %-5s bit-exact over %d values\n", type_names[k], ROWS * COLS);
    free (ref);

    RlTensor view;
    PT_CHECK (rl_gguf_view (g, t, &view) == RL_OK && view.data == t->data && view.shape[1] == COLS,
              "%s view: %s", name, rl_last_error ());
    rl_tensor_release (&view);
  }
  PT_CHECK (rl_gguf_find (g, "t.Q9_K") == NULL && rl_gguf_find (g, "t.Q4") == NULL, "missing names found");
  rl_gguf_advise (g, rl_gguf_find (g, "t.Q6_K"), RL_GGUF_DONT_NEED);
  rl_gguf_advise (g, NULL, RL_GGUF_WILL_NEED);
  PT_CHECK (rl_gguf_dequantize (RL_Q4_K, ours, 100, ours) == RL_E_INVALID_ARG, "partial block accepted");
  PT_CHECK (rl_gguf_dequantize (RL_F8_E4M3FN, ours, 32, ours) == RL_E_DTYPE, "fp8 accepted");
  free (ours);
  rl_gguf_close (g);
}

static void
test_custom_alignment (void)
{
  char path[512];
  snprintf (path, sizeof path, "%s/aligned.gguf", dir);
  RlGguf *g = NULL;
  bool ok_3 = rl_gguf_open (path, &g) == RL_OK;
  PT_REQUIRE (ok_3, "open: %s", rl_last_error ());
  PT_CHECK (rl_gguf_alignment (g) == 128, "alignment %llu", (unsigned long long) rl_gguf_alignment (g));
  PT_CHECK (rl_gguf_data_offset (g) % 128 == 0, "data offset");
  for (size_t k = 0; k < rl_gguf_tensor_count (g); k++)
    PT_CHECK (rl_gguf_tensor_at (g, k)->file_offset % 128 == 0, "tensor %zu unaligned", k);
  rl_gguf_close (g);
}

/* Offset of the tensor info of `name` (its length prefix) in all.gguf. */
static size_t
info_offset (const char *name)
{
  uint8_t needle[72] = { 0 };
  size_t len = strlen (name);
  needle[0] = (uint8_t) len;
  memcpy (needle + 8, name, len);
  const uint8_t *hit = memmem (all_bytes, all_size, needle, 8 + len);
  return hit ? (size_t) (hit - all_bytes) : 0;
}

static void
put_le (uint8_t *p, uint64_t v, int n)
{
  for (int i = 0; i < n; i++)
    p[i] = (uint8_t) (v >> (8 * i));
}

typedef struct {
  const char *label;
  size_t      offset;      /* where to patch; 0 with truncate_to set: cut only */
  uint64_t    value;
  int         width;
  size_t      truncate_to;
  const char *expect[2];
} GgufCorruption;

static void
check_corruption (const GgufCorruption *c)
{
  uint8_t *copy = malloc (all_size);
  memcpy (copy, all_bytes, all_size);
  if (c->width > 0)
    put_le (copy + c->offset, c->value, c->width);
  size_t size = c->truncate_to ? c->truncate_to : all_size;
  RlGguf *g = NULL;
  RlStatus status = rl_gguf_open_memory (copy, size, "corrupt.gguf", &g);
  const char *msg = rl_last_error ();
  PT_CHECK (status == RL_E_FORMAT || status == RL_E_VERSION, "%s: accepted (status %d)", c->label, status);
  PT_CHECK (strstr (msg, "corrupt.gguf") != NULL, "%s: message lacks the file: %s", c->label, msg);
  for (int k = 0; k < 2 && c->expect[k]; k++)
    PT_CHECK (strstr (msg, c->expect[k]) != NULL, "%s: message lacks \"%s\": %s", c->label, c->expect[k], msg);
  printf ("# %-26s -> %s\n", c->label, msg);
  rl_gguf_close (g);
  free (copy);
}

static void
test_corrupt_files (void)
{
  char path[512];
  snprintf (path, sizeof path, "%s/all.gguf", dir);
  all_bytes = read_whole (path, &all_size);
  PT_REQUIRE (all_bytes != NULL && all_size > 1000, "read %s", path);
  size_t q4k = info_offset ("t.Q4_K"), f32 = info_offset ("t.F32"), q80 = info_offset ("t.Q8_0");
  PT_REQUIRE (q4k && f32 && q80, "tensor infos not found");
  /* info: u64 len, name, u32 ndim, u64 ne[2], u32 type, u64 offset */
  size_t q4k_name = 8 + 6, q4k_ndim = q4k + q4k_name, q4k_ne0 = q4k_ndim + 4, q4k_type = q4k_ne0 + 16;
  size_t q4k_off = q4k_type + 4;
  const uint8_t *string_key = memmem (all_bytes, all_size, "test.string", 11);
  const uint8_t *bool_key = memmem (all_bytes, all_size, "test.bool", 9);
  PT_REQUIRE (string_key && bool_key, "keys not found");
  size_t string_len_at = (size_t) (string_key - all_bytes) + 11 + 4;
  size_t bool_value_at = (size_t) (bool_key - all_bytes) + 9 + 4;

  const GgufCorruption corruptions[] = {
    { "bad magic", 0, 0x46554746, 4, 0, { "not a GGUF file", NULL } },
    { "version 1", 4, 1, 4, 0, { "version 1", NULL } },
    { "big-endian version", 4, 0x03000000, 4, 0, { "not supported", NULL } },
    { "absurd tensor count", 8, 1ull << 60, 8, 0, { "tensors", "more than the file" } },
    { "absurd key count", 16, 1ull << 60, 8, 0, { "metadata keys", NULL } },
    { "huge string length", string_len_at, 1ull << 62, 8, 0, { "test.string", "truncated" } },
    { "bool out of range", bool_value_at, 7, 1, 0, { "test.bool", NULL } },
    { "unknown value type", (size_t) (bool_key - all_bytes) + 9, 42, 4, 0, { "test.bool", "unknown value type" } },
    { "unknown ggml type", q4k_type, 77, 4, 0, { "'t.Q4_K'", "ggml type 77" } },
    { "too many dims", q4k_ndim, 9, 4, 0, { "'t.Q4_K'", "dimensions" } },
    { "partial block row", q4k_ne0, 300, 8, 0, { "'t.Q4_K'", "blocks" } },
    { "absurd dim", q4k_ne0, 1ull << 62, 8, 0, { "'t.Q4_K'", "absurd" } },
    { "misaligned offset", q4k_off, 33, 8, 0, { "'t.Q4_K'", "alignment" } },
    { "offset past the end", q4k_off, 1ull << 40, 8, 0, { "'t.Q4_K'", "truncated" } },
    { "overlapping offsets", q4k_off, 0, 8, 0, { "overlaps", "'t.F32'" } },
    { "duplicate name", f32 + 8 + 3, ('1' | '6' << 8), 2, 0, { "'t.F16'", "twice" } },
    { "truncated in header", 0, 0, 0, 20, { "truncated", NULL } },
    { "truncated in metadata", 0, 0, 0, string_len_at + 4, { "truncated", "test.string" } },
    { "truncated in tensor info", 0, 0, 0, q4k + 10, { "truncated", NULL } },
    { "truncated data", 0, 0, 0, all_size - 100, { "'t.Q6_K'", "truncated" } },
  };
  for (size_t i = 0; i < sizeof corruptions / sizeof corruptions[0]; i++)
    check_corruption (&corruptions[i]);
  free (all_bytes);
}

int
main (void)
{
  const char *env_seed = getenv ("RAYLIGHT_TEST_SEED");
  uint64_t seed = env_seed ? strtoull (env_seed, NULL, 0) : ((uint64_t) time (NULL) ^ (uint64_t) getpid ()) & 0xffffffff;
  printf ("# seed %llu (set RAYLIGHT_TEST_SEED to repeat)\n", (unsigned long long) seed);
  snprintf (dir, sizeof dir, "%s/raylight-gguf-XXXXXX", getenv ("TMPDIR") ? getenv ("TMPDIR") : "/tmp");
  if (mkdtemp (dir) == NULL || run_generator (seed) != 0) {
    printf ("not ok 1 - generate GGUF test files with the gguf package\n1..1\n");
    return 1;
  }
  PT_RUN (test_metadata);
  PT_RUN (test_dequantize_bit_exact);
  PT_RUN (test_custom_alignment);
  PT_RUN (test_corrupt_files);
  char command[600];
  snprintf (command, sizeof command, "rm -rf '%s'", dir);
  if (system (command) != 0)
    printf ("# could not remove %s\n", dir);
  return pt_finish ();
}
