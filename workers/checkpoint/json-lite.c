/* Strict recursive-descent JSON parser; see json-lite.h for the contract. */
#include "json-lite.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ArenaChunk ArenaChunk;
struct ArenaChunk {
  ArenaChunk *next;
  size_t      used;
  size_t      size;
  max_align_t data[];
};

struct RlJsonDoc {
  ArenaChunk  *chunks;
  RlJsonValue  root;
};

typedef struct {
  const char   *text;
  size_t        len;
  size_t        pos;
  int           max_depth;
  RlJsonDoc    *doc;
  /* Members of every open container, innermost last; copied into the
   * arena when a container closes so each lives in one exact-size array. */
  RlJsonMember *stack;
  size_t        stack_len;
  size_t        stack_cap;
  char         *error;
  size_t        error_size;
  bool          failed;
} Parser;

static void *
arena_alloc (RlJsonDoc *doc, size_t size)
{
  size = (size + sizeof (max_align_t) - 1) / sizeof (max_align_t) * sizeof (max_align_t);
  ArenaChunk *chunk = doc->chunks;
  if (chunk == NULL || chunk->size - chunk->used < size) {
    size_t chunk_size = size > 65536 ? size : 65536;
    chunk = malloc (sizeof (ArenaChunk) + chunk_size);
    if (chunk == NULL)
      return NULL;
    chunk->next = doc->chunks;
    chunk->used = 0;
    chunk->size = chunk_size;
    doc->chunks = chunk;
  }
  void *p = (char *) chunk->data + chunk->used;
  chunk->used += size;
  return p;
}

static bool
fail (Parser *p, const char *fmt, ...)
{
  if (p->failed)
    return false;
  p->failed = true;
  char what[256];
  va_list args;
  va_start (args, fmt);
  vsnprintf (what, sizeof what, fmt, args);
  va_end (args);
  snprintf (p->error, p->error_size, "invalid JSON at byte %zu: %s", p->pos, what);
  return false;
}

static void
skip_whitespace (Parser *p)
{
  while (p->pos < p->len) {
    char c = p->text[p->pos];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
      return;
    p->pos++;
  }
}

static bool
expect_literal (Parser *p, const char *word)
{
  size_t n = strlen (word);
  if (p->len - p->pos < n || memcmp (p->text + p->pos, word, n) != 0)
    return fail (p, "unexpected character '%c'", p->text[p->pos]);
  p->pos += n;
  return true;
}

static int
hex_value (char c)
{
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static bool
read_hex4 (Parser *p, unsigned *out)
{
  if (p->len - p->pos < 4)
    return fail (p, "truncated \\u escape");
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hex_value (p->text[p->pos + i]);
    if (h < 0)
      return fail (p, "bad hex digit in \\u escape");
    v = v << 4 | (unsigned) h;
  }
  p->pos += 4;
  *out = v;
  return true;
}

static size_t
put_utf8 (char *dst, unsigned cp)
{
  if (cp < 0x80) { dst[0] = (char) cp; return 1; }
  if (cp < 0x800) {
    dst[0] = (char) (0xC0 | cp >> 6);
    dst[1] = (char) (0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    dst[0] = (char) (0xE0 | cp >> 12);
    dst[1] = (char) (0x80 | (cp >> 6 & 0x3F));
    dst[2] = (char) (0x80 | (cp & 0x3F));
    return 3;
  }
  dst[0] = (char) (0xF0 | cp >> 18);
  dst[1] = (char) (0x80 | (cp >> 12 & 0x3F));
  dst[2] = (char) (0x80 | (cp >> 6 & 0x3F));
  dst[3] = (char) (0x80 | (cp & 0x3F));
  return 4;
}

/* Length of the valid UTF-8 sequence at s (at most avail bytes), or 0. */
static size_t
utf8_sequence_length (const unsigned char *s, size_t avail)
{
  unsigned c = s[0];
  size_t n;
  unsigned cp;
  if (c < 0x80) return 1;
  else if (c >= 0xC2 && c <= 0xDF) { n = 2; cp = c & 0x1F; }
  else if (c >= 0xE0 && c <= 0xEF) { n = 3; cp = c & 0x0F; }
  else if (c >= 0xF0 && c <= 0xF4) { n = 4; cp = c & 0x07; }
  else return 0;
  if (avail < n)
    return 0;
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xC0) != 0x80)
      return 0;
    cp = cp << 6 | (s[i] & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
    return 0;
  if (cp >= 0xD800 && cp <= 0xDFFF)
    return 0;
  return n;
}

/* Parses a string starting at the opening quote. The decoded form is never
 * longer than the source, so one allocation of the raw length suffices. */
