/* RlNodeWidget: a node built from its workflow JSON and its RlNodeType. */
#include <math.h>

#include "engine/graph/registry.h"
#include "engine/graph/workflow.h"
#include "ui/canvas/rl-node-widget.h"

struct _RlNodeWidget
{
  GtkWidget    parent_instance;
  gint64       node_id;
  gboolean     placeholder;
  gboolean     selected;
  GtkWidget   *box;
  GtkWidget   *title;
  GtkWidget   *issues_label;  /* the node's problems, shown under its controls */
  GPtrArray   *sockets;      /* borrowed RlSocket, children of box */
  GHashTable  *input_rows;   /* input name -> row widget (borrowed) */
  GHashTable  *controls;     /* input name -> control (borrowed) */
  guint        n_issues;
  double       x, y;          /* document position */
  double       stored_width;  /* "size"[0] of the document */
  gboolean     collapsed;
  gboolean     has_color, has_bgcolor;
  GdkRGBA      color, bgcolor;  /* ComfyUI's "color" (title) and "bgcolor" (body) */
};

G_DEFINE_FINAL_TYPE (RlNodeWidget, rl_node_widget, GTK_TYPE_WIDGET)

enum { SIGNAL_VALUE_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

static const char * const control_after_generate_options[] = {
  "fixed", "increment", "decrement", "randomize", NULL
};

/* A seed's bounds reach 2^64; a spin button holds doubles, so keep it to
 * the integers a double represents exactly. */
#define LARGEST_EXACT_INTEGER 9007199254740992.0

static void
emit_value (RlNodeWidget *self,
            guint         index,
            JsonNode     *value)
{
  g_signal_emit (self, signals[SIGNAL_VALUE_CHANGED], 0, index, value);
  json_node_unref (value);
}

static guint
control_index (GtkWidget *control)
{
  return GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (control), "rl-widget-index"));
}

static void
on_int_changed (GtkSpinButton *spin,
                RlNodeWidget  *self)
{
  JsonNode *value = json_node_new (JSON_NODE_VALUE);

  json_node_set_int (value, (gint64) llround (gtk_spin_button_get_value (spin)));
  emit_value (self, control_index (GTK_WIDGET (spin)), value);
}

static void
on_float_changed (GtkSpinButton *spin,
                  RlNodeWidget  *self)
{
  JsonNode *value = json_node_new (JSON_NODE_VALUE);

  json_node_set_double (value, gtk_spin_button_get_value (spin));
  emit_value (self, control_index (GTK_WIDGET (spin)), value);
}

static void
on_combo_changed (GtkDropDown  *dropdown,
                  GParamSpec   *pspec,
                  RlNodeWidget *self)
{
  GtkStringObject *item = gtk_drop_down_get_selected_item (dropdown);
  JsonNode *value;

  if (item == NULL)
    return;
  value = json_node_new (JSON_NODE_VALUE);
  json_node_set_string (value, gtk_string_object_get_string (item));
  emit_value (self, control_index (GTK_WIDGET (dropdown)), value);
}

static void
on_entry_changed (GtkEditable  *editable,
                  RlNodeWidget *self)
{
  JsonNode *value = json_node_new (JSON_NODE_VALUE);

  json_node_set_string (value, gtk_editable_get_text (editable));
  emit_value (self, control_index (GTK_WIDGET (editable)), value);
}

static void
on_text_buffer_changed (GtkTextBuffer *buffer,
                        RlNodeWidget  *self)
{
  GtkTextIter start, end;
  g_autofree char *text = NULL;
  JsonNode *value = json_node_new (JSON_NODE_VALUE);

  gtk_text_buffer_get_bounds (buffer, &start, &end);
  text = gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
  json_node_set_string (value, text);
  emit_value (self, control_index (g_object_get_data (G_OBJECT (buffer), "rl-view")), value);
}

static void
on_switch_changed (GtkSwitch    *toggle,
                   GParamSpec   *pspec,
                   RlNodeWidget *self)
{
  JsonNode *value = json_node_new (JSON_NODE_VALUE);

  json_node_set_boolean (value, gtk_switch_get_active (toggle));
  emit_value (self, control_index (GTK_WIDGET (toggle)), value);
}

