/* The executor: run order, cache keys, the node cache and interrupts. See
 * executor.h for the contract. */
#include "engine/run/executor-private.h"

#include <string.h>

#include "engine/engine-error.h"
#include "engine/graph/registry.h"

/* One node's outputs, from this run or the cache. */
typedef struct {
  char       *key;
  RlValue   **outputs;
  guint       n_outputs;
  GPtrArray  *output_files;   /* char*: files the node wrote when it ran */
  guint64     last_used;      /* run serial that last produced or used it */
} NodeResult;

struct _RlExecutor {
  RlRegistry    *registry;
  GMutex         run_lock;      /* one run at a time */
  GMutex         cache_lock;    /* guards cache and cache_limit; listeners may
                                 * ask for the size during a run */
  GHashTable    *cache;         /* key -> NodeResult* */
  guint          cache_limit;
  guint64        run_serial;
  guint64        nonce;         /* makes not-idempotent nodes' keys unique */
  GMutex         cancel_lock;   /* guards current */
  GCancellable  *current;       /* the running run's cancellable */
  RlPoolService *pool;          /* borrowed; NULL when no node needs workers */
};

static NodeResult *
node_result_new (const char *key,
                 guint       n_outputs)
{
  NodeResult *result = g_new0 (NodeResult, 1);
  result->key = g_strdup (key);
  result->n_outputs = n_outputs;
  result->outputs = g_new0 (RlValue *, MAX (n_outputs, 1));
  result->output_files = g_ptr_array_new_with_free_func (g_free);
  return result;
}

static void
node_result_free (NodeResult *result)
{
  if (result == NULL)
    return;
  for (guint i = 0; i < result->n_outputs; i++)
    g_clear_pointer (&result->outputs[i], rl_value_unref);
  g_free (result->outputs);
  g_ptr_array_unref (result->output_files);
  g_free (result->key);
  g_free (result);
}

/* A second holder of the same outputs (values are immutable and shared). */
static NodeResult *
node_result_share (const NodeResult *source)
{
  NodeResult *copy = node_result_new (source->key, source->n_outputs);
  for (guint i = 0; i < source->n_outputs; i++)
    copy->outputs[i] = source->outputs[i] != NULL ? rl_value_ref (source->outputs[i]) : NULL;
  for (guint i = 0; i < source->output_files->len; i++)
    g_ptr_array_add (copy->output_files, g_strdup (g_ptr_array_index (source->output_files, i)));
  copy->last_used = source->last_used;
  return copy;
}

RlExecutor *
rl_executor_new (RlRegistry *registry)
{
  g_return_val_if_fail (registry != NULL, NULL);

  RlExecutor *self = g_new0 (RlExecutor, 1);
  self->registry = rl_registry_ref (registry);
  g_mutex_init (&self->run_lock);
  g_mutex_init (&self->cache_lock);
  g_mutex_init (&self->cancel_lock);
  self->cache = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                       (GDestroyNotify) node_result_free);
  self->cache_limit = RL_EXECUTOR_DEFAULT_CACHE_LIMIT;
  return self;
}

void
rl_executor_free (RlExecutor *self)
{
  if (self == NULL)
    return;
  g_hash_table_unref (self->cache);
  rl_registry_unref (self->registry);
  g_mutex_clear (&self->run_lock);
  g_mutex_clear (&self->cache_lock);
  g_mutex_clear (&self->cancel_lock);
  g_free (self);
}

void
rl_executor_set_cache_limit (RlExecutor *self,
                             guint       limit)
{
  g_return_if_fail (self != NULL);
  g_mutex_lock (&self->cache_lock);
  self->cache_limit = limit;
  g_mutex_unlock (&self->cache_lock);
}

guint
rl_executor_get_cache_size (RlExecutor *self)
{
  g_return_val_if_fail (self != NULL, 0);
  g_mutex_lock (&self->cache_lock);
  guint size = g_hash_table_size (self->cache);
  g_mutex_unlock (&self->cache_lock);
  return size;
}

void
rl_executor_clear_cache (RlExecutor *self)
{
  g_return_if_fail (self != NULL);
  g_mutex_lock (&self->cache_lock);
  g_hash_table_remove_all (self->cache);
  g_mutex_unlock (&self->cache_lock);
}

void
rl_executor_interrupt (RlExecutor *self)
{
  g_return_if_fail (self != NULL);
  g_mutex_lock (&self->cancel_lock);
  if (self->current != NULL)
    g_cancellable_cancel (self->current);
  g_mutex_unlock (&self->cancel_lock);
}

