/* wan-vae-run decode|tiled|encode CKPT INPUTS OUT [cpu|cuda] [f32|bf16|f16] [runs] [t,h,w,ot,oh,ow]
 *
 * One Wan VAE decode, tiled decode or encode on a backend, for comparing
 * with the PyTorch reference (tests/reference/wan_vae.py make-real /
 * decode / encode / compare) on the GPU machine. INPUTS is a safetensors
 * file with f32 "latent" [B, z, T, h, w] (decode, tiled) or "video"
 * [B, 3, F, H, W] in [0, 1] (encode); both stay in host memory, as the
 * API allows. OUT receives the f32 result as raw little-endian floats.
 * Prints the time of each run and the device allocator's peak. The tiling
 * defaults to ComfyUI's decode_tiled_3d defaults (999, 32, 32, 1, 8, 8). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plugins/wan/vae.h"

static int
die (const char *what)
{
  fprintf (stderr, "wan-vae-run: %s: %s\n", what, rl_last_error ());
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
  const char *mode = argc > 1 ? argv[1] : "";
  const char *backend_name = argc > 5 ? argv[5] : "cpu";
  const char *dtype_name = argc > 6 ? argv[6] : "f32";
  const int runs = argc > 7 ? atoi (argv[7]) : 1;
  RlDType act = strcmp (dtype_name, "bf16") == 0 ? RL_BF16 : strcmp (dtype_name, "f16") == 0 ? RL_F16 : RL_F32;
  WanVaeTiling tiling = { 999, 32, 32, 1, 8, 8 };
  const RlBackend *be = rl_backend_find (backend_name);
  const bool encode = strcmp (mode, "encode") == 0, tiled = strcmp (mode, "tiled") == 0;
  RlSafetensors *ckpt = NULL, *inputs = NULL;
  RlContext *ctx = NULL;
  WanVaeConfig config;
  WanVae *vae = NULL;
  RlTensor in = { 0 }, out = { 0 };
  const RlSafetensorsTensor *entry;
  int64_t shape[5];
  float *host;
  FILE *f;
  double t0;

  if (argc < 5 || (!encode && !tiled && strcmp (mode, "decode") != 0))
    {
      fprintf (stderr, "usage: wan-vae-run decode|tiled|encode CKPT INPUTS OUT [cpu|cuda] [f32|bf16|f16] [runs] "
               "[t,h,w,ot,oh,ow]\n");
      return 64;
    }
  if (argc > 8 && sscanf (argv[8], "%d,%d,%d,%d,%d,%d", &tiling.tile_t, &tiling.tile_h, &tiling.tile_w,
                          &tiling.overlap_t, &tiling.overlap_h, &tiling.overlap_w) != 6)
    {
      fprintf (stderr, "wan-vae-run: tiling must be t,h,w,ot,oh,ow in latent units\n");
      return 64;
    }
  if (be == NULL)
    {
      fprintf (stderr, "wan-vae-run: backend '%s' is not built in\n", backend_name);
      return 1;
    }
  if (be->context_new (0, &ctx) < 0)
    return die ("context");
  if (rl_safetensors_open (argv[2], &ckpt) < 0 || rl_safetensors_open (argv[3], &inputs) < 0)
    return die ("open");
  if (wan_vae_config_detect (ckpt, &config) < 0)
    return die ("detect");
  fprintf (stderr, "%s: dim %d, decoder dim %d, z %d\n", config.variant, config.dim, config.dec_dim, config.z_dim);
  t0 = now_s ();
  if (wan_vae_load (be, ctx, ckpt, &config, act, &vae) < 0)
    return die ("load");
  fprintf (stderr, "load %.3f s\n", now_s () - t0);
  entry = rl_safetensors_find (inputs, encode ? "video" : "latent");
  if (entry == NULL || rl_safetensors_view (inputs, entry, &in) < 0)
    return die (encode ? "inputs lack f32 'video'" : "inputs lack f32 'latent'");
  memcpy (shape, in.shape, sizeof shape);
  if (encode)
    {
      shape[1] = config.z_dim;
      shape[2] = wan_vae_latent_frames (in.shape[2]);
      shape[3] /= config.space_factor;
      shape[4] /= config.space_factor;
    }
  else
    {
      shape[1] = 3;
      shape[2] = wan_vae_decoded_frames (in.shape[2]);
      shape[3] *= config.space_factor;
      shape[4] *= config.space_factor;
    }
  host = malloc (sizeof (float) * (size_t) (shape[0] * shape[1] * shape[2] * shape[3] * shape[4]));
  if (host == NULL || rl_tensor_wrap (&out, host, rl_device_cpu (), RL_F32, 5, shape, NULL, NULL) < 0)
    return die ("output");
  for (int run = 0; run < (runs > 0 ? runs : 1); run++)
    {
      RlAllocatorStats stats;
      RlStatus s;
      rl_allocator_reset_peak (be->context_allocator (ctx));
      t0 = now_s ();
      s = encode ? wan_vae_encode (vae, &in, &out)
        : tiled ? wan_vae_decode_tiled (vae, &in, &tiling, &out)
        : wan_vae_decode (vae, &in, &out);
      if (s < 0)
        return die (mode);
      be->synchronize (ctx);
      rl_allocator_stats (be->context_allocator (ctx), &stats);
      fprintf (stderr, "%s %.4f s, device peak %.1f MiB (weights and allocator cache included)\n", mode,
               now_s () - t0, stats.peak_bytes / 1048576.0);
    }
  f = fopen (argv[4], "wb");
  if (f == NULL || fwrite (host, sizeof (float), (size_t) rl_tensor_numel (&out), f) != (size_t) rl_tensor_numel (&out))
    return die ("write");
  fclose (f);
  rl_tensor_release (&out);
  free (host);
  wan_vae_free (vae);
  rl_safetensors_close (inputs);
  rl_safetensors_close (ckpt);
  be->context_free (ctx);
  return 0;
}
