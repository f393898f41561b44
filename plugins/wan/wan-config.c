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

/* A cheap guess for the message when a file is not a Wan DiT at all. */
static const char *
guess_other_kind (const RlSafetensors *st)
{
  if (rl_safetensors_find (st, "encoder.block.0.layer.0.SelfAttention.q.weight") ||
      rl_safetensors_find (st, "spiece_model"))
    return "a T5/UMT5 text encoder (load it with CLIPLoader)";
  if (rl_safetensors_find (st, "decoder.conv1.weight") || rl_safetensors_find (st, "decoder.head.2.weight"))
    return "a VAE (load it with VAELoader)";
  if (rl_safetensors_find (st, "double_blocks.0.img_attn.norm.key_norm.scale"))
    return "a Flux model";
  if (rl_safetensors_find (st, "txt_norm.weight"))
    return "a Qwen-Image model";
  return "not a known model";
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

  memset (c, 0, sizeof *c);
  if (prefix == NULL)
    return rl_set_error (RL_E_FORMAT, "%s is not a Wan diffusion model (no head.modulation): "
                         "it looks like %s", path, guess_other_kind (st));
  snprintf (c->prefix, sizeof c->prefix, "%s", prefix);

  if (find_key (st, prefix, "img_emb.proj.0.bias") != NULL)
    return rl_set_error (RL_E_NOT_SUPPORTED, "%s is a Wan2.1 image-to-video (or first-last-frame) "
                         "model; Raylight runs Wan text-to-video models so far", path);
  if (find_key (st, prefix, "vace_patch_embedding.weight") != NULL)
    return rl_set_error (RL_E_NOT_SUPPORTED, "%s is a Wan VACE model, not supported yet", path);

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
  if (c->in_dim != 16 && c->in_dim != 48)
    return rl_set_error (RL_E_NOT_SUPPORTED, "%s: a Wan model with %d input channels is not a "
                         "known text-to-video variant", path, c->in_dim);
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
