/* Plain entry points into the CUDA backend's GEMM for
 * tests/bench/gemm_interleaved.py, which loads them with ctypes so that
 * torch.matmul and our cuBLASLt products run in one process, on one stream,
 * launch block after launch block: both then see the same clocks and
 * temperature, which separate processes (bench-gemm against
 * torch_gemm_ops.py) do not. Built as a shared library by gpu-session.sh
 * (`gcc -shared`), not by meson: nothing else links it. */
#include <stdio.h>

#include "workers/backend-cuda/cuda-gemm.h"

/* A context with `workspace_mib` MiB of workspace (0: the backend's
 * default) whose first call of each shape takes the heuristic's candidate
 * `candidate` (0: its first pick, what the backend runs). */
void *
rl_bench_gemm_new (int candidate, int workspace_mib)
{
  RlCudaError error = { 0 };
  RlCudaGemm *gemm = rl_cuda_gemm_new ((size_t) workspace_mib << 20, &error);
  if (gemm == NULL) {
    fprintf (stderr, "gemm-shim: %s\n", error.message);
    return NULL;
  }
  rl_cuda_gemm_set_autotune (gemm, false);
  rl_cuda_gemm_set_candidate (gemm, candidate);
  return gemm;
}

void
rl_bench_gemm_free (void *gemm)
{
  rl_cuda_gemm_free (gemm);
}

/* y[m, n] = x[m, k] · w[n, k]ᵀ in bf16 with f32 accumulation, queued on
 * `stream`. Returns 0, or -1 after printing why. */
int
rl_bench_gemm_bf16 (void *gemm, int64_t m, int64_t k, int64_t n, const void *x, const void *w,
                    void *y, void *stream)
{
  RlCudaGemmShape shape = {
    .m = m, .n = n, .k = k, .x_type = CUDA_R_16BF, .w_type = CUDA_R_16BF,
    .y_type = CUDA_R_16BF, .bias_type = CUDA_R_16BF,
  };
  RlCudaError error = { 0 };
  if (!rl_cuda_gemm_run (gemm, &shape, x, w, NULL, y, 1.0f, 0.0f, (cudaStream_t) stream,
                         &error)) {
    fprintf (stderr, "gemm-shim: %s\n", error.message);
    return -1;
  }
  return 0;
}
