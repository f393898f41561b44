/* RaylightParallelSettings: how the samplers fed by this model split one
 * generation over the workers — the equivalent of the original's Ray Init
 * Actor / XFuser KSampler options. It patches the MODEL (as ModelSampling
 * nodes do), so the settings travel with the model to every sampler,
 * survive the executor's cache and apply only to the run that has them;
 * the pool regroups its workers when a SAMPLE needs another shape. */
#include "engine/nodes/builtin-node-tables.h"

#include "engine/nodes/model-values.h"

/* The attention variants plugins/attention provides; "auto" lets the
 * worker pick the fastest exact one its device has. sage and sage16 are
 * approximate (int8 Q·Kᵀ; Hopper only): never picked by "auto", only when
 * named here or in the pool's settings. */
static const char * const attention_names[] = { "auto", "flash", "cudnn", "sage", "sage16", "naive",
                                                "reference", NULL };

static gboolean
execute_parallel_settings (RlNodeContext  *ctx,
                           GError        **error)
{
  const RlModelRef *model = rl_node_require_model_ref (ctx, "model", RL_SOCKET_TYPE_MODEL, error);
  RlModelRef patched;
  RlPoolParallel *p = &patched.parallel;
  guint world;

  if (model == NULL)
    return FALSE;
  patched = *model;
  patched.has_parallel = TRUE;
  memset (p, 0, sizeof *p);
  p->ulysses_degree = (guint) rl_node_context_get_int (ctx, "ulysses_degree");
  p->ring_degree = (guint) rl_node_context_get_int (ctx, "ring_degree");
  p->cfg_degree = rl_node_context_get_boolean (ctx, "cfg_parallel") ? 2 : 1;
  p->data_degree = (guint) rl_node_context_get_int (ctx, "data_parallel");
  world = p->ulysses_degree * p->ring_degree * p->cfg_degree * p->data_degree;
  /* FSDP shards every weight over all ranks of the pool. */
  p->fsdp_degree = rl_node_context_get_boolean (ctx, "fsdp") ? MAX (world, 1) : 1;
  p->cpu_offload = rl_node_context_get_boolean (ctx, "cpu_offload");
  g_strlcpy (p->attention, rl_node_context_get_string (ctx, "attention"), sizeof p->attention);
  rl_node_context_set_output (ctx, 0, rl_value_new_model_ref (RL_SOCKET_TYPE_MODEL, &patched));
  return TRUE;
}

static const RlInputSpec parallel_settings_inputs[] = {
  { .name = "model", .kind = RL_INPUT_LINK, .type = "MODEL" },
  { .name = "ulysses_degree", .kind = RL_INPUT_INT, .int_min = 1, .int_max = 64, .int_step = 1,
    .int_default = 1,
    .tooltip = "Ranks that split the attention heads (all-to-all): fastest on NVLink." },
  { .name = "ring_degree", .kind = RL_INPUT_INT, .int_min = 1, .int_max = 64, .int_step = 1,
    .int_default = 1,
    .tooltip = "Ranks that pass keys and values around a ring: for slow links or few heads." },
  { .name = "cfg_parallel", .kind = RL_INPUT_BOOLEAN, .boolean_default = FALSE,
    .tooltip = "Positive and negative prompt on two groups of ranks (one exchange per step)." },
  { .name = "data_parallel", .kind = RL_INPUT_INT, .int_min = 1, .int_max = 64, .int_step = 1,
    .int_default = 1, .tooltip = "Groups that each take a share of the batch." },
  { .name = "fsdp", .kind = RL_INPUT_BOOLEAN, .boolean_default = FALSE,
    .tooltip = "Shard the weights over the ranks instead of a full copy on each." },
  { .name = "cpu_offload", .kind = RL_INPUT_BOOLEAN, .boolean_default = FALSE,
    .tooltip = "Keep the weights (the FSDP shards, with fsdp) in pinned host memory and fetch "
               "them ahead of use." },
  { .name = "attention", .kind = RL_INPUT_COMBO, .combo_options = attention_names,
    .combo_default = "auto", .tooltip = "Attention kernel of the workers." },
};
static const RlOutputSpec model_outputs[] = { { .name = "MODEL", .type = "MODEL" } };

const RlNodeType rl_node_parallel_settings = {
  .name = "RaylightParallelSettings",
  .display_name = "Parallel Settings",
  .category = "raylight",
  .description = "How the samplers using this model split a generation over the workers: "
                 "Ulysses × ring sequence parallelism, CFG and data parallelism, FSDP and the "
                 "attention kernel. The workers are the product of the degrees; the pool "
                 "regroups them when a run needs another shape.",
  .inputs = parallel_settings_inputs,
  .n_inputs = G_N_ELEMENTS (parallel_settings_inputs),
  .outputs = model_outputs,
  .n_outputs = G_N_ELEMENTS (model_outputs),
  .location = RL_RUN_IN_APP,
  .execute = execute_parallel_settings,
};
