/* Ring attention: each rank of the ring holds one contiguous block of the
 * sequence (queries, keys and values of the same tokens); key/value blocks
 * travel round the ring with send/recv while every rank attends its
 * queries to each block in turn, and the partial outputs are merged with
 * their log-sum-exp (lse-merge.h).
 *
 * Block j of the ring holds tokens [j·Lb, (j+1)·Lb) of a sequence whose
 * first `length` tokens are real: the keys past `length` (padding, only
 * at the end by the split rule of seq-split.h) are left out of every
 * softmax, so padding never changes the real tokens' outputs. Padding
 * query rows get well-defined values that the caller discards. */
#pragma once

#include "workers/comm/comm.h"
#include "workers/runtime/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Collective over `ring` (NULL: a ring of one, i.e. local attention with
 * the padding keys left out). q [B, Lb, H, D], k [B, Lb, H, D],
 * v [B, Lb, H, Dv], out [B, Lb, H, Dv] on the context's device, as for
 * RlOps.attention; lse (NULL or f32 [B, H, Lb]) receives the merged
 * log-sum-exp. `length` ≤ ring size · Lb counts the real tokens. */
RlStatus rl_ring_attention (const RlBackend *backend, RlContext *ctx,
                            RlComm *ring, int64_t length, RlTensor *out,
                            RlTensor *lse, const RlTensor *q,
                            const RlTensor *k, const RlTensor *v,
                            float scale);

#ifdef __cplusplus
}
#endif
