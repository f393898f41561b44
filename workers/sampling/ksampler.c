/* KSampler / KSamplerAdvanced semantics around rl_sample (see ksampler.h). */
#include "workers/sampling/ksampler.h"

#include <stdlib.h>
#include <string.h>

static RlStatus
calculate_sigmas (RlScheduler scheduler, RlSamplerKind sampler,
                  const RlModelSampling *ms, int steps, float **sigmas,
                  int *count)
{
  bool discard = rl_sampler_discards_penultimate_sigma (sampler);
  RlStatus status = rl_scheduler_sigmas (scheduler, ms, discard ? steps + 1
                                                                : steps,
                                         sigmas, count);
  if (status != RL_OK || !discard)
    return status;
  /* torch.cat ([sigmas[:-2], sigmas[-1:]]) */
  if (*count >= 2)
    {
      (*sigmas)[*count - 2] = (*sigmas)[*count - 1];
      *count -= 1;
    }
  return RL_OK;
}

RlStatus
rl_ksampler_sigmas (RlScheduler scheduler, RlSamplerKind sampler,
                    const RlModelSampling *ms, int steps, double denoise,
                    float **sigmas, int *count)
{
  *sigmas = NULL;
  *count = 0;
  if (rl_sampler_name (sampler) == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "ksampler: invalid sampler %d",
                         (int) sampler);
  if (steps < 1)
    return rl_set_error (RL_E_INVALID_ARG,
                         "ksampler: steps = %d; use at least 1", steps);
  if (denoise != denoise)
    return rl_set_error (RL_E_INVALID_ARG, "ksampler: denoise is NaN");
  if (denoise > 0.9999)
    return calculate_sigmas (scheduler, sampler, ms, steps, sigmas, count);
  if (denoise <= 0.0)
    return RL_OK;
  /* ComfyUI's widgets bound this by 10000 steps / 0.01 denoise. */
  double wanted = (double) steps / denoise;
  if (wanted > 1e6)
    return rl_set_error (RL_E_INVALID_ARG,
                         "ksampler: %d steps at denoise %g means %.0f "
                         "schedule steps; raise denoise", steps, denoise,
                         wanted);
  float *all;
  int all_count;
  RlStatus status = calculate_sigmas (scheduler, sampler, ms, (int) wanted,
                                      &all, &all_count);
  if (status != RL_OK)
    return status;
  /* sigmas[-(steps + 1):] */
  int keep = steps + 1 < all_count ? steps + 1 : all_count;
  memmove (all, all + (all_count - keep), (size_t) keep * sizeof *all);
  *sigmas = all;
  *count = keep;
  return RL_OK;
}

void
rl_ksampler_window (float *sigmas, int *count, int start_step, int last_step,
                    bool force_full_denoise, int *first)
{
  *first = 0;
  if (last_step >= 0 && last_step < *count - 1)
    {
      *count = last_step + 1;
      if (force_full_denoise)
        sigmas[*count - 1] = 0.0f;
    }
  if (start_step >= 0)
    {
      if (start_step < *count - 1)
        {
          *first = start_step;
          *count -= start_step;
        }
      else
        *count = 0;
    }
}

void
rl_ksampler_params_init (RlKSamplerParams *params)
{
  memset (params, 0, sizeof *params);
  params->sampler = RL_SAMPLER_EULER;
  params->scheduler = RL_SCHEDULER_SIMPLE;
  params->model_sampling = (RlModelSampling) { .shift = 1.0,
                                               .multiplier = 1000.0 };
  params->steps = 20;
  params->denoise = 1.0;
  params->add_noise = true;
  params->start_step = -1;
  params->last_step = -1;
}

/* noise on the device: prepare_noise, the override, or zeros. */
static RlStatus
initial_noise (const RlKSamplerParams *p, const RlSampleDevice *device,
               const RlTensor *latent, RlTensor *noise)
{
  const RlBackend *be = device->backend;
  RlStatus status = rl_tensor_alloc (noise, be->context_allocator (device->ctx),
                                     RL_F32, latent->ndim, latent->shape);
  if (status != RL_OK)
    return status;
  if (!p->add_noise)
    return be->ops->fill (device->ctx, noise, 0.0f);

  size_t count = (size_t) rl_tensor_numel (latent);
  float *host = malloc (count * sizeof *host);
  if (host == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "ksampler: no memory for the "
                         "initial noise (%zu floats)", count);
  if (p->initial_noise != NULL)
    memcpy (host, p->initial_noise, count * sizeof *host);
  else
    status = rl_noise_prepare (p->seed, latent->shape, latent->ndim,
                               p->batch_index, host);
  RlTensor host_view;
  if (status == RL_OK)
    status = rl_tensor_wrap (&host_view, host, rl_device_cpu (), RL_F32,
                             latent->ndim, latent->shape, NULL, NULL);
  if (status == RL_OK)
    status = be->transfer (device->ctx, noise, &host_view);
  free (host);
  return status;
}

