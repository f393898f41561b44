/* RlNodeType: what a node is — its sockets, widgets and the function that
 * runs it. Node types are static tables (see engine/nodes/ for examples):
 * a node file declares its inputs and outputs as const arrays and one
 * execute function; shared behaviour lives in helpers, not in copies.
 *
 * Names follow ComfyUI's class names and input names where one exists, so
 * ComfyUI workflow files load unchanged and `raylight nodes --json` prints
 * the registry in the shape of ComfyUI's /object_info. */
#pragma once

#include "engine/engine-types.h"
#include "engine/graph/value.h"

G_BEGIN_DECLS

typedef enum {
  RL_INPUT_LINK,     /* a socket that takes a link of type @type ("LATENT", "MODEL") */
  RL_INPUT_INT,      /* widget; ComfyUI type "INT" */
  RL_INPUT_FLOAT,    /* widget; ComfyUI type "FLOAT" */
  RL_INPUT_STRING,   /* widget; ComfyUI type "STRING" */
  RL_INPUT_BOOLEAN,  /* widget; ComfyUI type "BOOLEAN" */
  RL_INPUT_COMBO,    /* widget; ComfyUI type is the list of options */
} RlInputKind;

typedef enum {
  RL_RUN_IN_APP,     /* runs in the app process (primitives, saving files) */
  RL_RUN_ON_POOL,    /* dispatched to the worker pool (model loading, sampling, VAE) */
} RlRunLocation;

struct _RlInputSpec {
  const char          *name;          /* ComfyUI input name, e.g. "seed" */
  RlInputKind          kind;
  const char          *type;          /* socket type for RL_INPUT_LINK; NULL for widgets */
  gboolean             optional;      /* listed under "optional" in object_info */
  gboolean             force_input;   /* widget shown as a socket (forceInput) */
  const char          *tooltip;

  /* RL_INPUT_INT (also seeds) */
  gint64               int_min, int_max, int_step, int_default;
  gboolean             control_after_generate; /* seed widget: fixed/increment/decrement/randomize */
  /* RL_INPUT_FLOAT */
  double               float_min, float_max, float_step, float_default, float_round;
  /* RL_INPUT_STRING */
  const char          *string_default;
  gboolean             multiline;
  gboolean             dynamic_prompts;
  /* RL_INPUT_BOOLEAN */
  gboolean             boolean_default;
  /* RL_INPUT_COMBO: a fixed NULL-terminated list, or the files of a model
   * folder ("diffusion_models", "vae", "text_encoders", "loras") listed
   * through the registry's RlModelPaths when the list is asked for. */
  const char * const  *combo_options;
  const char          *combo_model_folder;
  const char          *combo_default;
};

struct _RlOutputSpec {
  const char          *name;          /* display name, e.g. "LATENT" */
  const char          *type;          /* socket type */
  gboolean             is_list;
  const char          *tooltip;
};

typedef gboolean (*RlNodeExecuteFunc) (RlNodeContext  *ctx,
                                       GError        **error);

struct _RlNodeType {
  const char          *name;          /* class name, e.g. "KSampler" */
  const char          *display_name;
  const char          *category;      /* path with '/', e.g. "sampling/video" */
  const char          *description;
  const RlInputSpec   *inputs;
  guint                n_inputs;
  const RlOutputSpec  *outputs;
  guint                n_outputs;
  gboolean             output_node;   /* a sink the executor runs for (SaveVideo) */
  gboolean             not_idempotent;/* never cached (e.g. reads the clock) */
  RlRunLocation        location;
  RlNodeExecuteFunc    execute;
};

/* Lookup helpers on a type. NULL / -1 when absent. */
const RlInputSpec *rl_node_type_find_input   (const RlNodeType *type,
                                              const char       *name);
int                rl_node_type_output_index (const RlNodeType *type,
                                              const char       *name);
/* Whether a value of socket type @from may connect to an input of type
 * @to: equal names, "*" on either side, or comma-separated unions. */
gboolean           rl_socket_types_compatible (const char      *from,
                                               const char      *to);

/* ---- Node context: what an execute function sees. Implemented by the
 * executor (engine/run/). Inputs are already validated: a required widget
 * is present and within bounds, a required link carries a value of the
 * declared type. */

/* The value of input @name, or NULL for an absent optional input. */
RlValue     *rl_node_context_get_input     (RlNodeContext  *ctx,
                                            const char     *name);
gint64       rl_node_context_get_int       (RlNodeContext  *ctx,
                                            const char     *name);
double       rl_node_context_get_float     (RlNodeContext  *ctx,
                                            const char     *name);
const char  *rl_node_context_get_string    (RlNodeContext  *ctx,
                                            const char     *name);
gboolean     rl_node_context_get_boolean   (RlNodeContext  *ctx,
                                            const char     *name);
/* The object of input @name with socket type @type_name, or NULL. */
gpointer     rl_node_context_get_object    (RlNodeContext  *ctx,
                                            const char     *name,
                                            const char     *type_name);
/* Sets output @index (takes ownership of @value). Every output must be set
 * before execute returns TRUE. */
void         rl_node_context_set_output    (RlNodeContext  *ctx,
                                            guint           index,
                                            RlValue        *value);

const char  *rl_node_context_get_node_id   (RlNodeContext  *ctx);
const char  *rl_node_context_get_title     (RlNodeContext  *ctx);
gint64       rl_node_context_get_job_id    (RlNodeContext  *ctx);
/* Sampler progress: step @step of @total; @preview may be NULL (frames to
 * show; borrowed for the duration of the call). */
void         rl_node_context_report_progress (RlNodeContext  *ctx,
                                              guint           step,
                                              guint           total,
                                              const RlImage  *preview);
/* FALSE with RL_ENGINE_ERROR_INTERRUPTED when the job was interrupted;
 * long-running nodes call it at every step. */
gboolean     rl_node_context_check_interrupt (RlNodeContext  *ctx,
                                              GError        **error);
const char  *rl_node_context_get_output_dir  (RlNodeContext  *ctx);
/* Records a file the node wrote, for history and the CLI's summary. */
void         rl_node_context_add_output_file (RlNodeContext  *ctx,
                                              const char     *path);
/* The job's API prompt and UI workflow as JSON text, for embedding in
 * outputs; the workflow may be NULL when the job came from a prompt. */
const char  *rl_node_context_get_prompt_json   (RlNodeContext *ctx);
const char  *rl_node_context_get_workflow_json (RlNodeContext *ctx);
RlModelPaths *rl_node_context_get_model_paths  (RlNodeContext *ctx);
/* The worker pool for RL_RUN_ON_POOL nodes, or NULL when none is set. */
RlPoolService *rl_node_context_get_pool_service (RlNodeContext *ctx);

G_END_DECLS
