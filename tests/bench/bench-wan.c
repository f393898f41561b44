/* bench-wan CKPT INPUTS OUT [--backend cuda|cpu] [--attention NAME[,NAME...]]
 *           [--repeat N] [--profile] [--no-warm-up]
 *
 * One Wan DiT forward, or one VAE decode (CKPT's kind decides), the way
 * raylight-worker runs it: the family plugin (raylight-family-wan.so from
 * $RAYLIGHT_PLUGIN_PATH) loaded onto the backend the worker hands model
 * code, whose attention runs the attention variants
 * (workers/worker/worker-attention.c, the worker's own selection code).
 * For each listed attention variant (default "auto") it runs one warm-up
 * (unless --no-warm-up) and N timed runs and prints the times, the device
 * allocator's peak and, on CUDA, the device memory in use at its highest
 * (polled every 0.2 ms: includes what variants and libraries hold outside
 * the allocator). INPUTS is a safetensors file with f32 "x" [B, C, T, H, W],
 * "timestep" [B] and "context" [B, Lc, 4096] for a DiT, f32 "latent"
 * [B, z, T, h, w] for a VAE; OUT receives the first variant's f32 output
 * (velocity, or images [B, 3, F, H, W] in 0..1) as raw little-endian
 * floats. The PyTorch side of the same run is tests/bench/bench_wan_torch.py.
 *
 * --profile adds one run per variant with every op of the table timed on
 * its own (the device synchronised around each call, so the sum is longer
 * than a run) and prints the time per op and GEMM / convolution shape. */
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
#include "workers/runtime/op-profile.h"

#if RAYLIGHT_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