static JsonNode *
value_at (JsonArray *values,
          guint      index)
{
  if (values == NULL || index >= json_array_get_length (values))
    return NULL;
  return json_array_get_element (values, index);
}

static gboolean
value_is_number (JsonNode *value)
{
  return value != NULL && JSON_NODE_HOLDS_VALUE (value) &&
         (json_node_get_value_type (value) == G_TYPE_INT64 ||
          json_node_get_value_type (value) == G_TYPE_DOUBLE);
}

static const char *
value_string (JsonNode *value)
{
  if (value != NULL && JSON_NODE_HOLDS_VALUE (value) && json_node_get_value_type (value) == G_TYPE_STRING)
    return json_node_get_string (value);
  return NULL;
}

static GtkWidget *
new_int_control (RlNodeWidget      *self,
                 const RlInputSpec *spec,
                 JsonNode          *value)
{
  double lower = MAX ((double) spec->int_min, -LARGEST_EXACT_INTEGER);
  double upper = MIN ((double) spec->int_max, LARGEST_EXACT_INTEGER);
  double step = spec->int_step > 0 ? (double) spec->int_step : 1.0;
  GtkWidget *spin;

  if (upper <= lower)
    upper = lower + step;
  spin = gtk_spin_button_new_with_range (lower, upper, step);
  gtk_spin_button_set_digits (GTK_SPIN_BUTTON (spin), 0);
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (spin),
                             value_is_number (value) ? json_node_get_double (value)
                                                     : (double) spec->int_default);
  g_signal_connect (spin, "value-changed", G_CALLBACK (on_int_changed), self);
  return spin;
}

static guint
digits_for_step (double step)
{
  guint digits = 0;

  while (digits < 6 && fabs (step * pow (10, digits) - round (step * pow (10, digits))) > 1e-9)
    digits++;
  return MAX (digits, 1);
}

static GtkWidget *
new_float_control (RlNodeWidget      *self,
                   const RlInputSpec *spec,
                   JsonNode          *value)
{
  double step = spec->float_step > 0 ? spec->float_step : 0.01;
  double upper = spec->float_max > spec->float_min ? spec->float_max : spec->float_min + step;
  GtkWidget *spin = gtk_spin_button_new_with_range (spec->float_min, upper, step);

  gtk_spin_button_set_digits (GTK_SPIN_BUTTON (spin), digits_for_step (step));
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (spin),
                             value_is_number (value) ? json_node_get_double (value) : spec->float_default);
  g_signal_connect (spin, "value-changed", G_CALLBACK (on_float_changed), self);
  return spin;
}

static GtkWidget *
new_dropdown (GPtrArray  *options,
              const char *current)
{
  GtkStringList *list = gtk_string_list_new (NULL);
  guint selected = 0;
  gboolean found = FALSE;

  for (guint i = 0; i < options->len; i++)
    {
      gtk_string_list_append (list, g_ptr_array_index (options, i));
      if (current != NULL && g_str_equal (current, g_ptr_array_index (options, i)))
        {
          selected = i;
          found = TRUE;
        }
    }
  /* A value the list lacks (a model that is not installed here) stays
   * visible and saved; validation reports it. */
  if (!found && current != NULL)
    {
      gtk_string_list_append (list, current);
      selected = options->len;
    }
  GtkWidget *dropdown = gtk_drop_down_new (G_LIST_MODEL (list), NULL);
  gtk_drop_down_set_selected (GTK_DROP_DOWN (dropdown), selected);
  return dropdown;
}

static GtkWidget *
new_combo_control (RlNodeWidget      *self,
                   RlRegistry        *registry,
                   const RlInputSpec *spec,
                   JsonNode          *value)
{
  g_autoptr(GPtrArray) options = rl_registry_list_combo_options (registry, spec);
  const char *current = value_string (value);
  GtkWidget *dropdown;

  if (current == NULL)
    current = spec->combo_default != NULL ? spec->combo_default
            : options->len > 0 ? g_ptr_array_index (options, 0) : NULL;
  dropdown = new_dropdown (options, current);
  g_signal_connect (dropdown, "notify::selected", G_CALLBACK (on_combo_changed), self);
  return dropdown;
}

