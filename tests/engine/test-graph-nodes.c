/* Test node types shaped like ComfyUI's (see test-graph-nodes.h). */
#include "test-graph-nodes.h"

#include <unistd.h>

#include "raylight-config.h"

static const char * const sampler_names[] = {
  "euler", "euler_ancestral", "heun", "dpm_2", "dpmpp_2m", "dpmpp_2m_sde", "uni_pc", NULL
};
static const char * const scheduler_names[] = {
  "normal", "karras", "exponential", "sgm_uniform", "simple", "ddim_uniform", "beta", NULL
};
static const char * const upscale_methods[] = {
  "nearest-exact", "bilinear", "area", "bicubic", "bislerp", NULL
};
static const char * const webp_methods[] = { "default", "fastest", "slowest", NULL };
static const char * const weight_dtypes[] = { "default", "fp8_e4m3fn", "fp8_e5m2", NULL };

static const RlInputSpec checkpoint_inputs[] = {
  { .name = "ckpt_name", .kind = RL_INPUT_COMBO, .combo_model_folder = "checkpoints",
    .tooltip = "The checkpoint to load." },
};
static const RlOutputSpec checkpoint_outputs[] = {
  { .name = "MODEL", .type = "MODEL" },
  { .name = "CLIP", .type = "CLIP" },
  { .name = "VAE", .type = "VAE" },
};

static const RlInputSpec unet_inputs[] = {
  { .name = "unet_name", .kind = RL_INPUT_COMBO, .combo_model_folder = "diffusion_models" },
  { .name = "weight_dtype", .kind = RL_INPUT_COMBO, .combo_options = weight_dtypes },
};
static const RlOutputSpec model_output[] = { { .name = "MODEL", .type = "MODEL" } };

static const RlInputSpec text_encode_inputs[] = {
  { .name = "text", .kind = RL_INPUT_STRING, .multiline = TRUE, .dynamic_prompts = TRUE },
  { .name = "clip", .kind = RL_INPUT_LINK, .type = "CLIP" },
};
static const RlOutputSpec conditioning_output[] = {
  { .name = "CONDITIONING", .type = "CONDITIONING" },
};

static const RlInputSpec empty_latent_inputs[] = {
  { .name = "width", .kind = RL_INPUT_INT, .int_default = 512, .int_min = 16, .int_max = 16384, .int_step = 8 },
  { .name = "height", .kind = RL_INPUT_INT, .int_default = 512, .int_min = 16, .int_max = 16384, .int_step = 8 },
  { .name = "batch_size", .kind = RL_INPUT_INT, .int_default = 1, .int_min = 1, .int_max = 4096 },
};
static const RlOutputSpec latent_output[] = { { .name = "LATENT", .type = "LATENT" } };

static const RlInputSpec ksampler_inputs[] = {
  { .name = "model", .kind = RL_INPUT_LINK, .type = "MODEL" },
  { .name = "seed", .kind = RL_INPUT_INT, .int_default = 0, .int_min = 0, .int_max = G_MAXINT64,
    .control_after_generate = TRUE },
  { .name = "steps", .kind = RL_INPUT_INT, .int_default = 20, .int_min = 1, .int_max = 10000 },
  { .name = "cfg", .kind = RL_INPUT_FLOAT, .float_default = 8.0, .float_min = 0.0, .float_max = 100.0,
    .float_step = 0.1, .float_round = 0.01 },
  { .name = "sampler_name", .kind = RL_INPUT_COMBO, .combo_options = sampler_names },
  { .name = "scheduler", .kind = RL_INPUT_COMBO, .combo_options = scheduler_names },
  { .name = "positive", .kind = RL_INPUT_LINK, .type = "CONDITIONING" },
  { .name = "negative", .kind = RL_INPUT_LINK, .type = "CONDITIONING" },
  { .name = "latent_image", .kind = RL_INPUT_LINK, .type = "LATENT" },
  { .name = "denoise", .kind = RL_INPUT_FLOAT, .float_default = 1.0, .float_min = 0.0, .float_max = 1.0,
    .float_step = 0.01 },
};

static const RlInputSpec upscale_inputs[] = {
  { .name = "samples", .kind = RL_INPUT_LINK, .type = "LATENT" },
  { .name = "upscale_method", .kind = RL_INPUT_COMBO, .combo_options = upscale_methods },
  { .name = "scale_by", .kind = RL_INPUT_FLOAT, .float_default = 1.5, .float_min = 0.01, .float_max = 8.0,
    .float_step = 0.01 },
};

static const RlInputSpec vae_decode_inputs[] = {
  { .name = "samples", .kind = RL_INPUT_LINK, .type = "LATENT" },
  { .name = "vae", .kind = RL_INPUT_LINK, .type = "VAE" },
};
static const RlOutputSpec image_output[] = { { .name = "IMAGE", .type = "IMAGE" } };

