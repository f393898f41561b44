/* The CUDA side of the probe: which CUDA ordinal is which NVML device,
 * whether each pair has peer access, and how fast cudaMemcpyPeerAsync
 * moves data between them. Without peer access the runtime stages the
 * copy through host memory; that is measured too and marked "staged", so
 * a machine with broken or disabled P2P shows why two GPUs are slow. Each
 * copy's first bytes are read back, so P2P that returns wrong data (a
 * known fault of some PCIe/IOMMU setups) is reported, not trusted. */
#include "workers/topology/topology.h"

#include <string.h>
#include <strings.h>

#if RL_TOPOLOGY_HAVE_CUDA

#include <cuda_runtime_api.h>

#define WARMUP_COPIES 2
#define TIMED_COPIES  8
#define CHECK_BYTES   4096
#define FILL_BYTE     0x5a

static bool
same_bus_id (const char *a, const char *b)
{
  const char *colon_a = strchr (a, ':');
  const char *colon_b = strchr (b, ':');

  return colon_a != NULL && colon_b != NULL && strcasecmp (colon_a, colon_b) == 0;
}

/* Finds the listed device with `bus_id`, or appends one from CUDA's own
 * facts when NVML did not list it. -1 when the list is full. */
static int
match_device (RlTopology *topology, int ordinal)
{
  char bus_id[32] = "";
  struct cudaDeviceProp properties;
  RlTopologyDevice *device;
  size_t free_bytes = 0, total_bytes = 0;

  cudaDeviceGetPCIBusId (bus_id, sizeof bus_id, ordinal);
  for (int i = 0; i < topology->n_devices; i++)
    if (topology->devices[i].cuda_index < 0 && same_bus_id (topology->devices[i].pci_bus_id, bus_id))
      return i;
  if (topology->n_devices == RL_TOPOLOGY_MAX_DEVICES)
    return -1;
  device = &topology->devices[topology->n_devices];
  memset (device, 0, sizeof *device);
  device->nvml_index = -1;
  device->utilization_gpu = -1;
  device->temperature_c = -1;
  device->nvlinks_active = -1;
  snprintf (device->pci_bus_id, sizeof device->pci_bus_id, "%s", bus_id);
  if (cudaGetDeviceProperties (&properties, ordinal) == cudaSuccess)
    snprintf (device->name, sizeof device->name, "%.95s", properties.name);
  if (cudaSetDevice (ordinal) == cudaSuccess && cudaMemGetInfo (&free_bytes, &total_bytes) == cudaSuccess)
    {
      device->memory_total = total_bytes;
      device->memory_used = total_bytes - free_bytes;
    }
  return topology->n_devices++;
}

static void
set_note (RlTopologyLink *link, const char *what, cudaError_t error)
{
  snprintf (link->note, sizeof link->note, "%s: %s", what, cudaGetErrorString (error));
}

/* Times TIMED_COPIES copies of `bytes` from GPU `src` to GPU `dst` on a
 * stream of the source device (directly when `try_peer` and peer access
 * can be enabled, else staged by the runtime), then checks the first
 * bytes arrived. */
