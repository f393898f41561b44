/* RlVideo: frames plus a frame rate — the payload of ComfyUI's VIDEO socket
 * and what the video reader returns. Audio is not carried. */
#pragma once

#include "engine/graph/image.h"

G_BEGIN_DECLS

typedef struct _RlVideo RlVideo;

struct _RlVideo {
  RlImage *frames;      /* owned; never NULL */
  int      fps_num;     /* frame rate as a reduced fraction; 0/1 for a still */
  int      fps_den;
};

/* Takes ownership of @frames. @fps_num / @fps_den is reduced; a zero or
 * negative denominator is treated as a still (0/1). */
RlVideo  *rl_video_new         (RlImage        *frames,
                                int             fps_num,
                                int             fps_den);
void      rl_video_free        (RlVideo        *video);
/* The frame rate as a double; 0 for a still. */
double    rl_video_get_fps     (const RlVideo  *video);
/* @fps as the fraction ComfyUI uses, Fraction(round(fps * 1000), 1000),
 * reduced. FALSE when @fps is not a positive finite number. */
gboolean  rl_fps_to_rational   (double          fps,
                                int            *num,
                                int            *den);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RlVideo, rl_video_free)

G_END_DECLS
