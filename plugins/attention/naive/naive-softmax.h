/* The softmax kernel of the `naive` variant (naive-softmax.cu). */
#pragma once

#include <stdint.h>

#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif

/* For each of heads × rows score rows (f32, [heads][rows][keys], already
 * scaled): probs = softmax(row) in `prob_dtype` (RlAttentionDType) with the
 * same layout, and, when lse is non-NULL,
 *   lse[h · lse_head_stride + r] = log Σ exp(row)   (−inf when keys = 0).
 * One block of 256 threads per row. */
cudaError_t rl_attention_naive_softmax (const float *scores, void *probs, int32_t prob_dtype,
                                        float *lse, int64_t lse_head_stride, int32_t heads,
                                        int32_t rows, int32_t keys, cudaStream_t stream);

#ifdef __cplusplus
}
#endif