static bool
parse_string (Parser *p, const char **out, size_t *out_len)
{
  p->pos++;  /* opening quote */
  size_t end = p->pos;
  while (end < p->len && p->text[end] != '"') {
    if (p->text[end] == '\\')
      end++;
    end++;
  }
  if (end >= p->len)
    return fail (p, "unterminated string");
  char *dst = arena_alloc (p->doc, end - p->pos + 1);
  if (dst == NULL)
    return fail (p, "out of memory");
  size_t n = 0;
  while (p->text[p->pos] != '"') {
    unsigned char c = (unsigned char) p->text[p->pos];
    if (c < 0x20)
      return fail (p, "control character 0x%02x inside a string", c);
    if (c != '\\') {
      size_t seq = utf8_sequence_length ((const unsigned char *) p->text + p->pos, p->len - p->pos);
      if (seq == 0)
        return fail (p, "invalid UTF-8 inside a string");
      memcpy (dst + n, p->text + p->pos, seq);
      n += seq;
      p->pos += seq;
      continue;
    }
    p->pos++;
    char e = p->text[p->pos++];
    unsigned cp;
    switch (e) {
    case '"': dst[n++] = '"'; break;
    case '\\': dst[n++] = '\\'; break;
    case '/': dst[n++] = '/'; break;
    case 'b': dst[n++] = '\b'; break;
    case 'f': dst[n++] = '\f'; break;
    case 'n': dst[n++] = '\n'; break;
    case 'r': dst[n++] = '\r'; break;
    case 't': dst[n++] = '\t'; break;
    case 'u':
      if (!read_hex4 (p, &cp))
        return false;
      if (cp >= 0xDC00 && cp <= 0xDFFF)
        return fail (p, "lone low surrogate in \\u escape");
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        unsigned low;
        if (p->len - p->pos < 2 || p->text[p->pos] != '\\' || p->text[p->pos + 1] != 'u')
          return fail (p, "high surrogate without its low half");
        p->pos += 2;
        if (!read_hex4 (p, &low))
          return false;
        if (low < 0xDC00 || low > 0xDFFF)
          return fail (p, "high surrogate without its low half");
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
      }
      if (cp == 0)
        return fail (p, "\\u0000 is not allowed in names");
      n += put_utf8 (dst + n, cp);
      break;
    default:
      return fail (p, "unknown escape '\\%c'", e);
    }
  }
  p->pos++;  /* closing quote */
  dst[n] = '\0';
  *out = dst;
  *out_len = n;
  return true;
}

static bool
parse_number (Parser *p, RlJsonValue *v)
{
  size_t start = p->pos;
  bool integral = true;
  if (p->pos < p->len && p->text[p->pos] == '-')
    p->pos++;
  if (p->pos >= p->len)
    return fail (p, "truncated number");
  if (p->text[p->pos] == '0') {
    p->pos++;
  } else if (p->text[p->pos] >= '1' && p->text[p->pos] <= '9') {
    while (p->pos < p->len && p->text[p->pos] >= '0' && p->text[p->pos] <= '9')
      p->pos++;
  } else {
    return fail (p, "bad number");
  }
  if (p->pos < p->len && p->text[p->pos] == '.') {
    integral = false;
    p->pos++;
    size_t digits = p->pos;
    while (p->pos < p->len && p->text[p->pos] >= '0' && p->text[p->pos] <= '9')
      p->pos++;
    if (p->pos == digits)
      return fail (p, "no digits after decimal point");
  }
  if (p->pos < p->len && (p->text[p->pos] == 'e' || p->text[p->pos] == 'E')) {
    integral = false;
    p->pos++;
    if (p->pos < p->len && (p->text[p->pos] == '+' || p->text[p->pos] == '-'))
      p->pos++;
    size_t digits = p->pos;
    while (p->pos < p->len && p->text[p->pos] >= '0' && p->text[p->pos] <= '9')
      p->pos++;
    if (p->pos == digits)
      return fail (p, "no digits in exponent");
  }
  /* Copy to a NUL-terminated buffer: strtod must not read past the number. */
  char buf[64];
  size_t n = p->pos - start;
  v->kind = RL_JSON_NUMBER;
  if (n >= sizeof buf) {
    v->number = integral ? (p->text[start] == '-' ? -1e300 : 1e300) : 0.0;
    v->is_integer = false;
    return true;
  }
  memcpy (buf, p->text + start, n);
  buf[n] = '\0';
  v->number = strtod (buf, NULL);
  if (integral) {
    errno = 0;
    long long i = strtoll (buf, NULL, 10);
    v->is_integer = errno == 0;
    v->integer = i;
  }
  return true;
}

static bool parse_value (Parser *p, RlJsonValue *v, int depth);

static bool
stack_push (Parser *p, const char *key, size_t key_len)
{
  if (p->stack_len == p->stack_cap) {
    size_t cap = p->stack_cap ? p->stack_cap * 2 : 64;
    RlJsonMember *grown = realloc (p->stack, cap * sizeof *grown);
    if (grown == NULL)
      return fail (p, "out of memory");
    p->stack = grown;
    p->stack_cap = cap;
  }
  RlJsonMember *m = &p->stack[p->stack_len++];
  memset (m, 0, sizeof *m);
  m->key = key;
  m->key_len = key_len;
  return true;
}

