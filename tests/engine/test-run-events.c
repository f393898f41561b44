#include "test-run-events.h"

struct _TestEventLog {
  GMutex      lock;
  GCond       added;
  GPtrArray  *entries;      /* char* */
  char       *last_error;
};

TestEventLog *
test_event_log_new (void)
{
  TestEventLog *log = g_new0 (TestEventLog, 1);
  g_mutex_init (&log->lock);
  g_cond_init (&log->added);
  log->entries = g_ptr_array_new_with_free_func (g_free);
  return log;
}

void
test_event_log_free (TestEventLog *log)
{
  g_ptr_array_unref (log->entries);
  g_free (log->last_error);
  g_mutex_clear (&log->lock);
  g_cond_clear (&log->added);
  g_free (log);
}

static char *
describe (const RlEvent *event)
{
  switch (event->kind)
    {
    case RL_EVENT_JOB_QUEUED:
      return g_strdup_printf ("job-queued:%" G_GINT64_FORMAT, event->job_id);
    case RL_EVENT_JOB_STARTED:
      return g_strdup_printf ("job-started:%" G_GINT64_FORMAT, event->job_id);
    case RL_EVENT_JOB_FINISHED:
      return g_strdup_printf ("job-finished:%" G_GINT64_FORMAT ":%s", event->job_id,
                              rl_job_status_to_string (event->status));
    case RL_EVENT_NODE_STARTED:
      return g_strdup_printf ("started:%s", event->node_id);
    case RL_EVENT_NODE_CACHED:
      return g_strdup_printf ("cached:%s", event->node_id);
    case RL_EVENT_NODE_FINISHED:
      return g_strdup_printf ("finished:%s", event->node_id);
    case RL_EVENT_PROGRESS:
      return g_strdup_printf ("progress:%s:%u/%u", event->node_id, event->step, event->total);
    case RL_EVENT_PREVIEW:
      return g_strdup_printf ("preview:%s", event->node_id);
    case RL_EVENT_OUTPUT_FILE:
      return g_strdup_printf ("file:%s", event->node_id);
    case RL_EVENT_ERROR:
      return g_strdup_printf ("error:%s", event->node_id);
    default:
      return g_strdup ("unknown");
    }
}

void
test_event_log_record (const RlEvent *event,
                       gpointer       user_data)
{
  TestEventLog *log = user_data;
  g_assert_cmpfloat (event->elapsed_s, >=, 0.0);
  if (event->kind == RL_EVENT_ERROR)
    g_assert_nonnull (event->error);
  if (event->kind == RL_EVENT_OUTPUT_FILE)
    g_assert_nonnull (event->path);
  if (event->kind == RL_EVENT_PREVIEW)
    g_assert_nonnull (event->preview);
  if (event->kind >= RL_EVENT_NODE_STARTED && event->kind <= RL_EVENT_ERROR)
    {
      g_assert_nonnull (event->node_type);
      g_assert_nonnull (event->node_title);
    }
  g_mutex_lock (&log->lock);
  g_ptr_array_add (log->entries, describe (event));
  if (event->error != NULL)
    {
      g_free (log->last_error);
      log->last_error = g_strdup (event->error->message);
    }
  g_cond_broadcast (&log->added);
  g_mutex_unlock (&log->lock);
}

char *
test_event_log_join (TestEventLog *log,
                     const char   *prefix)
{
  GString *text = g_string_new (NULL);
  g_mutex_lock (&log->lock);
  for (guint i = 0; i < log->entries->len; i++)
    {
      const char *entry = g_ptr_array_index (log->entries, i);
      if (!g_str_has_prefix (entry, prefix))
        continue;
      if (text->len > 0)
        g_string_append_c (text, ' ');
      g_string_append (text, entry);
    }
  g_mutex_unlock (&log->lock);
  return g_string_free (text, FALSE);
}

guint
test_event_log_count (TestEventLog *log,
                      const char   *prefix)
{
  guint n = 0;
  g_mutex_lock (&log->lock);
  for (guint i = 0; i < log->entries->len; i++)
    if (g_str_has_prefix (g_ptr_array_index (log->entries, i), prefix))
      n++;
  g_mutex_unlock (&log->lock);
  return n;
}

gboolean
test_event_log_has (TestEventLog *log,
                    const char   *entry)
{
  gboolean found = FALSE;
  g_mutex_lock (&log->lock);
  for (guint i = 0; i < log->entries->len && !found; i++)
    found = g_strcmp0 (g_ptr_array_index (log->entries, i), entry) == 0;
  g_mutex_unlock (&log->lock);
  return found;
}

gboolean
test_event_log_wait_for (TestEventLog *log,
                         const char   *prefix)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;
  g_mutex_lock (&log->lock);
  gboolean found = FALSE;
  while (!found)
    {
      for (guint i = 0; i < log->entries->len && !found; i++)
        found = g_str_has_prefix (g_ptr_array_index (log->entries, i), prefix);
      if (!found && !g_cond_wait_until (&log->added, &log->lock, deadline))
        break;
    }
  g_mutex_unlock (&log->lock);
  return found;
}

void
test_event_log_clear (TestEventLog *log)
{
  g_mutex_lock (&log->lock);
  g_ptr_array_set_size (log->entries, 0);
  g_clear_pointer (&log->last_error, g_free);
  g_mutex_unlock (&log->lock);
}

char *
test_event_log_last_error (TestEventLog *log)
{
  g_mutex_lock (&log->lock);
  char *message = g_strdup (log->last_error);
  g_mutex_unlock (&log->lock);
  return message;
}
