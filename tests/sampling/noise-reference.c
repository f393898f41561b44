/* The straightforward implementation of torch.manual_seed + torch.randn
 * (float32, CPU generator) that workers/sampling/noise.c replaced with bulk
 * twister passes and vectorised Box-Muller: one tempered word at a time, one
 * 16-block at a time, scalar Cephes polynomials with explicit fmaf. Kept here
 * as the reference the fast code must match bit for bit (it was itself
 * checked element by element against PyTorch by
 * tests/reference/check_noise.py). Its only change: batch_index with empty
 * samples returns before a 0-byte memcpy from NULL (undefined behaviour,
 * found by UBSan; no value changes). Compiled with -ffp-contract=off. */
#include "tests/sampling/noise-reference.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { MT_N = RL_MT19937_STATE_WORDS, MT_M = 397 };

void
reference_generator_seed (RlTorchGenerator *gen, uint64_t seed)
{
  gen->state[0] = (uint32_t) (seed & 0xffffffffu);
  for (uint32_t j = 1; j < MT_N; j++) {
    uint32_t prev = gen->state[j - 1];
    gen->state[j] = 1812433253u * (prev ^ (prev >> 30)) + j;
  }
  /* Forces a twist before the first output, as torch's left_ = 1 does. */
  gen->next = MT_N;
  gen->has_cached_normal = 0;
  gen->cached_normal = 0.0;
}

static void
mt_twist (RlTorchGenerator *gen)
{
  uint32_t *s = gen->state;
  for (int k = 0; k < MT_N; k++) {
    uint32_t y = (s[k] & 0x80000000u) | (s[(k + 1) % MT_N] & 0x7fffffffu);
    uint32_t mag = (y & 1u) ? 0x9908b0dfu : 0u;
    s[k] = s[(k + MT_M) % MT_N] ^ (y >> 1) ^ mag;
  }
  gen->next = 0;
}

uint32_t
reference_generator_random (RlTorchGenerator *gen)
{
  if (gen->next >= MT_N)
    mt_twist (gen);
  uint32_t y = gen->state[gen->next++];
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  y ^= y >> 18;
  return y;
}

uint64_t
reference_generator_random64 (RlTorchGenerator *gen)
{
  uint64_t hi = reference_generator_random (gen);
  uint64_t lo = reference_generator_random (gen);
  return (hi << 32) | lo;
}

/* at::uniform_real_distribution<float>(0, 1): low 24 bits of one draw. */
static float
uniform_float (RlTorchGenerator *gen)
{
  return (float) (reference_generator_random (gen) & 0xffffffu) * 0x1p-24f;
}

/* at::uniform_real_distribution<double>(0, 1): low 53 bits of random64. */
static double
uniform_double (RlTorchGenerator *gen)
{
  return (double) (reference_generator_random64 (gen) & ((UINT64_C (1) << 53) - 1)) * 0x1p-53;
}

static float
bits_to_float (uint32_t bits)
{
  float f;
  memcpy (&f, &bits, sizeof f);
  return f;
}

static uint32_t
float_to_bits (float f)
{
  uint32_t bits;
  memcpy (&bits, &f, sizeof bits);
  return bits;
}

/* avx_mathfun's log256_ps for one lane, x in (0, 1] (no denormals, no
 * negative input in this use). */
static float
cephes_logf (float x)
{
  const float sqrthf = 0.707106781186547524f;
  const float p[9] = { 7.0376836292E-2f, -1.1514610310E-1f, 1.1676998740E-1f,
                       -1.2420140846E-1f, 1.4249322787E-1f, -1.6668057665E-1f,
                       2.0000714765E-1f, -2.4999993993E-1f, 3.3333331174E-1f };
  const float q1 = -2.12194440e-4f;
  const float q2 = 0.693359375f;

  if (x < 0x1p-126f)
    x = 0x1p-126f;
  uint32_t bits = float_to_bits (x);
  float e = (float) ((int32_t) (bits >> 23) - 0x7f);
  e = e + 1.0f;
  x = bits_to_float ((bits & ~0x7f800000u) | float_to_bits (0.5f));

  float tmp = x < sqrthf ? x : 0.0f;
  e = e - (x < sqrthf ? 1.0f : 0.0f);
  x = x - 1.0f;
  x = x + tmp;

  float z = x * x;
  float y = p[0];
  for (int k = 1; k < 9; k++)
    y = fmaf (y, x, p[k]);
  y = y * x;
  float eq1 = e * q1;
  y = fmaf (y, z, eq1);
  y = fmaf (-z, 0.5f, y);
  x = x + y;
  return fmaf (e, q2, x);
}

