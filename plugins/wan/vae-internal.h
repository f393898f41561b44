/* Internals of the Wan VAE shared by its loading, layer, encode and decode
 * files. Names follow the checkpoint keys (MODELS.md §2.1, §2.3). */
#pragma once

#include <stdbool.h>

#include "plugins/common/weight-set.h"
#include "plugins/wan/vae.h"

#define VAE_STAGES   4     /* dim_mult [1, 2, 4, 4] */
#define VAE_CACHE_T  2     /* frames a cached causal conv keeps */

#define TRY(expr)                          \
  do {                                     \
    RlStatus try_status_ = (expr);         \
    if (try_status_ < 0)                   \
      return try_status_;                  \
  } while (0)

typedef struct {
  RlTensor weight;   /* 5-D [O, C, kt, kh, kw]; 2-D convs viewed as [O, C, 1, kh, kw] */
  RlTensor bias;     /* [O] */
} VaeConv;

/* residual = [RMS, SiLU, CausalConv3d, RMS, SiLU, Dropout, CausalConv3d]
 * + shortcut (1×1×1 conv when the width changes). */
typedef struct {
  int      in_dim, out_dim;
  RlTensor gamma_in, gamma_out;   /* residual.0 / residual.3, viewed as [C] */
  VaeConv  conv_in, conv_out;     /* residual.2 / residual.6 */
  VaeConv  shortcut;              /* weight.data NULL when in_dim == out_dim */
  int      slot_in, slot_out;     /* feature-cache slots */
} VaeResBlock;

/* Single-head attention over the pixels of each frame. */
typedef struct {
  int      dim;
  RlTensor gamma;                 /* norm.gamma viewed as [C] */
  RlTensor w_q, w_k, w_v, w_proj; /* [C, C] views of to_qkv / proj */
  RlTensor b_q, b_k, b_v, b_proj;
} VaeAttention;

typedef enum {
  VAE_RESAMPLE_NONE = 0,
  VAE_UPSAMPLE_2D,
  VAE_UPSAMPLE_3D,
  VAE_DOWNSAMPLE_2D,
  VAE_DOWNSAMPLE_3D,
} VaeResampleMode;

typedef struct {
  VaeResampleMode mode;
  int      dim, out_dim;
  VaeConv  conv;        /* resample.1 */
  VaeConv  time_conv;   /* 3-D modes only */
  int      slot;        /* 3-D modes only */
} VaeResample;

/* One width stage: residual blocks, an optional resample and (Wan 2.2)
 * the parameter-free AvgDown3D / DupUp3D shortcut around the stage. */
typedef struct {
  bool        decoder;
  VaeResBlock res[3];
  int         n_res;
  VaeResample resample;
  bool        has_shortcut;
  int         in_dim, out_dim, factor_t, factor_s;
} VaeStage;

/* Encoder or decoder. */
typedef struct {
  bool         decoder;
  VaeConv      conv_in;              /* conv1 */
  int          slot_in;
  VaeResBlock  mid0, mid2;           /* middle.0 / middle.2 */
  VaeAttention attn;                 /* middle.1 */
  VaeStage     stages[VAE_STAGES];
  RlTensor     head_gamma;           /* head.0 */
  VaeConv      head_conv;            /* head.2 */
  int          slot_head;
  int          n_slots;
} VaeCoder;

struct WanVae {
  WanVaeConfig     config;
  const RlBackend *backend;
  const RlOps     *ops;
  RlContext       *ctx;
  RlDType          act_dtype;
  VaeCoder         encoder, decoder;
  VaeConv          mu_conv;          /* conv1 rows [0, z): the μ half */
  VaeConv          post_conv;        /* conv2 */
  RlWeightSet     *weights;          /* the checkpoint's tensors on the device */
  RlTensor       **owned;            /* views of them the layers use, for release */
  size_t           n_owned, cap_owned;
};

/* The feature cache of one cached conv during one encode/decode. */
typedef struct {
  RlTensor frames;   /* [B, C, 2, H, W] act dtype, allocated on first use */
  int      count;    /* valid frames at its front (0..2) */
  bool     seen;     /* temporal upsample: the first chunk went by */
} VaeSlot;

typedef struct {
  WanVae  *vae;
  VaeSlot *slots;
  int      n_slots;
  bool     first_chunk;
} VaeRun;

/* vae-load.c */
RlStatus vae_load_weights    (WanVae *vae, RlSafetensors *st);
void     vae_release_weights (WanVae *vae);

/* vae-layers.c: each layer replaces *x (an owned tensor) by its output;
 * inputs are never written in place, so views of them stay valid. */
RlStatus vae_alloc           (WanVae *vae, RlTensor *t, RlDType dtype, int64_t b, int64_t c,
                              int64_t n, int64_t h, int64_t w);
void     vae_move            (RlTensor *dst, RlTensor *src);
RlStatus vae_run_begin       (VaeRun *run, WanVae *vae, const VaeCoder *coder);
void     vae_run_end         (VaeRun *run);
RlStatus vae_plain_conv      (VaeRun *run, const VaeConv *conv, RlTensor *x);
RlStatus vae_causal_conv     (VaeRun *run, const VaeConv *conv, int slot, int pad_hw, RlTensor *x);
RlStatus vae_res_block       (VaeRun *run, const VaeResBlock *block, RlTensor *x);
RlStatus vae_attention       (VaeRun *run, const VaeAttention *attn, RlTensor *x);
RlStatus vae_stage           (VaeRun *run, const VaeStage *stage, RlTensor *x);
RlStatus vae_head            (VaeRun *run, const VaeCoder *coder, RlTensor *x);
RlStatus vae_patchify        (WanVae *vae, const RlTensor *x, RlTensor *out);
RlStatus vae_unpatchify      (WanVae *vae, const RlTensor *x, RlTensor *out);

/* Frames [t0, t0 + n) of src into frames [d0, d0 + n) of dst (both
 * contiguous [B, C, T, H, W] f32 or act dtype, on the host or the device). */
RlStatus vae_copy_frames     (WanVae *vae, RlTensor *dst, int64_t d0, const RlTensor *src,
                              int64_t t0, int64_t n);

/* vae-decode.c: decodes `latent` (raw, on the device) chunk by chunk,
 * handing each chunk of decoded frames ([B, 3, n, H, W] f32 on the device,
 * values before the [0, 1] mapping) to `sink` with its first frame index. */
typedef RlStatus (*VaeFrameSink) (void *user, const RlTensor *frames, int64_t t0);
RlStatus vae_decode_stream   (WanVae *vae, const RlTensor *latent, VaeFrameSink sink, void *user);

/* vae-decode.c: argument checks shared by the decode entry points, and
 * ComfyUI's process_output on host floats (clamp((x + 1)/2, 0, 1)). */
RlStatus vae_check_decode    (const WanVae *vae, const RlTensor *latent, const RlTensor *out);
RlStatus vae_check_video     (const WanVae *vae, const RlTensor *t, const char *what, bool host_only);
void     vae_host_to_unit    (float *p, int64_t n);
