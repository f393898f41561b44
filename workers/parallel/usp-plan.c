/* The USP degree rules, kept apart from the collective code so the pool
 * manager (linked by the app, which never links CUDA) can check a
 * configuration before anything launches (usp-plan.h). */
#include "workers/parallel/usp-plan.h"

#include <stdio.h>

char *
rl_usp_ulysses_degrees (int heads, int max_degree, char *buf, size_t size)
{
  size_t used = 0;

  if (size == 0)
    return buf;
  buf[0] = '\0';
  for (int d = 1; d <= max_degree && d <= heads && used + 12 < size; d++)
    if (heads % d == 0)
      used += (size_t) snprintf (buf + used, size - used, "%s%d", used > 0 ? ", " : "", d);
  return buf;
}

RlStatus
rl_usp_validate (int heads, int ulysses_degree, int ring_degree, int ranks,
                 bool pad_heads)
{
  char degrees[256];

  if (ulysses_degree < 1 || ring_degree < 1 || heads < 1)
    return rl_set_error (RL_E_INVALID_ARG, "USP: Ulysses degree %d, ring degree %d "
                         "and %d heads must all be at least 1", ulysses_degree,
                         ring_degree, heads);
  if (ulysses_degree * ring_degree != ranks)
    return rl_set_error (RL_E_INVALID_ARG, "USP: Ulysses degree %d × ring degree %d "
                         "= %d, but the sequence-parallel group has %d ranks; pick "
                         "degrees whose product is %d", ulysses_degree, ring_degree,
                         ulysses_degree * ring_degree, ranks, ranks);
  if (heads % ulysses_degree != 0 && !pad_heads)
    return rl_set_error (RL_E_INVALID_ARG, "USP: %d attention heads do not split "
                         "over Ulysses degree %d; valid Ulysses degrees for this "
                         "model: %s (or allow head padding, or move the rest of "
                         "the degree to the ring)", heads, ulysses_degree,
                         rl_usp_ulysses_degrees (heads, ranks > heads ? heads : ranks,
                                                                degrees, sizeof degrees));
  return RL_OK;
}
