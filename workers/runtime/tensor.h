/* RlTensor: a strided view of typed memory on one device.
 *
 * An RlTensor is a small value type (pass it by pointer, copy it with
 * rl_tensor_view). It points at element [0,...,0] of its view and records
 * strides in ELEMENTS, so narrow/permute/reshape make new views without
 * copying. The memory belongs either to a refcounted RlStorage (allocated
 * from an RlAllocator, or external memory such as an mmap'ed checkpoint
 * with its own release callback) or is borrowed (storage == NULL: the caller
 * guarantees it outlives the tensor).
 *
 * GGUF block types: the last dimension must be contiguous (stride 1) and a
 * whole number of blocks long; views keep it that way (narrow moves by whole
 * blocks, permute keeps the last dim last); element offsets are converted
 * to bytes block-wise.
 *
 * `scale` is the per-tensor dequantisation factor of "scaled fp8" weights
 * (value = stored · scale); it is 1.0 for everything else and is carried
 * into views. Ops that read a tensor apply it (gemm, convert). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "workers/runtime/device.h"
#include "workers/runtime/dtype.h"
#include "workers/runtime/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RL_MAX_DIMS 5

typedef struct RlStorage RlStorage;

typedef struct {
  RlDType    dtype;
  int        ndim;                   /* 0 (scalar) .. RL_MAX_DIMS */
  int64_t    shape[RL_MAX_DIMS];     /* entries past ndim are 1 */
  int64_t    strides[RL_MAX_DIMS];   /* in elements; entries past ndim 0 */
  void      *data;                   /* element [0,...,0] of this view */
  RlDevice   device;
  RlStorage *storage;                /* owner reference or NULL (borrowed) */
  float      scale;                  /* dequantisation factor, 1.0 if none */
} RlTensor;

/* ------------------------------------------------------------- storage */

/* Refcounted memory from `allocator` (refcount 1). */
RlStatus   rl_storage_new          (RlAllocator *allocator, size_t bytes,
                                    RlStorage **out);

/* Wraps memory the caller owns; `release` (may be NULL) runs with
 * (user, data, bytes) when the last reference goes — e.g. munmap. */
RlStatus   rl_storage_new_external (void *data, size_t bytes, RlDevice device,
                                    void (*release) (void *user, void *data,
                                                     size_t bytes),
                                    void *user, RlStorage **out);

RlStorage *rl_storage_ref          (RlStorage *storage);   /* NULL-safe */
void       rl_storage_unref        (RlStorage *storage);   /* NULL-safe */
void      *rl_storage_data         (const RlStorage *storage);
size_t     rl_storage_bytes        (const RlStorage *storage);

/* ------------------------------------------------------- construction */

/* A new contiguous tensor with its own storage from `allocator`; contents
 * are uninitialised. `ndim` may be 0 (one element). */
RlStatus rl_tensor_alloc        (RlTensor *out, RlAllocator *allocator,
                                 RlDType dtype, int ndim,
                                 const int64_t *shape);

/* Describes existing memory: `strides` NULL means contiguous; `storage`
 * (may be NULL = borrowed) gains a reference. Checks that the shape is
 * valid for the dtype (block types) but cannot check bounds when
 * storage is NULL. */
RlStatus rl_tensor_wrap         (RlTensor *out, void *data, RlDevice device,
                                 RlDType dtype, int ndim, const int64_t *shape,
                                 const int64_t *strides, RlStorage *storage);

/* Drops the storage reference and clears *t (safe to call twice). */
void     rl_tensor_release      (RlTensor *t);

/* ------------------------------------------------------------- views
 * Each view takes a new storage reference: release it like any tensor.
 * `out` may be the same object as `src`. Negative dims count from the end.
 * `out` must be zero-initialised (RlTensor t = { 0 }) or hold a tensor:
 * whatever it held is released first. */

/* Same view, new reference. */
RlStatus rl_tensor_view         (RlTensor *out, const RlTensor *src);

/* Elements [start, start+length) along `dim`. */
RlStatus rl_tensor_narrow       (RlTensor *out, const RlTensor *src, int dim,
                                 int64_t start, int64_t length);

/* New shape with the same element count; one entry may be -1 (inferred).
 * Works whenever the view's strides allow it without a copy (always for
 * contiguous tensors); RL_E_NOT_CONTIGUOUS otherwise. */
RlStatus rl_tensor_reshape      (RlTensor *out, const RlTensor *src, int ndim,
                                 const int64_t *shape);

/* Dimension i of the result is dimension perm[i] of src. */
RlStatus rl_tensor_permute      (RlTensor *out, const RlTensor *src,
                                 const int *perm);

/* Exchanges two dimensions (a permute). */
RlStatus rl_tensor_transpose    (RlTensor *out, const RlTensor *src,
                                 int dim0, int dim1);

/* Inserts a dimension of size 1 at `dim` (0..ndim). */
RlStatus rl_tensor_unsqueeze    (RlTensor *out, const RlTensor *src, int dim);

/* ---------------------------------------------------------- queries */

int64_t  rl_tensor_numel        (const RlTensor *t);

/* Row-major contiguous (size-1 dims may have any stride). */
bool     rl_tensor_is_contiguous (const RlTensor *t);

/* Bytes of the elements of a contiguous tensor (numel in dtype units);
 * for a strided view, the byte span from data to its last element. */
size_t   rl_tensor_nbytes       (const RlTensor *t);

/* Same ndim and shape. */
bool     rl_tensor_same_shape   (const RlTensor *a, const RlTensor *b);

/* Byte offset of element `index` (ndim entries) from t->data. */
int64_t  rl_tensor_byte_offset  (const RlTensor *t, const int64_t *index);

/* Fills `strides` with row-major contiguous strides for `shape`. */
void     rl_contiguous_strides  (int ndim, const int64_t *shape,
                                 int64_t *strides);

/* Writes "bf16[2,77,4096] cpu" (plus " scale=0.25" and " strided" when they
 * apply) into buf and returns buf; for error messages. */
char    *rl_tensor_describe     (const RlTensor *t, char *buf, size_t size);

/* The dequantisation factor ops apply: t->scale, where 0 (a tensor built
 * by hand and zero-initialised) reads as 1. */
static inline float
rl_tensor_scale (const RlTensor *t)
{
  return t->scale != 0.0f ? t->scale : 1.0f;
}

/* Buffer size that rl_tensor_describe never needs more than. */
#define RL_TENSOR_DESCRIBE_SIZE 160

#ifdef __cplusplus
}
#endif
