/* dpmpp_2m_sde's Brownian-tree noise against the real thing
 * (tests/reference/samplers.py with torchsde 0.2.6 and numpy): numpy
 * SeedSequence states bit for bit, the tree's noise for every step of three
 * schedules, and a whole dpmpp_2m_sde run with the default (tree) noise. */
#include <math.h>
#include <string.h>
#include <time.h>

#include "tests/plain-test.h"
#include "tests/samplers/fixture.h"
#include "workers/sampling/brownian-tree.h"
#include "workers/sampling/ksampler.h"
#include "workers/sampling/seed-sequence.h"

#define NUMEL 128
#define BROWNIAN_SEED 0x1234567890ABull

static RlSafetensors *fixture;

/* tests/reference/samplers.py SEED_SEQUENCE_CASES */
static const struct {
  uint64_t entropy;
  uint64_t key[2];
  int      key_len;
  int      pool;
  int      words;
} seed_cases[] = {
  { 0, { 0, 0 }, 0, 4, 4 },
  { 12345, { 0, 0 }, 0, 24, 3 },
  { BROWNIAN_SEED, { 0, 0 }, 0, 24, 3 },
  { BROWNIAN_SEED, { 0, 0 }, 2, 24, 4 },
  { BROWNIAN_SEED, { 5, 3 }, 2, 24, 4 },
  { 7, { 123456, 17 }, 2, 24, 4 },
  { UINT64_MAX, { (1ull << 33) + 5, 34 }, 2, 24, 4 },
  { 99, { 1, 1 }, 2, 4, 6 },
};

static void
test_seed_sequence_matches_numpy (void)
{
  PT_REQUIRE (fixture != NULL, "fixture missing");
  for (size_t k = 0; k < sizeof seed_cases / sizeof seed_cases[0]; k++)
    {
      char name[32];
      snprintf (name, sizeof name, "seedseq/%zu", k);
      const RlSafetensorsTensor *t = rl_safetensors_find (fixture, name);
      PT_CHECK (t != NULL && t->dtype == RL_I32
                && t->numel == seed_cases[k].words, "fixture lacks %s", name);
      if (t == NULL)
        continue;
      uint32_t state[8];
      rl_seed_sequence_state (seed_cases[k].entropy, seed_cases[k].key,
                              seed_cases[k].key_len, seed_cases[k].pool,
                              state, seed_cases[k].words);
      const uint32_t *ref = t->data;
      for (int i = 0; i < seed_cases[k].words; i++)
        PT_CHECK (state[i] == ref[i], "%s word %d: %u, numpy %u", name, i,
                  state[i], ref[i]);
    }
}

/* tests/reference/samplers.py BROWNIAN_CASES */
static const struct {
  const char *scheduler;
  int         steps;
  double      shift;
  uint64_t    seed;
} brownian_cases[] = {
  { "simple", 6, 5.0, BROWNIAN_SEED },
  { "karras", 9, 3.0, 42 },
  { "beta", 20, 8.0, UINT64_MAX },
};

static void
test_tree_noise_matches_torchsde (void)
{
  PT_REQUIRE (fixture != NULL, "fixture missing");
  for (size_t k = 0; k < sizeof brownian_cases / sizeof brownian_cases[0]; k++)
    {
      char name[32];
      snprintf (name, sizeof name, "brownian/%zu", k);
      int64_t n;
      const float *ref = fixture_floats (fixture, name, &n);
      PT_CHECK (ref != NULL, "fixture lacks %s", name);
      if (ref == NULL)
        continue;
      RlScheduler scheduler;
      PT_REQUIRE (rl_scheduler_from_name (brownian_cases[k].scheduler,
                                          &scheduler) == RL_OK, "scheduler");
      RlModelSampling ms = { .shift = brownian_cases[k].shift,
                             .multiplier = 1000.0 };
      float *sigmas;
      int count;
      PT_REQUIRE (rl_ksampler_sigmas (scheduler, RL_SAMPLER_DPMPP_2M_SDE, &ms,
                                      brownian_cases[k].steps, 1.0, &sigmas,
                                      &count) == RL_OK, "%s", rl_last_error ());
      float sigma_min = 0.0f, sigma_max = 0.0f;
      for (int i = 0; i < count; i++)
        {
          if (sigmas[i] > 0.0f && (sigma_min == 0.0f || sigmas[i] < sigma_min))
            sigma_min = sigmas[i];
          sigma_max = fmaxf (sigma_max, sigmas[i]);
        }
      if (sigmas[0] >= 1.0f)
        sigmas[0] = (float) rl_model_sampling_percent_to_sigma (&ms, 1e-4);
      RlBrownianNoise *tree;
      PT_REQUIRE (rl_brownian_noise_new (brownian_cases[k].seed, sigma_min,
                                         sigma_max, NUMEL, &tree) == RL_OK,
                  "%s", rl_last_error ());
      RlNoiseSource source = rl_brownian_noise_source (tree);
      int draw = 0;
      double worst = 0.0;
      for (int i = 0; i + 1 < count; i++)
        {
          if (!(sigmas[i + 1] > 0.0f))
            continue;
          float out[NUMEL];
          RlStatus status = source.draw (source.user, sigmas[i], sigmas[i + 1],
                                         out, NUMEL);
          PT_CHECK (status == RL_OK, "%s step %d: %s", name, i,
                    rl_last_error ());
          if (status != RL_OK || (draw + 1) * NUMEL > n)
            break;
          for (int e = 0; e < NUMEL; e++)
            worst = fmax (worst,
                          fabs ((double) out[e] - ref[draw * NUMEL + e]));
          draw++;
        }
      PT_CHECK (draw * NUMEL == n, "%s: %d draws, fixture has %lld", name,
                draw, (long long) (n / NUMEL));
      fprintf (stdout, "# %s (%s, %d steps): %d draws, max |diff| %.3g\n",
               name, brownian_cases[k].scheduler, brownian_cases[k].steps,
               draw, worst);
      PT_CHECK (worst <= 1e-5, "%s: max |ours − torchsde| %.3g", name, worst);
      rl_brownian_noise_free (tree);
      free (sigmas);
    }
}

