/* RlRegistry: the node types the engine knows, by class name.
 *
 * Node types are static tables (see node-type.h); the registry only points
 * at them, so a table must outlive every registry it is added to. The
 * registry also holds the model search paths that combo widgets listing a
 * model folder draw their options from. */
#pragma once

#include <json-glib/json-glib.h>

#include "engine/engine-types.h"
#include "engine/graph/node-type.h"

G_BEGIN_DECLS

RlRegistry        *rl_registry_new                 (void);
RlRegistry        *rl_registry_ref                 (RlRegistry        *registry);
void               rl_registry_unref               (RlRegistry        *registry);

/* Adds @type (borrowed, static). FALSE with RL_ENGINE_ERROR_INVALID_WORKFLOW
 * when a type of the same name is already registered, or when the table is
 * malformed (no name, an input without a name, a link input without a
 * type, a combo with neither options nor a model folder). */
gboolean           rl_registry_add                 (RlRegistry        *registry,
                                                    const RlNodeType  *type,
                                                    GError           **error);
/* Adds @n_types types; stops at the first refusal. */
gboolean           rl_registry_add_all             (RlRegistry        *registry,
                                                    const RlNodeType * const *types,
                                                    guint              n_types,
                                                    GError           **error);
/* The type named @name, or NULL. */
const RlNodeType  *rl_registry_lookup              (const RlRegistry  *registry,
                                                    const char        *name);
guint              rl_registry_get_n_types         (const RlRegistry  *registry);
/* Every type, sorted by name: an array of borrowed const RlNodeType *. */
GPtrArray         *rl_registry_list_types          (const RlRegistry  *registry);
/* Every distinct category path, sorted: an array of borrowed strings. */
GPtrArray         *rl_registry_list_categories     (const RlRegistry  *registry);

/* The search paths for model-folder combos; the registry takes a
 * reference. NULL unsets. Without paths, model combos are empty lists. */
void               rl_registry_set_model_paths     (RlRegistry        *registry,
                                                    RlModelPaths      *paths);
/* Borrowed; NULL when unset. */
RlModelPaths      *rl_registry_get_model_paths     (const RlRegistry  *registry);

/* The options of a combo input: its fixed list, or the files of its model
 * folder right now. Array of owned strings. */
GPtrArray         *rl_registry_list_combo_options  (const RlRegistry  *registry,
                                                    const RlInputSpec *input);

/* One type as ComfyUI's /object_info describes it:
 *   { "input": { "required": { NAME: [TYPE, {options}] ... },
 *                "optional": { ... } },
 *     "input_order": { "required": [...], "optional": [...] },
 *     "output": [...], "output_is_list": [...], "output_name": [...],
 *     "output_tooltips": [...], "name", "display_name", "description",
 *     "python_module": "raylight", "category", "output_node" }
 * Combos are [[option, ...], {options}]. */
JsonNode          *rl_registry_node_type_to_object_info (const RlRegistry *registry,
                                                    const RlNodeType  *type);
/* Every type: { CLASS_NAME: <as above>, ... } sorted by class name. */
JsonNode          *rl_registry_to_object_info_json (const RlRegistry  *registry);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RlRegistry, rl_registry_unref)

G_END_DECLS
