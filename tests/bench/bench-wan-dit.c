/* bench-wan-dit CKPT INPUTS OUT [--backend cuda|cpu] [--attention NAME[,NAME...]]
 *               [--repeat N]
 *
 * One Wan DiT forward the way raylight-worker runs it: the family plugin
 * (raylight-family-wan.so from $RAYLIGHT_PLUGIN_PATH) loaded onto the
 * backend that the worker hands model code, whose attention runs the
 * attention variants (workers/worker/worker-attention.c, the worker's own
 * selection code). For each listed attention variant (default "auto") it
 * runs one warm-up and N timed forwards and prints the times, the device
 * allocator's peak and, on CUDA, the device memory in use at its highest
 * (polled every 0.2 ms: includes what variants and libraries hold outside
 * the allocator). INPUTS is a safetensors file with f32 "x" [B, C, T, H, W],
 * "timestep" [B] and "context" [B, Lc, 4096]; OUT receives the first
 * variant's f32 output as raw little-endian floats. The PyTorch side of the
 * same run is tests/bench/bench_wan_torch.py. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "raylight-config.h"
#include "plugins/family.h"
#include "workers/worker/family-plugins.h"
#include "workers/worker/worker-attention.h"

#if RAYLIGHT_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

static int
die (const char *what)
{
  fprintf (stderr, "bench-wan-dit: %s: %s\n", what, rl_last_error ());
  return 1;
}

static double
now_s (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Highest device memory in use while `running`, polled on a thread. */
typedef struct {
  atomic_bool      running;
  atomic_ullong    peak_used;
  pthread_t        thread;
} MemoryPoll;

static uint64_t
device_used (void)
{
#if RAYLIGHT_HAVE_CUDA
  size_t free_bytes = 0, total = 0;
  if (cudaMemGetInfo (&free_bytes, &total) == cudaSuccess)
    return total - free_bytes;
#endif
  return 0;
}

static void *
poll_memory (void *user)
{
  MemoryPoll *poll = user;
#if RAYLIGHT_HAVE_CUDA
  cudaSetDevice (0);
#endif
  while (atomic_load (&poll->running))
    {
      uint64_t used = device_used ();
      if (used > atomic_load (&poll->peak_used))
        atomic_store (&poll->peak_used, used);
      usleep (200);
    }
  return NULL;
}

static RlStatus
upload (const RlBackend *be, RlContext *ctx, const RlSafetensors *st, const char *name,
        RlTensor *out)
{
  const RlSafetensorsTensor *t = rl_safetensors_find (st, name);
  RlTensor view;
  if (t == NULL)
    return rl_set_error (RL_E_NOT_FOUND, "inputs lack '%s'", name);
  RlStatus s = rl_safetensors_view (st, t, &view);
  if (s == RL_OK)
    s = rl_tensor_alloc (out, be->context_allocator (ctx), view.dtype, view.ndim, view.shape);
  if (s == RL_OK)
    s = be->transfer (ctx, out, &view);
  return s;
}

