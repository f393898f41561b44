/* compare-raw REF OURS [--what TEXT] [--peak P]
 *
 * Prints one line for the GPU session scripts to collect:
 *   RESULT similarity what=TEXT n=N rel_l2=… cosine=… psnr_db=… peak=… max_abs=… finite=yes|no
 * for two raw little-endian f32 files of equal size (a sampled latent, or
 * decoded frames). PSNR's peak is P when given (1 for frames in 0..1),
 * else the reference's max − min. A measurement, not a verdict: exits 0
 * whenever both files could be read, 1 when not, 64 on bad arguments. */
#include <stdlib.h>
#include <string.h>

#include "raw-similarity.h"

#define CHUNK ((size_t) 1 << 20)

int
main (int argc, char **argv)
{
  const char *paths[2] = { NULL, NULL }, *what = "";
  double peak = NAN;
  int n_paths = 0;
  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--what") == 0 && i + 1 < argc)
        what = argv[++i];
      else if (strcmp (argv[i], "--peak") == 0 && i + 1 < argc)
        peak = strtod (argv[++i], NULL);
      else if (n_paths < 2 && argv[i][0] != '-')
        paths[n_paths++] = argv[i];
      else
        n_paths = 3;
    }
  if (n_paths != 2 || !(isnan (peak) || peak > 0))
    {
      fprintf (stderr, "usage: compare-raw REF OURS [--what TEXT] [--peak P>0]\n");
      return 64;
    }
  float *buffer = malloc (2 * CHUNK * sizeof (float));
  RawSimilarity s;
  const char *why = "out of memory";
  if (buffer == NULL || raw_similarity_files (paths[0], paths[1], buffer, CHUNK, &s, &why) != 0)
    {
      printf ("RESULT similarity what=%s error=\"%s\" (%s vs %s)\n", what, why, paths[0], paths[1]);
      free (buffer);
      return 1;
    }
  free (buffer);
  if (isnan (peak))
    peak = raw_similarity_range (&s);
  printf ("RESULT similarity what=%s n=%zu rel_l2=%.3e cosine=%.8f psnr_db=%.2f peak=%.4g "
          "max_abs=%.3e finite=%s\n", what, s.count, raw_similarity_rel_l2 (&s),
          raw_similarity_cosine (&s), raw_similarity_psnr (&s, peak), peak, s.max_abs_diff,
          s.all_finite ? "yes" : "no");
  return 0;
}
