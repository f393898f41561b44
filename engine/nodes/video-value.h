/* VIDEO socket values: an RlVideo (frames + frame rate) wrapped as an
 * RlValue, sharing its frames with an IMAGE value so that CreateVideo and
 * GetVideoComponents never copy pixels. Audio is not carried yet. */
#pragma once

#include "engine/graph/value.h"
#include "engine/media/video.h"

G_BEGIN_DECLS

#define RL_SOCKET_TYPE_VIDEO  "VIDEO"
#define RL_SOCKET_TYPE_IMAGE  "IMAGE"
#define RL_SOCKET_TYPE_AUDIO  "AUDIO"

/* A VIDEO value owning @video. */
RlValue        *rl_value_new_video          (RlVideo        *video);
/* A VIDEO value whose frames are those of the IMAGE value @images (a
 * reference is taken). */
RlValue        *rl_value_new_video_sharing  (RlValue        *images,
                                             int             fps_num,
                                             int             fps_den);
/* The video of a VIDEO value (borrowed), or NULL with a critical. */
const RlVideo  *rl_value_get_video          (const RlValue  *value);
/* The frames of a VIDEO value as an IMAGE value (borrowed). */
RlValue        *rl_value_get_video_images   (const RlValue  *value);
/* An AUDIO value meaning "no audio", for outputs that must be set. */
RlValue        *rl_value_new_no_audio       (void);

G_END_DECLS
