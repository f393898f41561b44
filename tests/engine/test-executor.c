/* RlExecutor: run order, values through links and widgets, cache hits and
 * invalidation, interrupts, failures and events. */
#include <string.h>
#include <glib/gstdio.h>

#include "engine/engine-error.h"
#include "engine/run/executor.h"
#include "test-run-events.h"
#include "test-run-nodes.h"

typedef struct {
  RlRegistry    *registry;
  RlExecutor    *executor;
  TestEventLog  *log;
  char          *output_dir;
  RlRunOptions   options;
} Fixture;

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  f->registry = test_run_nodes_registry ();
  f->executor = rl_executor_new (f->registry);
  f->log = test_event_log_new ();
  g_autoptr (GError) error = NULL;
  f->output_dir = g_dir_make_tmp ("raylight-executor-XXXXXX", &error);
  g_assert_no_error (error);
  f->options = (RlRunOptions) {
    .job_id = g_test_rand_int_range (1, 1000000),
    .output_dir = f->output_dir,
    .listener = test_event_log_record,
    .listener_data = f->log,
  };
  test_run_nodes_reset_counts ();
}

static void
remove_tree (const char *dir)
{
  g_autoptr (GDir) listing = g_dir_open (dir, 0, NULL);
  const char *name;
  while (listing != NULL && (name = g_dir_read_name (listing)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_remove (path);
    }
  g_rmdir (dir);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  rl_executor_free (f->executor);
  rl_registry_unref (f->registry);
  test_event_log_free (f->log);
  remove_tree (f->output_dir);
  g_free (f->output_dir);
}

/* Runs and expects success; returns the report's counts. */
static void
run_ok (Fixture     *f,
        RlGraph     *graph,
        RlRunReport *report)
{
  g_autoptr (GError) error = NULL;
  test_event_log_clear (f->log);
  gboolean ok = rl_executor_run (f->executor, graph, &f->options, report, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  g_assert_cmpint (report->status, ==, RL_JOB_SUCCEEDED);
}

static gint64
random_value (void)
{
  return g_test_rand_int_range (-100000, 100000);
}

/* 1 Number(x) -> 3 Add(b=y) -> 4 Sink ; 2 Number(z) -> 5 Sink */
static RlGraph *
build_two_chains (gint64 x,
                  gint64 y,
                  gint64 z)
{
  RlGraph *graph = rl_graph_new ();
  test_graph_add_number (graph, "1", x);
  test_graph_add_number (graph, "2", z);
  RlGraphNode *add = test_graph_add_linked (graph, "3", "TestAdd", "a", "1");
  rl_graph_node_set_int (add, "b", y);
  test_graph_add_linked (graph, "4", "TestSink", "value", "3");
  test_graph_add_linked (graph, "5", "TestSink", "value", "2");
  return graph;
}

static void
test_order_favours_outputs (Fixture       *f,
                            gconstpointer  data)
{
  gint64 x = random_value (), y = random_value (), z = random_value ();
  g_autoptr (RlGraph) graph = build_two_chains (x, y, z);
  RlRunReport report = { 0 };
  run_ok (f, graph, &report);

  /* Node 4's chain finishes before node 2 (needed only by 5) starts. */
  g_autofree char *started = test_event_log_join (f->log, "started:");
  g_assert_cmpstr (started, ==, "started:1 started:3 started:4 started:2 started:5");
  g_autofree char *all = test_event_log_join (f->log, "");
  g_assert_true (g_str_has_prefix (all, "job-started:"));
  g_assert_true (g_str_has_suffix (all, ":succeeded"));

  g_assert_cmpint (test_read_sink_file (f->output_dir, "4"), ==, x + y);
  g_assert_cmpint (test_read_sink_file (f->output_dir, "5"), ==, z);
  g_assert_cmpuint (report.n_executed, ==, 5);
  g_assert_cmpuint (report.n_cached, ==, 0);
  g_assert_cmpuint (report.output_files->len, ==, 2);
  g_assert_cmpuint (test_event_log_count (f->log, "file:"), ==, 2);
  rl_run_report_clear (&report);
}

static void
test_unconnected_nodes_skipped (Fixture       *f,
                                gconstpointer  data)
{
  g_autoptr (RlGraph) graph = build_two_chains (random_value (), random_value (), random_value ());
  /* A failing node that no output needs must not run. */
  test_graph_add_linked (graph, "9", "TestFail", "in", "1");
  RlRunReport report = { 0 };
  run_ok (f, graph, &report);
  g_assert_cmpuint (test_run_nodes_count (TEST_NODE_FAIL), ==, 0);
  g_assert_cmpuint (report.n_executed, ==, 5);
  rl_run_report_clear (&report);
}

static void
test_widget_values_converted (Fixture       *f,
                              gconstpointer  data)
{
  gint64 a = g_test_rand_int_range (1, 1000);
  g_autoptr (RlGraph) graph = rl_graph_new ();
  test_graph_add_number (graph, "1", a);
  RlGraphNode *mix = test_graph_add_linked (graph, "2", "TestMix", "a", "1");
  /* An integer literal for a FLOAT widget is a number all the same. */
  rl_graph_node_set_int (mix, "scale", 2);
  rl_graph_node_set_boolean (mix, "negate", TRUE);
  rl_graph_node_set_string (mix, "mode", "product");
  test_graph_add_linked (graph, "3", "TestSink", "value", "2");

  RlRunReport report = { 0 };
  run_ok (f, graph, &report);
  /* offset and label absent: their defaults 7 and "none" (length 4). */
  g_assert_cmpint (test_run_nodes_last_sink (), ==, -(a * 2 * 7) + 4);
  rl_run_report_clear (&report);

  rl_graph_node_set_float (mix, "scale", 0.5);
  rl_graph_node_set_boolean (mix, "negate", FALSE);
  rl_graph_node_set_string (mix, "mode", "sum");
  rl_graph_node_set_int (mix, "offset", -3);
  rl_graph_node_set_string (mix, "label", "abc");
  run_ok (f, graph, &report);
  g_assert_cmpint (test_run_nodes_last_sink (), ==, (gint64) (a * 0.5) - 3 + 3);
  rl_run_report_clear (&report);
}

static void
test_cache_second_run (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr (RlGraph) graph = build_two_chains (random_value (), random_value (), random_value ());
  RlRunReport report = { 0 };
  run_ok (f, graph, &report);
  rl_run_report_clear (&report);
  test_run_nodes_reset_counts ();

  run_ok (f, graph, &report);
  g_assert_cmpuint (report.n_executed, ==, 0);
  g_assert_cmpuint (report.n_cached, ==, 5);
  g_assert_cmpuint (test_run_nodes_count (TEST_NODE_NUMBER), ==, 0);
  g_assert_cmpuint (test_run_nodes_count (TEST_NODE_SINK), ==, 0);
  g_autofree char *cached = test_event_log_join (f->log, "cached:");
  g_assert_cmpstr (cached, ==, "cached:1 cached:3 cached:4 cached:2 cached:5");
  /* Cached output nodes still report their files for this job. */
  g_assert_cmpuint (report.output_files->len, ==, 2);
  g_assert_cmpuint (rl_executor_get_cache_size (f->executor), ==, 5);
  rl_run_report_clear (&report);
}

static void
test_cache_invalidation (Fixture       *f,
                         gconstpointer  data)
{
  gint64 x = random_value (), y = random_value (), z = random_value ();
  g_autoptr (RlGraph) graph = build_two_chains (x, y, z);
  RlRunReport report = { 0 };
  run_ok (f, graph, &report);
  rl_run_report_clear (&report);

  /* A literal upstream changes: its chain re-runs, the other is reused. */
  gint64 x2 = x + g_test_rand_int_range (1, 1000);
  rl_graph_node_set_int (rl_graph_lookup (graph, "1"), "value", x2);
  run_ok (f, graph, &report);
  g_autofree char *started = test_event_log_join (f->log, "started:");
  g_assert_cmpstr (started, ==, "started:1 started:3 started:4");
  g_autofree char *cached = test_event_log_join (f->log, "cached:");
  g_assert_cmpstr (cached, ==, "cached:2 cached:5");
  g_assert_cmpint (test_read_sink_file (f->output_dir, "4"), ==, x2 + y);
  rl_run_report_clear (&report);

  /* A literal in the middle: only it and what follows. */
  gint64 y2 = y - g_test_rand_int_range (1, 1000);
  rl_graph_node_set_int (rl_graph_lookup (graph, "3"), "b", y2);
  run_ok (f, graph, &report);
  g_autofree char *started2 = test_event_log_join (f->log, "started:");
  g_assert_cmpstr (started2, ==, "started:3 started:4");
  g_assert_cmpint (test_read_sink_file (f->output_dir, "4"), ==, x2 + y2);
  rl_run_report_clear (&report);

  /* Back to the first values: the older entries are still cached. */
  rl_graph_node_set_int (rl_graph_lookup (graph, "1"), "value", x);
  rl_graph_node_set_int (rl_graph_lookup (graph, "3"), "b", y);
  run_ok (f, graph, &report);
  g_assert_cmpuint (report.n_executed, ==, 0);
  rl_run_report_clear (&report);
}

static void
test_cache_ignores_titles_and_order (Fixture       *f,
                                     gconstpointer  data)
{
  gint64 x = random_value (), y = random_value ();
  g_autoptr (RlGraph) graph = build_two_chains (x, y, random_value ());
  RlRunReport report = { 0 };
  run_ok (f, graph, &report);
  rl_run_report_clear (&report);

  rl_graph_node_set_title (rl_graph_lookup (graph, "1"), "Renamed source");
  rl_graph_node_set_title (rl_graph_lookup (graph, "4"), "Renamed sink");
  /* Inputs re-added in another order, and 5.0 written for the integer y. */
  RlGraphNode *add = rl_graph_lookup (graph, "3");
  rl_graph_node_remove_input (add, "a");
  rl_graph_node_remove_input (add, "b");
  rl_graph_node_set_float (add, "b", (double) y);
  rl_graph_node_set_link (add, "a", "1", 0);
  run_ok (f, graph, &report);
  g_assert_cmpuint (report.n_executed, ==, 0);
  g_assert_cmpuint (report.n_cached, ==, 5);
  rl_run_report_clear (&report);

  /* A copy of the graph is the same work. */
  g_autoptr (RlGraph) copy = rl_graph_copy (graph);
  run_ok (f, copy, &report);
  g_assert_cmpuint (report.n_executed, ==, 0);
  rl_run_report_clear (&report);
}

static void
test_cache_output_dir_in_key (Fixture       *f,
                              gconstpointer  data)
{
  g_autoptr (RlGraph) graph = build_two_chains (random_value (), random_value (), random_value ());
  RlRunReport report = { 0 };
  run_ok (f, graph, &report);
  rl_run_report_clear (&report);

  /* Output nodes write again when the output folder changes. */
  g_autofree char *other_dir = g_build_filename (f->output_dir, "other", NULL);
  g_assert_cmpint (g_mkdir (other_dir, 0700), ==, 0);
  f->options.output_dir = other_dir;
  run_ok (f, graph, &report);
  g_autofree char *started = test_event_log_join (f->log, "started:");
  g_assert_cmpstr (started, ==, "started:4 started:5");
  g_assert_cmpint (test_read_sink_file (other_dir, "5"), !=, G_MININT64);
  rl_run_report_clear (&report);
  remove_tree (other_dir);
}

static void
test_not_idempotent_always_runs (Fixture       *f,
                                 gconstpointer  data)
{
  g_autoptr (RlGraph) graph = rl_graph_new ();
  rl_graph_add_node (graph, "1", "TestClock");
  RlGraphNode *add = test_graph_add_linked (graph, "2", "TestAdd", "a", "1");
  rl_graph_node_set_int (add, "b", 0);
  test_graph_add_linked (graph, "3", "TestSink", "value", "2");

  RlRunReport report = { 0 };
  run_ok (f, graph, &report);
  gint64 first = test_run_nodes_last_sink ();
  rl_run_report_clear (&report);
  run_ok (f, graph, &report);
  /* The clock and everything after it ran again with the new tick. */
  g_assert_cmpuint (report.n_executed, ==, 3);
  g_assert_cmpint (test_run_nodes_last_sink (), ==, first + 1);
  rl_run_report_clear (&report);
}

static void
test_cache_limit (Fixture       *f,
                  gconstpointer  data)
{
  gint64 x = random_value ();
  g_autoptr (RlGraph) graph = build_two_chains (x, random_value (), random_value ());
  RlRunReport report = { 0 };
  rl_executor_set_cache_limit (f->executor, 0);
  run_ok (f, graph, &report);
  rl_run_report_clear (&report);

  rl_graph_node_set_int (rl_graph_lookup (graph, "1"), "value", x + 1);
  run_ok (f, graph, &report);
  rl_run_report_clear (&report);
  /* Limit 0 keeps only the last run's entries: 5, none older. */
  g_assert_cmpuint (rl_executor_get_cache_size (f->executor), ==, 5);

  rl_graph_node_set_int (rl_graph_lookup (graph, "1"), "value", x);
  run_ok (f, graph, &report);
  g_assert_cmpuint (report.n_executed, ==, 3);
  rl_run_report_clear (&report);

  rl_executor_clear_cache (f->executor);
  g_assert_cmpuint (rl_executor_get_cache_size (f->executor), ==, 0);
  run_ok (f, graph, &report);
  g_assert_cmpuint (report.n_executed, ==, 5);
  rl_run_report_clear (&report);
}

static void
test_node_failure (Fixture       *f,
                   gconstpointer  data)
{
  gint64 x = random_value ();
  g_autoptr (RlGraph) graph = rl_graph_new ();
  test_graph_add_number (graph, "1", x);
  RlGraphNode *fail = test_graph_add_linked (graph, "7", "TestFail", "in", "1");
  rl_graph_node_set_title (fail, "Breaker");
  test_graph_add_linked (graph, "8", "TestSink", "value", "7");

  g_autoptr (GError) error = NULL;
  RlRunReport report = { 0 };
  g_assert_false (rl_executor_run (f->executor, graph, &f->options, &report, &error));
  /* The node's own engine code is kept; the message names the node. */
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_IO);
  g_autofree char *expected = g_strdup_printf ("deliberate failure with input %" G_GINT64_FORMAT, x);
  g_assert_nonnull (strstr (error->message, "Node 7"));
  g_assert_nonnull (strstr (error->message, "Breaker"));
  g_assert_nonnull (strstr (error->message, "TestFail"));
  g_assert_nonnull (strstr (error->message, expected));
  g_assert_cmpint (report.status, ==, RL_JOB_FAILED);
  g_assert_true (test_event_log_has (f->log, "error:7"));
  g_autofree char *last = test_event_log_last_error (f->log);
  g_assert_cmpstr (last, ==, error->message);
  g_autofree char *all = test_event_log_join (f->log, "job-finished:");
  g_assert_true (g_str_has_suffix (all, ":failed"));
  g_assert_cmpuint (test_run_nodes_count (TEST_NODE_SINK), ==, 0);
  rl_run_report_clear (&report);

  /* Nodes that succeeded before the failure are reused next time. */
  g_clear_error (&error);
  test_event_log_clear (f->log);
  g_assert_false (rl_executor_run (f->executor, graph, &f->options, &report, &error));
  g_assert_true (test_event_log_has (f->log, "cached:1"));
  rl_run_report_clear (&report);
}

/* Interrupts when node 3 finishes (a node boundary). */
static void
interrupt_after_node_3 (const RlEvent *event,
                        gpointer       user_data)
{
  Fixture *f = user_data;
  test_event_log_record (event, f->log);
  if (event->kind == RL_EVENT_NODE_FINISHED && g_strcmp0 (event->node_id, "3") == 0)
    rl_executor_interrupt (f->executor);
}

static void
test_interrupt_at_node_boundary (Fixture       *f,
                                 gconstpointer  data)
{
  g_autoptr (RlGraph) graph = build_two_chains (random_value (), random_value (), random_value ());
  f->options.listener = interrupt_after_node_3;
  f->options.listener_data = f;

  g_autoptr (GError) error = NULL;
  RlRunReport report = { 0 };
  g_assert_false (rl_executor_run (f->executor, graph, &f->options, &report, &error));
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INTERRUPTED);
  g_assert_nonnull (strstr (error->message, "node 4"));
  g_assert_cmpint (report.status, ==, RL_JOB_INTERRUPTED);
  g_autofree char *started = test_event_log_join (f->log, "started:");
  g_assert_cmpstr (started, ==, "started:1 started:3");
  g_autofree char *finished = test_event_log_join (f->log, "job-finished:");
  g_assert_true (g_str_has_suffix (finished, ":interrupted"));
  rl_run_report_clear (&report);

  /* The next run is not interrupted and reuses what ran. */
  f->options.listener = test_event_log_record;
  f->options.listener_data = f->log;
  run_ok (f, graph, &report);
  g_assert_cmpuint (report.n_cached, ==, 2);
  g_assert_cmpuint (report.n_executed, ==, 3);
  rl_run_report_clear (&report);
}

