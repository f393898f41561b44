/* Narrow-float conversions: bit-exact tables of edge cases (subnormals,
 * ties, overflow, saturation, NaN), exhaustive decode/encode round trips,
 * and random values against a brute-force nearest-even search. */
#include "tests/runtime/runtime-test-util.h"

#include <float.h>

static float
from_bits (uint32_t bits)
{
  float f;
  memcpy (&f, &bits, sizeof f);
  return f;
}

typedef struct {
  float    value;
  uint32_t expected;
} Case;

static void
test_bf16_table (void)
{
  const Case cases[] = {
    { 1.0f, 0x3f80 }, { -2.0f, 0xc000 }, { 0.0f, 0x0000 }, { -0.0f, 0x8000 },
    { from_bits (0x3f808000), 0x3f80 },   /* tie, even stays */
    { from_bits (0x3f818000), 0x3f82 },   /* tie, odd rounds up */
    { from_bits (0x3f808001), 0x3f81 },   /* just above tie */
    { from_bits (0x3f807fff), 0x3f80 },   /* just below tie */
    { FLT_MAX, 0x7f80 },                  /* overflow to inf */
    { from_bits (0x7f7f7fff), 0x7f7f },   /* largest that stays finite */
    { INFINITY, 0x7f80 }, { -INFINITY, 0xff80 },
    { from_bits (0x00010000), 0x0001 },   /* f32 subnormal kept */
    { from_bits (0x00008000), 0x0000 },   /* subnormal tie to even (0) */
    { from_bits (0x00018000), 0x0002 },   /* subnormal tie to even (2) */
    { from_bits (0x7fc00000), 0x7fc0 },   /* quiet NaN */
    { from_bits (0xff800001), 0xffc0 },   /* signalling NaN becomes quiet, sign kept */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      uint16_t got = rl_f32_to_bf16 (cases[i].value);
      PT_CHECK (got == cases[i].expected, "bf16(%a) = 0x%04x, expected 0x%04x",
                (double) cases[i].value, got, cases[i].expected);
    }
}

static void
test_f16_table (void)
{
  const Case cases[] = {
    { 1.0f, 0x3c00 }, { -2.0f, 0xc000 }, { 0.0f, 0x0000 }, { -0.0f, 0x8000 },
    { 65504.0f, 0x7bff }, { 65519.99f, 0x7bff }, { 65520.0f, 0x7c00 }, { 1e6f, 0x7c00 },
    { -1e6f, 0xfc00 }, { INFINITY, 0x7c00 },
    { 0x1p-24f, 0x0001 },                 /* smallest subnormal */
    { 0x1p-25f, 0x0000 },                 /* tie to even: 0 */
    { 0x1.8p-24f, 0x0002 },               /* 1.5 units: tie to even: 2 */
    { 0x1.4p-24f, 0x0001 },               /* 1.25 units */
    { 0x1p-14f, 0x0400 },                 /* smallest normal */
    { 0x1p-14f - 0x1p-25f, 0x0400 },      /* tie between 0x3ff and 0x400 */
    { 0x1.002p0f, 0x3c00 },               /* 1 + 2^-11: tie, even */
    { 0x1.006p0f, 0x3c02 },               /* 1 + 3·2^-11: tie, up */
    { 1e-10f, 0x0000 }, { from_bits (0x00000001), 0x0000 },
    { from_bits (0x7fc00000), 0x7e00 }, { from_bits (0xffc00000), 0xfe00 },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      uint16_t got = rl_f32_to_f16 (cases[i].value);
      PT_CHECK (got == cases[i].expected, "f16(%a) = 0x%04x, expected 0x%04x",
                (double) cases[i].value, got, cases[i].expected);
    }
}

