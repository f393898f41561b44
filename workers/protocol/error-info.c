#include "error-info.h"

#include <stdio.h>
#include <string.h>

#include "protocol.h"

int
rl_error_set (RlErrorInfo *err, int code, const char *format, ...)
{
  if (err == NULL)
    return code;
  err->code = code;
  va_list args;
  va_start (args, format);
  vsnprintf (err->message, sizeof err->message, format, args);
  va_end (args);
  return code;
}

void
rl_error_prefix (RlErrorInfo *err, const char *format, ...)
{
  if (err == NULL)
    return;
  char prefix[RL_ERROR_INFO_MESSAGE_SIZE];
  va_list args;
  va_start (args, format);
  vsnprintf (prefix, sizeof prefix, format, args);
  va_end (args);
  size_t prefix_length = strlen (prefix);
  size_t room = sizeof err->message - 1;
  if (prefix_length > room)
    prefix_length = room;
  size_t kept = strnlen (err->message, room - prefix_length);
  memmove (err->message + prefix_length, err->message, kept);
  memcpy (err->message, prefix, prefix_length);
  err->message[prefix_length + kept] = '\0';
}

void
rl_error_clear (RlErrorInfo *err)
{
  if (err == NULL)
    return;
  err->code = RL_WIRE_OK;
  err->message[0] = '\0';
}
