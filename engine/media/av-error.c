#include "engine/media/av-error.h"

#include <libavutil/error.h>

#include "engine/engine-error.h"

gboolean
rl_set_av_error (GError     **error,
                 int          av_code,
                 const char  *what,
                 const char  *path,
                 const char  *hint)
{
  char text[AV_ERROR_MAX_STRING_SIZE] = "";
  av_strerror (av_code, text, sizeof text);
  g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_MEDIA,
               "%s “%s”: %s.%s%s", what, path, text,
               hint != NULL ? " " : "", hint != NULL ? hint : "");
  return FALSE;
}
