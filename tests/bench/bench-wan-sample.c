/* bench-wan-sample CKPT INPUTS OUT [--backend cuda|cpu] [--attention NAME]
 *                  [--pool-attention NAME] [--steps N]
 *                  [--cfg F] [--shift F] [--seed N] [--sampler NAME] [--scheduler NAME]
 *
 * One KSampler run of a Wan model through the real path: a pool
 * (workers/pool) starts one raylight-worker on `backend`, which loads the
 * checkpoint with the family plugin ($RAYLIGHT_PLUGIN_PATH) and runs SAMPLE
 * from an empty latent, with the job's attention variant when given
 * (--attention) and the pool's default (--pool-attention).
 * INPUTS is a safetensors file with f32 "latent" [1, C, T, h, w] (zeros,
 * as EmptyHunyuanLatentVideo gives), "positive" and "negative" [1, Lc,
 * 4096] conditioning. OUT receives the sampled latent (raw, as KSampler
 * returns it) as little-endian f32. Prints the request's time (the first
 * SAMPLE includes loading the model). The PyTorch side is
 * tests/bench/bench_wan_torch.py torch-sample. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "workers/checkpoint/safetensors.h"
#include "workers/jobs/job-params.h"
#include "workers/pool/pool.h"
#include "workers/protocol/shared-tensor.h"

static double
now_s (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* `name` of `st` (f32) as a sealed shared tensor. */
static RlSharedTensor *
share_input (const RlSafetensors *st, const char *name, RlErrorInfo *err)
{
  const RlSafetensorsTensor *t = rl_safetensors_find (st, name);
  RlTensor view;
  if (t == NULL || rl_safetensors_view (st, t, &view) != RL_OK || view.dtype != RL_F32)
    {
      rl_error_set (err, RL_WIRE_INVALID, "inputs lack f32 '%s'", name);
      return NULL;
    }
  uint64_t shape[RL_TENSOR_DESC_MAX_DIMS];
  for (int i = 0; i < view.ndim; i++)
    shape[i] = (uint64_t) view.shape[i];
  RlSharedTensor *shared = rl_shared_tensor_new (RL_WIRE_DTYPE_F32, (uint32_t) view.ndim, shape,
                                                 name, err);
  if (shared == NULL)
    return NULL;
  memcpy (rl_shared_tensor_data (shared), view.data,
          (size_t) rl_tensor_numel (&view) * sizeof (float));
  if (rl_shared_tensor_seal (shared, err) != RL_WIRE_OK)
    {
      rl_shared_tensor_free (shared);
      return NULL;
    }
  return shared;
}

static void
print_progress (const RlPoolProgress *progress, void *user)
{
  double *last = user;
  if (progress->kind == RL_PROGRESS_STEPS)
    {
      double t = now_s ();
      printf ("step %llu/%llu (+%.2f s)\n", (unsigned long long) progress->done,
              (unsigned long long) progress->total, t - *last);
      *last = t;
      fflush (stdout);
    }
}