static void
test_e4m3fn_table (void)
{
  const Case cases[] = {
    { 1.0f, 0x38 }, { -2.0f, 0xc0 }, { 0.0f, 0x00 }, { -0.0f, 0x80 },
    { 448.0f, 0x7e }, { 464.0f, 0x7e }, { 1000.0f, 0x7e }, { -1e9f, 0xfe },
    { INFINITY, 0x7e }, { -INFINITY, 0xfe },          /* saturating */
    { 240.0f, 0x77 }, { 30.0f, 0x5f },
    { 0x1p-9f, 0x01 },                                /* smallest subnormal */
    { 0x1p-10f, 0x00 },                               /* tie to even: 0 */
    { 0x1.8p-9f, 0x02 },                              /* tie to even: 2 */
    { 0x1.cp-7f, 0x07 },                              /* largest subnormal 7·2^-9 */
    { 0x1.ep-7f, 0x08 },                              /* 7.5 units: tie to even → min normal */
    { 0x1p-6f, 0x08 },                                /* smallest normal */
    { 0x1.1p0f, 0x38 },                               /* 1.0625: tie, even */
    { 0x1.3p0f, 0x3a },                               /* 1.1875: tie, up */
    { from_bits (0x7fc00000), 0x7f }, { from_bits (0xffc00000), 0xff },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      uint8_t got = rl_f32_to_f8_e4m3fn (cases[i].value);
      PT_CHECK (got == cases[i].expected, "e4m3fn(%a) = 0x%02x, expected 0x%02x",
                (double) cases[i].value, got, cases[i].expected);
    }
  PT_CHECK (isnan (rl_f8_e4m3fn_to_f32 (0x7f)) && isnan (rl_f8_e4m3fn_to_f32 (0xff)), "NaN codes");
  PT_CHECK (rl_f8_e4m3fn_to_f32 (0x7e) == 448.0f, "max");
  PT_CHECK (rl_f8_e4m3fn_to_f32 (0x01) == 0x1p-9f, "min subnormal");
}

static void
test_e5m2_table (void)
{
  const Case cases[] = {
    { 1.0f, 0x3c }, { -2.0f, 0xc0 }, { 0.0f, 0x00 }, { -0.0f, 0x80 },
    { 57344.0f, 0x7b }, { 60000.0f, 0x7b }, { 61440.0f, 0x7c }, { 1e9f, 0x7c },
    { INFINITY, 0x7c }, { -INFINITY, 0xfc },
    { 0x1p-16f, 0x01 }, { 0x1p-17f, 0x00 }, { 0x1.8p-16f, 0x02 },
    { 0x1p-14f, 0x04 },
    { 0x1.2p0f, 0x3c },                               /* 1.125: tie, even */
    { 0x1.6p0f, 0x3e },                               /* 1.375: tie, up */
    { from_bits (0x7fc00000), 0x7f }, { from_bits (0xffc00000), 0xff },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      uint8_t got = rl_f32_to_f8_e5m2 (cases[i].value);
      PT_CHECK (got == cases[i].expected, "e5m2(%a) = 0x%02x, expected 0x%02x",
                (double) cases[i].value, got, cases[i].expected);
    }
  PT_CHECK (isinf (rl_f8_e5m2_to_f32 (0x7c)) && isnan (rl_f8_e5m2_to_f32 (0x7d)), "inf/NaN codes");
}

/* Independent decoder: sign · 2^(e−bias) · (1 + m/2^M), subnormals. */
static double
reference_decode (uint32_t code, int exp_bits, int man_bits, int bias)
{
  int total = 1 + exp_bits + man_bits;
  double sign = (code >> (total - 1)) & 1 ? -1.0 : 1.0;
  uint32_t e = (code >> man_bits) & ((1u << exp_bits) - 1);
  uint32_t m = code & ((1u << man_bits) - 1);
  if (e == 0)
    return sign * ldexp ((double) m, 1 - bias - man_bits);
  return sign * ldexp (1.0 + ldexp ((double) m, -man_bits), (int) e - bias);
}

