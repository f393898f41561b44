/* Sharded checkpoints through model.safetensors.index.json: lookups across
 * shards, and indexes that disagree with their shards are refused with the
 * tensor and shard named. Shards are random per run (seed printed). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tests/plain-test.h"
#include "tools/make-checkpoint-writer.h"
#include "workers/checkpoint/safetensors-set.h"

static char dir[256];
static uint64_t seed;

static void
write_shard (const char *file, const char *const *lines, size_t n)
{
  MakeCheckpointSpec specs[8];
  char error[128], path[512];
  for (size_t i = 0; i < n; i++)
    make_checkpoint_parse_line (lines[i], RL_DTYPE_INVALID, &specs[i], error, sizeof error);
  snprintf (path, sizeof path, "%s/%s", dir, file);
  if (make_checkpoint_write (path, specs, n, seed, 0, NULL, 0) != RL_OK)
    printf ("# writing %s: %s\n", path, rl_last_error ());
}

static void
write_index (const char *file, const char *body)
{
  char path[512];
  snprintf (path, sizeof path, "%s/%s", dir, file);
  FILE *f = fopen (path, "w");
  fputs (body, f);
  fclose (f);
}

static RlStatus
open_index (const char *file, RlSafetensorsSet **set)
{
  char path[512];
  snprintf (path, sizeof path, "%s/%s", dir, file);
  return rl_safetensors_set_open (path, set);
}

static const char *shard1[] = { "a.weight BF16 [8, 4]", "a.bias F32 [8]" };
static const char *shard2[] = { "b.weight F16 [4, 4]", "c.weight F32 [2]" };
static const char *shard3[] = { "a.weight BF16 [8, 4]" };   /* repeats a tensor of shard 1 */

#define GOOD_MAP "\"a.weight\": \"m-1.safetensors\", \"a.bias\": \"m-1.safetensors\", " \
                 "\"b.weight\": \"sub/m-2.safetensors\", \"c.weight\": \"sub/m-2.safetensors\""

static void
test_lookup_across_shards (void)
{
  write_index ("good.json", "{\"metadata\": {\"total_size\": 160}, \"weight_map\": {" GOOD_MAP "}}");
  RlSafetensorsSet *set = NULL;
  RlStatus status = open_index ("good.json", &set);
  PT_REQUIRE (status == RL_OK, "open: %s", rl_last_error ());
  PT_CHECK (rl_safetensors_set_shard_count (set) == 2, "shards %zu", rl_safetensors_set_shard_count (set));
  PT_CHECK (rl_safetensors_set_count (set) == 4, "tensors %zu", rl_safetensors_set_count (set));
  RlSafetensors *owner = NULL;
  const RlSafetensorsTensor *t = rl_safetensors_set_find (set, "c.weight", &owner);
  PT_CHECK (t != NULL && owner == rl_safetensors_set_shard (set, 1), "c.weight in shard 2");
  PT_CHECK (rl_safetensors_set_find (set, "nope", &owner) == NULL && owner == NULL, "missing tensor");
  const char *order[] = { "a.weight", "a.bias", "b.weight", "c.weight" };
  for (size_t i = 0; i < 4; i++) {
    t = rl_safetensors_set_tensor_at (set, i, &owner);
    PT_CHECK (t != NULL && strcmp (t->name, order[i]) == 0 && rl_safetensors_find (owner, t->name) == t,
              "tensor %zu is %s", i, t ? t->name : "NULL");
  }
  PT_CHECK (rl_safetensors_set_tensor_at (set, 4, &owner) == NULL, "index past the end");
  t = rl_safetensors_set_find (set, "a.weight", &owner);
  uint8_t buf[64];
  PT_CHECK (rl_safetensors_read (owner, t, 0, t->nbytes, buf) == RL_OK, "read");
  PT_CHECK (rl_safetensors_set_bytes_read (set) == 64 && rl_safetensors_set_data_size (set) == 64 + 32 + 32 + 8,
            "progress %llu of %llu", (unsigned long long) rl_safetensors_set_bytes_read (set),
            (unsigned long long) rl_safetensors_set_data_size (set));
  rl_safetensors_set_close (set);

  /* A single file opens as a one-shard set. */
  PT_CHECK (open_index ("m-1.safetensors", &set) == RL_OK && rl_safetensors_set_count (set) == 2, "single file");
  rl_safetensors_set_close (set);
}

