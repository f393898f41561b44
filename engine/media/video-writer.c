#include "engine/media/video-writer.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

#include "engine/engine-error.h"
#include "engine/media/atomic-file.h"
#include "engine/media/av-error.h"
#include "engine/media/frame-pixels.h"

/* Everything one encode holds; released in one place whatever the outcome. */
typedef struct {
  const char        *path;         /* final name, for messages */
  char              *temp_path;
  AVFormatContext   *format;
  AVCodecContext    *encoder;
  AVStream          *stream;
  struct SwsContext *scaler;
  AVFrame           *yuv;
  AVPacket          *packet;
  guint8            *rgb;          /* one packed RGB24 frame, padded for SIMD */
  int                rgb_stride;
  guint              width;        /* encoded size, even */
  guint              height;
} VideoEncode;

static void
video_encode_clear (VideoEncode *enc)
{
  if (enc->format != NULL && enc->format->pb != NULL)
    avio_closep (&enc->format->pb);
  avformat_free_context (enc->format);
  avcodec_free_context (&enc->encoder);
  sws_freeContext (enc->scaler);
  av_frame_free (&enc->yuv);
  av_packet_free (&enc->packet);
  g_free (enc->rgb);
  rl_atomic_file_abort (enc->temp_path);
  g_free (enc->temp_path);
}

void
rl_video_write_options_init (RlVideoWriteOptions *options)
{
  g_return_if_fail (options != NULL);

  *options = (RlVideoWriteOptions) {
    .container = RL_VIDEO_CONTAINER_MP4,
    .codec = RL_VIDEO_CODEC_H264,
    .fps_num = 24,
    .fps_den = 1,
    .crf = -1,
  };
}

const char *
rl_video_container_extension (RlVideoContainer container)
{
  return container == RL_VIDEO_CONTAINER_WEBM ? "webm" : "mp4";
}

static const char *
encoder_name (RlVideoCodec codec)
{
  return codec == RL_VIDEO_CODEC_VP9 ? "libvpx-vp9" : "libx264";
}

static gboolean
check_options (const char                *path,
               const RlImage             *frames,
               const RlVideoWriteOptions *options,
               GError                   **error)
{
  if (frames->n_frames == 0 || frames->width == 0 || frames->height == 0)
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_MEDIA,
                   "Cannot write video “%s”: there are no frames to encode "
                   "(%u frames of %ux%u).", path, frames->n_frames,
                   frames->width, frames->height);
      return FALSE;
    }
  if (options->fps_num <= 0 || options->fps_den <= 0)
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_MEDIA,
                   "Cannot write video “%s”: frame rate %d/%d is not positive.",
                   path, options->fps_num, options->fps_den);
      return FALSE;
    }
  if (options->container == RL_VIDEO_CONTAINER_WEBM && options->codec != RL_VIDEO_CODEC_VP9)
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_MEDIA,
                   "Cannot write video “%s”: WebM holds VP9, not H.264. "
                   "Choose codec vp9 (or auto) for webm, or format mp4.", path);
      return FALSE;
    }
  return TRUE;
}

