/* Copy and paste of nodes in ComfyUI's clipboard shape:
 *
 *   { "nodes": [ <node objects as in a workflow> ],
 *     "links": [ [origin_index, origin_slot, target_index, target_slot,
 *                 origin_node_id], ... ] }
 *
 * where the indices are positions in "nodes" (litegraph's _relative_id).
 * Only links between copied nodes are kept. Pasted nodes get fresh ids and
 * keep every field they had, unknown ones included. */
#pragma once

#include "engine/engine-types.h"

G_BEGIN_DECLS

/* The clipboard JSON text for nodes @ids (gint64 array) of @workflow. */
char      *rl_clipboard_serialize  (RlWorkflow   *workflow,
                                    GArray       *ids);
/* Adds the nodes of clipboard @text to @workflow, moved so that the first
 * node's corner is at (@x, @y), with their internal links. Returns the new
 * ids (gint64 array), or NULL with RL_ENGINE_ERROR_INVALID_WORKFLOW when
 * @text is not clipboard JSON. */
GArray    *rl_clipboard_paste      (RlWorkflow   *workflow,
                                    const char   *text,
                                    double        x,
                                    double        y,
                                    GError      **error);

G_END_DECLS
