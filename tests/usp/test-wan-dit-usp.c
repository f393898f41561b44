/* The tiny Wan DiT forward, sequence-parallel over 2 and 4 forked CPU
 * ranks sharing a shm communicator (Ulysses 2, ring 2, ring 4, Ulysses 2 ×
 * ring 2), equals the single-rank forward within 1e-5 relative on every
 * rank. Inputs are random per run (seed printed) and sized so the token
 * count needs padding and the latent width needs the patch padding. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "plugins/wan/wan-dit.h"
#include "tests/fork-ranks.h"
#include "tests/plain-test.h"
#include "workers/comm/comm-shm.h"
#include "workers/parallel/usp-attention.h"

static uint64_t run_seed;
static char checkpoint_path[1200];

enum { BATCH = 2, FRAMES = 3, HEIGHT = 6, WIDTH = 9, TEXT_TOKENS = 5 };

static uint64_t
mix (uint64_t x)
{
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/* The same values in every rank: a function of (seed, which, i) in [−1, 1). */
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

/* One rank: the single-rank forward as reference, then the parallel one. */
static void
rank_main (RlComm *world, int ulysses_degree, int ring_degree)
{
  const RlBackend *be = rl_backend_cpu ();
  RlContext *ctx = NULL;
  RlSafetensors *st = NULL;
  WanDitConfig config;
  WanDit *dit = NULL;
  RlComm *ulysses = NULL, *ring = NULL;
  int rank = rl_comm_rank (world);

  omp_set_num_threads (1);   /* several ranks share two cores */
  PT_REQUIRE (be->context_new (0, &ctx) == RL_OK, "%s", rl_last_error ());
  PT_REQUIRE (rl_safetensors_open (checkpoint_path, &st) == RL_OK, "%s", rl_last_error ());
  PT_REQUIRE (wan_dit_config_detect (st, &config) == RL_OK, "%s", rl_last_error ());
  PT_REQUIRE (rl_usp_validate (config.num_heads, ulysses_degree, ring_degree,
                               rl_comm_size (world), false) == RL_OK, "%s", rl_last_error ());
  PT_REQUIRE (wan_dit_load (be, ctx, st, &config, RL_F32, &dit) == RL_OK, "%s", rl_last_error ());

  RlAllocator *alloc = be->context_allocator (ctx);
  const int64_t x_shape[5] = { BATCH, config.in_dim, FRAMES, HEIGHT, WIDTH };
  const int64_t out_shape[5] = { BATCH, config.out_dim, FRAMES, HEIGHT, WIDTH };
  const int64_t text_shape[3] = { BATCH, TEXT_TOKENS, config.text_dim };
  const float timestep[BATCH] = { 937.5f, 125.0f };
  RlTensor x = { 0 }, text = { 0 }, want = { 0 }, got = { 0 };
  PT_REQUIRE (rl_tensor_alloc (&x, alloc, RL_F32, 5, x_shape) == RL_OK
              && rl_tensor_alloc (&text, alloc, RL_F32, 3, text_shape) == RL_OK
              && rl_tensor_alloc (&want, alloc, RL_F32, 5, out_shape) == RL_OK
              && rl_tensor_alloc (&got, alloc, RL_F32, 5, out_shape) == RL_OK, "alloc");
  fill_random (&x, 1);
  fill_random (&text, 2);
  for (int64_t i = 0; i < rl_tensor_numel (&got); i++)
    ((float *) got.data)[i] = NAN;   /* every element must be written */

  PT_REQUIRE (wan_dit_forward (dit, &x, timestep, &text, &want) == RL_OK, "%s", rl_last_error ());

  PT_REQUIRE (rl_usp_groups_new (world, ulysses_degree, ring_degree, &ulysses, &ring) == RL_OK,
              "%s", rl_last_error ());
  WanSeqParallel parallel = { world, ulysses, ring };
  wan_dit_set_parallel (dit, &parallel);
  PT_REQUIRE (wan_dit_forward (dit, &x, timestep, &text, &got) == RL_OK,
              "rank %d: %s", rank, rl_last_error ());
  double err = relative_error (&got, &want);
  PT_CHECK (err <= 1e-5, "rank %d U%d×R%d: relative error %.3g", rank, ulysses_degree,
            ring_degree, err);
  if (rank == 0)
    printf ("# tiny Wan DiT U%d×R%d (%d heads, %d tokens): relative error %.3g\n",
            ulysses_degree, ring_degree, config.num_heads,
            FRAMES * (HEIGHT / 2) * ((WIDTH + 1) / 2), err);

  /* Back to one rank: the same model gives the reference again. */
  wan_dit_set_parallel (dit, NULL);
  PT_REQUIRE (wan_dit_forward (dit, &x, timestep, &text, &got) == RL_OK, "%s", rl_last_error ());
  PT_CHECK (memcmp (got.data, want.data, (size_t) rl_tensor_numel (&want) * sizeof (float)) == 0,
            "rank %d: single-rank forward after a parallel one differs", rank);

  rl_tensor_release (&x);
  rl_tensor_release (&text);
  rl_tensor_release (&want);
  rl_tensor_release (&got);
  wan_dit_free (dit);
  rl_comm_free (ulysses);
  rl_comm_free (ring);
  rl_safetensors_close (st);
  be->context_free (ctx);
}

typedef struct {
  int ulysses_degree;
  int ring_degree;
} Degrees;

static void
degrees_rank_main (RlComm *world, const void *arg)
{
  const Degrees *degrees = arg;
  rank_main (world, degrees->ulysses_degree, degrees->ring_degree);
}

/* Forks ulysses·ring ranks on a fresh segment; returns the failed ranks. */
static int
run_config (int ulysses_degree, int ring_degree)
{
  Degrees degrees = { ulysses_degree, ring_degree };
  return fork_ranks_on (ulysses_degree * ring_degree, 256 << 10, 30000, degrees_rank_main, &degrees);
}

#define CONFIG_TEST(name, u, r)                                              \
  static void name (void)                                                    \
  {                                                                          \
    PT_CHECK (run_config (u, r) == 0, "U%d×R%d failed", u, r);               \
  }

CONFIG_TEST (test_ulysses2, 2, 1)
CONFIG_TEST (test_ring2, 1, 2)
CONFIG_TEST (test_ulysses2_ring2, 2, 2)
CONFIG_TEST (test_ring4, 1, 4)

int
main (void)
{
  const char *env = getenv ("RL_TEST_SEED");
  const char *src = getenv ("RAYLIGHT_SOURCE_DIR");
  run_seed = env != NULL ? strtoull (env, NULL, 0) : (uint64_t) time (NULL) ^ (uint64_t) getpid ();
  printf ("# seed %llu (RL_TEST_SEED to repeat)\n", (unsigned long long) run_seed);
  snprintf (checkpoint_path, sizeof checkpoint_path, "%s/tests/wan/data/tiny-dit.safetensors",
            src != NULL ? src : ".");

  PT_RUN (test_ulysses2);
  PT_RUN (test_ring2);
  PT_RUN (test_ulysses2_ring2);
  PT_RUN (test_ring4);
  return pt_finish ();
}
