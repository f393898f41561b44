/* Strict JSON loading (see json-load.h). */
#include "engine/graph/json-load.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "engine/engine-error.h"

typedef struct {
  const char *source;
  const char *data;
  gsize       length;
  gsize       pos;
  guint       line;
  guint       column;
  GString    *rewritten;   /* a copy with widened integers, or NULL */
  gsize       copied_to;   /* bytes of @data already in @rewritten */
} Scan;

static gboolean
scan_fail (Scan       *scan,
           GError    **error,
           const char *format,
           ...) G_GNUC_PRINTF (3, 4);

static gboolean
scan_fail (Scan       *scan,
           GError    **error,
           const char *format,
           ...)
{
  g_autofree char *what = NULL;
  va_list args;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INVALID_WORKFLOW,
               "%s:%u:%u: malformed JSON: %s", scan->source, scan->line, scan->column, what);
  return FALSE;
}

static void
scan_advance (Scan *scan)
{
  if (scan->data[scan->pos] == '\n')
    {
      scan->line++;
      scan->column = 1;
    }
  else
    scan->column++;
  scan->pos++;
}

/* Skips a string starting at its opening quote; stops after the closing
 * quote or at the end (json-glib reports unterminated strings). */
static void
scan_string (Scan *scan)
{
  scan_advance (scan);
  while (scan->pos < scan->length)
    {
      char c = scan->data[scan->pos];

      if (c == '\\' && scan->pos + 1 < scan->length)
        {
          scan_advance (scan);
          scan_advance (scan);
          continue;
        }
      scan_advance (scan);
      if (c == '"')
        return;
    }
}

/* Checks a number token; an integer beyond int64 is rewritten as a double
 * (json-glib would wrap it around), a number beyond a double is refused. */
static gboolean
scan_number (Scan    *scan,
             GError **error)
{
  gsize start = scan->pos;
  guint line = scan->line, column = scan->column;
  gboolean is_integer = TRUE;
  g_autofree char *token = NULL;

  while (scan->pos < scan->length
         && (g_ascii_isdigit (scan->data[scan->pos]) || strchr ("+-.eE", scan->data[scan->pos]) != NULL))
    {
      if (strchr (".eE", scan->data[scan->pos]) != NULL)
        is_integer = FALSE;
      scan_advance (scan);
    }
  token = g_strndup (scan->data + start, scan->pos - start);

  errno = 0;
  if (is_integer)
    {
      (void) g_ascii_strtoll (token, NULL, 10);
      if (errno != ERANGE)
        return TRUE;
      if (scan->rewritten == NULL)
        scan->rewritten = g_string_sized_new (scan->length + 16);
      g_string_append_len (scan->rewritten, scan->data + scan->copied_to, scan->pos - scan->copied_to);
      g_string_append (scan->rewritten, ".0");
      scan->copied_to = scan->pos;
      return TRUE;
    }
  if (isinf (g_ascii_strtod (token, NULL)))
    {
      scan->line = line;
      scan->column = column;
      return scan_fail (scan, error, "the number %s is too large for a 64-bit float", token);
    }
  return TRUE;
}

/* The checks json-glib does not make, and the integer widening. */
static gboolean
scan_json (Scan    *scan,
           GError **error)
{
  guint depth = 0;
  gboolean seen_value = FALSE;

  while (scan->pos < scan->length)
    {
      char c = scan->data[scan->pos];

      if (g_ascii_isspace (c))
        {
          scan_advance (scan);
          continue;
        }
      if (seen_value && depth == 0)
        return scan_fail (scan, error, "unexpected content after the end of the JSON value");
      if (c == '\0')
        return scan_fail (scan, error, "a NUL byte in the text");
      if (c == '\'')
        return scan_fail (scan, error, "strings must use double quotes");
      if (c == '"')
        {
          scan_string (scan);
          seen_value = TRUE;
          continue;
        }
      if (c == '-' || g_ascii_isdigit (c))
        {
          if (!scan_number (scan, error))
            return FALSE;
          seen_value = TRUE;
          continue;
        }
      if (c == '[' || c == '{')
        {
          if (++depth > RL_JSON_MAX_DEPTH)
            return scan_fail (scan, error, "nested deeper than %d levels", RL_JSON_MAX_DEPTH);
        }
      else if ((c == ']' || c == '}') && depth > 0)
        depth--;
      seen_value = TRUE;
      scan_advance (scan);
    }
  return TRUE;
}

