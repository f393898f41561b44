/* Loading the Wan VAE: builds the encoder/decoder structure from the
 * config (dim_mult [1, 2, 4, 4], 2 residual blocks per encoder stage and 3
 * per decoder stage, temporal down-sampling in stages 1 and 2) and binds
 * every tensor by its checkpoint key, checking its shape. */
#include "plugins/common/weight-set.h"
#include "plugins/wan/vae-internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const bool temporal_down[VAE_STAGES - 1] = { false, true, true };
static const int  dim_mult[VAE_STAGES] = { 1, 2, 4, 4 };

typedef struct {
  WanVae        *vae;
  RlSafetensors *st;
  int           *slots;   /* slot counter of the coder being built */
} Loader;

static RlStatus
remember (WanVae   *v,
          RlTensor *t)
{
  if (v->n_owned == v->cap_owned)
    {
      size_t cap = v->cap_owned ? 2 * v->cap_owned : 256;
      RlTensor **grown = realloc (v->owned, cap * sizeof *grown);
      if (grown == NULL)
        return rl_set_error (RL_E_NO_MEMORY, "wan vae: out of memory listing weights");
      v->owned = grown;
      v->cap_owned = cap;
    }
  v->owned[v->n_owned++] = t;
  return RL_OK;
}

/* Tensor `key` with exactly `shape` on the VAE's device, as a reference of
 * the caller's own (release it, or remember a view of it); the weight set
 * keeps the loaded tensor itself. */
static RlStatus
load_raw (Loader        *l,
          RlTensor      *out,
          const char    *key,
          int            ndim,
          const int64_t *shape)
{
  WanVae *v = l->vae;
  RlTensor loaded = { 0 };

  TRY (rl_weight_set_load (v->weights, &loaded, key, ndim, shape));
  if (!rl_dtype_is_float (loaded.dtype))
    return rl_set_error (RL_E_FORMAT, "%s: tensor '%s' is %s; a VAE weight must be a float type",
                         rl_safetensors_path (l->st), key, rl_dtype_name (loaded.dtype));
  return rl_tensor_view (out, &loaded);
}

/* Loads `key` with `shape` and keeps it as a view of `view_ndim` dims
 * (`view_shape`), remembered for release. */
static RlStatus
load_as (Loader        *l,
         RlTensor      *out,
         const char    *key,
         int            ndim,
         const int64_t *shape,
         int            view_ndim,
         const int64_t *view_shape)
{
  RlTensor raw = { 0 };
  RlStatus s = load_raw (l, &raw, key, ndim, shape);

  if (s == RL_OK)
    s = rl_tensor_reshape (out, &raw, view_ndim, view_shape);
  rl_tensor_release (&raw);
  if (s == RL_OK)
    s = remember (l->vae, out);
  return s;
}

/* "<prefix>.weight" [o, i, kt, kh, kw] (kt = 0: a 2-D conv stored as
 * [o, i, kh, kw], viewed as [o, i, 1, kh, kw]) and "<prefix>.bias" [o]. */
static RlStatus
load_conv (Loader     *l,
           VaeConv    *conv,
           const char *prefix,
           int64_t     o,
           int64_t     i,
           int         kt,
           int         kh,
           int         kw)
{
  char key[256];
  const int64_t w5[5] = { o, i, kt ? kt : 1, kh, kw }, w4[4] = { o, i, kh, kw };

  snprintf (key, sizeof key, "%s.weight", prefix);
  if (kt)
    TRY (load_as (l, &conv->weight, key, 5, w5, 5, w5));
  else
    TRY (load_as (l, &conv->weight, key, 4, w4, 5, w5));
  snprintf (key, sizeof key, "%s.bias", prefix);
  return load_as (l, &conv->bias, key, 1, &o, 1, &o);
}

/* A channel gamma stored as [C, 1, 1, 1] (or [C, 1, 1] with `images`),
 * viewed as [C]. */
static RlStatus
load_gamma (Loader     *l,
            RlTensor   *out,
            const char *key,
            int64_t     c,
            bool        images)
{
  const int64_t shape[4] = { c, 1, 1, 1 };

  return load_as (l, out, key, images ? 3 : 4, shape, 1, &c);
}

