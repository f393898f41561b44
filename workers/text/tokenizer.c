/* Unigram tokenizer. See tokenizer.h.
 *
 * The segmentation reproduces sentencepiece's optimized Viterbi
 * (unigram_model.cc EncodeOptimized) including its arithmetic types, which
 * decide ties and near-ties: a piece's candidate score is computed in double
 * (user-defined pieces score length·max_score − 0.1, the double constant
 * promoting the sum) and stored back as float, while the unknown candidate
 * (min_score − 10) is summed in float. The first candidate to reach a
 * position keeps it unless a later one is strictly better. */
#include "workers/text/tokenizer.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "workers/text/normalizer.h"
#include "workers/text/piece-trie.h"
#include "workers/text/sentencepiece-model.h"

static const float unknown_penalty = 10.0f;

struct RlTokenizer {
  uint8_t        *bytes;          /* owned copy of the model; pieces point here */
  RlSpmModel      model;
  RlPieceTrie    *pieces;         /* NORMAL, USER_DEFINED and UNUSED pieces */
  RlPieceTrie    *user_defined;   /* USER_DEFINED only, for the normalizer */
  RlSpmNormalizer normalizer;
  int32_t         unk_id;
  float           min_score;      /* over NORMAL pieces, as sentencepiece */
  float           max_score;
  int32_t         byte_ids[256];  /* <0xNN> pieces when byte_fallback */
};

static int
is_trie_piece (RlSpmPieceType type)
{
  return type == RL_SPM_NORMAL || type == RL_SPM_USER_DEFINED || type == RL_SPM_UNUSED;
}

static int
compare_trie_keys (const void *a, const void *b)
{
  const RlPieceTrieKey *ka = a, *kb = b;
  size_t n = ka->length < kb->length ? ka->length : kb->length;
  int c = memcmp (ka->text, kb->text, n);
  return c != 0 ? c : (ka->length > kb->length) - (ka->length < kb->length);
}

/* sentencepiece keeps trie pieces and reserved pieces (CONTROL, UNKNOWN,
 * BYTE) in two maps; a piece may not appear twice in the same map. */
static RlStatus
check_duplicates (RlPieceTrieKey *keys, size_t count, const char *kind)
{
  qsort (keys, count, sizeof *keys, compare_trie_keys);
  for (size_t i = 1; i < count; i++)
    if (compare_trie_keys (&keys[i - 1], &keys[i]) == 0)
      return rl_set_error (RL_E_FORMAT, "sentencepiece model: %s piece \"%.*s\" (ids %d and %d) is defined twice",
                           kind, (int) keys[i].length, (const char *) keys[i].text,
                           (int) keys[i - 1].value, (int) keys[i].value);
  return RL_OK;
}

/* The byte of a "<0xNN>" piece (upper-case hex, as sentencepiece writes
 * it), or -1. */
static int
piece_to_byte (const uint8_t *text, size_t length)
{
  static const char hex[] = "0123456789ABCDEF";
  if (length != 6 || memcmp (text, "<0x", 3) != 0 || text[5] != '>')
    return -1;
  const char *hi = memchr (hex, text[3], 16), *lo = memchr (hex, text[4], 16);
  if (hi == NULL || lo == NULL || text[3] == '\0' || text[4] == '\0')
    return -1;
  return (int) ((hi - hex) * 16 + (lo - hex));
}

