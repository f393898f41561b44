/* Element types of tensors: plain scalars and GGUF block quantisations.
 *
 * Plain types have block size 1 and bytes-per-block = element size. GGUF
 * block types pack `block_elems` consecutive elements of a row into
 * `block_bytes` bytes (llama.cpp/ggml layout); a row of such a tensor must be
 * a whole number of blocks and only whole rows can be addressed.
 *
 *   type       safetensors   GGUF id   block elems   block bytes
 *   F32        "F32"          0          1             4
 *   F16        "F16"          1          1             2
 *   BF16       "BF16"        30          1             2
 *   F64        "F64"         28          1             8
 *   F8_E4M3FN  "F8_E4M3"      -          1             1
 *   F8_E5M2    "F8_E5M2"      -          1             1
 *   I8/I16/I32/I64  "I8".."I64"  24/25/26/27            1/2/4/8
 *   U8         "U8"           -          1             1
 *   BOOL       "BOOL"         -          1             1
 *   Q4_0 Q4_1 Q5_0 Q5_1 Q8_0  ids 2 3 6 7 8   32 elems  18 20 22 24 34 bytes
 *   Q2_K Q3_K Q4_K Q5_K Q6_K  ids 10..14      256 elems 84 110 144 176 210 bytes
 *
 * Block dequantisation (GGUF types -> f32) is provided by workers/checkpoint
 * (gguf-dequant.h); the CPU backend's convert op calls it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "workers/runtime/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  RL_DTYPE_INVALID = 0,
  RL_F32,
  RL_F16,
  RL_BF16,
  RL_F8_E4M3FN,   /* no infinities, max 448, NaN = S.1111.111 */
  RL_F8_E5M2,     /* IEEE-like: inf and NaN, max 57344 */
  RL_F64,
  RL_I8,
  RL_I16,
  RL_I32,
  RL_I64,
  RL_U8,
  RL_BOOL,
  RL_Q4_0,
  RL_Q4_1,
  RL_Q5_0,
  RL_Q5_1,
  RL_Q8_0,
  RL_Q2_K,
  RL_Q3_K,
  RL_Q4_K,
  RL_Q5_K,
  RL_Q6_K,
  RL_DTYPE_COUNT
} RlDType;

/* Lower-case short name for messages ("bf16", "q4_k"); "invalid" if unknown. */
const char *rl_dtype_name                (RlDType dtype);

/* Elements per storage block: 1 for plain types, 32 or 256 for GGUF blocks;
 * 0 for RL_DTYPE_INVALID. */
int64_t     rl_dtype_block_elems         (RlDType dtype);

/* Bytes per block (= element size for plain types); 0 if invalid. */
size_t      rl_dtype_block_bytes         (RlDType dtype);

bool        rl_dtype_is_quantized        (RlDType dtype);   /* GGUF block type */
bool        rl_dtype_is_float            (RlDType dtype);   /* f32 f16 bf16 f64 f8 */
bool        rl_dtype_is_integer          (RlDType dtype);   /* i8..i64 u8 bool */

/* Bytes that `n_elements` elements occupy, with overflow and block
 * alignment checks (n must be a multiple of the block size). */
RlStatus    rl_dtype_bytes_for           (RlDType dtype, int64_t n_elements,
                                          size_t *out_bytes);

/* safetensors header names ("F32", "BF16", "F8_E4M3", ...). Unknown names
 * give RL_DTYPE_INVALID; types safetensors cannot hold give NULL. */
RlDType     rl_dtype_from_safetensors    (const char *name);
const char *rl_dtype_safetensors_name    (RlDType dtype);

/* GGUF tensor type ids (ggml_type). Unknown ids give RL_DTYPE_INVALID;
 * types GGUF cannot hold give -1. */
RlDType     rl_dtype_from_gguf           (uint32_t gguf_type);
int         rl_dtype_gguf_id             (RlDType dtype);

#ifdef __cplusplus
}
#endif
