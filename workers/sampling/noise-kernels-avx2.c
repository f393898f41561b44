/* AVX2/FMA bulk kernels of the torch-identical noise (noise-kernels.h).
 *
 * The Box-Muller transform is ATen's normal_fill_16_AVX2 with the
 * log256_ps / sincos256_ps polynomials of avx_mathfun.h, operation for
 * operation as the portable kernels (noise-kernels-portable.c) compute them
 * per lane: the same explicit fused multiply-adds (FMA rounds once, like
 * fmaf), IEEE vsqrtps like sqrtf, truncating conversions like the C casts.
 * Compiled with -ffp-contract=off so that only the written FMAs fuse.
 *
 * The file compiles on any target; the kernels exist on x86-64 only and run
 * only after the CPU reported AVX2 and FMA (target attribute, runtime check). */
#include "workers/sampling/noise-kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

#include <immintrin.h>

/* Every function that touches AVX2/FMA carries the target; callers reach
 * them only through rl_noise_kernels_avx2_fma's runtime check. */
#define AVX2_FMA __attribute__ ((target ("avx2,fma")))

enum { MT_N = RL_MT19937_STATE_WORDS, MT_M = 397 };

AVX2_FMA static inline __m256i
twist_8 (const uint32_t *s, int k, int far)
{
  const __m256i upper_mask = _mm256_set1_epi32 ((int) 0x80000000u);
  const __m256i lower_mask = _mm256_set1_epi32 (0x7fffffff);
  const __m256i matrix = _mm256_set1_epi32 ((int) 0x9908b0dfu);
  const __m256i one = _mm256_set1_epi32 (1);
  __m256i cur = _mm256_loadu_si256 ((const __m256i *) (s + k));
  __m256i next = _mm256_loadu_si256 ((const __m256i *) (s + k + 1));
  __m256i far_words = _mm256_loadu_si256 ((const __m256i *) (s + far));
  __m256i y = _mm256_or_si256 (_mm256_and_si256 (cur, upper_mask),
                               _mm256_and_si256 (next, lower_mask));
  __m256i odd = _mm256_cmpeq_epi32 (_mm256_and_si256 (y, one), one);
  __m256i mag = _mm256_and_si256 (odd, matrix);
  return _mm256_xor_si256 (_mm256_xor_si256 (far_words, _mm256_srli_epi32 (y, 1)), mag);
}

AVX2_FMA static inline uint32_t
twist_word (uint32_t upper_from, uint32_t lower_from, uint32_t far)
{
  uint32_t y = (upper_from & 0x80000000u) | (lower_from & 0x7fffffffu);
  return far ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
}

/* Eight words at a time. Words below 227 read old words 397 ahead (all
 * still unwritten); the rest read words regenerated at least 227 earlier,
 * so a vector never reads a word of its own group before it is written. */
AVX2_FMA static void
twist_avx2 (uint32_t *s)
{
  int k = 0;
  for (; k + 8 <= MT_N - MT_M; k += 8)
    _mm256_storeu_si256 ((__m256i *) (s + k), twist_8 (s, k, k + MT_M));
  for (; k < MT_N - MT_M; k++)
    s[k] = twist_word (s[k], s[k + 1], s[k + MT_M]);
  for (; k + 8 <= MT_N - 1; k += 8)
    _mm256_storeu_si256 ((__m256i *) (s + k), twist_8 (s, k, k + MT_M - MT_N));
  for (; k < MT_N - 1; k++)
    s[k] = twist_word (s[k], s[k + 1], s[k + MT_M - MT_N]);
  s[MT_N - 1] = twist_word (s[MT_N - 1], s[0], s[MT_M - 1]);
}

AVX2_FMA static void
uniforms_avx2 (const uint32_t *words, float *out, size_t count)
{
  const __m256i mask_b = _mm256_set1_epi32 ((int) 0x9d2c5680u);
  const __m256i mask_c = _mm256_set1_epi32 ((int) 0xefc60000u);
  const __m256i low24 = _mm256_set1_epi32 (0xffffff);
  const __m256 scale = _mm256_set1_ps (0x1p-24f);
  size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    __m256i y = _mm256_loadu_si256 ((const __m256i *) (words + i));
    y = _mm256_xor_si256 (y, _mm256_srli_epi32 (y, 11));
    y = _mm256_xor_si256 (y, _mm256_and_si256 (_mm256_slli_epi32 (y, 7), mask_b));
    y = _mm256_xor_si256 (y, _mm256_and_si256 (_mm256_slli_epi32 (y, 15), mask_c));
    y = _mm256_xor_si256 (y, _mm256_srli_epi32 (y, 18));
    __m256 u = _mm256_cvtepi32_ps (_mm256_and_si256 (y, low24));
    _mm256_storeu_ps (out + i, _mm256_mul_ps (u, scale));
  }
  /* The last count % 8 words: the portable set computes the same bits. */
  if (i < count)
    rl_noise_kernels_portable ()->uniforms (words + i, out + i, count - i);
}

