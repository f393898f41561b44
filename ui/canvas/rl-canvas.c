/* RlCanvas: view transform, layout of node widgets, drawing of grid and
 * wires, and pointer/keyboard input. Document edits live in
 * rl-canvas-edit.c. */
#include <math.h>

#include "engine/graph/registry.h"
#include "engine/graph/workflow.h"
#include "ui/canvas/rl-canvas-private.h"

#define MIN_ZOOM 0.1
#define MAX_ZOOM 3.0
#define GRID_STEP 20.0
#define WIRE_WIDTH 3.0

G_DEFINE_FINAL_TYPE (RlCanvas, rl_canvas, GTK_TYPE_WIDGET)

enum { SIGNAL_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

void
_rl_canvas_emit_changed (RlCanvas *self)
{
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
}

/* ---- View ---------------------------------------------------------------- */

double
rl_canvas_get_zoom (RlCanvas *self)
{
  g_return_val_if_fail (RL_IS_CANVAS (self), 1.0);
  return self->zoom;
}

void
rl_canvas_get_offset (RlCanvas *self,
                      double   *x,
                      double   *y)
{
  g_return_if_fail (RL_IS_CANVAS (self));
  *x = self->offset_x;
  *y = self->offset_y;
}

void
rl_canvas_widget_to_document (RlCanvas *self,
                              double    x,
                              double    y,
                              double   *doc_x,
                              double   *doc_y)
{
  *doc_x = (x - self->offset_x) / self->zoom;
  *doc_y = (y - self->offset_y) / self->zoom;
}

void
rl_canvas_zoom_at (RlCanvas *self,
                   double    factor,
                   double    x,
                   double    y)
{
  double doc_x, doc_y, zoom;

  g_return_if_fail (RL_IS_CANVAS (self));
  zoom = CLAMP (self->zoom * factor, MIN_ZOOM, MAX_ZOOM);
  rl_canvas_widget_to_document (self, x, y, &doc_x, &doc_y);
  self->zoom = zoom;
  self->offset_x = x - doc_x * zoom;
  self->offset_y = y - doc_y * zoom;
  gtk_widget_queue_allocate (GTK_WIDGET (self));
}

void
rl_canvas_pan_by (RlCanvas *self,
                  double    dx,
                  double    dy)
{
  g_return_if_fail (RL_IS_CANVAS (self));
  self->offset_x += dx;
  self->offset_y += dy;
  gtk_widget_queue_allocate (GTK_WIDGET (self));
}

static void
node_document_size (RlCanvas     *self,
                    RlNodeWidget *node,
                    int          *width,
                    int          *height)
{
  int min_w, nat_w, min_h, nat_h;

  gtk_widget_measure (GTK_WIDGET (node), GTK_ORIENTATION_HORIZONTAL, -1, &min_w, &nat_w, NULL, NULL);
  *width = MAX (min_w, (int) rl_node_widget_get_stored_width (node));
  gtk_widget_measure (GTK_WIDGET (node), GTK_ORIENTATION_VERTICAL, *width, &min_h, &nat_h, NULL, NULL);
  *height = min_h;
}

void
rl_canvas_fit_view (RlCanvas *self)
{
  double left = G_MAXDOUBLE, top = G_MAXDOUBLE, right = -G_MAXDOUBLE, bottom = -G_MAXDOUBLE;
  int width = gtk_widget_get_width (GTK_WIDGET (self));
  int height = gtk_widget_get_height (GTK_WIDGET (self));
  GHashTableIter iter;
  gpointer value;

  g_return_if_fail (RL_IS_CANVAS (self));
  if (g_hash_table_size (self->nodes) == 0 || width <= 0 || height <= 0)
    return;
  g_hash_table_iter_init (&iter, self->nodes);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      double x = 0, y = 0;
      int w, h;

      rl_node_widget_get_position (value, &x, &y);
      node_document_size (self, value, &w, &h);
      left = MIN (left, x);
      top = MIN (top, y);
      right = MAX (right, x + w);
      bottom = MAX (bottom, y + h);
    }
  self->zoom = CLAMP (MIN ((width - 80) / MAX (right - left, 1.0), (height - 80) / MAX (bottom - top, 1.0)),
                      MIN_ZOOM, 1.5);
  self->offset_x = (width - (right - left) * self->zoom) / 2 - left * self->zoom;
  self->offset_y = (height - (bottom - top) * self->zoom) / 2 - top * self->zoom;
  gtk_widget_queue_allocate (GTK_WIDGET (self));
}

/* ---- Layout and drawing --------------------------------------------------- */

static void
rl_canvas_measure (GtkWidget      *widget,
                   GtkOrientation  orientation,
                   int             for_size,
                   int            *minimum,
                   int            *natural,
                   int            *minimum_baseline,
                   int            *natural_baseline)
{
  *minimum = 100;
  *natural = orientation == GTK_ORIENTATION_HORIZONTAL ? 800 : 600;
}

static void
rl_canvas_size_allocate (GtkWidget *widget,
                         int        width,
                         int        height,
                         int        baseline)
{
  RlCanvas *self = RL_CANVAS (widget);

  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      double x = 0, y = 0;
      int w, h;
      GskTransform *transform;

      if (!RL_IS_NODE_WIDGET (child))
        continue;
      rl_node_widget_get_position (RL_NODE_WIDGET (child), &x, &y);
      node_document_size (self, RL_NODE_WIDGET (child), &w, &h);
      transform = gsk_transform_translate (NULL, &GRAPHENE_POINT_INIT (self->offset_x + x * self->zoom,
                                                                       self->offset_y + y * self->zoom));
      transform = gsk_transform_scale (transform, self->zoom, self->zoom);
      gtk_widget_allocate (child, w, h, -1, transform);
    }
  if (self->search != NULL)
    gtk_popover_present (GTK_POPOVER (self->search));
  if (self->rename_popover != NULL)
    gtk_popover_present (GTK_POPOVER (self->rename_popover));
  if (self->node_menu != NULL)
    gtk_popover_present (GTK_POPOVER (self->node_menu));
}

static void
snapshot_grid (RlCanvas    *self,
               GtkSnapshot *snapshot,
               int          width,
               int          height)
{
  double step = GRID_STEP * self->zoom;
  GdkRGBA minor = { 0.5, 0.5, 0.5, 0.10 }, major = { 0.5, 0.5, 0.5, 0.22 };

  while (step < 10)
    step *= 5;
  for (int pass = 0; pass < 2; pass++)
    {
      double spacing = pass == 0 ? step : step * 5;
      GdkRGBA *color = pass == 0 ? &minor : &major;
      double start_x = fmod (self->offset_x, spacing), start_y = fmod (self->offset_y, spacing);

      if (start_x < 0)
        start_x += spacing;
      if (start_y < 0)
        start_y += spacing;
      for (double x = start_x; x < width; x += spacing)
        gtk_snapshot_append_color (snapshot, color, &GRAPHENE_RECT_INIT (floor (x), 0, 1, height));
      for (double y = start_y; y < height; y += spacing)
        gtk_snapshot_append_color (snapshot, color, &GRAPHENE_RECT_INIT (0, floor (y), width, 1));
    }
}

