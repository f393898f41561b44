/* Native reroute points of RlCanvas: reading them for drawing and
 * hit-testing, and adding, moving and deleting them as undoable edits.
 *
 * ComfyUI keeps them in "reroutes" (version 1) or "extra.reroutes" (0.4):
 * { "id", "pos": [x, y], "parentId"?, "linkIds"? }. A link names the
 * reroute nearest its target in "parentId" (1, links are objects) or in
 * "extra.linkExtensions" (0.4, links are arrays); each reroute's parentId
 * leads on toward the origin. Edits keep whichever form the document
 * uses, so they survive a save in ComfyUI's own shape. */
#include <math.h>

#include "engine/graph/workflow.h"
#include "ui/canvas/rl-canvas-private.h"

#define REROUTE_HIT_RADIUS 8.0
/* A loop in a file must not hang drawing or editing. */
#define MAX_CHAIN 64

static JsonObject *
object_member (JsonObject *object,
               const char *name)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, name) : NULL;

  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

static JsonArray *
array_member (JsonObject *object,
              const char *name)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, name) : NULL;

  return node != NULL && JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
}

static JsonObject *
document_root (RlCanvas *self)
{
  return json_node_get_object (rl_workflow_get_root (self->workflow));
}

/* Version-1 documents keep reroutes at the top level and parentIds on
 * link objects; 0.4 documents keep both under "extra". */
static gboolean
uses_version_1 (RlCanvas *self)
{
  JsonObject *root = document_root (self);
  JsonArray *links = array_member (root, "links");

  if (array_member (root, "reroutes") != NULL)
    return TRUE;
  if (links != NULL && json_array_get_length (links) > 0)
    return JSON_NODE_HOLDS_OBJECT (json_array_get_element (links, 0));
  return json_object_has_member (root, "version") &&
         json_object_get_double_member_with_default (root, "version", 0) >= 1;
}

static JsonObject *
extra_object (RlCanvas *self)
{
  JsonObject *root = document_root (self);
  JsonObject *extra = object_member (root, "extra");

  if (extra == NULL)
    {
      extra = json_object_new ();
      json_object_set_object_member (root, "extra", extra);
    }
  return extra;
}

static JsonArray *
reroutes_array (RlCanvas *self,
                gboolean  create)
{
  JsonObject *root = document_root (self);
  JsonArray *reroutes = array_member (root, "reroutes");
  JsonObject *holder;

  if (reroutes == NULL)
    reroutes = array_member (object_member (root, "extra"), "reroutes");
  if (reroutes != NULL || !create)
    return reroutes;
  holder = uses_version_1 (self) ? root : extra_object (self);
  reroutes = json_array_new ();
  json_object_set_array_member (holder, "reroutes", reroutes);
  return reroutes;
}

static JsonObject *
find_by_id (JsonArray *array,
            gint64     id,
            guint     *index)
{
  for (guint i = 0; array != NULL && i < json_array_get_length (array); i++)
    {
      JsonNode *element = json_array_get_element (array, i);
      JsonObject *entry = JSON_NODE_HOLDS_OBJECT (element) ? json_node_get_object (element) : NULL;
      JsonNode *entry_id = entry != NULL ? json_object_get_member (entry, "id") : NULL;

      if (entry_id != NULL && JSON_NODE_HOLDS_VALUE (entry_id) && json_node_get_int (entry_id) == id)
        {
          if (index != NULL)
            *index = i;
          return entry;
        }
    }
  return NULL;
}

static gboolean
member_id (JsonObject *object,
           const char *name,
           gint64     *id)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, name) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) == G_TYPE_STRING)
    return FALSE;
  *id = json_node_get_int (node);
  return TRUE;
}

static void
set_parent (JsonObject *object,
            gboolean    has_parent,
            gint64      parent_id)
{
  if (has_parent)
    json_object_set_int_member (object, "parentId", parent_id);
  else if (json_object_has_member (object, "parentId"))
    json_object_remove_member (object, "parentId");
}

/* The reroute nearest the target of link @link_id, or FALSE. */
static gboolean
link_parent (RlCanvas *self,
             gint64    link_id,
             gint64   *reroute_id)
{
  JsonObject *root = document_root (self);

  if (member_id (find_by_id (array_member (root, "links"), link_id, NULL), "parentId", reroute_id))
    return TRUE;
  return member_id (find_by_id (array_member (object_member (root, "extra"), "linkExtensions"), link_id, NULL),
                    "parentId", reroute_id);
}

