/* Validation of an executable graph against the registry, before anything
 * runs. Each problem is one RlValidationIssue whose kind is ComfyUI's
 * error type name:
 *
 *   required_input_missing       a required input is absent
 *   return_type_mismatch         a link's source type does not fit the input
 *   value_smaller_than_min       INT/FLOAT below min
 *   value_bigger_than_max        INT/FLOAT above max (also beyond int64)
 *   value_not_in_list            COMBO value not among the options
 *   invalid_input_type           wrong JSON type, non-integer INT, NaN, ...
 *   bad_linked_input             link to a missing node or output index,
 *                                or a link where a literal is needed
 *   dependency_cycle             one issue per node on a cycle
 *   prompt_no_outputs            no output node in the graph
 *   exception_during_validation  unknown class_type
 *
 * Issues come in node order, then input declaration order. */
#pragma once

#include <json-glib/json-glib.h>

#include "engine/engine-types.h"
#include "engine/graph/graph.h"

G_BEGIN_DECLS

typedef struct {
  char *kind;        /* one of the names above */
  char *node_id;     /* NULL for graph-wide issues (prompt_no_outputs) */
  char *node_type;   /* class_type, or NULL */
  char *title;       /* display title, or NULL */
  char *input_name;  /* or NULL */
  char *message;     /* one readable sentence */
  char *details;     /* allowed values or range, received value; or NULL */
} RlValidationIssue;

void          rl_validation_issue_free        (RlValidationIssue *issue);

/* All issues of @graph (array of RlValidationIssue, owns them; empty when
 * the graph is valid). */
GPtrArray    *rl_graph_validate               (RlGraph           *graph,
                                               const RlRegistry  *registry);
/* TRUE when valid, else FALSE with RL_ENGINE_ERROR_VALIDATION carrying
 * rl_validation_issues_to_string(). */
gboolean      rl_graph_check                  (RlGraph           *graph,
                                               const RlRegistry  *registry,
                                               GError           **error);
/* One line per issue: "node 3 \"KSampler\" (KSampler), input steps:
 * value_smaller_than_min: ... [details]"; with a heading line. */
char         *rl_validation_issues_to_string  (GPtrArray         *issues);
/* An error (RL_ENGINE_ERROR_VALIDATION) from a non-empty list. */
GError       *rl_validation_issues_to_error   (GPtrArray         *issues);
/* [{ "type", "node_id", "class_type", "title", "input_name", "message",
 *    "details" }, ...] for --json output. */
JsonNode     *rl_validation_issues_to_json    (GPtrArray         *issues);

/* Node ids (borrowed from @graph) of the output nodes, in stable order. */
GPtrArray    *rl_graph_list_output_nodes      (RlGraph           *graph,
                                               const RlRegistry  *registry);
/* The nodes that the output nodes @output_ids (NULL: all output nodes)
 * depend on, themselves included, in a topological order (every node after
 * its sources; ties in stable order). Node ids borrowed from @graph. NULL
 * with RL_ENGINE_ERROR_VALIDATION on a cycle or a link to a missing node:
 * validate first. */
GPtrArray    *rl_graph_output_closure         (RlGraph           *graph,
                                               const RlRegistry  *registry,
                                               const char * const *output_ids,
                                               GError           **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RlValidationIssue, rl_validation_issue_free)

G_END_DECLS