static GtkWidget *
new_string_control (RlNodeWidget      *self,
                    const RlInputSpec *spec,
                    JsonNode          *value)
{
  const char *text = value_string (value);

  if (text == NULL)
    text = spec->string_default != NULL ? spec->string_default : "";
  if (spec->multiline)
    {
      GtkWidget *view = gtk_text_view_new ();
      GtkTextBuffer *buffer = gtk_text_view_get_buffer (GTK_TEXT_VIEW (view));

      gtk_text_view_set_wrap_mode (GTK_TEXT_VIEW (view), GTK_WRAP_WORD_CHAR);
      gtk_widget_set_size_request (view, -1, 72);
      gtk_widget_add_css_class (view, "prompt");
      gtk_text_buffer_set_text (buffer, text, -1);
      g_object_set_data (G_OBJECT (buffer), "rl-view", view);
      g_signal_connect (buffer, "changed", G_CALLBACK (on_text_buffer_changed), self);
      return view;
    }
  GtkWidget *entry = gtk_entry_new ();
  gtk_editable_set_text (GTK_EDITABLE (entry), text);
  g_signal_connect (entry, "changed", G_CALLBACK (on_entry_changed), self);
  return entry;
}

static GtkWidget *
new_boolean_control (RlNodeWidget      *self,
                     const RlInputSpec *spec,
                     JsonNode          *value)
{
  GtkWidget *toggle = gtk_switch_new ();
  gboolean active = spec->boolean_default;

  if (value != NULL && JSON_NODE_HOLDS_VALUE (value) && json_node_get_value_type (value) == G_TYPE_BOOLEAN)
    active = json_node_get_boolean (value);
  gtk_switch_set_active (GTK_SWITCH (toggle), active);
  gtk_widget_set_valign (toggle, GTK_ALIGN_CENTER);
  g_signal_connect (toggle, "notify::active", G_CALLBACK (on_switch_changed), self);
  return toggle;
}

static GtkWidget *
new_control_after_generate (RlNodeWidget *self,
                            JsonNode     *value)
{
  g_autoptr(GPtrArray) options = g_ptr_array_new ();
  const char *current = value_string (value);
  GtkWidget *dropdown;

  for (guint i = 0; control_after_generate_options[i] != NULL; i++)
    g_ptr_array_add (options, (gpointer) control_after_generate_options[i]);
  dropdown = new_dropdown (options, current != NULL ? current : "randomize");
  g_signal_connect (dropdown, "notify::selected", G_CALLBACK (on_combo_changed), self);
  return dropdown;
}

static void
set_index (GtkWidget *control,
           guint      index)
{
  g_object_set_data (G_OBJECT (control), "rl-widget-index", GUINT_TO_POINTER (index));
}

