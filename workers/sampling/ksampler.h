/* ComfyUI's KSampler and KSamplerAdvanced nodes around rl_sample
 * (nodes.py common_ksampler, comfy/samplers.py KSampler.set_steps /
 * KSampler.sample, KSAMPLER.sample):
 *
 *   sigmas: scheduler for `steps` (steps + 1 for uni_pc / uni_pc_bh2, whose
 *           penultimate sigma is then dropped); denoise < 1 computes
 *           int(steps/denoise) steps and keeps the last steps + 1 sigmas;
 *           denoise ≤ 0 gives no sigmas (the latent comes back unchanged);
 *   window: last_step < len − 1 cuts the list after last_step (its last
 *           sigma set to 0 when force_full_denoise, i.e. KSamplerAdvanced's
 *           return_with_leftover_noise = disable); start_step < len − 1
 *           starts there, otherwise the latent comes back unchanged;
 *   noise:  prepare_noise (seed) (torch CPU randn over the whole latent, or
 *           per batch_index) unless add_noise is off (zeros);
 *   run:    x = σ0·noise + (1 − σ0)·latent; rl_sample; x /= (1 − σ_last).
 *
 * The Wan 2.2 A14B expert switch is two such calls, as ComfyUI's template
 * does with two KSamplerAdvanced nodes: the high-noise expert with
 * start 0, end k, add_noise on, leftover noise on; then the low-noise
 * expert with start k, add_noise off, on the first call's output. (A
 * switch inside one loop would differ: multistep samplers restart their
 * history at the second node and the leftover-noise scaling round-trips.)
 *
 * Latents here are in the model's space: the caller applies the latent
 * format's process_in to a non-empty input latent (ComfyUI skips it for an
 * all-zero latent) and process_out to the result. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "workers/sampling/sampler.h"
#include "workers/sampling/schedulers.h"

/* KSampler.set_steps: the sigma list for (scheduler, sampler, steps,
 * denoise); *sigmas is malloc'ed (free () it; NULL when *count is 0). */
RlStatus rl_ksampler_sigmas (RlScheduler            scheduler,
                             RlSamplerKind          sampler,
                             const RlModelSampling *ms,
                             int                    steps,
                             double                 denoise,
                             float                **sigmas,
                             int                   *count);

/* KSamplerAdvanced's step window over sigmas[0 .. *count−1] (in place):
 * start_step / last_step < 0 mean "not given" (KSampler). On return
 * *first is the index of the first sigma to use and *count the number of
 * sigmas from there; *count == 0 means "return the latent unchanged". */
void     rl_ksampler_window (float *sigmas,
                             int   *count,
                             int    start_step,
                             int    last_step,
                             bool   force_full_denoise,
                             int   *first);

typedef struct {
  RlSamplerKind   sampler;
  RlScheduler     scheduler;
  RlModelSampling model_sampling;
  int             steps;
  double          denoise;              /* KSampler: 1.0 */
  uint64_t        seed;
  bool            add_noise;            /* KSamplerAdvanced add_noise */
  int             start_step;           /* −1: not given */
  int             last_step;            /* −1: not given */
  bool            force_full_denoise;   /* !return_with_leftover_noise */
  const int64_t  *batch_index;          /* latent["batch_index"] or NULL */
  const float    *initial_noise;        /* host override of prepare_noise
                                         * (tests), or NULL */
  const RlNoiseSource *step_noise;      /* sampler noise, NULL: seeded */
} RlKSamplerParams;

/* Fills the defaults of a KSampler node (denoise 1, add_noise on, no
 * window, force_full_denoise off, no batch_index). */
void     rl_ksampler_params_init (RlKSamplerParams *params);

/* Samples `latent` (float32, contiguous, on the device, model space) into
 * `out` (same shape; may be the same tensor as latent). `model` is the
 * denoiser (rl_cfg_guider_denoiser for CFG); `callbacks` may be NULL. */
RlStatus rl_ksampler_run    (const RlKSamplerParams  *params,
                             const RlSampleDevice    *device,
                             const RlDenoiser        *model,
                             const RlTensor          *latent,
                             RlTensor                *out,
                             const RlSampleCallbacks *callbacks);

/* The Wan 2.2 A14B template in one call: two rl_ksampler_run calls as its
 * two KSamplerAdvanced nodes make them. The high-noise expert samples steps
 * [0, switch_step) from `latent` with params->add_noise, keeping the
 * leftover noise; the low-noise expert continues from its output for
 * [switch_step, end) without new noise, to a full denoise. Both use
 * params (sampler, scheduler, steps, seed, ...); params' window fields
 * are ignored. 0 < switch_step < steps; callbacks see both stages. The
 * default sampler noise restarts from the seed in each stage, as in
 * ComfyUI; a caller's params->step_noise is handed to both as it is. */
RlStatus rl_ksampler_run_two_experts (const RlKSamplerParams  *params,
                                      int                      switch_step,
                                      const RlSampleDevice    *device,
                                      const RlDenoiser        *high_noise,
                                      const RlDenoiser        *low_noise,
                                      const RlTensor          *latent,
                                      RlTensor                *out,
                                      const RlSampleCallbacks *callbacks);