typedef struct {
  const char *label;
  const char *index;
  RlStatus    status;
  const char *expect[2];
} BadIndex;

static void
test_bad_indexes (void)
{
  const BadIndex cases[] = {
    { "wrong shard", "{\"weight_map\": {\"a.weight\": \"sub/m-2.safetensors\", \"a.bias\": \"m-1.safetensors\", "
      "\"b.weight\": \"sub/m-2.safetensors\", \"c.weight\": \"sub/m-2.safetensors\"}}", RL_E_FORMAT,
      { "'a.weight'", "does not contain it" } },
    { "unlisted tensor", "{\"weight_map\": {\"a.weight\": \"m-1.safetensors\", \"b.weight\": \"sub/m-2.safetensors\", "
      "\"c.weight\": \"sub/m-2.safetensors\"}}", RL_E_FORMAT, { "'a.bias'", "missing from the weight_map" } },
    { "tensor in two shards", "{\"weight_map\": {" GOOD_MAP ", \"a.weight\": \"m-3.safetensors\"}}", RL_E_FORMAT,
      { "'a.weight'", NULL } },
    { "absolute shard", "{\"weight_map\": {\"x\": \"/etc/passwd\"}}", RL_E_FORMAT, { "'x'", "inside the index" } },
    { "escaping shard", "{\"weight_map\": {\"x\": \"sub/../../m.safetensors\"}}", RL_E_FORMAT, { "'x'", NULL } },
    { "missing shard", "{\"weight_map\": {\"x\": \"gone.safetensors\"}}", RL_E_IO, { "'gone.safetensors'", NULL } },
    { "no weight_map", "{\"metadata\": {}}", RL_E_FORMAT, { "weight_map", NULL } },
    { "bad JSON", "{\"weight_map\": {\"x\": }", RL_E_FORMAT, { "invalid JSON", NULL } },
    { "shard not a string", "{\"weight_map\": {\"x\": 3}}", RL_E_FORMAT, { "'x'", NULL } },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    write_index ("bad.json", cases[i].index);
    RlSafetensorsSet *set = NULL;
    RlStatus status = open_index ("bad.json", &set);
    const char *msg = rl_last_error ();
    PT_CHECK (status == cases[i].status && set == NULL, "%s: status %d", cases[i].label, status);
    PT_CHECK (strstr (msg, "bad.json") != NULL, "%s: message lacks the index: %s", cases[i].label, msg);
    for (int k = 0; k < 2 && cases[i].expect[k]; k++)
      PT_CHECK (strstr (msg, cases[i].expect[k]) != NULL, "%s: message lacks %s: %s", cases[i].label,
                cases[i].expect[k], msg);
    printf ("# %-22s -> %s\n", cases[i].label, msg);
  }
}

int
main (void)
{
  const char *env_seed = getenv ("RAYLIGHT_TEST_SEED");
  seed = env_seed ? strtoull (env_seed, NULL, 0) : (uint64_t) time (NULL) ^ (uint64_t) getpid ();
  printf ("# seed %llu\n", (unsigned long long) seed);
  snprintf (dir, sizeof dir, "%s/raylight-set-XXXXXX", getenv ("TMPDIR") ? getenv ("TMPDIR") : "/tmp");
  if (mkdtemp (dir) == NULL)
    return 1;
  char sub[300];
  snprintf (sub, sizeof sub, "%s/sub", dir);
  if (mkdir (sub, 0755) != 0)
    return 1;
  write_shard ("m-1.safetensors", shard1, 2);
  write_shard ("sub/m-2.safetensors", shard2, 2);
  write_shard ("m-3.safetensors", shard3, 1);
  PT_RUN (test_lookup_across_shards);
  PT_RUN (test_bad_indexes);
  char command[600];
  snprintf (command, sizeof command, "rm -rf '%s'", dir);
  if (system (command) != 0)
    printf ("# could not remove %s\n", dir);
  return pt_finish ();
}
