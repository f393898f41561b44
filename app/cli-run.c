/* raylight run WORKFLOW [--set NODE.INPUT=VALUE]... [--output-dir DIR] [--json]
 *
 * Loads, validates and runs one workflow through the same job queue and
 * history the desktop app uses, with a progress bar. Ctrl-C interrupts
 * the job at the next node boundary or sampler step and records it as
 * interrupted; a second Ctrl-C exits at once (the next start marks the
 * job interrupted). */
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "app/cli-commands.h"
#include "app/cli-context.h"
#include "app/exit-codes.h"
#include "app/job-parameters.h"
#include "app/job-source.h"
#include "app/progress-bar.h"
#include "engine/engine-error.h"
#include "engine/graph/validate.h"
#include "engine/pool/pool-service.h"
#include "engine/run/executor.h"
#include "engine/run/queue.h"

typedef struct {
  RlJobQueue     *queue;
  gint64          job_id;
  volatile gint   n_signals;
  gboolean        json;
  RlProgressBar  *bar;
  GMutex          print_lock;
} RunState;

static const char *
event_kind_name (RlEventKind kind)
{
  switch (kind)
    {
    case RL_EVENT_JOB_QUEUED: return "job_queued";
    case RL_EVENT_JOB_STARTED: return "job_started";
    case RL_EVENT_NODE_STARTED: return "node_started";
    case RL_EVENT_NODE_CACHED: return "node_cached";
    case RL_EVENT_NODE_FINISHED: return "node_finished";
    case RL_EVENT_PROGRESS: return "progress";
    case RL_EVENT_PREVIEW: return "preview";
    case RL_EVENT_OUTPUT_FILE: return "output_file";
    case RL_EVENT_ERROR: return "error";
    case RL_EVENT_JOB_FINISHED: return "job_finished";
    }
  return "unknown";
}

/* One JSON object per line, so scripts can follow a run as it goes. */
static void
print_event_json (RunState      *state,
                  const RlEvent *event)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;

  if (event->kind == RL_EVENT_PREVIEW)
    return; /* pixels are for the UI */
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "event");
  json_builder_add_string_value (b, event_kind_name (event->kind));
  json_builder_set_member_name (b, "job_id");
  json_builder_add_int_value (b, event->job_id);
  if (event->node_id)
    {
      json_builder_set_member_name (b, "node_id");
      json_builder_add_string_value (b, event->node_id);
      json_builder_set_member_name (b, "node_type");
      json_builder_add_string_value (b, event->node_type);
    }
  if (event->kind == RL_EVENT_PROGRESS)
    {
      json_builder_set_member_name (b, "step");
      json_builder_add_int_value (b, event->step);
      json_builder_set_member_name (b, "total");
      json_builder_add_int_value (b, event->total);
    }
  if (event->path)
    {
      json_builder_set_member_name (b, "path");
      json_builder_add_string_value (b, event->path);
    }
  if (event->error)
    {
      json_builder_set_member_name (b, "error");
      json_builder_add_string_value (b, event->error->message);
    }
  if (event->kind == RL_EVENT_JOB_FINISHED)
    {
      json_builder_set_member_name (b, "status");
      json_builder_add_string_value (b, rl_job_status_to_string (event->status));
    }
  json_builder_set_member_name (b, "elapsed_s");
  json_builder_add_double_value (b, event->elapsed_s);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, NULL);
  g_mutex_lock (&state->print_lock);
  fprintf (stdout, "%s\n", text);
  fflush (stdout);
  g_mutex_unlock (&state->print_lock);
}

static void
on_job_event (const RlEvent *event,
              gpointer       user_data)
{
  RunState *state = user_data;

  if (state->json)
    print_event_json (state, event);
  else
    rl_progress_bar_update (state->bar, event);
}

static gboolean
on_interrupt_signal (gpointer user_data)
{
  RunState *state = user_data;

  if (g_atomic_int_add (&state->n_signals, 1) == 0)
    {
      fprintf (stderr, "\nInterrupting job %" G_GINT64_FORMAT " (Ctrl-C again to quit at once)…\n",
               state->job_id);
      rl_job_queue_interrupt (state->queue, 0);
      return G_SOURCE_CONTINUE;
    }
  fprintf (stderr, "\nQuitting; the job will be marked interrupted at the next start.\n");
  _exit (RL_EXIT_INTERRUPTED);
}

static gpointer
signal_loop_thread (gpointer loop)
{
  g_main_loop_run (loop);
  return NULL;
}

static char *
default_output_dir (void)
{
  const char *videos = g_get_user_special_dir (G_USER_DIRECTORY_VIDEOS);

  if (videos != NULL)
    return g_build_filename (videos, "Raylight", NULL);
  return g_build_filename (g_get_home_dir (), "Raylight", NULL);
}

