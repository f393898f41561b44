/* RlGraph: the executable form of a workflow, the same thing as ComfyUI's
 * API "prompt":
 *
 *   { "3": { "class_type": "KSampler",
 *            "inputs": { "seed": 5, "model": ["4", 0], ... },
 *            "_meta": { "title": "KSampler" } }, ... }
 *
 * Each node has a string id, a class type, an optional title, and inputs
 * by name. An input is either a literal JSON value (a widget) or a link
 * [source_node_id, output_index]. Nodes iterate in a stable order: ids
 * that are integers first, numerically, then other ids by strcmp. Inputs
 * iterate in the order they were set (file order when loaded).
 *
 * The graph is plain data: it does not know node types. Checking it
 * against a registry is validate.h's job. */
#pragma once

#include <json-glib/json-glib.h>

#include "engine/engine-types.h"

G_BEGIN_DECLS

typedef struct _RlGraphNode RlGraphNode;

RlGraph      *rl_graph_new                   (void);
RlGraph      *rl_graph_ref                   (RlGraph        *graph);
void          rl_graph_unref                 (RlGraph        *graph);
/* A deep copy (for per-run overrides). */
RlGraph      *rl_graph_copy                  (RlGraph        *graph);

/* Builds a graph from a parsed API prompt. Also accepts the object that
 * ComfyUI's POST /prompt takes ({"prompt": {...}, ...}). NULL with
 * RL_ENGINE_ERROR_INVALID_WORKFLOW naming @source_name, the node id and
 * the field when a node lacks class_type, inputs is not an object, or a
 * link is malformed. A list of two elements whose first is a string or
 * integer node id and whose second is a non-negative integer is a link,
 * as in ComfyUI. */
RlGraph      *rl_graph_new_from_prompt_json  (JsonNode       *root,
                                              const char     *source_name,
                                              GError        **error);
/* Parses JSON text; @source_name (a file name, or NULL for "<data>") is
 * named in errors with line and column. */
RlGraph      *rl_graph_load_prompt_data      (const char     *data,
                                              gssize          length,
                                              const char     *source_name,
                                              GError        **error);
RlGraph      *rl_graph_load_prompt_file      (const char     *path,
                                              GError        **error);
/* The API prompt JSON, nodes in the graph's stable order. */
JsonNode     *rl_graph_to_prompt_json        (RlGraph        *graph);
char         *rl_graph_to_prompt_string      (RlGraph        *graph,
                                              gboolean        pretty);
gboolean      rl_graph_save_prompt_file      (RlGraph        *graph,
                                              const char     *path,
                                              GError        **error);

/* Adds a node; NULL (no error: a programming mistake) when @node_id is
 * already used. The node is owned by the graph. */
RlGraphNode  *rl_graph_add_node              (RlGraph        *graph,
                                              const char     *node_id,
                                              const char     *class_type);
/* Removes a node; links that pointed at it are left dangling (validation
 * reports them). FALSE when absent. */
gboolean      rl_graph_remove_node           (RlGraph        *graph,
                                              const char     *node_id);
RlGraphNode  *rl_graph_lookup                (RlGraph        *graph,
                                              const char     *node_id);
guint         rl_graph_get_n_nodes           (RlGraph        *graph);
/* The node at @index in stable order (0 <= index < n_nodes). */
RlGraphNode  *rl_graph_get_node              (RlGraph        *graph,
                                              guint           index);

const char   *rl_graph_node_get_id           (const RlGraphNode *node);
const char   *rl_graph_node_get_class_type   (const RlGraphNode *node);
/* The _meta.title, or NULL when none was given. */
const char   *rl_graph_node_get_title        (const RlGraphNode *node);
/* The title, else the class type: for messages. */
const char   *rl_graph_node_get_display_title (const RlGraphNode *node);
void          rl_graph_node_set_title        (RlGraphNode    *node,
                                              const char     *title);

guint         rl_graph_node_get_n_inputs     (const RlGraphNode *node);
const char   *rl_graph_node_get_input_name   (const RlGraphNode *node,
                                              guint           index);
gboolean      rl_graph_node_has_input        (const RlGraphNode *node,
                                              const char     *name);
/* TRUE when input @name is a link; then the source is written to the
 * optional out-arguments (borrowed string). */
gboolean      rl_graph_node_get_link         (const RlGraphNode *node,
                                              const char     *name,
                                              const char    **from_node_id,
                                              guint          *from_output);
/* The literal value of input @name (borrowed), or NULL when absent or a
 * link. */
JsonNode     *rl_graph_node_get_literal      (const RlGraphNode *node,
                                              const char     *name);
/* Sets input @name to a copy of @value, replacing what was there. */
void          rl_graph_node_set_literal      (RlGraphNode    *node,
                                              const char     *name,
                                              JsonNode       *value);
void          rl_graph_node_set_int          (RlGraphNode    *node,
                                              const char     *name,
                                              gint64          value);
void          rl_graph_node_set_float        (RlGraphNode    *node,
                                              const char     *name,
                                              double          value);
void          rl_graph_node_set_string       (RlGraphNode    *node,
                                              const char     *name,
                                              const char     *value);
void          rl_graph_node_set_boolean      (RlGraphNode    *node,
                                              const char     *name,
                                              gboolean        value);
void          rl_graph_node_set_link         (RlGraphNode    *node,
                                              const char     *name,
                                              const char     *from_node_id,
                                              guint           from_output);
gboolean      rl_graph_node_remove_input     (RlGraphNode    *node,
                                              const char     *name);

/* Applies a command-line override "NODE.INPUT=VALUE". NODE is a node id or
 * a node title (which must be unique). VALUE is read by the input's kind
 * when @registry knows the node type (INT, FLOAT, BOOLEAN as
 * true/false/1/0, STRING and COMBO verbatim), else as JSON when it parses,
 * else as a string. FALSE with RL_ENGINE_ERROR_INVALID_WORKFLOW naming the
 * assignment and what is wrong (no such node, ambiguous title, no such
 * input, input is a link, value not a number). @registry may be NULL. */
gboolean      rl_graph_apply_override        (RlGraph        *graph,
                                              const RlRegistry *registry,
                                              const char     *assignment,
                                              GError        **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RlGraph, rl_graph_unref)

G_END_DECLS
