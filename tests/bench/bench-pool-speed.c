/* bench-pool-speed --checkpoint WAN.safetensors [--label NAME] [--modes "1 U2 U4"]
 *                  [--attention NAME|auto] [--latent FxHxW] [--backend cuda|cpu]
 *                  [--gpus N] [--seed N] [--repeats N] [--text-dim N]
 * bench-pool-speed --tiny [--backend cpu] [--modes …]
 *
 * Issue 5's speed-ups: one Wan sampling step (one DiT forward at cfg 1; two
 * at cfg 5 for CFG-parallel modes) from a zero latent, through a pool of
 * raylight-worker processes joined by NCCL (or shared memory on CPU
 * workers), for each parallel mode in turn, against the one-GPU step of the
 * same model in the same run. Each mode's pool loads the model once, takes
 * a warm-up step (load, kernels, GEMM tuning) and then the best of
 * `repeats` steps with the model resident. Prints, per mode:
 *   # speed LABEL MODE SECONDS s speedup X.XXx time Y.YYY x 1GPU [time Z x U2]
 * which tests/pool/gpu-pool4-session.sh tabulates; with RAYLIGHT_FORWARD_TIMES=1
 * in the environment the workers also log each forward's own time.
 * The latent defaults to 21×60×104 (832×480×81: 32,760 tokens), every
 * worker's attention to cudnn on GPUs ("auto" lets each rank pick for its
 * own slice, so split runs may then use other kernels than one GPU).
 * --tiny writes tools/make-tiny-wan.py's models into a scratch folder and
 * times its 1.3B-shaped DiT at a 2×4×8 latent: the CI run that keeps this
 * bench working on CPU workers. Needs RAYLIGHT_WORKER and
 * RAYLIGHT_PLUGIN_PATH (and RAYLIGHT_SOURCE_DIR for --tiny). Exits 1 when
 * a mode could not be timed. Timings decide nothing here. */
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/pool/parallel-mode.h"

enum { MAX_RANKS = 4 };

typedef struct {
  PtModePoolSetup setup;
  char           *checkpoint;
  const char     *attention;   /* NULL: auto */
  int64_t         latent[3];
  uint64_t        seed;
  int             repeats;
  RlSharedTensor *positive, *negative;
} Bench;

static bool
step (const Bench *b, RlPool *pool, float cfg, double *seconds)
{
  RlSampleParams params;
  RlErrorInfo err = { 0 };
  pt_mode_sample_params (&params, b->checkpoint, b->seed, 1, cfg);
  const uint64_t shape[5] = { 1, PT_LATENT_CHANNELS, (uint64_t) b->latent[0],
                              (uint64_t) b->latent[1], (uint64_t) b->latent[2] };
  double t0 = pt_now_s ();
  bool ok = pt_sample_all (pool, &params, shape, b->positive, b->negative, NULL, NULL, NULL,
                           seconds, &err);
  if (!ok)
    printf ("# sampling failed after %.2f s: %s\n", pt_now_s () - t0, err.message);
  return ok;
}

/* The best of `repeats` steps after a warm-up; -1 when the pool could not
 * start or a step failed. */
static double
time_mode (const Bench *b, const PtMode *m, float cfg)
{
  RlErrorInfo err = { 0 };
  RlPool *pool = pt_start_mode_pool (&b->setup, m, b->attention, &err);
  if (pool == NULL)
    return -1.0;
  double best = INFINITY, t = 0.0;
  bool ok = step (b, pool, cfg, &t);
  printf ("# %s %s cfg %g: warm-up step %.2f s\n", b->setup.label, m->name, (double) cfg, t);
  for (int i = 0; ok && i < b->repeats; i++)
    {
      ok = step (b, pool, cfg, &t);
      best = fmin (best, t);
    }
  rl_pool_free (pool);
  return ok ? best : -1.0;
}

