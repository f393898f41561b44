#include "plugins/wan/umt5-config.h"

#include <math.h>
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

/* ComfyUI's own text-encoder files have no prefix; a CLIP saved from a
 * ComfyUI graph keeps the model's attribute path. */
static const char *
detect_prefix (const RlSafetensors *st)
{
  static const char *const prefixes[] = { "", "text_encoders.umt5xxl.transformer.", "umt5xxl.transformer." };

  for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
    if (find_key (st, prefixes[i], "encoder.block.0.layer.0.SelfAttention.q.weight") != NULL)
      return prefixes[i];
  return NULL;
}

/* A cheap guess for the message when a file holds no T5-style encoder. */
static const char *
guess_other_kind (const RlSafetensors *st)
{
  if (rl_safetensors_find (st, "head.modulation") || rl_safetensors_find (st, "model.diffusion_model.head.modulation"))
    return "a Wan diffusion model (load it with UNETLoader)";
  if (rl_safetensors_find (st, "decoder.conv1.weight") || rl_safetensors_find (st, "decoder.head.2.weight"))
    return "a VAE (load it with VAELoader)";
  if (rl_safetensors_find (st, "double_blocks.0.img_attn.norm.key_norm.scale"))
    return "a Flux diffusion model";
  if (rl_safetensors_find (st, "txt_norm.weight"))
    return "a Qwen-Image diffusion model";
  if (rl_safetensors_find (st, "text_model.encoder.layers.0.self_attn.q_proj.weight"))
    return "a CLIP text encoder";
  if (rl_safetensors_find (st, "model.layers.0.self_attn.q_proj.weight"))
    return "a decoder-only language model (Qwen/Llama) text encoder";
  return "not a known model";
}

static int
count_blocks (const RlSafetensors *st,
              const char          *prefix)
{
  char key[96];
  int n = 0;

  for (;;)
    {
      snprintf (key, sizeof key, "encoder.block.%d.layer.0.SelfAttention.q.weight", n);
      if (find_key (st, prefix, key) == NULL)
        return n;
      n++;
    }
}

static void
name_variant (Umt5Config *c)
{
  if (c->d_model == 4096 && c->num_layers == 24 && c->num_heads == 64 && c->d_ff == 10240)
    snprintf (c->variant, sizeof c->variant, "UMT5-XXL");
  else
    snprintf (c->variant, sizeof c->variant, "UMT5 (d_model %d, %d layers, %d heads)",
              c->d_model, c->num_layers, c->num_heads);
}

/* Rank-2 tensor `key` or NULL. */
static const RlSafetensorsTensor *
find_matrix (const RlSafetensors *st,
             const char          *prefix,
             const char          *key)
{
  const RlSafetensorsTensor *t = find_key (st, prefix, key);

  return t != NULL && t->ndim == 2 ? t : NULL;
}

RlStatus
umt5_config_detect (const RlSafetensors *st,
                    Umt5Config          *c)
{
  const char *path = rl_safetensors_path (st);
  const char *prefix = detect_prefix (st);
  const RlSafetensorsTensor *shared, *q, *bias, *wi_0;

  memset (c, 0, sizeof *c);
  if (prefix == NULL)
    {
      if (rl_safetensors_find (st, "token_embedding.weight") && rl_safetensors_find (st, "blocks.0.attn.q.weight"))
        return rl_set_error (RL_E_NOT_SUPPORTED, "%s is a UMT5 encoder in the original Wan naming "
                             "(blocks.N.attn.*, as umt5-xxl-enc-bf16 files are); Raylight reads the "
                             "ComfyUI naming: use umt5_xxl_fp16.safetensors or "
                             "umt5_xxl_fp8_e4m3fn_scaled.safetensors", path);
      return rl_set_error (RL_E_FORMAT, "%s is not a UMT5 text encoder (no "
                           "encoder.block.0.layer.0.SelfAttention.q.weight): it looks like %s",
                           path, guess_other_kind (st));
    }
  snprintf (c->prefix, sizeof c->prefix, "%s", prefix);

  shared = find_matrix (st, prefix, "shared.weight");
  q = find_matrix (st, prefix, "encoder.block.0.layer.0.SelfAttention.q.weight");
  bias = find_matrix (st, prefix, "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight");
  wi_0 = find_matrix (st, prefix, "encoder.block.0.layer.1.DenseReluDense.wi_0.weight");
  c->num_layers = count_blocks (st, prefix);

  if (wi_0 == NULL && find_key (st, prefix, "encoder.block.0.layer.1.DenseReluDense.wi.weight"))
    return rl_set_error (RL_E_FORMAT, "%s is an original T5 encoder (ungated ReLU feed-forward "
                         "DenseReluDense.wi), not UMT5; Wan needs umt5_xxl_fp16.safetensors", path);
  if (c->num_layers > 1 &&
      find_key (st, prefix, "encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight") == NULL)
    return rl_set_error (RL_E_FORMAT, "%s is a T5 v1.1 encoder (relative-position bias in block 0 "
                         "only, like the t5xxl that Flux and SD3 use), not UMT5, whose every block "
                         "has its own bias; Wan needs umt5_xxl_fp16.safetensors", path);
  if (shared == NULL || bias == NULL || wi_0 == NULL)
    return rl_set_error (RL_E_FORMAT, "%s looks like a T5-family encoder but lacks %s%s of rank 2; "
                         "the file is damaged or not a complete UMT5 encoder", path, prefix,
                         shared == NULL ? "shared.weight"
                         : bias == NULL ? "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"
                         : "encoder.block.0.layer.1.DenseReluDense.wi_0.weight");

  c->d_model = (int) shared->shape[1];
  c->vocab = (int) shared->shape[0];
  c->num_buckets = (int) bias->shape[0];
  c->num_heads = (int) bias->shape[1];
  c->d_ff = (int) wi_0->shape[0];
  c->max_distance = UMT5_MAX_DISTANCE;
  c->eps = UMT5_EPS;
  if (c->num_heads <= 0 || q->shape[0] % c->num_heads != 0)
    return rl_set_error (RL_E_FORMAT, "%s: %sencoder.block.0.layer.0.SelfAttention.q.weight has %lld "
                         "rows, not a multiple of the %d heads that relative_attention_bias gives",
                         path, prefix, (long long) q->shape[0], c->num_heads);
  c->d_kv = (int) (q->shape[0] / c->num_heads);
  if (c->num_buckets < 4 || c->num_buckets % 4 != 0)
    return rl_set_error (RL_E_FORMAT, "%s: relative_attention_bias has %d buckets; T5 needs a "
                         "multiple of 4 (UMT5 uses 32)", path, c->num_buckets);
  name_variant (c);
  return RL_OK;
}

int
umt5_relative_bucket (int64_t relative_position,
                      int     num_buckets,
                      int     max_distance)
{
  const int half = num_buckets / 2, max_exact = half / 2;
  const int64_t r = relative_position < 0 ? -relative_position : relative_position;
  int bucket = relative_position > 0 ? half : 0;
  float scaled;
  int64_t large;

  if (r < max_exact)
    return bucket + (int) r;
  /* float32 throughout, with log(max_distance / max_exact) rounded to float
   * as PyTorch rounds a Python scalar for a float32 tensor: the bucket
   * edges at r = 16, 32, 64 land exactly where transformers puts them. */
  scaled = logf ((float) r / (float) max_exact) / (float) log ((double) max_distance / max_exact)
           * (float) (half - max_exact);
  large = max_exact + (int64_t) scaled;
  if (large > half - 1)
    large = half - 1;
  return bucket + (int) large;
}