void
rl_run_report_clear (RlRunReport *report)
{
  if (report == NULL)
    return;
  g_clear_pointer (&report->output_files, g_ptr_array_unref);
  *report = (RlRunReport) { 0 };
}

/* ---- events ----------------------------------------------------------- */

void
_rl_run_emit (RlRun          *run,
              RlEventKind     kind,
              RlGraphNode    *node,
              const RlEvent  *fields)
{
  if (run->options->listener == NULL)
    return;
  RlEvent event = fields != NULL ? *fields : (RlEvent) { 0 };
  event.kind = kind;
  event.job_id = run->options->job_id;
  if (node != NULL)
    {
      event.node_id = rl_graph_node_get_id (node);
      event.node_type = rl_graph_node_get_class_type (node);
      event.node_title = rl_graph_node_get_display_title (node);
    }
  event.elapsed_s = (g_get_monotonic_time () - run->start_time) / 1e6;
  run->options->listener (&event, run->options->listener_data);
}

void
_rl_run_add_output_file (RlRun        *run,
                         RlGraphNode  *node,
                         const char   *path)
{
  g_ptr_array_add (run->report->output_files, g_strdup (path));
  RlEvent event = { .path = path };
  _rl_run_emit (run, RL_EVENT_OUTPUT_FILE, node, &event);
}

/* ---- run order -------------------------------------------------------- */

static const RlNodeType *
lookup_type (RlRun        *run,
             RlGraphNode  *node,
             GError      **error)
{
  const RlNodeType *type = rl_registry_lookup (run->registry, rl_graph_node_get_class_type (node));
  if (type == NULL)
    g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_VALIDATION,
                 "Node %s “%s” has type %s, which this Raylight does not know. "
                 "Validate the workflow first (`raylight validate`).",
                 rl_graph_node_get_id (node), rl_graph_node_get_display_title (node),
                 rl_graph_node_get_class_type (node));
  return type;
}

enum { VISITING = 1, DONE = 2 };

/* Appends @node after everything it depends on (depth first, inputs in
 * the node's order), so each output's chain completes before the next. */
static gboolean
visit (RlRun        *run,
       RlGraphNode  *node,
       GHashTable   *state,
       GPtrArray    *order,
       GError      **error)
{
  const char *id = rl_graph_node_get_id (node);
  int mark = GPOINTER_TO_INT (g_hash_table_lookup (state, id));
  if (mark == DONE)
    return TRUE;
  if (mark == VISITING)
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_VALIDATION,
                   "Node %s “%s” (%s) depends on itself through a cycle of links. "
                   "Remove one of the links of the cycle.", id,
                   rl_graph_node_get_display_title (node), rl_graph_node_get_class_type (node));
      return FALSE;
    }
  const RlNodeType *type = lookup_type (run, node, error);
  if (type == NULL)
    return FALSE;
  g_hash_table_insert (state, (gpointer) id, GINT_TO_POINTER (VISITING));

  for (guint i = 0; i < rl_graph_node_get_n_inputs (node); i++)
    {
      const char *name = rl_graph_node_get_input_name (node, i);
      const char *from_id = NULL;
      if (rl_node_type_find_input (type, name) == NULL
          || !rl_graph_node_get_link (node, name, &from_id, NULL))
        continue;
      RlGraphNode *source = rl_graph_lookup (run->graph, from_id);
      if (source == NULL)
        {
          g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_VALIDATION,
                       "Node %s “%s” (%s), input %s: linked to node %s, which is not in "
                       "the workflow. Reconnect the input.", id,
                       rl_graph_node_get_display_title (node), type->name, name, from_id);
          return FALSE;
        }
      if (!visit (run, source, state, order, error))
        return FALSE;
    }

  g_hash_table_insert (state, (gpointer) id, GINT_TO_POINTER (DONE));
  g_ptr_array_add (order, node);
  return TRUE;
}

/* The nodes to run, in order: the closures of the output nodes, output
 * nodes taken in the graph's stable order. */
static GPtrArray *
plan_order (RlRun   *run,
            GError **error)
{
  g_autoptr (GPtrArray) order = g_ptr_array_new ();
  g_autoptr (GHashTable) state = g_hash_table_new (g_str_hash, g_str_equal);
  guint n_outputs = 0;

  for (guint i = 0; i < rl_graph_get_n_nodes (run->graph); i++)
    {
      RlGraphNode *node = rl_graph_get_node (run->graph, i);
      const RlNodeType *type = lookup_type (run, node, error);
      if (type == NULL)
        return NULL;
      if (!type->output_node)
        continue;
      n_outputs++;
      if (!visit (run, node, state, order, error))
        return NULL;
    }
  if (n_outputs == 0)
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_VALIDATION,
                   "The workflow has no output node (such as SaveImage or SaveVideo), "
                   "so running it would produce nothing. Add one.");
      return NULL;
    }
  return g_steal_pointer (&order);
}

