/* Byte trie with children stored contiguously and sorted by label, built
 * breadth-first from sorted keys (no recursion, so a hostile model with a
 * huge piece cannot exhaust the stack). See piece-trie.h. */
#include "workers/text/piece-trie.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
  uint32_t first_child;
  uint32_t child_count;
  int32_t  value;
  uint8_t  label;          /* byte on the edge from the parent */
  /* Build-time range of sorted keys below this node, and its depth. */
  uint32_t key_begin, key_end, depth;
} TrieNode;

struct RlPieceTrie {
  TrieNode *nodes;
  size_t    node_count;
};

static int
compare_keys (const void *a, const void *b)
{
  const RlPieceTrieKey *ka = a, *kb = b;
  size_t n = ka->length < kb->length ? ka->length : kb->length;
  int c = memcmp (ka->text, kb->text, n);
  if (c != 0)
    return c;
  return (ka->length > kb->length) - (ka->length < kb->length);
}

RlStatus
rl_piece_trie_new (RlPieceTrieKey *keys, size_t count, RlPieceTrie **out)
{
  *out = NULL;
  if (count >= UINT32_MAX)
    return rl_set_error (RL_E_OVERFLOW, "piece trie: %zu keys is too many", count);
  size_t total_bytes = 0;
  for (size_t i = 0; i < count; i++)
    total_bytes += keys[i].length;
  if (total_bytes >= UINT32_MAX)
    return rl_set_error (RL_E_OVERFLOW, "piece trie: %zu key bytes is too many", total_bytes);

  if (count)
    qsort (keys, count, sizeof *keys, compare_keys);
  RlPieceTrie *trie = calloc (1, sizeof *trie);
  /* Every node but the root is the last byte of some key prefix. */
  TrieNode *nodes = malloc ((total_bytes + 1) * sizeof *nodes);
  if (trie == NULL || nodes == NULL) {
    free (trie);
    free (nodes);
    return rl_set_error (RL_E_NO_MEMORY, "piece trie: no memory for %zu nodes", total_bytes + 1);
  }
  nodes[0] = (TrieNode) { .value = -1, .key_begin = 0, .key_end = (uint32_t) count, .depth = 0 };
  size_t node_count = 1;

  for (size_t n = 0; n < node_count; n++) {
    TrieNode *node = &nodes[n];
    uint32_t lo = node->key_begin, hi = node->key_end, depth = node->depth;
    if (lo < hi && keys[lo].length == depth)
      node->value = keys[lo++].value;
    while (lo < hi && keys[lo].length == depth)    /* duplicate: first wins */
      lo++;
    node->first_child = (uint32_t) node_count;
    node->child_count = 0;
    while (lo < hi) {
      uint8_t label = keys[lo].text[depth];
      uint32_t group_end = lo + 1;
      while (group_end < hi && keys[group_end].text[depth] == label)
        group_end++;
      nodes[node_count++] = (TrieNode) { .value = -1, .label = label, .key_begin = lo,
                                         .key_end = group_end, .depth = depth + 1 };
      node->child_count++;
      lo = group_end;
    }
  }
  trie->nodes = nodes;
  trie->node_count = node_count;
  *out = trie;
  return RL_OK;
}

void
rl_piece_trie_free (RlPieceTrie *trie)
{
  if (trie == NULL)
    return;
  free (trie->nodes);
  free (trie);
}

int64_t
rl_piece_trie_step (const RlPieceTrie *trie, uint32_t node, uint8_t byte)
{
  const TrieNode *parent = &trie->nodes[node];
  uint32_t lo = parent->first_child, hi = lo + parent->child_count;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    uint8_t label = trie->nodes[mid].label;
    if (label == byte)
      return mid;
    if (label < byte)
      lo = mid + 1;
    else
      hi = mid;
  }
  return -1;
}

int32_t
rl_piece_trie_value (const RlPieceTrie *trie, uint32_t node)
{
  return trie->nodes[node].value;
}

size_t
rl_piece_trie_longest_prefix (const RlPieceTrie *trie, const uint8_t *text, size_t length)
{
  size_t longest = 0;
  uint32_t node = RL_PIECE_TRIE_ROOT;
  for (size_t i = 0; i < length; i++) {
    int64_t next = rl_piece_trie_step (trie, node, text[i]);
    if (next < 0)
      break;
    node = (uint32_t) next;
    if (trie->nodes[node].value >= 0)
      longest = i + 1;
  }
  return longest;
}
