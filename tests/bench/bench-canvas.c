/* bench-canvas: frame times of the node canvas with a 300-node workflow
 * while it pans and zooms, under the GSK renderer named by $GSK_RENDERER.
 * Without it, runs itself once with "gl" and once with "cairo".
 *
 * A frame's time is measured from the frame clock's before-paint to its
 * after-paint signal: layout of every node widget, snapshot, and the
 * renderer drawing the frame. Prints median and 95th percentile.
 * A benchmark, not a test: nothing here passes or fails on timing.
 *
 * Run under Xvfb:
 *   xvfb-run -a -s "-screen 0 1600x1000x24" build/tests/bench/bench-canvas */
#include <math.h>

#include "engine/graph/registry.h"
#include "engine/graph/workflow.h"
#include "ui/canvas/rl-canvas.h"
#include "ui/rl-application.h"
#include "ui/rl-window.h"
#include "ui/rl-workflow-page.h"

#define N_CHAINS 100      /* 3 nodes each: 300 nodes, 200 links */
#define FRAMES_PER_PHASE 240

typedef struct {
  RlCanvas  *canvas;
  GArray    *frame_ms;     /* double */
  gint64     paint_start;
  guint      frame;
  gboolean   done;
} Bench;

static RlWorkflow *
new_big_workflow (RlRegistry *registry)
{
  RlWorkflow *workflow = rl_workflow_load_data ("{\"last_node_id\":0,\"last_link_id\":0,\"nodes\":[],"
                                                "\"links\":[],\"version\":0.4}", -1, "bench", NULL);
  const char *chain[] = { "RaylightTestPattern", "CreateVideo", "SaveVideo" };

  for (guint c = 0; c < N_CHAINS; c++)
    {
      double x = (c % 10) * 1150.0, y = (c / 10) * 520.0;
      gint64 ids[3];

      for (guint k = 0; k < 3; k++)
        ids[k] = rl_workflow_add_node (workflow, rl_registry_lookup (registry, chain[k]), x + k * 380.0, y);
      rl_workflow_add_link (workflow, ids[0], 0, ids[1], 0, NULL);
      rl_workflow_add_link (workflow, ids[1], 0, ids[2], 0, NULL);
    }
  return workflow;
}

static void
on_before_paint (GdkFrameClock *clock,
                 Bench         *bench)
{
  bench->paint_start = g_get_monotonic_time ();
}

static void
on_after_paint (GdkFrameClock *clock,
                Bench         *bench)
{
  double ms = (g_get_monotonic_time () - bench->paint_start) / 1000.0;

  if (bench->paint_start > 0 && bench->frame > 10)   /* skip warm-up */
    g_array_append_val (bench->frame_ms, ms);
}

/* One step of the animation per frame: first pan in a circle, then zoom
 * in and out around the centre. */
static gboolean
tick (GtkWidget     *widget,
      GdkFrameClock *clock,
      gpointer       data)
{
  Bench *bench = data;
  double w = gtk_widget_get_width (widget), h = gtk_widget_get_height (widget);
  guint f = bench->frame++;

  if (f < FRAMES_PER_PHASE)
    rl_canvas_pan_by (bench->canvas, 12 * cos (f * 0.05), 12 * sin (f * 0.05));
  else if (f < 2 * FRAMES_PER_PHASE)
    rl_canvas_zoom_at (bench->canvas, ((f / 40) % 2 == 0) ? 0.97 : 1.0 / 0.97, w / 2, h / 2);
  else
    {
      bench->done = TRUE;
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static int
compare_doubles (gconstpointer a,
                 gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

static int
run_one (void)
{
  g_autoptr(RlApplication) app = rl_application_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(RlWorkflow) workflow = NULL;
  Bench bench = { 0 };
  RlWindow *window;
  RlWorkflowPage *page;
  GdkFrameClock *clock;
  GskRenderer *renderer;
  double median, p95;

  if (!g_application_register (G_APPLICATION (app), NULL, &error))
    {
      g_printerr ("bench-canvas: %s\n", error->message);
      return 1;
    }
  window = rl_window_new (app);
  gtk_window_set_default_size (GTK_WINDOW (window), 1280, 800);
  page = rl_window_new_page (window);
  bench.canvas = rl_workflow_page_get_canvas (page);
  workflow = new_big_workflow (rl_application_get_registry (app));
  rl_canvas_set_workflow (bench.canvas, workflow);
  gtk_window_present (GTK_WINDOW (window));
  while (!gtk_widget_get_mapped (GTK_WIDGET (bench.canvas)))
    g_main_context_iteration (NULL, TRUE);
  rl_canvas_fit_view (bench.canvas);
  rl_canvas_zoom_at (bench.canvas, 4.0, 640, 400);

  bench.frame_ms = g_array_new (FALSE, FALSE, sizeof (double));
  clock = gtk_widget_get_frame_clock (GTK_WIDGET (bench.canvas));
  g_signal_connect (clock, "before-paint", G_CALLBACK (on_before_paint), &bench);
  g_signal_connect (clock, "after-paint", G_CALLBACK (on_after_paint), &bench);
  gtk_widget_add_tick_callback (GTK_WIDGET (bench.canvas), tick, &bench, NULL);
  while (!bench.done)
    g_main_context_iteration (NULL, TRUE);
  g_signal_handlers_disconnect_by_data (clock, &bench);

  g_array_sort (bench.frame_ms, compare_doubles);
  median = g_array_index (bench.frame_ms, double, bench.frame_ms->len / 2);
  p95 = g_array_index (bench.frame_ms, double, (guint) (bench.frame_ms->len * 0.95));
  renderer = gtk_native_get_renderer (GTK_NATIVE (window));
  g_print ("renderer %-18s nodes %u  frames %u  median %.2f ms  p95 %.2f ms\n",
           G_OBJECT_TYPE_NAME (renderer), rl_workflow_get_n_nodes (workflow), bench.frame_ms->len,
           median, p95);
  g_array_unref (bench.frame_ms);
  gtk_window_destroy (GTK_WINDOW (window));
  return 0;
}

int
main (int    argc,
      char **argv)
{
  const char *renderers[] = { "gl", "cairo" };
  int status = 0;

  if (g_getenv ("GSK_RENDERER") != NULL)
    {
      if (!gtk_init_check ())
        {
          g_printerr ("bench-canvas: no display; run under Xvfb\n");
          return 77;
        }
      return run_one ();
    }
  for (guint i = 0; i < G_N_ELEMENTS (renderers); i++)
    {
      g_autoptr(GError) error = NULL;
      g_auto(GStrv) env = g_environ_setenv (g_get_environ (), "GSK_RENDERER", renderers[i], TRUE);
      char *child_argv[] = { argv[0], NULL };
      int wait_status = 0;

      if (!g_spawn_sync (NULL, child_argv, env, G_SPAWN_CHILD_INHERITS_STDIN, NULL, NULL, NULL, NULL,
                         &wait_status, &error) ||
          !g_spawn_check_wait_status (wait_status, &error))
        {
          g_printerr ("bench-canvas (%s): %s\n", renderers[i], error->message);
          status = 1;
        }
    }
  return status;
}
