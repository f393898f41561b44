#include "model-cache.h"

#include <stdlib.h>
#include <string.h>

#include "workers/protocol/protocol.h"

typedef struct {
  char        *path;
  char        *options;
  RlModelFile *file;
  uint64_t     bytes;
  uint64_t     last_used;
} CacheEntry;

struct RlModelCache {
  uint64_t    budget;
  uint64_t    resident;
  uint64_t    clock;
  CacheEntry *entries;
  size_t      count;
  size_t      capacity;
};

RlModelCache *
rl_model_cache_new (uint64_t budget_bytes)
{
  RlModelCache *cache = calloc (1, sizeof *cache);
  if (cache != NULL)
    cache->budget = budget_bytes;
  return cache;
}

static void
drop_at (RlModelCache *cache, size_t index)
{
  CacheEntry *entry = &cache->entries[index];
  rl_model_file_close (entry->file);
  free (entry->path);
  free (entry->options);
  cache->resident -= entry->bytes;
  cache->entries[index] = cache->entries[--cache->count];
}

void
rl_model_cache_free (RlModelCache *cache)
{
  if (cache == NULL)
    return;
  rl_model_cache_clear (cache);
  free (cache->entries);
  free (cache);
}

static long
find (const RlModelCache *cache, const char *path, const char *options)
{
  for (size_t i = 0; i < cache->count; i++)
    if (strcmp (cache->entries[i].path, path) == 0
        && strcmp (cache->entries[i].options, options ? options : "") == 0)
      return (long) i;
  return -1;
}

RlModelFile *
rl_model_cache_lookup (RlModelCache *cache, const char *path, const char *options,
                       bool *stale)
{
  *stale = false;
  long index = find (cache, path, options);
  if (index < 0)
    return NULL;
  if (!rl_model_file_is_current (cache->entries[index].file))
    {
      *stale = true;
      drop_at (cache, (size_t) index);
      return NULL;
    }
  cache->entries[index].last_used = ++cache->clock;
  return cache->entries[index].file;
}

int
rl_model_cache_reserve (RlModelCache *cache, uint64_t bytes, const char *path,
                        RlErrorInfo *err)
{
  if (bytes > cache->budget)
    return rl_error_set (err, RL_WIRE_NO_MEMORY,
                         "checkpoint '%s' needs %llu MiB but the worker's model memory "
                         "budget is %llu MiB; raise the budget or use a smaller model",
                         path, (unsigned long long) (bytes >> 20),
                         (unsigned long long) (cache->budget >> 20));
  while (cache->resident + bytes > cache->budget && cache->count > 0)
    {
      size_t oldest = 0;
      for (size_t i = 1; i < cache->count; i++)
        if (cache->entries[i].last_used < cache->entries[oldest].last_used)
          oldest = i;
      drop_at (cache, oldest);
    }
  return RL_WIRE_OK;
}

int
rl_model_cache_insert (RlModelCache *cache, const char *path, const char *options,
                       RlModelFile *file, RlErrorInfo *err)
{
  rl_model_cache_remove (cache, path, options);
  if (cache->count == cache->capacity)
    {
      size_t capacity = cache->capacity ? cache->capacity * 2 : 4;
      CacheEntry *grown = realloc (cache->entries, capacity * sizeof *grown);
      if (grown == NULL)
        {
          rl_model_file_close (file);
          return rl_error_set (err, RL_WIRE_NO_MEMORY, "out of memory caching '%s'", path);
        }
      cache->entries = grown;
      cache->capacity = capacity;
    }
  CacheEntry entry = {
    .path = strdup (path),
    .options = strdup (options ? options : ""),
    .file = file,
    .bytes = rl_model_file_size (file),
    .last_used = ++cache->clock,
  };
  if (entry.path == NULL || entry.options == NULL)
    {
      free (entry.path);
      free (entry.options);
      rl_model_file_close (file);
      return rl_error_set (err, RL_WIRE_NO_MEMORY, "out of memory caching '%s'", path);
    }
  cache->entries[cache->count++] = entry;
  cache->resident += entry.bytes;
  return RL_WIRE_OK;
}

bool
rl_model_cache_remove (RlModelCache *cache, const char *path, const char *options)
{
  long index = find (cache, path, options);
  if (index < 0)
    return false;
  drop_at (cache, (size_t) index);
  return true;
}

uint64_t
rl_model_cache_clear (RlModelCache *cache)
{
  uint64_t released = cache->resident;
  while (cache->count > 0)
    drop_at (cache, cache->count - 1);
  return released;
}

uint64_t
rl_model_cache_resident (const RlModelCache *cache)
{
  return cache->resident;
}

uint64_t
rl_model_cache_budget (const RlModelCache *cache)
{
  return cache->budget;
}

size_t
rl_model_cache_count (const RlModelCache *cache)
{
  return cache->count;
}
