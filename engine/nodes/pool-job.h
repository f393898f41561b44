/* What every node that dispatches to the worker pool does the same way:
 * find the pool, move latents and images into shared tensors and back,
 * and run one job with its parameters. Internal to engine/nodes. */
#pragma once

#include "engine/graph/image.h"
#include "engine/graph/node-type.h"
#include "engine/pool/pool-service.h"
#include "workers/protocol/wire.h"

G_BEGIN_DECLS

/* The context's pool, or NULL with an error saying none is set up. */
RlPoolService   *rl_node_require_pool           (RlNodeContext     *ctx,
                                                 GError           **error);

/* Sealed copies for a request: latent f32 [B, C, T, H, W]; images f32
 * [N, H, W, 3]. */
RlSharedTensor  *rl_shared_tensor_from_latent   (const RlLatent    *latent,
                                                 GError           **error);
RlSharedTensor  *rl_shared_tensor_from_image    (const RlImage     *image,
                                                 GError           **error);
/* Host copies of a result, checking dtype and rank; errors name @what. */
RlLatent        *rl_latent_from_shared_tensor   (RlSharedTensor    *tensor,
                                                 const char        *what,
                                                 GError           **error);
RlImage         *rl_image_from_shared_tensor    (RlSharedTensor    *tensor,
                                                 const char        *what,
                                                 GError           **error);

/* Runs @type with the encoded parameters @params and input @tensors;
 * @result receives rank 0's answer (clear it with rl_pool_result_clear). */
gboolean         rl_node_run_pool_job           (RlNodeContext         *ctx,
                                                 RlMessageType          type,
                                                 const RlWireWriter    *params,
                                                 RlSharedTensor *const *tensors,
                                                 int                    n_tensors,
                                                 RlPoolResult          *result,
                                                 GError               **error);

/* rl_node_run_pool_job with a run's parallel settings (NULL: the pool's
 * defaults): a SAMPLE regroups the workers when they need another shape. */
gboolean         rl_node_run_pool_job_parallel  (RlNodeContext         *ctx,
                                                 const RlPoolParallel  *parallel,
                                                 RlMessageType          type,
                                                 const RlWireWriter    *params,
                                                 RlSharedTensor *const *tensors,
                                                 int                    n_tensors,
                                                 RlPoolResult          *result,
                                                 GError               **error);

/* The result's tensor 0, or NULL with an error naming @what. */
RlSharedTensor  *rl_pool_result_tensor          (RlPoolResult      *result,
                                                 const char        *what,
                                                 GError           **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RlSharedTensor, rl_shared_tensor_free)

G_END_DECLS
