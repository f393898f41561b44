/* RlFsdpStore: a model's block weights sharded over a group of ranks (FSDP)
 * and/or kept in host memory (CPU offload), gathered one block ahead of
 * use into two reusable buffers.
 *
 * Layout. The tensors of one block that are worth sharding are laid end to
 * end in a flat byte buffer (each at a 256-byte aligned offset, so views of
 * it suit every kernel), padded to N equal shards of S bytes. Rank r keeps
 * bytes [r·S, (r+1)·S) in the checkpoint's dtype — read from the mapped
 * file directly, so a rank touches only its shard's pages. Scalars,
 * one-element tensors, quantisation scales and tensors whose first
 * dimension is odd stay replicated: every rank keeps them whole, outside
 * the flat buffer (rl_fsdp_keeps_whole).
 *
 * Running. Two gathered-block buffers ("slots") exist; block i always
 * lands in slot i % 2, so the tensor views handed out at load time stay
 * valid and the model code keeps plain RlTensor fields. A forward does
 *
 *   rl_fsdp_store_prefetch (store, 0);          // overlaps the embeddings
 *   for (i = 0; i < n; i++) {
 *     rl_fsdp_store_acquire (store, i);         // waits for block i, starts i+1
 *     ... compute with block i's tensors ...
 *     rl_fsdp_store_release (store, i);         // its slot may be refilled
 *   }
 *   rl_fsdp_store_idle (store);                 // also after a failure
 *
 * so at most two gathered blocks exist at any time. On the CUDA backend
 * the gather (host-to-device copy of an offloaded shard, NCCL all-gather)
 * runs on a side stream ordered by events against the compute stream:
 * the next block's gather overlaps the current block's compute. On the
 * CPU backend (shared-memory collectives) the gather runs when it is
 * started; the order of calls, the slots and the statistics are the same.
 *
 * Every rank of the group must make the same calls in the same order
 * (SPMD), because prefetch and acquire run collectives. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "workers/checkpoint/safetensors.h"
#include "workers/comm/comm.h"
#include "workers/runtime/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct RlFsdpStore RlFsdpStore;

typedef struct {
  RlComm  *group;         /* ranks sharing the block weights; NULL or size 1: none.
                           * Used only by the store (give it a communicator of its
                           * own, e.g. rl_comm_split of the world): its gathers run
                           * beside the model's other collectives. Must outlive it. */
  bool     cpu_offload;   /* shards (whole blocks without a group) in pinned host memory */
} RlFsdpOptions;

typedef struct {
  int       ranks;               /* group size (1 without sharding) */
  int       blocks;
  int       sharded_tensors;
  int       replicated_tensors;  /* block tensors every rank keeps whole */
  uint64_t  block_bytes;         /* sharded tensors of every block, unsharded, unpadded */
  uint64_t  shard_bytes;         /* what this rank keeps of them (padding included) */
  uint64_t  replicated_bytes;    /* replicated block tensors */
  uint64_t  slot_bytes;          /* the two gathered-block buffers together */
  uint64_t  offloaded_bytes;     /* of shard_bytes, those in host memory */
  int       gathered_alive;      /* slots holding (or receiving) a gathered block now */
  int       gathered_peak;       /* the most at any time since load */
  uint64_t  gathers;             /* blocks gathered since load */
} RlFsdpStats;

/* Whether a tensor stays whole on every rank instead of being sharded:
 * scalars and one-element tensors, quantisation scales (names holding
 * "scale") and tensors whose first dimension is odd. */
bool      rl_fsdp_keeps_whole      (const RlSafetensorsTensor *t);

/* A store for weights on `ctx`'s device. RL_E_NOT_SUPPORTED when the
 * group's communicator cannot reach the backend's memory (an shm group on
 * the CUDA backend). `options` is copied. */
RlStatus  rl_fsdp_store_new        (const RlBackend      *backend,
                                    RlContext            *ctx,
                                    const RlFsdpOptions  *options,
                                    RlFsdpStore         **out);
void      rl_fsdp_store_free       (RlFsdpStore          *store);   /* NULL-safe */

/* ---------------------------------------------------------- loading
 * Blocks are numbered 0, 1, ... in order; each is opened, given its
 * tensors, and closed (which reads this rank's shard from the file).
 * rl_fsdp_store_finish then allocates the two slots and points every
 * tensor handed out at its slot. */
RlStatus  rl_fsdp_store_begin_block (RlFsdpStore          *store,
                                     int                   block);
/* Takes `t` of `st` (a tensor rl_fsdp_keeps_whole refuses) into the open
 * block. *dest gets dtype, shape and scale now and its data pointer at
 * rl_fsdp_store_finish, so it must stay at that address; the data is
 * valid only while the block is acquired. The store owns the memory. */
RlStatus  rl_fsdp_store_add        (RlFsdpStore               *store,
                                    RlSafetensors             *st,
                                    const RlSafetensorsTensor *t,
                                    RlTensor                  *dest);
/* Counts a tensor of the open block that the caller keeps whole. */
void      rl_fsdp_store_note_replicated (RlFsdpStore          *store,
                                         uint64_t              bytes);
RlStatus  rl_fsdp_store_end_block  (RlFsdpStore          *store);
RlStatus  rl_fsdp_store_finish     (RlFsdpStore          *store);

/* ---------------------------------------------------------- running */
/* Starts gathering `block` into its slot (no-op when it is there or
 * outside [0, blocks)). Fails when the slot still holds an acquired block. */
RlStatus  rl_fsdp_store_prefetch   (RlFsdpStore          *store,
                                    int                   block);
/* Makes `block`'s tensors ready for the compute stream (gathering it now
 * if it was not prefetched), then starts gathering block + 1. Fails with
 * RL_E_DEVICE naming the block when its gather failed or timed out. */
RlStatus  rl_fsdp_store_acquire    (RlFsdpStore          *store,
                                    int                   block);
/* The compute stream is done with `block` once the work queued so far
 * finishes; its slot may then be refilled. */
RlStatus  rl_fsdp_store_release    (RlFsdpStore          *store,
                                    int                   block);
/* End of a forward (or a failure in one): waits for the side stream and
 * forgets every gathered block. */
RlStatus  rl_fsdp_store_idle       (RlFsdpStore          *store);

void      rl_fsdp_store_stats      (const RlFsdpStore    *store,
                                    RlFsdpStats          *out);

#ifdef __cplusplus
}
#endif
