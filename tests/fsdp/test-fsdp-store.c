/* The FSDP store through the weight set, on forked CPU ranks: blocks of
 * mixed dtypes and sizes (so shard boundaries cut through tensors and the
 * flat size is no multiple of the group) are gathered byte-exact on 1–4
 * ranks, with and without offload; odd-shaped, one-element and scalar
 * tensors stay whole (zero-copy views of the file); a block with nothing
 * to shard works; each rank keeps ≈ 1/N of the block bytes (allocator
 * statistics); at most two gathered blocks exist; misuse of the slots is
 * refused. Weights are random per run (seed printed). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "plugins/common/weight-set.h"
#include "tests/fork-ranks.h"
#include "tools/make-checkpoint-writer.h"

static char checkpoint_path[256];
static uint64_t run_seed;

enum { BLOCKS = 4 };

/* name, dtype, ndim, shape; "whole": expected to stay replicated. */
typedef struct {
  const char *name;
  RlDType     dtype;
  int         ndim;
  int64_t     shape[3];
  int         block;      /* −1: not in a block */
  int         whole;
} Spec;

static const Spec specs[] = {
  { "blocks.0.a",        RL_BF16, 2, { 6, 10 },     0, 0 },
  { "blocks.0.odd",      RL_F32,  2, { 3, 8 },      0, 1 },
  { "blocks.0.scalar",   RL_F32,  0, { 0 },         0, 1 },
  { "blocks.0.w",        RL_F16,  2, { 64, 100 },   0, 0 },
  { "blocks.0.odd_vec",  RL_BF16, 1, { 9 },         0, 1 },
  { "blocks.0.bias",     RL_F32,  1, { 10 },        0, 0 },
  { "blocks.1.a",        RL_BF16, 2, { 10, 6 },     1, 0 },
  { "blocks.1.cube",     RL_F32,  3, { 2, 3, 5 },   1, 0 },
  { "blocks.1.big",      RL_BF16, 2, { 128, 129 },  1, 0 },
  { "blocks.1.one",      RL_F32,  1, { 1 },         1, 1 },
  { "blocks.2.only_odd", RL_F32,  2, { 5, 4 },      2, 1 },
  { "blocks.3.x",        RL_BF16, 2, { 4, 4 },      3, 0 },
  { "blocks.3.scale_in", RL_F32,  1, { 2 },         3, 1 },
  { "other.weight",      RL_F32,  1, { 7 },        -1, 1 },
};
#define N_SPECS ((int) (sizeof specs / sizeof specs[0]))

typedef struct {
  bool offload;
} Case;

static int
write_checkpoint (void)
{
  MakeCheckpointSpec out[N_SPECS];
  int fd;

  snprintf (checkpoint_path, sizeof checkpoint_path, "%s/fsdp-store-XXXXXX",
            getenv ("TMPDIR") ? getenv ("TMPDIR") : "/tmp");
  fd = mkstemp (checkpoint_path);
  if (fd < 0)
    return -1;
  close (fd);
  for (int i = 0; i < N_SPECS; i++) {
    memset (&out[i], 0, sizeof out[i]);
    snprintf (out[i].name, sizeof out[i].name, "%s", specs[i].name);
    out[i].dtype = specs[i].dtype;
    out[i].ndim = specs[i].ndim;
    for (int d = 0; d < specs[i].ndim; d++)
      out[i].shape[d] = specs[i].shape[d];
  }
  return make_checkpoint_write (checkpoint_path, out, N_SPECS, run_seed, 0, NULL, 0) == RL_OK ? 0 : -1;
}

