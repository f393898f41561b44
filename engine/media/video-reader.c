#include "engine/media/video-reader.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswscale/swscale.h>
#include <webp/demux.h>

#include "engine/engine-error.h"
#include "engine/media/av-error.h"
#include "engine/media/file-kind.h"
#include "engine/media/frame-pixels.h"

/* Decoded frames are kept as packed RGB24 until the count is known. */
typedef struct {
  const char        *path;
  guint              max_frames;
  AVFormatContext   *format;
  AVCodecContext    *decoder;
  int                stream_index;
  struct SwsContext *scaler;
  AVFrame           *frame;
  AVPacket          *packet;
  GPtrArray         *rgb_frames;   /* of g_malloc'd RGB24 frames, rows rgb_stride apart */
  int                rgb_stride;
  double             last_end_s;   /* end time of the last kept frame, seconds */
  guint              width;
  guint              height;
} VideoDecode;

static void
video_decode_clear (VideoDecode *dec)
{
  avcodec_free_context (&dec->decoder);
  avformat_close_input (&dec->format);
  sws_freeContext (dec->scaler);
  av_frame_free (&dec->frame);
  av_packet_free (&dec->packet);
  g_clear_pointer (&dec->rgb_frames, g_ptr_array_unref);
}

static gboolean
set_media_error (GError    **error,
                 const char *path,
                 const char *why)
{
  g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_MEDIA,
               "Cannot decode “%s”: %s.", path, why);
  return FALSE;
}

static RlImage *
frames_to_image (VideoDecode *dec,
                 GError     **error)
{
  RlImage *image = rl_image_new (dec->rgb_frames->len, dec->height, dec->width, error);
  if (image == NULL)
    return NULL;
  for (guint i = 0; i < dec->rgb_frames->len; i++)
    rl_frame_from_bytes (image, i, dec->rgb_frames->pdata[i], 3, (gsize) dec->rgb_stride);
  return image;
}

