/* RlModelPaths: where model files live, in ComfyUI's folder layout.
 *
 * A search root is a "models" directory as ComfyUI lays it out:
 *
 *   ROOT/diffusion_models  (legacy name: unet)
 *   ROOT/text_encoders     (legacy name: clip)
 *   ROOT/vae
 *   ROOT/loras
 *   ROOT/checkpoints
 *   ROOT/<any other folder name>
 *
 * Roots are searched in the order they were added. The default set is
 * every root in $RAYLIGHT_MODEL_PATHS (colon-separated), then Raylight's
 * own $XDG_DATA_HOME/raylight/models. A ComfyUI installation adds its
 * models/ folder and the folders its extra_model_paths.yaml names.
 *
 * Folder names are ComfyUI's ("diffusion_models", "text_encoders", "vae",
 * "loras", "checkpoints"); the legacy names "unet" and "clip" are accepted
 * wherever a folder name is and mean the same folders. File names are
 * relative to a folder and use '/' for subfolders ("wan/model.safetensors").
 * Only model files are listed: .safetensors .gguf .pt .pth .ckpt .bin .sft */
#pragma once

#include "engine/engine-types.h"

G_BEGIN_DECLS

/* An empty set of search paths. Reference-counted. */
RlModelPaths *rl_model_paths_new              (void);
/* The default set described above. Never fails: missing folders are
 * simply empty. */
RlModelPaths *rl_model_paths_new_default      (void);
RlModelPaths *rl_model_paths_ref              (RlModelPaths  *paths);
void          rl_model_paths_unref            (RlModelPaths  *paths);

/* Adds a search root. @root may be a models folder (holding
 * diffusion_models/, vae/, ...) or a folder that holds one in "models/"
 * (a ComfyUI installation). Adding a root twice has no effect. */
void          rl_model_paths_add_root         (RlModelPaths  *paths,
                                               const char    *root);
/* Adds every root in a colon-separated list (as $RAYLIGHT_MODEL_PATHS);
 * empty entries are skipped. */
void          rl_model_paths_add_roots_from_string (RlModelPaths *paths,
                                               const char    *list);
/* Adds one directory that holds the files of @folder_name directly
 * (as an extra_model_paths.yaml entry does). */
void          rl_model_paths_add_folder_dir   (RlModelPaths  *paths,
                                               const char    *folder_name,
                                               const char    *dir);
/* Adds a ComfyUI installation at @comfyui_dir: its models/ folder as a
 * root and, if present, its extra_model_paths.yaml. FALSE with
 * RL_ENGINE_ERROR_IO when @comfyui_dir is not a directory, or the YAML
 * file's error. */
gboolean      rl_model_paths_add_comfyui_install (RlModelPaths *paths,
                                               const char    *comfyui_dir,
                                               GError       **error);
/* Reads ComfyUI's extra_model_paths.yaml: top-level sections, each with an
 * optional base_path (relative to the YAML file's folder, '~' expanded)
 * and "folder_name: path" entries, or "folder_name: |" followed by one
 * path per indented line; paths are relative to base_path. "is_default"
 * entries are ignored. FALSE with RL_ENGINE_ERROR_IO when unreadable, or
 * RL_ENGINE_ERROR_INVALID_WORKFLOW naming the file and line when the file
 * is not in that shape. */
gboolean      rl_model_paths_load_extra_model_paths_yaml (RlModelPaths *paths,
                                               const char    *yaml_path,
                                               GError       **error);

/* The canonical folder name for @folder_name ("unet" -> "diffusion_models",
 * "clip" -> "text_encoders"; others unchanged). Static string or @folder_name. */
const char   *rl_model_paths_canonical_folder (const char    *folder_name);
/* The directories searched for @folder_name, in order, existing or not.
 * Array of owned strings. */
GPtrArray    *rl_model_paths_list_folder_dirs (RlModelPaths  *paths,
                                               const char    *folder_name);
/* The model files of @folder_name across all directories: names relative
 * to their directory, '/'-separated, sorted, without duplicates (the first
 * directory that has a name wins). Array of owned strings; empty when
 * nothing is found. */
GPtrArray    *rl_model_paths_list_files       (RlModelPaths  *paths,
                                               const char    *folder_name);
/* The full path of model file @name in @folder_name (first match in search
 * order). NULL with RL_ENGINE_ERROR_MODEL_NOT_FOUND, whose message lists
 * every directory searched and how to add one, when it is absent or @name
 * tries to leave the folder ("../x", absolute paths). */
char         *rl_model_paths_resolve          (RlModelPaths  *paths,
                                               const char    *folder_name,
                                               const char    *name,
                                               GError       **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RlModelPaths, rl_model_paths_unref)

G_END_DECLS
