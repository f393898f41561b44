/* Flow model sampling in float32 (see model-sampling.h). Built with
 * -ffp-contract=off: every operation rounds on its own, as PyTorch's
 * elementwise kernels do. */
#include "workers/sampling/model-sampling.h"

#include <math.h>
#include <stddef.h>

RlStatus
rl_model_sampling_check (const RlModelSampling *ms)
{
  if (ms == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "model sampling: missing (NULL)");
  if (!isfinite (ms->shift) || ms->shift <= 0.0)
    return rl_set_error (RL_E_INVALID_ARG,
                         "model sampling: shift %g is invalid; use a finite "
                         "value > 0 (ModelSamplingSD3 default 3.0, Wan 5-8)",
                         ms->shift);
  if (!isfinite (ms->multiplier) || ms->multiplier <= 0.0)
    return rl_set_error (RL_E_INVALID_ARG,
                         "model sampling: multiplier %g is invalid; use 1000 "
                         "(SD3, Wan) or 1.0", ms->multiplier);
  return RL_OK;
}

/* time_snr_shift (alpha, t) with t a float32 tensor and alpha a Python
 * float: alpha·t and (alpha − 1)·t use alpha rounded to float32. */
static float
time_snr_shift_f32 (double alpha, float t)
{
  if (alpha == 1.0)
    return t;
  float numerator = (float) alpha * t;
  float denominator = 1.0f + (float) (alpha - 1.0) * t;
  return numerator / denominator;
}

float
rl_model_sampling_sigma (const RlModelSampling *ms, float timestep)
{
  return time_snr_shift_f32 (ms->shift, timestep / (float) ms->multiplier);
}

float
rl_model_sampling_timestep (const RlModelSampling *ms, float sigma)
{
  return sigma * (float) ms->multiplier;
}

void
rl_model_sampling_table (const RlModelSampling *ms, float *table)
{
  /* (torch.arange (1, 1001) / 1000) * multiplier, then sigma (). */
  for (int i = 0; i < RL_FLOW_TABLE_SIZE; i++)
    {
      float t = (float) (i + 1) / (float) RL_FLOW_TABLE_SIZE;
      table[i] = rl_model_sampling_sigma (ms, t * (float) ms->multiplier);
    }
}

double
rl_model_sampling_percent_to_sigma (const RlModelSampling *ms, double percent)
{
  if (percent <= 0.0)
    return 1.0;
  if (percent >= 1.0)
    return 0.0;
  double t = 1.0 - percent;
  if (ms->shift == 1.0)
    return t;
  return ms->shift * t / (1.0 + (ms->shift - 1.0) * t);
}
