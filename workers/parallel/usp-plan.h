/* USP configuration rules: which Ulysses × ring degrees fit a rank count
 * and a model's heads. Plain C with no collectives, so the pool manager can
 * check a configuration before it starts any worker. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "workers/runtime/status.h"

/* Checks a USP configuration before anything launches: degrees ≥ 1 that
 * multiply to `ranks`, and heads divisible by the Ulysses degree unless
 * pad_heads. The error lists the valid Ulysses degrees. */
RlStatus rl_usp_validate         (int heads, int ulysses_degree,
                                  int ring_degree, int ranks, bool pad_heads);

/* Writes "1, 2, 3, 6" — the Ulysses degrees ≤ max_degree that divide
 * `heads` — into buf; returns buf. */
char    *rl_usp_ulysses_degrees  (int heads, int max_degree, char *buf,
                                  size_t size);
