/* Wan VAE encode: pixels x·2 − 1 (ComfyUI's process_input), Wan 2.2's 2×2
 * pixel patchify, then the encoder over frame chunks 1, 4, 4, ... with the
 * feature cache; each chunk yields one latent frame, whose μ half of conv1
 * is the result (MODELS.md §2.2). */
#include "plugins/wan/vae-internal.h"

#include <stdio.h>

/* One chunk of pixels [B, 3, n, H, W] (f32, device) → μ [B, z, 1, h, w]
 * in f32 in *x. */
static RlStatus
encode_chunk (VaeRun   *run,
              RlTensor *x)
{
  WanVae *v = run->vae;
  const VaeCoder *c = &v->encoder;
  RlTensor t = { 0 };
  RlStatus s = v->ops->scale_shift (v->ctx, x, x, 2.0f, -1.0f);

  if (s == RL_OK && v->config.version == WAN_VAE_22)
    {
      s = vae_patchify (v, x, &t);
      if (s == RL_OK) vae_move (x, &t);
    }
  if (s == RL_OK && v->act_dtype != RL_F32)
    {
      s = vae_alloc (v, &t, v->act_dtype, x->shape[0], x->shape[1], x->shape[2], x->shape[3], x->shape[4]);
      if (s == RL_OK) s = v->ops->convert (v->ctx, &t, x);
      if (s == RL_OK) vae_move (x, &t);
    }
  if (s == RL_OK) s = vae_causal_conv (run, &c->conv_in, c->slot_in, 1, x);
  for (int i = 0; s == RL_OK && i < VAE_STAGES; i++)
    s = vae_stage (run, &c->stages[i], x);
  if (s == RL_OK) s = vae_res_block (run, &c->mid0, x);
  if (s == RL_OK) s = vae_attention (run, &c->attn, x);
  if (s == RL_OK) s = vae_res_block (run, &c->mid2, x);
  if (s == RL_OK) s = vae_head (run, c, x);
  if (s == RL_OK) s = vae_plain_conv (run, &v->mu_conv, x);
  if (s == RL_OK && x->shape[2] != 1)
    s = rl_set_error (RL_E_INTERNAL, "wan vae encode: a chunk gave %lld latent frames, not 1",
                      (long long) x->shape[2]);
  rl_tensor_release (&t);
  return s;
}

RlStatus
wan_vae_encode (WanVae         *v,
                const RlTensor *video,
                RlTensor       *latent)
{
  const WanVaeConfig *c;
  int64_t B, F, H, W, T;
  char dv[RL_TENSOR_DESCRIBE_SIZE], dl[RL_TENSOR_DESCRIBE_SIZE];
  VaeRun run;
  RlStatus s;

  if (v == NULL || video == NULL || latent == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "wan_vae_encode: vae, video and latent are required");
  c = &v->config;
  TRY (vae_check_video (v, video, "video", false));
  TRY (vae_check_video (v, latent, "latent", false));
  B = video->shape[0], F = video->shape[2], H = video->shape[3], W = video->shape[4];
  T = wan_vae_latent_frames (F);
  if (video->shape[1] != 3 || F < 1 || H % c->space_factor != 0 || W % c->space_factor != 0 || H < 1 || W < 1)
    return rl_set_error (RL_E_SHAPE, "wan vae: video %s must be [B, 3, F ≥ 1, H, W] with H and W multiples of %d "
                         "for %s (crop or pad the frames first)", rl_tensor_describe (video, dv, sizeof dv),
                         c->space_factor, c->variant);
  if (latent->shape[0] != B || latent->shape[1] != c->z_dim || latent->shape[2] != T ||
      latent->shape[3] != H / c->space_factor || latent->shape[4] != W / c->space_factor)
    return rl_set_error (RL_E_SHAPE, "wan vae: latent %s does not fit video %s: expected [%lld, %d, %lld, %lld, %lld]",
                         rl_tensor_describe (latent, dl, sizeof dl), rl_tensor_describe (video, dv, sizeof dv),
                         (long long) B, c->z_dim, (long long) T, (long long) (H / c->space_factor),
                         (long long) (W / c->space_factor));

  TRY (vae_run_begin (&run, v, &v->encoder));
  s = RL_OK;
  for (int64_t i = 0; s == RL_OK && i < T; i++)
    {
      const int64_t f0 = i == 0 ? 0 : 1 + WAN_VAE_TIME_FACTOR * (i - 1);
      const int64_t n = i == 0 ? 1 : WAN_VAE_TIME_FACTOR;
      RlTensor x = { 0 }, mu = { 0 };
      run.first_chunk = i == 0;
      s = vae_alloc (v, &x, RL_F32, B, 3, n, H, W);
      if (s == RL_OK) s = vae_copy_frames (v, &x, 0, video, f0, n);
      if (s == RL_OK) s = encode_chunk (&run, &x);
      if (s == RL_OK && x.dtype != RL_F32)
        {
          s = vae_alloc (v, &mu, RL_F32, B, c->z_dim, 1, x.shape[3], x.shape[4]);
          if (s == RL_OK) s = v->ops->convert (v->ctx, &mu, &x);
          if (s == RL_OK) vae_move (&x, &mu);
        }
      if (s == RL_OK) s = vae_copy_frames (v, latent, i, &x, 0, 1);
      if (s < 0)
        s = rl_prefix_error (s, "wan vae encode, frames %lld..%lld: ", (long long) f0, (long long) (f0 + n - 1));
      rl_tensor_release (&mu);
      rl_tensor_release (&x);
    }
  vae_run_end (&run);
  return s;
}

