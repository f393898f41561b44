/* The Wan model family behind the plugin ABI (plugins/family.h): the 2.1 /
 * 2.2 text-to-video DiTs, the UMT5-XXL text encoder with the SentencePiece
 * tokenizer its ComfyUI file carries, and the 2.1 / 2.2 VAEs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/common/weight-dtype-option.h"
#include "plugins/family.h"
#include "plugins/wan/umt5-config.h"
#include "plugins/wan/umt5-encoder.h"
#include "plugins/wan/vae.h"
#include "plugins/wan/wan-dit.h"
#include "workers/parallel/usp-attention.h"
#include "workers/text/comfy-tokens.h"
#include "workers/text/tokenizer.h"

struct RlFamilyModel {
  RlModelKind       kind;
  const RlBackend  *backend;
  RlContext        *ctx;
  WanDit           *dit;
  Umt5Encoder      *encoder;
  RlTokenizer      *tokenizer;
  WanVae           *vae;
  int               latent_channels;
};

/* ------------------------------------------------------------ probing */

static RlStatus
wan_probe (const RlSafetensors *st,
           RlModelKind         *kind,
           char                *variant,
           size_t               variant_size)
{
  WanDitConfig dit;
  WanVaeConfig vae;
  Umt5Config te;
  char why_not[512];
  RlStatus s;

  /* Each detector says "not mine" with RL_E_FORMAT; a refusal of a known
   * but unsupported variant is RL_E_NOT_SUPPORTED and stops the search. */
  s = wan_dit_config_detect (st, &dit);
  if (s == RL_OK || s == RL_E_NOT_SUPPORTED)
    {
      *kind = RL_MODEL_DIFFUSION;
      snprintf (variant, variant_size, "%s", s == RL_OK ? dit.variant : "");
      return s;
    }
  /* Kept as the hint of the "not found" answer: it names what the file
   * looks like (a Flux model, an SD UNet, ...). */
  snprintf (why_not, sizeof why_not, "%s", rl_last_error ());
  s = wan_vae_config_detect (st, &vae);
  if (s == RL_OK)
    {
      *kind = RL_MODEL_VAE;
      snprintf (variant, variant_size, "%s", vae.variant);
      return RL_OK;
    }
  s = umt5_config_detect (st, &te);
  if (s == RL_OK)
    {
      *kind = RL_MODEL_TEXT_ENCODER;
      snprintf (variant, variant_size, "%s", te.variant);
      return RL_OK;
    }
  return rl_set_error (RL_E_NOT_FOUND, "%s", why_not);
}

/* ------------------------------------------------------------ loading */

static RlStatus
load_text_encoder (RlFamilyModel  *m,
                   RlSafetensors  *st)
{
  const RlSafetensorsTensor *blob = rl_safetensors_find (st, "spiece_model");
  Umt5Config config;
  RlStatus s;

  if (blob == NULL)
    return rl_set_error (RL_E_FORMAT, "%s has no 'spiece_model' tokenizer tensor; use ComfyUI's "
                         "umt5_xxl text-encoder file, which carries it", rl_safetensors_path (st));
  s = rl_tokenizer_new_from_bytes (blob->data, blob->nbytes, &m->tokenizer);
  if (s < 0)
    return rl_prefix_error (s, "%s: spiece_model: ", rl_safetensors_path (st));
  s = umt5_config_detect (st, &config);
  if (s == RL_OK)
    s = umt5_load (m->backend, m->ctx, st, &config, &m->encoder);
  return s;
}

/* Loads any Wan model; the DiT's blocks sharded/offloaded by `fsdp`
 * (NULL: replicated), which the VAE and text encoder ignore. */
