/* The Pool settings' logic without a display: which parallel choices a
 * pool offers (the workers' degree rules), their explanations, and the
 * settings → pool service translation. */
#include <string.h>

#include "ui/pool/rl-parallel-choices.h"
#include "workers/pool/pool.h"
#include "ui/pool/rl-pool-config.h"

static char *
choices_text (guint    n,
              gboolean cfg)
{
  g_autoptr(GArray) choices = rl_parallel_sp_choices (n, cfg);
  g_autoptr(GString) text = g_string_new (NULL);

  for (guint i = 0; i < choices->len; i++)
    {
      RlSpChoice *c = &g_array_index (choices, RlSpChoice, i);
      g_autofree char *label = rl_parallel_choice_label (c->ulysses, c->ring);
      g_string_append_printf (text, "%s%s", i ? ", " : "", label);
    }
  return g_string_free (g_steal_pointer (&text), FALSE);
}

static void
test_choices (void)
{
  static const struct { guint n; gboolean cfg; const char *expected; } cases[] = {
    { 1, FALSE, "Off" },
    { 1, TRUE, "" },
    { 2, FALSE, "Off, Ulysses 2, Ring 2" },
    { 2, TRUE, "Off" },
    { 3, FALSE, "Off, Ulysses 3, Ring 3" },
    { 3, TRUE, "" },
    { 4, FALSE, "Off, Ulysses 4, Ulysses 2 × Ring 2, Ring 4" },
    { 4, TRUE, "Ulysses 2, Ring 2" },
    { 8, TRUE, "Ulysses 4, Ulysses 2 × Ring 2, Ring 4" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = choices_text (cases[i].n, cases[i].cfg);
      g_assert_cmpstr (text, ==, cases[i].expected);
    }
  g_assert_true (rl_parallel_choice_is_valid (4, 2, 2, FALSE));
  g_assert_false (rl_parallel_choice_is_valid (4, 2, 1, FALSE));
  g_assert_true (rl_parallel_choice_is_valid (4, 2, 1, TRUE));
  g_assert_false (rl_parallel_choice_is_valid (3, 1, 1, TRUE));
  g_assert_false (rl_parallel_cfg_possible (1));
  g_assert_false (rl_parallel_cfg_possible (3));
  g_assert_true (rl_parallel_cfg_possible (6));
}

/* Every offered choice passes the workers' own rule: degrees multiply to
 * the sequence-parallel size; and a pair left out is one the pool manager
 * refuses. */
static void
test_choices_match_worker_rules (void)
{
  for (guint n = 1; n <= 16; n++)
    for (int cfg = 0; cfg <= 1; cfg++)
      {
        g_autoptr(GArray) choices = rl_parallel_sp_choices (n, cfg);
        for (guint i = 0; i < choices->len; i++)
          {
            RlSpChoice *c = &g_array_index (choices, RlSpChoice, i);
            guint product = c->ulysses * c->ring * (cfg ? 2 : 1);
            g_assert_true (product == n || (c->ulysses == 1 && c->ring == 1 && !cfg));
            /* Without CFG-parallel the pool manager itself accepts it. */
            if (!cfg)
              {
                RlErrorInfo info = { 0 };
                g_assert_cmpint (rl_pool_check_parallel ((int) n, RL_POOL_BACKEND_CPU, (int) c->ulysses,
                                                         (int) c->ring, &info), ==, RL_WIRE_OK);
              }
          }
      }
}

static void
test_refused_pairs_are_not_offered (void)
{
  for (guint n = 1; n <= 8; n++)
    for (guint u = 1; u <= 8; u++)
      for (guint r = 1; r <= 8; r++)
        {
          RlErrorInfo info = { 0 };
          gboolean accepted = rl_pool_check_parallel ((int) n, RL_POOL_BACKEND_CPU, (int) u, (int) r, &info) == RL_WIRE_OK;

          g_assert_cmpint (rl_parallel_choice_is_valid (n, u, r, FALSE), ==, accepted);
        }
}

static void
test_explain (void)
{
  g_autofree char *u8 = rl_parallel_choice_explain (8, 1, FALSE, 8);
  g_autofree char *u4 = rl_parallel_choice_explain (4, 1, FALSE, 4);
  g_autofree char *ring = rl_parallel_choice_explain (1, 2, TRUE, 4);
  g_autofree char *off = rl_parallel_choice_explain (1, 1, FALSE, 2);

  /* Wan 1.3B's 12 heads do not split 8 ways; 14B's 40 do. */
  g_assert_nonnull (strstr (u8, "Wan 2.1 1.3B has 12 heads, which Ulysses 8 does not divide (valid: 1, 2, 3, 4, 6, 12)"));
  g_assert_null (strstr (u8, "14B has"));
  g_assert_null (strstr (u4, "heads, which"));
  g_assert_nonnull (strstr (ring, "Ring: the 2 workers"));
  g_assert_nonnull (strstr (ring, "CFG-parallel"));
  g_assert_nonnull (strstr (off, "Each worker runs whole jobs"));
}

static void
test_config (void)
{
  g_autoptr(GSettings) settings = g_settings_new ("io.github.raylight.Raylight");
  g_autoptr(RlPoolConfig) config = NULL;
  g_auto(GStrv) env = NULL;
  RlPoolSettings pool;
  gint32 gpus[] = { 1, 3 };

  g_settings_set_string (settings, "pool-devices", "auto");
  g_settings_set_int (settings, "pool-cpu-workers", 3);
  g_settings_set_value (settings, "pool-gpus",
                        g_variant_new_fixed_array (G_VARIANT_TYPE_INT32, gpus, 2, sizeof (gint32)));
  g_settings_set_boolean (settings, "nccl-shm-disable", TRUE);
  g_settings_set_string (settings, "pool-attention", "flash");
  g_settings_set_boolean (settings, "pool-fsdp", TRUE);
  g_settings_set_boolean (settings, "pool-cpu-offload", TRUE);
  g_settings_set_boolean (settings, "pool-cfg-parallel", TRUE);
  g_settings_set_int (settings, "collective-timeout", 42);
  g_settings_set_int (settings, "pool-ulysses", 2);
  g_settings_set_int (settings, "pool-ring", 1);
  config = rl_pool_config_load (settings);
  env = rl_pool_config_worker_env (config);
  g_assert_true (g_strv_contains ((const char * const *) env, "NCCL_SHM_DISABLE=1"));
  g_assert_false (g_strv_contains ((const char * const *) env, "NCCL_P2P_DISABLE=1"));
  g_assert_true (g_strv_contains ((const char * const *) env, "RAYLIGHT_ATTENTION=flash"));
  g_assert_true (g_strv_contains ((const char * const *) env, "CUDA_VISIBLE_DEVICES=1,3"));
  g_assert_true (g_strv_contains ((const char * const *) env, "RAYLIGHT_FSDP=1"));
  g_assert_true (g_strv_contains ((const char * const *) env, "RAYLIGHT_CPU_OFFLOAD=1"));
  /* Automatic with GPUs: one worker per chosen GPU. */
  rl_pool_config_to_settings (config, 4, (const char * const *) env, &pool);
  g_assert_cmpint (pool.devices, ==, RL_POOL_DEVICES_CUDA);
  g_assert_cmpuint (pool.n_workers, ==, 2);
  g_assert_cmpuint (pool.comm_timeout_ms, ==, 42000);
  g_assert_cmpuint (pool.ulysses_degree, ==, 2);
  g_assert_cmpuint (pool.ring_degree, ==, 1);
  g_assert_cmpuint (pool.cfg_degree, ==, 2);
  /* Automatic without GPUs: the CPU workers. */
  rl_pool_config_to_settings (config, 0, (const char * const *) env, &pool);
  g_assert_cmpint (pool.devices, ==, RL_POOL_DEVICES_CPU);
  g_assert_cmpuint (pool.n_workers, ==, 3);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/pool-units/choices", test_choices);
  g_test_add_func ("/pool-units/choices-match-worker-rules", test_choices_match_worker_rules);
  g_test_add_func ("/pool-units/refused-pairs-are-not-offered", test_refused_pairs_are_not_offered);
  g_test_add_func ("/pool-units/explain", test_explain);
  g_test_add_func ("/pool-units/config", test_config);
  return g_test_run ();
}