static void
interrupt_at_step (const RlEvent *event,
                   gpointer       user_data)
{
  Fixture *f = user_data;
  test_event_log_record (event, f->log);
  if (event->kind == RL_EVENT_PROGRESS && event->step == GPOINTER_TO_UINT (g_object_get_data (
        G_OBJECT (f->options.cancellable), "stop-at")))
    g_cancellable_cancel (f->options.cancellable);
}

static RlGraph *
build_slow_graph (guint steps)
{
  RlGraph *graph = rl_graph_new ();
  test_graph_add_number (graph, "1", random_value ());
  RlGraphNode *slow = test_graph_add_linked (graph, "2", "TestSlow", "in", "1");
  rl_graph_node_set_int (slow, "steps", steps);
  test_graph_add_linked (graph, "3", "TestSink", "value", "2");
  return graph;
}

static void
test_interrupt_inside_steps (Fixture       *f,
                             gconstpointer  data)
{
  guint steps = g_test_rand_int_range (50, 200);
  guint stop_at = g_test_rand_int_range (5, 40);
  g_autoptr (RlGraph) graph = build_slow_graph (steps);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_object_set_data (G_OBJECT (cancellable), "stop-at", GUINT_TO_POINTER (stop_at));
  f->options.cancellable = cancellable;
  f->options.listener = interrupt_at_step;
  f->options.listener_data = f;

  g_autoptr (GError) error = NULL;
  RlRunReport report = { 0 };
  g_assert_false (rl_executor_run (f->executor, graph, &f->options, &report, &error));
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INTERRUPTED);
  g_assert_nonnull (strstr (error->message, "TestSlow"));
  /* The loop stopped at the next check, not at the end. */
  g_assert_cmpuint (test_run_nodes_slow_steps (), ==, stop_at);
  g_autofree char *expected = g_strdup_printf ("progress:2:%u/%u", stop_at, steps);
  g_assert_true (test_event_log_has (f->log, expected));
  g_assert_cmpuint (test_event_log_count (f->log, "progress:"), ==, stop_at);
  g_assert_cmpuint (test_event_log_count (f->log, "preview:"), ==, stop_at / 4);
  g_assert_cmpuint (test_run_nodes_count (TEST_NODE_SINK), ==, 0);
  g_assert_cmpint (report.status, ==, RL_JOB_INTERRUPTED);
  rl_run_report_clear (&report);
}