/* log256_ps for x in (0, 1] (the portable cephes_logf, eight lanes). */
AVX2_FMA static inline __m256
log_8 (__m256 x)
{
  const __m256 one = _mm256_set1_ps (1.0f);
  const __m256 half = _mm256_set1_ps (0.5f);
  x = _mm256_max_ps (x, _mm256_set1_ps (0x1p-126f));
  __m256i bits = _mm256_castps_si256 (x);
  __m256i exponent = _mm256_sub_epi32 (_mm256_srli_epi32 (bits, 23), _mm256_set1_epi32 (0x7f));
  __m256 e = _mm256_add_ps (_mm256_cvtepi32_ps (exponent), one);
  x = _mm256_castsi256_ps (_mm256_or_si256 (
        _mm256_andnot_si256 (_mm256_set1_epi32 (0x7f800000), bits), _mm256_castps_si256 (half)));

  __m256 below = _mm256_cmp_ps (x, _mm256_set1_ps (0.707106781186547524f), _CMP_LT_OQ);
  __m256 tmp = _mm256_and_ps (x, below);
  e = _mm256_sub_ps (e, _mm256_and_ps (one, below));
  x = _mm256_sub_ps (x, one);
  x = _mm256_add_ps (x, tmp);

  __m256 z = _mm256_mul_ps (x, x);
  __m256 y = _mm256_set1_ps (7.0376836292E-2f);
  y = _mm256_fmadd_ps (y, x, _mm256_set1_ps (-1.1514610310E-1f));
  y = _mm256_fmadd_ps (y, x, _mm256_set1_ps (1.1676998740E-1f));
  y = _mm256_fmadd_ps (y, x, _mm256_set1_ps (-1.2420140846E-1f));
  y = _mm256_fmadd_ps (y, x, _mm256_set1_ps (1.4249322787E-1f));
  y = _mm256_fmadd_ps (y, x, _mm256_set1_ps (-1.6668057665E-1f));
  y = _mm256_fmadd_ps (y, x, _mm256_set1_ps (2.0000714765E-1f));
  y = _mm256_fmadd_ps (y, x, _mm256_set1_ps (-2.4999993993E-1f));
  y = _mm256_fmadd_ps (y, x, _mm256_set1_ps (3.3333331174E-1f));
  y = _mm256_mul_ps (y, x);
  __m256 eq1 = _mm256_mul_ps (e, _mm256_set1_ps (-2.12194440e-4f));
  y = _mm256_fmadd_ps (y, z, eq1);
  y = _mm256_fnmadd_ps (z, half, y);          /* fmaf (-z, 0.5f, y) */
  x = _mm256_add_ps (x, y);
  return _mm256_fmadd_ps (e, _mm256_set1_ps (0.693359375f), x);
}

/* sincos256_ps (the portable cephes_sincosf, eight lanes). */
AVX2_FMA static inline void
sincos_8 (__m256 x, __m256 *sin_out, __m256 *cos_out)
{
  const __m256i sign_bit = _mm256_set1_epi32 ((int) 0x80000000u);
  const __m256i four = _mm256_set1_epi32 (4);
  const __m256i two = _mm256_set1_epi32 (2);
  __m256i bits = _mm256_castps_si256 (x);
  __m256i sign_sin = _mm256_and_si256 (bits, sign_bit);
  x = _mm256_castsi256_ps (_mm256_andnot_si256 (sign_bit, bits));

  __m256i j = _mm256_cvttps_epi32 (_mm256_mul_ps (x, _mm256_set1_ps (1.27323954473516f)));
  j = _mm256_and_si256 (_mm256_add_epi32 (j, _mm256_set1_epi32 (1)), _mm256_set1_epi32 (~1));
  __m256 y = _mm256_cvtepi32_ps (j);
  __m256i swap_sin = _mm256_slli_epi32 (_mm256_and_si256 (j, four), 29);
  __m256 use_cos_poly_for_sin = _mm256_castsi256_ps (
    _mm256_cmpeq_epi32 (_mm256_and_si256 (j, two), two));
  __m256i sign_cos = _mm256_slli_epi32 (_mm256_andnot_si256 (_mm256_sub_epi32 (j, two), four), 29);
  sign_sin = _mm256_xor_si256 (sign_sin, swap_sin);

  x = _mm256_fmadd_ps (y, _mm256_set1_ps (-0.78515625f), x);
  x = _mm256_fmadd_ps (y, _mm256_set1_ps (-2.4187564849853515625e-4f), x);
  x = _mm256_fmadd_ps (y, _mm256_set1_ps (-3.77489497744594108e-8f), x);

  __m256 z = _mm256_mul_ps (x, x);
  __m256 c = _mm256_set1_ps (2.443315711809948E-005f);
  c = _mm256_fmadd_ps (c, z, _mm256_set1_ps (-1.388731625493765E-003f));
  c = _mm256_fmadd_ps (c, z, _mm256_set1_ps (4.166664568298827E-002f));
  c = _mm256_mul_ps (c, z);
  __m256 half_z = _mm256_mul_ps (z, _mm256_set1_ps (0.5f));
  c = _mm256_fmsub_ps (c, z, half_z);          /* fmaf (c, z, -half_z) */
  c = _mm256_add_ps (c, _mm256_set1_ps (1.0f));

  __m256 s = _mm256_set1_ps (-1.9515295891E-4f);
  s = _mm256_fmadd_ps (s, z, _mm256_set1_ps (8.3321608736E-3f));
  s = _mm256_fmadd_ps (s, z, _mm256_set1_ps (-1.6666654611E-1f));
  s = _mm256_mul_ps (s, z);
  s = _mm256_fmadd_ps (s, x, x);

  __m256 sin_v = _mm256_blendv_ps (s, c, use_cos_poly_for_sin);
  __m256 cos_v = _mm256_blendv_ps (c, s, use_cos_poly_for_sin);
  *sin_out = _mm256_xor_ps (sin_v, _mm256_castsi256_ps (sign_sin));
  *cos_out = _mm256_xor_ps (cos_v, _mm256_castsi256_ps (sign_cos));
}

