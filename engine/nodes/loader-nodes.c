/* The model loaders: UNETLoader (diffusion models), CLIPLoader (text
 * encoders) and VAELoader, with ComfyUI's names and widgets. Each resolves
 * the file in its model folder, makes it resident on every worker (a
 * 28 GB checkpoint shows a moving bar: MiB read of total), and outputs a
 * reference, never the weights. */
#include "engine/nodes/builtin-node-tables.h"

#include "engine/graph/model-paths.h"
#include "engine/nodes/model-values.h"
#include "engine/nodes/pool-job.h"

/* Shared by the three loaders: resolve, load, output the reference. */
static gboolean
load_and_output (RlNodeContext  *ctx,
                 const char     *folder,
                 const char     *name_input,
                 const char     *socket_type,
                 const char     *options,
                 GError        **error)
{
  const char *name = rl_node_context_get_string (ctx, name_input);
  RlPoolService *pool = rl_node_require_pool (ctx, error);
  g_autofree char *path = NULL;
  RlModelRef ref = { 0 };

  if (pool == NULL)
    return FALSE;
  path = rl_model_paths_resolve (rl_node_context_get_model_paths (ctx), folder, name, error);
  if (path == NULL)
    return FALSE;
  if (!rl_pool_service_load_model (pool, path, options, ctx, error))
    return FALSE;
  ref.path = path;
  ref.name = (char *) name;
  ref.options = (char *) options;
  rl_node_context_set_output (ctx, 0, rl_value_new_model_ref (socket_type, &ref));
  return TRUE;
}

/* ------------------------------------------------------------ UNETLoader */

/* Passed to the workers as "weight_dtype=..." in the load options, which
 * are part of their model cache key: the same file in two dtypes is two
 * resident models (plugins/common/weight-dtype-option.h reads it). */
static const char * const weight_dtypes[] = {
  "default", "fp8_e4m3fn", "fp8_e4m3fn_fast", "fp8_e5m2", NULL
};

static gboolean
execute_unet_loader (RlNodeContext  *ctx,
                     GError        **error)
{
  g_autofree char *options = g_strdup_printf ("weight_dtype=%s",
                                              rl_node_context_get_string (ctx, "weight_dtype"));

  return load_and_output (ctx, "diffusion_models", "unet_name", RL_SOCKET_TYPE_MODEL, options, error);
}

static const RlInputSpec unet_loader_inputs[] = {
  { .name = "unet_name", .kind = RL_INPUT_COMBO, .combo_model_folder = "diffusion_models",
    .tooltip = "The diffusion model file, from models/diffusion_models." },
  { .name = "weight_dtype", .kind = RL_INPUT_COMBO, .combo_options = weight_dtypes,
    .combo_default = "default",
    .tooltip = "Store the diffusion model's matrices in this fp8 format, half the memory of bf16 "
               "(default: the file's dtypes). fp8_e4m3fn_fast stores and computes like fp8_e4m3fn." },
};
static const RlOutputSpec model_outputs[] = { { .name = "MODEL", .type = RL_SOCKET_TYPE_MODEL } };

const RlNodeType rl_node_unet_loader = {
  .name = "UNETLoader",
  .display_name = "Load Diffusion Model",
  .category = "advanced/loaders",
  .description = "Loads a diffusion model onto every worker of the pool.",
  .inputs = unet_loader_inputs,
  .n_inputs = G_N_ELEMENTS (unet_loader_inputs),
  .outputs = model_outputs,
  .n_outputs = G_N_ELEMENTS (model_outputs),
  .location = RL_RUN_ON_POOL,
  .execute = execute_unet_loader,
};

/* ------------------------------------------------------------ CLIPLoader */

/* Text-encoder types Raylight runs; ComfyUI lists more, and a workflow
 * asking for another fails validation with this list as the allowed set. */
static const char * const clip_types[] = { "wan", NULL };
static const char * const clip_devices[] = { "default", "cpu", NULL };

static gboolean
execute_clip_loader (RlNodeContext  *ctx,
                     GError        **error)
{
  RlValue *device = rl_node_context_get_input (ctx, "device");
  g_autofree char *options = g_strdup_printf ("type=%s;device=%s",
                                              rl_node_context_get_string (ctx, "type"),
                                              device ? rl_value_get_string (device) : "default");

  return load_and_output (ctx, "text_encoders", "clip_name", RL_SOCKET_TYPE_CLIP, options, error);
}

static const RlInputSpec clip_loader_inputs[] = {
  { .name = "clip_name", .kind = RL_INPUT_COMBO, .combo_model_folder = "text_encoders",
    .tooltip = "The text encoder file, from models/text_encoders." },
  { .name = "type", .kind = RL_INPUT_COMBO, .combo_options = clip_types, .combo_default = "wan" },
  { .name = "device", .kind = RL_INPUT_COMBO, .combo_options = clip_devices, .combo_default = "default",
    .optional = TRUE },
};
static const RlOutputSpec clip_outputs[] = { { .name = "CLIP", .type = RL_SOCKET_TYPE_CLIP } };

const RlNodeType rl_node_clip_loader = {
  .name = "CLIPLoader",
  .display_name = "Load CLIP",
  .category = "advanced/loaders",
  .description = "Loads a text encoder (UMT5-XXL for Wan) onto the workers.",
  .inputs = clip_loader_inputs,
  .n_inputs = G_N_ELEMENTS (clip_loader_inputs),
  .outputs = clip_outputs,
  .n_outputs = G_N_ELEMENTS (clip_outputs),
  .location = RL_RUN_ON_POOL,
  .execute = execute_clip_loader,
};

/* ------------------------------------------------------------ VAELoader */

static gboolean
execute_vae_loader (RlNodeContext  *ctx,
                    GError        **error)
{
  return load_and_output (ctx, "vae", "vae_name", RL_SOCKET_TYPE_VAE, "", error);
}

static const RlInputSpec vae_loader_inputs[] = {
  { .name = "vae_name", .kind = RL_INPUT_COMBO, .combo_model_folder = "vae",
    .tooltip = "The VAE file, from models/vae." },
};
static const RlOutputSpec vae_outputs[] = { { .name = "VAE", .type = RL_SOCKET_TYPE_VAE } };

const RlNodeType rl_node_vae_loader = {
  .name = "VAELoader",
  .display_name = "Load VAE",
  .category = "loaders",
  .inputs = vae_loader_inputs,
  .n_inputs = G_N_ELEMENTS (vae_loader_inputs),
  .outputs = vae_outputs,
  .n_outputs = G_N_ELEMENTS (vae_outputs),
  .location = RL_RUN_ON_POOL,
  .execute = execute_vae_loader,
};
