/* A CPU model of the `sage` attention variant's arithmetic
 * (plugins/attention/sage/sage-kernel.cu), step for step, so the design's
 * error bounds are checked on every CI run without a GPU:
 *
 *   K smoothing   k ← k − mean over keys (per head, per channel); the shift
 *                 adds scale·q·mean(k) to every logit of a row, which
 *                 softmax ignores and the LSE adds back.
 *   Q, K int8     Q per query row, K per block of 128 keys, scale =
 *                 absmax/127, round to nearest even; the softmax scale and
 *                 log2(e) are folded into Q's scale.
 *   S             exact integer dot products (the int8 MMA's int32 sum),
 *                 times the two block scales.
 *   softmax       online over 128-key tiles in fp32 with exp2; P is formed
 *                 as exp2(s − m + log2 448) so it lands in e4m3's range
 *                 [0, 448] directly, and the 448 cancels against the row
 *                 sum, which adds the same unquantised values.
 *   V fp8         v ← v − mean over keys (per channel, added back at the
 *                 end since each P row sums to one), then e4m3 per channel
 *                 with scale = absmax/448; by default as two terms, hi =
 *                 e4m3(y) and lo = e4m3(y − hi), whose sum carries y to
 *                 about 2^-8 (`sage`'s default; one term is the published
 *                 design).
 *   V 16-bit      the input itself: neither smoothed nor rounded again
 *                 (`sage16`). v − mean(v) rounded back to the same 16-bit
 *                 grid errs alike for all keys in a binade, a bias that
 *                 does not average out over many keys (2.7% at 4680 keys).
 *   P·V           e4m3 (or bf16) P × V per tile into an fp32 partial, added
 *                 to the fp32 accumulator after the online-softmax rescale
 *                 (the two-level accumulation of SageAttention-2).
 *   P·V int8      the kernel's default since session 9 (NOTES.md): V
 *                 smoothed, int8 per channel (absmax/127); P formed against
 *                 the tile's own row maximum, exp2(s − tile max) ∈ [0, 1],
 *                 as u8 (·255, round to nearest); the tile's product summed
 *                 exactly in int32 (the u8·s8 MMA) and added to the fp32
 *                 accumulator times exp2(tile max − m)/255. Against the
 *                 running maximum instead, the small P of early or weak
 *                 tiles fall below u8's absolute step and the error grows
 *                 with the keys (5% at 32,760 in a float64 model); against
 *                 the tile's maximum it stays near 1%. (The kernel stores
 *                 V + 128 and keeps O in units of the tile's maximum; the
 *                 same sums, rounded in other places by fp32 only.)
 *
 * Each case compares against a float64 softmax on the unquantised inputs
 * (bounds below, with why), on several distributions including keys with a
 * large common mean (as real models have, and the reason for smoothing:
 * the same case without smoothing must be clearly worse). */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/plain-test.h"

#define Q_BLOCK 1   /* query rows per Q scale */
#define K_BLOCK 128
#define P_SCALE 448.0f
/* Issue 6 asks ‖out − ref‖/‖ref‖ ≤ 3e-2 with cosine ≥ 0.999. On random
 * data e4m3 P and V each carry about 2–2.6% rms relative rounding error
 * (3 mantissa bits), independent per key, so the published fp8 P·V design
 * (one e4m3 V) sits near 3.5–4% whatever the accumulation; the cosine
 * holds. With V as two e4m3 terms only P's rounding and the int8 logits
 * remain: 2–2.5%, under the 3e-2, as is 16-bit P·V (≈ 1%). The
 * ideas that do not help were measured too (NOTES.md): the row sum from
 * the rounded P, P at other scales, finer Q scales on these
 * distributions. LSE errors are the int8 logits' (largest for sharp
 * attention). */
#define OUT_TOLERANCE 3e-2
/* Gaussian q and k (absmax ≈ 4σ per block) cost the int8 logits more than
 * the GPU tests' uniform data (sage16 1.3–2.2% here against 0.8%), so the
 * two-term fp8 design sits at 2.5–2.9% on them: its bound there. */
