/* RlJobQueue: ordering (back, front, move, cancel), pause, interrupt of
 * the running job, listeners, wait, and recording in history. */
#include <string.h>
#include <glib/gstdio.h>

#include "engine/engine-error.h"
#include "engine/run/executor.h"
#include "engine/run/history.h"
#include "engine/run/queue.h"
#include "test-run-events.h"
#include "test-run-nodes.h"

typedef struct {
  RlRegistry    *registry;
  RlExecutor    *executor;
  RlHistory     *history;      /* NULL unless the test opens one */
  RlJobQueue    *queue;
  TestEventLog  *log;          /* global listener */
  char          *dir;
} Fixture;

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr (GError) error = NULL;
  f->dir = g_dir_make_tmp ("raylight-queue-XXXXXX", &error);
  g_assert_no_error (error);
  f->registry = test_run_nodes_registry ();
  f->executor = rl_executor_new (f->registry);
  if (data != NULL)
    {
      g_autofree char *path = g_build_filename (f->dir, "history.sqlite3", NULL);
      f->history = rl_history_open (path, &error);
      g_assert_no_error (error);
    }
  f->queue = rl_job_queue_new (f->executor, f->history);
  f->log = test_event_log_new ();
  rl_job_queue_add_listener (f->queue, test_event_log_record, f->log);
  test_run_nodes_reset_counts ();
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  rl_job_queue_free (f->queue);
  rl_executor_free (f->executor);
  g_clear_pointer (&f->history, rl_history_close);
  rl_registry_unref (f->registry);
  test_event_log_free (f->log);
  g_autoptr (GDir) listing = g_dir_open (f->dir, 0, NULL);
  const char *name;
  while ((name = g_dir_read_name (listing)) != NULL)
    {
      g_autofree char *path = g_build_filename (f->dir, name, NULL);
      g_remove (path);
    }
  g_rmdir (f->dir);
  g_free (f->dir);
}

/* Number(value) -> Sink, sink node id "s<value>" so every job writes its
 * own file. */
static RlGraph *
build_job_graph (gint64 value)
{
  RlGraph *graph = rl_graph_new ();
  test_graph_add_number (graph, "1", value);
  g_autofree char *sink_id = g_strdup_printf ("s%" G_GINT64_FORMAT, value);
  test_graph_add_linked (graph, sink_id, "TestSink", "value", "1");
  return graph;
}

static RlGraph *
build_slow_job_graph (guint steps)
{
  RlGraph *graph = rl_graph_new ();
  test_graph_add_number (graph, "1", g_test_rand_int_range (1, 1000000));
  RlGraphNode *slow = test_graph_add_linked (graph, "2", "TestSlow", "in", "1");
  rl_graph_node_set_int (slow, "steps", steps);
  test_graph_add_linked (graph, "3", "TestSink", "value", "2");
  return graph;
}

static gint64
enqueue (Fixture       *f,
         RlGraph       *graph,
         RlJobPosition  position)
{
  g_autoptr (GError) error = NULL;
  RlJobOptions options = { .output_dir = f->dir, .parameters_json = "{\"steps\": 3}" };
  gint64 id = rl_job_queue_enqueue (f->queue, graph, &options, position, &error);
  g_assert_no_error (error);
  g_assert_cmpint (id, >, 0);
  return id;
}

static gint64
enqueue_value (Fixture       *f,
               gint64         value,
               RlJobPosition  position)
{
  g_autoptr (RlGraph) graph = build_job_graph (value);
  return enqueue (f, graph, position);
}

static char *
pending_string (RlJobQueue *queue)
{
  g_autoptr (GArray) ids = rl_job_queue_list_pending (queue);
  GString *text = g_string_new (NULL);
  for (guint i = 0; i < ids->len; i++)
    g_string_append_printf (text, "%s%" G_GINT64_FORMAT, i > 0 ? " " : "",
                            g_array_index (ids, gint64, i));
  return g_string_free (text, FALSE);
}

static char *
ids_string (gint64 a, gint64 b, gint64 c)
{
  if (c > 0)
    return g_strdup_printf ("%" G_GINT64_FORMAT " %" G_GINT64_FORMAT " %" G_GINT64_FORMAT, a, b, c);
  if (b > 0)
    return g_strdup_printf ("%" G_GINT64_FORMAT " %" G_GINT64_FORMAT, a, b);
  return g_strdup_printf ("%" G_GINT64_FORMAT, a);
}

