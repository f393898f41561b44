/* RlProgressRate: a sliding window of (step, time) pairs. */
#include "ui/run/rl-progress-rate.h"

#include <math.h>
#include <string.h>

void
rl_progress_rate_reset (RlProgressRate *rate)
{
  *rate = (RlProgressRate) { 0 };
}

void
rl_progress_rate_add (RlProgressRate *rate,
                      guint           step,
                      guint           total,
                      gint64          time_us)
{
  if (rate->n_samples > 0)
    {
      guint last = rate->steps[rate->n_samples - 1];

      if (total != rate->total || step < last)
        rl_progress_rate_reset (rate);
      else if (step == last)
        return;   /* a repeated report (a preview of the same step) says nothing new */
    }
  rate->total = total;
  if (rate->n_samples == RL_PROGRESS_RATE_WINDOW)
    {
      memmove (rate->steps, rate->steps + 1, (RL_PROGRESS_RATE_WINDOW - 1) * sizeof rate->steps[0]);
      memmove (rate->times_us, rate->times_us + 1, (RL_PROGRESS_RATE_WINDOW - 1) * sizeof rate->times_us[0]);
      rate->n_samples--;
    }
  rate->steps[rate->n_samples] = step;
  rate->times_us[rate->n_samples] = time_us;
  rate->n_samples++;
}

double
rl_progress_rate_per_second (const RlProgressRate *rate)
{
  guint first = 0, last = rate->n_samples - 1;
  double seconds;

  if (rate->n_samples < 2)
    return 0;
  seconds = (double) (rate->times_us[last] - rate->times_us[first]) / G_USEC_PER_SEC;
  if (seconds <= 0)
    return 0;
  return (double) (rate->steps[last] - rate->steps[first]) / seconds;
}

double
rl_progress_rate_eta_seconds (const RlProgressRate *rate)
{
  double per_second = rl_progress_rate_per_second (rate);

  if (per_second <= 0 || rate->n_samples == 0)
    return -1;
  return (double) (rate->total - MIN (rate->steps[rate->n_samples - 1], rate->total)) / per_second;
}

char *
rl_progress_rate_format_speed (double per_second)
{
  if (per_second <= 0)
    return g_strdup ("");
  if (per_second < 1)
    return g_strdup_printf ("%.1f s/it", 1 / per_second);
  return g_strdup_printf ("%.1f it/s", per_second);
}

char *
rl_progress_rate_format_eta (double seconds)
{
  guint64 s;

  if (seconds < 0 || !isfinite (seconds))
    return g_strdup ("");
  s = (guint64) llround (seconds);
  if (s >= 3600)
    return g_strdup_printf ("%" G_GUINT64_FORMAT ":%02u:%02u", s / 3600, (guint) (s / 60 % 60), (guint) (s % 60));
  return g_strdup_printf ("%u:%02u", (guint) (s / 60), (guint) (s % 60));
}
