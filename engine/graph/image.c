/* Host image and latent payloads (see image.h). */
#include "engine/graph/image.h"

#include "engine/engine-error.h"
#include "engine/graph/value.h"

/* The most one payload may take: far above any real frame batch, far below
 * what would make a typo in a width ask the system for all its memory. */
#define RL_PAYLOAD_MAX_BYTES ((guint64) 16 << 30)

/* The number of floats in a product of dimensions, or 0 with an error when
 * a dimension is 0, the product overflows, or it passes the limit. */
static gsize
checked_float_count (const char    *what,
                     const guint   *dims,
                     const char   **names,
                     guint          n_dims,
                     GError       **error)
{
  guint64 count = 1;

  for (guint i = 0; i < n_dims; i++)
    {
      if (dims[i] == 0)
        {
          g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_EXECUTION,
                       "Cannot create an empty %s: %s is 0; every dimension must be at least 1",
                       what, names[i]);
          return 0;
        }
      if (count > G_MAXUINT64 / dims[i])
        goto too_big;
      count *= dims[i];
    }
  if (count > RL_PAYLOAD_MAX_BYTES / sizeof (float) || count > G_MAXSIZE / sizeof (float))
    goto too_big;
  return (gsize) count;

too_big:
  {
    g_autoptr(GString) shape = g_string_new (NULL);

    for (guint i = 0; i < n_dims; i++)
      g_string_append_printf (shape, "%s%s=%u", i > 0 ? ", " : "", names[i], dims[i]);
    g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_EXECUTION,
                 "A %s of %s would need more than %" G_GUINT64_FORMAT " GiB; "
                 "reduce its size or length",
                 what, shape->str, RL_PAYLOAD_MAX_BYTES >> 30);
    return 0;
  }
}

static float *
alloc_floats (gsize    n_floats,
              const char *what,
              GError **error)
{
  float *data = g_try_malloc0_n (n_floats, sizeof (float));

  if (data == NULL)
    g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_EXECUTION,
                 "Out of memory allocating a %s of %" G_GSIZE_FORMAT " MiB",
                 what, (n_floats * sizeof (float)) >> 20);
  return data;
}

RlImage *
rl_image_new (guint    n_frames,
              guint    height,
              guint    width,
              GError **error)
{
  static const char *names[] = { "frames", "height", "width", "channels" };
  guint dims[] = { n_frames, height, width, 3 };
  gsize n_floats;
  float *pixels;
  RlImage *image;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  n_floats = checked_float_count ("image", dims, names, G_N_ELEMENTS (dims), error);
  if (n_floats == 0)
    return NULL;
  pixels = alloc_floats (n_floats, "image", error);
  if (pixels == NULL)
    return NULL;

  image = g_new0 (RlImage, 1);
  image->n_frames = n_frames;
  image->height = height;
  image->width = width;
  image->pixels = pixels;
  return image;
}

void
rl_image_free (RlImage *image)
{
  if (image == NULL)
    return;
  g_free (image->pixels);
  g_free (image);
}

gsize
rl_image_n_floats (const RlImage *image)
{
  g_return_val_if_fail (image != NULL, 0);

  return (gsize) image->n_frames * image->height * image->width * 3;
}

RlLatent *
rl_latent_new (guint    batch,
               guint    channels,
               guint    frames,
               guint    height,
               guint    width,
               GError **error)
{
  static const char *names[] = { "batch", "channels", "frames", "height", "width" };
  guint dims[] = { batch, channels, frames, height, width };
  gsize n_floats;
  float *samples;
  RlLatent *latent;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  n_floats = checked_float_count ("latent", dims, names, G_N_ELEMENTS (dims), error);
  if (n_floats == 0)
    return NULL;
  samples = alloc_floats (n_floats, "latent", error);
  if (samples == NULL)
    return NULL;

  latent = g_new0 (RlLatent, 1);
  latent->batch = batch;
  latent->channels = channels;
  latent->frames = frames;
  latent->height = height;
  latent->width = width;
  latent->samples = samples;
  return latent;
}

void
rl_latent_free (RlLatent *latent)
{
  if (latent == NULL)
    return;
  g_free (latent->samples);
  g_free (latent);
}

gsize
rl_latent_n_floats (const RlLatent *latent)
{
  g_return_val_if_fail (latent != NULL, 0);

  return (gsize) latent->batch * latent->channels * latent->frames
         * latent->height * latent->width;
}

RlValue *
rl_value_new_image (RlImage *image)
{
  g_return_val_if_fail (image != NULL, NULL);

  return rl_value_new_object ("IMAGE", image, (GDestroyNotify) rl_image_free);
}

RlValue *
rl_value_new_latent (RlLatent *latent)
{
  g_return_val_if_fail (latent != NULL, NULL);

  return rl_value_new_object ("LATENT", latent, (GDestroyNotify) rl_latent_free);
}