static GtkWidget *
labelled_row (const char *name,
              GtkWidget  *control,
              gboolean    stacked)
{
  GtkWidget *row = gtk_box_new (stacked ? GTK_ORIENTATION_VERTICAL : GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *label = gtk_label_new (name);

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_widget_set_hexpand (label, TRUE);
  gtk_widget_add_css_class (label, "dim-label");
  gtk_box_append (GTK_BOX (row), label);
  gtk_box_append (GTK_BOX (row), control);
  gtk_widget_add_css_class (row, "widget-row");
  gtk_accessible_update_property (GTK_ACCESSIBLE (control), GTK_ACCESSIBLE_PROPERTY_LABEL, name, -1);
  return row;
}

/* Input names whose widget was converted to a socket and is linked. */
static gboolean
widget_is_linked (JsonArray  *inputs,
                  const char *name)
{
  for (guint i = 0; inputs != NULL && i < json_array_get_length (inputs); i++)
    {
      JsonObject *slot = json_array_get_object_element (inputs, i);
      JsonObject *widget;

      if (slot == NULL || !json_object_has_member (slot, "widget"))
        continue;
      widget = json_object_get_object_member (slot, "widget");
      if (widget != NULL && g_strcmp0 (json_object_get_string_member_with_default (widget, "name", ""), name) == 0)
        return json_object_has_member (slot, "link") && !json_object_get_null_member (slot, "link");
    }
  return FALSE;
}

static void
add_controls (RlNodeWidget     *self,
              RlRegistry       *registry,
              const RlNodeType *type,
              JsonArray        *values,
              JsonArray        *inputs)
{
  guint index = 0;

  for (int optional = 0; optional <= 1; optional++)
    for (guint i = 0; i < type->n_inputs; i++)
      {
        const RlInputSpec *spec = &type->inputs[i];
        GtkWidget *control = NULL, *row;

        if (spec->kind == RL_INPUT_LINK || spec->force_input || (spec->optional != FALSE) != (optional != 0))
          continue;
        switch (spec->kind)
          {
          case RL_INPUT_INT:     control = new_int_control (self, spec, value_at (values, index)); break;
          case RL_INPUT_FLOAT:   control = new_float_control (self, spec, value_at (values, index)); break;
          case RL_INPUT_COMBO:   control = new_combo_control (self, registry, spec, value_at (values, index)); break;
          case RL_INPUT_STRING:  control = new_string_control (self, spec, value_at (values, index)); break;
          case RL_INPUT_BOOLEAN: control = new_boolean_control (self, spec, value_at (values, index)); break;
          case RL_INPUT_LINK:    g_assert_not_reached ();
          }
        set_index (control, index++);
        gtk_widget_set_tooltip_text (control, spec->tooltip);
        row = labelled_row (spec->name, control, spec->kind == RL_INPUT_STRING && spec->multiline);
        gtk_widget_set_sensitive (row, !widget_is_linked (inputs, spec->name));
        g_hash_table_insert (self->controls, g_strdup (spec->name), control);
        g_hash_table_insert (self->input_rows, g_strdup (spec->name), row);
        gtk_box_append (GTK_BOX (self->box), row);
        if (spec->control_after_generate)
          {
            GtkWidget *after = new_control_after_generate (self, value_at (values, index));

            set_index (after, index++);
            gtk_box_append (GTK_BOX (self->box), labelled_row ("control after generate", after, FALSE));
          }
      }
}

/* An unknown type's values, shown as they are so the user sees what the
 * placeholder keeps. */
static void
add_raw_values (RlNodeWidget *self,
                JsonArray    *values)
{
  for (guint i = 0; values != NULL && i < json_array_get_length (values); i++)
    {
      g_autofree char *text = json_to_string (json_array_get_element (values, i), FALSE);
      GtkWidget *label = gtk_label_new (text);

      gtk_label_set_xalign (GTK_LABEL (label), 0);
      gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
      gtk_label_set_max_width_chars (GTK_LABEL (label), 32);
      gtk_widget_add_css_class (label, "dim-label");
      gtk_box_append (GTK_BOX (self->box), label);
    }
}

static const char *
slot_string (JsonObject *slot,
             const char *member)
{
  return slot != NULL ? json_object_get_string_member_with_default (slot, member, NULL) : NULL;
}

static gboolean
slot_shown (JsonObject *slot)
{
  /* An unconverted widget input is edited by its control, not a socket. */
  return slot != NULL && (!json_object_has_member (slot, "widget") ||
                          (json_object_has_member (slot, "link") && !json_object_get_null_member (slot, "link")));
}

static GtkWidget *
socket_side (RlNodeWidget      *self,
             JsonObject        *slot,
             RlSocketDirection  direction,
             guint              index)
{
  GtkWidget *side = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 4);
  GtkWidget *socket = rl_socket_new (self->node_id, direction, index, slot_string (slot, "type"));
  const char *name = slot_string (slot, "label") != NULL ? slot_string (slot, "label") : slot_string (slot, "name");
  GtkWidget *label = gtk_label_new (name != NULL ? name : "");
  gboolean connected;

  if (direction == RL_SOCKET_INPUT)
    connected = json_object_has_member (slot, "link") && !json_object_get_null_member (slot, "link");
  else
    connected = json_object_has_member (slot, "links") &&
                json_object_get_array_member (slot, "links") != NULL &&
                json_array_get_length (json_object_get_array_member (slot, "links")) > 0;
  rl_socket_set_connected (RL_SOCKET (socket), connected);
  g_ptr_array_add (self->sockets, socket);
  if (direction == RL_SOCKET_INPUT)
    {
      gtk_box_append (GTK_BOX (side), socket);
      gtk_box_append (GTK_BOX (side), label);
      if (name != NULL)
        g_hash_table_insert (self->input_rows, g_strdup (slot_string (slot, "name")), side);
    }
  else
    {
      gtk_box_append (GTK_BOX (side), label);
      gtk_box_append (GTK_BOX (side), socket);
    }
  return side;
}

