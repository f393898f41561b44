/* Turning what the user names on the command line into a runnable graph:
 * a ComfyUI UI workflow, an API prompt, or an output file (PNG, MP4,
 * WebM, WebP) that carries either in its metadata. */
#pragma once

#include "engine/graph/graph.h"
#include "engine/graph/registry.h"
#include "engine/graph/workflow.h"

G_BEGIN_DECLS

typedef struct {
  RlGraph     *graph;
  RlWorkflow  *workflow;       /* NULL when the source was an API prompt */
  char        *source_kind;    /* "workflow", "prompt", or "workflow in PNG" ... */
} RlJobSource;

/* Loads @path. RL_ENGINE_ERROR_INVALID_WORKFLOW for malformed files,
 * RL_ENGINE_ERROR_UNKNOWN_NODE_TYPE for missing node types, IO/MEDIA errors
 * for unreadable files; messages name @path. */
gboolean  rl_job_source_load   (RlJobSource       *source,
                                const char        *path,
                                const RlRegistry  *registry,
                                GError           **error);
/* Applies "NODE.INPUT=VALUE" overrides to the graph and, where the node is
 * in the workflow, to its widget values, so what history and outputs
 * embed is what ran. */
gboolean  rl_job_source_apply_overrides (RlJobSource       *source,
                                         const RlRegistry  *registry,
                                         char * const      *assignments,
                                         GError           **error);
void      rl_job_source_clear  (RlJobSource       *source);

G_END_DECLS
