/* UI tests of the editor: the real window driven by real X input events
 * (xdotool, through the X server's XTEST extension: clicks, drags, keys
 * and typed text, the node search's included) and by its own widgets' API
 * for setting up and checking. Each test saves a screenshot next to the
 * log. */
#include <gdk/x11/gdkx.h>
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "engine/graph/graph.h"
#include "engine/graph/registry.h"
#include "engine/graph/workflow.h"
#include "tests/ui/ui-test-input.h"
#include "tests/ui/ui-test-util.h"
#include "tests/ui/ui-test-widgets.h"
#include "ui/canvas/rl-canvas.h"
#include "ui/rl-application.h"
#include "ui/rl-autosave.h"
#include "ui/rl-preferences-window.h"
#include "ui/rl-window.h"
#include "ui/rl-workflow-page.h"

/* ---- Real input through xdotool ---------------------------------------- */

/* xdotool's events need a little main loop after them (ui_test_xdotool). */
#define INPUT_SETTLE_MS 30

static void
xdotool (const char *arguments)
{
  ui_test_xdotool (arguments, INPUT_SETTLE_MS);
}

static void
real_drag (GtkWidget *from,
           double     fx,
           double     fy,
           GtkWidget *to,
           double     tx,
           double     ty)
{
  ui_test_real_drag (from, fx, fy, to, tx, ty, INPUT_SETTLE_MS);
}

static void
real_double_click (GtkWidget *widget,
                   double     x,
                   double     y)
{
  int wx, wy;
  gulong xid;
  g_autofree char *args = NULL;

  ui_test_point_in_window (widget, x, y, &wx, &wy, &xid);
  args = g_strdup_printf ("mousemove --window %lu %d %d click --repeat 2 --delay 60 1", xid, wx, wy);
  xdotool (args);
}

static void
real_keys (GtkWidget  *window,
           const char *keys)
{
  ui_test_real_keys (window, keys, UI_TEST_FOCUS, INPUT_SETTLE_MS);
}

static void
real_click (GtkWidget *widget,
            double     x,
            double     y)
{
  ui_test_real_click_at (widget, x, y, UI_TEST_FOCUS, INPUT_SETTLE_MS);
}

static GtkWidget *
socket_widget (RlCanvas          *canvas,
               gint64             node_id,
               RlSocketDirection  direction,
               guint              slot)
{
  RlNodeWidget *node = rl_canvas_get_node_widget (canvas, node_id);
  RlSocket *socket;

  g_assert_nonnull (node);
  socket = rl_node_widget_get_socket (node, direction, slot);
  g_assert_nonnull (socket);
  return GTK_WIDGET (socket);
}

static void
drag_wire (RlCanvas *canvas,
           gint64    origin,
           guint     origin_slot,
           gint64    target,
           guint     target_slot)
{
  GtkWidget *from = socket_widget (canvas, origin, RL_SOCKET_OUTPUT, origin_slot);
  GtkWidget *to = socket_widget (canvas, target, RL_SOCKET_INPUT, target_slot);

  real_drag (from, gtk_widget_get_width (from) / 2.0, gtk_widget_get_height (from) / 2.0,
             to, gtk_widget_get_width (to) / 2.0, gtk_widget_get_height (to) / 2.0);
}

/* Double-clicks empty canvas at (@x, @y), searches @query and takes the
 * first result, which must be @expected. Returns the new node's id. With
 * @type_keys the query is typed as real key events and Enter pressed;
 * otherwise the entry's text is set and activated. */
static gint64
search_and_add_typed (RlCanvas   *canvas,
                      const char *query,
                      const char *expected,
                      double      x,
                      double      y,
                      gboolean    type_keys)
{
  RlNodeSearch *search = rl_canvas_get_search (canvas);
  GtkWidget *entry = rl_node_search_get_entry (search);
  RlWorkflow *workflow;
  guint before = rl_workflow_get_n_nodes (rl_canvas_get_workflow (canvas));
  g_autoptr(GPtrArray) results = NULL;
  gint64 id;

  real_double_click (GTK_WIDGET (canvas), x, y);
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (search)));
  if (type_keys)
    {
      gulong xid = gdk_x11_surface_get_xid (gtk_native_get_surface (GTK_NATIVE (gtk_widget_get_root (entry))));
      g_autofree char *focus = g_strdup_printf ("windowfocus --sync %lu", xid);

      ui_test_wait (100);
      xdotool (focus);
      ui_test_real_type (query, INPUT_SETTLE_MS);
      g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (entry)), ==, query);
      xdotool ("key --clearmodifiers Return");
    }
  else
    {
      gtk_editable_set_text (GTK_EDITABLE (entry), query);
      g_signal_emit_by_name (entry, "activate");
    }
  ui_test_wait (50);
  results = rl_node_search_list_results (search);
  g_assert_cmpuint (results->len, >, 0);
  g_assert_cmpstr (g_ptr_array_index (results, 0), ==, expected);

  workflow = rl_canvas_get_workflow (canvas);
  g_assert_cmpuint (rl_workflow_get_n_nodes (workflow), ==, before + 1);
  id = rl_workflow_get_node_id (workflow, before);
  g_assert_cmpstr (rl_workflow_node_get_type (workflow, id), ==, expected);
  return id;
}

static gint64
search_and_add (RlCanvas   *canvas,
                const char *query,
                const char *expected,
                double      x,
                double      y)
{
  return search_and_add_typed (canvas, query, expected, x, y, FALSE);
}

static void
set_spin (RlCanvas   *canvas,
          gint64      node_id,
          const char *input,
          double      value)
{
  GtkWidget *control = rl_node_widget_get_control (rl_canvas_get_node_widget (canvas, node_id), input);

  g_assert_true (GTK_IS_SPIN_BUTTON (control));
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (control), value);
}

static void
set_dropdown (RlCanvas   *canvas,
              gint64      node_id,
              const char *input,
              const char *value)
{
  GtkWidget *control = rl_node_widget_get_control (rl_canvas_get_node_widget (canvas, node_id), input);
  GListModel *model;

  g_assert_true (GTK_IS_DROP_DOWN (control));
  model = gtk_drop_down_get_model (GTK_DROP_DOWN (control));
  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr(GtkStringObject) item = g_list_model_get_item (model, i);

      if (g_str_equal (gtk_string_object_get_string (item), value))
        {
          gtk_drop_down_set_selected (GTK_DROP_DOWN (control), i);
          return;
        }
    }
  g_error ("%s has no option %s", input, value);
}

/* ---- Comparisons ------------------------------------------------------------ */

static char *
prompt_of (RlWorkflow *workflow)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RlGraph) graph = rl_workflow_to_graph (workflow, rl_application_get_registry (ui_test_get_app ()),
                                                   &error);

  g_assert_no_error (error);
  return rl_graph_to_prompt_string (graph, FALSE);
}

static JsonNode *
member_or_null (JsonObject *object,
                const char *name)
{
  return json_object_has_member (object, name) ? json_object_get_member (object, name) : NULL;
}

/* Nodes equal in everything but where they are drawn. */
static void
assert_same_documents (RlWorkflow *a,
                       RlWorkflow *b)
{
  g_assert_cmpuint (rl_workflow_get_n_nodes (a), ==, rl_workflow_get_n_nodes (b));
  for (guint i = 0; i < rl_workflow_get_n_nodes (a); i++)
    {
      gint64 id = rl_workflow_get_node_id (a, i);
      JsonObject *na = rl_workflow_lookup_node (a, id), *nb = rl_workflow_lookup_node (b, id);
      const char *fields[] = { "type", "mode", "inputs", "outputs", "widgets_values" };

      g_assert_nonnull (nb);
      for (guint f = 0; f < G_N_ELEMENTS (fields); f++)
        {
          JsonNode *va = member_or_null (na, fields[f]), *vb = member_or_null (nb, fields[f]);

          if (va == NULL || vb == NULL || !json_node_equal (va, vb))
            {
              g_autofree char *sa = va != NULL ? json_to_string (va, FALSE) : g_strdup ("(none)");
              g_autofree char *sb = vb != NULL ? json_to_string (vb, FALSE) : g_strdup ("(none)");

              g_error ("node %" G_GINT64_FORMAT " field %s differs: %s vs %s", id, fields[f], sa, sb);
            }
        }
    }
  g_assert_cmpuint (rl_workflow_get_n_links (a), ==, rl_workflow_get_n_links (b));
  for (guint i = 0; i < rl_workflow_get_n_links (a); i++)
    {
      RlWorkflowLink la, lb;

      g_assert_true (rl_workflow_get_link (a, i, &la));
      g_assert_true (rl_workflow_get_link (b, i, &lb));
      g_assert_cmpint (la.id, ==, lb.id);
      g_assert_cmpint (la.origin_id, ==, lb.origin_id);
      g_assert_cmpuint (la.origin_slot, ==, lb.origin_slot);
      g_assert_cmpint (la.target_id, ==, lb.target_id);
      g_assert_cmpuint (la.target_slot, ==, lb.target_slot);
      g_assert_cmpstr (la.type, ==, lb.type);
    }
}

/* Equal JSON values (a FLOAT widget's 16.0 equals the file's 16). */
static void
assert_same_json (const char *a,
                  const char *b)
{
  g_autoptr(JsonParser) pa = json_parser_new ();
  g_autoptr(JsonParser) pb = json_parser_new ();

  g_assert_true (json_parser_load_from_data (pa, a, -1, NULL));
  g_assert_true (json_parser_load_from_data (pb, b, -1, NULL));
  if (!json_node_equal (json_parser_get_root (pa), json_parser_get_root (pb)))
    g_error ("JSON differs:\n%s\n%s", a, b);
}

static char *
strip_meta (const char *prompt)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *root;
  g_autoptr(GList) members = NULL;

  g_assert_true (json_parser_load_from_data (parser, prompt, -1, NULL));
  root = json_node_get_object (json_parser_get_root (parser));
  members = json_object_get_members (root);
  for (GList *l = members; l != NULL; l = l->next)
    json_object_remove_member (json_object_get_object_member (root, l->data), "_meta");
  return json_to_string (json_parser_get_root (parser), FALSE);
}

static void
assert_same_json_without_meta (const char *a,
                               const char *b)
{
  g_autofree char *sa = strip_meta (a);
  g_autofree char *sb = strip_meta (b);

  assert_same_json (sa, sb);
}

static char *
source_path (const char *relative)
{
  return g_build_filename (g_getenv ("RAYLIGHT_SOURCE_DIR"), relative, NULL);
}

/* The same graph written by the engine alone: nodes added with the
 * engine's defaults, links and values set through its API. */
static RlWorkflow *
engine_default_graph (void)
{
  RlRegistry *registry = rl_application_get_registry (ui_test_get_app ());
  g_autoptr(RlWorkflow) workflow = rl_workflow_load_data ("{\"last_node_id\":0,\"last_link_id\":0,\"nodes\":[],"
                                                          "\"links\":[],\"groups\":[],\"config\":{},\"extra\":{},"
                                                          "\"version\":0.4}", -1, "engine", NULL);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *default_path = source_path ("data/workflows/default.json");
  g_autoptr(RlWorkflow) reference = rl_workflow_load_file (default_path, NULL);
  const char *types[] = { "RaylightTestPattern", "CreateVideo", "SaveVideo" };

  g_assert_nonnull (reference);
  for (guint i = 0; i < G_N_ELEMENTS (types); i++)
    {
      gint64 id = rl_workflow_add_node (workflow, rl_registry_lookup (registry, types[i]), 0, 0);
      JsonArray *values = rl_workflow_node_get_widgets_values (reference, i + 1);

      for (guint v = 0; v < json_array_get_length (values); v++)
        rl_workflow_node_set_widget_value (workflow, id, v, json_array_get_element (values, v));
    }
  g_assert_cmpint (rl_workflow_add_link (workflow, 1, 0, 2, 0, NULL), >, 0);
  g_assert_cmpint (rl_workflow_add_link (workflow, 2, 0, 3, 0, NULL), >, 0);
  return g_steal_pointer (&workflow);
}

/* ---- Tests --------------------------------------------------------------------- */

/* Opens @file as the window's drop handler and File → Open do, lets the
 * page settle, and returns the page it became. */
static RlWorkflowPage *
open_in_window (RlWindow *window,
                GFile    *file)
{
  g_assert_true (rl_window_open_file (window, file));
  ui_test_wait (100);
  return rl_window_get_current_page (window);
}

static void
test_empty_state (void)
{
  RlWindow *window = ui_test_new_window ();
  g_autofree char *shot = NULL;

  g_assert_null (rl_window_get_current_page (window));
  g_assert_cmpint (adw_tab_view_get_n_pages (rl_window_get_tab_view (window)), ==, 0);
  shot = ui_test_screenshot (GTK_WIDGET (window), "empty-window");
  /* Opening the bundled template from the empty state. */
  {
    g_autofree char *path = source_path ("data/workflows/default.json");

    gtk_widget_activate_action (GTK_WIDGET (window), "win.open-template", "s", path);
  }
  ui_test_wait (200);
  g_assert_nonnull (rl_window_get_current_page (window));
  g_assert_cmpuint (rl_workflow_get_n_nodes (rl_canvas_get_workflow (
                      rl_workflow_page_get_canvas (rl_window_get_current_page (window)))), ==, 3);
  g_free (ui_test_screenshot (GTK_WIDGET (window), "default-workflow"));
  gtk_window_destroy (GTK_WINDOW (window));
}

