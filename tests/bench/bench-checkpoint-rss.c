/* Host memory of several workers that map the same checkpoint.
 *
 *   bench-checkpoint-rss [--size-mb N] [--workers K] [--dir DIR] [--check]
 *
 * Writes a random BF16 safetensors file of about N MB (default 200), forks
 * K processes (default 2) that each open it with rl_safetensors_open and read
 * every byte of every tensor, then reads each one's /proc/PID/smaps_rollup
 * while all are alive. Rss counts a shared page in every process that maps
 * it, so its sum overstates host RAM K-fold; Pss divides each page among its
 * mappers and its sum is the honest total. Then each worker drops the
 * mapping from its RSS (RL_SAFETENSORS_DONT_NEED, as after uploading its
 * weights to a GPU) and both are measured again.
 *
 * --check exits 1 unless the Pss sum with everything touched is at most 1.2×
 * the file size: the acceptance criterion that host RAM does not multiply
 * with the number of workers. No timing is involved. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tools/make-checkpoint-writer.h"
#include "workers/checkpoint/safetensors.h"

#define MAX_WORKERS 16

typedef struct {
  long rss_kb;
  long pss_kb;
  long shared_kb;
  long private_kb;
} Usage;

typedef struct {
  pid_t pid;
  int   to_worker;     /* parent writes one byte per step */
  int   from_worker;   /* worker writes one byte per finished step */
} Worker;

static long
field_kb (const char *text, const char *name)
{
  const char *p = strstr (text, name);
  return p ? strtol (p + strlen (name), NULL, 10) : -1;
}

static int
read_usage (pid_t pid, Usage *u)
{
  char path[64], text[4096];
  snprintf (path, sizeof path, "/proc/%d/smaps_rollup", (int) pid);
  FILE *f = fopen (path, "r");
  if (f == NULL)
    return -1;
  size_t n = fread (text, 1, sizeof text - 1, f);
  fclose (f);
  text[n] = '\0';
  u->rss_kb = field_kb (text, "\nRss:");
  u->pss_kb = field_kb (text, "\nPss:");
  u->shared_kb = field_kb (text, "\nShared_Clean:") + field_kb (text, "\nShared_Dirty:");
  u->private_kb = field_kb (text, "\nPrivate_Clean:") + field_kb (text, "\nPrivate_Dirty:");
  return u->rss_kb < 0 || u->pss_kb < 0 ? -1 : 0;
}

static int
write_checkpoint (const char *path, int size_mb, uint64_t seed)
{
  /* 4 MiB BF16 tensors named like a DiT's blocks. */
  int n = size_mb / 4 > 0 ? size_mb / 4 : 1;
  MakeCheckpointSpec *specs = calloc ((size_t) n, sizeof *specs);
  for (int i = 0; i < n; i++) {
    snprintf (specs[i].name, sizeof specs[i].name, "blocks.%d.ffn.%d.weight", i / 2, i % 2);
    specs[i].dtype = RL_BF16;
    specs[i].ndim = 2;
    specs[i].shape[0] = 1024;
    specs[i].shape[1] = 2048;
  }
  RlStatus status = make_checkpoint_write (path, specs, (size_t) n, seed, 0, NULL, 0);
  free (specs);
  if (status != RL_OK)
    fprintf (stderr, "bench-checkpoint-rss: %s\n", rl_last_error ());
  return status == RL_OK ? 0 : -1;
}

static void
step (int in, int out)
{
  char c = 1;
  if (write (out, &c, 1) != 1 || read (in, &c, 1) != 1)
    _exit (3);
}

/* A worker: open, read every tensor fully, report; drop, report; exit. */
static void
worker_main (const char *path, int in, int out)
{
  RlSafetensors *st = NULL;
  if (rl_safetensors_open (path, &st) != RL_OK) {
    fprintf (stderr, "worker %d: %s\n", (int) getpid (), rl_last_error ());
    _exit (2);
  }
  uint64_t sum = 0;
  for (size_t i = 0; i < rl_safetensors_count (st); i++) {
    const RlSafetensorsTensor *t = rl_safetensors_tensor_at (st, i);
    const uint8_t *bytes = t->data;
    for (uint64_t b = 0; b + 8 <= t->nbytes; b += 8) {
      uint64_t word;
      memcpy (&word, bytes + b, 8);
      sum += word;
    }
    rl_safetensors_note_read (st, t->nbytes);
  }
  if (rl_safetensors_bytes_read (st) != rl_safetensors_data_size (st) || sum == 0)
    _exit (4);
  step (in, out);
  rl_safetensors_advise (st, NULL, RL_SAFETENSORS_DONT_NEED);
  step (in, out);
  rl_safetensors_close (st);
  _exit (0);
}

