/* NVML, loaded with dlopen so the tool builds and runs where the driver's
 * management library is absent (CI, containers without the driver). The
 * few types and constants used here are declared from NVML's documented
 * ABI; nothing includes nvml.h. */
#include "workers/topology/topology.h"

#include <dlfcn.h>
#include <string.h>
#include <strings.h>

typedef int nvmlReturn_t;                 /* NVML_SUCCESS = 0 */
typedef struct nvmlDevice_st *nvmlDevice_t;

typedef struct {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
} NvmlMemory;

typedef struct {
  unsigned int gpu;
  unsigned int memory;
} NvmlUtilization;

typedef struct {
  char         bus_id_legacy[16];
  unsigned int domain;
  unsigned int bus;
  unsigned int device;
  unsigned int pci_device_id;
  unsigned int pci_subsystem_id;
  char         bus_id[32];
} NvmlPciInfo;

enum {
  NVML_SUCCESS = 0,
  NVML_TEMPERATURE_GPU = 0,
  NVML_FEATURE_ENABLED = 1,
  NVML_NVLINK_MAX_LINKS = 18,
  /* nvmlGpuTopologyLevel_t */
  NVML_TOPOLOGY_INTERNAL = 0,
  NVML_TOPOLOGY_SINGLE = 10,
  NVML_TOPOLOGY_MULTIPLE = 20,
  NVML_TOPOLOGY_HOSTBRIDGE = 30,
  NVML_TOPOLOGY_NODE = 40,
  NVML_TOPOLOGY_SYSTEM = 50,
  /* nvmlGpuP2PCapsIndex_t / nvmlGpuP2PStatus_t */
  NVML_P2P_CAPS_INDEX_NVLINK = 2,
  NVML_P2P_STATUS_OK = 0,
  /* nvmlIntNvLinkDeviceType_t */
  NVML_NVLINK_DEVICE_TYPE_SWITCH = 2,
};

typedef struct {
  void *library;
  nvmlReturn_t (*init) (void);
  nvmlReturn_t (*shutdown) (void);
  const char  *(*error_string) (nvmlReturn_t);
  nvmlReturn_t (*driver_version) (char *, unsigned int);
  nvmlReturn_t (*count) (unsigned int *);
  nvmlReturn_t (*by_index) (unsigned int, nvmlDevice_t *);
  nvmlReturn_t (*name) (nvmlDevice_t, char *, unsigned int);
  nvmlReturn_t (*pci_info) (nvmlDevice_t, NvmlPciInfo *);
  nvmlReturn_t (*memory) (nvmlDevice_t, NvmlMemory *);
  nvmlReturn_t (*utilization) (nvmlDevice_t, NvmlUtilization *);
  nvmlReturn_t (*temperature) (nvmlDevice_t, int, unsigned int *);
  nvmlReturn_t (*common_ancestor) (nvmlDevice_t, nvmlDevice_t, int *);
  nvmlReturn_t (*nvlink_state) (nvmlDevice_t, unsigned int, int *);
  nvmlReturn_t (*nvlink_remote_pci) (nvmlDevice_t, unsigned int, NvmlPciInfo *);
  nvmlReturn_t (*nvlink_remote_type) (nvmlDevice_t, unsigned int, int *);
  nvmlReturn_t (*p2p_status) (nvmlDevice_t, nvmlDevice_t, int, int *);
} Nvml;

/* The loaded library; one per process (the tool is single-threaded). */
static Nvml nvml;

static void
copy_text (char *dst, size_t size, const char *src)
{
  size_t n = strnlen (src, size - 1);

  memcpy (dst, src, n);
  dst[n] = '\0';
}

/* Loads every entry point; optional ones (NVLink, topology) may be NULL
 * on old drivers. False with a note when the library or a required
 * symbol is missing. */
