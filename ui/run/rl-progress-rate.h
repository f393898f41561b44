/* RlProgressRate: iterations per second and time left for a node's steps,
 * from the times the steps were reported. The rate is the mean over the
 * last few steps, so one slow step (a model load, a preview decode) moves
 * it little, and it starts over when a node begins counting again. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define RL_PROGRESS_RATE_WINDOW 8

typedef struct {
  guint   total;
  guint   n_samples;
  guint   steps[RL_PROGRESS_RATE_WINDOW];
  gint64  times_us[RL_PROGRESS_RATE_WINDOW];   /* monotonic, of steps[] */
} RlProgressRate;

void     rl_progress_rate_reset    (RlProgressRate *rate);
/* Step @step of @total was reached at @time_us (monotonic microseconds).
 * A step lower than the last one, or another total, starts a new count. */
void     rl_progress_rate_add      (RlProgressRate *rate,
                                    guint           step,
                                    guint           total,
                                    gint64          time_us);
/* Steps per second over the window; 0 until two steps were seen. */
double   rl_progress_rate_per_second (const RlProgressRate *rate);
/* Seconds until the last step at the current rate; -1 when unknown. */
double   rl_progress_rate_eta_seconds (const RlProgressRate *rate);
/* "2.1 it/s" or, below one step a second, "4.5 s/it"; "" when unknown. */
char    *rl_progress_rate_format_speed (double per_second);
/* "0:32", "12:05", "1:02:03"; "" for negative (unknown). */
char    *rl_progress_rate_format_eta (double seconds);

G_END_DECLS
