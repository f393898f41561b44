/* RlCanvas: document edits, undo history, selection, clipboard and
 * validation. Every edit records the document first, changes it through
 * the engine's RlWorkflow functions, then calls _rl_canvas_changed(). */
#include <math.h>
#include <string.h>

#include "engine/engine-error.h"
#include "engine/graph/graph.h"
#include "engine/graph/registry.h"
#include "engine/graph/validate.h"
#include "engine/graph/workflow.h"
#include "ui/canvas/rl-canvas-private.h"
#include "ui/canvas/rl-clipboard.h"

/* ---- Validation --------------------------------------------------------- */

void
rl_canvas_validate_now (RlCanvas *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RlGraph) graph = NULL;
  GHashTableIter iter;
  gpointer value;

  g_return_if_fail (RL_IS_CANVAS (self));
  g_clear_handle_id (&self->validate_idle, g_source_remove);
  g_ptr_array_set_size (self->issues, 0);
  g_clear_pointer (&self->graph_error, g_free);
  if (self->workflow == NULL)
    return;
  graph = rl_workflow_to_graph (self->workflow, self->registry, &error);
  if (graph != NULL)
    {
      g_autoptr(GPtrArray) issues = rl_graph_validate (graph, self->registry);

      for (guint i = 0; i < issues->len; i++)
        g_ptr_array_add (self->issues, g_ptr_array_steal_index (issues, i--));
    }
  else
    self->graph_error = g_strdup (error->message);

  g_hash_table_iter_init (&iter, self->nodes);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    rl_node_widget_set_issues (value, self->issues);
}

static gboolean
validate_idle (gpointer data)
{
  RlCanvas *self = data;

  self->validate_idle = 0;
  rl_canvas_validate_now (self);
  return G_SOURCE_REMOVE;
}

GPtrArray *
rl_canvas_get_issues (RlCanvas *self)
{
  g_return_val_if_fail (RL_IS_CANVAS (self), NULL);
  return self->issues;
}

const char *
rl_canvas_get_graph_error (RlCanvas *self)
{
  g_return_val_if_fail (RL_IS_CANVAS (self), NULL);
  return self->graph_error;
}

/* ---- Change notification and history ----------------------------------- */

void
_rl_canvas_changed (RlCanvas *self)
{
  if (self->validate_idle == 0)
    self->validate_idle = g_idle_add (validate_idle, self);
  gtk_widget_queue_allocate (GTK_WIDGET (self));
  _rl_canvas_emit_changed (self);
}

void
_rl_canvas_record (RlCanvas   *self,
                   const char *coalesce_key)
{
  g_autofree char *text = rl_workflow_to_string (self->workflow, FALSE);

  rl_history_record (self->history, text, coalesce_key);
}

void
_rl_canvas_links_changed (RlCanvas *self)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->nodes);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      GPtrArray *sockets = rl_node_widget_get_sockets (value);

      for (guint i = 0; i < sockets->len; i++)
        rl_socket_set_connected (g_ptr_array_index (sockets, i), FALSE);
    }
  for (guint i = 0; i < rl_workflow_get_n_links (self->workflow); i++)
    {
      RlWorkflowLink link;
      RlNodeWidget *origin, *target;
      RlSocket *socket;

      if (!rl_workflow_get_link (self->workflow, i, &link))
        continue;
      origin = g_hash_table_lookup (self->nodes, &link.origin_id);
      target = g_hash_table_lookup (self->nodes, &link.target_id);
      if (origin != NULL && (socket = rl_node_widget_get_socket (origin, RL_SOCKET_OUTPUT, link.origin_slot)))
        rl_socket_set_connected (socket, TRUE);
      if (target != NULL && (socket = rl_node_widget_get_socket (target, RL_SOCKET_INPUT, link.target_slot)))
        rl_socket_set_connected (socket, TRUE);
    }
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
on_node_value_changed (RlNodeWidget *node,
                       guint         index,
                       JsonNode     *value,
                       RlCanvas     *self)
{
  gint64 id = rl_node_widget_get_node_id (node);
  g_autofree char *key = g_strdup_printf ("value:%" G_GINT64_FORMAT ":%u", id, index);

  /* Typing into one control is one undo step, not one per key. */
  _rl_canvas_record (self, key);
  rl_workflow_node_set_widget_value (self->workflow, id, index, value);
  _rl_canvas_changed (self);
}

/* Tab reaches a node: it becomes the selection, and the view follows it
 * when it is outside, so keyboard users see where they are. */
static void
on_node_focus (RlNodeWidget *node,
               GParamSpec   *pspec,
               RlCanvas     *self)
{
  graphene_rect_t bounds;
  int width = gtk_widget_get_width (GTK_WIDGET (self)), height = gtk_widget_get_height (GTK_WIDGET (self));

  if (!gtk_widget_has_focus (GTK_WIDGET (node)))
    return;
  rl_canvas_select (self, rl_node_widget_get_node_id (node), FALSE);
  if (!gtk_widget_compute_bounds (GTK_WIDGET (node), GTK_WIDGET (self), &bounds))
    return;
  if (bounds.origin.x < 0 || bounds.origin.y < 0 ||
      bounds.origin.x + bounds.size.width > width || bounds.origin.y + bounds.size.height > height)
    rl_canvas_pan_by (self, width / 3.0 - bounds.origin.x, height / 3.0 - bounds.origin.y);
}

