/* Samplers on the CPU backend against tests/reference/samplers.py: every
 * sampler (and KSampler / KSamplerAdvanced setting) of the fixture with the
 * same analytic toy model, initial noise and per-step noise bank, to 1e-5
 * relative; the cfg = 1 shortcut, cancel, progress, determinism of the
 * seeded noise, and invalid names. */
#include <math.h>
#include <string.h>
#include <time.h>

#include "tests/plain-test.h"
#include "tests/samplers/fixture.h"
#include "workers/sampling/ksampler.h"

#define NUMEL 128   /* latent [1, 4, 2, 4, 4] */

static const int64_t latent_shape[5] = { 1, 4, 2, 4, 4 };
static uint64_t test_seed;
static RlSafetensors *fixture;
static RlSampleDevice device;

/* ------------------------------------------------------------ toy model */

typedef struct {
  int expert;            /* 0: high-noise (A), 1: low-noise (B) */
  int calls;             /* predictions made */
  int cancel_after;      /* cancelled () is true after this many; −1 never */
} Toy;

/* The reference's toy predictions, float32 operation by operation. */
static float
toy_value (int expert, RlCondKind cond, float x, float s)
{
  if (expert == 0 && cond == RL_COND_POSITIVE)
    return tanhf (x) * (1.0f - 0.3f * s) + 0.1f * s;
  if (expert == 0)
    return tanhf (0.5f * x) * (1.0f - 0.2f * s) - 0.05f * s;
  if (cond == RL_COND_POSITIVE)
    return tanhf (1.5f * x) * (1.0f - 0.25f * s) + 0.2f * s;
  return tanhf (0.25f * x) * (1.0f - 0.1f * s) - 0.1f * s;
}

static RlStatus
toy_predict (void *user, RlTensor *denoised, const RlTensor *x, float sigma,
             RlCondKind cond)
{
  Toy *toy = user;
  toy->calls++;
  const float *in = x->data;
  float *out = denoised->data;
  for (int64_t i = 0; i < rl_tensor_numel (x); i++)
    out[i] = toy_value (toy->expert, cond, in[i], sigma);
  return RL_OK;
}

static bool
toy_cancelled (void *user)
{
  Toy *toy = user;
  return toy->cancel_after >= 0 && toy->calls >= toy->cancel_after;
}

/* ----------------------------------------------------------- noise bank */

typedef struct {
  const float *bank;
  int64_t      draws;
  int          next;
} Bank;

static RlStatus
bank_draw (void *user, float sigma, float sigma_next, float *out,
           size_t count)
{
  Bank *b = user;
  if (count != NUMEL || b->next >= b->draws)
    return rl_set_error (RL_E_INVALID_ARG, "noise bank: draw %d of %zu "
                         "floats is past the fixture's bank", b->next, count);
  memcpy (out, b->bank + (size_t) b->next * NUMEL, NUMEL * sizeof *out);
  b->next++;
  return RL_OK;
}

/* ------------------------------------------------------------- helpers */

static bool
host_tensor (RlTensor *t, const float *values)
{
  if (rl_tensor_alloc (t, device.backend->context_allocator (device.ctx),
                       RL_F32, 5, latent_shape) != RL_OK)
    return false;
  if (values != NULL)
    memcpy (t->data, values, NUMEL * sizeof (float));
  else
    memset (t->data, 0, NUMEL * sizeof (float));
  return true;
}

static double
relative_error (const float *got, const float *ref, int64_t n)
{
  double diff = 0.0, scale = 0.0;
  for (int64_t i = 0; i < n; i++)
    {
      diff = fmax (diff, fabs ((double) got[i] - ref[i]));
      scale = fmax (scale, fabs ((double) ref[i]));
    }
  return scale > 0.0 ? diff / scale : diff;
}

typedef struct {
  const char *name;
  const char *sampler;
  const char *scheduler;
  int         steps;
  double      cfg;
  double      denoise;
  double      shift;
  bool        use_latent;
} RunCase;

