/* What kind of media file a path holds, from its first bytes, so readers
 * pick the right decoder whatever the file is called. Internal. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  RL_FILE_KIND_PNG,
  RL_FILE_KIND_WEBP,
  RL_FILE_KIND_OTHER,    /* left to libavformat: MP4, WebM, ... */
} RlFileKind;

/* FALSE with RL_ENGINE_ERROR_IO naming @path when it cannot be opened or
 * read, and RL_ENGINE_ERROR_MEDIA when it is empty. */
gboolean  rl_file_kind_sniff  (const char   *path,
                               RlFileKind   *kind,
                               GError      **error);

G_END_DECLS
