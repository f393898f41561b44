/* The caching allocator: size classes, per-class free lists, stats.
 *
 * Requests are rounded up to a size class (multiples of 512 bytes below
 * 64 KiB, then steps of 1/16 of the next power of two, so rounding wastes
 * less than 12.5%). A freed block goes to the cache and is reused
 * only for the same class, which keeps the behaviour predictable. When the
 * raw allocator fails, the cache is trimmed and the request retried once. */
#include "workers/runtime/device.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  void  *ptr;
  size_t bytes;
} Block;

/* Open-addressing map from live pointers to their class size. */
typedef struct {
  Block  *slots;     /* ptr == NULL: empty */
  size_t  capacity;  /* power of two */
  size_t  count;
} LiveMap;

typedef struct {
  RlAllocator      base;
  RlRawMemory      raw;
  pthread_mutex_t  lock;
  LiveMap          live;
  Block           *cache;
  size_t           cache_count;
  size_t           cache_capacity;
  size_t           cache_limit;      /* freed blocks beyond this go back to raw */
  RlAllocatorStats stats;
} CachingAllocator;

/* ------------------------------------------------------------ live map */

static size_t
hash_ptr (const void *ptr, size_t capacity)
{
  uint64_t x = (uint64_t) (uintptr_t) ptr;
  x ^= x >> 33;
  x *= UINT64_C (0xff51afd7ed558ccd);
  x ^= x >> 33;
  return (size_t) x & (capacity - 1);
}

static bool
live_grow (LiveMap *map)
{
  size_t capacity = map->capacity ? map->capacity * 2 : 64;
  Block *slots = calloc (capacity, sizeof *slots);
  if (slots == NULL)
    return false;
  for (size_t i = 0; i < map->capacity; i++)
    {
      if (map->slots[i].ptr == NULL)
        continue;
      size_t j = hash_ptr (map->slots[i].ptr, capacity);
      while (slots[j].ptr != NULL)
        j = (j + 1) & (capacity - 1);
      slots[j] = map->slots[i];
    }
  free (map->slots);
  map->slots = slots;
  map->capacity = capacity;
  return true;
}

static bool
live_insert (LiveMap *map, void *ptr, size_t bytes)
{
  if ((map->count + 1) * 2 > map->capacity && !live_grow (map))
    return false;
  size_t j = hash_ptr (ptr, map->capacity);
  while (map->slots[j].ptr != NULL)
    j = (j + 1) & (map->capacity - 1);
  map->slots[j] = (Block) { ptr, bytes };
  map->count++;
  return true;
}

/* Removes ptr and returns its size; false when ptr is not live. Deletion
 * shifts later entries of the probe run back, so no tombstones. */
static bool
live_remove (LiveMap *map, void *ptr, size_t *bytes)
{
  if (map->capacity == 0)
    return false;
  size_t mask = map->capacity - 1;
  size_t j = hash_ptr (ptr, map->capacity);
  while (map->slots[j].ptr != ptr)
    {
      if (map->slots[j].ptr == NULL)
        return false;
      j = (j + 1) & mask;
    }
  *bytes = map->slots[j].bytes;
  map->slots[j].ptr = NULL;
  map->count--;
  size_t hole = j;
  for (size_t k = (j + 1) & mask; map->slots[k].ptr != NULL; k = (k + 1) & mask)
    {
      size_t home = hash_ptr (map->slots[k].ptr, map->capacity);
      /* Move k into the hole unless its home lies cyclically in (hole, k]. */
      bool home_between = (hole <= k) ? (home > hole && home <= k)
                                      : (home > hole || home <= k);
      if (!home_between)
        {
          map->slots[hole] = map->slots[k];
          map->slots[k].ptr = NULL;
          hole = k;
        }
    }
  return true;
}

/* ----------------------------------------------------------- classes */

static size_t
size_class (size_t bytes)
{
  const size_t small_step = 512;
  if (bytes <= 64 * 1024)
    return bytes == 0 ? small_step : (bytes + small_step - 1) / small_step * small_step;
  size_t pow2 = 64 * 1024;
  while (pow2 < bytes && pow2 <= SIZE_MAX / 2)
    pow2 *= 2;
  size_t step = pow2 / 16;   /* bytes > pow2/2, so waste < bytes/8 */
  if (bytes > SIZE_MAX - step)
    return 0;
  return (bytes + step - 1) / step * step;
}

