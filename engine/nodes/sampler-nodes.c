/* Sampling: ModelSamplingSD3 (the flow shift), KSampler and
 * KSamplerAdvanced with ComfyUI's widgets. The loop itself runs on every
 * worker (workers/sampling); these nodes gather its parameters, send the
 * latent and conditioning as shared tensors, and relay step progress and
 * previews. */
#include "engine/nodes/builtin-node-tables.h"
#include "engine/nodes/model-heads.h"

#include "engine/nodes/model-values.h"
#include "engine/nodes/pool-job.h"
#include "workers/jobs/job-params.h"

/* The samplers and schedulers the workers implement, in ComfyUI's order
 * (a test checks each against the worker's own name table). */
const char * const rl_sampler_names[] = {
  "euler", "euler_ancestral", "heun", "dpmpp_2m", "dpmpp_2m_sde", "lcm", "ddim",
  "uni_pc", "uni_pc_bh2", "res_multistep", NULL
};
const char * const rl_scheduler_names[] = {
  "simple", "sgm_uniform", "karras", "exponential", "ddim_uniform", "beta", "normal", NULL
};

/* ---------------------------------------------------- ModelSamplingSD3 */

static gboolean
execute_model_sampling_sd3 (RlNodeContext  *ctx,
                            GError        **error)
{
  const RlModelRef *model = rl_node_require_model_ref (ctx, "model", RL_SOCKET_TYPE_MODEL, error);
  RlModelRef shifted;

  if (model == NULL)
    return FALSE;
  shifted = *model;
  shifted.has_shift = TRUE;
  shifted.shift = rl_node_context_get_float (ctx, "shift");
  rl_node_context_set_output (ctx, 0, rl_value_new_model_ref (RL_SOCKET_TYPE_MODEL, &shifted));
  return TRUE;
}

static const RlInputSpec model_sampling_sd3_inputs[] = {
  { .name = "model", .kind = RL_INPUT_LINK, .type = "MODEL" },
  { .name = "shift", .kind = RL_INPUT_FLOAT, .float_min = 0.0, .float_max = 100.0,
    .float_step = 0.01, .float_default = 3.0 },
};
static const RlOutputSpec model_outputs[] = { { .name = "MODEL", .type = "MODEL" } };

const RlNodeType rl_node_model_sampling_sd3 = {
  .name = "ModelSamplingSD3",
  .display_name = "ModelSamplingSD3",
  .category = "advanced/model",
  .description = "Sets the timestep shift of a flow model's noise schedule.",
  .inputs = model_sampling_sd3_inputs,
  .n_inputs = G_N_ELEMENTS (model_sampling_sd3_inputs),
  .outputs = model_outputs,
  .n_outputs = G_N_ELEMENTS (model_outputs),
  .location = RL_RUN_IN_APP,
  .execute = execute_model_sampling_sd3,
};

/* ------------------------------------------------------ the shared run */

/* Sends one SAMPLE job built from @params plus the node's model,
 * conditioning and latent inputs, and outputs the sampled latent. */
