/* RlSocket: a small circle drawn in its type's colour; a filled circle
 * when connected. The canvas finds sockets by picking and asks them for
 * their node, direction, slot and type. */
#include "ui/canvas/rl-socket.h"

#define SOCKET_SIZE 14

struct _RlSocket
{
  GtkWidget          parent_instance;
  gint64             node_id;
  RlSocketDirection  direction;
  guint              slot;
  char              *type;
  gboolean           connected;
};

G_DEFINE_FINAL_TYPE (RlSocket, rl_socket, GTK_TYPE_WIDGET)

typedef struct {
  const char *type;
  const char *color;
} TypeColor;

/* ComfyUI's default link colours, so wires look familiar. */
static const TypeColor type_colors[] = {
  { "MODEL",         "#b39ddb" },
  { "CLIP",          "#ffd500" },
  { "VAE",           "#ff6e6e" },
  { "CONDITIONING",  "#ffa931" },
  { "LATENT",        "#ff9cf9" },
  { "IMAGE",         "#64b5f6" },
  { "MASK",          "#81c784" },
  { "VIDEO",         "#26c6da" },
  { "AUDIO",         "#ea80fc" },
  { "CLIP_VISION",   "#a8dadc" },
  { "INT",           "#8bc34a" },
  { "FLOAT",         "#aed581" },
  { "STRING",        "#c5e1a5" },
  { "BOOLEAN",       "#dce775" },
};

void
rl_socket_type_color (const char *type,
                      GdkRGBA    *color)
{
  for (guint i = 0; type != NULL && i < G_N_ELEMENTS (type_colors); i++)
    if (g_str_equal (type, type_colors[i].type))
      {
        gdk_rgba_parse (color, type_colors[i].color);
        return;
      }
  gdk_rgba_parse (color, "#a0a0a0");
}

static void
rl_socket_measure (GtkWidget      *widget,
                   GtkOrientation  orientation,
                   int             for_size,
                   int            *minimum,
                   int            *natural,
                   int            *minimum_baseline,
                   int            *natural_baseline)
{
  *minimum = *natural = SOCKET_SIZE;
}

static void
rl_socket_snapshot (GtkWidget   *widget,
                    GtkSnapshot *snapshot)
{
  RlSocket *self = RL_SOCKET (widget);
  float w = gtk_widget_get_width (widget), h = gtk_widget_get_height (widget);
  float r = MIN (w, h) / 2.0f - 2.0f;
  GskRoundedRect outer;
  GdkRGBA color;
  float border = self->connected ? r : 2.0f;

  rl_socket_type_color (self->type, &color);
  gsk_rounded_rect_init_from_rect (&outer, &GRAPHENE_RECT_INIT (w / 2 - r, h / 2 - r, 2 * r, 2 * r), r);
  gtk_snapshot_append_border (snapshot, &outer,
                              (float[4]) { border, border, border, border },
                              (GdkRGBA[4]) { color, color, color, color });
}

static void
rl_socket_finalize (GObject *object)
{
  g_free (RL_SOCKET (object)->type);
  G_OBJECT_CLASS (rl_socket_parent_class)->finalize (object);
}

static void
rl_socket_class_init (RlSocketClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = rl_socket_finalize;
  widget_class->measure = rl_socket_measure;
  widget_class->snapshot = rl_socket_snapshot;
  gtk_widget_class_set_css_name (widget_class, "socket");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_BUTTON);
}

static void
rl_socket_init (RlSocket *self)
{
  gtk_widget_set_valign (GTK_WIDGET (self), GTK_ALIGN_CENTER);
}

GtkWidget *
rl_socket_new (gint64             node_id,
               RlSocketDirection  direction,
               guint              slot,
               const char        *type)
{
  RlSocket *self = g_object_new (RL_TYPE_SOCKET, NULL);
  g_autofree char *label = NULL;

  self->node_id = node_id;
  self->direction = direction;
  self->slot = slot;
  self->type = g_strdup (type != NULL ? type : "*");
  gtk_widget_add_css_class (GTK_WIDGET (self), direction == RL_SOCKET_INPUT ? "input" : "output");
  label = g_strdup_printf ("%s %s %u (%s)", direction == RL_SOCKET_INPUT ? "Input" : "Output",
                           "socket", slot, self->type);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);
  return GTK_WIDGET (self);
}

gint64
rl_socket_get_node_id (RlSocket *socket)
{
  return socket->node_id;
}

RlSocketDirection
rl_socket_get_direction (RlSocket *socket)
{
  return socket->direction;
}

guint
rl_socket_get_slot (RlSocket *socket)
{
  return socket->slot;
}

const char *
rl_socket_get_socket_type (RlSocket *socket)
{
  return socket->type;
}

void
rl_socket_set_highlight (RlSocket *socket,
                         int       highlight)
{
  GtkWidget *widget = GTK_WIDGET (socket);

  gtk_widget_remove_css_class (widget, "compatible");
  gtk_widget_remove_css_class (widget, "incompatible");
  if (highlight > 0)
    gtk_widget_add_css_class (widget, "compatible");
  else if (highlight < 0)
    gtk_widget_add_css_class (widget, "incompatible");
}

void
rl_socket_set_connected (RlSocket *socket,
                         gboolean  connected)
{
  if (socket->connected == connected)
    return;
  socket->connected = connected;
  gtk_widget_queue_draw (GTK_WIDGET (socket));
}