static RlStatus
index_pieces (RlTokenizer *tok)
{
  const RlSpmModel *m = &tok->model;
  size_t n = m->piece_count;
  RlPieceTrieKey *normal = malloc (n * sizeof *normal);
  RlPieceTrieKey *reserved = malloc (n * sizeof *reserved);
  RlPieceTrieKey *user = malloc (n * sizeof *user);
  size_t normal_count = 0, reserved_count = 0, user_count = 0;
  RlStatus st = RL_OK;
  if (normal == NULL || reserved == NULL || user == NULL) {
    st = rl_set_error (RL_E_NO_MEMORY, "sentencepiece model: no memory to index %zu pieces", n);
    goto out;
  }

  tok->unk_id = -1;
  tok->min_score = FLT_MAX;
  tok->max_score = FLT_MIN;
  for (int b = 0; b < 256; b++)
    tok->byte_ids[b] = -1;

  for (size_t i = 0; i < n; i++) {
    const RlSpmPiece *p = &m->pieces[i];
    RlPieceTrieKey key = { .text = p->text, .length = p->length, .value = (int32_t) i };
    if (is_trie_piece (p->type))
      normal[normal_count++] = key;
    else
      reserved[reserved_count++] = key;
    if (p->type == RL_SPM_USER_DEFINED)
      user[user_count++] = key;
    if (p->type == RL_SPM_NORMAL) {
      tok->min_score = p->score < tok->min_score ? p->score : tok->min_score;
      tok->max_score = p->score > tok->max_score ? p->score : tok->max_score;
    }
    if (p->type == RL_SPM_UNKNOWN) {
      if (tok->unk_id >= 0) {
        st = rl_set_error (RL_E_FORMAT, "sentencepiece model: two unknown pieces (ids %d and %zu)",
                           (int) tok->unk_id, i);
        goto out;
      }
      tok->unk_id = (int32_t) i;
    }
    if (p->type == RL_SPM_BYTE) {
      if (!m->byte_fallback) {
        st = rl_set_error (RL_E_FORMAT, "sentencepiece model: byte piece \"%.*s\" (id %zu) but byte_fallback is off",
                           (int) p->length, (const char *) p->text, i);
        goto out;
      }
      int byte = piece_to_byte (p->text, p->length);
      if (byte < 0) {
        st = rl_set_error (RL_E_FORMAT, "sentencepiece model: byte piece \"%.*s\" (id %zu) is not of the form <0xNN>",
                           (int) p->length, (const char *) p->text, i);
        goto out;
      }
      tok->byte_ids[byte] = (int32_t) i;
    }
  }
  if (tok->unk_id < 0) {
    st = rl_set_error (RL_E_FORMAT, "sentencepiece model: no unknown piece (<unk>) is defined");
    goto out;
  }
  if (m->byte_fallback) {
    for (int b = 0; b < 256; b++)
      if (tok->byte_ids[b] < 0) {
        st = rl_set_error (RL_E_FORMAT, "sentencepiece model: byte_fallback is on but piece <0x%02X> is missing", b);
        goto out;
      }
  }
  if (normal_count == 0) {
    st = rl_set_error (RL_E_FORMAT, "sentencepiece model: no normal pieces to segment with");
    goto out;
  }
  if ((st = check_duplicates (normal, normal_count, "normal")) != RL_OK
      || (st = check_duplicates (reserved, reserved_count, "reserved")) != RL_OK)
    goto out;
  if ((st = rl_piece_trie_new (normal, normal_count, &tok->pieces)) != RL_OK)
    goto out;
  if (user_count > 0 && (st = rl_piece_trie_new (user, user_count, &tok->user_defined)) != RL_OK)
    goto out;

out:
  free (normal);
  free (reserved);
  free (user);
  return st;
}

RlStatus
rl_tokenizer_new_from_bytes (const uint8_t *data, size_t size, RlTokenizer **out)
{
  *out = NULL;
  if (data == NULL && size > 0)
    return rl_set_error (RL_E_INVALID_ARG, "tokenizer: model bytes are NULL");
  RlTokenizer *tok = calloc (1, sizeof *tok);
  if (tok == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "tokenizer: no memory");
  tok->bytes = malloc (size ? size : 1);
  if (tok->bytes == NULL) {
    free (tok);
    return rl_set_error (RL_E_NO_MEMORY, "tokenizer: no memory for a %zu-byte model", size);
  }
  if (size)
    memcpy (tok->bytes, data, size);

  RlStatus st = rl_spm_model_parse (&tok->model, tok->bytes, size);
  if (st == RL_OK && tok->model.model_type != 1)
    st = rl_set_error (RL_E_FORMAT,
                       "sentencepiece model: model_type %d is not UNIGRAM (1); only unigram models "
                       "(T5, UMT5) are supported", tok->model.model_type);
  if (st == RL_OK)
    st = index_pieces (tok);
  if (st == RL_OK)
    st = rl_spm_normalizer_init (&tok->normalizer, &tok->model, tok->user_defined);
  if (st != RL_OK) {
    rl_tokenizer_free (tok);
    return st;
  }
  *out = tok;
  return RL_OK;
}

