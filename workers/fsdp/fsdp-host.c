/* The CPU backend's FSDP engine: shards and slots in host memory, gathers
 * through the group's shared-memory all-gather when they are started.
 *
 * With cpu_offload the shards come from an allocator of their own, which
 * stands in for pinned memory: the CPU backend has no separate device, but
 * the bookkeeping (shards apart from the context's memory, copied into a
 * slot before use) is the one the CUDA engine follows, and the context
 * allocator's statistics show only the slots. */
#include "workers/fsdp/fsdp-private.h"

#include <string.h>

static RlAllocator *
shard_allocator (const RlFsdpStore *store)
{
  return store->engine_state != NULL ? store->engine_state
                                     : store->backend->context_allocator (store->ctx);
}

static RlStatus
host_init (RlFsdpStore *store)
{
  if (!store->options.cpu_offload)
    return RL_OK;
  store->engine_state = rl_host_allocator_new ();
  return store->engine_state != NULL ? RL_OK
                                     : rl_set_error (RL_E_NO_MEMORY, "fsdp: out of memory");
}

static void
host_destroy (RlFsdpStore *store)
{
  rl_allocator_destroy (store->engine_state);
}

static RlStatus
host_shard_alloc (RlFsdpStore *store, uint64_t bytes, void **out)
{
  return rl_alloc (shard_allocator (store), bytes, out);
}

static void
host_shard_free (RlFsdpStore *store, void *ptr)
{
  rl_free (shard_allocator (store), ptr);
}

static RlStatus
host_slot_alloc (RlFsdpStore *store, uint64_t bytes, void **out)
{
  return rl_alloc (store->backend->context_allocator (store->ctx), bytes, out);
}

static void
host_slot_free (RlFsdpStore *store, void *ptr)
{
  rl_free (store->backend->context_allocator (store->ctx), ptr);
}

static RlStatus
host_shard_upload (RlFsdpStore *store, void *shard, const void *host, uint64_t bytes)
{
  (void) store;
  memcpy (shard, host, bytes);
  return RL_OK;
}

static bool
host_shard_is_host (const RlFsdpStore *store)
{
  (void) store;
  return true;
}

/* A byte vector over host memory, for the collectives and transfer. */
static RlStatus
bytes_view (RlTensor *out, void *data, uint64_t bytes)
{
  const int64_t shape[1] = { (int64_t) bytes };

  return rl_tensor_wrap (out, data, rl_device_cpu (), RL_U8, 1, shape, NULL, NULL);
}

static RlStatus
host_gather (RlFsdpStore *store, int slot, int block)
{
  const FsdpBlock *b = &store->blocks[block];
  RlTensor shard = { 0 }, flat = { 0 };
  RlStatus s;

  if (b->flat_bytes == 0)
    return RL_OK;
  s = bytes_view (&shard, b->shard, b->shard_bytes);
  if (s == RL_OK)
    s = bytes_view (&flat, store->slots[slot].data, b->flat_bytes);
  if (s == RL_OK && store->options.group != NULL)
    s = rl_comm_all_gather (store->options.group, &flat, &shard);
  else if (s == RL_OK)
    s = store->backend->transfer (store->ctx, &flat, &shard);
  rl_tensor_release (&shard);
  rl_tensor_release (&flat);
  return s;
}

static RlStatus
host_wait (RlFsdpStore *store, int slot, int block)
{
  (void) store, (void) slot, (void) block;
  return RL_OK;   /* the gather completed when it was started */
}

static RlStatus
host_released (RlFsdpStore *store, int slot)
{
  (void) store, (void) slot;
  return RL_OK;   /* CPU ops are done when they return */
}

const FsdpEngine rl_fsdp_host_engine = {
  .name = "host",
  .init = host_init,
  .destroy = host_destroy,
  .shard_alloc = host_shard_alloc,
  .shard_free = host_shard_free,
  .slot_alloc = host_slot_alloc,
  .slot_free = host_slot_free,
  .shard_upload = host_shard_upload,
  .shard_is_host = host_shard_is_host,
  .gather = host_gather,
  .wait = host_wait,
  .released = host_released,
  .drain = NULL,
};
