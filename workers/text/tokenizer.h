/* SentencePiece unigram tokenizer, bit-for-bit compatible with the
 * sentencepiece library's encoder (Python: SentencePieceProcessor.encode),
 * for the UMT5 text encoder of Wan and other T5-family encoders.
 *
 * The model comes as the bytes of a serialized ModelProto: a .model file or
 * the `spiece_model` uint8 tensor that ComfyUI's UMT5 text-encoder
 * safetensors carry. Encoding = normalization (precompiled NFKC charsmap,
 * whitespace rules, '▁' escaping; see normalizer.h) then the unigram Viterbi
 * segmentation with sentencepiece's scores, tie-breaking and unknown-piece
 * rules: characters no piece covers become unk_id, a run of consecutive
 * unknown pieces becomes one unk_id, and with byte_fallback each unknown
 * piece becomes its UTF-8 bytes' <0xNN> pieces instead. Invalid UTF-8 input
 * is accepted: each invalid byte becomes U+FFFD. No BOS/EOS is added here;
 * see comfy-tokens.h for ComfyUI's EOS, padding and mask. A loaded tokenizer
 * is immutable: any number of threads may encode with it at once. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "workers/runtime/status.h"

typedef struct RlTokenizer RlTokenizer;

/* Loads a unigram model from `size` bytes (copied, so the caller may free
 * them). Fails with RL_E_FORMAT and a message saying what is wrong for
 * malformed protobuf, a non-unigram model, duplicate or empty pieces, a
 * missing <unk>, bad byte pieces or a broken charsmap. */
RlStatus     rl_tokenizer_new_from_bytes (const uint8_t      *data,
                                          size_t              size,
                                          RlTokenizer       **out);

void         rl_tokenizer_free           (RlTokenizer        *tokenizer);

/* Encodes text[0..length) (UTF-8; invalid bytes tolerated) into a new
 * array *ids of *count ids, owned by the caller (free ()); an empty result
 * gives *ids == NULL and *count == 0. */
RlStatus     rl_tokenizer_encode         (const RlTokenizer  *tokenizer,
                                          const char         *text,
                                          size_t              length,
                                          int32_t           **ids,
                                          size_t             *count);

/* The normalized form of text that the segmentation sees ('▁' for spaces),
 * as a new NUL-terminated string owned by the caller. For tests and
 * diagnostics. */
RlStatus     rl_tokenizer_normalize      (const RlTokenizer  *tokenizer,
                                          const char         *text,
                                          size_t              length,
                                          char              **normalized,
                                          size_t             *normalized_length);

/* Number of pieces (ids run from 0 to this - 1). */
size_t       rl_tokenizer_vocab_size     (const RlTokenizer  *tokenizer);

/* The piece of `id` (not NUL-terminated; *length set), NULL if out of range. */
const char  *rl_tokenizer_piece          (const RlTokenizer  *tokenizer,
                                          int32_t             id,
                                          size_t             *length);

/* Special ids from the model's trainer_spec; -1 when the model has none. */
int32_t      rl_tokenizer_unk_id         (const RlTokenizer  *tokenizer);
int32_t      rl_tokenizer_bos_id         (const RlTokenizer  *tokenizer);
int32_t      rl_tokenizer_eos_id         (const RlTokenizer  *tokenizer);
int32_t      rl_tokenizer_pad_id         (const RlTokenizer  *tokenizer);
