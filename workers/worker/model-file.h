/* A checkpoint opened for the model cache: memory-mapped read-only and
 * shared, so every worker on the machine reads the same page-cache pages.
 * "Loading" touches every page of every tensor, reporting bytes of tensor
 * data read. The safetensors reader of workers/checkpoint/ validates the
 * whole header at open time; this file is the seam where GGUF and the
 * model-family loaders plug in later. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "plugins/family.h"
#include "workers/protocol/error-info.h"

typedef struct RlModelFile RlModelFile;

/* Called every few MiB while loading; return true to cancel. */
typedef bool (*RlModelFileProgress) (uint64_t done, uint64_t total, void *user);

/* Opens, maps and validates path. Errors name the file: RL_WIRE_NOT_FOUND
 * when it does not exist, RL_WIRE_INVALID when it is not a valid
 * safetensors file. */
RlModelFile *rl_model_file_open     (const char *path, RlErrorInfo *err);

/* Reads every page of tensor data, calling progress with bytes done of
 * total = rl_model_file_data_size() (the last call has done == total). RL_WIRE_CANCELLED when progress asked to stop. */
int          rl_model_file_load     (RlModelFile *file, RlModelFileProgress progress,
                                     void *user, RlErrorInfo *err);

/* Bytes of the mapped file (what the model cache accounts). */
uint64_t     rl_model_file_size     (const RlModelFile *file);

/* Bytes of tensor data (the total of load progress). */
uint64_t     rl_model_file_data_size (const RlModelFile *file);

/* True while path still names the same, unchanged file (inode, size and
 * modification time); false when it was deleted or replaced. */
bool         rl_model_file_is_current (const RlModelFile *file);

/* The validated checkpoint, for model families reading their weights. */
struct RlSafetensors *rl_model_file_checkpoint (const RlModelFile *file);

/* Hands the file the model a family loaded from it (and its kind); the
 * file owns it from here and unloads it through family->unload before the
 * checkpoint closes. */
void         rl_model_file_attach   (RlModelFile *file, const RlFamily *family,
                                     RlModelKind kind, RlFamilyModel *model);

/* The attached model, its family and kind (NULL / 0 before attach). */
RlFamilyModel  *rl_model_file_model  (const RlModelFile *file);
const RlFamily *rl_model_file_family (const RlModelFile *file);
RlModelKind     rl_model_file_kind   (const RlModelFile *file);

/* Unloads the attached model, then unmaps and closes. NULL is ignored. */
void         rl_model_file_close    (RlModelFile *file);
