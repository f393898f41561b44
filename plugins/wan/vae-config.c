#include "plugins/wan/vae-config.h"

#include <stdio.h>
#include <string.h>

#define WAN_VAE_MARKER      "decoder.middle.0.residual.0.gamma"
#define WAN_VAE_22_MARKER   "decoder.upsamples.0.upsamples.0.residual.2.weight"

static const float wan21_mean[16] = {
  -0.7571f, -0.7089f, -0.9113f, 0.1075f, -0.1745f, 0.9653f, -0.1517f, 1.5508f,
  0.4134f, -0.0715f, 0.5517f, -0.3632f, -0.1922f, -0.9497f, 0.2503f, -0.2921f,
};
static const float wan21_std[16] = {
  2.8184f, 1.4541f, 2.3275f, 2.6558f, 1.2196f, 1.7708f, 2.6052f, 2.0743f,
  3.2687f, 2.1526f, 2.8652f, 1.5579f, 1.6382f, 1.1253f, 2.8251f, 1.9160f,
};
static const float wan22_mean[48] = {
  -0.2289f, -0.0052f, -0.1323f, -0.2339f, -0.2799f, 0.0174f, 0.1838f, 0.1557f,
  -0.1382f, 0.0542f, 0.2813f, 0.0891f, 0.1570f, -0.0098f, 0.0375f, -0.1825f,
  -0.2246f, -0.1207f, -0.0698f, 0.5109f, 0.2665f, -0.2108f, -0.2158f, 0.2502f,
  -0.2055f, -0.0322f, 0.1109f, 0.1567f, -0.0729f, 0.0899f, -0.2799f, -0.1230f,
  -0.0313f, -0.1649f, 0.0117f, 0.0723f, -0.2839f, -0.2083f, -0.0520f, 0.3748f,
  0.0152f, 0.1957f, 0.1433f, -0.2944f, 0.3573f, -0.0548f, -0.1681f, -0.0667f,
};
static const float wan22_std[48] = {
  0.4765f, 1.0364f, 0.4514f, 1.1677f, 0.5313f, 0.4990f, 0.4818f, 0.5013f,
  0.8158f, 1.0344f, 0.5894f, 1.0901f, 0.6885f, 0.6165f, 0.8454f, 0.4978f,
  0.5759f, 0.3523f, 0.7135f, 0.6804f, 0.5833f, 1.4146f, 0.8986f, 0.5659f,
  0.7069f, 0.5338f, 0.4889f, 0.4917f, 0.4069f, 0.4999f, 0.6866f, 0.4093f,
  0.5709f, 0.6065f, 0.6415f, 0.4944f, 0.5726f, 1.2042f, 0.5458f, 1.6887f,
  0.3971f, 1.0600f, 0.3943f, 0.5537f, 0.5444f, 0.4089f, 0.7468f, 0.7744f,
};

const float *
wan_vae_latent_mean (int z_dim)
{
  return z_dim == 16 ? wan21_mean : z_dim == 48 ? wan22_mean : NULL;
}

const float *
wan_vae_latent_std (int z_dim)
{
  return z_dim == 16 ? wan21_std : z_dim == 48 ? wan22_std : NULL;
}

int64_t
wan_vae_decoded_frames (int64_t latent_frames)
{
  return latent_frames < 1 ? 0 : 1 + WAN_VAE_TIME_FACTOR * (latent_frames - 1);
}

int64_t
wan_vae_latent_frames (int64_t frames)
{
  return frames < 1 ? 0 : 1 + (frames - 1) / WAN_VAE_TIME_FACTOR;
}

