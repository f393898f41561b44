/* Corrupted safetensors files: each is refused with RL_E_FORMAT and a
 * message naming the file, the tensor, and what is wrong. Valid files come
 * from make-checkpoint (random per run); corrupt headers are built here. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/plain-test.h"
#include "tools/make-checkpoint-writer.h"
#include "workers/checkpoint/safetensors.h"

typedef struct {
  const char *label;
  const char *header;
  size_t      data_len;
  const char *expect[3];   /* substrings the error must contain */
} Corruption;

static const Corruption corruptions[] = {
  { "lying offsets", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,12]}}", 12,
    { "'w'", "needs 16 bytes", "[0, 12]" } },
  { "overlapping", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
    "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16, { "'b'", "overlaps", "'a'" } },
  { "gap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
    "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12, { "belong to no tensor", "'b'", NULL } },
  { "trailing garbage", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 9,
    { "9 data bytes", "'a'", NULL } },
  { "offsets past the data", "{\"a\":{\"dtype\":\"F32\",\"shape\":[8],\"data_offsets\":[0,32]}}", 16,
    { "'a'", "truncated", NULL } },
  { "absurd shape", "{\"big\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
    "\"data_offsets\":[0,4]}}", 4, { "'big'", "64 bits", NULL } },
  { "huge dim", "{\"big\":{\"dtype\":\"BF16\",\"shape\":[99999999999999999],\"data_offsets\":[0,4]}}", 4,
    { "'big'", "absurd", NULL } },
  { "bytes overflow", "{\"big\":{\"dtype\":\"F64\",\"shape\":[1099511627776,4194304],\"data_offsets\":[0,4]}}", 4,
    { "'big'", "overflow the byte count", NULL } },
  { "negative dim", "{\"n\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, { "'n'", "absurd", NULL } },
  { "fractional dim", "{\"n\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4,
    { "'n'", "not an integer", NULL } },
  { "unknown dtype", "{\"u\":{\"dtype\":\"F12\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
    { "'u'", "unknown dtype", "F12" } },
  { "duplicate names", "{\"d\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
    "\"d\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, { "'d'", "twice", NULL } },
  { "end before begin", "{\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4,
    { "'e'", "end before", NULL } },
  { "negative offset", "{\"e\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4,
    { "'e'", "non-negative", NULL } },
  { "three offsets", "{\"e\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4,
    { "'e'", "[begin, end]", NULL } },
  { "missing dtype", "{\"m\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, { "'m'", "dtype", NULL } },
  { "extra field", "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"crc\":1}}", 4,
    { "'x'", "\"crc\"", NULL } },
  { "entry not object", "{\"x\":[1,2]}", 0, { "'x'", "not an object (it is an array)", NULL } },
  { "header not object", "[1,2,3]", 0, { "not start with '{'", NULL, NULL } },
  { "metadata not strings", "{\"__metadata__\":{\"steps\":20}}", 0, { "steps", "string", NULL } },
  { "bad JSON: trailing comma", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},}", 4,
    { "invalid JSON", "quoted key", NULL } },
  { "bad JSON: unterminated", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", 4,
    { "invalid JSON", "unterminated", NULL } },
  { "bad JSON: escape", "{\"a\\q\":{}}", 0, { "invalid JSON", "escape", NULL } },
  { "bad JSON: invalid UTF-8", "{\"a\xff\":{}}", 0, { "invalid JSON", "UTF-8", NULL } },
  { "bad JSON: deep nesting", "{\"a\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}", 0, { "nesting", NULL, NULL } },
  { "bad JSON: garbage after", "{} {}", 0, { "after the end", NULL, NULL } },
  { "bad JSON: leading zero", "{\"a\":{\"dtype\":\"F32\",\"shape\":[01],\"data_offsets\":[0,4]}}", 4,
    { "invalid JSON", NULL, NULL } },
  { "scale not scalar", "{\"l.weight\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]},"
    "\"l.scale_weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[2,10]}}", 10,
    { "'l.scale_weight'", "scalar", "'l.weight'" } },
};

/* 8-byte length, header, `data_len` bytes of pattern. Caller frees. */
static uint8_t *
build_file (const char *header, size_t data_len, size_t *size)
{
  size_t hlen = strlen (header);
  *size = 8 + hlen + data_len;
  uint8_t *buf = malloc (*size);
  for (int i = 0; i < 8; i++)
    buf[i] = (uint8_t) ((uint64_t) hlen >> (8 * i));
  memcpy (buf + 8, header, hlen);
  for (size_t i = 0; i < data_len; i++)
    buf[8 + hlen + i] = (uint8_t) (i * 37 + 11);
  return buf;
}

static void
test_corrupt_headers (void)
{
  for (size_t i = 0; i < sizeof corruptions / sizeof corruptions[0]; i++) {
    const Corruption *c = &corruptions[i];
    size_t size;
    uint8_t *buf = build_file (c->header, c->data_len, &size);
    RlSafetensors *st = NULL;
    rl_clear_error ();
    RlStatus status = rl_safetensors_open_memory (buf, size, "corrupt.safetensors", &st);
    PT_CHECK (status == RL_E_FORMAT && st == NULL, "%s: accepted (status %d)", c->label, status);
    const char *msg = rl_last_error ();
    PT_CHECK (strstr (msg, "corrupt.safetensors") != NULL, "%s: message lacks the file: %s", c->label, msg);
    for (int k = 0; k < 3 && c->expect[k]; k++)
      PT_CHECK (strstr (msg, c->expect[k]) != NULL, "%s: message lacks \"%s\": %s", c->label, c->expect[k], msg);
    printf ("# %-28s -> %s\n", c->label, msg);
    rl_safetensors_close (st);
    free (buf);
  }
}

static void
test_bad_lengths (void)
{
  uint8_t tiny[5] = { 1, 2, 3, 4, 5 };
  RlSafetensors *st = NULL;
  PT_CHECK (rl_safetensors_open_memory (tiny, sizeof tiny, "tiny", &st) == RL_E_FORMAT, "5-byte file accepted");
  PT_CHECK (strstr (rl_last_error (), "too short") != NULL, "message: %s", rl_last_error ());

  size_t size;
  uint8_t *buf = build_file ("{}", 0, &size);
  buf[0] = 0xff;  /* header length 255 in a 10-byte file */
  PT_CHECK (rl_safetensors_open_memory (buf, size, "past-eof", &st) == RL_E_FORMAT, "length past EOF accepted");
  PT_CHECK (strstr (rl_last_error (), "truncated") != NULL, "message: %s", rl_last_error ());
  memset (buf, 0xff, 8);  /* 2^64 - 1 */
  PT_CHECK (rl_safetensors_open_memory (buf, size, "huge", &st) == RL_E_FORMAT, "huge length accepted");
  free (buf);
}

/* A real checkpoint cut short on disk: the error names the path and the
 * tensor that runs past the end, and says to download it again. */
static void
test_truncated_file (void)
{
  uint64_t seed = (uint64_t) time (NULL) ^ (uint64_t) getpid ();
  printf ("# seed %llu\n", (unsigned long long) seed);
  MakeCheckpointSpec specs[3];
  char error[128];
  make_checkpoint_parse_line ("first BF16 [16, 16]", RL_DTYPE_INVALID, &specs[0], error, sizeof error);
  make_checkpoint_parse_line ("middle F32 [33]", RL_DTYPE_INVALID, &specs[1], error, sizeof error);
  make_checkpoint_parse_line ("last.weight F16 [8, 8]", RL_DTYPE_INVALID, &specs[2], error, sizeof error);
  char path[] = "/tmp/raylight-truncated-XXXXXX";
  int fd = mkstemp (path);
  PT_REQUIRE (fd >= 0, "mkstemp");
  close (fd);
  bool ok_1 = make_checkpoint_write (path, specs, 3, seed, 0, NULL, 0) == RL_OK;
  PT_REQUIRE (ok_1, "write: %s", rl_last_error ());
  RlSafetensors *st = NULL;
  bool ok_2 = rl_safetensors_open (path, &st) == RL_OK;
  PT_REQUIRE (ok_2, "valid file refused: %s", rl_last_error ());
  uint64_t size = rl_safetensors_file_size (st);
  rl_safetensors_close (st);

  bool ok_3 = truncate (path, (off_t) size - 10) == 0;
  PT_REQUIRE (ok_3, "truncate");
  PT_CHECK (rl_safetensors_open (path, &st) == RL_E_FORMAT, "truncated file accepted");
  const char *msg = rl_last_error ();
  printf ("# truncated: %s\n", msg);
  PT_CHECK (strstr (msg, path) && strstr (msg, "'last.weight'") && strstr (msg, "truncated"), "message: %s", msg);

  bool ok_4 = truncate (path, 40) == 0;
  PT_REQUIRE (ok_4, "truncate");
  PT_CHECK (rl_safetensors_open (path, &st) == RL_E_FORMAT, "header-truncated file accepted");
  PT_CHECK (strstr (rl_last_error (), "truncated") != NULL, "message: %s", rl_last_error ());

  bool ok_5 = truncate (path, 0) == 0;
  PT_REQUIRE (ok_5, "truncate");
  PT_CHECK (rl_safetensors_open (path, &st) == RL_E_FORMAT, "empty file accepted");
  unlink (path);
  PT_CHECK (rl_safetensors_open (path, &st) == RL_E_IO, "missing file");
  PT_CHECK (strstr (rl_last_error (), path) != NULL, "message: %s", rl_last_error ());
  PT_CHECK (rl_safetensors_open ("/tmp", &st) == RL_E_IO, "directory accepted");
}

/* make-checkpoint --corrupt variants of a random checkpoint: each refused,
 * naming the file and the tensor the tool damaged. */
static void
test_tool_corruptions (void)
{
  uint64_t seed = (uint64_t) time (NULL) ^ (uint64_t) getpid () << 8;
  printf ("# seed %llu\n", (unsigned long long) seed);
  const char *lines[] = { "blocks.0.q.weight BF16 [24, 16]", "blocks.0.q.bias F32 [24]",
                          "blocks.1.ffn.weight F8_E4M3 [32, 8]", "head.weight F16 [4, 24]" };
  MakeCheckpointSpec specs[4];
  char error[128];
  for (int i = 0; i < 4; i++)
    make_checkpoint_parse_line (lines[i], RL_DTYPE_INVALID, &specs[i], error, sizeof error);
  char path[] = "/tmp/raylight-tool-corrupt-XXXXXX";
  int fd = mkstemp (path);
  PT_REQUIRE (fd >= 0, "mkstemp");
  close (fd);
  for (int kind = 0; kind < MAKE_CHECKPOINT_CORRUPTION_COUNT; kind++) {
    const char *name = make_checkpoint_corruption_name ((MakeCheckpointCorruption) kind);
    char blamed[MAKE_CHECKPOINT_MAX_NAME];
    RlStatus written = make_checkpoint_write (path, specs, 4, seed, MAKE_CHECKPOINT_SCALED_FP8, NULL, 0);
    RlStatus damaged = make_checkpoint_corrupt (path, (MakeCheckpointCorruption) kind, blamed, sizeof blamed);
    PT_CHECK (written == RL_OK && damaged == RL_OK, "%s: %s", name, rl_last_error ());
    RlSafetensors *st = NULL;
    RlStatus status = rl_safetensors_open (path, &st);
    const char *msg = rl_last_error ();
    PT_CHECK (status == RL_E_FORMAT, "%s: damaged file accepted (status %d)", name, status);
    PT_CHECK (strstr (msg, path) != NULL, "%s: message lacks the file: %s", name, msg);
    char quoted[MAKE_CHECKPOINT_MAX_NAME + 2];
    snprintf (quoted, sizeof quoted, "'%s'", blamed);
    PT_CHECK (blamed[0] == '\0' || strstr (msg, quoted) != NULL, "%s: message does not name %s: %s", name,
              quoted, msg);
    printf ("# %-16s -> %s\n", name, msg);
    rl_safetensors_close (st);
  }
  unlink (path);
}

int
main (void)
{
  PT_RUN (test_corrupt_headers);
  PT_RUN (test_bad_lengths);
  PT_RUN (test_truncated_file);
  PT_RUN (test_tool_corruptions);
  return pt_finish ();
}
