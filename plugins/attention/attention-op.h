/* Attention variants behind the op table's attention signature.
 *
 * Model code calls ops->attention (ctx, out, lse, q, k, v, scale)
 * (workers/runtime/ops.h). rl_attention_op has that signature and runs the
 * selector bound to the calling thread, so a worker can hand model code a
 * copy of its backend's table with attention replaced:
 *
 *   RlOps ops;
 *   rl_attention_ops_with_variants (backend->ops, &ops);
 *   rl_attention_bind (selector);          // per worker thread
 *   family->forward (ctx, &ops, ...);
 *
 * The op signature has no user pointer, hence the thread binding. */
#pragma once

#include "plugins/attention/attention-registry.h"
#include "workers/runtime/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Binds `selector` (may be NULL) to the calling thread; returns the one it
 * replaces. */
RlAttentionSelector *rl_attention_bind              (RlAttentionSelector *selector);

/* The tensors of an op-table call as an attention problem: contiguous
 * q [B,Lq,H,D], k [B,Lk,H,D], v [B,Lk,H,Dv], out [B,Lq,H,Dv] in f32/f16/bf16
 * (q, k, v one dtype), lse f32 [B,H,Lq] or NULL. */
RlStatus             rl_attention_describe          (const RlTensor *out, const RlTensor *lse,
                                                     const RlTensor *q, const RlTensor *k,
                                                     const RlTensor *v, float scale,
                                                     RlAttentionProblem *problem,
                                                     RlAttentionArgs *args);

/* Runs the tensors through `selector`; RlStatus with rl_last_error set. */
RlStatus             rl_attention_run_tensors       (RlAttentionSelector *selector,
                                                     RlTensor *out, RlTensor *lse,
                                                     const RlTensor *q, const RlTensor *k,
                                                     const RlTensor *v, float scale);

/* The RlOps attention entry: rl_attention_run_tensors on the bound
 * selector; RL_E_INVALID_ARG when none is bound. */
RlStatus             rl_attention_op                (RlContext *ctx, RlTensor *out,
                                                     RlTensor *lse, const RlTensor *q,
                                                     const RlTensor *k, const RlTensor *v,
                                                     float scale);

/* *out = *base with attention = rl_attention_op. */
void                 rl_attention_ops_with_variants (const RlOps *base, RlOps *out);

#ifdef __cplusplus
}
#endif
