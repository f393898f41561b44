#include "pool.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "raylight-config.h"

static bool
executable (const char *path)
{
  return access (path, X_OK) == 0;
}

/* True when this process runs from the build tree (an uninstalled run). */
static bool
running_uninstalled (void)
{
  char self[PATH_MAX];
  ssize_t length = readlink ("/proc/self/exe", self, sizeof self - 1);
  if (length <= 0)
    return false;
  self[length] = '\0';
  size_t build_length = strlen (RAYLIGHT_BUILD_DIR);
  return strncmp (self, RAYLIGHT_BUILD_DIR, build_length) == 0 && self[build_length] == '/';
}

const char *
rl_pool_find_worker (char *out, size_t size)
{
  const char *forced = getenv ("RAYLIGHT_WORKER");
  if (forced != NULL && forced[0] != '\0')
    {
      snprintf (out, size, "%s", forced);
      return out;
    }
  const char *built = RAYLIGHT_BUILD_DIR "/workers/worker/raylight-worker";
  const char *installed = RAYLIGHT_LIBEXEC_DIR "/raylight-worker";
  const char *first = running_uninstalled () ? built : installed;
  const char *second = first == built ? installed : built;
  if (executable (first))
    snprintf (out, size, "%s", first);
  else if (executable (second))
    snprintf (out, size, "%s", second);
  else
    {
      /* The preferred path, so the "not found" error names it. */
      snprintf (out, size, "%s", first);
      return NULL;
    }
  return out;
}
