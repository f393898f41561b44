/* The engine's own node types: primitives, empty latents, the test
 * pattern source, video assembly and the image/video outputs. Model
 * families add theirs from plugins. */
#pragma once

#include "engine/engine-types.h"
#include "engine/graph/node-type.h"

G_BEGIN_DECLS

/* Adds every built-in node type to @registry. FALSE (with the registry's
 * error) when one is already registered. */
gboolean                   rl_builtin_nodes_register  (RlRegistry  *registry,
                                                       GError     **error);
/* The built-in types, static; @n_types receives their number. */
const RlNodeType * const  *rl_builtin_nodes_list      (guint       *n_types);

G_END_DECLS