void
_rl_canvas_rebuild (RlCanvas *self)
{
  g_autoptr(GArray) selected = rl_canvas_get_selection (self);
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->nodes);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    gtk_widget_unparent (value);
  g_hash_table_remove_all (self->nodes);
  if (self->workflow == NULL)
    return;
  for (guint i = 0; i < rl_workflow_get_n_nodes (self->workflow); i++)
    {
      gint64 id = rl_workflow_get_node_id (self->workflow, i);
      GtkWidget *node = rl_node_widget_new (self->registry, self->workflow, id);

      if (node == NULL)
        continue;
      gtk_widget_insert_before (node, GTK_WIDGET (self), self->search);
      g_signal_connect (node, "value-changed", G_CALLBACK (on_node_value_changed), self);
      g_signal_connect (node, "notify::has-focus", G_CALLBACK (on_node_focus), self);
      g_hash_table_insert (self->nodes, g_memdup2 (&id, sizeof id), node);
    }
  for (guint i = 0; i < selected->len; i++)
    {
      RlNodeWidget *node = g_hash_table_lookup (self->nodes, &g_array_index (selected, gint64, i));

      if (node != NULL)
        rl_node_widget_set_selected (node, TRUE);
    }
  _rl_canvas_links_changed (self);
  rl_canvas_validate_now (self);
}

void
rl_canvas_set_workflow (RlCanvas   *self,
                        RlWorkflow *workflow)
{
  g_return_if_fail (RL_IS_CANVAS (self));
  g_return_if_fail (workflow != NULL);

  rl_workflow_ref (workflow);
  g_clear_pointer (&self->workflow, rl_workflow_unref);
  self->workflow = workflow;
  g_clear_pointer (&self->history, rl_history_free);
  self->history = rl_history_new (200);
  rl_canvas_clear_selection (self);
  _rl_canvas_rebuild (self);
  gtk_widget_queue_allocate (GTK_WIDGET (self));
}

static gboolean
restore (RlCanvas *self,
         char     *text)
{
  g_autofree char *owned = text;
  g_autoptr(GError) error = NULL;
  RlWorkflow *restored;

  if (owned == NULL)
    return FALSE;
  restored = rl_workflow_load_data (owned, -1, "undo history", &error);
  if (restored == NULL)
    {
      /* Snapshots are our own output; failing to read one is a bug. */
      g_critical ("Could not restore an undo snapshot: %s", error->message);
      return FALSE;
    }
  g_clear_pointer (&self->workflow, rl_workflow_unref);
  self->workflow = restored;
  _rl_canvas_rebuild (self);
  _rl_canvas_changed (self);
  return TRUE;
}

gboolean
rl_canvas_undo (RlCanvas *self)
{
  g_autofree char *current = NULL;

  g_return_val_if_fail (RL_IS_CANVAS (self), FALSE);
  if (self->workflow == NULL || !rl_history_can_undo (self->history))
    return FALSE;
  current = rl_workflow_to_string (self->workflow, FALSE);
  return restore (self, rl_history_undo (self->history, current));
}

gboolean
rl_canvas_redo (RlCanvas *self)
{
  g_autofree char *current = NULL;

  g_return_val_if_fail (RL_IS_CANVAS (self), FALSE);
  if (self->workflow == NULL || !rl_history_can_redo (self->history))
    return FALSE;
  current = rl_workflow_to_string (self->workflow, FALSE);
  return restore (self, rl_history_redo (self->history, current));
}

gboolean
rl_canvas_take_queued_document (RlCanvas   *self,
                                RlWorkflow *queued)
{
  g_autofree char *current = NULL;
  g_autofree char *next = NULL;

  g_return_val_if_fail (RL_IS_CANVAS (self), FALSE);
  g_return_val_if_fail (queued != NULL, FALSE);
  if (self->workflow == NULL || queued == self->workflow)
    return FALSE;
  current = rl_workflow_to_string (self->workflow, FALSE);
  next = rl_workflow_to_string (queued, FALSE);
  if (strcmp (current, next) == 0)
    return FALSE;
  /* ComfyUI's change tracker sees the stepped seeds as one edit after a
   * queue: undo brings back the seeds that just ran. */
  rl_history_record (self->history, current, NULL);
  rl_workflow_ref (queued);
  g_clear_pointer (&self->workflow, rl_workflow_unref);
  self->workflow = queued;
  _rl_canvas_rebuild (self);
  _rl_canvas_changed (self);
  return TRUE;
}

/* ---- Edits ------------------------------------------------------------------ */

/* A new node's combo without a default (a model folder's file list) shows
 * its first option; write that option into the document too, as ComfyUI
 * does, so what the drop-down shows is what runs and is saved. */
static void
fill_combo_defaults (RlCanvas         *self,
                     const RlNodeType *type,
                     gint64            node_id)
{
  JsonArray *values = rl_workflow_node_get_widgets_values (self->workflow, node_id);
  guint index = 0;

  for (int optional = 0; optional <= 1; optional++)
    for (guint i = 0; i < type->n_inputs; i++)
      {
        const RlInputSpec *spec = &type->inputs[i];
        guint at = index;

        if (spec->kind == RL_INPUT_LINK || spec->force_input || (spec->optional != FALSE) != (optional != 0))
          continue;
        index += spec->control_after_generate ? 2 : 1;
        if (spec->kind != RL_INPUT_COMBO || spec->combo_default != NULL)
          continue;
        if (values != NULL && at < json_array_get_length (values) &&
            JSON_NODE_HOLDS_VALUE (json_array_get_element (values, at)))
          continue;
        {
          g_autoptr(GPtrArray) options = rl_registry_list_combo_options (self->registry, spec);
          g_autoptr(JsonNode) first = NULL;

          if (options->len == 0)
            continue;
          first = json_node_init_string (json_node_alloc (), g_ptr_array_index (options, 0));
          rl_workflow_node_set_widget_value (self->workflow, node_id, at, first);
          values = rl_workflow_node_get_widgets_values (self->workflow, node_id);
        }
      }
}

