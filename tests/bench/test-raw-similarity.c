/* raw-similarity.h on data with known answers: equal data, a constant
 * offset (PSNR = 20·log10(peak/offset)), negated, scaled and orthogonal
 * data, files streamed through a chunk smaller than them (same numbers as
 * in one pass), files of different sizes, and non-finite values. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "raw-similarity.h"
#include "tests/plain-test.h"

#define N 1000

static float ref[N], ours[N];

/* A reference in [-2, 2] that reaches both ends, so its range is 4, on a
 * grid of 1/1024 so that adding 1/64 is exact in f32. */
static void
fill_reference (void)
{
  for (int i = 0; i < N; i++)
    ref[i] = (float) (round (2048.0 * sin (0.37 * i + 0.1)) / 1024.0);
  ref[0] = -2.0f;
  ref[1] = 2.0f;
}

static RawSimilarity
measure (void)
{
  RawSimilarity s;
  raw_similarity_init (&s);
  raw_similarity_add (&s, ref, ours, N);
  return s;
}

static void
test_equal (void)
{
  fill_reference ();
  memcpy (ours, ref, sizeof ref);
  RawSimilarity s = measure ();
  PT_CHECK (raw_similarity_rel_l2 (&s) == 0.0, "rel %g", raw_similarity_rel_l2 (&s));
  PT_CHECK (fabs (raw_similarity_cosine (&s) - 1.0) < 1e-12, "cos %.15f", raw_similarity_cosine (&s));
  PT_CHECK (isinf (raw_similarity_psnr (&s, 1.0)), "psnr %g", raw_similarity_psnr (&s, 1.0));
  PT_CHECK (s.count == N && s.all_finite, "count %zu", s.count);
}

static void
test_offset (void)
{
  fill_reference ();
  /* Every difference is exactly the offset (see fill_reference). */
  for (int i = 0; i < N; i++)
    ours[i] = ref[i] + 0.015625f;
  RawSimilarity s = measure ();
  double range = raw_similarity_range (&s);
  PT_CHECK (fabs (range - 4.0) < 1e-6, "range %g", range);
  double expected = 20.0 * log10 (4.0 / 0.015625);   /* 48.16 dB */
  PT_CHECK (fabs (raw_similarity_psnr (&s, range) - expected) < 1e-6, "psnr %.9f vs %.9f",
            raw_similarity_psnr (&s, range), expected);
  PT_CHECK (fabs (raw_similarity_psnr (&s, 1.0) - 20.0 * log10 (64.0)) < 1e-6, "psnr peak 1 %.9f",
            raw_similarity_psnr (&s, 1.0));
  PT_CHECK (s.max_abs_diff == 0.015625, "max_abs %g", s.max_abs_diff);
  double rms_ref = sqrt (s.ref_squares / N);
  PT_CHECK (fabs (raw_similarity_rel_l2 (&s) - 0.015625 / rms_ref) < 1e-9, "rel %g",
            raw_similarity_rel_l2 (&s));
}

static void
test_negated_scaled_orthogonal (void)
{
  fill_reference ();
  for (int i = 0; i < N; i++)
    ours[i] = -ref[i];
  RawSimilarity s = measure ();
  PT_CHECK (fabs (raw_similarity_cosine (&s) + 1.0) < 1e-12, "negated cos %.15f",
            raw_similarity_cosine (&s));
  PT_CHECK (fabs (raw_similarity_rel_l2 (&s) - 2.0) < 1e-12, "negated rel %g",
            raw_similarity_rel_l2 (&s));
  for (int i = 0; i < N; i++)
    ours[i] = 2.0f * ref[i];
  s = measure ();
  PT_CHECK (fabs (raw_similarity_cosine (&s) - 1.0) < 1e-12, "scaled cos %.15f",
            raw_similarity_cosine (&s));
  PT_CHECK (fabs (raw_similarity_rel_l2 (&s) - 1.0) < 1e-12, "scaled rel %g",
            raw_similarity_rel_l2 (&s));
  for (int i = 0; i < N; i++)
    {
      ref[i] = (float) (i % 2);
      ours[i] = (float) (1 - i % 2);
    }
  s = measure ();
  PT_CHECK (fabs (raw_similarity_cosine (&s)) < 1e-12, "orthogonal cos %g", raw_similarity_cosine (&s));
}

static void
write_floats (const char *path, const float *data, size_t n)
{
  FILE *f = fopen (path, "wb");
  PT_CHECK (f != NULL && fwrite (data, sizeof (float), n, f) == n, "writing %s", path);
  if (f != NULL)
    fclose (f);
}

static void
test_files (void)
{
  char dir[] = "/tmp/raw-similarity-XXXXXX", a[64], b[64], c[64];
  PT_REQUIRE (mkdtemp (dir) != NULL, "mkdtemp");
  snprintf (a, sizeof a, "%s/a", dir);
  snprintf (b, sizeof b, "%s/b", dir);
  snprintf (c, sizeof c, "%s/c", dir);
  fill_reference ();
  for (int i = 0; i < N; i++)
    ours[i] = ref[i] * 0.9f + (float) (0.05 * cos (1.3 * i));
  write_floats (a, ref, N);
  write_floats (b, ours, N);
  write_floats (c, ours, N - 1);
  RawSimilarity whole = measure (), streamed;
  float buffer[2 * 7];   /* 7 floats a chunk: 1000 = 142 chunks and a tail of 6 */
  const char *why = NULL;
  PT_CHECK (raw_similarity_files (a, b, buffer, 7, &streamed, &why) == 0, "streamed: %s", why);
  PT_CHECK (streamed.count == N, "count %zu", streamed.count);
  PT_CHECK (fabs (raw_similarity_cosine (&streamed) - raw_similarity_cosine (&whole)) < 1e-12
            && fabs (raw_similarity_psnr (&streamed, 4.0) - raw_similarity_psnr (&whole, 4.0)) < 1e-9
            && streamed.max_abs_diff == whole.max_abs_diff,
            "streamed cos %.12f psnr %.9f vs %.12f %.9f", raw_similarity_cosine (&streamed),
            raw_similarity_psnr (&streamed, 4.0), raw_similarity_cosine (&whole),
            raw_similarity_psnr (&whole, 4.0));
  PT_CHECK (raw_similarity_cosine (&whole) < 0.9999 && raw_similarity_cosine (&whole) > 0.99,
            "cos %.6f", raw_similarity_cosine (&whole));
  why = NULL;
  PT_CHECK (raw_similarity_files (a, c, buffer, 7, &streamed, &why) == -1 && why != NULL
            && strstr (why, "size") != NULL, "sizes differ: %s", why ? why : "accepted");
  why = NULL;
  PT_CHECK (raw_similarity_files (a, "/nonexistent/raw", buffer, 7, &streamed, &why) == -1
            && why != NULL, "missing file accepted");
  unlink (a);
  unlink (b);
  unlink (c);
  rmdir (dir);
}

static void
test_non_finite (void)
{
  fill_reference ();
  memcpy (ours, ref, sizeof ref);
  ours[17] = NAN;
  RawSimilarity s = measure ();
  PT_CHECK (!s.all_finite, "a NaN went unnoticed");
  PT_CHECK (isfinite (raw_similarity_cosine (&s)), "cos %g", raw_similarity_cosine (&s));
}

int
main (void)
{
  PT_RUN (test_equal);
  PT_RUN (test_offset);
  PT_RUN (test_negated_scaled_orthogonal);
  PT_RUN (test_files);
  PT_RUN (test_non_finite);
  return pt_finish ();
}
