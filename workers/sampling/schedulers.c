/* ComfyUI's schedulers for flow models (see schedulers.h). Float32 steps
 * follow PyTorch's CPU kernels (linspace's two-sided formula, float32
 * tensor–scalar arithmetic); the beta scheduler runs in double like numpy
 * and scipy. */
#include "workers/sampling/schedulers.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "workers/sampling/beta-distribution.h"

static const char *const scheduler_names[RL_SCHEDULER_COUNT] = {
  [RL_SCHEDULER_SIMPLE]       = "simple",
  [RL_SCHEDULER_SGM_UNIFORM]  = "sgm_uniform",
  [RL_SCHEDULER_KARRAS]       = "karras",
  [RL_SCHEDULER_EXPONENTIAL]  = "exponential",
  [RL_SCHEDULER_DDIM_UNIFORM] = "ddim_uniform",
  [RL_SCHEDULER_BETA]         = "beta",
  [RL_SCHEDULER_NORMAL]       = "normal",
  [RL_SCHEDULER_LINEAR_QUADRATIC] = "linear_quadratic",
  [RL_SCHEDULER_KL_OPTIMAL]   = "kl_optimal",
};

const char *
rl_scheduler_name (RlScheduler scheduler)
{
  if ((int) scheduler < 0 || scheduler >= RL_SCHEDULER_COUNT)
    return NULL;
  return scheduler_names[scheduler];
}

RlStatus
rl_scheduler_from_name (const char *name, RlScheduler *out)
{
  for (int i = 0; i < RL_SCHEDULER_COUNT; i++)
    if (name != NULL && strcmp (name, scheduler_names[i]) == 0)
      {
        *out = (RlScheduler) i;
        return RL_OK;
      }
  char valid[256] = "";
  for (int i = 0; i < RL_SCHEDULER_COUNT; i++)
    {
      strncat (valid, i ? ", " : "", sizeof valid - strlen (valid) - 1);
      strncat (valid, scheduler_names[i], sizeof valid - strlen (valid) - 1);
    }
  return rl_set_error (RL_E_NOT_FOUND,
                       "unknown scheduler '%s'; valid schedulers: %s",
                       name ? name : "(null)", valid);
}

/* torch.linspace (start, end, n) on float32 (ATen's CPU kernel: the first
 * half counts up from start, the second half down from end). */
static void
linspace_f32 (float start, float end, int n, float *out)
{
  if (n == 1)
    {
      out[0] = start;
      return;
    }
  float step = (end - start) / (float) (n - 1);
  int halfway = n / 2;
  for (int i = 0; i < n; i++)
    out[i] = i < halfway ? start + step * (float) i
                         : end - step * (float) (n - i - 1);
}

typedef struct {
  float *values;
  int    count;
  int    capacity;
} SigmaList;

static RlStatus
sigma_list_push (SigmaList *list, float value)
{
  if (list->count == list->capacity)
    {
      int capacity = list->capacity ? 2 * list->capacity : 16;
      float *grown = realloc (list->values, (size_t) capacity * sizeof *grown);
      if (grown == NULL)
        return rl_set_error (RL_E_NO_MEMORY,
                             "scheduler: no memory for %d sigmas", capacity);
      list->values = grown;
      list->capacity = capacity;
    }
  list->values[list->count++] = value;
  return RL_OK;
}

/* sigs[x] = table[-(1 + int(x · 1000/steps))], then 0. */
static RlStatus
simple_sigmas (const float *table, int steps, SigmaList *list)
{
  double stride = (double) RL_FLOW_TABLE_SIZE / steps;
  RlStatus status = RL_OK;
  for (int x = 0; x < steps && status == RL_OK; x++)
    {
      int index = (int) (x * stride);
      status = sigma_list_push (list, table[RL_FLOW_TABLE_SIZE - 1 - index]);
    }
  return status == RL_OK ? sigma_list_push (list, 0.0f) : status;
}

/* table[1], table[1 + s], ... with s = max(1000 // steps, 1), reversed,
 * after a 0 (ComfyUI's ddim_scheduler; the "table[1] ≈ 0" branch cannot
 * happen for a flow table but is kept for fidelity). */
static RlStatus
ddim_uniform_sigmas (const float *table, int steps, SigmaList *list)
{
  RlStatus status = RL_OK;
  bool leading_zero = !(fabs ((double) table[1]) <= 0.00001);
  if (!leading_zero)
    steps += 1;
  if (leading_zero)
    status = sigma_list_push (list, 0.0f);
  int stride = RL_FLOW_TABLE_SIZE / steps;
  if (stride < 1)
    stride = 1;
  for (int x = 1; x < RL_FLOW_TABLE_SIZE && status == RL_OK; x += stride)
    status = sigma_list_push (list, table[x]);
  if (status != RL_OK)
    return status;
  for (int i = 0, j = list->count - 1; i < j; i++, j--)
    {
      float swap = list->values[i];
      list->values[i] = list->values[j];
      list->values[j] = swap;
    }
  return RL_OK;
}