/* ---- cache keys and inputs -------------------------------------------- */

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* A text that equals another value's only when the values are equal. */
static void
append_canonical_value (GString  *text,
                        RlValue  *value)
{
  switch (rl_value_get_kind (value))
    {
    case RL_VALUE_INT:
      g_string_append_printf (text, "i%" G_GINT64_FORMAT, rl_value_get_int (value));
      break;
    case RL_VALUE_FLOAT:
      g_string_append_printf (text, "f%.17g", rl_value_get_float (value));
      break;
    case RL_VALUE_BOOLEAN:
      g_string_append_printf (text, "b%d", rl_value_get_boolean (value) ? 1 : 0);
      break;
    case RL_VALUE_STRING:
      {
        const char *s = rl_value_get_string (value);
        g_string_append_printf (text, "s%zu:%s", strlen (s), s);
      }
      break;
    case RL_VALUE_OBJECT:
    default:
      g_string_append_printf (text, "o%s", rl_value_get_type_name (value));
      break;
    }
}

/* Fills @ctx's inputs from literals and upstream results and returns the
 * node's cache key: a hash of its class type, its inputs sorted by name
 * (literals by value, links by their source's key and output index), the
 * output folder for output nodes, and a fresh nonce for not-idempotent
 * types. Titles and positions are not part of it. */
static char *
prepare_inputs (RlRun          *run,
                RlNodeContext  *ctx,
                GHashTable     *results,
                GError        **error)
{
  RlGraphNode *node = ctx->node;
  const RlNodeType *type = ctx->type;
  g_autoptr (GString) text = g_string_new (type->name);
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  for (guint i = 0; i < rl_graph_node_get_n_inputs (node); i++)
    g_ptr_array_add (names, (gpointer) rl_graph_node_get_input_name (node, i));
  g_ptr_array_sort (names, compare_strings);

  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      const RlInputSpec *spec = rl_node_type_find_input (type, name);
      if (spec == NULL)
        continue;   /* inputs the type does not declare never reach it */
      g_string_append_printf (text, "\x1e%s\x1f", name);

      const char *from_id = NULL;
      guint from_output = 0;
      if (rl_graph_node_get_link (node, name, &from_id, &from_output))
        {
          NodeResult *source = g_hash_table_lookup (results, from_id);
          if (source == NULL || from_output >= source->n_outputs)
            {
              g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_VALIDATION,
                           "Node %s “%s” (%s), input %s: node %s has no output %u. "
                           "Reconnect the input.", rl_graph_node_get_id (node),
                           rl_graph_node_get_display_title (node), type->name, name,
                           from_id, from_output);
              return NULL;
            }
          g_string_append_printf (text, "L%s:%u", source->key, from_output);
          if (source->outputs[from_output] != NULL)
            g_hash_table_insert (ctx->inputs, (gpointer) spec->name,
                                 rl_value_ref (source->outputs[from_output]));
          continue;
        }

      JsonNode *literal = rl_graph_node_get_literal (node, name);
      if (literal == NULL)
        continue;
      RlValue *value = _rl_literal_to_value (spec, literal, node, error);
      if (value == NULL)
        return NULL;
      g_string_append_c (text, 'V');
      append_canonical_value (text, value);
      g_hash_table_insert (ctx->inputs, (gpointer) spec->name, value);
    }

  if (type->output_node)
    g_string_append_printf (text, "\x1eoutput_dir\x1f%s", rl_node_context_get_output_dir (ctx));
  if (type->not_idempotent)
    g_string_append_printf (text, "\x1enonce\x1f%" G_GUINT64_FORMAT, ++run->executor->nonce);

  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, text->str, text->len);
}

/* ---- running one node -------------------------------------------------- */

static gboolean
set_interrupted_before (RlGraphNode  *node,
                        GError      **error)
{
  g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INTERRUPTED,
               "Interrupted by the user before node %s “%s” (%s) ran",
               rl_graph_node_get_id (node), rl_graph_node_get_display_title (node),
               rl_graph_node_get_class_type (node));
  return FALSE;
}

/* Turns a node's error into one that names the node; engine error codes
 * (I/O, missing model, media, pool) are kept so callers can tell them apart. */
