/* Encoding frames to a video file with libavformat/libavcodec, the way
 * ComfyUI's SaveVideo does: H.264 (libx264, yuv420p, BT.709 limited range)
 * in MP4, or VP9 (libvpx-vp9) in WebM, with the job's prompt and workflow
 * JSON as container metadata tags "prompt" and "workflow" (MP4 writes them
 * with movflags=use_metadata_tags so they survive). */
#pragma once

#include "engine/graph/image.h"

G_BEGIN_DECLS

typedef enum {
  RL_VIDEO_CONTAINER_MP4,
  RL_VIDEO_CONTAINER_WEBM,
} RlVideoContainer;

typedef enum {
  RL_VIDEO_CODEC_H264,
  RL_VIDEO_CODEC_VP9,
} RlVideoCodec;

typedef struct {
  RlVideoContainer  container;
  RlVideoCodec      codec;       /* WebM takes VP9 only; MP4 takes both */
  int               fps_num;     /* frame rate fps_num / fps_den, both > 0 */
  int               fps_den;
  int               crf;         /* quality (lower is better); < 0: codec default (23 H.264, 32 VP9) */
  const char       *preset;      /* x264 preset; NULL: "medium". Ignored for VP9 */
  const char       *prompt_json;   /* NULL: no "prompt" tag */
  const char       *workflow_json; /* NULL: no "workflow" tag */
} RlVideoWriteOptions;

/* Fills @options with MP4 / H.264, 24 fps, default crf and preset, no tags. */
void         rl_video_write_options_init    (RlVideoWriteOptions       *options);

/* Encodes every frame of @frames to @path (written whole or not at all).
 * yuv420p needs even sizes: an odd width or height is padded by one
 * column/row repeating the edge, so the file is up to 1 pixel larger.
 * Errors: RL_ENGINE_ERROR_IO naming the folder when it cannot be written;
 * RL_ENGINE_ERROR_MEDIA when the encoder is missing from this FFmpeg build,
 * the codec does not fit the container, or encoding fails. */
gboolean     rl_video_write                 (const char                *path,
                                             const RlImage             *frames,
                                             const RlVideoWriteOptions *options,
                                             GError                   **error);

/* File name extension without the dot: "mp4" or "webm". */
const char  *rl_video_container_extension   (RlVideoContainer           container);

G_END_DECLS
