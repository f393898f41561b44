/* The raylight CLI end to end: runs real workflows into a temporary folder
 * and checks outputs, exit statuses, history and error messages. */
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <sys/wait.h>

#include "engine/media/metadata-reader.h"
#include "engine/media/video-reader.h"

typedef struct {
  char *dir;        /* temporary folder of this test */
  char *history;    /* history database inside it */
  char *outputs;    /* output folder inside it */
} Fixture;

typedef struct {
  int   status;     /* exit status */
  char *out;
  char *err;
} RunResult;

static const char *
raylight_path (void)
{
  static char *path;

  if (path == NULL)
    path = g_build_filename (g_getenv ("RAYLIGHT_BUILD_DIR"), "app", "raylight", NULL);
  return path;
}

static char *
source_path (const char *relative)
{
  return g_build_filename (g_getenv ("RAYLIGHT_SOURCE_DIR"), relative, NULL);
}

static void
fixture_set_up (Fixture       *fx,
                gconstpointer  data)
{
  fx->dir = g_dir_make_tmp ("raylight-cli-XXXXXX", NULL);
  g_assert_nonnull (fx->dir);
  fx->history = g_build_filename (fx->dir, "history.sqlite3", NULL);
  fx->outputs = g_build_filename (fx->dir, "out", NULL);
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir != NULL)
    while ((name = g_dir_read_name (dir)) != NULL)
      {
        g_autofree char *child = g_build_filename (path, name, NULL);
        remove_tree (child);
      }
  g_remove (path);
}

static void
fixture_tear_down (Fixture       *fx,
                   gconstpointer  data)
{
  remove_tree (fx->dir);
  g_free (fx->dir);
  g_free (fx->history);
  g_free (fx->outputs);
}

static void
run_result_clear (RunResult *r)
{
  g_clear_pointer (&r->out, g_free);
  g_clear_pointer (&r->err, g_free);
}

/* Runs raylight with @args (NULL-terminated) and waits. */
static RunResult
run_cli (const char * const *args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  RunResult r = { 0 };
  int wait_status = 0;

  g_ptr_array_add (argv, (gpointer) raylight_path ());
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                &r.out, &r.err, &wait_status, &error);
  g_assert_no_error (error);
  g_assert_true (WIFEXITED (wait_status));
  r.status = WEXITSTATUS (wait_status);
  if (g_test_verbose ())
    g_printerr ("$ raylight %s ... -> %d\n%s%s", args[0], r.status, r.out, r.err);
  return r;
}

static char *
write_file (Fixture    *fx,
            const char *name,
            const char *contents)
{
  char *path = g_build_filename (fx->dir, name, NULL);

  g_assert_true (g_file_set_contents (path, contents, -1, NULL));
  return path;
}

/* The first line of stdout: `run` prints output paths there. */
static char *
first_line (const char *text)
{
  const char *nl = strchr (text, '\n');

  return nl ? g_strndup (text, nl - text) : g_strdup (text);
}