static void
set_link_parent (RlCanvas *self,
                 gint64    link_id,
                 gboolean  has_parent,
                 gint64    parent_id)
{
  JsonObject *link = find_by_id (array_member (document_root (self), "links"), link_id, NULL);
  JsonArray *extensions;
  JsonObject *extension;
  guint index = 0;

  if (link != NULL)
    {
      set_parent (link, has_parent, parent_id);
      return;
    }
  extensions = array_member (extra_object (self), "linkExtensions");
  if (extensions == NULL)
    {
      extensions = json_array_new ();
      json_object_set_array_member (extra_object (self), "linkExtensions", extensions);
    }
  extension = find_by_id (extensions, link_id, &index);
  if (extension == NULL && has_parent)
    {
      extension = json_object_new ();
      json_object_set_int_member (extension, "id", link_id);
      json_array_add_object_element (extensions, extension);
    }
  if (extension == NULL)
    return;
  if (has_parent)
    set_parent (extension, TRUE, parent_id);
  else
    json_array_remove_element (extensions, index);
}

static gboolean
reroute_document_point (JsonObject *reroute,
                        double     *x,
                        double     *y)
{
  JsonArray *pos = array_member (reroute, "pos");

  if (pos == NULL || json_array_get_length (pos) < 2)
    return FALSE;
  *x = json_array_get_double_element (pos, 0);
  *y = json_array_get_double_element (pos, 1);
  return TRUE;
}

/* The reroute ids of link @link_id from origin to target. */
static GArray *
link_chain (RlCanvas *self,
            gint64    link_id)
{
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  JsonArray *reroutes = reroutes_array (self, FALSE);
  gint64 id;

  if (reroutes == NULL || !link_parent (self, link_id, &id))
    return ids;
  for (guint hops = 0; hops < MAX_CHAIN; hops++)
    {
      JsonObject *reroute = find_by_id (reroutes, id, NULL);

      if (reroute == NULL)
        break;
      g_array_prepend_val (ids, id);
      if (!member_id (reroute, "parentId", &id))
        break;
    }
  return ids;
}

GArray *
_rl_canvas_link_waypoints (RlCanvas *self,
                           gint64    link_id)
{
  GArray *points = g_array_new (FALSE, FALSE, sizeof (graphene_point_t));
  g_autoptr(GArray) chain = link_chain (self, link_id);
  JsonArray *reroutes = reroutes_array (self, FALSE);

  for (guint i = 0; i < chain->len; i++)
    {
      double x, y;

      if (!reroute_document_point (find_by_id (reroutes, g_array_index (chain, gint64, i), NULL), &x, &y))
        continue;
      g_array_append_val (points, GRAPHENE_POINT_INIT (self->offset_x + x * self->zoom,
                                                       self->offset_y + y * self->zoom));
    }
  return points;
}

gint64
_rl_canvas_reroute_at (RlCanvas *self,
                       double    x,
                       double    y)
{
  JsonArray *reroutes = reroutes_array (self, FALSE);

  for (guint i = 0; reroutes != NULL && i < json_array_get_length (reroutes); i++)
    {
      JsonNode *element = json_array_get_element (reroutes, i);
      JsonObject *reroute = JSON_NODE_HOLDS_OBJECT (element) ? json_node_get_object (element) : NULL;
      gint64 id;
      double rx, ry;

      if (reroute == NULL || !member_id (reroute, "id", &id) || !reroute_document_point (reroute, &rx, &ry))
        continue;
      if (hypot (self->offset_x + rx * self->zoom - x, self->offset_y + ry * self->zoom - y) <= REROUTE_HIT_RADIUS)
        return id;
    }
  return -1;
}

gboolean
rl_canvas_get_reroute_position (RlCanvas *self,
                                gint64    reroute_id,
                                double   *doc_x,
                                double   *doc_y)
{
  g_return_val_if_fail (RL_IS_CANVAS (self), FALSE);

  return reroute_document_point (find_by_id (reroutes_array (self, FALSE), reroute_id, NULL), doc_x, doc_y);
}

guint
rl_canvas_get_n_reroutes (RlCanvas *self)
{
  JsonArray *reroutes;

  g_return_val_if_fail (RL_IS_CANVAS (self), 0);
  reroutes = reroutes_array (self, FALSE);
  return reroutes != NULL ? json_array_get_length (reroutes) : 0;
}

GArray *
rl_canvas_get_link_reroutes (RlCanvas *self,
                             gint64    link_id)
{
  g_return_val_if_fail (RL_IS_CANVAS (self), NULL);

  return link_chain (self, link_id);
}