#define FP8_GAUSSIAN_OUT_TOLERANCE 3.5e-2
#define FP8_OUT_TOLERANCE 5e-2   /* one-term V, the published design */
/* u8 P against the tile's maximum and int8 V: P's absolute step 1/255
 * and V's 1/127 of the channel's range, 1.2–1.45% on the uniform data at
 * any number of keys (16 seeds); bounded at 2e-2 so that a regression to
 * the running maximum (2.6% at 4680 keys, 4% at 16,384) fails. Sharp
 * Gaussian attention costs it more than fp8 (up to 3.1% against 2.5%):
 * the absolute step of the many small P adds up. */
#define INT8_OUT_TOLERANCE 2e-2
#define COSINE_MIN 0.999
#define LSE_TOLERANCE 1.5e-1

static uint64_t rng_state;

static double
uniform01 (void)
{
  uint64_t z = (rng_state += UINT64_C (0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C (0x94d049bb133111eb);
  z ^= z >> 31;
  return ((double) (z >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static float
gaussian (void)
{
  return (float) (sqrt (-2.0 * log (uniform01 ())) * cos (6.283185307179586 * uniform01 ()));
}

/* Rounds to the nearest e4m3 value (ties to even), saturating at ±448:
 * 3 mantissa bits, exponent bias 7, subnormal step 2^-9. */
static float
round_e4m3 (float x)
{
  float magnitude = fabsf (x);
  if (magnitude >= 448.0f)
    return copysignf (448.0f, x);
  int exponent;
  frexpf (magnitude, &exponent);           /* magnitude = f·2^exponent, f in [0.5, 1) */
  int e = exponent - 1;                    /* floor(log2 magnitude) */
  if (e < -6)
    e = -6;                                /* subnormals share the 2^-6 step size / 8 */
  float step = ldexpf (1.0f, e - 3);
  return copysignf (rintf (magnitude / step) * step, x);
}

/* Rounds to bf16 (nearest even), as the kernel's P for 16-bit P·V. */
static float
round_bf16 (float x)
{
  uint32_t bits;
  memcpy (&bits, &x, 4);
  bits = (bits + 0x7fffu + ((bits >> 16) & 1u)) & 0xffff0000u;
  memcpy (&x, &bits, 4);
  return x;
}

static int
round_int8 (float x)
{
  float r = rintf (x);
  return (int) (r > 127.0f ? 127.0f : r < -127.0f ? -127.0f : r);
}

typedef enum {
  PV_16,     /* P in bf16, V the input (the "8+16" design, sage16) */
  PV_FP8,    /* P and V e4m3 (sage) */
  PV_INT8,   /* P u8 against the tile's maximum, V int8 (sage's default) */
} PvFormat;

typedef struct {
  int          q_len, kv_len, dim;
  const float *q, *k, *v;     /* [L][D], one head */
  float        scale;         /* softmax scale */
  bool         smooth_k, smooth_v;   /* smooth_v applies to fp8 V only */
  PvFormat     pv;
  int          v_terms;       /* fp8 V as 1 or 2 e4m3 terms */
} ModelProblem;

/* The exact float64 answer. */
static void
reference_attention (const ModelProblem *p, float *out, float *lse)
{
  double *s = malloc ((size_t) p->kv_len * sizeof (double));
  for (int i = 0; i < p->q_len; i++)
    {
      double m = -INFINITY;
      for (int j = 0; j < p->kv_len; j++)
        {
          double dot = 0;
          for (int d = 0; d < p->dim; d++)
            dot += (double) p->q[(size_t) i * p->dim + d] * p->k[(size_t) j * p->dim + d];
          s[j] = dot * p->scale;
          m = fmax (m, s[j]);
        }
      double l = 0;
      for (int j = 0; j < p->kv_len; j++)
        l += (s[j] = exp (s[j] - m));
      for (int d = 0; d < p->dim; d++)
        {
          double acc = 0;
          for (int j = 0; j < p->kv_len; j++)
            acc += s[j] * p->v[(size_t) j * p->dim + d];
          out[(size_t) i * p->dim + d] = (float) (acc / l);
        }
      lse[i] = (float) (m + log (l));
    }
  free (s);
}

/* The sage variant's arithmetic, in the kernel's order. */
static void
sage_model_attention (const ModelProblem *p, float *out, float *lse)
{
  int dim = p->dim, lq = p->q_len, lk = p->kv_len;
  float *k_mean = calloc (dim, sizeof (float)), *v_mean = calloc (dim, sizeof (float));
  float *v_scale = malloc (dim * sizeof (float));
  if (p->smooth_k)
    {
      for (int j = 0; j < lk; j++)
        for (int d = 0; d < dim; d++)
          k_mean[d] += p->k[(size_t) j * dim + d];
      for (int d = 0; d < dim; d++)
        k_mean[d] /= (float) lk;
    }
  if (p->smooth_v && p->pv != PV_16)
    {
      for (int j = 0; j < lk; j++)
        for (int d = 0; d < dim; d++)
          v_mean[d] += p->v[(size_t) j * dim + d];
      for (int d = 0; d < dim; d++)
        v_mean[d] /= (float) lk;
    }
  /* V: per channel e4m3 (hi, or hi + lo), int8, or the input as it is. */
  float *v8 = malloc ((size_t) lk * dim * sizeof (float));
  for (int d = 0; d < dim; d++)
    {
      float absmax = 0;
      for (int j = 0; j < lk; j++)
        absmax = fmaxf (absmax, fabsf (p->v[(size_t) j * dim + d] - v_mean[d]));
      float range = p->pv == PV_FP8 ? P_SCALE : 127.0f;
      v_scale[d] = absmax > 0 && p->pv != PV_16 ? absmax / range : 1.0f;
      for (int j = 0; j < lk; j++)
        {
          float scaled = (p->v[(size_t) j * dim + d] - v_mean[d]) / v_scale[d];
          float hi = round_e4m3 (scaled);
          float two_terms = hi + round_e4m3 (scaled - hi);
          v8[(size_t) j * dim + d] = p->pv == PV_16 ? scaled
                                     : p->pv == PV_INT8 ? (float) round_int8 (scaled)
                                     : p->v_terms == 2 ? two_terms : hi;
        }
    }
  /* K: smoothed, int8 per 128-key block. */
  int k_blocks = (lk + K_BLOCK - 1) / K_BLOCK;
  int *k8 = malloc ((size_t) lk * dim * sizeof (int));
  float *k_scale = malloc (k_blocks * sizeof (float));
  for (int b = 0; b < k_blocks; b++)
    {
      int end = (b + 1) * K_BLOCK < lk ? (b + 1) * K_BLOCK : lk;
      float absmax = 0;
      for (int j = b * K_BLOCK; j < end; j++)
        for (int d = 0; d < dim; d++)
          absmax = fmaxf (absmax, fabsf (p->k[(size_t) j * dim + d] - k_mean[d]));
      k_scale[b] = absmax > 0 ? absmax / 127.0f : 1.0f;
      for (int j = b * K_BLOCK; j < end; j++)
        for (int d = 0; d < dim; d++)
          k8[(size_t) j * dim + d] = round_int8 ((p->k[(size_t) j * dim + d] - k_mean[d]) / k_scale[b]);
    }
  const float log2e = 1.4426950408889634f, log2_p_scale = log2f (P_SCALE);
  int *q8 = malloc ((size_t) Q_BLOCK * dim * sizeof (int));
  float *acc = malloc (dim * sizeof (float)), *partial = malloc (dim * sizeof (float));
  float *s = malloc (K_BLOCK * sizeof (float));
  for (int qb = 0; qb < lq; qb += Q_BLOCK)
    {
      int rows = qb + Q_BLOCK < lq ? Q_BLOCK : lq - qb;
      float absmax = 0;
      for (int i = 0; i < rows * dim; i++)
        absmax = fmaxf (absmax, fabsf (p->q[(size_t) qb * dim + i]));
      float q_quant = absmax > 0 ? absmax / 127.0f : 1.0f;
      for (int i = 0; i < rows * dim; i++)
        q8[i] = round_int8 (p->q[(size_t) qb * dim + i] / q_quant);
      float q_scale = q_quant * p->scale * log2e;   /* S in log2 units */
      for (int r = 0; r < rows; r++)
        {
          float m = -INFINITY, l = 0;
          memset (acc, 0, dim * sizeof (float));
          for (int b = 0; b < k_blocks; b++)
            {
              int first = b * K_BLOCK, count = first + K_BLOCK < lk ? K_BLOCK : lk - first;
              float dequant = q_scale * k_scale[b], tile_max = -INFINITY;
              for (int j = 0; j < count; j++)
                {
                  int32_t dot = 0;
                  for (int d = 0; d < dim; d++)
                    dot += q8[r * dim + d] * k8[(size_t) (first + j) * dim + d];
                  s[j] = (float) dot * dequant;
                  tile_max = fmaxf (tile_max, s[j]);
                }
              float m_new = fmaxf (m, tile_max);
              float alpha = exp2f (m - m_new);
              float row_sum = 0, weight = 1.0f;
              memset (partial, 0, dim * sizeof (float));
              if (p->pv == PV_INT8)
                {
                  /* Integer products: every partial sum is an integer
                   * below 128·255·127 < 2^24, so float adds them exactly,
                   * as the MMA's int32 sums. P's 1/255 and the tile's
                   * weight go in one factor, scaled to P_SCALE like the
                   * other formats, so l and the LSE need no case of
                   * their own. */
                  for (int j = 0; j < count; j++)
                    {
                      float p8 = rintf (exp2f (s[j] - tile_max) * 255.0f);
                      row_sum += p8;
                      for (int d = 0; d < dim; d++)
                        partial[d] += p8 * v8[(size_t) (first + j) * dim + d];
                    }
                  weight = exp2f (tile_max - m_new + log2_p_scale) / 255.0f;
                }
              else
                for (int j = 0; j < count; j++)
                  {
                    float p448 = exp2f (s[j] - m_new + log2_p_scale);
                    row_sum += p448;
                    float p8 = p->pv == PV_FP8 ? round_e4m3 (p448) : round_bf16 (p448);
                    for (int d = 0; d < dim; d++)
                      partial[d] += p8 * v8[(size_t) (first + j) * dim + d];
                  }
              l = l * alpha + row_sum * weight;
              for (int d = 0; d < dim; d++)
                acc[d] = acc[d] * alpha + partial[d] * weight;
              m = m_new;
            }
          int i = qb + r;
          double q_dot_mean = 0;
          for (int d = 0; d < dim; d++)
            q_dot_mean += (double) p->q[(size_t) i * dim + d] * k_mean[d];
          for (int d = 0; d < dim; d++)
            out[(size_t) i * dim + d] = acc[d] / l * v_scale[d] + v_mean[d];
          lse[i] = (m + log2f (l) - log2_p_scale) * 0.6931471805599453f
                   + (float) (q_dot_mean * p->scale);
        }
    }
  free (k_mean), free (v_mean), free (v_scale), free (v8), free (k8), free (k_scale);
  free (q8), free (acc), free (partial), free (s);
}

typedef struct {
  double relative, cosine, lse;
} ModelError;

static ModelError
compare (const float *out, const float *ref, const float *lse, const float *ref_lse, int rows,
         int dim)
{
  double diff = 0, norm = 0, norm_out = 0, dot = 0, lse_err = 0;
  for (size_t i = 0; i < (size_t) rows * dim; i++)
    {
      diff += ((double) out[i] - ref[i]) * ((double) out[i] - ref[i]);
      norm += (double) ref[i] * ref[i];
      norm_out += (double) out[i] * out[i];
      dot += (double) out[i] * ref[i];
    }
  for (int i = 0; i < rows; i++)
    lse_err = fmax (lse_err, isfinite (lse[i]) ? fabs ((double) lse[i] - ref_lse[i]) : INFINITY);
  return (ModelError) { sqrt (diff / norm), dot / sqrt (norm * norm_out), lse_err };
}

typedef struct {
  const char *name;
  float q_gain, k_mean_spread, v_mean_spread;
  bool  uniform;   /* the GPU tests' data instead: q, k uniform in [-2, 2), v in [-1, 1) */
} Distribution;

/* The P·V designs: sage16, sage (two-term V, its default), the published
 * one-term V, each with its bound on ‖out − ref‖/‖ref‖. */
typedef struct {
  const char *name;
  PvFormat    pv;
  int         v_terms;
  double      bound;
} Design;

static const Design designs[] = {
  { "PV 16-bit  ", PV_16, 1, OUT_TOLERANCE },
  { "PV fp8 2-V ", PV_FP8, 2, OUT_TOLERANCE },
  { "PV fp8 1-V ", PV_FP8, 1, FP8_OUT_TOLERANCE },
  { "PV int8    ", PV_INT8, 1, INT8_OUT_TOLERANCE },
};

/* q, k, v with unit Gaussian noise; `q_gain` sharpens the attention, the
 * spreads add one random offset per channel to every key / value. All
 * rounded to bf16, the kernel's input type (the reference sees the same). */
static void
draw (const Distribution *dist, int lq, int lk, int dim, float *q, float *k, float *v)
{
  float *k_offset = malloc (dim * sizeof (float)), *v_offset = malloc (dim * sizeof (float));
  for (int d = 0; d < dim; d++)
    {
      k_offset[d] = dist->k_mean_spread * gaussian ();
      v_offset[d] = dist->v_mean_spread * gaussian ();
    }
  for (size_t i = 0; i < (size_t) lq * dim; i++)
    q[i] = round_bf16 (dist->uniform ? (float) (4.0 * uniform01 () - 2.0) : dist->q_gain * gaussian ());
  for (size_t j = 0; j < (size_t) lk * dim; j++)
    {
      k[j] = round_bf16 ((dist->uniform ? (float) (4.0 * uniform01 () - 2.0) : gaussian ())
                         + k_offset[j % dim]);
      v[j] = round_bf16 ((dist->uniform ? (float) (2.0 * uniform01 () - 1.0) : gaussian ())
                         + v_offset[j % dim]);
    }
  free (k_offset), free (v_offset);
}

static ModelError
run_model (const Distribution *dist, int lq, int lk, bool smooth, const Design *design,
           ModelError *unsmoothed)
{
  int dim = 128;
  float *q = malloc ((size_t) lq * dim * sizeof (float)), *k = malloc ((size_t) lk * dim * sizeof (float));
  float *v = malloc ((size_t) lk * dim * sizeof (float));
  float *out = malloc ((size_t) lq * dim * sizeof (float)), *ref = malloc ((size_t) lq * dim * sizeof (float));
  float *lse = malloc (lq * sizeof (float)), *ref_lse = malloc (lq * sizeof (float));
  draw (dist, lq, lk, dim, q, k, v);
  ModelProblem p = { lq, lk, dim, q, k, v, 1.0f / sqrtf ((float) dim), smooth, smooth, design->pv,
                     design->v_terms };
  reference_attention (&p, ref, ref_lse);
  sage_model_attention (&p, out, lse);
  ModelError e = compare (out, ref, lse, ref_lse, lq, dim);
  if (unsmoothed != NULL)
    {
      p.smooth_k = p.smooth_v = false;
      sage_model_attention (&p, out, lse);
      *unsmoothed = compare (out, ref, lse, ref_lse, lq, dim);
    }
  free (q), free (k), free (v), free (out), free (ref), free (lse), free (ref_lse);
  return e;
}

static void
test_e4m3_rounding (void)
{
  PT_CHECK (round_e4m3 (448.0f) == 448.0f && round_e4m3 (1000.0f) == 448.0f, "saturation");
  PT_CHECK (round_e4m3 (1.0f) == 1.0f && round_e4m3 (1.0625f) == 1.0f && round_e4m3 (1.07f) == 1.125f,
            "ties to even, 3 mantissa bits: %g %g", round_e4m3 (1.0625f), round_e4m3 (1.07f));
  PT_CHECK (round_e4m3 (ldexpf (1.0f, -9)) == ldexpf (1.0f, -9)
            && round_e4m3 (ldexpf (1.0f, -11)) == 0.0f, "subnormal step 2^-9");
  PT_CHECK (round_e4m3 (-3.3f) == -3.25f, "sign: %g", round_e4m3 (-3.3f));
  PT_CHECK (round_int8 (300.0f) == 127 && round_int8 (-2.5f) == -2, "int8 clamp and ties");
  PT_CHECK (round_bf16 (1.0f + 1.0f / 256) == 1.0f && round_bf16 (1.0f + 3.0f / 256) == 1.015625f,
            "bf16 ties to even: %g", round_bf16 (1.0f + 3.0f / 256));
}

static void
check_design (const Distribution *dist, const Design *design, int lq, int lk)
{
  ModelError e = run_model (dist, lq, lk, true, design, NULL);
  double bound = ((design->pv == PV_FP8 && design->v_terms == 2) || design->pv == PV_INT8)
                   && !dist->uniform ? FP8_GAUSSIAN_OUT_TOLERANCE : design->bound;
  printf ("# %-36s %s Lq %4d Lk %4d  rel %.2e  cos %.6f  lse %.2e\n", dist->name, design->name, lq,
          lk, e.relative, e.cosine, e.lse);
  PT_CHECK (e.relative <= bound && e.cosine >= COSINE_MIN && e.lse <= LSE_TOLERANCE,
            "%s (%s): rel %g cos %g lse %g", dist->name, design->name, e.relative, e.cosine, e.lse);
}

static void
test_error_bounds (void)
{
  const Distribution dists[] = {
    { "gaussian",                         1.0f, 0.0f, 0.0f, false },
    { "sharp (q x2)",                     2.0f, 0.0f, 0.0f, false },
    { "keys with common mean (sd 8)",     1.0f, 8.0f, 0.0f, false },
    { "values with channel offsets (sd 4)", 1.0f, 0.0f, 4.0f, false },
    { "sharp + key mean + value offsets", 2.0f, 6.0f, 2.0f, false },
    { "uniform (the GPU tests' data)",    1.0f, 0.0f, 0.0f, true },
  };
  for (size_t i = 0; i < sizeof dists / sizeof dists[0]; i++)
    {
      int lq = 96 + (int) (uniform01 () * 64), lk = 300 + (int) (uniform01 () * 700);
      for (size_t n = 0; n < sizeof designs / sizeof designs[0]; n++)
        check_design (&dists[i], &designs[n], lq, lk);
    }
}

/* The GPU tests' Wan-sized case (4680 keys): errors that are the same for
 * many keys (a bias) do not average out there, so it is where re-rounding
 * a smoothed 16-bit V showed (2.7%); 16-bit P·V must stay near the int8
 * logits' 1%. Then int8 P·V at 4680 and 16,384 keys. */
static void
test_many_keys (void)
{
  const Distribution dist = { "uniform, 4680 keys", 1.0f, 0.0f, 0.0f, true };
  Design sixteen = designs[0];
  sixteen.bound = 1.5e-2;
  check_design (&dist, &sixteen, 64, 4680);
  check_design (&dist, &designs[1], 64, 4680);
  /* u8 P's step is absolute: against the tile's maximum it must not grow
   * with the keys (against the running one it would reach 4% here). */
  check_design (&dist, &designs[3], 64, 4680);
  check_design (&dist, &designs[3], 32, 16384);
}

/* Why K is smoothed: with a large per-channel key mean, a 128-key block's
 * int8 scale is set by the mean and the part that decides softmax drowns. */
static void
test_smoothing_matters (void)
{
  const Distribution dist = { "keys with common mean (sd 16)", 1.0f, 16.0f, 0.0f, false };
  ModelError raw;
  ModelError smooth = run_model (&dist, 128, 640, true, &designs[1], &raw);
  printf ("# %s: smoothed rel %.2e cos %.6f, unsmoothed rel %.2e cos %.6f\n", dist.name,
          smooth.relative, smooth.cosine, raw.relative, raw.cosine);
  PT_CHECK (smooth.relative <= FP8_GAUSSIAN_OUT_TOLERANCE && smooth.cosine >= COSINE_MIN, "smoothed: %g",
            smooth.relative);
  PT_CHECK (raw.relative > 2.0 * smooth.relative, "smoothing should matter: %g vs %g",
            raw.relative, smooth.relative);
}

int
main (void)
{
  const char *env = getenv ("RAYLIGHT_TEST_SEED");
  rng_state = env != NULL ? strtoull (env, NULL, 0) : (uint64_t) time (NULL);
  printf ("# seed %llu\n", (unsigned long long) rng_state);
  PT_RUN (test_e4m3_rounding);
  PT_RUN (test_error_bounds);
  PT_RUN (test_many_keys);
  PT_RUN (test_smoothing_matters);
  return pt_finish ();
}
