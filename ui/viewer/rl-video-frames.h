/* RlVideoFrames: a generated video or image decoded for the output
 * viewer — every frame as a GdkTexture and the frame rate. Decoding goes
 * through the engine's FFmpeg reader (libavformat/libavcodec; libwebp for
 * animated WebP), on a thread for the async variant. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

typedef struct {
  GPtrArray  *textures;    /* GdkTexture*, one per frame, never empty */
  double      fps;         /* 0 for a still image */
  guint       width;
  guint       height;
  char       *path;
} RlVideoFrames;

/* Decodes up to @max_frames frames (0: all) of @path. NULL with the
 * engine's IO or MEDIA error naming the file. */
RlVideoFrames *rl_video_frames_load        (const char          *path,
                                            guint                max_frames,
                                            GError             **error);
/* Decodes up to @max_frames frames (0: all) on a thread. */
void           rl_video_frames_load_async  (const char          *path,
                                            guint                max_frames,
                                            GCancellable        *cancellable,
                                            GAsyncReadyCallback  callback,
                                            gpointer             user_data);
RlVideoFrames *rl_video_frames_load_finish (GAsyncResult        *result,
                                            GError             **error);
void           rl_video_frames_free        (RlVideoFrames       *frames);
/* How long @frames plays at speed 1, in seconds (0 for a still). */
double         rl_video_frames_duration    (const RlVideoFrames *frames);
/* Which frame shows @seconds after the start at @speed, wrapping when
 * @loop, else holding the last frame. */
guint          rl_video_frames_index_at    (const RlVideoFrames *frames,
                                            double               seconds,
                                            double               speed,
                                            gboolean             loop);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RlVideoFrames, rl_video_frames_free)

G_END_DECLS
