/* Writing an output file so that readers only ever see the whole file or
 * none: bytes go to a hidden temporary file in the destination folder,
 * which is renamed over the final name once complete. A full disk or a
 * crash leaves at most a stray hidden ".NAME.XXXXXX" file, never a half-written output. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Creates an empty temporary file next to @final_path and returns its path
 * (owned). NULL with RL_ENGINE_ERROR_IO naming the folder when it does not
 * exist or is not writable. */
char     *rl_atomic_file_begin   (const char  *final_path,
                                  GError     **error);
/* Flushes @temp_path to disk and renames it to @final_path, never replacing
 * an existing file (where the file system can tell). On failure the
 * temporary file is removed and an RL_ENGINE_ERROR_IO names @final_path. */
gboolean  rl_atomic_file_commit  (const char  *temp_path,
                                  const char  *final_path,
                                  GError     **error);
/* Removes @temp_path after a failed write; NULL is ignored. */
void      rl_atomic_file_abort   (const char  *temp_path);

/* The three steps above for an in-memory buffer. */
gboolean  rl_atomic_file_write   (const char  *final_path,
                                  const guint8 *data,
                                  gsize        length,
                                  GError     **error);

G_END_DECLS