static void
add_socket_rows (RlNodeWidget *self,
                 JsonArray    *inputs,
                 JsonArray    *outputs)
{
  g_autoptr(GPtrArray) shown_inputs = g_ptr_array_new ();
  guint n_outputs = outputs != NULL ? json_array_get_length (outputs) : 0;

  for (guint i = 0; inputs != NULL && i < json_array_get_length (inputs); i++)
    if (slot_shown (json_array_get_object_element (inputs, i)))
      g_ptr_array_add (shown_inputs, GUINT_TO_POINTER (i));
  for (guint row = 0; row < MAX (shown_inputs->len, n_outputs); row++)
    {
      GtkWidget *center = gtk_center_box_new ();

      if (row < shown_inputs->len)
        {
          guint slot = GPOINTER_TO_UINT (g_ptr_array_index (shown_inputs, row));

          gtk_center_box_set_start_widget (GTK_CENTER_BOX (center),
                                           socket_side (self, json_array_get_object_element (inputs, slot),
                                                        RL_SOCKET_INPUT, slot));
        }
      if (row < n_outputs)
        gtk_center_box_set_end_widget (GTK_CENTER_BOX (center),
                                       socket_side (self, json_array_get_object_element (outputs, row),
                                                    RL_SOCKET_OUTPUT, row));
      gtk_widget_add_css_class (center, "socket-row");
      gtk_box_append (GTK_BOX (self->box), center);
    }
}

gboolean
rl_node_type_is_frontend_only (const char *type_name)
{
  static const char * const frontend_types[] = { "Reroute", "PrimitiveNode", "Note", "MarkdownNote" };

  for (guint i = 0; type_name != NULL && i < G_N_ELEMENTS (frontend_types); i++)
    if (g_str_equal (type_name, frontend_types[i]))
      return TRUE;
  return FALSE;
}

static JsonArray *
member_array (JsonObject *object,
              const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  return node != NULL && JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
}

/* A node's own colours (ComfyUI's colour menu) tint the body and the title
 * strip over the theme's card colour, so text stays readable. */
static void
rl_node_widget_snapshot (GtkWidget   *widget,
                         GtkSnapshot *snapshot)
{
  RlNodeWidget *self = RL_NODE_WIDGET (widget);
  float w = gtk_widget_get_width (widget), h = gtk_widget_get_height (widget);

  if (self->has_bgcolor)
    {
      GdkRGBA tint = self->bgcolor;
      GskRoundedRect box;

      tint.alpha = 0.35f;
      gsk_rounded_rect_init_from_rect (&box, &GRAPHENE_RECT_INIT (0, 0, w, h), 8);
      gtk_snapshot_push_rounded_clip (snapshot, &box);
      gtk_snapshot_append_color (snapshot, &tint, &GRAPHENE_RECT_INIT (0, 0, w, h));
      gtk_snapshot_pop (snapshot);
    }
  if (self->has_color)
    {
      GdkRGBA tint = self->color;
      GskRoundedRect strip;
      float title_h = gtk_widget_get_height (self->title) + 8;

      tint.alpha = 0.55f;
      gsk_rounded_rect_init (&strip, &GRAPHENE_RECT_INIT (0, 0, w, title_h),
                             &GRAPHENE_SIZE_INIT (8, 8), &GRAPHENE_SIZE_INIT (8, 8),
                             &GRAPHENE_SIZE_INIT (0, 0), &GRAPHENE_SIZE_INIT (0, 0));
      gtk_snapshot_push_rounded_clip (snapshot, &strip);
      gtk_snapshot_append_color (snapshot, &tint, &GRAPHENE_RECT_INIT (0, 0, w, title_h));
      gtk_snapshot_pop (snapshot);
    }
  GTK_WIDGET_CLASS (rl_node_widget_parent_class)->snapshot (widget, snapshot);
}

