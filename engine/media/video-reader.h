/* Decoding a video or image file (MP4, WebM, PNG, animated WebP, anything
 * libavformat opens) into frames: the reader behind tests, LoadVideo-style
 * nodes and the viewer. */
#pragma once

#include "engine/media/video.h"

G_BEGIN_DECLS

/* Decodes up to @max_frames frames (0: all) of the first video stream of
 * @path as RGB floats 0..1, with the stream's frame rate (0/1 for a still
 * image). Errors: RL_ENGINE_ERROR_IO when the file cannot be opened or
 * read; RL_ENGINE_ERROR_MEDIA when it is not a decodable image or video,
 * has no video stream, decodes to no frames, or stops before the frame
 * count its header promises (a truncated file). */
RlVideo  *rl_video_read  (const char  *path,
                          guint        max_frames,
                          GError     **error);

G_END_DECLS
