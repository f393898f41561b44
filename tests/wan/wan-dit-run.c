/* wan-dit-run CKPT INPUTS OUT [cpu|cuda] [f32|bf16|f16]
 *
 * One Wan DiT forward on a backend, for comparing with the PyTorch
 * reference (tests/reference/wan_dit.py) on the GPU machine. INPUTS is a
 * safetensors file with f32 "x" [B,C,T,H,W], "timestep" [B] and
 * "context" [B,Lc,4096]; OUT receives the f32 output as raw little-endian
 * floats. Prints the forward time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plugins/wan/wan-dit.h"

static int
die (const char *what)
{
  fprintf (stderr, "wan-dit-run: %s: %s\n", what, rl_last_error ());
  return 1;
}

static RlStatus
to_device (const RlBackend *be, RlContext *ctx, const RlSafetensors *st, const char *name,
           RlTensor *out)
{
  const RlSafetensorsTensor *t = rl_safetensors_find (st, name);
  RlTensor view;
  RlStatus s;

  if (t == NULL)
    return rl_set_error (RL_E_NOT_FOUND, "inputs lack '%s'", name);
  s = rl_safetensors_view (st, t, &view);
  if (s < 0)
    return s;
  s = rl_tensor_alloc (out, be->context_allocator (ctx), view.dtype, view.ndim, view.shape);
  if (s < 0)
    return s;
  return be->transfer (ctx, out, &view);
}

static double
now_s (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int
main (int argc, char **argv)
{
  const char *backend_name = argc > 4 ? argv[4] : "cpu";
  const char *dtype_name = argc > 5 ? argv[5] : "f32";
  RlDType act = strcmp (dtype_name, "bf16") == 0 ? RL_BF16
              : strcmp (dtype_name, "f16") == 0 ? RL_F16 : RL_F32;
  const RlBackend *be = rl_backend_find (backend_name);
  RlSafetensors *ckpt = NULL, *inputs = NULL;
  RlContext *ctx = NULL;
  WanDitConfig config;
  WanDit *dit = NULL;
  RlTensor x, context, out, host_out;
  const RlSafetensorsTensor *t_entry;
  float *host;
  FILE *f;
  double t0;
  int64_t n;

  if (argc < 4)
    {
      fprintf (stderr, "usage: wan-dit-run CKPT INPUTS OUT [cpu|cuda] [f32|bf16|f16]\n");
      return 64;
    }
  if (be == NULL)
    {
      fprintf (stderr, "wan-dit-run: backend '%s' is not built in\n", backend_name);
      return 1;
    }
  if (be->context_new (0, &ctx) < 0)
    return die ("context");
  if (rl_safetensors_open (argv[1], &ckpt) < 0 || rl_safetensors_open (argv[2], &inputs) < 0)
    return die ("open");
  if (wan_dit_config_detect (ckpt, &config) < 0)
    return die ("detect");
  fprintf (stderr, "%s: dim %d, %d layers, %d heads\n", config.variant, config.dim,
           config.num_layers, config.num_heads);
  t0 = now_s ();
  if (wan_dit_load (be, ctx, ckpt, &config, act, &dit) < 0)
    return die ("load");
  fprintf (stderr, "load %.3f s\n", now_s () - t0);
  if (to_device (be, ctx, inputs, "x", &x) < 0 || to_device (be, ctx, inputs, "context", &context) < 0)
    return die ("inputs");
  t_entry = rl_safetensors_find (inputs, "timestep");
  if (t_entry == NULL)
    return die ("timestep");
  {
    int64_t shape[5];
    memcpy (shape, x.shape, sizeof shape);
    shape[1] = config.out_dim;
    if (rl_tensor_alloc (&out, be->context_allocator (ctx), RL_F32, 5, shape) < 0)
      return die ("alloc");
  }
  for (int run = 0; run < (argc > 6 ? atoi (argv[6]) : 1); run++)
    {
      t0 = now_s ();
      if (wan_dit_forward (dit, &x, (const float *) t_entry->data, &context, &out) < 0)
        return die ("forward");
      be->synchronize (ctx);
      fprintf (stderr, "forward %.4f s\n", now_s () - t0);
    }
  n = rl_tensor_numel (&out);
  host = malloc (sizeof (float) * (size_t) n);
  rl_tensor_wrap (&host_out, host, rl_device_cpu (), RL_F32, 5, out.shape, NULL, NULL);
  if (be->transfer (ctx, &host_out, &out) < 0)
    return die ("download");
  f = fopen (argv[3], "wb");
  if (f == NULL || fwrite (host, sizeof (float), (size_t) n, f) != (size_t) n)
    return die ("write");
  fclose (f);
  free (host);
  rl_tensor_release (&out);
  rl_tensor_release (&x);
  rl_tensor_release (&context);
  wan_dit_free (dit);
  rl_safetensors_close (inputs);
  rl_safetensors_close (ckpt);
  be->context_free (ctx);
  return 0;
}
