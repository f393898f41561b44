/* A byte trie over token pieces, walked one byte at a time: the unigram
 * lattice asks "which pieces start here" and the normalizer asks for the
 * longest user-defined piece at a position. Internal to workers/text. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "workers/runtime/status.h"

typedef struct RlPieceTrie RlPieceTrie;

typedef struct {
  const uint8_t *text;
  size_t         length;
  int32_t        value;    /* returned by rl_piece_trie_value; ≥ 0 */
} RlPieceTrieKey;

/* Builds a trie of `count` keys (copied; the array is reordered). Keys must
 * be distinct and non-empty. */
RlStatus     rl_piece_trie_new   (RlPieceTrieKey  *keys,
                                  size_t           count,
                                  RlPieceTrie    **out);

void         rl_piece_trie_free  (RlPieceTrie     *trie);

/* The root node (always 0). */
#define RL_PIECE_TRIE_ROOT 0u

/* The child of `node` along `byte`, or -1 when no key continues that way. */
int64_t      rl_piece_trie_step  (const RlPieceTrie *trie,
                                  uint32_t           node,
                                  uint8_t            byte);

/* The value of the key ending at `node`, or -1 when none ends there. */
int32_t      rl_piece_trie_value (const RlPieceTrie *trie,
                                  uint32_t           node);

/* Length of the longest key that is a prefix of text[0..length), 0 if none. */
size_t       rl_piece_trie_longest_prefix (const RlPieceTrie *trie,
                                           const uint8_t     *text,
                                           size_t             length);
