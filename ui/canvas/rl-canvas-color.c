/* Node colours and the node menu: ComfyUI's colour presets written to a
 * node's "color"/"bgcolor", offered by a right-click on the node's title. */
#include "ui/canvas/rl-canvas-private.h"
#include "engine/graph/workflow.h"

typedef struct {
  const char *name;      /* ComfyUI's key, stored nowhere: only the colours are */
  const char *label;
  const char *color;     /* title bar */
  const char *bgcolor;   /* body */
} RlNodeColorPreset;

/* The values of ComfyUI's LGraphCanvas.node_colors, so a workflow coloured
 * here looks the same there and back. */
static const RlNodeColorPreset presets[] = {
  { "red",       "Red",       "#322",    "#533" },
  { "brown",     "Brown",     "#332922", "#593930" },
  { "green",     "Green",     "#232",    "#353" },
  { "blue",      "Blue",      "#223",    "#335" },
  { "pale_blue", "Pale Blue", "#2a363b", "#3f5159" },
  { "cyan",      "Cyan",      "#233",    "#355" },
  { "purple",    "Purple",    "#323",    "#535" },
  { "yellow",    "Yellow",    "#432",    "#653" },
  { "black",     "Black",     "#222",    "#000" },
};

static const RlNodeColorPreset *
lookup_preset (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (presets); i++)
    if (g_str_equal (presets[i].name, name))
      return &presets[i];
  return NULL;
}

gboolean
rl_canvas_set_node_color (RlCanvas   *self,
                          gint64      node_id,
                          const char *preset)
{
  const RlNodeColorPreset *colors = NULL;
  JsonObject *node;

  g_return_val_if_fail (RL_IS_CANVAS (self), FALSE);
  node = self->workflow != NULL ? rl_workflow_lookup_node (self->workflow, node_id) : NULL;
  if (node == NULL)
    return FALSE;
  if (preset != NULL && *preset != '\0' && (colors = lookup_preset (preset)) == NULL)
    return FALSE;
  if (g_strcmp0 (json_object_get_string_member_with_default (node, "color", NULL),
                 colors != NULL ? colors->color : NULL) == 0 &&
      g_strcmp0 (json_object_get_string_member_with_default (node, "bgcolor", NULL),
                 colors != NULL ? colors->bgcolor : NULL) == 0)
    return TRUE;
  _rl_canvas_record (self, NULL);
  if (colors != NULL)
    {
      json_object_set_string_member (node, "color", colors->color);
      json_object_set_string_member (node, "bgcolor", colors->bgcolor);
    }
  else
    {
      json_object_remove_member (node, "color");
      json_object_remove_member (node, "bgcolor");
    }
  _rl_canvas_rebuild (self);
  _rl_canvas_changed (self);
  return TRUE;
}

GtkWidget *
rl_canvas_get_node_menu (RlCanvas *self)
{
  g_return_val_if_fail (RL_IS_CANVAS (self), NULL);
  return self->node_menu;
}

static GMenuModel *
build_menu (void)
{
  GMenu *menu = g_menu_new ();
  g_autoptr(GMenu) colors = g_menu_new ();

  for (guint i = 0; i < G_N_ELEMENTS (presets); i++)
    {
      g_autoptr(GMenuItem) item = g_menu_item_new (presets[i].label, NULL);

      g_menu_item_set_action_and_target_value (item, "canvas.node-color", g_variant_new_string (presets[i].name));
      g_menu_append_item (colors, item);
    }
  {
    g_autoptr(GMenuItem) none = g_menu_item_new ("No Colour", NULL);

    g_menu_item_set_action_and_target_value (none, "canvas.node-color", g_variant_new_string (""));
    g_menu_append_item (colors, none);
  }
  g_menu_append_section (menu, "Colour", G_MENU_MODEL (colors));
  g_menu_append (menu, "Rename…", "canvas.rename");
  g_menu_append (menu, "Collapse", "canvas.collapse");
  return G_MENU_MODEL (menu);
}

void
_rl_canvas_open_node_menu (RlCanvas *self,
                           gint64    node_id,
                           double    x,
                           double    y)
{
  if (self->node_menu == NULL)
    {
      g_autoptr(GMenuModel) model = build_menu ();

      self->node_menu = gtk_popover_menu_new_from_model (model);
      gtk_widget_set_parent (self->node_menu, GTK_WIDGET (self));
      gtk_popover_set_has_arrow (GTK_POPOVER (self->node_menu), FALSE);
      gtk_widget_set_halign (self->node_menu, GTK_ALIGN_START);
    }
  self->node_menu_node = node_id;
  /* Rename and collapse act on the selection: make it this node. */
  rl_canvas_select (self, node_id, FALSE);
  gtk_popover_set_pointing_to (GTK_POPOVER (self->node_menu), &(GdkRectangle) { (int) x, (int) y, 1, 1 });
  gtk_popover_popup (GTK_POPOVER (self->node_menu));
}

static void
action_node_color (GtkWidget  *widget,
                   const char *name,
                   GVariant   *param)
{
  RlCanvas *self = RL_CANVAS (widget);

  rl_canvas_set_node_color (self, self->node_menu_node, g_variant_get_string (param, NULL));
}

/* Shift+F10 or the Menu key: the menu of the first selected node, at its
 * title, for those who do not use a mouse. */
static void
action_node_menu (GtkWidget  *widget,
                  const char *name,
                  GVariant   *param)
{
  RlCanvas *self = RL_CANVAS (widget);
  g_autoptr(GArray) selection = rl_canvas_get_selection (self);
  double doc_x, doc_y;
  gint64 node_id;

  if (selection->len == 0)
    return;
  node_id = g_array_index (selection, gint64, 0);
  if (!rl_workflow_node_get_pos (self->workflow, node_id, &doc_x, &doc_y))
    return;
  _rl_canvas_open_node_menu (self, node_id, self->offset_x + (doc_x + 20) * self->zoom,
                             self->offset_y + (doc_y + 10) * self->zoom);
}

void
_rl_canvas_color_class_init (GtkWidgetClass *widget_class)
{
  gtk_widget_class_install_action (widget_class, "canvas.node-color", "s", action_node_color);
  gtk_widget_class_install_action (widget_class, "canvas.node-menu", NULL, action_node_menu);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_F10, GDK_SHIFT_MASK, "canvas.node-menu", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Menu, 0, "canvas.node-menu", NULL);
}
