/* DIAGNOSTIC requests: small ops that prove the worker's paths end to end
 * in tests, named by the call's family field:
 *
 *   "sum"    one f32 input x -> outputs [sum(x)] (shape {1}) and 2·x, both
 *            computed by the worker's compute backend (reduce and
 *            scale_shift) directly on the memfd mappings, both returned as
 *            sealed memfds: proves descriptors travel both ways.
 *   "sleep"  params: u32 steps, u32 milliseconds per step, optional u32
 *            preview flag (little-endian); sends PROGRESS after each step
 *            (with a 4x4 f32 preview filled with the step number when the
 *            flag is set) and honours CANCEL: a long request to crash or
 *            cancel in tests.
 *   "hang"   test-only (RAYLIGHT_WORKER_TEST_FAULTS contains "hang"): stops
 *            answering anything, heartbeats included, forever.
 *   "crash"  test-only (RAYLIGHT_WORKER_TEST_FAULTS contains "crash"): dies
 *            of SIGSEGV (no core file), like a faulting kernel. */
#pragma once

#include "workers/protocol/messages.h"
#include "request-context.h"

/* Runs call->family on inputs. On success fills outputs (sealed, owned by
 * the caller) and returns 0; otherwise a negative status with err set. */
int rl_diagnostic_run (const RlRequestContext *ctx, const RlMsgCall *call,
                       RlSharedTensor *const *inputs, int n_inputs,
                       RlSharedTensor **outputs, int *n_outputs,
                       RlErrorInfo *err);