/* ------------------------------------------------- latent normalisation */

/* [1, C, 1, ...] device tensor holding `values` (or their reciprocals),
 * shaped to broadcast against `like`. */
static RlStatus
channel_vector (const RlBackend *backend,
                RlContext       *ctx,
                const RlTensor  *like,
                const float     *values,
                bool             reciprocal,
                RlTensor        *out)
{
  int64_t shape[RL_MAX_DIMS];
  float host_values[64];
  RlTensor host = { 0 };
  const int64_t C = like->shape[1];
  RlStatus s;

  for (int d = 0; d < like->ndim; d++)
    shape[d] = d == 1 ? C : 1;
  for (int64_t c = 0; c < C; c++)
    host_values[c] = reciprocal ? 1.0f / values[c] : values[c];
  TRY (rl_tensor_wrap (&host, host_values, rl_device_cpu (), RL_F32, like->ndim, shape, NULL, NULL));
  s = rl_tensor_alloc (out, backend->context_allocator (ctx), RL_F32, like->ndim, shape);
  if (s == RL_OK)
    s = backend->transfer (ctx, out, &host);
  rl_tensor_release (&host);
  return s;
}

static RlStatus
normalise_latent (const RlBackend *backend,
                  RlContext       *ctx,
                  RlTensor        *z,
                  bool             inward)
{
  char d[RL_TENSOR_DESCRIBE_SIZE];
  const float *mean, *std;
  RlTensor m = { 0 }, k = { 0 };
  RlStatus s;

  if (backend == NULL || ctx == NULL || z == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "wan vae latent normalisation: backend, context and latent are required");
  if (z->ndim < 2 || z->dtype != RL_F32 || !rl_tensor_is_contiguous (z) ||
      (mean = wan_vae_latent_mean ((int) z->shape[1])) == NULL)
    return rl_set_error (RL_E_SHAPE, "wan vae: latent %s must be contiguous f32 [B, 16 or 48, ...]",
                         rl_tensor_describe (z, d, sizeof d));
  std = wan_vae_latent_std ((int) z->shape[1]);
  s = channel_vector (backend, ctx, z, mean, false, &m);
  if (s == RL_OK) s = channel_vector (backend, ctx, z, std, inward, &k);
  if (s == RL_OK && inward)
    {
      /* (z − mean) · (1/std) */
      s = backend->ops->add (ctx, z, z, &m, 1.0f, -1.0f);
      if (s == RL_OK) s = backend->ops->mul (ctx, z, z, &k);
    }
  else if (s == RL_OK)
    {
      /* z · std + mean */
      s = backend->ops->mul (ctx, z, z, &k);
      if (s == RL_OK) s = backend->ops->add (ctx, z, z, &m, 1.0f, 1.0f);
    }
  rl_tensor_release (&m);
  rl_tensor_release (&k);
  return s;
}

RlStatus
wan_vae_process_in (const RlBackend *backend,
                    RlContext       *ctx,
                    RlTensor        *latent)
{
  return normalise_latent (backend, ctx, latent, true);
}

RlStatus
wan_vae_process_out (const RlBackend *backend,
                     RlContext       *ctx,
                     RlTensor        *latent)
{
  return normalise_latent (backend, ctx, latent, false);
}
