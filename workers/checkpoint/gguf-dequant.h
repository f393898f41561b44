/* Dequantisation of GGUF (ggml) block types to float32 on the CPU.
 *
 * Bit-exact with the `gguf` Python package's gguf.quants.dequantize (and so
 * with ggml's reference dequantize_row_* for these types): every result is
 * computed with the same float32 operations in the same order, no fused
 * multiply-add. Block layouts (ggml-common.h), QK = 32, QK_K = 256:
 *
 *   Q4_0  18 B: f16 d, 16 B nibbles               x = d·(q − 8)
 *   Q4_1  20 B: f16 d, f16 m, 16 B nibbles        x = d·q + m
 *   Q5_0  22 B: f16 d, u32 high bits, 16 B        x = d·(q − 16)
 *   Q5_1  24 B: f16 d, f16 m, u32 high bits, 16 B x = d·q + m
 *   Q8_0  34 B: f16 d, 32 × i8                    x = d·q
 *   Q2_K  84 B: 16 B scales/mins (4+4 bit), 64 B 2-bit q, f16 d, f16 dmin
 *   Q3_K 110 B: 32 B high-bit mask, 64 B 2-bit q, 12 B 6-bit scales, f16 d
 *   Q4_K 144 B: f16 d, f16 dmin, 12 B 6-bit scales/mins, 128 B nibbles
 *   Q5_K 176 B: f16 d, f16 dmin, 12 B scales/mins, 32 B high bits, 128 B nibbles
 *   Q6_K 210 B: 128 B low nibbles, 64 B 2-bit highs, 16 × i8 scales, f16 d
 *
 * F32, F16 and BF16 are accepted too, so a loader can treat every GGUF
 * tensor alike. The CUDA version (gguf-dequant-cuda.h) gives identical
 * bits. */
#pragma once

#include <stdint.h>

#include "workers/runtime/dtype.h"
#include "workers/runtime/status.h"

/* Writes `n` float32 values decoded from `src` (n / block_elems whole
 * blocks of `dtype`) to `dst`. RL_E_INVALID_ARG when n is not a whole
 * number of blocks; RL_E_DTYPE for other dtypes. No allocation; safe to
 * call from several threads on disjoint ranges. */
RlStatus rl_gguf_dequantize (RlDType     dtype,
                             const void *src,
                             int64_t     n,
                             float      *dst);

/* Whether rl_gguf_dequantize (CPU and CUDA) handles `dtype`. */
bool     rl_gguf_can_dequantize (RlDType dtype);