static void
rl_node_widget_dispose (GObject *object)
{
  RlNodeWidget *self = RL_NODE_WIDGET (object);

  g_clear_pointer (&self->box, gtk_widget_unparent);
  G_OBJECT_CLASS (rl_node_widget_parent_class)->dispose (object);
}

static void
rl_node_widget_finalize (GObject *object)
{
  RlNodeWidget *self = RL_NODE_WIDGET (object);

  g_ptr_array_unref (self->sockets);
  g_hash_table_unref (self->input_rows);
  g_hash_table_unref (self->controls);
  G_OBJECT_CLASS (rl_node_widget_parent_class)->finalize (object);
}

static void
rl_node_widget_class_init (RlNodeWidgetClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = rl_node_widget_dispose;
  object_class->finalize = rl_node_widget_finalize;
  widget_class->snapshot = rl_node_widget_snapshot;
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "node");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_GROUP);

  /**
   * RlNodeWidget::value-changed:
   * @index: the position in the node's widgets_values
   * @value: the new value (borrowed JsonNode)
   */
  signals[SIGNAL_VALUE_CHANGED] =
    g_signal_new ("value-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_UINT,
                  JSON_TYPE_NODE | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
rl_node_widget_init (RlNodeWidget *self)
{
  self->sockets = g_ptr_array_new ();
  self->input_rows = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->controls = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 4);
  gtk_widget_set_parent (self->box, GTK_WIDGET (self));
  gtk_widget_set_focusable (GTK_WIDGET (self), TRUE);
}

GtkWidget *
rl_node_widget_new (RlRegistry *registry,
                    RlWorkflow *workflow,
                    gint64      node_id)
{
  RlNodeWidget *self;
  JsonObject *node;
  const char *type_name, *title;
  const RlNodeType *type;
  g_autofree char *heading = NULL;

  g_return_val_if_fail (registry != NULL, NULL);
  g_return_val_if_fail (workflow != NULL, NULL);
  node = rl_workflow_lookup_node (workflow, node_id);
  g_return_val_if_fail (node != NULL, NULL);

  self = g_object_new (RL_TYPE_NODE_WIDGET, NULL);
  self->node_id = node_id;
  rl_workflow_node_get_pos (workflow, node_id, &self->x, &self->y);
  {
    double height = 0;

    rl_workflow_node_get_size (workflow, node_id, &self->stored_width, &height);
  }
  type_name = rl_workflow_node_get_type (workflow, node_id);
  type = rl_registry_lookup (registry, type_name);
  self->placeholder = type == NULL;
  title = rl_workflow_node_get_title (workflow, node_id);
  if (title == NULL)
    title = type != NULL && type->display_name != NULL ? type->display_name : type_name;
  heading = self->placeholder && !rl_node_type_is_frontend_only (type_name)
            ? g_strdup_printf ("%s (missing type %s)", title, type_name) : g_strdup (title);
  self->title = gtk_label_new (heading);
  gtk_label_set_xalign (GTK_LABEL (self->title), 0);
  gtk_label_set_ellipsize (GTK_LABEL (self->title), PANGO_ELLIPSIZE_END);
  gtk_widget_add_css_class (self->title, "title");
  gtk_box_append (GTK_BOX (self->box), self->title);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL, heading, -1);

  add_socket_rows (self, member_array (node, "inputs"), member_array (node, "outputs"));
  if (type != NULL)
    add_controls (self, registry, type, rl_workflow_node_get_widgets_values (workflow, node_id),
                  member_array (node, "inputs"));
  else if (rl_node_type_is_frontend_only (type_name))
    {
      /* Drawn by the frontend in ComfyUI; here its values are shown as
       * they are and kept (editing them comes later). */
      add_raw_values (self, rl_workflow_node_get_widgets_values (workflow, node_id));
      gtk_widget_add_css_class (GTK_WIDGET (self), "frontend");
    }
  else
    {
      add_raw_values (self, rl_workflow_node_get_widgets_values (workflow, node_id));
      gtk_widget_add_css_class (GTK_WIDGET (self), "missing");
      gtk_widget_set_tooltip_text (GTK_WIDGET (self),
                                   "No node type of this name is installed; the node keeps its data and is saved unchanged.");
    }
  self->issues_label = gtk_label_new (NULL);
  gtk_label_set_wrap (GTK_LABEL (self->issues_label), TRUE);
  gtk_label_set_max_width_chars (GTK_LABEL (self->issues_label), 40);
  gtk_label_set_xalign (GTK_LABEL (self->issues_label), 0);
  gtk_widget_add_css_class (self->issues_label, "issues");
  gtk_widget_add_css_class (self->issues_label, "caption");
  gtk_widget_set_visible (self->issues_label, FALSE);
  gtk_box_append (GTK_BOX (self->box), self->issues_label);
  rl_node_widget_set_mode (self, rl_workflow_node_get_mode (workflow, node_id));
  self->has_color = gdk_rgba_parse (&self->color, json_object_get_string_member_with_default (node, "color", ""));
  self->has_bgcolor = gdk_rgba_parse (&self->bgcolor, json_object_get_string_member_with_default (node, "bgcolor", ""));
  {
    JsonNode *flags = json_object_get_member (node, "flags");

    self->collapsed = flags != NULL && JSON_NODE_HOLDS_OBJECT (flags) &&
                      json_object_get_boolean_member_with_default (json_node_get_object (flags), "collapsed", FALSE);
  }
  if (self->collapsed)
    {
      /* Only the title stays; the rows keep their state for expanding. */
      for (GtkWidget *child = gtk_widget_get_next_sibling (self->title); child != NULL;
           child = gtk_widget_get_next_sibling (child))
        gtk_widget_set_visible (child, FALSE);
      self->stored_width = 0;
      gtk_label_set_width_chars (GTK_LABEL (self->title), MIN ((int) g_utf8_strlen (heading, -1), 28));
      gtk_widget_add_css_class (GTK_WIDGET (self), "collapsed");
    }
  return GTK_WIDGET (self);
}

