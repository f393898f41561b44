/* RlVideoFrames: the engine's reader, then 8-bit textures. */
#include "ui/viewer/rl-video-frames.h"

#include <math.h>

#include "engine/media/video-reader.h"
#include "ui/run/rl-preview-frames.h"

RlVideoFrames *
rl_video_frames_load (const char  *path,
                      guint        max_frames,
                      GError     **error)
{
  g_autoptr(RlVideo) video = rl_video_read (path, max_frames, error);
  RlVideoFrames *frames;

  if (video == NULL)
    return NULL;
  frames = g_new0 (RlVideoFrames, 1);
  /* The float frames go as soon as the textures exist: a long video would
   * otherwise be held four times over. */
  frames->textures = rl_preview_frames_textures (video->frames);
  frames->fps = rl_video_get_fps (video);
  frames->width = video->frames->width;
  frames->height = video->frames->height;
  frames->path = g_strdup (path);
  return frames;
}

void
rl_video_frames_free (RlVideoFrames *frames)
{
  if (frames == NULL)
    return;
  g_ptr_array_unref (frames->textures);
  g_free (frames->path);
  g_free (frames);
}

typedef struct {
  char  *path;
  guint  max_frames;
} LoadRequest;

static void
load_request_free (gpointer data)
{
  LoadRequest *request = data;

  g_free (request->path);
  g_free (request);
}

static void
load_thread (GTask        *task,
             gpointer      source,
             gpointer      task_data,
             GCancellable *cancellable)
{
  LoadRequest *request = task_data;
  GError *error = NULL;
  RlVideoFrames *frames = rl_video_frames_load (request->path, request->max_frames, &error);

  if (frames != NULL)
    g_task_return_pointer (task, frames, (GDestroyNotify) rl_video_frames_free);
  else
    g_task_return_error (task, error);
}

void
rl_video_frames_load_async (const char          *path,
                            guint                max_frames,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  LoadRequest *request = g_new0 (LoadRequest, 1);

  request->path = g_strdup (path);
  request->max_frames = max_frames;
  g_task_set_task_data (task, request, load_request_free);
  g_task_run_in_thread (task, load_thread);
}

RlVideoFrames *
rl_video_frames_load_finish (GAsyncResult  *result,
                             GError       **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

double
rl_video_frames_duration (const RlVideoFrames *frames)
{
  return frames->fps > 0 ? frames->textures->len / frames->fps : 0;
}

guint
rl_video_frames_index_at (const RlVideoFrames *frames,
                          double               seconds,
                          double               speed,
                          gboolean             loop)
{
  guint n = frames->textures->len;
  double position;
  guint64 index;

  if (frames->fps <= 0 || n <= 1 || seconds <= 0 || speed <= 0)
    return 0;
  position = floor (seconds * speed * frames->fps + 1e-9);
  index = (guint64) position;
  if (loop)
    return (guint) (index % n);
  return (guint) MIN (index, (guint64) n - 1);
}