static gboolean
open_encoder (VideoEncode               *enc,
              const RlVideoWriteOptions *options,
              GError                   **error)
{
  const char *name = encoder_name (options->codec);
  const AVCodec *codec = avcodec_find_encoder_by_name (name);
  if (codec == NULL)
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_MEDIA,
                   "Cannot write video “%s”: this FFmpeg has no %s encoder. "
                   "Install an FFmpeg built with it (Debian's libavcodec59 has "
                   "both libx264 and libvpx-vp9) or pick the other codec.",
                   enc->path, name);
      return FALSE;
    }

  AVCodecContext *c = avcodec_alloc_context3 (codec);
  enc->encoder = c;
  c->width = (int) enc->width;
  c->height = (int) enc->height;
  c->pix_fmt = AV_PIX_FMT_YUV420P;
  c->time_base = (AVRational) { options->fps_den, options->fps_num };
  c->framerate = (AVRational) { options->fps_num, options->fps_den };
  c->sample_aspect_ratio = (AVRational) { 1, 1 };
  /* sRGB content as ComfyUI tags it: BT.709 matrix and primaries, sRGB
   * transfer, limited range. */
  c->color_primaries = AVCOL_PRI_BT709;
  c->color_trc = AVCOL_TRC_IEC61966_2_1;
  c->colorspace = AVCOL_SPC_BT709;
  c->color_range = AVCOL_RANGE_MPEG;
  if (enc->format->oformat->flags & AVFMT_GLOBALHEADER)
    c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;

  AVDictionary *codec_options = NULL;
  if (options->codec == RL_VIDEO_CODEC_H264)
    {
      av_dict_set_int (&codec_options, "crf", options->crf >= 0 ? options->crf : 23, 0);
      av_dict_set (&codec_options, "preset", options->preset != NULL ? options->preset : "medium", 0);
    }
  else
    {
      /* Constant quality needs a zero target bitrate with libvpx. */
      c->bit_rate = 0;
      av_dict_set_int (&codec_options, "crf", options->crf >= 0 ? options->crf : 32, 0);
      av_dict_set (&codec_options, "deadline", "good", 0);
      av_dict_set (&codec_options, "cpu-used", "4", 0);
      av_dict_set (&codec_options, "row-mt", "1", 0);
    }
  int ret = avcodec_open2 (c, codec, &codec_options);
  av_dict_free (&codec_options);
  if (ret < 0)
    return rl_set_av_error (error, ret, "Cannot open the video encoder for", enc->path,
                            "Check the crf and preset values.");

  enc->stream = avformat_new_stream (enc->format, NULL);
  if (enc->stream == NULL)
    return rl_set_av_error (error, AVERROR (ENOMEM), "Cannot add a video stream to", enc->path, NULL);
  enc->stream->time_base = c->time_base;
  enc->stream->avg_frame_rate = c->framerate;
  ret = avcodec_parameters_from_context (enc->stream->codecpar, c);
  if (ret < 0)
    return rl_set_av_error (error, ret, "Cannot configure the video stream of", enc->path, NULL);
  return TRUE;
}

static gboolean
open_output (VideoEncode               *enc,
             const RlVideoWriteOptions *options,
             GError                   **error)
{
  const char *format_name = options->container == RL_VIDEO_CONTAINER_WEBM ? "webm" : "mp4";
  int ret = avformat_alloc_output_context2 (&enc->format, NULL, format_name, enc->temp_path);
  if (ret < 0)
    return rl_set_av_error (error, ret, "Cannot create a container for", enc->path,
                            "This FFmpeg lacks the muxer.");
  if (!open_encoder (enc, options, error))
    return FALSE;

  if (options->prompt_json != NULL)
    av_dict_set (&enc->format->metadata, "prompt", options->prompt_json, 0);
  if (options->workflow_json != NULL)
    av_dict_set (&enc->format->metadata, "workflow", options->workflow_json, 0);

  ret = avio_open (&enc->format->pb, enc->temp_path, AVIO_FLAG_WRITE);
  if (ret < 0)
    return rl_set_av_error (error, ret, "Cannot open for writing", enc->temp_path, NULL);

  AVDictionary *muxer_options = NULL;
  if (options->container == RL_VIDEO_CONTAINER_MP4)
    av_dict_set (&muxer_options, "movflags", "use_metadata_tags+faststart", 0);
  ret = avformat_write_header (enc->format, &muxer_options);
  av_dict_free (&muxer_options);
  if (ret < 0)
    return rl_set_av_error (error, ret, "Cannot write the header of", enc->path, NULL);
  return TRUE;
}

static gboolean
prepare_conversion (VideoEncode *enc,
                    GError     **error)
{
  enc->scaler = sws_getContext ((int) enc->width, (int) enc->height, AV_PIX_FMT_RGB24,
                                (int) enc->width, (int) enc->height, AV_PIX_FMT_YUV420P,
                                SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INP,
                                NULL, NULL, NULL);
  if (enc->scaler == NULL)
    return rl_set_av_error (error, AVERROR (EINVAL), "Cannot convert frames to YUV for", enc->path, NULL);
  /* RGB in is full range; YUV out is BT.709 limited range, as tagged. */
  sws_setColorspaceDetails (enc->scaler, sws_getCoefficients (SWS_CS_ITU709), 1,
                            sws_getCoefficients (SWS_CS_ITU709), 0, 0, 1 << 16, 1 << 16);

  enc->yuv = av_frame_alloc ();
  enc->packet = av_packet_alloc ();
  if (enc->yuv == NULL || enc->packet == NULL)
    return rl_set_av_error (error, AVERROR (ENOMEM), "Out of memory encoding", enc->path, NULL);
  enc->yuv->format = AV_PIX_FMT_YUV420P;
  enc->yuv->width = (int) enc->width;
  enc->yuv->height = (int) enc->height;
  int ret = av_frame_get_buffer (enc->yuv, 0);
  if (ret < 0)
    return rl_set_av_error (error, ret, "Out of memory encoding", enc->path, NULL);
  /* swscale's SIMD reads whole vectors past the end of a row: align the
   * rows and pad the buffer as FFmpeg does for its own frames. */
  enc->rgb_stride = FFALIGN ((int) enc->width * 3, 64);
  enc->rgb = g_malloc0 ((gsize) enc->rgb_stride * enc->height + AV_INPUT_BUFFER_PADDING_SIZE);
  return TRUE;
}