/* tests/reference/samplers.py RUNS, same order and values. */
static const RunCase run_cases[] = {
  { "euler", "euler", "simple", 6, 3.5, 1.0, 5.0, false },
  { "euler_ancestral", "euler_ancestral", "simple", 6, 3.5, 1.0, 5.0, false },
  { "heun", "heun", "simple", 6, 3.5, 1.0, 5.0, false },
  { "dpmpp_2m", "dpmpp_2m", "simple", 6, 3.5, 1.0, 5.0, false },
  { "dpmpp_2m_sde", "dpmpp_2m_sde", "simple", 6, 3.5, 1.0, 5.0, false },
  { "uni_pc", "uni_pc", "simple", 6, 3.5, 1.0, 5.0, false },
  { "uni_pc_bh2", "uni_pc_bh2", "simple", 6, 3.5, 1.0, 5.0, false },
  { "res_multistep", "res_multistep", "simple", 6, 3.5, 1.0, 5.0, false },
  { "lcm", "lcm", "simple", 6, 3.5, 1.0, 5.0, false },
  { "ddim", "ddim", "simple", 6, 3.5, 1.0, 5.0, false },
  { "euler_cfg1", "euler", "simple", 6, 1.0, 1.0, 5.0, false },
  { "dpmpp_2m_denoise", "dpmpp_2m", "normal", 8, 3.5, 0.6, 8.0, true },
  { "uni_pc_3", "uni_pc", "beta", 3, 3.5, 1.0, 5.0, false },
  { "uni_pc_bh2_denoise", "uni_pc_bh2", "karras", 7, 2.5, 0.75, 3.0, true },
  { "res_multistep_karras", "res_multistep", "karras", 7, 3.5, 1.0, 5.0,
    false },
  { "heun_sgm", "heun", "sgm_uniform", 5, 2.0, 1.0, 3.0, false },
  { "dpmpp_2m_sde_exp", "dpmpp_2m_sde", "exponential", 5, 3.0, 1.0, 5.0,
    false },
  { "euler_ancestral_denoise", "euler_ancestral", "ddim_uniform", 6, 3.5, 0.7,
    5.0, true },
};

/* One KSampler(Advanced) call with the fixture's noise and bank. */
typedef struct {
  const char *sampler, *scheduler;
  int         steps;
  double      cfg, denoise, shift;
  int         start_step, last_step;
  bool        force_full_denoise, add_noise;
  int         expert;
} Call;

static RlStatus
ksample (const Call *c, const float *latent_values, RlTensor *out,
         RlCfgGuider *guider_out)
{
  int64_t n;
  const float *noise = fixture_floats (fixture, "noise", &n);
  int64_t bank_n;
  const float *bank_values = fixture_floats (fixture, "bank", &bank_n);
  if (noise == NULL || bank_values == NULL)
    return rl_set_error (RL_E_NOT_FOUND, "fixture lacks noise or bank");

  RlKSamplerParams p;
  rl_ksampler_params_init (&p);
  RlStatus status = rl_sampler_from_name (c->sampler, &p.sampler);
  if (status == RL_OK)
    status = rl_scheduler_from_name (c->scheduler, &p.scheduler);
  if (status != RL_OK)
    return status;
  p.model_sampling = (RlModelSampling) { .shift = c->shift,
                                         .multiplier = 1000.0 };
  p.steps = c->steps;
  p.denoise = c->denoise;
  p.seed = 7;
  p.add_noise = c->add_noise;
  p.start_step = c->start_step;
  p.last_step = c->last_step;
  p.force_full_denoise = c->force_full_denoise;
  p.initial_noise = noise;
  Bank bank = { .bank = bank_values, .draws = bank_n / NUMEL };
  RlNoiseSource source = { .draw = bank_draw, .user = &bank };
  p.step_noise = &source;

  Toy toy = { .expert = c->expert, .cancel_after = -1 };
  RlCfgGuider guider = { .device = device, .predict = toy_predict,
                         .user = &toy, .cfg = c->cfg };
  RlDenoiser denoiser = rl_cfg_guider_denoiser (&guider);
  RlTensor latent;
  if (!host_tensor (&latent, latent_values))
    return rl_set_error (RL_E_NO_MEMORY, "latent");
  status = rl_ksampler_run (&p, &device, &denoiser, &latent, out, NULL);
  rl_tensor_release (&latent);
  if (guider_out != NULL)
    *guider_out = guider;
  return status;
}

