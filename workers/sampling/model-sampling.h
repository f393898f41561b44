/* The flow model-sampling object of ComfyUI's ModelSamplingSD3 node
 * (comfy/model_sampling.py ModelSamplingDiscreteFlow with CONST prediction),
 * which Wan, HunyuanVideo and SD3 use:
 *
 *   sigma(t)    = time_snr_shift (shift, t / multiplier)
 *   timestep(σ) = σ · multiplier
 *   time_snr_shift (s, t) = s·t / (1 + (s − 1)·t)   (t itself when s == 1)
 *   table[i]    = sigma ((i + 1)/1000 · multiplier), i = 0 .. 999
 *   sigma_min = table[0], sigma_max = table[999] (= 1)
 *
 * ComfyUI evaluates these on float32 tensors with the Python scalars cast to
 * float32; the functions here do the same float operations in the same
 * order, so schedules match its tables to the last bit or so. */
#pragma once

#include "workers/runtime/status.h"

#define RL_FLOW_TABLE_SIZE 1000

typedef struct {
  double shift;        /* ModelSamplingSD3 "shift" (node default 3.0) */
  double multiplier;   /* 1000 for SD3 / Wan; 1.0 for AuraFlow-style */
} RlModelSampling;

/* RL_OK, or RL_E_INVALID_ARG naming the bad field (shift must be a finite
 * number > 0, multiplier finite and > 0). */
RlStatus rl_model_sampling_check        (const RlModelSampling *ms);

/* sigma (timestep) on float32, as the model-sampling object computes it. */
float    rl_model_sampling_sigma        (const RlModelSampling *ms,
                                         float                  timestep);

/* timestep (sigma) = sigma · multiplier in float32. */
float    rl_model_sampling_timestep     (const RlModelSampling *ms,
                                         float                  sigma);

/* The 1000-entry float32 sigma table (model_sampling.sigmas). */
void     rl_model_sampling_table        (const RlModelSampling *ms,
                                         float                 *table);

/* percent_to_sigma on Python doubles: 1 for percent ≤ 0, 0 for ≥ 1,
 * otherwise time_snr_shift (shift, 1 − percent). */
double   rl_model_sampling_percent_to_sigma (const RlModelSampling *ms,
                                             double                 percent);
