#include "engine/nodes/pool-job.h"

#include "engine/engine-error.h"

RlPoolService *
rl_node_require_pool (RlNodeContext  *ctx,
                      GError        **error)
{
  RlPoolService *pool = rl_node_context_get_pool_service (ctx);

  if (pool == NULL)
    g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_POOL,
                 "node %s (%s) runs on the worker pool, and this run has no pool set up",
                 rl_node_context_get_node_id (ctx), rl_node_context_get_title (ctx));
  return pool;
}

static RlSharedTensor *
shared_f32 (const float     *data,
            guint            ndim,
            const guint64   *shape,
            const char      *name,
            GError         **error)
{
  RlErrorInfo info = { 0 };
  RlSharedTensor *tensor = rl_shared_tensor_new (RL_WIRE_DTYPE_F32, ndim, shape, name, &info);

  if (tensor != NULL)
    {
      memcpy (rl_shared_tensor_data (tensor), data, rl_shared_tensor_desc (tensor)->nbytes);
      if (rl_shared_tensor_seal (tensor, &info) == 0)
        return tensor;
      rl_shared_tensor_free (tensor);
    }
  g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_POOL,
               "Cannot share the %s with the workers: %s", name, info.message);
  return NULL;
}

RlSharedTensor *
rl_shared_tensor_from_latent (const RlLatent  *latent,
                              GError         **error)
{
  const guint64 shape[5] = { latent->batch, latent->channels, latent->frames, latent->height, latent->width };

  return shared_f32 (latent->samples, 5, shape, "latent", error);
}

RlSharedTensor *
rl_shared_tensor_from_image (const RlImage  *image,
                             GError        **error)
{
  const guint64 shape[4] = { image->n_frames, image->height, image->width, 3 };

  return shared_f32 (image->pixels, 4, shape, "images", error);
}

static gboolean
check_f32 (RlSharedTensor  *tensor,
           guint            ndim,
           const char      *what,
           GError         **error)
{
  const RlTensorDesc *desc = rl_shared_tensor_desc (tensor);

  if (desc->dtype == RL_WIRE_DTYPE_F32 && desc->ndim == ndim)
    return TRUE;
  g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_POOL,
               "The workers returned %s as %s with %u dimensions; expected f32 with %u. "
               "Are the app and raylight-worker from the same build?",
               what, rl_wire_dtype_name (desc->dtype), desc->ndim, ndim);
  return FALSE;
}

RlLatent *
rl_latent_from_shared_tensor (RlSharedTensor  *tensor,
                              const char      *what,
                              GError         **error)
{
  const RlTensorDesc *desc = rl_shared_tensor_desc (tensor);
  RlLatent *latent;

  if (!check_f32 (tensor, 5, what, error))
    return NULL;
  latent = rl_latent_new ((guint) desc->shape[0], (guint) desc->shape[1], (guint) desc->shape[2],
                          (guint) desc->shape[3], (guint) desc->shape[4], error);
  if (latent != NULL)
    memcpy (latent->samples, rl_shared_tensor_data (tensor), desc->nbytes);
  return latent;
}

RlImage *
rl_image_from_shared_tensor (RlSharedTensor  *tensor,
                             const char      *what,
                             GError         **error)
{
  const RlTensorDesc *desc = rl_shared_tensor_desc (tensor);
  RlImage *image;

  if (!check_f32 (tensor, 4, what, error))
    return NULL;
  if (desc->shape[3] != 3)
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_POOL,
                   "The workers returned %s with %u colour channels; expected 3",
                   what, (guint) desc->shape[3]);
      return NULL;
    }
  image = rl_image_new ((guint) desc->shape[0], (guint) desc->shape[1], (guint) desc->shape[2], error);
  if (image != NULL)
    memcpy (image->pixels, rl_shared_tensor_data (tensor), desc->nbytes);
  return image;
}

gboolean
rl_node_run_pool_job (RlNodeContext          *ctx,
                      RlMessageType           type,
                      const RlWireWriter     *params,
                      RlSharedTensor *const  *tensors,
                      int                     n_tensors,
                      RlPoolResult           *result,
                      GError                **error)
{
  return rl_node_run_pool_job_parallel (ctx, NULL, type, params, tensors, n_tensors, result,
                                        error);
}

gboolean
rl_node_run_pool_job_parallel (RlNodeContext          *ctx,
                               const RlPoolParallel   *parallel,
                               RlMessageType           type,
                               const RlWireWriter     *params,
                               RlSharedTensor *const  *tensors,
                               int                     n_tensors,
                               RlPoolResult           *result,
                               GError                **error)
{
  RlPoolService *pool = rl_node_require_pool (ctx, error);

  if (pool == NULL)
    return FALSE;
  if (params->failed)
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_EXECUTION,
                   "node %s: its parameters are too large to send to the workers",
                   rl_node_context_get_node_id (ctx));
      return FALSE;
    }
  return rl_pool_service_run_parallel (pool, parallel, type, NULL, params->data, params->size,
                                       tensors, n_tensors, ctx, result, error);
}

RlSharedTensor *
rl_pool_result_tensor (RlPoolResult  *result,
                       const char    *what,
                       GError       **error)
{
  if (result->n_tensors >= 1 && result->tensors[0] != NULL)
    return result->tensors[0];
  g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_POOL,
               "The workers returned no %s", what);
  return NULL;
}