static RlStatus
load_model (const RlBackend     *backend,
            RlContext           *ctx,
            RlSafetensors       *st,
            RlModelKind          kind,
            const char          *options,
            const RlFsdpOptions *fsdp,
            RlFamilyModel      **out)
{
  RlFamilyModel *m = calloc (1, sizeof *m);
  /* Activations in bf16 on GPUs, fp32 on the CPU reference backend. */
  RlDType act = backend->device_kind == RL_DEVICE_CPU ? RL_F32 : RL_BF16;
  RlStatus s;

  *out = NULL;
  if (m == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "wan: out of memory");
  m->kind = kind;
  m->backend = backend;
  m->ctx = ctx;
  switch (kind)
    {
    case RL_MODEL_DIFFUSION:
      {
        WanDitConfig config;
        s = wan_dit_config_detect (st, &config);
        if (s == RL_OK)
          s = rl_weight_dtype_option_parse (options, &config.matrix_dtype);
        if (s == RL_OK)
          s = wan_dit_load_sharded (backend, ctx, st, &config, act, fsdp, &m->dit);
        m->latent_channels = config.in_dim;
        break;
      }
    case RL_MODEL_VAE:
      {
        WanVaeConfig config;
        s = wan_vae_config_detect (st, &config);
        if (s == RL_OK)
          s = wan_vae_load (backend, ctx, st, &config, act, &m->vae);
        m->latent_channels = config.z_dim;
        break;
      }
    case RL_MODEL_TEXT_ENCODER:
      s = load_text_encoder (m, st);
      break;
    default:
      s = rl_set_error (RL_E_INVALID_ARG, "wan: unknown model kind %d", (int) kind);
    }
  if (s < 0)
    {
      wan_dit_free (m->dit);
      wan_vae_free (m->vae);
      umt5_free (m->encoder);
      rl_tokenizer_free (m->tokenizer);
      free (m);
      return s;
    }
  *out = m;
  return RL_OK;
}

static RlStatus
wan_load (const RlBackend  *backend,
          RlContext        *ctx,
          RlSafetensors    *st,
          RlModelKind       kind,
          const char       *options,
          RlFamilyModel   **out)
{
  return load_model (backend, ctx, st, kind, options, NULL, out);
}

static RlStatus
wan_load_sharded (const RlBackend     *backend,
                  RlContext           *ctx,
                  RlSafetensors       *st,
                  RlModelKind          kind,
                  const char          *options,
                  const RlFsdpOptions *fsdp,
                  RlFamilyModel      **out)
{
  return load_model (backend, ctx, st, kind, options, fsdp, out);
}

static void
wan_unload (RlFamilyModel *m)
{
  if (m == NULL)
    return;
  wan_dit_free (m->dit);
  wan_vae_free (m->vae);
  umt5_free (m->encoder);
  rl_tokenizer_free (m->tokenizer);
  free (m);
}

static uint64_t
wan_device_bytes (const RlFamilyModel *m)
{
  (void) m;
  return 0;   /* weights are counted by the worker's cache from the file size */
}

/* ------------------------------------------------------------ diffusion */

/* ComfyUI's latent previews (comfy/latent_formats.py Wan21 / Wan22):
 * per latent channel, its contribution to R, G, B. */
static const float wan21_rgb_factors[16 * 3] = {
  -0.1299f, -0.1692f,  0.2932f,   0.0671f,  0.0406f,  0.0442f,
   0.3568f,  0.2548f,  0.1747f,   0.0372f,  0.2344f,  0.1420f,
   0.0313f,  0.0189f, -0.0328f,   0.0296f, -0.0956f, -0.0665f,
  -0.3477f, -0.4059f, -0.2925f,   0.0166f,  0.1902f,  0.1975f,
  -0.0412f,  0.0267f, -0.1364f,  -0.1293f,  0.0740f,  0.1636f,
   0.0680f,  0.3019f,  0.1128f,   0.0032f,  0.0581f,  0.0639f,
  -0.1251f,  0.0927f,  0.1699f,   0.0060f, -0.0633f,  0.0005f,
   0.3477f,  0.2275f,  0.2950f,   0.1984f,  0.0913f,  0.1861f,
};
static const float wan21_rgb_bias[3] = { -0.1835f, -0.0868f, -0.3360f };

