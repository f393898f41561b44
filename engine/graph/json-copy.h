/* Internal to engine/graph: an independent copy of a JSON tree.
 *
 * json-glib's json_node_copy copies only the node itself: the JsonObject or
 * JsonArray it holds is shared with the original (its reference count is
 * raised), so editing a member of the "copy" edits the original too. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* A new tree equal to @node sharing no object or array with it; object
 * members keep their order. */
JsonNode *rl_json_node_deep_copy (JsonNode *node);

G_END_DECLS
