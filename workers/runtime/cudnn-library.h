/* Where libcudnn is looked for. The CUDA backend's convolutions and the
 * `cudnn` attention plugin both open it with dlopen, so that they load on
 * machines without cuDNN; this is the one list of names they try.
 * Header-only plain C on libc's dlopen, so an includer (a worker library
 * or a plugin .so) links nothing new. */
#pragma once

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* dlopens $RAYLIGHT_CUDNN_LIBRARY when set, else libcudnn.so.9, else
 * libcudnn.so, with `dlopen_flags`; NULL when none opens, and then
 * `tried` lists the names tried (comma-separated) for the error. */
static inline void *
rl_cudnn_library_open (int dlopen_flags, char *tried, size_t tried_size)
{
  const char *names[] = { getenv ("RAYLIGHT_CUDNN_LIBRARY"), "libcudnn.so.9", "libcudnn.so" };
  tried[0] = '\0';
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    {
      if (names[i] == NULL || names[i][0] == '\0')
        continue;
      void *library = dlopen (names[i], dlopen_flags);
      if (library != NULL)
        return library;
      size_t used = strlen (tried);
      snprintf (tried + used, tried_size - used, "%s%s", used ? ", " : "", names[i]);
    }
  return NULL;
}
