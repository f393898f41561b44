/* UniPC (comfy/extra_samplers/uni_pc.py) as ComfyUI runs it for every
 * model type: sigmas are treated as VE times and mapped to a VP schedule
 * (SigmaConvert), the model is wrapped into a noise predictor
 * (predict_eps_sigma) and then into a data predictor, and the multistep
 * predictor-corrector of multistep_uni_pc_bh_update runs with
 * order = min(3, len(sigmas) − 2), lower_order_final, no corrector on the
 * last step, B(h) = h (bh1) or expm1(h) (bh2). Scalars in float32 like the
 * 0-dim tensors of the original; the small linear systems are solved by
 * LU with partial pivoting in float32 (torch.linalg.solve). */
#include <math.h>

#include "workers/sampling/sampler-private.h"

#define MAX_ORDER 3

/* SigmaConvert's marginals of a VE sigma t. */
typedef struct {
  float log_mean;   /* 0.5·log(1/(t² + 1)) */
  float alpha;      /* exp(log_mean) */
  float std;        /* sqrt(1 − exp(2·log_mean)) */
  float lambda;     /* log_mean − 0.5·log(1 − exp(2·log_mean)) */
} Marginal;

static Marginal
marginal_of (float t)
{
  Marginal m;
  m.log_mean = 0.5f * logf (1.0f / (t * t + 1.0f));
  float e2 = expf (2.0f * m.log_mean);
  m.alpha = expf (m.log_mean);
  m.std = sqrtf (1.0f - e2);
  m.lambda = m.log_mean - 0.5f * logf (1.0f - e2);
  return m;
}

/* Solves a·x = b (n ≤ 3) by Gaussian elimination with partial pivoting. */
static void
solve_small (int n, float a[MAX_ORDER][MAX_ORDER], float *b, float *x)
{
  for (int col = 0; col < n; col++)
    {
      int pivot = col;
      for (int row = col + 1; row < n; row++)
        if (fabsf (a[row][col]) > fabsf (a[pivot][col]))
          pivot = row;
      if (pivot != col)
        {
          for (int k = 0; k < n; k++)
            {
              float swap = a[col][k];
              a[col][k] = a[pivot][k];
              a[pivot][k] = swap;
            }
          float swap = b[col];
          b[col] = b[pivot];
          b[pivot] = swap;
        }
      for (int row = col + 1; row < n; row++)
        {
          float factor = a[row][col] / a[col][col];
          for (int k = col; k < n; k++)
            a[row][k] -= factor * a[col][k];
          b[row] -= factor * b[col];
        }
    }
  for (int row = n - 1; row >= 0; row--)
    {
      float sum = b[row];
      for (int k = row + 1; k < n; k++)
        sum -= a[row][k] * x[k];
      x[row] = sum / a[row][row];
    }
}

typedef struct {
  SampleRun *run;
  bool       bh2;
  RlTensor   pool[MAX_ORDER + 1];   /* model outputs: history + one free */
  RlTensor   x_base;                /* x_t_ */
  RlTensor   d1[MAX_ORDER - 1];
  RlTensor   acc;
  RlTensor   input;
  RlTensor   denoised;
  int        allocated;
  RlTensor  *history[MAX_ORDER];    /* model_prev_list */
  float      t_history[MAX_ORDER];  /* t_prev_list */
  int        length;
  RlTensor  *spare;                 /* the pool entry not in history */
} UniPc;

static RlStatus
unipc_alloc (UniPc *u)
{
  RlTensor *all[] = { &u->pool[0], &u->pool[1], &u->pool[2], &u->pool[3],
                      &u->x_base, &u->d1[0], &u->d1[1], &u->acc, &u->input,
                      &u->denoised };
  u->allocated = 0;
  for (int i = 0; i < (int) (sizeof all / sizeof all[0]); i++)
    {
      RlStatus status = sample_tensor_new (u->run, all[i]);
      if (status != RL_OK)
        return status;
      u->allocated++;
    }
  return RL_OK;
}

static void
unipc_release (UniPc *u)
{
  RlTensor *all[] = { &u->pool[0], &u->pool[1], &u->pool[2], &u->pool[3],
                      &u->x_base, &u->d1[0], &u->d1[1], &u->acc, &u->input,
                      &u->denoised };
  for (int i = 0; i < u->allocated; i++)
    rl_tensor_release (all[i]);
}

/* A pool entry not referenced by the history. */
static RlTensor *
unipc_free_slot (UniPc *u)
{
  for (int p = 0; p < MAX_ORDER + 1; p++)
    {
      bool used = false;
      for (int i = 0; i < u->length; i++)
        used = used || u->history[i] == &u->pool[p];
      if (!used)
        return &u->pool[p];
    }
  return NULL;
}

