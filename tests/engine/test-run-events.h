/* Records executor/queue events as short strings ("started:3",
 * "finished:3", "cached:3", "progress:3:2/10", "preview:3", "file:3",
 * "error:3", "job-queued:7", "job-started:7", "job-finished:7:interrupted")
 * so tests compare sequences. Thread-safe: the queue delivers on its
 * runner thread. */
#pragma once

#include "engine/run/event.h"

G_BEGIN_DECLS

typedef struct _TestEventLog TestEventLog;

TestEventLog *test_event_log_new          (void);
void          test_event_log_free         (TestEventLog        *log);
/* An RlEventFunc; user_data is the log. */
void          test_event_log_record       (const RlEvent       *event,
                                           gpointer             user_data);
/* The entries that start with @prefix ("started:", "" for all), joined
 * with ' '. */
char         *test_event_log_join         (TestEventLog        *log,
                                           const char          *prefix);
guint         test_event_log_count        (TestEventLog        *log,
                                           const char          *prefix);
/* Whether an event with exactly @entry was recorded. */
gboolean      test_event_log_has          (TestEventLog        *log,
                                           const char          *entry);
/* Blocks until an entry starting with @prefix is recorded (at most 10 s;
 * FALSE on timeout). */
gboolean      test_event_log_wait_for     (TestEventLog        *log,
                                           const char          *prefix);
void          test_event_log_clear        (TestEventLog        *log);
/* The message of the last error event, or NULL. */
char         *test_event_log_last_error   (TestEventLog        *log);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TestEventLog, test_event_log_free)

G_END_DECLS
