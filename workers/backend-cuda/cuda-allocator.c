#include "cuda-allocator.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#define MIN_BLOCK_BYTES   ((size_t) 512)
#define STEPS_PER_OCTAVE  8
#define BIN_COUNT         (64 * STEPS_PER_OCTAVE)
#define HASH_BUCKETS      4096

typedef struct Block Block;
struct Block {
  void        *ptr;
  size_t       size;        /* rounded size, the key of its bin */
  cudaStream_t stream;      /* last stream that used it */
  Block       *next;        /* next in its free list or hash bucket */
};

struct RlCudaAllocator {
  int                  device;
  pthread_mutex_t      lock;
  Block               *free_bins[BIN_COUNT];
  Block               *in_use[HASH_BUCKETS];
  RlCudaAllocatorStats stats;
};

/* Rounds bytes up to its bin's size and returns the bin index. */
static size_t
round_to_bin (size_t bytes, int *bin)
{
  size_t size = bytes < MIN_BLOCK_BYTES ? MIN_BLOCK_BYTES : bytes;
  int octave = 63 - __builtin_clzll ((unsigned long long) size);
  size_t base = (size_t) 1 << octave;
  size_t step = base / STEPS_PER_OCTAVE;
  if (step < MIN_BLOCK_BYTES)
    step = MIN_BLOCK_BYTES;
  size_t rounded = (size + step - 1) / step * step;
  if (rounded >= base * 2) {
    octave++;
    base *= 2;
  }
  size_t sub_step = base / STEPS_PER_OCTAVE < MIN_BLOCK_BYTES ? MIN_BLOCK_BYTES
                                                              : base / STEPS_PER_OCTAVE;
  *bin = octave * STEPS_PER_OCTAVE + (int) ((rounded - base) / sub_step);
  return rounded;
}

size_t
rl_cuda_allocator_round_size (size_t bytes)
{
  int bin;
  return round_to_bin (bytes, &bin);
}

static size_t
hash_pointer (const void *ptr)
{
  uintptr_t key = (uintptr_t) ptr >> 9;
  key ^= key >> 17;
  key *= 0x9E3779B97F4A7C15ull;
  return (size_t) (key >> 40) % HASH_BUCKETS;
}

RlCudaAllocator *
rl_cuda_allocator_new (int device)
{
  RlCudaAllocator *allocator = calloc (1, sizeof *allocator);
  if (allocator == NULL)
    return NULL;
  allocator->device = device;
  pthread_mutex_init (&allocator->lock, NULL);
  return allocator;
}

static void
free_cached_locked (RlCudaAllocator *allocator)
{
  for (int bin = 0; bin < BIN_COUNT; bin++) {
    Block *block = allocator->free_bins[bin];
    while (block != NULL) {
      Block *next = block->next;
      cudaFree (block->ptr);
      allocator->stats.reserved_bytes -= block->size;
      allocator->stats.cached_bytes -= block->size;
      free (block);
      block = next;
    }
    allocator->free_bins[bin] = NULL;
  }
}

void
rl_cuda_allocator_free (RlCudaAllocator *allocator)
{
  if (allocator == NULL)
    return;
  free_cached_locked (allocator);
  for (int bucket = 0; bucket < HASH_BUCKETS; bucket++) {
    Block *block = allocator->in_use[bucket];
    while (block != NULL) {
      Block *next = block->next;
      cudaFree (block->ptr);
      free (block);
      block = next;
    }
  }
  pthread_mutex_destroy (&allocator->lock);
  free (allocator);
}

/* Takes a cached block of `bin` that `stream` may use now, or NULL. */
static Block *
take_cached_locked (RlCudaAllocator *allocator, int bin, cudaStream_t stream)
{
  Block **link = &allocator->free_bins[bin];
  for (Block *block = *link; block != NULL; link = &block->next, block = block->next) {
    if (block->stream == stream) {
      *link = block->next;
      return block;
    }
  }
  link = &allocator->free_bins[bin];
  for (Block *block = *link; block != NULL; link = &block->next, block = block->next) {
    if (cudaStreamQuery (block->stream) == cudaSuccess) {
      *link = block->next;
      return block;
    }
  }
  cudaGetLastError (); /* a cudaStreamQuery that said "not ready" leaves no error, others might */
  return NULL;
}

static void
note_in_use_locked (RlCudaAllocator *allocator, Block *block, cudaStream_t stream)
{
  block->stream = stream;
  size_t bucket = hash_pointer (block->ptr);
  block->next = allocator->in_use[bucket];
  allocator->in_use[bucket] = block;
  RlCudaAllocatorStats *stats = &allocator->stats;
  stats->in_use_bytes += block->size;
  stats->alloc_calls++;
  if (stats->in_use_bytes > stats->peak_in_use_bytes)
    stats->peak_in_use_bytes = stats->in_use_bytes;
}

