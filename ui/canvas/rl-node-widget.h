/* RlNodeWidget: one node of a workflow as a real widget — title, input
 * and output sockets, and standard GTK controls for its widget inputs
 * (spin buttons with the input's bounds, drop-downs, entries, text views,
 * switches, a seed's control-after-generate drop-down).
 *
 * It reads the node from the workflow once; edits of its controls are
 * reported through "value-changed" (widget index, new JsonNode) and the
 * canvas writes them into the document. A node whose type the registry
 * does not know is a red placeholder that shows its sockets and values
 * read-only, so its data survives a save. */
#pragma once

#include <json-glib/json-glib.h>

#include "engine/engine-types.h"
#include "engine/graph/validate.h"
#include "ui/canvas/rl-socket.h"
#include "ui/ui-types.h"

G_BEGIN_DECLS

#define RL_TYPE_NODE_WIDGET (rl_node_widget_get_type ())
G_DECLARE_FINAL_TYPE (RlNodeWidget, rl_node_widget, RL, NODE_WIDGET, GtkWidget)

GtkWidget  *rl_node_widget_new            (RlRegistry    *registry,
                                           RlWorkflow    *workflow,
                                           gint64         node_id);
gint64      rl_node_widget_get_node_id    (RlNodeWidget  *self);
/* Whether @type_name is one of the editor-only node types ComfyUI's
 * frontend draws itself (Reroute, PrimitiveNode, Note, MarkdownNote):
 * not in the registry, yet not missing. */
gboolean    rl_node_type_is_frontend_only (const char    *type_name);
/* TRUE when the node's type is unknown (a placeholder). */
gboolean    rl_node_widget_is_placeholder (RlNodeWidget  *self);
/* The socket of @direction and @slot, or NULL when the node shows none. */
RlSocket   *rl_node_widget_get_socket     (RlNodeWidget  *self,
                                           RlSocketDirection direction,
                                           guint          slot);
/* Every socket (borrowed RlSocket pointers). */
GPtrArray  *rl_node_widget_get_sockets    (RlNodeWidget  *self);
void        rl_node_widget_set_selected   (RlNodeWidget  *self,
                                           gboolean       selected);
gboolean    rl_node_widget_get_selected   (RlNodeWidget  *self);
/* Shows workflow mode 0 (always), 2 (muted) or 4 (bypassed). */
void        rl_node_widget_set_mode       (RlNodeWidget  *self,
                                           int            mode);
/* Marks the node and the inputs named in @issues (RlValidationIssue,
 * borrowed; those of other nodes are ignored); NULL clears the marks. */
void        rl_node_widget_set_issues     (RlNodeWidget  *self,
                                           GPtrArray     *issues);
/* The number of issues shown now. */
guint       rl_node_widget_get_n_issues   (RlNodeWidget  *self);
/* The node's document position and stored width, read from the workflow
 * when built; the canvas keeps them in step with the document so layout
 * never searches the JSON. */
void        rl_node_widget_get_position   (RlNodeWidget  *self,
                                           double        *x,
                                           double        *y);
void        rl_node_widget_set_position   (RlNodeWidget  *self,
                                           double         x,
                                           double         y);
double      rl_node_widget_get_stored_width (RlNodeWidget *self);
/* Collapsed nodes (flags.collapsed) show their title only. */
gboolean    rl_node_widget_get_collapsed  (RlNodeWidget  *self);
/* The title label (where a right-click opens the node menu). */
GtkWidget  *rl_node_widget_get_title_label (RlNodeWidget *self);
/* The control of widget input @input_name, or NULL. */
GtkWidget  *rl_node_widget_get_control    (RlNodeWidget  *self,
                                           const char    *input_name);

G_END_DECLS
