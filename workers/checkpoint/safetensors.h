/* safetensors checkpoints: memory-mapped once, validated completely,
 * tensors handed out without copying.
 *
 * rl_safetensors_open maps the file read-only and shared (MAP_SHARED), so
 * every worker process that opens the same file reads the same page-cache
 * pages and host RAM does not grow with the number of workers. Opening
 * validates the whole header before anything is returned: the 8-byte header
 * length, the JSON (strict, bounded), every entry's dtype, shape and
 * data_offsets (dtype size × shape = byte length, in bounds, sorted,
 * non-overlapping, covering the data region exactly), duplicate names, and
 * the optional "__metadata__" (string → string). Failures return RL_E_FORMAT
 * (or RL_E_IO) with an rl_last_error() message that names the file and the
 * tensor and says what is probably wrong (truncated download, not a
 * safetensors file, corrupt header).
 *
 * Tensors are listed in file order (by data offset). Their `data` points
 * into the read-only mapping: never write through it, and keep the
 * RlSafetensors open while any pointer or view is in use.
 *
 * Scaled fp8 (ComfyUI's convention): a "<name>.weight" stored as F8_E4M3 or
 * F8_E5M2 with a scalar float "<name>.scale_weight" beside it gets
 * has_scale = true and scale = that value (real weight = stored × scale);
 * views carry it in RlTensor.scale. A non-scalar scale_weight beside an fp8
 * weight is rejected at open time rather than silently ignored. A tensor
 * named "scaled_fp8" marks the whole checkpoint (rl_safetensors_is_scaled_fp8).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "workers/runtime/dtype.h"
#include "workers/runtime/status.h"
#include "workers/runtime/tensor.h"

#define RL_SAFETENSORS_MAX_DIMS 8
/* Headers above this are refused (the reference implementation's limit). */
#define RL_SAFETENSORS_MAX_HEADER (100u * 1024u * 1024u)

typedef struct RlSafetensors RlSafetensors;

typedef struct RlSafetensorsTensor RlSafetensorsTensor;
struct RlSafetensorsTensor {
  const char                *name;
  RlDType                    dtype;
  int                        ndim;                             /* 0 = scalar */
  int64_t                    shape[RL_SAFETENSORS_MAX_DIMS];   /* outermost first */
  int64_t                    numel;
  uint64_t                   file_offset;   /* absolute offset of the first byte */
  uint64_t                   nbytes;
  const void                *data;          /* inside the read-only mapping */
  bool                       has_scale;     /* scaled fp8 weight */
  float                      scale;         /* 1.0 unless has_scale */
  const RlSafetensorsTensor *scale_tensor;  /* the scale_weight entry, or NULL */
};

/* madvise hints for a tensor's pages (or the whole data region). */
typedef enum {
  RL_SAFETENSORS_WILL_NEED,    /* start reading ahead now */
  RL_SAFETENSORS_SEQUENTIAL,   /* will be read once, front to back */
  RL_SAFETENSORS_DONT_NEED,    /* uploaded elsewhere: drop from this process's RSS
                                * (the page cache keeps them for other workers) */
} RlSafetensorsAdvice;

/* Maps and validates `path`. On success *out owns the mapping. */
RlStatus  rl_safetensors_open          (const char      *path,
                                        RlSafetensors  **out);

/* Same validation over bytes the caller owns (tests, fuzzing); `display_name`
 * is used in messages. `data` must outlive the handle. */
RlStatus  rl_safetensors_open_memory   (const void      *data,
                                        size_t           size,
                                        const char      *display_name,
                                        RlSafetensors  **out);

void      rl_safetensors_close         (RlSafetensors   *st);   /* NULL-safe */

const char *rl_safetensors_path        (const RlSafetensors *st);
uint64_t  rl_safetensors_file_size     (const RlSafetensors *st);
uint64_t  rl_safetensors_data_offset   (const RlSafetensors *st);   /* 8 + header length */
uint64_t  rl_safetensors_data_size     (const RlSafetensors *st);   /* bytes of tensor data */

/* Tensors in file order: index 0 .. count-1. */
size_t    rl_safetensors_count         (const RlSafetensors *st);
const RlSafetensorsTensor *
          rl_safetensors_tensor_at     (const RlSafetensors *st, size_t index);

/* Tensor by exact name, or NULL. O(1). */
const RlSafetensorsTensor *
          rl_safetensors_find          (const RlSafetensors *st, const char *name);

/* "__metadata__" entries in header order; value of one key, or NULL. */
size_t    rl_safetensors_metadata_count (const RlSafetensors *st);
void      rl_safetensors_metadata_at   (const RlSafetensors *st, size_t index,
                                        const char **key, const char **value);
const char *rl_safetensors_metadata    (const RlSafetensors *st, const char *key);

/* True when the file holds the "scaled_fp8" marker or any fp8 weight with a
 * scale_weight. */
bool      rl_safetensors_is_scaled_fp8 (const RlSafetensors *st);

/* A zero-copy CPU view of `t` (borrowed: storage NULL, read-only memory;
 * the RlSafetensors must outlive it). Scaled fp8 weights carry their scale.
 * RL_E_NOT_SUPPORTED for tensors of more than RL_MAX_DIMS dimensions or
 * dtypes the runtime lacks. */
RlStatus  rl_safetensors_view          (const RlSafetensors       *st,
                                        const RlSafetensorsTensor *t,
                                        RlTensor                  *out);

/* Copies bytes [offset, offset + length) of `t`'s data into dst, touching
 * only those pages, and adds `length` to the bytes-read counter. This is how
 * a worker reads just its FSDP shard of a weight. RL_E_INVALID_ARG when the
 * range is outside the tensor. Thread-safe. */
RlStatus  rl_safetensors_read          (RlSafetensors             *st,
                                        const RlSafetensorsTensor *t,
                                        uint64_t                   offset,
                                        uint64_t                   length,
                                        void                      *dst);

/* For progress reports when data was consumed through `data` directly
 * (for example a host-to-device copy from the mapping). Thread-safe. */
void      rl_safetensors_note_read     (RlSafetensors *st, uint64_t bytes);

/* Bytes read so far (rl_safetensors_read + rl_safetensors_note_read), to
 * report load progress against rl_safetensors_data_size. */
uint64_t  rl_safetensors_bytes_read    (const RlSafetensors *st);

/* Rank `rank` of `world`'s share of `t` split along dimension 0, the way
 * torch.tensor_split does: the first (rows % world) ranks get one row more.
 * Gives the rows and the matching byte range inside the tensor (for
 * rl_safetensors_read). Scalars and 1-row tensors go whole to every rank
 * (*row_count = rows, offset 0) because they are not worth sharding. */
RlStatus  rl_safetensors_shard_rows    (const RlSafetensorsTensor *t,
                                        int                        rank,
                                        int                        world,
                                        int64_t                   *row_start,
                                        int64_t                   *row_count,
                                        uint64_t                  *byte_offset,
                                        uint64_t                  *byte_length);

/* madvise on `t`'s pages, or the whole data region when t is NULL. A hint:
 * it never fails in a way that matters, and does nothing for in-memory
 * handles. */
void      rl_safetensors_advise        (RlSafetensors             *st,
                                        const RlSafetensorsTensor *t,
                                        RlSafetensorsAdvice        advice);
