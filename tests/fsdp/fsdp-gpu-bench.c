/* fsdp-gpu-bench CKPT [FRAMES HEIGHT WIDTH] — FSDP and CPU offload of a Wan
 * DiT on GPUs, against the replicated one-GPU forward of the same run.
 *
 * Phases (one thread per GPU, NCCL between them, bf16 activations):
 *   ref       replicated weights on GPU 0
 *   offload   blocks in pinned host memory, copied in one block ahead (GPU 0)
 *   fsdp2     blocks sharded over GPUs 0 and 1
 *   u2        Ulysses 2, replicated weights
 *   u2+fsdp2  Ulysses 2 with sharded blocks
 * Each prints the time per forward (mean of 5 after a warm-up), its ratio
 * to its baseline (ref, or u2 for u2+fsdp2), the relative error against
 * the baseline's output, the device memory the weights take and the peak
 * of the context allocator per GPU, and for fsdp2 the time of the block
 * all-gathers alone (what the overlap hides). Exits 77 without two GPUs,
 * 1 when a parity check fails (1e-2 relative, the bf16 bound of issue 5). */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cuda_runtime_api.h>

#include "plugins/wan/wan-dit.h"
#include "workers/comm/comm-nccl.h"
#include "workers/parallel/usp-attention.h"

enum { REPEATS = 5, TEXT_TOKENS = 512, MAX_RANKS = 2 };

typedef enum { REF, OFFLOAD, FSDP2, U2, U2_FSDP2, PHASES } Phase;
static const char *phase_names[PHASES] = { "ref", "offload", "fsdp2", "u2", "u2+fsdp2" };

static const char *checkpoint;
static int64_t frames = 3, height = 60, width = 104;
static unsigned char unique_id[RL_COMM_NCCL_ID_BYTES];
static float *outputs[PHASES];           /* rank 0's output of each phase */
static int64_t output_numel;

typedef struct {
  Phase       phase;
  int         rank, ranks;
  double      ms;
  double      gather_ms;                  /* fsdp2: the all-gathers alone */
  uint64_t    weight_bytes;               /* device memory after loading */
  uint64_t    peak_bytes;
  RlFsdpStats stats;
  bool        has_stats;
  float      *out;
  char        error[600];
} Rank;