static gboolean
socket_center (RlCanvas *self,
               RlSocket *socket,
               double   *x,
               double   *y)
{
  graphene_point_t point;
  RlNodeWidget *node = socket != NULL ? RL_NODE_WIDGET (gtk_widget_get_ancestor (GTK_WIDGET (socket), RL_TYPE_NODE_WIDGET))
                                      : NULL;

  /* A collapsed node's wires meet the edges of its title. */
  if (node != NULL && rl_node_widget_get_collapsed (node))
    {
      float edge = rl_socket_get_direction (socket) == RL_SOCKET_INPUT ? 0.0f : gtk_widget_get_width (GTK_WIDGET (node));

      if (!gtk_widget_compute_point (GTK_WIDGET (node), GTK_WIDGET (self),
                                     &GRAPHENE_POINT_INIT (edge, gtk_widget_get_height (GTK_WIDGET (node)) / 2.0f),
                                     &point))
        return FALSE;
      *x = point.x;
      *y = point.y;
      return TRUE;
    }
  if (socket == NULL || !gtk_widget_compute_point (GTK_WIDGET (socket), GTK_WIDGET (self),
                                                   &GRAPHENE_POINT_INIT (gtk_widget_get_width (GTK_WIDGET (socket)) / 2.0f,
                                                                         gtk_widget_get_height (GTK_WIDGET (socket)) / 2.0f),
                                                   &point))
    return FALSE;
  *x = point.x;
  *y = point.y;
  return TRUE;
}

static RlSocket *
find_socket (RlCanvas          *self,
             gint64             node_id,
             RlSocketDirection  direction,
             guint              slot)
{
  RlNodeWidget *node = g_hash_table_lookup (self->nodes, &node_id);

  return node != NULL ? rl_node_widget_get_socket (node, direction, slot) : NULL;
}

/* A wire leaves an output to the right and enters an input from the left,
 * bending more the farther apart its ends are, as in ComfyUI. */
static void
wire_path (cairo_t *cr,
           double   x1,
           double   y1,
           double   x2,
           double   y2,
           double   zoom)
{
  double bend = MAX (fabs (x2 - x1) * 0.5, 40 * zoom);

  cairo_move_to (cr, x1, y1);
  cairo_curve_to (cr, x1 + bend, y1, x2 - bend, y2, x2, y2);
}


/* A cubic lies inside the box of its control points. */
static gboolean
wire_on_screen (RlCanvas *self,
                double    x1,
                double    y1,
                double    x2,
                double    y2)
{
  double bend = MAX (fabs (x2 - x1) * 0.5, 40 * self->zoom);
  double left = MIN (x1, x2 - bend), right = MAX (x1 + bend, x2);

  return right >= 0 && MAX (y1, y2) >= 0 && left <= gtk_widget_get_width (GTK_WIDGET (self)) &&
         MIN (y1, y2) <= gtk_widget_get_height (GTK_WIDGET (self));
}

static void
draw_wires (RlCanvas *self,
            cairo_t  *cr)
{
  cairo_set_line_width (cr, WIRE_WIDTH * MAX (self->zoom, 0.4));
  cairo_set_line_cap (cr, CAIRO_LINE_CAP_ROUND);
  for (guint i = 0; i < rl_workflow_get_n_links (self->workflow); i++)
    {
      RlWorkflowLink link;
      double x1, y1, x2, y2;
      GdkRGBA color;

      if (!rl_workflow_get_link (self->workflow, i, &link) ||
          !socket_center (self, find_socket (self, link.origin_id, RL_SOCKET_OUTPUT, link.origin_slot), &x1, &y1) ||
          !socket_center (self, find_socket (self, link.target_id, RL_SOCKET_INPUT, link.target_slot), &x2, &y2))
        continue;
      rl_socket_type_color (link.type, &color);
      gdk_cairo_set_source_rgba (cr, &color);
      {
        g_autoptr(GArray) waypoints = _rl_canvas_link_waypoints (self, link.id);
        double px = x1, py = y1;

        if (waypoints->len == 0 && !wire_on_screen (self, x1, y1, x2, y2))
          continue;
        /* Through each reroute point in turn, then into the input. */
        for (guint w = 0; w < waypoints->len; w++)
          {
            graphene_point_t *point = &g_array_index (waypoints, graphene_point_t, w);

            wire_path (cr, px, py, point->x, point->y, self->zoom);
            px = point->x;
            py = point->y;
          }
        wire_path (cr, px, py, x2, y2, self->zoom);
        cairo_stroke (cr);
        for (guint w = 0; w < waypoints->len; w++)
          {
            graphene_point_t *point = &g_array_index (waypoints, graphene_point_t, w);

            cairo_arc (cr, point->x, point->y, 5 * MAX (self->zoom, 0.5), 0, 2 * G_PI);
            cairo_fill (cr);
          }
      }
    }
  if (self->drag == RL_CANVAS_DRAG_WIRE)
    {
      double x, y;
      GdkRGBA color;

      if (socket_center (self, find_socket (self, self->wire_node, self->wire_direction, self->wire_slot), &x, &y))
        {
          rl_socket_type_color (self->wire_type, &color);
          gdk_cairo_set_source_rgba (cr, &color);
          if (self->wire_direction == RL_SOCKET_OUTPUT)
            wire_path (cr, x, y, self->drag_x, self->drag_y, self->zoom);
          else
            wire_path (cr, self->drag_x, self->drag_y, x, y, self->zoom);
          cairo_stroke (cr);
        }
    }
}

