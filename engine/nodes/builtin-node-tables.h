/* The node type tables defined by the files of engine/nodes/, gathered by
 * builtin-nodes.c. Internal. */
#pragma once

#include "engine/graph/node-type.h"

G_BEGIN_DECLS

extern const RlNodeType rl_node_primitive_int;
extern const RlNodeType rl_node_primitive_float;
extern const RlNodeType rl_node_primitive_string;
extern const RlNodeType rl_node_primitive_string_multiline;
extern const RlNodeType rl_node_primitive_boolean;
extern const RlNodeType rl_node_empty_latent_image;
extern const RlNodeType rl_node_empty_hunyuan_latent_video;
extern const RlNodeType rl_node_latent_from_batch;
extern const RlNodeType rl_node_test_pattern;
extern const RlNodeType rl_node_create_video;
extern const RlNodeType rl_node_get_video_components;
extern const RlNodeType rl_node_save_video;
extern const RlNodeType rl_node_save_animated_webp;
extern const RlNodeType rl_node_save_image;
extern const RlNodeType rl_node_preview_image;
extern const RlNodeType rl_node_unet_loader;
extern const RlNodeType rl_node_clip_loader;
extern const RlNodeType rl_node_vae_loader;
extern const RlNodeType rl_node_clip_text_encode;
extern const RlNodeType rl_node_model_sampling_sd3;
extern const RlNodeType rl_node_parallel_settings;
extern const RlNodeType rl_node_ksampler;
extern const RlNodeType rl_node_ksampler_advanced;
extern const RlNodeType rl_node_vae_decode;
extern const RlNodeType rl_node_vae_decode_tiled;
extern const RlNodeType rl_node_vae_encode;
extern const RlNodeType rl_node_wan22_image_to_video_latent;

/* The names the sampler combos offer (NULL-terminated). */
extern const char * const rl_sampler_names[];
extern const char * const rl_scheduler_names[];

G_END_DECLS