gint64
rl_canvas_add_node (RlCanvas    *self,
                    const char  *type_name,
                    double       doc_x,
                    double       doc_y,
                    GError     **error)
{
  const RlNodeType *type;
  gint64 id;

  g_return_val_if_fail (RL_IS_CANVAS (self), -1);
  g_return_val_if_fail (type_name != NULL, -1);

  type = rl_registry_lookup (self->registry, type_name);
  if (type == NULL)
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_UNKNOWN_NODE_TYPE,
                   "No node type named “%s” is installed", type_name);
      return -1;
    }
  _rl_canvas_record (self, NULL);
  id = rl_workflow_add_node (self->workflow, type, _rl_canvas_snap (self, doc_x), _rl_canvas_snap (self, doc_y));
  fill_combo_defaults (self, type, id);
  _rl_canvas_rebuild (self);
  _rl_canvas_changed (self);
  return id;
}

static const char *
slot_type (RlWorkflow *workflow,
           gint64      node_id,
           const char *array_name,
           guint       slot)
{
  JsonObject *node = rl_workflow_lookup_node (workflow, node_id);
  JsonNode *array = node != NULL ? json_object_get_member (node, array_name) : NULL;
  JsonObject *entry;

  if (array == NULL || !JSON_NODE_HOLDS_ARRAY (array) || slot >= json_array_get_length (json_node_get_array (array)))
    return NULL;
  entry = json_array_get_object_element (json_node_get_array (array), slot);
  return entry != NULL ? json_object_get_string_member_with_default (entry, "type", "*") : NULL;
}

gboolean
rl_canvas_connect (RlCanvas  *self,
                   gint64     origin_id,
                   guint      origin_slot,
                   gint64     target_id,
                   guint      target_slot,
                   GError   **error)
{
  const char *from = slot_type (self->workflow, origin_id, "outputs", origin_slot);
  const char *to = slot_type (self->workflow, target_id, "inputs", target_slot);
  g_autofree char *before = NULL;

  g_return_val_if_fail (RL_IS_CANVAS (self), FALSE);
  if (from == NULL || to == NULL || origin_id == target_id)
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INVALID_WORKFLOW,
                   "Cannot connect node %" G_GINT64_FORMAT " output %u to node %" G_GINT64_FORMAT
                   " input %u: no such socket", origin_id, origin_slot, target_id, target_slot);
      return FALSE;
    }
  if (!rl_socket_types_compatible (from, to))
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INVALID_WORKFLOW,
                   "A %s output cannot feed a %s input", from, to);
      return FALSE;
    }
  before = rl_workflow_to_string (self->workflow, FALSE);
  if (rl_workflow_add_link (self->workflow, origin_id, origin_slot, target_id, target_slot, error) < 0)
    return FALSE;
  rl_history_record (self->history, before, NULL);
  _rl_canvas_links_changed (self);
  _rl_canvas_changed (self);
  return TRUE;
}

gboolean
rl_canvas_disconnect_input (RlCanvas *self,
                            gint64    target_id,
                            guint     target_slot)
{
  g_return_val_if_fail (RL_IS_CANVAS (self), FALSE);
  for (guint i = 0; i < rl_workflow_get_n_links (self->workflow); i++)
    {
      RlWorkflowLink link;

      if (!rl_workflow_get_link (self->workflow, i, &link) ||
          link.target_id != target_id || link.target_slot != target_slot)
        continue;
      _rl_canvas_record (self, NULL);
      rl_workflow_remove_link (self->workflow, link.id);
      _rl_canvas_links_changed (self);
      _rl_canvas_changed (self);
      return TRUE;
    }
  return FALSE;
}

void
_rl_canvas_finish_pending_wire (RlCanvas *self,
                                gint64    node_id)
{
  JsonObject *node = rl_workflow_lookup_node (self->workflow, node_id);
  const char *array_name = self->wire_direction == RL_SOCKET_OUTPUT ? "inputs" : "outputs";
  JsonNode *array = node != NULL ? json_object_get_member (node, array_name) : NULL;

  if (array == NULL || !JSON_NODE_HOLDS_ARRAY (array))
    return;
  for (guint i = 0; i < json_array_get_length (json_node_get_array (array)); i++)
    {
      const char *type = slot_type (self->workflow, node_id, array_name, i);

      if (self->wire_direction == RL_SOCKET_OUTPUT && rl_socket_types_compatible (self->wire_type, type))
        {
          rl_canvas_connect (self, self->wire_node, self->wire_slot, node_id, i, NULL);
          return;
        }
      if (self->wire_direction == RL_SOCKET_INPUT && rl_socket_types_compatible (type, self->wire_type))
        {
          rl_canvas_connect (self, node_id, i, self->wire_node, self->wire_slot, NULL);
          return;
        }
    }
}

void
rl_canvas_move_node (RlCanvas *self,
                     gint64    node_id,
                     double    doc_x,
                     double    doc_y)
{
  g_return_if_fail (RL_IS_CANVAS (self));
  if (rl_workflow_lookup_node (self->workflow, node_id) == NULL)
    return;
  _rl_canvas_record (self, NULL);
  rl_workflow_node_set_pos (self->workflow, node_id, doc_x, doc_y);
  if (g_hash_table_lookup (self->nodes, &node_id) != NULL)
    rl_node_widget_set_position (g_hash_table_lookup (self->nodes, &node_id), doc_x, doc_y);
  _rl_canvas_changed (self);
}

void
rl_canvas_delete_selection (RlCanvas *self)
{
  g_autoptr(GArray) selection = rl_canvas_get_selection (self);

  if (selection->len == 0)
    return;
  _rl_canvas_record (self, NULL);
  for (guint i = 0; i < selection->len; i++)
    rl_workflow_remove_node (self->workflow, g_array_index (selection, gint64, i));
  rl_canvas_clear_selection (self);
  _rl_canvas_rebuild (self);
  _rl_canvas_changed (self);
}

