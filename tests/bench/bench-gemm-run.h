/* One GEMM of the CUDA backend's cuBLASLt wrapper as a bench_time
 * callback (tests/bench/bench-gemm.c, bench-gemm-split.c): plain or with
 * fp8 device scales; a failed launch prints its message once and marks the
 * run failed, so the timing loop can go on and the caller reports it. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "workers/backend-cuda/cuda-gemm.h"

typedef struct {
  RlCudaGemm      *gemm;
  RlCudaGemmShape  shape;
  const void      *x, *w, *bias;
  const float     *x_scale, *w_scale; /* device scales (fp8), or NULL */
  void            *y;
  float            alpha;
  bool             failed;
} GemmRun;

static inline void
bench_run_gemm (void *arg)
{
  GemmRun *run = arg;
  RlCudaError error = { 0 };
  if (run->failed)
    return;
  bool ok = run->x_scale != NULL
            ? rl_cuda_gemm_run_scaled (run->gemm, &run->shape, run->x, run->x_scale, run->w,
                                       run->w_scale, run->bias, run->y, run->alpha, 0.0f, NULL,
                                       &error)
            : rl_cuda_gemm_run (run->gemm, &run->shape, run->x, run->w, run->bias, run->y,
                                run->alpha, 0.0f, NULL, &error);
  if (!ok) {
    fprintf (stderr, "GEMM: %s\n", error.message);
    run->failed = true;
  }
}