static void
record_state (GPtrArray *states,
              RlCanvas  *canvas)
{
  char *now = rl_workflow_to_string (rl_canvas_get_workflow (canvas), FALSE);

  if (states->len > 0 && g_str_equal (now, g_ptr_array_index (states, states->len - 1)))
    {
      g_free (now);
      return;
    }
  g_ptr_array_add (states, now);
}

/* Undoes every step in @states (the documents recorded after each edit,
 * the empty one first) with real Ctrl+Z presses, checking each document on
 * the way back to no nodes; then redoes them all with Ctrl+Shift+Z, back
 * to the graph as built. */
static void
undo_and_redo_all (RlWindow  *window,
                   RlCanvas  *canvas,
                   GPtrArray *states)
{
  g_autofree char *built = rl_workflow_to_string (rl_canvas_get_workflow (canvas), FALSE);

  gtk_widget_grab_focus (GTK_WIDGET (canvas));
  for (int i = (int) states->len - 2; i >= 0; i--)
    {
      g_autofree char *now = NULL;

      real_keys (GTK_WIDGET (window), "ctrl+z");
      now = rl_workflow_to_string (rl_canvas_get_workflow (canvas), FALSE);
      g_assert_cmpstr (now, ==, g_ptr_array_index (states, i));
    }
  g_assert_cmpuint (rl_workflow_get_n_nodes (rl_canvas_get_workflow (canvas)), ==, 0);
  for (guint i = 1; i < states->len; i++)
    {
      g_autofree char *now = NULL;

      real_keys (GTK_WIDGET (window), "ctrl+shift+z");
      now = rl_workflow_to_string (rl_canvas_get_workflow (canvas), FALSE);
      g_assert_cmpstr (now, ==, g_ptr_array_index (states, i));
    }
  {
    g_autofree char *redone = rl_workflow_to_string (rl_canvas_get_workflow (canvas), FALSE);

    g_assert_cmpstr (redone, ==, built);
  }
}

static void
test_build_default_graph (void)
{
  RlWindow *window;
  RlWorkflowPage *page;
  RlCanvas *canvas;
  gint64 pattern, video, save;
  g_autoptr(GPtrArray) states = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *dir = NULL, *saved_path = NULL;
  g_autoptr(GFile) saved = NULL;
  g_autoptr(RlWorkflow) engine = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (ui_test_seed ());
  double jitter = g_rand_double_range (rand, 0, 40);

  if (!ui_test_have_x11 ())
    return;
  window = ui_test_new_window ();
  page = rl_window_new_page (window);
  canvas = rl_workflow_page_get_canvas (page);
  ui_test_wait (100);

  /* Each edit that changed the document is one undo step (setting a
   * control to the value it has already changes nothing). */
#define RECORD() record_state (states, canvas)
  RECORD ();
  pattern = search_and_add (canvas, "test pattern", "RaylightTestPattern", 60 + jitter, 80);
  RECORD ();
  video = search_and_add (canvas, "create video", "CreateVideo", 480 + jitter, 80);
  RECORD ();
  save = search_and_add (canvas, "save video", "SaveVideo", 800 + jitter, 80);
  RECORD ();
  ui_test_wait (100);

  drag_wire (canvas, pattern, 0, video, 0);
  g_assert_cmpuint (rl_workflow_get_n_links (rl_canvas_get_workflow (canvas)), ==, 1);
  RECORD ();
  drag_wire (canvas, video, 0, save, 0);
  g_assert_cmpuint (rl_workflow_get_n_links (rl_canvas_get_workflow (canvas)), ==, 2);
  RECORD ();

  /* The values of data/workflows/default.json, set through the controls. */
  set_spin (canvas, pattern, "width", 512);
  RECORD ();
  set_spin (canvas, pattern, "height", 288);
  RECORD ();
  set_spin (canvas, pattern, "frames", 49);
  RECORD ();
  set_dropdown (canvas, pattern, "pattern", "moving-circle");
  RECORD ();
  set_spin (canvas, pattern, "seed", 42);
  RECORD ();
  {
    GtkWidget *node = GTK_WIDGET (rl_canvas_get_node_widget (canvas, pattern));
    GtkWidget *after = NULL;

    /* The control-after-generate drop-down follows the seed's row. */
    for (GtkWidget *row = gtk_widget_get_first_child (gtk_widget_get_first_child (node)); row != NULL;
         row = gtk_widget_get_next_sibling (row))
      if (GTK_IS_BOX (row) && GTK_IS_DROP_DOWN (gtk_widget_get_last_child (row)) &&
          gtk_widget_get_last_child (row) != rl_node_widget_get_control (RL_NODE_WIDGET (node), "pattern"))
        after = gtk_widget_get_last_child (row);
    g_assert_nonnull (after);
    gtk_drop_down_set_selected (GTK_DROP_DOWN (after), 0);   /* "fixed" */
  }
  RECORD ();
  set_spin (canvas, video, "fps", 16);
  RECORD ();
  {
    GtkWidget *prefix = rl_node_widget_get_control (rl_canvas_get_node_widget (canvas, save), "filename_prefix");

    gtk_editable_set_text (GTK_EDITABLE (prefix), "raylight/test-pattern");
  }
  RECORD ();
  set_dropdown (canvas, save, "format", "mp4");
  RECORD ();
  set_dropdown (canvas, save, "codec", "h264");
  RECORD ();
  set_spin (canvas, save, "crf", 23);
  RECORD ();
  rl_canvas_validate_now (canvas);
  g_assert_cmpuint (rl_canvas_get_issues (canvas)->len, ==, 0);
  g_free (ui_test_screenshot (GTK_WIDGET (window), "built-default-graph"));

  undo_and_redo_all (window, canvas, states);

  /* Save, reopen, and compare with the engine's own document. */
  dir = g_dir_make_tmp ("raylight-ui-XXXXXX", NULL);
  saved_path = g_build_filename (dir, "built.json", NULL);
  saved = g_file_new_for_path (saved_path);
  g_assert_true (rl_workflow_page_save (page, saved, NULL));
  g_assert_false (rl_workflow_page_get_modified (page));
  {
    RlCanvas *reopened = rl_workflow_page_get_canvas (open_in_window (window, saved));
    g_autofree char *prompt_reopened = prompt_of (rl_canvas_get_workflow (reopened));
    g_autofree char *prompt_engine = NULL;
    g_autofree char *default_path = source_path ("data/workflows/default.json");
    g_autoptr(RlWorkflow) reference = rl_workflow_load_file (default_path, NULL);
    g_autofree char *prompt_reference = prompt_of (reference);

    g_assert_true (rl_window_get_current_page (window) != page);
    engine = engine_default_graph ();
    prompt_engine = prompt_of (engine);
    assert_same_documents (rl_canvas_get_workflow (reopened), engine);
    assert_same_json (prompt_reopened, prompt_engine);
    /* And what it runs is the bundled default workflow (which also names
     * its first node: titles live in _meta and are left out here). */
    assert_same_json_without_meta (prompt_reopened, prompt_reference);
  }
  g_unlink (saved_path);
  g_rmdir (dir);
  gtk_window_destroy (GTK_WINDOW (window));
}

/* ---- The Wan 2.1 text-to-video graph ----------------------------------------- */

/* Model folders with empty placeholder files named like the real models,
 * so the loaders' drop-downs have the values the example files name. */
static char *
make_placeholder_models (void)
{
  static const char *files[] = {
    "diffusion_models/tiny-wan2.1-t2v.safetensors",
    "diffusion_models/wan2.1_t2v_1.3B_bf16.safetensors",
    "text_encoders/tiny-umt5.safetensors",
    "text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors",
    "vae/tiny-wan2.1-vae.safetensors",
    "vae/wan_2.1_vae.safetensors",
  };
  char *root = g_dir_make_tmp ("raylight-ui-models-XXXXXX", NULL);

  g_assert_nonnull (root);
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *path = g_build_filename (root, files[i], NULL);
      g_autofree char *dir = g_path_get_dirname (path);

      g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
      g_assert_true (g_file_set_contents (path, "", 0, NULL));
    }
  return root;
}

static void
remove_placeholder_models (const char *root)
{
  const char *folders[] = { "diffusion_models", "text_encoders", "vae" };

  for (guint i = 0; i < G_N_ELEMENTS (folders); i++)
    {
      g_autofree char *dir_path = g_build_filename (root, folders[i], NULL);
      g_autoptr(GDir) dir = g_dir_open (dir_path, 0, NULL);
      const char *name;

      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *path = g_build_filename (dir_path, name, NULL);

          g_unlink (path);
        }
      g_rmdir (dir_path);
    }
  g_rmdir (root);
}

/* The widget input names of each widgets_values entry, in order; "" is a
 * seed's control-after-generate value. */
static const struct {
  const char *type;
  const char *query;
  const char *inputs[8];
} wan_node_kinds[] = {
  { "UNETLoader", "UNETLoader", { "unet_name", "weight_dtype" } },
  { "CLIPLoader", "CLIPLoader", { "clip_name", "type", "device" } },
  { "VAELoader", "VAELoader", { "vae_name" } },
  { "ModelSamplingSD3", "ModelSamplingSD3", { "shift" } },
  { "CLIPTextEncode", "CLIPTextEncode", { "text" } },
  { "EmptyHunyuanLatentVideo", "EmptyHunyuanLatentVideo", { "width", "height", "length", "batch_size" } },
  { "KSampler", "KSampler", { "seed", "", "steps", "cfg", "sampler_name", "scheduler", "denoise" } },
  { "VAEDecode", "VAEDecode", { NULL } },
  { "CreateVideo", "CreateVideo", { "fps" } },
  { "SaveVideo", "SaveVideo", { "filename_prefix", "format", "codec" } },
};

static guint
wan_kind_of (const char *type)
{
  for (guint i = 0; i < G_N_ELEMENTS (wan_node_kinds); i++)
    if (g_str_equal (wan_node_kinds[i].type, type))
      return i;
  g_error ("the Wan example has a node type this test does not know: %s", type);
  return 0;
}

/* The control-after-generate drop-down of @node (the one that follows the
 * seed's spin button in its row). */
static GtkWidget *
after_generate_control (RlNodeWidget *node,
                        const char   *seed_input)
{
  GtkWidget *seed = rl_node_widget_get_control (node, seed_input);

  for (GtkWidget *row = gtk_widget_get_first_child (gtk_widget_get_first_child (GTK_WIDGET (node))); row != NULL;
       row = gtk_widget_get_next_sibling (row))
    {
      GtkWidget *last = GTK_IS_BOX (row) ? gtk_widget_get_last_child (row) : NULL;
      GtkWidget *previous = GTK_IS_BOX (row) ? gtk_widget_get_prev_sibling (row) : NULL;

      if (last != NULL && GTK_IS_DROP_DOWN (last) && previous != NULL &&
          gtk_widget_is_ancestor (seed, previous))
        return last;
    }
  /* Fall back to the first drop-down after the seed's row. */
  for (GtkWidget *row = gtk_widget_get_first_child (gtk_widget_get_first_child (GTK_WIDGET (node))); row != NULL;
       row = gtk_widget_get_next_sibling (row))
    if (gtk_widget_is_ancestor (seed, row))
      for (GtkWidget *next = gtk_widget_get_next_sibling (row); next != NULL; next = gtk_widget_get_next_sibling (next))
        if (GTK_IS_BOX (next) && GTK_IS_DROP_DOWN (gtk_widget_get_last_child (next)))
          return gtk_widget_get_last_child (next);
  return NULL;
}

static void
select_string (GtkDropDown *drop_down,
               const char  *what,
               const char  *value)
{
  GListModel *model = gtk_drop_down_get_model (drop_down);

  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr(GtkStringObject) item = g_list_model_get_item (model, i);

      if (g_str_equal (gtk_string_object_get_string (item), value))
        {
          gtk_drop_down_set_selected (drop_down, i);
          return;
        }
    }
  g_error ("%s has no option %s", what, value);
}

/* Sets widget input @input of @node_id to @value through its control, as
 * a person would: spin button, drop-down, entry or text view. */
