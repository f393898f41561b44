/* Errors of the CUDA backend's low-level API.
 *
 * Calls that can fail for a reason worth explaining (out of memory, an
 * unsupported GEMM shape, a driver failure) fill an RlCudaError with a
 * sentence naming what failed and what to do, and return false. The op
 * table layer copies the message into the runtime's status. Kernel launch
 * helpers return cudaError_t instead: their only failures are invalid
 * arguments (cudaErrorInvalidValue) and launch errors. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int  code;          /* cudaError_t or cublasStatus_t value; 0 when none */
  char message[320];  /* what failed and what to do, NUL-terminated */
} RlCudaError;

/* Fills error (if not NULL) with code and a printf-style message. Always
 * returns false so callers can write `return rl_cuda_error_set (...)`. */
bool rl_cuda_error_set (RlCudaError *error, int code, const char *format, ...)
  __attribute__ ((format (printf, 3, 4)));

#ifdef __cplusplus
}
#endif
