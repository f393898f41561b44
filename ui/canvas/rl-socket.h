/* RlSocket: one input or output dot of a node, coloured by its type. */
#pragma once

#include "ui/ui-types.h"

G_BEGIN_DECLS

#define RL_TYPE_SOCKET (rl_socket_get_type ())
G_DECLARE_FINAL_TYPE (RlSocket, rl_socket, RL, SOCKET, GtkWidget)

typedef enum {
  RL_SOCKET_INPUT,
  RL_SOCKET_OUTPUT,
} RlSocketDirection;

/* A socket of node @node_id: its @slot index in the node's "inputs" or
 * "outputs" array, and socket @type ("IMAGE", "*", ...). */
GtkWidget         *rl_socket_new            (gint64             node_id,
                                             RlSocketDirection  direction,
                                             guint              slot,
                                             const char        *type);
gint64             rl_socket_get_node_id    (RlSocket          *socket);
RlSocketDirection  rl_socket_get_direction  (RlSocket          *socket);
guint              rl_socket_get_slot       (RlSocket          *socket);
const char        *rl_socket_get_socket_type (RlSocket         *socket);
/* Highlighted while a compatible wire is being dragged; dimmed otherwise. */
void               rl_socket_set_highlight  (RlSocket          *socket,
                                             int                highlight);
void               rl_socket_set_connected  (RlSocket          *socket,
                                             gboolean           connected);
/* The colour ComfyUI's default palette gives wires of @type. */
void               rl_socket_type_color     (const char        *type,
                                             GdkRGBA           *color);

G_END_DECLS