/* Every mode of `list` in turn; false when one could not be timed. */
static bool
run_modes (const Bench *b, const char *list, int devices)
{
  char copy[256];
  snprintf (copy, sizeof copy, "%s", list);
  double one = -1.0, one_cfg = -1.0, u2 = -1.0;
  long tokens = (long) (b->latent[0] * b->latent[1] / 2 * b->latent[2] / 2);
  bool all_ok = true;
  for (char *save = NULL, *word = strtok_r (copy, " ,", &save); word != NULL;
       word = strtok_r (NULL, " ,", &save))
    {
      PtMode m;
      if (!pt_mode_parse (word, &m))
        {
          printf ("# speed: unknown mode '%s' (e.g. 1, U2, R2, U2xR2, CFG2, FSDP2+OFFLOAD)\n", word);
          all_ok = false;
          continue;
        }
      if (pt_mode_workers (&m) > devices)
        {
          printf ("# speed %s %s skipped: needs %d GPUs\n", b->setup.label, m.name,
                  pt_mode_workers (&m));
          continue;
        }
      /* CFG parallelism pays off only with a negative prompt: cfg 5, against
       * the one-GPU step at cfg 5 (two forwards). */
      float cfg = m.cfg > 1 ? 5.0f : 1.0f;
      if (m.cfg > 1 && one_cfg < 0.0)
        {
          PtMode single;
          pt_mode_parse ("1", &single);
          one_cfg = time_mode (b, &single, 5.0f);
        }
      double t = strcmp (m.name, "1") == 0 && one > 0.0 ? one : time_mode (b, &m, cfg);
      if (t <= 0.0)
        {
          printf ("# speed %s %s failed\n", b->setup.label, m.name);
          all_ok = false;
          continue;
        }
      if (strcmp (m.name, "1") == 0)
        one = t;
      if (strcmp (m.name, "U2") == 0)
        u2 = t;
      double base = m.cfg > 1 ? one_cfg : one;
      char versus[96] = "";
      if (m.fsdp > 1 && m.ulysses == 2 && m.ring * m.cfg * m.data == 1 && u2 > 0.0)
        snprintf (versus, sizeof versus, " time %.3f x U2", t / u2);
      printf ("# speed %s %s %.3f s speedup %.2fx time %.3f x 1GPU%s (%ld tokens, cfg %g)\n",
              b->setup.label, m.name, t, base > 0.0 ? base / t : 0.0,
              base > 0.0 ? t / base : 0.0, versus, tokens, (double) cfg);
      fflush (stdout);
    }
  return all_ok;
}

static int
remove_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  (void) st, (void) flag, (void) ftw;
  return remove (path);
}

static int
usage (const char *why)
{
  fprintf (stderr, "bench-pool-speed: %s\n"
           "usage: bench-pool-speed --checkpoint WAN.safetensors [--label NAME] [--modes \"1 U2 U4\"]\n"
           "       [--attention NAME|auto] [--latent FxHxW] [--backend cuda|cpu] [--gpus N]\n"
           "       [--seed N] [--repeats N] [--text-dim N]\n"
           "       bench-pool-speed --tiny [--backend cpu] [--modes …]\n", why);
  return 2;
}

