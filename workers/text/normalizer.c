/* sentencepiece normalization. See normalizer.h. */
#include "workers/text/normalizer.h"

#include <stdlib.h>
#include <string.h>

static const char space_symbol[] = "\xe2\x96\x81";   /* U+2581 '▁' */
static const char replacement_char[] = "\xef\xbf\xbd"; /* U+FFFD */

RlStatus
rl_spm_normalizer_init (RlSpmNormalizer *normalizer, const RlSpmModel *model,
                        const RlPieceTrie *user_defined)
{
  memset (normalizer, 0, sizeof *normalizer);
  normalizer->user_defined = user_defined;
  normalizer->add_dummy_prefix = model->add_dummy_prefix;
  normalizer->remove_extra_whitespaces = model->remove_extra_whitespaces;
  normalizer->escape_whitespaces = model->escape_whitespaces;
  normalizer->treat_whitespace_as_suffix = model->treat_whitespace_as_suffix;

  size_t size = model->precompiled_charsmap_size;
  const uint8_t *blob = model->precompiled_charsmap;
  if (size == 0)
    return RL_OK;
  /* <uint32 LE trie size><double array><replacement strings> */
  if (size <= 4)
    return rl_set_error (RL_E_FORMAT, "sentencepiece model: precompiled_charsmap of %zu bytes is broken", size);
  uint32_t trie_size = (uint32_t) blob[0] | (uint32_t) blob[1] << 8 | (uint32_t) blob[2] << 16
                       | (uint32_t) blob[3] << 24;
  if (trie_size >= size)
    return rl_set_error (RL_E_FORMAT,
                         "sentencepiece model: precompiled_charsmap trie size %u exceeds the %zu-byte blob",
                         trie_size, size);
  size_t unit_count = trie_size / 4;
  if (unit_count == 0)
    return rl_set_error (RL_E_FORMAT, "sentencepiece model: precompiled_charsmap has an empty trie");
  normalizer->units = malloc (unit_count * sizeof *normalizer->units);
  if (normalizer->units == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "sentencepiece model: no memory for the charsmap trie");
  const uint8_t *p = blob + 4;
  for (size_t i = 0; i < unit_count; i++, p += 4)
    normalizer->units[i] = (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16
                           | (uint32_t) p[3] << 24;
  normalizer->unit_count = unit_count;
  normalizer->replacements = (const char *) blob + 4 + trie_size;
  normalizer->replacements_size = size - 4 - trie_size;
  return RL_OK;
}

void
rl_spm_normalizer_clear (RlSpmNormalizer *normalizer)
{
  free (normalizer->units);
  memset (normalizer, 0, sizeof *normalizer);
}

/* Darts-clone unit fields. */
static int      unit_has_leaf (uint32_t u) { return (u >> 8) & 1; }
static uint32_t unit_value    (uint32_t u) { return u & 0x7fffffffu; }
static uint32_t unit_label    (uint32_t u) { return u & 0x800000ffu; }
static uint32_t unit_offset   (uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }

/* Longest charsmap rule matching a prefix of text: its byte length (0 when
 * none) and the replacement. -1 when the trie or the replacement offset
 * points outside the blob. */
static int
charsmap_longest (const RlSpmNormalizer *nz, const uint8_t *text, size_t length,
                  size_t *match_length, const char **replacement, size_t *replacement_length)
{
  *match_length = 0;
  size_t pos = 0;
  uint32_t unit = nz->units[0];
  pos ^= unit_offset (unit);
  uint32_t best_value = 0;
  for (size_t i = 0; i < length; i++) {
    pos ^= text[i];
    if (pos >= nz->unit_count)
      return -1;
    unit = nz->units[pos];
    if (unit_label (unit) != text[i])
      break;
    pos ^= unit_offset (unit);
    if (unit_has_leaf (unit)) {
      if (pos >= nz->unit_count)
        return -1;
      best_value = unit_value (nz->units[pos]);
      *match_length = i + 1;
    }
  }
  if (*match_length == 0)
    return 0;
  if (best_value >= nz->replacements_size)
    return -1;
  const char *s = nz->replacements + best_value;
  const char *nul = memchr (s, '\0', nz->replacements_size - best_value);
  *replacement = s;
  *replacement_length = nul ? (size_t) (nul - s) : nz->replacements_size - best_value;
  return 0;
}

/* Length of a valid UTF-8 character at text (sentencepiece's DecodeUTF8
 * rules: no overlongs, no surrogates, ≤ U+10FFFF), 0 when invalid. A
 * literal U+FFFD counts as valid. */
static size_t
valid_utf8_length (const uint8_t *s, size_t n)
{
  uint8_t c = s[0];
  if (c < 0x80)
    return 1;
  if (n >= 2 && (c & 0xe0) == 0xc0) {
    uint32_t cp = ((uint32_t) (c & 0x1f) << 6) | (s[1] & 0x3f);
    return ((s[1] & 0xc0) == 0x80 && cp >= 0x80) ? 2 : 0;
  }
  if (n >= 3 && (c & 0xf0) == 0xe0) {
    uint32_t cp = ((uint32_t) (c & 0x0f) << 12) | ((uint32_t) (s[1] & 0x3f) << 6) | (s[2] & 0x3f);
    int trail = (s[1] & 0xc0) == 0x80 && (s[2] & 0xc0) == 0x80;
    return (trail && cp >= 0x800 && (cp < 0xd800 || cp >= 0xe000)) ? 3 : 0;
  }
  if (n >= 4 && (c & 0xf8) == 0xf0) {
    uint32_t cp = ((uint32_t) (c & 0x07) << 18) | ((uint32_t) (s[1] & 0x3f) << 12)
                  | ((uint32_t) (s[2] & 0x3f) << 6) | (s[3] & 0x3f);
    int trail = (s[1] & 0xc0) == 0x80 && (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80;
    return (trail && cp >= 0x10000 && cp <= 0x10ffff) ? 4 : 0;
  }
  return 0;
}

/* NormalizePrefix: the normalized form of the first unit of text and how
 * many input bytes it consumes. */
static int
normalize_prefix (const RlSpmNormalizer *nz, const uint8_t *text, size_t length,
                  const char **piece, size_t *piece_length, size_t *consumed)
{
  if (nz->user_defined) {
    size_t m = rl_piece_trie_longest_prefix (nz->user_defined, text, length);
    if (m > 0) {
      *piece = (const char *) text;
      *piece_length = *consumed = m;
      return 0;
    }
  }
  if (nz->units) {
    size_t m;
    if (charsmap_longest (nz, text, length, &m, piece, piece_length) != 0)
      return -1;
    if (m > 0) {
      *consumed = m;
      return 0;
    }
  }
  size_t n = valid_utf8_length (text, length);
  if (n == 0) {
    *piece = replacement_char;
    *piece_length = 3;
    *consumed = 1;
  } else {
    *piece = (const char *) text;
    *piece_length = *consumed = n;
  }
  return 0;
}

typedef struct {
  char  *data;
  size_t length, capacity;
} Buffer;

static int
buffer_append (Buffer *b, const char *s, size_t n)
{
  if (b->length + n + 1 > b->capacity) {
    size_t capacity = b->capacity * 2 + n + 16;
    char *grown = realloc (b->data, capacity);
    if (grown == NULL)
      return -1;
    b->data = grown;
    b->capacity = capacity;
  }
  memcpy (b->data + b->length, s, n);
  b->length += n;
  b->data[b->length] = '\0';
  return 0;
}

static int
ends_with (const Buffer *b, const char *s, size_t n)
{
  return b->length >= n && memcmp (b->data + b->length - n, s, n) == 0;
}

RlStatus
rl_spm_normalize (const RlSpmNormalizer *nz, const char *text, size_t length,
                  char **out, size_t *out_length)
{
  *out = NULL;
  *out_length = 0;
  Buffer b = { .data = NULL, .length = 0, .capacity = 0 };
  if (buffer_append (&b, "", 0) != 0)
    return rl_set_error (RL_E_NO_MEMORY, "tokenizer: no memory to normalize text");

  const uint8_t *in = (const uint8_t *) text;
  size_t left = length;
  const char *piece;
  size_t piece_length, consumed;

  if (nz->remove_extra_whitespaces) {
    while (left > 0) {
      if (normalize_prefix (nz, in, left, &piece, &piece_length, &consumed) != 0)
        goto corrupt;
      if (!(piece_length == 1 && piece[0] == ' '))
        break;
      in += consumed;
      left -= consumed;
    }
  }
  if (left == 0)
    goto done;

  const char *space = nz->escape_whitespaces ? space_symbol : " ";
  size_t space_length = nz->escape_whitespaces ? 3 : 1;
  if (!nz->treat_whitespace_as_suffix && nz->add_dummy_prefix)
    if (buffer_append (&b, space, space_length) != 0)
      goto no_memory;

  int is_prev_space = nz->remove_extra_whitespaces;
  while (left > 0) {
    if (normalize_prefix (nz, in, left, &piece, &piece_length, &consumed) != 0)
      goto corrupt;
    while (is_prev_space && piece_length > 0 && piece[0] == ' ') {
      piece++;
      piece_length--;
    }
    if (piece_length > 0) {
      for (size_t i = 0; i < piece_length; i++) {
        int ok = (nz->escape_whitespaces && piece[i] == ' ')
                   ? buffer_append (&b, space_symbol, 3)
                   : buffer_append (&b, piece + i, 1);
        if (ok != 0)
          goto no_memory;
      }
      is_prev_space = piece[piece_length - 1] == ' ';
    }
    in += consumed;
    left -= consumed;
    if (!nz->remove_extra_whitespaces)
      is_prev_space = 0;
  }

  if (nz->remove_extra_whitespaces) {
    while (ends_with (&b, space, space_length)) {
      b.length -= space_length;
      b.data[b.length] = '\0';
    }
  }
  if (nz->treat_whitespace_as_suffix && nz->add_dummy_prefix)
    if (buffer_append (&b, space, space_length) != 0)
      goto no_memory;

done:
  *out = b.data;
  *out_length = b.length;
  return RL_OK;

no_memory:
  free (b.data);
  return rl_set_error (RL_E_NO_MEMORY, "tokenizer: no memory to normalize %zu bytes of text", length);
corrupt:
  free (b.data);
  return rl_set_error (RL_E_FORMAT,
                       "tokenizer: the precompiled_charsmap trie points outside its data; "
                       "the tokenizer model is damaged");
}