/* A cheap guess for the message when a file is not a Wan VAE. */
static const char *
guess_other_kind (const RlSafetensors *st)
{
  if (rl_safetensors_find (st, "head.modulation") || rl_safetensors_find (st, "model.diffusion_model.head.modulation"))
    return "a Wan diffusion model (load it with UNETLoader)";
  if (rl_safetensors_find (st, "encoder.block.0.layer.0.SelfAttention.q.weight") ||
      rl_safetensors_find (st, "spiece_model"))
    return "a T5/UMT5 text encoder (load it with CLIPLoader)";
  if (rl_safetensors_find (st, "decoder.conv_in.weight"))
    return "an image VAE of another family";
  return "not a known model";
}

static const RlSafetensorsTensor *
require_5d (const RlSafetensors *st,
            const char          *key,
            RlStatus            *status)
{
  const RlSafetensorsTensor *t = rl_safetensors_find (st, key);

  if (t == NULL)
    *status = rl_set_error (RL_E_FORMAT, "%s: Wan VAE without '%s'; the file is incomplete",
                            rl_safetensors_path (st), key);
  else if (t->ndim != 5)
    {
      *status = rl_set_error (RL_E_FORMAT, "%s: '%s' has %d dims, a Wan VAE has a 5-D conv weight there",
                              rl_safetensors_path (st), key, t->ndim);
      t = NULL;
    }
  return t;
}

RlStatus
wan_vae_config_detect (const RlSafetensors *st,
                       WanVaeConfig        *config)
{
  const RlSafetensorsTensor *enc_in, *dec_in, *post;
  RlStatus s = RL_OK;

  memset (config, 0, sizeof *config);
  if (rl_safetensors_find (st, WAN_VAE_MARKER) == NULL)
    return rl_set_error (RL_E_FORMAT, "%s is not a Wan VAE (no '%s'): it looks like %s",
                         rl_safetensors_path (st), WAN_VAE_MARKER, guess_other_kind (st));
  config->version = rl_safetensors_find (st, WAN_VAE_22_MARKER) ? WAN_VAE_22 : WAN_VAE_21;
  if ((enc_in = require_5d (st, "encoder.conv1.weight", &s)) == NULL ||
      (dec_in = require_5d (st, "decoder.conv1.weight", &s)) == NULL ||
      (post = require_5d (st, "conv2.weight", &s)) == NULL)
    return s;

  config->dim = (int) enc_in->shape[0];
  config->pixel_channels = (int) enc_in->shape[1];
  config->z_dim = (int) post->shape[0];
  config->dec_dim = (int) (dec_in->shape[0] / 4);
  config->space_factor = config->version == WAN_VAE_22 ? 16 : 8;
  config->upsample_time_cache = config->version == WAN_VAE_22 ? 2 : 1;
  snprintf (config->variant, sizeof config->variant, "%s VAE (%d latent channels)",
            config->version == WAN_VAE_22 ? "Wan2.2" : "Wan2.1", config->z_dim);

  if (config->pixel_channels != (config->version == WAN_VAE_22 ? 12 : 3))
    return rl_set_error (RL_E_FORMAT, "%s: encoder.conv1.weight takes %d channels; a %s takes %d",
                         rl_safetensors_path (st), config->pixel_channels,
                         config->version == WAN_VAE_22 ? "Wan2.2 VAE" : "Wan2.1 VAE",
                         config->version == WAN_VAE_22 ? 12 : 3);
  if (config->dim < 1 || config->dec_dim < 1 || dec_in->shape[0] % 4 != 0 || dec_in->shape[1] != config->z_dim)
    return rl_set_error (RL_E_FORMAT, "%s: decoder.conv1.weight [%lld, %lld, ...] does not fit %d latent "
                         "channels (conv2.weight); the file mixes two models",
                         rl_safetensors_path (st), (long long) dec_in->shape[0],
                         (long long) dec_in->shape[1], config->z_dim);
  if (config->version == WAN_VAE_21 && config->dec_dim != config->dim)
    return rl_set_error (RL_E_FORMAT, "%s: Wan2.1 VAE with encoder width %d but decoder width %d",
                         rl_safetensors_path (st), config->dim, config->dec_dim);
  return RL_OK;
}