static const float wan22_rgb_factors[48 * 3] = {
   0.0119f,  0.0103f,  0.0046f,  -0.1062f, -0.0504f,  0.0165f,
   0.0140f,  0.0409f,  0.0491f,  -0.0813f, -0.0677f,  0.0607f,
   0.0656f,  0.0851f,  0.0808f,   0.0264f,  0.0463f,  0.0912f,
   0.0295f,  0.0326f,  0.0590f,  -0.0244f, -0.0270f,  0.0025f,
   0.0443f, -0.0102f,  0.0288f,  -0.0465f, -0.0090f, -0.0205f,
   0.0359f,  0.0236f,  0.0082f,  -0.0776f,  0.0854f,  0.1048f,
   0.0564f,  0.0264f,  0.0561f,   0.0006f,  0.0594f,  0.0418f,
  -0.0319f, -0.0542f, -0.0637f,  -0.0268f,  0.0024f,  0.0260f,
   0.0539f,  0.0265f,  0.0358f,  -0.0359f, -0.0312f, -0.0287f,
  -0.0285f, -0.1032f, -0.1237f,   0.1041f,  0.0537f,  0.0622f,
  -0.0086f, -0.0374f, -0.0051f,   0.0390f,  0.0670f,  0.2863f,
   0.0069f,  0.0144f,  0.0082f,   0.0006f, -0.0167f,  0.0079f,
   0.0313f, -0.0574f, -0.0232f,  -0.1454f, -0.0902f, -0.0481f,
   0.0714f,  0.0827f,  0.0447f,  -0.0304f, -0.0574f, -0.0196f,
   0.0401f,  0.0384f,  0.0204f,  -0.0758f, -0.0297f, -0.0014f,
   0.0568f,  0.1307f,  0.1372f,  -0.0055f, -0.0310f, -0.0380f,
   0.0239f, -0.0305f,  0.0325f,  -0.0663f, -0.0673f, -0.0140f,
  -0.0416f, -0.0047f, -0.0023f,   0.0166f,  0.0112f, -0.0093f,
  -0.0211f,  0.0011f,  0.0331f,   0.1833f,  0.1466f,  0.2250f,
  -0.0368f,  0.0370f,  0.0295f,  -0.3441f, -0.3543f, -0.2008f,
  -0.0479f, -0.0489f, -0.0420f,  -0.0660f, -0.0153f,  0.0800f,
  -0.0101f,  0.0068f,  0.0156f,  -0.0690f, -0.0452f, -0.0927f,
  -0.0145f,  0.0041f,  0.0015f,   0.0421f,  0.0451f,  0.0373f,
   0.0504f, -0.0483f, -0.0356f,  -0.0837f,  0.0168f,  0.0055f,
};
static const float wan22_rgb_bias[3] = { 0.0317f, -0.0878f, -0.1388f };

static RlStatus
wan_latent_format (const RlFamilyModel *m,
                   RlLatentFormat      *out)
{
  out->channels = m->latent_channels;
  out->time_compression = 4;
  out->space_compression = m->latent_channels == 48 ? 16 : 8;
  out->mean = wan_vae_latent_mean (m->latent_channels);
  out->std = wan_vae_latent_std (m->latent_channels);
  out->scale = 1.0f;
  out->rgb_factors = m->latent_channels == 48 ? wan22_rgb_factors : wan21_rgb_factors;
  out->rgb_bias = m->latent_channels == 48 ? wan22_rgb_bias : wan21_rgb_bias;
  if (out->mean == NULL)
    return rl_set_error (RL_E_NOT_SUPPORTED, "wan: no latent normalisation for %d channels",
                         m->latent_channels);
  return RL_OK;
}

static RlStatus
wan_model_sampling (const RlFamilyModel *m,
                    RlFamilySampling    *out)
{
  (void) m;
  out->is_flow = 1;
  out->shift = 8.0f;        /* ComfyUI's default for Wan without ModelSamplingSD3 */
  out->multiplier = 1000.0f;
  return RL_OK;
}

static RlStatus
wan_diffusion_forward (RlFamilyModel  *m,
                       const RlTensor *x,
                       const float    *timestep,
                       const RlTensor *context,
                       RlTensor       *out)
{
  if (m->dit == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "wan: this model is not a diffusion model");
  return wan_dit_forward (m->dit, x, timestep, context, out);
}

static RlStatus
wan_set_parallel (RlFamilyModel           *m,
                  const RlParallelContext *parallel)
{
  if (m->dit == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "wan: this model is not a diffusion model");
  if (parallel != NULL && parallel->sp != NULL)
    {
      RlStatus s = rl_usp_validate (wan_dit_config (m->dit)->num_heads, parallel->ulysses_degree,
                                    parallel->ring_degree, rl_comm_size (parallel->sp), false);
      if (s < 0)
        return rl_prefix_error (s, "wan: ");
      const WanSeqParallel sp = { parallel->sp, parallel->ulysses, parallel->ring };
      wan_dit_set_parallel (m->dit, &sp);
      return RL_OK;
    }
  wan_dit_set_parallel (m->dit, NULL);
  return RL_OK;
}

/* ------------------------------------------------------------ text */