static void
wrap_node_error (RlNodeContext  *ctx,
                 GError         *node_error,
                 GError        **error)
{
  if (node_error != NULL && node_error->domain == RL_ENGINE_ERROR
      && node_error->code == RL_ENGINE_ERROR_INTERRUPTED)
    {
      g_propagate_error (error, node_error);
      return;
    }
  int code = node_error != NULL && node_error->domain == RL_ENGINE_ERROR
             ? node_error->code : RL_ENGINE_ERROR_EXECUTION;
  g_set_error (error, RL_ENGINE_ERROR, code, "Node %s “%s” (%s) failed: %s",
               rl_graph_node_get_id (ctx->node), rl_graph_node_get_display_title (ctx->node),
               ctx->type->name,
               node_error != NULL ? node_error->message
                                  : "it reported a failure without saying why");
  g_clear_error (&node_error);
}

static gboolean
execute_node (RlNodeContext  *ctx,
              GError        **error)
{
  GError *node_error = NULL;
  if (ctx->type->execute == NULL)
    g_set_error (&node_error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_EXECUTION,
                 "node type %s has no execute function", ctx->type->name);
  else if (ctx->type->execute (ctx, &node_error))
    {
      for (guint i = 0; i < ctx->type->n_outputs; i++)
        if (ctx->outputs[i] == NULL)
          {
            g_set_error (&node_error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_EXECUTION,
                         "it did not produce its output %u (%s)", i, ctx->type->outputs[i].name);
            break;
          }
      if (node_error == NULL)
        return TRUE;
    }
  wrap_node_error (ctx, node_error, error);
  return FALSE;
}

/* A shared copy of the cache entry for @key, marked used by this run; NULL
 * on a miss. */
static NodeResult *
cache_lookup (RlExecutor *self,
              const char *key)
{
  g_mutex_lock (&self->cache_lock);
  NodeResult *entry = g_hash_table_lookup (self->cache, key);
  NodeResult *shared = NULL;
  if (entry != NULL)
    {
      entry->last_used = self->run_serial;
      shared = node_result_share (entry);
    }
  g_mutex_unlock (&self->cache_lock);
  return shared;
}

static void
cache_store (RlExecutor        *self,
             const NodeResult  *result)
{
  NodeResult *entry = node_result_share (result);
  g_mutex_lock (&self->cache_lock);
  g_hash_table_replace (self->cache, entry->key, entry);
  g_mutex_unlock (&self->cache_lock);
}

/* Moves the outputs and files of a node that ran into a result. */
static NodeResult *
result_from_context (RlNodeContext *ctx,
                     const char    *key,
                     guint64        run_serial)
{
  NodeResult *result = node_result_new (key, ctx->type->n_outputs);
  for (guint i = 0; i < ctx->type->n_outputs; i++)
    result->outputs[i] = g_steal_pointer (&ctx->outputs[i]);
  for (guint i = 0; i < ctx->output_files->len; i++)
    g_ptr_array_add (result->output_files, g_strdup (g_ptr_array_index (ctx->output_files, i)));
  result->last_used = run_serial;
  return result;
}

static gboolean
run_node (RlRun        *run,
          RlGraphNode  *node,
          GHashTable   *results,
          GError      **error)
{
  RlExecutor *self = run->executor;
  const char *node_id = rl_graph_node_get_id (node);
  if (g_cancellable_is_cancelled (run->cancellable))
    return set_interrupted_before (node, error);

  const RlNodeType *type = lookup_type (run, node, error);
  if (type == NULL)
    return FALSE;
  g_autoptr (RlNodeContext) ctx = _rl_node_context_new (run, node, type);
  g_autofree char *key = prepare_inputs (run, ctx, results, error);
  if (key == NULL)
    return FALSE;

  NodeResult *cached = type->not_idempotent ? NULL : cache_lookup (self, key);
  if (cached != NULL)
    {
      g_hash_table_insert (results, (gpointer) node_id, cached);
      run->report->n_cached++;
      _rl_run_emit (run, RL_EVENT_NODE_CACHED, node, NULL);
      /* The files are this job's outputs too, as ComfyUI shows them. */
      for (guint i = 0; i < cached->output_files->len; i++)
        _rl_run_add_output_file (run, node, g_ptr_array_index (cached->output_files, i));
      return TRUE;
    }

  _rl_run_emit (run, RL_EVENT_NODE_STARTED, node, NULL);
  if (!execute_node (ctx, error))
    {
      RlEvent event = { .error = error != NULL ? *error : NULL };
      _rl_run_emit (run, RL_EVENT_ERROR, node, &event);
      return FALSE;
    }
  run->report->n_executed++;
  NodeResult *result = result_from_context (ctx, key, self->run_serial);
  if (!type->not_idempotent)
    cache_store (self, result);
  g_hash_table_insert (results, (gpointer) node_id, result);
  _rl_run_emit (run, RL_EVENT_NODE_FINISHED, node, NULL);
  return TRUE;
}