static const RlInputSpec save_image_inputs[] = {
  { .name = "images", .kind = RL_INPUT_LINK, .type = "IMAGE" },
  { .name = "filename_prefix", .kind = RL_INPUT_STRING, .string_default = "ComfyUI" },
};

static const RlInputSpec save_webp_inputs[] = {
  { .name = "images", .kind = RL_INPUT_LINK, .type = "IMAGE" },
  { .name = "filename_prefix", .kind = RL_INPUT_STRING, .string_default = "ComfyUI" },
  { .name = "fps", .kind = RL_INPUT_FLOAT, .float_default = 6.0, .float_min = 0.01, .float_max = 1000.0 },
  { .name = "lossless", .kind = RL_INPUT_BOOLEAN, .boolean_default = FALSE },
  { .name = "quality", .kind = RL_INPUT_INT, .int_default = 80, .int_min = 0, .int_max = 100 },
  { .name = "method", .kind = RL_INPUT_COMBO, .combo_options = webp_methods, .combo_default = "default" },
};

/* Optional inputs: a link and a widget, plus a forceInput widget. */
static const RlInputSpec preview_any_inputs[] = {
  { .name = "source", .kind = RL_INPUT_LINK, .type = "*", .optional = TRUE },
  { .name = "label", .kind = RL_INPUT_STRING, .optional = TRUE, .string_default = "preview" },
  { .name = "count", .kind = RL_INPUT_INT, .int_default = 1, .int_min = 1, .int_max = 8 },
  { .name = "strength", .kind = RL_INPUT_FLOAT, .force_input = TRUE, .optional = TRUE },
};

#define TYPE_ENTRY(class_name, cat, in, out, is_output)                    \
  { .name = class_name, .display_name = class_name, .category = cat,      \
    .description = "Test stand-in for ComfyUI's " class_name,            \
    .inputs = in, .n_inputs = G_N_ELEMENTS (in),                          \
    .outputs = out, .n_outputs = G_N_ELEMENTS (out),                      \
    .output_node = is_output, .location = RL_RUN_IN_APP }

static const RlNodeType test_types[] = {
  TYPE_ENTRY ("CheckpointLoaderSimple", "loaders", checkpoint_inputs, checkpoint_outputs, FALSE),
  TYPE_ENTRY ("UNETLoader", "advanced/loaders", unet_inputs, model_output, FALSE),
  TYPE_ENTRY ("CLIPTextEncode", "conditioning", text_encode_inputs, conditioning_output, FALSE),
  TYPE_ENTRY ("EmptyLatentImage", "latent", empty_latent_inputs, latent_output, FALSE),
  TYPE_ENTRY ("KSampler", "sampling", ksampler_inputs, latent_output, FALSE),
  TYPE_ENTRY ("LatentUpscaleBy", "latent", upscale_inputs, latent_output, FALSE),
  TYPE_ENTRY ("VAEDecode", "latent", vae_decode_inputs, image_output, FALSE),
  { .name = "SaveImage", .display_name = "Save Image", .category = "image",
    .inputs = save_image_inputs, .n_inputs = G_N_ELEMENTS (save_image_inputs),
    .output_node = TRUE },
  { .name = "SaveAnimatedWEBP", .category = "image/animation",
    .inputs = save_webp_inputs, .n_inputs = G_N_ELEMENTS (save_webp_inputs),
    .output_node = TRUE },
  { .name = "PreviewAny", .category = "utils",
    .inputs = preview_any_inputs, .n_inputs = G_N_ELEMENTS (preview_any_inputs),
    .output_node = TRUE },
};

RlRegistry *
graph_test_registry_new (void)
{
  RlRegistry *registry = rl_registry_new ();

  for (guint i = 0; i < G_N_ELEMENTS (test_types); i++)
    {
      g_autoptr(GError) error = NULL;

      rl_registry_add (registry, &test_types[i], &error);
      g_assert_no_error (error);
    }
  return registry;
}

char *
graph_test_data_path (const char *name)
{
  const char *source_dir = g_getenv ("RAYLIGHT_SOURCE_DIR");

  if (source_dir == NULL)
    source_dir = RAYLIGHT_SOURCE_DIR;
  return g_build_filename (source_dir, "tests", "engine", "data", name, NULL);
}

JsonNode *
graph_test_load_json (const char *name)
{
  g_autofree char *path = graph_test_data_path (name);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  return json_parser_steal_root (parser);
}

guint32
graph_test_random_seed (void)
{
  guint32 seed = (guint32) g_get_real_time () ^ (guint32) getpid ();

  g_test_message ("random seed %u", seed);
  return seed;
}
