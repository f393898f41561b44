/* Helpers shared by the pool tests: the worker binary, random checkpoints,
 * descriptor and RSS counts. Header-only, plain C. */
#pragma once

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "tests/plain-test.h"
#include "tools/make-checkpoint-writer.h"
#include "workers/pool/pool.h"

/* The built raylight-worker, from the RAYLIGHT_WORKER test variable. */
static inline const char *
pt_worker_path (void)
{
  const char *path = getenv ("RAYLIGHT_WORKER");
  if (path == NULL || path[0] == '\0')
    pt_skip_all ("RAYLIGHT_WORKER is not set; run through meson test");
  return path;
}

/* A seed that differs per run, printed so a failure can be replayed. */
static inline uint64_t
pt_seed (void)
{
  const char *fixed = getenv ("RAYLIGHT_TEST_SEED");
  uint64_t seed = fixed ? strtoull (fixed, NULL, 10)
                        : (uint64_t) time (NULL) ^ ((uint64_t) getpid () << 20);
  printf ("# seed %llu (set RAYLIGHT_TEST_SEED to replay)\n", (unsigned long long) seed);
  return seed;
}

/* A scratch directory for this test process. */
static inline const char *
pt_scratch_dir (void)
{
  static char dir[256];
  if (dir[0] == '\0')
    {
      const char *base = getenv ("TMPDIR");
      snprintf (dir, sizeof dir, "%s/raylight-pool-test-XXXXXX", base ? base : "/tmp");
      if (mkdtemp (dir) == NULL)
        {
          perror ("mkdtemp");
          exit (1);
        }
    }
  return dir;
}

/* Writes the tiny Wan model set of tools/make-tiny-wan.py into DIR/models
 * with the project's python (SOURCE/.venv's when present: the generator
 * needs numpy); skips the whole test when no python can run it. */
static inline void
pt_make_tiny_wan_models (const char *source,
                         const char *dir)
{
  char command[2048];
  snprintf (command, sizeof command,
            "p=%s/.venv/bin/python; [ -x \"$p\" ] || p=python3; "
            "\"$p\" %s/tools/make-tiny-wan.py %s/models > /dev/null", source, source, dir);
  if (system (command) != 0)
    pt_skip_all ("cannot generate the tiny Wan models (python with numpy)");
}

/* Writes a safetensors file of random f32 tensors: n_tensors of rows x 1024
 * each (4 KiB a row). Returns 0 on success. */
static inline int
pt_make_model (const char *path, uint64_t seed, int n_tensors, int rows)
{
  MakeCheckpointSpec specs[8];
  memset (specs, 0, sizeof specs);
  for (int i = 0; i < n_tensors && i < 8; i++)
    {
      snprintf (specs[i].name, sizeof specs[i].name, "blocks.%d.weight", i);
      specs[i].dtype = RL_F32;
      specs[i].ndim = 2;
      specs[i].shape[0] = rows;
      specs[i].shape[1] = 1024;
    }
  return make_checkpoint_write (path, specs, (size_t) n_tensors, seed, 0, NULL, 0) == RL_OK
           ? 0 : -1;
}

/* Entries of /proc/self/fd (the count includes the directory's own fd). */
static inline int
pt_count_fds (void)
{
  DIR *dir = opendir ("/proc/self/fd");
  if (dir == NULL)
    return -1;
  int count = 0;
  while (readdir (dir) != NULL)
    count++;
  closedir (dir);
  return count - 2;
}

/* VmRSS of a process in KiB, -1 if unknown. */
static inline long
pt_rss_kib (int pid)
{
  char path[64];
  snprintf (path, sizeof path, "/proc/%d/status", pid);
  FILE *file = fopen (path, "re");
  if (file == NULL)
    return -1;
  char line[256];
  long kib = -1;
  while (fgets (line, sizeof line, file) != NULL)
    if (sscanf (line, "VmRSS: %ld kB", &kib) == 1)
      break;
  fclose (file);
  return kib;
}

/* Default pool options for tests: fast heartbeats, short grace. */
static inline void
pt_pool_options (RlPoolOptions *options, int n_workers)
{
  rl_pool_options_init (options);
  options->worker_path = pt_worker_path ();
  options->n_workers = n_workers;
  options->heartbeat_interval_ms = 100;
  options->heartbeat_timeout_ms = 1500;
  options->start_timeout_ms = 10000;
  options->request_timeout_ms = 20000;
  options->shutdown_grace_ms = 1000;
}
