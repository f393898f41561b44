/* Wan VAE decode: conv2 and then the decoder one latent frame at a time
 * with the feature cache (MODELS.md §2.2), streaming decoded frames to a
 * sink; the untiled sink writes them to the host output mapped to [0, 1]
 * (ComfyUI: clamp((x + 1)/2, 0, 1)). */
#include "plugins/wan/vae-internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One latent frame [B, z, 1, h, w] through conv2 and the decoder; *x
 * becomes the chunk's frames [B, 3, n, H, W] (n = 1 on the first chunk,
 * 4 after), unpatchified for Wan 2.2, in f32. */
static RlStatus
decode_chunk (VaeRun   *run,
              RlTensor *x)
{
  WanVae *v = run->vae;
  const VaeCoder *c = &v->decoder;
  RlTensor pixels = { 0 }, f32 = { 0 };
  RlStatus s = vae_plain_conv (run, &v->post_conv, x);

  if (s == RL_OK) s = vae_causal_conv (run, &c->conv_in, c->slot_in, 1, x);
  if (s == RL_OK) s = vae_res_block (run, &c->mid0, x);
  if (s == RL_OK) s = vae_attention (run, &c->attn, x);
  if (s == RL_OK) s = vae_res_block (run, &c->mid2, x);
  for (int i = 0; s == RL_OK && i < VAE_STAGES; i++)
    s = vae_stage (run, &c->stages[i], x);
  if (s == RL_OK) s = vae_head (run, c, x);
  if (s == RL_OK && v->config.version == WAN_VAE_22)
    {
      s = vae_unpatchify (v, x, &pixels);
      if (s == RL_OK) vae_move (x, &pixels);
    }
  if (s == RL_OK && x->dtype != RL_F32)
    {
      s = vae_alloc (v, &f32, RL_F32, x->shape[0], x->shape[1], x->shape[2], x->shape[3], x->shape[4]);
      if (s == RL_OK) s = v->ops->convert (v->ctx, &f32, x);
      if (s == RL_OK) vae_move (x, &f32);
    }
  rl_tensor_release (&f32);
  rl_tensor_release (&pixels);
  return s;
}

RlStatus
vae_decode_stream (WanVae         *v,
                   const RlTensor *latent,
                   VaeFrameSink    sink,
                   void           *user)
{
  const int64_t B = latent->shape[0], Z = latent->shape[1], T = latent->shape[2];
  const int64_t h = latent->shape[3], w = latent->shape[4];
  VaeRun run;
  int64_t t0 = 0;
  RlStatus s = vae_run_begin (&run, v, &v->decoder);

  for (int64_t t = 0; s == RL_OK && t < T; t++)
    {
      RlTensor x = { 0 };
      run.first_chunk = t == 0;
      s = vae_alloc (v, &x, v->act_dtype, B, Z, 1, h, w);
      if (s == RL_OK) s = vae_copy_frames (v, &x, 0, latent, t, 1);
      if (s == RL_OK) s = decode_chunk (&run, &x);
      if (s == RL_OK) s = sink (user, &x, t0);
      if (s == RL_OK) t0 += x.shape[2];
      if (s < 0)
        s = rl_prefix_error (s, "wan vae decode, latent frame %lld: ", (long long) t);
      rl_tensor_release (&x);
    }
  vae_run_end (&run);
  return s;
}

/* ------------------------------------------------------------ checks */

static RlStatus
check_video_tensor (const WanVae   *v,
                    const RlTensor *t,
                    const char     *what,
                    bool            host_only)
{
  char d[RL_TENSOR_DESCRIBE_SIZE];
  const bool host = t->device.kind == RL_DEVICE_CPU;
  const bool device = rl_device_equal (t->device, v->backend->context_device (v->ctx));

  if (t->ndim != 5 || t->dtype != RL_F32 || !rl_tensor_is_contiguous (t))
    return rl_set_error (RL_E_SHAPE, "wan vae: %s %s must be contiguous f32 [B, C, T, H, W]", what,
                         rl_tensor_describe (t, d, sizeof d));
  if (host_only ? !host : !(host || device))
    return rl_set_error (RL_E_DEVICE_MISMATCH, "wan vae: %s %s must be in %s", what,
                         rl_tensor_describe (t, d, sizeof d),
                         host_only ? "host memory (decoded frames stream there)"
                                   : "host memory or on the VAE's device");
  return RL_OK;
}

