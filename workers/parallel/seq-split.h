/* The one sequence-split rule of sequence parallelism.
 *
 * A token sequence of `length` tokens is padded at its end to a multiple
 * of the sequence-parallel size N, and part r of N holds the contiguous
 * tokens [r·P/N, (r+1)·P/N) of the padded length P. Everything that is
 * indexed by token — RoPE tables (build them with token_offset = offset),
 * per-token and per-frame modulation (rl_seq_split_token_groups), masks,
 * control residuals — is sliced with this same rule. Padding tokens exist
 * only at the end of the sequence, so they are the last tokens of the last
 * part(s); attention leaves them out as keys (ring-attention.h). Token
 * tensors are [B, L, ...] with the token axis at dim 1. */
#pragma once

#include <stdint.h>

#include "workers/comm/comm.h"
#include "workers/runtime/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int64_t length;          /* real tokens of the whole sequence */
  int64_t padded_length;   /* length rounded up to a multiple of parts */
  int64_t local_length;    /* padded_length / parts: tokens every part holds */
  int64_t offset;          /* first global token of this part */
  int64_t valid_length;    /* real tokens of this part (the rest is padding) */
  int     parts;
  int     index;
} RlSeqSplit;

/* The split of `length` (≥ 1) tokens for part `index` of `parts`. */
RlStatus      rl_seq_split              (int64_t length, int parts, int index,
                                         RlSeqSplit *out);

/* RlTokenGroups for per-group modulation of this part's tokens (see
 * ops.h): tokens_per_group as for the whole sequence, offset = split's. */
RlTokenGroups rl_seq_split_token_groups (const RlSeqSplit *split,
                                         int64_t tokens_per_group);

/* local [B, local_length, ...] = this part's tokens of full [B, length,
 * ...]; padding rows are zero. Same dtype and trailing dims. */
RlStatus      rl_seq_split_take         (const RlBackend *backend,
                                         RlContext *ctx, RlTensor *local,
                                         const RlTensor *full,
                                         const RlSeqSplit *split);

/* Collective over the `parts` ranks of `comm` (rank = part index): full
 * [B, length, ...] = every part's local [B, local_length, ...] in order,
 * padding dropped. */
RlStatus      rl_seq_split_gather       (const RlBackend *backend,
                                         RlContext *ctx, RlComm *comm,
                                         RlTensor *full, const RlTensor *local,
                                         const RlSeqSplit *split);

#ifdef __cplusplus
}
#endif