static void
test_run_default_workflow (Fixture       *fx,
                           gconstpointer  data)
{
  g_autofree char *workflow = source_path ("data/workflows/default.json");
  const char *args[] = { "run", workflow, "--output-dir", fx->outputs,
                         "--history", fx->history, NULL };
  RunResult r = run_cli (args);
  g_autofree char *video_path = first_line (r.out);
  g_autoptr(GError) error = NULL;
  RlVideo *video;
  g_autoptr(RlMediaMetadata) meta = NULL;

  g_assert_cmpint (r.status, ==, 0);
  g_assert_true (g_str_has_suffix (video_path, ".mp4"));
  g_assert_true (g_str_has_prefix (video_path, fx->outputs));

  video = rl_video_read (video_path, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (video->frames->n_frames, ==, 49);
  g_assert_cmpuint (video->frames->width, ==, 512);
  g_assert_cmpuint (video->frames->height, ==, 288);
  rl_video_free (video);

  meta = rl_media_metadata_read (video_path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (meta->workflow_json, "RaylightTestPattern"));
  g_assert_nonnull (strstr (meta->prompt_json, "\"class_type\""));
  run_result_clear (&r);

  /* The video carries its workflow: running the video runs it again. */
  {
    const char *again[] = { "run", video_path, "--output-dir", fx->outputs,
                            "--history", fx->history, NULL };
    RunResult r2 = run_cli (again);
    g_autofree char *second = first_line (r2.out);

    g_assert_cmpint (r2.status, ==, 0);
    g_assert_cmpstr (second, !=, video_path);
    g_assert_true (g_file_test (second, G_FILE_TEST_EXISTS));
    run_result_clear (&r2);
  }

  /* Both jobs are in history, newest first, succeeded, with their output. */
  {
    const char *list[] = { "history", "list", "--json", "--history", fx->history, NULL };
    RunResult r3 = run_cli (list);
    g_autoptr(JsonNode) root = json_from_string (r3.out, &error);
    JsonArray *jobs;
    JsonObject *oldest;

    g_assert_no_error (error);
    g_assert_cmpint (r3.status, ==, 0);
    jobs = json_node_get_array (root);
    g_assert_cmpuint (json_array_get_length (jobs), ==, 2);
    oldest = json_array_get_object_element (jobs, 1);
    g_assert_cmpstr (json_object_get_string_member (oldest, "status"), ==, "succeeded");
    g_assert_cmpstr (json_object_get_string_member (
                       json_array_get_object_element (json_object_get_array_member (oldest, "outputs"), 0),
                       "path"), ==, video_path);
    run_result_clear (&r3);
  }
}

/* ComfyUI's API prompts have no seed controls, and `raylight run` queues
 * once: a seed on "randomize" runs as the file has it, and the file stays
 * as it was. */
static void
test_run_keeps_seed (Fixture       *fx,
                     gconstpointer  data)
{
  g_autofree char *source = source_path ("data/workflows/default.json");
  g_autofree char *text = NULL;
  g_autofree char *workflow = NULL;
  g_autofree char *after = NULL;
  g_autofree char *video_path = NULL;
  g_auto(GStrv) parts = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(RlMediaMetadata) meta = NULL;
  g_autoptr(JsonNode) prompt = NULL;
  g_autoptr(JsonNode) embedded = NULL;
  JsonArray *values;
  RunResult r;

  g_assert_true (g_file_get_contents (source, &text, NULL, NULL));
  parts = g_strsplit (text, "42, \"fixed\"", -1);
  g_assert_cmpuint (g_strv_length (parts), ==, 2);
  g_free (text);
  text = g_strjoinv ("42, \"randomize\"", parts);
  workflow = write_file (fx, "randomize.json", text);
  {
    const char *args[] = { "run", workflow, "--output-dir", fx->outputs, "--history", fx->history,
                           "--set", "1.frames=2", "--set", "1.width=64", "--set", "1.height=48", NULL };

    r = run_cli (args);
  }
  g_assert_cmpint (r.status, ==, 0);
  video_path = first_line (r.out);
  run_result_clear (&r);

  meta = rl_media_metadata_read (video_path, &error);
  g_assert_no_error (error);
  prompt = json_from_string (meta->prompt_json, &error);
  g_assert_no_error (error);
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (json_object_get_object_member (
                     json_node_get_object (prompt), "1"), "inputs"), "seed"), ==, 42);
  embedded = json_from_string (meta->workflow_json, &error);
  g_assert_no_error (error);
  values = json_object_get_array_member (json_array_get_object_element (json_object_get_array_member (
                                           json_node_get_object (embedded), "nodes"), 0), "widgets_values");
  g_assert_cmpint (json_array_get_int_element (values, 4), ==, 42);
  g_assert_cmpstr (json_array_get_string_element (values, 5), ==, "randomize");
  g_assert_true (g_file_get_contents (workflow, &after, NULL, NULL));
  g_assert_cmpstr (after, ==, text);
}

