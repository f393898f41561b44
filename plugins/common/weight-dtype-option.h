/* UNETLoader's weight_dtype as it reaches a family's load: the loader's
 * option string ("weight_dtype=fp8_e4m3fn", entries separated by ';')
 * read into the dtype the diffusion model's matrices are stored in
 * (rl_weight_set_store_matrices_as). ComfyUI's values:
 *
 *   default           the file's dtypes (RL_DTYPE_INVALID)
 *   fp8_e4m3fn        RL_F8_E4M3FN
 *   fp8_e4m3fn_fast   RL_F8_E4M3FN as well: ComfyUI's "fast" multiplies in
 *                     fp8 by also quantising the activations to fp8. Our
 *                     backends keep activations in bf16/f32 and upcast fp8
 *                     weights inside the GEMM, so it stores and computes
 *                     exactly like fp8_e4m3fn.
 *   fp8_e5m2          RL_F8_E5M2
 */
#pragma once

#include "workers/runtime/dtype.h"
#include "workers/runtime/status.h"

/* *out from `options` (NULL or without weight_dtype: RL_DTYPE_INVALID).
 * RL_E_INVALID_ARG naming the value and the accepted ones otherwise. */
RlStatus  rl_weight_dtype_option_parse (const char *options,
                                        RlDType    *out);
