/* RlFsdpStore: flat per-block layout, shard reading at load time, and the
 * two-slot state machine of a forward. The bytes move through an engine
 * (fsdp-private.h) chosen by the backend. */
#include "workers/fsdp/fsdp-private.h"

#include <stdlib.h>
#include <string.h>

#include "raylight-config.h"

static uint64_t
align_up (uint64_t n, uint64_t to)
{
  return (n + to - 1) / to * to;
}

bool
rl_fsdp_keeps_whole (const RlSafetensorsTensor *t)
{
  if (t->ndim == 0 || t->numel <= 1)
    return true;
  if (strstr (t->name, "scale") != NULL)
    return true;
  return t->shape[0] % 2 != 0;
}

RlStatus
rl_fsdp_store_new (const RlBackend      *backend,
                   RlContext            *ctx,
                   const RlFsdpOptions  *options,
                   RlFsdpStore         **out)
{
  RlFsdpStore *store;
  RlStatus s;

  *out = NULL;
  if (backend->device_kind == RL_DEVICE_CUDA && !RAYLIGHT_HAVE_CUDA)
    return rl_set_error (RL_E_NOT_SUPPORTED, "fsdp: this build has no CUDA engine for sharded weights");
  if (options->group != NULL && rl_comm_size (options->group) > 1
      && rl_comm_device (options->group).kind != backend->device_kind)
    return rl_set_error (RL_E_NOT_SUPPORTED, "fsdp: the %s group cannot gather into %s memory; "
                         "sharded weights need collectives on the model's device",
                         rl_comm_backend_name (options->group),
                         rl_device_kind_name (backend->device_kind));
  store = calloc (1, sizeof *store);
  if (store == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "fsdp: out of memory");
  store->backend = backend;
  store->ctx = ctx;
  store->options = *options;
  store->ranks = options->group != NULL ? rl_comm_size (options->group) : 1;
  store->rank = options->group != NULL ? rl_comm_rank (options->group) : 0;
  if (store->ranks < 2)
    store->options.group = NULL;
  store->open_block = -1;
  for (int i = 0; i < FSDP_SLOTS; i++)
    store->slots[i].block = -1;
  store->stats.ranks = store->ranks;
#if RAYLIGHT_HAVE_CUDA
  store->engine = backend->device_kind == RL_DEVICE_CUDA ? &rl_fsdp_cuda_engine
                                                         : &rl_fsdp_host_engine;
#else
  store->engine = &rl_fsdp_host_engine;
#endif
  s = store->engine->init (store);
  if (s < 0)
    {
      free (store);
      return s;
    }
  *out = store;
  return RL_OK;
}

void
rl_fsdp_store_free (RlFsdpStore *store)
{
  if (store == NULL)
    return;
  if (store->engine->drain != NULL)
    store->engine->drain (store);
  for (int i = 0; i < FSDP_SLOTS; i++)
    if (store->slots[i].data != NULL)
      store->engine->slot_free (store, store->slots[i].data);
  for (int b = 0; b < store->n_blocks; b++)
    if (store->blocks[b].shard != NULL)
      store->engine->shard_free (store, store->blocks[b].shard);
  store->engine->destroy (store);
  free (store->blocks);
  free (store->entries);
  free (store->pending);
  free (store);
}

/* ------------------------------------------------------------ loading */

static bool
grow (void **array, size_t *capacity, size_t count, size_t item)
{
  size_t cap;
  void *grown;

  if (count < *capacity)
    return true;
  cap = *capacity ? 2 * *capacity : 32;
  grown = realloc (*array, cap * item);
  if (grown == NULL)
    return false;
  *array = grown;
  *capacity = cap;
  return true;
}

RlStatus
rl_fsdp_store_begin_block (RlFsdpStore *store,
                           int          block)
{
  size_t cap = (size_t) store->blocks_capacity;

  if (store->finished || store->open_block >= 0 || block != store->n_blocks)
    return rl_set_error (RL_E_INVALID_ARG, "fsdp: block %d opened out of order (next is %d%s)",
                         block, store->n_blocks, store->open_block >= 0 ? ", one is open" : "");
  if (!grow ((void **) &store->blocks, &cap, (size_t) store->n_blocks, sizeof *store->blocks))
    return rl_set_error (RL_E_NO_MEMORY, "fsdp: out of memory");
  store->blocks_capacity = (int) cap;
  store->blocks[store->n_blocks] = (FsdpBlock) { 0 };
  store->open_block = block;
  store->open_bytes = 0;
  store->n_pending = 0;
  return RL_OK;
}