static double
now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static uint64_t
mix (uint64_t x)
{
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/* A random device tensor, the same on every rank. */
static RlStatus
random_tensor (const RlBackend *be, RlContext *ctx, RlTensor *out, int ndim, const int64_t *shape,
               int which, float scale)
{
  RlTensor host = { 0 };
  int64_t n = 1;
  RlStatus s;

  for (int d = 0; d < ndim; d++)
    n *= shape[d];
  float *x = malloc (sizeof (float) * (size_t) n);
  if (x == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "inputs");
  for (int64_t i = 0; i < n; i++)
    x[i] = scale * (float) ((double) (mix ((uint64_t) which << 40 | (uint64_t) i) >> 11)
                            / 9007199254740992.0 * 2.0 - 1.0);
  s = rl_tensor_wrap (&host, x, rl_device_cpu (), RL_F32, ndim, shape, NULL, NULL);
  if (s == RL_OK)
    s = rl_tensor_alloc (out, be->context_allocator (ctx), RL_F32, ndim, shape);
  if (s == RL_OK)
    s = be->transfer (ctx, out, &host);
  free (x);
  return s;
}

/* The block all-gathers of one forward without any compute: N blocks of
 * `shard` bytes per rank over `group`, through the same enqueue path. */
static RlStatus
time_gathers (const RlBackend *be, RlContext *ctx, RlComm *group, const RlFsdpStats *stats,
              double *ms)
{
  uint64_t shard = stats->shard_bytes / (uint64_t) stats->blocks;
  void *flat = NULL;
  cudaStream_t stream;
  cudaEvent_t done;
  RlStatus s = rl_alloc (be->context_allocator (ctx), shard * (uint64_t) stats->ranks, &flat);

  if (s < 0)
    return s;
  cudaStreamCreateWithFlags (&stream, cudaStreamNonBlocking);
  cudaEventCreateWithFlags (&done, cudaEventDisableTiming);
  for (int pass = 0; pass < 2 && s == RL_OK; pass++)
    {
      double t0 = now_ms ();
      for (int b = 0; b < stats->blocks && s == RL_OK; b++)
        s = rl_comm_nccl_all_gather_enqueue (group, flat,
                                             (uint8_t *) flat + shard * (uint64_t) rl_comm_rank (group),
                                             shard, stream);
      cudaEventRecord (done, stream);
      if (s == RL_OK)
        s = rl_comm_nccl_wait_event (group, done, "timing all_gather");
      *ms = now_ms () - t0;
    }
  cudaEventDestroy (done);
  cudaStreamDestroy (stream);
  rl_free (be->context_allocator (ctx), flat);
  return s;
}

static RlStatus
run_rank (Rank *r, RlContext **ctx_out)
{
  const RlBackend *be = rl_backend_find ("cuda");
  RlContext *ctx = NULL;
  RlSafetensors *st = NULL;
  WanDitConfig config;
  WanDit *dit = NULL;
  RlComm *world = NULL, *fsdp_group = NULL, *ulysses = NULL, *ring = NULL;
  RlTensor x = { 0 }, text = { 0 }, out = { 0 }, host = { 0 };
  RlAllocatorStats before, after, peak;
  const bool sharded = r->phase == FSDP2 || r->phase == U2_FSDP2;
  const bool usp = r->phase == U2 || r->phase == U2_FSDP2;
  RlStatus s;

  s = be->context_new (r->rank, &ctx);
  *ctx_out = ctx;
  if (s == RL_OK && r->ranks > 1)
    s = rl_comm_nccl_new (unique_id, r->rank, r->ranks, r->rank, 120000, &world);
  if (s == RL_OK && sharded)
    s = rl_comm_split (world, 0, r->rank, &fsdp_group);
  if (s == RL_OK && usp)
    s = rl_usp_groups_new (world, 2, 1, &ulysses, &ring);
  if (s == RL_OK)
    s = rl_safetensors_open (checkpoint, &st);
  if (s == RL_OK)
    s = wan_dit_config_detect (st, &config);
  if (s < 0)
    goto done;

  RlAllocator *alloc = be->context_allocator (ctx);
  rl_allocator_reset_peak (alloc);
  rl_allocator_stats (alloc, &before);
  RlFsdpOptions options = { sharded ? fsdp_group : NULL, r->phase == OFFLOAD };
  s = wan_dit_load_sharded (be, ctx, st, &config, RL_BF16, &options, &dit);
  if (s < 0)
    goto done;
  rl_allocator_stats (alloc, &after);
  r->weight_bytes = after.current_bytes - before.current_bytes;
  r->has_stats = wan_dit_fsdp_stats (dit, &r->stats);
  if (usp)
    wan_dit_set_parallel (dit, &(WanSeqParallel) { world, ulysses, ring });

  const int64_t x_shape[5] = { 1, config.in_dim, frames, height, width };
  const int64_t text_shape[3] = { 1, TEXT_TOKENS, config.text_dim };
  const float timestep[1] = { 500.0f };
  s = random_tensor (be, ctx, &x, 5, x_shape, 1, 1.0f);
  if (s == RL_OK)
    s = random_tensor (be, ctx, &text, 3, text_shape, 2, 0.1f);
  if (s == RL_OK)
    s = rl_tensor_alloc (&out, alloc, RL_F32, 5, x_shape);
  if (s == RL_OK)
    s = wan_dit_forward (dit, &x, timestep, &text, &out);   /* warm-up */
  if (s == RL_OK)
    s = be->synchronize (ctx);
  double t0 = now_ms ();
  for (int i = 0; i < REPEATS && s == RL_OK; i++)
    s = wan_dit_forward (dit, &x, timestep, &text, &out);
  if (s == RL_OK)
    s = be->synchronize (ctx);
  r->ms = (now_ms () - t0) / REPEATS;
  r->has_stats = wan_dit_fsdp_stats (dit, &r->stats);   /* with the forwards' gathers */
  rl_allocator_stats (alloc, &peak);
  r->peak_bytes = peak.peak_bytes;

  output_numel = rl_tensor_numel (&out);
  r->out = malloc (sizeof (float) * (size_t) output_numel);
  if (s == RL_OK && r->out != NULL)
    s = rl_tensor_wrap (&host, r->out, rl_device_cpu (), RL_F32, 5, x_shape, NULL, NULL);
  if (s == RL_OK)
    s = be->transfer (ctx, &host, &out);
  if (s == RL_OK && r->phase == FSDP2)
    s = time_gathers (be, ctx, fsdp_group, &r->stats, &r->gather_ms);

done:
  if (s < 0)
    snprintf (r->error, sizeof r->error, "%s", rl_last_error ());
  rl_tensor_release (&host);
  rl_tensor_release (&x);
  rl_tensor_release (&text);
  rl_tensor_release (&out);
  wan_dit_free (dit);
  rl_comm_free (ulysses);
  rl_comm_free (ring);
  rl_comm_free (fsdp_group);
  rl_comm_free (world);
  rl_safetensors_close (st);
  return s;
}

static void *
rank_thread (void *arg)
{
  Rank *r = arg;
  RlContext *ctx = NULL;

  run_rank (r, &ctx);
  if (ctx != NULL)
    rl_backend_find ("cuda")->context_free (ctx);
  return NULL;
}

static double
relative_error (const float *got, const float *want)
{
  double max_diff = 0.0, max_ref = 0.0;
  for (int64_t i = 0; i < output_numel; i++) {
    double diff = fabs ((double) got[i] - want[i]);
    max_diff = isnan (diff) ? INFINITY : fmax (max_diff, diff);
    max_ref = fmax (max_ref, fabs ((double) want[i]));
  }
  return max_diff / max_ref;
}

static double phase_ms[PHASES];

/* Runs a phase; returns 0 when it ran and matched its baseline. */
static int
run_phase (Phase phase, int ranks, Phase baseline)
{
  pthread_t threads[MAX_RANKS];
  Rank r[MAX_RANKS];
  int failed = 0;

  if (ranks > 1 && rl_comm_nccl_unique_id (unique_id) != RL_OK) {
    printf ("%-9s NCCL id: %s\n", phase_names[phase], rl_last_error ());
    return 1;
  }
  for (int i = 0; i < ranks; i++) {
    r[i] = (Rank) { .phase = phase, .rank = i, .ranks = ranks };
    pthread_create (&threads[i], NULL, rank_thread, &r[i]);
  }
  for (int i = 0; i < ranks; i++)
    pthread_join (threads[i], NULL);
  for (int i = 0; i < ranks; i++) {
    if (r[i].error[0] != '\0') {
      printf ("%-9s rank %d failed: %s\n", phase_names[phase], i, r[i].error);
      failed = 1;
    }
  }
  if (failed)
    return 1;
  double ms = 0.0;
  for (int i = 0; i < ranks; i++)
    ms = fmax (ms, r[i].ms);
  phase_ms[phase] = ms;
  outputs[phase] = r[0].out;
  for (int i = 0; i < ranks; i++) {
    double err = phase == baseline ? 0.0 : relative_error (r[i].out, outputs[baseline]);
    double err_ref = phase == REF ? 0.0 : relative_error (r[i].out, outputs[REF]);
    printf ("%-9s rank %d  %8.2f ms/forward  ×%.3f of %-4s  err %.2e (vs ref %.2e)  "
            "weights %7.1f MiB  peak %7.1f MiB", phase_names[phase], i, r[i].ms,
            ms / phase_ms[baseline], phase_names[baseline], err, err_ref,
            r[i].weight_bytes / 1048576.0, r[i].peak_bytes / 1048576.0);
    if (r[i].has_stats)
      printf ("  [shards %.1f MiB%s of %.1f MiB blocks, 2 buffers %.1f MiB, replicated %d, "
              "peak gathered %d]", r[i].stats.shard_bytes / 1048576.0,
              r[i].stats.offloaded_bytes ? " pinned host" : "",
              r[i].stats.block_bytes / 1048576.0, r[i].stats.slot_bytes / 1048576.0,
              r[i].stats.replicated_tensors, r[i].stats.gathered_peak);
    printf ("\n");
    if (r[i].gather_ms > 0.0)
      printf ("%-9s rank %d  block all-gathers alone %.2f ms/forward; exposed %.2f ms "
              "(forward − ref): %.0f%% hidden\n", phase_names[phase], i, r[i].gather_ms,
              ms - phase_ms[REF],
              100.0 * fmax (0.0, 1.0 - (ms - phase_ms[REF]) / r[i].gather_ms));
    if (!(err <= 1e-2) || (r[i].has_stats && r[i].stats.gathered_peak > 2))
      failed = 1;
    if (i > 0)
      free (r[i].out);
  }
  return failed;
}

int
main (int argc, char **argv)
{
  const RlBackend *cuda = rl_backend_find ("cuda");
  int failed = 0;

  if (argc < 2) {
    fprintf (stderr, "usage: fsdp-gpu-bench CKPT [FRAMES HEIGHT WIDTH]  (latent size)\n");
    return 64;
  }
  checkpoint = argv[1];
  if (argc >= 5)
    frames = atoll (argv[2]), height = atoll (argv[3]), width = atoll (argv[4]);
  if (cuda == NULL || cuda->device_count () < 2) {
    printf ("fsdp-gpu-bench needs two GPUs\n");
    return 77;
  }
  printf ("# %s, latent 1×16×%lld×%lld×%lld, text %d tokens, bf16 activations\n", checkpoint,
          (long long) frames, (long long) height, (long long) width, TEXT_TOKENS);
  failed |= run_phase (REF, 1, REF);
  if (outputs[REF] == NULL)
    return 1;
  failed |= run_phase (OFFLOAD, 1, REF);
  failed |= run_phase (FSDP2, 2, REF);
  failed |= run_phase (U2, 2, REF);
  if (outputs[U2] != NULL)
    failed |= run_phase (U2_FSDP2, 2, U2);
  printf ("# %s\n", failed ? "FAILED" : "all phases match their baselines");
  return failed;
}