static void
set_control (RlCanvas   *canvas,
             gint64      node_id,
             const char *input,
             JsonNode   *value)
{
  RlNodeWidget *node = rl_canvas_get_node_widget (canvas, node_id);
  GtkWidget *control;

  if (*input == '\0')
    {
      control = after_generate_control (node, "seed");
      g_assert_nonnull (control);
      select_string (GTK_DROP_DOWN (control), "control_after_generate", json_node_get_string (value));
      return;
    }
  control = rl_node_widget_get_control (node, input);
  g_assert_nonnull (control);
  if (GTK_IS_SPIN_BUTTON (control))
    gtk_spin_button_set_value (GTK_SPIN_BUTTON (control), json_node_get_double (value));
  else if (GTK_IS_DROP_DOWN (control))
    select_string (GTK_DROP_DOWN (control), input, json_node_get_string (value));
  else if (GTK_IS_TEXT_VIEW (control))
    gtk_text_buffer_set_text (gtk_text_view_get_buffer (GTK_TEXT_VIEW (control)), json_node_get_string (value), -1);
  else if (GTK_IS_EDITABLE (control))
    gtk_editable_set_text (GTK_EDITABLE (control), json_node_get_string (value));
  else
    g_error ("input %s has a control this test cannot set (%s)", input, G_OBJECT_TYPE_NAME (control));
}

/* Where each node of the example is dropped, in widget coordinates at
 * zoom 0.6: left to right in the order data flows. */
static const double wan_drop_points[][2] = {
  { 20, 20 }, { 20, 230 }, { 20, 430 },            /* loaders */
  { 270, 20 }, { 270, 170 }, { 270, 400 }, { 270, 600 }, /* shift, prompts, latent */
  { 540, 20 },                                      /* sampler */
  { 800, 20 }, { 800, 200 },                        /* decode, video */
  { 1040, 20 },                                     /* save */
};

/* The prompt of @reference with its node ids renamed through @ids
 * (reference id -> new id), so it compares with a graph built anew. */
static char *
renumbered_prompt (RlWorkflow *reference,
                   GHashTable *ids)
{
  g_autofree char *prompt = prompt_of (reference);
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *root, *renamed = json_object_new ();
  g_autoptr(GList) members = NULL;
  g_autoptr(JsonNode) result = json_node_new (JSON_NODE_OBJECT);

  g_assert_true (json_parser_load_from_data (parser, prompt, -1, NULL));
  root = json_node_get_object (json_parser_get_root (parser));
  members = json_object_get_members (root);
  for (GList *l = members; l != NULL; l = l->next)
    {
      JsonObject *node = json_object_get_object_member (root, l->data);
      JsonObject *inputs = json_object_get_object_member (node, "inputs");
      g_autoptr(GList) names = json_object_get_members (inputs);
      const char *new_id = g_hash_table_lookup (ids, l->data);

      g_assert_nonnull (new_id);
      for (GList *n = names; n != NULL; n = n->next)
        {
          JsonNode *input = json_object_get_member (inputs, n->data);
          JsonArray *source = JSON_NODE_HOLDS_ARRAY (input) ? json_node_get_array (input) : NULL;

          if (source != NULL && json_array_get_length (source) == 2 &&
              JSON_NODE_HOLDS_VALUE (json_array_get_element (source, 0)) &&
              json_node_get_value_type (json_array_get_element (source, 0)) == G_TYPE_STRING)
            {
              const char *origin = g_hash_table_lookup (ids, json_array_get_string_element (source, 0));

              g_assert_nonnull (origin);
              json_node_set_string (json_array_get_element (source, 0), origin);
            }
        }
      json_object_set_member (renamed, new_id, json_node_copy (json_object_get_member (root, l->data)));
    }
  json_node_take_object (result, renamed);
  return json_to_string (result, FALSE);
}

static void
test_build_wan_graph (void)
{
  g_autofree char *reference_path = source_path ("data/workflows/wan2.1-t2v-tiny.json");
  g_autoptr(RlWorkflow) reference = rl_workflow_load_file (reference_path, NULL);
  RlRegistry *registry = rl_application_get_registry (ui_test_get_app ());
  g_autoptr(RlWorkflow) engine = NULL;
  g_autoptr(GPtrArray) states = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr(GHashTable) new_ids = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (ui_test_seed ());
  double jitter = g_rand_double_range (rand, 0, 12);
  g_autofree char *dir = NULL, *saved_path = NULL;
  g_autoptr(GFile) saved = NULL;
  RlWindow *window;
  RlWorkflowPage *page;
  RlCanvas *canvas;
  guint n_nodes;

  if (!ui_test_have_x11 ())
    return;
  g_assert_nonnull (reference);
  n_nodes = rl_workflow_get_n_nodes (reference);
  g_assert_cmpuint (n_nodes, ==, G_N_ELEMENTS (wan_drop_points));
  window = ui_test_new_window ();
  page = rl_window_new_page (window);
  canvas = rl_workflow_page_get_canvas (page);
  ui_test_wait (100);
  rl_canvas_zoom_at (canvas, 0.6 / rl_canvas_get_zoom (canvas), 0, 0);
  ui_test_wait (50);

  RECORD ();
  /* Every node, found through the search and given the example's values. */
  for (guint i = 0; i < n_nodes; i++)
    {
      gint64 ref_id = rl_workflow_get_node_id (reference, i);
      const char *type = rl_workflow_node_get_type (reference, ref_id);
      guint kind = wan_kind_of (type);
      JsonArray *values = rl_workflow_node_get_widgets_values (reference, ref_id);
      gint64 id = search_and_add_typed (canvas, wan_node_kinds[kind].query, type,
                                        wan_drop_points[i][0] + jitter, wan_drop_points[i][1] + jitter, TRUE);
      gint64 *key = g_new (gint64, 1);

      *key = ref_id;
      g_hash_table_insert (new_ids, key, GINT_TO_POINTER ((int) id));
      g_hash_table_insert (ids, g_strdup_printf ("%" G_GINT64_FORMAT, ref_id),
                           g_strdup_printf ("%" G_GINT64_FORMAT, id));
      RECORD ();
      for (guint v = 0; values != NULL && v < json_array_get_length (values); v++)
        {
          g_assert_nonnull (wan_node_kinds[kind].inputs[v]);
          set_control (canvas, id, wan_node_kinds[kind].inputs[v], json_array_get_element (values, v));
          RECORD ();
        }
    }
  ui_test_wait (100);

  /* Every wire, dragged from output socket to input socket. */
  for (guint i = 0; i < rl_workflow_get_n_links (reference); i++)
    {
      RlWorkflowLink link;
      gint64 origin, target;

      g_assert_true (rl_workflow_get_link (reference, i, &link));
      origin = GPOINTER_TO_INT (g_hash_table_lookup (new_ids, &link.origin_id));
      target = GPOINTER_TO_INT (g_hash_table_lookup (new_ids, &link.target_id));
      drag_wire (canvas, origin, link.origin_slot, target, link.target_slot);
      g_assert_cmpuint (rl_workflow_get_n_links (rl_canvas_get_workflow (canvas)), ==, i + 1);
      RECORD ();
    }
  rl_canvas_validate_now (canvas);
  g_assert_null (rl_canvas_get_graph_error (canvas));
  for (guint i = 0; i < rl_canvas_get_issues (canvas)->len; i++)
    {
      RlValidationIssue *issue = g_ptr_array_index (rl_canvas_get_issues (canvas), i);

      g_printerr ("# issue: node %s input %s: %s\n", issue->node_id, issue->input_name, issue->message);
    }
  g_free (ui_test_screenshot (GTK_WIDGET (window), "built-wan-graph"));
  g_assert_cmpuint (rl_canvas_get_issues (canvas)->len, ==, 0);

  undo_and_redo_all (window, canvas, states);

  /* The engine's own document for the same graph: nodes with the engine's
   * defaults, then the example's values and links through its API. */
  engine = rl_workflow_load_data ("{\"last_node_id\":0,\"last_link_id\":0,\"nodes\":[],\"links\":[],"
                                  "\"groups\":[],\"config\":{},\"extra\":{},\"version\":0.4}", -1, "engine", NULL);
  for (guint i = 0; i < n_nodes; i++)
    {
      gint64 ref_id = rl_workflow_get_node_id (reference, i);
      gint64 id = rl_workflow_add_node (engine, rl_registry_lookup (registry, rl_workflow_node_get_type (reference, ref_id)),
                                        0, 0);
      JsonArray *values = rl_workflow_node_get_widgets_values (reference, ref_id);

      g_assert_cmpint (id, ==, GPOINTER_TO_INT (g_hash_table_lookup (new_ids, &ref_id)));
      for (guint v = 0; values != NULL && v < json_array_get_length (values); v++)
        rl_workflow_node_set_widget_value (engine, id, v, json_array_get_element (values, v));
    }
  for (guint i = 0; i < rl_workflow_get_n_links (reference); i++)
    {
      RlWorkflowLink link;

      g_assert_true (rl_workflow_get_link (reference, i, &link));
      g_assert_cmpint (rl_workflow_add_link (engine, GPOINTER_TO_INT (g_hash_table_lookup (new_ids, &link.origin_id)),
                                             link.origin_slot,
                                             GPOINTER_TO_INT (g_hash_table_lookup (new_ids, &link.target_id)),
                                             link.target_slot, NULL), >, 0);
    }

  /* Save, reopen, compare with the engine's document and with what the
   * example file runs. */
  dir = g_dir_make_tmp ("raylight-ui-XXXXXX", NULL);
  saved_path = g_build_filename (dir, "wan.json", NULL);
  saved = g_file_new_for_path (saved_path);
  g_assert_true (rl_workflow_page_save (page, saved, NULL));
  g_assert_false (rl_workflow_page_get_modified (page));
  {
    RlCanvas *reopened = rl_workflow_page_get_canvas (open_in_window (window, saved));
    g_autofree char *prompt_reopened = prompt_of (rl_canvas_get_workflow (reopened));
    g_autofree char *prompt_engine = prompt_of (engine);
    g_autofree char *prompt_reference = renumbered_prompt (reference, ids);

    g_assert_true (rl_window_get_current_page (window) != page);
    assert_same_documents (rl_canvas_get_workflow (reopened), engine);
    assert_same_json (prompt_reopened, prompt_engine);
    assert_same_json_without_meta (prompt_reopened, prompt_reference);
  }
  g_unlink (saved_path);
  g_rmdir (dir);
  gtk_window_destroy (GTK_WINDOW (window));
}

/* The main window with the Wan 2.1 1.3B example open (README screenshot). */
static void
test_wan_example (void)
{
  RlWindow *window = ui_test_new_window ();
  g_autofree char *path = source_path ("data/workflows/wan2.1-t2v-1.3B.json");
  RlCanvas *canvas;

  gtk_widget_activate_action (GTK_WIDGET (window), "win.open-template", "s", path);
  ui_test_wait (200);
  g_assert_nonnull (rl_window_get_current_page (window));
  canvas = rl_workflow_page_get_canvas (rl_window_get_current_page (window));
  g_assert_cmpuint (rl_workflow_get_n_nodes (rl_canvas_get_workflow (canvas)), ==, 11);
  rl_canvas_fit_view (canvas);
  rl_canvas_validate_now (canvas);
  g_assert_null (rl_canvas_get_graph_error (canvas));
  g_assert_cmpuint (rl_canvas_get_issues (canvas)->len, ==, 0);
  ui_test_wait (100);
  g_free (ui_test_screenshot (GTK_WIDGET (window), "wan-example"));
  gtk_window_destroy (GTK_WINDOW (window));
}

/* ---- Snap to grid and reroute points ------------------------------------------ */

static void
real_alt_click (GtkWidget *widget,
                double     x,
                double     y)
{
  int wx, wy;
  gulong xid;
  g_autofree char *args = NULL;

  ui_test_point_in_window (widget, x, y, &wx, &wy, &xid);
  args = g_strdup_printf ("mousemove --window %lu %d %d keydown alt click 1 keyup alt", xid, wx, wy);
  xdotool (args);
}

/* The centre of a socket in canvas coordinates. */
static graphene_point_t
socket_point (RlCanvas          *canvas,
              gint64             node_id,
              RlSocketDirection  direction,
              guint              slot)
{
  GtkWidget *socket = socket_widget (canvas, node_id, direction, slot);
  graphene_point_t point;

  g_assert_true (gtk_widget_compute_point (socket, GTK_WIDGET (canvas),
                                           &GRAPHENE_POINT_INIT (gtk_widget_get_width (socket) / 2.0,
                                                                 gtk_widget_get_height (socket) / 2.0),
                                           &point));
  return point;
}

static graphene_point_t
reroute_point (RlCanvas *canvas,
               gint64    reroute_id)
{
  double doc_x, doc_y, ox, oy, zoom = rl_canvas_get_zoom (canvas);

  g_assert_true (rl_canvas_get_reroute_position (canvas, reroute_id, &doc_x, &doc_y));
  rl_canvas_get_offset (canvas, &ox, &oy);
  return GRAPHENE_POINT_INIT (ox + doc_x * zoom, oy + doc_y * zoom);
}

static gboolean
on_grid (double value)
{
  return fmod (fabs (value), 20.0) == 0.0;
}

static void
assert_chain (RlCanvas     *canvas,
              gint64        link_id,
              guint         n,
              const gint64 *expected)
{
  g_autoptr(GArray) chain = rl_canvas_get_link_reroutes (canvas, link_id);

  g_assert_cmpuint (chain->len, ==, n);
  for (guint i = 0; i < n; i++)
    g_assert_cmpint (g_array_index (chain, gint64, i), ==, expected[i]);
}