void *
rl_cuda_allocator_alloc (RlCudaAllocator *allocator, size_t bytes, cudaStream_t stream,
                         RlCudaError *error)
{
  if (allocator == NULL) {
    rl_cuda_error_set (error, cudaErrorInvalidValue, "device allocator is NULL");
    return NULL;
  }
  int bin;
  size_t size = round_to_bin (bytes, &bin);
  pthread_mutex_lock (&allocator->lock);
  Block *block = take_cached_locked (allocator, bin, stream);
  if (block != NULL) {
    allocator->stats.cached_bytes -= block->size;
    note_in_use_locked (allocator, block, stream);
    pthread_mutex_unlock (&allocator->lock);
    return block->ptr;
  }
  void *ptr = NULL;
  cudaError_t status = cudaMalloc (&ptr, size);
  if (status != cudaSuccess) {
    cudaGetLastError ();
    free_cached_locked (allocator);
    status = cudaMalloc (&ptr, size);
  }
  if (status != cudaSuccess) {
    cudaGetLastError ();
    RlCudaAllocatorStats stats = allocator->stats;
    pthread_mutex_unlock (&allocator->lock);
    rl_cuda_error_set (error, status,
                       "GPU %d: out of device memory allocating %.1f MiB (%.1f MiB in use by "
                       "this worker, peak %.1f MiB): %s; lower the resolution or frame count, "
                       "or enable weight offloading",
                       allocator->device, size / 1048576.0, stats.in_use_bytes / 1048576.0,
                       stats.peak_in_use_bytes / 1048576.0, cudaGetErrorString (status));
    return NULL;
  }
  block = calloc (1, sizeof *block);
  if (block == NULL) {
    cudaFree (ptr);
    pthread_mutex_unlock (&allocator->lock);
    rl_cuda_error_set (error, cudaErrorMemoryAllocation, "out of host memory for a block record");
    return NULL;
  }
  block->ptr = ptr;
  block->size = size;
  RlCudaAllocatorStats *stats = &allocator->stats;
  stats->malloc_calls++;
  stats->reserved_bytes += size;
  if (stats->reserved_bytes > stats->peak_reserved_bytes)
    stats->peak_reserved_bytes = stats->reserved_bytes;
  note_in_use_locked (allocator, block, stream);
  pthread_mutex_unlock (&allocator->lock);
  return ptr;
}

/* Unlinks and returns the in-use block of ptr, or NULL. */
static Block *
take_in_use_locked (RlCudaAllocator *allocator, const void *ptr)
{
  Block **link = &allocator->in_use[hash_pointer (ptr)];
  for (Block *block = *link; block != NULL; link = &block->next, block = block->next) {
    if (block->ptr == ptr) {
      *link = block->next;
      return block;
    }
  }
  return NULL;
}

bool
rl_cuda_allocator_release (RlCudaAllocator *allocator, void *ptr, cudaStream_t stream)
{
  if (allocator == NULL || ptr == NULL)
    return ptr == NULL;
  pthread_mutex_lock (&allocator->lock);
  Block *block = take_in_use_locked (allocator, ptr);
  if (block == NULL) {
    pthread_mutex_unlock (&allocator->lock);
    return false;
  }
  int bin;
  round_to_bin (block->size, &bin);
  block->stream = stream;
  block->next = allocator->free_bins[bin];
  allocator->free_bins[bin] = block;
  allocator->stats.in_use_bytes -= block->size;
  allocator->stats.cached_bytes += block->size;
  pthread_mutex_unlock (&allocator->lock);
  return true;
}

size_t
rl_cuda_allocator_block_size (RlCudaAllocator *allocator, const void *ptr)
{
  if (allocator == NULL || ptr == NULL)
    return 0;
  size_t size = 0;
  pthread_mutex_lock (&allocator->lock);
  for (Block *block = allocator->in_use[hash_pointer (ptr)]; block != NULL; block = block->next) {
    if (block->ptr == ptr) {
      size = block->size;
      break;
    }
  }
  pthread_mutex_unlock (&allocator->lock);
  return size;
}

void
rl_cuda_allocator_trim (RlCudaAllocator *allocator)
{
  if (allocator == NULL)
    return;
  pthread_mutex_lock (&allocator->lock);
  free_cached_locked (allocator);
  pthread_mutex_unlock (&allocator->lock);
}

void
rl_cuda_allocator_get_stats (RlCudaAllocator *allocator, RlCudaAllocatorStats *stats)
{
  pthread_mutex_lock (&allocator->lock);
  *stats = allocator->stats;
  pthread_mutex_unlock (&allocator->lock);
}

void
rl_cuda_allocator_reset_peak (RlCudaAllocator *allocator)
{
  pthread_mutex_lock (&allocator->lock);
  allocator->stats.peak_in_use_bytes = allocator->stats.in_use_bytes;
  allocator->stats.peak_reserved_bytes = allocator->stats.reserved_bytes;
  pthread_mutex_unlock (&allocator->lock);
}
