#include "engine/media/animated-webp-writer.h"

#include <math.h>
#include <webp/encode.h>
#include <webp/mux.h>

#include "engine/engine-error.h"
#include "engine/media/atomic-file.h"
#include "engine/media/exif-text.h"
#include "engine/media/frame-pixels.h"

void
rl_animated_webp_options_init (RlAnimatedWebpOptions *options)
{
  g_return_if_fail (options != NULL);

  *options = (RlAnimatedWebpOptions) {
    .fps = 6.0,
    .lossless = TRUE,
    .quality = 80,
    .method = 4,
  };
}

static gboolean
set_webp_error (GError    **error,
                const char *path,
                const char *what)
{
  g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_MEDIA,
               "Cannot write animated WebP “%s”: %s.", path, what);
  return FALSE;
}

static gboolean
check_options (const char                  *path,
               const RlImage               *frames,
               const RlAnimatedWebpOptions *options,
               GError                     **error)
{
  if (frames->n_frames == 0 || frames->width == 0 || frames->height == 0)
    return set_webp_error (error, path, "there are no frames to encode");
  if (frames->width > WEBP_MAX_DIMENSION || frames->height > WEBP_MAX_DIMENSION)
    return set_webp_error (error, path, "WebP frames are at most 16383 pixels on a side");
  if (!isfinite (options->fps) || options->fps <= 0.0)
    return set_webp_error (error, path, "the frame rate must be a positive number");
  if (options->quality < 0 || options->quality > 100 || options->method < 0 || options->method > 6)
    return set_webp_error (error, path, "quality must be 0..100 and method 0..6");
  return TRUE;
}

/* ComfyUI stores prompt at 0x0110 and the extra_pnginfo keys from 0x010F
 * downwards; "workflow" is the only such key it writes for a job. */
static GBytes *
build_exif (const RlAnimatedWebpOptions *options)
{
  guint16 tags[2];
  g_autofree char *prompt = NULL;
  g_autofree char *workflow = NULL;
  const char *values[2];
  guint n = 0;
  if (options->prompt_json != NULL)
    {
      prompt = g_strconcat ("prompt:", options->prompt_json, NULL);
      tags[n] = RL_EXIF_TAG_MODEL;
      values[n++] = prompt;
    }
  if (options->workflow_json != NULL)
    {
      workflow = g_strconcat ("workflow:", options->workflow_json, NULL);
      tags[n] = RL_EXIF_TAG_MAKE;
      values[n++] = workflow;
    }
  return n > 0 ? rl_exif_build_ascii (tags, values, n) : NULL;
}

/* Adds every frame to @encoder and assembles the animation into @out. */
static gboolean
encode_frames (WebPAnimEncoder             *encoder,
               const char                  *path,
               const RlImage               *frames,
               const RlAnimatedWebpOptions *options,
               WebPData                    *out,
               GError                     **error)
{
  WebPConfig config;
  if (!WebPConfigInit (&config))
    return set_webp_error (error, path, "libwebp version mismatch");
  config.lossless = options->lossless ? 1 : 0;
  config.quality = (float) options->quality;
  config.method = options->method;
  if (!WebPValidateConfig (&config))
    return set_webp_error (error, path, "libwebp refused the quality/method settings");

  int duration_ms = MAX (1, (int) (1000.0 / options->fps));
  gsize stride = (gsize) frames->width * 3;
  g_autofree guint8 *rgb = g_malloc (stride * frames->height);
  gboolean ok = TRUE;
  for (guint i = 0; i < frames->n_frames && ok; i++)
    {
      WebPPicture picture;
      if (!WebPPictureInit (&picture))
        return set_webp_error (error, path, "libwebp version mismatch");
      picture.use_argb = 1;
      picture.width = (int) frames->width;
      picture.height = (int) frames->height;
      rl_frame_to_rgb24 (frames, i, frames->width, frames->height, rgb, stride);
      ok = WebPPictureImportRGB (&picture, rgb, (int) stride)
           && WebPAnimEncoderAdd (encoder, &picture, (int) i * duration_ms, &config);
      WebPPictureFree (&picture);
    }
  ok = ok && WebPAnimEncoderAdd (encoder, NULL, (int) frames->n_frames * duration_ms, NULL)
       && WebPAnimEncoderAssemble (encoder, out);
  if (!ok)
    {
      const char *why = WebPAnimEncoderGetError (encoder);
      return set_webp_error (error, path, why != NULL && *why != '\0' ? why : "libwebp failed");
    }
  return TRUE;
}

/* @animation with the EXIF chunk added, in @out. */
static gboolean
add_exif (const WebPData *animation,
          GBytes         *exif,
          const char     *path,
          WebPData       *out,
          GError        **error)
{
  WebPMux *mux = WebPMuxCreate (animation, 1);
  if (mux == NULL)
    return set_webp_error (error, path, "libwebp could not reopen its own output");
  gsize exif_length = 0;
  WebPData exif_data = { g_bytes_get_data (exif, &exif_length), 0 };
  exif_data.size = exif_length;
  gboolean ok = WebPMuxSetChunk (mux, "EXIF", &exif_data, 1) == WEBP_MUX_OK
                && WebPMuxAssemble (mux, out) == WEBP_MUX_OK;
  WebPMuxDelete (mux);
  return ok ? TRUE : set_webp_error (error, path, "libwebp could not add the EXIF chunk");
}

gboolean
rl_animated_webp_write (const char                   *path,
                        const RlImage                *frames,
                        const RlAnimatedWebpOptions  *options,
                        GError                      **error)
{
  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (frames != NULL, FALSE);
  g_return_val_if_fail (options != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_options (path, frames, options, error))
    return FALSE;

  WebPAnimEncoderOptions encoder_options;
  if (!WebPAnimEncoderOptionsInit (&encoder_options))
    return set_webp_error (error, path, "libwebp version mismatch");
  encoder_options.anim_params.loop_count = 0;
  WebPAnimEncoder *encoder = WebPAnimEncoderNew ((int) frames->width, (int) frames->height,
                                                 &encoder_options);
  if (encoder == NULL)
    return set_webp_error (error, path, "libwebp could not start an encoder (out of memory?)");

  WebPData animation, with_exif;
  WebPDataInit (&animation);
  WebPDataInit (&with_exif);
  g_autoptr(GBytes) exif = build_exif (options);
  gboolean ok = encode_frames (encoder, path, frames, options, &animation, error)
                && (exif == NULL || add_exif (&animation, exif, path, &with_exif, error));
  WebPAnimEncoderDelete (encoder);
  if (ok)
    {
      const WebPData *final = exif != NULL ? &with_exif : &animation;
      ok = rl_atomic_file_write (path, final->bytes, final->size, error);
    }
  WebPDataClear (&animation);
  WebPDataClear (&with_exif);
  return ok;
}
