#include "engine/nodes/video-value.h"

#include "engine/graph/image.h"

/* The VIDEO object: the RlVideo first, so the object pointer is an
 * RlVideo *; its frames belong to @images. */
typedef struct {
  RlVideo  video;
  RlValue *images;
} VideoHolder;

static void
video_holder_free (gpointer data)
{
  VideoHolder *holder = data;
  rl_value_unref (holder->images);
  g_free (holder);
}

RlValue *
rl_value_new_video_sharing (RlValue *images,
                            int      fps_num,
                            int      fps_den)
{
  g_return_val_if_fail (images != NULL, NULL);
  RlImage *frames = rl_value_get_object (images, RL_SOCKET_TYPE_IMAGE);
  g_return_val_if_fail (frames != NULL, NULL);

  /* rl_video_new reduces the rate; its frames pointer is only borrowed here. */
  g_autoptr(RlVideo) normalised = rl_video_new (frames, fps_num, fps_den);
  VideoHolder *holder = g_new0 (VideoHolder, 1);
  holder->video = *normalised;
  normalised->frames = NULL;
  holder->images = rl_value_ref (images);
  return rl_value_new_object (RL_SOCKET_TYPE_VIDEO, holder, video_holder_free);
}

RlValue *
rl_value_new_video (RlVideo *video)
{
  g_return_val_if_fail (video != NULL && video->frames != NULL, NULL);

  g_autoptr(RlValue) images = rl_value_new_image (g_steal_pointer (&video->frames));
  RlValue *value = rl_value_new_video_sharing (images, video->fps_num, video->fps_den);
  rl_video_free (video);
  return value;
}

const RlVideo *
rl_value_get_video (const RlValue *value)
{
  VideoHolder *holder = rl_value_get_object (value, RL_SOCKET_TYPE_VIDEO);
  return holder != NULL ? &holder->video : NULL;
}

RlValue *
rl_value_get_video_images (const RlValue *value)
{
  VideoHolder *holder = rl_value_get_object (value, RL_SOCKET_TYPE_VIDEO);
  return holder != NULL ? holder->images : NULL;
}

RlValue *
rl_value_new_no_audio (void)
{
  return rl_value_new_object (RL_SOCKET_TYPE_AUDIO, NULL, NULL);
}
