/* Models kept resident between jobs, keyed by (checkpoint path, options),
 * within an explicit memory budget: loading a model that does not fit
 * evicts the least recently used ones first. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model-file.h"

typedef struct RlModelCache RlModelCache;

RlModelCache *rl_model_cache_new      (uint64_t budget_bytes);
void          rl_model_cache_free     (RlModelCache *cache);

/* The cached model for the key, marked most recently used, or NULL. An
 * entry whose file was deleted or replaced since it was loaded is dropped
 * (and *stale set) so the caller reloads or reports the missing file. */
RlModelFile  *rl_model_cache_lookup   (RlModelCache *cache, const char *path,
                                       const char *options, bool *stale);

/* Evicts least recently used models until bytes more fit the budget.
 * Fails, naming path and both sizes, when bytes exceeds the whole budget. */
int           rl_model_cache_reserve  (RlModelCache *cache, uint64_t bytes,
                                       const char *path, RlErrorInfo *err);

/* Adds a loaded model; the cache takes ownership of file. */
int           rl_model_cache_insert   (RlModelCache *cache, const char *path,
                                       const char *options, RlModelFile *file,
                                       RlErrorInfo *err);

/* Drops the model of this key; false if it was not cached. */
bool          rl_model_cache_remove   (RlModelCache *cache, const char *path,
                                       const char *options);

/* Drops every model; returns the bytes released. */
uint64_t      rl_model_cache_clear    (RlModelCache *cache);

uint64_t      rl_model_cache_resident (const RlModelCache *cache);
uint64_t      rl_model_cache_budget   (const RlModelCache *cache);
size_t        rl_model_cache_count    (const RlModelCache *cache);
