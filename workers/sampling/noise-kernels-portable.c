/* Portable bulk kernels of the torch-identical noise (noise-kernels.h).
 *
 * Compiled with -ffp-contract=off: the only fused multiply-adds are the
 * explicit fmaf () calls, placed where GCC fuses the multiply and add
 * intrinsics of ATen's avx_mathfun.h in PyTorch's AVX2 build (a product
 * whose every use is one addition or subtraction). On a CPU without FMA
 * instructions fmaf is a (correctly rounded) libm call: slow but exact. */
#include "workers/sampling/noise-kernels.h"

#include <math.h>
#include <string.h>

enum { MT_N = RL_MT19937_STATE_WORDS, MT_M = 397 };

static uint32_t
twist_word (uint32_t upper_from, uint32_t lower_from, uint32_t far)
{
  uint32_t y = (upper_from & 0x80000000u) | (lower_from & 0x7fffffffu);
  return far ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
}

/* The modulo-free form of s[k] = twist (s[k], s[k+1], s[(k+397) % 624]):
 * words below 227 read old words 397 ahead, the rest read the words
 * already regenerated 227 behind, and the last wraps to s[0]. */
static void
twist_portable (uint32_t *s)
{
  int k = 0;
  for (; k < MT_N - MT_M; k++)
    s[k] = twist_word (s[k], s[k + 1], s[k + MT_M]);
  for (; k < MT_N - 1; k++)
    s[k] = twist_word (s[k], s[k + 1], s[k + MT_M - MT_N]);
  s[MT_N - 1] = twist_word (s[MT_N - 1], s[0], s[MT_M - 1]);
}

/* at::uniform_real_distribution<float>(0, 1): low 24 bits of one tempered
 * draw. */
static void
uniforms_portable (const uint32_t *words, float *out, size_t count)
{
  for (size_t i = 0; i < count; i++) {
    uint32_t y = words[i];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    out[i] = (float) (y & 0xffffffu) * 0x1p-24f;
  }
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

/* normal_fill_16_AVX2 with mean 0, std 1 on one 16-block. */
static void
box_muller_16 (float *data)
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

static void
box_muller_portable (float *data, size_t blocks)
{
  for (size_t b = 0; b < blocks; b++)
    box_muller_16 (data + 16 * b);
}

const RlNoiseKernels *
rl_noise_kernels_portable (void)
{
  static const RlNoiseKernels kernels = {
    .name = "portable", .twist = twist_portable, .uniforms = uniforms_portable,
    .box_muller = box_muller_portable,
  };
  return &kernels;
}
