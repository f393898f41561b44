/* RlJobItem: a job's state for the queue panel. */
#include "ui/run/rl-job-item.h"

#include "ui/run/rl-progress-rate.h"

struct _RlJobItem
{
  GObject         parent_instance;
  gint64          id;
  char           *title;
  char           *workflow_json;
  RlJobStatus     status;
  char           *node_title;
  guint           step;
  guint           total;
  RlProgressRate  rate;
  double          elapsed_s;
  guint           n_previews;
  GPtrArray      *preview;
  GPtrArray      *outputs;
  char           *error;
};

G_DEFINE_FINAL_TYPE (RlJobItem, rl_job_item, G_TYPE_OBJECT)

enum { SIGNAL_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void
changed (RlJobItem *self)
{
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
}

static void
rl_job_item_finalize (GObject *object)
{
  RlJobItem *self = RL_JOB_ITEM (object);

  g_free (self->title);
  g_free (self->workflow_json);
  g_free (self->node_title);
  g_clear_pointer (&self->preview, g_ptr_array_unref);
  g_ptr_array_unref (self->outputs);
  g_free (self->error);
  G_OBJECT_CLASS (rl_job_item_parent_class)->finalize (object);
}

static void
rl_job_item_class_init (RlJobItemClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = rl_job_item_finalize;
  signals[SIGNAL_CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
rl_job_item_init (RlJobItem *self)
{
  self->outputs = g_ptr_array_new_with_free_func (g_free);
  self->status = RL_JOB_QUEUED;
}

RlJobItem *
rl_job_item_new (gint64      id,
                 const char *title,
                 const char *workflow_json)
{
  RlJobItem *self = g_object_new (RL_TYPE_JOB_ITEM, NULL);

  self->id = id;
  self->title = g_strdup (title);
  self->workflow_json = g_strdup (workflow_json);
  return self;
}

gint64       rl_job_item_get_id            (RlJobItem *self) { return self->id; }
const char  *rl_job_item_get_title         (RlJobItem *self) { return self->title; }
const char  *rl_job_item_get_workflow_json (RlJobItem *self) { return self->workflow_json; }
RlJobStatus  rl_job_item_get_status        (RlJobItem *self) { return self->status; }
const char  *rl_job_item_get_node_title    (RlJobItem *self) { return self->node_title; }
double       rl_job_item_get_elapsed       (RlJobItem *self) { return self->elapsed_s; }
guint        rl_job_item_get_n_previews    (RlJobItem *self) { return self->n_previews; }
GPtrArray   *rl_job_item_get_preview       (RlJobItem *self) { return self->preview; }
GPtrArray   *rl_job_item_get_outputs       (RlJobItem *self) { return self->outputs; }
const char  *rl_job_item_get_error         (RlJobItem *self) { return self->error; }

void
rl_job_item_get_step (RlJobItem *self,
                      guint     *step,
                      guint     *total)
{
  *step = self->step;
  *total = self->total;
}

double
rl_job_item_get_fraction (RlJobItem *self)
{
  if (self->status == RL_JOB_SUCCEEDED)
    return 1.0;
  return self->total > 0 ? MIN ((double) self->step / self->total, 1.0) : 0.0;
}

double
rl_job_item_get_speed (RlJobItem *self)
{
  return rl_progress_rate_per_second (&self->rate);
}

double
rl_job_item_get_eta (RlJobItem *self)
{
  return rl_progress_rate_eta_seconds (&self->rate);
}

char *
rl_job_item_describe_progress (RlJobItem *self)
{
  g_autoptr(GString) text = g_string_new (NULL);

  switch (self->status)
    {
    case RL_JOB_QUEUED:
      g_string_append (text, "Queued");
      break;
    case RL_JOB_RUNNING:
      if (self->total > 0)
        g_string_append_printf (text, "%u/%u", self->step, self->total);
      else
        g_string_append (text, "Starting");
      if (self->node_title != NULL)
        g_string_append_printf (text, " · %s", self->node_title);
      if (self->total > 0)
        {
          g_autofree char *speed = rl_progress_rate_format_speed (rl_job_item_get_speed (self));
          g_autofree char *eta = rl_progress_rate_format_eta (rl_job_item_get_eta (self));

          if (*speed != '\0')
            g_string_append_printf (text, " · %s", speed);
          if (*eta != '\0')
            g_string_append_printf (text, " · %s left", eta);
        }
      break;
    case RL_JOB_SUCCEEDED:
      {
        g_autofree char *took = rl_progress_rate_format_eta (self->elapsed_s);

        g_string_append_printf (text, "Done in %s", took);
      }
      break;
    case RL_JOB_FAILED:
      g_string_append_printf (text, "Failed: %s", self->error != NULL ? self->error : "unknown error");
      break;
    case RL_JOB_INTERRUPTED:
      g_string_append (text, "Interrupted");
      break;
    case RL_JOB_CANCELLED:
      g_string_append (text, "Cancelled");
      break;
    }
  return g_string_free (g_steal_pointer (&text), FALSE);
}

void
rl_job_item_set_status (RlJobItem   *self,
                        RlJobStatus  status,
                        double       elapsed_s)
{
  self->status = status;
  self->elapsed_s = elapsed_s;
  changed (self);
}

void
rl_job_item_set_node (RlJobItem  *self,
                      const char *node_title)
{
  g_free (self->node_title);
  self->node_title = g_strdup (node_title);
  /* A new node counts its own steps. */
  self->step = self->total = 0;
  rl_progress_rate_reset (&self->rate);
  changed (self);
}

void
rl_job_item_set_progress (RlJobItem *self,
                          guint      step,
                          guint      total,
                          gint64     time_us)
{
  self->step = step;
  self->total = total;
  rl_progress_rate_add (&self->rate, step, total, time_us);
  changed (self);
}

void
rl_job_item_set_preview (RlJobItem *self,
                         GPtrArray *frames)
{
  g_clear_pointer (&self->preview, g_ptr_array_unref);
  self->preview = frames;
  self->n_previews++;
  changed (self);
}

void
rl_job_item_add_output (RlJobItem  *self,
                        const char *path)
{
  g_ptr_array_add (self->outputs, g_strdup (path));
  changed (self);
}

void
rl_job_item_set_error (RlJobItem  *self,
                       const char *message)
{
  g_free (self->error);
  self->error = g_strdup (message);
  changed (self);
}