gint64
rl_node_widget_get_node_id (RlNodeWidget *self)
{
  g_return_val_if_fail (RL_IS_NODE_WIDGET (self), -1);
  return self->node_id;
}

gboolean
rl_node_widget_is_placeholder (RlNodeWidget *self)
{
  g_return_val_if_fail (RL_IS_NODE_WIDGET (self), FALSE);
  return self->placeholder;
}

RlSocket *
rl_node_widget_get_socket (RlNodeWidget      *self,
                           RlSocketDirection  direction,
                           guint              slot)
{
  g_return_val_if_fail (RL_IS_NODE_WIDGET (self), NULL);
  for (guint i = 0; i < self->sockets->len; i++)
    {
      RlSocket *socket = g_ptr_array_index (self->sockets, i);

      if (rl_socket_get_direction (socket) == direction && rl_socket_get_slot (socket) == slot)
        return socket;
    }
  return NULL;
}

GPtrArray *
rl_node_widget_get_sockets (RlNodeWidget *self)
{
  g_return_val_if_fail (RL_IS_NODE_WIDGET (self), NULL);
  return self->sockets;
}

void
rl_node_widget_set_selected (RlNodeWidget *self,
                             gboolean      selected)
{
  g_return_if_fail (RL_IS_NODE_WIDGET (self));
  self->selected = selected;
  if (selected)
    gtk_widget_add_css_class (GTK_WIDGET (self), "selected");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self), "selected");
}

gboolean
rl_node_widget_get_selected (RlNodeWidget *self)
{
  g_return_val_if_fail (RL_IS_NODE_WIDGET (self), FALSE);
  return self->selected;
}

