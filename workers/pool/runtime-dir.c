#include "runtime-dir.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workers/protocol/protocol.h"

/* Socket paths must fit sockaddr_un.sun_path with room for "/worker-N.sock". */
#define MAX_DIR_LENGTH 80

char *
rl_runtime_dir_create (const char *parent, RlErrorInfo *err)
{
  if (parent == NULL || parent[0] == '\0')
    parent = getenv ("XDG_RUNTIME_DIR");
  if (parent == NULL || parent[0] == '\0' || access (parent, W_OK | X_OK) != 0)
    parent = "/tmp";
  char path[256];
  int length = snprintf (path, sizeof path, "%s/raylight-pool-XXXXXX", parent);
  if (length < 0 || length >= MAX_DIR_LENGTH)
    {
      rl_error_set (err, RL_WIRE_INVALID,
                    "runtime directory parent '%s' is too long for Unix socket paths "
                    "(keep it under %d characters)", parent, MAX_DIR_LENGTH - 21);
      return NULL;
    }
  if (mkdtemp (path) == NULL)
    {
      rl_error_set (err, RL_WIRE_IO, "cannot create a private directory in '%s': %s",
                    parent, strerror (errno));
      return NULL;
    }
  /* mkdtemp uses 0700 already; make it explicit against odd umasks. */
  chmod (path, 0700);
  char *copy = strdup (path);
  if (copy == NULL)
    {
      rmdir (path);
      rl_error_set (err, RL_WIRE_NO_MEMORY, "out of memory");
    }
  return copy;
}

void
rl_runtime_dir_remove (const char *dir)
{
  if (dir == NULL)
    return;
  DIR *stream = opendir (dir);
  if (stream != NULL)
    {
      struct dirent *entry;
      while ((entry = readdir (stream)) != NULL)
        {
          if (strcmp (entry->d_name, ".") == 0 || strcmp (entry->d_name, "..") == 0)
            continue;
          char path[512];
          snprintf (path, sizeof path, "%s/%s", dir, entry->d_name);
          unlink (path);
        }
      closedir (stream);
    }
  rmdir (dir);
}