/* avx_mathfun's sincos256_ps for one lane, x ≥ 0 and well below 8192. */
static void
cephes_sincosf (float x, float *sin_out, float *cos_out)
{
  const float fopi = 1.27323954473516f;
  const float dp1 = -0.78515625f, dp2 = -2.4187564849853515625e-4f,
              dp3 = -3.77489497744594108e-8f;
  const float sin_p0 = -1.9515295891E-4f, sin_p1 = 8.3321608736E-3f,
              sin_p2 = -1.6666654611E-1f;
  const float cos_p0 = 2.443315711809948E-005f, cos_p1 = -1.388731625493765E-003f,
              cos_p2 = 4.166664568298827E-002f;

  uint32_t sign_sin = float_to_bits (x) & 0x80000000u;
  x = fabsf (x);
  int32_t j = (int32_t) (x * fopi);
  j = (j + 1) & ~1;
  float y = (float) j;
  uint32_t swap_sin = ((uint32_t) j & 4u) << 29;
  int use_cos_poly_for_sin = ((uint32_t) j & 2u) != 0;
  uint32_t sign_cos = (~(uint32_t) (j - 2) & 4u) << 29;
  sign_sin ^= swap_sin;

  x = fmaf (y, dp1, x);
  x = fmaf (y, dp2, x);
  x = fmaf (y, dp3, x);

  float z = x * x;
  float c = cos_p0;
  c = fmaf (c, z, cos_p1);
  c = fmaf (c, z, cos_p2);
  c = c * z;
  float half_z = z * 0.5f;
  c = fmaf (c, z, -half_z);
  c = c + 1.0f;

  float s = sin_p0;
  s = fmaf (s, z, sin_p1);
  s = fmaf (s, z, sin_p2);
  s = s * z;
  s = fmaf (s, x, x);

  float sin_v = use_cos_poly_for_sin ? c : s;
  float cos_v = use_cos_poly_for_sin ? s : c;
  *sin_out = bits_to_float (float_to_bits (sin_v) ^ sign_sin);
  *cos_out = bits_to_float (float_to_bits (cos_v) ^ sign_cos);
}

/* normal_fill_16_AVX2 with mean 0, std 1: data[j] holds the uniform u1 and
 * data[j + 8] the uniform u2 of pair j on entry, the two normals on exit. */
void
reference_box_muller_16 (float *data)
{
  const float two_pi = (float) (2.0 * 3.14159265358979323846);
  for (int j = 0; j < 8; j++) {
    float u1 = 1.0f - data[j];
    float u2 = data[j + 8];
    float radius = sqrtf (-2.0f * cephes_logf (u1));
    float theta = two_pi * u2;
    float sin_t, cos_t;
    cephes_sincosf (theta, &sin_t, &cos_t);
    data[j] = fmaf (radius * cos_t, 1.0f, 0.0f);
    data[j + 8] = fmaf (radius * sin_t, 1.0f, 0.0f);
  }
}

/* at::normal_distribution<double> (0, 1) with the generator's cache. */
static double
normal_double (RlTorchGenerator *gen)
{
  if (gen->has_cached_normal) {
    gen->has_cached_normal = 0;
    return gen->cached_normal;
  }
  double u1 = uniform_double (gen);
  double u2 = uniform_double (gen);
  double r = sqrt (-2.0 * log1p (-u2));
  double theta = 2.0 * 3.14159265358979323846 * u1;
  gen->cached_normal = r * sin (theta);
  gen->has_cached_normal = 1;
  return r * cos (theta);
}

void
reference_randn_float (RlTorchGenerator *gen, float *out, size_t count)
{
  if (count < 16) {
    for (size_t i = 0; i < count; i++)
      out[i] = (float) normal_double (gen);
    return;
  }
  for (size_t i = 0; i < count; i++)
    out[i] = uniform_float (gen);
  for (size_t i = 0; i + 16 <= count; i += 16)
    reference_box_muller_16 (out + i);
  if (count % 16 != 0) {
    float *tail = out + count - 16;
    for (int i = 0; i < 16; i++)
      tail[i] = uniform_float (gen);
    reference_box_muller_16 (tail);
  }
}

RlStatus
reference_noise_prepare (uint64_t seed, const int64_t *shape, int ndim,
                  const int64_t *batch_index, float *out)
{
  if (shape == NULL || out == NULL || ndim < 1)
    return rl_set_error (RL_E_INVALID_ARG, "noise: a latent shape with at least one dimension is needed");
  size_t per_sample = 1;
  for (int d = 1; d < ndim; d++) {
    if (shape[d] < 0)
      return rl_set_error (RL_E_INVALID_ARG, "noise: latent dimension %d is negative (%lld)",
                           d, (long long) shape[d]);
    per_sample *= (size_t) shape[d];
  }
  if (shape[0] < 0)
    return rl_set_error (RL_E_INVALID_ARG, "noise: latent batch size is negative (%lld)",
                         (long long) shape[0]);
  size_t batch = (size_t) shape[0];

  RlTorchGenerator gen;
  reference_generator_seed (&gen, seed);
  if (batch_index == NULL) {
    reference_randn_float (&gen, out, batch * per_sample);
    return RL_OK;
  }

  int64_t last = -1;
  for (size_t b = 0; b < batch; b++) {
    if (batch_index[b] < 0)
      return rl_set_error (RL_E_INVALID_ARG,
                           "noise: batch_index[%zu] is %lld; batch indices must be 0 or more",
                           b, (long long) batch_index[b]);
    if (batch_index[b] > last)
      last = batch_index[b];
  }
  /* Empty samples: nothing to draw or copy (memcpy from NULL is undefined
   * even for 0 bytes). */
  if (per_sample == 0)
    return RL_OK;
  /* ComfyUI draws one sample per index 0..max(batch_index) in order and
   * hands batch entry b the draw number batch_index[b]. */
  float *draw = malloc (per_sample * sizeof *draw);
  if (draw == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "noise: no memory for a %zu-element sample", per_sample);
  for (int64_t i = 0; i <= last; i++) {
    reference_randn_float (&gen, draw, per_sample);
    for (size_t b = 0; b < batch; b++)
      if (batch_index[b] == i)
        memcpy (out + b * per_sample, draw, per_sample * sizeof *draw);
  }
  free (draw);
  return RL_OK;
}
