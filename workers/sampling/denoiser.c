/* ComfyUI's cfg_function over an RlPredictFunc (see denoiser.h). */
#include "workers/sampling/denoiser.h"

#include <math.h>

bool
rl_cfg_is_one (double cfg)
{
  /* math.isclose defaults: rel_tol 1e-9, abs_tol 0. */
  return fabs (cfg - 1.0) <= 1e-9 * fmax (fabs (cfg), 1.0);
}

static RlStatus
cfg_denoise (void *user, RlTensor *denoised, const RlTensor *x, float sigma)
{
  RlCfgGuider *guider = user;
  if (!isfinite (guider->cfg))
    return rl_set_error (RL_E_INVALID_ARG, "cfg is %g; use a finite scale "
                         "(1 disables the negative prompt)", guider->cfg);
  const RlOps *ops = guider->device.backend->ops;
  RlContext *ctx = guider->device.ctx;

  RlStatus status = guider->predict (guider->user, denoised, x, sigma,
                                     RL_COND_POSITIVE);
  guider->cond_calls++;
  if (status != RL_OK)
    return rl_prefix_error (status, "positive prediction at sigma %g: ",
                            (double) sigma);
  if (rl_cfg_is_one (guider->cfg))
    /* uncond = 0: 0 + (cond − 0) · cfg. */
    return ops->scale_shift (ctx, denoised, denoised, (float) guider->cfg,
                             0.0f);

  RlTensor uncond;
  status = rl_tensor_alloc (&uncond,
                            guider->device.backend->context_allocator (ctx),
                            RL_F32, x->ndim, x->shape);
  if (status != RL_OK)
    return rl_prefix_error (status, "cfg: negative prediction buffer: ");
  status = guider->predict (guider->user, &uncond, x, sigma, RL_COND_NEGATIVE);
  guider->uncond_calls++;
  if (status != RL_OK)
    status = rl_prefix_error (status, "negative prediction at sigma %g: ",
                              (double) sigma);
  /* uncond + (cond − uncond) · cfg, rounding as PyTorch does. */
  if (status == RL_OK)
    status = ops->add (ctx, denoised, denoised, &uncond, 1.0f, -1.0f);
  if (status == RL_OK)
    status = ops->add (ctx, denoised, &uncond, denoised, 1.0f,
                       (float) guider->cfg);
  rl_tensor_release (&uncond);
  return status;
}

RlDenoiser
rl_cfg_guider_denoiser (RlCfgGuider *guider)
{
  return (RlDenoiser) { .denoise = cfg_denoise, .user = guider };
}
