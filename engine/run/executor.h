/* RlExecutor: runs a validated RlGraph and caches node outputs across runs.
 *
 * A run executes the dependency closures of the graph's output nodes, one
 * output's chain after the other (ComfyUI's order). Each node's outputs are
 * cached under a key made of its class type, its literal inputs and the keys
 * of its linked sources, so a second run re-executes only the nodes whose
 * key changed; titles and positions are not part of the key. Node types
 * marked not_idempotent always run. After a run the cache keeps every entry
 * that run used, plus up to the cache limit of older entries (least
 * recently used dropped first).
 *
 * One run at a time per executor (runs are serialised);
 * rl_executor_interrupt and the cache functions may be called from any
 * thread, listeners included. */
#pragma once

#include <gio/gio.h>

#include "engine/engine-types.h"
#include "engine/run/event.h"

G_BEGIN_DECLS

#define RL_EXECUTOR_DEFAULT_CACHE_LIMIT 64

/* Per-run settings; every field may be zero/NULL. Borrowed for the run. */
typedef struct {
  gint64         job_id;         /* reported in events and to nodes */
  const char    *output_dir;     /* where output nodes write; NULL: current folder */
  const char    *prompt_json;    /* the API prompt, for embedding in outputs */
  const char    *workflow_json;  /* the UI workflow, for embedding in outputs */
  GCancellable  *cancellable;    /* cancelling it interrupts the run */
  RlEventFunc    listener;       /* called on the running thread */
  gpointer       listener_data;
} RlRunOptions;

/* What a run did; fill with rl_executor_run, release with
 * rl_run_report_clear. */
typedef struct {
  RlJobStatus  status;           /* succeeded, failed or interrupted */
  guint        n_executed;       /* nodes whose execute ran */
  guint        n_cached;         /* nodes taken from the cache */
  GPtrArray   *output_files;     /* char*, files the nodes wrote, in order */
  double       elapsed_s;
} RlRunReport;

/* Node types are looked up in @registry (the executor takes a reference);
 * nodes see the registry's model paths. */
RlExecutor  *rl_executor_new             (RlRegistry          *registry);
void         rl_executor_free            (RlExecutor          *self);

/* How many cache entries beyond the last run's to keep (default
 * RL_EXECUTOR_DEFAULT_CACHE_LIMIT; 0 keeps only the last run's). */
void         rl_executor_set_cache_limit (RlExecutor          *self,
                                          guint                limit);
/* Number of node results held in the cache. */
guint        rl_executor_get_cache_size  (RlExecutor          *self);
void         rl_executor_clear_cache     (RlExecutor          *self);

/* Runs @graph (already validated; borrowed). Emits JOB_STARTED, node
 * events and JOB_FINISHED to @options->listener. Returns TRUE when every
 * output node finished; FALSE with RL_ENGINE_ERROR_INTERRUPTED when
 * interrupted; when a node failed, an error whose message names the node
 * id, title and type, with the node's engine error code (IO,
 * MODEL_NOT_FOUND, MEDIA, POOL) or else RL_ENGINE_ERROR_EXECUTION; or
 * RL_ENGINE_ERROR_VALIDATION when the graph names an unknown type or a
 * missing node (validate first).
 * @report (may be NULL) is filled in every case. */
gboolean     rl_executor_run             (RlExecutor          *self,
                                          RlGraph             *graph,
                                          const RlRunOptions  *options,
                                          RlRunReport         *report,
                                          GError             **error);

/* The worker pool that RL_RUN_ON_POOL nodes dispatch to (borrowed: it
 * must outlive the executor's runs; NULL: such nodes fail with an error
 * saying no pool is configured). */
void         rl_executor_set_pool_service (RlExecutor         *self,
                                           RlPoolService      *pool);

/* Interrupts the run in progress, if any, at the next node boundary or
 * rl_node_context_check_interrupt. Thread-safe. */
void         rl_executor_interrupt       (RlExecutor          *self);

void         rl_run_report_clear         (RlRunReport         *report);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RlExecutor, rl_executor_free)

G_END_DECLS
