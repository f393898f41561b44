#include "plugins/wan/umt5-config.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define TRY(expr)                          \
  do {                                     \
    RlStatus try_status_ = (expr);         \
    if (try_status_ < 0)                   \
      return try_status_;                  \
  } while (0)

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

typedef struct {
  const char *block_head;   /* "encoder.block." before the block index, NULL for whole-model weights */
  const char *name;
} KeyPattern;

static const KeyPattern hf_keys[] = {
  [UMT5_W_SHARED]        = { NULL, "shared.weight" },
  [UMT5_W_FINAL_NORM]    = { NULL, "encoder.final_layer_norm.weight" },
  [UMT5_W_Q]             = { "encoder.block.", "layer.0.SelfAttention.q.weight" },
  [UMT5_W_K]             = { "encoder.block.", "layer.0.SelfAttention.k.weight" },
  [UMT5_W_V]             = { "encoder.block.", "layer.0.SelfAttention.v.weight" },
  [UMT5_W_O]             = { "encoder.block.", "layer.0.SelfAttention.o.weight" },
  [UMT5_W_RELATIVE_BIAS] = { "encoder.block.", "layer.0.SelfAttention.relative_attention_bias.weight" },
  [UMT5_W_ATTN_NORM]     = { "encoder.block.", "layer.0.layer_norm.weight" },
  [UMT5_W_WI_0]          = { "encoder.block.", "layer.1.DenseReluDense.wi_0.weight" },
  [UMT5_W_WI_1]          = { "encoder.block.", "layer.1.DenseReluDense.wi_1.weight" },
  [UMT5_W_WO]            = { "encoder.block.", "layer.1.DenseReluDense.wo.weight" },
  [UMT5_W_FFN_NORM]      = { "encoder.block.", "layer.1.layer_norm.weight" },
};

/* Wan2.1 wan/modules/t5.py: T5FeedForward computes fc1(x) · gate(x) with
 * gate = GELU(Linear), so gate.0 is wi_0 and fc1 is wi_1. */
static const KeyPattern wan_keys[] = {
  [UMT5_W_SHARED]        = { NULL, "token_embedding.weight" },
  [UMT5_W_FINAL_NORM]    = { NULL, "norm.weight" },
  [UMT5_W_Q]             = { "blocks.", "attn.q.weight" },
  [UMT5_W_K]             = { "blocks.", "attn.k.weight" },
  [UMT5_W_V]             = { "blocks.", "attn.v.weight" },
  [UMT5_W_O]             = { "blocks.", "attn.o.weight" },
  [UMT5_W_RELATIVE_BIAS] = { "blocks.", "pos_embedding.embedding.weight" },
  [UMT5_W_ATTN_NORM]     = { "blocks.", "norm1.weight" },
  [UMT5_W_WI_0]          = { "blocks.", "ffn.gate.0.weight" },
  [UMT5_W_WI_1]          = { "blocks.", "ffn.fc1.weight" },
  [UMT5_W_WO]            = { "blocks.", "ffn.fc2.weight" },
  [UMT5_W_FFN_NORM]      = { "blocks.", "norm2.weight" },
};

const char *
umt5_weight_key (const Umt5Config *c,
                 Umt5Weight        w,
                 int               block,
                 char             *buf,
                 size_t            size)
{
  const KeyPattern *p = c->naming == UMT5_NAMING_WAN ? &wan_keys[w] : &hf_keys[w];

  if (p->block_head == NULL)
    snprintf (buf, size, "%s%s", c->prefix, p->name);
  else
    snprintf (buf, size, "%s%s%d.%s", c->prefix, p->block_head, block, p->name);
  return buf;
}

static const RlSafetensorsTensor *
find_weight (const RlSafetensors *st,
             const Umt5Config    *c,
             Umt5Weight           w,
             int                  block)
{
  char key[256];

  return rl_safetensors_find (st, umt5_weight_key (c, w, block, key, sizeof key));
}

/* Rank-2 weight or NULL. */
static const RlSafetensorsTensor *
find_matrix (const RlSafetensors *st,
             const Umt5Config    *c,
             Umt5Weight           w,
             int                  block)
{
  const RlSafetensorsTensor *t = find_weight (st, c, w, block);

  return t != NULL && t->ndim == 2 ? t : NULL;
}

