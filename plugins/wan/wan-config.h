/* Which Wan DiT a checkpoint holds, read off its tensor names and shapes
 * the way ComfyUI's model detection does (comfy/model_detection.py):
 * trigger key head.modulation; dim from it; heads = dim / 128; out_dim
 * from head.head; ffn_dim from blocks.0.ffn.0; layers by counting blocks.
 * Image-to-video, first-last-frame, VACE, camera, S2V, HuMo, Animate and
 * Fun variants are recognised by ComfyUI's marker keys (or their channel
 * counts) and refused with a message naming the variant until they are
 * supported; files of other families (Flux, SD, SD3, Qwen-Image,
 * HunyuanVideo, a VAE or text encoder, Wan in the diffusers layout) are
 * named in the "not a Wan diffusion model" message. */
#pragma once

#include "workers/checkpoint/safetensors.h"
#include "workers/runtime/dtype.h"
#include "workers/runtime/status.h"

#define WAN_HEAD_DIM   128
#define WAN_FREQ_DIM   256
#define WAN_TEXT_DIM   4096
#define WAN_PATCH_T    1
#define WAN_PATCH_H    2
#define WAN_PATCH_W    2
#define WAN_NAME_MAX   96

typedef struct {
  int   dim;
  int   ffn_dim;
  int   num_heads;
  int   num_layers;
  int   in_dim;          /* latent channels in */
  int   out_dim;         /* latent channels out */
  int   text_dim;        /* UMT5 hidden size */
  int   freq_dim;
  float eps;
  char  prefix[32];      /* "" or "model.diffusion_model." */
  char  variant[WAN_NAME_MAX];   /* "Wan2.1 T2V 1.3B", ... */
  RlDType matrix_dtype;  /* not detected: UNETLoader's weight_dtype, the
                          * dtype Linear matrices are stored in
                          * (rl_weight_set_store_matrices_as); 0 =
                          * RL_DTYPE_INVALID keeps the file's */
} WanDitConfig;

/* Detects the variant of the DiT in `st`. RL_E_FORMAT with rl_last_error()
 * naming the file when it is not a Wan DiT (and what it looks like
 * instead, where that is cheap to tell), RL_E_NOT_SUPPORTED for Wan
 * variants not supported yet (image-to-video, VACE, ...). */
RlStatus  wan_dit_config_detect  (const RlSafetensors  *st,
                                  WanDitConfig         *config);

/* Tokens of a latent of T×H×W (after patchify, H and W padded to even). */
int64_t   wan_dit_token_count    (int64_t T,
                                  int64_t H,
                                  int64_t W);
