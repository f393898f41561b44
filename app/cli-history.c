/* raylight history list [--limit N] [--status S] [--search TEXT] [--json]
 * raylight history show ID [--json] [--workflow]
 * raylight history delete ID */
#include <stdio.h>
#include <time.h>

#include "app/cli-commands.h"
#include "app/cli-context.h"
#include "app/exit-codes.h"
#include "app/progress-bar.h"

static char *
format_time (gint64 us)
{
  g_autoptr(GDateTime) dt = NULL;

  if (us == 0)
    return g_strdup ("-");
  dt = g_date_time_new_from_unix_local (us / G_USEC_PER_SEC);
  return g_date_time_format (dt, "%Y-%m-%d %H:%M:%S");
}

static void
add_job_json (JsonBuilder        *b,
              const RlHistoryJob *job,
              gboolean            with_documents)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_int_value (b, job->id);
  json_builder_set_member_name (b, "status");
  json_builder_add_string_value (b, rl_job_status_to_string (job->status));
  json_builder_set_member_name (b, "created_at_us");
  json_builder_add_int_value (b, job->created_at);
  json_builder_set_member_name (b, "started_at_us");
  json_builder_add_int_value (b, job->started_at);
  json_builder_set_member_name (b, "finished_at_us");
  json_builder_add_int_value (b, job->finished_at);
  json_builder_set_member_name (b, "duration_s");
  json_builder_add_double_value (b, job->duration_s);
  json_builder_set_member_name (b, "error");
  if (job->error_text)
    json_builder_add_string_value (b, job->error_text);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "parameters");
  json_builder_add_value (b, job->parameters_json ? json_from_string (job->parameters_json, NULL)
                                                  : json_node_new (JSON_NODE_NULL));
  json_builder_set_member_name (b, "device_config");
  json_builder_add_value (b, job->device_config_json ? json_from_string (job->device_config_json, NULL)
                                                     : json_node_new (JSON_NODE_NULL));
  json_builder_set_member_name (b, "outputs");
  json_builder_begin_array (b);
  for (guint i = 0; job->outputs && i < job->outputs->len; i++)
    {
      const RlHistoryOutput *o = g_ptr_array_index (job->outputs, i);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "path");
      json_builder_add_string_value (b, o->path);
      json_builder_set_member_name (b, "kind");
      json_builder_add_string_value (b, o->kind);
      json_builder_set_member_name (b, "width");
      json_builder_add_int_value (b, o->width);
      json_builder_set_member_name (b, "height");
      json_builder_add_int_value (b, o->height);
      json_builder_set_member_name (b, "frames");
      json_builder_add_int_value (b, o->frames);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  if (with_documents)
    {
      json_builder_set_member_name (b, "prompt");
      json_builder_add_value (b, job->prompt_json ? json_from_string (job->prompt_json, NULL)
                                                  : json_node_new (JSON_NODE_NULL));
      json_builder_set_member_name (b, "workflow");
      json_builder_add_value (b, job->workflow_json ? json_from_string (job->workflow_json, NULL)
                                                    : json_node_new (JSON_NODE_NULL));
    }
  json_builder_end_object (b);
}

static gboolean open_history (RlCliContext *ctx, RlCliCommonOptions *common);

static void
print_builder (JsonBuilder *b)
{
  g_autoptr(JsonNode) root = json_builder_get_root (b);
  g_autofree char *text = json_to_string (root, TRUE);

  printf ("%s\n", text);
}

