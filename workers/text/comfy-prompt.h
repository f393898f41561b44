/* ComfyUI's prompt weight syntax (comfy/sd1_clip.py: escape_important,
 * parse_parentheses, token_weights, and the "embedding:" split of
 * SDTokenizer.tokenize_with_weights), reproduced so that a workflow's
 * prompt is cut into the same pieces ComfyUI tokenizes one by one:
 *
 *   "a cat, (blue:1.2) sky"  ->  "a cat, " 1.0 | "blue" 1.2 | " sky" 1.0
 *   "((red))"                ->  "red" 1.21 (1.1 per unnamed level)
 *   "\(literal\)"            ->  "(literal)" 1.0
 *
 * Each piece is tokenized on its own (so each gets sentencepiece's dummy
 * '▁' prefix), exactly as ComfyUI does. "embedding:NAME" words: Raylight
 * has no textual-inversion embeddings, so NAME is dropped with the rest of
 * the word kept, which is what ComfyUI does for an embedding it cannot find.
 * A prompt without parentheses or "embedding:" is one piece of weight 1. */
#pragma once

#include <stddef.h>

#include "workers/runtime/status.h"

typedef struct {
  char   *text;      /* owned, NUL-terminated */
  size_t  length;
  double  weight;
} RlPromptPiece;

typedef struct {
  RlPromptPiece *pieces;
  size_t         count;
} RlPromptPieces;

/* Splits prompt[0..length) into pieces. Fails with RL_E_INVALID_ARG when
 * parentheses nest deeper than 1000 levels (ComfyUI's Python recursion
 * fails there too). */
RlStatus rl_comfy_prompt_split (const char     *prompt,
                                size_t          length,
                                RlPromptPieces *out);

void     rl_comfy_prompt_clear (RlPromptPieces *pieces);