static void
test_fixture_runs (void)
{
  PT_REQUIRE (fixture != NULL, "fixture missing");
  int64_t n;
  const float *latent = fixture_floats (fixture, "latent", &n);
  PT_REQUIRE (latent != NULL && n == NUMEL, "fixture latent");
  for (size_t k = 0; k < sizeof run_cases / sizeof run_cases[0]; k++)
    {
      const RunCase *rc = &run_cases[k];
      Call call = { rc->sampler, rc->scheduler, rc->steps, rc->cfg,
                    rc->denoise, rc->shift, -1, -1, false, true, 0 };
      RlTensor out;
      PT_REQUIRE (host_tensor (&out, NULL), "alloc");
      RlCfgGuider guider;
      RlStatus status = ksample (&call, rc->use_latent ? latent : NULL, &out,
                                 &guider);
      PT_CHECK (status == RL_OK, "%s: %s", rc->name, rl_last_error ());
      char key[96];
      snprintf (key, sizeof key, "run/%s", rc->name);
      const float *ref = fixture_floats (fixture, key, &n);
      PT_CHECK (ref != NULL && n == NUMEL, "fixture lacks %s", key);
      if (status == RL_OK && ref != NULL)
        {
          double err = relative_error (out.data, ref, NUMEL);
          fprintf (stdout, "# %-26s rel err %.3g\n", rc->name, err);
          PT_CHECK (err <= 1e-5, "%s: relative error %.3g > 1e-5", rc->name,
                    err);
        }
      snprintf (key, sizeof key, "calls/%s", rc->name);
      const RlSafetensorsTensor *calls = rl_safetensors_find (fixture, key);
      if (status == RL_OK && calls != NULL && calls->dtype == RL_I32)
        {
          int32_t expected = *(const int32_t *) calls->data;
          PT_CHECK (guider.cond_calls == expected,
                    "%s: %lld model calls, reference %d", rc->name,
                    (long long) guider.cond_calls, expected);
          int64_t expected_uncond = rl_cfg_is_one (rc->cfg) ? 0 : expected;
          PT_CHECK (guider.uncond_calls == expected_uncond,
                    "%s: %lld negative calls, expected %lld", rc->name,
                    (long long) guider.uncond_calls,
                    (long long) expected_uncond);
        }
      rl_tensor_release (&out);
    }
}

/* Two KSamplerAdvanced nodes (Wan 2.2 A14B): expert A with leftover noise,
 * then expert B on its output without new noise. */
