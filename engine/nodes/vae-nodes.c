/* VAE nodes: VAEDecode, VAEDecodeTiled, VAEEncode, and Wan 2.2's
 * Wan22ImageToVideoLatent (its 48-channel empty latent). Decoding and
 * encoding run on the workers; the app gets frames back as IMAGE. */
#include "engine/nodes/builtin-node-tables.h"

#include "engine/engine-error.h"
#include "engine/nodes/model-values.h"
#include "engine/nodes/pool-job.h"
#include "workers/jobs/job-params.h"

#define MAX_RESOLUTION 16384

/* Sends one VAE job on @input with the node's VAE and tiling. */
static gboolean
run_vae_job (RlNodeContext    *ctx,
             RlMessageType     type,
             RlSharedTensor   *input,
             const RlVaeParams *tiling,
             RlPoolResult     *result,
             GError          **error)
{
  const RlModelRef *vae = rl_node_require_model_ref (ctx, "vae", RL_SOCKET_TYPE_VAE, error);
  RlVaeParams params = *tiling;
  RlWireWriter w;
  gboolean ok;

  if (vae == NULL)
    return FALSE;
  params.model.path = vae->path;
  params.model.options = vae->options;
  rl_wire_writer_init (&w);
  rl_vae_params_encode (&params, &w);
  ok = rl_node_run_pool_job (ctx, type, &w, &input, 1, result, error);
  rl_wire_writer_clear (&w);
  return ok;
}

static gboolean
decode (RlNodeContext      *ctx,
        const RlVaeParams  *tiling,
        GError            **error)
{
  const RlLatent *latent = rl_node_context_get_object (ctx, "samples", "LATENT");
  g_autoptr(RlSharedTensor) input = NULL;
  RlPoolResult result = { 0 };
  RlSharedTensor *out_tensor;
  RlImage *images = NULL;

  input = rl_shared_tensor_from_latent (latent, error);
  if (input == NULL)
    return FALSE;
  if (run_vae_job (ctx, RL_MSG_VAE_DECODE, input, tiling, &result, error) &&
      (out_tensor = rl_pool_result_tensor (&result, "images", error)) != NULL)
    images = rl_image_from_shared_tensor (out_tensor, "the decoded frames", error);
  rl_pool_result_clear (&result);
  if (images == NULL)
    return FALSE;
  rl_node_context_set_output (ctx, 0, rl_value_new_image (images));
  return TRUE;
}

static gboolean
execute_vae_decode (RlNodeContext  *ctx,
                    GError        **error)
{
  const RlVaeParams untiled = { 0 };

  return decode (ctx, &untiled, error);
}

static gboolean
execute_vae_decode_tiled (RlNodeContext  *ctx,
                          GError        **error)
{
  RlVaeParams tiling = { 0 };

  tiling.tile_size = (guint32) rl_node_context_get_int (ctx, "tile_size");
  tiling.tile_overlap = (guint32) rl_node_context_get_int (ctx, "overlap");
  tiling.temporal_size = (guint32) rl_node_context_get_int (ctx, "temporal_size");
  tiling.temporal_overlap = (guint32) rl_node_context_get_int (ctx, "temporal_overlap");
  if (tiling.tile_overlap >= tiling.tile_size)
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_EXECUTION,
                   "node %s: overlap %u must be smaller than tile_size %u",
                   rl_node_context_get_node_id (ctx), tiling.tile_overlap, tiling.tile_size);
      return FALSE;
    }
  return decode (ctx, &tiling, error);
}

static gboolean
execute_vae_encode (RlNodeContext  *ctx,
                    GError        **error)
{
  const RlImage *pixels = rl_node_context_get_object (ctx, "pixels", "IMAGE");
  const RlVaeParams untiled = { 0 };
  g_autoptr(RlSharedTensor) input = NULL;
  RlPoolResult result = { 0 };
  RlSharedTensor *out_tensor;
  RlLatent *latent = NULL;

  input = rl_shared_tensor_from_image (pixels, error);
  if (input == NULL)
    return FALSE;
  if (run_vae_job (ctx, RL_MSG_VAE_ENCODE, input, &untiled, &result, error) &&
      (out_tensor = rl_pool_result_tensor (&result, "latent", error)) != NULL)
    latent = rl_latent_from_shared_tensor (out_tensor, "the encoded latent", error);
  rl_pool_result_clear (&result);
  if (latent == NULL)
    return FALSE;
  rl_node_context_set_output (ctx, 0, rl_value_new_latent (latent));
  return TRUE;
}

static const RlOutputSpec image_outputs[] = { { .name = "IMAGE", .type = "IMAGE" } };
static const RlOutputSpec latent_outputs[] = { { .name = "LATENT", .type = "LATENT" } };

static const RlInputSpec vae_decode_inputs[] = {
  { .name = "samples", .kind = RL_INPUT_LINK, .type = "LATENT", .tooltip = "The latent to be decoded." },
  { .name = "vae", .kind = RL_INPUT_LINK, .type = "VAE" },
};

const RlNodeType rl_node_vae_decode = {
  .name = "VAEDecode",
  .display_name = "VAE Decode",
  .category = "latent",
  .description = "Decodes latent images back into pixel space images.",
  .inputs = vae_decode_inputs,
  .n_inputs = G_N_ELEMENTS (vae_decode_inputs),
  .outputs = image_outputs,
  .n_outputs = G_N_ELEMENTS (image_outputs),
  .location = RL_RUN_ON_POOL,
  .execute = execute_vae_decode,
};

