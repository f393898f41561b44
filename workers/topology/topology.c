/* The topology record: pair bookkeeping, names and the JSON form that the
 * app's pool service reads (engine/pool/pool-topology.c). */
#include "workers/topology/topology.h"

#include <stdlib.h>
#include <string.h>

const char *
rl_link_type_name (RlLinkType type)
{
  switch (type)
    {
    case RL_LINK_SAME_BOARD:  return "same-board";
    case RL_LINK_NVLINK:      return "nvlink";
    case RL_LINK_PCIE_SWITCH: return "pcie-switch";
    case RL_LINK_HOST_BRIDGE: return "host-bridge";
    case RL_LINK_NUMA_NODE:   return "numa-node";
    case RL_LINK_SYSTEM:      return "system";
    case RL_LINK_UNKNOWN:
    default:                  return "unknown";
    }
}

RlTopologyLink *
rl_topology_link (RlTopology *topology, int from, int to)
{
  for (int k = 0; k < topology->n_links; k++)
    if (topology->links[k].from == from && topology->links[k].to == to)
      return &topology->links[k];
  return NULL;
}

bool
rl_topology_resize_links (RlTopology *topology)
{
  int n = topology->n_devices * (topology->n_devices - 1);
  RlTopologyLink *links = n > 0 ? calloc ((size_t) n, sizeof *links) : NULL;
  int k = 0;

  if (n > 0 && links == NULL)
    return false;
  for (int i = 0; i < topology->n_devices; i++)
    for (int j = 0; j < topology->n_devices; j++)
      {
        const RlTopologyLink *old = i != j ? rl_topology_link (topology, i, j) : NULL;

        if (i == j)
          continue;
        if (old != NULL)
          links[k] = *old;
        links[k].from = i;
        links[k].to = j;
        k++;
      }
  free (topology->links);
  topology->links = links;
  topology->n_links = n;
  return true;
}

void
rl_topology_clear (RlTopology *topology)
{
  free (topology->links);
  memset (topology, 0, sizeof *topology);
}

/* Writes `text` as a JSON string. */
static void
write_string (FILE *out, const char *text)
{
  fputc ('"', out);
  for (const unsigned char *c = (const unsigned char *) text; *c != '\0'; c++)
    {
      if (*c == '"' || *c == '\\')
        fprintf (out, "\\%c", *c);
      else if (*c < 0x20)
        fprintf (out, "\\u%04x", *c);
      else
        fputc (*c, out);
    }
  fputc ('"', out);
}

static void
write_device (FILE *out, const RlTopologyDevice *device, int position)
{
  fprintf (out, "    {\"index\": %d, \"cuda_index\": %d, \"nvml_index\": %d, \"name\": ", position,
           device->cuda_index, device->nvml_index);
  write_string (out, device->name);
  fputs (", \"pci_bus_id\": ", out);
  write_string (out, device->pci_bus_id);
  fprintf (out, ", \"memory_total\": %llu, \"memory_used\": %llu, \"utilization_gpu\": %d,"
                " \"temperature_c\": %d, \"nvlinks_active\": %d}",
           (unsigned long long) device->memory_total, (unsigned long long) device->memory_used,
           device->utilization_gpu, device->temperature_c, device->nvlinks_active);
}

static void
write_link (FILE *out, const RlTopologyLink *link)
{
  fprintf (out, "    {\"from\": %d, \"to\": %d, \"type\": \"%s\", \"nvlinks\": %d, \"peer_access\": %s,"
                " \"measured\": %s, \"staged\": %s, \"data_ok\": %s, \"bandwidth_gbs\": %.2f, \"note\": ",
           link->from, link->to, rl_link_type_name (link->type), link->nvlinks,
           link->peer_access ? "true" : "false", link->measured ? "true" : "false",
           link->staged ? "true" : "false", link->data_ok ? "true" : "false",
           link->measured ? link->bandwidth_gbs : 0.0);
  write_string (out, link->note);
  fputc ('}', out);
}

void
rl_topology_write_json (const RlTopology *topology, FILE *out)
{
  fputs ("{\n  \"format\": \"raylight-topology\",\n  \"version\": 1,\n  \"synthetic\": false,\n", out);
  fprintf (out, "  \"nvml\": %s,\n  \"nvml_note\": ", topology->nvml_loaded ? "true" : "false");
  write_string (out, topology->nvml_note);
  fputs (",\n  \"driver_version\": ", out);
  write_string (out, topology->driver_version);
  fprintf (out, ",\n  \"cuda\": %s,\n  \"cuda_note\": ", topology->cuda_available ? "true" : "false");
  write_string (out, topology->cuda_note);
  fputs (",\n  \"devices\": [", out);
  for (int i = 0; i < topology->n_devices; i++)
    {
      fputs (i > 0 ? ",\n" : "\n", out);
      write_device (out, &topology->devices[i], i);
    }
  fputs (topology->n_devices > 0 ? "\n  ],\n  \"links\": [" : "],\n  \"links\": [", out);
  for (int k = 0; k < topology->n_links; k++)
    {
      fputs (k > 0 ? ",\n" : "\n", out);
      write_link (out, &topology->links[k]);
    }
  fputs (topology->n_links > 0 ? "\n  ]\n}\n" : "]\n}\n", out);
}
