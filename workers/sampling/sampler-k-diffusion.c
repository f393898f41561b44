/* The k-diffusion samplers of ComfyUI for flow (CONST) models: euler
 * (and ddim, which is euler unless an inpainting mask is used), euler
 * ancestral (the _RF variant, eta = 1, s_noise = 1), heun, dpmpp_2m,
 * dpmpp_2m_sde (midpoint, eta = 1, s_noise = 1), res_multistep (eta = 0)
 * and lcm. Scalar coefficients are float32, in the order ComfyUI's 0-dim
 * tensor expressions evaluate them; tensor updates are one or two
 * axpby ops each. Built with -ffp-contract=off. */
#include <math.h>

#include "workers/sampling/model-sampling.h"
#include "workers/sampling/sampler-private.h"

#define SCRATCH_COUNT 4

typedef struct {
  RlTensor t[SCRATCH_COUNT];
  int      count;
} Scratch;

static RlStatus
scratch_init (SampleRun *run, Scratch *s, int count)
{
  s->count = 0;
  for (int i = 0; i < count; i++)
    {
      RlStatus status = sample_tensor_new (run, &s->t[i]);
      if (status != RL_OK)
        return status;
      s->count++;
    }
  return RL_OK;
}

static void
scratch_release (Scratch *s)
{
  for (int i = 0; i < s->count; i++)
    rl_tensor_release (&s->t[i]);
  s->count = 0;
}

/* x += (x − den)/σ · dt, ComfyUI's to_d and Euler step. */
static RlStatus
euler_update (SampleRun *run, RlTensor *x, RlTensor *d, const RlTensor *den,
              float sigma, float dt)
{
  RlStatus status = sample_axpby (run, d, 1.0f, x, -1.0f, den);
  if (status == RL_OK)
    status = sample_scale (run, d, 1.0f / sigma, d);
  if (status == RL_OK)
    status = sample_axpby (run, x, 1.0f, x, dt, d);
  return status;
}

static RlStatus
run_euler (SampleRun *run, const float *sigmas, int count, Scratch *s)
{
  RlTensor *x = run->x, *den = &s->t[0], *d = &s->t[1];
  for (int i = 0; i < count - 1; i++)
    {
      RlStatus status = sample_denoise (run, den, x, sigmas[i]);
      if (status != RL_OK)
        return status;
      sample_report (run, i, sigmas[i], x, den);
      status = euler_update (run, x, d, den, sigmas[i],
                             sigmas[i + 1] - sigmas[i]);
      if (status != RL_OK)
        return status;
    }
  return RL_OK;
}

static RlStatus
run_euler_ancestral (SampleRun *run, const float *sigmas, int count,
                     Scratch *s)
{
  const float eta = 1.0f, s_noise = 1.0f;
  RlTensor *x = run->x, *den = &s->t[0], *noise = &s->t[1];
  for (int i = 0; i < count - 1; i++)
    {
      float sigma = sigmas[i], next = sigmas[i + 1];
      RlStatus status = sample_denoise (run, den, x, sigma);
      if (status != RL_OK)
        return status;
      sample_report (run, i, sigma, x, den);
      if (next == 0.0f)
        {
          status = run->ops->copy (run->ctx, x, den);
          if (status != RL_OK)
            return status;
          continue;
        }
      float downstep_ratio = 1.0f + (next / sigma - 1.0f) * eta;
      float sigma_down = next * downstep_ratio;
      float alpha_next = 1.0f - next;
      float alpha_down = 1.0f - sigma_down;
      float renoise = sqrtf (next * next
                             - sigma_down * sigma_down
                               * (alpha_next * alpha_next)
                               / (alpha_down * alpha_down));
      float ratio = sigma_down / sigma;
      status = sample_axpby (run, x, ratio, x, 1.0f - ratio, den);
      if (status == RL_OK)
        status = sample_draw_noise (run, noise, sigma, next);
      if (status == RL_OK)
        status = sample_axpby (run, x, alpha_next / alpha_down, x,
                               s_noise * renoise, noise);
      if (status != RL_OK)
        return status;
    }
  return RL_OK;
}