/* F10 opens the primary menu; "g" is the mnemonic of Snap to _Grid. */
static void
toggle_snap_from_menu (RlWindow *window)
{
  real_keys (GTK_WIDGET (window), "F10");
  ui_test_wait (200);
  xdotool ("key --clearmodifiers g");
  ui_test_wait (100);
}

static gboolean
is_button_with_tooltip (GtkWidget     *widget,
                        gconstpointer  tooltip)
{
  return GTK_IS_BUTTON (widget) && g_strcmp0 (gtk_widget_get_tooltip_text (widget), tooltip) == 0;
}

static GtkWidget *
find_button_with_tooltip (GtkWidget  *root,
                          const char *tooltip)
{
  return ui_test_find_widget (root, is_button_with_tooltip, tooltip);
}

static RlPreferencesWindow *
find_preferences_window (void)
{
  GListModel *toplevels = gtk_window_get_toplevels ();  /* borrowed */

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GObject) window = g_list_model_get_item (toplevels, i);

      if (RL_IS_PREFERENCES_WINDOW (window) && gtk_widget_get_mapped (GTK_WIDGET (window)))
        return RL_PREFERENCES_WINDOW (window);
    }
  return NULL;
}

static gboolean
combo_lists (RlCanvas   *canvas,
             gint64      node_id,
             const char *input,
             const char *option)
{
  GtkWidget *control = rl_node_widget_get_control (rl_canvas_get_node_widget (canvas, node_id), input);
  GListModel *model;

  g_assert_true (GTK_IS_DROP_DOWN (control));
  model = gtk_drop_down_get_model (GTK_DROP_DOWN (control));
  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr(GtkStringObject) item = g_list_model_get_item (model, i);

      if (strstr (gtk_string_object_get_string (item), option) != NULL)
        return TRUE;
    }
  return FALSE;
}

/* Clicks an entry row of the preferences, types @text and presses Enter. */
static void
type_into_row (GtkWidget  *row,
               const char *text)
{
  real_click (row, gtk_widget_get_width (row) / 3.0, gtk_widget_get_height (row) / 2.0);
  ui_test_wait (100);
  ui_test_real_type (text, INPUT_SETTLE_MS);
  xdotool ("key --clearmodifiers Return");
  ui_test_wait (100);
}

static char *
make_model_file (const char *root,
                 const char *folder,
                 const char *name)
{
  g_autofree char *dir = g_build_filename (root, folder, NULL);
  char *path = g_build_filename (dir, name, NULL);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (path, "not a real model", -1, NULL));
  return path;
}

static void
test_preferences (void)
{
  GSettings *settings = rl_application_get_settings (ui_test_get_app ());
  guint32 seed = ui_test_seed ();
  g_autofree char *extra = g_dir_make_tmp ("rl-prefs-XXXXXX", NULL);
  g_autofree char *comfyui = g_dir_make_tmp ("rl-comfy-XXXXXX", NULL);
  g_autofree char *extra_name = g_strdup_printf ("extra-vae-%u.safetensors", seed);
  g_autofree char *comfy_name = g_strdup_printf ("comfy-vae-%u.safetensors", seed ^ 0x5a5a5a5au);
  g_autofree char *extra_file = make_model_file (extra, "vae", extra_name);
  g_autofree char *comfy_file = make_model_file (comfyui, "models/vae", comfy_name);
  g_autofree char *missing = g_build_filename (extra, "no-such-folder", NULL);
  g_autofree char *shot = NULL;
  g_auto(GStrv) folders = NULL;
  RlPreferencesWindow *prefs;
  RlWindow *window;
  RlCanvas *canvas;
  GtkWidget *row;
  gint64 vae;

  if (!ui_test_have_x11 ())
    return;
  g_assert_nonnull (settings);
  window = ui_test_new_window ();
  canvas = rl_workflow_page_get_canvas (rl_window_new_page (window));
  vae = rl_canvas_add_node (canvas, "VAELoader", 40, 40, NULL);
  g_assert_cmpint (vae, >, 0);
  ui_test_wait (100);
  g_assert_false (combo_lists (canvas, vae, "vae_name", extra_name));
  g_assert_true (rl_canvas_get_show_grid (canvas));

  /* Ctrl+comma opens the preferences. */
  real_keys (GTK_WIDGET (window), "ctrl+comma");
  ui_test_wait (400);
  prefs = find_preferences_window ();
  g_assert_nonnull (prefs);

  /* A folder that does not exist is refused and named. */
  row = rl_preferences_window_get_add_folder_row (prefs);
  type_into_row (row, missing);
  g_assert_true (gtk_widget_has_css_class (row, "error"));
  folders = g_settings_get_strv (settings, "model-folders");
  g_assert_cmpuint (g_strv_length (folders), ==, 0);
  g_clear_pointer (&folders, g_strfreev);
  gtk_editable_set_text (GTK_EDITABLE (row), "");

  /* An extra model folder: listed, stored, and its files in the open
   * tab's combos at once. */
  type_into_row (row, extra);
  folders = g_settings_get_strv (settings, "model-folders");
  g_assert_cmpuint (g_strv_length (folders), ==, 1);
  g_assert_cmpstr (folders[0], ==, extra);
  g_assert_cmpuint (rl_preferences_window_get_n_folder_rows (prefs), ==, 1);
  g_assert_false (gtk_widget_has_css_class (row, "error"));
  g_assert_true (combo_lists (canvas, vae, "vae_name", extra_name));
  g_assert_false (combo_lists (canvas, vae, "vae_name", comfy_name));

  /* An existing ComfyUI installation: its models/ folder too. */
  type_into_row (rl_preferences_window_get_comfyui_row (prefs), comfyui);
  {
    g_autofree char *stored = g_settings_get_string (settings, "comfyui-folder");

    g_assert_cmpstr (stored, ==, comfyui);
  }
  g_assert_true (combo_lists (canvas, vae, "vae_name", comfy_name));
  g_assert_true (combo_lists (canvas, vae, "vae_name", extra_name));
  g_free (ui_test_screenshot (GTK_WIDGET (prefs), "preferences-models"));

  /* The canvas page: Show Grid off with a real click on its switch. */
  adw_preferences_window_set_visible_page_name (ADW_PREFERENCES_WINDOW (prefs), NULL);
  {
    GtkWidget *toggle = rl_preferences_window_get_show_grid_switch (prefs);
    GtkWidget *page = gtk_widget_get_ancestor (toggle, ADW_TYPE_PREFERENCES_PAGE);

    adw_preferences_window_set_visible_page (ADW_PREFERENCES_WINDOW (prefs), ADW_PREFERENCES_PAGE (page));
    ui_test_wait (300);
    real_click (toggle, gtk_widget_get_width (toggle) / 2.0, gtk_widget_get_height (toggle) / 2.0);
    ui_test_wait (100);
    g_assert_false (g_settings_get_boolean (settings, "show-grid"));
    g_assert_false (rl_canvas_get_show_grid (canvas));
    shot = ui_test_screenshot (GTK_WIDGET (prefs), "preferences");
    ui_test_wait (500);   /* not a double click */
    real_click (toggle, gtk_widget_get_width (toggle) / 2.0, gtk_widget_get_height (toggle) / 2.0);
    ui_test_wait (100);
    g_assert_true (rl_canvas_get_show_grid (canvas));
    g_assert_true (g_settings_get_boolean (settings, "show-grid"));

    /* Snap to Grid there is the same setting as the menu's toggle. */
    toggle = rl_preferences_window_get_snap_switch (prefs);
    g_assert_false (rl_canvas_get_snap_to_grid (canvas));
    ui_test_wait (500);
    real_click (toggle, gtk_widget_get_width (toggle) / 2.0, gtk_widget_get_height (toggle) / 2.0);
    ui_test_wait (100);
    g_assert_true (rl_canvas_get_snap_to_grid (canvas));
    g_settings_reset (settings, "snap-to-grid");
    ui_test_wait (50);
    g_assert_false (rl_canvas_get_snap_to_grid (canvas));
  }

  /* The folder's remove button (a real click) takes its files away; so
   * does clearing the ComfyUI folder. */
  adw_preferences_window_set_visible_page (ADW_PREFERENCES_WINDOW (prefs), ADW_PREFERENCES_PAGE (
                                             gtk_widget_get_ancestor (rl_preferences_window_get_add_folder_row (prefs),
                                                                      ADW_TYPE_PREFERENCES_PAGE)));
  ui_test_wait (300);
  {
    GtkWidget *remove = find_button_with_tooltip (GTK_WIDGET (prefs), "Remove this folder");

    g_assert_nonnull (remove);
    real_click (remove, gtk_widget_get_width (remove) / 2.0, gtk_widget_get_height (remove) / 2.0);
    ui_test_wait (100);
  }
  g_clear_pointer (&folders, g_strfreev);
  folders = g_settings_get_strv (settings, "model-folders");
  g_assert_cmpuint (g_strv_length (folders), ==, 0);
  g_assert_cmpuint (rl_preferences_window_get_n_folder_rows (prefs), ==, 0);
  g_assert_false (combo_lists (canvas, vae, "vae_name", extra_name));
  g_assert_true (combo_lists (canvas, vae, "vae_name", comfy_name));
  g_settings_set_string (settings, "comfyui-folder", "");
  ui_test_wait (50);
  g_assert_false (combo_lists (canvas, vae, "vae_name", extra_name));
  g_assert_false (combo_lists (canvas, vae, "vae_name", comfy_name));
  g_settings_reset (settings, "show-grid");

  gtk_window_destroy (GTK_WINDOW (prefs));
  gtk_window_destroy (GTK_WINDOW (window));
  g_unlink (extra_file);
  g_unlink (comfy_file);
}

/* Widget point of @widget's centre in @canvas's coordinates. */
static graphene_point_t
centre_in (GtkWidget *widget,
           RlCanvas  *canvas)
{
  graphene_point_t point;

  g_assert_true (gtk_widget_compute_point (widget, GTK_WIDGET (canvas),
                                           &GRAPHENE_POINT_INIT (gtk_widget_get_width (widget) / 2.0,
                                                                 gtk_widget_get_height (widget) / 2.0),
                                           &point));
  return point;
}

/* Ctrl held, right button dragged from (@x1, @y1) to (@x2, @y2) of @canvas. */
static void
real_ctrl_right_drag (RlCanvas *canvas,
                      double    x1,
                      double    y1,
                      double    x2,
                      double    y2)
{
  int wx1, wy1, wx2, wy2;
  gulong xid;
  g_autofree char *args = NULL;

  ui_test_point_in_window (GTK_WIDGET (canvas), x1, y1, &wx1, &wy1, &xid);
  ui_test_point_in_window (GTK_WIDGET (canvas), x2, y2, &wx2, &wy2, &xid);
  args = g_strdup_printf ("windowfocus --sync %lu mousemove --window %lu %d %d keydown ctrl mousedown 3 "
                          "mousemove --window %lu %d %d mousemove --window %lu %d %d "
                          "mouseup 3 keyup ctrl",
                          xid, xid, wx1, wy1, xid, (wx1 + wx2) / 2, (wy1 + wy2) / 2, xid, wx2, wy2);
  xdotool (args);
}

static gboolean
has_link (RlWorkflow *workflow,
          gint64      origin,
          gint64      target)
{
  for (guint i = 0; i < rl_workflow_get_n_links (workflow); i++)
    {
      RlWorkflowLink link;

      if (rl_workflow_get_link (workflow, i, &link) && link.origin_id == origin && link.target_id == target)
        return TRUE;
    }
  return FALSE;
}

