/* sentencepiece's normalizer (normalizer.cc semantics): the precompiled
 * charsmap (a Darts-clone double-array trie over UTF-8 byte strings plus a
 * blob of NUL-terminated replacements, NFKC-derived for nmt_nfkc) applied by
 * longest prefix match, user-defined pieces passed through untouched, bytes
 * of invalid UTF-8 replaced one at a time by U+FFFD, then whitespace
 * handling: leading, trailing and repeated spaces dropped
 * (remove_extra_whitespaces), a dummy '▁' prefix (add_dummy_prefix), and
 * ' ' escaped as U+2581 (escape_whitespaces). Internal to workers/text. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "workers/runtime/status.h"
#include "workers/text/piece-trie.h"
#include "workers/text/sentencepiece-model.h"

typedef struct {
  uint32_t          *units;            /* owned copy of the double array */
  size_t             unit_count;
  const char        *replacements;     /* into the model bytes */
  size_t             replacements_size;
  const RlPieceTrie *user_defined;     /* borrowed; NULL when none */
  int                add_dummy_prefix;
  int                remove_extra_whitespaces;
  int                escape_whitespaces;
  int                treat_whitespace_as_suffix;
} RlSpmNormalizer;

/* Sets up the normalizer of `model` (whose bytes must outlive it).
 * `user_defined` holds the model's USER_DEFINED pieces or is NULL. Returns
 * RL_E_FORMAT when the precompiled charsmap is broken. */
RlStatus rl_spm_normalizer_init  (RlSpmNormalizer   *normalizer,
                                  const RlSpmModel  *model,
                                  const RlPieceTrie *user_defined);

void     rl_spm_normalizer_clear (RlSpmNormalizer   *normalizer);

/* Normalizes text[0..length) (any bytes) into a new NUL-terminated buffer
 * *out of *out_length bytes, owned by the caller (free ()). Returns RL_OK,
 * RL_E_NO_MEMORY, or RL_E_FORMAT when a charsmap lookup leaves the trie. */
RlStatus rl_spm_normalize        (const RlSpmNormalizer *normalizer,
                                  const char            *text,
                                  size_t                 length,
                                  char                 **out,
                                  size_t                *out_length);
