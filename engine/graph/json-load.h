/* Internal to engine/graph: strict JSON loading shared by the prompt and
 * workflow readers. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* The deepest nesting accepted; real workflows stay below 10. */
#define RL_JSON_MAX_DEPTH 200

/* Parses @data as one JSON value. On top of json-glib it refuses what
 * json-glib would take silently: empty input, content after the value,
 * single-quoted strings, nesting deeper than RL_JSON_MAX_DEPTH, and numbers
 * beyond a double; integers beyond int64 are read as doubles instead of
 * wrapping around. Errors are RL_ENGINE_ERROR_INVALID_WORKFLOW,
 * "SOURCE:LINE:COLUMN: what". @source_name NULL means "<data>". */
JsonNode *rl_json_load_data (const char  *data,
                             gssize       length,
                             const char  *source_name,
                             GError     **error);
/* The same, and when @object_lines is not NULL, a new table from each
 * JsonObject of the result to the line of its first member, so messages
 * about a document's shape can say where. */
JsonNode *rl_json_load_data_with_lines (const char   *data,
                                        gssize        length,
                                        const char   *source_name,
                                        GHashTable  **object_lines,
                                        GError      **error);
/* Reads and parses @path (lines as above; may be NULL);
 * RL_ENGINE_ERROR_IO when unreadable. */
JsonNode *rl_json_load_file (const char   *path,
                             GHashTable  **object_lines,
                             GError      **error);
/* The line of @object in @object_lines, or 0 when unknown (either NULL). */
guint     rl_json_object_line (GHashTable  *object_lines,
                               JsonObject  *object);
/* Writes @root to @path atomically (temporary file and rename). */
gboolean  rl_json_save_file (JsonNode    *root,
                             const char  *path,
                             GError     **error);

G_END_DECLS
