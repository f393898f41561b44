/* RlHistory: bounded undo/redo lists of document snapshots. */
#include "ui/canvas/rl-history.h"

struct _RlHistory
{
  GQueue  undo;          /* owned strings, newest at the head */
  GQueue  redo;          /* owned strings, newest at the head */
  guint   limit;
  char   *last_key;      /* coalescing key of the newest record */
};

RlHistory *
rl_history_new (guint limit)
{
  RlHistory *history = g_new0 (RlHistory, 1);

  g_return_val_if_fail (limit > 0, NULL);
  g_queue_init (&history->undo);
  g_queue_init (&history->redo);
  history->limit = limit;
  return history;
}

void
rl_history_free (RlHistory *history)
{
  if (history == NULL)
    return;
  g_queue_clear_full (&history->undo, g_free);
  g_queue_clear_full (&history->redo, g_free);
  g_free (history->last_key);
  g_free (history);
}

void
rl_history_record (RlHistory  *history,
                   const char *before,
                   const char *coalesce_key)
{
  g_return_if_fail (history != NULL);
  g_return_if_fail (before != NULL);

  if (coalesce_key != NULL && g_strcmp0 (coalesce_key, history->last_key) == 0)
    return;
  g_free (history->last_key);
  history->last_key = g_strdup (coalesce_key);
  g_queue_clear_full (&history->redo, g_free);
  g_queue_push_head (&history->undo, g_strdup (before));
  while (history->undo.length > history->limit)
    g_free (g_queue_pop_tail (&history->undo));
}

char *
rl_history_undo (RlHistory  *history,
                 const char *current)
{
  g_return_val_if_fail (history != NULL, NULL);
  g_return_val_if_fail (current != NULL, NULL);

  if (history->undo.length == 0)
    return NULL;
  g_clear_pointer (&history->last_key, g_free);
  g_queue_push_head (&history->redo, g_strdup (current));
  return g_queue_pop_head (&history->undo);
}

char *
rl_history_redo (RlHistory  *history,
                 const char *current)
{
  g_return_val_if_fail (history != NULL, NULL);
  g_return_val_if_fail (current != NULL, NULL);

  if (history->redo.length == 0)
    return NULL;
  g_clear_pointer (&history->last_key, g_free);
  g_queue_push_head (&history->undo, g_strdup (current));
  return g_queue_pop_head (&history->redo);
}

gboolean
rl_history_can_undo (RlHistory *history)
{
  return history->undo.length > 0;
}

gboolean
rl_history_can_redo (RlHistory *history)
{
  return history->redo.length > 0;
}

guint
rl_history_get_n_undo (RlHistory *history)
{
  return history->undo.length;
}