static int
count_blocks (const RlSafetensors *st,
              const Umt5Config    *c)
{
  int n = 0;

  while (find_weight (st, c, UMT5_W_Q, n) != NULL)
    n++;
  return n;
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

/* Finds the naming and prefix; false when the file holds no T5-style
 * encoder in either. */
static bool
detect_naming (const RlSafetensors *st,
               Umt5Config          *c)
{
  const char *prefix = detect_prefix (st);

  if (prefix != NULL)
    {
      c->naming = UMT5_NAMING_HF;
      snprintf (c->prefix, sizeof c->prefix, "%s", prefix);
      return true;
    }
  c->naming = UMT5_NAMING_WAN;
  c->prefix[0] = '\0';
  return find_weight (st, c, UMT5_W_SHARED, 0) != NULL && find_weight (st, c, UMT5_W_Q, 0) != NULL;
}

/* Refuses T5 relatives that are not UMT5, by name. */
static RlStatus
refuse_other_t5 (const RlSafetensors *st,
                 const Umt5Config    *c)
{
  const char *path = rl_safetensors_path (st);
  char key[256];

  snprintf (key, sizeof key, "%sencoder.block.0.layer.1.DenseReluDense.wi.weight", c->prefix);
  if (c->naming == UMT5_NAMING_HF && find_weight (st, c, UMT5_W_WI_0, 0) == NULL && rl_safetensors_find (st, key))
    return rl_set_error (RL_E_FORMAT, "%s is an original T5 encoder (ungated ReLU feed-forward "
                         "DenseReluDense.wi), not UMT5; Wan needs umt5_xxl_fp16.safetensors", path);
  if (c->num_layers > 1 && find_weight (st, c, UMT5_W_RELATIVE_BIAS, 1) == NULL)
    return rl_set_error (RL_E_FORMAT, "%s is a T5 v1.1 encoder (relative-position bias in block 0 "
                         "only, like the t5xxl that Flux and SD3 use), not UMT5, whose every block "
                         "has its own bias; Wan needs umt5_xxl_fp16.safetensors", path);
  return RL_OK;
}

RlStatus
umt5_config_detect (const RlSafetensors *st,
                    Umt5Config          *c)
{
  const char *path = rl_safetensors_path (st);
  const RlSafetensorsTensor *shared, *q, *bias, *wi_0;
  char key[256];

  memset (c, 0, sizeof *c);
  if (!detect_naming (st, c))
    return rl_set_error (RL_E_FORMAT, "%s is not a UMT5 text encoder (no "
                         "encoder.block.0.layer.0.SelfAttention.q.weight): it looks like %s",
                         path, guess_other_kind (st));
  c->num_layers = count_blocks (st, c);
  TRY (refuse_other_t5 (st, c));

  shared = find_matrix (st, c, UMT5_W_SHARED, 0);
  q = find_matrix (st, c, UMT5_W_Q, 0);
  bias = find_matrix (st, c, UMT5_W_RELATIVE_BIAS, 0);
  wi_0 = find_matrix (st, c, UMT5_W_WI_0, 0);
  if (shared == NULL || q == NULL || bias == NULL || wi_0 == NULL)
    return rl_set_error (RL_E_FORMAT, "%s looks like a T5-family encoder but lacks %s of rank 2; "
                         "the file is damaged or not a complete UMT5 encoder", path,
                         umt5_weight_key (c, shared == NULL ? UMT5_W_SHARED : q == NULL ? UMT5_W_Q
                                          : bias == NULL ? UMT5_W_RELATIVE_BIAS : UMT5_W_WI_0,
                                          0, key, sizeof key));

  c->d_model = (int) shared->shape[1];
  c->vocab = (int) shared->shape[0];
  c->num_buckets = (int) bias->shape[0];
  c->num_heads = (int) bias->shape[1];
  c->d_ff = (int) wi_0->shape[0];
  c->max_distance = UMT5_MAX_DISTANCE;
  c->eps = UMT5_EPS;
  if (c->num_heads <= 0 || q->shape[0] % c->num_heads != 0)
    return rl_set_error (RL_E_FORMAT, "%s: %s has %lld rows, not a multiple of the %d heads that "
                         "the relative-position bias gives", path, umt5_weight_key (c, UMT5_W_Q, 0, key, sizeof key),
                         (long long) q->shape[0], c->num_heads);
  c->d_kv = (int) (q->shape[0] / c->num_heads);
  if (c->num_buckets < 4 || c->num_buckets % 4 != 0)
    return rl_set_error (RL_E_FORMAT, "%s: the relative-position bias has %d buckets; T5 needs a "
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
