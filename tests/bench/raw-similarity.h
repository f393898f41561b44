/* How close two raw little-endian f32 files are, for outputs that no
 * tolerance decides (an approximate attention variant's effect on a
 * sampled latent or on decoded frames): relative L2 error, cosine
 * similarity, PSNR and the largest difference, accumulated chunk by chunk
 * so that files of hundreds of megabytes stream through a fixed buffer.
 * Used by compare-raw.c and checked by test-raw-similarity.c. */
#pragma once

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct {
  size_t count;
  double diff_squares, ref_squares, ours_squares, dot;
  double ref_min, ref_max, max_abs_diff;
  bool   all_finite;
} RawSimilarity;

static inline void
raw_similarity_init (RawSimilarity *s)
{
  *s = (RawSimilarity) { .ref_min = INFINITY, .ref_max = -INFINITY, .all_finite = true };
}

/* Adds `n` pairs; sums in double, since 10^8 f32 squares lose digits. */
static inline void
raw_similarity_add (RawSimilarity *s, const float *ref, const float *ours, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      double r = ref[i], o = ours[i], d = o - r;
      if (!isfinite (r) || !isfinite (o))
        {
          s->all_finite = false;
          continue;
        }
      s->diff_squares += d * d;
      s->ref_squares += r * r;
      s->ours_squares += o * o;
      s->dot += r * o;
      s->ref_min = r < s->ref_min ? r : s->ref_min;
      s->ref_max = r > s->ref_max ? r : s->ref_max;
      s->max_abs_diff = fabs (d) > s->max_abs_diff ? fabs (d) : s->max_abs_diff;
    }
  s->count += n;
}

/* ‖ours − ref‖ / ‖ref‖. */
static inline double
raw_similarity_rel_l2 (const RawSimilarity *s)
{
  return sqrt (s->diff_squares) / fmax (sqrt (s->ref_squares), 1e-30);
}

/* ⟨ref, ours⟩ / (‖ref‖ ‖ours‖); 0 when either is all zeros. */
static inline double
raw_similarity_cosine (const RawSimilarity *s)
{
  double norms = sqrt (s->ref_squares) * sqrt (s->ours_squares);
  return norms > 0 ? s->dot / norms : 0.0;
}

/* The reference's range max − min: the peak of the PSNR when the data
 * has no fixed range (latents). Frames in 0..1 pass peak 1 instead. */
static inline double
raw_similarity_range (const RawSimilarity *s)
{
  return s->ref_max > s->ref_min ? s->ref_max - s->ref_min : 0.0;
}

/* 10·log10(peak² / mean squared difference); +inf for equal data. */
static inline double
raw_similarity_psnr (const RawSimilarity *s, double peak)
{
  double mse = s->count > 0 ? s->diff_squares / (double) s->count : 0.0;
  return mse > 0 ? 10.0 * log10 (peak * peak / mse) : INFINITY;
}

/* Streams two files of f32 through `buffer` (2 × `chunk` floats). Returns
 * 0, or -1 with `why` set when a file cannot be read or their sizes
 * differ. */
static inline int
raw_similarity_files (const char *ref_path, const char *ours_path, float *buffer, size_t chunk,
                      RawSimilarity *s, const char **why)
{
  FILE *ref = fopen (ref_path, "rb"), *ours = fopen (ours_path, "rb");
  int status = 0;
  raw_similarity_init (s);
  if (ref == NULL || ours == NULL)
    {
      *why = ref == NULL ? "cannot open the reference" : "cannot open the compared file";
      status = -1;
    }
  while (status == 0)
    {
      size_t a = fread (buffer, sizeof (float), chunk, ref);
      size_t b = fread (buffer + chunk, sizeof (float), chunk, ours);
      if (a != b)
        {
          *why = "the files differ in size";
          status = -1;
        }
      else if (a == 0)
        {
          if (ferror (ref) || ferror (ours))
            *why = "read error", status = -1;
          break;
        }
      else
        raw_similarity_add (s, buffer, buffer + chunk, a);
    }
  if (status == 0 && s->count == 0)
    *why = "the files are empty", status = -1;
  if (ref != NULL)
    fclose (ref);
  if (ours != NULL)
    fclose (ours);
  return status;
}