static void
measure_pair (RlTopologyLink *link, int src, int dst, size_t bytes, bool try_peer)
{
  void *from = NULL, *to = NULL;
  cudaStream_t stream = NULL;
  cudaEvent_t start = NULL, stop = NULL;
  unsigned char check[CHECK_BYTES];
  float ms = 0;
  cudaError_t rc;
  bool peer_enabled = false;

  if (try_peer && cudaSetDevice (src) == cudaSuccess)
    {
      rc = cudaDeviceEnablePeerAccess (dst, 0);
      peer_enabled = rc == cudaSuccess || rc == cudaErrorPeerAccessAlreadyEnabled;
      cudaGetLastError ();
    }
  link->staged = !peer_enabled;
  if ((rc = cudaSetDevice (dst)) != cudaSuccess || (rc = cudaMalloc (&to, bytes)) != cudaSuccess)
    {
      set_note (link, "allocating on the destination GPU", rc);
      goto out;
    }
  if ((rc = cudaSetDevice (src)) != cudaSuccess || (rc = cudaMalloc (&from, bytes)) != cudaSuccess ||
      (rc = cudaMemset (from, FILL_BYTE, bytes)) != cudaSuccess ||
      (rc = cudaStreamCreateWithFlags (&stream, cudaStreamNonBlocking)) != cudaSuccess ||
      (rc = cudaEventCreate (&start)) != cudaSuccess || (rc = cudaEventCreate (&stop)) != cudaSuccess)
    {
      set_note (link, "preparing the copy on the source GPU", rc);
      goto out;
    }
  for (int i = 0; i < WARMUP_COPIES; i++)
    cudaMemcpyPeerAsync (to, dst, from, src, bytes, stream);
  cudaEventRecord (start, stream);
  for (int i = 0; i < TIMED_COPIES; i++)
    cudaMemcpyPeerAsync (to, dst, from, src, bytes, stream);
  cudaEventRecord (stop, stream);
  if ((rc = cudaEventSynchronize (stop)) != cudaSuccess || (rc = cudaEventElapsedTime (&ms, start, stop)) != cudaSuccess)
    {
      set_note (link, "copying between the GPUs", rc);
      goto out;
    }
  link->measured = ms > 0;
  link->bandwidth_gbs = ms > 0 ? (double) bytes * TIMED_COPIES / (ms * 1e-3) / 1e9 : 0;
  cudaSetDevice (dst);
  if ((rc = cudaMemcpy (check, to, sizeof check, cudaMemcpyDeviceToHost)) != cudaSuccess)
    {
      set_note (link, "reading the copy back", rc);
      goto out;
    }
  link->data_ok = true;
  for (size_t i = 0; i < sizeof check; i++)
    if (check[i] != FILL_BYTE)
      {
        link->data_ok = false;
        snprintf (link->note, sizeof link->note, "the copy arrived corrupted (byte %zu): peer-to-peer "
                  "transfers are broken on this machine; disable P2P (NCCL_P2P_DISABLE=1)", i);
        break;
      }
  if (link->data_ok && link->staged)
    snprintf (link->note, sizeof link->note, "no peer access between these GPUs: copied through host memory");

out:
  cudaGetLastError ();
  cudaSetDevice (src);
  if (stop != NULL)
    cudaEventDestroy (stop);
  if (start != NULL)
    cudaEventDestroy (start);
  if (stream != NULL)
    cudaStreamDestroy (stream);
  cudaFree (from);
  if (peer_enabled)
    cudaDeviceDisablePeerAccess (dst);
  cudaSetDevice (dst);
  cudaFree (to);
  cudaGetLastError ();
}

void
rl_topology_cuda_probe (RlTopology *topology, size_t bytes, bool measure, bool use_peer)
{
  int count = 0;
  cudaError_t rc = cudaGetDeviceCount (&count);

  if (rc != cudaSuccess)
    {
      snprintf (topology->cuda_note, sizeof topology->cuda_note, "CUDA sees no GPU: %s",
                cudaGetErrorString (rc));
      return;
    }
  topology->cuda_available = true;
  for (int ordinal = 0; ordinal < count; ordinal++)
    {
      int i = match_device (topology, ordinal);

      if (i >= 0)
        topology->devices[i].cuda_index = ordinal;
    }
  if (!rl_topology_resize_links (topology))
    return;
  for (int k = 0; k < topology->n_links; k++)
    {
      RlTopologyLink *link = &topology->links[k];
      int src = topology->devices[link->from].cuda_index;
      int dst = topology->devices[link->to].cuda_index;
      int can = 0;

      if (src < 0 || dst < 0)
        {
          snprintf (link->note, sizeof link->note, "not measured: CUDA does not see both GPUs "
                    "(CUDA_VISIBLE_DEVICES?)");
          continue;
        }
      link->peer_access = cudaDeviceCanAccessPeer (&can, src, dst) == cudaSuccess && can;
      if (!measure)
        {
          snprintf (link->note, sizeof link->note, "not measured (--no-bandwidth)");
          continue;
        }
      measure_pair (link, src, dst, bytes, use_peer && link->peer_access);
      if (!use_peer && link->peer_access && link->data_ok)
        snprintf (link->note, sizeof link->note, "peer access exists but was not used (--no-peer): "
                  "copied through host memory");
    }
}

#else /* !RL_TOPOLOGY_HAVE_CUDA */

void
rl_topology_cuda_probe (RlTopology *topology, size_t bytes, bool measure, bool use_peer)
{
  snprintf (topology->cuda_note, sizeof topology->cuda_note,
            "this raylight-topology was built without CUDA: links are listed, bandwidth is not measured");
  for (int k = 0; k < topology->n_links; k++)
    snprintf (topology->links[k].note, sizeof topology->links[k].note,
              "not measured: built without CUDA");
}

#endif
