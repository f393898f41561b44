#include "device-facts.h"

#include <stdio.h>
#include <string.h>
#include <sys/sysinfo.h>

/* Reads "key : value" from a /proc file; true when found. */
static int
read_proc_field (const char *file, const char *key, char *value, size_t size)
{
  FILE *stream = fopen (file, "re");
  if (stream == NULL)
    return 0;
  char line[512];
  size_t key_length = strlen (key);
  int found = 0;
  while (!found && fgets (line, sizeof line, stream) != NULL)
    {
      if (strncmp (line, key, key_length) != 0)
        continue;
      const char *colon = strchr (line + key_length, ':');
      if (colon == NULL)
        continue;
      colon++;
      while (*colon == ' ' || *colon == '\t')
        colon++;
      snprintf (value, size, "%s", colon);
      value[strcspn (value, "\n")] = '\0';
      found = 1;
    }
  fclose (stream);
  return found;
}

void
rl_device_facts_cpu (RlDeviceFacts *facts)
{
  memset (facts, 0, sizeof *facts);
  if (!read_proc_field ("/proc/cpuinfo", "model name", facts->name, sizeof facts->name))
    snprintf (facts->name, sizeof facts->name, "CPU");
  struct sysinfo info;
  if (sysinfo (&info) == 0)
    {
      facts->total_memory = (uint64_t) info.totalram * info.mem_unit;
      facts->free_memory = (uint64_t) info.freeram * info.mem_unit;
    }
  char available[64];
  unsigned long long kib;
  if (read_proc_field ("/proc/meminfo", "MemAvailable", available, sizeof available)
      && sscanf (available, "%llu", &kib) == 1)
    facts->free_memory = (uint64_t) kib * 1024;
}
