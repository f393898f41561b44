/* Unified sequence parallelism (USP): Ulysses × Ring attention.
 *
 * The sequence-parallel group of N = U·R ranks is a 2-D mesh: Ulysses
 * groups are U consecutive ranks (they exchange the most data, so they sit
 * on the fastest links), ring groups are the ranks U apart. Rank s holds
 * tokens [s·P/N, (s+1)·P/N) of the padded sequence (seq-split.h).
 *
 * Attention: an all-to-all inside the Ulysses group trades the token split
 * for a head split ([B, P/N, H, D] → [B, P/R, H/U, D]); ring attention runs
 * over the ring group on those heads; a second all-to-all trades back.
 * Heads that do not divide by U are padded with zero heads (their outputs
 * are dropped), or refused with the valid degrees listed. */
#pragma once

#include <stdbool.h>

#include "workers/comm/comm.h"
#include "workers/parallel/usp-plan.h"
#include "workers/runtime/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  RlComm *ulysses;     /* Ulysses group, or NULL for U = 1 */
  RlComm *ring;        /* ring group, or NULL for R = 1 */
  int64_t length;      /* real tokens of the whole sequence */
  bool    pad_heads;   /* heads % U != 0: pad (true) or refuse (false) */
} RlUspAttention;

/* The Ulysses and ring groups of a sequence-parallel communicator `sp`
 * of size ulysses_degree · ring_degree (collective over sp). Degrees that
 * do not multiply to the size are refused. A degree of 1 gives NULL. */
RlStatus rl_usp_groups_new       (RlComm *sp, int ulysses_degree,
                                  int ring_degree, RlComm **ulysses,
                                  RlComm **ring);

/* Collective over the Ulysses and ring groups: out [B, Lloc, H, Dv] =
 * attention of this rank's queries to every real key of the sequence,
 * where q, k [B, Lloc, H, D] and v [B, Lloc, H, Dv] hold this rank's
 * tokens, Lloc = padded length / (U·R). */
RlStatus rl_usp_attention        (const RlBackend *backend, RlContext *ctx,
                                  const RlUspAttention *usp, RlTensor *out,
                                  const RlTensor *q, const RlTensor *k,
                                  const RlTensor *v, float scale);

/* Head groups of the pipelined Ulysses attention for `heads_per_rank`
 * heads on each rank (plain Ulysses, batch 1): the exchanges of one group
 * overlap another group's attention. Fills sizes[0..n) (heads per group,
 * in order) and returns n, at most `max_groups`; 1 means the exchanges
 * run in line. Small first and last groups (their transfers are the
 * exposed ones), up to four heads in between: 20 heads → 2 4 4 4 4 2.
 * RAYLIGHT_USP_GROUPS=N overrides with N equal groups (0 or 1: in line),
 * RAYLIGHT_USP_GROUPS=a,b,c with those sizes (in line unless they add up
 * to heads_per_rank). */
int      rl_usp_head_groups      (int64_t heads_per_rank, int64_t *sizes, int max_groups);

/* The Ulysses exchanges on their own. to_heads: [B, Lloc, H, D] →
 * [B, U·Lloc, H/U, D] (tokens gathered, heads scattered; H % U == 0);
 * to_tokens is its inverse. */
RlStatus rl_ulysses_to_heads     (const RlBackend *backend, RlContext *ctx,
                                  RlComm *ulysses, RlTensor *heads_split,
                                  const RlTensor *tokens_split);
RlStatus rl_ulysses_to_tokens    (const RlBackend *backend, RlContext *ctx,
                                  RlComm *ulysses, RlTensor *tokens_split,
                                  const RlTensor *heads_split);

#ifdef __cplusplus
}
#endif