static void
test_run_set_override (Fixture       *fx,
                       gconstpointer  data)
{
  g_autofree char *workflow = source_path ("data/workflows/default.json");
  const char *args[] = { "run", workflow, "--output-dir", fx->outputs, "--history", fx->history,
                         "--set", "Test pattern.frames=9", "--set", "2.fps=8.5",
                         "--set", "1.width=64", "--set", "1.height=48", NULL };
  RunResult r = run_cli (args);
  g_autofree char *video_path = first_line (r.out);
  g_autoptr(GError) error = NULL;
  RlVideo *video;

  g_assert_cmpint (r.status, ==, 0);
  video = rl_video_read (video_path, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (video->frames->n_frames, ==, 9);
  g_assert_cmpuint (video->frames->width, ==, 64);
  rl_video_free (video);
  run_result_clear (&r);

  /* What history keeps for "Open workflow" is what ran, overrides included. */
  {
    const char *show[] = { "history", "show", "1", "--workflow", "--history", fx->history, NULL };
    RunResult r2 = run_cli (show);
    g_autoptr(JsonNode) root = json_from_string (r2.out, &error);
    JsonArray *nodes;

    g_assert_no_error (error);
    nodes = json_object_get_array_member (json_node_get_object (root), "nodes");
    for (guint i = 0; i < json_array_get_length (nodes); i++)
      {
        JsonObject *node = json_array_get_object_element (nodes, i);
        JsonArray *widgets = json_object_get_array_member (node, "widgets_values");
        if (json_object_get_int_member (node, "id") == 1)
          g_assert_cmpint (json_array_get_int_element (widgets, 2), ==, 9);
        if (json_object_get_int_member (node, "id") == 2)
          g_assert_cmpfloat (json_array_get_double_element (widgets, 0), ==, 8.5);
      }
    run_result_clear (&r2);
  }
}

/* Every way a workflow can be unusable: exit 2, a message naming the
 * problem, and nothing written. */
static void
expect_invalid (Fixture    *fx,
                const char *name,
                const char *contents,
                const char *expected_message)
{
  g_autofree char *path = write_file (fx, name, contents);
  const char *args[] = { "run", path, "--output-dir", fx->outputs, "--history", fx->history, NULL };
  RunResult r = run_cli (args);

  g_assert_cmpint (r.status, ==, 2);
  if (strstr (r.err, expected_message) == NULL)
    g_error ("%s: expected '%s' in: %s", name, expected_message, r.err);
  g_assert_false (g_file_test (fx->outputs, G_FILE_TEST_EXISTS));
  run_result_clear (&r);
}

#define PATTERN_NODE(id, frames) \
  "\"" #id "\": {\"class_type\": \"RaylightTestPattern\", \"inputs\": {\"width\": 64, " \
  "\"height\": 48, \"frames\": " frames ", \"pattern\": \"bars\", \"seed\": 1}}"

static void
test_errors_invalid_workflows (Fixture       *fx,
                               gconstpointer  data)
{
  expect_invalid (fx, "malformed.json", "{ \"nodes\": [ { \"id\": 1, ", "malformed.json");
  expect_invalid (fx, "empty.json", "", "empty.json");
  expect_invalid (fx, "unknown.json",
                  "{\"5\": {\"class_type\": \"FancyUpscaler\", \"inputs\": {}}, "
                  "\"6\": {\"class_type\": \"SaveImage\", \"inputs\": {\"images\": [\"5\", 0], "
                  "\"filename_prefix\": \"x\"}}}",
                  "FancyUpscaler");
  expect_invalid (fx, "too-small.json",
                  "{" PATTERN_NODE (1, "0") ", \"2\": {\"class_type\": \"SaveImage\", "
                  "\"inputs\": {\"images\": [\"1\", 0], \"filename_prefix\": \"x\"}}}",
                  "value_smaller_than_min");
  expect_invalid (fx, "huge.json",
                  "{" PATTERN_NODE (1, "1e300") ", \"2\": {\"class_type\": \"SaveImage\", "
                  "\"inputs\": {\"images\": [\"1\", 0], \"filename_prefix\": \"x\"}}}",
                  "frames");
  expect_invalid (fx, "wrong-type.json",
                  "{" PATTERN_NODE (1, "\"many\"") ", \"2\": {\"class_type\": \"SaveImage\", "
                  "\"inputs\": {\"images\": [\"1\", 0], \"filename_prefix\": \"x\"}}}",
                  "frames");
  expect_invalid (fx, "cycle.json",
                  "{\"1\": {\"class_type\": \"CreateVideo\", \"inputs\": {\"images\": [\"2\", 0], \"fps\": 8}},"
                  " \"2\": {\"class_type\": \"GetVideoComponents\", \"inputs\": {\"video\": [\"1\", 0]}},"
                  " \"3\": {\"class_type\": \"SaveVideo\", \"inputs\": {\"video\": [\"1\", 0], "
                  "\"filename_prefix\": \"x\", \"format\": \"mp4\", \"codec\": \"h264\"}}}",
                  "dependency_cycle");
  expect_invalid (fx, "no-outputs.json", "{" PATTERN_NODE (1, "3") "}", "prompt_no_outputs");
  expect_invalid (fx, "bad-combo.json",
                  "{\"1\": {\"class_type\": \"RaylightTestPattern\", \"inputs\": {\"width\": 64, "
                  "\"height\": 48, \"frames\": 2, \"pattern\": \"plaid\", \"seed\": 1}}, "
                  "\"2\": {\"class_type\": \"SaveImage\", \"inputs\": {\"images\": [\"1\", 0], "
                  "\"filename_prefix\": \"x\"}}}",
                  "value_not_in_list");
}

static void
test_errors_missing_file (Fixture       *fx,
                          gconstpointer  data)
{
  const char *args[] = { "run", "/nonexistent/workflow.json", "--history", fx->history, NULL };
  RunResult r = run_cli (args);

  g_assert_cmpint (r.status, !=, 0);
  g_assert_nonnull (strstr (r.err, "/nonexistent/workflow.json"));
  run_result_clear (&r);
}

static void
test_errors_unwritable_output (Fixture       *fx,
                               gconstpointer  data)
{
  g_autofree char *workflow = source_path ("data/workflows/default.json");
  /* A path below a regular file cannot be created, even by root. */
  g_autofree char *blocker = write_file (fx, "not-a-folder", "x");
  g_autofree char *bad_dir = g_build_filename (blocker, "outputs", NULL);
  const char *args[] = { "run", workflow, "--output-dir", bad_dir, "--history", fx->history, NULL };
  RunResult r = run_cli (args);

  g_assert_cmpint (r.status, ==, 3);
  g_assert_nonnull (strstr (r.err, bad_dir));
  g_assert_nonnull (strstr (r.err, "--output-dir"));
  run_result_clear (&r);
}

static void
test_errors_corrupt_history (Fixture       *fx,
                             gconstpointer  data)
{
  g_autofree char *workflow = source_path ("data/workflows/default.json");
  const char *garbage = "this is not an SQLite database, but it is the user's file";
  g_autofree char *history = write_file (fx, "corrupt.sqlite3", garbage);
  g_autofree char *after = NULL;
  const char *args[] = { "run", workflow, "--output-dir", fx->outputs, "--history", history, NULL };
  RunResult r = run_cli (args);

  g_assert_cmpint (r.status, ==, 3);
  g_assert_nonnull (strstr (r.err, history));
  /* Never recreated over the user's data. */
  g_assert_true (g_file_get_contents (history, &after, NULL, NULL));
  g_assert_cmpstr (after, ==, garbage);
  run_result_clear (&r);
}

/* Ctrl-C while a job runs: exit 130, the job is recorded as interrupted,
 * and the next job runs normally. */
static void
test_interrupt (Fixture       *fx,
                gconstpointer  data)
{
  g_autofree char *workflow = source_path ("data/workflows/default.json");
  const char *argv[] = { raylight_path (), "run", workflow, "--json", "--output-dir", fx->outputs,
                         "--history", fx->history, "--set", "1.frames=240", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GIOChannel) out = NULL;
  GPid pid;
  int out_fd, wait_status;
  gboolean signalled = FALSE;
  char *line = NULL;

  g_spawn_async_with_pipes (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                            &pid, NULL, &out_fd, NULL, &error);
  g_assert_no_error (error);
  out = g_io_channel_unix_new (out_fd);
  g_io_channel_set_close_on_unref (out, TRUE);
  while (g_io_channel_read_line (out, &line, NULL, NULL, NULL) == G_IO_STATUS_NORMAL)
    {
      /* The pattern node takes a while for 240 frames; interrupting as it
       * starts stops the job before the next node. */
      if (!signalled && strstr (line, "\"node_started\"") != NULL)
        {
          kill (pid, SIGINT);
          signalled = TRUE;
        }
      g_free (line);
    }
  g_assert_true (signalled);
  g_assert_cmpint (waitpid (pid, &wait_status, 0), ==, pid);
  g_spawn_close_pid (pid);
  g_assert_true (WIFEXITED (wait_status));
  g_assert_cmpint (WEXITSTATUS (wait_status), ==, 130);

  {
    const char *show[] = { "history", "show", "1", "--json", "--history", fx->history, NULL };
    RunResult r = run_cli (show);
    g_autoptr(JsonNode) root = json_from_string (r.out, &error);

    g_assert_no_error (error);
    g_assert_cmpstr (json_object_get_string_member (json_node_get_object (root), "status"),
                     ==, "interrupted");
    run_result_clear (&r);
  }
  {
    const char *again[] = { "run", workflow, "--output-dir", fx->outputs, "--history", fx->history,
                            "--set", "1.frames=3", NULL };
    RunResult r = run_cli (again);
    g_assert_cmpint (r.status, ==, 0);
    run_result_clear (&r);
  }
}

static void
test_nodes_json (Fixture       *fx,
                 gconstpointer  data)
{
  const char *args[] = { "nodes", "--json", NULL };
  RunResult r = run_cli (args);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) root = json_from_string (r.out, &error);
  JsonObject *pattern, *width_options;
  JsonArray *width;

  g_assert_cmpint (r.status, ==, 0);
  g_assert_no_error (error);
  pattern = json_object_get_object_member (json_node_get_object (root), "RaylightTestPattern");
  g_assert_nonnull (pattern);
  width = json_object_get_array_member (json_object_get_object_member (
            json_object_get_object_member (pattern, "input"), "required"), "width");
  g_assert_cmpstr (json_array_get_string_element (width, 0), ==, "INT");
  width_options = json_array_get_object_element (width, 1);
  g_assert_cmpint (json_object_get_int_member (width_options, "min"), ==, 16);
  g_assert_true (json_object_has_member (json_node_get_object (root), "SaveVideo"));
  run_result_clear (&r);
}

