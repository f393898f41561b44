/* Turning libav* error codes into the engine's GErrors. Internal. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Sets RL_ENGINE_ERROR_MEDIA with "@what “@path”: <FFmpeg's text for
 * @av_code>. @hint" and returns FALSE, so callers can `return
 * rl_set_av_error (...)`. */
gboolean  rl_set_av_error  (GError      **error,
                            int           av_code,
                            const char   *what,
                            const char   *path,
                            const char   *hint);

G_END_DECLS
