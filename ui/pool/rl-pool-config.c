/* GSettings → pool service settings and worker environment. */
#include "ui/pool/rl-pool-config.h"

#include <string.h>

RlPoolConfig *
rl_pool_config_load (GSettings *settings)
{
  RlPoolConfig *config = g_new0 (RlPoolConfig, 1);
  g_autofree char *devices = g_settings_get_string (settings, "pool-devices");
  g_autoptr(GVariant) gpus = g_settings_get_value (settings, "pool-gpus");
  gsize n = 0;
  const gint32 *indices = g_variant_get_fixed_array (gpus, &n, sizeof (gint32));

  config->devices = g_str_equal (devices, "cpu") ? RL_POOL_DEVICES_CPU
                    : g_str_equal (devices, "cuda") ? RL_POOL_DEVICES_CUDA : RL_POOL_DEVICES_AUTO;
  config->n_cpu_workers = (guint) g_settings_get_int (settings, "pool-cpu-workers");
  config->gpus = g_array_new (FALSE, FALSE, sizeof (guint));
  for (gsize i = 0; i < n; i++)
    if (indices[i] >= 0)
      g_array_append_val (config->gpus, ((guint) { (guint) indices[i] }));
  config->ulysses = (guint) g_settings_get_int (settings, "pool-ulysses");
  config->ring = (guint) g_settings_get_int (settings, "pool-ring");
  config->cfg_parallel = g_settings_get_boolean (settings, "pool-cfg-parallel");
  config->fsdp = g_settings_get_boolean (settings, "pool-fsdp");
  config->cpu_offload = g_settings_get_boolean (settings, "pool-cpu-offload");
  config->attention = g_settings_get_string (settings, "pool-attention");
  config->nccl_p2p_disable = g_settings_get_boolean (settings, "nccl-p2p-disable");
  config->nccl_shm_disable = g_settings_get_boolean (settings, "nccl-shm-disable");
  config->collective_timeout_s = (guint) g_settings_get_int (settings, "collective-timeout");
  return config;
}

void
rl_pool_config_free (RlPoolConfig *config)
{
  if (config == NULL)
    return;
  g_array_unref (config->gpus);
  g_free (config->attention);
  g_free (config);
}

GStrv
rl_pool_config_worker_env (const RlPoolConfig *config)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  if (config->nccl_p2p_disable)
    g_strv_builder_add (builder, "NCCL_P2P_DISABLE=1");
  if (config->nccl_shm_disable)
    g_strv_builder_add (builder, "NCCL_SHM_DISABLE=1");
  /* FSDP shards over the group of ranks that run each forward together
   * (workers/worker/worker-fsdp.h: "1" = every rank of that group). */
  if (config->fsdp)
    g_strv_builder_add (builder, "RAYLIGHT_FSDP=1");
  if (config->cpu_offload)
    g_strv_builder_add (builder, "RAYLIGHT_CPU_OFFLOAD=1");
  if (config->attention != NULL && *config->attention != '\0')
    {
      g_autofree char *attention = g_strdup_printf ("RAYLIGHT_ATTENTION=%s", config->attention);
      g_strv_builder_add (builder, attention);
    }
  if (config->gpus->len > 0)
    {
      g_autoptr(GString) visible = g_string_new ("CUDA_VISIBLE_DEVICES=");

      for (guint i = 0; i < config->gpus->len; i++)
        g_string_append_printf (visible, "%s%u", i > 0 ? "," : "", g_array_index (config->gpus, guint, i));
      g_strv_builder_add (builder, visible->str);
    }
  return g_strv_builder_end (builder);
}

guint
rl_pool_config_n_workers (const RlPoolConfig *config,
                          guint               n_gpus)
{
  gboolean gpu = config->devices == RL_POOL_DEVICES_CUDA || (config->devices == RL_POOL_DEVICES_AUTO && n_gpus > 0);

  if (!gpu)
    return MAX (config->n_cpu_workers, 1);
  return config->gpus->len > 0 ? config->gpus->len : MAX (n_gpus, 1);
}

void
rl_pool_config_to_settings (const RlPoolConfig *config,
                            guint               n_gpus,
                            const char *const  *env,
                            RlPoolSettings     *settings)
{
  gboolean gpu = config->devices == RL_POOL_DEVICES_CUDA || (config->devices == RL_POOL_DEVICES_AUTO && n_gpus > 0);

  memset (settings, 0, sizeof *settings);
  settings->devices = gpu ? RL_POOL_DEVICES_CUDA : RL_POOL_DEVICES_CPU;
  settings->n_workers = rl_pool_config_n_workers (config, n_gpus);
  settings->extra_env = env;
  settings->comm_timeout_ms = config->collective_timeout_s * 1000;
  settings->ulysses_degree = MAX (config->ulysses, 1);
  settings->ring_degree = MAX (config->ring, 1);
  settings->cfg_degree = config->cfg_parallel ? 2 : 1;
}
