/* RlPoolService: the app's side of the worker pool. It starts the
 * raylight-worker processes on first use (CPU workers where there is no
 * GPU), runs model jobs on them for the nodes that dispatch to the pool,
 * turns worker progress into node progress and previews, cancels a job's
 * requests when the job is interrupted, and reports failures — a crashed
 * or hung rank included — as RL_ENGINE_ERROR_POOL errors that say what
 * happened and what to do. The pool manager itself is the plain-C library
 * in workers/pool; this wraps it for the engine. */
#pragma once

#include "engine/engine-types.h"
#include "engine/pool/pool-topology.h"
#include "workers/pool/pool.h"

G_BEGIN_DECLS

typedef enum {
  RL_POOL_DEVICES_AUTO,   /* GPUs when the CUDA backend finds any, else CPU */
  RL_POOL_DEVICES_CPU,
  RL_POOL_DEVICES_CUDA,
} RlPoolDevices;

typedef struct {
  const char     *worker_path;   /* NULL: $RAYLIGHT_WORKER, next to the app, or the install */
  RlPoolDevices   devices;
  guint           n_workers;     /* 0: one */
  const char     *plugin_path;   /* model-family plugins; NULL: $RAYLIGHT_PLUGIN_PATH or built-in */
  const char *const *extra_env;  /* NULL-terminated "KEY=VALUE" for the workers (NCCL options) */
  guint           comm_timeout_ms; /* per collective; 0: the pool's default (5 min) */
  guint           ulysses_degree; /* sequence parallelism; 0: $RAYLIGHT_ULYSSES or none */
  guint           ring_degree;    /* 0: $RAYLIGHT_RING or none */
  guint           cfg_degree;     /* CFG parallelism, 1 or 2; 0: $RAYLIGHT_CFG_PARALLEL or 1 */
  guint           data_degree;    /* batch split over groups; 0: $RAYLIGHT_DATA_PARALLEL or 1 */
  guint           heartbeat_timeout_ms; /* a worker silent this long is killed as hung and its
                                         * job fails; 0: the pool's default (10 s); at least 100 */
} RlPoolSettings;

/* How a run's sampling jobs split over the workers (the Parallel Settings
 * node): it overrides the pool's defaults for the SAMPLE jobs that carry
 * it. The workers are Ulysses × ring × cfg × data ranks (one when all are
 * 1); FSDP, CPU offload and the attention variant travel to every worker
 * (RlMsgParallel). A pool of another shape is shut down and the wanted one
 * started; jobs without settings run on whatever pool is up. */
typedef struct {
  guint     ulysses_degree;
  guint     ring_degree;
  guint     cfg_degree;      /* 1 or 2 */
  guint     data_degree;
  guint     fsdp_degree;     /* 1: every rank holds the whole model */
  gboolean  cpu_offload;
  char      attention[32];   /* "" or "auto": the workers' default */
} RlPoolParallel;

/* How many NVIDIA GPUs the driver lists (0 without the driver). */
guint          rl_pool_service_count_gpus   (void);
RlPoolService *rl_pool_service_new          (const RlPoolSettings *settings);
void           rl_pool_service_free         (RlPoolService        *self);

/* Starts the workers if they are not running. Thread-safe. */
gboolean       rl_pool_service_start        (RlPoolService        *self,
                                             GError              **error);
guint          rl_pool_service_get_n_workers (RlPoolService       *self);
/* Shuts the workers down (a later job or start launches them again). */
void           rl_pool_service_stop         (RlPoolService        *self);
/* Each worker's state, pid, device and last error (RlWorkerInfo), rank
 * order; last_error keeps a rank's last crash or failure after it was
 * restarted. Empty when the pool is not running; NULL while the pool is
 * starting or stopping (it never waits for that). */
GArray        *rl_pool_service_list_workers (RlPoolService        *self);
/* The GPU topology self-test: runs raylight-topology once and keeps the
 * result ($RAYLIGHT_TOPOLOGY_FILE names a captured report to use instead).
 * Starting a pool of several GPUs runs it first, and gives the workers
 * NCCL_P2P_DISABLE=1 with a warning when it finds P2P copies corrupted.
 * @refresh runs it again. NULL with @error when the tool cannot run. */
RlPoolTopology *rl_pool_service_get_topology (RlPoolService       *self,
                                              gboolean             refresh,
                                              GError             **error);
/* Asks every running worker to drop its resident models and caches (the
 * app's "Free memory"); nothing to do when the workers are not running. */
gboolean       rl_pool_service_free_memory  (RlPoolService        *self,
                                             GError              **error);
/* The n × n link costs (rl_gpu_link_cost, lower is faster) between the
 * CUDA devices @device_ids (NULL: 0 .. n−1) as @topology found them, for
 * the rank layout (RlPoolOptions.link_cost); FALSE when the topology lacks
 * a device or a pair. A pool of several GPUs in a parallel shape is laid
 * out with them, so Ulysses groups get the fastest links. */
gboolean       rl_pool_service_link_costs   (RlPoolTopology       *topology,
                                             const int            *device_ids,
                                             guint                 n,
                                             double               *cost);

/* The shape of the running pool: FALSE when none runs. */
gboolean       rl_pool_service_get_active   (RlPoolService        *self,
                                             RlPoolParallel       *parallel,
                                             guint                *n_workers);
/* The shape a SAMPLE without a Parallel Settings node asks for (the
 * settings' or the environment's degrees). */
RlPoolParallel rl_pool_service_get_default_parallel (RlPoolService *self);
/* A JSON object describing the devices and parallel setup, for history. */
char          *rl_pool_service_describe     (RlPoolService        *self);

/* Makes (path, options) resident on every worker, reporting MiB read as
 * node progress of @ctx (may be NULL). */
gboolean       rl_pool_service_load_model   (RlPoolService        *self,
                                             const char           *path,
                                             const char           *options,
                                             RlNodeContext        *ctx,
                                             GError              **error);

/* Runs one model job (ENCODE_TEXT, SAMPLE, VAE_ENCODE, VAE_DECODE) on every
 * worker as one SPMD step and returns rank 0's result. @family NULL means
 * the family of the job's model, which the workers know from loading it.
 * Step progress and previews (f32 [frames, h, w, 3] RGB from the worker)
 * become @ctx's progress events; interrupting the job cancels the request
 * on every rank. */
gboolean       rl_pool_service_run          (RlPoolService        *self,
                                             RlMessageType         type,
                                             const char           *family,
                                             const void           *params,
                                             gsize                 params_size,
                                             RlSharedTensor *const *tensors,
                                             int                   n_tensors,
                                             RlNodeContext        *ctx,
                                             RlPoolResult         *result,
                                             GError              **error);

/* rl_pool_service_run with a run's parallel settings (NULL: the pool's
 * defaults): a SAMPLE regroups the workers first when the running pool
 * has another shape; other jobs run on the pool that is up. */
gboolean       rl_pool_service_run_parallel (RlPoolService        *self,
                                             const RlPoolParallel *parallel,
                                             RlMessageType         type,
                                             const char           *family,
                                             const void           *params,
                                             gsize                 params_size,
                                             RlSharedTensor *const *tensors,
                                             int                   n_tensors,
                                             RlNodeContext        *ctx,
                                             RlPoolResult         *result,
                                             GError              **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RlPoolService, rl_pool_service_free)

G_END_DECLS