/* Moves stack[first..] into an exact-size arena array owned by v. */
static bool
close_container (Parser *p, RlJsonValue *v, size_t first)
{
  v->count = p->stack_len - first;
  if (v->count > 0) {
    v->members = arena_alloc (p->doc, v->count * sizeof (RlJsonMember));
    if (v->members == NULL)
      return fail (p, "out of memory");
    memcpy (v->members, p->stack + first, v->count * sizeof (RlJsonMember));
  }
  p->stack_len = first;
  return true;
}

static bool
parse_container (Parser *p, RlJsonValue *v, int depth, bool is_object)
{
  if (depth >= p->max_depth)
    return fail (p, "nesting deeper than %d levels", p->max_depth);
  char close = is_object ? '}' : ']';
  v->kind = is_object ? RL_JSON_OBJECT : RL_JSON_ARRAY;
  size_t first = p->stack_len;
  p->pos++;
  skip_whitespace (p);
  if (p->pos < p->len && p->text[p->pos] == close) {
    p->pos++;
    return close_container (p, v, first);
  }
  for (;;) {
    const char *key = NULL;
    size_t key_len = 0;
    if (is_object) {
      skip_whitespace (p);
      if (p->pos >= p->len || p->text[p->pos] != '"')
        return fail (p, "expected a quoted key");
      if (!parse_string (p, &key, &key_len))
        return false;
      skip_whitespace (p);
      if (p->pos >= p->len || p->text[p->pos] != ':')
        return fail (p, "expected ':' after key \"%s\"", key);
      p->pos++;
    }
    if (!stack_push (p, key, key_len))
      return false;
    size_t index = p->stack_len - 1;
    RlJsonValue child;
    memset (&child, 0, sizeof child);
    if (!parse_value (p, &child, depth + 1))
      return false;
    p->stack[index].value = child;
    skip_whitespace (p);
    if (p->pos >= p->len)
      return fail (p, "unterminated %s", is_object ? "object" : "array");
    char c = p->text[p->pos++];
    if (c == close)
      return close_container (p, v, first);
    if (c != ',') {
      p->pos--;
      return fail (p, "expected ',' or '%c'", close);
    }
  }
}

static bool
parse_value (Parser *p, RlJsonValue *v, int depth)
{
  skip_whitespace (p);
  if (p->pos >= p->len)
    return fail (p, "unexpected end of text");
  v->offset = p->pos;
  char c = p->text[p->pos];
  switch (c) {
  case '{': return parse_container (p, v, depth, true);
  case '[': return parse_container (p, v, depth, false);
  case '"':
    v->kind = RL_JSON_STRING;
    return parse_string (p, &v->string, &v->string_len);
  case 't': v->kind = RL_JSON_BOOL; v->boolean = true; return expect_literal (p, "true");
  case 'f': v->kind = RL_JSON_BOOL; v->boolean = false; return expect_literal (p, "false");
  case 'n': v->kind = RL_JSON_NULL; return expect_literal (p, "null");
  default:
    if (c == '-' || (c >= '0' && c <= '9'))
      return parse_number (p, v);
    return fail (p, "unexpected character '%c'", c);
  }
}

RlJsonDoc *
rl_json_parse (const char *text, size_t len, int max_depth, char *error, size_t error_size)
{
  RlJsonDoc *doc = calloc (1, sizeof *doc);
  if (doc == NULL) {
    snprintf (error, error_size, "out of memory");
    return NULL;
  }
  Parser p = { .text = text, .len = len, .max_depth = max_depth, .doc = doc,
               .error = error, .error_size = error_size };
  bool ok = parse_value (&p, &doc->root, 0);
  if (ok) {
    skip_whitespace (&p);
    if (p.pos != p.len)
      ok = fail (&p, "unexpected text after the end of the document");
  }
  free (p.stack);
  if (!ok) {
    rl_json_free (doc);
    return NULL;
  }
  return doc;
}

const RlJsonValue *
rl_json_root (const RlJsonDoc *doc)
{
  return &doc->root;
}

void
rl_json_free (RlJsonDoc *doc)
{
  if (doc == NULL)
    return;
  ArenaChunk *chunk = doc->chunks;
  while (chunk != NULL) {
    ArenaChunk *next = chunk->next;
    free (chunk);
    chunk = next;
  }
  free (doc);
}

const RlJsonValue *
rl_json_get (const RlJsonValue *object, const char *key)
{
  if (object == NULL || object->kind != RL_JSON_OBJECT)
    return NULL;
  size_t key_len = strlen (key);
  for (size_t i = 0; i < object->count; i++)
    if (object->members[i].key_len == key_len && memcmp (object->members[i].key, key, key_len) == 0)
      return &object->members[i].value;
  return NULL;
}

const char *
rl_json_kind_name (RlJsonKind kind)
{
  switch (kind) {
  case RL_JSON_NULL: return "null";
  case RL_JSON_BOOL: return "boolean";
  case RL_JSON_NUMBER: return "number";
  case RL_JSON_STRING: return "string";
  case RL_JSON_ARRAY: return "array";
  case RL_JSON_OBJECT: return "object";
  }
  return "?";
}
