/* GEMM throughput on Wan 14B shapes (M = 32760 tokens, K/N from {5120,
 * 13824, 15360}) through the CUDA backend's cuBLASLt wrapper, next to
 * torch.matmul on the same GPU in the same run:
 *
 *   python3 tests/bench/torch_gemm_ops.py > torch.json
 *   build/tests/bench/bench-gemm --torch torch.json
 *
 * Prints one row per shape and variant: our TFLOP/s, torch's, and the
 * ratio (the acceptance target is >= 0.95 for bf16). Not a test: timing
 * never decides pass/fail. */
#include <stdbool.h>

#include "tests/bench/bench-ops-util.h"
#include "workers/backend-cuda/cuda-gemm.h"

#define M 32760

typedef struct {
  RlCudaGemm      *gemm;
  RlCudaGemmShape  shape;
  const void      *x, *w, *bias;
  void            *y;
  float            alpha;
  bool             failed;
} GemmRun;

static void
run_gemm (void *arg)
{
  GemmRun *run = arg;
  RlCudaError error = { 0 };
  if (run->failed)
    return;
  if (!rl_cuda_gemm_run (run->gemm, &run->shape, run->x, run->w, run->bias, run->y, run->alpha,
                         0.0f, NULL, &error)) {
    fprintf (stderr, "bench-gemm: %s\n", error.message);
    run->failed = true;
  }
}

static void
print_row (const char *variant, int64_t k, int64_t n, double ours, double torch_tflops)
{
  double ratio = ours / torch_tflops;
  printf ("| %-24s | %5lld x %5lld x %5lld | %7.1f | %7.1f | %5.3f |\n", variant, (long long) M,
          (long long) k, (long long) n, ours, torch_tflops, ratio);
}

int
main (int argc, char **argv)
{
  int count = 0;
  if (cudaGetDeviceCount (&count) != cudaSuccess || count < 1) {
    printf ("bench-gemm: no CUDA GPU visible\n");
    return 77;
  }
  char *torch_json = bench_read_file (bench_torch_arg (argc, argv));
  static const int64_t shapes[][2] = { { 5120, 5120 }, { 5120, 13824 }, { 13824, 5120 },
                                       { 5120, 15360 } };
  int64_t max_k = 13824, max_n = 15360;
  void *x = bench_random_buffer ((int64_t) M * max_k, 2, 1.0f, bench_encode_bf16);
  void *w = bench_random_buffer (max_n * 5120 > 13824 * 5120 ? max_n * 5120 : 13824 * 5120, 2,
                                 0.02f, bench_encode_bf16);
  void *bias = bench_random_buffer (max_n, 2, 0.1f, bench_encode_bf16);
  void *x8 = bench_random_buffer ((int64_t) M * max_k, 1, 200.0f, bench_encode_e4m3);
  void *w8 = bench_random_buffer (max_n * 13824, 1, 200.0f, bench_encode_e4m3);
  void *y = NULL;
  cudaMalloc (&y, (size_t) M * (size_t) max_n * 2);
  RlCudaError error = { 0 };
  RlCudaGemm *heuristic = rl_cuda_gemm_new (0, &error);
  RlCudaGemm *tuned = rl_cuda_gemm_new (0, &error);
  if (heuristic == NULL || tuned == NULL) {
    fprintf (stderr, "bench-gemm: %s\n", error.message);
    return 1;
  }
  rl_cuda_gemm_set_autotune (tuned, true);
  printf ("device: %s\n\n", bench_device_name ());
  printf ("| %-24s | %-23s | %-7s | %-7s | %-5s |\n", "GEMM (bf16 in, bf16 out)", "M x K x N",
          "ours", "torch", "ratio");
  printf ("|--------------------------|-------------------------|---------|---------|-------|\n");
  double worst = 1e9;
  for (int s = 0; s < 4; s++) {
    int64_t k = shapes[s][0], n = shapes[s][1];
    double flops = 2.0 * M * (double) k * (double) n;
    char key[64];
    snprintf (key, sizeof key, "gemm_bf16_%dx%lldx%lld", M, (long long) k, (long long) n);
    double torch_bf16 = bench_json_number (torch_json, key);
    snprintf (key, sizeof key, "gemm_fp8_%dx%lldx%lld", M, (long long) k, (long long) n);
    double torch_fp8 = bench_json_number (torch_json, key);
    GemmRun run = {
      .gemm = heuristic, .x = x, .w = w, .bias = bias, .y = y, .alpha = 1.0f,
      .shape = { .m = M, .n = n, .k = k, .x_type = CUDA_R_16BF, .w_type = CUDA_R_16BF,
                 .y_type = CUDA_R_16BF, .bias_type = CUDA_R_16BF },
    };
    double t_heuristic = flops / (bench_median_ms (run_gemm, &run, 3, 15) * 1e-3) / 1e12;
    run.gemm = tuned;
    double t_tuned = flops / (bench_median_ms (run_gemm, &run, 3, 15) * 1e-3) / 1e12;
    run.shape.epilogue = RL_CUDA_EPILOGUE_BIAS_GELU_TANH;
    double t_gelu = flops / (bench_median_ms (run_gemm, &run, 3, 15) * 1e-3) / 1e12;
    GemmRun run8 = {
      .gemm = tuned, .x = x8, .w = w8, .y = y, .alpha = 0.01f * 0.0001f,
      .shape = { .m = M, .n = n, .k = k, .x_type = CUDA_R_8F_E4M3, .w_type = CUDA_R_8F_E4M3,
                 .y_type = CUDA_R_16BF, .bias_type = CUDA_R_16BF },
    };
    double t_fp8 = flops / (bench_median_ms (run_gemm, &run8, 3, 15) * 1e-3) / 1e12;
    if (run8.failed)
      t_fp8 = NAN;
    print_row ("heuristic", k, n, t_heuristic, torch_bf16);
    print_row ("autotuned", k, n, t_tuned, torch_bf16);
    print_row ("autotuned + bias+GELU", k, n, t_gelu, torch_bf16);
    print_row ("fp8 e4m3 (vs _scaled_mm)", k, n, t_fp8, torch_fp8);
    double best = t_tuned > t_heuristic ? t_tuned : t_heuristic;
    if (best / torch_bf16 < worst)
      worst = best / torch_bf16;
  }
  printf ("\nworst bf16 ratio vs torch.matmul: %.3f (target >= 0.95)\n", worst);
  rl_cuda_gemm_free (heuristic);
  rl_cuda_gemm_free (tuned);
  cudaFree (x); cudaFree (w); cudaFree (bias); cudaFree (x8); cudaFree (w8);
  cudaFree (y);
  free (torch_json);
  return 0;
}
