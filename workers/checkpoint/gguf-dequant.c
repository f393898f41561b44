/* CPU dequantisation of ggml block types; see gguf-dequant.h.
 *
 * Each function decodes one block. The float expressions mirror gguf-py's
 * numpy code operation for operation (products of float32 values, then the
 * offset), and the file is compiled with -ffp-contract=off so the compiler
 * never fuses them into an FMA, which would change the last bit. */
#include "workers/checkpoint/gguf-dequant.h"

#include <string.h>

#include "workers/runtime/float-convert.h"

#define QK 32
#define QK_K 256

static float
f16_at (const uint8_t *p)
{
  return rl_f16_to_f32 ((uint16_t) (p[0] | p[1] << 8));
}

static void
dequant_q4_0 (const uint8_t *b, float *y)
{
  float d = f16_at (b);
  const uint8_t *qs = b + 2;
  for (int j = 0; j < QK / 2; j++) {
    y[j] = d * (float) ((qs[j] & 0x0F) - 8);
    y[j + QK / 2] = d * (float) ((qs[j] >> 4) - 8);
  }
}

static void
dequant_q4_1 (const uint8_t *b, float *y)
{
  float d = f16_at (b), m = f16_at (b + 2);
  const uint8_t *qs = b + 4;
  for (int j = 0; j < QK / 2; j++) {
    y[j] = d * (float) (qs[j] & 0x0F) + m;
    y[j + QK / 2] = d * (float) (qs[j] >> 4) + m;
  }
}