static RlStatus
load_res_block (Loader      *l,
                VaeResBlock *b,
                const char  *prefix,
                int          in_dim,
                int          out_dim)
{
  char key[192];

  b->in_dim = in_dim;
  b->out_dim = out_dim;
  b->slot_in = (*l->slots)++;
  b->slot_out = (*l->slots)++;
  snprintf (key, sizeof key, "%s.residual.0.gamma", prefix);
  TRY (load_gamma (l, &b->gamma_in, key, in_dim, false));
  snprintf (key, sizeof key, "%s.residual.2", prefix);
  TRY (load_conv (l, &b->conv_in, key, out_dim, in_dim, 3, 3, 3));
  snprintf (key, sizeof key, "%s.residual.3.gamma", prefix);
  TRY (load_gamma (l, &b->gamma_out, key, out_dim, false));
  snprintf (key, sizeof key, "%s.residual.6", prefix);
  TRY (load_conv (l, &b->conv_out, key, out_dim, out_dim, 3, 3, 3));
  if (in_dim == out_dim)
    return RL_OK;
  snprintf (key, sizeof key, "%s.shortcut", prefix);
  return load_conv (l, &b->shortcut, key, out_dim, in_dim, 1, 1, 1);
}

/* Rows [index·C, (index+1)·C) of a [3C, C] or [C, C] weight and its bias. */
static RlStatus
split_rows (Loader         *l,
            RlTensor       *w_out,
            RlTensor       *b_out,
            const RlTensor *w,
            const RlTensor *b,
            int64_t         c,
            int             index)
{
  TRY (rl_tensor_narrow (w_out, w, 0, index * c, c));
  TRY (remember (l->vae, w_out));
  TRY (rl_tensor_narrow (b_out, b, 0, index * c, c));
  return remember (l->vae, b_out);
}

static RlStatus
load_attention (Loader       *l,
                VaeAttention *a,
                const char   *prefix,
                int64_t       c)
{
  char key[192];
  const int64_t qkv4[4] = { 3 * c, c, 1, 1 }, qkv2[2] = { 3 * c, c }, three = 3 * c;
  const int64_t proj4[4] = { c, c, 1, 1 }, proj2[2] = { c, c };
  RlTensor w = { 0 }, b = { 0 }, w2 = { 0 };
  RlStatus s;

  a->dim = (int) c;
  snprintf (key, sizeof key, "%s.norm.gamma", prefix);
  TRY (load_gamma (l, &a->gamma, key, c, true));

  snprintf (key, sizeof key, "%s.to_qkv.weight", prefix);
  s = load_raw (l, &w, key, 4, qkv4);
  if (s == RL_OK)
    {
      snprintf (key, sizeof key, "%s.to_qkv.bias", prefix);
      s = load_raw (l, &b, key, 1, &three);
    }
  if (s == RL_OK) s = rl_tensor_reshape (&w2, &w, 2, qkv2);
  if (s == RL_OK) s = split_rows (l, &a->w_q, &a->b_q, &w2, &b, c, 0);
  if (s == RL_OK) s = split_rows (l, &a->w_k, &a->b_k, &w2, &b, c, 1);
  if (s == RL_OK) s = split_rows (l, &a->w_v, &a->b_v, &w2, &b, c, 2);
  rl_tensor_release (&w2);
  rl_tensor_release (&w);
  rl_tensor_release (&b);
  if (s < 0)
    return s;

  snprintf (key, sizeof key, "%s.proj.weight", prefix);
  TRY (load_as (l, &a->w_proj, key, 4, proj4, 2, proj2));
  snprintf (key, sizeof key, "%s.proj.bias", prefix);
  return load_as (l, &a->b_proj, key, 1, &c, 1, &c);
}

static RlStatus
load_resample (Loader          *l,
               VaeResample     *r,
               const char      *prefix,
               VaeResampleMode  mode,
               int              dim)
{
  char key[192];
  const bool up = mode == VAE_UPSAMPLE_2D || mode == VAE_UPSAMPLE_3D;

  r->mode = mode;
  r->dim = dim;
  /* Wan 2.1 up-sampling halves the width; Wan 2.2 keeps it. */
  r->out_dim = up && l->vae->config.version == WAN_VAE_21 ? dim / 2 : dim;
  snprintf (key, sizeof key, "%s.resample.1", prefix);
  TRY (load_conv (l, &r->conv, key, r->out_dim, dim, 0, 3, 3));
  if (mode != VAE_UPSAMPLE_3D && mode != VAE_DOWNSAMPLE_3D)
    return RL_OK;
  r->slot = (*l->slots)++;
  snprintf (key, sizeof key, "%s.time_conv", prefix);
  return load_conv (l, &r->time_conv, key, mode == VAE_UPSAMPLE_3D ? 2 * dim : dim, dim, 3, 1, 1);
}

