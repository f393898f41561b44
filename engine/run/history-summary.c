/* Card facts of a history job, from its parameters_json (app/job-
 * parameters.c writes ComfyUI input names) and device_config_json
 * (rl_pool_service_describe). */
#include "engine/run/history-summary.h"

#include <string.h>

#include <json-glib/json-glib.h>

static JsonObject *
parse_object (const char  *json,
              JsonParser  *parser)
{
  JsonNode *root;

  if (json == NULL || !json_parser_load_from_data (parser, json, -1, NULL))
    return NULL;
  root = json_parser_get_root (parser);
  return root != NULL && JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
}

static gboolean
get_int (JsonObject *object,
         const char *name,
         gint64     *value)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, name) : NULL;

  if (node == NULL || JSON_NODE_TYPE (node) != JSON_NODE_VALUE)
    return FALSE;
  if (json_node_get_value_type (node) == G_TYPE_INT64)
    *value = json_node_get_int (node);
  else if (json_node_get_value_type (node) == G_TYPE_DOUBLE)
    *value = (gint64) json_node_get_double (node);
  else
    return FALSE;
  return TRUE;
}

static const char *
get_string (JsonObject *object,
            const char *name)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, name) : NULL;

  if (node == NULL || JSON_NODE_TYPE (node) != JSON_NODE_VALUE || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

/* "wan2.1_t2v_1.3B_fp16" from "diffusion_models/wan2.1_t2v_1.3B_fp16.safetensors". */
static char *
model_label (const char *file)
{
  g_autofree char *base = g_path_get_basename (file);
  char *dot = strrchr (base, '.');

  if (dot != NULL && dot != base)
    *dot = '\0';
  return g_steal_pointer (&base);
}

static char *
parallel_label (const char *device_config_json)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *config = parse_object (device_config_json, parser);
  const char *backend, *mode;
  gint64 workers = 1, ulysses = 1, ring = 1, cfg = 1, data = 1;
  g_autoptr(GString) label = NULL;

  if (config == NULL)
    return g_strdup ("In the app");
  backend = get_string (config, "backend");
  get_int (config, "workers", &workers);
  label = g_string_new (NULL);
  if (g_strcmp0 (backend, "cuda") == 0)
    g_string_append_printf (label, "%" G_GINT64_FORMAT " GPU%s", workers, workers == 1 ? "" : "s");
  else
    g_string_append_printf (label, "%" G_GINT64_FORMAT " CPU worker%s", workers, workers == 1 ? "" : "s");
  mode = get_string (config, "parallel");
  if (g_strcmp0 (mode, "usp") == 0)
    {
      get_int (config, "ulysses", &ulysses);
      get_int (config, "ring", &ring);
      if (ulysses > 1)
        g_string_append_printf (label, " · Ulysses %" G_GINT64_FORMAT, ulysses);
      if (ring > 1)
        g_string_append_printf (label, " · Ring %" G_GINT64_FORMAT, ring);
    }
  if (g_strcmp0 (mode, "usp") == 0 || g_strcmp0 (mode, "batch") == 0)
    {
      get_int (config, "cfg", &cfg);
      get_int (config, "data", &data);
      if (cfg > 1)
        g_string_append_printf (label, " · CFG %" G_GINT64_FORMAT, cfg);
      if (data > 1)
        g_string_append_printf (label, " · Data %" G_GINT64_FORMAT, data);
    }
  return g_string_free (g_steal_pointer (&label), FALSE);
}

/* The first image or video output that is still on disk; else the first
 * image or video at all (the card then says the file is gone). */
static const RlHistoryOutput *
pick_poster (const RlHistoryJob *job)
{
  const RlHistoryOutput *first = NULL;

  for (guint i = 0; job->outputs != NULL && i < job->outputs->len; i++)
    {
      const RlHistoryOutput *output = g_ptr_array_index (job->outputs, i);

      if (g_strcmp0 (output->kind, "image") != 0 && g_strcmp0 (output->kind, "video") != 0)
        continue;
      if (g_file_test (output->path, G_FILE_TEST_IS_REGULAR))
        return output;
      if (first == NULL)
        first = output;
    }
  return first;
}

RlHistorySummary *
rl_history_summary_new (const RlHistoryJob *job)
{
  static const char * const model_inputs[] = { "unet_name", "ckpt_name" };
  g_autoptr(JsonParser) parser = json_parser_new ();
  RlHistorySummary *summary = g_new0 (RlHistorySummary, 1);
  JsonObject *parameters;
  gint64 value;

  g_return_val_if_fail (job != NULL, summary);
  parameters = parse_object (job->parameters_json, parser);
  for (guint i = 0; i < G_N_ELEMENTS (model_inputs) && summary->model == NULL; i++)
    if (get_string (parameters, model_inputs[i]) != NULL)
      summary->model = model_label (get_string (parameters, model_inputs[i]));
  summary->has_seed = get_int (parameters, "seed", &summary->seed) ||
                      get_int (parameters, "noise_seed", &summary->seed);
  if (get_int (parameters, "steps", &value) && value > 0 && value <= G_MAXUINT)
    summary->steps = (guint) value;
  if (get_int (parameters, "width", &value) && value > 0 && value <= G_MAXUINT)
    summary->width = (guint) value;
  if (get_int (parameters, "height", &value) && value > 0 && value <= G_MAXUINT)
    summary->height = (guint) value;
  summary->parallel = parallel_label (job->device_config_json);
  summary->poster = pick_poster (job);
  return summary;
}

void
rl_history_summary_free (RlHistorySummary *summary)
{
  if (summary == NULL)
    return;
  g_free (summary->model);
  g_free (summary->parallel);
  g_free (summary);
}

char *
rl_history_format_duration (double seconds)
{
  gint64 whole;

  if (!(seconds > 0))
    return g_strdup ("–");
  if (seconds < 60)
    return g_strdup_printf ("%.1f s", seconds);
  whole = (gint64) (seconds + 0.5);
  if (whole < 3600)
    return g_strdup_printf ("%" G_GINT64_FORMAT ":%02" G_GINT64_FORMAT, whole / 60, whole % 60);
  return g_strdup_printf ("%" G_GINT64_FORMAT " h %02" G_GINT64_FORMAT " min", whole / 3600,
                          (whole % 3600) / 60);
}
