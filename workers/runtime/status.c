/* Status codes and the thread-local detail message. */
#include "workers/runtime/status.h"

#include <stdio.h>
#include <string.h>

#define RL_ERROR_DETAIL_SIZE 1024

/* Per-thread, so concurrent workers threads never see each other's
 * messages; not shared mutable state. */
static _Thread_local char error_detail[RL_ERROR_DETAIL_SIZE];

const char *
rl_strerror (int status)
{
  switch (status)
    {
    case RL_OK:
      return "success";
#define RL_STATUS_MSG_(name, value, msg) case RL_##name: return msg;
      RL_STATUS_MAP (RL_STATUS_MSG_)
#undef RL_STATUS_MSG_
    default:
      return "unknown status";
    }
}

const char *
rl_status_name (int status)
{
  switch (status)
    {
    case RL_OK:
      return "RL_OK";
#define RL_STATUS_NAME_(name, value, msg) case RL_##name: return "RL_" #name;
      RL_STATUS_MAP (RL_STATUS_NAME_)
#undef RL_STATUS_NAME_
    default:
      return "RL_E_UNKNOWN";
    }
}

RlStatus
rl_set_error_v (RlStatus status, const char *fmt, va_list ap)
{
  vsnprintf (error_detail, sizeof error_detail, fmt, ap);
  return status;
}

RlStatus
rl_set_error (RlStatus status, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  rl_set_error_v (status, fmt, ap);
  va_end (ap);
  return status;
}

RlStatus
rl_prefix_error (RlStatus status, const char *fmt, ...)
{
  char prefix[RL_ERROR_DETAIL_SIZE];
  va_list ap;

  va_start (ap, fmt);
  int n = vsnprintf (prefix, sizeof prefix, fmt, ap);
  va_end (ap);
  if (n <= 0)
    return status;
  size_t plen = (size_t) n < sizeof prefix ? (size_t) n : sizeof prefix - 1;
  if (error_detail[0] == '\0')
    snprintf (error_detail, sizeof error_detail, "%s", rl_strerror (status));
  /* Shift the old message right and put the prefix in front; the tail is
   * cut when the total does not fit. */
  size_t old_len = strlen (error_detail);
  size_t keep = old_len + plen < sizeof error_detail ? old_len : sizeof error_detail - 1 - plen;
  memmove (error_detail + plen, error_detail, keep);
  memcpy (error_detail, prefix, plen);
  error_detail[plen + keep] = '\0';
  return status;
}

const char *
rl_last_error (void)
{
  return error_detail;
}

void
rl_clear_error (void)
{
  error_detail[0] = '\0';
}
