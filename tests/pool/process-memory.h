/* A process's host memory from /proc, for the pool's memory measurements:
 * /proc/PID/status (VmRSS and its anonymous, file and shared-memory parts,
 * the peak VmHWM), /proc/PID/smaps_rollup (Pss, which divides every page
 * among the processes mapping it) and, in /proc/PID/smaps, the mapping of
 * one file (the checkpoint): how much of it this process has touched.
 * Header-only, plain C, Linux. */
#pragma once

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  long rss_kib, anon_kib, file_kib, shmem_kib, hwm_kib;   /* status */
  long pss_kib, pss_anon_kib, pss_file_kib, pss_shmem_kib; /* smaps_rollup (-1: kernel too old) */
  long mapped_rss_kib, mapped_pss_kib;                     /* the file's mappings in smaps */
} PtProcessMemory;

/* The number after "NAME:" in a "NAME: N kB" line, or -1. */
static inline long
pt_kib_field (const char *line, const char *name)
{
  size_t n = strlen (name);
  if (strncmp (line, name, n) != 0 || line[n] != ':')
    return -1;
  return strtol (line + n + 1, NULL, 10);
}

/* Adds the "NAME: N kB" lines of a /proc file to the fields named. */
static inline bool
pt_read_kib_fields (const char *path, const char *const *names, long *const *fields, int n)
{
  FILE *f = fopen (path, "re");
  char line[512];
  if (f == NULL)
    return false;
  while (fgets (line, sizeof line, f) != NULL)
    for (int i = 0; i < n; i++)
      {
        long v = pt_kib_field (line, names[i]);
        if (v >= 0)
          *fields[i] = (*fields[i] < 0 ? 0 : *fields[i]) + v;
      }
  fclose (f);
  return true;
}

/* Whether an smaps line starts a mapping ("7f..-7f.. r--s ... path"). */
static inline bool
pt_smaps_header (const char *line)
{
  const char *dash = strchr (line, '-');
  return dash != NULL && dash > line && strspn (line, "0123456789abcdef") == (size_t) (dash - line);
}

/* Fills *out for `pid`; `mapped_path` (may be NULL) names the file whose
 * mappings are summed apart. False when the process is gone. */
static inline bool
pt_process_memory (int pid, const char *mapped_path, PtProcessMemory *out)
{
  char path[64], line[4096];
  memset (out, 0xff, sizeof *out);   /* every field -1 */
  snprintf (path, sizeof path, "/proc/%d/status", pid);
  const char *status_names[] = { "VmRSS", "RssAnon", "RssFile", "RssShmem", "VmHWM" };
  long *status_fields[] = { &out->rss_kib, &out->anon_kib, &out->file_kib, &out->shmem_kib,
                            &out->hwm_kib };
  if (!pt_read_kib_fields (path, status_names, status_fields, 5))
    return false;
  snprintf (path, sizeof path, "/proc/%d/smaps_rollup", pid);
  const char *rollup_names[] = { "Pss", "Pss_Anon", "Pss_File", "Pss_Shmem" };
  long *rollup_fields[] = { &out->pss_kib, &out->pss_anon_kib, &out->pss_file_kib,
                            &out->pss_shmem_kib };
  pt_read_kib_fields (path, rollup_names, rollup_fields, 4);
  if (mapped_path == NULL)
    return true;
  snprintf (path, sizeof path, "/proc/%d/smaps", pid);
  FILE *f = fopen (path, "re");
  if (f == NULL)
    return true;
  size_t path_len = strlen (mapped_path);
  bool inside = false;
  out->mapped_rss_kib = out->mapped_pss_kib = 0;
  while (fgets (line, sizeof line, f) != NULL)
    {
      if (pt_smaps_header (line))
        {
          size_t n = strcspn (line, "\n");
          line[n] = '\0';
          inside = n >= path_len && strcmp (line + n - path_len, mapped_path) == 0;
          continue;
        }
      long v;
      if (inside && (v = pt_kib_field (line, "Rss")) >= 0)
        out->mapped_rss_kib += v;
      if (inside && (v = pt_kib_field (line, "Pss")) >= 0)
        out->mapped_pss_kib += v;
    }
  fclose (f);
  return true;
}
