/* RlHistoryItem: one past job as the history browser lists it — the
 * engine's RlHistoryJob, its card summary, and a thumbnail decoded from
 * the first frame of its image or video output on a worker thread. */
#pragma once

#include <gtk/gtk.h>

#include "engine/run/history-summary.h"

G_BEGIN_DECLS

#define RL_TYPE_HISTORY_ITEM (rl_history_item_get_type ())
G_DECLARE_FINAL_TYPE (RlHistoryItem, rl_history_item, RL, HISTORY_ITEM, GObject)

/* Takes ownership of @job. */
RlHistoryItem          *rl_history_item_new            (RlHistoryJob   *job);
const RlHistoryJob     *rl_history_item_get_job        (RlHistoryItem  *self);
const RlHistorySummary *rl_history_item_get_summary    (RlHistoryItem  *self);
gint64                  rl_history_item_get_id         (RlHistoryItem  *self);
/* "#12 · wan2.1_t2v_1.3B" — the card's title. */
const char             *rl_history_item_get_title      (RlHistoryItem  *self);
/* The thumbnail (property "thumbnail"), NULL until loaded or when the job
 * has no picture; loading starts on the first call. */
GdkTexture             *rl_history_item_get_thumbnail  (RlHistoryItem  *self);
/* Why there is no thumbnail ("no image output", "file missing: …"), or
 * NULL while it loads or when there is one. */
const char             *rl_history_item_get_thumbnail_problem (RlHistoryItem *self);

/* The first frame of the image or video at @path as an RGB texture at
 * most @max_size pixels on its longer side (decoded with the engine's
 * media reader). Blocking; NULL with @error. */
GdkTexture             *rl_history_thumbnail_decode    (const char     *path,
                                                        guint           max_size,
                                                        GError        **error);

G_END_DECLS
