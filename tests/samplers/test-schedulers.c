/* Schedulers and KSampler sigma lists against the PyTorch/scipy fixture
 * (tests/reference/samplers.py): every scheduler at ten (steps, denoise,
 * shift, sampler) settings to 1e-6 relative, plus properties on random
 * settings, the beta quantile, the KSamplerAdvanced window and name
 * lookup errors. */
#include <math.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "tests/plain-test.h"
#include "tests/samplers/fixture.h"
#include "workers/sampling/beta-distribution.h"
#include "workers/sampling/ksampler.h"

static uint64_t test_seed;

static double
uniform (void)
{
  /* xorshift64* on the per-run seed */
  test_seed ^= test_seed >> 12;
  test_seed ^= test_seed << 25;
  test_seed ^= test_seed >> 27;
  return (double) ((test_seed * 2685821657736338717ull) >> 11) * 0x1p-53;
}

static void
test_fixture_sigmas (void)
{
  RlSafetensors *st = fixture_open ();
  PT_REQUIRE (st != NULL, "fixture missing");
  int64_t n_settings;
  const float *settings = fixture_floats (st, "sigma_settings", &n_settings);
  PT_REQUIRE (settings != NULL && n_settings % 4 == 0, "sigma_settings");
  n_settings /= 4;
  int compared = 0;
  double worst_overall = 0.0;
  for (int s = 0; s < RL_SCHEDULER_COUNT; s++)
    for (int k = 0; k < n_settings; k++)
      {
        const float *row = settings + 4 * k;
        char name[96];
        snprintf (name, sizeof name, "sigmas/%s/%d",
                  rl_scheduler_name ((RlScheduler) s), k);
        int64_t ref_count;
        const float *ref = fixture_floats (st, name, &ref_count);
        PT_CHECK (ref != NULL, "fixture lacks %s", name);
        if (ref == NULL)
          continue;
        RlModelSampling ms = { .shift = row[2], .multiplier = 1000.0 };
        RlSamplerKind sampler = row[3] != 0.0f ? RL_SAMPLER_UNI_PC
                                               : RL_SAMPLER_EULER;
        float *sigmas;
        int count;
        RlStatus status = rl_ksampler_sigmas ((RlScheduler) s, sampler, &ms,
                                              (int) row[0], (double) row[1],
                                              &sigmas, &count);
        /* ComfyUI's NaN schedules (kl_optimal at 1 step) are errors here */
        bool ref_nan = false;
        for (int64_t i = 0; i < ref_count; i++)
          ref_nan = ref_nan || isnan (ref[i]);
        if (ref_nan)
          {
            PT_CHECK (status == RL_E_INVALID_ARG, "%s: NaN reference, "
                      "status %s", name, rl_status_name (status));
            compared++;
            if (status == RL_OK)
              free (sigmas);
            continue;
          }
        PT_CHECK (status == RL_OK, "%s: %s", name, rl_last_error ());
        if (status != RL_OK)
          continue;
        PT_CHECK (count == ref_count, "%s: %d sigmas, reference %lld", name,
                  count, (long long) ref_count);
        double worst = 0.0;
        int worst_at = -1;
        for (int i = 0; i < count && i < ref_count; i++)
          {
            double err = fabs ((double) sigmas[i] - ref[i]);
            double rel = ref[i] != 0.0f ? err / fabs (ref[i])
                                        : (err == 0.0 ? 0.0 : INFINITY);
            if (rel > worst)
              {
                worst = rel;
                worst_at = i;
              }
          }
        PT_CHECK (worst <= 1e-6, "%s (steps %g denoise %g shift %g %s): "
                  "sigma[%d] = %.9g, reference %.9g (rel %.3g)", name,
                  row[0], row[1], row[2], rl_sampler_name (sampler), worst_at,
                  worst_at >= 0 ? sigmas[worst_at] : 0.0,
                  worst_at >= 0 ? ref[worst_at] : 0.0, worst);
        compared++;
        worst_overall = fmax (worst_overall, worst);
        free (sigmas);
      }
  fprintf (stdout, "# compared %d schedules, worst relative error %.3g\n",
           compared, worst_overall);
  PT_CHECK (compared == RL_SCHEDULER_COUNT * n_settings, "compared %d",
            compared);
  rl_safetensors_close (st);
}