static float
toy_value (RlCondKind cond, float x, float s)
{
  if (cond == RL_COND_POSITIVE)
    return tanhf (x) * (1.0f - 0.3f * s) + 0.1f * s;
  return tanhf (0.5f * x) * (1.0f - 0.2f * s) - 0.05f * s;
}

static RlStatus
toy_predict (void *user, RlTensor *denoised, const RlTensor *x, float sigma,
             RlCondKind cond)
{
  const float *in = x->data;
  float *out = denoised->data;
  for (int64_t i = 0; i < rl_tensor_numel (x); i++)
    out[i] = toy_value (cond, in[i], sigma);
  return RL_OK;
}

static void
test_sde_run_with_tree_noise (void)
{
  PT_REQUIRE (fixture != NULL, "fixture missing");
  int64_t n;
  const float *noise = fixture_floats (fixture, "noise", &n);
  const float *ref = fixture_floats (fixture, "run/dpmpp_2m_sde_brownian", &n);
  PT_REQUIRE (noise != NULL && ref != NULL, "fixture lacks the run");

  const RlBackend *be = rl_backend_cpu ();
  RlContext *ctx;
  PT_REQUIRE (be->context_new (0, &ctx) == RL_OK, "%s", rl_last_error ());
  RlSampleDevice device = { be, ctx };
  RlKSamplerParams p;
  rl_ksampler_params_init (&p);
  p.sampler = RL_SAMPLER_DPMPP_2M_SDE;
  p.scheduler = RL_SCHEDULER_SIMPLE;
  p.model_sampling.shift = 5.0;
  p.steps = 6;
  p.seed = BROWNIAN_SEED;
  p.initial_noise = noise;
  RlCfgGuider guider = { .device = device, .predict = toy_predict,
                         .cfg = 3.5 };
  RlDenoiser denoiser = rl_cfg_guider_denoiser (&guider);
  static const int64_t shape[5] = { 1, 4, 2, 4, 4 };
  RlTensor latent;
  PT_REQUIRE (rl_tensor_alloc (&latent, be->context_allocator (ctx), RL_F32,
                               5, shape) == RL_OK, "alloc");
  memset (latent.data, 0, NUMEL * sizeof (float));
  RlStatus status = rl_ksampler_run (&p, &device, &denoiser, &latent, &latent,
                                     NULL);
  PT_CHECK (status == RL_OK, "%s", rl_last_error ());
  if (status == RL_OK)
    {
      double diff = 0.0, scale = 0.0;
      const float *got = latent.data;
      for (int i = 0; i < NUMEL; i++)
        {
          diff = fmax (diff, fabs ((double) got[i] - ref[i]));
          scale = fmax (scale, fabs ((double) ref[i]));
        }
      fprintf (stdout, "# dpmpp_2m_sde with tree noise: rel err %.3g\n",
               diff / scale);
      PT_CHECK (diff / scale <= 1e-5, "relative error %.3g", diff / scale);
    }
  rl_tensor_release (&latent);
  be->context_free (ctx);
}

/* Property on fresh random seeds: a draw is a pure function of (seed,
 * interval) — the same query gives the same numbers whatever was asked
 * before — and is roughly standard normal. */
static void
test_tree_is_query_order_independent (void)
{
  uint64_t seed = (uint64_t) time (NULL) * 2654435761u;
  fprintf (stdout, "# random seed %llu\n", (unsigned long long) seed);
  enum { COUNT = 4096 };
  static float a[COUNT], b[COUNT], c[COUNT];
  RlBrownianNoise *t1, *t2;
  PT_REQUIRE (rl_brownian_noise_new (seed, 0.01f, 1.0f, COUNT, &t1) == RL_OK
              && rl_brownian_noise_new (seed, 0.01f, 1.0f, COUNT, &t2)
                   == RL_OK, "%s", rl_last_error ());
  RlNoiseSource s1 = rl_brownian_noise_source (t1);
  RlNoiseSource s2 = rl_brownian_noise_source (t2);
  PT_REQUIRE (s1.draw (s1.user, 0.8f, 0.6f, a, COUNT) == RL_OK, "draw");
  PT_REQUIRE (s2.draw (s2.user, 0.3f, 0.1f, c, COUNT) == RL_OK, "draw");
  PT_REQUIRE (s2.draw (s2.user, 0.8f, 0.6f, b, COUNT) == RL_OK, "draw");
  PT_CHECK (memcmp (a, b, sizeof a) == 0, "query order changed a draw");
  double mean = 0.0, var = 0.0;
  for (int i = 0; i < COUNT; i++)
    mean += a[i] / COUNT;
  for (int i = 0; i < COUNT; i++)
    var += (a[i] - mean) * (a[i] - mean) / COUNT;
  PT_CHECK (fabs (mean) < 0.1 && fabs (var - 1.0) < 0.15,
            "mean %g variance %g", mean, var);
  rl_brownian_noise_free (t1);
  rl_brownian_noise_free (t2);
}

int
main (void)
{
  fixture = fixture_open ();
  PT_RUN (test_seed_sequence_matches_numpy);
  PT_RUN (test_tree_noise_matches_torchsde);
  PT_RUN (test_sde_run_with_tree_noise);
  PT_RUN (test_tree_is_query_order_independent);
  rl_safetensors_close (fixture);
  return pt_finish ();
}