RlStatus
vae_check_decode (const WanVae   *v,
                  const RlTensor *latent,
                  const RlTensor *out)
{
  const WanVaeConfig *c = &v->config;
  char dl[RL_TENSOR_DESCRIBE_SIZE], dout[RL_TENSOR_DESCRIBE_SIZE];

  TRY (check_video_tensor (v, latent, "latent", false));
  TRY (check_video_tensor (v, out, "output", true));
  if (latent->shape[1] != c->z_dim || latent->shape[2] < 1)
    return rl_set_error (RL_E_SHAPE, "wan vae: latent %s must have %d channels (%s) and at least one frame",
                         rl_tensor_describe (latent, dl, sizeof dl), c->z_dim, c->variant);
  if (out->shape[0] != latent->shape[0] || out->shape[1] != 3 ||
      out->shape[2] != wan_vae_decoded_frames (latent->shape[2]) ||
      out->shape[3] != latent->shape[3] * c->space_factor || out->shape[4] != latent->shape[4] * c->space_factor)
    return rl_set_error (RL_E_SHAPE, "wan vae: output %s does not fit latent %s: expected [%lld, 3, %lld, %lld, %lld]",
                         rl_tensor_describe (out, dout, sizeof dout), rl_tensor_describe (latent, dl, sizeof dl),
                         (long long) latent->shape[0], (long long) wan_vae_decoded_frames (latent->shape[2]),
                         (long long) (latent->shape[3] * c->space_factor),
                         (long long) (latent->shape[4] * c->space_factor));
  return RL_OK;
}

RlStatus
vae_check_video (const WanVae   *v,
                 const RlTensor *t,
                 const char     *what,
                 bool            host_only)
{
  return check_video_tensor (v, t, what, host_only);
}

/* ComfyUI's process_output on the host, in place: clamp((x + 1)/2, 0, 1);
 * NaN stays NaN as torch.clamp leaves it. */
void
vae_host_to_unit (float   *p,
                  int64_t  n)
{
  for (int64_t i = 0; i < n; i++)
    {
      float y = (p[i] + 1.0f) / 2.0f;
      p[i] = y < 0.0f ? 0.0f : y > 1.0f ? 1.0f : y;
    }
}

/* ------------------------------------------------------------ untiled */

typedef struct {
  WanVae   *vae;
  RlTensor *out;
} UntiledSink;

static RlStatus
write_frames (void           *user,
              const RlTensor *frames,
              int64_t         t0)
{
  UntiledSink *u = user;
  RlTensor *out = u->out;
  const int64_t n = frames->shape[2], plane = out->shape[3] * out->shape[4];

  if (t0 + n > out->shape[2])
    return rl_set_error (RL_E_INTERNAL, "wan vae: decoder produced more frames than 1 + 4(T-1)");
  TRY (vae_copy_frames (u->vae, out, t0, frames, 0, n));
  for (int64_t r = 0; r < out->shape[0] * out->shape[1]; r++)
    vae_host_to_unit ((float *) out->data + (r * out->shape[2] + t0) * plane, n * plane);
  return RL_OK;
}

RlStatus
wan_vae_decode (WanVae         *v,
                const RlTensor *latent,
                RlTensor       *out)
{
  UntiledSink sink = { .vae = v, .out = out };

  if (v == NULL || latent == NULL || out == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "wan_vae_decode: vae, latent and out are required");
  TRY (vae_check_decode (v, latent, out));
  return vae_decode_stream (v, latent, write_frames, &sink);
}
