/* Socket values of the model nodes. MODEL, CLIP and VAE are references to
 * a checkpoint the workers hold (path + loader options: the workers'
 * cache key), not weights: the app process never holds model weights.
 * CONDITIONING is the text encoder's output, kept as the sealed shared
 * tensor the worker returned, so passing it to every sampler rank copies
 * nothing. */
#pragma once

#include "engine/graph/node-type.h"
#include "engine/pool/pool-service.h"
#include "workers/protocol/shared-tensor.h"

G_BEGIN_DECLS

#define RL_SOCKET_TYPE_MODEL         "MODEL"
#define RL_SOCKET_TYPE_CLIP          "CLIP"
#define RL_SOCKET_TYPE_VAE           "VAE"
#define RL_SOCKET_TYPE_CONDITIONING  "CONDITIONING"

typedef struct {
  char     *path;        /* resolved file */
  char     *name;        /* as the widget named it, for messages */
  char     *options;     /* loader options, e.g. "weight_dtype=default" */
  gboolean  has_shift;   /* ModelSamplingSD3 applied */
  double    shift;
  gboolean  has_parallel;          /* Parallel Settings applied */
  RlPoolParallel parallel;         /* how its SAMPLE jobs split over workers */
} RlModelRef;

typedef struct {
  RlSharedTensor *tensor;   /* f32 [1, L, D], sealed, owned */
  char           *text;
} RlConditioning;

/* A value of @socket_type holding a new reference (strings copied). */
RlValue           *rl_value_new_model_ref      (const char          *socket_type,
                                                const RlModelRef    *ref);
/* The reference of input @name (borrowed), or NULL with an error naming
 * the node and input. */
const RlModelRef  *rl_node_require_model_ref   (RlNodeContext       *ctx,
                                                const char          *name,
                                                const char          *socket_type,
                                                GError             **error);

/* Takes ownership of @tensor. */
RlValue           *rl_value_new_conditioning   (RlSharedTensor      *tensor,
                                                const char          *text);
const RlConditioning *rl_node_require_conditioning (RlNodeContext   *ctx,
                                                const char          *name,
                                                GError             **error);

G_END_DECLS
