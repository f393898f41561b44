#include "engine/media/png-writer.h"

#include <libavcodec/avcodec.h>
#include <libavutil/imgutils.h>

#include "engine/engine-error.h"
#include "engine/media/atomic-file.h"
#include "engine/media/av-error.h"
#include "engine/media/frame-pixels.h"
#include "engine/media/png-chunks.h"

/* libavcodec's PNG encoder: one packet holds the whole file. */
static GByteArray *
encode_png (const char    *path,
            const RlImage *image,
            guint          index,
            int            compress_level,
            GError       **error)
{
  const AVCodec *codec = avcodec_find_encoder (AV_CODEC_ID_PNG);
  if (codec == NULL)
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_MEDIA,
                   "Cannot write “%s”: this FFmpeg has no PNG encoder.", path);
      return NULL;
    }

  GByteArray *result = NULL;
  AVCodecContext *c = avcodec_alloc_context3 (codec);
  AVFrame *frame = av_frame_alloc ();
  AVPacket *packet = av_packet_alloc ();
  c->width = (int) image->width;
  c->height = (int) image->height;
  c->pix_fmt = AV_PIX_FMT_RGB24;
  c->time_base = (AVRational) { 1, 1 };
  c->compression_level = CLAMP (compress_level, 0, 9);
  frame->format = AV_PIX_FMT_RGB24;
  frame->width = c->width;
  frame->height = c->height;

  int ret = avcodec_open2 (c, codec, NULL);
  if (ret >= 0)
    ret = av_frame_get_buffer (frame, 0);
  if (ret >= 0)
    {
      rl_frame_to_rgb24 (image, index, image->width, image->height,
                         frame->data[0], (gsize) frame->linesize[0]);
      ret = avcodec_send_frame (c, frame);
    }
  if (ret >= 0)
    ret = avcodec_receive_packet (c, packet);
  if (ret >= 0)
    result = g_byte_array_new_take (g_memdup2 (packet->data, (gsize) packet->size),
                                    (gsize) packet->size);
  else
    rl_set_av_error (error, ret, "Cannot encode PNG", path, NULL);

  av_packet_free (&packet);
  av_frame_free (&frame);
  avcodec_free_context (&c);
  return result;
}

gboolean
rl_png_write (const char     *path,
              const RlImage  *image,
              guint           index,
              int             compress_level,
              const char     *prompt_json,
              const char     *workflow_json,
              GError        **error)
{
  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (image != NULL, FALSE);
  g_return_val_if_fail (index < image->n_frames, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_autoptr(GByteArray) encoded = encode_png (path, image, index, compress_level, error);
  if (encoded == NULL)
    return FALSE;

  /* Same order as ComfyUI: prompt first, then the extra_pnginfo keys. */
  g_autoptr(GByteArray) text_chunks = g_byte_array_new ();
  if (prompt_json != NULL)
    rl_png_append_text_chunk (text_chunks, "prompt", prompt_json);
  if (workflow_json != NULL)
    rl_png_append_text_chunk (text_chunks, "workflow", workflow_json);

  g_autoptr(GByteArray) png = rl_png_insert_after_ihdr (encoded->data, encoded->len,
                                                        text_chunks->data, text_chunks->len);
  if (png == NULL)
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_MEDIA,
                   "Cannot write “%s”: FFmpeg's PNG encoder returned data without "
                   "an IHDR chunk.", path);
      return FALSE;
    }
  return rl_atomic_file_write (path, png->data, png->len, error);
}
