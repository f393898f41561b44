#include "engine/run/event.h"

/* The names history stores and the CLI prints; they never change once
 * written to a database. */
const char *
rl_job_status_to_string (RlJobStatus status)
{
  switch (status)
    {
    case RL_JOB_QUEUED:      return "queued";
    case RL_JOB_RUNNING:     return "running";
    case RL_JOB_SUCCEEDED:   return "succeeded";
    case RL_JOB_FAILED:      return "failed";
    case RL_JOB_INTERRUPTED: return "interrupted";
    case RL_JOB_CANCELLED:   return "cancelled";
    default:                 return "unknown";
    }
}
