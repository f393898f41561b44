/* Inside RlFsdpStore: the store (layout, slots, statistics) and the two
 * engines that move the bytes — fsdp-host.c for the CPU backend (shared-
 * memory collectives, synchronous) and fsdp-cuda.c for the CUDA backend
 * (side stream, NCCL, events, pinned host memory). Private to
 * workers/fsdp. */
#pragma once

#include "workers/fsdp/fsdp-store.h"

#define FSDP_ALIGN 256
#define FSDP_SLOTS 2

typedef struct FsdpEngine FsdpEngine;

/* A tensor handed out for a sharded block: where its bytes sit in the
 * block's flat buffer and which caller tensor points there. */
typedef struct {
  int        block;
  uint64_t   offset;
  RlTensor  *dest;
  RlDType    dtype;
  int        ndim;
  int64_t    shape[RL_MAX_DIMS];
  float      scale;
} FsdpEntry;

/* A tensor of the open block, until its shard is read. */
typedef struct {
  RlSafetensors             *st;
  const RlSafetensorsTensor *t;
  uint64_t                   offset;
} FsdpPending;

typedef struct {
  uint64_t  flat_bytes;    /* N · shard_bytes */
  uint64_t  shard_bytes;
  void     *shard;         /* this rank's bytes: device memory, or host when offloaded */
} FsdpBlock;

typedef struct {
  void  *data;             /* device memory, slot_bytes long */
  int    block;            /* block held (or being gathered), −1 none */
  bool   pending;          /* gathered, but the compute side has not waited yet */
  bool   in_use;           /* acquired and not released */
} FsdpSlot;

struct RlFsdpStore {
  const RlBackend   *backend;
  RlContext         *ctx;
  RlFsdpOptions      options;
  int                rank, ranks;
  const FsdpEngine  *engine;
  void              *engine_state;

  FsdpBlock         *blocks;
  int                n_blocks, blocks_capacity;
  FsdpEntry         *entries;
  size_t             n_entries, entries_capacity;
  FsdpPending       *pending;        /* the open block's tensors */
  size_t             n_pending, pending_capacity;
  int                open_block;     /* −1 when none */
  uint64_t           open_bytes;     /* flat bytes of the open block so far */
  bool               finished;

  FsdpSlot           slots[FSDP_SLOTS];
  uint64_t           slot_bytes;     /* one slot */
  RlFsdpStats        stats;
};

struct FsdpEngine {
  const char *name;
  RlStatus (*init)         (RlFsdpStore *store);
  void     (*destroy)      (RlFsdpStore *store);
  /* Memory for a shard (device, or host when offloading) and for a slot. */
  RlStatus (*shard_alloc)  (RlFsdpStore *store, uint64_t bytes, void **out);
  void     (*shard_free)   (RlFsdpStore *store, void *ptr);
  RlStatus (*slot_alloc)   (RlFsdpStore *store, uint64_t bytes, void **out);
  void     (*slot_free)    (RlFsdpStore *store, void *ptr);
  /* Fills a freshly allocated shard from host bytes (at load time). */
  RlStatus (*shard_upload) (RlFsdpStore *store, void *shard, const void *host, uint64_t bytes);
  /* Whether shard_alloc memory can be written by the host directly
   * (then the loader reads the file straight into it). */
  bool     (*shard_is_host)(const RlFsdpStore *store);
  /* Starts filling slot `slot` with block `block` (after the compute side
   * released what the slot held before). */
  RlStatus (*gather)       (RlFsdpStore *store, int slot, int block);
  /* Makes the compute side wait for the slot's gather. */
  RlStatus (*wait)         (RlFsdpStore *store, int slot, int block);
  /* The compute side has queued all its work on the slot. */
  RlStatus (*released)     (RlFsdpStore *store, int slot);
  /* Waits for every started gather. */
  RlStatus (*drain)        (RlFsdpStore *store);
};

extern const FsdpEngine rl_fsdp_host_engine;
extern const FsdpEngine rl_fsdp_cuda_engine;   /* CUDA builds only */
