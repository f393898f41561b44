/* RlPoolSettings' sequence-parallel degrees (what the app's pool settings
 * set): they win over $RAYLIGHT_ULYSSES / $RAYLIGHT_RING, show in the
 * description history records, and invalid ones are refused before any
 * worker launches. */
#include <string.h>

#include "engine/engine-error.h"
#include "engine/pool/pool-service.h"

static void
test_settings_degrees_win_over_environment (void)
{
  RlPoolSettings settings = { .devices = RL_POOL_DEVICES_CPU, .n_workers = 2, .ulysses_degree = 2 };
  g_autoptr(RlPoolService) pool = NULL;
  g_autofree char *description = NULL;

  g_setenv ("RAYLIGHT_ULYSSES", "1", TRUE);
  g_setenv ("RAYLIGHT_RING", "1", TRUE);
  pool = rl_pool_service_new (&settings);
  description = rl_pool_service_describe (pool);
  g_assert_cmpuint (rl_pool_service_get_n_workers (pool), ==, 2);
  g_assert_nonnull (strstr (description, "\"ulysses\":2"));
  g_assert_nonnull (strstr (description, "\"ring\":1"));
  g_unsetenv ("RAYLIGHT_ULYSSES");
  g_unsetenv ("RAYLIGHT_RING");
}

static void
test_unset_degrees_follow_environment (void)
{
  RlPoolSettings settings = { .devices = RL_POOL_DEVICES_CPU, .n_workers = 2 };
  g_autoptr(RlPoolService) pool = NULL;
  g_autofree char *description = NULL;

  g_setenv ("RAYLIGHT_RING", "2", TRUE);
  pool = rl_pool_service_new (&settings);
  description = rl_pool_service_describe (pool);
  g_assert_nonnull (strstr (description, "\"ring\":2"));
  g_unsetenv ("RAYLIGHT_RING");
}

static void
test_invalid_degrees_refused_before_launch (void)
{
  /* Ulysses 2 needs two workers; a missing worker program proves nothing
   * was launched (that check comes after the degrees). */
  RlPoolSettings settings = { .devices = RL_POOL_DEVICES_CPU, .n_workers = 1, .ulysses_degree = 2,
                              .worker_path = "/nonexistent/raylight-worker" };
  g_autoptr(RlPoolService) pool = rl_pool_service_new (&settings);
  g_autoptr(GError) error = NULL;

  g_assert_false (rl_pool_service_start (pool, &error));
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_VALIDATION);
}

static void
test_free_memory_before_start_is_nothing_to_do (void)
{
  RlPoolSettings settings = { .devices = RL_POOL_DEVICES_CPU, .worker_path = "/nonexistent/raylight-worker" };
  g_autoptr(RlPoolService) pool = rl_pool_service_new (&settings);
  g_autoptr(GError) error = NULL;

  g_assert_true (rl_pool_service_free_memory (pool, &error));
  g_assert_no_error (error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_unsetenv ("RAYLIGHT_WORKERS");
  g_unsetenv ("RAYLIGHT_DEVICES");
  g_test_add_func ("/pool-settings/degrees-win-over-environment", test_settings_degrees_win_over_environment);
  g_test_add_func ("/pool-settings/unset-degrees-follow-environment", test_unset_degrees_follow_environment);
  g_test_add_func ("/pool-settings/invalid-degrees-refused", test_invalid_degrees_refused_before_launch);
  g_test_add_func ("/pool-settings/free-memory-before-start", test_free_memory_before_start_is_nothing_to_do);
  return g_test_run ();
}
