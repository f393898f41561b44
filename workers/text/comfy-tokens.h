/* Token sequences laid out as ComfyUI's SDTokenizer lays them out for the
 * UMT5-XXL encoder of Wan (comfy/text_encoders/wan.py UMT5XXlTokenizer:
 * no start token, end token = the sentencepiece EOS (1 for UMT5), pad token
 * 0, min_length 512, max_length 99999999 so no truncation or splitting):
 *
 *   ids     = tokens, EOS, pad ... pad      length max(min_length, n + 1)
 *   weights = w ...   1,   1   ... 1        (prompt weights, comfy-prompt.h)
 *   mask    = 1 ...   1,   0   ... 0        (1 for the tokens and the EOS)
 *
 * When any weight differs from 1, ComfyUI also encodes an empty prompt and
 * mixes z = (z − z_empty)·w + z_empty per token: that is the encoder's
 * job, rl_token_sequence_has_weights tells it. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "workers/runtime/status.h"
#include "workers/text/tokenizer.h"

/* ComfyUI's UMT5 settings. */
#define RL_UMT5_MIN_LENGTH 512
#define RL_UMT5_PAD_ID     0

typedef struct {
  int32_t *ids;          /* owned; `length` entries each */
  double  *weights;
  uint8_t *mask;         /* 1 for tokens and EOS, 0 for padding */
  size_t   length;
  size_t   token_count;  /* tokens before the EOS */
} RlTokenSequence;

typedef struct {
  size_t  min_length;    /* pad up to this many ids (RL_UMT5_MIN_LENGTH) */
  size_t  max_length;    /* 0: never truncate (ComfyUI); else keep at most
                            max_length - 1 tokens before the EOS, as the
                            original Wan T5 tokenizer (512) does */
  int32_t pad_id;        /* RL_UMT5_PAD_ID */
} RlTokenLayout;

/* The layout ComfyUI uses for UMT5: min 512, no truncation, pad 0. */
RlTokenLayout rl_token_layout_umt5          (void);

/* Lays out `count` token ids (with their weights, or all 1 when `weights`
 * is NULL) followed by `eos_id`, padded per `layout`. */
RlStatus      rl_comfy_tokens_layout        (const int32_t       *tokens,
                                             const double        *weights,
                                             size_t               count,
                                             int32_t              eos_id,
                                             const RlTokenLayout *layout,
                                             RlTokenSequence     *out);

/* CLIPTextEncode's tokenization: splits the prompt with ComfyUI's weight
 * syntax (comfy-prompt.h), encodes each piece separately with `tokenizer`
 * and lays the ids out with the model's EOS. Fails with RL_E_FORMAT when
 * the model defines no EOS control piece. */
RlStatus      rl_comfy_tokens_encode        (const RlTokenizer   *tokenizer,
                                             const char          *prompt,
                                             size_t               length,
                                             const RlTokenLayout *layout,
                                             RlTokenSequence     *out);

/* 1 when some token's weight is not exactly 1. */
int           rl_token_sequence_has_weights (const RlTokenSequence *sequence);

/* Frees the arrays and empties the sequence; safe on an empty one. */
void          rl_token_sequence_clear       (RlTokenSequence     *sequence);
