#include "engine/nodes/model-values.h"

#include "engine/engine-error.h"

static void
model_ref_free (gpointer data)
{
  RlModelRef *ref = data;

  g_free (ref->path);
  g_free (ref->name);
  g_free (ref->options);
  g_free (ref);
}

RlValue *
rl_value_new_model_ref (const char       *socket_type,
                        const RlModelRef *ref)
{
  RlModelRef *copy = g_new0 (RlModelRef, 1);

  copy->path = g_strdup (ref->path);
  copy->name = g_strdup (ref->name);
  copy->options = g_strdup (ref->options ? ref->options : "");
  copy->has_shift = ref->has_shift;
  copy->shift = ref->shift;
  copy->has_parallel = ref->has_parallel;
  copy->parallel = ref->parallel;
  return rl_value_new_object (socket_type, copy, model_ref_free);
}

static gpointer
require_object (RlNodeContext  *ctx,
                const char     *name,
                const char     *socket_type,
                GError        **error)
{
  gpointer object = rl_node_context_get_object (ctx, name, socket_type);

  if (object == NULL)
    g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_EXECUTION,
                 "node %s: input '%s' needs a %s", rl_node_context_get_node_id (ctx), name, socket_type);
  return object;
}

/* The loader node that makes references of @socket_type, for messages. */
static const char *
loader_of (const char *socket_type)
{
  if (g_strcmp0 (socket_type, RL_SOCKET_TYPE_CLIP) == 0)
    return "Load CLIP";
  if (g_strcmp0 (socket_type, RL_SOCKET_TYPE_VAE) == 0)
    return "Load VAE";
  return "Load Diffusion Model";
}

const RlModelRef *
rl_node_require_model_ref (RlNodeContext  *ctx,
                           const char     *name,
                           const char     *socket_type,
                           GError        **error)
{
  const RlModelRef *ref = require_object (ctx, name, socket_type, error);

  /* The loader found the file when it ran, but its output stays in the
   * executor's cache across jobs: a file deleted since then would
   * otherwise surface only as a worker's "cannot open" in mid-job,
   * without saying which node to change. */
  if (ref != NULL && !g_file_test (ref->path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_MODEL_NOT_FOUND,
                   "The model file %s (%s) was moved or deleted after it was loaded. Put it "
                   "back, or choose another file in the %s node, and run the job again.",
                   ref->name ? ref->name : ref->path, ref->path, loader_of (socket_type));
      return NULL;
    }
  return ref;
}

static void
conditioning_free (gpointer data)
{
  RlConditioning *cond = data;

  rl_shared_tensor_free (cond->tensor);
  g_free (cond->text);
  g_free (cond);
}

RlValue *
rl_value_new_conditioning (RlSharedTensor *tensor,
                           const char     *text)
{
  RlConditioning *cond = g_new0 (RlConditioning, 1);

  cond->tensor = tensor;
  cond->text = g_strdup (text);
  return rl_value_new_object (RL_SOCKET_TYPE_CONDITIONING, cond, conditioning_free);
}

const RlConditioning *
rl_node_require_conditioning (RlNodeContext  *ctx,
                              const char     *name,
                              GError        **error)
{
  return require_object (ctx, name, RL_SOCKET_TYPE_CONDITIONING, error);
}