/* Groups (ComfyUI's titled boxes) under everything else, title on top. */
static void
snapshot_groups (RlCanvas    *self,
                 GtkSnapshot *snapshot)
{
  GdkRGBA fill = { 0.45, 0.55, 0.75, 0.18 }, text_color = { 0.3, 0.35, 0.45, 1.0 };

  for (guint i = 0; i < rl_workflow_get_n_groups (self->workflow); i++)
    {
      const char *title = NULL;
      double box[4];
      graphene_rect_t rect;
      g_autoptr(PangoLayout) layout = NULL;

      if (!rl_workflow_get_group (self->workflow, i, &title, box))
        continue;
      rect = GRAPHENE_RECT_INIT (self->offset_x + box[0] * self->zoom, self->offset_y + box[1] * self->zoom,
                                 box[2] * self->zoom, box[3] * self->zoom);
      gtk_snapshot_append_color (snapshot, &fill, &rect);
      if (title == NULL || self->zoom < 0.3)
        continue;
      layout = gtk_widget_create_pango_layout (GTK_WIDGET (self), title);
      gtk_snapshot_save (snapshot);
      gtk_snapshot_translate (snapshot, &GRAPHENE_POINT_INIT (rect.origin.x + 8 * self->zoom, rect.origin.y + 4 * self->zoom));
      gtk_snapshot_scale (snapshot, self->zoom * 1.4, self->zoom * 1.4);
      gtk_snapshot_append_layout (snapshot, layout, &text_color);
      gtk_snapshot_restore (snapshot);
    }
}

/* Nodes outside the view are not drawn at all: with hundreds of nodes
 * most of them are off screen, and renderers still walk what they get. */
static gboolean
node_on_screen (RlCanvas     *self,
                RlNodeWidget *node,
                int           width,
                int           height)
{
  double x, y;
  double left, top, right, bottom;

  rl_node_widget_get_position (node, &x, &y);
  left = self->offset_x + x * self->zoom;
  top = self->offset_y + y * self->zoom;
  right = left + gtk_widget_get_width (GTK_WIDGET (node)) * self->zoom;
  bottom = top + gtk_widget_get_height (GTK_WIDGET (node)) * self->zoom;
  return right >= 0 && bottom >= 0 && left <= width && top <= height;
}

static void
rl_canvas_snapshot (GtkWidget   *widget,
                    GtkSnapshot *snapshot)
{
  RlCanvas *self = RL_CANVAS (widget);
  int width = gtk_widget_get_width (widget), height = gtk_widget_get_height (widget);
  cairo_t *cr;

  if (!self->hide_grid)
    snapshot_grid (self, snapshot, width, height);
  snapshot_groups (self, snapshot);
  cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, width, height));
  draw_wires (self, cr);
  cairo_destroy (cr);
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    if (RL_IS_NODE_WIDGET (child) && node_on_screen (self, RL_NODE_WIDGET (child), width, height))
      gtk_widget_snapshot_child (widget, child, snapshot);
  if (self->drag == RL_CANVAS_DRAG_RUBBER_BAND)
    {
      GdkRGBA fill = { 0.21, 0.52, 0.89, 0.15 };
      graphene_rect_t rect = GRAPHENE_RECT_INIT (MIN (self->drag_start_x, self->drag_x),
                                                 MIN (self->drag_start_y, self->drag_y),
                                                 fabs (self->drag_x - self->drag_start_x),
                                                 fabs (self->drag_y - self->drag_start_y));

      gtk_snapshot_append_color (snapshot, &fill, &rect);
    }
  if (self->drag == RL_CANVAS_DRAG_CUT)
    {
      static const double dashes[] = { 6, 4 };

      cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, width, height));
      cairo_set_source_rgba (cr, 0.88, 0.11, 0.14, 0.9);
      cairo_set_line_width (cr, 2);
      cairo_set_dash (cr, dashes, G_N_ELEMENTS (dashes), 0);
      cairo_move_to (cr, self->drag_start_x, self->drag_start_y);
      cairo_line_to (cr, self->drag_x, self->drag_y);
      cairo_stroke (cr);
      cairo_destroy (cr);
    }
}

/* ---- Hit-testing ---------------------------------------------------------- */

static gpointer
ancestor_of_type (GtkWidget *widget,
                  GtkWidget *stop,
                  GType      type)
{
  for (; widget != NULL && widget != stop; widget = gtk_widget_get_parent (widget))
    if (G_TYPE_CHECK_INSTANCE_TYPE (widget, type))
      return widget;
  return NULL;
}

static double
distance_to_segment (double px, double py,
                     double ax, double ay,
                     double bx, double by)
{
  double dx = bx - ax, dy = by - ay;
  double t = (dx * dx + dy * dy) > 0 ? ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy) : 0;

  t = CLAMP (t, 0, 1);
  return hypot (px - (ax + t * dx), py - (ay + t * dy));
}

/* Whether the wire from (@x1, @y1) to (@x2, @y2) passes within a few
 * pixels of (@x, @y): the same cubic as wire_path, in 24 segments. */
static gboolean
near_wire (RlCanvas *self,
           double    x,
           double    y,
           double    x1,
           double    y1,
           double    x2,
           double    y2)
{
  double bend = MAX (fabs (x2 - x1) * 0.5, 40 * self->zoom);
  double px = x1, py = y1;

  for (int s = 1; s <= 24; s++)
    {
      double t = s / 24.0, u = 1 - t;
      double qx = u * u * u * x1 + 3 * u * u * t * (x1 + bend) + 3 * u * t * t * (x2 - bend) + t * t * t * x2;
      double qy = u * u * u * y1 + 3 * u * u * t * y1 + 3 * u * t * t * y2 + t * t * t * y2;

      if (distance_to_segment (x, y, px, py, qx, qy) <= 6)
        return TRUE;
      px = qx;
      py = qy;
    }
  return FALSE;
}

/* The link whose wire passes within a few pixels of (@x, @y), or -1;
 * @segment (may be NULL) tells which piece between its reroute points. */
static gint64
link_at (RlCanvas *self,
         double    x,
         double    y,
         guint    *segment)
{
  for (guint i = 0; i < rl_workflow_get_n_links (self->workflow); i++)
    {
      RlWorkflowLink link;
      g_autoptr(GArray) waypoints = NULL;
      double x1, y1, x2, y2, px, py;

      if (!rl_workflow_get_link (self->workflow, i, &link) ||
          !socket_center (self, find_socket (self, link.origin_id, RL_SOCKET_OUTPUT, link.origin_slot), &x1, &y1) ||
          !socket_center (self, find_socket (self, link.target_id, RL_SOCKET_INPUT, link.target_slot), &x2, &y2))
        continue;
      waypoints = _rl_canvas_link_waypoints (self, link.id);
      px = x1;
      py = y1;
      for (guint w = 0; w <= waypoints->len; w++)
        {
          graphene_point_t end = w < waypoints->len ? g_array_index (waypoints, graphene_point_t, w)
                                                    : GRAPHENE_POINT_INIT (x2, y2);

          if (near_wire (self, x, y, px, py, end.x, end.y))
            {
              if (segment != NULL)
                *segment = w;
              return link.id;
            }
          px = end.x;
          py = end.y;
        }
    }
  return -1;
}

