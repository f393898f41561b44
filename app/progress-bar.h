/* The terminal view of a running job: one redrawn line on a terminal
 *   [######......] 14/30  KSampler  2.1 it/s  ETA 0:06
 * and plain lines ("node 3 SaveVideo finished") when output is a pipe, so
 * logs stay readable. Fed with the executor's events from the runner
 * thread. */
#pragma once

#include <stdio.h>

#include "engine/run/event.h"

G_BEGIN_DECLS

typedef struct _RlProgressBar RlProgressBar;

/* @out is borrowed; @is_terminal picks the redrawn line. */
RlProgressBar *rl_progress_bar_new    (FILE           *out,
                                       gboolean        is_terminal);
void           rl_progress_bar_free   (RlProgressBar  *bar);
/* Feeds one event; thread-safe. */
void           rl_progress_bar_update (RlProgressBar  *bar,
                                       const RlEvent  *event);

/* Formats @seconds as "m:ss" or "h:mm:ss" (for ETA and durations). */
char          *rl_format_duration     (double          seconds);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RlProgressBar, rl_progress_bar_free)

G_END_DECLS