static int
history_list (RlCliContext       *ctx,
              RlCliCommonOptions *common,
              int                 argc,
              char              **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("- list past jobs, newest first");
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) jobs = NULL;
  g_autofree char *status_text = NULL, *search = NULL;
  int limit = 20;
  gboolean json = FALSE;
  RlHistoryQuery query = { 0 };
  const GOptionEntry entries[] = {
    { "limit", 'n', 0, G_OPTION_ARG_INT, &limit, "Show at most N jobs (0: all; default 20)", "N" },
    { "status", 0, 0, G_OPTION_ARG_STRING, &status_text,
      "Only jobs with this status (queued, running, succeeded, failed, interrupted, cancelled)", "STATUS" },
    { "search", 0, 0, G_OPTION_ARG_STRING, &search, "Only jobs whose workflow, parameters or error contain TEXT", "TEXT" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    { NULL }
  };

  g_option_context_add_main_entries (context, entries, NULL);
  rl_cli_add_common_options (g_option_context_get_main_group (context), common);
  if (!rl_cli_parse_options (context, &argc, &argv))
    return RL_EXIT_USAGE;
  if (!open_history (ctx, common))
    return RL_EXIT_ENVIRONMENT;
  if (limit < 0)
    {
      fprintf (stderr, "raylight history list: --limit must be 0 or more\n");
      return RL_EXIT_USAGE;
    }
  query.limit = limit;
  query.search = search;
  if (status_text != NULL)
    {
      query.filter_status = TRUE;
      if (!rl_job_status_from_string (status_text, &query.status))
        {
          fprintf (stderr, "raylight history list: unknown status '%s'\n", status_text);
          return RL_EXIT_USAGE;
        }
    }

  jobs = rl_history_list (ctx->history, &query, &error);
  if (jobs == NULL)
    {
      fprintf (stderr, "raylight: %s\n", error->message);
      return rl_cli_exit_code_for_error (error);
    }

  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      json_builder_begin_array (b);
      for (guint i = 0; i < jobs->len; i++)
        add_job_json (b, g_ptr_array_index (jobs, i), FALSE);
      json_builder_end_array (b);
      print_builder (b);
      return RL_EXIT_OK;
    }

  printf ("%6s  %-11s  %-19s  %8s  %s\n", "JOB", "STATUS", "CREATED", "TOOK", "OUTPUT / ERROR");
  for (guint i = 0; i < jobs->len; i++)
    {
      const RlHistoryJob *job = g_ptr_array_index (jobs, i);
      g_autofree char *created = format_time (job->created_at);
      g_autofree char *took = job->finished_at ? rl_format_duration (job->duration_s) : g_strdup ("-");
      const char *what = "";

      if (job->outputs && job->outputs->len > 0)
        what = ((RlHistoryOutput *) g_ptr_array_index (job->outputs, 0))->path;
      else if (job->error_text)
        what = job->error_text;
      printf ("%6" G_GINT64_FORMAT "  %-11s  %-19s  %8s  %s\n", job->id,
              rl_job_status_to_string (job->status), created, took, what);
    }
  return RL_EXIT_OK;
}

static gboolean
open_history (RlCliContext       *ctx,
              RlCliCommonOptions *common)
{
  g_autoptr(GError) error = NULL;

  if (rl_cli_context_open_history (ctx, common, &error))
    return TRUE;
  fprintf (stderr, "raylight: %s\n", error->message);
  return FALSE;
}

static gboolean
parse_job_id (const char *text,
              gint64     *id)
{
  return g_ascii_string_to_signed (text, 10, 1, G_MAXINT64, id, NULL);
}

