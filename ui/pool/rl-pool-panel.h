/* RlPoolPanel: the Pool settings page (in Preferences, and opened from
 * the header bar's pool button) — every GPU with memory, utilisation and
 * temperature, the link and measured bandwidth between each pair, which
 * GPUs form the pool, the number of CPU workers, the default parallel mode
 * (only valid combinations offered, each explained), the attention
 * variant, each worker's state, pid, host and device memory and last
 * error, Start / Stop / Restart / Free memory, and the NCCL options. The
 * choices are GSettings keys (see rl-pool-config.h for how the pool
 * service takes them). */
#pragma once

#include "engine/pool/pool-service.h"
#include "ui/ui-types.h"

G_BEGIN_DECLS

#define RL_TYPE_POOL_PANEL (rl_pool_panel_get_type ())
G_DECLARE_FINAL_TYPE (RlPoolPanel, rl_pool_panel, RL, POOL_PANEL, AdwPreferencesPage)

/* A panel editing @settings (the app's schema). Its GPU list comes from
 * the pool service's self-test once a service is set, else from running
 * raylight-topology itself ($RAYLIGHT_TOPOLOGY_FILE: a captured report). */
RlPoolPanel     *rl_pool_panel_new                (GSettings       *settings);
/* The app's pool: worker states are polled from it and the Start / Stop /
 * Restart buttons act on it. NULL: no pool yet (the buttons are off). */
void             rl_pool_panel_set_service        (RlPoolPanel     *self,
                                                   RlPoolService   *service);
RlPoolService   *rl_pool_panel_get_service        (RlPoolPanel     *self);
/* Shows @topology now (tests, or a caller that already has it). */
void             rl_pool_panel_set_topology       (RlPoolPanel     *self,
                                                   RlPoolTopology  *topology);
/* The topology shown, or NULL while it loads. */
RlPoolTopology  *rl_pool_panel_get_topology       (RlPoolPanel     *self);
/* The number of workers the current choices give. */
guint            rl_pool_panel_get_n_workers      (RlPoolPanel     *self);

/* Widgets for tests that drive the panel with real input; @name is one of
 * "devices" (combo row), "cpu-workers" (spin button), "sequence-parallel"
 * (combo row), "cfg-parallel", "fsdp", "cpu-offload", "p2p-disable",
 * "shm-disable" (switches), "timeout" (spin button), "attention" (combo
 * row), "link-matrix" (grid), "explanation" (label), "start", "stop",
 * "restart", "free-memory", "refresh" (buttons), "gpu-N" (GPU N's pool
 * check button). */
GtkWidget       *rl_pool_panel_get_widget         (RlPoolPanel     *self,
                                                   const char      *name);
/* Text of link matrix cell (@from, @to), or NULL. */
const char      *rl_pool_panel_get_link_text      (RlPoolPanel     *self,
                                                   guint            from,
                                                   guint            to);
/* The outcome of the last Start / Stop / Restart / Free memory, or NULL. */
const char      *rl_pool_panel_get_status         (RlPoolPanel     *self);
/* The worker rows' titles and subtitles, "title — subtitle" per worker. */
GStrv            rl_pool_panel_get_worker_lines   (RlPoolPanel     *self);

/* Signal "free-memory" (boolean handled): the Free memory button; the app
 * may connect what also frees the executor's caches. Unhandled, the panel
 * asks its service's workers to free their memory. */

G_END_DECLS
