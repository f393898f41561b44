/* A parallel mode by its short name ("U2", "U2xR2", "FSDP2+OFFLOAD", "1"),
 * a pool of GPU (or CPU) workers started in it, and the one-step Wan job
 * they run: shared by test-pool-nccl (parity, faults, memory) and
 * tests/bench/bench-pool-speed (the speed-ups). Header-only, plain C. */
#pragma once

#include <ctype.h>
#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tests/pool/pool-jobs-util.h"
#include "tests/pool/pool-test-util.h"
#include "workers/jobs/job-params.h"
#include "workers/pool/pool.h"

enum { PT_TEXT_TOKENS = 512, PT_LATENT_CHANNELS = 16 };

typedef struct {
  char name[32];
  int  ulysses, ring, cfg, data, fsdp;
  bool offload;
} PtMode;

/* "U2", "R2", "CFG2", "DP2", "FSDP2", "OFFLOAD", joined by '+' or 'x'
 * ("U2xR2", "U2+FSDP2", "FSDP2+OFFLOAD"); "1" is one GPU. */
static inline bool
pt_mode_parse (const char *text, PtMode *m)
{
  *m = (PtMode) { .ulysses = 1, .ring = 1, .cfg = 1, .data = 1, .fsdp = 1 };
  snprintf (m->name, sizeof m->name, "%s", text);
  if (strcmp (text, "1") == 0)
    return true;
  static const struct { const char *prefix; size_t offset; } parts[] = {
    { "FSDP", offsetof (PtMode, fsdp) }, { "CFG", offsetof (PtMode, cfg) },
    { "DP", offsetof (PtMode, data) },   { "U", offsetof (PtMode, ulysses) },
    { "R", offsetof (PtMode, ring) },
  };
  const char *p = text;
  while (*p != '\0')
    {
      if (*p == '+' || *p == 'x')
        {
          p++;
          continue;
        }
      if (strncmp (p, "OFFLOAD", 7) == 0)
        {
          m->offload = true;
          p += 7;
          continue;
        }
      size_t i = 0;
      while (i < sizeof parts / sizeof parts[0]
             && strncmp (p, parts[i].prefix, strlen (parts[i].prefix)) != 0)
        i++;
      if (i == sizeof parts / sizeof parts[0])
        return false;
      p += strlen (parts[i].prefix);
      if (!isdigit ((unsigned char) *p))
        return false;
      *(int *) ((char *) m + parts[i].offset) = (int) strtol (p, (char **) &p, 10);
    }
  return true;
}

/* The pool's size: the product of the degrees, or the FSDP degree alone. */
static inline int
pt_mode_workers (const PtMode *m)
{
  int product = m->ulysses * m->ring * m->cfg * m->data;
  return product > 1 ? product : (m->fsdp > 1 ? m->fsdp : 1);
}

/* A latent's frames × height × width, "21x60x104"; height and width even
 * (the DiT's 2×2 patches). */
static inline bool
pt_parse_fhw (const char *text, int64_t *fhw)
{
  long long f, h, w;
  if (text == NULL || sscanf (text, "%lldx%lldx%lld", &f, &h, &w) != 3 || f < 1 || h < 2
      || w < 2 || h % 2 != 0 || w % 2 != 0)
    return false;
  fhw[0] = f, fhw[1] = h, fhw[2] = w;
  return true;
}