static gboolean
run_sampler (RlNodeContext   *ctx,
             RlSampleParams  *params,
             GError         **error)
{
  const RlModelRef *model = rl_node_require_model_ref (ctx, "model", RL_SOCKET_TYPE_MODEL, error);
  const RlConditioning *positive = model ? rl_node_require_conditioning (ctx, "positive", error) : NULL;
  const RlConditioning *negative = positive ? rl_node_require_conditioning (ctx, "negative", error) : NULL;
  const RlLatent *latent = negative ? rl_node_context_get_object (ctx, "latent_image", "LATENT") : NULL;
  RlSharedTensor *tensors[3] = { NULL, NULL, NULL };
  RlPoolResult result = { 0 };
  RlSharedTensor *out_tensor;
  RlLatent *out = NULL;
  RlWireWriter w;
  gboolean ok;

  if (negative == NULL)
    return FALSE;
  /* A Ulysses degree that cannot split the model's heads is refused here,
   * before the pool restarts its workers in that shape. */
  RlPoolService *pool = rl_node_require_pool (ctx, error);
  if (pool == NULL)
    return FALSE;
  RlPoolParallel shape = model->has_parallel ? model->parallel
                                             : rl_pool_service_get_default_parallel (pool);
  if (!rl_model_check_ulysses (model->path, &shape, model->has_parallel, error))
    return FALSE;
  params->model.path = model->path;
  params->model.options = model->options;
  params->has_shift = model->has_shift;
  params->shift = (float) model->shift;
  params->preview_every = 1;
  params->batch_index = latent != NULL && latent->batch_index > 0 ? (guint64) latent->batch_index : 0;

  tensors[0] = rl_shared_tensor_from_latent (latent, error);
  if (tensors[0] == NULL)
    return FALSE;
  tensors[1] = positive->tensor;
  tensors[2] = negative->tensor;
  rl_wire_writer_init (&w);
  rl_sample_params_encode (params, &w);
  ok = rl_node_run_pool_job_parallel (ctx, model->has_parallel ? &model->parallel : NULL,
                                      RL_MSG_SAMPLE, &w, tensors, 3, &result, error);
  rl_wire_writer_clear (&w);
  rl_shared_tensor_free (tensors[0]);
  if (ok && (out_tensor = rl_pool_result_tensor (&result, "latent", error)) != NULL)
    out = rl_latent_from_shared_tensor (out_tensor, "the sampled latent", error);
  rl_pool_result_clear (&result);
  if (out == NULL)
    return FALSE;
  out->batch_index = latent->batch_index;
  rl_node_context_set_output (ctx, 0, rl_value_new_latent (out));
  return TRUE;
}

static void
read_common (RlNodeContext   *ctx,
             RlSampleParams  *params,
             const char      *seed_input)
{
  rl_sample_params_init (params);
  params->seed = (guint64) rl_node_context_get_int (ctx, seed_input);
  params->steps = (guint32) rl_node_context_get_int (ctx, "steps");
  params->cfg = (float) rl_node_context_get_float (ctx, "cfg");
  params->sampler = (char *) rl_node_context_get_string (ctx, "sampler_name");
  params->scheduler = (char *) rl_node_context_get_string (ctx, "scheduler");
}

/* ------------------------------------------------------------ KSampler */

static gboolean
execute_ksampler (RlNodeContext  *ctx,
                  GError        **error)
{
  RlSampleParams params;

  read_common (ctx, &params, "seed");
  params.denoise = (float) rl_node_context_get_float (ctx, "denoise");
  return run_sampler (ctx, &params, error);
}

#define STEPS_INPUT \
  { .name = "steps", .kind = RL_INPUT_INT, .int_min = 1, .int_max = 10000, .int_step = 1, \
    .int_default = 20, .tooltip = "The number of steps used in the denoising process." }
#define CFG_INPUT \
  { .name = "cfg", .kind = RL_INPUT_FLOAT, .float_min = 0.0, .float_max = 100.0, .float_step = 0.1, \
    .float_round = 0.01, .float_default = 8.0, \
    .tooltip = "Classifier-free guidance scale; 1.0 skips the negative prompt." }
#define SAMPLER_INPUTS \
  { .name = "sampler_name", .kind = RL_INPUT_COMBO, .combo_options = rl_sampler_names, \
    .combo_default = "euler" }, \
  { .name = "scheduler", .kind = RL_INPUT_COMBO, .combo_options = rl_scheduler_names, \
    .combo_default = "simple" }
#define CONDITIONING_INPUTS \
  { .name = "positive", .kind = RL_INPUT_LINK, .type = "CONDITIONING" }, \
  { .name = "negative", .kind = RL_INPUT_LINK, .type = "CONDITIONING" }, \
  { .name = "latent_image", .kind = RL_INPUT_LINK, .type = "LATENT" }

