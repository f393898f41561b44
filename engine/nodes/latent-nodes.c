/* Empty latents: EmptyLatentImage (nodes.py) for 4-channel image models
 * and EmptyHunyuanLatentVideo (comfy_extras/nodes_hunyuan.py), the
 * 16-channel video latent that Wan and HunyuanVideo workflows start from;
 * and LatentFromBatch (nodes.py), which cuts items out of a batch while
 * keeping the noise each would have had in it (batch_index). */
#include "engine/nodes/builtin-node-tables.h"

#include <string.h>

#include "engine/graph/image.h"

#define MAX_RESOLUTION 16384   /* ComfyUI's nodes.MAX_RESOLUTION */

/* Outputs a zero latent of the given shape; pixels are 8x the latent. */
static gboolean
output_empty_latent (RlNodeContext  *ctx,
                     guint           channels,
                     guint           frames,
                     GError        **error)
{
  guint width = (guint) rl_node_context_get_int (ctx, "width");
  guint height = (guint) rl_node_context_get_int (ctx, "height");
  guint batch = (guint) rl_node_context_get_int (ctx, "batch_size");
  RlLatent *latent = rl_latent_new (batch, channels, frames, height / 8, width / 8, error);
  if (latent == NULL)
    return FALSE;
  rl_node_context_set_output (ctx, 0, rl_value_new_latent (latent));
  return TRUE;
}

static gboolean
execute_empty_latent_image (RlNodeContext  *ctx,
                            GError        **error)
{
  return output_empty_latent (ctx, 4, 1, error);
}

static gboolean
execute_empty_hunyuan_latent_video (RlNodeContext  *ctx,
                                    GError        **error)
{
  guint length = (guint) rl_node_context_get_int (ctx, "length");
  return output_empty_latent (ctx, 16, (length - 1) / 4 + 1, error);
}

static const RlOutputSpec latent_outputs[] = { { .name = "LATENT", .type = "LATENT" } };

static const RlInputSpec empty_latent_image_inputs[] = {
  { .name = "width", .kind = RL_INPUT_INT, .int_min = 16, .int_max = MAX_RESOLUTION,
    .int_step = 8, .int_default = 512,
    .tooltip = "The width of the latent images in pixels." },
  { .name = "height", .kind = RL_INPUT_INT, .int_min = 16, .int_max = MAX_RESOLUTION,
    .int_step = 8, .int_default = 512,
    .tooltip = "The height of the latent images in pixels." },
  { .name = "batch_size", .kind = RL_INPUT_INT, .int_min = 1, .int_max = 4096,
    .int_step = 1, .int_default = 1,
    .tooltip = "The number of latent images in the batch." },
};

const RlNodeType rl_node_empty_latent_image = {
  .name = "EmptyLatentImage",
  .display_name = "Empty Latent Image",
  .category = "latent",
  .description = "Create a new batch of empty latent images to be denoised via sampling.",
  .inputs = empty_latent_image_inputs,
  .n_inputs = G_N_ELEMENTS (empty_latent_image_inputs),
  .outputs = latent_outputs,
  .n_outputs = G_N_ELEMENTS (latent_outputs),
  .location = RL_RUN_IN_APP,
  .execute = execute_empty_latent_image,
};

static const RlInputSpec empty_hunyuan_latent_video_inputs[] = {
  { .name = "width", .kind = RL_INPUT_INT, .int_min = 16, .int_max = MAX_RESOLUTION,
    .int_step = 16, .int_default = 848 },
  { .name = "height", .kind = RL_INPUT_INT, .int_min = 16, .int_max = MAX_RESOLUTION,
    .int_step = 16, .int_default = 480 },
  { .name = "length", .kind = RL_INPUT_INT, .int_min = 1, .int_max = MAX_RESOLUTION,
    .int_step = 4, .int_default = 25 },
  { .name = "batch_size", .kind = RL_INPUT_INT, .int_min = 1, .int_max = 4096,
    .int_step = 1, .int_default = 1 },
};

const RlNodeType rl_node_empty_hunyuan_latent_video = {
  .name = "EmptyHunyuanLatentVideo",
  .display_name = "Empty HunyuanVideo 1.0 Latent",
  .category = "latent/video",
  .description = "An empty 16-channel video latent: ((length - 1) / 4) + 1 frames, "
                 "1/8 of the pixel size.",
  .inputs = empty_hunyuan_latent_video_inputs,
  .n_inputs = G_N_ELEMENTS (empty_hunyuan_latent_video_inputs),
  .outputs = latent_outputs,
  .n_outputs = G_N_ELEMENTS (latent_outputs),
  .location = RL_RUN_IN_APP,
  .execute = execute_empty_hunyuan_latent_video,
};

/* ---------------------------------------------------- LatentFromBatch */

/* ComfyUI's clamping: the start moves back to the last item, the length
 * shrinks to what is left; the items keep their batch_index, so a sampler
 * draws the noise they had in the whole batch. */
static gboolean
execute_latent_from_batch (RlNodeContext  *ctx,
                           GError        **error)
{
  const RlLatent *in = rl_node_context_get_object (ctx, "samples", "LATENT");
  guint start = (guint) rl_node_context_get_int (ctx, "batch_index");
  guint length = (guint) rl_node_context_get_int (ctx, "length");
  gsize item;
  RlLatent *out;

  start = MIN (start, in->batch - 1);
  length = MIN (length, in->batch - start);
  out = rl_latent_new (length, in->channels, in->frames, in->height, in->width, error);
  if (out == NULL)
    return FALSE;
  item = rl_latent_n_floats (in) / in->batch;
  memcpy (out->samples, in->samples + start * item, length * item * sizeof (float));
  out->batch_index = in->batch_index + start;
  rl_node_context_set_output (ctx, 0, rl_value_new_latent (out));
  return TRUE;
}

static const RlInputSpec latent_from_batch_inputs[] = {
  { .name = "samples", .kind = RL_INPUT_LINK, .type = "LATENT" },
  { .name = "batch_index", .kind = RL_INPUT_INT, .int_min = 0, .int_max = 63, .int_step = 1,
    .int_default = 0 },
  { .name = "length", .kind = RL_INPUT_INT, .int_min = 1, .int_max = 64, .int_step = 1,
    .int_default = 1 },
};

const RlNodeType rl_node_latent_from_batch = {
  .name = "LatentFromBatch",
  .display_name = "Latent From Batch",
  .category = "latent/batch",
  .description = "Takes items out of a latent batch; a sampler gives them the noise they had "
                 "in the whole batch.",
  .inputs = latent_from_batch_inputs,
  .n_inputs = G_N_ELEMENTS (latent_from_batch_inputs),
  .outputs = latent_outputs,
  .n_outputs = G_N_ELEMENTS (latent_outputs),
  .location = RL_RUN_IN_APP,
  .execute = execute_latent_from_batch,
};
