#include "app/progress-bar.h"

#include <stdio.h>

#define BAR_WIDTH 24

struct _RlProgressBar {
  GMutex    lock;
  FILE     *out;
  gboolean  is_terminal;
  gboolean  line_open;      /* a redrawn line is on screen without newline */
  char     *node_title;
  guint     step;
  guint     total;
  gint64    first_step_us;  /* when step 1 of the current loop arrived */
  guint     first_step;
};

RlProgressBar *
rl_progress_bar_new (FILE     *out,
                     gboolean  is_terminal)
{
  RlProgressBar *bar = g_new0 (RlProgressBar, 1);

  g_mutex_init (&bar->lock);
  bar->out = out;
  bar->is_terminal = is_terminal;
  return bar;
}

void
rl_progress_bar_free (RlProgressBar *bar)
{
  if (bar == NULL)
    return;
  if (bar->line_open)
    fputc ('\n', bar->out);
  g_mutex_clear (&bar->lock);
  g_free (bar->node_title);
  g_free (bar);
}

char *
rl_format_duration (double seconds)
{
  guint64 s;

  if (seconds < 0 || seconds != seconds)
    seconds = 0;
  s = (guint64) (seconds + 0.5);
  if (s >= 3600)
    return g_strdup_printf ("%" G_GUINT64_FORMAT ":%02u:%02u",
                            s / 3600, (guint) (s / 60 % 60), (guint) (s % 60));
  return g_strdup_printf ("%u:%02u", (guint) (s / 60), (guint) (s % 60));
}

/* Steps per second since the first step of this loop; the first step is
 * excluded because it includes warm-up (model upload, compilation). */
static double
steps_per_second (RlProgressBar *bar)
{
  double elapsed = (g_get_monotonic_time () - bar->first_step_us) / 1e6;

  if (bar->step <= bar->first_step || elapsed <= 0)
    return 0;
  return (bar->step - bar->first_step) / elapsed;
}

static void
end_line (RlProgressBar *bar)
{
  if (bar->line_open)
    {
      fputc ('\n', bar->out);
      bar->line_open = FALSE;
    }
}

static void
draw_steps (RlProgressBar *bar)
{
  double rate = steps_per_second (bar);
  guint filled = bar->total ? (guint) ((guint64) BAR_WIDTH * bar->step / bar->total) : 0;
  char cells[BAR_WIDTH + 1];
  g_autofree char *eta = NULL;

  for (guint i = 0; i < BAR_WIDTH; i++)
    cells[i] = i < filled ? '#' : '.';
  cells[BAR_WIDTH] = '\0';
  eta = rate > 0 ? rl_format_duration ((bar->total - bar->step) / rate) : g_strdup ("-:--");

  if (bar->is_terminal)
    {
      fprintf (bar->out, "\r\033[K[%s] %u/%u  %s  %.2f it/s  ETA %s",
               cells, bar->step, bar->total, bar->node_title ? bar->node_title : "",
               rate, eta);
      bar->line_open = TRUE;
    }
  else
    {
      fprintf (bar->out, "  step %u/%u  %.2f it/s  ETA %s\n",
               bar->step, bar->total, rate, eta);
    }
}

void
rl_progress_bar_update (RlProgressBar *bar,
                        const RlEvent *event)
{
  g_mutex_lock (&bar->lock);
  switch (event->kind)
    {
    case RL_EVENT_NODE_STARTED:
      g_free (bar->node_title);
      bar->node_title = g_strdup (event->node_title ? event->node_title : event->node_type);
      bar->step = bar->total = 0;
      end_line (bar);
      fprintf (bar->out, "node %s %s (%s) running\n", event->node_id,
               bar->node_title, event->node_type);
      break;
    case RL_EVENT_NODE_CACHED:
      end_line (bar);
      fprintf (bar->out, "node %s %s (%s) cached\n", event->node_id,
               event->node_title ? event->node_title : event->node_type, event->node_type);
      break;
    case RL_EVENT_PROGRESS:
      if (event->step <= 1 || event->step < bar->step)
        {
          bar->first_step_us = g_get_monotonic_time ();
          bar->first_step = event->step;
        }
      bar->step = event->step;
      bar->total = event->total;
      draw_steps (bar);
      break;
    case RL_EVENT_NODE_FINISHED:
      end_line (bar);
      break;
    case RL_EVENT_OUTPUT_FILE:
      end_line (bar);
      fprintf (bar->out, "wrote %s\n", event->path);
      break;
    case RL_EVENT_ERROR:
      end_line (bar);
      if (event->error)
        fprintf (bar->out, "error: %s\n", event->error->message);
      break;
    case RL_EVENT_JOB_QUEUED:
    case RL_EVENT_JOB_STARTED:
    case RL_EVENT_PREVIEW:
    case RL_EVENT_JOB_FINISHED:
      break;
    }
  fflush (bar->out);
  g_mutex_unlock (&bar->lock);
}