static gint64
next_reroute_id (RlCanvas  *self,
                 JsonArray *reroutes)
{
  JsonObject *state = object_member (document_root (self), "state");
  gint64 next = 1, id;

  for (guint i = 0; i < json_array_get_length (reroutes); i++)
    {
      JsonNode *element = json_array_get_element (reroutes, i);

      if (JSON_NODE_HOLDS_OBJECT (element) && member_id (json_node_get_object (element), "id", &id))
        next = MAX (next, id + 1);
    }
  if (state != NULL && member_id (state, "lastRerouteId", &id))
    next = MAX (next, id + 1);
  if (state != NULL)
    json_object_set_int_member (state, "lastRerouteId", next);
  return next;
}

gint64
rl_canvas_add_reroute (RlCanvas *self,
                       gint64    link_id,
                       guint     segment,
                       double    doc_x,
                       double    doc_y)
{
  RlWorkflowLink link;
  g_autoptr(GArray) chain = NULL;
  JsonArray *reroutes, *pos, *link_ids;
  JsonObject *reroute;
  gint64 id;

  g_return_val_if_fail (RL_IS_CANVAS (self), -1);
  if (!rl_workflow_lookup_link (self->workflow, link_id, &link))
    return -1;
  chain = link_chain (self, link_id);
  segment = MIN (segment, chain->len);
  _rl_canvas_record (self, NULL);
  reroutes = reroutes_array (self, TRUE);
  id = next_reroute_id (self, reroutes);
  reroute = json_object_new ();
  json_object_set_int_member (reroute, "id", id);
  /* Between the point before the segment (if any) and the one after it. */
  if (segment > 0)
    json_object_set_int_member (reroute, "parentId", g_array_index (chain, gint64, segment - 1));
  pos = json_array_new ();
  json_array_add_double_element (pos, doc_x);
  json_array_add_double_element (pos, doc_y);
  json_object_set_array_member (reroute, "pos", pos);
  link_ids = json_array_new ();
  json_array_add_int_element (link_ids, link_id);
  json_object_set_array_member (reroute, "linkIds", link_ids);
  json_array_add_object_element (reroutes, reroute);
  if (segment < chain->len)
    set_parent (find_by_id (reroutes, g_array_index (chain, gint64, segment), NULL), TRUE, id);
  else
    set_link_parent (self, link_id, TRUE, id);
  _rl_canvas_changed (self);
  return id;
}

void
_rl_canvas_set_reroute_position (RlCanvas *self,
                                 gint64    reroute_id,
                                 double    doc_x,
                                 double    doc_y)
{
  JsonObject *reroute = find_by_id (reroutes_array (self, FALSE), reroute_id, NULL);
  JsonArray *pos;

  if (reroute == NULL)
    return;
  pos = json_array_new ();
  json_array_add_double_element (pos, doc_x);
  json_array_add_double_element (pos, doc_y);
  json_object_set_array_member (reroute, "pos", pos);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
rl_canvas_move_reroute (RlCanvas *self,
                        gint64    reroute_id,
                        double    doc_x,
                        double    doc_y)
{
  g_return_if_fail (RL_IS_CANVAS (self));

  if (find_by_id (reroutes_array (self, FALSE), reroute_id, NULL) == NULL)
    return;
  _rl_canvas_record (self, NULL);
  _rl_canvas_set_reroute_position (self, reroute_id, doc_x, doc_y);
  _rl_canvas_changed (self);
}

gboolean
rl_canvas_delete_reroute (RlCanvas *self,
                          gint64    reroute_id)
{
  JsonArray *reroutes;
  JsonObject *reroute;
  gint64 parent_id = 0;
  gboolean has_parent;
  guint index = 0;

  g_return_val_if_fail (RL_IS_CANVAS (self), FALSE);
  reroutes = reroutes_array (self, FALSE);
  reroute = find_by_id (reroutes, reroute_id, &index);
  if (reroute == NULL)
    return FALSE;
  _rl_canvas_record (self, NULL);
  has_parent = member_id (reroute, "parentId", &parent_id);
  /* What led through the point now leads to its parent directly. */
  for (guint i = 0; i < json_array_get_length (reroutes); i++)
    {
      JsonNode *element = json_array_get_element (reroutes, i);
      gint64 id;

      if (JSON_NODE_HOLDS_OBJECT (element) && member_id (json_node_get_object (element), "parentId", &id) &&
          id == reroute_id)
        set_parent (json_node_get_object (element), has_parent, parent_id);
    }
  for (guint i = 0; i < rl_workflow_get_n_links (self->workflow); i++)
    {
      RlWorkflowLink link;
      gint64 id;

      if (rl_workflow_get_link (self->workflow, i, &link) && link_parent (self, link.id, &id) && id == reroute_id)
        set_link_parent (self, link.id, has_parent, parent_id);
    }
  json_array_remove_element (reroutes, index);
  _rl_canvas_changed (self);
  return TRUE;
}
