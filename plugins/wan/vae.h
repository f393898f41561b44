/* The Wan 2.1 / 2.2 causal video VAE, written against the op table so it
 * runs on every backend (MODELS.md §2; ComfyUI comfy/ldm/wan/vae.py,
 * vae2_2.py, comfy/sd.py).
 *
 * Video is processed in causal chunks exactly as the reference does:
 * encode feeds frames 1, 4, 4, ... through the encoder, decode feeds one
 * latent frame at a time through the decoder, and every cached causal conv
 * keeps the last CACHE_T = 2 input frames of the previous chunk (temporal
 * upsamples skip their time conv on the first chunk, the 'Rep' rule). So
 * device memory is bounded by one chunk and the caches, not the clip length:
 * decoded frames stream to `out` chunk by chunk.
 *
 * This is the original Wan code's arithmetic, with one deliberate
 * exception: the Wan 2.1 decoder's temporal-upsample convs follow ComfyUI,
 * whose outputs users compare ours with. ComfyUI's vae.py (since 2026)
 * decodes two latent frames per call and splits every temporal upsample
 * into one-frame calls whose cache holds a single frame, so each of those
 * convs sees [0, previous frame, frame] where the original code sees the
 * two previous frames; that moves 2.1 decodes from the third latent frame
 * on (max abs 0.37 on tests/wan-vae's random tiny model; real weights
 * differ less). Every other cached conv is equal in both. ComfyUI's 2.2
 * VAE (vae2_2.py) keeps the original arithmetic, and so do we.
 * WanVaeConfig.upsample_time_cache picks it: 1 (2.1 default, ComfyUI) or 2
 * (2.2 default; 2.1 as the original Wan code decodes it).
 * tests/reference/wan_vae.py follows the same rule (--original-wan for the
 * old 2.1 arithmetic, decode --original-wan-diff measures the gap).
 *
 * Pixels are ComfyUI's: f32 in [0, 1]. Latents are raw (not normalised):
 * what ComfyUI's VAEEncode returns and VAEDecode takes (vae-config.h).
 *
 * Every tensor passed in or out is contiguous f32 [B, C, T, H, W] and may
 * live on the host or on the context's device, except decoded frames,
 * which go to host memory (the device never holds the whole clip). */
#pragma once

#include <stdbool.h>

#include "plugins/wan/vae-config.h"
#include "workers/runtime/backend.h"

typedef struct WanVae WanVae;

/* Spatial (and optionally temporal) tiles of the latent for
 * wan_vae_decode_tiled, in latent units, as ComfyUI's decode_tiled_3d
 * takes them (its defaults: tile 999 × 32 × 32, overlap 1 × 8 × 8). A tile
 * length ≤ 0 means the whole extent. ComfyUI's VAEDecodeTiled node passes
 * tile_size / compression, overlap / compression, temporal_size / 4 and
 * temporal_overlap / 4 (its conversions live in the node). */
typedef struct {
  int tile_t, tile_h, tile_w;
  int overlap_t, overlap_h, overlap_w;
} WanVaeTiling;

/* Makes the weights of `st` usable on `ctx`'s device (zero-copy views on
 * the CPU backend, uploads elsewhere), checking every tensor's shape
 * against `config` (RL_E_FORMAT naming the key, the expected and the found
 * shape). Activations and feature caches use `act_dtype` (f32 for the CPU
 * reference; bf16/f16 on GPUs). `st` must stay open while the VAE lives. */
RlStatus  wan_vae_load          (const RlBackend      *backend,
                                 RlContext            *ctx,
                                 RlSafetensors        *st,
                                 const WanVaeConfig   *config,
                                 RlDType               act_dtype,
                                 WanVae              **out);
void      wan_vae_free          (WanVae               *vae);   /* NULL-safe */
const WanVaeConfig *wan_vae_config (const WanVae      *vae);

/* latent [B, z, T, h, w] (raw) → out [B, 3, 1+4(T−1), h·s, w·s] in [0, 1]
 * (clamp((x + 1)/2, 0, 1)), s = 8 (2.1) or 16 (2.2). Every element of out
 * is written. */
RlStatus  wan_vae_decode        (WanVae               *vae,
                                 const RlTensor       *latent,
                                 RlTensor             *out);

/* The same output computed tile by tile with ComfyUI's tiled_scale_multidim
 * blending (tile outputs weighted by linear ramps over the overlap, summed
 * and divided by the summed weights, then clamped). Device memory is
 * bounded by one tile; the result differs from wan_vae_decode near tile
 * seams (as ComfyUI's does). When the latent fits in one tile this is
 * wan_vae_decode. */
RlStatus  wan_vae_decode_tiled  (WanVae               *vae,
                                 const RlTensor       *latent,
                                 const WanVaeTiling   *tiling,
                                 RlTensor             *out);

/* video [B, 3, F, H, W] in [0, 1] (H, W multiples of 8 for 2.1, 16 for
 * 2.2) → latent mean μ [B, z, 1+(F−1)/4, H/s, W/s] (raw). Frames past the
 * last 1 + 4k are ignored, as the reference does. */
RlStatus  wan_vae_encode        (WanVae               *vae,
                                 const RlTensor       *video,
                                 RlTensor             *latent);

/* In-place latent normalisation with the published constants for
 * `z_dim` channels (vae-config.h): process_in = (z − mean)/std, done as
 * (z − mean)·(1/std); process_out = z·std + mean. `latent` is contiguous
 * f32 [B, z_dim, ...] on ctx's device. */
RlStatus  wan_vae_process_in    (const RlBackend      *backend,
                                 RlContext            *ctx,
                                 RlTensor             *latent);
RlStatus  wan_vae_process_out   (const RlBackend      *backend,
                                 RlContext            *ctx,
                                 RlTensor             *latent);
