/* RlNodeSearch: the popover that finds a node type by typing — fuzzy over
 * name, display name, category and description — optionally only the
 * types that can take (or give) a wire of one socket type. Activating a
 * result emits "chosen" with the type's class name. */
#pragma once

#include "engine/engine-types.h"
#include "ui/canvas/rl-socket.h"
#include "ui/ui-types.h"

G_BEGIN_DECLS

#define RL_TYPE_NODE_SEARCH (rl_node_search_get_type ())
G_DECLARE_FINAL_TYPE (RlNodeSearch, rl_node_search, RL, NODE_SEARCH, GtkPopover)

GtkWidget  *rl_node_search_new          (RlRegistry        *registry);
/* Limits results to types with a socket that fits @type: with
 * RL_SOCKET_OUTPUT, types having an input that accepts a wire of @type
 * (the user dragged from an output); with RL_SOCKET_INPUT, types having
 * an output that fits an input of @type. NULL @type: no filter. */
void        rl_node_search_set_filter   (RlNodeSearch      *self,
                                         const char        *type,
                                         RlSocketDirection  from);
/* Clears the query and shows the results for the current filter. */
void        rl_node_search_reset        (RlNodeSearch      *self);
GtkWidget  *rl_node_search_get_entry    (RlNodeSearch      *self);
/* Class names of the results shown now, best first (owned array of
 * borrowed strings). */
GPtrArray  *rl_node_search_list_results (RlNodeSearch      *self);

G_END_DECLS
