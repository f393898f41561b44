/* The engine's one error domain. Messages always name the thing (file, node
 * id and title, input) and say what to do; the code tells callers (CLI exit
 * codes, UI) which class of failure it was. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define RL_ENGINE_ERROR (rl_engine_error_quark ())

typedef enum {
  RL_ENGINE_ERROR_INVALID_WORKFLOW,  /* malformed or truncated JSON, wrong shapes of data */
  RL_ENGINE_ERROR_UNKNOWN_NODE_TYPE, /* workflow uses node types we do not have */
  RL_ENGINE_ERROR_VALIDATION,        /* graph failed validation; details in RlValidationIssue list */
  RL_ENGINE_ERROR_INTERRUPTED,       /* user interrupt or job cancel */
  RL_ENGINE_ERROR_EXECUTION,         /* a node failed while running */
  RL_ENGINE_ERROR_MODEL_NOT_FOUND,   /* a model file named by a widget is not in any model folder */
  RL_ENGINE_ERROR_IO,                /* output folder unwritable, disk full, unreadable file */
  RL_ENGINE_ERROR_HISTORY,           /* history database corrupt, locked or unwritable */
  RL_ENGINE_ERROR_MEDIA,             /* encoding or decoding failed */
  RL_ENGINE_ERROR_POOL,              /* worker pool failure (crash, timeout, protocol) */
} RlEngineError;

GQuark rl_engine_error_quark (void);

G_END_DECLS