static uint32_t
u32_at (const uint8_t *p)
{
  return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static void
dequant_q5_0 (const uint8_t *b, float *y)
{
  float d = f16_at (b);
  uint32_t qh = u32_at (b + 2);
  const uint8_t *qs = b + 6;
  for (int j = 0; j < QK / 2; j++) {
    int lo = (qs[j] & 0x0F) | (int) ((qh >> j) & 1) << 4;
    int hi = (qs[j] >> 4) | (int) ((qh >> (j + 16)) & 1) << 4;
    y[j] = d * (float) (lo - 16);
    y[j + QK / 2] = d * (float) (hi - 16);
  }
}

static void
dequant_q5_1 (const uint8_t *b, float *y)
{
  float d = f16_at (b), m = f16_at (b + 2);
  uint32_t qh = u32_at (b + 4);
  const uint8_t *qs = b + 8;
  for (int j = 0; j < QK / 2; j++) {
    int lo = (qs[j] & 0x0F) | (int) ((qh >> j) & 1) << 4;
    int hi = (qs[j] >> 4) | (int) ((qh >> (j + 16)) & 1) << 4;
    y[j] = d * (float) lo + m;
    y[j + QK / 2] = d * (float) hi + m;
  }
}

static void
dequant_q8_0 (const uint8_t *b, float *y)
{
  float d = f16_at (b);
  const int8_t *qs = (const int8_t *) (b + 2);
  for (int j = 0; j < QK; j++)
    y[j] = (float) qs[j] * d;
}

/* Element e of a super-block: its 128-element half, and within the half
 * which 32-element run (they share bytes, at successive bit positions). */
static void
dequant_q2_k (const uint8_t *b, float *y)
{
  const uint8_t *scales = b, *qs = b + 16;
  float d = f16_at (b + 80), dmin = f16_at (b + 82);
  for (int sub = 0; sub < QK_K / 16; sub++) {
    float dl = d * (float) (scales[sub] & 0x0F);
    float ml = dmin * (float) (scales[sub] >> 4);
    for (int k = 0; k < 16; k++) {
      int e = sub * 16 + k, half = e / 128, shift = 2 * ((e % 128) / 32), l = e % 32;
      int q = (qs[half * 32 + l] >> shift) & 3;
      y[e] = dl * (float) q - ml;
    }
  }
}

static void
dequant_q3_k (const uint8_t *b, float *y)
{
  const uint8_t *hmask = b, *qs = b + 32, *sc = b + 96;
  float d = f16_at (b + 108);
  for (int sub = 0; sub < QK_K / 16; sub++) {
    int low = (sc[sub % 8] >> (4 * (sub / 8))) & 0x0F;
    int high = (sc[8 + sub % 4] >> (2 * (sub / 4))) & 0x03;
    float dl = d * (float) ((int8_t) (low | high << 4) - 32);
    for (int k = 0; k < 16; k++) {
      int e = sub * 16 + k, half = e / 128, shift = 2 * ((e % 128) / 32), l = e % 32;
      int q = (qs[half * 32 + l] >> shift) & 3;
      int h = (hmask[l] >> (e / 32)) & 1;
      y[e] = dl * (float) (q - (h ? 0 : 4));
    }
  }
}

/* The 12 packed bytes of Q4_K/Q5_K hold eight 6-bit scales and mins. */
static void
k_scale_min (const uint8_t *s, int j, int *scale, int *min)
{
  if (j < 4) {
    *scale = s[j] & 0x3F;
    *min = s[j + 4] & 0x3F;
  } else {
    *scale = (s[j + 4] & 0x0F) | ((s[j - 4] >> 2) & 0x30);
    *min = (s[j + 4] >> 4) | ((s[j] >> 2) & 0x30);
  }
}

static void
dequant_q4_k (const uint8_t *b, float *y)
{
  float d = f16_at (b), dmin = f16_at (b + 2);
  const uint8_t *scales = b + 4, *qs = b + 16;
  for (int sub = 0; sub < 8; sub++) {
    int sc, m;
    k_scale_min (scales, sub, &sc, &m);
    float dl = d * (float) sc, ml = dmin * (float) m;
    const uint8_t *q = qs + (sub / 2) * 32;
    int shift = 4 * (sub % 2);
    for (int l = 0; l < 32; l++)
      y[sub * 32 + l] = dl * (float) ((q[l] >> shift) & 0x0F) - ml;
  }
}

static void
dequant_q5_k (const uint8_t *b, float *y)
{
  float d = f16_at (b), dmin = f16_at (b + 2);
  const uint8_t *scales = b + 4, *qh = b + 16, *qs = b + 48;
  for (int sub = 0; sub < 8; sub++) {
    int sc, m;
    k_scale_min (scales, sub, &sc, &m);
    float dl = d * (float) sc, ml = dmin * (float) m;
    const uint8_t *q = qs + (sub / 2) * 32;
    int shift = 4 * (sub % 2);
    for (int l = 0; l < 32; l++) {
      int v = ((q[l] >> shift) & 0x0F) | ((qh[l] >> sub) & 1) << 4;
      y[sub * 32 + l] = dl * (float) v - ml;
    }
  }
}

static void
dequant_q6_k (const uint8_t *b, float *y)
{
  const uint8_t *ql = b, *qh = b + 128;
  const int8_t *scales = (const int8_t *) (b + 192);
  float d = f16_at (b + 208);
  for (int sub = 0; sub < QK_K / 16; sub++) {
    float dl = d * (float) scales[sub];
    for (int k = 0; k < 16; k++) {
      int e = sub * 16 + k, half = e / 128, r = e % 128;
      int lo = (ql[half * 64 + r % 64] >> (4 * (r / 64))) & 0x0F;
      int hi = (qh[half * 32 + r % 32] >> (2 * (r / 32))) & 0x03;
      y[e] = dl * (float) ((lo | hi << 4) - 32);
    }
  }
}

typedef void (*BlockDecoder) (const uint8_t *block, float *out);

static BlockDecoder
decoder_for (RlDType dtype)
{
  switch (dtype) {
  case RL_Q4_0: return dequant_q4_0;
  case RL_Q4_1: return dequant_q4_1;
  case RL_Q5_0: return dequant_q5_0;
  case RL_Q5_1: return dequant_q5_1;
  case RL_Q8_0: return dequant_q8_0;
  case RL_Q2_K: return dequant_q2_k;
  case RL_Q3_K: return dequant_q3_k;
  case RL_Q4_K: return dequant_q4_k;
  case RL_Q5_K: return dequant_q5_k;
  case RL_Q6_K: return dequant_q6_k;
  default: return NULL;
  }
}

bool
rl_gguf_can_dequantize (RlDType dtype)
{
  return decoder_for (dtype) != NULL || dtype == RL_F32 || dtype == RL_F16 || dtype == RL_BF16;
}

RlStatus
rl_gguf_dequantize (RlDType dtype, const void *src, int64_t n, float *dst)
{
  if (n < 0 || (n > 0 && (src == NULL || dst == NULL)))
    return rl_set_error (RL_E_INVALID_ARG, "gguf dequantize: bad arguments (n=%lld)", (long long) n);
  if (dtype == RL_F32 || dtype == RL_F16 || dtype == RL_BF16)
    return rl_convert_row_to_f32 (dtype, src, n, 1.0f, dst);
  BlockDecoder decode = decoder_for (dtype);
  if (decode == NULL)
    return rl_set_error (RL_E_DTYPE, "gguf dequantize: %s is not a GGUF block type this build decodes",
                         rl_dtype_name (dtype));
  int64_t block_elems = rl_dtype_block_elems (dtype);
  size_t block_bytes = rl_dtype_block_bytes (dtype);
  if (n % block_elems != 0)
    return rl_set_error (RL_E_INVALID_ARG, "gguf dequantize: %lld elements are not whole %s blocks of %lld",
                         (long long) n, rl_dtype_name (dtype), (long long) block_elems);
  const uint8_t *blocks = src;
  for (int64_t i = 0; i < n / block_elems; i++)
    decode (blocks + (size_t) i * block_bytes, dst + i * block_elems);
  return RL_OK;
}