int
main (int argc, char **argv)
{
  RlSampleParams params;
  rl_sample_params_init (&params);
  params.steps = 10;
  params.cfg = 5.0f;
  params.sampler = "euler";
  params.scheduler = "simple";
  params.has_shift = true;
  params.shift = 8.0f;
  const char *backend = "cuda", *pool_attention = NULL, *paths[3];
  int n_paths = 0;
  for (int i = 1; i < argc; i++)
    {
      const char *value = i + 1 < argc ? argv[i + 1] : NULL;
      if (strcmp (argv[i], "--backend") == 0 && value) backend = value, i++;
      else if (strcmp (argv[i], "--attention") == 0 && value) params.attention = (char *) value, i++;
      else if (strcmp (argv[i], "--pool-attention") == 0 && value) pool_attention = value, i++;
      else if (strcmp (argv[i], "--steps") == 0 && value) params.steps = (uint32_t) atoi (value), i++;
      else if (strcmp (argv[i], "--cfg") == 0 && value) params.cfg = strtof (value, NULL), i++;
      else if (strcmp (argv[i], "--shift") == 0 && value) params.shift = strtof (value, NULL), i++;
      else if (strcmp (argv[i], "--seed") == 0 && value) params.seed = strtoull (value, NULL, 10), i++;
      else if (strcmp (argv[i], "--sampler") == 0 && value) params.sampler = (char *) value, i++;
      else if (strcmp (argv[i], "--scheduler") == 0 && value) params.scheduler = (char *) value, i++;
      else if (n_paths < 3) paths[n_paths++] = argv[i];
    }
  if (n_paths != 3)
    {
      fprintf (stderr, "usage: bench-wan-sample CKPT INPUTS OUT [--backend cuda|cpu] "
                       "[--attention NAME] [--steps N] [--cfg F] [--shift F] [--seed N]\n");
      return 64;
    }
  params.model = (RlJobModel) { (char *) paths[0], "" };

  RlErrorInfo err = { 0 };
  RlSafetensors *inputs = NULL;
  if (rl_safetensors_open (paths[1], &inputs) != RL_OK)
    {
      fprintf (stderr, "bench-wan-sample: %s\n", rl_last_error ());
      return 1;
    }
  RlSharedTensor *tensors[3] = { share_input (inputs, "latent", &err),
                                 share_input (inputs, "positive", &err),
                                 share_input (inputs, "negative", &err) };
  if (tensors[0] == NULL || tensors[1] == NULL || tensors[2] == NULL)
    {
      fprintf (stderr, "bench-wan-sample: %s\n", err.message);
      return 1;
    }

  char worker_path[4096];
  if (rl_pool_find_worker (worker_path, sizeof worker_path) == NULL)
    {
      fprintf (stderr, "bench-wan-sample: no raylight-worker at %s\n", worker_path);
      return 1;
    }
  const char *plugin_path = getenv ("RAYLIGHT_PLUGIN_PATH");
  char plugin_env[4200];
  snprintf (plugin_env, sizeof plugin_env, "RAYLIGHT_PLUGIN_PATH=%s",
            plugin_path ? plugin_path : "");
  const char *env[] = { plugin_env, NULL };
  RlPoolOptions options;
  rl_pool_options_init (&options);
  options.worker_path = worker_path;
  options.n_workers = 1;
  options.backend = strcmp (backend, "cuda") == 0 ? RL_POOL_BACKEND_CUDA : RL_POOL_BACKEND_CPU;
  options.extra_env = env;
  options.attention = pool_attention;
  options.request_timeout_ms = -1;
  options.heartbeat_timeout_ms = 60000;
  options.start_timeout_ms = 120000;
  RlPool *pool = rl_pool_new (&options, &err);
  if (pool == NULL || rl_pool_start (pool, &err) != RL_WIRE_OK)
    {
      fprintf (stderr, "bench-wan-sample: cannot start the worker: %s\n", err.message);
      rl_pool_free (pool);
      return 1;
    }

  RlWireWriter w;
  rl_wire_writer_init (&w);
  rl_sample_params_encode (&params, &w);
  double last = now_s (), start = last;
  RlPoolCall call = { .type = RL_MSG_SAMPLE, .family = "", .params = w.data,
                      .params_size = w.size, .tensors = tensors,
                      .n_tensors = params.cfg == 1.0f ? 2 : 3, .progress = print_progress,
                      .user_data = &last, .timeout_ms = -1 };
  RlPoolResult result = { 0 };
  int status = rl_pool_call (pool, 0, &call, &result, &err);
  double seconds = now_s () - start;
  int exit_status = 1;
  if (status != RL_WIRE_OK)
    fprintf (stderr, "bench-wan-sample: SAMPLE failed: %s\n", err.message);
  else if (result.n_tensors != 1)
    fprintf (stderr, "bench-wan-sample: SAMPLE returned %d tensors\n", result.n_tensors);
  else
    {
      const RlTensorDesc *desc = rl_shared_tensor_desc (result.tensors[0]);
      FILE *f = fopen (paths[2], "wb");
      if (f != NULL && fwrite (rl_shared_tensor_data (result.tensors[0]), 1, desc->nbytes, f)
                         == desc->nbytes)
        exit_status = 0;
      if (f != NULL)
        fclose (f);
      printf ("RESULT sample steps=%u cfg=%g sampler=%s attention=%s seconds=%.2f "
              "(includes loading the model)\n", params.steps, params.cfg, params.sampler,
              params.attention ? params.attention : "default", seconds);
    }
  rl_pool_result_clear (&result);
  rl_wire_writer_clear (&w);
  rl_pool_free (pool);
  for (int i = 0; i < 3; i++)
    rl_shared_tensor_free (tensors[i]);
  rl_safetensors_close (inputs);
  return exit_status;
}
