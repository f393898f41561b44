/* The UMT5-XXL text encoder of Wan, written against the op table so it runs
 * on every backend. One function per block (MODELS.md §3.2, ComfyUI's
 * comfy/text_encoders/t5.py with enable_attention_masks and
 * zero_out_masked):
 *
 *   x = shared[ids]
 *   N × { x += o(attn(q h, k h, v h) with bias_i + key mask), h = RMS(x)·w
 *         x += wo(gelu_tanh(wi_0 h) · wi_1 h),               h = RMS(x)·w }
 *   out = final_layer_norm(x) · mask
 *
 * Attention has NO 1/√d scaling; bias_i is layer i's own relative-position
 * bias, gathered from the bucket of (key − query). Activations are fp32, as
 * ComfyUI runs text encoders; matmuls read the checkpoint's dtype (f32,
 * f16, bf16, scaled fp8) and accumulate in fp32. */
#pragma once

#include <stdint.h>

#include "plugins/wan/umt5-config.h"
#include "workers/runtime/backend.h"

typedef struct Umt5Encoder Umt5Encoder;

/* Makes the weights of `st` usable on `ctx`'s device: zero-copy views of
 * the mapping on the CPU backend, uploads elsewhere. Every tensor is
 * checked against `config` (RL_E_FORMAT naming the key, the expected and
 * the found shape). The `spiece_model` tokenizer blob is not read. `st`
 * must stay open while the encoder lives. */
RlStatus  umt5_load           (const RlBackend    *backend,
                               RlContext          *ctx,
                               RlSafetensors      *st,
                               const Umt5Config   *config,
                               Umt5Encoder       **out);
void      umt5_free           (Umt5Encoder        *encoder);   /* NULL-safe */
const Umt5Config *umt5_config (const Umt5Encoder  *encoder);

/* Encodes a batch of token rows.
 *   ids   host int32 [batch, length], each in [0, vocab) (RL_E_INVALID_ARG
 *         naming the row, column and id otherwise)
 *   mask  host uint8 [batch, length], 1 for tokens and EOS, 0 for padding
 *         (RlTokenSequence.mask); NULL = every position is a token
 *   out   f32 [batch, length, d_model], contiguous, on the device; written
 *         whole, rows of padding tokens exactly 0.
 * Padding tokens are excluded as attention keys; a row with no token at all
 * gives zeros. */
RlStatus  umt5_encode         (Umt5Encoder        *encoder,
                               const int32_t      *ids,
                               const uint8_t      *mask,
                               int64_t             batch,
                               int64_t             length,
                               RlTensor           *out);

/* CLIPTextEncode's encoding of one weighted prompt (ComfyUI's
 * encode_token_weights for UMT5): ids, weights and mask of `length`
 * entries, as comfy-tokens.h lays them out (RlTokenSequence's fields).
 * Without weights (NULL, or every weight exactly 1) this is umt5_encode of
 * the one row. Otherwise the prompt and an empty prompt (EOS, then padding,
 * same length) are encoded together and every token of weight w ≠ 1
 * becomes (z − z_empty)·w + z_empty; the others are left as they are.
 *   out   f32 [1, length, d_model] on the device. */
RlStatus  umt5_encode_weighted (Umt5Encoder       *encoder,
                               const int32_t      *ids,
                               const double       *weights,
                               const uint8_t      *mask,
                               int64_t             length,
                               RlTensor           *out);