static void
test_two_stage_expert_switch (void)
{
  PT_REQUIRE (fixture != NULL, "fixture missing");
  static const struct {
    const char *name, *sampler;
    int steps, switch_step;
  } cases[] = {
    { "two_stage_dpmpp_2m", "dpmpp_2m", 8, 4 },
    { "two_stage_euler_ancestral", "euler_ancestral", 8, 3 },
    { "two_stage_uni_pc", "uni_pc", 8, 5 },
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
    {
      Call high = { cases[k].sampler, "simple", cases[k].steps, 3.5, 1.0, 8.0,
                    0, cases[k].switch_step, false, true, 0 };
      Call low = { cases[k].sampler, "simple", cases[k].steps, 3.5, 1.0, 8.0,
                   cases[k].switch_step, 10000, true, false, 1 };
      RlTensor stage1, stage2;
      PT_REQUIRE (host_tensor (&stage1, NULL) && host_tensor (&stage2, NULL),
                  "alloc");
      RlStatus status = ksample (&high, NULL, &stage1, NULL);
      PT_CHECK (status == RL_OK, "%s stage 1: %s", cases[k].name,
                rl_last_error ());
      if (status == RL_OK)
        status = ksample (&low, stage1.data, &stage2, NULL);
      PT_CHECK (status == RL_OK, "%s stage 2: %s", cases[k].name,
                rl_last_error ());
      char key[96];
      int64_t n;
      snprintf (key, sizeof key, "stage1/%s", cases[k].name);
      const float *ref1 = fixture_floats (fixture, key, &n);
      snprintf (key, sizeof key, "run/%s", cases[k].name);
      const float *ref2 = fixture_floats (fixture, key, &n);
      PT_CHECK (ref1 != NULL && ref2 != NULL, "fixture lacks %s", key);
      if (status == RL_OK && ref1 != NULL && ref2 != NULL)
        {
          double e1 = relative_error (stage1.data, ref1, NUMEL);
          double e2 = relative_error (stage2.data, ref2, NUMEL);
          fprintf (stdout, "# %-26s stage 1 %.3g, final %.3g\n",
                   cases[k].name, e1, e2);
          PT_CHECK (e1 <= 1e-5 && e2 <= 1e-5, "%s: stage 1 %.3g final %.3g",
                    cases[k].name, e1, e2);
        }
      rl_tensor_release (&stage1);
      rl_tensor_release (&stage2);
    }
}

/* rl_ksampler_run_two_experts gives the two KSamplerAdvanced nodes' result. */
static void
test_two_experts_helper (void)
{
  PT_REQUIRE (fixture != NULL, "fixture missing");
  int64_t n;
  const float *noise = fixture_floats (fixture, "noise", &n);
  const float *bank_values = fixture_floats (fixture, "bank", &n);
  const float *ref = fixture_floats (fixture, "run/two_stage_dpmpp_2m", &n);
  PT_REQUIRE (noise && bank_values && ref, "fixture lacks two_stage_dpmpp_2m");

  RlKSamplerParams p;
  rl_ksampler_params_init (&p);
  p.sampler = RL_SAMPLER_DPMPP_2M;
  p.scheduler = RL_SCHEDULER_SIMPLE;
  p.model_sampling.shift = 8.0;
  p.steps = 8;
  p.initial_noise = noise;
  Bank bank = { .bank = bank_values, .draws = n / NUMEL };
  RlNoiseSource source = { .draw = bank_draw, .user = &bank };
  p.step_noise = &source;
  Toy high = { .expert = 0, .cancel_after = -1 };
  Toy low = { .expert = 1, .cancel_after = -1 };
  RlCfgGuider g_high = { .device = device, .predict = toy_predict,
                         .user = &high, .cfg = 3.5 };
  RlCfgGuider g_low = { .device = device, .predict = toy_predict,
                        .user = &low, .cfg = 3.5 };
  RlDenoiser d_high = rl_cfg_guider_denoiser (&g_high);
  RlDenoiser d_low = rl_cfg_guider_denoiser (&g_low);
  RlTensor latent, out;
  PT_REQUIRE (host_tensor (&latent, NULL) && host_tensor (&out, NULL),
              "alloc");
  RlStatus status = rl_ksampler_run_two_experts (&p, 4, &device, &d_high,
                                                 &d_low, &latent, &out, NULL);
  PT_CHECK (status == RL_OK, "%s", rl_last_error ());
  if (status == RL_OK)
    {
      double err = relative_error (out.data, ref, NUMEL);
      PT_CHECK (err <= 1e-5, "relative error %.3g", err);
      PT_CHECK (g_high.cond_calls == 4 && g_low.cond_calls == 4,
                "expert calls %lld + %lld, expected 4 + 4",
                (long long) g_high.cond_calls, (long long) g_low.cond_calls);
    }
  status = rl_ksampler_run_two_experts (&p, 8, &device, &d_high, &d_low,
                                        &latent, &out, NULL);
  PT_CHECK (status == RL_E_INVALID_ARG && strstr (rl_last_error (), "switch"),
            "switch at the last step: %s", rl_last_error ());
  rl_tensor_release (&latent);
  rl_tensor_release (&out);
}

/* --------------------------------------------------- behaviour checks */

typedef struct {
  int   steps_seen;
  int   last_step;
  bool  in_order;
  float last_sigma;
} Progress;

typedef struct {
  Toy      toy;        /* first: the callbacks' user pointer is &toy */
  Progress progress;
} ToyWithProgress;

static void
record_step (void *user, const RlStepInfo *info)
{
  ToyWithProgress *state = user;
  Progress *p = &state->progress;
  p->in_order = p->in_order && info->step == p->last_step + 1
                && info->denoised != NULL && info->x != NULL;
  p->last_step = info->step;
  p->last_sigma = info->sigma;
  p->steps_seen++;
}

static bool
cancelled_cb (void *user)
{
  return toy_cancelled (user);
}

/* Runs `sampler` on a random latent with the default (seeded) noise. */
static RlStatus
plain_run (const char *sampler_name, double cfg, int steps, uint64_t seed,
           ToyWithProgress *state, RlCfgGuider *guider, float *result)
{
  RlKSamplerParams p;
  rl_ksampler_params_init (&p);
  RlStatus status = rl_sampler_from_name (sampler_name, &p.sampler);
  if (status != RL_OK)
    return status;
  p.model_sampling.shift = 5.0;
  p.steps = steps;
  p.seed = seed;
  *guider = (RlCfgGuider) { .device = device, .predict = toy_predict,
                            .user = &state->toy, .cfg = cfg };
  RlDenoiser denoiser = rl_cfg_guider_denoiser (guider);
  RlSampleCallbacks callbacks = { .on_step = record_step,
                                  .cancelled = cancelled_cb,
                                  .user = &state->toy };
  RlTensor latent;
  if (!host_tensor (&latent, NULL))
    return RL_E_NO_MEMORY;
  status = rl_ksampler_run (&p, &device, &denoiser, &latent, &latent,
                            &callbacks);
  if (status == RL_OK)
    memcpy (result, latent.data, NUMEL * sizeof (float));
  rl_tensor_release (&latent);
  return status;
}

static void
test_cfg_one_calls_model_once_per_step (void)
{
  int steps = 3 + (int) (test_seed % 8);
  float result[NUMEL];
  ToyWithProgress state = { .toy = { .cancel_after = -1 },
                            .progress = { .last_step = -1, .in_order = true } };
  RlCfgGuider guider;
  RlStatus status = plain_run ("euler", 1.0, steps, test_seed, &state,
                               &guider, result);
  PT_REQUIRE (status == RL_OK, "%s", rl_last_error ());
  PT_CHECK (guider.cond_calls == steps && guider.uncond_calls == 0
            && state.toy.calls == steps,
            "cfg 1, %d steps: %lld positive, %lld negative calls", steps,
            (long long) guider.cond_calls, (long long) guider.uncond_calls);
  PT_CHECK (state.progress.steps_seen == steps && state.progress.in_order,
            "progress: %d callbacks for %d steps", state.progress.steps_seen,
            steps);

  ToyWithProgress state2 = { .toy = { .cancel_after = -1 },
                             .progress = { .last_step = -1,
                                           .in_order = true } };
  status = plain_run ("euler", 4.0, steps, test_seed, &state2, &guider, result);
  PT_REQUIRE (status == RL_OK, "%s", rl_last_error ());
  PT_CHECK (guider.cond_calls == steps && guider.uncond_calls == steps,
            "cfg 4: %lld positive, %lld negative calls",
            (long long) guider.cond_calls, (long long) guider.uncond_calls);
}

static void
test_cancel_mid_run (void)
{
  int steps = 10;
  int stop_after = 2 + (int) (test_seed % 6);
  float result[NUMEL];
  ToyWithProgress state = { .toy = { .cancel_after = stop_after },
                            .progress = { .last_step = -1, .in_order = true } };
  RlCfgGuider guider;
  RlStatus status = plain_run ("dpmpp_2m", 1.0, steps, test_seed, &state,
                               &guider, result);
  PT_CHECK (status == RL_E_CANCELLED, "status %s (%s)",
            rl_status_name (status), rl_last_error ());
  PT_CHECK (state.toy.calls == stop_after, "model ran %d times, cancel after "
            "%d", state.toy.calls, stop_after);
  PT_CHECK (state.progress.steps_seen == stop_after, "%d progress reports",
            state.progress.steps_seen);
}

/* The default sampler noise is a pure function of the seed: same seed,
 * same result on every rank; another seed, another result. */
static void
test_seeded_noise_is_deterministic (void)
{
  const char *stochastic[] = { "euler_ancestral", "dpmpp_2m_sde", "lcm" };
  for (size_t k = 0; k < 3; k++)
    {
      float a[NUMEL], b[NUMEL], c[NUMEL];
      ToyWithProgress s1 = { .toy = { .cancel_after = -1 },
                             .progress = { .last_step = -1,
                                           .in_order = true } };
      ToyWithProgress s2 = s1, s3 = s1;
      RlCfgGuider g;
      PT_REQUIRE (plain_run (stochastic[k], 2.0, 5, test_seed, &s1, &g, a)
                  == RL_OK, "%s", rl_last_error ());
      PT_REQUIRE (plain_run (stochastic[k], 2.0, 5, test_seed, &s2, &g, b)
                  == RL_OK, "%s", rl_last_error ());
      PT_REQUIRE (plain_run (stochastic[k], 2.0, 5, test_seed + 1, &s3, &g, c)
                  == RL_OK, "%s", rl_last_error ());
      PT_CHECK (memcmp (a, b, sizeof a) == 0, "%s: same seed differs",
                stochastic[k]);
      PT_CHECK (memcmp (a, c, sizeof a) != 0, "%s: seed ignored",
                stochastic[k]);
      bool finite = true;
      for (int i = 0; i < NUMEL; i++)
        finite = finite && isfinite (a[i]);
      PT_CHECK (finite, "%s: non-finite output", stochastic[k]);
    }
}

static void
test_invalid_sampler_name (void)
{
  RlSamplerKind kind;
  RlStatus status = rl_sampler_from_name ("dpmpp_2", &kind);
  PT_CHECK (status == RL_E_NOT_FOUND, "status %d", status);
  const char *message = rl_last_error ();
  PT_CHECK (strstr (message, "'dpmpp_2'") != NULL, "%s", message);
  for (int s = 0; s < RL_SAMPLER_COUNT; s++)
    PT_CHECK (strstr (message, rl_sampler_name ((RlSamplerKind) s)) != NULL,
              "message lacks %s: %s", rl_sampler_name ((RlSamplerKind) s),
              message);
  PT_CHECK (rl_sampler_from_name (NULL, &kind) == RL_E_NOT_FOUND, "NULL name");
}

static void
test_bad_sigmas_rejected (void)
{
  Toy toy = { .cancel_after = -1 };
  RlCfgGuider guider = { .device = device, .predict = toy_predict,
                         .user = &toy, .cfg = 1.0 };
  RlDenoiser denoiser = rl_cfg_guider_denoiser (&guider);
  RlModelSampling ms = { .shift = 3.0, .multiplier = 1000.0 };
  RlTensor x;
  PT_REQUIRE (host_tensor (&x, NULL), "alloc");
  float sigmas[3] = { 1.0f, NAN, 0.0f };
  RlStatus status = rl_sample (RL_SAMPLER_EULER, &device, &ms, &denoiser, &x,
                               sigmas, 3, 0, NULL, NULL);
  PT_CHECK (status == RL_E_INVALID_ARG && strstr (rl_last_error (), "sigma[1]"),
            "NaN sigma: %s", rl_last_error ());
  PT_CHECK (toy.calls == 0, "model ran on bad input");
  rl_tensor_release (&x);
}

int
main (void)
{
  test_seed = (uint64_t) time (NULL);
  fprintf (stdout, "# random seed %llu\n", (unsigned long long) test_seed);
  const RlBackend *be = rl_backend_cpu ();
  RlContext *ctx = NULL;
  if (be->context_new (0, &ctx) != RL_OK)
    {
      fprintf (stdout, "Bail out! CPU context: %s\n", rl_last_error ());
      return 1;
    }
  device = (RlSampleDevice) { .backend = be, .ctx = ctx };
  fixture = fixture_open ();

  PT_RUN (test_fixture_runs);
  PT_RUN (test_two_stage_expert_switch);
  PT_RUN (test_two_experts_helper);
  PT_RUN (test_cfg_one_calls_model_once_per_step);
  PT_RUN (test_cancel_mid_run);
  PT_RUN (test_seeded_noise_is_deterministic);
  PT_RUN (test_invalid_sampler_name);
  PT_RUN (test_bad_sigmas_rejected);

  rl_safetensors_close (fixture);
  be->context_free (ctx);
  return pt_finish ();
}