/* ---- cache policy ----------------------------------------------------- */

static int
compare_newest_first (gconstpointer a,
                      gconstpointer b)
{
  const NodeResult *ra = *(NodeResult * const *) a;
  const NodeResult *rb = *(NodeResult * const *) b;
  return ra->last_used < rb->last_used ? 1 : ra->last_used > rb->last_used ? -1 : 0;
}

/* Keeps what the last run used, plus the cache_limit most recently used
 * older entries. */
static void
trim_cache (RlExecutor *self)
{
  g_mutex_lock (&self->cache_lock);
  g_autoptr (GPtrArray) older = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, self->cache);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (((NodeResult *) value)->last_used != self->run_serial)
      g_ptr_array_add (older, value);
  g_ptr_array_sort (older, compare_newest_first);
  for (guint i = self->cache_limit; i < older->len; i++)
    g_hash_table_remove (self->cache, ((NodeResult *) g_ptr_array_index (older, i))->key);
  g_mutex_unlock (&self->cache_lock);
}

/* ---- a run ------------------------------------------------------------- */

static RlJobStatus
status_for_error (const GError *error)
{
  if (error == NULL)
    return RL_JOB_SUCCEEDED;
  if (g_error_matches (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INTERRUPTED))
    return RL_JOB_INTERRUPTED;
  return RL_JOB_FAILED;
}

static gboolean
run_graph (RlRun   *run,
           GError **error)
{
  g_autoptr (GPtrArray) order = plan_order (run, error);
  if (order == NULL)
    return FALSE;
  g_autoptr (GHashTable) results = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                                          (GDestroyNotify) node_result_free);
  for (guint i = 0; i < order->len; i++)
    if (!run_node (run, g_ptr_array_index (order, i), results, error))
      return FALSE;
  return TRUE;
}

gboolean
rl_executor_run (RlExecutor          *self,
                 RlGraph             *graph,
                 const RlRunOptions  *options,
                 RlRunReport         *report,
                 GError             **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (graph != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  static const RlRunOptions no_options = { 0 };
  RlRunReport local_report = { 0 };
  if (options == NULL)
    options = &no_options;
  if (report == NULL)
    report = &local_report;
  rl_run_report_clear (report);
  report->output_files = g_ptr_array_new_with_free_func (g_free);
  report->status = RL_JOB_RUNNING;

  g_mutex_lock (&self->run_lock);
  RlRun run = {
    .executor = self,
    .registry = self->registry,
    .graph = graph,
    .options = options,
    .cancellable = options->cancellable != NULL ? g_object_ref (options->cancellable)
                                                : g_cancellable_new (),
    .prompt_json = options->prompt_json != NULL ? g_strdup (options->prompt_json)
                                                : rl_graph_to_prompt_string (graph, FALSE),
    .start_time = g_get_monotonic_time (),
    .report = report,
  };
  g_mutex_lock (&self->cancel_lock);
  self->current = run.cancellable;
  g_mutex_unlock (&self->cancel_lock);
  self->run_serial++;

  _rl_run_emit (&run, RL_EVENT_JOB_STARTED, NULL, NULL);
  GError *run_error = NULL;
  run_graph (&run, &run_error);
  trim_cache (self);

  report->status = status_for_error (run_error);
  report->elapsed_s = (g_get_monotonic_time () - run.start_time) / 1e6;
  RlEvent finished = { .status = report->status, .error = run_error };
  _rl_run_emit (&run, RL_EVENT_JOB_FINISHED, NULL, &finished);

  g_mutex_lock (&self->cancel_lock);
  self->current = NULL;
  g_mutex_unlock (&self->cancel_lock);
  g_object_unref (run.cancellable);
  g_free (run.prompt_json);
  g_mutex_unlock (&self->run_lock);

  rl_run_report_clear (&local_report);
  if (run_error != NULL)
    {
      g_propagate_error (error, run_error);
      return FALSE;
    }
  return TRUE;
}

void
rl_executor_set_pool_service (RlExecutor    *self,
                              RlPoolService *pool)
{
  g_return_if_fail (self != NULL);
  self->pool = pool;
}

RlPoolService *
_rl_executor_get_pool_service (RlExecutor *self)
{
  return self->pool;
}
