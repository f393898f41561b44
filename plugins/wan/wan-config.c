#include "plugins/wan/wan-config.h"

#include <stdio.h>
#include <string.h>

static const RlSafetensorsTensor *
find_key (const RlSafetensors *st,
          const char          *prefix,
          const char          *key)
{
  char name[256];

  snprintf (name, sizeof name, "%s%s", prefix, key);
  return rl_safetensors_find (st, name);
}

static const char *
detect_prefix (const RlSafetensors *st)
{
  static const char *const prefixes[] = { "", "model.diffusion_model.", "diffusion_model." };

  for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
    if (find_key (st, prefixes[i], "head.modulation") != NULL)
      return prefixes[i];
  return NULL;
}

/* A cheap guess for the message when a file is not a Wan DiT at all, from
 * the marker keys ComfyUI's model detection keys on (with or without the
 * "model.diffusion_model." prefix of full checkpoints). */
static const char *
guess_other_kind (const RlSafetensors *st)
{
  static const struct { const char *key; const char *kind; } markers[] = {
    { "encoder.block.0.layer.0.SelfAttention.q.weight", "it is a T5/UMT5 text encoder (load it with CLIPLoader)" },
    { "spiece_model", "it is a T5/UMT5 text encoder (load it with CLIPLoader)" },
    { "decoder.conv1.weight", "it is a VAE (load it with VAELoader)" },
    { "decoder.head.2.weight", "it is a VAE (load it with VAELoader)" },
    { "double_blocks.0.img_attn.norm.key_norm.scale", "it looks like a Flux model, not a Wan one" },
    { "txt_norm.weight", "it looks like a Qwen-Image model, not a Wan one" },
    { "input_blocks.0.0.weight", "it looks like a Stable Diffusion UNet (SD1.x/SD2.x/SDXL), not a Wan model" },
    { "joint_blocks.0.context_block.attn.qkv.weight", "it looks like a Stable Diffusion 3 model, not a Wan model" },
    { "txt_in.individual_token_refiner.blocks.0.norm1.weight", "it looks like a HunyuanVideo model, not a Wan one" },
    { "condition_embedder.time_embedder.linear_1.weight",
      "it is a Wan model in the diffusers layout; use ComfyUI's repackaged file (keys like "
      "blocks.0.self_attn.q.weight)" },
  };
  static const char *const prefixes[] = { "", "model.diffusion_model." };

  for (size_t i = 0; i < sizeof markers / sizeof markers[0]; i++)
    for (size_t p = 0; p < sizeof prefixes / sizeof prefixes[0]; p++)
      if (find_key (st, prefixes[p], markers[i].key) != NULL)
        return markers[i].kind;
  return "it has none of the tensor names of a known model either";
}

/* Wan variants other than text-to-video, by the marker keys ComfyUI's
 * model detection uses (comfy/model_detection.py); NULL for none. */
static const char *
other_wan_variant (const RlSafetensors *st,
                   const char          *prefix)
{
  static const struct { const char *key; const char *name; } variants[] = {
    { "vace_patch_embedding.weight", "a Wan VACE model" },
    { "control_adapter.conv.weight", "a Wan Fun camera-control model" },
    { "casual_audio_encoder.encoder.final_linear.weight", "a Wan2.2 S2V (speech-to-video) model" },
    { "audio_proj.audio_proj_glob_1.layer.bias", "a Wan HuMo model" },
    { "face_adapter.fuser_blocks.0.k_norm.weight", "a Wan2.2 Animate model" },
    { "img_emb.emb_pos", "a Wan2.1 first-last-frame-to-video (FLF2V) model" },
    { "img_emb.proj.0.bias", "a Wan2.1 image-to-video model" },
    { "ref_conv.weight", "a Wan Fun model with a reference image" },
  };

  for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++)
    if (find_key (st, prefix, variants[i].key) != NULL)
      return variants[i].name;
  return NULL;
}

static int
count_blocks (const RlSafetensors *st,
              const char          *prefix)
{
  int n = 0;
  char key[64];

  for (;;)
    {
      snprintf (key, sizeof key, "blocks.%d.modulation", n);
      if (find_key (st, prefix, key) == NULL)
        return n;
      n++;
    }
}

