/* raylight-topology: prints the machine's GPUs, the link between each
 * pair and the measured peer-copy bandwidth as JSON (the pool's start-up
 * self-test; the app's Pool settings show it). Exits 0 with an empty
 * device list where there is no GPU, NVML or CUDA.
 *
 *   raylight-topology [--size-mib N] [--no-bandwidth] [--no-peer] [--output FILE] */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "workers/topology/topology.h"

#define DEFAULT_SIZE_MIB 256

static void
usage (FILE *out)
{
  fputs ("Usage: raylight-topology [--size-mib N] [--no-bandwidth] [--no-peer] [--output FILE]\n"
         "Lists the GPUs (NVML), the link between each pair (NVLink, PCIe switch, host bridge,\n"
         "system) and the measured cudaMemcpyPeerAsync bandwidth of each ordered pair, as JSON.\n"
         "  --size-mib N     bytes per timed copy, in MiB (default 256)\n"
         "  --no-bandwidth   list devices and links only\n"
         "  --no-peer        measure the staged path (through host memory) even with peer access\n"
         "  --output FILE    write the JSON to FILE instead of standard output\n", out);
}

int
main (int argc, char **argv)
{
  RlTopology topology;
  const char *output = NULL;
  long size_mib = DEFAULT_SIZE_MIB;
  bool measure = true, use_peer = true;
  FILE *out = stdout;

  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--size-mib") == 0 && i + 1 < argc)
        {
          char *end = NULL;
          errno = 0;
          size_mib = strtol (argv[++i], &end, 10);
          if (errno != 0 || *end != '\0' || size_mib < 1 || size_mib > 16384)
            {
              fprintf (stderr, "raylight-topology: --size-mib takes 1 to 16384, not %s\n", argv[i]);
              return 2;
            }
        }
      else if (strcmp (argv[i], "--no-bandwidth") == 0)
        measure = false;
      else if (strcmp (argv[i], "--no-peer") == 0)
        use_peer = false;
      else if (strcmp (argv[i], "--output") == 0 && i + 1 < argc)
        output = argv[++i];
      else if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0)
        {
          usage (stdout);
          return 0;
        }
      else
        {
          fprintf (stderr, "raylight-topology: unknown argument %s\n", argv[i]);
          usage (stderr);
          return 2;
        }
    }

  memset (&topology, 0, sizeof topology);
  rl_topology_nvml_probe (&topology);
  rl_topology_cuda_probe (&topology, (size_t) size_mib << 20, measure, use_peer);
  if (output != NULL && (out = fopen (output, "w")) == NULL)
    {
      fprintf (stderr, "raylight-topology: cannot write %s: %s\n", output, strerror (errno));
      rl_topology_nvml_close ();
      rl_topology_clear (&topology);
      return 1;
    }
  rl_topology_write_json (&topology, out);
  if (out != stdout && fclose (out) != 0)
    {
      fprintf (stderr, "raylight-topology: writing %s failed: %s\n", output, strerror (errno));
      return 1;
    }
  rl_topology_nvml_close ();
  rl_topology_clear (&topology);
  return 0;
}