/* Random (steps, shift, denoise): every schedule starts at or below 1, never
 * increases, ends in 0, and has steps + 1 entries where ComfyUI's does. */
static void
test_random_schedules_are_monotone (void)
{
  for (int trial = 0; trial < 40; trial++)
    {
      int steps = 1 + (int) (uniform () * 60);
      double shift = 0.3 + uniform () * 15.0;
      double denoise = uniform () < 0.5 ? 1.0 : 0.2 + 0.79 * uniform ();
      RlModelSampling ms = { .shift = shift, .multiplier = 1000.0 };
      for (int s = 0; s < RL_SCHEDULER_COUNT; s++)
        {
          float *sigmas;
          int count;
          RlStatus status = rl_ksampler_sigmas ((RlScheduler) s,
                                                RL_SAMPLER_EULER, &ms, steps,
                                                denoise, &sigmas, &count);
          int schedule_steps = denoise > 0.9999 ? steps
                                                : (int) (steps / denoise);
          if (s == RL_SCHEDULER_KL_OPTIMAL && schedule_steps < 2)
            {
              PT_CHECK (status == RL_E_INVALID_ARG, "kl_optimal, 1 step");
              continue;
            }
          PT_REQUIRE (status == RL_OK, "%s", rl_last_error ());
          const char *name = rl_scheduler_name ((RlScheduler) s);
          /* float32 time_snr_shift may put the top a few ulps above 1 */
          PT_CHECK (count >= 2 && sigmas[0] <= 1.000001f
                    && sigmas[count - 1] == 0.0f,
                    "%s steps %d shift %g: count %d first %g last %g", name,
                    steps, shift, count, count ? sigmas[0] : 0.0,
                    count ? sigmas[count - 1] : 0.0);
          for (int i = 1; i < count; i++)
            PT_CHECK (sigmas[i] <= sigmas[i - 1], "%s steps %d shift %g: "
                      "sigma[%d] %g > sigma[%d] %g", name, steps, shift, i,
                      sigmas[i], i - 1, sigmas[i - 1]);
          bool exact_length = s != RL_SCHEDULER_BETA
                              && s != RL_SCHEDULER_DDIM_UNIFORM;
          if (exact_length)
            PT_CHECK (count == steps + 1, "%s: %d sigmas for %d steps", name,
                      count, steps);
          free (sigmas);
        }
    }
}

static void
test_beta_quantile_inverts_cdf (void)
{
  for (int i = 0; i < 200; i++)
    {
      double p = uniform ();
      double a = 0.2 + 3.0 * uniform (), b = 0.2 + 3.0 * uniform ();
      double x = rl_beta_ppf (p, a, b);
      double back = rl_beta_cdf (x, a, b);
      /* Where the cdf is steep (x near 0 or 1 with a or b small) the best
       * double x may miss p by more than 1e-12: then p must lie between
       * the cdf a few ulps either side of x. */
      double ulps = 8.0 * (nextafter (x, 2.0) - x);
      bool bracketed = rl_beta_cdf (x - ulps, a, b) <= p
                       && p <= rl_beta_cdf (x + ulps, a, b);
      PT_CHECK (fabs (back - p) <= 1e-12 || bracketed, "a %g b %g p %.17g: "
                "ppf %.17g cdf back %.17g", a, b, p, x, back);
    }
  /* Beta(1, 1) is uniform; Beta(2, 1) has cdf x². */
  PT_CHECK (fabs (rl_beta_ppf (0.3, 1.0, 1.0) - 0.3) < 1e-14, "uniform");
  PT_CHECK (fabs (rl_beta_ppf (0.25, 2.0, 1.0) - 0.5) < 1e-14, "x^2");
  PT_CHECK (rl_beta_ppf (0.5, 0.6, 0.6) == 0.5, "symmetric median");
}