/* Sends @frame (NULL flushes) and writes every packet the encoder returns. */
static gboolean
encode_and_write (VideoEncode *enc,
                  AVFrame     *frame,
                  GError     **error)
{
  int ret = avcodec_send_frame (enc->encoder, frame);
  if (ret < 0)
    return rl_set_av_error (error, ret, "Cannot encode a frame of", enc->path, NULL);
  for (;;)
    {
      ret = avcodec_receive_packet (enc->encoder, enc->packet);
      if (ret == AVERROR (EAGAIN) || ret == AVERROR_EOF)
        return TRUE;
      if (ret < 0)
        return rl_set_av_error (error, ret, "Cannot encode a frame of", enc->path, NULL);
      av_packet_rescale_ts (enc->packet, enc->encoder->time_base, enc->stream->time_base);
      enc->packet->stream_index = enc->stream->index;
      ret = av_interleaved_write_frame (enc->format, enc->packet);
      if (ret < 0)
        return rl_set_av_error (error, ret, "Cannot write a frame to", enc->path,
                                "Check free disk space.");
    }
}

static gboolean
encode_frames (VideoEncode   *enc,
               const RlImage *frames,
               GError       **error)
{
  for (guint i = 0; i < frames->n_frames; i++)
    {
      int ret = av_frame_make_writable (enc->yuv);
      if (ret < 0)
        return rl_set_av_error (error, ret, "Out of memory encoding", enc->path, NULL);
      rl_frame_to_rgb24 (frames, i, enc->width, enc->height, enc->rgb, (gsize) enc->rgb_stride);
      const guint8 *src[1] = { enc->rgb };
      sws_scale (enc->scaler, src, &enc->rgb_stride, 0, (int) enc->height,
                 enc->yuv->data, enc->yuv->linesize);
      enc->yuv->pts = i;
      enc->yuv->color_primaries = AVCOL_PRI_BT709;
      enc->yuv->color_trc = AVCOL_TRC_IEC61966_2_1;
      enc->yuv->colorspace = AVCOL_SPC_BT709;
      enc->yuv->color_range = AVCOL_RANGE_MPEG;
      if (!encode_and_write (enc, enc->yuv, error))
        return FALSE;
    }
  return encode_and_write (enc, NULL, error);
}

static gboolean
finish_output (VideoEncode *enc,
               GError     **error)
{
  int ret = av_write_trailer (enc->format);
  if (ret < 0)
    return rl_set_av_error (error, ret, "Cannot finish", enc->path, "Check free disk space.");
  ret = avio_closep (&enc->format->pb);
  if (ret < 0)
    return rl_set_av_error (error, ret, "Cannot finish", enc->path, "Check free disk space.");
  if (!rl_atomic_file_commit (enc->temp_path, enc->path, error))
    return FALSE;
  g_clear_pointer (&enc->temp_path, g_free);
  return TRUE;
}

gboolean
rl_video_write (const char                *path,
                const RlImage             *frames,
                const RlVideoWriteOptions *options,
                GError                   **error)
{
  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (frames != NULL, FALSE);
  g_return_val_if_fail (options != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_options (path, frames, options, error))
    return FALSE;

  VideoEncode enc = {
    .path = path,
    .width = frames->width + (frames->width & 1),
    .height = frames->height + (frames->height & 1),
  };
  enc.temp_path = rl_atomic_file_begin (path, error);
  gboolean ok = enc.temp_path != NULL
                && open_output (&enc, options, error)
                && prepare_conversion (&enc, error)
                && encode_frames (&enc, frames, error)
                && finish_output (&enc, error);
  video_encode_clear (&enc);
  return ok;
}