static void
test_validate_command (Fixture       *fx,
                       gconstpointer  data)
{
  g_autofree char *workflow = source_path ("data/workflows/default.json");
  const char *ok[] = { "validate", workflow, NULL };
  const char *bad[] = { "validate", workflow, "--set", "1.pattern=plaid", NULL };
  RunResult r = run_cli (ok);

  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "valid"));
  run_result_clear (&r);
  r = run_cli (bad);
  g_assert_cmpint (r.status, ==, 2);
  g_assert_nonnull (strstr (r.err, "plaid"));
  run_result_clear (&r);
}

static void
test_usage_errors (Fixture       *fx,
                   gconstpointer  data)
{
  const char *no_command[] = { "frobnicate", NULL };
  const char *no_file[] = { "run", NULL };
  const char *bad_id[] = { "history", "show", "abc", "--history", fx->history, NULL };
  RunResult r = run_cli (no_command);

  g_assert_cmpint (r.status, ==, 64);
  run_result_clear (&r);
  r = run_cli (no_file);
  g_assert_cmpint (r.status, ==, 64);
  run_result_clear (&r);
  r = run_cli (bad_id);
  g_assert_cmpint (r.status, ==, 64);
  run_result_clear (&r);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("/cli/run/default-workflow", test_run_default_workflow);
  ADD ("/cli/run/set-override", test_run_set_override);
  ADD ("/cli/run/keeps-seed", test_run_keeps_seed);
  ADD ("/cli/run/interrupt", test_interrupt);
  ADD ("/cli/errors/invalid-workflows", test_errors_invalid_workflows);
  ADD ("/cli/errors/missing-file", test_errors_missing_file);
  ADD ("/cli/errors/unwritable-output", test_errors_unwritable_output);
  ADD ("/cli/errors/corrupt-history", test_errors_corrupt_history);
  ADD ("/cli/errors/usage", test_usage_errors);
  ADD ("/cli/nodes/json", test_nodes_json);
  ADD ("/cli/validate", test_validate_command);
#undef ADD

  return g_test_run ();
}