static void
rank_main (RlComm *world, const void *arg)
{
  const Case *c = arg;
  const RlBackend *be = rl_backend_cpu ();
  RlContext *ctx = NULL;
  RlSafetensors *st = NULL;
  RlWeightSet *set = NULL;
  RlComm *group = NULL;
  RlTensor tensors[N_SPECS];
  RlAllocatorStats before, after;
  RlFsdpStats stats;
  int rank = rl_comm_rank (world), ranks = rl_comm_size (world);

  memset (tensors, 0, sizeof tensors);
  PT_REQUIRE (be->context_new (0, &ctx) == RL_OK, "%s", rl_last_error ());
  PT_REQUIRE (rl_safetensors_open (checkpoint_path, &st) == RL_OK, "%s", rl_last_error ());
  PT_REQUIRE (rl_comm_split (world, 0, rank, &group) == RL_OK, "%s", rl_last_error ());
  PT_REQUIRE (rl_weight_set_new (be, ctx, st, "", "the store test", &set) == RL_OK, "%s",
              rl_last_error ());
  RlFsdpOptions options = { ranks > 1 ? group : NULL, c->offload };
  PT_REQUIRE (rl_weight_set_shard_blocks (set, &options) == RL_OK, "%s", rl_last_error ());

  rl_allocator_stats (be->context_allocator (ctx), &before);
  int open = -1;
  for (int i = 0; i < N_SPECS; i++) {
    if (specs[i].block != open) {
      if (open >= 0)
        PT_REQUIRE (rl_weight_set_end_block (set) == RL_OK, "%s", rl_last_error ());
      open = specs[i].block;
      if (open >= 0)
        PT_REQUIRE (rl_weight_set_begin_block (set, open) == RL_OK, "%s", rl_last_error ());
    }
    PT_REQUIRE (rl_weight_set_load (set, &tensors[i], specs[i].name, specs[i].ndim,
                                    specs[i].shape) == RL_OK, "%s", rl_last_error ());
  }
  PT_REQUIRE (rl_weight_set_finish (set) == RL_OK, "%s", rl_last_error ());
  rl_allocator_stats (be->context_allocator (ctx), &after);
  PT_REQUIRE (rl_weight_set_fsdp_stats (set, &stats), "no FSDP statistics");

  /* Whole tensors are the file's bytes in place; sharded ones are not. */
  uint64_t block_bytes = 0;
  int sharded = 0, whole_in_blocks = 0;
  for (int i = 0; i < N_SPECS; i++) {
    const RlSafetensorsTensor *t = rl_safetensors_find (st, specs[i].name);
    bool in_file = tensors[i].data == t->data;
    PT_CHECK (rl_fsdp_keeps_whole (t) == (specs[i].whole != 0), "%s: keeps_whole", specs[i].name);
    PT_CHECK (in_file == (specs[i].whole != 0), "rank %d: %s %s", rank, specs[i].name,
              specs[i].whole ? "should stay whole (a view of the file)" : "should be sharded");
    if (specs[i].block >= 0 && !specs[i].whole) {
      block_bytes += t->nbytes;
      sharded++;
    }
    whole_in_blocks += specs[i].block >= 0 && specs[i].whole;
  }
  PT_CHECK (stats.sharded_tensors == sharded && stats.replicated_tensors == whole_in_blocks,
            "sharded %d (want %d), replicated %d (want %d)", stats.sharded_tensors, sharded,
            stats.replicated_tensors, whole_in_blocks);
  PT_CHECK (stats.block_bytes == block_bytes, "block bytes %llu, want %llu",
            (unsigned long long) stats.block_bytes, (unsigned long long) block_bytes);
  /* 1/N of the blocks, give or take the 256-byte alignment of each tensor
   * and of each shard. */
  uint64_t slack = (uint64_t) (sharded + BLOCKS * ranks) * 256;
  PT_CHECK (stats.shard_bytes * ranks >= block_bytes
            && stats.shard_bytes * ranks <= block_bytes + slack,
            "rank %d of %d keeps %llu bytes of %llu", rank, ranks,
            (unsigned long long) stats.shard_bytes, (unsigned long long) block_bytes);
  PT_CHECK (stats.offloaded_bytes == (c->offload ? stats.shard_bytes : 0), "offloaded %llu",
            (unsigned long long) stats.offloaded_bytes);
  /* The context's memory holds the shards (unless offloaded) and the two
   * slots, nothing else: whole tensors stay in the page cache. */
  uint64_t expect = stats.slot_bytes + (c->offload ? 0 : stats.shard_bytes);
  uint64_t grew = after.current_bytes - before.current_bytes;
  PT_CHECK (grew >= expect && grew <= expect + expect / 8 + 512 * (BLOCKS + 2),
            "rank %d: context memory grew by %llu, expected about %llu", rank,
            (unsigned long long) grew, (unsigned long long) expect);

  /* Two forwards' worth of gathers, each block byte-exact. */
  for (int pass = 0; pass < 2; pass++) {
    PT_REQUIRE (rl_weight_set_prefetch_block (set, 0) == RL_OK, "%s", rl_last_error ());
    for (int b = 0; b < BLOCKS; b++) {
      PT_REQUIRE (rl_weight_set_acquire_block (set, b) == RL_OK, "%s", rl_last_error ());
      for (int i = 0; i < N_SPECS; i++) {
        const RlSafetensorsTensor *t = rl_safetensors_find (st, specs[i].name);
        if (specs[i].block == b)
          PT_CHECK (memcmp (tensors[i].data, t->data, t->nbytes) == 0,
                    "rank %d of %d: %s differs from the file after the gather", rank, ranks,
                    specs[i].name);
      }
      rl_weight_set_fsdp_stats (set, &stats);
      PT_CHECK (stats.gathered_alive <= 2, "%d gathered blocks alive", stats.gathered_alive);
      PT_REQUIRE (rl_weight_set_release_block (set, b) == RL_OK, "%s", rl_last_error ());
    }
    PT_REQUIRE (rl_weight_set_blocks_idle (set) == RL_OK, "%s", rl_last_error ());
  }
  rl_weight_set_fsdp_stats (set, &stats);
  PT_CHECK (stats.gathered_peak == 2 && stats.gathered_alive == 0,
            "peak %d alive %d gathered blocks (want 2 and 0)", stats.gathered_peak,
            stats.gathered_alive);
  PT_CHECK (stats.gathers == 2 * BLOCKS, "%llu gathers for two passes over %d blocks",
            (unsigned long long) stats.gathers, BLOCKS);

  /* Block 2 shares block 0's buffer: it cannot be gathered while 0 is in use. */
  PT_REQUIRE (rl_weight_set_acquire_block (set, 0) == RL_OK, "%s", rl_last_error ());
  PT_CHECK (rl_weight_set_prefetch_block (set, 2) == RL_E_INVALID_ARG,
            "gathering into an acquired block's buffer was not refused");
  PT_CHECK (rl_weight_set_release_block (set, 3) == RL_E_INVALID_ARG,
            "releasing a block that is not acquired was not refused");
  PT_CHECK (rl_weight_set_blocks_idle (set) == RL_OK, "%s", rl_last_error ());

  rl_weight_set_free (set);
  rl_comm_free (group);
  rl_safetensors_close (st);
  be->context_free (ctx);
}