static void
test_window (void)
{
  /* KSamplerAdvanced: start 2, end 4 of 6 steps, leftover noise kept. */
  float sigmas[7] = { 1.0f, 0.9f, 0.8f, 0.7f, 0.6f, 0.5f, 0.0f };
  int count = 7, first;
  rl_ksampler_window (sigmas, &count, 2, 4, false, &first);
  PT_CHECK (first == 2 && count == 3 && sigmas[4] == 0.6f,
            "first %d count %d last %g", first, count,
            sigmas[first + count - 1]);

  float full[7] = { 1.0f, 0.9f, 0.8f, 0.7f, 0.6f, 0.5f, 0.0f };
  count = 7;
  rl_ksampler_window (full, &count, 0, 3, true, &first);
  PT_CHECK (first == 0 && count == 4 && full[3] == 0.0f,
            "force_full_denoise: count %d last %g", count, full[3]);

  float past[7] = { 1.0f, 0.9f, 0.8f, 0.7f, 0.6f, 0.5f, 0.0f };
  count = 7;
  rl_ksampler_window (past, &count, 6, 10000, true, &first);
  PT_CHECK (count == 0, "start past the end must return the latent");

  float none[7] = { 1.0f, 0.9f, 0.8f, 0.7f, 0.6f, 0.5f, 0.0f };
  count = 7;
  rl_ksampler_window (none, &count, -1, -1, false, &first);
  PT_CHECK (first == 0 && count == 7, "KSampler: whole list");
}

static void
test_denoise_zero_gives_no_sigmas (void)
{
  RlModelSampling ms = { .shift = 5.0, .multiplier = 1000.0 };
  float *sigmas = (float *) &ms;
  int count = -1;
  PT_CHECK (rl_ksampler_sigmas (RL_SCHEDULER_SIMPLE, RL_SAMPLER_EULER, &ms,
                                10, 0.0, &sigmas, &count) == RL_OK
            && count == 0 && sigmas == NULL, "count %d", count);
}

static void
test_invalid_names (void)
{
  RlScheduler scheduler;
  RlStatus status = rl_scheduler_from_name ("simplex", &scheduler);
  PT_CHECK (status == RL_E_NOT_FOUND, "status %d", status);
  const char *message = rl_last_error ();
  PT_CHECK (strstr (message, "simplex") != NULL, "%s", message);
  for (int s = 0; s < RL_SCHEDULER_COUNT; s++)
    PT_CHECK (strstr (message, rl_scheduler_name ((RlScheduler) s)) != NULL,
              "message lacks %s: %s", rl_scheduler_name ((RlScheduler) s),
              message);
  PT_CHECK (rl_scheduler_from_name ("beta", &scheduler) == RL_OK
            && scheduler == RL_SCHEDULER_BETA, "beta");

  RlModelSampling bad = { .shift = -1.0, .multiplier = 1000.0 };
  float *sigmas;
  int count;
  status = rl_scheduler_sigmas (RL_SCHEDULER_SIMPLE, &bad, 10, &sigmas, &count);
  PT_CHECK (status == RL_E_INVALID_ARG && strstr (rl_last_error (), "shift"),
            "negative shift: %s", rl_last_error ());
  RlModelSampling ok = { .shift = 3.0, .multiplier = 1000.0 };
  status = rl_scheduler_sigmas (RL_SCHEDULER_SIMPLE, &ok, 0, &sigmas, &count);
  PT_CHECK (status == RL_E_INVALID_ARG && strstr (rl_last_error (), "steps"),
            "0 steps: %s", rl_last_error ());
}

int
main (void)
{
  test_seed = (uint64_t) time (NULL) * 0x9E3779B97F4A7C15ull | 1u;
  fprintf (stdout, "# random seed %llu\n", (unsigned long long) test_seed);
  PT_RUN (test_fixture_sigmas);
  PT_RUN (test_random_schedules_are_monotone);
  PT_RUN (test_beta_quantile_inverts_cdf);
  PT_RUN (test_window);
  PT_RUN (test_denoise_zero_gives_no_sigmas);
  PT_RUN (test_invalid_names);
  return pt_finish ();
}
