#include "engine/media/file-kind.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <glib/gstdio.h>

#include "engine/engine-error.h"

gboolean
rl_file_kind_sniff (const char  *path,
                    RlFileKind  *kind,
                    GError     **error)
{
  g_return_val_if_fail (path != NULL && kind != NULL, FALSE);

  FILE *file = g_fopen (path, "rb");
  if (file == NULL)
    {
      int saved_errno = errno;
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_IO,
                   "Cannot open “%s”: %s.", path, g_strerror (saved_errno));
      return FALSE;
    }
  guint8 head[12] = { 0 };
  size_t n = fread (head, 1, sizeof head, file);
  gboolean failed = ferror (file);
  fclose (file);
  if (failed)
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_IO,
                   "Cannot read “%s”: it is a folder or an unreadable file.", path);
      return FALSE;
    }
  if (n == 0)
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_MEDIA,
                   "“%s” is empty: it holds no image or video.", path);
      return FALSE;
    }

  static const guint8 png_signature[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  if (n >= 8 && memcmp (head, png_signature, 8) == 0)
    *kind = RL_FILE_KIND_PNG;
  else if (n >= 12 && memcmp (head, "RIFF", 4) == 0 && memcmp (head + 8, "WEBP", 4) == 0)
    *kind = RL_FILE_KIND_WEBP;
  else
    *kind = RL_FILE_KIND_OTHER;
  return TRUE;
}
