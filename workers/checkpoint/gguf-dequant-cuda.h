/* GGUF block dequantisation on CUDA devices, behind a plain C API.
 *
 * Same types and the same bits as rl_gguf_dequantize (gguf-dequant.h): each
 * output element is computed with round-to-nearest float32 multiplies and
 * adds in the CPU code's order (no FMA contraction). Built into
 * checkpoint_cuda_dep only in CUDA builds. */
#pragma once

#include <stdint.h>

/* The runtime headers are plain C without their own guards. */
#ifdef __cplusplus
extern "C" {
#endif

#include "workers/runtime/dtype.h"
#include "workers/runtime/status.h"

/* Enqueues on `stream` (a cudaStream_t; NULL = legacy default stream) the
 * decoding of `n` elements (whole blocks) of `src_dtype` from device memory
 * `src` into device memory `dst` of `dst_dtype`: RL_F32, or RL_BF16/RL_F16
 * (the f32 result rounded to nearest even). Returns RL_E_INVALID_ARG /
 * RL_E_DTYPE for bad arguments and RL_E_DEVICE when the launch fails; the
 * kernel runs asynchronously. */
RlStatus rl_gguf_dequantize_cuda (RlDType     src_dtype,
                                  const void *src,
                                  int64_t     n,
                                  RlDType     dst_dtype,
                                  void       *dst,
                                  void       *stream);

#ifdef __cplusplus
}
#endif