static void
wait_succeeded (Fixture *f,
                gint64   id)
{
  g_autoptr (GError) error = NULL;
  RlJobStatus status = rl_job_queue_wait (f->queue, id, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (status, ==, RL_JOB_SUCCEEDED);
}

static void
test_order_back_front_move_cancel (Fixture       *f,
                                   gconstpointer  data)
{
  rl_job_queue_pause (f->queue);
  g_assert_true (rl_job_queue_is_paused (f->queue));
  gint64 base = g_test_rand_int_range (1, 100000) * 10;
  gint64 j1 = enqueue_value (f, base + 1, RL_JOB_POSITION_BACK);
  gint64 j2 = enqueue_value (f, base + 2, RL_JOB_POSITION_BACK);
  gint64 j3 = enqueue_value (f, base + 3, RL_JOB_POSITION_FRONT);
  gint64 j4 = enqueue_value (f, base + 4, RL_JOB_POSITION_BACK);

  g_autofree char *order1 = pending_string (f->queue);
  g_autofree char *first3 = ids_string (j3, j1, j2);
  g_autofree char *expected1 = g_strdup_printf ("%s %" G_GINT64_FORMAT, first3, j4);
  g_assert_cmpstr (order1, ==, expected1);

  g_autoptr (GError) error = NULL;
  g_assert_true (rl_job_queue_move (f->queue, j4, 0, &error));
  g_assert_true (rl_job_queue_move (f->queue, j3, 99, &error));   /* clamped to the end */
  g_assert_no_error (error);
  g_autofree char *order2 = pending_string (f->queue);
  g_autofree char *last3 = ids_string (j1, j2, j3);
  g_autofree char *expected2 = g_strdup_printf ("%" G_GINT64_FORMAT " %s", j4, last3);
  g_assert_cmpstr (order2, ==, expected2);

  g_assert_true (rl_job_queue_cancel (f->queue, j1, &error));
  g_assert_no_error (error);
  RlJobStatus status;
  g_assert_true (rl_job_queue_get_status (f->queue, j1, &status));
  g_assert_cmpint (status, ==, RL_JOB_CANCELLED);
  g_autofree char *cancelled = g_strdup_printf ("job-finished:%" G_GINT64_FORMAT ":cancelled", j1);
  g_assert_true (test_event_log_has (f->log, cancelled));
  /* A cancelled job cannot be cancelled or moved again. */
  g_assert_false (rl_job_queue_cancel (f->queue, j1, &error));
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INVALID_WORKFLOW);
  g_clear_error (&error);
  g_assert_false (rl_job_queue_move (f->queue, j1, 0, &error));
  g_clear_error (&error);
  g_assert_false (rl_job_queue_cancel (f->queue, 987654321, &error));
  g_clear_error (&error);

  /* Nothing ran while paused. */
  g_assert_cmpuint (test_run_nodes_count (TEST_NODE_SINK), ==, 0);
  g_assert_cmpint (rl_job_queue_get_running (f->queue), ==, 0);

  rl_job_queue_resume (f->queue);
  wait_succeeded (f, j3);
  g_autoptr (GError) cancel_error = NULL;
  g_assert_cmpint (rl_job_queue_wait (f->queue, j1, NULL, &cancel_error), ==, RL_JOB_CANCELLED);
  g_assert_error (cancel_error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INTERRUPTED);

  g_autofree char *started = test_event_log_join (f->log, "job-started:");
  g_autofree char *expected_started = g_strdup_printf (
      "job-started:%" G_GINT64_FORMAT " job-started:%" G_GINT64_FORMAT " job-started:%" G_GINT64_FORMAT,
      j4, j2, j3);
  g_assert_cmpstr (started, ==, expected_started);
  g_assert_cmpuint (test_run_nodes_count (TEST_NODE_SINK), ==, 3);
  g_autofree char *pending = pending_string (f->queue);
  g_assert_cmpstr (pending, ==, "");
}

