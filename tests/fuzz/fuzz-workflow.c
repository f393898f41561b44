/* Fuzz target for the workflow and prompt readers (engine/graph): the
 * bytes are read as a UI workflow and as an API prompt; whatever loads is
 * converted, validated, ordered, edited and saved, and a saved document
 * must load back as the same JSON value. Any crash, critical or broken
 * round trip is a bug. */
#include <stdint.h>
#include <stdlib.h>

#include "engine/graph/graph.h"
#include "engine/graph/registry.h"
#include "engine/graph/validate.h"
#include "engine/graph/workflow.h"
#include "test-graph-nodes.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Built once: the registry is read-only afterwards. */
static RlRegistry *
fuzz_registry (void)
{
  static RlRegistry *registry;

  if (registry == NULL)
    registry = graph_test_registry_new ();
  return registry;
}

static void
check_prompt_round_trip (RlGraph *graph)
{
  g_autoptr(JsonNode) saved = rl_graph_to_prompt_json (graph);
  g_autoptr(RlGraph) again = rl_graph_new_from_prompt_json (saved, "fuzz-saved", NULL);
  g_autoptr(JsonNode) saved_again = NULL;

  if (again == NULL)
    abort ();
  saved_again = rl_graph_to_prompt_json (again);
  if (!json_node_equal (saved, saved_again))
    abort ();
}

static void
exercise_graph (RlGraph *graph)
{
  RlRegistry *registry = fuzz_registry ();
  g_autoptr(GPtrArray) issues = rl_graph_validate (graph, registry);
  g_autofree char *report = rl_validation_issues_to_string (issues);
  g_autoptr(JsonNode) report_json = rl_validation_issues_to_json (issues);
  g_autoptr(GPtrArray) order = rl_graph_output_closure (graph, registry, NULL, NULL);

  /* A valid graph always has an order, and the reports are never empty. */
  if (issues->len == 0 && order == NULL)
    abort ();
  if (report[0] == '\0' || json_array_get_length (json_node_get_array (report_json)) != issues->len)
    abort ();
  check_prompt_round_trip (graph);
  if (rl_graph_get_n_nodes (graph) > 0)
    {
      g_autofree char *assignment = g_strdup_printf ("%s.seed=7",
                                                     rl_graph_node_get_id (rl_graph_get_node (graph, 0)));

      rl_graph_apply_override (graph, registry, assignment, NULL);
    }
}

static void
check_workflow_round_trip (RlWorkflow *workflow)
{
  g_autofree char *text = rl_workflow_to_string (workflow, FALSE);
  g_autoptr(RlWorkflow) again = rl_workflow_load_data (text, -1, "fuzz-saved", NULL);

  if (again == NULL || !json_node_equal (rl_workflow_get_root (workflow), rl_workflow_get_root (again)))
    abort ();
}

static void
exercise_editing (RlWorkflow *workflow)
{
  const RlNodeType *sampler = rl_registry_lookup (fuzz_registry (), "KSampler");
  gint64 first, added;

  if (rl_workflow_get_n_nodes (workflow) == 0)
    return;
  first = rl_workflow_get_node_id (workflow, 0);
  added = rl_workflow_add_node (workflow, sampler, 10, 20);
  rl_workflow_add_link (workflow, first, 0, added, 0, NULL);
  rl_workflow_node_set_pos (workflow, first, 1, 2);
  rl_workflow_remove_node (workflow, first);
  check_workflow_round_trip (workflow);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(RlWorkflow) workflow = rl_workflow_load_data ((const char *) data, (gssize) size, "fuzz", NULL);
  g_autoptr(RlGraph) prompt = rl_graph_load_prompt_data ((const char *) data, (gssize) size, "fuzz", NULL);

  if (workflow != NULL)
    {
      g_autoptr(RlGraph) graph = rl_workflow_to_graph (workflow, fuzz_registry (), NULL);

      check_workflow_round_trip (workflow);
      if (graph != NULL)
        exercise_graph (graph);
      exercise_editing (workflow);
    }
  if (prompt != NULL)
    exercise_graph (prompt);
  return 0;
}