static int
compare_doubles (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

int
main (int argc, char **argv)
{
  const char *backend_name = "cuda", *variants = "auto";
  int repeat = 3;
  const char *paths[3];
  int n_paths = 0;
  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--backend") == 0 && i + 1 < argc)
        backend_name = argv[++i];
      else if (strcmp (argv[i], "--attention") == 0 && i + 1 < argc)
        variants = argv[++i];
      else if (strcmp (argv[i], "--repeat") == 0 && i + 1 < argc)
        repeat = atoi (argv[++i]);
      else if (n_paths < 3)
        paths[n_paths++] = argv[i];
    }
  if (n_paths != 3 || repeat < 1)
    {
      fprintf (stderr, "usage: bench-wan-dit CKPT INPUTS OUT [--backend cuda|cpu] "
                       "[--attention NAME[,NAME...]] [--repeat N]\n");
      return 64;
    }
  const RlBackend *base = rl_backend_find (backend_name);
  RlContext *ctx = NULL;
  if (base == NULL)
    {
      fprintf (stderr, "bench-wan-dit: backend '%s' is not built in\n", backend_name);
      return 1;
    }
  if (base->context_new (0, &ctx) != RL_OK)
    return die ("context");
  uint64_t used_at_start = device_used ();

  char first[64];
  snprintf (first, sizeof first, "%.*s", (int) strcspn (variants, ","), variants);
  char error[1024];
  RlWorkerAttention *attention = rl_worker_attention_new (base, ctx, 0, first, 0, error,
                                                          sizeof error);
  if (attention == NULL)
    {
      fprintf (stderr, "bench-wan-dit: %s\n", error);
      return 1;
    }
  const RlBackend *be = rl_worker_attention_backend (attention);

  const char *plugin_path = getenv ("RAYLIGHT_PLUGIN_PATH");
  RlFamilyPlugins *plugins = rl_family_plugins_load (plugin_path ? plugin_path
                                                     : RAYLIGHT_BUILD_DIR "/plugins/wan", 0);
  RlSafetensors *ckpt = NULL, *inputs = NULL;
  if (rl_safetensors_open (paths[0], &ckpt) != RL_OK
      || rl_safetensors_open (paths[1], &inputs) != RL_OK)
    return die ("open");
  RlModelKind kind;
  char variant_name[128];
  RlErrorInfo err = { 0 };
  const RlFamily *family = rl_family_plugins_probe (plugins, ckpt, paths[0], &kind, variant_name,
                                                    sizeof variant_name, &err);
  if (family == NULL || kind != RL_MODEL_DIFFUSION)
    {
      fprintf (stderr, "bench-wan-dit: %s is not a diffusion model: %s\n", paths[0],
               family ? "wrong kind" : err.message);
      return 1;
    }
  RlAllocator *alloc = be->context_allocator (ctx);
  RlFamilyModel *model = NULL;
  double t0 = now_s ();
  if (family->load (be, ctx, ckpt, kind, "", &model) != RL_OK)
    return die ("load");
  be->synchronize (ctx);
  RlAllocatorStats stats;
  rl_allocator_stats (alloc, &stats);
  uint64_t weight_bytes = stats.current_bytes;
  printf ("model %s (%s): loaded in %.2f s, %.3f GiB on the device\n", variant_name,
          family->name, now_s () - t0, weight_bytes / 1073741824.0);

  RlTensor x, context, out, host_out;
  if (upload (be, ctx, inputs, "x", &x) != RL_OK
      || upload (be, ctx, inputs, "context", &context) != RL_OK)
    return die ("inputs");
  const RlSafetensorsTensor *t_entry = rl_safetensors_find (inputs, "timestep");
  RlTensor t_view;
  if (t_entry == NULL || rl_safetensors_view (inputs, t_entry, &t_view) != RL_OK)
    return die ("timestep");
  if (rl_tensor_alloc (&out, alloc, RL_F32, 5, x.shape) != RL_OK)
    return die ("output");
  int64_t tokens = x.shape[2] * ((x.shape[3] + 1) / 2) * ((x.shape[4] + 1) / 2);
  printf ("latent [%lld, %lld, %lld, %lld, %lld]: %lld tokens, text %lld tokens\n",
          (long long) x.shape[0], (long long) x.shape[1], (long long) x.shape[2],
          (long long) x.shape[3], (long long) x.shape[4], (long long) tokens,
          (long long) context.shape[1]);

  bool wrote = false;
  for (const char *at = variants; *at != '\0';)
    {
      char name[64];
      size_t length = strcspn (at, ",");
      snprintf (name, sizeof name, "%.*s", (int) length, at);
      at += length + (at[length] == ',');
      if (!rl_worker_attention_begin (attention, name, error, sizeof error))
        {
          fprintf (stderr, "bench-wan-dit: %s\n", error);
          return 1;
        }
      /* Warm-up: opens the variant, plans cuDNN graphs, fills the caches. */
      if (family->diffusion_forward (model, &x, t_view.data, &context, &out) != RL_OK)
        {
          fprintf (stderr, "bench-wan-dit: forward with attention '%s': %s\n", name,
                   rl_last_error ());
          rl_worker_attention_end (attention);
          continue;
        }
      be->synchronize (ctx);
      rl_allocator_reset_peak (alloc);
      MemoryPoll poll = { 0 };
      atomic_store (&poll.running, true);
      atomic_store (&poll.peak_used, device_used ());
      pthread_create (&poll.thread, NULL, poll_memory, &poll);
      double *times = calloc ((size_t) repeat, sizeof (double));
      RlStatus s = RL_OK;
      for (int r = 0; r < repeat && s == RL_OK; r++)
        {
          double start = now_s ();
          s = family->diffusion_forward (model, &x, t_view.data, &context, &out);
          if (s == RL_OK)
            s = be->synchronize (ctx);
          times[r] = (now_s () - start) * 1e3;
        }
      atomic_store (&poll.running, false);
      pthread_join (poll.thread, NULL);
      if (s != RL_OK)
        return die ("forward");
      rl_allocator_stats (alloc, &stats);
      qsort (times, (size_t) repeat, sizeof (double), compare_doubles);
      printf ("RESULT dit attention=%s ran=%s median_ms=%.2f min_ms=%.2f repeat=%d "
              "alloc_peak_gib=%.3f alloc_weights_gib=%.3f device_peak_gib=%.3f\n",
              name, rl_worker_attention_last (attention), times[repeat / 2], times[0], repeat,
              stats.peak_bytes / 1073741824.0, weight_bytes / 1073741824.0,
              (atomic_load (&poll.peak_used) - used_at_start) / 1073741824.0);
      fflush (stdout);
      free (times);
      rl_worker_attention_end (attention);
      if (!wrote)
        {
          size_t n = (size_t) rl_tensor_numel (&out);
          float *host = malloc (n * sizeof (float));
          if (host == NULL
              || rl_tensor_wrap (&host_out, host, rl_device_cpu (), RL_F32, 5, out.shape, NULL,
                                 NULL) != RL_OK
              || be->transfer (ctx, &host_out, &out) != RL_OK)
            return die ("download");
          FILE *f = fopen (paths[2], "wb");
          if (f == NULL || fwrite (host, sizeof (float), n, f) != n)
            {
              fprintf (stderr, "bench-wan-dit: cannot write %s\n", paths[2]);
              return 1;
            }
          fclose (f);
          rl_tensor_release (&host_out);
          free (host);
          wrote = true;
        }
    }
  rl_tensor_release (&out);
  rl_tensor_release (&x);
  rl_tensor_release (&context);
  family->unload (model);
  rl_safetensors_close (inputs);
  rl_safetensors_close (ckpt);
  rl_family_plugins_free (plugins);
  rl_worker_attention_free (attention);
  base->context_free (ctx);
  return wrote ? 0 : 1;
}