static gboolean
open_decoder (VideoDecode *dec,
              GError     **error)
{
  int ret = avformat_open_input (&dec->format, dec->path, NULL, NULL);
  if (ret < 0)
    return rl_set_av_error (error, ret, "Cannot open", dec->path,
                            "It is not an image or video file FFmpeg understands.");
  ret = avformat_find_stream_info (dec->format, NULL);
  if (ret < 0)
    return rl_set_av_error (error, ret, "Cannot read the streams of", dec->path,
                            "The file may be truncated or corrupt.");
  const AVCodec *codec = NULL;
  ret = av_find_best_stream (dec->format, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
  if (ret < 0 || codec == NULL)
    return set_media_error (error, dec->path, "it has no video stream this FFmpeg can decode");
  dec->stream_index = ret;

  dec->decoder = avcodec_alloc_context3 (codec);
  ret = avcodec_parameters_to_context (dec->decoder,
                                       dec->format->streams[dec->stream_index]->codecpar);
  dec->decoder->thread_count = 0;   /* let FFmpeg pick, long videos decode faster */
  if (ret >= 0)
    ret = avcodec_open2 (dec->decoder, codec, NULL);
  if (ret < 0)
    return rl_set_av_error (error, ret, "Cannot start the decoder for", dec->path, NULL);
  dec->frame = av_frame_alloc ();
  dec->packet = av_packet_alloc ();
  return TRUE;
}

static int
sws_colorspace_of (const AVFrame *frame)
{
  switch (frame->colorspace)
    {
    case AVCOL_SPC_BT709:
      return SWS_CS_ITU709;
    case AVCOL_SPC_BT2020_NCL:
    case AVCOL_SPC_BT2020_CL:
      return SWS_CS_BT2020;
    case AVCOL_SPC_SMPTE240M:
      return SWS_CS_SMPTE240M;
    default:
      return SWS_CS_ITU601;
    }
}

/* Converts the decoded frame to RGB24 and keeps it. */
static gboolean
keep_frame (VideoDecode *dec,
            GError     **error)
{
  AVFrame *f = dec->frame;
  if (dec->rgb_frames->len == 0)
    {
      dec->width = (guint) f->width;
      dec->height = (guint) f->height;
      /* Aligned, padded rows: swscale's SIMD writes whole vectors. */
      dec->rgb_stride = FFALIGN (f->width * 3, 64);
      dec->scaler = sws_getContext (f->width, f->height, f->format,
                                    f->width, f->height, AV_PIX_FMT_RGB24,
                                    SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT,
                                    NULL, NULL, NULL);
      if (dec->scaler == NULL)
        return set_media_error (error, dec->path, "its pixel format cannot be converted to RGB");
      sws_setColorspaceDetails (dec->scaler, sws_getCoefficients (sws_colorspace_of (f)),
                                f->color_range == AVCOL_RANGE_JPEG,
                                sws_getCoefficients (SWS_CS_DEFAULT), 1, 0, 1 << 16, 1 << 16);
    }
  if ((guint) f->width != dec->width || (guint) f->height != dec->height)
    return set_media_error (error, dec->path, "its frame size changes mid-stream");

  const AVStream *stream = dec->format->streams[dec->stream_index];
  if (f->best_effort_timestamp != AV_NOPTS_VALUE && stream->avg_frame_rate.num > 0)
    dec->last_end_s = f->best_effort_timestamp * av_q2d (stream->time_base)
                      + 1.0 / av_q2d (stream->avg_frame_rate);
  guint8 *rgb = g_malloc ((gsize) dec->rgb_stride * dec->height + AV_INPUT_BUFFER_PADDING_SIZE);
  g_ptr_array_add (dec->rgb_frames, rgb);
  sws_scale (dec->scaler, (const guint8 * const *) f->data, f->linesize, 0, f->height,
             &rgb, &dec->rgb_stride);
  return TRUE;
}

static gboolean
have_enough (const VideoDecode *dec)
{
  return dec->max_frames > 0 && dec->rgb_frames->len >= dec->max_frames;
}

/* Takes every frame the decoder has ready. */
static gboolean
drain_decoder (VideoDecode *dec,
               GError     **error)
{
  for (;;)
    {
      int ret = avcodec_receive_frame (dec->decoder, dec->frame);
      if (ret == AVERROR (EAGAIN) || ret == AVERROR_EOF)
        return TRUE;
      if (ret < 0)
        return rl_set_av_error (error, ret, "Cannot decode a frame of", dec->path,
                                "The file is corrupt.");
      gboolean kept = have_enough (dec) || keep_frame (dec, error);
      av_frame_unref (dec->frame);
      if (!kept)
        return FALSE;
    }
}

static gboolean
decode_all (VideoDecode *dec,
            GError     **error)
{
  int ret;
  while (!have_enough (dec) && (ret = av_read_frame (dec->format, dec->packet)) >= 0)
    {
      if (dec->packet->stream_index == dec->stream_index)
        ret = avcodec_send_packet (dec->decoder, dec->packet);
      av_packet_unref (dec->packet);
      if (ret < 0 && ret != AVERROR_INVALIDDATA)
        return rl_set_av_error (error, ret, "Cannot decode", dec->path, "The file is corrupt.");
      if (!drain_decoder (dec, error))
        return FALSE;
    }
  avcodec_send_packet (dec->decoder, NULL);
  return drain_decoder (dec, error);
}

/* Whether the frames decoded fall short of what the container promises:
 * its frame count (MP4), or else — for a file holding only this video
 * stream (WebM/MKV as we write them) — its duration, with two frames and
 * 10 % of slack so variable frame rates are not mistaken for truncation.
 * Files with audio or other streams get only the frame count check. */
static gboolean
is_short (const VideoDecode *dec,
          char             **promise)
{
  const AVStream *stream = dec->format->streams[dec->stream_index];
  if (stream->nb_frames > 0)
    {
      *promise = g_strdup_printf ("%" G_GINT64_FORMAT " frames", stream->nb_frames);
      return dec->rgb_frames->len < (guint64) stream->nb_frames;
    }
  AVRational rate = stream->avg_frame_rate;
  if (dec->format->nb_streams != 1 || dec->format->duration <= 0 || rate.num <= 0
      || rate.den <= 0 || dec->last_end_s <= 0.0)
    return FALSE;
  double promised_s = dec->format->duration / (double) AV_TIME_BASE;
  *promise = g_strdup_printf ("%.2f s of video", promised_s);
  return dec->last_end_s < promised_s * 0.9 - 2.0 / av_q2d (rate);
}

static gboolean
check_complete (const VideoDecode *dec,
                GError           **error)
{
  if (dec->rgb_frames->len == 0)
    return set_media_error (error, dec->path, "no frame could be decoded (corrupt or truncated file)");
  g_autofree char *promise = NULL;
  if (dec->max_frames == 0 && is_short (dec, &promise))
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_MEDIA,
                   "Cannot decode “%s”: its header promises %s but only %u frames "
                   "could be read; the file is truncated or corrupt.",
                   dec->path, promise, dec->rgb_frames->len);
      return FALSE;
    }
  return TRUE;
}

