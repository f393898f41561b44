/* A Wan DiT with its blocks sharded over 2 and 4 forked CPU ranks (FSDP2,
 * FSDP4), with CPU offload, and offloaded on one rank, gives the unsharded
 * one-rank result within 1e-6 relative on every rank — one forward and a
 * 3-step Euler sample; Ulysses 2 + FSDP2 gives unsharded Ulysses 2's. Each rank keeps ≈ 1/N of
 * the block weights (allocator statistics), the modulation tables (first
 * dimension 1) stay whole, and at most two gathered blocks ever exist.
 * The model is a small random Wan with 5 blocks (an odd count, so the two
 * buffers alternate unevenly); inputs and weights are random per run (seed
 * printed). */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "plugins/wan/wan-dit.h"
#include "tests/fork-ranks.h"
#include "tools/make-checkpoint-writer.h"
#include "workers/parallel/usp-attention.h"

enum { DIM = 256, FFN = 512, IN_DIM = 16, TEXT_DIM = 64, LAYERS = 5 };
enum { BATCH = 1, FRAMES = 2, HEIGHT = 6, WIDTH = 8, TEXT_TOKENS = 5, STEPS = 3 };

static uint64_t run_seed;
static char checkpoint_path[256];

typedef struct {
  int  ulysses;      /* 1: no sequence parallelism */
  bool offload;
} Case;

/* ------------------------------------------------------ the checkpoint */

typedef struct {
  MakeCheckpointSpec *specs;
  size_t              n;
} Specs;

static void
add_spec (Specs *s, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2)
{
  MakeCheckpointSpec *t = &s->specs[s->n++];
  const int64_t dims[3] = { d0, d1, d2 };

  memset (t, 0, sizeof *t);
  snprintf (t->name, sizeof t->name, "%s", name);
  t->dtype = RL_BF16;
  t->ndim = ndim;
  for (int d = 0; d < ndim && d < 3; d++)
    t->shape[d] = dims[d];
}

static void
add_linear (Specs *s, const char *key, int64_t n_out, int64_t n_in)
{
  char name[160];

  snprintf (name, sizeof name, "%s.weight", key);
  add_spec (s, name, 2, n_out, n_in, 0);
  snprintf (name, sizeof name, "%s.bias", key);
  add_spec (s, name, 1, n_out, 0, 0);
}

/* Wan 2.1's keys (MODELS.md) at DIM/FFN/TEXT_DIM with LAYERS blocks. */
static int
write_checkpoint (void)
{
  Specs s = { calloc (64 + 32 * LAYERS, sizeof (MakeCheckpointSpec)), 0 };
  char key[128];
  int fd;
  RlStatus status;

  if (s.specs == NULL)
    return -1;
  snprintf (checkpoint_path, sizeof checkpoint_path, "%s/fsdp-wan-XXXXXX",
            getenv ("TMPDIR") ? getenv ("TMPDIR") : "/tmp");
  fd = mkstemp (checkpoint_path);
  if (fd < 0)
    return -1;
  close (fd);
  {
    MakeCheckpointSpec *t = &s.specs[s.n++];
    memset (t, 0, sizeof *t);
    snprintf (t->name, sizeof t->name, "patch_embedding.weight");
    t->dtype = RL_BF16;
    t->ndim = 5;
    t->shape[0] = DIM, t->shape[1] = IN_DIM, t->shape[2] = 1, t->shape[3] = 2, t->shape[4] = 2;
  }
  add_spec (&s, "patch_embedding.bias", 1, DIM, 0, 0);
  add_linear (&s, "text_embedding.0", DIM, TEXT_DIM);
  add_linear (&s, "text_embedding.2", DIM, DIM);
  add_linear (&s, "time_embedding.0", DIM, 256);
  add_linear (&s, "time_embedding.2", DIM, DIM);
  add_linear (&s, "time_projection.1", 6 * DIM, DIM);
  add_spec (&s, "head.modulation", 3, 1, 2, DIM);
  add_linear (&s, "head.head", 4 * IN_DIM, DIM);
  for (int i = 0; i < LAYERS; i++) {
#define K(fmt) (snprintf (key, sizeof key, "blocks.%d." fmt, i), key)
    add_spec (&s, K ("modulation"), 3, 1, 6, DIM);
    add_linear (&s, K ("self_attn.q"), DIM, DIM);
    add_linear (&s, K ("self_attn.k"), DIM, DIM);
    add_linear (&s, K ("self_attn.v"), DIM, DIM);
    add_linear (&s, K ("self_attn.o"), DIM, DIM);
    add_spec (&s, K ("self_attn.norm_q.weight"), 1, DIM, 0, 0);
    add_spec (&s, K ("self_attn.norm_k.weight"), 1, DIM, 0, 0);
    add_spec (&s, K ("norm3.weight"), 1, DIM, 0, 0);
    add_spec (&s, K ("norm3.bias"), 1, DIM, 0, 0);
    add_linear (&s, K ("cross_attn.q"), DIM, DIM);
    add_linear (&s, K ("cross_attn.k"), DIM, DIM);
    add_linear (&s, K ("cross_attn.v"), DIM, DIM);
    add_linear (&s, K ("cross_attn.o"), DIM, DIM);
    add_spec (&s, K ("cross_attn.norm_q.weight"), 1, DIM, 0, 0);
    add_spec (&s, K ("cross_attn.norm_k.weight"), 1, DIM, 0, 0);
    add_linear (&s, K ("ffn.0"), FFN, DIM);
    add_linear (&s, K ("ffn.2"), DIM, FFN);
#undef K
  }
  status = make_checkpoint_write (checkpoint_path, s.specs, s.n, run_seed, 0, NULL, 0);
  free (s.specs);
  return status == RL_OK ? 0 : -1;
}