static void
test_cut_wires (void)
{
  g_autofree char *path = source_path ("data/workflows/default.json");
  g_autoptr(GRand) rand = g_rand_new_with_seed (ui_test_seed ());
  g_autoptr(GError) error = NULL;
  g_autofree char *before = NULL;
  RlWindow *window;
  RlCanvas *canvas;
  RlWorkflow *workflow;
  graphene_point_t out, in_a, in_b, in_c;
  double x, y, top, bottom, cut_x;
  gint64 second;

  if (!ui_test_have_x11 ())
    return;
  window = ui_test_new_window ();
  gtk_widget_activate_action (GTK_WIDGET (window), "win.open-template", "s", path);
  ui_test_wait (150);
  canvas = rl_workflow_page_get_canvas (rl_window_get_current_page (window));
  workflow = rl_canvas_get_workflow (canvas);
  /* Test pattern (1) feeds Create Video (2), which feeds Save Video (3);
   * a second Create Video below (2) gets the pattern too. */
  g_assert_true (rl_workflow_node_get_pos (workflow, 2, &x, &y));
  second = rl_canvas_add_node (canvas, "CreateVideo", x, y + 260 + g_rand_int_range (rand, 0, 80), &error);
  g_assert_no_error (error);
  g_assert_true (rl_canvas_connect (canvas, 1, 0, second, 0, &error));
  g_assert_no_error (error);
  ui_test_wait (150);
  workflow = rl_canvas_get_workflow (canvas);
  g_assert_true (has_link (workflow, 1, 2) && has_link (workflow, 1, second) && has_link (workflow, 2, 3));
  before = prompt_of (workflow);

  out = centre_in (socket_widget (canvas, 1, RL_SOCKET_OUTPUT, 0), canvas);
  in_a = centre_in (socket_widget (canvas, 2, RL_SOCKET_INPUT, 0), canvas);
  in_b = centre_in (socket_widget (canvas, second, RL_SOCKET_INPUT, 0), canvas);
  in_c = centre_in (socket_widget (canvas, 3, RL_SOCKET_INPUT, 0), canvas);
  g_assert_cmpfloat (in_a.x - out.x, >, 30);
  cut_x = out.x + (MIN (in_a.x, in_b.x) - out.x) * g_rand_double_range (rand, 0.35, 0.65);
  top = MIN (out.y, MIN (in_a.y, in_b.y)) - 30;
  bottom = MAX (out.y, MAX (in_a.y, in_b.y)) + 30;
  g_assert_cmpfloat (cut_x, <, in_c.x);

  /* One line across both wires from the pattern removes both, and only
   * them. */
  real_ctrl_right_drag (canvas, cut_x, top, cut_x + 6, bottom);
  workflow = rl_canvas_get_workflow (canvas);
  g_assert_false (has_link (workflow, 1, 2));
  g_assert_false (has_link (workflow, 1, second));
  g_assert_true (has_link (workflow, 2, 3));
  g_assert_cmpuint (rl_workflow_get_n_links (workflow), ==, 1);
  g_free (ui_test_screenshot (GTK_WIDGET (window), "cut-wires"));

  /* One undo step brings both back. */
  real_keys (GTK_WIDGET (window), "ctrl+z");
  workflow = rl_canvas_get_workflow (canvas);
  g_assert_true (has_link (workflow, 1, 2) && has_link (workflow, 1, second) && has_link (workflow, 2, 3));
  {
    g_autofree char *after = prompt_of (workflow);

    assert_same_json (after, before);
  }

  /* A line that crosses no wire changes nothing. */
  real_ctrl_right_drag (canvas, cut_x, bottom + 10, cut_x + 40, bottom + 50);
  g_assert_cmpuint (rl_workflow_get_n_links (rl_canvas_get_workflow (canvas)), ==, 3);

  /* Ctrl+right-click on the wire into Save Video cuts that one. */
  {
    graphene_point_t from = centre_in (socket_widget (canvas, 2, RL_SOCKET_OUTPUT, 0), canvas);

    g_assert_cmpfloat (fabs (from.y - in_c.y), <, 2);
    real_ctrl_right_drag (canvas, (from.x + in_c.x) / 2, in_c.y, (from.x + in_c.x) / 2, in_c.y);
  }
  workflow = rl_canvas_get_workflow (canvas);
  g_assert_false (has_link (workflow, 2, 3));
  g_assert_cmpuint (rl_workflow_get_n_links (workflow), ==, 2);
  gtk_window_destroy (GTK_WINDOW (window));
}

static const char *
node_string (RlWorkflow *workflow,
             gint64      node_id,
             const char *member)
{
  return json_object_get_string_member_with_default (rl_workflow_lookup_node (workflow, node_id), member, NULL);
}

static void
test_node_colors (void)
{
  g_autofree char *path = source_path ("data/workflows/default.json");
  g_autofree char *dir = g_dir_make_tmp ("rl-colors-XXXXXX", NULL);
  g_autofree char *saved_path = g_build_filename (dir, "colored.json", NULL);
  g_autoptr(GFile) saved = g_file_new_for_path (saved_path);
  g_autoptr(GRand) rand = g_rand_new_with_seed (ui_test_seed ());
  static const struct { const char *label, *color, *bgcolor; } choices[] = {
    { "Red", "#322", "#533" }, { "Brown", "#332922", "#593930" }, { "Green", "#232", "#353" },
    { "Blue", "#223", "#335" }, { "Pale Blue", "#2a363b", "#3f5159" }, { "Cyan", "#233", "#355" },
    { "Purple", "#323", "#535" }, { "Yellow", "#432", "#653" }, { "Black", "#222", "#000" },
  };
  guint pick = g_rand_int_range (rand, 0, G_N_ELEMENTS (choices));
  gint64 node_id = g_rand_int_range (rand, 1, 4);
  RlWindow *window;
  RlWorkflowPage *page;
  RlCanvas *canvas;
  GtkWidget *title, *menu, *item;
  int wx, wy;
  gulong xid;

  if (!ui_test_have_x11 ())
    return;
  g_test_message ("colour %s on node %" G_GINT64_FORMAT, choices[pick].label, node_id);
  window = ui_test_new_window ();
  gtk_widget_activate_action (GTK_WIDGET (window), "win.open-template", "s", path);
  ui_test_wait (150);
  page = rl_window_get_current_page (window);
  canvas = rl_workflow_page_get_canvas (page);
  g_assert_null (node_string (rl_canvas_get_workflow (canvas), node_id, "color"));

  /* A right-click on the title opens the node menu; a click on a colour
   * sets it. */
  title = rl_node_widget_get_title_label (rl_canvas_get_node_widget (canvas, node_id));
  ui_test_point_in_window (title, 10, gtk_widget_get_height (title) / 2.0, &wx, &wy, &xid);
  {
    g_autofree char *args = g_strdup_printf ("windowfocus --sync %lu mousemove --window %lu %d %d click 3",
                                             xid, xid, wx, wy);

    xdotool (args);
  }
  ui_test_wait (200);
  menu = rl_canvas_get_node_menu (canvas);
  g_assert_nonnull (menu);
  g_assert_true (gtk_widget_get_visible (menu));
  item = ui_test_find_label (menu, choices[pick].label);
  g_assert_nonnull (item);
  real_click (item, gtk_widget_get_width (item) / 2.0, gtk_widget_get_height (item) / 2.0);
  ui_test_wait (100);
  g_assert_cmpstr (node_string (rl_canvas_get_workflow (canvas), node_id, "color"), ==, choices[pick].color);
  g_assert_cmpstr (node_string (rl_canvas_get_workflow (canvas), node_id, "bgcolor"), ==, choices[pick].bgcolor);
  g_free (ui_test_screenshot (GTK_WIDGET (window), "node-colors"));

  /* One undo step each way. */
  real_keys (GTK_WIDGET (window), "ctrl+z");
  g_assert_null (node_string (rl_canvas_get_workflow (canvas), node_id, "color"));
  g_assert_null (node_string (rl_canvas_get_workflow (canvas), node_id, "bgcolor"));
  real_keys (GTK_WIDGET (window), "ctrl+shift+z");
  g_assert_cmpstr (node_string (rl_canvas_get_workflow (canvas), node_id, "bgcolor"), ==, choices[pick].bgcolor);

  /* Saved with the workflow. */
  g_assert_true (rl_workflow_page_save (page, saved, NULL));
  {
    g_autoptr(RlWorkflow) reopened = rl_workflow_load_file (saved_path, NULL);

    g_assert_nonnull (reopened);
    g_assert_cmpstr (node_string (reopened, node_id, "color"), ==, choices[pick].color);
    g_assert_cmpstr (node_string (reopened, node_id, "bgcolor"), ==, choices[pick].bgcolor);
  }

  /* Shift+F10 opens the selected node's menu without the mouse; its "No
   * Colour" takes the colours away again. */
  rl_canvas_select (canvas, node_id, FALSE);
  gtk_widget_grab_focus (GTK_WIDGET (canvas));
  gtk_popover_popdown (GTK_POPOVER (rl_canvas_get_node_menu (canvas)));
  ui_test_wait (100);
  g_assert_false (gtk_widget_get_visible (rl_canvas_get_node_menu (canvas)));
  real_keys (GTK_WIDGET (window), "shift+F10");
  ui_test_wait (200);
  g_assert_true (gtk_widget_get_visible (rl_canvas_get_node_menu (canvas)));
  item = ui_test_find_label (rl_canvas_get_node_menu (canvas), "No Colour");
  g_assert_nonnull (item);
  real_click (item, gtk_widget_get_width (item) / 2.0, gtk_widget_get_height (item) / 2.0);
  ui_test_wait (100);
  g_assert_null (node_string (rl_canvas_get_workflow (canvas), node_id, "color"));
  g_assert_false (rl_canvas_set_node_color (canvas, node_id, "magenta"));
  gtk_window_destroy (GTK_WINDOW (window));
  g_unlink (saved_path);
  g_rmdir (dir);
}

static void
test_snap_and_reroutes (void)
{
  g_autofree char *path = source_path ("data/workflows/default.json");
  g_autoptr(GPtrArray) states = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GRand) rand = g_rand_new_with_seed (ui_test_seed ());
  GSettings *settings = rl_application_get_settings (ui_test_get_app ());
  g_autofree char *dir = NULL, *saved_path = NULL, *original_prompt = NULL;
  g_autoptr(GFile) saved = NULL;
  RlWindow *window;
  RlWorkflowPage *page;
  RlCanvas *canvas;
  RlWorkflowLink link;
  double x0, y0, x, y;
  gint64 first, second;

  if (!ui_test_have_x11 ())
    return;
  g_assert_nonnull (settings);
  g_assert_false (g_settings_get_boolean (settings, "snap-to-grid"));
  window = ui_test_new_window ();
  gtk_widget_activate_action (GTK_WIDGET (window), "win.open-template", "s", path);
  ui_test_wait (150);
  page = rl_window_get_current_page (window);
  canvas = rl_workflow_page_get_canvas (page);
  original_prompt = prompt_of (rl_canvas_get_workflow (canvas));
  g_assert_false (rl_canvas_get_snap_to_grid (canvas));

  /* The primary menu's toggle, opened with F10 and chosen by its
   * mnemonic: every canvas snaps, and it is remembered. */
  toggle_snap_from_menu (window);
  g_assert_true (rl_canvas_get_snap_to_grid (canvas));
  g_assert_true (g_settings_get_boolean (settings, "snap-to-grid"));
  {
    RlWindow *other = ui_test_new_window ();

    g_assert_true (rl_canvas_get_snap_to_grid (rl_workflow_page_get_canvas (rl_window_new_page (other))));
    gtk_window_destroy (GTK_WINDOW (other));
  }

  /* A node dragged by its title lands on the grid; one undo step. */
  RECORD ();
  {
    GtkWidget *node = GTK_WIDGET (rl_canvas_get_node_widget (canvas, 3));
    double dx = 30 + g_rand_int_range (rand, 1, 19), dy = 140 + g_rand_int_range (rand, 1, 19);

    g_assert_true (rl_workflow_node_get_pos (rl_canvas_get_workflow (canvas), 3, &x0, &y0));
    real_drag (node, gtk_widget_get_width (node) / 2.0, 10, node, gtk_widget_get_width (node) / 2.0 + dx, 10 + dy);
    g_assert_true (rl_workflow_node_get_pos (rl_canvas_get_workflow (canvas), 3, &x, &y));
    g_test_message ("node moved from %g,%g to %g,%g", x0, y0, x, y);
    g_assert_true (on_grid (x) && on_grid (y));
    g_assert_cmpfloat (fabs (x - (x0 + dx)), <=, 10.5);
    g_assert_cmpfloat (fabs (y - (y0 + dy)), <=, 10.5);
  }
  RECORD ();

  /* Alt+click on the wire's middle adds a reroute point there. */
  g_assert_true (rl_workflow_get_link (rl_canvas_get_workflow (canvas), 0, &link));
  {
    graphene_point_t a = socket_point (canvas, link.origin_id, RL_SOCKET_OUTPUT, link.origin_slot);
    graphene_point_t b = socket_point (canvas, link.target_id, RL_SOCKET_INPUT, link.target_slot);

    real_alt_click (GTK_WIDGET (canvas), (a.x + b.x) / 2, (a.y + b.y) / 2);
  }
  g_assert_cmpuint (rl_canvas_get_n_reroutes (canvas), ==, 1);
  {
    g_autoptr(GArray) chain = rl_canvas_get_link_reroutes (canvas, link.id);

    g_assert_cmpuint (chain->len, ==, 1);
    first = g_array_index (chain, gint64, 0);
  }
  RECORD ();

  /* Dragged down, it lands on the grid. */
  {
    graphene_point_t at = reroute_point (canvas, first);
    double dy = 180 + g_rand_int_range (rand, 1, 19);

    real_drag (GTK_WIDGET (canvas), at.x, at.y, GTK_WIDGET (canvas), at.x, at.y + dy);
    g_assert_true (rl_canvas_get_reroute_position (canvas, first, &x, &y));
    g_assert_true (on_grid (x) && on_grid (y));
    g_assert_cmpfloat (y, >, 150);
  }
  RECORD ();

  /* A second point on the piece between the origin and the first. */
  {
    graphene_point_t a = socket_point (canvas, link.origin_id, RL_SOCKET_OUTPUT, link.origin_slot);
    graphene_point_t b = reroute_point (canvas, first);

    real_alt_click (GTK_WIDGET (canvas), (a.x + b.x) / 2, (a.y + b.y) / 2);
  }
  g_assert_cmpuint (rl_canvas_get_n_reroutes (canvas), ==, 2);
  {
    g_autoptr(GArray) chain = rl_canvas_get_link_reroutes (canvas, link.id);

    g_assert_cmpuint (chain->len, ==, 2);
    second = g_array_index (chain, gint64, 0);
    g_assert_cmpint (g_array_index (chain, gint64, 1), ==, first);
  }
  RECORD ();
  g_free (ui_test_screenshot (GTK_WIDGET (window), "reroutes-edited"));

  /* Alt+click on the second deletes it: the wire goes through the first
   * only. Undo brings it back, redo removes it again. */
  {
    graphene_point_t at = reroute_point (canvas, second);

    real_alt_click (GTK_WIDGET (canvas), at.x, at.y);
  }
  assert_chain (canvas, link.id, 1, &first);
  g_assert_cmpuint (rl_canvas_get_n_reroutes (canvas), ==, 1);
  RECORD ();

  /* Every step back and forth with the keyboard. */
  gtk_widget_grab_focus (GTK_WIDGET (canvas));
  for (int i = (int) states->len - 2; i >= 0; i--)
    {
      g_autofree char *now = NULL;

      real_keys (GTK_WIDGET (window), "ctrl+z");
      now = rl_workflow_to_string (rl_canvas_get_workflow (canvas), FALSE);
      g_assert_cmpstr (now, ==, g_ptr_array_index (states, i));
    }
  g_assert_cmpuint (rl_canvas_get_n_reroutes (canvas), ==, 0);
  for (guint i = 1; i < states->len - 1; i++)
    {
      g_autofree char *now = NULL;

      real_keys (GTK_WIDGET (window), "ctrl+shift+z");
      now = rl_workflow_to_string (rl_canvas_get_workflow (canvas), FALSE);
      g_assert_cmpstr (now, ==, g_ptr_array_index (states, i));
    }
  {
    gint64 both[] = { second, first };

    assert_chain (canvas, link.id, 2, both);
  }

  /* Saved and reopened, the points are where they were; what runs is
   * unchanged. */
  dir = g_dir_make_tmp ("raylight-ui-XXXXXX", NULL);
  saved_path = g_build_filename (dir, "reroutes.json", NULL);
  saved = g_file_new_for_path (saved_path);
  g_assert_true (rl_workflow_page_save (page, saved, NULL));
  {
    RlCanvas *reopened = rl_workflow_page_get_canvas (open_in_window (window, saved));
    gint64 both[] = { second, first };
    g_autofree char *prompt = prompt_of (rl_canvas_get_workflow (reopened));

    g_assert_true (reopened != canvas);
    assert_chain (reopened, link.id, 2, both);
    for (guint i = 0; i < 2; i++)
      {
        double rx, ry;

        g_assert_true (rl_canvas_get_reroute_position (canvas, both[i], &x, &y));
        g_assert_true (rl_canvas_get_reroute_position (reopened, both[i], &rx, &ry));
        g_assert_cmpfloat (x, ==, rx);
        g_assert_cmpfloat (y, ==, ry);
      }
    assert_same_json (prompt, original_prompt);
  }
  g_unlink (saved_path);
  g_rmdir (dir);

  toggle_snap_from_menu (window);
  g_assert_false (g_settings_get_boolean (settings, "snap-to-grid"));
  g_assert_false (rl_canvas_get_snap_to_grid (canvas));
  gtk_window_destroy (GTK_WINDOW (window));
}

