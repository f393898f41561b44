/* Small node types for the executor, queue and history tests, with counters
 * that show which ran. Values are plain INT values on sockets of type
 * "INT".
 *
 *   TestNumber  value:INT widget                    -> INT
 *   TestAdd     a:INT link, b:INT widget            -> INT (a + b)
 *   TestMix     a:INT link, scale:FLOAT, negate:BOOLEAN, mode:COMBO
 *               (sum|product), optional label:STRING (default "none"),
 *               optional offset:INT (default 7)     -> INT
 *   TestClock   (not idempotent)                    -> INT (run count)
 *   TestSlow    in:INT link, steps:INT widget; loops steps times with
 *               check_interrupt and progress (preview every 4th step)
 *                                                   -> INT (in)
 *   TestFail    in:INT link; always fails           -> INT
 *   TestBlock   in:INT link; prints "ready" on stdout, then waits for an
 *               interrupt (at most 60 s)            -> INT
 *   TestSink    value:INT link (output node); writes "<value>\n" to
 *               OUTPUT_DIR/sink-<node id>.txt and records the file */
#pragma once

#include <glib.h>

#include "engine/graph/graph.h"
#include "engine/graph/registry.h"

G_BEGIN_DECLS

typedef enum {
  TEST_NODE_NUMBER,
  TEST_NODE_ADD,
  TEST_NODE_MIX,
  TEST_NODE_CLOCK,
  TEST_NODE_SLOW,
  TEST_NODE_FAIL,
  TEST_NODE_BLOCK,
  TEST_NODE_SINK,
  TEST_NODE_N_TYPES,
} TestNodeKind;

/* A registry holding every test type. */
RlRegistry *test_run_nodes_registry     (void);
/* How many times each type's execute ran since the last reset. */
guint       test_run_nodes_count        (TestNodeKind  kind);
void        test_run_nodes_reset_counts (void);
/* The value the last TestSink received. */
gint64      test_run_nodes_last_sink    (void);
/* Steps TestSlow completed in its last run. */
guint       test_run_nodes_slow_steps   (void);

/* Adds nodes to @graph (tests build graphs by hand). */
RlGraphNode *test_graph_add_number      (RlGraph     *graph,
                                         const char  *id,
                                         gint64       value);
RlGraphNode *test_graph_add_linked      (RlGraph     *graph,
                                         const char  *id,
                                         const char  *class_type,
                                         const char  *input,
                                         const char  *from_id);

/* Reads OUTPUT_DIR/sink-ID.txt as a number; G_MININT64 when absent. */
gint64      test_read_sink_file         (const char  *output_dir,
                                         const char  *node_id);

G_END_DECLS
