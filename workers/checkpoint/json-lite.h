/* A small strict JSON parser (RFC 8259) for checkpoint headers.
 *
 * The whole document is parsed into one tree owned by an RlJsonDoc; every
 * string and container lives in the document's arena and dies with it.
 * Limits keep hostile input cheap: a maximum nesting depth, and a size the
 * caller already bounded. Duplicate object keys are kept (in order):
 * callers reject them with a message naming the entry. Strings are
 * decoded (escapes, surrogate pairs) and must be valid UTF-8 without NUL. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
  RL_JSON_NULL,
  RL_JSON_BOOL,
  RL_JSON_NUMBER,
  RL_JSON_STRING,
  RL_JSON_ARRAY,
  RL_JSON_OBJECT,
} RlJsonKind;

typedef struct RlJsonValue  RlJsonValue;
typedef struct RlJsonMember RlJsonMember;
typedef struct RlJsonDoc    RlJsonDoc;

struct RlJsonValue {
  RlJsonKind    kind;
  size_t        offset;      /* byte offset in the source text, for errors */
  bool          boolean;
  bool          is_integer;  /* number written without fraction/exponent that fits int64 */
  int64_t       integer;
  double        number;
  const char   *string;      /* NUL-terminated, decoded */
  size_t        string_len;
  RlJsonMember *members;     /* arrays: keys are NULL; objects: in source order */
  size_t        count;
};

struct RlJsonMember {
  const char *key;
  size_t      key_len;
  RlJsonValue value;
};

/* Parses text[0, len). Returns NULL on error and writes a message (with the
 * byte offset) into error[0, error_size). max_depth bounds nesting. */
RlJsonDoc         *rl_json_parse      (const char *text,
                                       size_t      len,
                                       int         max_depth,
                                       char       *error,
                                       size_t      error_size);
const RlJsonValue *rl_json_root       (const RlJsonDoc *doc);
void               rl_json_free       (RlJsonDoc *doc);

/* Member of an object by key, or NULL. Linear: objects here are small. */
const RlJsonValue *rl_json_get        (const RlJsonValue *object,
                                       const char        *key);
const char        *rl_json_kind_name  (RlJsonKind kind);
