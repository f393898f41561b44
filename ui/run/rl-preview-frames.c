/* Preview frames: float RGB to 8-bit textures. */
#include "ui/run/rl-preview-frames.h"

#include <math.h>

#include "engine/graph/image.h"

GBytes *
rl_preview_frame_to_rgb8 (const RlImage *image,
                          guint          frame)
{
  gsize n = (gsize) image->width * image->height * 3;
  const float *source = image->pixels + (gsize) frame * n;
  guint8 *rgb;

  g_return_val_if_fail (frame < image->n_frames, NULL);
  rgb = g_malloc (n);
  for (gsize i = 0; i < n; i++)
    {
      float v = source[i];

      /* NaN (a diverged sample) shows black rather than garbage. */
      if (!(v > 0.0f))
        v = 0.0f;
      else if (v > 1.0f)
        v = 1.0f;
      rgb[i] = (guint8) lrintf (v * 255.0f);
    }
  return g_bytes_new_take (rgb, n);
}

GPtrArray *
rl_preview_frames_textures (const RlImage *image)
{
  GPtrArray *textures = g_ptr_array_new_with_free_func (g_object_unref);

  if (image == NULL || image->width == 0 || image->height == 0)
    return textures;
  for (guint f = 0; f < image->n_frames; f++)
    {
      g_autoptr(GBytes) rgb = rl_preview_frame_to_rgb8 (image, f);

      g_ptr_array_add (textures, gdk_memory_texture_new ((int) image->width, (int) image->height,
                                                         GDK_MEMORY_R8G8B8, rgb, (gsize) image->width * 3));
    }
  return textures;
}