/* Seconds on the monotonic clock. */
static inline double
pt_now_s (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

static inline int
pt_count_nvidia_gpus (void)
{
  DIR *dir = opendir ("/proc/driver/nvidia/gpus");
  int n = 0;
  if (dir == NULL)
    return 0;
  for (struct dirent *e; (e = readdir (dir)) != NULL;)
    n += e->d_name[0] != '.';
  closedir (dir);
  return n;
}

/* Text conditioning [1, 512, text_dim] of values in [-0.5, 0.5), the same
 * for the same seed and `which` (1 positive, 2 negative). */
static inline RlSharedTensor *
pt_random_conditioning (uint64_t seed, uint64_t which, int text_dim)
{
  const uint64_t shape[3] = { 1, PT_TEXT_TOKENS, (uint64_t) text_dim };
  RlErrorInfo err = { 0 };
  RlSharedTensor *t = rl_shared_tensor_new (RL_WIRE_DTYPE_F32, 3, shape, "conditioning", &err);
  if (t == NULL)
    return NULL;
  float *x = rl_shared_tensor_data (t);
  for (int64_t i = 0; i < (int64_t) PT_TEXT_TOKENS * text_dim; i++)
    x[i] = make_checkpoint_value (seed ^ which, 7, i) * 0.5f;
  rl_shared_tensor_seal (t, &err);
  return t;
}

/* What every pool of a run shares. */
typedef struct {
  RlPoolBackend backend;
  const char   *plugin_env;            /* "RAYLIGHT_PLUGIN_PATH=…" for the workers */
  const char   *label;                 /* the model's name in the result lines */
  const char   *worker_path;           /* NULL: $RAYLIGHT_WORKER */
  int           heartbeat_timeout_ms;
} PtModePoolSetup;

/* A started pool for `m` whose workers all run the attention variant
 * `variant` (NULL: the backend's choice per problem); NULL with `err` set
 * and the reason printed. Prints "# === pool LABEL MODE … at HH:MM:SS.mmm"
 * first: the session scripts split the workers' log lines by it, and the
 * sampled GPU memory by its time (to the millisecond, as nvidia-smi's
 * timestamps). */
static inline RlPool *
pt_start_mode_pool (const PtModePoolSetup *setup, const PtMode *m, const char *variant,
                    RlErrorInfo *err)
{
  const char *env[] = { setup->plugin_env, "NCCL_NVLS_ENABLE=0", NULL };
  RlPoolOptions options;
  pt_pool_options (&options, pt_mode_workers (m));
  if (setup->worker_path != NULL)
    options.worker_path = setup->worker_path;
  options.backend = setup->backend;
  options.extra_env = env;
  options.start_timeout_ms = 60000;
  options.request_timeout_ms = 180000;
  options.heartbeat_timeout_ms = setup->heartbeat_timeout_ms;
  options.ulysses_degree = m->ulysses;
  options.ring_degree = m->ring;
  options.cfg_degree = m->cfg;
  options.data_degree = m->data;
  options.fsdp_degree = m->fsdp;
  options.cpu_offload = m->offload;
  options.attention = variant;
  options.comm_timeout_ms = 60000;
  struct timespec wall;
  struct tm local;
  char clock[16];
  clock_gettime (CLOCK_REALTIME, &wall);
  localtime_r (&wall.tv_sec, &local);
  strftime (clock, sizeof clock, "%H:%M:%S", &local);
  printf ("# === pool %s %s (%d workers, attention %s) at %s.%03ld\n", setup->label, m->name,
          pt_mode_workers (m), variant ? variant : "auto", clock, wall.tv_nsec / 1000000);
  fflush (stdout);
  RlPool *pool = rl_pool_new (&options, err);
  if (pool == NULL || rl_pool_start (pool, err) != RL_WIRE_OK)
    {
      printf ("# cannot start %d workers for %s: %s\n", pt_mode_workers (m), m->name,
              err->message);
      rl_pool_free (pool);
      return NULL;
    }
  return pool;
}

/* SAMPLE parameters of the runs: `steps` euler steps on the simple
 * schedule at `cfg` from `seed`, of the checkpoint at `model`. */
static inline void
pt_mode_sample_params (RlSampleParams *params, char *model, uint64_t seed, int steps, float cfg)
{
  rl_sample_params_init (params);
  params->model = (RlJobModel) { model, "" };
  params->seed = seed;
  params->steps = (uint32_t) steps;
  params->cfg = cfg;
  params->sampler = "euler";
  params->scheduler = "simple";
}