static gboolean
paste_at (RlCanvas    *self,
          const char  *text,
          double       doc_x,
          double       doc_y,
          GError     **error)
{
  g_autofree char *before = rl_workflow_to_string (self->workflow, FALSE);
  g_autoptr(GArray) ids = rl_clipboard_paste (self->workflow, text, doc_x, doc_y, error);

  if (ids == NULL)
    return FALSE;
  rl_history_record (self->history, before, NULL);
  rl_canvas_clear_selection (self);
  _rl_canvas_rebuild (self);
  for (guint i = 0; i < ids->len; i++)
    rl_canvas_select (self, g_array_index (ids, gint64, i), TRUE);
  _rl_canvas_changed (self);
  return TRUE;
}

void
rl_canvas_duplicate_selection (RlCanvas *self)
{
  g_autoptr(GArray) selection = rl_canvas_get_selection (self);
  g_autofree char *text = NULL;
  double x = 0, y = 0;

  if (selection->len == 0)
    return;
  text = rl_clipboard_serialize (self->workflow, selection);
  rl_workflow_node_get_pos (self->workflow, g_array_index (selection, gint64, 0), &x, &y);
  paste_at (self, text, x + 30, y + 30, NULL);
}

void
_rl_canvas_duplicate_in_place (RlCanvas *self)
{
  g_autoptr(GArray) selection = rl_canvas_get_selection (self);
  g_autofree char *text = NULL;
  double x = 0, y = 0;

  if (selection->len == 0)
    return;
  text = rl_clipboard_serialize (self->workflow, selection);
  rl_workflow_node_get_pos (self->workflow, g_array_index (selection, gint64, 0), &x, &y);
  paste_at (self, text, x, y, NULL);
}

void
rl_canvas_toggle_collapse (RlCanvas *self)
{
  g_autoptr(GArray) selection = rl_canvas_get_selection (self);
  gboolean all_collapsed = TRUE;

  g_return_if_fail (RL_IS_CANVAS (self));
  if (selection->len == 0)
    return;
  for (guint i = 0; i < selection->len; i++)
    all_collapsed &= rl_node_widget_get_collapsed (g_hash_table_lookup (self->nodes, &g_array_index (selection, gint64, i)));
  _rl_canvas_record (self, NULL);
  for (guint i = 0; i < selection->len; i++)
    {
      JsonObject *node = rl_workflow_lookup_node (self->workflow, g_array_index (selection, gint64, i));
      JsonNode *flags = json_object_get_member (node, "flags");

      if (flags == NULL || !JSON_NODE_HOLDS_OBJECT (flags))
        {
          json_object_set_object_member (node, "flags", json_object_new ());
          flags = json_object_get_member (node, "flags");
        }
      if (all_collapsed)
        json_object_remove_member (json_node_get_object (flags), "collapsed");
      else
        json_object_set_boolean_member (json_node_get_object (flags), "collapsed", TRUE);
    }
  _rl_canvas_rebuild (self);
  _rl_canvas_changed (self);
}

void
rl_canvas_set_node_title (RlCanvas   *self,
                          gint64      node_id,
                          const char *title)
{
  JsonObject *node;

  g_return_if_fail (RL_IS_CANVAS (self));
  node = rl_workflow_lookup_node (self->workflow, node_id);
  if (node == NULL || g_strcmp0 (title, rl_workflow_node_get_title (self->workflow, node_id)) == 0)
    return;
  _rl_canvas_record (self, NULL);
  if (title == NULL || *title == '\0')
    json_object_remove_member (node, "title");
  else
    rl_workflow_node_set_title (self->workflow, node_id, title);
  _rl_canvas_rebuild (self);
  _rl_canvas_changed (self);
}

void
rl_canvas_toggle_mode (RlCanvas *self,
                       int       mode)
{
  g_autoptr(GArray) selection = rl_canvas_get_selection (self);
  gboolean all_have_it = TRUE;

  g_return_if_fail (RL_IS_CANVAS (self));
  if (selection->len == 0)
    return;
  for (guint i = 0; i < selection->len; i++)
    all_have_it &= rl_workflow_node_get_mode (self->workflow, g_array_index (selection, gint64, i)) == mode;
  _rl_canvas_record (self, NULL);
  for (guint i = 0; i < selection->len; i++)
    {
      gint64 id = g_array_index (selection, gint64, i);

      rl_workflow_node_set_mode (self->workflow, id, all_have_it ? RL_WORKFLOW_MODE_ALWAYS : mode);
      rl_node_widget_set_mode (g_hash_table_lookup (self->nodes, &id),
                               all_have_it ? RL_WORKFLOW_MODE_ALWAYS : mode);
    }
  _rl_canvas_changed (self);
}

char *
rl_canvas_copy_selection (RlCanvas *self)
{
  g_autoptr(GArray) selection = rl_canvas_get_selection (self);
  char *text;

  g_return_val_if_fail (RL_IS_CANVAS (self), NULL);
  if (selection->len == 0)
    return NULL;
  text = rl_clipboard_serialize (self->workflow, selection);
  gdk_clipboard_set_text (gtk_widget_get_clipboard (GTK_WIDGET (self)), text);
  return text;
}

gboolean
rl_canvas_paste_text (RlCanvas    *self,
                      const char  *text,
                      GError     **error)
{
  double x, y;

  g_return_val_if_fail (RL_IS_CANVAS (self), FALSE);
  g_return_val_if_fail (text != NULL, FALSE);
  rl_canvas_widget_to_document (self, self->pointer_x, self->pointer_y, &x, &y);
  return paste_at (self, text, x, y, error);
}

static void
on_clipboard_text (GObject      *source,
                   GAsyncResult *result,
                   gpointer      data)
{
  g_autoptr(RlCanvas) self = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = gdk_clipboard_read_text_finish (GDK_CLIPBOARD (source), result, &error);

  if (text == NULL || self->workflow == NULL)
    return;
  if (!rl_canvas_paste_text (self, text, &error))
    g_debug ("Paste ignored: %s", error->message);
}