/* Key of layer `j` of stage `i`: "encoder.downsamples.5" (2.1, flat) or
 * "encoder.downsamples.1.downsamples.2" (2.2, nested). */
static void
layer_key (char       *key,
           size_t      size,
           const WanVae *v,
           bool        decoder,
           int         i,
           int         j,
           int         flat)
{
  const char *part = decoder ? "upsamples" : "downsamples";
  const char *coder = decoder ? "decoder" : "encoder";

  if (v->config.version == WAN_VAE_22)
    snprintf (key, size, "%s.%s.%d.%s.%d", coder, part, i, part, j);
  else
    snprintf (key, size, "%s.%s.%d", coder, part, flat + j);
}

static RlStatus
load_stages (Loader   *l,
             VaeCoder *c)
{
  const WanVae *v = l->vae;
  const bool v22 = v->config.version == WAN_VAE_22;
  const int base = c->decoder ? v->config.dec_dim : v->config.dim;
  int dims[VAE_STAGES + 1];
  int flat = 0;
  char key[128];

  dims[0] = base * (c->decoder ? dim_mult[VAE_STAGES - 1] : 1);
  for (int i = 0; i < VAE_STAGES; i++)
    dims[i + 1] = base * (c->decoder ? dim_mult[VAE_STAGES - 1 - i] : dim_mult[i]);

  for (int i = 0; i < VAE_STAGES; i++)
    {
      VaeStage *s = &c->stages[i];
      const bool last = i == VAE_STAGES - 1;
      /* decoder temporal up-sampling is the encoder's down-sampling reversed */
      const bool temporal = !last && temporal_down[c->decoder ? VAE_STAGES - 2 - i : i];
      int in = dims[i];

      if (c->decoder && !v22 && i > 0)
        in /= 2;   /* the 2.1 up-sample before this stage halved the width */
      s->decoder = c->decoder;
      s->n_res = c->decoder ? 3 : 2;
      s->in_dim = dims[i];
      s->out_dim = dims[i + 1];
      for (int j = 0; j < s->n_res; j++)
        {
          layer_key (key, sizeof key, v, c->decoder, i, j, flat);
          TRY (load_res_block (l, &s->res[j], key, j == 0 ? in : dims[i + 1], dims[i + 1]));
        }
      if (!last)
        {
          VaeResampleMode mode = c->decoder ? (temporal ? VAE_UPSAMPLE_3D : VAE_UPSAMPLE_2D)
                                            : (temporal ? VAE_DOWNSAMPLE_3D : VAE_DOWNSAMPLE_2D);
          layer_key (key, sizeof key, v, c->decoder, i, s->n_res, flat);
          TRY (load_resample (l, &s->resample, key, mode, dims[i + 1]));
        }
      flat += s->n_res + (last ? 0 : 1);
      if (v22 && (!c->decoder || !last))
        {
          s->has_shortcut = true;
          s->factor_t = temporal ? 2 : 1;
          s->factor_s = last ? 1 : 2;
        }
    }
  return RL_OK;
}