static int
history_show (RlCliContext       *ctx,
              RlCliCommonOptions *common,
              int                 argc,
              char              **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("ID - show one job");
  g_autoptr(GError) error = NULL;
  g_autoptr(RlHistoryJob) job = NULL;
  gboolean json = FALSE, workflow = FALSE;
  gint64 id;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON with the prompt and workflow", NULL },
    { "workflow", 'w', 0, G_OPTION_ARG_NONE, &workflow,
      "Print only the job's workflow (or its API prompt), ready to save and run again", NULL },
    { NULL }
  };

  g_option_context_add_main_entries (context, entries, NULL);
  rl_cli_add_common_options (g_option_context_get_main_group (context), common);
  if (!rl_cli_parse_options (context, &argc, &argv))
    return RL_EXIT_USAGE;
  if (argc != 2 || !parse_job_id (argv[1], &id))
    {
      fprintf (stderr, "raylight history show: give one job id (a positive number)\n");
      return RL_EXIT_USAGE;
    }
  if (!open_history (ctx, common))
    return RL_EXIT_ENVIRONMENT;
  job = rl_history_get_job (ctx->history, id, &error);
  if (job == NULL)
    {
      fprintf (stderr, "raylight: %s\n", error->message);
      return RL_EXIT_FAILED;
    }

  if (workflow)
    {
      const char *doc = job->workflow_json ? job->workflow_json : job->prompt_json;
      if (doc == NULL)
        {
          fprintf (stderr, "raylight: job %" G_GINT64_FORMAT " recorded no workflow\n", id);
          return RL_EXIT_FAILED;
        }
      printf ("%s\n", doc);
      return RL_EXIT_OK;
    }
  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      add_job_json (b, job, TRUE);
      print_builder (b);
      return RL_EXIT_OK;
    }

  {
    g_autofree char *created = format_time (job->created_at);
    g_autofree char *started = format_time (job->started_at);
    g_autofree char *finished = format_time (job->finished_at);
    /* A job whose process died has no known end: say so rather than 0:00. */
    g_autofree char *took = job->finished_at ? rl_format_duration (job->duration_s) : g_strdup ("-");

    printf ("job %" G_GINT64_FORMAT "\n", job->id);
    printf ("  status      %s\n", rl_job_status_to_string (job->status));
    printf ("  created     %s\n  started     %s\n  finished    %s\n  took        %s\n",
            created, started, finished, took);
    printf ("  parameters  %s\n", job->parameters_json ? job->parameters_json : "-");
    printf ("  devices     %s\n", job->device_config_json ? job->device_config_json : "app process");
    if (job->error_text)
      printf ("  error       %s\n", job->error_text);
    for (guint i = 0; job->outputs && i < job->outputs->len; i++)
      {
        const RlHistoryOutput *o = g_ptr_array_index (job->outputs, i);
        printf ("  output      %s (%s", o->path, o->kind);
        if (o->width)
          printf (", %ux%u", o->width, o->height);
        if (o->frames)
          printf (", %u frames", o->frames);
        printf (")\n");
      }
    printf ("  workflow    %s\n", job->workflow_json ? "recorded (history show --workflow)" : "-");
  }
  return RL_EXIT_OK;
}

static int
history_delete (RlCliContext       *ctx,
                RlCliCommonOptions *common,
                int                 argc,
                char              **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("ID - delete one job from history");
  g_autoptr(GError) error = NULL;
  gint64 id;

  rl_cli_add_common_options (g_option_context_get_main_group (context), common);
  if (!rl_cli_parse_options (context, &argc, &argv))
    return RL_EXIT_USAGE;
  if (argc != 2 || !parse_job_id (argv[1], &id))
    {
      fprintf (stderr, "raylight history delete: give one job id (a positive number)\n");
      return RL_EXIT_USAGE;
    }
  if (!open_history (ctx, common))
    return RL_EXIT_ENVIRONMENT;
  if (!rl_history_delete_job (ctx->history, id, &error))
    {
      fprintf (stderr, "raylight: %s\n", error->message);
      return RL_EXIT_FAILED;
    }
  printf ("deleted job %" G_GINT64_FORMAT " from history (its output files stay)\n", id);
  return RL_EXIT_OK;
}

int
rl_cli_history (int    argc,
                char **argv)
{
  RlCliCommonOptions common = { 0 };
  RlCliContext ctx = { 0 };
  int code;

  if (argc < 2 || g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h"))
    {
      fprintf (argc < 2 ? stderr : stdout,
               "Usage: raylight history list|show ID|delete ID [OPTIONS]\n"
               "The database is $RAYLIGHT_HISTORY or ~/.local/share/raylight/history.sqlite3.\n");
      return argc < 2 ? RL_EXIT_USAGE : RL_EXIT_OK;
    }
  if (g_str_equal (argv[1], "list"))
    code = history_list (&ctx, &common, argc - 1, argv + 1);
  else if (g_str_equal (argv[1], "show"))
    code = history_show (&ctx, &common, argc - 1, argv + 1);
  else if (g_str_equal (argv[1], "delete"))
    code = history_delete (&ctx, &common, argc - 1, argv + 1);
  else
    {
      fprintf (stderr, "raylight history: unknown command '%s' (list, show, delete)\n", argv[1]);
      code = RL_EXIT_USAGE;
    }
  rl_cli_context_clear (&ctx);
  rl_cli_common_options_clear (&common);
  return code;
}
