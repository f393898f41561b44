/* A caching allocator for device memory.
 *
 * Ops ask for scratch and output buffers many times per step; cudaMalloc and
 * cudaFree synchronise the device and cost tens of microseconds each, so
 * freed blocks go to size-binned free lists and are handed out again. Sizes
 * are rounded up to one of eight steps per power of two (at most 12.5%
 * slack, 512-byte minimum). A block released on stream S is reused at once
 * by allocations on S (stream order keeps that safe) and by other streams
 * only once S is idle. When cudaMalloc fails, every cached block is freed
 * and the allocation is tried once more.
 *
 * One allocator serves one device; the caller makes that device current.
 * All functions are thread-safe. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#include "cuda-error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct RlCudaAllocator RlCudaAllocator;

typedef struct {
  uint64_t in_use_bytes;        /* handed out and not yet released */
  uint64_t peak_in_use_bytes;   /* highest in_use_bytes since creation or reset_peak */
  uint64_t reserved_bytes;      /* obtained from cudaMalloc: in use + cached */
  uint64_t peak_reserved_bytes;
  uint64_t cached_bytes;        /* reserved but free, ready for reuse */
  uint64_t malloc_calls;        /* cudaMalloc calls made */
  uint64_t alloc_calls;         /* rl_cuda_allocator_alloc calls served */
} RlCudaAllocatorStats;

/* Creates an allocator for `device` (an ordinal, recorded for messages). */
RlCudaAllocator *rl_cuda_allocator_new        (int device);

/* Frees every cached block and the allocator. Blocks still in use are freed
 * too (they leak nothing, but their owners must not touch them again). */
void             rl_cuda_allocator_free       (RlCudaAllocator *allocator);

/* Returns at least `bytes` bytes of device memory aligned to 256 bytes,
 * usable in stream order on `stream`, or NULL with `error` set (the message
 * says how much was asked, in use and reserved). bytes == 0 returns a
 * valid 512-byte block. */
void            *rl_cuda_allocator_alloc      (RlCudaAllocator *allocator,
                                               size_t           bytes,
                                               cudaStream_t     stream,
                                               RlCudaError     *error);

/* Gives a block back. `stream` is the last stream that used it; work queued
 * there may still read it, so the block is reused by other streams only
 * after that stream is idle. NULL is ignored; an unknown pointer returns
 * false and changes nothing. */
bool             rl_cuda_allocator_release    (RlCudaAllocator *allocator,
                                               void            *ptr,
                                               cudaStream_t     stream);

/* Size of the block behind ptr (after rounding), or 0 when ptr is unknown. */
size_t           rl_cuda_allocator_block_size (RlCudaAllocator *allocator,
                                               const void      *ptr);

/* Returns every cached block to the driver (synchronises the device). */
void             rl_cuda_allocator_trim       (RlCudaAllocator *allocator);

void             rl_cuda_allocator_get_stats  (RlCudaAllocator      *allocator,
                                               RlCudaAllocatorStats *stats);

/* Sets the peak counters to the current values. */
void             rl_cuda_allocator_reset_peak (RlCudaAllocator *allocator);

/* Rounded size a request of `bytes` occupies (exposed for tests). */
size_t           rl_cuda_allocator_round_size (size_t bytes);

#ifdef __cplusplus
}
#endif
