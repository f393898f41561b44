/* ComfyUI prompt weights. See comfy-prompt.h.
 *
 * Work is done on UTF-8 bytes: every character the syntax looks at
 * ('(', ')', ':', '\\', spaces, ',') is ASCII, so byte positions split the
 * text exactly where ComfyUI's code-point positions do. */
#include "workers/text/comfy-prompt.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_NESTING = 1000 };

/* escape_important: "\)" and "\(" become two-byte markers that the
 * parenthesis parser does not see. */
static const char escaped_close[] = "\0\1";
static const char escaped_open[] = "\0\2";

typedef struct {
  char  *data;
  size_t length, capacity;
} Text;

static int
text_append (Text *t, const char *s, size_t n)
{
  if (t->length + n + 1 > t->capacity) {
    size_t capacity = t->capacity * 2 + n + 16;
    char *grown = realloc (t->data, capacity);
    if (grown == NULL)
      return -1;
    t->data = grown;
    t->capacity = capacity;
  }
  memcpy (t->data + t->length, s, n);
  t->length += n;
  t->data[t->length] = '\0';
  return 0;
}

static int
pieces_push (RlPromptPieces *out, const char *s, size_t n, double weight)
{
  RlPromptPiece *grown = realloc (out->pieces, (out->count + 1) * sizeof *grown);
  if (grown == NULL)
    return -1;
  out->pieces = grown;
  char *copy = malloc (n + 1);
  if (copy == NULL)
    return -1;
  memcpy (copy, s, n);
  copy[n] = '\0';
  out->pieces[out->count++] = (RlPromptPiece) { .text = copy, .length = n, .weight = weight };
  return 0;
}

/* Python's float () on s[0..n): surrounding whitespace allowed, '_' only
 * between digits, decimal and inf/nan spellings only (no hex). */
static int
parse_python_float (const char *s, size_t n, double *out)
{
  while (n > 0 && isspace ((unsigned char) *s)) {
    s++;
    n--;
  }
  while (n > 0 && isspace ((unsigned char) s[n - 1]))
    n--;
  if (n == 0 || n > 200)
    return -1;
  char buf[256];
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '_') {
      if (i == 0 || i + 1 == n || !isdigit ((unsigned char) s[i - 1]) || !isdigit ((unsigned char) s[i + 1]))
        return -1;
      continue;
    }
    if (c == 'x' || c == 'X' || c == '(' || c == 'p' || c == 'P' || isspace ((unsigned char) c))
      return -1;
    buf[k++] = c;
  }
  buf[k] = '\0';
  char *end;
  double v = strtod (buf, &end);   /* overflow gives ±inf, as Python */
  if (end == buf || *end != '\0')
    return -1;
  *out = v;
  return 0;
}

static RlStatus token_weights (const char *s, size_t n, double weight, int depth,
                               RlPromptPieces *out);

/* One item of parse_parentheses: "(...)" groups are weighted and recursed
 * into, anything else is a piece of the current weight. */
static RlStatus
weigh_item (const char *x, size_t n, double weight, int depth, RlPromptPieces *out)
{
  if (n >= 2 && x[0] == '(' && x[n - 1] == ')') {
    x++;
    n -= 2;
    double inner = weight * 1.1;
    size_t colon = n;
    for (size_t i = n; i > 0; i--)
      if (x[i - 1] == ':') {
        colon = i - 1;
        break;
      }
    double parsed;
    if (colon != n && colon > 0 && parse_python_float (x + colon + 1, n - colon - 1, &parsed) == 0) {
      inner = parsed;
      n = colon;
    }
    return token_weights (x, n, inner, depth + 1, out);
  }
  if (pieces_push (out, x, n, weight) != 0)
    return rl_set_error (RL_E_NO_MEMORY, "prompt: no memory");
  return RL_OK;
}

/* parse_parentheses + token_weights over s[0..n). */
static RlStatus
token_weights (const char *s, size_t n, double weight, int depth, RlPromptPieces *out)
{
  if (depth > MAX_NESTING)
    return rl_set_error (RL_E_INVALID_ARG, "prompt: parentheses nest more than %d levels deep", MAX_NESTING);
  /* Items are cut from s itself: each is a contiguous range of s. */
  size_t item_start = 0;
  long level = 0;
  RlStatus st;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '(') {
      if (level == 0 && i > item_start) {
        if ((st = weigh_item (s + item_start, i - item_start, weight, depth, out)) != RL_OK)
          return st;
      }
      if (level == 0)
        item_start = i;
      level++;
    } else if (s[i] == ')') {
      level--;
      if (level == 0) {
        if ((st = weigh_item (s + item_start, i + 1 - item_start, weight, depth, out)) != RL_OK)
          return st;
        item_start = i + 1;
      }
    }
  }
  if (n > item_start)
    return weigh_item (s + item_start, n - item_start, weight, depth, out);
  return RL_OK;
}

static const char embedding_marker[] = "embedding:";
enum { EMBEDDING_MARKER_LENGTH = sizeof embedding_marker - 1 };

/* unescape_important: the markers of escape_important back to ( and ). */
static int
unescape (const char *s, size_t n, Text *out)
{
  if (text_append (out, "", 0) != 0)
    return -1;
  for (size_t i = 0; i < n; i++) {
    int escaped = i + 1 < n && s[i] == '\0' && (s[i + 1] == '\1' || s[i + 1] == '\2');
    const char *c = escaped ? (s[i + 1] == '\1' ? ")" : "(") : s + i;
    if (text_append (out, c, 1) != 0)
      return -1;
    i += escaped;
  }
  return 0;
}

