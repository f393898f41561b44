/* RlCanvas: the node editor's surface. It shows one RlWorkflow as node
 * widgets placed by a pan/zoom transform over a grid, with wires drawn as
 * Bézier curves in their type's colour, and edits the document: connect,
 * detach, move, select, delete, duplicate, copy/paste, mute, bypass, add
 * nodes through the search popover, undo and redo. After every edit it
 * validates the workflow with the engine and marks the nodes and inputs
 * concerned, and emits "changed".
 *
 * Document coordinates are the workflow's "pos" units; widget coordinates
 * are document * zoom + offset. */
#pragma once

#include "engine/engine-types.h"
#include "ui/canvas/rl-node-search.h"
#include "ui/canvas/rl-node-widget.h"
#include "ui/ui-types.h"

G_BEGIN_DECLS

#define RL_TYPE_CANVAS (rl_canvas_get_type ())
G_DECLARE_FINAL_TYPE (RlCanvas, rl_canvas, RL, CANVAS, GtkWidget)

GtkWidget     *rl_canvas_new                 (RlRegistry   *registry);
/* Shows @workflow (a reference is taken) and forgets the undo history. */
void           rl_canvas_set_workflow        (RlCanvas     *self,
                                              RlWorkflow   *workflow);
/* The document as edited now (borrowed; undo replaces it). */
RlWorkflow    *rl_canvas_get_workflow        (RlCanvas     *self);
RlRegistry    *rl_canvas_get_registry        (RlCanvas     *self);
RlNodeWidget  *rl_canvas_get_node_widget     (RlCanvas     *self,
                                              gint64        node_id);

/* View. */
double         rl_canvas_get_zoom            (RlCanvas     *self);
void           rl_canvas_get_offset          (RlCanvas     *self,
                                              double       *x,
                                              double       *y);
/* Zooms by @factor keeping the document point under widget point
 * (@x, @y) in place; the zoom stays within [0.1, 3]. */
void           rl_canvas_zoom_at             (RlCanvas     *self,
                                              double        factor,
                                              double        x,
                                              double        y);
void           rl_canvas_pan_by              (RlCanvas     *self,
                                              double        dx,
                                              double        dy);
/* Shows every node. */
void           rl_canvas_fit_view            (RlCanvas     *self);
void           rl_canvas_widget_to_document  (RlCanvas     *self,
                                              double        x,
                                              double        y,
                                              double       *doc_x,
                                              double       *doc_y);

/* Editing; each is one undo step and emits "changed". */
gint64         rl_canvas_add_node            (RlCanvas     *self,
                                              const char   *type_name,
                                              double        doc_x,
                                              double        doc_y,
                                              GError      **error);
/* Refuses with RL_ENGINE_ERROR_INVALID_WORKFLOW when the socket types do
 * not fit or a slot does not exist. */
gboolean       rl_canvas_connect             (RlCanvas     *self,
                                              gint64        origin_id,
                                              guint         origin_slot,
                                              gint64        target_id,
                                              guint         target_slot,
                                              GError      **error);
gboolean       rl_canvas_disconnect_input    (RlCanvas     *self,
                                              gint64        target_id,
                                              guint         target_slot);
void           rl_canvas_move_node           (RlCanvas     *self,
                                              gint64        node_id,
                                              double        doc_x,
                                              double        doc_y);
void           rl_canvas_delete_selection    (RlCanvas     *self);
void           rl_canvas_duplicate_selection (RlCanvas     *self);
/* Mode 2 (mute) or 4 (bypass): sets it on the selection, or back to 0
 * when every selected node has it already. */
void           rl_canvas_toggle_mode         (RlCanvas     *self,
                                              int           mode);
/* The selection as ComfyUI clipboard JSON (owned), also put on the
 * clipboard; NULL when nothing is selected. */
char          *rl_canvas_copy_selection      (RlCanvas     *self);
/* Pastes clipboard JSON @text near the pointer and selects what it added. */
gboolean       rl_canvas_paste_text          (RlCanvas     *self,
                                              const char   *text,
                                              GError      **error);
/* Adds a group (ComfyUI's titled box) around the selected nodes; dragging
 * its title bar moves it with the nodes inside. FALSE when nothing is
 * selected. */
gboolean       rl_canvas_group_selection     (RlCanvas     *self,
                                              const char   *title);
/* Moves group @index by (@dx, @dy) document units with the nodes whose
 * corner lies inside it; one undo step. */
void           rl_canvas_move_group          (RlCanvas     *self,
                                              guint         index,
                                              double        dx,
                                              double        dy);
/* Collapses the selected nodes to their title, or expands them when
 * all are collapsed (flags.collapsed, as ComfyUI). */
void           rl_canvas_toggle_collapse     (RlCanvas     *self);
/* Renames node @node_id ("title"; NULL or "" removes the title). */
void           rl_canvas_set_node_title      (RlCanvas     *self,
                                              gint64        node_id,
                                              const char   *title);