/* normal_scheduler: sigma (linspace (timestep (σmax), timestep (σmin), n))
 * with n = steps (+0 appended), or for sgm_uniform steps + 1 points with
 * the last dropped. */
static RlStatus
normal_sigmas (const RlModelSampling *ms, const float *table, int steps,
               bool sgm, SigmaList *list)
{
  float start = rl_model_sampling_timestep (ms, table[RL_FLOW_TABLE_SIZE - 1]);
  float end = rl_model_sampling_timestep (ms, table[0]);
  bool append_zero = true;
  int points = steps;
  int used = steps;
  if (sgm)
    {
      points = steps + 1;
      used = steps;
    }
  else if (fabs ((double) rl_model_sampling_sigma (ms, end)) <= 0.00001)
    {
      points = used = steps + 1;
      append_zero = false;
    }
  float *timesteps = malloc ((size_t) points * sizeof *timesteps);
  if (timesteps == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "scheduler: no memory for %d steps",
                         points);
  linspace_f32 (start, end, points, timesteps);
  RlStatus status = RL_OK;
  for (int i = 0; i < used && status == RL_OK; i++)
    status = sigma_list_push (list, rl_model_sampling_sigma (ms, timesteps[i]));
  free (timesteps);
  if (status == RL_OK && append_zero)
    status = sigma_list_push (list, 0.0f);
  return status;
}

/* get_sigmas_karras (n, σmin, σmax, rho = 7) with Python-double σ bounds
 * and float32 tensor arithmetic. */
static RlStatus
karras_sigmas (const float *table, int steps, SigmaList *list)
{
  double sigma_min = table[0], sigma_max = table[RL_FLOW_TABLE_SIZE - 1];
  const double rho = 7.0;
  double min_inv_rho = pow (sigma_min, 1.0 / rho);
  double max_inv_rho = pow (sigma_max, 1.0 / rho);
  float *ramp = malloc ((size_t) steps * sizeof *ramp);
  if (ramp == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "scheduler: no memory for %d steps",
                         steps);
  linspace_f32 (0.0f, 1.0f, steps, ramp);
  RlStatus status = RL_OK;
  for (int i = 0; i < steps && status == RL_OK; i++)
    {
      float base = (float) max_inv_rho
                   + ramp[i] * (float) (min_inv_rho - max_inv_rho);
      status = sigma_list_push (list, powf (base, (float) rho));
    }
  free (ramp);
  return status == RL_OK ? sigma_list_push (list, 0.0f) : status;
}

/* get_sigmas_exponential: exp (linspace (log σmax, log σmin, n)). */
static RlStatus
exponential_sigmas (const float *table, int steps, SigmaList *list)
{
  double sigma_min = table[0], sigma_max = table[RL_FLOW_TABLE_SIZE - 1];
  float *ramp = malloc ((size_t) steps * sizeof *ramp);
  if (ramp == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "scheduler: no memory for %d steps",
                         steps);
  linspace_f32 ((float) log (sigma_max), (float) log (sigma_min), steps, ramp);
  RlStatus status = RL_OK;
  for (int i = 0; i < steps && status == RL_OK; i++)
    status = sigma_list_push (list, expf (ramp[i]));
  free (ramp);
  return status == RL_OK ? sigma_list_push (list, 0.0f) : status;
}

/* beta_scheduler (alpha = beta = 0.6): table indices
 * rint (ppf (1 − i/steps) · 999), consecutive repeats dropped, then 0. */
static RlStatus
beta_sigmas (const float *table, int steps, SigmaList *list)
{
  const double alpha = 0.6, beta = 0.6;
  const double last_index = RL_FLOW_TABLE_SIZE - 1;
  double step = 1.0 / steps;
  double last_t = -1.0;
  RlStatus status = RL_OK;
  for (int i = 0; i < steps && status == RL_OK; i++)
    {
      double p = 1.0 - ((double) i * step + 0.0);
      double t = nearbyint (rl_beta_ppf (p, alpha, beta) * last_index);
      if (t != last_t)
        status = sigma_list_push (list, table[(int) t]);
      last_t = t;
    }
  return status == RL_OK ? sigma_list_push (list, 0.0f) : status;
}