/* ------------------------------------------------------------ helpers */

static uint64_t
mix (uint64_t x)
{
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/* The same values on every rank: a function of (seed, which, i) in [−1, 1). */
static void
fill_random (RlTensor *t, int which)
{
  float *x = t->data;
  for (int64_t i = 0; i < rl_tensor_numel (t); i++)
    x[i] = (float) ((double) (mix (run_seed ^ mix ((uint64_t) which << 40 | (uint64_t) i)) >> 11)
                    / 9007199254740992.0 * 2.0 - 1.0);
}

static double
relative_error (const RlTensor *got, const RlTensor *want)
{
  const float *g = got->data, *w = want->data;
  double max_diff = 0.0, max_ref = 0.0;
  for (int64_t i = 0; i < rl_tensor_numel (want); i++) {
    double diff = fabs ((double) g[i] - w[i]);
    max_diff = isnan (diff) ? INFINITY : fmax (max_diff, diff);
    max_ref = fmax (max_ref, fabs ((double) w[i]));
  }
  return max_diff / max_ref;
}

/* STEPS Euler steps of the flow ODE from sigma 1 to 0 (every rank the same). */
static RlStatus
euler_sample (WanDit *dit, RlTensor *x, const RlTensor *text, RlTensor *velocity)
{
  for (int step = 0; step < STEPS; step++) {
    float sigma = 1.0f - (float) step / STEPS, next = 1.0f - (float) (step + 1) / STEPS;
    float timestep[BATCH];
    for (int b = 0; b < BATCH; b++)
      timestep[b] = sigma * 1000.0f;
    RlStatus s = wan_dit_forward (dit, x, timestep, text, velocity);
    if (s < 0)
      return s;
    float *xs = x->data;
    const float *v = velocity->data;
    for (int64_t i = 0; i < rl_tensor_numel (x); i++)
      xs[i] += (next - sigma) * v[i];
  }
  return RL_OK;
}

/* ---------------------------------------------------------- one rank */

static void
rank_main (RlComm *world, const void *arg)
{
  const Case *c = arg;
  const RlBackend *be = rl_backend_cpu ();
  RlContext *ctx = NULL;
  RlSafetensors *st = NULL;
  WanDitConfig config;
  WanDit *reference = NULL, *sharded = NULL;
  RlComm *fsdp_group = NULL, *ulysses = NULL, *ring = NULL;
  RlAllocatorStats before, after;
  RlFsdpStats stats;
  int rank = rl_comm_rank (world), ranks = rl_comm_size (world);

  omp_set_num_threads (1);   /* several ranks share two cores */
  PT_REQUIRE (be->context_new (0, &ctx) == RL_OK, "%s", rl_last_error ());
  PT_REQUIRE (rl_safetensors_open (checkpoint_path, &st) == RL_OK, "%s", rl_last_error ());
  PT_REQUIRE (wan_dit_config_detect (st, &config) == RL_OK, "%s", rl_last_error ());
  PT_REQUIRE (config.num_layers == LAYERS, "%d blocks detected", config.num_layers);
  PT_REQUIRE (wan_dit_load (be, ctx, st, &config, RL_F32, &reference) == RL_OK, "%s",
              rl_last_error ());
  /* The FSDP group is a communicator of its own, beside the USP groups. */
  PT_REQUIRE (rl_comm_split (world, 0, rank, &fsdp_group) == RL_OK, "%s", rl_last_error ());
  RlFsdpOptions options = { ranks > 1 ? fsdp_group : NULL, c->offload };
  RlAllocator *alloc = be->context_allocator (ctx);
  rl_allocator_stats (alloc, &before);
  PT_REQUIRE (wan_dit_load_sharded (be, ctx, st, &config, RL_F32, &options, &sharded) == RL_OK,
              "rank %d: %s", rank, rl_last_error ());
  rl_allocator_stats (alloc, &after);
  PT_REQUIRE (wan_dit_fsdp_stats (sharded, &stats), "no FSDP statistics");

  /* Memory: 1/N of the block weights, the modulation tables whole. */
  const uint64_t modulation_bytes = 6 * DIM * 2;
  const uint64_t block_bytes = (uint64_t) LAYERS * 2 * ((8 * DIM * DIM + 2 * FFN * DIM) + 9 * DIM
                                                       + FFN + 4 * DIM + 2 * DIM);
  PT_CHECK (stats.block_bytes == block_bytes, "block bytes %llu, want %llu",
            (unsigned long long) stats.block_bytes, (unsigned long long) block_bytes);
  PT_CHECK (stats.replicated_tensors == LAYERS
            && stats.replicated_bytes == LAYERS * modulation_bytes,
            "%d tensors (%llu bytes) kept whole; want each block's modulation",
            stats.replicated_tensors, (unsigned long long) stats.replicated_bytes);
  uint64_t slack = (uint64_t) LAYERS * (26 + ranks) * 256;
  PT_CHECK (stats.shard_bytes * ranks >= block_bytes
            && stats.shard_bytes * ranks <= block_bytes + slack,
            "rank %d of %d keeps %llu of %llu block bytes", rank, ranks,
            (unsigned long long) stats.shard_bytes, (unsigned long long) block_bytes);
  uint64_t resident = stats.slot_bytes + (c->offload ? 0 : stats.shard_bytes);
  uint64_t grew = after.current_bytes - before.current_bytes;
  PT_CHECK (grew >= resident && grew <= resident + resident / 8 + 512 * (LAYERS + 2),
            "rank %d: loading took %llu bytes of the context's memory, expected %llu "
            "(shards %s + two gathered blocks)", rank, (unsigned long long) grew,
            (unsigned long long) resident, c->offload ? "offloaded" : "resident");
  PT_CHECK (stats.slot_bytes <= 2 * (block_bytes / LAYERS + 26 * 256 + (uint64_t) ranks * 256),
            "gathered-block buffers of %llu bytes for blocks of %llu",
            (unsigned long long) stats.slot_bytes, (unsigned long long) (block_bytes / LAYERS));
  if (rank == 0)
    printf ("# %d rank(s)%s%s: a rank keeps %llu of %llu block bytes (%.3f), buffers %llu, "
            "context memory +%llu\n", ranks, c->ulysses > 1 ? " U2" : "",
            c->offload ? " offload" : "", (unsigned long long) stats.shard_bytes,
            (unsigned long long) block_bytes, (double) stats.shard_bytes / block_bytes,
            (unsigned long long) stats.slot_bytes, (unsigned long long) grew);

  /* One forward. */
  const int64_t x_shape[5] = { BATCH, IN_DIM, FRAMES, HEIGHT, WIDTH };
  const int64_t text_shape[3] = { BATCH, TEXT_TOKENS, TEXT_DIM };
  const float timestep[BATCH] = { 937.5f };
  RlTensor x = { 0 }, x2 = { 0 }, text = { 0 }, want = { 0 }, got = { 0 };
  PT_REQUIRE (rl_tensor_alloc (&x, alloc, RL_F32, 5, x_shape) == RL_OK
              && rl_tensor_alloc (&x2, alloc, RL_F32, 5, x_shape) == RL_OK
              && rl_tensor_alloc (&text, alloc, RL_F32, 3, text_shape) == RL_OK
              && rl_tensor_alloc (&want, alloc, RL_F32, 5, x_shape) == RL_OK
              && rl_tensor_alloc (&got, alloc, RL_F32, 5, x_shape) == RL_OK, "alloc");
  fill_random (&x, 1);
  fill_random (&text, 2);
  for (int64_t i = 0; i < rl_tensor_numel (&got); i++)
    ((float *) got.data)[i] = NAN;
  PT_REQUIRE (wan_dit_forward (reference, &x, timestep, &text, &want) == RL_OK, "%s",
              rl_last_error ());
  if (c->ulysses > 1) {
    /* The reference becomes unsharded U2: sharding must not change a bit
     * of what USP computes, and USP stays within its own 1e-5. */
    PT_REQUIRE (rl_usp_groups_new (world, c->ulysses, ranks / c->ulysses, &ulysses, &ring) == RL_OK,
                "%s", rl_last_error ());
    WanSeqParallel parallel = { world, ulysses, ring };
    wan_dit_set_parallel (sharded, &parallel);
    wan_dit_set_parallel (reference, &parallel);
    PT_REQUIRE (wan_dit_forward (reference, &x, timestep, &text, &got) == RL_OK, "%s",
                rl_last_error ());
    double usp_err = relative_error (&got, &want);
    PT_CHECK (usp_err <= 1e-5, "rank %d: U2 against one rank: relative error %.3g", rank, usp_err);
    memcpy (want.data, got.data, rl_tensor_nbytes (&want));
  }
  PT_REQUIRE (wan_dit_forward (sharded, &x, timestep, &text, &got) == RL_OK, "rank %d: %s",
              rank, rl_last_error ());
  double err = relative_error (&got, &want);
  PT_CHECK (err <= 1e-6, "rank %d: forward relative error %.3g", rank, err);
  wan_dit_fsdp_stats (sharded, &stats);
  PT_CHECK (stats.gathers == LAYERS && stats.gathered_peak == 2 && stats.gathered_alive == 0,
            "after a forward: %llu gathers, peak %d, alive %d (want %d, 2, 0)",
            (unsigned long long) stats.gathers, stats.gathered_peak, stats.gathered_alive, LAYERS);

  /* A short sample. */
  memcpy (x2.data, x.data, rl_tensor_nbytes (&x));
  PT_REQUIRE (euler_sample (reference, &x, &text, &want) == RL_OK, "%s", rl_last_error ());
  PT_REQUIRE (euler_sample (sharded, &x2, &text, &got) == RL_OK, "rank %d: %s", rank,
              rl_last_error ());
  double sample_err = relative_error (&x2, &x);
  PT_CHECK (sample_err <= 1e-6, "rank %d: %d-step sample relative error %.3g", rank, STEPS,
            sample_err);
  wan_dit_fsdp_stats (sharded, &stats);
  PT_CHECK (stats.gathers == (1 + STEPS) * LAYERS && stats.gathered_peak == 2,
            "after the sample: %llu gathers, peak %d", (unsigned long long) stats.gathers,
            stats.gathered_peak);
  if (rank == 0)
    printf ("# forward relative error %.3g, %d-step sample %.3g\n", err, STEPS, sample_err);

  rl_tensor_release (&x);
  rl_tensor_release (&x2);
  rl_tensor_release (&text);
  rl_tensor_release (&want);
  rl_tensor_release (&got);
  wan_dit_free (sharded);
  wan_dit_free (reference);
  rl_comm_free (ulysses);
  rl_comm_free (ring);
  rl_comm_free (fsdp_group);
  rl_safetensors_close (st);
  be->context_free (ctx);
}

#define WAN_TEST(name, ranks, u, offload)                                    \
  static void name (void)                                                    \
  {                                                                          \
    const Case c = { u, offload };                                           \
    PT_CHECK (fork_ranks (ranks, rank_main, &c) == 0, #name " failed");      \
  }

WAN_TEST (test_fsdp2, 2, 1, false)
WAN_TEST (test_fsdp4, 4, 1, false)
WAN_TEST (test_ulysses2_fsdp2, 2, 2, false)
WAN_TEST (test_fsdp2_offload, 2, 1, true)
WAN_TEST (test_offload_one_rank, 1, 1, true)

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
  PT_RUN (test_fsdp2);
  PT_RUN (test_fsdp4);
  PT_RUN (test_ulysses2_fsdp2);
  PT_RUN (test_fsdp2_offload);
  PT_RUN (test_offload_one_rank);
  unlink (checkpoint_path);
  return pt_finish ();
}
