/* Narrow float formats <-> f32 by integer arithmetic on the bit patterns,
 * so results do not depend on the FPU's rounding mode or flush-to-zero. */
#include "workers/runtime/float-convert.h"

#include <math.h>
#include <string.h>

static inline uint32_t
f32_bits (float value)
{
  uint32_t bits;
  memcpy (&bits, &value, sizeof bits);
  return bits;
}

static inline float
bits_f32 (uint32_t bits)
{
  float value;
  memcpy (&value, &bits, sizeof value);
  return value;
}

/* A binary format with an implicit leading bit, subnormals and a sign bit
 * on top: exp_bits/man_bits/bias describe it; max_code is the largest
 * finite magnitude code; overflow_code is what values rounding past it
 * become (infinity, or max_code when saturating); nan_code is the
 * magnitude code of the canonical quiet NaN. */
typedef struct {
  int      man_bits;
  int      bias;
  int      total_bits;
  uint32_t max_code;
  uint32_t overflow_code;
  uint32_t nan_code;
} SmallFloat;

static const SmallFloat format_f16  = { 10, 15, 16, 0x7bff, 0x7c00, 0x7e00 };
static const SmallFloat format_e4m3 = { 3,  7,  8,  0x7e,   0x7e,   0x7f };
static const SmallFloat format_e5m2 = { 2,  15, 8,  0x7b,   0x7c,   0x7f };

/* Shifts `m` right by `shift` rounding to nearest, ties to even. */
static inline uint64_t
shift_right_rne (uint64_t m, int shift)
{
  if (shift <= 0)
    return m;
  if (shift > 62)
    return 0;
  uint64_t q = m >> shift;
  uint64_t rem = m & ((UINT64_C (1) << shift) - 1);
  uint64_t half = UINT64_C (1) << (shift - 1);
  if (rem > half || (rem == half && (q & 1)))
    q++;
  return q;
}

static uint32_t
encode_small (const SmallFloat *fmt, float value)
{
  uint32_t bits = f32_bits (value);
  uint32_t sign = (bits >> 31) << (fmt->total_bits - 1);
  uint32_t mag = bits & 0x7fffffffu;

  if (mag > 0x7f800000u)
    return sign | fmt->nan_code;
  if (mag == 0x7f800000u)
    return sign | fmt->overflow_code;
  if (mag < 0x00800000u)          /* zero or f32 subnormal: below any target */
    return sign;

  int exponent = (int) (mag >> 23) - 127;
  uint64_t mantissa = (mag & 0x7fffffu) | 0x800000u;   /* 1.m × 2^23 */
  int min_exponent = 1 - fmt->bias;
  int shift = 23 - fmt->man_bits;
  uint64_t code;

  if (exponent >= min_exponent)
    {
      /* q in [2^M, 2^(M+1)]: adding it to (e+bias−1)<<M carries a rounded-up
       * mantissa into the exponent field. */
      uint64_t q = shift_right_rne (mantissa, shift);
      code = ((uint64_t) (exponent + fmt->bias - 1) << fmt->man_bits) + q;
    }
  else
    {
      /* Subnormal: units of 2^(min_exponent − M); rounding up to 2^M gives
       * the smallest normal code, which is the same number. */
      code = shift_right_rne (mantissa, shift + (min_exponent - exponent));
    }
  if (code > fmt->max_code)
    code = fmt->overflow_code;
  return sign | (uint32_t) code;
}

static float
decode_small (const SmallFloat *fmt, uint32_t code, bool has_inf)
{
  uint32_t sign_bit = 1u << (fmt->total_bits - 1);
  uint32_t mag = code & (sign_bit - 1);
  float sign = (code & sign_bit) ? -1.0f : 1.0f;
  int exp_field = (int) (mag >> fmt->man_bits);
  uint32_t man = mag & ((1u << fmt->man_bits) - 1);
  int exp_all_ones = (1 << (fmt->total_bits - 1 - fmt->man_bits)) - 1;

  if (has_inf && exp_field == exp_all_ones)
    return man == 0 ? sign * INFINITY : copysignf (NAN, sign);
  if (!has_inf && mag == fmt->nan_code)
    return copysignf (NAN, sign);
  if (exp_field == 0)
    return sign * ldexpf ((float) man, 1 - fmt->bias - fmt->man_bits);
  return sign * ldexpf ((float) (man | (1u << fmt->man_bits)),
                        exp_field - fmt->bias - fmt->man_bits);
}

uint16_t
rl_f32_to_bf16 (float value)
{
  uint32_t bits = f32_bits (value);
  if ((bits & 0x7fffffffu) > 0x7f800000u)
    return (uint16_t) ((bits >> 16) | 0x0040u);      /* quiet NaN, sign kept */
  uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
  return (uint16_t) ((bits + rounding) >> 16);
}

float
rl_bf16_to_f32 (uint16_t bits)
{
  return bits_f32 ((uint32_t) bits << 16);
}

uint16_t
rl_f32_to_f16 (float value)
{
  return (uint16_t) encode_small (&format_f16, value);
}