static void
test_copy_paste_between_tabs (void)
{
  RlWindow *window = ui_test_new_window ();
  g_autofree char *path = source_path ("data/workflows/default.json");
  RlCanvas *first, *second;
  RlWorkflow *pasted;
  guint n_nodes = 0;

  if (!ui_test_have_x11 ())
    return;
  gtk_widget_activate_action (GTK_WIDGET (window), "win.open-template", "s", path);
  ui_test_wait (100);
  first = rl_workflow_page_get_canvas (rl_window_get_current_page (window));
  gtk_widget_grab_focus (GTK_WIDGET (first));
  real_keys (GTK_WIDGET (window), "ctrl+a");
  g_assert_cmpuint (rl_canvas_get_selection (first)->len, ==, 3);
  real_keys (GTK_WIDGET (window), "ctrl+c");

  second = rl_workflow_page_get_canvas (rl_window_new_page (window));
  ui_test_wait (100);
  gtk_widget_grab_focus (GTK_WIDGET (second));
  real_keys (GTK_WIDGET (window), "ctrl+v");
  for (int i = 0; i < 100 && n_nodes == 0; i++)
    {
      ui_test_wait (20);
      n_nodes = rl_workflow_get_n_nodes (rl_canvas_get_workflow (second));
    }
  pasted = rl_canvas_get_workflow (second);
  g_assert_cmpuint (rl_workflow_get_n_nodes (pasted), ==, 3);
  g_assert_cmpuint (rl_workflow_get_n_links (pasted), ==, 2);
  {
    g_autofree char *a = prompt_of (rl_canvas_get_workflow (first));
    g_autofree char *b = prompt_of (pasted);

    g_assert_cmpstr (a, ==, b);
  }
  g_assert_cmpint (adw_tab_view_get_n_pages (rl_window_get_tab_view (window)), ==, 2);
  g_free (ui_test_screenshot (GTK_WIDGET (window), "pasted-into-second-tab"));
  gtk_window_destroy (GTK_WINDOW (window));
}

static const char unknown_workflow[] =
  "{\"last_node_id\": 3, \"last_link_id\": 1, \"version\": 0.4, \"config\": {},"
  " \"groups\": [{\"title\": \"Sources\", \"bounding\": [20, -20, 360, 460], \"color\": \"#3f789e\"}],"
  " \"extra\": {\"ds\": {\"scale\": 1, \"offset\": [0, 0]}, \"custom_field\": [1, 2, 3]},"
  " \"nodes\": ["
  "  {\"id\": 1, \"type\": \"RaylightTestPattern\", \"pos\": [40, 40], \"size\": [320, 200],"
  "   \"flags\": {}, \"order\": 0, \"mode\": 0, \"inputs\": [],"
  "   \"outputs\": [{\"name\": \"IMAGE\", \"type\": \"IMAGE\", \"links\": [1], \"slot_index\": 0}],"
  "   \"widgets_values\": [512, 288, 49, \"bars\", 7, \"fixed\"]},"
  "  {\"id\": 2, \"type\": \"VHS_VideoCombineNotInstalled\", \"pos\": [420, 40], \"size\": [300, 160],"
  "   \"flags\": {}, \"order\": 1, \"mode\": 0, \"color\": \"#223\", \"bgcolor\": \"#335\","
  "   \"inputs\": [{\"name\": \"images\", \"type\": \"IMAGE\", \"link\": 1}],"
  "   \"outputs\": [{\"name\": \"Filenames\", \"type\": \"VHS_FILENAMES\", \"links\": null}],"
  "   \"properties\": {\"Node name for S&R\": \"VHS_VideoCombine\"},"
  "   \"widgets_values\": {\"frame_rate\": 8, \"format\": \"video/h264-mp4\", \"pingpong\": false}},"
  "  {\"id\": 3, \"type\": \"Note\", \"pos\": [420, 260], \"size\": [300, 100], \"flags\": {},"
  "   \"order\": 2, \"mode\": 0, \"inputs\": [], \"outputs\": [], \"properties\": {},"
  "   \"widgets_values\": [\"A note the editor keeps.\"]}"
  " ],"
  " \"links\": [[1, 1, 0, 2, 0, \"IMAGE\"]]}";

static void
test_unknown_node_type (void)
{
  RlWindow *window = ui_test_new_window ();
  g_autofree char *dir = g_dir_make_tmp ("raylight-ui-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "unknown.json", NULL);
  g_autofree char *copy_path = g_build_filename (dir, "unknown-saved.json", NULL);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFile) copy = g_file_new_for_path (copy_path);
  RlWorkflowPage *page;
  RlCanvas *canvas;
  RlNodeWidget *placeholder;

  g_assert_true (g_file_set_contents (path, unknown_workflow, -1, NULL));
  page = open_in_window (window, file);
  canvas = rl_workflow_page_get_canvas (page);
  placeholder = rl_canvas_get_node_widget (canvas, 2);
  g_assert_nonnull (placeholder);
  g_assert_true (rl_node_widget_is_placeholder (placeholder));
  g_assert_true (gtk_widget_has_css_class (GTK_WIDGET (placeholder), "missing"));
  g_assert_false (rl_node_widget_is_placeholder (rl_canvas_get_node_widget (canvas, 1)));
  g_assert_nonnull (strstr (rl_window_get_last_toast (window), "VHS_VideoCombineNotInstalled"));
  /* A Note is drawn by the frontend in ComfyUI: shown, not "missing". */
  g_assert_null (strstr (rl_window_get_last_toast (window), "Note"));
  g_assert_false (gtk_widget_has_css_class (GTK_WIDGET (rl_canvas_get_node_widget (canvas, 3)), "missing"));
  /* Its socket is there, so its wire is drawn. */
  g_assert_nonnull (rl_node_widget_get_socket (placeholder, RL_SOCKET_INPUT, 0));
  g_free (ui_test_screenshot (GTK_WIDGET (window), "unknown-node-type"));

  /* Saved unchanged: the whole document comes back as it was. */
  g_assert_true (rl_workflow_page_save (page, copy, NULL));
  {
    g_autoptr(JsonParser) original = json_parser_new ();
    g_autoptr(JsonParser) saved = json_parser_new ();

    g_assert_true (json_parser_load_from_data (original, unknown_workflow, -1, NULL));
    g_assert_true (json_parser_load_from_file (saved, copy_path, NULL));
    g_assert_true (json_node_equal (json_parser_get_root (original), json_parser_get_root (saved)));
  }
  g_unlink (path);
  g_unlink (copy_path);
  g_rmdir (dir);
  gtk_window_destroy (GTK_WINDOW (window));
}

static void
test_validation_error (void)
{
  RlWindow *window = ui_test_new_window ();
  g_autofree char *path = source_path ("data/workflows/default.json");
  RlCanvas *canvas;
  RlNodeWidget *save;
  GtkWidget *video_socket;

  gtk_widget_activate_action (GTK_WIDGET (window), "win.open-template", "s", path);
  ui_test_wait (100);
  canvas = rl_workflow_page_get_canvas (rl_window_get_current_page (window));
  rl_canvas_validate_now (canvas);
  g_assert_cmpuint (rl_canvas_get_issues (canvas)->len, ==, 0);
  g_assert_cmpuint (rl_node_widget_get_n_issues (rl_canvas_get_node_widget (canvas, 3)), ==, 0);

  /* Cut the wire into SaveVideo: its required input is now missing. */
  g_assert_true (rl_canvas_disconnect_input (canvas, 3, 0));
  rl_canvas_validate_now (canvas);
  g_assert_cmpuint (rl_canvas_get_issues (canvas)->len, >=, 1);
  save = rl_canvas_get_node_widget (canvas, 3);
  g_assert_cmpuint (rl_node_widget_get_n_issues (save), >=, 1);
  g_assert_true (gtk_widget_has_css_class (GTK_WIDGET (save), "has-issues"));
  video_socket = GTK_WIDGET (rl_node_widget_get_socket (save, RL_SOCKET_INPUT, 0));
  g_assert_true (gtk_widget_has_css_class (gtk_widget_get_parent (video_socket), "input-issue"));
  g_assert_cmpuint (rl_node_widget_get_n_issues (rl_canvas_get_node_widget (canvas, 1)), ==, 0);
  g_free (ui_test_screenshot (GTK_WIDGET (window), "validation-error"));

  /* Undo brings the wire back and the error goes. */
  g_assert_true (rl_canvas_undo (canvas));
  rl_canvas_validate_now (canvas);
  g_assert_cmpuint (rl_canvas_get_issues (canvas)->len, ==, 0);
  g_assert_false (gtk_widget_has_css_class (GTK_WIDGET (rl_canvas_get_node_widget (canvas, 3)), "has-issues"));
  gtk_window_destroy (GTK_WINDOW (window));
}