/* Whether segments AB and CD cross each other. */
static gboolean
segments_cross (double ax, double ay, double bx, double by,
                double cx, double cy, double dx, double dy)
{
  double d1 = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax);
  double d2 = (bx - ax) * (dy - ay) - (by - ay) * (dx - ax);
  double d3 = (dx - cx) * (ay - cy) - (dy - cy) * (ax - cx);
  double d4 = (dx - cx) * (by - cy) - (dy - cy) * (bx - cx);

  return (d1 > 0) != (d2 > 0) && (d3 > 0) != (d4 > 0);
}

/* Whether the wire piece from (@x1, @y1) to (@x2, @y2), the cubic of
 * near_wire, crosses the cut line @cut (x1, y1, x2, y2). */
static gboolean
wire_crosses (RlCanvas     *self,
              double        x1,
              double        y1,
              double        x2,
              double        y2,
              const double *cut)
{
  double bend = MAX (fabs (x2 - x1) * 0.5, 40 * self->zoom);
  double px = x1, py = y1;

  for (int s = 1; s <= 24; s++)
    {
      double t = s / 24.0, u = 1 - t;
      double qx = u * u * u * x1 + 3 * u * u * t * (x1 + bend) + 3 * u * t * t * (x2 - bend) + t * t * t * x2;
      double qy = u * u * u * y1 + 3 * u * u * t * y1 + 3 * u * t * t * y2 + t * t * t * y2;

      if (segments_cross (px, py, qx, qy, cut[0], cut[1], cut[2], cut[3]))
        return TRUE;
      px = qx;
      py = qy;
    }
  return FALSE;
}

/* The ids of the links whose wires (any piece between reroute points)
 * cross the cut line @cut, in widget coordinates. */
static GArray *
links_crossing (RlCanvas     *self,
                const double *cut)
{
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint64));

  for (guint i = 0; i < rl_workflow_get_n_links (self->workflow); i++)
    {
      RlWorkflowLink link;
      g_autoptr(GArray) waypoints = NULL;
      double x1, y1, x2, y2, px, py;

      if (!rl_workflow_get_link (self->workflow, i, &link) ||
          !socket_center (self, find_socket (self, link.origin_id, RL_SOCKET_OUTPUT, link.origin_slot), &x1, &y1) ||
          !socket_center (self, find_socket (self, link.target_id, RL_SOCKET_INPUT, link.target_slot), &x2, &y2))
        continue;
      waypoints = _rl_canvas_link_waypoints (self, link.id);
      px = x1;
      py = y1;
      for (guint w = 0; w <= waypoints->len; w++)
        {
          graphene_point_t end = w < waypoints->len ? g_array_index (waypoints, graphene_point_t, w)
                                                    : GRAPHENE_POINT_INIT (x2, y2);

          if (wire_crosses (self, px, py, end.x, end.y, cut))
            {
              g_array_append_val (ids, link.id);
              break;
            }
          px = end.x;
          py = end.y;
        }
    }
  return ids;
}

/* Ends a Ctrl+right-drag: removes every wire the line crossed as one undo
 * step. A drag that hardly moved is a Ctrl+right-click, which cuts the
 * wire under the pointer. */
static void
finish_cut (RlCanvas *self)
{
  double cut[4] = { self->drag_start_x, self->drag_start_y, self->drag_x, self->drag_y };
  g_autoptr(GArray) ids = NULL;

  if (hypot (cut[2] - cut[0], cut[3] - cut[1]) < 4)
    {
      gint64 link_id = link_at (self, cut[0], cut[1], NULL);

      ids = g_array_new (FALSE, FALSE, sizeof (gint64));
      if (link_id >= 0)
        g_array_append_val (ids, link_id);
    }
  else
    ids = links_crossing (self, cut);
  if (ids->len == 0)
    return;
  _rl_canvas_record (self, NULL);
  for (guint i = 0; i < ids->len; i++)
    rl_workflow_remove_link (self->workflow, g_array_index (ids, gint64, i));
  _rl_canvas_links_changed (self);
  _rl_canvas_changed (self);
}

double
_rl_canvas_snap (RlCanvas *self,
                 double    x)
{
  return self->snap_to_grid ? round (x / GRID_STEP) * GRID_STEP : x;
}

void
rl_canvas_set_snap_to_grid (RlCanvas *self,
                            gboolean  snap)
{
  g_return_if_fail (RL_IS_CANVAS (self));
  self->snap_to_grid = snap != FALSE;
}

gboolean
rl_canvas_get_snap_to_grid (RlCanvas *self)
{
  g_return_val_if_fail (RL_IS_CANVAS (self), FALSE);
  return self->snap_to_grid;
}

void
rl_canvas_set_show_grid (RlCanvas *self,
                         gboolean  show)
{
  g_return_if_fail (RL_IS_CANVAS (self));
  self->hide_grid = !show;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

gboolean
rl_canvas_get_show_grid (RlCanvas *self)
{
  g_return_val_if_fail (RL_IS_CANVAS (self), FALSE);
  return !self->hide_grid;
}

void
rl_canvas_reload_nodes (RlCanvas *self)
{
  g_return_if_fail (RL_IS_CANVAS (self));
  _rl_canvas_rebuild (self);
  gtk_widget_queue_allocate (GTK_WIDGET (self));
}

/* Alt+click on a reroute point deletes it; on a wire, adds one there. */
static gboolean
alt_click_reroute (RlCanvas *self,
                   double    x,
                   double    y)
{
  gint64 reroute = _rl_canvas_reroute_at (self, x, y);
  guint segment = 0;
  gint64 link_id;
  double doc_x, doc_y;

  if (reroute >= 0)
    return rl_canvas_delete_reroute (self, reroute);
  link_id = link_at (self, x, y, &segment);
  if (link_id < 0)
    return FALSE;
  rl_canvas_widget_to_document (self, x, y, &doc_x, &doc_y);
  return rl_canvas_add_reroute (self, link_id, segment, _rl_canvas_snap (self, round (doc_x)),
                                _rl_canvas_snap (self, round (doc_y))) >= 0;
}

/* Nodes dropped after a move land on the grid (same undo step). */
static void
snap_moved_nodes (RlCanvas *self)
{
  if (!self->snap_to_grid)
    return;
  for (guint i = 0; i < self->move_starts->len; i++)
    {
      RlMoveStart *start = &g_array_index (self->move_starts, RlMoveStart, i);
      RlNodeWidget *node = g_hash_table_lookup (self->nodes, &start->id);
      double x, y;

      if (!rl_workflow_node_get_pos (self->workflow, start->id, &x, &y))
        continue;
      x = _rl_canvas_snap (self, x);
      y = _rl_canvas_snap (self, y);
      rl_workflow_node_set_pos (self->workflow, start->id, x, y);
      if (node != NULL)
        rl_node_widget_set_position (node, x, y);
    }
  gtk_widget_queue_allocate (GTK_WIDGET (self));
}

/* ---- Pointer input -------------------------------------------------------- */

static void
highlight_sockets (RlCanvas *self,
                   gboolean  on)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->nodes);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      GPtrArray *sockets = rl_node_widget_get_sockets (value);

      for (guint i = 0; i < sockets->len; i++)
        {
          RlSocket *socket = g_ptr_array_index (sockets, i);
          const char *type = rl_socket_get_socket_type (socket);
          gboolean fits;

          if (!on)
            {
              rl_socket_set_highlight (socket, 0);
              continue;
            }
          if (rl_socket_get_direction (socket) == self->wire_direction ||
              rl_socket_get_node_id (socket) == self->wire_node)
            fits = FALSE;
          else if (self->wire_direction == RL_SOCKET_OUTPUT)
            fits = rl_socket_types_compatible (self->wire_type, type);
          else
            fits = rl_socket_types_compatible (type, self->wire_type);
          rl_socket_set_highlight (socket, fits ? 1 : -1);
        }
    }
}