static void
test_exhaustive_round_trips (void)
{
  int bad = 0;
  for (uint32_t c = 0; c < 65536; c++)
    {
      float f = rl_f16_to_f32 ((uint16_t) c);
      bool nan_code = (c & 0x7c00) == 0x7c00 && (c & 0x3ff) != 0;
      bool inf_code = (c & 0x7fff) == 0x7c00;
      if (nan_code)
        bad += !isnan (f);
      else if (inf_code)
        bad += !isinf (f) || rl_f32_to_f16 (f) != c;
      else
        bad += (double) f != reference_decode (c, 5, 10, 15) || rl_f32_to_f16 (f) != c;
      float g = rl_bf16_to_f32 ((uint16_t) c);
      if (!isnan (g))
        bad += rl_f32_to_bf16 (g) != c;
    }
  PT_CHECK (bad == 0, "%d f16/bf16 codes do not round-trip", bad);
  bad = 0;
  for (uint32_t c = 0; c < 256; c++)
    {
      float a = rl_f8_e4m3fn_to_f32 ((uint8_t) c);
      if ((c & 0x7f) == 0x7f)
        bad += !isnan (a);
      else
        bad += (double) a != reference_decode (c, 4, 3, 7) || rl_f32_to_f8_e4m3fn (a) != c;
      float b = rl_f8_e5m2_to_f32 ((uint8_t) c);
      if ((c & 0x7c) == 0x7c && (c & 3) != 0)
        bad += !isnan (b);
      else if ((c & 0x7f) == 0x7c)
        bad += !isinf (b) || rl_f32_to_f8_e5m2 (b) != c;
      else
        bad += (double) b != reference_decode (c, 5, 2, 15) || rl_f32_to_f8_e5m2 (b) != c;
    }
  PT_CHECK (bad == 0, "%d fp8 codes do not round-trip", bad);
}

/* Nearest finite code by search, ties to the even code. */
static uint32_t
brute_nearest (double v, int exp_bits, int man_bits, int bias, uint32_t max_code)
{
  uint32_t best = 0;
  double best_err = INFINITY;
  for (uint32_t mag = 0; mag <= max_code; mag++)
    {
      double d = reference_decode (mag, exp_bits, man_bits, bias);
      double err = fabs (fabs (v) - d);
      if (err < best_err || (err == best_err && (mag & 1) == 0))
        {
          best = mag;
          best_err = err;
        }
    }
  uint32_t sign = v < 0 ? 1u << (exp_bits + man_bits) : 0;
  return sign | best;
}

static void
test_random_fp8_against_search (void)
{
  int bad = 0;
  for (int i = 0; i < 4000; i++)
    {
      /* Log-uniform magnitudes from far below the subnormals to past the max. */
      float v = (float) (ldexp (rt_uniform (1.0, 2.0), (int) rt_int (-22, 17)) * (rt_next () & 1 ? -1 : 1));
      if (i % 8 == 0)   /* exact ties between neighbouring e4m3 codes */
        {
          uint32_t c = (uint32_t) rt_int (0, 0x7d);
          v = (float) ((reference_decode (c, 4, 3, 7) + reference_decode (c + 1, 4, 3, 7)) / 2);
        }
      uint32_t want = brute_nearest (v, 4, 3, 7, 0x7e);   /* saturating */
      uint32_t got = rl_f32_to_f8_e4m3fn (v);
      if (got != want && bad++ < 5)
        printf ("# e4m3fn(%a) = 0x%02x, search says 0x%02x\n", (double) v, got, want);
      double limit = 61440.0;   /* halfway from 57344 to 65536: rounds to inf */
      uint32_t want5 = fabs (v) >= limit ? (v < 0 ? 0xfc : 0x7c)
                                          : brute_nearest (v, 5, 2, 15, 0x7b);
      uint32_t got5 = rl_f32_to_f8_e5m2 (v);
      if (got5 != want5 && bad++ < 5)
        printf ("# e5m2(%a) = 0x%02x, search says 0x%02x\n", (double) v, got5, want5);
    }
  PT_CHECK (bad == 0, "%d random values disagree with the brute-force search", bad);
}

/* f16/bf16: the encoded value must be at least as close as both neighbours,
 * and on exact ties the code must be even. */
