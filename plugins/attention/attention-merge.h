/* Merging attention results computed over disjoint sets of keys (ring
 * attention, chunked keys), on the host in fp32.
 *
 * For partial results (out_c, lse_c) over key chunks c:
 *   lse = log Σ_c exp(lse_c)      out = Σ_c exp(lse_c − lse) · out_c
 * which equals attention over all keys. A chunk with lse = −inf (no keys)
 * contributes nothing. */
#pragma once

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Folds one partial result into a running one, in place:
 *   acc_out, part_out f32 [B, Lq, H, Dv];  acc_lse, part_lse f32 [B, H, Lq].
 * Start the running result with the first chunk's output (or zeros and
 * lse = −inf). */
void rl_attention_merge_f32 (float *acc_out, float *acc_lse,
                             const float *part_out, const float *part_lse,
                             int64_t batch, int64_t q_len, int64_t heads,
                             int64_t v_head_dim);

#ifdef __cplusplus
}
#endif
