/* What raylight-topology finds out about the machine's GPUs: each device
 * (from NVML, loaded at run time) and each ordered pair's link and measured
 * copy bandwidth (from the CUDA runtime, in builds with CUDA). Plain C, no
 * GLib: the tool runs on bare GPU servers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define RL_TOPOLOGY_MAX_DEVICES 64
#define RL_TOPOLOGY_TEXT_SIZE   256

typedef struct {
  int       cuda_index;          /* CUDA ordinal, -1 when CUDA does not see it */
  int       nvml_index;          /* NVML index, -1 without NVML */
  char      name[96];
  char      pci_bus_id[32];      /* "00000000:19:00.0", "" when unknown */
  uint64_t  memory_total;        /* bytes */
  uint64_t  memory_used;         /* bytes */
  int       utilization_gpu;     /* percent, -1 when unknown */
  int       temperature_c;       /* -1 when unknown */
  int       nvlinks_active;      /* active NVLink links, -1 when unknown */
} RlTopologyDevice;

/* How two GPUs reach each other, closest first. */
typedef enum {
  RL_LINK_UNKNOWN = 0,
  RL_LINK_SAME_BOARD,     /* NVML_TOPOLOGY_INTERNAL: two GPUs on one board */
  RL_LINK_NVLINK,         /* at least one active NVLink between them */
  RL_LINK_PCIE_SWITCH,    /* NVML SINGLE / MULTIPLE: behind PCIe switches */
  RL_LINK_HOST_BRIDGE,    /* NVML HOSTBRIDGE: the CPU's root complex */
  RL_LINK_NUMA_NODE,      /* NVML NODE: host bridges of one NUMA node */
  RL_LINK_SYSTEM,         /* NVML SYSTEM: across CPU sockets (SMP link) */
} RlLinkType;

/* One ordered pair (from → to). */
typedef struct {
  int         from;              /* positions in RlTopology.devices */
  int         to;
  RlLinkType  type;
  int         nvlinks;           /* links from `from` whose far end is `to` */
  bool        peer_access;       /* cudaDeviceCanAccessPeer */
  bool        measured;
  bool        staged;            /* copied through host memory (peer access off) */
  bool        data_ok;           /* the copied bytes arrived intact */
  double      bandwidth_gbs;     /* GB/s (1e9 bytes/s) of cudaMemcpyPeerAsync */
  char        note[RL_TOPOLOGY_TEXT_SIZE];   /* why not measured, or "" */
} RlTopologyLink;

typedef struct {
  bool              nvml_loaded;
  char              nvml_note[RL_TOPOLOGY_TEXT_SIZE];   /* why NVML is missing, or "" */
  char              driver_version[80];
  bool              cuda_available;
  char              cuda_note[RL_TOPOLOGY_TEXT_SIZE];
  int               n_devices;
  RlTopologyDevice  devices[RL_TOPOLOGY_MAX_DEVICES];
  int               n_links;
  RlTopologyLink   *links;       /* n_devices × (n_devices − 1), owned */
} RlTopology;

/* Lists the GPUs NVML sees and fills their live facts and pair links.
 * Never fails: without NVML the device list is empty and nvml_note says
 * why. Keep the NVML library loaded until rl_topology_nvml_close. */
void        rl_topology_nvml_probe   (RlTopology *topology);
void        rl_topology_nvml_close   (void);

/* Matches CUDA ordinals to the listed devices (by PCI bus id), adds any
 * device NVML missed, and measures every ordered pair's copy bandwidth
 * with `bytes`-sized copies; `measure` false only checks peer access;
 * `use_peer` false measures the staged (host memory) path even where peer
 * access exists, as NCCL_P2P_DISABLE=1 would make NCCL do. In
 * builds without CUDA it sets cuda_note and measures nothing. */
void        rl_topology_cuda_probe   (RlTopology *topology, size_t bytes,
                                      bool measure, bool use_peer);

/* Writes the topology as one JSON object to `out`. */
void        rl_topology_write_json   (const RlTopology *topology, FILE *out);

const char *rl_link_type_name        (RlLinkType type);
/* Makes `links` hold every ordered pair of the n_devices devices, keeping
 * what was known about pairs that existed. False when out of memory. */
bool        rl_topology_resize_links (RlTopology *topology);
void        rl_topology_clear        (RlTopology *topology);
/* The pair (from, to), or NULL. */
RlTopologyLink *rl_topology_link     (RlTopology *topology, int from, int to);
