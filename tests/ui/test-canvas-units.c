/* Unit tests of the canvas's display-free parts: fuzzy matching, the
 * bounded undo history and the ComfyUI clipboard format. */
#include <json-glib/json-glib.h>

#include "engine/graph/graph.h"
#include "engine/graph/registry.h"
#include "engine/graph/workflow.h"
#include "engine/nodes/builtin-nodes.h"
#include "tests/ui/ui-test-util.h"
#include "ui/canvas/rl-clipboard.h"
#include "ui/canvas/rl-fuzzy.h"
#include "ui/canvas/rl-history.h"

static void
test_fuzzy_order (void)
{
  g_assert_cmpint (rl_fuzzy_score ("ksm", "KSampler"), >=, 0);
  g_assert_cmpint (rl_fuzzy_score ("xyz", "KSampler"), ==, -1);
  g_assert_cmpint (rl_fuzzy_score ("", "anything"), ==, 0);
  g_assert_cmpint (rl_fuzzy_score ("a", NULL), ==, -1);
  /* A prefix beats letters scattered through a longer name. */
  g_assert_cmpint (rl_fuzzy_score ("save", "SaveVideo"), >, rl_fuzzy_score ("save", "Some Average Value Entry"));
  /* Word starts count: "cv" finds CreateVideo before a name with c...v inside words. */
  g_assert_cmpint (rl_fuzzy_score ("cv", "CreateVideo"), >, rl_fuzzy_score ("cv", "encoderevent"));
  g_assert_cmpint (rl_fuzzy_score ("TEST pat", "RaylightTestPattern"), >=, 0);
}

static void
test_fuzzy_random_subsequence (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (ui_test_seed ());
  const char *texts[] = { "RaylightTestPattern", "CreateVideo", "EmptyHunyuanLatentVideo", "SaveAnimatedWEBP" };

  for (int i = 0; i < 200; i++)
    {
      const char *text = texts[g_rand_int_range (rand, 0, G_N_ELEMENTS (texts))];
      g_autoptr(GString) query = g_string_new (NULL);

      /* Any subsequence matches; appending a character absent from the
       * text makes it fail. */
      for (const char *c = text; *c != '\0'; c++)
        if (g_rand_boolean (rand))
          g_string_append_c (query, *c);
      g_assert_cmpint (rl_fuzzy_score (query->str, text), >=, 0);
      g_string_append_c (query, '#');
      g_assert_cmpint (rl_fuzzy_score (query->str, text), ==, -1);
    }
}

static void
test_history_bounded (void)
{
  g_autoptr(RlHistory) history = rl_history_new (5);
  g_autoptr(GRand) rand = g_rand_new_with_seed (ui_test_seed ());
  guint n = 5 + g_rand_int_range (rand, 1, 20);
  g_autofree char *state = g_strdup ("s0");

  for (guint i = 1; i <= n; i++)
    {
      rl_history_record (history, state, NULL);
      g_free (state);
      state = g_strdup_printf ("s%u", i);
    }
  g_assert_cmpuint (rl_history_get_n_undo (history), ==, 5);
  for (guint i = 0; i < 5; i++)
    {
      char *previous = rl_history_undo (history, state);
      g_autofree char *expected = g_strdup_printf ("s%u", n - 1 - i);

      g_assert_cmpstr (previous, ==, expected);
      g_free (state);
      state = previous;
    }
  g_assert_null (rl_history_undo (history, state));
  g_assert_true (rl_history_can_redo (history));
  {
    g_autofree char *next = rl_history_redo (history, state);
    g_autofree char *expected = g_strdup_printf ("s%u", n - 4);

    g_assert_cmpstr (next, ==, expected);
  }
  /* A new edit forgets redo. */
  rl_history_record (history, "x", NULL);
  g_assert_false (rl_history_can_redo (history));
}

static void
test_history_coalesce (void)
{
  g_autoptr(RlHistory) history = rl_history_new (10);

  rl_history_record (history, "a", "value:1:0");
  rl_history_record (history, "ab", "value:1:0");
  rl_history_record (history, "abc", "value:1:0");
  g_assert_cmpuint (rl_history_get_n_undo (history), ==, 1);
  rl_history_record (history, "abcd", "value:1:1");
  g_assert_cmpuint (rl_history_get_n_undo (history), ==, 2);
  rl_history_record (history, "abcde", NULL);
  rl_history_record (history, "abcdef", NULL);
  g_assert_cmpuint (rl_history_get_n_undo (history), ==, 4);
}

static void
test_clipboard_round_trip (void)
{
  g_autoptr(RlRegistry) registry = rl_registry_new ();
  g_autofree char *path = g_build_filename (g_getenv ("RAYLIGHT_SOURCE_DIR"), "data", "workflows", "default.json", NULL);
  g_autoptr(RlWorkflow) workflow = rl_workflow_load_file (path, NULL);
  g_autoptr(GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GArray) pasted = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *text = NULL;
  gint64 two = 2, three = 3;
  JsonArray *links;

  g_assert_true (rl_builtin_nodes_register (registry, NULL));
  g_assert_nonnull (workflow);
  g_array_append_val (ids, two);
  g_array_append_val (ids, three);
  text = rl_clipboard_serialize (workflow, ids);
  g_assert_true (json_parser_load_from_data (parser, text, -1, NULL));
  links = json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)), "links");
  /* Only the CreateVideo -> SaveVideo link is inside the copy:
   * [origin index, origin slot, target index, target slot, origin id]. */
  g_assert_cmpuint (json_array_get_length (links), ==, 1);
  g_assert_cmpint (json_array_get_int_element (json_array_get_array_element (links, 0), 0), ==, 0);
  g_assert_cmpint (json_array_get_int_element (json_array_get_array_element (links, 0), 2), ==, 1);
  g_assert_cmpint (json_array_get_int_element (json_array_get_array_element (links, 0), 4), ==, 2);

  pasted = rl_clipboard_paste (workflow, text, 1000, 500, NULL);
  g_assert_nonnull (pasted);
  g_assert_cmpuint (pasted->len, ==, 2);
  g_assert_cmpint (g_array_index (pasted, gint64, 0), ==, 4);
  g_assert_cmpint (g_array_index (pasted, gint64, 1), ==, 5);
  g_assert_cmpuint (rl_workflow_get_n_nodes (workflow), ==, 5);
  g_assert_cmpuint (rl_workflow_get_n_links (workflow), ==, 3);
  {
    double x = 0, y = 0;

    g_assert_true (rl_workflow_node_get_pos (workflow, 4, &x, &y));
    g_assert_cmpfloat (x, ==, 1000);
    g_assert_cmpfloat (y, ==, 500);
  }
  /* The pasted CreateVideo has no images link: that one came from outside. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(RlGraph) graph = rl_workflow_to_graph (workflow, registry, &error);

    g_assert_no_error (error);
  }
  g_assert_null (rl_clipboard_paste (workflow, "{\"nodes\": 3}", 0, 0, NULL));
  g_assert_null (rl_clipboard_paste (workflow, "not json", 0, 0, NULL));
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  ui_test_seed ();
  g_test_add_func ("/ui/fuzzy/order", test_fuzzy_order);
  g_test_add_func ("/ui/fuzzy/random-subsequence", test_fuzzy_random_subsequence);
  g_test_add_func ("/ui/history/bounded", test_history_bounded);
  g_test_add_func ("/ui/history/coalesce", test_history_coalesce);
  g_test_add_func ("/ui/clipboard/round-trip", test_clipboard_round_trip);
  return g_test_run ();
}
