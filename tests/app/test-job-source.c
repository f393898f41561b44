/* rl_job_source_apply_overrides: a "--set NODE.INPUT=VALUE" lands both in
 * the graph that runs and in the embedded UI workflow's widgets_values, in
 * the slot the workflow was read from. */
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "app/job-source.h"
#include "engine/nodes/builtin-nodes.h"

/* A v0.4 document holding one KSampler (id 3) with @widgets_values. */
static char *
write_ksampler_workflow (const char *dir,
                         const char *widgets_values)
{
  char *path = g_build_filename (dir, "ksampler.json", NULL);
  g_autofree char *text = g_strdup_printf (
    "{ \"last_node_id\": 3, \"last_link_id\": 0, \"nodes\": [ { \"id\": 3, \"type\": \"KSampler\", "
    "\"pos\": [0, 0], \"size\": [300, 260], \"flags\": {}, \"order\": 0, \"mode\": 0, "
    "\"inputs\": [], \"outputs\": [], \"properties\": {}, \"widgets_values\": %s } ], "
    "\"links\": [], \"groups\": [], \"config\": {}, \"extra\": {}, \"version\": 0.4 }",
    widgets_values);

  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  return path;
}

/* Loads a KSampler whose widgets_values are @before, applies --set steps
 * and cfg, and checks the workflow's widgets_values read @after (JSON). */
static void
assert_overrides_land (const char *before,
                       const char *after)
{
  g_autofree char *dir = g_dir_make_tmp ("raylight-job-source-XXXXXX", NULL);
  g_autofree char *path = NULL;
  g_autoptr(RlRegistry) registry = rl_registry_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) expected = NULL;
  g_autoptr(JsonNode) actual = NULL;
  char *assignments[] = { "3.steps=30", "3.cfg=6.5", NULL };
  RlJobSource source;
  JsonArray *values;

  g_assert_nonnull (dir);
  g_assert_true (rl_builtin_nodes_register (registry, &error));
  g_assert_no_error (error);
  path = write_ksampler_workflow (dir, before);

  g_assert_true (rl_job_source_load (&source, path, registry, &error));
  g_assert_no_error (error);
  g_assert_nonnull (source.workflow);
  g_assert_true (rl_job_source_apply_overrides (&source, registry, assignments, &error));
  g_assert_no_error (error);

  /* The graph runs the new values... */
  g_assert_cmpint (json_node_get_int (rl_graph_node_get_literal (rl_graph_lookup (source.graph, "3"), "steps")), ==, 30);
  g_assert_cmpfloat (json_node_get_double (rl_graph_node_get_literal (rl_graph_lookup (source.graph, "3"), "cfg")), ==, 6.5);

  /* ...and the workflow that history and outputs embed holds them in
   * their own slots, every other value where it was. */
  values = rl_workflow_node_get_widgets_values (source.workflow, 3);
  g_assert_nonnull (values);
  actual = json_node_init_array (json_node_alloc (), values);
  expected = json_from_string (after, &error);
  g_assert_no_error (error);
  if (!json_node_equal (expected, actual))
    {
      g_autofree char *text = json_to_string (actual, FALSE);

      g_error ("widgets_values %s became %s, expected %s", before, text, after);
    }

  rl_job_source_clear (&source);
  g_assert_cmpint (g_remove (path), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

/* Files from before control_after_generate have no control after the seed:
 * steps is the second value, not the third. */
static void
test_set_without_seed_control (void)
{
  assert_overrides_land ("[42, 20, 8, \"euler\", \"normal\", 1]",
                         "[42, 30, 6.5, \"euler\", \"normal\", 1]");
}

static void
test_set_with_seed_control (void)
{
  assert_overrides_land ("[42, \"fixed\", 20, 8, \"euler\", \"normal\", 1]",
                         "[42, \"fixed\", 30, 6.5, \"euler\", \"normal\", 1]");
  assert_overrides_land ("[42, \"randomize\", 20, 8, \"euler\", \"normal\", 1]",
                         "[42, \"randomize\", 30, 6.5, \"euler\", \"normal\", 1]");
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/job-source/set/without-seed-control", test_set_without_seed_control);
  g_test_add_func ("/job-source/set/with-seed-control", test_set_with_seed_control);
  return g_test_run ();
}
