/* RlWorkflow: ComfyUI's UI workflow document (what the editor saves and
 * what PNG/MP4 outputs embed as "workflow"), versions 0.4 and 1.
 *
 *   0.4: { "last_node_id", "last_link_id", "nodes": [...],
 *          "links": [[id, from_node, from_slot, to_node, to_slot, type]],
 *          "groups", "config", "extra", "version": 0.4 }
 *   1:   { "state": { "lastNodeId", "lastLinkId", ... }, "nodes": [...],
 *          "links": [{ "id", "origin_id", "origin_slot", "target_id",
 *                      "target_slot", "type" }], "reroutes", "version": 1 }
 *
 * The whole JSON tree is kept, so saving what was loaded gives the same
 * JSON value back, with every field we do not understand; the editing
 * functions change only the fields they are about, in the document's own
 * version's shape.
 *
 * Node ids are integers (ComfyUI's group-node string ids are refused at
 * load). Node mode: 0 always, 2 muted ("never"), 4 bypassed. */
#pragma once

#include <json-glib/json-glib.h>

#include "engine/engine-types.h"
#include "engine/graph/node-type.h"

G_BEGIN_DECLS

#define RL_WORKFLOW_MODE_ALWAYS  0
#define RL_WORKFLOW_MODE_MUTED   2
#define RL_WORKFLOW_MODE_BYPASS  4

typedef struct {
  gint64       id;
  gint64       origin_id;     /* source node */
  guint        origin_slot;   /* its output index */
  gint64       target_id;     /* destination node */
  guint        target_slot;   /* its input index (in the node's "inputs" array) */
  const char  *type;          /* socket type; borrowed, may be "*" */
} RlWorkflowLink;

/* Loading. NULL with RL_ENGINE_ERROR_INVALID_WORKFLOW whose message names
 * @source_name (or the file), line and column for malformed or truncated
 * JSON, or the node and field for a wrong shape (no "nodes" array, a node
 * without an integer id or a type, a link of the wrong shape, duplicate
 * node ids, an API prompt given where a workflow is expected).
 * rl_workflow_new_from_json works on a deep copy of @root: neither the
 * caller's tree nor another workflow made from it changes with this one. */
RlWorkflow   *rl_workflow_new_from_json      (JsonNode       *root,
                                              const char     *source_name,
                                              GError        **error);
RlWorkflow   *rl_workflow_load_data          (const char     *data,
                                              gssize          length,
                                              const char     *source_name,
                                              GError        **error);
RlWorkflow   *rl_workflow_load_file          (const char     *path,
                                              GError        **error);
RlWorkflow   *rl_workflow_ref                (RlWorkflow     *workflow);
void          rl_workflow_unref              (RlWorkflow     *workflow);

/* Whether parsed JSON looks like a UI workflow (an object with a "nodes"
 * array) rather than an API prompt: for callers that accept both. */
gboolean      rl_workflow_json_is_workflow   (JsonNode       *root);

/* The document (borrowed; edits through it are allowed but bypass the
 * checks of the functions below). */
JsonNode     *rl_workflow_get_root           (RlWorkflow     *workflow);
char         *rl_workflow_to_string          (RlWorkflow     *workflow,
                                              gboolean        pretty);
gboolean      rl_workflow_save_file          (RlWorkflow     *workflow,
                                              const char     *path,
                                              GError        **error);
/* 0.4 or 1 (the "version" field; 0.4 when absent). */
double        rl_workflow_get_version        (RlWorkflow     *workflow);

/* Nodes, in document order. */
guint         rl_workflow_get_n_nodes        (RlWorkflow     *workflow);
gint64        rl_workflow_get_node_id        (RlWorkflow     *workflow,
                                              guint           index);
/* The node's JSON object (borrowed), or NULL when there is no node @id. */
JsonObject   *rl_workflow_lookup_node        (RlWorkflow     *workflow,
                                              gint64          id);
const char   *rl_workflow_node_get_type      (RlWorkflow     *workflow,
                                              gint64          id);
/* "title", or NULL when the node has none. */
const char   *rl_workflow_node_get_title     (RlWorkflow     *workflow,
                                              gint64          id);
void          rl_workflow_node_set_title     (RlWorkflow     *workflow,
                                              gint64          id,
                                              const char     *title);
gboolean      rl_workflow_node_get_pos       (RlWorkflow     *workflow,
                                              gint64          id,
                                              double         *x,
                                              double         *y);
void          rl_workflow_node_set_pos       (RlWorkflow     *workflow,
                                              gint64          id,
                                              double          x,
                                              double          y);
gboolean      rl_workflow_node_get_size      (RlWorkflow     *workflow,
                                              gint64          id,
                                              double         *width,
                                              double         *height);
void          rl_workflow_node_set_size      (RlWorkflow     *workflow,
                                              gint64          id,
                                              double          width,
                                              double          height);