static void
test_edit_commands (void)
{
  RlWindow *window = ui_test_new_window ();
  g_autofree char *path = source_path ("data/workflows/default.json");
  RlCanvas *canvas;
  RlWorkflow *workflow;
  g_autoptr(GArray) selection = NULL;

  if (!ui_test_have_x11 ())
    return;
  gtk_widget_activate_action (GTK_WIDGET (window), "win.open-template", "s", path);
  ui_test_wait (100);
  canvas = rl_workflow_page_get_canvas (rl_window_get_current_page (window));
  gtk_widget_grab_focus (GTK_WIDGET (canvas));

  rl_canvas_select (canvas, 2, FALSE);
  real_keys (GTK_WIDGET (window), "ctrl+m");
  g_assert_cmpint (rl_workflow_node_get_mode (rl_canvas_get_workflow (canvas), 2), ==, 2);
  real_keys (GTK_WIDGET (window), "ctrl+b");
  g_assert_cmpint (rl_workflow_node_get_mode (rl_canvas_get_workflow (canvas), 2), ==, 4);
  real_keys (GTK_WIDGET (window), "ctrl+b");
  g_assert_cmpint (rl_workflow_node_get_mode (rl_canvas_get_workflow (canvas), 2), ==, 0);

  real_keys (GTK_WIDGET (window), "ctrl+d");
  workflow = rl_canvas_get_workflow (canvas);
  g_assert_cmpuint (rl_workflow_get_n_nodes (workflow), ==, 4);
  g_assert_cmpstr (rl_workflow_node_get_type (workflow, rl_workflow_get_node_id (workflow, 3)), ==, "CreateVideo");
  selection = rl_canvas_get_selection (canvas);
  g_assert_cmpuint (selection->len, ==, 1);
  g_assert_cmpint (g_array_index (selection, gint64, 0), ==, rl_workflow_get_node_id (workflow, 3));

  real_keys (GTK_WIDGET (window), "Delete");
  g_assert_cmpuint (rl_workflow_get_n_nodes (rl_canvas_get_workflow (canvas)), ==, 3);
  rl_canvas_select (canvas, 2, FALSE);
  real_keys (GTK_WIDGET (window), "Delete");
  workflow = rl_canvas_get_workflow (canvas);
  g_assert_cmpuint (rl_workflow_get_n_nodes (workflow), ==, 2);
  g_assert_cmpuint (rl_workflow_get_n_links (workflow), ==, 0);
  real_keys (GTK_WIDGET (window), "ctrl+z");
  g_assert_cmpuint (rl_workflow_get_n_links (rl_canvas_get_workflow (canvas)), ==, 2);

  /* Dragging a connected input away detaches it. */
  {
    GtkWidget *input = socket_widget (canvas, 3, RL_SOCKET_INPUT, 0);

    real_drag (input, 7, 7, GTK_WIDGET (canvas), gtk_widget_get_width (GTK_WIDGET (canvas)) - 20,
               gtk_widget_get_height (GTK_WIDGET (canvas)) - 20);
    g_assert_cmpuint (rl_workflow_get_n_links (rl_canvas_get_workflow (canvas)), ==, 1);
    /* Dropped on empty space: the search opened for VIDEO consumers. */
    g_assert_true (gtk_widget_get_visible (GTK_WIDGET (rl_canvas_get_search (canvas))));
    {
      g_autoptr(GPtrArray) results = rl_node_search_list_results (rl_canvas_get_search (canvas));

      g_assert_cmpuint (results->len, >, 0);
      for (guint i = 0; i < results->len; i++)
        g_assert_cmpstr (g_ptr_array_index (results, i), !=, "RaylightTestPattern");
    }
    gtk_popover_popdown (GTK_POPOVER (rl_canvas_get_search (canvas)));
  }

  /* Ctrl+L on SaveVideo offers CreateVideo's VIDEO for its free input;
   * Return connects it. (SaveVideo's input was detached above.) */
  rl_canvas_select (canvas, 3, FALSE);
  gtk_widget_grab_focus (GTK_WIDGET (canvas));
  real_keys (GTK_WIDGET (window), "ctrl+l");
  {
    GtkListBox *list = rl_canvas_get_connect_list (canvas);
    GtkListBoxRow *row;

    g_assert_nonnull (list);
    row = gtk_list_box_get_row_at_index (list, 0);
    g_assert_nonnull (row);
    g_assert_null (gtk_list_box_get_row_at_index (list, 1));
    g_assert_true (gtk_widget_has_focus (GTK_WIDGET (row)));
    real_keys (GTK_WIDGET (window), "Return");
    g_assert_cmpuint (rl_workflow_get_n_links (rl_canvas_get_workflow (canvas)), ==, 2);
  }

  /* Ctrl+right-click on the middle of that wire cuts it. */
  {
    GtkWidget *from = socket_widget (canvas, 2, RL_SOCKET_OUTPUT, 0);
    GtkWidget *to = socket_widget (canvas, 3, RL_SOCKET_INPUT, 0);
    graphene_point_t a, b;
    int wx, wy;
    gulong xid;
    g_autofree char *args = NULL;

    g_assert_true (gtk_widget_compute_point (from, GTK_WIDGET (canvas), &GRAPHENE_POINT_INIT (7, 7), &a));
    g_assert_true (gtk_widget_compute_point (to, GTK_WIDGET (canvas), &GRAPHENE_POINT_INIT (7, 7), &b));
    /* A wire's cubic is symmetric: its middle is halfway between its ends. */
    ui_test_point_in_window (GTK_WIDGET (canvas), (a.x + b.x) / 2, (a.y + b.y) / 2, &wx, &wy, &xid);
    args = g_strdup_printf ("mousemove --window %lu %d %d keydown ctrl click 3 keyup ctrl", xid, wx, wy);
    xdotool (args);
    g_assert_cmpuint (rl_workflow_get_n_links (rl_canvas_get_workflow (canvas)), ==, 1);
    real_keys (GTK_WIDGET (window), "ctrl+z");
    g_assert_cmpuint (rl_workflow_get_n_links (rl_canvas_get_workflow (canvas)), ==, 2);
  }

  /* F2 renames; Alt+C collapses to the title and back. */
  rl_canvas_select (canvas, 2, FALSE);
  gtk_widget_grab_focus (GTK_WIDGET (canvas));
  real_keys (GTK_WIDGET (window), "F2");
  {
    GtkWidget *entry = rl_canvas_get_rename_entry (canvas);

    g_assert_nonnull (entry);
    g_assert_true (gtk_widget_get_mapped (entry));
    gtk_editable_set_text (GTK_EDITABLE (entry), "Frames to video");
    g_signal_emit_by_name (entry, "activate");
    ui_test_wait (50);
    g_assert_cmpstr (rl_workflow_node_get_title (rl_canvas_get_workflow (canvas), 2), ==, "Frames to video");
  }
  rl_canvas_select (canvas, 2, FALSE);
  {
    int expanded_height = gtk_widget_get_height (GTK_WIDGET (rl_canvas_get_node_widget (canvas, 2)));

    real_keys (GTK_WIDGET (window), "alt+c");
    ui_test_wait (50);
    g_assert_true (rl_node_widget_get_collapsed (rl_canvas_get_node_widget (canvas, 2)));
    g_assert_cmpint (gtk_widget_get_height (GTK_WIDGET (rl_canvas_get_node_widget (canvas, 2))), <, expanded_height);
    g_free (ui_test_screenshot (GTK_WIDGET (window), "collapsed-and-renamed"));
    real_keys (GTK_WIDGET (window), "alt+c");
    ui_test_wait (50);
    g_assert_false (rl_node_widget_get_collapsed (rl_canvas_get_node_widget (canvas, 2)));
  }

  /* Tab moves between nodes and selects the one it reaches. */
  rl_canvas_clear_selection (canvas);
  gtk_widget_grab_focus (GTK_WIDGET (canvas));
  real_keys (GTK_WIDGET (window), "Tab");
  {
    g_autoptr(GArray) focused = rl_canvas_get_selection (canvas);

    g_assert_cmpuint (focused->len, ==, 1);
    g_assert_true (gtk_widget_has_focus (GTK_WIDGET (rl_canvas_get_node_widget (canvas,
                                                                                 g_array_index (focused, gint64, 0)))));
  }

  /* Ctrl+G groups the selection; dragging the group's title bar moves the
   * group and its nodes; Ctrl+Z puts them back. */
  gtk_widget_grab_focus (GTK_WIDGET (canvas));
  real_keys (GTK_WIDGET (window), "ctrl+a");
  real_keys (GTK_WIDGET (window), "ctrl+g");
  g_assert_cmpuint (rl_workflow_get_n_groups (rl_canvas_get_workflow (canvas)), ==, 1);
  {
    double box[4], ox, oy, zoom = rl_canvas_get_zoom (canvas), x1 = 0, y1 = 0, x2 = 0, y2 = 0;
    RlWorkflow *before;

    g_assert_true (rl_workflow_get_group (rl_canvas_get_workflow (canvas), 0, NULL, box));
    rl_canvas_get_offset (canvas, &ox, &oy);
    before = rl_canvas_get_workflow (canvas);
    g_assert_true (rl_workflow_node_get_pos (before, 1, &x1, &y1));
    real_drag (GTK_WIDGET (canvas), ox + (box[0] + 20) * zoom, oy + (box[1] + 10) * zoom,
               GTK_WIDGET (canvas), ox + (box[0] + 20) * zoom + 100, oy + (box[1] + 10) * zoom + 50);
    g_assert_true (rl_workflow_node_get_pos (rl_canvas_get_workflow (canvas), 1, &x2, &y2));
    g_assert_cmpfloat_with_epsilon (x2 - x1, 100 / zoom, 2.0);
    g_assert_cmpfloat_with_epsilon (y2 - y1, 50 / zoom, 2.0);
    g_free (ui_test_screenshot (GTK_WIDGET (window), "group-moved"));
    real_keys (GTK_WIDGET (window), "ctrl+z");
    g_assert_true (rl_workflow_node_get_pos (rl_canvas_get_workflow (canvas), 1, &x2, &y2));
    g_assert_cmpfloat (x2, ==, x1);
    g_assert_cmpfloat (y2, ==, y1);
  }
  gtk_window_destroy (GTK_WINDOW (window));
}

static void
test_pan_and_zoom (void)
{
  RlWindow *window = ui_test_new_window ();
  g_autofree char *path = source_path ("data/workflows/default.json");
  g_autoptr(GRand) rand = g_rand_new_with_seed (ui_test_seed ());
  RlCanvas *canvas;

  gtk_widget_activate_action (GTK_WIDGET (window), "win.open-template", "s", path);
  ui_test_wait (100);
  canvas = rl_workflow_page_get_canvas (rl_window_get_current_page (window));
  for (int i = 0; i < 20; i++)
    {
      double px = g_rand_double_range (rand, 0, 800), py = g_rand_double_range (rand, 0, 600);
      double factor = g_rand_double_range (rand, 0.7, 1.4);
      double before_x, before_y, after_x, after_y;

      rl_canvas_widget_to_document (canvas, px, py, &before_x, &before_y);
      rl_canvas_zoom_at (canvas, factor, px, py);
      rl_canvas_widget_to_document (canvas, px, py, &after_x, &after_y);
      /* The point under the pointer stays put. */
      g_assert_cmpfloat_with_epsilon (before_x, after_x, 1e-6);
      g_assert_cmpfloat_with_epsilon (before_y, after_y, 1e-6);
      g_assert_cmpfloat (rl_canvas_get_zoom (canvas), >=, 0.1);
      g_assert_cmpfloat (rl_canvas_get_zoom (canvas), <=, 3.0);
    }
  rl_canvas_zoom_at (canvas, 0.001, 0, 0);
  g_assert_cmpfloat (rl_canvas_get_zoom (canvas), ==, 0.1);
  rl_canvas_fit_view (canvas);
  rl_canvas_zoom_at (canvas, 0.45, 400, 300);
  ui_test_wait (100);
  g_free (ui_test_screenshot (GTK_WIDGET (window), "zoomed-out"));
  /* A node's allocation follows the transform: zoomed, it is smaller on
   * screen than its own size. */
  {
    graphene_rect_t bounds;
    GtkWidget *node = GTK_WIDGET (rl_canvas_get_node_widget (canvas, 1));

    g_assert_true (gtk_widget_compute_bounds (node, GTK_WIDGET (canvas), &bounds));
    g_assert_cmpfloat (bounds.size.width, <, gtk_widget_get_width (node));
  }
  gtk_window_destroy (GTK_WINDOW (window));
}