static void
test_events_order_per_job (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr (TestEventLog) own = test_event_log_new ();
  g_autoptr (RlGraph) graph = build_job_graph (g_test_rand_int_range (1, 1000000));
  RlJobOptions options = { .output_dir = f->dir, .listener = test_event_log_record, .listener_data = own };
  g_autoptr (GError) error = NULL;
  gint64 id = rl_job_queue_enqueue (f->queue, graph, &options, RL_JOB_POSITION_BACK, &error);
  g_assert_no_error (error);
  RlRunReport report = { 0 };
  g_assert_cmpint (rl_job_queue_wait (f->queue, id, &report, &error), ==, RL_JOB_SUCCEEDED);
  g_assert_cmpuint (report.output_files->len, ==, 1);
  g_assert_true (g_file_test (g_ptr_array_index (report.output_files, 0), G_FILE_TEST_EXISTS));
  rl_run_report_clear (&report);

  /* The job's own listener and the global one saw the same events. */
  g_autofree char *own_events = test_event_log_join (own, "");
  g_autofree char *global_events = test_event_log_join (f->log, "");
  g_assert_cmpstr (own_events, ==, global_events);
  g_autofree char *jobs = test_event_log_join (own, "job-");
  g_autofree char *expected = g_strdup_printf (
      "job-queued:%" G_GINT64_FORMAT " job-started:%" G_GINT64_FORMAT " job-finished:%" G_GINT64_FORMAT ":succeeded",
      id, id, id);
  g_assert_cmpstr (jobs, ==, expected);

  /* A second job with the same graph only reuses the cache. */
  test_event_log_clear (f->log);
  gint64 again = enqueue (f, graph, RL_JOB_POSITION_BACK);
  wait_succeeded (f, again);
  g_assert_cmpuint (test_event_log_count (f->log, "cached:"), ==, 2);
  g_assert_cmpuint (test_event_log_count (f->log, "started:"), ==, 0);
}

static void
test_interrupt_running (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr (RlGraph) slow = build_slow_job_graph (100000);
  gint64 slow_id = enqueue (f, slow, RL_JOB_POSITION_BACK);
  gint64 next_id = enqueue_value (f, g_test_rand_int_range (1, 1000000), RL_JOB_POSITION_BACK);

  g_assert_true (test_event_log_wait_for (f->log, "progress:2:2/"));
  g_assert_cmpint (rl_job_queue_get_running (f->queue), ==, slow_id);
  g_autoptr (GError) error = NULL;
  /* Running jobs are interrupted, not cancelled. */
  g_assert_false (rl_job_queue_cancel (f->queue, slow_id, &error));
  g_assert_nonnull (strstr (error->message, "Interrupt"));
  g_clear_error (&error);
  g_assert_false (rl_job_queue_interrupt (f->queue, next_id));
  g_assert_true (rl_job_queue_interrupt (f->queue, slow_id));

  g_assert_cmpint (rl_job_queue_wait (f->queue, slow_id, NULL, &error), ==, RL_JOB_INTERRUPTED);
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INTERRUPTED);
  g_assert_cmpuint (test_run_nodes_slow_steps (), <, 100000);
  /* The queue goes on with the next job. */
  wait_succeeded (f, next_id);
  g_assert_false (rl_job_queue_interrupt (f->queue, 0));
}

static void
test_listener_removal (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr (TestEventLog) second = test_event_log_new ();
  guint listener = rl_job_queue_add_listener (f->queue, test_event_log_record, second);
  wait_succeeded (f, enqueue_value (f, g_test_rand_int_range (1, 1000000), RL_JOB_POSITION_BACK));
  guint seen = test_event_log_count (second, "");
  g_assert_cmpuint (seen, >, 0);
  rl_job_queue_remove_listener (f->queue, listener);
  wait_succeeded (f, enqueue_value (f, g_test_rand_int_range (1, 1000000), RL_JOB_POSITION_BACK));
  g_assert_cmpuint (test_event_log_count (second, ""), ==, seen);
}

static void
test_unknown_job (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr (GError) error = NULL;
  g_assert_cmpint (rl_job_queue_wait (f->queue, 424242, NULL, &error), ==, RL_JOB_FAILED);
  g_assert_nonnull (error);
  RlJobStatus status;
  g_assert_false (rl_job_queue_get_status (f->queue, 424242, &status));
}