/* Data prediction x0 (x, t) into `out`: the model sees x·sqrt(t² + 1). */
static RlStatus
unipc_model (UniPc *u, RlTensor *out, const RlTensor *x, float t)
{
  SampleRun *run = u->run;
  RlStatus status = sample_scale (run, &u->input, sqrtf (t * t + 1.0f), x);
  if (status == RL_OK)
    status = sample_denoise (run, &u->denoised, &u->input, t);
  /* eps = (input − denoised)/t */
  if (status == RL_OK)
    status = sample_axpby (run, &u->denoised, 1.0f, &u->input, -1.0f,
                           &u->denoised);
  if (status == RL_OK)
    status = sample_scale (run, &u->denoised, 1.0f / t, &u->denoised);
  /* x0 = (x − std·eps)/alpha */
  Marginal m = marginal_of (t);
  if (status == RL_OK)
    status = sample_axpby (run, out, 1.0f, x, -m.std, &u->denoised);
  if (status == RL_OK)
    status = sample_scale (run, out, 1.0f / m.alpha, out);
  return status;
}

/* multistep_uni_pc_bh_update: moves run->x to time t with the history;
 * with the corrector, *model_t receives the model at the predicted point
 * (a free pool entry), otherwise NULL. */
static RlStatus
unipc_update (UniPc *u, float t, int order, bool use_corrector,
              RlTensor **model_t)
{
  SampleRun *run = u->run;
  RlTensor *x = run->x;
  *model_t = NULL;
  int last = u->length - 1;
  RlTensor *m0 = u->history[last];
  Marginal prev0 = marginal_of (u->t_history[last]);
  Marginal now = marginal_of (t);
  float alpha_t = expf (now.log_mean);
  float h = now.lambda - prev0.lambda;

  float rks[MAX_ORDER];
  RlStatus status = RL_OK;
  for (int i = 1; i < order && status == RL_OK; i++)
    {
      Marginal prev_i = marginal_of (u->t_history[last - i]);
      float rk = (prev_i.lambda - prev0.lambda) / h;
      rks[i - 1] = rk;
      status = sample_axpby (run, &u->d1[i - 1], 1.0f, u->history[last - i],
                             -1.0f, m0);
      if (status == RL_OK)
        status = sample_scale (run, &u->d1[i - 1], 1.0f / rk, &u->d1[i - 1]);
    }
  if (status != RL_OK)
    return status;
  rks[order - 1] = 1.0f;

  float hh = -h;
  float h_phi_1 = expm1f (hh);
  float h_phi_k = h_phi_1 / hh - 1.0f;
  float b_h = u->bh2 ? expm1f (hh) : hh;
  float r[MAX_ORDER][MAX_ORDER], b[MAX_ORDER];
  long factorial = 1;
  for (int i = 1; i <= order; i++)
    {
      for (int k = 0; k < order; k++)
        r[i - 1][k] = i == 1 ? 1.0f : i == 2 ? rks[k] : rks[k] * rks[k];
      b[i - 1] = h_phi_k * (float) factorial / b_h;
      factorial *= i + 1;
      h_phi_k = h_phi_k / hh - (float) (1.0 / (double) factorial);
    }

  int history_terms = order - 1;
  bool use_predictor = history_terms > 0;
  float rhos_p[MAX_ORDER] = { 0 }, rhos_c[MAX_ORDER] = { 0 };
  if (use_predictor)
    {
      if (order == 2)
        rhos_p[0] = 0.5f;
      else
        {
          float sub[MAX_ORDER][MAX_ORDER], rhs[MAX_ORDER];
          for (int i = 0; i < history_terms; i++)
            {
              for (int k = 0; k < history_terms; k++)
                sub[i][k] = r[i][k];
              rhs[i] = b[i];
            }
          solve_small (history_terms, sub, rhs, rhos_p);
        }
    }
  if (use_corrector)
    {
      if (order == 1)
        rhos_c[0] = 0.5f;
      else
        {
          float full[MAX_ORDER][MAX_ORDER], rhs[MAX_ORDER];
          for (int i = 0; i < order; i++)
            {
              for (int k = 0; k < order; k++)
                full[i][k] = r[i][k];
              rhs[i] = b[i];
            }
          solve_small (order, full, rhs, rhos_c);
        }
    }

  /* x_t_ = (σ_t/σ_prev0)·x − (α_t·hφ1)·m0 */
  status = sample_axpby (run, &u->x_base, now.std / prev0.std, x,
                         -(alpha_t * h_phi_1), m0);
  float step = alpha_t * b_h;
  if (status == RL_OK && use_predictor)
    {
      status = sample_scale (run, &u->acc, rhos_p[0], &u->d1[0]);
      for (int k = 1; k < history_terms && status == RL_OK; k++)
        status = sample_axpby (run, &u->acc, 1.0f, &u->acc, rhos_p[k],
                               &u->d1[k]);
      if (status == RL_OK)
        status = sample_axpby (run, x, 1.0f, &u->x_base, -step, &u->acc);
    }
  else if (status == RL_OK)
    status = run->ops->copy (run->ctx, x, &u->x_base);
  if (status != RL_OK || !use_corrector)
    return status;

  RlTensor *out = unipc_free_slot (u);
  status = unipc_model (u, out, x, t);
  /* x_t = x_t_ − α_t·B(h)·(Σ rhos_c[k]·D1[k] + rhos_c[-1]·(model_t − m0)) */
  if (status == RL_OK)
    status = sample_axpby (run, &u->acc, rhos_c[order - 1], out,
                           -rhos_c[order - 1], m0);
  for (int k = 0; k < history_terms && status == RL_OK; k++)
    status = sample_axpby (run, &u->acc, 1.0f, &u->acc, rhos_c[k], &u->d1[k]);
  if (status == RL_OK)
    status = sample_axpby (run, x, 1.0f, &u->x_base, -step, &u->acc);
  if (status == RL_OK)
    *model_t = out;
  return status;
}

