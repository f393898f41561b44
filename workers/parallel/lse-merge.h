/* Merging attention outputs computed over disjoint sets of keys with their
 * log-sum-exp (ring attention):
 *   lse = log(exp(lse_acc) + exp(lse_part))
 *   out = exp(lse_acc − lse)·out_acc + exp(lse_part − lse)·out_part
 * A row whose lse is −inf (no keys) contributes nothing. */
#pragma once

#include "workers/runtime/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Folds (part_out, part_lse) into (acc_out, acc_lse) in place on the
 * context's device: out tensors f32 [B, Lq, H, Dv], lse tensors f32
 * [B, H, Lq], all contiguous. Math in fp64 on the CPU, fp32 on CUDA. */
RlStatus rl_lse_merge (const RlBackend *backend, RlContext *ctx,
                       RlTensor *acc_out, RlTensor *acc_lse,
                       const RlTensor *part_out, const RlTensor *part_lse);

#ifdef __cplusplus
}
#endif
