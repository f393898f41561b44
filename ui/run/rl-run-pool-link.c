/* The pool panel follows the run service's pool. */
#include "ui/run/rl-run-pool-link.h"

static void
on_pool_changed (RlRunService *service,
                 RlPoolPanel  *panel)
{
  rl_pool_panel_set_service (panel, rl_run_service_get_pool (service));
}

/* Runs before the panel frees the workers' memory (it does that itself
 * when nobody claims the button). */
static gboolean
on_free_memory (RlPoolPanel  *panel,
                RlRunService *service)
{
  rl_run_service_clear_cache (service);
  return FALSE;
}

void
rl_run_pool_link (RlRunService *service,
                  RlPoolPanel  *panel)
{
  g_return_if_fail (RL_IS_RUN_SERVICE (service));
  g_return_if_fail (RL_IS_POOL_PANEL (panel));
  rl_pool_panel_set_service (panel, rl_run_service_get_pool (service));
  g_signal_connect_object (service, "pool-changed", G_CALLBACK (on_pool_changed), panel, 0);
  g_signal_connect_object (panel, "free-memory", G_CALLBACK (on_free_memory), service, 0);
}
