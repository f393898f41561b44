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

const RlModelRef *
rl_node_require_model_ref (RlNodeContext  *ctx,
                           const char     *name,
                           const char     *socket_type,
                           GError        **error)
{
  return require_object (ctx, name, socket_type, error);
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