static RlVideo *
read_with_libav (const char *path,
                 guint       max_frames,
                 GError    **error)
{
  VideoDecode dec = {
    .path = path,
    .max_frames = max_frames,
    .rgb_frames = g_ptr_array_new_with_free_func (g_free),
  };
  RlVideo *video = NULL;
  if (open_decoder (&dec, error) && decode_all (&dec, error) && check_complete (&dec, error))
    {
      RlImage *image = frames_to_image (&dec, error);
      const AVStream *stream = dec.format->streams[dec.stream_index];
      AVRational rate = stream->avg_frame_rate.num > 0 ? stream->avg_frame_rate : stream->r_frame_rate;
      /* Still images report a nominal 25 fps; a single frame is a still. */
      if (image != NULL)
        video = dec.rgb_frames->len == 1 && stream->nb_frames <= 1
                ? rl_video_new (image, 0, 1)
                : rl_video_new (image, rate.num, rate.den);
    }
  video_decode_clear (&dec);
  return video;
}

/* Animated (or still) WebP through libwebp's demuxer: FFmpeg 5.1 cannot
 * decode animated WebP. */
static RlVideo *
read_webp (const char *path,
           guint       max_frames,
           GError    **error)
{
  g_autofree char *contents = NULL;
  gsize length = 0;
  g_autoptr(GError) local = NULL;
  if (!g_file_get_contents (path, &contents, &length, &local))
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_IO, "%s", local->message);
      return NULL;
    }

  WebPData data = { (const guint8 *) contents, length };
  WebPAnimDecoderOptions options;
  WebPAnimDecoderOptionsInit (&options);
  options.color_mode = MODE_RGBA;
  WebPAnimDecoder *decoder = WebPAnimDecoderNew (&data, &options);
  WebPAnimInfo info;
  if (decoder == NULL || !WebPAnimDecoderGetInfo (decoder, &info) || info.frame_count == 0)
    {
      WebPAnimDecoderDelete (decoder);
      set_media_error (error, path, "it is not a valid WebP file (corrupt or truncated)");
      return NULL;
    }

  guint n = max_frames > 0 ? MIN (max_frames, info.frame_count) : info.frame_count;
  RlImage *image = rl_image_new (n, info.canvas_height, info.canvas_width, error);
  int first_duration = 0;
  for (guint i = 0; image != NULL && i < n; i++)
    {
      guint8 *rgba = NULL;
      int timestamp = 0;
      if (!WebPAnimDecoderGetNext (decoder, &rgba, &timestamp))
        {
          g_clear_pointer (&image, rl_image_free);
          set_media_error (error, path, "a frame is corrupt or missing (truncated file?)");
          break;
        }
      if (i == 0)
        first_duration = timestamp;
      rl_frame_from_bytes (image, i, rgba, 4, (gsize) info.canvas_width * 4);
    }
  WebPAnimDecoderDelete (decoder);
  if (image == NULL)
    return NULL;
  /* Frame i ends at timestamp; a still has no rate. */
  return info.frame_count > 1 && first_duration > 0 ? rl_video_new (image, 1000, first_duration)
                                                   : rl_video_new (image, 0, 1);
}

RlVideo *
rl_video_read (const char  *path,
               guint        max_frames,
               GError     **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  RlFileKind kind;
  if (!rl_file_kind_sniff (path, &kind, error))
    return NULL;
  if (kind == RL_FILE_KIND_WEBP)
    return read_webp (path, max_frames, error);
  return read_with_libav (path, max_frames, error);
}