static bool
cache_push (CachingAllocator *a, Block block)
{
  if (a->cache_count == a->cache_capacity)
    {
      size_t capacity = a->cache_capacity ? a->cache_capacity * 2 : 32;
      Block *cache = realloc (a->cache, capacity * sizeof *cache);
      if (cache == NULL)
        return false;
      a->cache = cache;
      a->cache_capacity = capacity;
    }
  a->cache[a->cache_count++] = block;
  return true;
}

/* Most recently freed block of exactly this class, or NULL. */
static void *
cache_take (CachingAllocator *a, size_t bytes)
{
  for (size_t i = a->cache_count; i-- > 0;)
    {
      if (a->cache[i].bytes != bytes)
        continue;
      void *ptr = a->cache[i].ptr;
      a->cache[i] = a->cache[--a->cache_count];
      return ptr;
    }
  return NULL;
}

static void
trim_locked (CachingAllocator *a)
{
  for (size_t i = 0; i < a->cache_count; i++)
    a->raw.free (a->raw.user, a->cache[i].ptr);
  a->cache_count = 0;
  a->stats.reserved_bytes -= a->stats.cached_bytes;
  a->stats.cached_bytes = 0;
}

/* ---------------------------------------------------------------- ops */

static RlStatus
caching_alloc (RlAllocator *self, size_t bytes, void **out)
{
  CachingAllocator *a = (CachingAllocator *) self;
  size_t rounded = size_class (bytes);
  void *ptr;
  bool hit = false;

  *out = NULL;
  if (rounded == 0)
    return rl_set_error (RL_E_OVERFLOW, "allocation of %zu bytes overflows", bytes);
  pthread_mutex_lock (&a->lock);
  ptr = cache_take (a, rounded);
  if (ptr != NULL)
    {
      hit = true;
      a->stats.cached_bytes -= rounded;
    }
  else
    {
      RlStatus st = a->raw.alloc (a->raw.user, rounded, &ptr);
      if (st != RL_OK && a->cache_count > 0)
        {
          trim_locked (a);
          st = a->raw.alloc (a->raw.user, rounded, &ptr);
        }
      if (st != RL_OK)
        {
          RlAllocatorStats s = a->stats;
          pthread_mutex_unlock (&a->lock);
          return rl_set_error (st,
                               "%s allocation of %zu bytes failed (%zu bytes in use, peak %zu); "
                               "free memory or use a smaller resolution/batch",
                               rl_device_kind_name (self->device.kind), rounded,
                               s.current_bytes, s.peak_bytes);
        }
      a->stats.reserved_bytes += rounded;
    }
  if (!live_insert (&a->live, ptr, rounded))
    {
      if (hit && cache_push (a, (Block) { ptr, rounded }))
        a->stats.cached_bytes += rounded;
      else
        {
          a->raw.free (a->raw.user, ptr);
          a->stats.reserved_bytes -= rounded;
        }
      pthread_mutex_unlock (&a->lock);
      return rl_set_error (RL_E_NO_MEMORY, "allocator bookkeeping: out of host memory");
    }
  a->stats.current_bytes += rounded;
  if (a->stats.current_bytes > a->stats.peak_bytes)
    a->stats.peak_bytes = a->stats.current_bytes;
  a->stats.alloc_count++;
  a->stats.cache_hits += hit;
  pthread_mutex_unlock (&a->lock);
  *out = ptr;
  return RL_OK;
}

static void
caching_free (RlAllocator *self, void *ptr)
{
  CachingAllocator *a = (CachingAllocator *) self;
  size_t bytes;

  if (ptr == NULL)
    return;
  pthread_mutex_lock (&a->lock);
  if (!live_remove (&a->live, ptr, &bytes))
    {
      pthread_mutex_unlock (&a->lock);
      abort ();   /* double free or foreign pointer: memory is corrupt */
    }
  a->stats.current_bytes -= bytes;
  if (a->stats.cached_bytes + bytes <= a->cache_limit && cache_push (a, (Block) { ptr, bytes }))
    a->stats.cached_bytes += bytes;
  else
    {
      a->raw.free (a->raw.user, ptr);
      a->stats.reserved_bytes -= bytes;
    }
  pthread_mutex_unlock (&a->lock);
}