/* PNG's CRC-32 (ISO 3309), bit by bit: a few hundred bytes here. */
static guint32
png_crc (const guint8 *data,
         gsize         length)
{
  guint32 crc = 0xffffffffu;

  for (gsize i = 0; i < length; i++)
    {
      crc ^= data[i];
      for (int k = 0; k < 8; k++)
        crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
  return crc ^ 0xffffffffu;
}

static void
append_be32 (GByteArray *array,
             guint32     value)
{
  guint8 bytes[4] = { value >> 24, value >> 16, value >> 8, value };

  g_byte_array_append (array, bytes, 4);
}

/* A small PNG carrying @workflow in a tEXt chunk named "workflow", as
 * ComfyUI's SaveImage writes it. */
static GBytes *
png_with_workflow (const char *workflow,
                   guint32     seed)
{
  guint8 pixels[4 * 4 * 4];
  g_autoptr(GBytes) pixel_bytes = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  g_autoptr(GBytes) png = NULL;
  g_autoptr(GByteArray) chunk = g_byte_array_new ();
  GByteArray *out = g_byte_array_new ();
  const guint8 *data;
  gsize length;

  for (guint i = 0; i < sizeof pixels; i++)
    pixels[i] = (guint8) (seed >> (i % 24));
  pixel_bytes = g_bytes_new (pixels, sizeof pixels);
  texture = gdk_memory_texture_new (4, 4, GDK_MEMORY_R8G8B8A8, pixel_bytes, 16);
  png = gdk_texture_save_to_png_bytes (texture);
  data = g_bytes_get_data (png, &length);
  g_assert_cmpuint (length, >, 12);

  g_byte_array_append (chunk, (const guint8 *) "tEXt", 4);
  g_byte_array_append (chunk, (const guint8 *) "workflow", 9);   /* keyword and its NUL */
  g_byte_array_append (chunk, (const guint8 *) workflow, strlen (workflow));
  /* Everything before IEND, then the tEXt chunk, then IEND. */
  g_byte_array_append (out, data, length - 12);
  append_be32 (out, chunk->len - 4);
  g_byte_array_append (out, chunk->data, chunk->len);
  append_be32 (out, png_crc (chunk->data, chunk->len));
  g_byte_array_append (out, data + length - 12, 12);
  return g_byte_array_free_to_bytes (out);
}

static void
test_open_png_with_workflow (void)
{
  RlWindow *window = ui_test_new_window ();
  g_autofree char *dir = g_dir_make_tmp ("raylight-ui-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "output_00001_.png", NULL);
  g_autofree char *default_path = source_path ("data/workflows/default.json");
  g_autofree char *workflow_text = NULL;
  g_autoptr(GBytes) png = NULL;
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(RlWorkflow) reference = NULL;
  RlCanvas *canvas;

  g_assert_true (g_file_get_contents (default_path, &workflow_text, NULL, NULL));
  png = png_with_workflow (workflow_text, ui_test_seed ());
  g_assert_true (g_file_set_contents (path, g_bytes_get_data (png, NULL), g_bytes_get_size (png), NULL));
  /* The window's drop handler opens dropped files with this call. */
  canvas = rl_workflow_page_get_canvas (open_in_window (window, file));
  reference = rl_workflow_load_file (default_path, NULL);
  assert_same_documents (rl_canvas_get_workflow (canvas), reference);

  /* A PNG without a workflow is refused with a message naming it. */
  {
    g_autofree char *plain_path = g_build_filename (dir, "plain.png", NULL);
    g_autoptr(GFile) plain = g_file_new_for_path (plain_path);
    g_autoptr(GdkTexture) texture = gdk_memory_texture_new (1, 1, GDK_MEMORY_R8G8B8A8,
                                                            g_bytes_new_static ("\1\2\3\4", 4), 4);

    g_assert_true (gdk_texture_save_to_png (texture, plain_path));
    g_assert_false (rl_window_open_file (window, plain));
    g_assert_nonnull (strstr (rl_window_get_last_toast (window), "plain.png"));
    g_unlink (plain_path);
  }
  g_unlink (path);
  g_rmdir (dir);
  gtk_window_destroy (GTK_WINDOW (window));
}

static const char reroute_workflow[] =
  "{\"id\": \"9d3c0b7e-1111-4222-8333-444455556666\", \"revision\": 0, \"version\": 1,"
  " \"state\": {\"lastNodeId\": 2, \"lastLinkId\": 1, \"lastGroupId\": 0, \"lastRerouteId\": 2},"
  " \"nodes\": ["
  "  {\"id\": 1, \"type\": \"RaylightTestPattern\", \"pos\": [0, 0], \"size\": [320, 200], \"flags\": {},"
  "   \"order\": 0, \"mode\": 0, \"inputs\": [],"
  "   \"outputs\": [{\"name\": \"IMAGE\", \"type\": \"IMAGE\", \"links\": [1]}],"
  "   \"widgets_values\": [256, 256, 9, \"gradient\", 3, \"fixed\"]},"
  "  {\"id\": 2, \"type\": \"CreateVideo\", \"pos\": [700, 300], \"size\": [270, 80], \"flags\": {},"
  "   \"order\": 1, \"mode\": 0,"
  "   \"inputs\": [{\"name\": \"images\", \"type\": \"IMAGE\", \"link\": 1},"
  "                {\"name\": \"audio\", \"type\": \"AUDIO\", \"link\": null}],"
  "   \"outputs\": [{\"name\": \"VIDEO\", \"type\": \"VIDEO\", \"links\": []}],"
  "   \"widgets_values\": [24]}"
  " ],"
  " \"links\": [{\"id\": 1, \"origin_id\": 1, \"origin_slot\": 0, \"target_id\": 2, \"target_slot\": 0,"
  "              \"type\": \"IMAGE\", \"parentId\": 2}],"
  " \"reroutes\": [{\"id\": 1, \"pos\": [450, 80], \"linkIds\": [1]},"
  "               {\"id\": 2, \"parentId\": 1, \"pos\": [500, 420], \"linkIds\": [1]}],"
  " \"groups\": [], \"config\": {}, \"extra\": {\"ds\": {\"scale\": 1, \"offset\": [0, 0]}}}";

/* Reroute edits with real input keep a version-1 document's own form:
 * top-level "reroutes", parentId on link objects, state.lastRerouteId. */
static void
edit_version_1_reroutes (RlWindow *window,
                         RlCanvas *canvas)
{
  g_autofree char *before = rl_workflow_to_string (rl_canvas_get_workflow (canvas), FALSE);
  JsonObject *root;
  gint64 only[] = { 2 }, both[] = { 2, 3 };

  {
    graphene_point_t at = reroute_point (canvas, 1);

    real_alt_click (GTK_WIDGET (canvas), at.x, at.y);
  }
  assert_chain (canvas, 1, 1, only);
  {
    graphene_point_t a = reroute_point (canvas, 2);
    graphene_point_t b = socket_point (canvas, 2, RL_SOCKET_INPUT, 0);

    real_alt_click (GTK_WIDGET (canvas), (a.x + b.x) / 2, (a.y + b.y) / 2);
  }
  assert_chain (canvas, 1, 2, both);
  root = json_node_get_object (rl_workflow_get_root (rl_canvas_get_workflow (canvas)));
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (root, "state"), "lastRerouteId"), ==, 3);
  g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (json_object_get_array_member (root, "links"), 0),
                                               "parentId"), ==, 3);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (root, "reroutes")), ==, 2);
  g_assert_false (json_object_has_member (json_object_get_object_member (root, "extra"), "reroutes"));
  g_assert_false (json_object_has_member (json_object_get_object_member (root, "extra"), "linkExtensions"));
  gtk_widget_grab_focus (GTK_WIDGET (canvas));
  real_keys (GTK_WIDGET (window), "ctrl+z");
  real_keys (GTK_WIDGET (window), "ctrl+z");
  {
    g_autofree char *after = rl_workflow_to_string (rl_canvas_get_workflow (canvas), FALSE);

    g_assert_cmpstr (after, ==, before);
  }
}

/* A version-1 document with native reroutes: drawn through its reroute
 * points, and saved back as the same JSON value after an edit is undone. */
static void
test_reroutes_round_trip (void)
{
  RlWindow *window = ui_test_new_window ();
  g_autofree char *dir = g_dir_make_tmp ("raylight-ui-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "reroutes.json", NULL);
  g_autofree char *copy_path = g_build_filename (dir, "reroutes-saved.json", NULL);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFile) copy = g_file_new_for_path (copy_path);
  RlWorkflowPage *page;
  RlCanvas *canvas;

  g_assert_true (g_file_set_contents (path, reroute_workflow, -1, NULL));
  page = open_in_window (window, file);
  canvas = rl_workflow_page_get_canvas (page);
  g_assert_cmpuint (rl_workflow_get_n_reroutes (rl_canvas_get_workflow (canvas)), ==, 2);
  rl_canvas_move_node (canvas, 2, 720, 320);
  g_assert_true (rl_canvas_undo (canvas));
  g_free (ui_test_screenshot (GTK_WIDGET (window), "reroutes"));
  g_assert_true (rl_workflow_page_save (page, copy, NULL));
  {
    g_autoptr(JsonParser) original = json_parser_new ();
    g_autoptr(JsonParser) saved = json_parser_new ();

    g_assert_true (json_parser_load_from_data (original, reroute_workflow, -1, NULL));
    g_assert_true (json_parser_load_from_file (saved, copy_path, NULL));
    g_assert_true (json_node_equal (json_parser_get_root (original), json_parser_get_root (saved)));
  }
  if (ui_test_have_x11 ())
    edit_version_1_reroutes (window, canvas);
  g_unlink (path);
  g_unlink (copy_path);
  g_rmdir (dir);
  gtk_window_destroy (GTK_WINDOW (window));
}

static void
test_autosave_recovery (void)
{
  g_autofree char *dir = g_dir_make_tmp ("raylight-autosave-XXXXXX", NULL);
  g_autofree char *path = source_path ("data/workflows/default.json");
  g_autofree char *edited = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (ui_test_seed ());
  double x = g_rand_double_range (rand, -500, 500), y = g_rand_double_range (rand, -500, 500);
  RlWindow *window;
  RlCanvas *canvas;
  RlWorkflowPage *restored;
  g_autoptr(GPtrArray) left = NULL;

  g_setenv ("RAYLIGHT_AUTOSAVE_DIR", dir, TRUE);
  /* A first run edits a template and ends without saving. */
  window = ui_test_new_window ();
  gtk_widget_activate_action (GTK_WIDGET (window), "win.open-template", "s", path);
  ui_test_wait (50);
  canvas = rl_workflow_page_get_canvas (rl_window_get_current_page (window));
  rl_canvas_move_node (canvas, 2, round (x), round (y));
  edited = rl_workflow_to_string (rl_canvas_get_workflow (canvas), FALSE);
  rl_window_autosave_now (window);
  left = rl_autosave_list ();
  g_assert_cmpuint (left->len, ==, 1);
  gtk_window_destroy (GTK_WINDOW (window));

  /* The next run's first window offers it back. */
  g_object_set_data (G_OBJECT (ui_test_get_app ()), "rl-recovery-offered", NULL);
  window = ui_test_new_window ();
  g_assert_nonnull (strstr (rl_window_get_last_toast (window), "1 unsaved workflow"));
  gtk_widget_activate_action (GTK_WIDGET (window), "win.restore-autosaved", NULL);
  ui_test_wait (50);
  restored = rl_window_get_current_page (window);
  g_assert_nonnull (restored);
  g_assert_true (rl_workflow_page_get_modified (restored));
  g_assert_cmpstr (rl_workflow_page_get_title (restored), ==, "default.json");
  {
    g_autofree char *now = rl_workflow_to_string (rl_canvas_get_workflow (rl_workflow_page_get_canvas (restored)),
                                                  FALSE);

    g_assert_cmpstr (now, ==, edited);
  }
  /* Restored once: the old entry is gone, the page keeps its own. */
  g_ptr_array_unref (g_steal_pointer (&left));
  left = rl_autosave_list ();
  g_assert_cmpuint (left->len, ==, 1);
  /* Saving forgets the autosave. */
  {
    g_autofree char *saved_path = g_build_filename (dir, "saved.json", NULL);
    g_autoptr(GFile) saved = g_file_new_for_path (saved_path);

    g_assert_true (rl_workflow_page_save (restored, saved, NULL));
    g_ptr_array_unref (g_steal_pointer (&left));
    left = rl_autosave_list ();
    g_assert_cmpuint (left->len, ==, 0);
    g_unlink (saved_path);
  }
  gtk_window_destroy (GTK_WINDOW (window));
  g_rmdir (dir);
  g_unsetenv ("RAYLIGHT_AUTOSAVE_DIR");
}

int
main (int    argc,
      char **argv)
{
  g_autofree char *models = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);
  /* Model drop-downs list these placeholders (read at startup); set
   * before GTK starts threads. */
  models = make_placeholder_models ();
  g_setenv ("RAYLIGHT_MODEL_PATHS", models, TRUE);
  if (!gtk_init_check ())
    {
      g_printerr ("No display: run under Xvfb (tools/run-tests does)\n");
      remove_placeholder_models (models);
      return 77;
    }
  ui_test_seed ();
  g_test_add_func ("/ui/window/empty-state-and-template", test_empty_state);
  g_test_add_func ("/ui/editor/build-default-graph", test_build_default_graph);
  g_test_add_func ("/ui/editor/build-wan-graph", test_build_wan_graph);
  g_test_add_func ("/ui/window/wan-example", test_wan_example);
  g_test_add_func ("/ui/editor/copy-paste-between-tabs", test_copy_paste_between_tabs);
  g_test_add_func ("/ui/editor/unknown-node-type", test_unknown_node_type);
  g_test_add_func ("/ui/editor/validation-error", test_validation_error);
  g_test_add_func ("/ui/files/open-png-with-workflow", test_open_png_with_workflow);
  g_test_add_func ("/ui/files/autosave-recovery", test_autosave_recovery);
  g_test_add_func ("/ui/files/reroutes-round-trip", test_reroutes_round_trip);
  g_test_add_func ("/ui/editor/edit-commands", test_edit_commands);
  g_test_add_func ("/ui/canvas/pan-and-zoom", test_pan_and_zoom);
  g_test_add_func ("/ui/canvas/snap-and-reroutes", test_snap_and_reroutes);
  g_test_add_func ("/ui/window/preferences", test_preferences);
  g_test_add_func ("/ui/editor/cut-wires", test_cut_wires);
  g_test_add_func ("/ui/editor/node-colors", test_node_colors);
  status = g_test_run ();
  remove_placeholder_models (models);
  return status;
}
