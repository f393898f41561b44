/* What executor.c and node-context.c share: the state of one run and the
 * context a node executes in. Not installed, not for other modules. */
#pragma once

#include "engine/graph/graph.h"
#include "engine/graph/node-type.h"
#include "engine/run/executor.h"

G_BEGIN_DECLS

/* The state of one rl_executor_run call. */
typedef struct {
  RlExecutor          *executor;
  RlRegistry          *registry;
  RlGraph             *graph;
  const RlRunOptions  *options;
  GCancellable        *cancellable;   /* the run's own or the caller's */
  char                *prompt_json;   /* options' or serialised from the graph */
  gint64               start_time;    /* monotonic, µs */
  RlRunReport         *report;
} RlRun;

struct _RlNodeContext {
  RlRun              *run;
  RlGraphNode        *node;
  const RlNodeType   *type;
  GHashTable         *inputs;         /* input name -> RlValue* (owned ref) */
  RlValue           **outputs;        /* type->n_outputs slots, owned */
  GPtrArray          *output_files;   /* char*, files this node wrote */
};

RlNodeContext *_rl_node_context_new      (RlRun             *run,
                                          RlGraphNode       *node,
                                          const RlNodeType  *type);
void           _rl_node_context_free     (RlNodeContext     *ctx);

/* Sends an event about @node (NULL for job-level) to the run's listener;
 * fields other than kind and node come from @event (may be NULL). */
void           _rl_run_emit              (RlRun             *run,
                                          RlEventKind        kind,
                                          RlGraphNode       *node,
                                          const RlEvent     *event);
/* Records a file a node wrote (or a cached node wrote before): report and
 * OUTPUT_FILE event. */
void           _rl_run_add_output_file   (RlRun             *run,
                                          RlGraphNode       *node,
                                          const char        *path);

/* Converts widget literal @literal to the value @spec declares (INT from an
 * integral number, FLOAT from any number, STRING/COMBO from a string,
 * BOOLEAN from a boolean). NULL with RL_ENGINE_ERROR_VALIDATION naming
 * @node and the input otherwise. */
RlValue       *_rl_literal_to_value      (const RlInputSpec *spec,
                                          JsonNode          *literal,
                                          RlGraphNode       *node,
                                          GError           **error);

RlPoolService *_rl_executor_get_pool_service (RlExecutor *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RlNodeContext, _rl_node_context_free)

G_END_DECLS