static bool
load_nvml (RlTopology *topology)
{
  void *lib = dlopen ("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);

  if (lib == NULL)
    {
      snprintf (topology->nvml_note, sizeof topology->nvml_note,
                "NVML (libnvidia-ml.so.1) is not installed: %s", dlerror ());
      return false;
    }
  nvml.library = lib;
  *(void **) &nvml.init = dlsym (lib, "nvmlInit_v2");
  *(void **) &nvml.shutdown = dlsym (lib, "nvmlShutdown");
  *(void **) &nvml.error_string = dlsym (lib, "nvmlErrorString");
  *(void **) &nvml.driver_version = dlsym (lib, "nvmlSystemGetDriverVersion");
  *(void **) &nvml.count = dlsym (lib, "nvmlDeviceGetCount_v2");
  *(void **) &nvml.by_index = dlsym (lib, "nvmlDeviceGetHandleByIndex_v2");
  *(void **) &nvml.name = dlsym (lib, "nvmlDeviceGetName");
  *(void **) &nvml.pci_info = dlsym (lib, "nvmlDeviceGetPciInfo_v3");
  *(void **) &nvml.memory = dlsym (lib, "nvmlDeviceGetMemoryInfo");
  *(void **) &nvml.utilization = dlsym (lib, "nvmlDeviceGetUtilizationRates");
  *(void **) &nvml.temperature = dlsym (lib, "nvmlDeviceGetTemperature");
  *(void **) &nvml.common_ancestor = dlsym (lib, "nvmlDeviceGetTopologyCommonAncestor");
  *(void **) &nvml.nvlink_state = dlsym (lib, "nvmlDeviceGetNvLinkState");
  *(void **) &nvml.nvlink_remote_pci = dlsym (lib, "nvmlDeviceGetNvLinkRemotePciInfo_v2");
  *(void **) &nvml.nvlink_remote_type = dlsym (lib, "nvmlDeviceGetNvLinkRemoteDeviceType");
  *(void **) &nvml.p2p_status = dlsym (lib, "nvmlDeviceGetP2PStatus");
  if (nvml.init == NULL || nvml.shutdown == NULL || nvml.count == NULL || nvml.by_index == NULL ||
      nvml.name == NULL)
    {
      snprintf (topology->nvml_note, sizeof topology->nvml_note,
                "libnvidia-ml.so.1 lacks nvmlInit_v2 or the device calls (driver too old)");
      dlclose (lib);
      memset (&nvml, 0, sizeof nvml);
      return false;
    }
  return true;
}

static const char *
nvml_error (nvmlReturn_t rc)
{
  return nvml.error_string != NULL ? nvml.error_string (rc) : "NVML error";
}

static void
fill_device (RlTopologyDevice *device, nvmlDevice_t handle, int index)
{
  NvmlPciInfo pci;
  NvmlMemory memory;
  NvmlUtilization utilization;
  unsigned int temperature = 0;
  int state = 0;

  memset (device, 0, sizeof *device);
  device->cuda_index = -1;
  device->nvml_index = index;
  device->utilization_gpu = -1;
  device->temperature_c = -1;
  device->nvlinks_active = -1;
  if (nvml.name (handle, device->name, sizeof device->name) != NVML_SUCCESS)
    snprintf (device->name, sizeof device->name, "GPU %d", index);
  if (nvml.pci_info != NULL && nvml.pci_info (handle, &pci) == NVML_SUCCESS)
    copy_text (device->pci_bus_id, sizeof device->pci_bus_id, pci.bus_id);
  if (nvml.memory != NULL && nvml.memory (handle, &memory) == NVML_SUCCESS)
    {
      device->memory_total = memory.total;
      device->memory_used = memory.used;
    }
  if (nvml.utilization != NULL && nvml.utilization (handle, &utilization) == NVML_SUCCESS)
    device->utilization_gpu = (int) utilization.gpu;
  if (nvml.temperature != NULL &&
      nvml.temperature (handle, NVML_TEMPERATURE_GPU, &temperature) == NVML_SUCCESS)
    device->temperature_c = (int) temperature;
  if (nvml.nvlink_state != NULL)
    {
      device->nvlinks_active = 0;
      for (unsigned int link = 0; link < NVML_NVLINK_MAX_LINKS; link++)
        if (nvml.nvlink_state (handle, link, &state) == NVML_SUCCESS && state == NVML_FEATURE_ENABLED)
          device->nvlinks_active++;
    }
}

/* PCI bus ids compare without case and without leading zeros of the
 * domain, which NVML and CUDA print with 8 and 4 digits. */
static bool
same_bus_id (const char *a, const char *b)
{
  const char *colon_a = strchr (a, ':');
  const char *colon_b = strchr (b, ':');

  if (colon_a == NULL || colon_b == NULL)
    return false;
  return strcasecmp (colon_a, colon_b) == 0;
}

/* Whether NVML says `a` and `b` can talk peer to peer over NVLink. */
static bool
nvlink_p2p_ok (nvmlDevice_t a, nvmlDevice_t b)
{
  int status = -1;

  return nvml.p2p_status != NULL &&
         nvml.p2p_status (a, b, NVML_P2P_CAPS_INDEX_NVLINK, &status) == NVML_SUCCESS &&
         status == NVML_P2P_STATUS_OK;
}

/* Active NVLinks of `from` that reach the GPU `to` at `to_bus_id`: links
 * whose far end is that GPU, or, on NVSwitch systems (HGX boards, where
 * every link ends at a switch and never at the peer), links to a switch
 * when NVML confirms NVLink peer-to-peer between the two. */
static int
count_nvlinks_to (nvmlDevice_t from, nvmlDevice_t to, const char *to_bus_id)
{
  NvmlPciInfo remote;
  int state = 0, direct = 0, via_switch = 0;

  if (nvml.nvlink_state == NULL)
    return 0;
  for (unsigned int link = 0; link < NVML_NVLINK_MAX_LINKS; link++)
    {
      int type = -1;

      if (nvml.nvlink_state (from, link, &state) != NVML_SUCCESS || state != NVML_FEATURE_ENABLED)
        continue;
      if (nvml.nvlink_remote_type != NULL &&
          nvml.nvlink_remote_type (from, link, &type) == NVML_SUCCESS &&
          type == NVML_NVLINK_DEVICE_TYPE_SWITCH)
        via_switch++;
      else if (nvml.nvlink_remote_pci != NULL && to_bus_id[0] != '\0' &&
               nvml.nvlink_remote_pci (from, link, &remote) == NVML_SUCCESS &&
               same_bus_id (remote.bus_id, to_bus_id))
        direct++;
    }
  if (direct > 0)
    return direct;
  return via_switch > 0 && nvlink_p2p_ok (from, to) ? via_switch : 0;
}

static RlLinkType
link_from_level (int level)
{
  switch (level)
    {
    case NVML_TOPOLOGY_INTERNAL:   return RL_LINK_SAME_BOARD;
    case NVML_TOPOLOGY_SINGLE:
    case NVML_TOPOLOGY_MULTIPLE:   return RL_LINK_PCIE_SWITCH;
    case NVML_TOPOLOGY_HOSTBRIDGE: return RL_LINK_HOST_BRIDGE;
    case NVML_TOPOLOGY_NODE:       return RL_LINK_NUMA_NODE;
    case NVML_TOPOLOGY_SYSTEM:     return RL_LINK_SYSTEM;
    default:                       return RL_LINK_UNKNOWN;
    }
}

static void
fill_links (RlTopology *topology, nvmlDevice_t *handles)
{
  for (int i = 0; i < topology->n_devices; i++)
    for (int j = 0; j < topology->n_devices; j++)
      {
        RlTopologyLink *link;
        int level = -1;

        if (i == j)
          continue;
        link = rl_topology_link (topology, i, j);
        link->nvlinks = count_nvlinks_to (handles[i], handles[j], topology->devices[j].pci_bus_id);
        if (link->nvlinks > 0)
          link->type = RL_LINK_NVLINK;
        else if (nvml.common_ancestor != NULL &&
                 nvml.common_ancestor (handles[i], handles[j], &level) == NVML_SUCCESS)
          link->type = link_from_level (level);
      }
}

void
rl_topology_nvml_probe (RlTopology *topology)
{
  nvmlDevice_t handles[RL_TOPOLOGY_MAX_DEVICES];
  unsigned int count = 0;
  nvmlReturn_t rc;

  if (!load_nvml (topology))
    return;
  rc = nvml.init ();
  if (rc != NVML_SUCCESS)
    {
      snprintf (topology->nvml_note, sizeof topology->nvml_note,
                "NVML did not start: %s (is the NVIDIA driver loaded?)", nvml_error (rc));
      rl_topology_nvml_close ();
      return;
    }
  topology->nvml_loaded = true;
  if (nvml.driver_version != NULL)
    nvml.driver_version (topology->driver_version, sizeof topology->driver_version);
  rc = nvml.count (&count);
  if (rc != NVML_SUCCESS)
    {
      snprintf (topology->nvml_note, sizeof topology->nvml_note, "NVML cannot count the GPUs: %s",
                nvml_error (rc));
      return;
    }
  if (count > RL_TOPOLOGY_MAX_DEVICES)
    count = RL_TOPOLOGY_MAX_DEVICES;
  for (unsigned int i = 0; i < count; i++)
    {
      rc = nvml.by_index (i, &handles[topology->n_devices]);
      if (rc != NVML_SUCCESS)
        {
          snprintf (topology->nvml_note, sizeof topology->nvml_note, "NVML cannot open GPU %u: %s", i,
                    nvml_error (rc));
          continue;
        }
      fill_device (&topology->devices[topology->n_devices], handles[topology->n_devices], (int) i);
      topology->n_devices++;
    }
  if (!rl_topology_resize_links (topology))
    return;
  fill_links (topology, handles);
}

void
rl_topology_nvml_close (void)
{
  if (nvml.library == NULL)
    return;
  if (nvml.shutdown != NULL)
    nvml.shutdown ();
  dlclose (nvml.library);
  memset (&nvml, 0, sizeof nvml);
}
