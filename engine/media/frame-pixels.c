#include "engine/media/frame-pixels.h"


static guint8
quantise (float v)
{
  float scaled = v * 255.0f;
  if (!(scaled > 0.0f))   /* also catches NaN */
    return 0;
  if (scaled >= 255.0f)
    return 255;
  return (guint8) scaled;
}

void
rl_frame_to_rgb24 (const RlImage *image,
                   guint          index,
                   guint          out_width,
                   guint          out_height,
                   guint8        *rgb,
                   gsize          stride)
{
  g_return_if_fail (image != NULL && index < image->n_frames);
  g_return_if_fail (out_width >= image->width && out_height >= image->height);

  gsize frame_floats = (gsize) image->width * image->height * 3;
  const float *frame = image->pixels + frame_floats * index;

  for (guint y = 0; y < out_height; y++)
    {
      guint src_y = MIN (y, image->height - 1);
      const float *src_row = frame + (gsize) src_y * image->width * 3;
      guint8 *dst = rgb + (gsize) y * stride;
      for (guint x = 0; x < out_width; x++)
        {
          const float *px = src_row + (gsize) MIN (x, image->width - 1) * 3;
          dst[x * 3 + 0] = quantise (px[0]);
          dst[x * 3 + 1] = quantise (px[1]);
          dst[x * 3 + 2] = quantise (px[2]);
        }
    }
}

void
rl_frame_from_bytes (RlImage      *image,
                     guint         index,
                     const guint8 *pixels,
                     guint         channels,
                     gsize         stride)
{
  g_return_if_fail (image != NULL && index < image->n_frames);
  g_return_if_fail (channels == 3 || channels == 4);

  gsize frame_floats = (gsize) image->width * image->height * 3;
  float *frame = image->pixels + frame_floats * index;

  for (guint y = 0; y < image->height; y++)
    {
      const guint8 *src = pixels + (gsize) y * stride;
      float *dst = frame + (gsize) y * image->width * 3;
      for (guint x = 0; x < image->width; x++)
        for (guint c = 0; c < 3; c++)
          dst[x * 3 + c] = src[x * channels + c] / 255.0f;
    }
}
