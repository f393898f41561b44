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
 * Stochastic samplers draw standard normal noise of x's shape from an
 * RlNoiseSource, asked with the step's (sigma, sigma_next). Defaults
 * (noise == NULL), seeded with the sampler seed as ComfyUI seeds them:
 *   - euler_ancestral, lcm: torch.randn on PyTorch's CPU generator —
 *     exactly ComfyUI's default_noise_sampler when ComfyUI runs on the CPU.
 *     On a GPU ComfyUI seeds a CUDA (Philox) generator instead, whose
 *     stream is not reproduced: same distribution, other numbers;
 *   - dpmpp_2m_sde: ComfyUI's BrownianTreeNoiseSampler (torchsde
 *     BrownianTree on the CPU, brownian-tree.h), reproduced up to the
 *     float32 summation order of the tree's interval pieces. */
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

/* Fills `out` (count floats, host memory) with the standard normal draw
 * for the step from `sigma` to `sigma_next`, of x's size. */
typedef RlStatus (*RlNoiseFunc) (void   *user,
                                 float   sigma,
                                 float   sigma_next,
                                 float  *out,
                                 size_t  count);

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
 * is, except that uni_pc rescales it as ComfyUI does). `model_sampling` is the model's flow sampling (dpmpp_2m_sde moves a
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
