/* The pool settings the Pool settings panel saves (GSettings keys
 * pool-*, nccl-*, collective-timeout), turned into what the pool service
 * takes: the device kind, the worker count, the degrees, and the
 * environment the workers get. Whoever creates the app's RlPoolService
 * reads it through here, so the panel's choices take effect. */
#pragma once

#include <gio/gio.h>

#include "engine/pool/pool-service.h"

G_BEGIN_DECLS

typedef struct {
  RlPoolDevices  devices;
  guint          n_cpu_workers;
  GArray        *gpus;             /* guint CUDA indices; empty: all */
  guint          ulysses;
  guint          ring;
  gboolean       cfg_parallel;
  gboolean       fsdp;
  gboolean       cpu_offload;
  char          *attention;        /* "" = the backend's default */
  gboolean       nccl_p2p_disable;
  gboolean       nccl_shm_disable;
  guint          collective_timeout_s;
} RlPoolConfig;

/* Reads the keys of @settings (the app's schema). */
RlPoolConfig  *rl_pool_config_load        (GSettings     *settings);
void           rl_pool_config_free        (RlPoolConfig  *config);
/* "KEY=VALUE" strings for the workers: NCCL_P2P_DISABLE, NCCL_SHM_DISABLE,
 * RAYLIGHT_FSDP / RAYLIGHT_CPU_OFFLOAD, the attention variant
 * (RAYLIGHT_ATTENTION), CUDA_VISIBLE_DEVICES for a GPU subset.
 * NULL-terminated. */
GStrv          rl_pool_config_worker_env  (const RlPoolConfig *config);
/* Fills @settings for rl_pool_service_new (devices, worker count,
 * Ulysses, Ring and CFG degrees, worker environment — FSDP and offload
 * travel there — and collective timeout); @n_gpus is how many GPUs the
 * machine has (the topology's count). @env must outlive @settings' use. */
void           rl_pool_config_to_settings (const RlPoolConfig *config,
                                           guint               n_gpus,
                                           const char *const  *env,
                                           RlPoolSettings     *settings);
/* Number of workers the pool will have. */
guint          rl_pool_config_n_workers   (const RlPoolConfig *config,
                                           guint               n_gpus);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RlPoolConfig, rl_pool_config_free)

G_END_DECLS