static RlStatus
run_heun (SampleRun *run, const float *sigmas, int count, Scratch *s)
{
  RlTensor *x = run->x, *den = &s->t[0], *d = &s->t[1], *x2 = &s->t[2],
           *d2 = &s->t[3];
  for (int i = 0; i < count - 1; i++)
    {
      float sigma = sigmas[i], next = sigmas[i + 1];
      float dt = next - sigma;
      RlStatus status = sample_denoise (run, den, x, sigma);
      if (status != RL_OK)
        return status;
      sample_report (run, i, sigma, x, den);
      status = sample_axpby (run, d, 1.0f, x, -1.0f, den);
      if (status == RL_OK)
        status = sample_scale (run, d, 1.0f / sigma, d);
      if (status != RL_OK)
        return status;
      if (next == 0.0f)
        {
          status = sample_axpby (run, x, 1.0f, x, dt, d);
          if (status != RL_OK)
            return status;
          continue;
        }
      status = sample_axpby (run, x2, 1.0f, x, dt, d);
      if (status == RL_OK)
        status = sample_denoise (run, den, x2, next);
      if (status == RL_OK)
        status = sample_axpby (run, d2, 1.0f, x2, -1.0f, den);
      if (status == RL_OK)
        status = sample_scale (run, d2, 1.0f / next, d2);
      /* d' = (d + d2)/2 ; x += d'·dt */
      if (status == RL_OK)
        status = sample_axpby (run, d, 0.5f, d, 0.5f, d2);
      if (status == RL_OK)
        status = sample_axpby (run, x, 1.0f, x, dt, d);
      if (status != RL_OK)
        return status;
    }
  return RL_OK;
}

static float
neg_log (float sigma)
{
  return -logf (sigma);
}

static RlStatus
run_dpmpp_2m (SampleRun *run, const float *sigmas, int count, Scratch *s)
{
  RlTensor *x = run->x, *den = &s->t[0], *old = &s->t[1], *mix = &s->t[2];
  bool have_old = false;
  for (int i = 0; i < count - 1; i++)
    {
      float sigma = sigmas[i], next = sigmas[i + 1];
      RlStatus status = sample_denoise (run, den, x, sigma);
      if (status != RL_OK)
        return status;
      sample_report (run, i, sigma, x, den);
      float t = neg_log (sigma), t_next = neg_log (next);
      float h = t_next - t;
      float ratio = expf (-t_next) / expf (-t);
      float coeff = -expm1f (-h);
      if (!have_old || next == 0.0f)
        status = sample_axpby (run, x, ratio, x, coeff, den);
      else
        {
          float h_last = t - neg_log (sigmas[i - 1]);
          float r = h_last / h;
          float c_new = 1.0f + 1.0f / (2.0f * r);
          float c_old = 1.0f / (2.0f * r);
          status = sample_axpby (run, mix, c_new, den, -c_old, old);
          if (status == RL_OK)
            status = sample_axpby (run, x, ratio, x, coeff, mix);
        }
      if (status == RL_OK)
        status = run->ops->copy (run->ctx, old, den);
      if (status != RL_OK)
        return status;
      have_old = true;
    }
  return RL_OK;
}

/* −logit (σ): the half log-SNR of a CONST model. */
static float
half_log_snr (float sigma)
{
  return -logf (sigma / (1.0f - sigma));
}

static RlStatus
run_dpmpp_2m_sde (SampleRun *run, const float *in_sigmas, int count,
                  Scratch *s)
{
  const float eta = 1.0f, s_noise = 1.0f;
  RlTensor *x = run->x, *den = &s->t[0], *old = &s->t[1], *diff = &s->t[2],
           *noise = &s->t[3];
  /* offset_first_sigma_for_snr: σ0 ≥ 1 becomes percent_to_sigma (1e-4),
   * on a copy; the model sees the offset sigma too. */
  float first = in_sigmas[0];
  if (count > 1 && first >= 1.0f)
    {
      first = (float) rl_model_sampling_percent_to_sigma (run->model_sampling,
                                                          1e-4);
    }
  bool have_old = false;
  float h = 0.0f, h_last = 0.0f;
  for (int i = 0; i < count - 1; i++)
    {
      float sigma = i == 0 ? first : in_sigmas[i], next = in_sigmas[i + 1];
      RlStatus status = sample_denoise (run, den, x, sigma);
      if (status != RL_OK)
        return status;
      sample_report (run, i, sigma, x, den);
      if (next == 0.0f)
        status = run->ops->copy (run->ctx, x, den);
      else
        {
          float lambda_s = half_log_snr (sigma), lambda_t = half_log_snr (next);
          h = lambda_t - lambda_s;
          float h_eta = h * (eta + 1.0f);
          float alpha_t = next * expf (lambda_t);
          float decay = next / sigma * expf (-h * eta);
          float gain = alpha_t * -expm1f (-h_eta);
          status = sample_axpby (run, x, decay, x, gain, den);
          if (status == RL_OK && have_old)
            {
              float r = h_last / h;
              float c = 0.5f * alpha_t * -expm1f (-h_eta) * (1.0f / r);
              status = sample_axpby (run, diff, 1.0f, den, -1.0f, old);
              if (status == RL_OK)
                status = sample_axpby (run, x, 1.0f, x, c, diff);
            }
          if (status == RL_OK)
            status = sample_draw_noise (run, noise, sigma, next);
          if (status == RL_OK)
            {
              float c = next * sqrtf (-expm1f (-2.0f * h * eta)) * s_noise;
              status = sample_axpby (run, x, 1.0f, x, c, noise);
            }
        }
      if (status == RL_OK)
        status = run->ops->copy (run->ctx, old, den);
      if (status != RL_OK)
        return status;
      have_old = true;
      h_last = h;
    }
  return RL_OK;
}