static int
measure (Worker *workers, int k, const char *phase, double file_mb, double *pss_sum_mb)
{
  long rss = 0, pss = 0;
  for (int i = 0; i < k; i++) {
    char c;
    if (read (workers[i].from_worker, &c, 1) != 1)
      return -1;
  }
  for (int i = 0; i < k; i++) {
    Usage u;
    if (read_usage (workers[i].pid, &u) != 0)
      return -1;
    printf ("| %-18s | worker %d | %9.1f | %9.1f | %9.1f | %9.1f |\n", phase, i, u.rss_kb / 1024.0,
            u.pss_kb / 1024.0, u.shared_kb / 1024.0, u.private_kb / 1024.0);
    rss += u.rss_kb;
    pss += u.pss_kb;
  }
  printf ("| %-18s | sum      | %9.1f | %9.1f |  Rss %.2fx, Pss %.2fx the file |\n", phase, rss / 1024.0,
          pss / 1024.0, rss / 1024.0 / file_mb, pss / 1024.0 / file_mb);
  *pss_sum_mb = pss / 1024.0;
  for (int i = 0; i < k; i++) {
    char c = 1;
    if (write (workers[i].to_worker, &c, 1) != 1)
      return -1;
  }
  return 0;
}

int
main (int argc, char **argv)
{
  int size_mb = 200, k = 2;
  bool check = false;
  const char *dir = getenv ("RAYLIGHT_BUILD_DIR") ? getenv ("RAYLIGHT_BUILD_DIR") : "/tmp";
  for (int i = 1; i < argc; i++) {
    if (strcmp (argv[i], "--size-mb") == 0 && i + 1 < argc)
      size_mb = atoi (argv[++i]);
    else if (strcmp (argv[i], "--workers") == 0 && i + 1 < argc)
      k = atoi (argv[++i]);
    else if (strcmp (argv[i], "--dir") == 0 && i + 1 < argc)
      dir = argv[++i];
    else if (strcmp (argv[i], "--check") == 0)
      check = true;
    else {
      fprintf (stderr, "usage: %s [--size-mb N] [--workers K] [--dir DIR] [--check]\n", argv[0]);
      return 2;
    }
  }
  if (k < 1 || k > MAX_WORKERS || size_mb < 4) {
    fprintf (stderr, "bench-checkpoint-rss: 1..%d workers and at least 4 MB\n", MAX_WORKERS);
    return 2;
  }
  uint64_t seed = (uint64_t) time (NULL) ^ (uint64_t) getpid ();
  char path[1024];
  snprintf (path, sizeof path, "%s/bench-checkpoint-rss-%d.safetensors", dir, (int) getpid ());
  printf ("# seed %llu, %s\n", (unsigned long long) seed, path);
  if (write_checkpoint (path, size_mb, seed) != 0)
    return 1;
  RlSafetensors *probe = NULL;
  if (rl_safetensors_open (path, &probe) != RL_OK) {
    fprintf (stderr, "%s\n", rl_last_error ());
    unlink (path);
    return 1;
  }
  double file_mb = (double) rl_safetensors_file_size (probe) / (1024.0 * 1024.0);
  rl_safetensors_close (probe);

  Worker workers[MAX_WORKERS];
  for (int i = 0; i < k; i++) {
    int down[2], up[2];
    if (pipe (down) != 0 || pipe (up) != 0)
      return 1;
    pid_t pid = fork ();
    if (pid == 0) {
      close (down[1]);
      close (up[0]);
      worker_main (path, down[0], up[1]);
    }
    close (down[0]);
    close (up[1]);
    workers[i] = (Worker) { pid, down[1], up[0] };
  }
  printf ("%d workers, checkpoint %.1f MiB (MiB below)\n\n", k, file_mb);
  printf ("| phase              | process  |       Rss |       Pss |    Shared |   Private |\n");
  printf ("|--------------------|----------|-----------|-----------|-----------|-----------|\n");
  double touched_pss = 0, released_pss = 0;
  int failed = measure (workers, k, "all tensors read", file_mb, &touched_pss) != 0
               || measure (workers, k, "after DONT_NEED", file_mb, &released_pss) != 0;
  for (int i = 0; i < k; i++) {
    int status = 0;
    waitpid (workers[i].pid, &status, 0);
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
      failed = 1;
  }
  unlink (path);
  if (failed) {
    printf ("not ok 1 - a worker failed or smaps_rollup could not be read\n1..1\n");
    return 1;
  }
  double ratio = touched_pss / file_mb;
  printf ("\n%s 1 - Pss sum of %d workers = %.3f x file size (limit 1.2)\n1..1\n",
          !check || ratio <= 1.2 ? "ok" : "not ok", k, ratio);
  return check && ratio > 1.2 ? 1 : 0;
}
