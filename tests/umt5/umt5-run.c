/* umt5-run CKPT INPUTS OUT [cpu|cuda] [runs]
 *
 * One UMT5 encode on a backend, for comparing with the PyTorch reference
 * (tests/reference/umt5.py) on the GPU machine. INPUTS is a safetensors
 * file with i32 "ids" [B, L] and "mask" [B, L] (1 = token); OUT receives
 * the f32 output [B, L, d_model] as raw little-endian floats. Prints the
 * load and encode times. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plugins/wan/umt5-encoder.h"

static int
die (const char *what)
{
  fprintf (stderr, "umt5-run: %s: %s\n", what, rl_last_error ());
  return 1;
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
  const int runs = argc > 5 ? atoi (argv[5]) : 1;
  const RlBackend *be = rl_backend_find (backend_name);
  RlSafetensors *ckpt = NULL, *inputs = NULL;
  const RlSafetensorsTensor *ids, *mask32;
  RlContext *ctx = NULL;
  Umt5Config config;
  Umt5Encoder *enc = NULL;
  RlTensor out, host_out;
  uint8_t *mask;
  float *host;
  FILE *f;
  double t0;
  int64_t B, L, n;

  if (argc < 4)
    {
      fprintf (stderr, "usage: umt5-run CKPT INPUTS OUT [cpu|cuda] [runs]\n");
      return 64;
    }
  if (be == NULL)
    {
      fprintf (stderr, "umt5-run: backend '%s' is not built in\n", backend_name);
      return 1;
    }
  if (be->context_new (0, &ctx) < 0)
    return die ("context");
  if (rl_safetensors_open (argv[1], &ckpt) < 0 || rl_safetensors_open (argv[2], &inputs) < 0)
    return die ("open");
  if (umt5_config_detect (ckpt, &config) < 0)
    return die ("detect");
  fprintf (stderr, "%s: d_model %d, %d layers, %d heads of %d, d_ff %d, vocab %d\n", config.variant,
           config.d_model, config.num_layers, config.num_heads, config.d_kv, config.d_ff, config.vocab);
  ids = rl_safetensors_find (inputs, "ids");
  mask32 = rl_safetensors_find (inputs, "mask");
  if (ids == NULL || mask32 == NULL || ids->dtype != RL_I32 || mask32->dtype != RL_I32 || ids->ndim != 2 ||
      mask32->numel != ids->numel)
    {
      fprintf (stderr, "umt5-run: %s needs i32 ids [B, L] and mask [B, L]\n", argv[2]);
      return 1;
    }
  B = ids->shape[0];
  L = ids->shape[1];
  mask = malloc ((size_t) (B * L));
  for (int64_t i = 0; i < B * L; i++)
    mask[i] = ((const int32_t *) mask32->data)[i] != 0;

  t0 = now_s ();
  if (umt5_load (be, ctx, ckpt, &config, &enc) < 0)
    return die ("load");
  fprintf (stderr, "load %.3f s\n", now_s () - t0);
  {
    const int64_t shape[3] = { B, L, config.d_model };
    if (rl_tensor_alloc (&out, be->context_allocator (ctx), RL_F32, 3, shape) < 0)
      return die ("alloc");
  }
  for (int run = 0; run < runs; run++)
    {
      t0 = now_s ();
      if (umt5_encode (enc, ids->data, mask, B, L, &out) < 0)
        return die ("encode");
      be->synchronize (ctx);
      fprintf (stderr, "encode [%lld, %lld] %.4f s\n", (long long) B, (long long) L, now_s () - t0);
    }
  n = rl_tensor_numel (&out);
  host = malloc (sizeof (float) * (size_t) n);
  rl_tensor_wrap (&host_out, host, rl_device_cpu (), RL_F32, 3, out.shape, NULL, NULL);
  if (be->transfer (ctx, &host_out, &out) < 0)
    return die ("download");
  f = fopen (argv[3], "wb");
  if (f == NULL || fwrite (host, sizeof (float), (size_t) n, f) != (size_t) n)
    return die ("write");
  fclose (f);
  free (host);
  free (mask);
  rl_tensor_release (&out);
  umt5_free (enc);
  rl_safetensors_close (inputs);
  rl_safetensors_close (ckpt);
  be->context_free (ctx);
  return 0;
}
