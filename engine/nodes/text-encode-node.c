/* CLIPTextEncode: a prompt through the text encoder on the workers. The
 * conditioning comes back as a sealed shared tensor and stays one: every
 * sampler rank maps the same memory. */
#include "engine/nodes/builtin-node-tables.h"

#include "engine/nodes/model-values.h"
#include "engine/nodes/pool-job.h"
#include "workers/jobs/job-params.h"

static gboolean
execute_clip_text_encode (RlNodeContext  *ctx,
                          GError        **error)
{
  const RlModelRef *clip = rl_node_require_model_ref (ctx, "clip", RL_SOCKET_TYPE_CLIP, error);
  const char *text = rl_node_context_get_string (ctx, "text");
  RlTextEncodeParams params = { 0 };
  RlWireWriter w;
  RlPoolResult result = { 0 };
  RlSharedTensor *tensor;
  gboolean ok;

  if (clip == NULL)
    return FALSE;
  params.model.path = clip->path;
  params.model.options = clip->options;
  params.text = (char *) text;
  rl_wire_writer_init (&w);
  rl_text_encode_params_encode (&params, &w);
  ok = rl_node_run_pool_job (ctx, RL_MSG_ENCODE_TEXT, &w, NULL, 0, &result, error);
  rl_wire_writer_clear (&w);
  if (!ok)
    return FALSE;
  tensor = rl_pool_result_tensor (&result, "conditioning", error);
  if (tensor == NULL)
    {
      rl_pool_result_clear (&result);
      return FALSE;
    }
  /* The value takes the tensor over from the result. */
  result.tensors[0] = NULL;
  rl_node_context_set_output (ctx, 0, rl_value_new_conditioning (tensor, text));
  rl_pool_result_clear (&result);
  return TRUE;
}

static const RlInputSpec clip_text_encode_inputs[] = {
  { .name = "text", .kind = RL_INPUT_STRING, .multiline = TRUE, .dynamic_prompts = TRUE,
    .tooltip = "The text to be encoded." },
  { .name = "clip", .kind = RL_INPUT_LINK, .type = "CLIP",
    .tooltip = "The CLIP model used for encoding the text." },
};
static const RlOutputSpec conditioning_outputs[] = { { .name = "CONDITIONING", .type = "CONDITIONING" } };

const RlNodeType rl_node_clip_text_encode = {
  .name = "CLIPTextEncode",
  .display_name = "CLIP Text Encode (Prompt)",
  .category = "conditioning",
  .description = "Encodes a text prompt using a CLIP model into an embedding that can be used "
                 "to guide the diffusion model towards generating specific images.",
  .inputs = clip_text_encode_inputs,
  .n_inputs = G_N_ELEMENTS (clip_text_encode_inputs),
  .outputs = conditioning_outputs,
  .n_outputs = G_N_ELEMENTS (conditioning_outputs),
  .location = RL_RUN_ON_POOL,
  .execute = execute_clip_text_encode,
};
