/* CUDA kernel behind rl_lse_merge (lse-merge.h); private to
 * workers/parallel. Launched on `stream` (a cudaStream_t; NULL = legacy
 * default stream). Returns a cudaError_t as int. */
#pragma once

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

int rl_lse_merge_cuda (float *acc_out, float *acc_lse, const float *part_out,
                       const float *part_lse, int64_t batch, int64_t q_len,
                       int64_t heads, int64_t v_dim, void *stream);

/* Waits for the legacy default stream; a cudaError_t as int. */
int rl_lse_merge_cuda_sync (void);

#ifdef __cplusplus
}
#endif
