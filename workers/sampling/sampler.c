/* Sampler names, the default noise source, the tensor helpers shared by the
 * implementations, and rl_sample's dispatch (see sampler.h). */
#include "workers/sampling/sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "workers/sampling/brownian-tree.h"
#include "workers/sampling/sampler-private.h"

static const char *const sampler_names[RL_SAMPLER_COUNT] = {
  [RL_SAMPLER_EULER]           = "euler",
  [RL_SAMPLER_EULER_ANCESTRAL] = "euler_ancestral",
  [RL_SAMPLER_HEUN]            = "heun",
  [RL_SAMPLER_DPMPP_2M]        = "dpmpp_2m",
  [RL_SAMPLER_DPMPP_2M_SDE]    = "dpmpp_2m_sde",
  [RL_SAMPLER_UNI_PC]          = "uni_pc",
  [RL_SAMPLER_UNI_PC_BH2]      = "uni_pc_bh2",
  [RL_SAMPLER_RES_MULTISTEP]   = "res_multistep",
  [RL_SAMPLER_LCM]             = "lcm",
  [RL_SAMPLER_DDIM]            = "ddim",
};

const char *
rl_sampler_name (RlSamplerKind kind)
{
  if ((int) kind < 0 || kind >= RL_SAMPLER_COUNT)
    return NULL;
  return sampler_names[kind];
}

RlStatus
rl_sampler_from_name (const char *name, RlSamplerKind *out)
{
  for (int i = 0; i < RL_SAMPLER_COUNT; i++)
    if (name != NULL && strcmp (name, sampler_names[i]) == 0)
      {
        *out = (RlSamplerKind) i;
        return RL_OK;
      }
  char valid[256] = "";
  for (int i = 0; i < RL_SAMPLER_COUNT; i++)
    {
      strncat (valid, i ? ", " : "", sizeof valid - strlen (valid) - 1);
      strncat (valid, sampler_names[i], sizeof valid - strlen (valid) - 1);
    }
  return rl_set_error (RL_E_NOT_FOUND,
                       "unknown sampler '%s'; valid samplers: %s",
                       name ? name : "(null)", valid);
}

bool
rl_sampler_discards_penultimate_sigma (RlSamplerKind kind)
{
  return kind == RL_SAMPLER_UNI_PC || kind == RL_SAMPLER_UNI_PC_BH2;
}

/* ------------------------------------------------------------ noise */

static RlStatus
torch_noise_draw (void *user, float sigma, float sigma_next, float *out,
                  size_t count)
{
  RlTorchNoise *noise = user;
  rl_torch_randn_float (&noise->generator, out, count);
  return RL_OK;
}

void
rl_torch_noise_init (RlTorchNoise *noise, uint64_t seed)
{
  rl_torch_generator_seed (&noise->generator, seed);
}

RlNoiseSource
rl_torch_noise_source (RlTorchNoise *noise)
{
  return (RlNoiseSource) { .draw = torch_noise_draw, .user = noise };
}

/* ---------------------------------------------------------- helpers */

RlStatus
sample_tensor_new (SampleRun *run, RlTensor *out)
{
  RlStatus status = rl_tensor_alloc (
      out, run->device->backend->context_allocator (run->ctx), RL_F32,
      run->x->ndim, run->x->shape);
  if (status != RL_OK)
    return rl_prefix_error (status, "sampler scratch tensor: ");
  return RL_OK;
}

RlStatus
sample_denoise (SampleRun *run, RlTensor *denoised, const RlTensor *x,
                float sigma)
{
  const RlSampleCallbacks *cb = run->callbacks;
  if (cb != NULL && cb->cancelled != NULL && cb->cancelled (cb->user))
    return rl_set_error (RL_E_CANCELLED, "sampling cancelled at sigma %g",
                         (double) sigma);
  RlStatus status = run->model->denoise (run->model->user, denoised, x, sigma);
  if (status != RL_OK)
    return rl_prefix_error (status, "model at sigma %g: ", (double) sigma);
  return RL_OK;
}

void
sample_report (SampleRun *run, int step, float sigma, const RlTensor *x,
               const RlTensor *denoised)
{
  const RlSampleCallbacks *cb = run->callbacks;
  if (cb == NULL || cb->on_step == NULL)
    return;
  RlStepInfo info = {
    .step = step, .total_steps = run->total_steps, .sigma = sigma,
    .x = x, .denoised = denoised,
  };
  cb->on_step (cb->user, &info);
}

RlStatus
sample_axpby (SampleRun *run, RlTensor *y, float alpha, const RlTensor *a,
              float beta, const RlTensor *b)
{
  return run->ops->add (run->ctx, y, a, b, alpha, beta);
}

RlStatus
sample_scale (SampleRun *run, RlTensor *y, float alpha, const RlTensor *x)
{
  return run->ops->scale_shift (run->ctx, y, x, alpha, 0.0f);
}