float
rl_f16_to_f32 (uint16_t bits)
{
  return decode_small (&format_f16, bits, true);
}

uint8_t
rl_f32_to_f8_e4m3fn (float value)
{
  return (uint8_t) encode_small (&format_e4m3, value);
}

float
rl_f8_e4m3fn_to_f32 (uint8_t bits)
{
  return decode_small (&format_e4m3, bits, false);
}

uint8_t
rl_f32_to_f8_e5m2 (float value)
{
  return (uint8_t) encode_small (&format_e5m2, value);
}

float
rl_f8_e5m2_to_f32 (uint8_t bits)
{
  return decode_small (&format_e5m2, bits, true);
}

/* Round-to-nearest-even into [lo, hi]; NaN gives 0. */
static inline int64_t
round_saturate (float value, double lo, double hi)
{
  if (isnan (value))
    return 0;
  double r = nearbyint ((double) value);
  if (r < lo)
    r = lo;
  if (r > hi)
    r = hi;
  return (int64_t) r;
}

RlStatus
rl_convert_row_to_f32 (RlDType src_dtype, const void *src, int64_t n,
                       float scale, float *dst)
{
  switch (src_dtype)
    {
#define READ_ROW_(ctype, expr)                                               \
      {                                                                      \
        const ctype *s = src;                                                \
        for (int64_t i = 0; i < n; i++)                                      \
          dst[i] = (expr) * scale;                                           \
        return RL_OK;                                                        \
      }
    case RL_F32:       READ_ROW_ (float, s[i])
    case RL_F16:       READ_ROW_ (uint16_t, rl_f16_to_f32 (s[i]))
    case RL_BF16:      READ_ROW_ (uint16_t, rl_bf16_to_f32 (s[i]))
    case RL_F8_E4M3FN: READ_ROW_ (uint8_t, rl_f8_e4m3fn_to_f32 (s[i]))
    case RL_F8_E5M2:   READ_ROW_ (uint8_t, rl_f8_e5m2_to_f32 (s[i]))
    case RL_F64:       READ_ROW_ (double, (float) s[i])
    case RL_I8:        READ_ROW_ (int8_t, (float) s[i])
    case RL_I16:       READ_ROW_ (int16_t, (float) s[i])
    case RL_I32:       READ_ROW_ (int32_t, (float) s[i])
    case RL_I64:       READ_ROW_ (int64_t, (float) s[i])
    case RL_U8:        READ_ROW_ (uint8_t, (float) s[i])
    case RL_BOOL:      READ_ROW_ (uint8_t, s[i] ? 1.0f : 0.0f)
#undef READ_ROW_
    default:
      return rl_set_error (RL_E_DTYPE, "cannot read %s elements as f32 here%s",
                           rl_dtype_name (src_dtype),
                           rl_dtype_is_quantized (src_dtype)
                             ? " (GGUF blocks dequantise through workers/checkpoint)" : "");
    }
}

RlStatus
rl_convert_row_from_f32 (RlDType dst_dtype, void *dst, const float *src,
                         int64_t n, float scale)
{
  switch (dst_dtype)
    {
#define WRITE_ROW_(ctype, expr)                                              \
      {                                                                      \
        ctype *d = dst;                                                      \
        for (int64_t i = 0; i < n; i++)                                      \
          {                                                                  \
            float v = scale == 1.0f ? src[i] : src[i] / scale;               \
            d[i] = (ctype) (expr);                                           \
          }                                                                  \
        return RL_OK;                                                        \
      }
    case RL_F32:       WRITE_ROW_ (float, v)
    case RL_F16:       WRITE_ROW_ (uint16_t, rl_f32_to_f16 (v))
    case RL_BF16:      WRITE_ROW_ (uint16_t, rl_f32_to_bf16 (v))
    case RL_F8_E4M3FN: WRITE_ROW_ (uint8_t, rl_f32_to_f8_e4m3fn (v))
    case RL_F8_E5M2:   WRITE_ROW_ (uint8_t, rl_f32_to_f8_e5m2 (v))
    case RL_F64:       WRITE_ROW_ (double, (double) v)
    case RL_I8:        WRITE_ROW_ (int8_t, round_saturate (v, INT8_MIN, INT8_MAX))
    case RL_I16:       WRITE_ROW_ (int16_t, round_saturate (v, INT16_MIN, INT16_MAX))
    case RL_I32:       WRITE_ROW_ (int32_t, round_saturate (v, INT32_MIN, INT32_MAX))
    case RL_I64:       WRITE_ROW_ (int64_t, round_saturate (v, -9.2233720368547758e18, 9.2233720368547748e18))
    case RL_U8:        WRITE_ROW_ (uint8_t, round_saturate (v, 0, UINT8_MAX))
    case RL_BOOL:      WRITE_ROW_ (uint8_t, v != 0.0f)
#undef WRITE_ROW_
    default:
      return rl_set_error (RL_E_DTYPE, "cannot write f32 values as %s",
                           rl_dtype_name (dst_dtype));
    }
}
