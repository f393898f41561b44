/* The CUDA backend's FSDP engine.
 *
 * Shards live in device memory from the context's allocator, or in pinned
 * host memory (cudaHostAlloc) with cpu_offload. A gather runs on a side
 * stream of its own:
 *
 *   side:    wait freed[slot]  (the compute stream is done with the block
 *                               that last used the slot)
 *            [offload] H2D copy of the shard into the slot (its own part)
 *            [group]   ncclAllGather into the slot (in place when offloaded)
 *            record ready[slot]
 *   compute: wait ready[slot] … block kernels … record freed[slot]
 *
 * so the next block's transfer overlaps the current block's kernels. With
 * a group, acquiring also waits on the host for ready[slot] within the
 * communicator's timeout: a lost rank becomes an error naming the block
 * instead of a compute stream that never moves again. The block's gather
 * was started one block earlier, so in the steady state that wait ends as
 * soon as the host catches up, while the GPU still has queued work. */
#include "workers/fsdp/fsdp-private.h"

#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "workers/backend-cuda/cuda-stream.h"
#include "workers/comm/comm-nccl.h"

/* From the CUDA backend, which the process links beside this library
 * (the worker exports it); weak so that libraylight-core does not pull
 * the backend in. */
extern cudaStream_t rl_cuda_context_stream (RlContext *ctx, RlStream *stream)
  __attribute__ ((weak));

typedef struct {
  cudaStream_t  side;
  cudaEvent_t   ready[FSDP_SLOTS];
  cudaEvent_t   freed[FSDP_SLOTS];
  bool          freed_recorded[FSDP_SLOTS];
} CudaFsdp;

static RlStatus
cuda_status (cudaError_t err, const char *what)
{
  if (err == cudaSuccess)
    return RL_OK;
  return rl_set_error (err == cudaErrorMemoryAllocation ? RL_E_DEVICE_OOM : RL_E_DEVICE,
                       "fsdp: %s: %s", what, cudaGetErrorString (err));
}

static cudaStream_t
compute_stream (RlFsdpStore *store)
{
  return rl_cuda_context_stream (store->ctx, NULL);
}

static void
cuda_destroy (RlFsdpStore *store)
{
  CudaFsdp *e = store->engine_state;

  if (e == NULL)
    return;
  if (e->side != NULL)
    {
      cudaStreamSynchronize (e->side);
      cudaStreamDestroy (e->side);
    }
  for (int i = 0; i < FSDP_SLOTS; i++)
    {
      if (e->ready[i] != NULL)
        cudaEventDestroy (e->ready[i]);
      if (e->freed[i] != NULL)
        cudaEventDestroy (e->freed[i]);
    }
  free (e);
  store->engine_state = NULL;
}

static RlStatus
cuda_init (RlFsdpStore *store)
{
  CudaFsdp *e;
  RlStatus s;

  if (rl_cuda_context_stream == NULL)
    return rl_set_error (RL_E_NOT_SUPPORTED, "fsdp: the CUDA backend is not linked into this "
                         "process");
  if (store->options.group != NULL
      && strcmp (rl_comm_backend_name (store->options.group), "nccl") != 0)
    return rl_set_error (RL_E_NOT_SUPPORTED, "fsdp: sharded weights on the GPU need an NCCL group, "
                         "not %s", rl_comm_backend_name (store->options.group));
  e = calloc (1, sizeof *e);
  if (e == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "fsdp: out of memory");
  store->engine_state = e;
  s = cuda_status (cudaStreamCreateWithFlags (&e->side, cudaStreamNonBlocking),
                   "creating the gather stream");
  for (int i = 0; s == RL_OK && i < FSDP_SLOTS; i++)
    {
      s = cuda_status (cudaEventCreateWithFlags (&e->ready[i], cudaEventDisableTiming),
                       "creating an event");
      if (s == RL_OK)
        s = cuda_status (cudaEventCreateWithFlags (&e->freed[i], cudaEventDisableTiming),
                         "creating an event");
    }
  if (s < 0)
    cuda_destroy (store);
  return s;
}

static RlStatus
device_alloc (RlFsdpStore *store, uint64_t bytes, void **out)
{
  return rl_alloc (store->backend->context_allocator (store->ctx), bytes, out);
}

