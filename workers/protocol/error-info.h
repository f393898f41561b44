/* A status code with a human message, filled by protocol, pool and worker
 * calls that fail. Plain C stands in for GError here: the caller owns the
 * struct (usually on the stack) and may pass NULL to ignore details. */
#pragma once

#include <stdarg.h>

#define RL_ERROR_INFO_MESSAGE_SIZE 512

typedef struct {
  int  code;                                  /* an RlWireStatus, 0 = ok */
  char message[RL_ERROR_INFO_MESSAGE_SIZE];   /* what failed and what to do */
} RlErrorInfo;

/* Sets code and formats message; returns code so callers can
 * `return rl_error_set (err, RL_WIRE_IO, "...")`. err may be NULL. */
int  rl_error_set    (RlErrorInfo *err, int code, const char *format, ...)
  __attribute__ ((format (printf, 3, 4)));

/* Prefixes err->message with formatted context ("rank 1: "), keeping code. */
void rl_error_prefix (RlErrorInfo *err, const char *format, ...)
  __attribute__ ((format (printf, 2, 3)));

/* Resets err to success. */
void rl_error_clear  (RlErrorInfo *err);
