/* Scalar conversions between f32 and the narrow float formats, bit-exact
 * with PyTorch/ml_dtypes: round to nearest, ties to even, subnormals kept.
 *
 *   bf16, f16, f8_e5m2: overflow rounds to ±inf, NaN stays NaN (quiet;
 *              f16 0x7e00, e5m2 0x7f, bf16 keeps the payload, as torch).
 *   f8_e4m3fn: saturating — values that round beyond ±448 and ±inf give
 *              ±448, like CUDA's __nv_cvt_float_to_fp8 (.., __NV_SATFINITE,
 *              __NV_E4M3) and ComfyUI's clamp before casting (torch's plain
 *              .to() would give NaN instead); NaN gives 0x7f/0xff.
 *
 * Bulk row conversion with a scale lives in rl_convert_row below. */
#pragma once

#include <stdint.h>

#include "workers/runtime/dtype.h"

#ifdef __cplusplus
extern "C" {
#endif

uint16_t rl_f32_to_bf16      (float value);
float    rl_bf16_to_f32      (uint16_t bits);
uint16_t rl_f32_to_f16       (float value);
float    rl_f16_to_f32       (uint16_t bits);
uint8_t  rl_f32_to_f8_e4m3fn (float value);
float    rl_f8_e4m3fn_to_f32 (uint8_t bits);
uint8_t  rl_f32_to_f8_e5m2   (float value);
float    rl_f8_e5m2_to_f32   (uint8_t bits);

/* Reads `n` contiguous elements of a plain dtype as f32, multiplied by
 * `scale` (pass 1.0f for none). Integers convert by value. GGUF block types
 * give RL_E_DTYPE (dequantise with workers/checkpoint). */
RlStatus rl_convert_row_to_f32   (RlDType src_dtype, const void *src,
                                  int64_t n, float scale, float *dst);

/* Writes `n` f32 values as a plain dtype after dividing by `scale`
 * (fp8 "scaled" storage: stored = round(value / scale)). Integers round to
 * nearest-even and saturate to their range; NaN becomes 0. */
RlStatus rl_convert_row_from_f32 (RlDType dst_dtype, void *dst,
                                  const float *src, int64_t n, float scale);

#ifdef __cplusplus
}
#endif
