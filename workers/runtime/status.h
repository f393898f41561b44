/* Status codes of the compute runtime (workers/, plugins/).
 *
 * Every runtime function that can fail returns an RlStatus: RL_OK (0) or a
 * negative code from the table below, libuv style. The code says what kind of
 * failure it was; the thread-local detail message (rl_last_error) says which
 * tensor, which shapes, which file, and what to do about it:
 *
 *   if (x->shape[1] != w->shape[1])
 *     return rl_set_error (RL_E_SHAPE, "gemm: x %s and weight %s disagree on K",
 *                          rl_tensor_describe (x, b1, sizeof b1), ...);
 *
 * Callers that only propagate a status keep the message intact; callers that
 * add context use rl_prefix_error ("block 12 attn: "). */
#pragma once

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

/* XX (NAME, value, "default message") — the single source of truth. */
#define RL_STATUS_MAP(XX)                                                     \
  XX (E_INVALID_ARG,     -1, "invalid argument")                              \
  XX (E_NO_MEMORY,       -2, "out of host memory")                            \
  XX (E_DEVICE_OOM,      -3, "out of device memory")                          \
  XX (E_SHAPE,           -4, "tensor shapes do not match")                    \
  XX (E_DTYPE,           -5, "dtype not supported by this operation")         \
  XX (E_NOT_SUPPORTED,   -6, "operation not supported by this backend")       \
  XX (E_NOT_CONTIGUOUS,  -7, "tensor must be contiguous")                     \
  XX (E_DEVICE_MISMATCH, -8, "tensor is on another device")                   \
  XX (E_DEVICE,          -9, "device or driver failure")                      \
  XX (E_OVERFLOW,       -10, "size overflows")                                \
  XX (E_IO,             -11, "input/output error")                            \
  XX (E_FORMAT,         -12, "malformed file or data")                        \
  XX (E_NOT_FOUND,      -13, "not found")                                     \
  XX (E_VERSION,        -14, "incompatible version")                          \
  XX (E_CANCELLED,      -15, "cancelled")                                     \
  XX (E_INTERNAL,       -16, "internal error (a bug)")

typedef enum {
  RL_OK = 0,
#define RL_STATUS_ENUM_(name, value, msg) RL_##name = value,
  RL_STATUS_MAP (RL_STATUS_ENUM_)
#undef RL_STATUS_ENUM_
} RlStatus;

/* Static description of a code ("tensor shapes do not match"); never NULL,
 * unknown codes give "unknown status". */
const char *rl_strerror      (int status);

/* Symbolic name of a code ("RL_E_SHAPE"); never NULL. */
const char *rl_status_name   (int status);

/* Records a detail message for this thread and returns `status` unchanged,
 * so a failing path is one line: return rl_set_error (RL_E_SHAPE, "..."). */
RlStatus    rl_set_error     (RlStatus status, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

RlStatus    rl_set_error_v   (RlStatus status, const char *fmt, va_list ap);

/* Prepends context to this thread's detail message ("loading block 3: ")
 * and returns `status` unchanged. */
RlStatus    rl_prefix_error  (RlStatus status, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

/* This thread's last detail message: "" when none was set since the last
 * rl_clear_error. Valid until the next rl_set_error on this thread. */
const char *rl_last_error    (void);

void        rl_clear_error   (void);

#ifdef __cplusplus
}
#endif