/* Gives node @node_id one of ComfyUI's colour presets (its
 * LGraphCanvas.node_colors: "red", "brown", "green", "blue", "pale_blue",
 * "cyan", "purple", "yellow", "black"), written to the node's "color"
 * (title) and "bgcolor" (body); NULL or "" removes both. One undo step.
 * FALSE for an unknown preset or node. The node menu (right-click on a
 * node's title) offers the same. */
gboolean       rl_canvas_set_node_color      (RlCanvas     *self,
                                              gint64        node_id,
                                              const char   *preset);
/* The node menu (a GtkPopoverMenu), or NULL before it first opens. */
GtkWidget     *rl_canvas_get_node_menu       (RlCanvas     *self);
/* Reroute points on wires (ComfyUI's native reroutes, kept in the
 * document's own form: "reroutes" and link parentIds in version 1,
 * extra.reroutes and extra.linkExtensions in 0.4). Alt+click on a wire
 * adds one, dragging one moves it, Alt+click on one deletes it.
 * rl_canvas_add_reroute puts a point on segment @segment of link
 * @link_id (0 = the one leaving the origin; the link's existing points
 * divide it into segments) and returns its id, or -1 when the link does
 * not exist. Each is one undo step. */
gint64         rl_canvas_add_reroute         (RlCanvas     *self,
                                              gint64        link_id,
                                              guint         segment,
                                              double        doc_x,
                                              double        doc_y);
void           rl_canvas_move_reroute        (RlCanvas     *self,
                                              gint64        reroute_id,
                                              double        doc_x,
                                              double        doc_y);
/* What led through the point leads to its parent afterwards. FALSE when
 * there is no such point. */
gboolean       rl_canvas_delete_reroute      (RlCanvas     *self,
                                              gint64        reroute_id);
guint          rl_canvas_get_n_reroutes      (RlCanvas     *self);
gboolean       rl_canvas_get_reroute_position (RlCanvas    *self,
                                              gint64        reroute_id,
                                              double       *doc_x,
                                              double       *doc_y);
/* The reroute ids link @link_id passes, origin to target (owned gint64
 * array). */
GArray        *rl_canvas_get_link_reroutes   (RlCanvas     *self,
                                              gint64        link_id);
/* Snap to grid: nodes and reroute points dropped after a drag land on
 * the grid (20 document units). */
void           rl_canvas_set_snap_to_grid    (RlCanvas     *self,
                                              gboolean      snap);
gboolean       rl_canvas_get_snap_to_grid    (RlCanvas     *self);
/* Whether the grid is drawn (it is by default). */
void           rl_canvas_set_show_grid       (RlCanvas     *self,
                                              gboolean      show);
gboolean       rl_canvas_get_show_grid       (RlCanvas     *self);
/* Builds the node widgets anew from the document, so that their model
 * combos list the registry's model files as they are now (after the
 * model folders changed). The document and undo history stay. */
void           rl_canvas_reload_nodes        (RlCanvas     *self);
gboolean       rl_canvas_undo                (RlCanvas     *self);
gboolean       rl_canvas_redo                (RlCanvas     *self);
/* After a queue: takes @queued (a copy of this document whose seeds the
 * queue stepped, see rl_run_service_queue_workflow) as the document, as
 * one undo step that emits "changed". FALSE, and nothing recorded, when
 * it is the same as the document (fixed seeds). */
gboolean       rl_canvas_take_queued_document (RlCanvas    *self,
                                              RlWorkflow  *queued);

/* Selection. */
void           rl_canvas_select              (RlCanvas     *self,
                                              gint64        node_id,
                                              gboolean      add);
void           rl_canvas_select_all          (RlCanvas     *self);
void           rl_canvas_clear_selection     (RlCanvas     *self);
/* Selected node ids (owned gint64 array) in document order. */
GArray        *rl_canvas_get_selection       (RlCanvas     *self);

/* Opens the node search at widget point (@x, @y); a node chosen there is
 * added at that point. */
void           rl_canvas_open_search         (RlCanvas     *self,
                                              double        x,
                                              double        y);
RlNodeSearch  *rl_canvas_get_search          (RlCanvas     *self);
/* The list of the "Connect to…" popover (Ctrl+L), or NULL when it is not
 * the popover's content. */
GtkListBox    *rl_canvas_get_connect_list    (RlCanvas     *self);
/* The entry of the rename popover (F2), or NULL before it first opens. */
GtkWidget     *rl_canvas_get_rename_entry    (RlCanvas     *self);
/* The validation issues shown now (RlValidationIssue; borrowed), and the
 * message of a graph that could not be built at all (NULL when it could). */
GPtrArray     *rl_canvas_get_issues          (RlCanvas     *self);
const char    *rl_canvas_get_graph_error     (RlCanvas     *self);
/* Runs validation now instead of at idle. */
void           rl_canvas_validate_now        (RlCanvas     *self);

G_END_DECLS
