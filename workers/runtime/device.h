/* Devices, memory allocators, streams and events.
 *
 * A device is a kind (cpu, cuda) plus an index. Memory on a device comes from
 * an RlAllocator: a small vtable that a backend implements (or builds with
 * rl_caching_allocator_new over its raw malloc/cudaMalloc), so no op ever
 * calls the raw allocator on the hot path and everyone can read current and
 * peak bytes. Streams and events are opaque handles created by a backend
 * (backend.h); on the CPU they exist but do nothing, so model code can use
 * them unconditionally. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "workers/runtime/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  RL_DEVICE_CPU  = 0,
  RL_DEVICE_CUDA = 1,
} RlDeviceKind;

typedef struct {
  RlDeviceKind kind;
  int          index;   /* 0 for the CPU; CUDA ordinal otherwise */
} RlDevice;

static inline RlDevice
rl_device_cpu (void)
{
  return (RlDevice) { RL_DEVICE_CPU, 0 };
}

static inline RlDevice
rl_device_cuda (int index)
{
  return (RlDevice) { RL_DEVICE_CUDA, index };
}

static inline bool
rl_device_equal (RlDevice a, RlDevice b)
{
  return a.kind == b.kind && a.index == b.index;
}

/* "cpu" or "cuda". */
const char *rl_device_kind_name (RlDeviceKind kind);

/* Opaque; created by a backend (backend.h). NULL means the backend's
 * default stream. */
typedef struct RlStream RlStream;
typedef struct RlEvent  RlEvent;

/* ---------------------------------------------------------------- memory */

typedef struct {
  size_t current_bytes;   /* handed out to callers, not yet freed */
  size_t peak_bytes;      /* max of current_bytes since creation/reset */
  size_t cached_bytes;    /* freed by callers, kept for reuse */
  size_t reserved_bytes;  /* current + cached: what the raw allocator holds */
  size_t alloc_count;     /* rl_alloc calls that succeeded */
  size_t cache_hits;      /* of those, served from the cache */
} RlAllocatorStats;

typedef struct RlAllocator    RlAllocator;
typedef struct RlAllocatorOps RlAllocatorOps;

/* An allocator implementation embeds RlAllocator as its first member. */
struct RlAllocator {
  const RlAllocatorOps *ops;
  RlDevice              device;
};

struct RlAllocatorOps {
  RlStatus (*alloc)      (RlAllocator *self, size_t bytes, void **out);
  void     (*free)       (RlAllocator *self, void *ptr);
  void     (*get_stats)  (RlAllocator *self, RlAllocatorStats *out);
  void     (*reset_peak) (RlAllocator *self);
  void     (*trim)       (RlAllocator *self);   /* return cached blocks */
  void     (*destroy)    (RlAllocator *self);
};

/* The raw memory a caching allocator sits on (malloc, cudaMalloc). */
typedef struct {
  RlStatus (*alloc) (void *user, size_t bytes, void **out);
  void     (*free)  (void *user, void *ptr);
  void      *user;
} RlRawMemory;

/* Allocates `bytes` (0 gives a valid unique pointer) aligned to at least
 * 256 bytes. RL_E_NO_MEMORY / RL_E_DEVICE_OOM with the size in the message. */
RlStatus     rl_alloc                 (RlAllocator *allocator, size_t bytes,
                                       void **out);

/* Frees a pointer from rl_alloc on the same allocator; NULL is ignored. */
void         rl_free                  (RlAllocator *allocator, void *ptr);

void         rl_allocator_stats       (RlAllocator *allocator,
                                       RlAllocatorStats *out);
void         rl_allocator_reset_peak  (RlAllocator *allocator);
void         rl_allocator_trim        (RlAllocator *allocator);

/* Destroys the allocator; blocks still handed out are released too, so
 * destroy it only after every tensor on it is gone. NULL is ignored. */
void         rl_allocator_destroy     (RlAllocator *allocator);

/* A thread-safe caching allocator over `raw`: sizes are rounded up to
 * size classes, freed blocks are kept per class and reused, trim() hands
 * them back to `raw`. */
RlAllocator *rl_caching_allocator_new (RlDevice device, RlRawMemory raw);

/* Caching allocator over 256-byte aligned host memory; it keeps at most
 * 1 GiB of freed blocks cached (the rest goes straight back to libc). */
RlAllocator *rl_host_allocator_new    (void);

#ifdef __cplusplus
}
#endif