static RlStatus
check_run (const RlKSamplerParams *p, const RlSampleDevice *device,
           const RlDenoiser *model, const RlTensor *latent,
           const RlTensor *out)
{
  if (p == NULL || device == NULL || device->backend == NULL
      || device->ctx == NULL || model == NULL || latent == NULL
      || out == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "ksampler: missing argument");
  if (latent->dtype != RL_F32 || !rl_tensor_is_contiguous (latent)
      || out->dtype != RL_F32 || !rl_tensor_is_contiguous (out)
      || !rl_tensor_same_shape (latent, out))
    return rl_set_error (RL_E_INVALID_ARG,
                         "ksampler: latent and output must be contiguous "
                         "float32 tensors of the same shape");
  return RL_OK;
}

static RlStatus
sample_window (const RlKSamplerParams *p, const RlSampleDevice *device,
               const RlDenoiser *model, const RlTensor *latent, RlTensor *out,
               float *sigmas, int count, const RlSampleCallbacks *callbacks)
{
  const RlOps *ops = device->backend->ops;
  RlTensor noise;
  RlStatus status = initial_noise (p, device, latent, &noise);
  if (status != RL_OK)
    return rl_prefix_error (status, "ksampler initial noise: ");
  /* noise_scaling: σ0·noise + (1 − σ0)·latent */
  float sigma0 = sigmas[0];
  status = ops->add (device->ctx, out, &noise, latent, sigma0, 1.0f - sigma0);
  rl_tensor_release (&noise);
  if (status == RL_OK)
    status = rl_sample (p->sampler, device, &p->model_sampling, model, out,
                        sigmas, count, p->seed, p->step_noise, callbacks);
  /* inverse_noise_scaling with the (possibly uni_pc-edited) last sigma */
  if (status == RL_OK)
    status = ops->scale_shift (device->ctx, out, out,
                               1.0f / (1.0f - sigmas[count - 1]), 0.0f);
  return status;
}

RlStatus
rl_ksampler_run (const RlKSamplerParams *p, const RlSampleDevice *device,
                 const RlDenoiser *model, const RlTensor *latent,
                 RlTensor *out, const RlSampleCallbacks *callbacks)
{
  RlStatus status = check_run (p, device, model, latent, out);
  if (status != RL_OK)
    return status;
  float *sigmas;
  int count, first;
  status = rl_ksampler_sigmas (p->scheduler, p->sampler, &p->model_sampling,
                               p->steps, p->denoise, &sigmas, &count);
  if (status != RL_OK)
    return status;
  rl_ksampler_window (sigmas, &count, p->start_step, p->last_step,
                      p->force_full_denoise, &first);
  if (count == 0)
    status = out->data == latent->data
               ? RL_OK : device->backend->ops->copy (device->ctx, out, latent);
  else
    status = sample_window (p, device, model, latent, out, sigmas + first,
                            count, callbacks);
  free (sigmas);
  return status;
}

RlStatus
rl_ksampler_run_two_experts (const RlKSamplerParams *params, int switch_step,
                             const RlSampleDevice *device,
                             const RlDenoiser *high_noise,
                             const RlDenoiser *low_noise,
                             const RlTensor *latent, RlTensor *out,
                             const RlSampleCallbacks *callbacks)
{
  if (params == NULL || high_noise == NULL || low_noise == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "two experts: missing argument");
  if (switch_step <= 0 || switch_step >= params->steps)
    return rl_set_error (RL_E_INVALID_ARG,
                         "two experts: switch at step %d of %d; it must lie "
                         "strictly inside the run", switch_step,
                         params->steps);
  RlKSamplerParams high = *params;
  high.start_step = 0;
  high.last_step = switch_step;
  high.force_full_denoise = false;          /* leftover noise: enable */
  RlStatus status = rl_ksampler_run (&high, device, high_noise, latent, out,
                                     callbacks);
  if (status != RL_OK)
    return status == RL_E_CANCELLED
             ? status : rl_prefix_error (status, "high-noise expert: ");

  RlKSamplerParams low = *params;
  low.add_noise = false;
  low.start_step = switch_step;
  low.last_step = 10000;                    /* KSamplerAdvanced default */
  low.force_full_denoise = true;            /* leftover noise: disable */
  low.batch_index = NULL;
  low.initial_noise = NULL;
  status = rl_ksampler_run (&low, device, low_noise, out, out, callbacks);
  if (status != RL_OK && status != RL_E_CANCELLED)
    return rl_prefix_error (status, "low-noise expert: ");
  return status;
}
