#include "engine/nodes/builtin-nodes.h"

#include "engine/graph/registry.h"
#include "engine/nodes/builtin-node-tables.h"

static const RlNodeType * const builtin_types[] = {
  &rl_node_primitive_int,
  &rl_node_primitive_float,
  &rl_node_primitive_string,
  &rl_node_primitive_string_multiline,
  &rl_node_primitive_boolean,
  &rl_node_empty_latent_image,
  &rl_node_empty_hunyuan_latent_video,
  &rl_node_latent_from_batch,
  &rl_node_test_pattern,
  &rl_node_create_video,
  &rl_node_get_video_components,
  &rl_node_save_video,
  &rl_node_save_animated_webp,
  &rl_node_save_image,
  &rl_node_preview_image,
  &rl_node_unet_loader,
  &rl_node_clip_loader,
  &rl_node_vae_loader,
  &rl_node_clip_text_encode,
  &rl_node_model_sampling_sd3,
  &rl_node_parallel_settings,
  &rl_node_ksampler,
  &rl_node_ksampler_advanced,
  &rl_node_vae_decode,
  &rl_node_vae_decode_tiled,
  &rl_node_vae_encode,
  &rl_node_wan22_image_to_video_latent,
};

const RlNodeType * const *
rl_builtin_nodes_list (guint *n_types)
{
  g_return_val_if_fail (n_types != NULL, NULL);
  *n_types = G_N_ELEMENTS (builtin_types);
  return builtin_types;
}

gboolean
rl_builtin_nodes_register (RlRegistry  *registry,
                           GError     **error)
{
  g_return_val_if_fail (registry != NULL, FALSE);
  return rl_registry_add_all (registry, builtin_types, G_N_ELEMENTS (builtin_types), error);
}