static void
begin_wire (RlCanvas          *self,
            gint64             node_id,
            RlSocketDirection  direction,
            guint              slot,
            const char        *type)
{
  self->drag = RL_CANVAS_DRAG_WIRE;
  self->wire_node = node_id;
  self->wire_direction = direction;
  self->wire_slot = slot;
  g_free (self->wire_type);
  self->wire_type = g_strdup (type);
  highlight_sockets (self, TRUE);
}

/* Pressing a connected input picks its wire up from the output it came
 * from, as in ComfyUI: the link is removed and the drag continues. */
static void
begin_socket_drag (RlCanvas *self,
                   RlSocket *socket)
{
  gint64 node_id = rl_socket_get_node_id (socket);
  guint slot = rl_socket_get_slot (socket);

  if (rl_socket_get_direction (socket) == RL_SOCKET_INPUT)
    for (guint i = 0; i < rl_workflow_get_n_links (self->workflow); i++)
      {
        RlWorkflowLink link;

        if (!rl_workflow_get_link (self->workflow, i, &link) ||
            link.target_id != node_id || link.target_slot != slot)
          continue;
        RlSocket *origin = find_socket (self, link.origin_id, RL_SOCKET_OUTPUT, link.origin_slot);
        gint64 origin_id = link.origin_id;
        guint origin_slot = link.origin_slot;

        rl_canvas_disconnect_input (self, node_id, slot);
        if (origin != NULL)
          begin_wire (self, origin_id, RL_SOCKET_OUTPUT, origin_slot, rl_socket_get_socket_type (origin));
        return;
      }
  begin_wire (self, node_id, rl_socket_get_direction (socket), slot, rl_socket_get_socket_type (socket));
}

static void
begin_move (RlCanvas        *self,
            RlNodeWidget    *node,
            GdkModifierType  state)
{
  gint64 id = rl_node_widget_get_node_id (node);
  g_autoptr(GArray) selection = NULL;

  if (state & (GDK_CONTROL_MASK | GDK_SHIFT_MASK))
    {
      if (rl_node_widget_get_selected (node) && (state & GDK_CONTROL_MASK))
        {
          rl_node_widget_set_selected (node, FALSE);
          return;
        }
      rl_canvas_select (self, id, TRUE);
    }
  else if (!rl_node_widget_get_selected (node))
    rl_canvas_select (self, id, FALSE);

  /* Drawn last, so it is on top of the nodes it overlaps. */
  gtk_widget_insert_before (GTK_WIDGET (node), GTK_WIDGET (self), NULL);
  /* Alt-drag drags a copy: duplicate in place, then move the copies
   * (the widgets are rebuilt, so @node is not used after this). */
  if (state & GDK_ALT_MASK)
    _rl_canvas_duplicate_in_place (self);
  self->drag = RL_CANVAS_DRAG_MOVE;
  self->move_recorded = FALSE;
  g_array_set_size (self->move_starts, 0);
  selection = rl_canvas_get_selection (self);
  for (guint i = 0; i < selection->len; i++)
    {
      RlMoveStart start = { g_array_index (selection, gint64, i), 0, 0 };

      rl_workflow_node_get_pos (self->workflow, start.id, &start.x, &start.y);
      g_array_append_val (self->move_starts, start);
    }
}

static gboolean
begin_group_drag (RlCanvas *self,
                  double    x,
                  double    y)
{
  double doc_x, doc_y;

  rl_canvas_widget_to_document (self, x, y, &doc_x, &doc_y);
  self->drag_group = _rl_canvas_group_at_title (self, doc_x, doc_y);
  if (self->drag_group < 0 ||
      !rl_workflow_get_group (self->workflow, self->drag_group, NULL, self->group_start))
    return FALSE;
  _rl_canvas_nodes_in_box (self, self->group_start, self->move_starts);
  self->move_recorded = FALSE;
  self->drag = RL_CANVAS_DRAG_GROUP;
  return TRUE;
}

static void
on_drag_begin (GtkGestureDrag *gesture,
               double          x,
               double          y,
               RlCanvas       *self)
{
  guint button = gtk_gesture_single_get_current_button (GTK_GESTURE_SINGLE (gesture));
  GdkModifierType state = gtk_event_controller_get_current_event_state (GTK_EVENT_CONTROLLER (gesture));
  GtkWidget *picked = gtk_widget_pick (GTK_WIDGET (self), x, y, GTK_PICK_DEFAULT);
  RlSocket *socket = ancestor_of_type (picked, GTK_WIDGET (self), RL_TYPE_SOCKET);
  RlNodeWidget *node = ancestor_of_type (picked, GTK_WIDGET (self), RL_TYPE_NODE_WIDGET);

  self->drag_start_x = self->drag_x = x;
  self->drag_start_y = self->drag_y = y;
  self->pan_start_x = self->offset_x;
  self->pan_start_y = self->offset_y;
  self->drag = RL_CANVAS_DRAG_NONE;
  /* The second press of the double-click that opened the search must not
   * take the typing away from its entry. */
  if (self->search == NULL || !gtk_widget_get_visible (self->search))
    gtk_widget_grab_focus (GTK_WIDGET (self));

  if (button == GDK_BUTTON_MIDDLE || (button == GDK_BUTTON_PRIMARY && self->space_held))
    {
      self->space_used = TRUE;
      self->drag = RL_CANVAS_DRAG_PAN;
    }
  else if (button == GDK_BUTTON_SECONDARY && (state & GDK_CONTROL_MASK))
    self->drag = RL_CANVAS_DRAG_CUT;
  else if (button != GDK_BUTTON_PRIMARY)
    return;
  else if (socket == NULL && node == NULL && (state & GDK_ALT_MASK))
    {
      if (alt_click_reroute (self, x, y))
        gtk_gesture_set_state (GTK_GESTURE (gesture), GTK_EVENT_SEQUENCE_CLAIMED);
      return;
    }
  else if (socket == NULL && node == NULL && (self->drag_reroute = _rl_canvas_reroute_at (self, x, y)) >= 0 &&
           rl_canvas_get_reroute_position (self, self->drag_reroute, &self->reroute_start_x,
                                           &self->reroute_start_y))
    {
      self->drag = RL_CANVAS_DRAG_REROUTE;
      self->move_recorded = FALSE;
    }
  else if (socket != NULL)
    begin_socket_drag (self, socket);
  else if (node != NULL)
    begin_move (self, node, state);
  else if (state & (GDK_CONTROL_MASK | GDK_SHIFT_MASK))
    self->drag = RL_CANVAS_DRAG_RUBBER_BAND;
  else if (begin_group_drag (self, x, y))
    ;
  else
    {
      rl_canvas_clear_selection (self);
      self->drag = RL_CANVAS_DRAG_PAN;
    }
  if (self->drag != RL_CANVAS_DRAG_NONE)
    gtk_gesture_set_state (GTK_GESTURE (gesture), GTK_EVENT_SEQUENCE_CLAIMED);
}