int
main (int argc, char **argv)
{
  Bench b = { .setup = { .backend = RL_POOL_BACKEND_CUDA, .heartbeat_timeout_ms = 20000 },
              .latent = { 21, 60, 104 }, .seed = 20261127, .repeats = 3 };
  const char *modes = "1 U2", *attention = NULL, *label = NULL;
  int devices = 0, text_dim = 4096;
  bool tiny = false, latent_given = false;
  for (int i = 1; i < argc; i++)
    {
      const char *arg = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
      if (strcmp (arg, "--tiny") == 0)
        {
          tiny = true;
          continue;
        }
      if (value == NULL)
        return usage ("an option lacks its value");
      i++;
      if (strcmp (arg, "--checkpoint") == 0)
        b.checkpoint = (char *) value;
      else if (strcmp (arg, "--label") == 0)
        label = value;
      else if (strcmp (arg, "--modes") == 0)
        modes = value;
      else if (strcmp (arg, "--attention") == 0)
        attention = value;
      else if (strcmp (arg, "--latent") == 0)
        {
          if (!pt_parse_fhw (value, b.latent))
            return usage ("--latent: FxHxW with even H and W, e.g. 21x60x104");
          latent_given = true;
        }
      else if (strcmp (arg, "--backend") == 0)
        {
          if (strcmp (value, "cpu") != 0 && strcmp (value, "cuda") != 0)
            return usage ("--backend: cuda or cpu");
          b.setup.backend = strcmp (value, "cpu") == 0 ? RL_POOL_BACKEND_CPU
                                                       : RL_POOL_BACKEND_CUDA;
        }
      else if (strcmp (arg, "--gpus") == 0)
        devices = atoi (value);
      else if (strcmp (arg, "--seed") == 0)
        b.seed = strtoull (value, NULL, 10);
      else if (strcmp (arg, "--repeats") == 0)
        b.repeats = atoi (value);
      else if (strcmp (arg, "--text-dim") == 0)
        text_dim = atoi (value);
      else
        return usage ("unknown option");
    }
  if (b.repeats < 1 || text_dim < 1 || devices < 0)
    return usage ("--repeats and --text-dim take positive numbers");
  const char *plugins = getenv ("RAYLIGHT_PLUGIN_PATH");
  if (getenv ("RAYLIGHT_WORKER") == NULL || plugins == NULL)
    {
      fprintf (stderr, "bench-pool-speed: set RAYLIGHT_WORKER (the raylight-worker binary) and "
                       "RAYLIGHT_PLUGIN_PATH (the build's plugins folder)\n");
      return 2;
    }
  char tiny_path[512] = "";
  if (tiny)
    {
      const char *source = getenv ("RAYLIGHT_SOURCE_DIR");
      if (source == NULL)
        return usage ("--tiny needs RAYLIGHT_SOURCE_DIR (the source tree)");
      pt_make_tiny_wan_models (source, pt_scratch_dir ());
      snprintf (tiny_path, sizeof tiny_path,
                "%s/models/diffusion_models/tiny-wan2.1-t2v.safetensors", pt_scratch_dir ());
      b.checkpoint = tiny_path;
      text_dim = 128;   /* tools/make-tiny-wan.py's UMT5 width */
      if (!latent_given)
        b.latent[0] = 2, b.latent[1] = 4, b.latent[2] = 8;
      label = label != NULL ? label : "tiny-1.3B";
    }
  if (b.checkpoint == NULL)
    return usage ("--checkpoint (or --tiny) is required");
  FILE *probe = fopen (b.checkpoint, "rb");
  if (probe == NULL)
    {
      fprintf (stderr, "bench-pool-speed: cannot open the checkpoint %s\n", b.checkpoint);
      return 2;
    }
  fclose (probe);
  if (label == NULL)
    {
      const char *slash = strrchr (b.checkpoint, '/');
      label = slash != NULL ? slash + 1 : b.checkpoint;
    }

  int present = b.setup.backend == RL_POOL_BACKEND_CPU ? MAX_RANKS : pt_count_nvidia_gpus ();
  if (devices == 0 || devices > present)
    devices = present;
  if (devices < 1)
    {
      fprintf (stderr, "bench-pool-speed: no NVIDIA GPU here; --backend cpu times CPU workers\n");
      return 2;
    }
  if (attention == NULL && b.setup.backend == RL_POOL_BACKEND_CUDA)
    attention = "cudnn";
  b.attention = attention != NULL && strcmp (attention, "auto") != 0 ? attention : NULL;
  char plugin_env[1024];
  snprintf (plugin_env, sizeof plugin_env, "RAYLIGHT_PLUGIN_PATH=%s", plugins);
  b.setup.plugin_env = plugin_env;
  b.setup.label = label;
  b.positive = pt_random_conditioning (b.seed, 1, text_dim);
  b.negative = pt_random_conditioning (b.seed, 2, text_dim);
  if (b.positive == NULL || b.negative == NULL)
    {
      fprintf (stderr, "bench-pool-speed: cannot allocate the conditioning\n");
      return 1;
    }
  printf ("# %s on %d %s, attention %s, latent %lldx%lldx%lld, best of %d steps after a "
          "warm-up\n", label, devices,
          b.setup.backend == RL_POOL_BACKEND_CPU ? "CPU workers" : "GPUs",
          b.attention ? b.attention : "auto", (long long) b.latent[0], (long long) b.latent[1],
          (long long) b.latent[2], b.repeats);
  fflush (stdout);
  bool ok = run_modes (&b, modes, devices);
  rl_shared_tensor_free (b.positive);
  rl_shared_tensor_free (b.negative);
  if (tiny)
    nftw (pt_scratch_dir (), remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  return ok ? 0 : 1;
}