/* ---- Groups ------------------------------------------------------------------ */

#define GROUP_TITLE_HEIGHT 34.0
#define GROUP_PADDING 10.0

static JsonArray *
groups_array (RlCanvas *self,
              gboolean  create)
{
  JsonObject *root = json_node_get_object (rl_workflow_get_root (self->workflow));
  JsonNode *groups = json_object_get_member (root, "groups");

  if (groups != NULL && JSON_NODE_HOLDS_ARRAY (groups))
    return json_node_get_array (groups);
  if (!create)
    return NULL;
  json_object_set_array_member (root, "groups", json_array_new ());
  return json_object_get_array_member (root, "groups");
}

static JsonArray *
box_to_json (const double box[4])
{
  JsonArray *array = json_array_new ();

  for (guint i = 0; i < 4; i++)
    json_array_add_double_element (array, round (box[i]));
  return array;
}

gboolean
rl_canvas_group_selection (RlCanvas   *self,
                           const char *title)
{
  g_autoptr(GArray) selection = rl_canvas_get_selection (self);
  double left = G_MAXDOUBLE, top = G_MAXDOUBLE, right = -G_MAXDOUBLE, bottom = -G_MAXDOUBLE;
  double box[4];
  JsonObject *group;

  g_return_val_if_fail (RL_IS_CANVAS (self), FALSE);
  if (selection->len == 0)
    return FALSE;
  for (guint i = 0; i < selection->len; i++)
    {
      RlNodeWidget *node = g_hash_table_lookup (self->nodes, &g_array_index (selection, gint64, i));
      double x, y;

      rl_node_widget_get_position (node, &x, &y);
      left = MIN (left, x);
      top = MIN (top, y);
      right = MAX (right, x + gtk_widget_get_width (GTK_WIDGET (node)));
      bottom = MAX (bottom, y + gtk_widget_get_height (GTK_WIDGET (node)));
    }
  box[0] = left - GROUP_PADDING;
  box[1] = top - GROUP_PADDING - GROUP_TITLE_HEIGHT;
  box[2] = right - left + 2 * GROUP_PADDING;
  box[3] = bottom - top + 2 * GROUP_PADDING + GROUP_TITLE_HEIGHT;
  _rl_canvas_record (self, NULL);
  group = json_object_new ();
  json_object_set_string_member (group, "title", title != NULL ? title : "Group");
  json_object_set_array_member (group, "bounding", box_to_json (box));
  json_object_set_string_member (group, "color", "#3f789e");
  json_object_set_int_member (group, "font_size", 24);
  json_object_set_object_member (group, "flags", json_object_new ());
  json_array_add_object_element (groups_array (self, TRUE), group);
  _rl_canvas_changed (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
  return TRUE;
}

int
_rl_canvas_group_at_title (RlCanvas *self,
                           double    x,
                           double    y)
{
  /* The last group is drawn on top, so it is hit first. */
  for (int i = (int) rl_workflow_get_n_groups (self->workflow) - 1; i >= 0; i--)
    {
      double box[4];

      if (rl_workflow_get_group (self->workflow, i, NULL, box) &&
          x >= box[0] && x <= box[0] + box[2] && y >= box[1] && y <= box[1] + GROUP_TITLE_HEIGHT)
        return i;
    }
  return -1;
}

void
_rl_canvas_nodes_in_box (RlCanvas     *self,
                         const double  box[4],
                         GArray       *move_starts)
{
  GHashTableIter iter;
  gpointer value;

  g_array_set_size (move_starts, 0);
  g_hash_table_iter_init (&iter, self->nodes);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      RlMoveStart start = { rl_node_widget_get_node_id (value), 0, 0 };

      rl_node_widget_get_position (value, &start.x, &start.y);
      if (start.x >= box[0] && start.x <= box[0] + box[2] && start.y >= box[1] && start.y <= box[1] + box[3])
        g_array_append_val (move_starts, start);
    }
}

void
_rl_canvas_set_group_box (RlCanvas     *self,
                          guint         index,
                          const double  old_box[4],
                          const double  new_box[4],
                          GArray       *move_starts)
{
  JsonArray *groups = groups_array (self, FALSE);
  JsonObject *group = groups != NULL && index < json_array_get_length (groups)
                      ? json_array_get_object_element (groups, index) : NULL;

  if (group == NULL)
    return;
  json_object_set_array_member (group, "bounding", box_to_json (new_box));
  for (guint i = 0; i < move_starts->len; i++)
    {
      RlMoveStart *start = &g_array_index (move_starts, RlMoveStart, i);
      double x = round (start->x + new_box[0] - old_box[0]), y = round (start->y + new_box[1] - old_box[1]);
      RlNodeWidget *node = g_hash_table_lookup (self->nodes, &start->id);

      rl_workflow_node_set_pos (self->workflow, start->id, x, y);
      if (node != NULL)
        rl_node_widget_set_position (node, x, y);
    }
  gtk_widget_queue_allocate (GTK_WIDGET (self));
}

void
rl_canvas_move_group (RlCanvas *self,
                      guint     index,
                      double    dx,
                      double    dy)
{
  g_autoptr(GArray) starts = g_array_new (FALSE, FALSE, sizeof (RlMoveStart));
  double box[4], moved[4];

  g_return_if_fail (RL_IS_CANVAS (self));
  if (!rl_workflow_get_group (self->workflow, index, NULL, box))
    return;
  _rl_canvas_nodes_in_box (self, box, starts);
  _rl_canvas_record (self, NULL);
  memcpy (moved, box, sizeof moved);
  moved[0] += dx;
  moved[1] += dy;
  _rl_canvas_set_group_box (self, index, box, moved, starts);
  _rl_canvas_changed (self);
}

/* ---- Selection ---------------------------------------------------------------- */