/* json-glib says "<data>:L:C: Parse error: what"; say the file instead. */
static void
set_parse_error (GError     **error,
                 const char  *source,
                 const GError *parse_error)
{
  const char *message = parse_error->message;

  if (g_str_has_prefix (message, "<data>:"))
    message += strlen ("<data>:");
  g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INVALID_WORKFLOW,
               "%s:%s (malformed or truncated JSON)", source, message);
}

/* Records the line of each object's first member while parsing. */
static void
on_object_member (JsonParser *parser,
                  JsonObject *object,
                  const char *member_name,
                  gpointer    user_data)
{
  GHashTable *lines = user_data;

  if (!g_hash_table_contains (lines, object))
    g_hash_table_insert (lines, object, GUINT_TO_POINTER (json_parser_get_current_line (parser)));
}

guint
rl_json_object_line (GHashTable *object_lines,
                     JsonObject *object)
{
  if (object_lines == NULL || object == NULL)
    return 0;
  return GPOINTER_TO_UINT (g_hash_table_lookup (object_lines, object));
}

JsonNode *
rl_json_load_data (const char  *data,
                   gssize       length,
                   const char  *source_name,
                   GError     **error)
{
  return rl_json_load_data_with_lines (data, length, source_name, NULL, error);
}

JsonNode *
rl_json_load_data_with_lines (const char   *data,
                              gssize        length,
                              const char   *source_name,
                              GHashTable  **object_lines,
                              GError      **error)
{
  g_autoptr(GHashTable) lines = NULL;
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) parse_error = NULL;
  const char *source = source_name != NULL ? source_name : "<data>";
  Scan scan = { 0 };
  const char *text;
  gsize text_length;
  JsonNode *root;

  g_return_val_if_fail (data != NULL || length == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  scan.source = source;
  scan.data = data != NULL ? data : "";
  scan.length = length < 0 ? strlen (scan.data) : (gsize) length;
  scan.line = 1;
  scan.column = 1;
  if (!scan_json (&scan, error))
    {
      if (scan.rewritten != NULL)
        g_string_free (scan.rewritten, TRUE);
      return NULL;
    }
  text = scan.data;
  text_length = scan.length;
  if (scan.rewritten != NULL)
    {
      g_string_append_len (scan.rewritten, scan.data + scan.copied_to, scan.length - scan.copied_to);
      text = scan.rewritten->str;
      text_length = scan.rewritten->len;
    }

  parser = json_parser_new ();
  if (object_lines != NULL)
    {
      lines = g_hash_table_new (g_direct_hash, g_direct_equal);
      g_signal_connect (parser, "object-member", G_CALLBACK (on_object_member), lines);
    }
  if (!json_parser_load_from_data (parser, text, (gssize) text_length, &parse_error))
    {
      set_parse_error (error, source, parse_error);
      if (scan.rewritten != NULL)
        g_string_free (scan.rewritten, TRUE);
      return NULL;
    }
  if (scan.rewritten != NULL)
    g_string_free (scan.rewritten, TRUE);

  root = json_parser_steal_root (parser);
  if (root == NULL)
    g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INVALID_WORKFLOW,
                 "%s: the file is empty; expected a JSON workflow or prompt", source);
  else if (object_lines != NULL)
    *object_lines = g_steal_pointer (&lines);
  return root;
}

JsonNode *
rl_json_load_file (const char   *path,
                   GHashTable  **object_lines,
                   GError      **error)
{
  g_autofree char *contents = NULL;
  g_autoptr(GError) read_error = NULL;
  gsize length;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!g_file_get_contents (path, &contents, &length, &read_error))
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_IO,
                   "Cannot read %s", read_error->message);
      return NULL;
    }
  return rl_json_load_data_with_lines (contents, (gssize) length, path, object_lines, error);
}

gboolean
rl_json_save_file (JsonNode    *root,
                   const char  *path,
                   GError     **error)
{
  g_autoptr(JsonGenerator) generator = NULL;
  g_autoptr(GError) write_error = NULL;
  g_autofree char *text = NULL;
  gsize length;

  g_return_val_if_fail (root != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  generator = json_generator_new ();
  json_generator_set_pretty (generator, TRUE);
  json_generator_set_indent (generator, 2);
  json_generator_set_root (generator, root);
  text = json_generator_to_data (generator, &length);
  if (!g_file_set_contents (path, text, (gssize) length, &write_error))
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_IO,
                   "Cannot write %s; check that the folder exists and is writable",
                   write_error->message);
      return FALSE;
    }
  return TRUE;
}