static void
on_drag_update (GtkGestureDrag *gesture,
                double          dx,
                double          dy,
                RlCanvas       *self)
{
  self->drag_x = self->drag_start_x + dx;
  self->drag_y = self->drag_start_y + dy;
  switch (self->drag)
    {
    case RL_CANVAS_DRAG_PAN:
      self->offset_x = self->pan_start_x + dx;
      self->offset_y = self->pan_start_y + dy;
      gtk_widget_queue_allocate (GTK_WIDGET (self));
      break;
    case RL_CANVAS_DRAG_MOVE:
      if (!self->move_recorded)
        {
          _rl_canvas_record (self, NULL);
          self->move_recorded = TRUE;
        }
      for (guint i = 0; i < self->move_starts->len; i++)
        {
          RlMoveStart *start = &g_array_index (self->move_starts, RlMoveStart, i);

          double x = round (start->x + dx / self->zoom), y = round (start->y + dy / self->zoom);
          RlNodeWidget *node = g_hash_table_lookup (self->nodes, &start->id);

          rl_workflow_node_set_pos (self->workflow, start->id, x, y);
          if (node != NULL)
            rl_node_widget_set_position (node, x, y);
        }
      gtk_widget_queue_allocate (GTK_WIDGET (self));
      break;
    case RL_CANVAS_DRAG_GROUP:
      {
        double box[4] = { self->group_start[0] + dx / self->zoom, self->group_start[1] + dy / self->zoom,
                          self->group_start[2], self->group_start[3] };

        if (!self->move_recorded)
          {
            _rl_canvas_record (self, NULL);
            self->move_recorded = TRUE;
          }
        _rl_canvas_set_group_box (self, self->drag_group, self->group_start, box, self->move_starts);
        gtk_widget_queue_draw (GTK_WIDGET (self));
      }
      break;
    case RL_CANVAS_DRAG_REROUTE:
      if (!self->move_recorded)
        {
          _rl_canvas_record (self, NULL);
          self->move_recorded = TRUE;
        }
      _rl_canvas_set_reroute_position (self, self->drag_reroute, round (self->reroute_start_x + dx / self->zoom),
                                       round (self->reroute_start_y + dy / self->zoom));
      break;
    case RL_CANVAS_DRAG_WIRE:
    case RL_CANVAS_DRAG_RUBBER_BAND:
    case RL_CANVAS_DRAG_CUT:
      gtk_widget_queue_draw (GTK_WIDGET (self));
      break;
    case RL_CANVAS_DRAG_NONE:
      break;
    }
}

static void
finish_wire (RlCanvas *self,
             double    x,
             double    y)
{
  GtkWidget *picked = gtk_widget_pick (GTK_WIDGET (self), x, y, GTK_PICK_DEFAULT);
  RlSocket *target = ancestor_of_type (picked, GTK_WIDGET (self), RL_TYPE_SOCKET);
  RlNodeWidget *node = ancestor_of_type (picked, GTK_WIDGET (self), RL_TYPE_NODE_WIDGET);

  highlight_sockets (self, FALSE);
  if (target != NULL && rl_socket_get_direction (target) != self->wire_direction)
    {
      if (self->wire_direction == RL_SOCKET_OUTPUT)
        rl_canvas_connect (self, self->wire_node, self->wire_slot,
                           rl_socket_get_node_id (target), rl_socket_get_slot (target), NULL);
      else
        rl_canvas_connect (self, rl_socket_get_node_id (target), rl_socket_get_slot (target),
                           self->wire_node, self->wire_slot, NULL);
      return;
    }
  if (node != NULL && target == NULL && rl_node_widget_get_node_id (node) != self->wire_node)
    {
      _rl_canvas_finish_pending_wire (self, rl_node_widget_get_node_id (node));
      return;
    }
  if (node == NULL && hypot (x - self->drag_start_x, y - self->drag_start_y) > 8)
    {
      /* Dropped on empty space: offer the nodes that fit this wire. */
      rl_canvas_open_search (self, x, y);
      rl_node_search_set_filter (RL_NODE_SEARCH (self->search), self->wire_type, self->wire_direction);
      self->pending_wire = TRUE;
    }
}

static void
select_in_rubber_band (RlCanvas *self)
{
  graphene_rect_t band = GRAPHENE_RECT_INIT (MIN (self->drag_start_x, self->drag_x),
                                             MIN (self->drag_start_y, self->drag_y),
                                             fabs (self->drag_x - self->drag_start_x),
                                             fabs (self->drag_y - self->drag_start_y));
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->nodes);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      graphene_rect_t bounds;

      if (gtk_widget_compute_bounds (value, GTK_WIDGET (self), &bounds) &&
          graphene_rect_intersection (&band, &bounds, NULL))
        rl_node_widget_set_selected (value, TRUE);
    }
}

