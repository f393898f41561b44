/* Which UMT5 encoder a checkpoint holds, read off its tensor names and
 * shapes (ComfyUI / Hugging Face naming, MODELS.md §3.5):
 *
 *   shared.weight [vocab, d_model]
 *   encoder.block.{i}.layer.0.SelfAttention.{q,k,v}.weight [inner, d_model]
 *   encoder.block.{i}.layer.0.SelfAttention.o.weight       [d_model, inner]
 *   encoder.block.{i}.layer.0.SelfAttention.relative_attention_bias.weight
 *                                                     [num_buckets, heads]
 *   encoder.block.{i}.layer.1.DenseReluDense.{wi_0,wi_1}.weight [d_ff, d_model]
 *   encoder.block.{i}.layer.1.DenseReluDense.wo.weight   [d_model, d_ff]
 *   encoder.block.{i}.layer.{0,1}.layer_norm.weight, encoder.final_layer_norm.weight
 *
 * or the original Wan naming (token_embedding.weight, blocks.N.attn.q.weight,
 * blocks.N.pos_embedding.embedding.weight, blocks.N.ffn.{gate.0,fc1,fc2},
 * blocks.N.norm{1,2}, norm.weight), the same tensors under other names.
 *
 * UMT5 differs from classic T5 v1.1 by a relative-position bias in EVERY
 * layer; a file with the bias in block 0 only is T5 (Flux's, SD3's t5xxl)
 * and refused with that name, as are other families' files. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "workers/checkpoint/safetensors.h"
#include "workers/runtime/status.h"

#define UMT5_MAX_DISTANCE  128       /* umt5_config_xxl.json */
#define UMT5_EPS           1e-6f
#define UMT5_EOS_ID        1
#define UMT5_PAD_ID        0
#define UMT5_NAME_MAX      96

/* How the file names its tensors. */
typedef enum {
  UMT5_NAMING_HF = 0,    /* ComfyUI / transformers: shared.weight, encoder.block.N.layer.* */
  UMT5_NAMING_WAN,       /* original Wan t5.py: token_embedding.weight, blocks.N.attn.*
                          * (umt5-xxl-enc-bf16 files) */
} Umt5Naming;

/* The weights of the encoder; the per-block ones take a block index. */
typedef enum {
  UMT5_W_SHARED = 0,     /* token embedding [vocab, d_model] */
  UMT5_W_FINAL_NORM,     /* [d_model] */
  UMT5_W_Q,              /* [inner, d_model], inner = heads · d_kv */
  UMT5_W_K,
  UMT5_W_V,
  UMT5_W_O,              /* [d_model, inner] */
  UMT5_W_RELATIVE_BIAS,  /* [num_buckets, heads] */
  UMT5_W_ATTN_NORM,      /* [d_model] */
  UMT5_W_WI_0,           /* gate, through GELU(tanh) [d_ff, d_model] */
  UMT5_W_WI_1,           /* linear [d_ff, d_model] */
  UMT5_W_WO,             /* [d_model, d_ff] */
  UMT5_W_FFN_NORM,       /* [d_model] */
} Umt5Weight;

typedef struct {
  int   d_model;
  int   d_kv;            /* per head */
  int   num_heads;
  int   d_ff;
  int   num_layers;
  int   vocab;
  int   num_buckets;     /* relative_attention_num_buckets (32) */
  int   max_distance;    /* relative_attention_max_distance (128) */
  float eps;
  Umt5Naming naming;
  char  prefix[48];      /* "" or "text_encoders.umt5xxl.transformer." */
  char  variant[UMT5_NAME_MAX];   /* "UMT5-XXL", or the dims of another size */
} Umt5Config;

/* Detects the encoder in `st`. RL_E_FORMAT with rl_last_error() naming the
 * file when it is not a UMT5 encoder, saying what it looks like instead
 * (T5-XXL, a Wan DiT, a VAE, ...) and what to load. */
RlStatus  umt5_config_detect    (const RlSafetensors *st,
                                 Umt5Config          *config);

/* The checkpoint key of weight `w` (of block `block` for per-block
 * weights; ignored otherwise) in config's naming, prefix included.
 * Returns buf. */
const char *umt5_weight_key     (const Umt5Config    *config,
                                 Umt5Weight           w,
                                 int                  block,
                                 char                *buf,
                                 size_t               size);

/* T5's bidirectional relative-position bucket of
 * relative_position = key_position − query_position, computed in float32
 * exactly as transformers' _relative_position_bucket (and ComfyUI) do:
 * half the buckets for keys after the query, exact buckets for distances
 * below num_buckets/4, logarithmic ones up to max_distance, clamped. */
int       umt5_relative_bucket  (int64_t              relative_position,
                                 int                  num_buckets,
                                 int                  max_distance);
