/* Time per op of an op table, for finding where a forward spends its time
 * (bench-wan --profile; raylight-worker with RAYLIGHT_OP_PROFILE=1).
 *
 * rl_op_profile_install rewires a table the caller owns so that each op
 * synchronises the device, runs, synchronises again and adds its time to
 * a row keyed by op (and shape, for GEMMs, convolutions and attention).
 * The device waits around every op, so the sum is longer than an
 * unprofiled run; ratios between ops and between runs are what it is for.
 * One table per process at a time: the rows are process-wide. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "workers/runtime/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Rewires *ops (a copy the caller owns) to timed wrappers around its
 * current entries; `backend` synchronises the device. Clears the rows. */
void rl_op_profile_install   (const RlBackend *backend, RlOps *ops);

/* Whether a table is rewired now (callers time extra work only then). */
bool rl_op_profile_active    (void);

/* Puts back the entries that install wrapped. */
void rl_op_profile_uninstall (RlOps *ops);

/* Milliseconds of CLOCK_MONOTONIC with sub-millisecond resolution: the
 * clock the profile times with, for timing work outside the table
 * (collectives, whole forwards). */
double rl_op_profile_clock_ms (void);

/* Adds `ms` to row `key`: for timed work outside the table (collectives). */
void rl_op_profile_add       (const char *key, double ms);

void rl_op_profile_reset     (void);

/* Prints the rows, slowest first, with their share of the total, under
 * `title`; each line starts with `prefix` (e.g. a rank tag). */
void rl_op_profile_print     (FILE *out, const char *prefix, const char *title);

#ifdef __cplusplus
}
#endif