static void
name_variant (WanDitConfig *c)
{
  if (c->dim == 1536 && c->in_dim == 16 && c->num_layers == 30)
    snprintf (c->variant, sizeof c->variant, "Wan2.1 T2V 1.3B");
  else if (c->dim == 5120 && c->in_dim == 16 && c->num_layers == 40)
    snprintf (c->variant, sizeof c->variant, "Wan 14B T2V (2.1, or a 2.2 A14B expert)");
  else if (c->dim == 3072 && c->in_dim == 48 && c->out_dim == 48)
    snprintf (c->variant, sizeof c->variant, "Wan2.2 TI2V 5B");
  else if (c->in_dim == 48)
    snprintf (c->variant, sizeof c->variant, "Wan2.2 TI2V-shaped (dim %d, %d layers, 48 channels)",
              c->dim, c->num_layers);
  else
    snprintf (c->variant, sizeof c->variant, "Wan T2V (dim %d, %d layers, %d channels)",
              c->dim, c->num_layers, c->in_dim);
}

RlStatus
wan_dit_config_detect (const RlSafetensors *st,
                       WanDitConfig        *c)
{
  const char *path = rl_safetensors_path (st);
  const char *prefix = detect_prefix (st);
  const RlSafetensorsTensor *mod, *head, *ffn, *patch, *text;
  const char *other;

  memset (c, 0, sizeof *c);
  if (prefix == NULL)
    return rl_set_error (RL_E_FORMAT, "%s is not a Wan diffusion model (it has no tensor "
                         "head.modulation): %s", path, guess_other_kind (st));
  snprintf (c->prefix, sizeof c->prefix, "%s", prefix);

  other = other_wan_variant (st, prefix);
  if (other != NULL)
    return rl_set_error (RL_E_NOT_SUPPORTED, "%s is %s; Raylight runs Wan text-to-video models "
                         "so far (2.1 T2V 1.3B/14B, 2.2 T2V A14B, 2.2 TI2V 5B)", path, other);

  mod = find_key (st, prefix, "head.modulation");
  head = find_key (st, prefix, "head.head.weight");
  ffn = find_key (st, prefix, "blocks.0.ffn.0.weight");
  patch = find_key (st, prefix, "patch_embedding.weight");
  if (mod->ndim != 3 || head == NULL || head->ndim != 2 || ffn == NULL || ffn->ndim != 2 ||
      patch == NULL || patch->ndim != 5)
    return rl_set_error (RL_E_FORMAT, "%s looks like a Wan model but lacks head.head.weight, "
                         "blocks.0.ffn.0.weight or patch_embedding.weight of the expected rank; "
                         "the file is damaged or not a complete model", path);

  c->dim = (int) mod->shape[2];
  c->out_dim = (int) (head->shape[0] / 4);
  c->num_heads = c->dim / WAN_HEAD_DIM;
  c->ffn_dim = (int) ffn->shape[0];
  c->in_dim = (int) patch->shape[1];
  c->num_layers = count_blocks (st, prefix);
  /* UMT5-XXL gives 4096; tiny test models use a smaller encoder. */
  text = find_key (st, prefix, "text_embedding.0.weight");
  c->text_dim = text != NULL && text->ndim == 2 ? (int) text->shape[1] : WAN_TEXT_DIM;
  c->freq_dim = WAN_FREQ_DIM;
  c->eps = 1e-6f;

  if (c->dim % WAN_HEAD_DIM != 0 || c->num_heads == 0)
    return rl_set_error (RL_E_FORMAT, "%s: head.modulation says dim %d, which is not a multiple of "
                         "the head size %d of every Wan model", path, c->dim, WAN_HEAD_DIM);
  if (c->num_layers == 0)
    return rl_set_error (RL_E_FORMAT, "%s: no blocks.N.modulation tensors; not a complete Wan model", path);
  if (c->in_dim == 36)
    return rl_set_error (RL_E_NOT_SUPPORTED, "%s is a Wan2.2 image-to-video A14B expert (36 input "
                         "channels); Raylight runs Wan text-to-video models so far", path);
  if (c->in_dim == 48 && c->out_dim == 16)
    return rl_set_error (RL_E_NOT_SUPPORTED, "%s is a Wan Fun control model (48 input channels, "
                         "16 output); Raylight runs Wan text-to-video models so far", path);
  if ((c->in_dim != 16 && c->in_dim != 48) || c->out_dim != c->in_dim)
    return rl_set_error (RL_E_NOT_SUPPORTED, "%s: a Wan model with %d input and %d output channels "
                         "(patch_embedding.weight, head.head.weight) is not a known text-to-video "
                         "variant", path, c->in_dim, c->out_dim);
  name_variant (c);
  return RL_OK;
}

int64_t
wan_dit_token_count (int64_t T,
                     int64_t H,
                     int64_t W)
{
  return T * ((H + 1) / WAN_PATCH_H) * ((W + 1) / WAN_PATCH_W);
}