static void
test_random_16bit_nearest (void)
{
  int bad = 0;
  for (int i = 0; i < 20000; i++)
    {
      float v = (float) (ldexp (rt_uniform (1.0, 2.0), (int) rt_int (-26, 15)) * (rt_next () & 1 ? -1 : 1));
      uint16_t h = rl_f32_to_f16 (v);
      double dv = fabs ((double) v), dh = fabs ((double) rl_f16_to_f32 (h));
      uint16_t mag = h & 0x7fff;
      if (mag < 0x7c00)
        {
          double up = mag < 0x7bff ? fabs ((double) rl_f16_to_f32 ((uint16_t) (mag + 1))) : INFINITY;
          double down = mag > 0 ? fabs ((double) rl_f16_to_f32 ((uint16_t) (mag - 1))) : -INFINITY;
          double err = fabs (dv - dh);
          bool ok = err <= fabs (dv - up) && err <= fabs (dv - down);
          if ((err == fabs (dv - up) || err == fabs (dv - down)) && (mag & 1))
            ok = false;
          bad += !ok;
        }
      uint16_t b = rl_f32_to_bf16 (v);
      float bv = rl_bf16_to_f32 (b);
      double berr = fabs ((double) v - bv);
      bad += berr > ldexp (fabs ((double) bv), -8);   /* within half an ulp */
    }
  PT_CHECK (bad == 0, "%d random values not rounded to nearest", bad);
}

static void
test_rows_with_scale_and_integers (void)
{
  float in[6] = { 0.3f, -0.3f, 4.48f, 1000.0f, NAN, 0.0f };
  uint8_t q[6];
  float back[6];
  RT_REQUIRE_OK (rl_convert_row_from_f32 (RL_F8_E4M3FN, q, in, 6, 0.01f));
  PT_CHECK (q[0] == 0x5f && q[1] == 0xdf, "0.3/0.01 = 30 → 0x5f, got 0x%02x 0x%02x", q[0], q[1]);
  PT_CHECK (q[2] == 0x7e && q[3] == 0x7e, "saturates to 448: 0x%02x 0x%02x", q[2], q[3]);
  PT_CHECK (q[4] == 0x7f, "NaN → 0x7f, got 0x%02x", q[4]);
  RT_REQUIRE_OK (rl_convert_row_to_f32 (RL_F8_E4M3FN, q, 6, 0.01f, back));
  PT_CHECK (back[0] == 30.0f * 0.01f && back[2] == 448.0f * 0.01f, "scaled read %g %g",
            (double) back[0], (double) back[2]);

  float vals[7] = { 2.5f, 3.5f, -2.5f, 300.0f, -300.0f, NAN, 0.49f };
  int8_t i8[7];
  uint8_t u8[7];
  rl_convert_row_from_f32 (RL_I8, i8, vals, 7, 1.0f);
  rl_convert_row_from_f32 (RL_U8, u8, vals, 7, 1.0f);
  PT_CHECK (i8[0] == 2 && i8[1] == 4 && i8[2] == -2 && i8[3] == 127 && i8[4] == -128 && i8[5] == 0
            && i8[6] == 0, "i8 rounding/saturation: %d %d %d %d %d %d %d",
            i8[0], i8[1], i8[2], i8[3], i8[4], i8[5], i8[6]);
  PT_CHECK (u8[3] == 255 && u8[4] == 0, "u8 saturation %d %d", u8[3], u8[4]);
  PT_CHECK (rl_convert_row_to_f32 (RL_Q4_0, q, 32, 1.0f, back) == RL_E_DTYPE, "block dtype refused");
}

int
main (void)
{
  rt_seed ();
  PT_RUN (test_bf16_table);
  PT_RUN (test_f16_table);
  PT_RUN (test_e4m3fn_table);
  PT_RUN (test_e5m2_table);
  PT_RUN (test_exhaustive_round_trips);
  PT_RUN (test_random_fp8_against_search);
  PT_RUN (test_random_16bit_nearest);
  PT_RUN (test_rows_with_scale_and_integers);
  return pt_finish ();
}
