/* Making a model resident: open the checkpoint, find the family that
 * recognises it, read its pages (with progress) within the cache budget,
 * and load it with the family onto the worker's compute context. Used by
 * LOAD_MODEL and by every model job, which reloads a model that was
 * evicted (or lost with a restarted worker) on demand. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "family-plugins.h"
#include "model-cache.h"
#include "model-file.h"

typedef struct {
  RlModelCache          *cache;
  const RlFamilyPlugins *plugins;
  const RlBackend       *backend;
  RlContext             *compute;
  int                    rank;
  const RlFsdpOptions   *fsdp;     /* diffusion models' blocks sharded and/or
                                    * offloaded (family load_sharded); NULL: none */
} RlModelLoader;

/* What a load did, for the cache report. */
typedef struct {
  bool      was_cached;
  uint64_t  model_bytes;      /* the file's mapped size */
  uint64_t  released_bytes;   /* evicted to make room */
} RlModelLoadInfo;

/* The resident model of (path, options), loaded first when it is not in
 * the cache (or its file changed). The cache owns the result. NULL with
 * err naming the file and what to do. progress may be NULL. With no family
 * plugin installed at all, the file is kept resident without a model
 * (rl_model_file_model () NULL), as the pool's tests need. */
RlModelFile *rl_model_loader_get (const RlModelLoader *loader, const char *path,
                                  const char *options, RlModelFileProgress progress,
                                  void *user, RlModelLoadInfo *info, RlErrorInfo *err);
