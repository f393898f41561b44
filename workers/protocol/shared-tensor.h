/* Tensors shared between processes as sealed memfds. The sender creates
 * one, fills it, seals it (no more writes, no resize) and passes its
 * descriptor with a frame; the receiver checks the seals and size, then maps
 * it read-only. The bytes are never copied through the socket. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "error-info.h"

#define RL_TENSOR_DESC_MAX_DIMS 8

/* Wire dtype codes: stable numbers, independent of the runtime's enum. */
typedef enum {
  RL_WIRE_DTYPE_F32     = 1,
  RL_WIRE_DTYPE_F16     = 2,
  RL_WIRE_DTYPE_BF16    = 3,
  RL_WIRE_DTYPE_F8_E4M3 = 4,
  RL_WIRE_DTYPE_F8_E5M2 = 5,
  RL_WIRE_DTYPE_I8      = 6,
  RL_WIRE_DTYPE_I32     = 7,
  RL_WIRE_DTYPE_I64     = 8,
  RL_WIRE_DTYPE_U8      = 9,
} RlWireDtype;

/* Where a tensor lies in its memfd: dense row-major at offset. */
typedef struct {
  uint32_t dtype;                          /* RlWireDtype */
  uint32_t ndim;                           /* 0..RL_TENSOR_DESC_MAX_DIMS */
  uint64_t shape[RL_TENSOR_DESC_MAX_DIMS];
  uint64_t offset;                         /* bytes from the memfd start */
  uint64_t nbytes;                         /* element count * dtype size */
} RlTensorDesc;

typedef struct RlSharedTensor RlSharedTensor;

/* Bytes per element of a wire dtype, 0 if unknown. */
size_t          rl_wire_dtype_size        (uint32_t dtype);
/* "f32", "bf16", ...; "unknown" for other codes. */
const char     *rl_wire_dtype_name        (uint32_t dtype);

/* Fills desc for a dense tensor at offset 0; fails on an unknown dtype, too
 * many dimensions or a size that overflows. */
int             rl_tensor_desc_init       (RlTensorDesc *desc, uint32_t dtype,
                                           uint32_t ndim, const uint64_t *shape,
                                           RlErrorInfo *err);
/* Checks a received descriptor: known dtype, ndim, nbytes equal to the
 * shape's element count times the dtype size, no overflow. */
int             rl_tensor_desc_validate   (const RlTensorDesc *desc,
                                           RlErrorInfo *err);

/* Creates a writable memfd tensor named name (shown in /proc/PID/fd).
 * Fill rl_shared_tensor_data() then call rl_shared_tensor_seal(). */
RlSharedTensor *rl_shared_tensor_new      (uint32_t dtype, uint32_t ndim,
                                           const uint64_t *shape,
                                           const char *name, RlErrorInfo *err);
/* Makes the tensor immutable (F_SEAL_WRITE|SHRINK|GROW|SEAL) and remaps it
 * read-only. Required before its descriptor is sent. */
int             rl_shared_tensor_seal     (RlSharedTensor *tensor,
                                           RlErrorInfo *err);
/* Maps a received memfd read-only. Takes ownership of fd (closed on
 * failure too). Refuses a descriptor whose memfd is not sealed against
 * shrinking and writing, or is smaller than desc->offset + desc->nbytes. */
RlSharedTensor *rl_shared_tensor_from_fd  (int fd, const RlTensorDesc *desc,
                                           RlErrorInfo *err);
/* The tensor's first byte: writable before sealing, read-only after. */
void           *rl_shared_tensor_data     (RlSharedTensor *tensor);
const RlTensorDesc *rl_shared_tensor_desc (const RlSharedTensor *tensor);
/* The memfd, owned by the tensor: pass it to a frame, do not close it. */
int             rl_shared_tensor_fd       (const RlSharedTensor *tensor);
/* Unmaps and closes. NULL is ignored. */
void            rl_shared_tensor_free     (RlSharedTensor *tensor);
