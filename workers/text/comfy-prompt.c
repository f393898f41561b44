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

/* unescape_important, then the split at " embedding:" / "\nembedding:"
 * with missing-embedding handling, appending the words to `words`. */
static RlStatus
split_words (const RlPromptPiece *piece, RlPromptPieces *words)
{
  static const char marker[] = "embedding:";
  const size_t marker_length = sizeof marker - 1;
  Text t = { 0 };
  const char *s = piece->text;
  size_t n = piece->length;
  for (size_t i = 0; i < n; i++) {
    int escaped = i + 1 < n && s[i] == '\0' && (s[i + 1] == '\1' || s[i + 1] == '\2');
    const char *c = escaped ? (s[i + 1] == '\1' ? ")" : "(") : s + i;
    if (text_append (&t, c, 1) != 0)
      goto no_memory;
    i += escaped;
  }
  if (t.data == NULL && text_append (&t, "", 0) != 0)
    goto no_memory;

  size_t start = 0;
  while (start <= t.length) {
    /* The next " embedding:" or "\nembedding:" after start. */
    size_t cut = t.length;
    for (size_t i = start; i + 1 + marker_length <= t.length; i++)
      if ((t.data[i] == ' ' || t.data[i] == '\n') && memcmp (t.data + i + 1, marker, marker_length) == 0) {
        cut = i;
        break;
      }
    const char *word = t.data + start;
    size_t word_length = cut - start;
    int after_marker = start > 0;   /* split pieces after the first start with the marker */
    if (!after_marker && word_length >= marker_length && memcmp (word, marker, marker_length) == 0)
      after_marker = 2;
    if (after_marker) {
      /* Skip "embedding:" (already consumed for pieces after a cut), strip
       * '\n' at both ends, drop the first whitespace-separated name and keep
       * the rest joined by single spaces. */
      const char *name = word + (after_marker == 2 ? marker_length : 0);
      size_t name_length = word_length - (after_marker == 2 ? marker_length : 0);
      while (name_length > 0 && *name == '\n') {
        name++;
        name_length--;
      }
      while (name_length > 0 && name[name_length - 1] == '\n')
        name_length--;
      Text rest = { 0 };
      size_t i = 0, token_index = 0;
      size_t first_length = 0;
      const char *first = NULL;
      while (i < name_length) {
        while (i < name_length && isspace ((unsigned char) name[i]))
          i++;
        size_t b = i;
        while (i < name_length && !isspace ((unsigned char) name[i]))
          i++;
        if (i == b)
          break;
        if (token_index++ == 0) {
          first = name + b;
          first_length = i - b;
        } else if ((rest.length && text_append (&rest, " ", 1) != 0) || text_append (&rest, name + b, i - b) != 0) {
          free (rest.data);
          goto no_memory;
        }
      }
      /* A name with commas around it: ComfyUI retries without them and
       * keeps the tail of the original name in front of the leftover. */
      if (first != NULL) {
        size_t lo = 0, hi = first_length;
        while (lo < hi && first[lo] == ',')
          lo++;
        while (hi > lo && first[hi - 1] == ',')
          hi--;
        size_t stripped = hi - lo;
        if (stripped < first_length) {
          Text joined = { 0 };
          if (text_append (&joined, first + stripped, first_length - stripped) != 0
              || text_append (&joined, " ", 1) != 0
              || text_append (&joined, rest.data ? rest.data : "", rest.length) != 0) {
            free (joined.data);
            free (rest.data);
            goto no_memory;
          }
          free (rest.data);
          rest = joined;
        }
      }
      if (rest.length > 0 && pieces_push (words, rest.data, rest.length, piece->weight) != 0) {
        free (rest.data);
        goto no_memory;
      }
      free (rest.data);
    } else if (word_length > 0 && pieces_push (words, word, word_length, piece->weight) != 0) {
      goto no_memory;
    }
    if (cut == t.length)
      break;
    start = cut + 1 + marker_length;
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