void
rl_tokenizer_free (RlTokenizer *tok)
{
  if (tok == NULL)
    return;
  rl_spm_normalizer_clear (&tok->normalizer);
  rl_piece_trie_free (tok->pieces);
  rl_piece_trie_free (tok->user_defined);
  rl_spm_model_clear (&tok->model);
  free (tok->bytes);
  free (tok);
}

/* sentencepiece's OneCharLen: the UTF-8 length announced by a lead byte. */
static size_t
one_char_length (uint8_t byte)
{
  static const uint8_t lengths[16] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4 };
  return lengths[byte >> 4];
}

typedef struct {
  int32_t id;
  float   score;       /* best path score ending here */
  int64_t starts_at;   /* -1 until some path reaches this position */
} BestPath;

/* Viterbi over the normalized text; writes the segmentation as (start, id)
 * pairs into *pieces, in order. */
static RlStatus
segment (const RlTokenizer *tok, const uint8_t *text, size_t size,
         int64_t **starts_out, int32_t **ids_out, size_t *count_out)
{
  *starts_out = NULL;
  *ids_out = NULL;
  *count_out = 0;
  BestPath *best = malloc ((size + 1) * sizeof *best);
  if (best == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "tokenizer: no memory for a %zu-byte lattice", size);
  for (size_t i = 0; i <= size; i++)
    best[i] = (BestPath) { .id = -1, .score = 0.0f, .starts_at = -1 };

  const float unk_score = tok->min_score - unknown_penalty;
  const RlSpmPiece *pieces = tok->model.pieces;
  size_t start = 0;
  while (start < size) {
    const float score_here = best[start].score;
    size_t char_length = one_char_length (text[start]);
    if (char_length > size - start)
      char_length = size - start;
    int has_single_char_piece = 0;

    uint32_t node = RL_PIECE_TRIE_ROOT;
    for (size_t end = start; end < size;) {
      int64_t next = rl_piece_trie_step (tok->pieces, node, text[end]);
      if (next < 0)
        break;
      node = (uint32_t) next;
      end++;
      int32_t id = rl_piece_trie_value (tok->pieces, node);
      if (id < 0 || pieces[id].type == RL_SPM_UNUSED)
        continue;
      size_t length = end - start;
      double score = pieces[id].type == RL_SPM_USER_DEFINED
                       ? (double) ((float) length * tok->max_score) - 0.1
                       : (double) pieces[id].score;
      double candidate = score + (double) score_here;
      BestPath *target = &best[end];
      if (target->starts_at == -1 || candidate > (double) target->score) {
        target->score = (float) candidate;
        target->starts_at = (int64_t) start;
        target->id = id;
      }
      if (length == char_length)
        has_single_char_piece = 1;
    }
    if (!has_single_char_piece) {
      BestPath *target = &best[start + char_length];
      float candidate = unk_score + score_here;
      if (target->starts_at == -1 || candidate > target->score) {
        target->score = candidate;
        target->starts_at = (int64_t) start;
        target->id = tok->unk_id;
      }
    }
    start += char_length;
  }

  size_t count = 0;
  for (size_t end = size; end > 0; end = (size_t) best[end].starts_at)
    count++;
  int64_t *starts = malloc ((count ? count : 1) * sizeof *starts);
  int32_t *ids = malloc ((count ? count : 1) * sizeof *ids);
  if (starts == NULL || ids == NULL) {
    free (best);
    free (starts);
    free (ids);
    return rl_set_error (RL_E_NO_MEMORY, "tokenizer: no memory for %zu pieces", count);
  }
  size_t k = count;
  for (size_t end = size; end > 0; end = (size_t) best[end].starts_at) {
    k--;
    starts[k] = best[end].starts_at;
    ids[k] = best[end].id;
  }
  free (best);
  *starts_out = starts;
  *ids_out = ids;
  *count_out = count;
  return RL_OK;
}