static void
on_drag_end (GtkGestureDrag *gesture,
             double          dx,
             double          dy,
             RlCanvas       *self)
{
  RlCanvasDrag drag = self->drag;

  self->drag_x = self->drag_start_x + dx;
  self->drag_y = self->drag_start_y + dy;
  self->drag = RL_CANVAS_DRAG_NONE;
  switch (drag)
    {
    case RL_CANVAS_DRAG_WIRE:
      finish_wire (self, self->drag_x, self->drag_y);
      break;
    case RL_CANVAS_DRAG_MOVE:
      if (self->move_recorded)
        {
          snap_moved_nodes (self);
          _rl_canvas_changed (self);
        }
      break;
    case RL_CANVAS_DRAG_REROUTE:
      if (self->move_recorded)
        {
          double x = 0, y = 0;

          rl_canvas_get_reroute_position (self, self->drag_reroute, &x, &y);
          _rl_canvas_set_reroute_position (self, self->drag_reroute, _rl_canvas_snap (self, x),
                                           _rl_canvas_snap (self, y));
          _rl_canvas_changed (self);
        }
      break;
    case RL_CANVAS_DRAG_GROUP:
      if (self->move_recorded)
        _rl_canvas_changed (self);
      break;
    case RL_CANVAS_DRAG_RUBBER_BAND:
      select_in_rubber_band (self);
      break;
    case RL_CANVAS_DRAG_CUT:
      finish_cut (self);
      break;
    case RL_CANVAS_DRAG_PAN:
    case RL_CANVAS_DRAG_NONE:
      break;
    }
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
on_click_pressed (GtkGestureClick *gesture,
                  int              n_press,
                  double           x,
                  double           y,
                  RlCanvas        *self)
{
  GtkWidget *picked = gtk_widget_pick (GTK_WIDGET (self), x, y, GTK_PICK_DEFAULT);
  guint button = gtk_gesture_single_get_current_button (GTK_GESTURE_SINGLE (gesture));

  /* Ctrl+right-click and Ctrl+right-drag (cutting wires) are the drag
   * gesture's: it sees the press first. A right-click on a node's title
   * opens its menu. */
  if (button == GDK_BUTTON_SECONDARY &&
      !(gtk_event_controller_get_current_event_state (GTK_EVENT_CONTROLLER (gesture)) & GDK_CONTROL_MASK))
    {
      RlNodeWidget *node = ancestor_of_type (picked, GTK_WIDGET (self), RL_TYPE_NODE_WIDGET);
      GtkWidget *title = node != NULL ? rl_node_widget_get_title_label (node) : NULL;

      if (title != NULL && (picked == title || gtk_widget_is_ancestor (picked, title)))
        _rl_canvas_open_node_menu (self, rl_node_widget_get_node_id (node), x, y);
      return;
    }
  if (n_press == 2 && button == GDK_BUTTON_PRIMARY && (picked == GTK_WIDGET (self) || picked == NULL))
    rl_canvas_open_search (self, x, y);
}

static void
on_motion (GtkEventControllerMotion *motion,
           double                    x,
           double                    y,
           RlCanvas                 *self)
{
  self->pointer_x = x;
  self->pointer_y = y;
}

static gboolean
on_scroll (GtkEventControllerScroll *scroll,
           double                    dx,
           double                    dy,
           RlCanvas                 *self)
{
  GdkModifierType state = gtk_event_controller_get_current_event_state (GTK_EVENT_CONTROLLER (scroll));
  double unit = gtk_event_controller_scroll_get_unit (scroll) == GDK_SCROLL_UNIT_WHEEL ? 40.0 : 1.0;

  if (state & GDK_CONTROL_MASK)
    rl_canvas_zoom_at (self, exp (-dy * (unit > 1 ? 0.15 : 0.01)), self->pointer_x, self->pointer_y);
  else
    rl_canvas_pan_by (self, -dx * unit, -dy * unit);
  return TRUE;
}

static void
on_zoom_begin (GtkGesture       *gesture,
               GdkEventSequence *sequence,
               RlCanvas         *self)
{
  g_object_set_data (G_OBJECT (gesture), "rl-last-scale", GINT_TO_POINTER (1000));
}

static void
on_zoom_scale_changed (GtkGestureZoom *gesture,
                       double          scale,
                       RlCanvas        *self)
{
  double last = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (gesture), "rl-last-scale")) / 1000.0;
  double x, y;

  if (last <= 0 || !gtk_gesture_get_bounding_box_center (GTK_GESTURE (gesture), &x, &y))
    return;
  rl_canvas_zoom_at (self, scale / last, x, y);
  g_object_set_data (G_OBJECT (gesture), "rl-last-scale", GINT_TO_POINTER ((int) (scale * 1000)));
}

static gboolean
on_key_pressed (GtkEventControllerKey *key,
                guint                  keyval,
                guint                  keycode,
                GdkModifierType        state,
                RlCanvas              *self)
{
  if (keyval == GDK_KEY_space && !(state & (GDK_CONTROL_MASK | GDK_ALT_MASK)))
    {
      if (!self->space_held)
        self->space_used = FALSE;
      self->space_held = TRUE;
      return TRUE;
    }
  return FALSE;
}

static void
on_key_released (GtkEventControllerKey *key,
                 guint                  keyval,
                 guint                  keycode,
                 GdkModifierType        state,
                 RlCanvas              *self)
{
  if (keyval != GDK_KEY_space || !self->space_held)
    return;
  self->space_held = FALSE;
  /* Space tapped without dragging: add a node where the pointer is. */
  if (!self->space_used)
    rl_canvas_open_search (self, self->pointer_x, self->pointer_y);
}

/* ---- Search ---------------------------------------------------------------- */

static void
on_search_chosen (RlNodeSearch *search,
                  const char   *type_name,
                  RlCanvas     *self)
{
  g_autoptr(GError) error = NULL;
  gint64 id = rl_canvas_add_node (self, type_name, self->search_doc_x, self->search_doc_y, &error);

  if (id < 0)
    {
      g_warning ("Could not add node %s: %s", type_name, error->message);
      return;
    }
  if (self->pending_wire)
    _rl_canvas_finish_pending_wire (self, id);
  self->pending_wire = FALSE;
  rl_canvas_select (self, id, FALSE);
  gtk_widget_grab_focus (GTK_WIDGET (self));
}

static void
on_search_closed (GtkPopover *popover,
                  RlCanvas   *self)
{
  /* The filter belongs to one dropped wire; the next search starts wide. */
  if (!self->pending_wire)
    rl_node_search_set_filter (RL_NODE_SEARCH (self->search), NULL, RL_SOCKET_OUTPUT);
}

void
rl_canvas_open_search (RlCanvas *self,
                       double    x,
                       double    y)
{
  g_return_if_fail (RL_IS_CANVAS (self));
  self->pending_wire = FALSE;
  rl_canvas_widget_to_document (self, x, y, &self->search_doc_x, &self->search_doc_y);
  self->search_doc_x = round (self->search_doc_x);
  self->search_doc_y = round (self->search_doc_y);
  rl_node_search_set_filter (RL_NODE_SEARCH (self->search), NULL, RL_SOCKET_OUTPUT);
  rl_node_search_reset (RL_NODE_SEARCH (self->search));
  gtk_popover_set_pointing_to (GTK_POPOVER (self->search), &(GdkRectangle) { (int) x, (int) y, 1, 1 });
  gtk_popover_popup (GTK_POPOVER (self->search));
  gtk_widget_grab_focus (rl_node_search_get_entry (RL_NODE_SEARCH (self->search)));
}