AVX2_FMA static void
box_muller_avx2 (float *data, size_t blocks)
{
  const __m256 one = _mm256_set1_ps (1.0f);
  const __m256 zero = _mm256_setzero_ps ();
  const __m256 minus_two = _mm256_set1_ps (-2.0f);
  const __m256 two_pi = _mm256_set1_ps ((float) (2.0 * 3.14159265358979323846));
  /* Two blocks per turn: their long dependency chains (nine chained FMAs
   * in the log, the square root) interleave; 7 % faster on Zen 1. */
  size_t b = 0;
  for (; b + 2 <= blocks; b += 2) {
    float *block = data + 16 * b;
    __m256 u1a = _mm256_sub_ps (one, _mm256_loadu_ps (block));
    __m256 u1b = _mm256_sub_ps (one, _mm256_loadu_ps (block + 16));
    __m256 la = log_8 (u1a), lb = log_8 (u1b);
    __m256 ta = _mm256_mul_ps (two_pi, _mm256_loadu_ps (block + 8));
    __m256 tb = _mm256_mul_ps (two_pi, _mm256_loadu_ps (block + 24));
    __m256 sa, ca, sb, cb;
    sincos_8 (ta, &sa, &ca);
    sincos_8 (tb, &sb, &cb);
    __m256 ra = _mm256_sqrt_ps (_mm256_mul_ps (minus_two, la));
    __m256 rb = _mm256_sqrt_ps (_mm256_mul_ps (minus_two, lb));
    /* · std + mean as one FMA, as ATen does: turns -0 into +0. */
    _mm256_storeu_ps (block, _mm256_fmadd_ps (_mm256_mul_ps (ra, ca), one, zero));
    _mm256_storeu_ps (block + 8, _mm256_fmadd_ps (_mm256_mul_ps (ra, sa), one, zero));
    _mm256_storeu_ps (block + 16, _mm256_fmadd_ps (_mm256_mul_ps (rb, cb), one, zero));
    _mm256_storeu_ps (block + 24, _mm256_fmadd_ps (_mm256_mul_ps (rb, sb), one, zero));
  }
  for (; b < blocks; b++) {
    float *block = data + 16 * b;
    __m256 u1 = _mm256_sub_ps (one, _mm256_loadu_ps (block));
    __m256 u2 = _mm256_loadu_ps (block + 8);
    __m256 radius = _mm256_sqrt_ps (_mm256_mul_ps (minus_two, log_8 (u1)));
    __m256 theta = _mm256_mul_ps (two_pi, u2);
    __m256 sin_t, cos_t;
    sincos_8 (theta, &sin_t, &cos_t);
    _mm256_storeu_ps (block, _mm256_fmadd_ps (_mm256_mul_ps (radius, cos_t), one, zero));
    _mm256_storeu_ps (block + 8, _mm256_fmadd_ps (_mm256_mul_ps (radius, sin_t), one, zero));
  }
}

const RlNoiseKernels *
rl_noise_kernels_avx2_fma (void)
{
  static const RlNoiseKernels kernels = {
    .name = "avx2-fma", .twist = twist_avx2, .uniforms = uniforms_avx2,
    .box_muller = box_muller_avx2,
  };
  /* libgcc's feature bits include the OS check (XCR0) for AVX state. */
  if (!__builtin_cpu_supports ("avx2") || !__builtin_cpu_supports ("fma"))
    return NULL;
  return &kernels;
}

#else

const RlNoiseKernels *
rl_noise_kernels_avx2_fma (void)
{
  return NULL;
}

#endif
