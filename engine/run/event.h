/* Progress events: what the executor tells its listeners (CLI progress bar,
 * UI queue panel, history). Events are delivered on the thread that runs
 * the job; listeners that touch UI marshal them to the main loop. All
 * pointers are borrowed for the duration of the callback. */
#pragma once

#include "engine/engine-types.h"

G_BEGIN_DECLS

typedef enum {
  RL_EVENT_JOB_QUEUED,
  RL_EVENT_JOB_STARTED,
  RL_EVENT_NODE_STARTED,
  RL_EVENT_NODE_CACHED,     /* output taken from the cache, node not run */
  RL_EVENT_NODE_FINISHED,
  RL_EVENT_PROGRESS,        /* step of total inside a node (sampler steps) */
  RL_EVENT_PREVIEW,         /* preview frames inside a node */
  RL_EVENT_OUTPUT_FILE,     /* a node wrote a file */
  RL_EVENT_ERROR,           /* a node failed; error is set */
  RL_EVENT_JOB_FINISHED,    /* status tells how */
} RlEventKind;

typedef enum {
  RL_JOB_QUEUED,
  RL_JOB_RUNNING,
  RL_JOB_SUCCEEDED,
  RL_JOB_FAILED,
  RL_JOB_INTERRUPTED,
  RL_JOB_CANCELLED,         /* removed from the queue before it ran */
} RlJobStatus;

struct _RlEvent {
  RlEventKind     kind;
  gint64          job_id;
  const char     *node_id;       /* NULL for job-level events */
  const char     *node_type;
  const char     *node_title;
  guint           step;          /* RL_EVENT_PROGRESS */
  guint           total;
  const RlImage  *preview;       /* RL_EVENT_PREVIEW */
  const char     *path;          /* RL_EVENT_OUTPUT_FILE */
  const GError   *error;         /* RL_EVENT_ERROR, failed RL_EVENT_JOB_FINISHED */
  RlJobStatus     status;        /* RL_EVENT_JOB_FINISHED */
  double          elapsed_s;     /* since job start */
};

typedef void (*RlEventFunc) (const RlEvent *event,
                             gpointer       user_data);

const char *rl_job_status_to_string (RlJobStatus status);

G_END_DECLS