RlNodeSearch *
rl_canvas_get_search (RlCanvas *self)
{
  g_return_val_if_fail (RL_IS_CANVAS (self), NULL);
  return RL_NODE_SEARCH (self->search);
}

/* ---- Object ----------------------------------------------------------------- */

static void
rl_canvas_dispose (GObject *object)
{
  RlCanvas *self = RL_CANVAS (object);
  GtkWidget *child;

  g_clear_handle_id (&self->validate_idle, g_source_remove);
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self))) != NULL)
    gtk_widget_unparent (child);
  self->search = NULL;
  self->rename_popover = NULL;
  self->node_menu = NULL;
  if (self->nodes != NULL)
    g_hash_table_remove_all (self->nodes);
  G_OBJECT_CLASS (rl_canvas_parent_class)->dispose (object);
}

static void
rl_canvas_finalize (GObject *object)
{
  RlCanvas *self = RL_CANVAS (object);

  g_clear_pointer (&self->nodes, g_hash_table_unref);
  g_clear_pointer (&self->workflow, rl_workflow_unref);
  g_clear_pointer (&self->registry, rl_registry_unref);
  g_clear_pointer (&self->history, rl_history_free);
  g_clear_pointer (&self->issues, g_ptr_array_unref);
  g_clear_pointer (&self->move_starts, g_array_unref);
  g_free (self->graph_error);
  g_free (self->wire_type);
  G_OBJECT_CLASS (rl_canvas_parent_class)->finalize (object);
}

static void
rl_canvas_class_init (RlCanvasClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = rl_canvas_dispose;
  object_class->finalize = rl_canvas_finalize;
  widget_class->measure = rl_canvas_measure;
  widget_class->size_allocate = rl_canvas_size_allocate;
  widget_class->snapshot = rl_canvas_snapshot;
  gtk_widget_class_set_css_name (widget_class, "canvas");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_GROUP);

  /**
   * RlCanvas::changed:
   *
   * The document was edited (or undone/redone).
   */
  signals[SIGNAL_CHANGED] =
    g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 0);
  _rl_canvas_edit_class_init (widget_class);
  _rl_canvas_color_class_init (widget_class);
}

static void
add_controllers (RlCanvas *self)
{
  GtkGesture *drag = gtk_gesture_drag_new ();
  GtkGesture *click = gtk_gesture_click_new ();
  GtkGesture *zoom = gtk_gesture_zoom_new ();
  GtkEventController *motion = gtk_event_controller_motion_new ();
  GtkEventController *scroll = gtk_event_controller_scroll_new (GTK_EVENT_CONTROLLER_SCROLL_BOTH_AXES);
  GtkEventController *key = gtk_event_controller_key_new ();

  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (drag), 0);
  g_signal_connect (drag, "drag-begin", G_CALLBACK (on_drag_begin), self);
  g_signal_connect (drag, "drag-update", G_CALLBACK (on_drag_update), self);
  g_signal_connect (drag, "drag-end", G_CALLBACK (on_drag_end), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drag));

  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (click), 0);
  g_signal_connect (click, "pressed", G_CALLBACK (on_click_pressed), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (click));

  g_signal_connect (zoom, "begin", G_CALLBACK (on_zoom_begin), self);
  g_signal_connect (zoom, "scale-changed", G_CALLBACK (on_zoom_scale_changed), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (zoom));

  g_signal_connect (motion, "motion", G_CALLBACK (on_motion), self);
  gtk_widget_add_controller (GTK_WIDGET (self), motion);

  /* Capture phase: the wheel pans and zooms the canvas even over a spin
   * button, which would otherwise change its value by accident. */
  gtk_event_controller_set_propagation_phase (scroll, GTK_PHASE_CAPTURE);
  g_signal_connect (scroll, "scroll", G_CALLBACK (on_scroll), self);
  gtk_widget_add_controller (GTK_WIDGET (self), scroll);

  g_signal_connect (key, "key-pressed", G_CALLBACK (on_key_pressed), self);
  g_signal_connect (key, "key-released", G_CALLBACK (on_key_released), self);
  gtk_widget_add_controller (GTK_WIDGET (self), key);
}

static void
rl_canvas_init (RlCanvas *self)
{
  self->zoom = 1.0;
  self->offset_x = 40;
  self->offset_y = 40;
  self->nodes = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  self->history = rl_history_new (200);
  self->move_starts = g_array_new (FALSE, FALSE, sizeof (RlMoveStart));
  self->issues = g_ptr_array_new_with_free_func ((GDestroyNotify) rl_validation_issue_free);
  gtk_widget_set_focusable (GTK_WIDGET (self), TRUE);
  gtk_widget_set_overflow (GTK_WIDGET (self), GTK_OVERFLOW_HIDDEN);
  gtk_widget_set_hexpand (GTK_WIDGET (self), TRUE);
  gtk_widget_set_vexpand (GTK_WIDGET (self), TRUE);
  add_controllers (self);
}

GtkWidget *
rl_canvas_new (RlRegistry *registry)
{
  RlCanvas *self;

  g_return_val_if_fail (registry != NULL, NULL);
  self = g_object_new (RL_TYPE_CANVAS, NULL);
  self->registry = rl_registry_ref (registry);
  self->search = rl_node_search_new (registry);
  gtk_widget_set_parent (self->search, GTK_WIDGET (self));
  g_signal_connect (self->search, "chosen", G_CALLBACK (on_search_chosen), self);
  g_signal_connect (self->search, "closed", G_CALLBACK (on_search_closed), self);
  self->rename_popover = gtk_popover_new ();
  gtk_widget_set_parent (self->rename_popover, GTK_WIDGET (self));
  return GTK_WIDGET (self);
}

RlWorkflow *
rl_canvas_get_workflow (RlCanvas *self)
{
  g_return_val_if_fail (RL_IS_CANVAS (self), NULL);
  return self->workflow;
}

RlRegistry *
rl_canvas_get_registry (RlCanvas *self)
{
  g_return_val_if_fail (RL_IS_CANVAS (self), NULL);
  return self->registry;
}

RlNodeWidget *
rl_canvas_get_node_widget (RlCanvas *self,
                           gint64    node_id)
{
  g_return_val_if_fail (RL_IS_CANVAS (self), NULL);
  return g_hash_table_lookup (self->nodes, &node_id);
}
