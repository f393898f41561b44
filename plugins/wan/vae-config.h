/* Which Wan video VAE a checkpoint holds, and the numbers that go with it.
 *
 * Detection follows ComfyUI's comfy/sd.py: the key
 * decoder.middle.0.residual.0.gamma marks a Wan VAE, and
 * decoder.upsamples.0.upsamples.0.residual.2.weight (nested up-blocks)
 * marks Wan 2.2. Widths are read off the weights, so small test models with
 * the real layout load like the real ones (MODELS.md §2).
 *
 * Latent normalisation (comfy/latent_formats.py, Wan21 / Wan22):
 *   process_in (z)  = (z − mean) / std     before the DiT
 *   process_out (z) = z · std + mean       before the VAE decode
 * The VAE itself works on raw latents: wan_vae_encode returns them and
 * wan_vae_decode takes them, as ComfyUI's VAEEncode / VAEDecode do (the
 * sampler applies process_in / process_out around the model). */
#pragma once

#include <stdint.h>

#include "workers/checkpoint/safetensors.h"
#include "workers/runtime/status.h"

#define WAN_VAE_NAME_MAX     64
#define WAN_VAE_TIME_FACTOR  4    /* 1 + 4·(T−1) frames per T latent frames */

typedef enum {
  WAN_VAE_21 = 21,   /* 16 latent channels, 8× space */
  WAN_VAE_22 = 22,   /* 48 latent channels, 16× space (2× pixel patchify) */
} WanVaeVersion;

typedef struct {
  WanVaeVersion version;
  int   dim;             /* encoder base width: 96 (2.1), 160 (2.2) */
  int   dec_dim;         /* decoder base width: 96 (2.1), 256 (2.2) */
  int   z_dim;           /* latent channels: 16, 48 */
  int   pixel_channels;  /* encoder input / decoder output: 3, or 12 after 2×2 patchify */
  int   space_factor;    /* pixels per latent pixel: 8 or 16 */
  /* Input frames the decoder's temporal-upsample convs keep between calls
   * (vae.h): 1 for 2.1, as ComfyUI decodes it since 2026 (frame by frame);
   * 2 for 2.2, and for 2.1 as the original Wan code decodes it. Set by
   * detection; a caller may change it before wan_vae_load. */
  int   upsample_time_cache;
  char  variant[WAN_VAE_NAME_MAX];   /* "Wan2.1 VAE", "Wan2.2 VAE" */
} WanVaeConfig;

/* Detects the VAE in `st`. RL_E_FORMAT naming the file when it is not a
 * Wan VAE (saying what it looks like instead where that is cheap to tell)
 * or when its widths are inconsistent. */
RlStatus      wan_vae_config_detect   (const RlSafetensors  *st,
                                       WanVaeConfig         *config);

/* Per-channel latent mean and std (z_dim entries) of the published
 * models; NULL for a z_dim other than 16 / 48. */
const float  *wan_vae_latent_mean     (int                   z_dim);
const float  *wan_vae_latent_std      (int                   z_dim);

/* Video frames decoded from `latent_frames` (1 + 4·(T−1)), and latent
 * frames encoded from `frames` (1 + (F−1)/4; frames past 1 + 4k are
 * ignored, as the reference does). */
int64_t       wan_vae_decoded_frames  (int64_t               latent_frames);
int64_t       wan_vae_latent_frames   (int64_t               frames);
