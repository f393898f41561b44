/* Backend lookup by name.
 *
 * The backends live in libraries that depend on this one, so they are
 * found through weak references: a backend whose library is linked (whole)
 * resolves its symbol, one that is absent leaves it NULL. No registry,
 * no global mutable state. */
#include "workers/runtime/backend.h"

#include <string.h>

extern const RlBackend *rl_backend_cpu (void) __attribute__ ((weak));
extern const RlBackend *rl_backend_cuda (void) __attribute__ ((weak));

const RlBackend *
rl_backend_find (const char *name)
{
  if (name == NULL)
    return NULL;
  if (strcmp (name, "cpu") == 0 && rl_backend_cpu != NULL)
    return rl_backend_cpu ();
  if (strcmp (name, "cuda") == 0 && rl_backend_cuda != NULL)
    return rl_backend_cuda ();
  return NULL;
}