void
rl_canvas_select (RlCanvas *self,
                  gint64    node_id,
                  gboolean  add)
{
  RlNodeWidget *node;

  g_return_if_fail (RL_IS_CANVAS (self));
  if (!add)
    rl_canvas_clear_selection (self);
  node = g_hash_table_lookup (self->nodes, &node_id);
  if (node != NULL)
    rl_node_widget_set_selected (node, TRUE);
}

void
rl_canvas_select_all (RlCanvas *self)
{
  GHashTableIter iter;
  gpointer value;

  g_return_if_fail (RL_IS_CANVAS (self));
  g_hash_table_iter_init (&iter, self->nodes);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    rl_node_widget_set_selected (value, TRUE);
}

void
rl_canvas_clear_selection (RlCanvas *self)
{
  GHashTableIter iter;
  gpointer value;

  g_return_if_fail (RL_IS_CANVAS (self));
  g_hash_table_iter_init (&iter, self->nodes);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    rl_node_widget_set_selected (value, FALSE);
}

GArray *
rl_canvas_get_selection (RlCanvas *self)
{
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint64));

  g_return_val_if_fail (RL_IS_CANVAS (self), ids);
  for (guint i = 0; self->workflow != NULL && i < rl_workflow_get_n_nodes (self->workflow); i++)
    {
      gint64 id = rl_workflow_get_node_id (self->workflow, i);
      RlNodeWidget *node = g_hash_table_lookup (self->nodes, &id);

      if (node != NULL && rl_node_widget_get_selected (node))
        g_array_append_val (ids, id);
    }
  return ids;
}

/* ---- Actions and key bindings ------------------------------------------------- */

static void
action_undo (GtkWidget *widget, const char *name, GVariant *param)
{
  rl_canvas_undo (RL_CANVAS (widget));
}

static void
action_redo (GtkWidget *widget, const char *name, GVariant *param)
{
  rl_canvas_redo (RL_CANVAS (widget));
}

static void
action_delete (GtkWidget *widget, const char *name, GVariant *param)
{
  rl_canvas_delete_selection (RL_CANVAS (widget));
}

static void
action_duplicate (GtkWidget *widget, const char *name, GVariant *param)
{
  rl_canvas_duplicate_selection (RL_CANVAS (widget));
}

static void
action_copy (GtkWidget *widget, const char *name, GVariant *param)
{
  g_free (rl_canvas_copy_selection (RL_CANVAS (widget)));
}

static void
action_paste (GtkWidget *widget, const char *name, GVariant *param)
{
  gdk_clipboard_read_text_async (gtk_widget_get_clipboard (widget), NULL, on_clipboard_text,
                                 g_object_ref (widget));
}

static void
action_mute (GtkWidget *widget, const char *name, GVariant *param)
{
  rl_canvas_toggle_mode (RL_CANVAS (widget), RL_WORKFLOW_MODE_MUTED);
}

static void
action_bypass (GtkWidget *widget, const char *name, GVariant *param)
{
  rl_canvas_toggle_mode (RL_CANVAS (widget), RL_WORKFLOW_MODE_BYPASS);
}

static void
action_fit (GtkWidget *widget, const char *name, GVariant *param)
{
  rl_canvas_fit_view (RL_CANVAS (widget));
}

static void
action_select_all (GtkWidget *widget, const char *name, GVariant *param)
{
  rl_canvas_select_all (RL_CANVAS (widget));
}

static void
action_search (GtkWidget *widget, const char *name, GVariant *param)
{
  RlCanvas *self = RL_CANVAS (widget);

  rl_canvas_open_search (self, gtk_widget_get_width (widget) / 2.0, gtk_widget_get_height (widget) / 3.0);
}

static void
action_group (GtkWidget *widget, const char *name, GVariant *param)
{
  rl_canvas_group_selection (RL_CANVAS (widget), NULL);
}

static void
action_collapse (GtkWidget *widget, const char *name, GVariant *param)
{
  rl_canvas_toggle_collapse (RL_CANVAS (widget));
}

static void
on_rename_activate (GtkEntry *entry,
                    RlCanvas *self)
{
  gint64 id = GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (entry), "rl-node-id"));

  gtk_popover_popdown (GTK_POPOVER (gtk_widget_get_ancestor (GTK_WIDGET (entry), GTK_TYPE_POPOVER)));
  rl_canvas_set_node_title (self, id, gtk_editable_get_text (GTK_EDITABLE (entry)));
  gtk_widget_grab_focus (GTK_WIDGET (self));
}

/* F2: a popover with the first selected node's title to edit. */
static void
action_rename (GtkWidget *widget, const char *name, GVariant *param)
{
  RlCanvas *self = RL_CANVAS (widget);
  g_autoptr(GArray) selection = rl_canvas_get_selection (self);
  RlNodeWidget *node;
  GtkWidget *popover, *entry;
  graphene_rect_t bounds;
  const char *title;
  gint64 id;

  if (selection->len == 0)
    return;
  id = g_array_index (selection, gint64, 0);
  node = g_hash_table_lookup (self->nodes, &id);
  if (node == NULL || !gtk_widget_compute_bounds (GTK_WIDGET (node), widget, &bounds))
    return;
  title = rl_workflow_node_get_title (self->workflow, id);
  entry = gtk_entry_new ();
  gtk_editable_set_text (GTK_EDITABLE (entry), title != NULL ? title : rl_workflow_node_get_type (self->workflow, id));
  g_object_set_data (G_OBJECT (entry), "rl-node-id", GSIZE_TO_POINTER ((gsize) id));
  g_signal_connect (entry, "activate", G_CALLBACK (on_rename_activate), self);
  popover = self->rename_popover;
  gtk_popover_set_child (GTK_POPOVER (popover), entry);
  gtk_popover_set_pointing_to (GTK_POPOVER (popover),
                               &(GdkRectangle) { (int) bounds.origin.x, (int) bounds.origin.y, (int) bounds.size.width, 20 });
  gtk_popover_popup (GTK_POPOVER (popover));
  gtk_widget_grab_focus (entry);
}