#define STORE_TEST(name, ranks, offload)                                     \
  static void name (void)                                                    \
  {                                                                          \
    const Case c = { offload };                                              \
    PT_CHECK (fork_ranks (ranks, rank_main, &c) == 0, "%d ranks%s failed",    \
              ranks, offload ? " with offload" : "");                        \
  }

STORE_TEST (test_offload_one_rank, 1, true)
STORE_TEST (test_fsdp2, 2, false)
STORE_TEST (test_fsdp3, 3, false)
STORE_TEST (test_fsdp4, 4, false)
STORE_TEST (test_fsdp2_offload, 2, true)

static void
test_without_sharding (void)
{
  const RlBackend *be = rl_backend_cpu ();
  RlContext *ctx = NULL;
  RlSafetensors *st = NULL;
  RlWeightSet *set = NULL;
  RlTensor t = { 0 };
  RlFsdpStats stats;
  const RlFsdpOptions none = { NULL, false };
  const int64_t shape[2] = { 6, 10 };

  PT_REQUIRE (be->context_new (0, &ctx) == RL_OK, "%s", rl_last_error ());
  PT_REQUIRE (rl_safetensors_open (checkpoint_path, &st) == RL_OK, "%s", rl_last_error ());
  PT_REQUIRE (rl_weight_set_new (be, ctx, st, "", "the store test", &set) == RL_OK, "%s",
              rl_last_error ());
  PT_CHECK (rl_weight_set_shard_blocks (set, &none) == RL_OK, "%s", rl_last_error ());
  PT_CHECK (rl_weight_set_begin_block (set, 0) == RL_OK, "%s", rl_last_error ());
  PT_CHECK (rl_weight_set_load (set, &t, "blocks.0.a", 2, shape) == RL_OK, "%s", rl_last_error ());
  PT_CHECK (rl_weight_set_end_block (set) == RL_OK && rl_weight_set_finish (set) == RL_OK,
            "%s", rl_last_error ());
  PT_CHECK (t.data == rl_safetensors_find (st, "blocks.0.a")->data,
            "without a group or offload the weight is the file's bytes");
  PT_CHECK (!rl_weight_set_fsdp_stats (set, &stats), "statistics without sharding");
  PT_CHECK (rl_weight_set_acquire_block (set, 0) == RL_OK
            && rl_weight_set_release_block (set, 0) == RL_OK
            && rl_weight_set_blocks_idle (set) == RL_OK, "hooks without sharding must do nothing");
  rl_weight_set_free (set);
  rl_safetensors_close (st);
  be->context_free (ctx);
}

int
main (void)
{
  const char *env = getenv ("RL_TEST_SEED");
  run_seed = env != NULL ? strtoull (env, NULL, 0) : (uint64_t) time (NULL) ^ (uint64_t) getpid ();
  printf ("# seed %llu (RL_TEST_SEED to repeat)\n", (unsigned long long) run_seed);
  if (write_checkpoint () != 0) {
    printf ("# writing the checkpoint: %s\n", rl_last_error ());
    return 1;
  }
  PT_RUN (test_without_sharding);
  PT_RUN (test_offload_one_rank);
  PT_RUN (test_fsdp2);
  PT_RUN (test_fsdp3);
  PT_RUN (test_fsdp4);
  PT_RUN (test_fsdp2_offload);
  unlink (checkpoint_path);
  return pt_finish ();
}
