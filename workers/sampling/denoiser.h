/* The model as the sampling loop sees it, and ComfyUI's CFG around it.
 *
 * A denoiser maps (x, σ) to the denoised (x0) prediction, like ComfyUI's
 * wrapped model: for a flow model
 *   denoised = x − σ · v,   v = diffusion_model (x, timestep (σ), ...)
 * (calculate_denoised of CONST). Every tensor is float32, contiguous, on
 * the sampling context's device, shaped like the latent.
 *
 * The loop runs on every rank of a parallel group (SPMD): the denoiser is
 * where ranks meet (the transformer forward is collective), so it must be
 * called with the same (x, σ) sequence on every rank — the samplers
 * guarantee that, because all their decisions depend only on the sigmas. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "workers/runtime/backend.h"
#include "workers/runtime/tensor.h"

/* Where the sampler computes: a backend and one of its contexts. Tensors
 * come from the context's allocator and go through backend->ops. */
typedef struct {
  const RlBackend *backend;
  RlContext       *ctx;
} RlSampleDevice;

/* Writes the denoised prediction for (x, sigma) into `denoised` (allocated
 * by the caller, x's shape). `x` must not be modified. */
typedef RlStatus (*RlDenoiseFunc) (void           *user,
                                   RlTensor       *denoised,
                                   const RlTensor *x,
                                   float           sigma);

typedef struct {
  RlDenoiseFunc denoise;
  void         *user;
} RlDenoiser;

/* Which conditioning a prediction uses. */
typedef enum {
  RL_COND_POSITIVE = 0,
  RL_COND_NEGATIVE = 1,
} RlCondKind;

/* One conditioned model evaluation: the denoised prediction of the model
 * for (x, sigma) under the positive or negative conditioning. */
typedef RlStatus (*RlPredictFunc) (void           *user,
                                   RlTensor       *denoised,
                                   const RlTensor *x,
                                   float           sigma,
                                   RlCondKind      cond);

/* ComfyUI's CFGGuider for one positive and one negative conditioning:
 *   denoised = uncond + (cond − uncond) · cfg
 * and, when cfg is 1 (math.isclose), the negative is not evaluated at all
 * (denoised = cond · cfg). Fill the fields, then use
 * rl_cfg_guider_denoiser. `cond_calls` / `uncond_calls` count evaluations. */
typedef struct {
  RlSampleDevice device;
  RlPredictFunc  predict;
  void          *user;
  double         cfg;
  int64_t        cond_calls;
  int64_t        uncond_calls;
} RlCfgGuider;

/* A denoiser that runs `guider` (which must outlive it). */
RlDenoiser rl_cfg_guider_denoiser (RlCfgGuider *guider);

/* math.isclose (cfg, 1.0): the shortcut that skips the negative. */
bool       rl_cfg_is_one          (double cfg);
