/* RlPoolTopology: the machine's GPUs and the links between them, as the
 * pool's self-test (workers/topology/raylight-topology) measured them —
 * what the Pool settings panel shows and what rank layout uses. Read from
 * the tool's JSON, from running the tool, or from a captured file. */
#pragma once

#include "engine/engine-types.h"

G_BEGIN_DECLS

typedef struct _RlPoolTopology RlPoolTopology;

typedef struct {
  int       cuda_index;        /* -1 when CUDA does not see it */
  char     *name;
  char     *pci_bus_id;
  guint64   memory_total;      /* bytes */
  guint64   memory_used;
  int       utilization_gpu;   /* percent; -1 unknown */
  int       temperature_c;     /* -1 unknown */
  int       nvlinks_active;    /* -1 unknown */
} RlGpuInfo;

typedef struct {
  int        from;
  int        to;
  char      *type;             /* "nvlink", "pcie-switch", "host-bridge", "numa-node",
                                  "system", "same-board" or "unknown" */
  int        nvlinks;
  gboolean   peer_access;
  gboolean   measured;
  gboolean   staged;           /* through host memory */
  gboolean   data_ok;          /* FALSE when measured and the copy came back corrupted */
  double     bandwidth_gbs;
  char      *note;
} RlGpuLink;

/* Parses raylight-topology's JSON. RL_ENGINE_ERROR_INVALID_WORKFLOW-free:
 * errors are RL_ENGINE_ERROR_POOL naming what is wrong. */
RlPoolTopology  *rl_pool_topology_parse          (const char      *json,
                                                  gssize           length,
                                                  GError         **error);
RlPoolTopology  *rl_pool_topology_load_file      (const char      *path,
                                                  GError         **error);
/* Runs @tool_path (raylight-topology) and parses what it prints; it is
 * killed after @timeout_s seconds. @measure FALSE lists devices and links
 * without the bandwidth copies (which take memory on every GPU for a few
 * seconds: not something to do while a job may run). */
RlPoolTopology  *rl_pool_topology_run            (const char      *tool_path,
                                                  gboolean         measure,
                                                  guint            timeout_s,
                                                  GError         **error);
/* Where raylight-topology is: $RAYLIGHT_TOPOLOGY_TOOL, the build tree's
 * copy next to the running program, else the installed one. */
char            *rl_pool_topology_find_tool      (void);

RlPoolTopology  *rl_pool_topology_ref            (RlPoolTopology  *self);
void             rl_pool_topology_unref          (RlPoolTopology  *self);

guint            rl_pool_topology_get_n_devices  (RlPoolTopology  *self);
const RlGpuInfo *rl_pool_topology_get_device     (RlPoolTopology  *self,
                                                  guint            index);
/* The ordered pair (from → to), or NULL. */
const RlGpuLink *rl_pool_topology_get_link       (RlPoolTopology  *self,
                                                  guint            from,
                                                  guint            to);
/* Whether the file says it was made up rather than measured (fixtures). */
gboolean         rl_pool_topology_is_synthetic   (RlPoolTopology  *self);
/* Where the data came from ("measured on this machine", or the fixture's
 * own note), and the NVML / CUDA notes joined, for the panel. */
const char      *rl_pool_topology_get_source     (RlPoolTopology  *self);
const char      *rl_pool_topology_get_notes      (RlPoolTopology  *self);
/* TRUE when some measured pair returned corrupted data: P2P must be
 * disabled (NCCL_P2P_DISABLE=1) on this machine. */
gboolean         rl_pool_topology_p2p_broken     (RlPoolTopology  *self);

/* "NVLink ×18", "PCIe switch", "Host bridge", "NUMA node", "Across CPUs",
 * "Same board", "Unknown". */
char            *rl_gpu_link_describe            (const RlGpuLink *link);
/* A relative cost of moving data over @link, lower is faster: measured
 * bandwidth when there is one, else by link type (for rank layout). */
double           rl_gpu_link_cost                (const RlGpuLink *link);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RlPoolTopology, rl_pool_topology_unref)

G_END_DECLS