void
rl_node_widget_set_mode (RlNodeWidget *self,
                         int           mode)
{
  GtkWidget *widget = GTK_WIDGET (self);

  g_return_if_fail (RL_IS_NODE_WIDGET (self));
  gtk_widget_remove_css_class (widget, "muted");
  gtk_widget_remove_css_class (widget, "bypassed");
  if (mode == RL_WORKFLOW_MODE_MUTED)
    gtk_widget_add_css_class (widget, "muted");
  else if (mode == RL_WORKFLOW_MODE_BYPASS)
    gtk_widget_add_css_class (widget, "bypassed");
}

static void
clear_issue_marks (RlNodeWidget *self)
{
  GHashTableIter iter;
  gpointer row;

  g_hash_table_iter_init (&iter, self->input_rows);
  while (g_hash_table_iter_next (&iter, NULL, &row))
    {
      gtk_widget_remove_css_class (row, "input-issue");
      gtk_widget_set_tooltip_text (row, NULL);
    }
  gtk_widget_remove_css_class (GTK_WIDGET (self), "has-issues");
  gtk_widget_set_tooltip_text (self->title, NULL);
  gtk_widget_set_visible (self->issues_label, FALSE);
  self->n_issues = 0;
}

void
rl_node_widget_set_issues (RlNodeWidget *self,
                           GPtrArray    *issues)
{
  g_autoptr(GString) node_text = g_string_new (NULL);
  g_autofree char *id = NULL;

  g_return_if_fail (RL_IS_NODE_WIDGET (self));
  clear_issue_marks (self);
  if (issues == NULL)
    return;
  id = g_strdup_printf ("%" G_GINT64_FORMAT, self->node_id);
  for (guint i = 0; i < issues->len; i++)
    {
      RlValidationIssue *issue = g_ptr_array_index (issues, i);
      GtkWidget *row = issue->input_name != NULL ? g_hash_table_lookup (self->input_rows, issue->input_name) : NULL;
      g_autofree char *text = NULL;

      if (g_strcmp0 (issue->node_id, id) != 0)
        continue;
      text = issue->details != NULL ? g_strdup_printf ("%s (%s)", issue->message, issue->details)
                                    : g_strdup (issue->message);
      if (row != NULL)
        {
          gtk_widget_add_css_class (row, "input-issue");
          gtk_widget_set_tooltip_text (row, text);
        }
      g_string_append_printf (node_text, "%s%s", node_text->len > 0 ? "\n" : "", text);
      self->n_issues++;
    }
  if (self->n_issues == 0)
    return;
  gtk_widget_add_css_class (GTK_WIDGET (self), "has-issues");
  gtk_widget_set_tooltip_text (self->title, node_text->str);
  gtk_label_set_text (GTK_LABEL (self->issues_label), node_text->str);
  gtk_widget_set_visible (self->issues_label, TRUE);
}

guint
rl_node_widget_get_n_issues (RlNodeWidget *self)
{
  g_return_val_if_fail (RL_IS_NODE_WIDGET (self), 0);
  return self->n_issues;
}

GtkWidget *
rl_node_widget_get_control (RlNodeWidget *self,
                            const char   *input_name)
{
  g_return_val_if_fail (RL_IS_NODE_WIDGET (self), NULL);
  return g_hash_table_lookup (self->controls, input_name);
}

void
rl_node_widget_get_position (RlNodeWidget *self,
                             double       *x,
                             double       *y)
{
  g_return_if_fail (RL_IS_NODE_WIDGET (self));
  *x = self->x;
  *y = self->y;
}

void
rl_node_widget_set_position (RlNodeWidget *self,
                             double        x,
                             double        y)
{
  g_return_if_fail (RL_IS_NODE_WIDGET (self));
  self->x = x;
  self->y = y;
}

double
rl_node_widget_get_stored_width (RlNodeWidget *self)
{
  g_return_val_if_fail (RL_IS_NODE_WIDGET (self), 0);
  return self->stored_width;
}

GtkWidget *
rl_node_widget_get_title_label (RlNodeWidget *self)
{
  g_return_val_if_fail (RL_IS_NODE_WIDGET (self), NULL);
  return self->title;
}

gboolean
rl_node_widget_get_collapsed (RlNodeWidget *self)
{
  g_return_val_if_fail (RL_IS_NODE_WIDGET (self), FALSE);
  return self->collapsed;
}