GtkWidget *
rl_canvas_get_rename_entry (RlCanvas *self)
{
  GtkWidget *child;

  g_return_val_if_fail (RL_IS_CANVAS (self), NULL);
  child = gtk_popover_get_child (GTK_POPOVER (self->rename_popover));
  return GTK_IS_ENTRY (child) ? child : NULL;
}

/* ---- Connect to… (keyboard) -------------------------------------------------- */

typedef struct {
  gint64 origin_id;
  guint  origin_slot;
  gint64 target_id;
  guint  target_slot;
} RlConnectChoice;

static const char *
node_label (RlCanvas *self,
            gint64    id)
{
  const char *title = rl_workflow_node_get_title (self->workflow, id);
  const RlNodeType *type;

  if (title != NULL)
    return title;
  type = rl_registry_lookup (self->registry, rl_workflow_node_get_type (self->workflow, id));
  return type != NULL && type->display_name != NULL ? type->display_name : rl_workflow_node_get_type (self->workflow, id);
}

static const char *
slot_name (RlWorkflow *workflow,
           gint64      node_id,
           const char *array_name,
           guint       slot)
{
  JsonObject *node = rl_workflow_lookup_node (workflow, node_id);
  JsonArray *array = json_object_get_array_member (node, array_name);
  JsonObject *entry = json_array_get_object_element (array, slot);

  return json_object_get_string_member_with_default (entry, "name", "?");
}

static gboolean
input_is_linked (RlWorkflow *workflow,
                 gint64      node_id,
                 guint       slot)
{
  for (guint i = 0; i < rl_workflow_get_n_links (workflow); i++)
    {
      RlWorkflowLink link;

      if (rl_workflow_get_link (workflow, i, &link) && link.target_id == node_id && link.target_slot == slot)
        return TRUE;
    }
  return FALSE;
}

/* Every way to feed an unconnected input of @target from another node's
 * output of a fitting type. */
static GArray *
list_connect_choices (RlCanvas *self,
                      gint64    target)
{
  GArray *choices = g_array_new (FALSE, FALSE, sizeof (RlConnectChoice));
  JsonObject *node = rl_workflow_lookup_node (self->workflow, target);
  JsonNode *inputs = json_object_get_member (node, "inputs");

  for (guint in = 0; inputs != NULL && JSON_NODE_HOLDS_ARRAY (inputs) &&
                     in < json_array_get_length (json_node_get_array (inputs)); in++)
    {
      const char *to = slot_type (self->workflow, target, "inputs", in);

      if (to == NULL || input_is_linked (self->workflow, target, in))
        continue;
      for (guint n = 0; n < rl_workflow_get_n_nodes (self->workflow); n++)
        {
          gint64 origin = rl_workflow_get_node_id (self->workflow, n);
          JsonNode *outputs = json_object_get_member (rl_workflow_lookup_node (self->workflow, origin), "outputs");

          for (guint out = 0; origin != target && outputs != NULL && JSON_NODE_HOLDS_ARRAY (outputs) &&
                              out < json_array_get_length (json_node_get_array (outputs)); out++)
            {
              RlConnectChoice choice = { origin, out, target, in };

              if (rl_socket_types_compatible (slot_type (self->workflow, origin, "outputs", out), to))
                g_array_append_val (choices, choice);
            }
        }
    }
  return choices;
}

static void
on_connect_row_activated (GtkListBox    *list,
                          GtkListBoxRow *row,
                          RlCanvas      *self)
{
  GArray *choices = g_object_get_data (G_OBJECT (list), "rl-choices");
  RlConnectChoice *choice = &g_array_index (choices, RlConnectChoice, gtk_list_box_row_get_index (row));

  gtk_popover_popdown (GTK_POPOVER (self->rename_popover));
  rl_canvas_connect (self, choice->origin_id, choice->origin_slot, choice->target_id, choice->target_slot, NULL);
  gtk_widget_grab_focus (GTK_WIDGET (self));
}

/* The selected node's unconnected inputs and the outputs that fit them,
 * one row each: everything a wire drag can do, from the keyboard. */
static void
action_connect_to (GtkWidget *widget, const char *name, GVariant *param)
{
  RlCanvas *self = RL_CANVAS (widget);
  g_autoptr(GArray) selection = rl_canvas_get_selection (self);
  GArray *choices;
  GtkWidget *list, *scroller;
  graphene_rect_t bounds;
  gint64 target;

  if (selection->len == 0)
    return;
  target = g_array_index (selection, gint64, 0);
  if (!gtk_widget_compute_bounds (g_hash_table_lookup (self->nodes, &target), widget, &bounds))
    return;
  choices = list_connect_choices (self, target);
  list = gtk_list_box_new ();
  gtk_widget_add_css_class (list, "connect-to");
  g_object_set_data_full (G_OBJECT (list), "rl-choices", choices, (GDestroyNotify) g_array_unref);
  for (guint i = 0; i < choices->len; i++)
    {
      RlConnectChoice *choice = &g_array_index (choices, RlConnectChoice, i);
      g_autofree char *text = g_strdup_printf ("%s ← %s: %s",
                                               slot_name (self->workflow, target, "inputs", choice->target_slot),
                                               node_label (self, choice->origin_id),
                                               slot_name (self->workflow, choice->origin_id, "outputs",
                                                          choice->origin_slot));
      GtkWidget *label = gtk_label_new (text);

      gtk_label_set_xalign (GTK_LABEL (label), 0);
      gtk_list_box_append (GTK_LIST_BOX (list), label);
    }
  if (choices->len == 0)
    gtk_list_box_set_placeholder (GTK_LIST_BOX (list), gtk_label_new ("No unconnected input has a fitting output"));
  g_signal_connect (list, "row-activated", G_CALLBACK (on_connect_row_activated), self);
  scroller = gtk_scrolled_window_new ();
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scroller), list);
  gtk_scrolled_window_set_propagate_natural_height (GTK_SCROLLED_WINDOW (scroller), TRUE);
  gtk_scrolled_window_set_max_content_height (GTK_SCROLLED_WINDOW (scroller), 320);
  gtk_scrolled_window_set_propagate_natural_width (GTK_SCROLLED_WINDOW (scroller), TRUE);
  gtk_popover_set_child (GTK_POPOVER (self->rename_popover), scroller);
  gtk_popover_set_pointing_to (GTK_POPOVER (self->rename_popover),
                               &(GdkRectangle) { (int) bounds.origin.x, (int) bounds.origin.y, 20, 20 });
  gtk_popover_popup (GTK_POPOVER (self->rename_popover));
  if (choices->len > 0)
    gtk_widget_grab_focus (GTK_WIDGET (gtk_list_box_get_row_at_index (GTK_LIST_BOX (list), 0)));
}

