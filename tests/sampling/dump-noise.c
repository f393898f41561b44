/* dump-noise: writes ComfyUI's initial noise for a latent shape as raw
 * little-endian float32, for tests/reference/check_noise.py to compare
 * against torch.randn on a machine with PyTorch.
 *
 *   dump-noise SEED OUT.bin DIM [DIM ...] [--batch-index I,J,...]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workers/sampling/noise.h"

enum { MAX_DIMS = 8, MAX_BATCH = 64 };

static int
usage (void)
{
  fprintf (stderr, "usage: dump-noise SEED OUT.bin DIM [DIM ...] [--batch-index I,J,...]\n");
  return 2;
}

static int
parse_batch_index (const char *text, int64_t *out, int *count)
{
  *count = 0;
  while (*text) {
    char *end;
    errno = 0;
    long long v = strtoll (text, &end, 10);
    if (end == text || errno || *count == MAX_BATCH)
      return -1;
    out[(*count)++] = v;
    text = *end == ',' ? end + 1 : end;
    if (*end && *end != ',')
      return -1;
  }
  return 0;
}

int
main (int argc, char **argv)
{
  if (argc < 4)
    return usage ();
  char *end;
  unsigned long long seed = strtoull (argv[1], &end, 10);
  if (*end)
    return usage ();

  int64_t shape[MAX_DIMS], batch_index[MAX_BATCH];
  int ndim = 0, batch_count = -1;
  size_t total = 1;
  for (int i = 3; i < argc; i++) {
    if (strcmp (argv[i], "--batch-index") == 0 && i + 1 < argc) {
      if (parse_batch_index (argv[++i], batch_index, &batch_count) != 0)
        return usage ();
      continue;
    }
    long long d = strtoll (argv[i], &end, 10);
    if (*end || d < 0 || ndim == MAX_DIMS)
      return usage ();
    shape[ndim++] = d;
    total *= (size_t) d;
  }
  if (ndim == 0 || (batch_count >= 0 && batch_count != shape[0])) {
    fprintf (stderr, "dump-noise: --batch-index needs one index per batch entry (%lld)\n",
             ndim ? (long long) shape[0] : 0LL);
    return 2;
  }

  float *noise = malloc ((total ? total : 1) * sizeof *noise);
  if (noise == NULL)
    return 1;
  RlStatus st = rl_noise_prepare (seed, shape, ndim, batch_count >= 0 ? batch_index : NULL, noise);
  if (st != RL_OK) {
    fprintf (stderr, "dump-noise: %s\n", rl_last_error ());
    free (noise);
    return 1;
  }
  FILE *f = fopen (argv[2], "wb");
  if (f == NULL || fwrite (noise, sizeof *noise, total, f) != total || fclose (f) != 0) {
    fprintf (stderr, "dump-noise: cannot write %s: %s\n", argv[2], strerror (errno));
    free (noise);
    return 1;
  }
  free (noise);
  return 0;
}
