/* Shared helpers for the media tests: random smooth frames, PSNR, a
 * scratch folder. Header-only so each test program stays one file. */
#pragma once

#include <math.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "engine/graph/image.h"

/* One generator per test run, seeded from the clock and printed so a
 * failure can be replayed with RL_TEST_SEED=<seed>. */
static inline GRand *
media_test_rand (void)
{
  const char *fixed = g_getenv ("RL_TEST_SEED");
  guint32 seed = fixed != NULL ? (guint32) g_ascii_strtoull (fixed, NULL, 10)
                               : (guint32) g_get_real_time ();
  g_test_message ("random seed %u (set RL_TEST_SEED to replay)", seed);
  return g_rand_new_with_seed (seed);
}

/* Frames of smooth random colour waves that drift from frame to frame:
 * codec-friendly (lossy codecs keep a high PSNR) yet never constant. */
static inline RlImage *
media_test_frames (GRand *rand,
                   guint  n_frames,
                   guint  height,
                   guint  width)
{
  RlImage *image = rl_image_new (n_frames, height, width, NULL);
  g_assert_nonnull (image);
  double freq[3][2], phase[3], speed[3];
  for (int c = 0; c < 3; c++)
    {
      freq[c][0] = g_rand_double_range (rand, 0.5, 2.5) * G_PI / width;
      freq[c][1] = g_rand_double_range (rand, 0.5, 2.5) * G_PI / height;
      phase[c] = g_rand_double_range (rand, 0, 2 * G_PI);
      speed[c] = g_rand_double_range (rand, 0.1, 0.4);
    }
  float *p = image->pixels;
  for (guint f = 0; f < n_frames; f++)
    for (guint y = 0; y < height; y++)
      for (guint x = 0; x < width; x++)
        for (int c = 0; c < 3; c++)
          *p++ = (float) (0.5 + 0.4 * sin (freq[c][0] * x + freq[c][1] * y
                                           + phase[c] + speed[c] * f));
  return image;
}

/* PSNR in dB of frame @fa of @a against frame @fb of @b over the top-left
 * region both cover, after quantising @a as the encoders do. */
static inline double
media_test_psnr (const RlImage *a,
                 guint          fa,
                 const RlImage *b,
                 guint          fb)
{
  guint w = MIN (a->width, b->width), h = MIN (a->height, b->height);
  double sum = 0;
  for (guint y = 0; y < h; y++)
    for (guint x = 0; x < w; x++)
      for (guint c = 0; c < 3; c++)
        {
          float va = a->pixels[(((gsize) fa * a->height + y) * a->width + x) * 3 + c];
          float vb = b->pixels[(((gsize) fb * b->height + y) * b->width + x) * 3 + c];
          float scaled = CLAMP (va, 0.0f, 1.0f) * 255.0f;   /* as the encoders quantise */
          double qa = floor (scaled) / 255.0;
          sum += (qa - vb) * (qa - vb);
        }
  double mse = sum / ((double) w * h * 3);
  return mse <= 1e-12 ? 99.0 : 10.0 * log10 (1.0 / mse);
}

/* A fresh scratch folder; removed (with its files) by media_test_rmdir. */
static inline char *
media_test_mkdtemp (void)
{
  char *dir = g_dir_make_tmp ("raylight-media-XXXXXX", NULL);
  g_assert_nonnull (dir);
  return dir;
}

static inline guint
media_test_count_files (const char *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  guint n = 0;
  while (d != NULL && g_dir_read_name (d) != NULL)
    n++;
  if (d != NULL)
    g_dir_close (d);
  return n;
}

static inline void
media_test_rmdir (const char *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *name;
  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        media_test_rmdir (path);
      else
        g_unlink (path);
    }
  if (d != NULL)
    g_dir_close (d);
  g_rmdir (dir);
}