static RlStatus
load_coder (Loader   *l,
            VaeCoder *c,
            bool      decoder)
{
  const WanVaeConfig *cfg = &l->vae->config;
  const char *name = decoder ? "decoder" : "encoder";
  const int mid = decoder ? 4 * cfg->dec_dim : 4 * cfg->dim;
  const int last = decoder ? cfg->dec_dim : 4 * cfg->dim;
  char key[128];

  c->decoder = decoder;
  l->slots = &c->n_slots;
  c->slot_in = c->n_slots++;
  snprintf (key, sizeof key, "%s.conv1", name);
  TRY (load_conv (l, &c->conv_in, key, decoder ? mid : cfg->dim, decoder ? cfg->z_dim : cfg->pixel_channels,
                  3, 3, 3));
  if (!decoder)
    TRY (load_stages (l, c));
  snprintf (key, sizeof key, "%s.middle.0", name);
  TRY (load_res_block (l, &c->mid0, key, mid, mid));
  snprintf (key, sizeof key, "%s.middle.1", name);
  TRY (load_attention (l, &c->attn, key, mid));
  snprintf (key, sizeof key, "%s.middle.2", name);
  TRY (load_res_block (l, &c->mid2, key, mid, mid));
  if (decoder)
    TRY (load_stages (l, c));
  snprintf (key, sizeof key, "%s.head.0.gamma", name);
  TRY (load_gamma (l, &c->head_gamma, key, last, false));
  c->slot_head = c->n_slots++;
  snprintf (key, sizeof key, "%s.head.2", name);
  return load_conv (l, &c->head_conv, key, decoder ? cfg->pixel_channels : 2 * cfg->z_dim, last, 3, 3, 3);
}

RlStatus
vae_load_weights (WanVae        *v,
                  RlSafetensors *st)
{
  Loader l = { .vae = v, .st = st };
  const int64_t z = v->config.z_dim, z2 = 2 * z, w_shape[5] = { z2, z2, 1, 1, 1 };
  RlTensor w = { 0 }, b = { 0 };
  RlStatus s;

  TRY (rl_weight_set_new (v->backend, v->ctx, st, "", v->config.variant, &v->weights));
  TRY (load_coder (&l, &v->encoder, false));
  /* conv1 (2z → 2z, 1×1×1) splits into μ and log-variance: only the μ rows
   * are ever used. */
  s = load_raw (&l, &w, "conv1.weight", 5, w_shape);
  if (s == RL_OK) s = load_raw (&l, &b, "conv1.bias", 1, &z2);
  if (s == RL_OK) s = split_rows (&l, &v->mu_conv.weight, &v->mu_conv.bias, &w, &b, z, 0);
  rl_tensor_release (&w);
  rl_tensor_release (&b);
  if (s < 0)
    return s;
  TRY (load_conv (&l, &v->post_conv, "conv2", z, z, 1, 1, 1));
  return load_coder (&l, &v->decoder, true);
}

void
vae_release_weights (WanVae *v)
{
  for (size_t i = 0; i < v->n_owned; i++)
    rl_tensor_release (v->owned[i]);
  free (v->owned);
  v->owned = NULL;
  v->n_owned = v->cap_owned = 0;
  rl_weight_set_free (v->weights);
  v->weights = NULL;
}

RlStatus
wan_vae_load (const RlBackend     *backend,
              RlContext           *ctx,
              RlSafetensors       *st,
              const WanVaeConfig  *config,
              RlDType              act_dtype,
              WanVae             **out)
{
  WanVae *v;
  RlStatus s;

  *out = NULL;
  if (backend == NULL || ctx == NULL || st == NULL || config == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "wan_vae_load: backend, context, checkpoint and config are required");
  if (act_dtype != RL_F32 && act_dtype != RL_BF16 && act_dtype != RL_F16)
    return rl_set_error (RL_E_DTYPE, "wan_vae_load: activations must be f32, bf16 or f16, not %s",
                         rl_dtype_name (act_dtype));
  if (config->upsample_time_cache != 1 && config->upsample_time_cache != 2)
    return rl_set_error (RL_E_INVALID_ARG, "wan_vae_load: upsample_time_cache is %d; it keeps 1 frame "
                         "(ComfyUI's 2.1 decode) or 2 (the original Wan code)", config->upsample_time_cache);
  v = calloc (1, sizeof *v);
  if (v == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "wan vae: out of memory");
  v->config = *config;
  v->backend = backend;
  v->ops = backend->ops;
  v->ctx = ctx;
  v->act_dtype = act_dtype;
  s = vae_load_weights (v, st);
  if (s < 0)
    {
      wan_vae_free (v);
      return s;
    }
  *out = v;
  return RL_OK;
}

void
wan_vae_free (WanVae *v)
{
  if (v == NULL)
    return;
  vae_release_weights (v);
  free (v);
}

const WanVaeConfig *
wan_vae_config (const WanVae *v)
{
  return &v->config;
}