static void
test_free_with_pending_jobs (Fixture       *f,
                             gconstpointer  data)
{
  /* Freeing a queue with a running and waiting jobs neither hangs nor
   * leaks; history shows the waiting ones cancelled. */
  g_autoptr (RlGraph) slow = build_slow_job_graph (100000);
  gint64 slow_id = enqueue (f, slow, RL_JOB_POSITION_BACK);
  gint64 waiting = enqueue_value (f, g_test_rand_int_range (1, 1000000), RL_JOB_POSITION_BACK);
  g_assert_true (test_event_log_wait_for (f->log, "progress:2:1/"));
  g_clear_pointer (&f->queue, rl_job_queue_free);
  f->queue = rl_job_queue_new (f->executor, f->history);

  g_autoptr (GError) error = NULL;
  g_autoptr (RlHistoryJob) slow_job = rl_history_get_job (f->history, slow_id, &error);
  g_assert_no_error (error);
  g_assert_cmpint (slow_job->status, ==, RL_JOB_INTERRUPTED);
  g_autoptr (RlHistoryJob) waiting_job = rl_history_get_job (f->history, waiting, &error);
  g_assert_no_error (error);
  g_assert_cmpint (waiting_job->status, ==, RL_JOB_CANCELLED);
  g_assert_nonnull (waiting_job->error_text);
}

static void
test_history_records_jobs (Fixture       *f,
                           gconstpointer  data)
{
  gint64 value = g_test_rand_int_range (1, 1000000);
  gint64 ok_id = enqueue_value (f, value, RL_JOB_POSITION_BACK);
  wait_succeeded (f, ok_id);

  g_autoptr (RlGraph) failing = rl_graph_new ();
  test_graph_add_number (failing, "1", value);
  test_graph_add_linked (failing, "2", "TestFail", "in", "1");
  test_graph_add_linked (failing, "3", "TestSink", "value", "2");
  gint64 fail_id = enqueue (f, failing, RL_JOB_POSITION_BACK);
  g_autoptr (GError) error = NULL;
  g_assert_cmpint (rl_job_queue_wait (f->queue, fail_id, NULL, &error), ==, RL_JOB_FAILED);
  g_assert_nonnull (error);

  rl_job_queue_pause (f->queue);
  gint64 cancel_id = enqueue_value (f, value + 1, RL_JOB_POSITION_BACK);
  g_assert_true (rl_job_queue_cancel (f->queue, cancel_id, NULL));

  g_autoptr (GError) history_error = NULL;
  g_autoptr (RlHistoryJob) ok_job = rl_history_get_job (f->history, ok_id, &history_error);
  g_assert_no_error (history_error);
  g_assert_cmpint (ok_job->status, ==, RL_JOB_SUCCEEDED);
  g_assert_cmpint (ok_job->started_at, >=, ok_job->created_at);
  g_assert_cmpint (ok_job->finished_at, >=, ok_job->started_at);
  g_assert_cmpstr (ok_job->parameters_json, ==, "{\"steps\": 3}");
  g_assert_nonnull (strstr (ok_job->prompt_json, "TestSink"));
  g_assert_cmpuint (ok_job->outputs->len, ==, 1);
  RlHistoryOutput *output = g_ptr_array_index (ok_job->outputs, 0);
  g_autofree char *expected_name = g_strdup_printf ("sink-s%" G_GINT64_FORMAT ".txt", value);
  g_assert_true (g_str_has_suffix (output->path, expected_name));
  g_assert_cmpstr (output->kind, ==, "file");

  g_autoptr (RlHistoryJob) fail_job = rl_history_get_job (f->history, fail_id, &history_error);
  g_assert_no_error (history_error);
  g_assert_cmpint (fail_job->status, ==, RL_JOB_FAILED);
  g_assert_cmpstr (fail_job->error_text, ==, error->message);

  g_autoptr (RlHistoryJob) cancel_job = rl_history_get_job (f->history, cancel_id, &history_error);
  g_assert_no_error (history_error);
  g_assert_cmpint (cancel_job->status, ==, RL_JOB_CANCELLED);
  g_assert_cmpint (cancel_job->started_at, ==, 0);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  static const int with_history = 1;
#define ADD(path, func, data) \
  g_test_add ("/queue/" path, Fixture, data, fixture_set_up, func, fixture_tear_down)
  ADD ("order/back-front-move-cancel", test_order_back_front_move_cancel, NULL);
  ADD ("events/per-job-and-global", test_events_order_per_job, NULL);
  ADD ("events/listener-removal", test_listener_removal, NULL);
  ADD ("interrupt/running-job", test_interrupt_running, NULL);
  ADD ("errors/unknown-job", test_unknown_job, NULL);
  ADD ("history/records-jobs", test_history_records_jobs, &with_history);
  ADD ("history/free-with-pending", test_free_with_pending_jobs, &with_history);
#undef ADD
  return g_test_run ();
}