/* What ComfyUI tokenizes for an "embedding:NAME rest" word when no such
 * embedding exists (_try_get_embedding): `name` is the text after the
 * marker. '\n' is stripped at both ends, the first whitespace-separated
 * word dropped and the rest joined by single spaces; a name ending in
 * commas keeps those commas in front. Appends nothing when nothing is
 * left. */
static int
leftover_after_missing_embedding (const char *name, size_t n, double weight, RlPromptPieces *out)
{
  while (n > 0 && *name == '\n') {
    name++;
    n--;
  }
  while (n > 0 && name[n - 1] == '\n')
    n--;
  Text rest = { 0 };
  const char *first = NULL;
  size_t first_length = 0;
  for (size_t i = 0; i < n;) {
    while (i < n && isspace ((unsigned char) name[i]))
      i++;
    size_t word = i;
    while (i < n && !isspace ((unsigned char) name[i]))
      i++;
    if (i == word)
      break;
    if (first == NULL) {
      first = name + word;
      first_length = i - word;
    } else if ((rest.length && text_append (&rest, " ", 1) != 0) || text_append (&rest, name + word, i - word) != 0) {
      free (rest.data);
      return -1;
    }
  }
  Text leftover = { 0 };
  int failed = 0;
  if (first != NULL) {
    size_t lo = 0, hi = first_length;
    while (lo < hi && first[lo] == ',')
      lo++;
    while (hi > lo && first[hi - 1] == ',')
      hi--;
    size_t stripped = hi - lo;
    if (stripped < first_length)   /* "{name[len(stripped):]} {rest}" */
      failed = text_append (&leftover, first + stripped, first_length - stripped) != 0
               || text_append (&leftover, " ", 1) != 0;
  }
  if (!failed && rest.length)
    failed = text_append (&leftover, rest.data, rest.length) != 0;
  if (!failed && leftover.length)
    failed = pieces_push (out, leftover.data, leftover.length, weight) != 0;
  free (rest.data);
  free (leftover.data);
  return failed ? -1 : 0;
}

/* Position of the next " embedding:" or "\nembedding:" at or after
 * `from`, or `n` when there is none (re.split's matches). */
static size_t
next_embedding_cut (const char *s, size_t n, size_t from)
{
  for (size_t i = from; i + 1 + EMBEDDING_MARKER_LENGTH <= n; i++)
    if ((s[i] == ' ' || s[i] == '\n') && memcmp (s + i + 1, embedding_marker, EMBEDDING_MARKER_LENGTH) == 0)
      return i;
  return n;
}

/* One weighted piece of token_weights, unescaped and split at embedding
 * markers into the words ComfyUI tokenizes, appended to `words`. */
static RlStatus
split_words (const RlPromptPiece *piece, RlPromptPieces *words)
{
  Text t = { 0 };
  if (unescape (piece->text, piece->length, &t) != 0)
    goto no_memory;
  for (size_t start = 0;;) {
    size_t cut = next_embedding_cut (t.data, t.length, start);
    const char *word = t.data + start;
    size_t length = cut - start;
    /* Every word after a cut starts with the marker (already skipped);
     * the first word may start with it too. */
    int is_embedding = start > 0;
    if (!is_embedding && length >= EMBEDDING_MARKER_LENGTH
        && memcmp (word, embedding_marker, EMBEDDING_MARKER_LENGTH) == 0) {
      is_embedding = 1;
      word += EMBEDDING_MARKER_LENGTH;
      length -= EMBEDDING_MARKER_LENGTH;
    }
    int failed = is_embedding ? leftover_after_missing_embedding (word, length, piece->weight, words)
                              : length > 0 && pieces_push (words, word, length, piece->weight) != 0;
    if (failed)
      goto no_memory;
    if (cut == t.length)
      break;
    start = cut + 1 + EMBEDDING_MARKER_LENGTH;
  }
  free (t.data);
  return RL_OK;

no_memory:
  free (t.data);
  return rl_set_error (RL_E_NO_MEMORY, "prompt: no memory");
}

RlStatus
rl_comfy_prompt_split (const char *prompt, size_t length, RlPromptPieces *out)
{
  memset (out, 0, sizeof *out);
  if (prompt == NULL && length > 0)
    return rl_set_error (RL_E_INVALID_ARG, "prompt: text is NULL");

  Text escaped = { 0 };
  if (text_append (&escaped, "", 0) != 0)
    return rl_set_error (RL_E_NO_MEMORY, "prompt: no memory");
  for (size_t i = 0; i < length; i++) {
    int esc = prompt[i] == '\\' && i + 1 < length && (prompt[i + 1] == ')' || prompt[i + 1] == '(');
    const char *c = esc ? (prompt[i + 1] == ')' ? escaped_close : escaped_open) : prompt + i;
    if (text_append (&escaped, c, esc ? 2 : 1) != 0) {
      free (escaped.data);
      return rl_set_error (RL_E_NO_MEMORY, "prompt: no memory");
    }
    i += esc;
  }

  RlPromptPieces weighted = { 0 };
  RlStatus st = token_weights (escaped.data, escaped.length, 1.0, 0, &weighted);
  free (escaped.data);
  for (size_t k = 0; st == RL_OK && k < weighted.count; k++)
    st = split_words (&weighted.pieces[k], out);
  rl_comfy_prompt_clear (&weighted);
  if (st != RL_OK)
    rl_comfy_prompt_clear (out);
  return st;
}

void
rl_comfy_prompt_clear (RlPromptPieces *pieces)
{
  for (size_t i = 0; i < pieces->count; i++)
    free (pieces->pieces[i].text);
  free (pieces->pieces);
  memset (pieces, 0, sizeof *pieces);
}