static void
device_free (RlFsdpStore *store, void *ptr)
{
  rl_free (store->backend->context_allocator (store->ctx), ptr);
}

static RlStatus
cuda_shard_alloc (RlFsdpStore *store, uint64_t bytes, void **out)
{
  if (!store->options.cpu_offload)
    return device_alloc (store, bytes, out);
  return cuda_status (cudaHostAlloc (out, bytes, cudaHostAllocDefault),
                      "pinned host memory for an offloaded shard");
}

static void
cuda_shard_free (RlFsdpStore *store, void *ptr)
{
  if (store->options.cpu_offload)
    cudaFreeHost (ptr);
  else
    device_free (store, ptr);
}

static RlStatus
cuda_shard_upload (RlFsdpStore *store, void *shard, const void *host, uint64_t bytes)
{
  (void) store;
  return cuda_status (cudaMemcpy (shard, host, bytes, cudaMemcpyHostToDevice),
                      "uploading a shard");
}

static bool
cuda_shard_is_host (const RlFsdpStore *store)
{
  return store->options.cpu_offload;
}

static RlStatus
cuda_gather (RlFsdpStore *store, int slot, int block)
{
  CudaFsdp *e = store->engine_state;
  const FsdpBlock *b = &store->blocks[block];
  uint8_t *flat = store->slots[slot].data;
  uint8_t *mine = flat + (uint64_t) store->rank * b->shard_bytes;
  RlStatus s = RL_OK;

  if (e->freed_recorded[slot])
    s = cuda_status (cudaStreamWaitEvent (e->side, e->freed[slot], 0),
                     "ordering a gather after the compute stream");
  if (s == RL_OK && b->flat_bytes > 0 && store->options.cpu_offload)
    s = cuda_status (cudaMemcpyAsync (mine, b->shard, b->shard_bytes, cudaMemcpyHostToDevice,
                                      e->side), "copying an offloaded shard to the device");
  if (s == RL_OK && b->flat_bytes > 0 && store->options.group != NULL)
    s = rl_comm_nccl_all_gather_enqueue (store->options.group, flat,
                                         store->options.cpu_offload ? mine : b->shard,
                                         b->shard_bytes, e->side);
  else if (s == RL_OK && b->flat_bytes > 0 && !store->options.cpu_offload)
    s = cuda_status (cudaMemcpyAsync (flat, b->shard, b->shard_bytes, cudaMemcpyDeviceToDevice,
                                      e->side), "copying a block");
  if (s == RL_OK)
    s = cuda_status (cudaEventRecord (e->ready[slot], e->side), "recording a gather");
  return s;
}

static RlStatus
cuda_wait (RlFsdpStore *store, int slot, int block)
{
  CudaFsdp *e = store->engine_state;
  RlStatus s = RL_OK;

  (void) block;
  if (store->options.group != NULL)
    s = rl_comm_nccl_wait_event (store->options.group, e->ready[slot], "fsdp all_gather");
  if (s == RL_OK)
    s = cuda_status (cudaStreamWaitEvent (compute_stream (store), e->ready[slot], 0),
                     "ordering the compute stream after a gather");
  return s;
}

static RlStatus
cuda_released (RlFsdpStore *store, int slot)
{
  CudaFsdp *e = store->engine_state;
  RlStatus s = cuda_status (cudaEventRecord (e->freed[slot], compute_stream (store)),
                            "recording the end of a block");

  e->freed_recorded[slot] = s == RL_OK;
  return s;
}

static RlStatus
cuda_drain (RlFsdpStore *store)
{
  CudaFsdp *e = store->engine_state;

  if (e == NULL)
    return RL_OK;
  return cuda_status (cudaStreamSynchronize (e->side), "waiting for weight gathers");
}

const FsdpEngine rl_fsdp_cuda_engine = {
  .name = "cuda",
  .init = cuda_init,
  .destroy = cuda_destroy,
  .shard_alloc = cuda_shard_alloc,
  .shard_free = cuda_shard_free,
  .slot_alloc = device_alloc,
  .slot_free = device_free,
  .shard_upload = cuda_shard_upload,
  .shard_is_host = cuda_shard_is_host,
  .gather = cuda_gather,
  .wait = cuda_wait,
  .released = cuda_released,
  .drain = cuda_drain,
};