RlStatus
rl_fsdp_store_add (RlFsdpStore               *store,
                   RlSafetensors             *st,
                   const RlSafetensorsTensor *t,
                   RlTensor                  *dest)
{
  FsdpEntry *e;

  if (store->open_block < 0)
    return rl_set_error (RL_E_INVALID_ARG, "fsdp: '%s' added outside a block", t->name);
  if (rl_fsdp_keeps_whole (t))
    return rl_set_error (RL_E_INVALID_ARG, "fsdp: '%s' stays whole on every rank", t->name);
  if (t->ndim > RL_MAX_DIMS)
    return rl_set_error (RL_E_NOT_SUPPORTED, "fsdp: '%s' has %d dimensions (at most %d)",
                         t->name, t->ndim, RL_MAX_DIMS);
  if (!grow ((void **) &store->entries, &store->entries_capacity, store->n_entries, sizeof *e)
      || !grow ((void **) &store->pending, &store->pending_capacity, store->n_pending,
                sizeof *store->pending))
    return rl_set_error (RL_E_NO_MEMORY, "fsdp: out of memory");
  e = &store->entries[store->n_entries++];
  *e = (FsdpEntry) { .block = store->open_block, .dest = dest, .dtype = t->dtype,
                     .ndim = t->ndim, .scale = t->scale };
  for (int d = 0; d < t->ndim; d++)
    e->shape[d] = t->shape[d];
  e->offset = align_up (store->open_bytes, FSDP_ALIGN);
  store->open_bytes = e->offset + t->nbytes;
  store->pending[store->n_pending++] = (FsdpPending) { st, t, e->offset };
  store->stats.sharded_tensors++;
  store->stats.block_bytes += t->nbytes;

  /* The shape now, the data once the slots exist. */
  *dest = (RlTensor) { .dtype = t->dtype, .ndim = t->ndim, .scale = t->scale,
                       .device = store->backend->context_device (store->ctx) };
  for (int d = 0; d < RL_MAX_DIMS; d++)
    dest->shape[d] = d < t->ndim ? t->shape[d] : 1;
  rl_contiguous_strides (t->ndim, dest->shape, dest->strides);
  return RL_OK;
}

void
rl_fsdp_store_note_replicated (RlFsdpStore *store,
                               uint64_t     bytes)
{
  store->stats.replicated_tensors++;
  store->stats.replicated_bytes += bytes;
}

/* Reads the part of every pending tensor that falls into this rank's
 * shard [rank·S, (rank+1)·S) of the flat buffer into `shard` (S bytes,
 * zeroed first: alignment gaps and the tail padding stay zero). */
static RlStatus
read_shard (RlFsdpStore *store,
            uint64_t     shard_bytes,
            uint8_t     *shard)
{
  const uint64_t lo = (uint64_t) store->rank * shard_bytes, hi = lo + shard_bytes;

  memset (shard, 0, shard_bytes);
  for (size_t i = 0; i < store->n_pending; i++)
    {
      const FsdpPending *p = &store->pending[i];
      uint64_t start = p->offset > lo ? p->offset : lo;
      uint64_t end = p->offset + p->t->nbytes < hi ? p->offset + p->t->nbytes : hi;
      RlStatus s;

      if (start >= end)
        continue;
      s = rl_safetensors_read (p->st, p->t, start - p->offset, end - start, shard + (start - lo));
      if (s < 0)
        return rl_prefix_error (s, "fsdp: reading rank %d's shard of '%s': ", store->rank,
                                p->t->name);
    }
  return RL_OK;
}

RlStatus
rl_fsdp_store_end_block (RlFsdpStore *store)
{
  FsdpBlock *b;
  uint8_t *host = NULL;
  RlStatus s = RL_OK;

  if (store->open_block < 0)
    return rl_set_error (RL_E_INVALID_ARG, "fsdp: no block is open");
  b = &store->blocks[store->n_blocks];
  b->shard_bytes = align_up ((store->open_bytes + (uint64_t) store->ranks - 1) / (uint64_t) store->ranks,
                             FSDP_ALIGN);
  b->flat_bytes = b->shard_bytes * (uint64_t) store->ranks;
  if (b->shard_bytes > 0)
    s = store->engine->shard_alloc (store, b->shard_bytes, &b->shard);
  if (s == RL_OK && b->shard_bytes > 0)
    {
      if (store->engine->shard_is_host (store))
        s = read_shard (store, b->shard_bytes, b->shard);
      else
        {
          host = malloc (b->shard_bytes);
          s = host != NULL ? read_shard (store, b->shard_bytes, host)
                           : rl_set_error (RL_E_NO_MEMORY, "fsdp: out of host memory for a shard of "
                                           "%llu bytes", (unsigned long long) b->shard_bytes);
          if (s == RL_OK)
            s = store->engine->shard_upload (store, b->shard, host, b->shard_bytes);
          free (host);
        }
    }
  if (s < 0)
    {
      if (b->shard != NULL)
        store->engine->shard_free (store, b->shard);
      b->shard = NULL;
      return rl_prefix_error (s, "block %d: ", store->open_block);
    }
  store->stats.shard_bytes += b->shard_bytes;
  if (store->options.cpu_offload)
    store->stats.offloaded_bytes += b->shard_bytes;
  if (b->flat_bytes > store->slot_bytes)
    store->slot_bytes = b->flat_bytes;
  store->n_blocks++;
  store->stats.blocks = store->n_blocks;
  store->open_block = -1;
  store->n_pending = 0;
  return RL_OK;
}