static int
die (const char *what)
{
  fprintf (stderr, "bench-wan: %s: %s\n", what, rl_last_error ());
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

/* ------------------------------------------------------------ profile */

/* The table the model was loaded with: a copy that --profile rewires
 * (workers/runtime/op-profile.h). */
static RlOps model_ops;

static void
profile_begin (const RlBackend *backend)
{
  rl_op_profile_install (backend, &model_ops);
}

static void
profile_end (const char *variant, double forward_ms)
{
  char title[160];
  rl_op_profile_uninstall (&model_ops);
  snprintf (title, sizeof title, "profile of one run with attention '%s': %.1f ms", variant,
            forward_ms);
  rl_op_profile_print (stdout, "", title);
}

/* What one run needs: a DiT forward or a VAE decode. */
typedef struct {
  const RlFamily *family;
  RlFamilyModel  *model;
  RlModelKind     kind;
  RlTensor        input;       /* x, or the latent */
  RlTensor        context;     /* DiT only */
  const float    *timestep;    /* DiT only */
  RlTensor        out;
} Job;

static RlStatus
run_once (Job *job)
{
  if (job->kind == RL_MODEL_DIFFUSION)
    return job->family->diffusion_forward (job->model, &job->input, job->timestep, &job->context,
                                           &job->out);
  return job->family->vae_decode (job->model, &job->input, NULL, &job->out);
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
  bool profile = false, warm_up = true;
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
      else if (strcmp (argv[i], "--profile") == 0)
        profile = true;
      else if (strcmp (argv[i], "--no-warm-up") == 0)
        warm_up = false;
      else if (n_paths < 3)
        paths[n_paths++] = argv[i];
    }
  if (n_paths != 3 || repeat < 1)
    {
      fprintf (stderr, "usage: bench-wan CKPT INPUTS OUT [--backend cuda|cpu] "
                       "[--attention NAME[,NAME...]] [--repeat N] [--profile] [--no-warm-up]\n");
      return 64;
    }
  const RlBackend *base = rl_backend_find (backend_name);
  RlContext *ctx = NULL;
  if (base == NULL)
    {
      fprintf (stderr, "bench-wan: backend '%s' is not built in\n", backend_name);
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
      fprintf (stderr, "bench-wan: %s\n", error);
      return 1;
    }
  /* The model gets the worker's table through a copy --profile can rewire. */
  RlBackend model_backend = *rl_worker_attention_backend (attention);
  model_ops = *model_backend.ops;
  model_backend.ops = &model_ops;
  const RlBackend *be = &model_backend;

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
  if (family == NULL || (kind != RL_MODEL_DIFFUSION && kind != RL_MODEL_VAE))
    {
      fprintf (stderr, "bench-wan: %s is not a diffusion model or VAE: %s\n", paths[0],
               family ? "a text encoder" : err.message);
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

  Job job = { .family = family, .model = model, .kind = kind };
  RlTensor host_out;
  if (kind == RL_MODEL_DIFFUSION)
    {
      const RlSafetensorsTensor *t_entry = rl_safetensors_find (inputs, "timestep");
      RlTensor t_view;
      if (upload (be, ctx, inputs, "x", &job.input) != RL_OK
          || upload (be, ctx, inputs, "context", &job.context) != RL_OK
          || t_entry == NULL || rl_safetensors_view (inputs, t_entry, &t_view) != RL_OK)
        return die ("inputs");
      job.timestep = t_view.data;
      if (rl_tensor_alloc (&job.out, alloc, RL_F32, 5, job.input.shape) != RL_OK)
        return die ("output");
      const int64_t *shape = job.input.shape;
      printf ("latent [%lld, %lld, %lld, %lld, %lld]: %lld tokens, text %lld tokens\n",
              (long long) shape[0], (long long) shape[1], (long long) shape[2],
              (long long) shape[3], (long long) shape[4],
              (long long) (shape[2] * ((shape[3] + 1) / 2) * ((shape[4] + 1) / 2)),
              (long long) job.context.shape[1]);
    }
  else
    {
      int64_t image_shape[5];
      if (upload (be, ctx, inputs, "latent", &job.input) != RL_OK)
        return die ("inputs");
      family->vae_decoded_shape (model, job.input.shape, image_shape);
      /* Decoded frames stream to host memory, as the worker takes them. */
      float *frames = malloc ((size_t) (image_shape[0] * 3 * image_shape[2] * image_shape[3]
                                        * image_shape[4]) * sizeof (float));
      if (frames == NULL
          || rl_tensor_wrap (&job.out, frames, rl_device_cpu (), RL_F32, 5, image_shape, NULL,
                             NULL) != RL_OK)
        return die ("output");
      printf ("latent [%lld, %lld, %lld, %lld, %lld] -> images [%lld, 3, %lld, %lld, %lld]\n",
              (long long) job.input.shape[0], (long long) job.input.shape[1],
              (long long) job.input.shape[2], (long long) job.input.shape[3],
              (long long) job.input.shape[4], (long long) image_shape[0],
              (long long) image_shape[2], (long long) image_shape[3], (long long) image_shape[4]);
    }
  RlTensor out = job.out;
  const char *what = kind == RL_MODEL_DIFFUSION ? "dit" : "vae";

  bool wrote = false;
  for (const char *at = variants; *at != '\0';)
    {
      char name[64];
      size_t length = strcspn (at, ",");
      snprintf (name, sizeof name, "%.*s", (int) length, at);
      at += length + (at[length] == ',');
      if (!rl_worker_attention_begin (attention, name, error, sizeof error))
        {
          fprintf (stderr, "bench-wan: %s\n", error);
          return 1;
        }
      /* Warm-up: opens the variant, plans cuDNN graphs, fills the caches. */
      if (warm_up && run_once (&job) != RL_OK)
        {
          fprintf (stderr, "bench-wan: %s with attention '%s': %s\n", what, name,
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
          s = run_once (&job);
          if (s == RL_OK)
            s = be->synchronize (ctx);
          times[r] = (now_s () - start) * 1e3;
        }
      atomic_store (&poll.running, false);
      pthread_join (poll.thread, NULL);
      if (s != RL_OK)
        return die (what);
      rl_allocator_stats (alloc, &stats);
      qsort (times, (size_t) repeat, sizeof (double), compare_doubles);
      printf ("RESULT %s attention=%s ran=%s median_ms=%.2f min_ms=%.2f repeat=%d "
              "alloc_peak_gib=%.3f alloc_weights_gib=%.3f device_peak_gib=%.3f\n",
              what, name, rl_worker_attention_last (attention), times[repeat / 2], times[0], repeat,
              stats.peak_bytes / 1073741824.0, weight_bytes / 1073741824.0,
              (atomic_load (&poll.peak_used) - used_at_start) / 1073741824.0);
      fflush (stdout);
      free (times);
      if (profile)
        {
          profile_begin (be);
          double start = now_s ();
          s = run_once (&job);
          be->synchronize (ctx);
          profile_end (name, (now_s () - start) * 1e3);
          if (s != RL_OK)
            return die ("profiled run");
        }
      rl_worker_attention_end (attention);
      if (!wrote)
        {
          size_t n = (size_t) rl_tensor_numel (&out);
          float *host = malloc (n * sizeof (float));
          if (host == NULL
              || rl_tensor_wrap (&host_out, host, rl_device_cpu (), RL_F32, 5, out.shape, NULL,
                                 NULL) != RL_OK)
            return die ("download");
          if (out.device.kind == RL_DEVICE_CPU)
            memcpy (host, out.data, n * sizeof (float));
          else if (be->transfer (ctx, &host_out, &out) != RL_OK)
            return die ("download");
          FILE *f = fopen (paths[2], "wb");
          if (f == NULL || fwrite (host, sizeof (float), n, f) != n)
            {
              fprintf (stderr, "bench-wan: cannot write %s\n", paths[2]);
              return 1;
            }
          fclose (f);
          rl_tensor_release (&host_out);
          free (host);
          wrote = true;
        }
    }
  if (kind == RL_MODEL_VAE)
    free (job.out.data);
  rl_tensor_release (&job.out);
  rl_tensor_release (&job.input);
  rl_tensor_release (&job.context);
  family->unload (model);
  rl_safetensors_close (inputs);
  rl_safetensors_close (ckpt);
  rl_family_plugins_free (plugins);
  rl_worker_attention_free (attention);
  base->context_free (ctx);
  return wrote ? 0 : 1;
}