int           rl_workflow_node_get_mode      (RlWorkflow     *workflow,
                                              gint64          id);
void          rl_workflow_node_set_mode      (RlWorkflow     *workflow,
                                              gint64          id,
                                              int             mode);
/* "widgets_values" (borrowed), or NULL when absent or not an array. */
JsonArray    *rl_workflow_node_get_widgets_values (RlWorkflow *workflow,
                                              gint64          id);
/* Sets widgets_values[@index] to a copy of @value, growing the array with
 * nulls when needed. */
void          rl_workflow_node_set_widget_value (RlWorkflow  *workflow,
                                              gint64          id,
                                              guint           index,
                                              JsonNode       *value);

/* Where widget input @input_name of node @id (of node type @type) keeps its
 * value in widgets_values, by the rule rl_workflow_to_graph reads them
 * with: widgets in the frontend's order (required, then optional), and
 * after a control_after_generate widget its control takes one more slot
 * only when that value is "fixed", "increment", "decrement" or "randomize"
 * (older files have none). The index may be at or past the end of a short
 * list (rl_workflow_node_set_widget_value grows it). FALSE when the node is
 * absent, @input_name is not a widget of @type, or widgets_values is an
 * object keyed by name rather than a list. */
gboolean      rl_workflow_node_find_widget_index (RlWorkflow       *workflow,
                                              gint64            id,
                                              const RlNodeType *type,
                                              const char       *input_name,
                                              guint            *index);

/* Adds a node of @type at (@x, @y) with its inputs, outputs and default
 * widgets_values (a seed widget followed by "randomize"), and returns
 * its new id (state / last_node_id are advanced). */
gint64        rl_workflow_add_node           (RlWorkflow     *workflow,
                                              const RlNodeType *type,
                                              double          x,
                                              double          y);
/* Removes node @id and every link to or from it. FALSE when absent. */
gboolean      rl_workflow_remove_node        (RlWorkflow     *workflow,
                                              gint64          id);

/* Links, in document order. */
guint         rl_workflow_get_n_links        (RlWorkflow     *workflow);
/* FALSE when @index is out of range. */
gboolean      rl_workflow_get_link           (RlWorkflow     *workflow,
                                              guint           index,
                                              RlWorkflowLink *link);
gboolean      rl_workflow_lookup_link        (RlWorkflow     *workflow,
                                              gint64          link_id,
                                              RlWorkflowLink *link);
/* Connects output @origin_slot of @origin_id to input @target_slot of
 * @target_id, replacing the link that input had; updates both nodes'
 * slot lists. Returns the new link id, or -1 with
 * RL_ENGINE_ERROR_INVALID_WORKFLOW when a node or slot does not exist. */
gint64        rl_workflow_add_link           (RlWorkflow     *workflow,
                                              gint64          origin_id,
                                              guint           origin_slot,
                                              gint64          target_id,
                                              guint           target_slot,
                                              GError        **error);
/* Removes link @link_id and its ends on both nodes. FALSE when absent. */
gboolean      rl_workflow_remove_link        (RlWorkflow     *workflow,
                                              gint64          link_id);

/* Groups ("groups": title and bounding [x, y, w, h]). */
guint         rl_workflow_get_n_groups       (RlWorkflow     *workflow);
/* FALSE when @index is out of range; @title borrowed. */
gboolean      rl_workflow_get_group          (RlWorkflow     *workflow,
                                              guint           index,
                                              const char    **title,
                                              double          bounding[4]);
/* Native reroute points (1: "reroutes"; 0.4: "extra.reroutes"). They do
 * not change what a link connects. */
guint         rl_workflow_get_n_reroutes     (RlWorkflow     *workflow);

/* Converts to the executable graph, as ComfyUI's frontend does when it
 * queues a prompt: widgets_values map onto widget inputs in declaration
 * order (required, then optional; a control_after_generate widget's value
 * follows it and is skipped; forceInput widgets take no value), a widget
 * converted to a socket takes its link, Reroute nodes are followed,
 * PrimitiveNode values become literals of the inputs they feed, muted
 * nodes (mode 2) are dropped, bypassed nodes (mode 4) pass their first
 * input of the matching type through, Note and MarkdownNote are skipped.
 *
 * NULL with RL_ENGINE_ERROR_UNKNOWN_NODE_TYPE listing every missing type
 * with the ids and titles of the nodes that use it, or with
 * RL_ENGINE_ERROR_INVALID_WORKFLOW naming the node for links to missing
 * nodes or slots. Values out of range are left for validation. */
RlGraph      *rl_workflow_to_graph           (RlWorkflow     *workflow,
                                              const RlRegistry *registry,
                                              GError        **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RlWorkflow, rl_workflow_unref)

G_END_DECLS
