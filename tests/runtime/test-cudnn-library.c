/* The libcudnn lookup shared by the CUDA backend and the cudnn attention
 * plugin (workers/runtime/cudnn-library.h), on any machine: the library
 * $RAYLIGHT_CUDNN_LIBRARY names wins over the default names (libm stands
 * in for it), a missing one is listed first among the names tried, an
 * empty one is ignored, and the list of names never overruns its buffer.
 * Whether libcudnn itself is installed here decides only which of two
 * exact answers the missing-name cases expect. */
#include "workers/runtime/cudnn-library.h"

#include <stdbool.h>

#include "tests/plain-test.h"

#define MISSING "/nonexistent/libcudnn-for-raylight-test.so"

/* Is a real libcudnn on this machine? Then the default names succeed. */
static bool
cudnn_installed (void)
{
  void *library = dlopen ("libcudnn.so.9", RTLD_NOW | RTLD_LOCAL);
  if (library == NULL)
    library = dlopen ("libcudnn.so", RTLD_NOW | RTLD_LOCAL);
  if (library == NULL)
    return false;
  dlclose (library);
  return true;
}

static void
test_environment_names_the_library (void)
{
  setenv ("RAYLIGHT_CUDNN_LIBRARY", "libm.so.6", 1);
  char tried[256] = "not cleared";
  void *library = rl_cudnn_library_open (RTLD_NOW | RTLD_LOCAL, tried, sizeof tried);
  PT_REQUIRE (library != NULL, "libm.so.6 did not open: %s", dlerror ());
  PT_CHECK (dlsym (library, "cos") != NULL, "the opened library is not libm");
  PT_CHECK (dlsym (library, "cudnnCreate") == NULL, "a libcudnn was opened instead of libm");
  PT_CHECK (tried[0] == '\0', "tried '%s' before the first name", tried);
  dlclose (library);
}

static void
test_missing_library_is_listed_first (void)
{
  setenv ("RAYLIGHT_CUDNN_LIBRARY", MISSING, 1);
  char tried[256];
  void *library = rl_cudnn_library_open (RTLD_NOW | RTLD_LOCAL, tried, sizeof tried);
  if (cudnn_installed ())
    {
      PT_CHECK (library != NULL, "libcudnn is installed but did not open");
      PT_CHECK (strcmp (tried, MISSING) == 0, "tried '%s'", tried);
    }
  else
    {
      PT_CHECK (library == NULL, "opened something without libcudnn");
      PT_CHECK (strcmp (tried, MISSING ", libcudnn.so.9, libcudnn.so") == 0, "tried '%s'", tried);
    }
  if (library != NULL)
    dlclose (library);
}

static void
test_empty_environment_is_ignored (void)
{
  setenv ("RAYLIGHT_CUDNN_LIBRARY", "", 1);
  char tried[256];
  void *library = rl_cudnn_library_open (RTLD_NOW | RTLD_LOCAL, tried, sizeof tried);
  if (cudnn_installed ())
    PT_CHECK (library != NULL && tried[0] == '\0', "tried '%s'", tried);
  else
    PT_CHECK (library == NULL && strcmp (tried, "libcudnn.so.9, libcudnn.so") == 0, "tried '%s'",
              tried);
  if (library != NULL)
    dlclose (library);
}

/* A buffer too small for the names: truncated, terminated, nothing past it. */
static void
test_small_buffer_is_not_overrun (void)
{
  setenv ("RAYLIGHT_CUDNN_LIBRARY", MISSING, 1);
  struct { char tried[8]; char guard[8]; } buffer;
  memset (buffer.guard, 0x5a, sizeof buffer.guard);
  void *library = rl_cudnn_library_open (RTLD_NOW | RTLD_LOCAL, buffer.tried,
                                         sizeof buffer.tried);
  PT_CHECK (strlen (buffer.tried) == sizeof buffer.tried - 1, "tried '%s'", buffer.tried);
  PT_CHECK (strncmp (buffer.tried, MISSING, sizeof buffer.tried - 1) == 0, "tried '%s'",
            buffer.tried);
  for (size_t i = 0; i < sizeof buffer.guard; i++)
    PT_CHECK (buffer.guard[i] == 0x5a, "byte %zu past the buffer written", i);
  if (library != NULL)
    dlclose (library);
}

int
main (void)
{
  PT_RUN (test_environment_names_the_library);
  PT_RUN (test_missing_library_is_listed_first);
  PT_RUN (test_empty_environment_is_ignored);
  PT_RUN (test_small_buffer_is_not_overrun);
  unsetenv ("RAYLIGHT_CUDNN_LIBRARY");
  return pt_finish ();
}