static RlStatus
run_res_multistep (SampleRun *run, const float *sigmas, int count,
                   Scratch *s)
{
  RlTensor *x = run->x, *den = &s->t[0], *old = &s->t[1], *mix = &s->t[2];
  bool have_old = false;
  float old_sigma_down = 0.0f;
  for (int i = 0; i < count - 1; i++)
    {
      float sigma = sigmas[i];
      float sigma_down = sigmas[i + 1];   /* eta = 0: no ancestral split */
      RlStatus status = sample_denoise (run, den, x, sigma);
      if (status != RL_OK)
        return status;
      sample_report (run, i, sigma, x, den);
      if (sigma_down == 0.0f || !have_old)
        status = euler_update (run, x, mix, den, sigma, sigma_down - sigma);
      else
        {
          float t = neg_log (sigma), t_old = neg_log (old_sigma_down);
          float t_next = neg_log (sigma_down), t_prev = neg_log (sigmas[i - 1]);
          float h = t_next - t;
          float c2 = (t_prev - t_old) / h;
          float phi1 = expm1f (-h) / -h;
          float phi2 = (phi1 - 1.0f) / -h;
          float b1 = phi1 - phi2 / c2;
          float b2 = phi2 / c2;
          if (isnan (b1))
            b1 = 0.0f;
          if (isnan (b2))
            b2 = 0.0f;
          status = sample_axpby (run, mix, b1, den, b2, old);
          if (status == RL_OK)
            status = sample_axpby (run, x, expf (-h), x, h, mix);
        }
      /* sigma_up = 0: ComfyUI adds noise · 0, which changes nothing. */
      if (status == RL_OK)
        status = run->ops->copy (run->ctx, old, den);
      if (status != RL_OK)
        return status;
      have_old = true;
      old_sigma_down = sigma_down;
    }
  return RL_OK;
}

static RlStatus
run_lcm (SampleRun *run, const float *sigmas, int count, Scratch *s)
{
  RlTensor *x = run->x, *den = &s->t[0], *noise = &s->t[1];
  for (int i = 0; i < count - 1; i++)
    {
      float next = sigmas[i + 1];
      RlStatus status = sample_denoise (run, den, x, sigmas[i]);
      if (status != RL_OK)
        return status;
      sample_report (run, i, sigmas[i], x, den);
      if (next > 0.0f)
        {
          /* noise_scaling (σ', noise, denoised) = σ'·noise + (1 − σ')·den */
          status = sample_draw_noise (run, noise, sigmas[i], next);
          if (status == RL_OK)
            status = sample_axpby (run, x, next, noise, 1.0f - next, den);
        }
      else
        status = run->ops->copy (run->ctx, x, den);
      if (status != RL_OK)
        return status;
    }
  return RL_OK;
}

RlStatus
sample_k_diffusion (SampleRun *run, RlSamplerKind kind, float *sigmas,
                    int count)
{
  Scratch scratch;
  RlStatus status = scratch_init (run, &scratch, SCRATCH_COUNT);
  if (status == RL_OK)
    switch (kind)
      {
      case RL_SAMPLER_EULER:
      case RL_SAMPLER_DDIM:
        status = run_euler (run, sigmas, count, &scratch);
        break;
      case RL_SAMPLER_EULER_ANCESTRAL:
        status = run_euler_ancestral (run, sigmas, count, &scratch);
        break;
      case RL_SAMPLER_HEUN:
        status = run_heun (run, sigmas, count, &scratch);
        break;
      case RL_SAMPLER_DPMPP_2M:
        status = run_dpmpp_2m (run, sigmas, count, &scratch);
        break;
      case RL_SAMPLER_DPMPP_2M_SDE:
        status = run_dpmpp_2m_sde (run, sigmas, count, &scratch);
        break;
      case RL_SAMPLER_RES_MULTISTEP:
        status = run_res_multistep (run, sigmas, count, &scratch);
        break;
      case RL_SAMPLER_LCM:
        status = run_lcm (run, sigmas, count, &scratch);
        break;
      default:
        status = rl_set_error (RL_E_INTERNAL, "sampler %d is not a "
                               "k-diffusion sampler", (int) kind);
        break;
      }
  scratch_release (&scratch);
  return status;
}