static const RlInputSpec ksampler_inputs[] = {
  { .name = "model", .kind = RL_INPUT_LINK, .type = "MODEL" },
  { .name = "seed", .kind = RL_INPUT_INT, .int_min = 0, .int_max = G_MAXINT64, .int_step = 1,
    .control_after_generate = TRUE, .tooltip = "The random seed used for creating the noise." },
  STEPS_INPUT,
  CFG_INPUT,
  SAMPLER_INPUTS,
  CONDITIONING_INPUTS,
  { .name = "denoise", .kind = RL_INPUT_FLOAT, .float_min = 0.0, .float_max = 1.0, .float_step = 0.01,
    .float_default = 1.0, .tooltip = "The amount of denoising applied." },
};
static const RlOutputSpec latent_outputs[] = { { .name = "LATENT", .type = "LATENT" } };

const RlNodeType rl_node_ksampler = {
  .name = "KSampler",
  .display_name = "KSampler",
  .category = "sampling",
  .description = "Uses the provided model, positive and negative conditioning to denoise the latent image.",
  .inputs = ksampler_inputs,
  .n_inputs = G_N_ELEMENTS (ksampler_inputs),
  .outputs = latent_outputs,
  .n_outputs = G_N_ELEMENTS (latent_outputs),
  .location = RL_RUN_ON_POOL,
  .execute = execute_ksampler,
};

/* ---------------------------------------------------- KSamplerAdvanced */

static const char * const enable_disable[] = { "enable", "disable", NULL };
static const char * const disable_enable[] = { "disable", "enable", NULL };

static gboolean
execute_ksampler_advanced (RlNodeContext  *ctx,
                           GError        **error)
{
  RlSampleParams params;

  read_common (ctx, &params, "noise_seed");
  params.add_noise = g_str_equal (rl_node_context_get_string (ctx, "add_noise"), "enable");
  params.start_step = (guint32) rl_node_context_get_int (ctx, "start_at_step");
  params.end_step = (guint32) rl_node_context_get_int (ctx, "end_at_step");
  params.return_with_leftover_noise =
    g_str_equal (rl_node_context_get_string (ctx, "return_with_leftover_noise"), "enable");
  return run_sampler (ctx, &params, error);
}

static const RlInputSpec ksampler_advanced_inputs[] = {
  { .name = "model", .kind = RL_INPUT_LINK, .type = "MODEL" },
  { .name = "add_noise", .kind = RL_INPUT_COMBO, .combo_options = enable_disable, .combo_default = "enable" },
  { .name = "noise_seed", .kind = RL_INPUT_INT, .int_min = 0, .int_max = G_MAXINT64, .int_step = 1,
    .control_after_generate = TRUE },
  STEPS_INPUT,
  CFG_INPUT,
  SAMPLER_INPUTS,
  CONDITIONING_INPUTS,
  { .name = "start_at_step", .kind = RL_INPUT_INT, .int_min = 0, .int_max = 10000, .int_step = 1,
    .int_default = 0 },
  { .name = "end_at_step", .kind = RL_INPUT_INT, .int_min = 0, .int_max = 10000, .int_step = 1,
    .int_default = 10000 },
  { .name = "return_with_leftover_noise", .kind = RL_INPUT_COMBO, .combo_options = disable_enable,
    .combo_default = "disable" },
};

const RlNodeType rl_node_ksampler_advanced = {
  .name = "KSamplerAdvanced",
  .display_name = "KSampler (Advanced)",
  .category = "sampling",
  .description = "KSampler with start/end steps and noise control: two of them run Wan 2.2's "
                 "high-noise and low-noise experts one after the other.",
  .inputs = ksampler_advanced_inputs,
  .n_inputs = G_N_ELEMENTS (ksampler_advanced_inputs),
  .outputs = latent_outputs,
  .n_outputs = G_N_ELEMENTS (latent_outputs),
  .location = RL_RUN_ON_POOL,
  .execute = execute_ksampler_advanced,
};
