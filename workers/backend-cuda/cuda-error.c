#include "cuda-error.h"

#include <stdarg.h>
#include <stdio.h>

bool
rl_cuda_error_set (RlCudaError *error, int code, const char *format, ...)
{
  if (error == NULL)
    return false;
  error->code = code;
  va_list args;
  va_start (args, format);
  vsnprintf (error->message, sizeof error->message, format, args);
  va_end (args);
  return false;
}
