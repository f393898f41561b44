/* ComfyUI's samplers for flow (CONST) models: euler, euler_ancestral,
 * heun, dpmpp_2m, dpmpp_2m_sde, uni_pc, uni_pc_bh2, res_multistep, lcm,
 * ddim (comfy/k_diffusion/sampling.py, comfy/extra_samplers/uni_pc.py).
 *
 * rl_sample is the KSAMPLER sampler_function step: it takes x already
 * noise-scaled to sigmas[0] and integrates it down the given sigmas. Per
 * step scalars are computed on the host in float32, as ComfyUI computes
 * them on 0-dim float32 tensors; tensors go through the op table on the
 * device's context. Every decision depends only on the sigmas, so all ranks
 * of a parallel group run the same sequence of denoiser calls.
 *
 * Stochastic samplers (euler_ancestral, dpmpp_2m_sde, lcm) draw standard
 * normal noise of x's shape from an RlNoiseSource. The default source is
 * torch.randn on PyTorch's CPU generator seeded with the sampler seed —
 * exactly ComfyUI's default_noise_sampler when ComfyUI runs on the CPU.
 * Two documented differences from ComfyUI on a GPU:
 *   - there ComfyUI seeds a CUDA generator (Philox) instead; its stream is
 *     not reproduced;
 *   - dpmpp_2m_sde in ComfyUI draws from a torchsde BrownianTree
 *     (BrownianTreeNoiseSampler); that tree is not reproduced. Its
 *     increments over the disjoint steps are independent N(0, 1) once
 *     normalised, which is what the default source gives, so the sampler
 *     has the same distribution but not the same numbers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "workers/sampling/denoiser.h"
#include "workers/sampling/model-sampling.h"
#include "workers/sampling/noise.h"

typedef enum {
  RL_SAMPLER_EULER = 0,
  RL_SAMPLER_EULER_ANCESTRAL,
  RL_SAMPLER_HEUN,
  RL_SAMPLER_DPMPP_2M,
  RL_SAMPLER_DPMPP_2M_SDE,
  RL_SAMPLER_UNI_PC,
  RL_SAMPLER_UNI_PC_BH2,
  RL_SAMPLER_RES_MULTISTEP,
  RL_SAMPLER_LCM,
  RL_SAMPLER_DDIM,
  RL_SAMPLER_COUNT
} RlSamplerKind;

/* ComfyUI's name ("euler", ...). NULL for an invalid value. */
const char *rl_sampler_name      (RlSamplerKind kind);

/* Looks a name up; an unknown name gives RL_E_NOT_FOUND with a message
 * listing every valid name. */
RlStatus    rl_sampler_from_name (const char    *name,
                                  RlSamplerKind *out);

/* KSampler.DISCARD_PENULTIMATE_SIGMA_SAMPLERS (uni_pc, uni_pc_bh2). */
bool        rl_sampler_discards_penultimate_sigma (RlSamplerKind kind);

/* Fills `out` (count floats, host memory) with the next standard normal
 * draw of x's size. */
typedef RlStatus (*RlNoiseFunc) (void *user, float *out, size_t count);

typedef struct {
  RlNoiseFunc draw;
  void       *user;
} RlNoiseSource;

/* The default noise source: torch.randn on a CPU generator seeded with
 * `seed` (torch.manual_seed semantics). Initialise, then use
 * rl_torch_noise_source. */
typedef struct {
  RlTorchGenerator generator;
} RlTorchNoise;

void          rl_torch_noise_init   (RlTorchNoise *noise, uint64_t seed);
RlNoiseSource rl_torch_noise_source (RlTorchNoise *noise);

/* What a step callback sees: ComfyUI's callback (i, denoised, x, total). */
typedef struct {
  int             step;         /* 0-based */
  int             total_steps;  /* count − 1 */
  float           sigma;
  const RlTensor *x;            /* x before the step's update */
  const RlTensor *denoised;     /* the step's prediction (preview) */
} RlStepInfo;

typedef struct {
  /* Once per step, after the step's first denoiser call. May be NULL. */
  void (*on_step)   (void *user, const RlStepInfo *info);
  /* Polled before every denoiser call; true stops the run with
   * RL_E_CANCELLED (x is then partly updated). May be NULL. */
  bool (*cancelled) (void *user);
  void *user;
} RlSampleCallbacks;

/* Runs sampler `kind` on x (float32, contiguous, on the device; updated in
 * place) along sigmas[0 .. count−1] (count ≥ 1; count == 1 leaves x as it
 * is). `model_sampling` is the model's flow sampling (dpmpp_2m_sde moves a
 * first sigma of 1 to percent_to_sigma (1e-4) as ComfyUI does). `noise`
 * may be NULL for a deterministic sampler or to use rl_torch_noise seeded
 * with `seed`; `callbacks` may be NULL.
 *
 * Like ComfyUI, uni_pc and uni_pc_bh2 replace a final sigma of 0 by 0.001
 * IN `sigmas` (ComfyUI edits the caller's tensor through a view, so its
 * inverse_noise_scaling then divides by 1 − 0.001): pass a copy if that
 * matters. */
RlStatus    rl_sample            (RlSamplerKind            kind,
                                  const RlSampleDevice    *device,
                                  const RlModelSampling   *model_sampling,
                                  const RlDenoiser        *model,
                                  RlTensor                *x,
                                  float                   *sigmas,
                                  int                      count,
                                  uint64_t                 seed,
                                  const RlNoiseSource     *noise,
                                  const RlSampleCallbacks *callbacks);