RlStatus
rl_fsdp_store_finish (RlFsdpStore *store)
{
  RlDevice device = store->backend->context_device (store->ctx);

  if (store->open_block >= 0)
    return rl_set_error (RL_E_INVALID_ARG, "fsdp: block %d is still open", store->open_block);
  for (int i = 0; i < FSDP_SLOTS && store->slot_bytes > 0; i++)
    {
      RlStatus s = store->engine->slot_alloc (store, store->slot_bytes, &store->slots[i].data);
      if (s < 0)
        return rl_prefix_error (s, "fsdp: gathered-block buffer of %llu bytes: ",
                                (unsigned long long) store->slot_bytes);
    }
  store->stats.slot_bytes = FSDP_SLOTS * store->slot_bytes;
  for (size_t i = 0; i < store->n_entries; i++)
    {
      const FsdpEntry *e = &store->entries[i];
      uint8_t *at = (uint8_t *) store->slots[e->block % FSDP_SLOTS].data + e->offset;
      RlStatus s = rl_tensor_wrap (e->dest, at, device, e->dtype, e->ndim, e->shape, NULL, NULL);
      if (s < 0)
        return s;
      e->dest->scale = e->scale;
    }
  store->finished = true;
  free (store->pending);
  store->pending = NULL;
  store->pending_capacity = 0;
  return RL_OK;
}

/* ------------------------------------------------------------ running */

static void
count_alive (RlFsdpStore *store)
{
  int alive = 0;

  for (int i = 0; i < FSDP_SLOTS; i++)
    alive += store->slots[i].block >= 0;
  store->stats.gathered_alive = alive;
  if (alive > store->stats.gathered_peak)
    store->stats.gathered_peak = alive;
}

RlStatus
rl_fsdp_store_prefetch (RlFsdpStore *store,
                        int          block)
{
  FsdpSlot *slot;
  RlStatus s;

  if (block < 0 || block >= store->n_blocks)
    return RL_OK;
  if (!store->finished)
    return rl_set_error (RL_E_INVALID_ARG, "fsdp: the weights are still loading");
  slot = &store->slots[block % FSDP_SLOTS];
  if (slot->block == block)
    return RL_OK;
  if (slot->in_use)
    return rl_set_error (RL_E_INVALID_ARG, "fsdp: block %d cannot be gathered while block %d, "
                         "which shares its buffer, is acquired", block, slot->block);
  slot->block = block;
  slot->pending = true;
  count_alive (store);
  s = store->engine->gather (store, block % FSDP_SLOTS, block);
  if (s < 0)
    {
      slot->block = -1;
      slot->pending = false;
      count_alive (store);
      return rl_prefix_error (s, "fsdp: gathering block %d: ", block);
    }
  store->stats.gathers++;
  return RL_OK;
}

RlStatus
rl_fsdp_store_acquire (RlFsdpStore *store,
                       int          block)
{
  FsdpSlot *slot;
  RlStatus s;

  if (block < 0 || block >= store->n_blocks)
    return rl_set_error (RL_E_INVALID_ARG, "fsdp: no block %d (the model has %d)", block,
                         store->n_blocks);
  s = rl_fsdp_store_prefetch (store, block);
  if (s < 0)
    return s;
  slot = &store->slots[block % FSDP_SLOTS];
  if (slot->pending)
    {
      s = store->engine->wait (store, block % FSDP_SLOTS, block);
      if (s < 0)
        return rl_prefix_error (s, "fsdp: block %d: ", block);
      slot->pending = false;
    }
  slot->in_use = true;
  return rl_fsdp_store_prefetch (store, block + 1);
}

RlStatus
rl_fsdp_store_release (RlFsdpStore *store,
                       int          block)
{
  FsdpSlot *slot;

  if (block < 0 || block >= store->n_blocks)
    return RL_OK;
  slot = &store->slots[block % FSDP_SLOTS];
  if (slot->block != block || !slot->in_use)
    return rl_set_error (RL_E_INVALID_ARG, "fsdp: block %d released but not acquired", block);
  slot->in_use = false;
  slot->block = -1;
  count_alive (store);
  return store->engine->released (store, block % FSDP_SLOTS);
}

RlStatus
rl_fsdp_store_idle (RlFsdpStore *store)
{
  RlStatus s = RL_OK;

  for (int i = 0; i < FSDP_SLOTS; i++)
    if (store->slots[i].in_use)
      {
        RlStatus r = store->engine->released (store, i);
        if (s == RL_OK)
          s = r;
      }
  if (store->engine->drain != NULL)
    {
      RlStatus r = store->engine->drain (store);
      if (s == RL_OK)
        s = r;
    }
  for (int i = 0; i < FSDP_SLOTS; i++)
    store->slots[i] = (FsdpSlot) { .data = store->slots[i].data, .block = -1 };
  count_alive (store);
  return s;
}

void
rl_fsdp_store_stats (const RlFsdpStore *store,
                     RlFsdpStats       *out)
{
  *out = store->stats;
}
