#include "engine/media/video.h"

#include <math.h>

static gint64
greatest_common_divisor (gint64 a,
                         gint64 b)
{
  while (b != 0)
    {
      gint64 t = a % b;
      a = b;
      b = t;
    }
  return a < 0 ? -a : a;
}

RlVideo *
rl_video_new (RlImage *frames,
              int      fps_num,
              int      fps_den)
{
  g_return_val_if_fail (frames != NULL, NULL);

  RlVideo *video = g_new0 (RlVideo, 1);
  video->frames = frames;
  if (fps_den <= 0 || fps_num <= 0)
    {
      video->fps_num = 0;
      video->fps_den = 1;
      return video;
    }
  gint64 g = greatest_common_divisor (fps_num, fps_den);
  video->fps_num = (int) (fps_num / g);
  video->fps_den = (int) (fps_den / g);
  return video;
}

void
rl_video_free (RlVideo *video)
{
  if (video == NULL)
    return;
  rl_image_free (video->frames);
  g_free (video);
}

double
rl_video_get_fps (const RlVideo *video)
{
  g_return_val_if_fail (video != NULL, 0.0);
  return video->fps_den > 0 ? (double) video->fps_num / video->fps_den : 0.0;
}

gboolean
rl_fps_to_rational (double  fps,
                    int    *num,
                    int    *den)
{
  g_return_val_if_fail (num != NULL && den != NULL, FALSE);

  if (!isfinite (fps) || fps <= 0.0 || fps > 1e6)
    return FALSE;
  gint64 millis = (gint64) llround (fps * 1000.0);
  if (millis <= 0)
    return FALSE;
  gint64 g = greatest_common_divisor (millis, 1000);
  *num = (int) (millis / g);
  *den = (int) (1000 / g);
  return TRUE;
}