/* linear_quadratic_schedule (threshold_noise 0.025, linear_steps =
 * steps // 2) in Python doubles, then float32 times sigma_max. */
static RlStatus
linear_quadratic_sigmas (const float *table, int steps, SigmaList *list)
{
  float sigma_max = table[RL_FLOW_TABLE_SIZE - 1];
  if (steps == 1)
    {
      RlStatus status = sigma_list_push (list, 1.0f * sigma_max);
      return status == RL_OK ? sigma_list_push (list, 0.0f * sigma_max)
                             : status;
    }
  const double threshold = 0.025;
  int linear_steps = steps / 2;
  double step_diff = linear_steps - threshold * steps;
  int quadratic_steps = steps - linear_steps;
  double quadratic_coef = step_diff / ((double) linear_steps
                                       * ((double) quadratic_steps
                                          * quadratic_steps));
  double linear_coef = threshold / linear_steps
                       - 2 * step_diff / ((double) quadratic_steps
                                          * quadratic_steps);
  double constant = quadratic_coef * ((double) linear_steps * linear_steps);
  RlStatus status = RL_OK;
  for (int i = 0; i < steps && status == RL_OK; i++)
    {
      double x = i < linear_steps
                   ? i * threshold / linear_steps
                   : quadratic_coef * ((double) i * i) + linear_coef * i
                       + constant;
      status = sigma_list_push (list, (float) (1.0 - x) * sigma_max);
    }
  return status == RL_OK ? sigma_list_push (list, (float) (1.0 - 1.0)
                                                  * sigma_max)
                         : status;
}

/* kl_optimal_scheduler: tan (a·atan σmin + (1 − a)·atan σmax) on float32
 * with a = i/(n − 1), then 0. */
static RlStatus
kl_optimal_sigmas (const float *table, int steps, SigmaList *list)
{
  if (steps < 2)
    return rl_set_error (RL_E_INVALID_ARG, "kl_optimal needs at least 2 "
                         "steps (ComfyUI divides by steps − 1)");
  float atan_min = (float) atan ((double) table[0]);
  float atan_max = (float) atan ((double) table[RL_FLOW_TABLE_SIZE - 1]);
  RlStatus status = RL_OK;
  for (int i = 0; i < steps && status == RL_OK; i++)
    {
      float a = (float) i / (float) (steps - 1);
      status = sigma_list_push (list, tanf (a * atan_min
                                            + (1.0f - a) * atan_max));
    }
  return status == RL_OK ? sigma_list_push (list, 0.0f) : status;
}

RlStatus
rl_scheduler_sigmas (RlScheduler scheduler, const RlModelSampling *ms,
                     int steps, float **sigmas, int *count)
{
  *sigmas = NULL;
  *count = 0;
  RlStatus status = rl_model_sampling_check (ms);
  if (status != RL_OK)
    return status;
  if (steps < 1)
    return rl_set_error (RL_E_INVALID_ARG,
                         "scheduler: %d steps; use at least 1", steps);
  if (rl_scheduler_name (scheduler) == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "scheduler: invalid value %d",
                         (int) scheduler);

  float table[RL_FLOW_TABLE_SIZE];
  rl_model_sampling_table (ms, table);
  SigmaList list = { 0 };
  switch (scheduler)
    {
    case RL_SCHEDULER_SIMPLE:
      status = simple_sigmas (table, steps, &list);
      break;
    case RL_SCHEDULER_SGM_UNIFORM:
      status = normal_sigmas (ms, table, steps, true, &list);
      break;
    case RL_SCHEDULER_KARRAS:
      status = karras_sigmas (table, steps, &list);
      break;
    case RL_SCHEDULER_EXPONENTIAL:
      status = exponential_sigmas (table, steps, &list);
      break;
    case RL_SCHEDULER_DDIM_UNIFORM:
      status = ddim_uniform_sigmas (table, steps, &list);
      break;
    case RL_SCHEDULER_BETA:
      status = beta_sigmas (table, steps, &list);
      break;
    case RL_SCHEDULER_LINEAR_QUADRATIC:
      status = linear_quadratic_sigmas (table, steps, &list);
      break;
    case RL_SCHEDULER_KL_OPTIMAL:
      status = kl_optimal_sigmas (table, steps, &list);
      break;
    case RL_SCHEDULER_NORMAL:
    default:
      status = normal_sigmas (ms, table, steps, false, &list);
      break;
    }
  if (status != RL_OK)
    {
      free (list.values);
      return rl_prefix_error (status, "scheduler %s: ",
                              rl_scheduler_name (scheduler));
    }
  *sigmas = list.values;
  *count = list.count;
  return RL_OK;
}