/* Fails early, before minutes of sampling, when outputs cannot be saved. */
static gboolean
check_output_dir (const char  *dir,
                  GError     **error)
{
  g_autofree char *probe = NULL;
  int fd;

  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      int saved = errno;
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_IO,
                   "Cannot create the output folder %s: %s. Choose another with --output-dir.",
                   dir, g_strerror (saved));
      return FALSE;
    }
  probe = g_build_filename (dir, ".raylight-write-test-XXXXXX", NULL);
  fd = g_mkstemp (probe);
  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_IO,
                   "The output folder %s is not writable: %s. Choose another with --output-dir.",
                   dir, g_strerror (saved));
      return FALSE;
    }
  close (fd);
  g_unlink (probe);
  return TRUE;
}

static int
report_validation (GPtrArray *issues,
                   gboolean   json)
{
  if (json)
    {
      g_autoptr(JsonNode) node = rl_validation_issues_to_json (issues);
      g_autofree char *text = json_to_string (node, TRUE);
      printf ("{\"event\":\"validation_failed\",\"issues\":%s}\n", text);
    }
  else
    {
      g_autofree char *text = rl_validation_issues_to_string (issues);
      fprintf (stderr, "%s\n", text);
    }
  return RL_EXIT_INVALID;
}

static int
fail (const GError *error,
      gboolean      json)
{
  if (json)
    {
      g_autofree char *quoted = g_strescape (error->message, NULL);
      printf ("{\"event\":\"error\",\"error\":\"%s\"}\n", quoted);
    }
  fprintf (stderr, "raylight: %s\n", error->message);
  return rl_cli_exit_code_for_error (error);
}

static gboolean
graph_uses_pool (RlGraph          *graph,
                 const RlRegistry *registry)
{
  for (guint i = 0; i < rl_graph_get_n_nodes (graph); i++)
    {
      const RlNodeType *type = rl_registry_lookup (registry,
                                                   rl_graph_node_get_class_type (rl_graph_get_node (graph, i)));
      if (type != NULL && type->location == RL_RUN_ON_POOL)
        return TRUE;
    }
  return FALSE;
}

/* The pool's shape once the job is over, for history (RlJobOptions). */
static char *
describe_pool (gpointer pool)
{
  return rl_pool_service_describe (pool);
}

static int
run_job (RlCliContext *ctx,
         RlJobSource  *source,
         const char   *output_dir,
         gboolean      json)
{
  g_autoptr(GError) error = NULL;
  /* Declared in this order so the queue goes first, then the executor,
   * then the pool (which stops the workers). Workers start only when a
   * node needs them. */
  g_autoptr(RlPoolService) pool = rl_pool_service_new (NULL);
  g_autoptr(RlExecutor) executor = rl_executor_new (ctx->registry);
  g_autoptr(RlJobQueue) queue = NULL;
  g_autofree char *device_config = NULL;
  g_autofree char *workflow_json = NULL;
  g_autofree char *prompt_json = rl_graph_to_prompt_string (source->graph, FALSE);
  g_autofree char *parameters = rl_job_parameters_to_json (source->graph);
  g_autoptr(GMainContext) signal_context = g_main_context_new ();
  g_autoptr(GMainLoop) loop = g_main_loop_new (signal_context, FALSE);
  g_autoptr(GSource) sigint = NULL, sigterm = NULL;
  GThread *signal_thread;
  RunState state = { 0 };
  RlJobOptions options = { 0 };
  RlRunReport report = { 0 };
  RlJobStatus status;

  if (source->workflow != NULL)
    workflow_json = rl_workflow_to_string (source->workflow, FALSE);

  rl_executor_set_pool_service (executor, pool);
  if (graph_uses_pool (source->graph, ctx->registry))
    device_config = rl_pool_service_describe (pool);
  queue = rl_job_queue_new (executor, ctx->history);
  state.queue = queue;
  state.json = json;
  state.bar = rl_progress_bar_new (stderr, isatty (STDERR_FILENO));
  g_mutex_init (&state.print_lock);

  options.output_dir = output_dir;
  options.workflow_json = workflow_json;
  options.prompt_json = prompt_json;
  options.parameters_json = parameters;
  options.device_config_json = device_config;
  if (device_config != NULL)
    {
      options.describe_devices = describe_pool;
      options.describe_devices_data = pool;
    }
  options.listener = on_job_event;
  options.listener_data = &state;

  /* Signals are watched on a context of our own, served by a thread,
   * while this thread blocks waiting for the job. */
  sigint = g_unix_signal_source_new (SIGINT);
  sigterm = g_unix_signal_source_new (SIGTERM);
  g_source_set_callback (sigint, on_interrupt_signal, &state, NULL);
  g_source_set_callback (sigterm, on_interrupt_signal, &state, NULL);
  g_source_attach (sigint, signal_context);
  g_source_attach (sigterm, signal_context);
  signal_thread = g_thread_new ("signals", signal_loop_thread, loop);

  state.job_id = rl_job_queue_enqueue (queue, source->graph, &options,
                                       RL_JOB_POSITION_BACK, &error);
  if (state.job_id > 0)
    {
      if (!json)
        fprintf (stderr, "job %" G_GINT64_FORMAT ": %s\n", state.job_id, source->source_kind);
      status = rl_job_queue_wait (queue, state.job_id, &report, &error);
    }
  else
    status = RL_JOB_FAILED;

  g_source_destroy (sigint);
  g_source_destroy (sigterm);
  g_main_loop_quit (loop);
  g_thread_join (signal_thread);
  g_clear_pointer (&state.bar, rl_progress_bar_free);

  if (status == RL_JOB_SUCCEEDED)
    {
      g_autofree char *took = rl_format_duration (report.elapsed_s);
      if (!json)
        {
          fprintf (stderr, "job %" G_GINT64_FORMAT " succeeded in %s (%u nodes run, %u cached)\n",
                   state.job_id, took, report.n_executed, report.n_cached);
          /* The paths go to stdout, one per line, for scripts. */
          for (guint i = 0; report.output_files && i < report.output_files->len; i++)
            printf ("%s\n", (const char *) g_ptr_array_index (report.output_files, i));
        }
      rl_run_report_clear (&report);
      g_mutex_clear (&state.print_lock);
      return RL_EXIT_OK;
    }

  rl_run_report_clear (&report);
  g_mutex_clear (&state.print_lock);
  if (error == NULL)
    g_set_error (&error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_EXECUTION,
                 "job %" G_GINT64_FORMAT " ended as %s", state.job_id,
                 rl_job_status_to_string (status));
  if (status == RL_JOB_INTERRUPTED)
    {
      fprintf (stderr, "raylight: job %" G_GINT64_FORMAT " interrupted\n", state.job_id);
      return RL_EXIT_INTERRUPTED;
    }
  return fail (error, json);
}

