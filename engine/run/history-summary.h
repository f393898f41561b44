/* RlHistorySummary: what a history browser shows on a job's card — the
 * model, seed, steps and parallel configuration picked out of the job's
 * recorded JSON, and which output to draw the thumbnail from. */
#pragma once

#include "engine/run/history.h"

G_BEGIN_DECLS

typedef struct {
  char                   *model;      /* model file name without folder and extension, or NULL */
  gboolean                has_seed;
  gint64                  seed;
  guint                   steps;      /* 0 when not recorded */
  guint                   width;      /* 0 when not recorded */
  guint                   height;
  char                   *parallel;   /* "2 CPU workers · Ulysses 2", "1 GPU", "In the app" */
  const RlHistoryOutput  *poster;     /* the output to thumbnail (borrowed from the job), or NULL */
} RlHistorySummary;

/* The summary of @job; it borrows @job's outputs, so free it first. Fields
 * the job's JSON lacks (or that is malformed) stay empty. */
RlHistorySummary *rl_history_summary_new   (const RlHistoryJob  *job);
void              rl_history_summary_free  (RlHistorySummary    *summary);

/* "1:05", "12.4 s", "1 h 02 min" for a duration in seconds. */
char             *rl_history_format_duration (double             seconds);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RlHistorySummary, rl_history_summary_free)

G_END_DECLS