RlStatus
sample_draw_noise (SampleRun *run, RlTensor *out, float sigma,
                   float sigma_next)
{
  if (run->noise.draw == NULL)
    return rl_set_error (RL_E_INTERNAL, "sampler: no noise source");
  size_t count = (size_t) rl_tensor_numel (out);
  float *host = malloc (count * sizeof *host);
  if (host == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "sampler noise: no memory for %zu "
                         "floats", count);
  RlStatus status = run->noise.draw (run->noise.user, sigma, sigma_next,
                                     host, count);
  RlTensor host_view;
  if (status == RL_OK)
    status = rl_tensor_wrap (&host_view, host, rl_device_cpu (), RL_F32,
                             out->ndim, out->shape, NULL, NULL);
  if (status == RL_OK)
    status = run->device->backend->transfer (run->ctx, out, &host_view);
  free (host);
  if (status != RL_OK)
    return rl_prefix_error (status, "sampler noise: ");
  return RL_OK;
}

/* ------------------------------------------------------------ entry */

static RlStatus
check_arguments (RlSamplerKind kind, const RlSampleDevice *device,
                 const RlDenoiser *model, const RlTensor *x,
                 const float *sigmas, int count)
{
  if (rl_sampler_name (kind) == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "sampler: invalid kind %d",
                         (int) kind);
  if (device == NULL || device->backend == NULL || device->ctx == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "sampler %s: no backend/context",
                         rl_sampler_name (kind));
  if (model == NULL || model->denoise == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "sampler %s: no model callback",
                         rl_sampler_name (kind));
  if (x == NULL || x->dtype != RL_F32 || !rl_tensor_is_contiguous (x))
    return rl_set_error (RL_E_INVALID_ARG,
                         "sampler %s: x must be a contiguous float32 tensor",
                         rl_sampler_name (kind));
  if (sigmas == NULL || count < 1)
    return rl_set_error (RL_E_INVALID_ARG,
                         "sampler %s: %d sigmas; pass at least one",
                         rl_sampler_name (kind), count);
  /* No upper bound: float32 time_snr_shift puts the top of the table a
   * little above 1 for small shifts, and ComfyUI samples it as it is. */
  for (int i = 0; i < count; i++)
    if (!(sigmas[i] >= 0.0f) || isinf (sigmas[i]))
      return rl_set_error (RL_E_INVALID_ARG,
                           "sampler %s: sigma[%d] = %g; sigmas must be "
                           "finite and ≥ 0", rl_sampler_name (kind), i,
                           (double) sigmas[i]);
  return RL_OK;
}

RlStatus
rl_sample (RlSamplerKind kind, const RlSampleDevice *device,
           const RlModelSampling *model_sampling, const RlDenoiser *model,
           RlTensor *x, float *sigmas, int count,
           uint64_t seed, const RlNoiseSource *noise,
           const RlSampleCallbacks *callbacks)
{
  RlStatus status = check_arguments (kind, device, model, x, sigmas, count);
  if (status == RL_OK)
    status = rl_model_sampling_check (model_sampling);
  if (status != RL_OK)
    return status;
  /* One sigma: no step. uni_pc still rescales x (VE→VP and back, with
   * the 0 → 0.001 edit), as ComfyUI's sample_unipc does. */
  bool uni_pc = kind == RL_SAMPLER_UNI_PC || kind == RL_SAMPLER_UNI_PC_BH2;
  if (count == 1 && !uni_pc)
    return RL_OK;

  RlTorchNoise default_noise;
  RlBrownianNoise *brownian = NULL;
  SampleRun run = {
    .device = device, .ops = device->backend->ops, .ctx = device->ctx,
    .model_sampling = model_sampling, .model = model,
    .callbacks = callbacks, .x = x,
    .total_steps = count - 1,
  };
  if (noise != NULL)
    run.noise = *noise;
  else if (kind == RL_SAMPLER_DPMPP_2M_SDE)
    {
      /* BrownianTreeNoiseSampler (x, sigmas[sigmas > 0].min (),
       * sigmas.max (), seed), created before the first-sigma offset. */
      float sigma_min = 0.0f, sigma_max = 0.0f;
      for (int i = 0; i < count; i++)
        {
          if (sigmas[i] > 0.0f && (sigma_min == 0.0f || sigmas[i] < sigma_min))
            sigma_min = sigmas[i];
          if (sigmas[i] > sigma_max)
            sigma_max = sigmas[i];
        }
      status = rl_brownian_noise_new (seed, sigma_min, sigma_max,
                                      (size_t) rl_tensor_numel (x),
                                      &brownian);
      if (status != RL_OK)
        return rl_prefix_error (status, "sampler dpmpp_2m_sde: ");
      run.noise = rl_brownian_noise_source (brownian);
    }
  else
    {
      rl_torch_noise_init (&default_noise, seed);
      run.noise = rl_torch_noise_source (&default_noise);
    }

  if (uni_pc)
    status = sample_uni_pc (&run, kind == RL_SAMPLER_UNI_PC_BH2, sigmas, count);
  else
    status = sample_k_diffusion (&run, kind, sigmas, count);
  rl_brownian_noise_free (brownian);
  if (status != RL_OK && status != RL_E_CANCELLED)
    return rl_prefix_error (status, "sampler %s: ", rl_sampler_name (kind));
  return status;
}