int
rl_cli_run (int    argc,
            char **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("WORKFLOW - run a workflow");
  g_autoptr(GError) error = NULL;
  RlCliCommonOptions common = { 0 };
  RlCliContext ctx = { 0 };
  RlJobSource source = { 0 };
  g_auto(GStrv) assignments = NULL;
  g_autofree char *output_dir = NULL;
  gboolean json = FALSE;
  g_autoptr(GPtrArray) issues = NULL;
  int code;
  const GOptionEntry entries[] = {
    { "set", 's', 0, G_OPTION_ARG_STRING_ARRAY, &assignments,
      "Set a widget before running: NODE is a node id or title; repeatable", "NODE.INPUT=VALUE" },
    { "output-dir", 'o', 0, G_OPTION_ARG_FILENAME, &output_dir,
      "Where outputs are written (default: ~/Videos/Raylight)", "DIR" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json,
      "Print events as JSON lines on stdout instead of a progress bar", NULL },
    { NULL }
  };

  g_option_context_add_main_entries (context, entries, NULL);
  rl_cli_add_common_options (g_option_context_get_main_group (context), &common);
  g_option_context_set_description (context,
    "Exit status: 0 done, 1 failed while running, 2 workflow invalid,\n"
    "3 history or output folder unusable, 64 usage, 130 interrupted.");
  if (!rl_cli_parse_options (context, &argc, &argv))
    return RL_EXIT_USAGE;
  if (argc != 2)
    {
      fprintf (stderr, "raylight run: give exactly one workflow file\n");
      return RL_EXIT_USAGE;
    }
  if (output_dir == NULL)
    output_dir = default_output_dir ();

  if (!rl_cli_context_init (&ctx, &common, &error) ||
      !rl_job_source_load (&source, argv[1], ctx.registry, &error) ||
      !rl_job_source_apply_overrides (&source, ctx.registry, assignments, &error))
    {
      code = fail (error, json);
      goto out;
    }

  issues = rl_graph_validate (source.graph, ctx.registry);
  if (issues->len > 0)
    {
      code = report_validation (issues, json);
      goto out;
    }

  /* Both are the machine's state, not the workflow's or the run's. */
  if (!check_output_dir (output_dir, &error) ||
      !rl_cli_context_open_history (&ctx, &common, &error))
    {
      fail (error, json);
      code = RL_EXIT_ENVIRONMENT;
      goto out;
    }
  if (rl_history_get_n_recovered (ctx.history) > 0 && !json)
    fprintf (stderr, "note: %u earlier job(s) were still running when their process died; "
             "history marks them interrupted\n", rl_history_get_n_recovered (ctx.history));

  code = run_job (&ctx, &source, output_dir, json);

out:
  rl_job_source_clear (&source);
  rl_cli_context_clear (&ctx);
  rl_cli_common_options_clear (&common);
  return code;
}