GtkListBox *
rl_canvas_get_connect_list (RlCanvas *self)
{
  GtkWidget *child;

  g_return_val_if_fail (RL_IS_CANVAS (self), NULL);
  child = gtk_popover_get_child (GTK_POPOVER (self->rename_popover));
  if (!GTK_IS_SCROLLED_WINDOW (child))
    return NULL;
  child = gtk_scrolled_window_get_child (GTK_SCROLLED_WINDOW (child));
  if (GTK_IS_VIEWPORT (child))
    child = gtk_viewport_get_child (GTK_VIEWPORT (child));
  return GTK_IS_LIST_BOX (child) ? GTK_LIST_BOX (child) : NULL;
}

static void
action_zoom (GtkWidget *widget, const char *name, GVariant *param)
{
  double factor = g_str_equal (name, "canvas.zoom-in") ? 1.2 : 1 / 1.2;

  rl_canvas_zoom_at (RL_CANVAS (widget), factor, gtk_widget_get_width (widget) / 2.0,
                     gtk_widget_get_height (widget) / 2.0);
}

static void
action_pan (GtkWidget *widget, const char *name, GVariant *param)
{
  int dx = 0, dy = 0;

  g_variant_get (param, "(ii)", &dx, &dy);
  rl_canvas_pan_by (RL_CANVAS (widget), dx, dy);
}

void
_rl_canvas_edit_class_init (GtkWidgetClass *widget_class)
{
  gtk_widget_class_install_action (widget_class, "canvas.undo", NULL, action_undo);
  gtk_widget_class_install_action (widget_class, "canvas.redo", NULL, action_redo);
  gtk_widget_class_install_action (widget_class, "canvas.delete", NULL, action_delete);
  gtk_widget_class_install_action (widget_class, "canvas.duplicate", NULL, action_duplicate);
  gtk_widget_class_install_action (widget_class, "canvas.copy", NULL, action_copy);
  gtk_widget_class_install_action (widget_class, "canvas.paste", NULL, action_paste);
  gtk_widget_class_install_action (widget_class, "canvas.mute", NULL, action_mute);
  gtk_widget_class_install_action (widget_class, "canvas.bypass", NULL, action_bypass);
  gtk_widget_class_install_action (widget_class, "canvas.fit", NULL, action_fit);
  gtk_widget_class_install_action (widget_class, "canvas.select-all", NULL, action_select_all);
  gtk_widget_class_install_action (widget_class, "canvas.add-node", NULL, action_search);
  gtk_widget_class_install_action (widget_class, "canvas.zoom-in", NULL, action_zoom);
  gtk_widget_class_install_action (widget_class, "canvas.zoom-out", NULL, action_zoom);
  gtk_widget_class_install_action (widget_class, "canvas.pan", "(ii)", action_pan);
  gtk_widget_class_install_action (widget_class, "canvas.group", NULL, action_group);
  gtk_widget_class_install_action (widget_class, "canvas.collapse", NULL, action_collapse);
  gtk_widget_class_install_action (widget_class, "canvas.rename", NULL, action_rename);
  gtk_widget_class_install_action (widget_class, "canvas.connect-to", NULL, action_connect_to);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_l, GDK_CONTROL_MASK, "canvas.connect-to", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_c, GDK_ALT_MASK, "canvas.collapse", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_F2, 0, "canvas.rename", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_g, GDK_CONTROL_MASK, "canvas.group", NULL);

  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_z, GDK_CONTROL_MASK, "canvas.undo", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_z, GDK_CONTROL_MASK | GDK_SHIFT_MASK, "canvas.redo", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Z, GDK_CONTROL_MASK | GDK_SHIFT_MASK, "canvas.redo", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_y, GDK_CONTROL_MASK, "canvas.redo", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Delete, 0, "canvas.delete", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_BackSpace, 0, "canvas.delete", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_d, GDK_CONTROL_MASK, "canvas.duplicate", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_c, GDK_CONTROL_MASK, "canvas.copy", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_v, GDK_CONTROL_MASK, "canvas.paste", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_m, GDK_CONTROL_MASK, "canvas.mute", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_b, GDK_CONTROL_MASK, "canvas.bypass", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_period, 0, "canvas.fit", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_a, GDK_CONTROL_MASK, "canvas.select-all", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_plus, 0, "canvas.zoom-in", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_equal, 0, "canvas.zoom-in", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_KP_Add, 0, "canvas.zoom-in", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_minus, 0, "canvas.zoom-out", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_KP_Subtract, 0, "canvas.zoom-out", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Left, 0, "canvas.pan", "(ii)", 60, 0);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Right, 0, "canvas.pan", "(ii)", -60, 0);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Up, 0, "canvas.pan", "(ii)", 0, 60);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Down, 0, "canvas.pan", "(ii)", 0, -60);
}
