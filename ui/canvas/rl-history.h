/* RlHistory: a bounded undo/redo history of document snapshots.
 *
 * The canvas records the whole workflow (as JSON text) before each edit;
 * undo gives back the snapshot to restore and keeps the current one for
 * redo. Snapshots of a few hundred nodes are tens of kilobytes, so a
 * bounded list of whole documents is simpler and safer than inverse
 * operations. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _RlHistory RlHistory;

/* A history keeping at most @limit undo steps (oldest dropped first). */
RlHistory  *rl_history_new        (guint        limit);
void        rl_history_free       (RlHistory   *history);

/* Records @before (the document before an edit; copied) and forgets the
 * redo steps. When @coalesce_key is not NULL and equals the key of the
 * previous record, nothing is recorded: consecutive edits of one control
 * undo together. */
void        rl_history_record     (RlHistory   *history,
                                   const char  *before,
                                   const char  *coalesce_key);
/* The snapshot to restore (owned), with @current kept for redo; NULL when
 * there is nothing to undo. */
char       *rl_history_undo       (RlHistory   *history,
                                   const char  *current);
/* The snapshot to restore (owned), with @current kept for undo; NULL when
 * there is nothing to redo. */
char       *rl_history_redo       (RlHistory   *history,
                                   const char  *current);
gboolean    rl_history_can_undo   (RlHistory   *history);
gboolean    rl_history_can_redo   (RlHistory   *history);
guint       rl_history_get_n_undo (RlHistory   *history);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RlHistory, rl_history_free)

G_END_DECLS
