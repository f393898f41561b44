/* Helper for test-history's kill -9 test: runs a real job queue with
 * history, finishes N jobs, then starts one that blocks (TestBlock prints
 * "ready") and waits to be killed.
 *
 *   run-history-crash-helper DB_PATH N_EARLIER OUTPUT_DIR
 *
 * Exits 2 on a setup failure (message on stderr), 3 if never killed. */
#include <stdio.h>
#include <stdlib.h>

#include "engine/run/executor.h"
#include "engine/run/history.h"
#include "engine/run/queue.h"
#include "test-run-nodes.h"

static RlGraph *
build_graph (const char *block_or_sink,
             gint64      value)
{
  RlGraph *graph = rl_graph_new ();
  test_graph_add_number (graph, "1", value);
  if (g_strcmp0 (block_or_sink, "TestBlock") == 0)
    {
      test_graph_add_linked (graph, "2", "TestBlock", "in", "1");
      test_graph_add_linked (graph, "3", "TestSink", "value", "2");
    }
  else
    test_graph_add_linked (graph, "3", "TestSink", "value", "1");
  return graph;
}

static int
fail (const char *what,
      GError     *error)
{
  fprintf (stderr, "crash helper: %s: %s\n", what, error != NULL ? error->message : "?");
  return 2;
}

int
main (int    argc,
      char **argv)
{
  if (argc != 4)
    {
      fprintf (stderr, "usage: %s DB_PATH N_EARLIER OUTPUT_DIR\n", argv[0]);
      return 2;
    }
  GError *error = NULL;
  RlHistory *history = rl_history_open (argv[1], &error);
  if (history == NULL)
    return fail ("opening history", error);
  RlRegistry *registry = test_run_nodes_registry ();
  RlExecutor *executor = rl_executor_new (registry);
  RlJobQueue *queue = rl_job_queue_new (executor, history);

  int n_earlier = atoi (argv[2]);
  RlJobOptions options = {
    .output_dir = argv[3],
    .parameters_json = "{\"seed\": 42}",
    .device_config_json = "{\"gpus\": 0}",
  };
  for (int i = 0; i < n_earlier; i++)
    {
      /* Each earlier job writes its own value, so none is a cache hit. */
      g_autoptr (RlGraph) graph = build_graph ("TestSink", 1000 + i);
      gint64 id = rl_job_queue_enqueue (queue, graph, &options, RL_JOB_POSITION_BACK, &error);
      if (id == 0)
        return fail ("queueing", error);
      if (rl_job_queue_wait (queue, id, NULL, &error) != RL_JOB_SUCCEEDED)
        return fail ("an earlier job", error);
    }

  /* Paused while both are queued, so the job behind is recorded before
   * "ready" lets the test kill us. */
  rl_job_queue_pause (queue);
  g_autoptr (RlGraph) blocking = build_graph ("TestBlock", 7);
  gint64 id = rl_job_queue_enqueue (queue, blocking, &options, RL_JOB_POSITION_BACK, &error);
  if (id == 0)
    return fail ("queueing the blocking job", error);
  /* A second job waits behind it: history must show it cancelled. */
  g_autoptr (RlGraph) behind = build_graph ("TestSink", 9);
  if (rl_job_queue_enqueue (queue, behind, &options, RL_JOB_POSITION_BACK, &error) == 0)
    return fail ("queueing the job behind", error);
  rl_job_queue_resume (queue);
  /* TestBlock prints "ready" and waits up to 60 s for the kill. */
  rl_job_queue_wait (queue, id, NULL, NULL);
  fprintf (stderr, "crash helper: was not killed\n");
  return 3;
}
