/* A checkpoint file mapped read-only and shared (MAP_SHARED), so every
 * worker process that opens the same file reads the same page-cache pages
 * and host RAM does not grow with the number of workers. Shared by the
 * safetensors and GGUF readers. Internal to workers/checkpoint. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "workers/runtime/status.h"

typedef struct {
  const uint8_t *bytes;     /* the whole file; NULL for an empty one */
  uint64_t       size;
  bool           mapped;    /* false for empty files (nothing to unmap) */
} RlMappedFile;

/* Opens and maps `path`; the descriptor is closed again at once. RL_E_IO
 * naming the file when it cannot be opened, is not a regular file, or
 * cannot be mapped. `header_advice` bytes from the start get MADV_WILLNEED
 * (the reader parses them first). */
RlStatus  rl_mapped_file_open   (const char    *path,
                                 uint64_t       header_advice,
                                 RlMappedFile  *out);
void      rl_mapped_file_close  (RlMappedFile  *file);
