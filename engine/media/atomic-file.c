/* renameat2 and RENAME_NOREPLACE are GNU extensions. */
#define _GNU_SOURCE

#include "engine/media/atomic-file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine-error.h"

static gboolean
set_io_error_for_folder (const char  *folder,
                         int          saved_errno,
                         GError     **error)
{
  g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_IO,
               "Cannot write to output folder “%s”: %s. Choose a folder you can "
               "write to, or fix its permissions.",
               folder, g_strerror (saved_errno));
  return FALSE;
}

char *
rl_atomic_file_begin (const char  *final_path,
                      GError     **error)
{
  g_return_val_if_fail (final_path != NULL, NULL);

  g_autofree char *folder = g_path_get_dirname (final_path);
  g_autofree char *base = g_path_get_basename (final_path);
  g_autofree char *temp_path = g_strdup_printf ("%s/.%s.XXXXXX", folder, base);

  int fd = g_mkstemp_full (temp_path, O_RDWR | O_CLOEXEC, 0644);
  if (fd < 0)
    {
      set_io_error_for_folder (folder, errno, error);
      return NULL;
    }
  close (fd);
  return g_steal_pointer (&temp_path);
}

static gboolean
sync_file (const char *path)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return FALSE;
  gboolean ok = fsync (fd) == 0;
  close (fd);
  return ok;
}

/* rename(2) that refuses to replace an existing file where the file
 * system supports it, so a name picked by a counter scan is never
 * clobbered by a racing writer. */
static int
rename_no_replace (const char *from,
                   const char *to)
{
  int ret = renameat2 (AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);
  if (ret != 0 && (errno == EINVAL || errno == ENOSYS))
    ret = rename (from, to);
  return ret;
}

gboolean
rl_atomic_file_commit (const char  *temp_path,
                       const char  *final_path,
                       GError     **error)
{
  g_return_val_if_fail (temp_path != NULL, FALSE);
  g_return_val_if_fail (final_path != NULL, FALSE);

  if (!sync_file (temp_path) || rename_no_replace (temp_path, final_path) != 0)
    {
      int saved_errno = errno;
      g_unlink (temp_path);
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_IO,
                   "Cannot finish writing “%s”: %s. Check free disk space and "
                   "the folder's permissions.",
                   final_path, g_strerror (saved_errno));
      return FALSE;
    }
  return TRUE;
}

void
rl_atomic_file_abort (const char *temp_path)
{
  if (temp_path != NULL)
    g_unlink (temp_path);
}

static gboolean
write_all (int           fd,
           const guint8 *data,
           gsize         length)
{
  while (length > 0)
    {
      ssize_t n = write (fd, data, length);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      data += n;
      length -= (gsize) n;
    }
  return TRUE;
}

gboolean
rl_atomic_file_write (const char    *final_path,
                      const guint8  *data,
                      gsize          length,
                      GError       **error)
{
  g_return_val_if_fail (final_path != NULL, FALSE);
  g_return_val_if_fail (data != NULL || length == 0, FALSE);

  g_autofree char *temp_path = rl_atomic_file_begin (final_path, error);
  if (temp_path == NULL)
    return FALSE;

  int fd = open (temp_path, O_WRONLY | O_TRUNC | O_CLOEXEC);
  gboolean ok = fd >= 0 && write_all (fd, data, length);
  int saved_errno = errno;
  if (fd >= 0 && close (fd) != 0 && ok)
    {
      ok = FALSE;
      saved_errno = errno;
    }
  if (!ok)
    {
      rl_atomic_file_abort (temp_path);
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_IO,
                   "Cannot write “%s”: %s. Check free disk space.",
                   final_path, g_strerror (saved_errno));
      return FALSE;
    }
  return rl_atomic_file_commit (temp_path, final_path, error);
}