RlStatus
rl_tokenizer_normalize (const RlTokenizer *tok, const char *text, size_t length,
                        char **normalized, size_t *normalized_length)
{
  *normalized = NULL;
  *normalized_length = 0;
  if (tok == NULL || (text == NULL && length > 0))
    return rl_set_error (RL_E_INVALID_ARG, "tokenizer: no tokenizer or no text");
  return rl_spm_normalize (&tok->normalizer, text ? text : "", length, normalized, normalized_length);
}

RlStatus
rl_tokenizer_encode (const RlTokenizer *tok, const char *text, size_t length,
                     int32_t **ids_out, size_t *count_out)
{
  *ids_out = NULL;
  *count_out = 0;
  char *normalized;
  size_t size;
  RlStatus st = rl_tokenizer_normalize (tok, text, length, &normalized, &size);
  if (st != RL_OK)
    return st;

  int64_t *starts;
  int32_t *pieces;
  size_t piece_count;
  st = segment (tok, (const uint8_t *) normalized, size, &starts, &pieces, &piece_count);
  if (st != RL_OK) {
    free (normalized);
    return st;
  }

  /* With byte fallback an unknown piece expands to one id per byte. */
  size_t capacity = tok->model.byte_fallback ? size : piece_count;
  int32_t *ids = capacity ? malloc (capacity * sizeof *ids) : NULL;
  if (capacity && ids == NULL) {
    st = rl_set_error (RL_E_NO_MEMORY, "tokenizer: no memory for %zu ids", capacity);
    goto out;
  }
  size_t count = 0;
  int prev_unknown = 0;
  for (size_t k = 0; k < piece_count; k++) {
    int unknown = pieces[k] == tok->unk_id;
    if (unknown && tok->model.byte_fallback) {
      size_t end = k + 1 < piece_count ? (size_t) starts[k + 1] : size;
      for (size_t i = (size_t) starts[k]; i < end; i++)
        ids[count++] = tok->byte_ids[(uint8_t) normalized[i]];
    } else if (!(unknown && prev_unknown)) {
      ids[count++] = pieces[k];
    }
    prev_unknown = unknown;
  }
  *ids_out = ids;
  *count_out = count;
  ids = NULL;

out:
  free (ids);
  free (starts);
  free (pieces);
  free (normalized);
  return st;
}

size_t
rl_tokenizer_vocab_size (const RlTokenizer *tok)
{
  return tok ? tok->model.piece_count : 0;
}

const char *
rl_tokenizer_piece (const RlTokenizer *tok, int32_t id, size_t *length)
{
  if (tok == NULL || id < 0 || (size_t) id >= tok->model.piece_count) {
    if (length)
      *length = 0;
    return NULL;
  }
  if (length)
    *length = tok->model.pieces[id].length;
  return (const char *) tok->model.pieces[id].text;
}

int32_t
rl_tokenizer_unk_id (const RlTokenizer *tok)
{
  return tok ? tok->unk_id : -1;
}

/* A trainer_spec id counts when it names a CONTROL piece, as sentencepiece's
 * bos_id ()/eos_id ()/pad_id () require. */
static int32_t
control_id (const RlTokenizer *tok, int32_t id)
{
  if (tok == NULL || id < 0 || (size_t) id >= tok->model.piece_count)
    return -1;
  return tok->model.pieces[id].type == RL_SPM_CONTROL ? id : -1;
}

int32_t rl_tokenizer_bos_id (const RlTokenizer *tok) { return control_id (tok, tok ? tok->model.bos_id : -1); }
int32_t rl_tokenizer_eos_id (const RlTokenizer *tok) { return control_id (tok, tok ? tok->model.eos_id : -1); }
int32_t rl_tokenizer_pad_id (const RlTokenizer *tok) { return control_id (tok, tok ? tok->model.pad_id : -1); }
