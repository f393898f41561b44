/* RlCanvas internals shared by rl-canvas.c (view, drawing, input) and
 * rl-canvas-edit.c (document edits, history, validation). */
#pragma once

#include "ui/canvas/rl-canvas.h"
#include "ui/canvas/rl-history.h"

G_BEGIN_DECLS

typedef enum {
  RL_CANVAS_DRAG_NONE,
  RL_CANVAS_DRAG_PAN,
  RL_CANVAS_DRAG_MOVE,
  RL_CANVAS_DRAG_WIRE,
  RL_CANVAS_DRAG_RUBBER_BAND,
  RL_CANVAS_DRAG_GROUP,
  RL_CANVAS_DRAG_REROUTE,
  RL_CANVAS_DRAG_CUT,         /* Ctrl+right-drag: a line that cuts wires */
} RlCanvasDrag;

typedef struct {
  gint64 id;
  double x, y;        /* document position when the drag began */
} RlMoveStart;

struct _RlCanvas
{
  GtkWidget      parent_instance;

  RlRegistry    *registry;
  RlWorkflow    *workflow;
  GHashTable    *nodes;            /* node id (gint64 *) -> RlNodeWidget (borrowed child) */
  RlHistory     *history;
  GtkWidget     *search;           /* RlNodeSearch popover, child */
  GtkWidget     *rename_popover;   /* F2's title editor, child */
  GtkWidget     *node_menu;        /* right-click on a title: GtkPopoverMenu, child */
  gint64         node_menu_node;   /* the node that menu is about */

  double         zoom;
  double         offset_x, offset_y;
  double         pointer_x, pointer_y;
  gboolean       space_held;
  gboolean       space_used;

  /* The drag in progress. */
  RlCanvasDrag   drag;
  double         drag_start_x, drag_start_y;
  double         drag_x, drag_y;          /* current pointer, widget coords */
  double         pan_start_x, pan_start_y;
  GArray        *move_starts;             /* RlMoveStart */
  gboolean       move_recorded;
  int            drag_group;              /* group index of a group drag */
  double         group_start[4];
  gint64         wire_node;               /* the fixed end of a wire drag */
  guint          wire_slot;
  RlSocketDirection wire_direction;
  char          *wire_type;
  gint64         drag_reroute;            /* the reroute point being moved */
  double         reroute_start_x, reroute_start_y;
  gboolean       snap_to_grid;
  gboolean       hide_grid;

  /* A wire dropped on empty space waits for the search's choice. */
  gboolean       pending_wire;
  double         search_doc_x, search_doc_y;

  GPtrArray     *issues;                  /* RlValidationIssue, owned */
  char          *graph_error;
  guint          validate_idle;
};

/* Rebuilds every node widget from the document (after structural edits
 * and undo). */
void      _rl_canvas_rebuild           (RlCanvas    *self);
/* Records the document as it is now as one undo step. */
void      _rl_canvas_record            (RlCanvas    *self,
                                        const char  *coalesce_key);
/* After an edit: schedules validation, redraws, emits "changed". */
void      _rl_canvas_changed           (RlCanvas    *self);
/* Refreshes the sockets' connected marks and redraws the wires. */
void      _rl_canvas_links_changed     (RlCanvas    *self);
void      _rl_canvas_emit_changed      (RlCanvas    *self);
/* Connects the pending wire to the first fitting socket of @node_id. */
void      _rl_canvas_finish_pending_wire (RlCanvas  *self,
                                        gint64       node_id);
/* The group whose title bar is at document point (@x, @y), or -1. */
int       _rl_canvas_group_at_title    (RlCanvas    *self,
                                        double       x,
                                        double       y);
/* Sets group @index's box; the nodes inside @old_box move along. */
void      _rl_canvas_set_group_box     (RlCanvas    *self,
                                        guint        index,
                                        const double old_box[4],
                                        const double new_box[4],
                                        GArray      *move_starts);
/* The nodes whose corner lies in @box, with their positions. */
void      _rl_canvas_nodes_in_box      (RlCanvas    *self,
                                        const double box[4],
                                        GArray      *move_starts);
/* Copies the selection onto itself and selects the copies. */
void      _rl_canvas_duplicate_in_place (RlCanvas   *self);
void      _rl_canvas_edit_class_init   (GtkWidgetClass *widget_class);
/* The node menu (rl-canvas-color.c): opens it for @node_id at widget
 * point (@x, @y); installs its actions. */
void      _rl_canvas_open_node_menu    (RlCanvas    *self,
                                        gint64       node_id,
                                        double       x,
                                        double       y);
void      _rl_canvas_color_class_init  (GtkWidgetClass *widget_class);
/* Reroute points (rl-canvas-reroute.c). The waypoints of link @link_id
 * from origin to target in widget coordinates (graphene_point_t, owned). */
GArray   *_rl_canvas_link_waypoints    (RlCanvas    *self,
                                        gint64       link_id);
/* The reroute point drawn at widget point (@x, @y), or -1. */
gint64    _rl_canvas_reroute_at        (RlCanvas    *self,
                                        double       x,
                                        double       y);
/* Moves a reroute point without recording (during a drag). */
void      _rl_canvas_set_reroute_position (RlCanvas *self,
                                        gint64       reroute_id,
                                        double       doc_x,
                                        double       doc_y);
/* The document position @x rounded to the grid when snapping is on. */
double    _rl_canvas_snap              (RlCanvas    *self,
                                        double       x);

G_END_DECLS