static void
caching_get_stats (RlAllocator *self, RlAllocatorStats *out)
{
  CachingAllocator *a = (CachingAllocator *) self;
  pthread_mutex_lock (&a->lock);
  *out = a->stats;
  pthread_mutex_unlock (&a->lock);
}

static void
caching_reset_peak (RlAllocator *self)
{
  CachingAllocator *a = (CachingAllocator *) self;
  pthread_mutex_lock (&a->lock);
  a->stats.peak_bytes = a->stats.current_bytes;
  pthread_mutex_unlock (&a->lock);
}

static void
caching_trim (RlAllocator *self)
{
  CachingAllocator *a = (CachingAllocator *) self;
  pthread_mutex_lock (&a->lock);
  trim_locked (a);
  pthread_mutex_unlock (&a->lock);
}

static void
caching_destroy (RlAllocator *self)
{
  CachingAllocator *a = (CachingAllocator *) self;
  trim_locked (a);
  for (size_t i = 0; i < a->live.capacity; i++)
    if (a->live.slots[i].ptr != NULL)
      a->raw.free (a->raw.user, a->live.slots[i].ptr);
  free (a->live.slots);
  free (a->cache);
  pthread_mutex_destroy (&a->lock);
  free (a);
}

static const RlAllocatorOps caching_ops = {
  .alloc = caching_alloc,
  .free = caching_free,
  .get_stats = caching_get_stats,
  .reset_peak = caching_reset_peak,
  .trim = caching_trim,
  .destroy = caching_destroy,
};

static RlAllocator *
caching_allocator_new (RlDevice device, RlRawMemory raw, size_t cache_limit)
{
  CachingAllocator *a = calloc (1, sizeof *a);
  if (a == NULL)
    return NULL;
  a->base.ops = &caching_ops;
  a->base.device = device;
  a->raw = raw;
  a->cache_limit = cache_limit;
  pthread_mutex_init (&a->lock, NULL);
  return &a->base;
}

RlAllocator *
rl_caching_allocator_new (RlDevice device, RlRawMemory raw)
{
  return caching_allocator_new (device, raw, SIZE_MAX);
}

/* --------------------------------------------------------------- host */

/* Host memory is shared with everything else on the machine, so at most
 * this much freed memory is kept for reuse. */
#define HOST_CACHE_LIMIT ((size_t) 1 << 30)

static RlStatus
host_raw_alloc (void *user, size_t bytes, void **out)
{
  const size_t alignment = 256;
  size_t rounded = (bytes + alignment - 1) / alignment * alignment;
  *out = aligned_alloc (alignment, rounded);
  return *out != NULL ? RL_OK : RL_E_NO_MEMORY;
}

static void
host_raw_free (void *user, void *ptr)
{
  free (ptr);
}

RlAllocator *
rl_host_allocator_new (void)
{
  RlRawMemory raw = { host_raw_alloc, host_raw_free, NULL };
  return caching_allocator_new (rl_device_cpu (), raw, HOST_CACHE_LIMIT);
}

/* ------------------------------------------------------ generic entry */

RlStatus
rl_alloc (RlAllocator *allocator, size_t bytes, void **out)
{
  if (allocator == NULL)
    {
      *out = NULL;
      return rl_set_error (RL_E_INVALID_ARG, "rl_alloc: no allocator");
    }
  return allocator->ops->alloc (allocator, bytes, out);
}

void
rl_free (RlAllocator *allocator, void *ptr)
{
  if (allocator != NULL && ptr != NULL)
    allocator->ops->free (allocator, ptr);
}

void
rl_allocator_stats (RlAllocator *allocator, RlAllocatorStats *out)
{
  memset (out, 0, sizeof *out);
  if (allocator != NULL)
    allocator->ops->get_stats (allocator, out);
}

void
rl_allocator_reset_peak (RlAllocator *allocator)
{
  if (allocator != NULL)
    allocator->ops->reset_peak (allocator);
}

void
rl_allocator_trim (RlAllocator *allocator)
{
  if (allocator != NULL)
    allocator->ops->trim (allocator);
}

void
rl_allocator_destroy (RlAllocator *allocator)
{
  if (allocator != NULL)
    allocator->ops->destroy (allocator);
}