typedef struct {
  RlExecutor    *executor;
  TestEventLog  *log;
} InterruptThread;

static gpointer
interrupt_when_progressing (gpointer data)
{
  InterruptThread *it = data;
  g_assert_true (test_event_log_wait_for (it->log, "progress:2:3/"));
  rl_executor_interrupt (it->executor);
  return NULL;
}

static void
test_interrupt_from_other_thread (Fixture       *f,
                                  gconstpointer  data)
{
  g_autoptr (RlGraph) graph = build_slow_graph (100000);   /* ~50 s unless interrupted */
  InterruptThread it = { f->executor, f->log };
  GThread *thread = g_thread_new ("interrupter", interrupt_when_progressing, &it);

  g_autoptr (GError) error = NULL;
  RlRunReport report = { 0 };
  g_assert_false (rl_executor_run (f->executor, graph, &f->options, &report, &error));
  g_thread_join (thread);
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INTERRUPTED);
  g_assert_cmpuint (test_run_nodes_slow_steps (), <, 100000);
  g_assert_cmpint (report.status, ==, RL_JOB_INTERRUPTED);
  rl_run_report_clear (&report);
}

static void
test_bad_graphs (Fixture       *f,
                 gconstpointer  data)
{
  RlRunReport report = { 0 };
  g_autoptr (GError) error = NULL;

  g_autoptr (RlGraph) unknown = rl_graph_new ();
  rl_graph_add_node (unknown, "4", "NoSuchNode");
  g_assert_false (rl_executor_run (f->executor, unknown, &f->options, &report, &error));
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_VALIDATION);
  g_assert_nonnull (strstr (error->message, "NoSuchNode"));
  g_assert_cmpint (report.status, ==, RL_JOB_FAILED);
  rl_run_report_clear (&report);
  g_clear_error (&error);

  g_autoptr (RlGraph) no_outputs = rl_graph_new ();
  test_graph_add_number (no_outputs, "1", random_value ());
  g_assert_false (rl_executor_run (f->executor, no_outputs, &f->options, &report, &error));
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_VALIDATION);
  g_assert_nonnull (strstr (error->message, "no output node"));
  rl_run_report_clear (&report);
  g_clear_error (&error);

  /* An unvalidated graph with a string for an INT widget. */
  g_autoptr (RlGraph) wrong_type = rl_graph_new ();
  RlGraphNode *number = rl_graph_add_node (wrong_type, "1", "TestNumber");
  rl_graph_node_set_string (number, "value", "twelve");
  test_graph_add_linked (wrong_type, "2", "TestSink", "value", "1");
  g_assert_false (rl_executor_run (f->executor, wrong_type, &f->options, &report, &error));
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_VALIDATION);
  g_assert_nonnull (strstr (error->message, "value"));
  g_assert_nonnull (strstr (error->message, "integer"));
  rl_run_report_clear (&report);
  g_clear_error (&error);

  /* A cycle and a dangling link. */
  g_autoptr (RlGraph) cycle = rl_graph_new ();
  RlGraphNode *a = test_graph_add_linked (cycle, "1", "TestAdd", "a", "2");
  rl_graph_node_set_int (a, "b", 1);
  RlGraphNode *b = test_graph_add_linked (cycle, "2", "TestAdd", "a", "1");
  rl_graph_node_set_int (b, "b", 1);
  test_graph_add_linked (cycle, "3", "TestSink", "value", "2");
  g_assert_false (rl_executor_run (f->executor, cycle, &f->options, &report, &error));
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_VALIDATION);
  g_assert_nonnull (strstr (error->message, "cycle"));
  rl_run_report_clear (&report);
  g_clear_error (&error);

  g_autoptr (RlGraph) dangling = rl_graph_new ();
  test_graph_add_linked (dangling, "3", "TestSink", "value", "99");
  g_assert_false (rl_executor_run (f->executor, dangling, &f->options, &report, &error));
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_VALIDATION);
  g_assert_nonnull (strstr (error->message, "99"));
  rl_run_report_clear (&report);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, func) \
  g_test_add ("/executor/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("order/favours-outputs", test_order_favours_outputs);
  ADD ("order/unconnected-skipped", test_unconnected_nodes_skipped);
  ADD ("inputs/widgets-converted", test_widget_values_converted);
  ADD ("cache/second-run", test_cache_second_run);
  ADD ("cache/invalidation", test_cache_invalidation);
  ADD ("cache/titles-and-order-ignored", test_cache_ignores_titles_and_order);
  ADD ("cache/output-dir", test_cache_output_dir_in_key);
  ADD ("cache/not-idempotent", test_not_idempotent_always_runs);
  ADD ("cache/limit", test_cache_limit);
  ADD ("errors/node-failure", test_node_failure);
  ADD ("errors/bad-graphs", test_bad_graphs);
  ADD ("interrupt/node-boundary", test_interrupt_at_node_boundary);
  ADD ("interrupt/inside-steps", test_interrupt_inside_steps);
  ADD ("interrupt/other-thread", test_interrupt_from_other_thread);
#undef ADD
  return g_test_run ();
}
