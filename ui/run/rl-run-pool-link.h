/* Connects a Pool settings panel to the app's run service: the panel
 * shows and acts on the pool the next jobs run on (again after the
 * service replaces it), and its Free Memory also drops the executor's
 * cached results, which hold on to models. */
#pragma once

#include "ui/pool/rl-pool-panel.h"
#include "ui/run/rl-run-service.h"

G_BEGIN_DECLS

void  rl_run_pool_link  (RlRunService  *service,
                         RlPoolPanel   *panel);

G_END_DECLS
