/* What every CLI command sets up the same way: the node registry with the
 * built-in node types and the model search paths, and the history
 * database when the command needs it. */
#pragma once

#include "engine/graph/registry.h"
#include "engine/run/history.h"

G_BEGIN_DECLS

typedef struct {
  RlRegistry  *registry;
  RlHistory   *history;       /* NULL until rl_cli_context_open_history */
} RlCliContext;

/* Options shared by every command: --models DIR (repeatable, a models
 * folder or a ComfyUI installation) and --history FILE. */
typedef struct {
  char  **model_roots;
  char   *history_path;
} RlCliCommonOptions;

/* Adds the shared options to @group (which keeps pointers into @options). */
void          rl_cli_add_common_options  (GOptionGroup        *group,
                                          RlCliCommonOptions  *options);
void          rl_cli_common_options_clear (RlCliCommonOptions *options);

/* Builds the registry (built-in nodes, model paths from the defaults,
 * $RAYLIGHT_MODEL_PATHS and --models). FALSE with @error when a --models
 * entry is not usable. */
gboolean      rl_cli_context_init        (RlCliContext              *ctx,
                                          const RlCliCommonOptions  *options,
                                          GError                   **error);
/* Opens the history at --history, $RAYLIGHT_HISTORY or the default path. */
gboolean      rl_cli_context_open_history (RlCliContext             *ctx,
                                          const RlCliCommonOptions  *options,
                                          GError                   **error);
void          rl_cli_context_clear       (RlCliContext              *ctx);

G_END_DECLS