static RlStatus
wan_encode_text (RlFamilyModel  *m,
                 const char     *text,
                 RlTensor       *out)
{
  RlTokenLayout layout = rl_token_layout_umt5 ();
  RlTokenSequence tokens = { 0 };
  const Umt5Config *config;
  int64_t shape[3];
  RlStatus s;

  if (m->encoder == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "wan: this model is not a text encoder");
  config = umt5_config (m->encoder);
  s = rl_comfy_tokens_encode (m->tokenizer, text, strlen (text), &layout, &tokens);
  if (s < 0)
    return s;
  shape[0] = 1;
  shape[1] = (int64_t) tokens.length;
  shape[2] = config->d_model;
  s = rl_tensor_alloc (out, m->backend->context_allocator (m->ctx), RL_F32, 3, shape);
  /* Weighted prompts, "(word:1.2)", mix with an empty prompt's encoding
   * token by token, as ComfyUI does. */
  if (s == RL_OK && rl_token_sequence_has_weights (&tokens))
    s = umt5_encode_weighted (m->encoder, tokens.ids, tokens.weights, tokens.mask,
                              (int64_t) tokens.length, out);
  else if (s == RL_OK)
    s = umt5_encode (m->encoder, tokens.ids, tokens.mask, 1, (int64_t) tokens.length, out);
  if (s < 0)
    rl_tensor_release (out);
  rl_token_sequence_clear (&tokens);
  return s;
}

/* ------------------------------------------------------------ VAE */

static RlStatus
wan_vae_decode_job (RlFamilyModel      *m,
                    const RlTensor     *latent,
                    const RlVaeTiling  *tiling,
                    RlTensor           *images)
{
  const WanVaeConfig *config;
  WanVaeTiling tiles;

  if (m->vae == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "wan: this model is not a VAE");
  if (tiling == NULL || (tiling->tile_size <= 0 && tiling->temporal_size <= 0))
    return wan_vae_decode (m->vae, latent, images);
  /* As ComfyUI's VAEDecodeTiled: pixels / compression, frames / 4. */
  config = wan_vae_config (m->vae);
  tiles.tile_h = tiles.tile_w = tiling->tile_size / config->space_factor;
  tiles.overlap_h = tiles.overlap_w = tiling->tile_overlap / config->space_factor;
  tiles.tile_t = tiling->temporal_size / WAN_VAE_TIME_FACTOR;
  tiles.overlap_t = tiling->temporal_overlap / WAN_VAE_TIME_FACTOR;
  return wan_vae_decode_tiled (m->vae, latent, &tiles, images);
}

static void
wan_vae_decoded_shape (const RlFamilyModel *m,
                       const int64_t       *latent_shape,
                       int64_t             *image_shape)
{
  int s = m->vae ? wan_vae_config (m->vae)->space_factor : 8;

  image_shape[0] = latent_shape[0];
  image_shape[1] = 3;
  image_shape[2] = wan_vae_decoded_frames (latent_shape[2]);
  image_shape[3] = latent_shape[3] * s;
  image_shape[4] = latent_shape[4] * s;
}

static RlStatus
wan_vae_encode_job (RlFamilyModel  *m,
                    const RlTensor *images,
                    RlTensor       *latent)
{
  if (m->vae == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "wan: this model is not a VAE");
  return wan_vae_encode (m->vae, images, latent);
}

static void
wan_vae_encoded_shape (const RlFamilyModel *m,
                       const int64_t       *image_shape,
                       int64_t             *latent_shape)
{
  const WanVaeConfig *config = m->vae ? wan_vae_config (m->vae) : NULL;
  int s = config ? config->space_factor : 8;

  latent_shape[0] = image_shape[0];
  latent_shape[1] = config ? config->z_dim : 16;
  latent_shape[2] = wan_vae_latent_frames (image_shape[2]);
  latent_shape[3] = image_shape[3] / s;
  latent_shape[4] = image_shape[4] / s;
}

static const RlFamily wan_family = {
  .abi_version = RL_FAMILY_ABI_VERSION,
  .struct_size = sizeof (RlFamily),
  .name = "wan",
  .description = "Wan 2.1 / 2.2 text-to-video: DiT, UMT5-XXL text encoder, VAE",
  .probe = wan_probe,
  .load = wan_load,
  .unload = wan_unload,
  .device_bytes = wan_device_bytes,
  .latent_format = wan_latent_format,
  .model_sampling = wan_model_sampling,
  .diffusion_forward = wan_diffusion_forward,
  .encode_text = wan_encode_text,
  .vae_decode = wan_vae_decode_job,
  .vae_decoded_shape = wan_vae_decoded_shape,
  .vae_encode = wan_vae_encode_job,
  .vae_encoded_shape = wan_vae_encoded_shape,
  .set_parallel = wan_set_parallel,
  .load_sharded = wan_load_sharded,
};

/* The one symbol the worker looks up in this module. */
const RlFamily *raylight_family_entry (void) __attribute__ ((visibility ("default")));

const RlFamily *
raylight_family_entry (void)
{
  return &wan_family;
}
