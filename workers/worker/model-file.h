/* A checkpoint opened for the model cache: memory-mapped read-only and
 * shared, so every worker on the machine reads the same page-cache pages.
 * "Loading" touches every page of the tensor data, reporting bytes read.
 * This is the seam where the checkpoint readers of workers/checkpoint/ plug
 * in; for now it checks the safetensors framing itself. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "workers/protocol/error-info.h"

typedef struct RlModelFile RlModelFile;

/* Called every few MiB while loading; return true to cancel. */
typedef bool (*RlModelFileProgress) (uint64_t done, uint64_t total, void *user);

/* Opens and maps path. Errors name the file: RL_WIRE_NOT_FOUND when it does
 * not exist, RL_WIRE_BAD_MESSAGE when it is not a safetensors file. */
RlModelFile *rl_model_file_open     (const char *path, RlErrorInfo *err);

/* Reads every page, calling progress with bytes done of total (the last
 * call has done == total). RL_WIRE_CANCELLED when progress asked to stop. */
int          rl_model_file_load     (RlModelFile *file, RlModelFileProgress progress,
                                     void *user, RlErrorInfo *err);

/* Bytes of the mapped file. */
uint64_t     rl_model_file_size     (const RlModelFile *file);

/* True while path still names the same, unchanged file (inode, size and
 * modification time); false when it was deleted or replaced. */
bool         rl_model_file_is_current (const RlModelFile *file);

void         rl_model_file_close    (RlModelFile *file);