static const RlInputSpec vae_decode_tiled_inputs[] = {
  { .name = "samples", .kind = RL_INPUT_LINK, .type = "LATENT" },
  { .name = "vae", .kind = RL_INPUT_LINK, .type = "VAE" },
  { .name = "tile_size", .kind = RL_INPUT_INT, .int_min = 64, .int_max = 4096, .int_step = 32,
    .int_default = 512 },
  { .name = "overlap", .kind = RL_INPUT_INT, .int_min = 0, .int_max = 4096, .int_step = 32,
    .int_default = 64 },
  { .name = "temporal_size", .kind = RL_INPUT_INT, .int_min = 8, .int_max = 4096, .int_step = 4,
    .int_default = 64, .tooltip = "Only used for video VAEs: amount of frames to decode at a time." },
  { .name = "temporal_overlap", .kind = RL_INPUT_INT, .int_min = 4, .int_max = 4096, .int_step = 4,
    .int_default = 8, .tooltip = "Only used for video VAEs: amount of frames to overlap." },
};

const RlNodeType rl_node_vae_decode_tiled = {
  .name = "VAEDecodeTiled",
  .display_name = "VAE Decode (Tiled)",
  .category = "_for_testing",
  .description = "Decodes in spatial tiles, so long or large videos fit in less memory.",
  .inputs = vae_decode_tiled_inputs,
  .n_inputs = G_N_ELEMENTS (vae_decode_tiled_inputs),
  .outputs = image_outputs,
  .n_outputs = G_N_ELEMENTS (image_outputs),
  .location = RL_RUN_ON_POOL,
  .execute = execute_vae_decode_tiled,
};

static const RlInputSpec vae_encode_inputs[] = {
  { .name = "pixels", .kind = RL_INPUT_LINK, .type = "IMAGE" },
  { .name = "vae", .kind = RL_INPUT_LINK, .type = "VAE" },
};

const RlNodeType rl_node_vae_encode = {
  .name = "VAEEncode",
  .display_name = "VAE Encode",
  .category = "latent",
  .inputs = vae_encode_inputs,
  .n_inputs = G_N_ELEMENTS (vae_encode_inputs),
  .outputs = latent_outputs,
  .n_outputs = G_N_ELEMENTS (latent_outputs),
  .location = RL_RUN_ON_POOL,
  .execute = execute_vae_encode,
};

/* ------------------------------------------- Wan22ImageToVideoLatent */

/* Without a start image this is Wan 2.2 5B's empty latent: 48 channels,
 * 16× smaller in space, 4× in time after the first frame. Like ComfyUI's
 * (comfy_extras/nodes_wan.py), it is one latent whatever batch_size says:
 * only the image-to-video branch repeats it over the batch. */
static gboolean
execute_wan22_image_to_video_latent (RlNodeContext  *ctx,
                                     GError        **error)
{
  guint width = (guint) rl_node_context_get_int (ctx, "width");
  guint height = (guint) rl_node_context_get_int (ctx, "height");
  guint length = (guint) rl_node_context_get_int (ctx, "length");
  RlLatent *latent;

  if (rl_node_context_get_input (ctx, "start_image") != NULL)
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_EXECUTION,
                   "node %s: image-to-video (a start_image) is not supported yet; disconnect it "
                   "for text-to-video", rl_node_context_get_node_id (ctx));
      return FALSE;
    }
  latent = rl_latent_new (1, 48, (length - 1) / 4 + 1, height / 16, width / 16, error);
  if (latent == NULL)
    return FALSE;
  rl_node_context_set_output (ctx, 0, rl_value_new_latent (latent));
  return TRUE;
}

static const RlInputSpec wan22_latent_inputs[] = {
  { .name = "vae", .kind = RL_INPUT_LINK, .type = "VAE" },
  { .name = "width", .kind = RL_INPUT_INT, .int_min = 32, .int_max = MAX_RESOLUTION, .int_step = 32,
    .int_default = 1280 },
  { .name = "height", .kind = RL_INPUT_INT, .int_min = 32, .int_max = MAX_RESOLUTION, .int_step = 32,
    .int_default = 704 },
  { .name = "length", .kind = RL_INPUT_INT, .int_min = 1, .int_max = MAX_RESOLUTION, .int_step = 4,
    .int_default = 49 },
  { .name = "batch_size", .kind = RL_INPUT_INT, .int_min = 1, .int_max = 4096, .int_step = 1,
    .int_default = 1 },
  { .name = "start_image", .kind = RL_INPUT_LINK, .type = "IMAGE", .optional = TRUE },
};

const RlNodeType rl_node_wan22_image_to_video_latent = {
  .name = "Wan22ImageToVideoLatent",
  .display_name = "Wan22ImageToVideoLatent",
  .category = "conditioning/inpaint",
  .inputs = wan22_latent_inputs,
  .n_inputs = G_N_ELEMENTS (wan22_latent_inputs),
  .outputs = latent_outputs,
  .n_outputs = G_N_ELEMENTS (latent_outputs),
  .location = RL_RUN_IN_APP,
  .execute = execute_wan22_image_to_video_latent,
};