/* The history shift of the main loop: drop the oldest entry, append. */
static void
unipc_push_shifted (UniPc *u, int order, float t, RlTensor *model)
{
  for (int i = 0; i < order - 1; i++)
    {
      u->t_history[i] = u->t_history[i + 1];
      u->history[i] = u->history[i + 1];
    }
  u->t_history[u->length - 1] = t;
  if (model != NULL)
    u->history[u->length - 1] = model;
}

static RlStatus
unipc_loop (UniPc *u, const float *timesteps, int count)
{
  SampleRun *run = u->run;
  int steps = count - 1;
  int order = count - 2 < MAX_ORDER ? count - 2 : MAX_ORDER;
  RlStatus status = RL_OK;
  for (int step_index = 0; step_index < steps && status == RL_OK;
       step_index++)
    {
      if (step_index == 0)
        {
          status = unipc_model (u, &u->pool[0], run->x, timesteps[0]);
          u->history[0] = &u->pool[0];
          u->t_history[0] = timesteps[0];
          u->length = 1;
        }
      else if (step_index < order)
        {
          RlTensor *model_x;
          float t = timesteps[step_index];
          status = unipc_update (u, t, step_index, true, &model_x);
          if (status != RL_OK)
            break;
          u->history[u->length] = model_x;
          u->t_history[u->length] = t;
          u->length++;
        }
      else
        {
          int last_step = step_index == steps - 1 ? steps : step_index;
          for (int step = step_index; step <= last_step && status == RL_OK;
               step++)
            {
              float t = timesteps[step];
              int remaining = steps + 1 - step;
              int step_order = order < remaining ? order : remaining;
              bool use_corrector = step != steps;
              RlTensor *model_x;
              status = unipc_update (u, t, step_order, use_corrector,
                                     &model_x);
              if (status != RL_OK)
                break;
              if (step < steps && model_x == NULL)
                {
                  model_x = unipc_free_slot (u);
                  status = unipc_model (u, model_x, run->x, t);
                }
              unipc_push_shifted (u, order, t,
                                  step < steps ? model_x : NULL);
            }
        }
      if (status == RL_OK)
        sample_report (run, step_index, timesteps[step_index], run->x,
                       u->history[u->length - 1]);
    }
  return status;
}

RlStatus
sample_uni_pc (SampleRun *run, bool bh2, float *sigmas, int count)
{
  /* ComfyUI: timesteps = sigmas[:] (a view) and timesteps[-1] = 0.001. */
  if (sigmas[count - 1] == 0.0f)
    sigmas[count - 1] = 0.001f;
  const float *timesteps = sigmas;

  UniPc u = { .run = run, .bh2 = bh2 };
  RlStatus status = unipc_alloc (&u);
  if (status == RL_OK)
    status = sample_scale (run, run->x,
                           1.0f / sqrtf (1.0f + timesteps[0] * timesteps[0]),
                           run->x);
  if (status == RL_OK)
    status = unipc_loop (&u, timesteps, count);
  if (status == RL_OK)
    status = sample_scale (run, run->x,
                           1.0f / marginal_of (timesteps[count - 1]).alpha,
                           run->x);
  unipc_release (&u);
  return status;
}
