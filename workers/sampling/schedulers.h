/* Noise schedules as ComfyUI's comfy/samplers.py computes them
 * (calculate_sigmas) for a flow model-sampling object: simple, normal,
 * sgm_uniform, beta, karras, exponential, ddim_uniform.
 *
 * A schedule is a float32 list of sigmas from high to low, normally
 * steps + 1 long and ending in 0. Not always: "beta" drops repeated table
 * indices and "ddim_uniform" walks the 1000-entry table with a stride of
 * 1000 // steps, so their length differs from steps + 1 for some step
 * counts, exactly as in ComfyUI. The list is therefore returned in a
 * malloc'ed array with its length. */
#pragma once

#include "workers/runtime/status.h"
#include "workers/sampling/model-sampling.h"

typedef enum {
  RL_SCHEDULER_SIMPLE = 0,
  RL_SCHEDULER_SGM_UNIFORM,
  RL_SCHEDULER_KARRAS,
  RL_SCHEDULER_EXPONENTIAL,
  RL_SCHEDULER_DDIM_UNIFORM,
  RL_SCHEDULER_BETA,
  RL_SCHEDULER_NORMAL,
  RL_SCHEDULER_LINEAR_QUADRATIC,
  RL_SCHEDULER_KL_OPTIMAL,
  RL_SCHEDULER_COUNT
} RlScheduler;

/* ComfyUI's name ("simple", "normal", ...). NULL for an invalid value. */
const char *rl_scheduler_name      (RlScheduler scheduler);

/* Looks a name up. An unknown name gives RL_E_NOT_FOUND with a message
 * that lists every valid name. */
RlStatus    rl_scheduler_from_name (const char  *name,
                                    RlScheduler *out);

/* calculate_sigmas (model_sampling, scheduler, steps) for steps ≥ 1
 * (kl_optimal needs 2: ComfyUI divides by steps − 1 and returns NaN):
 * *sigmas receives a malloc'ed array (free () it) of *count values. */
RlStatus    rl_scheduler_sigmas    (RlScheduler            scheduler,
                                    const RlModelSampling *ms,
                                    int                    steps,
                                    float                **sigmas,
                                    int                   *count);
