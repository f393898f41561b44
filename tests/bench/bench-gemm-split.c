/* GEMM throughput when sequence parallelism splits the tokens: Wan 14B's
 * linear layers at M = 32760 (one GPU, 832×480×81) and at the rows one
 * rank holds under Ulysses 2 and 4 (16380, 8190), through the CUDA
 * backend's cuBLASLt wrapper:
 *
 *   RL_CUDA_GEMM_VERBOSE=1 build/tests/bench/bench-gemm-split [CANDIDATES]
 *
 * For each shape it times the heuristic's first CANDIDATES algorithms
 * (default 6) one by one and the autotuned pick, and prints TFLOP/s next
 * to the heuristic pick's rate at M = 32760 (a split rank should reach the
 * same rate; issue 5 needs Ulysses 2 within 1.85x of one GPU). With
 * RL_CUDA_GEMM_VERBOSE=1 the wrapper also prints each algorithm's
 * configuration (tile, stages, split-k, cluster). Not a test: timing never
 * decides pass/fail. */
#include <stdbool.h>
#include <stdlib.h>

#include "tests/bench/bench-ops-util.h"
#include "tests/bench/bench-gemm-run.h"

#define WARMUP  5
#define REPEATS 20
#define MAX_CANDIDATES 12

/* TFLOP/s of the median run of one GEMM context on one shape. */
static double
rate (RlCudaGemm *gemm, int64_t m, int64_t k, int64_t n, const void *x, const void *w, void *y)
{
  GemmRun run = {
    .gemm = gemm, .x = x, .w = w, .y = y, .alpha = 1.0f,
    .shape = { .m = m, .n = n, .k = k, .x_type = CUDA_R_16BF, .w_type = CUDA_R_16BF,
               .y_type = CUDA_R_16BF },
  };
  BenchTiming t = bench_time (bench_run_gemm, &run, WARMUP, REPEATS);
  return run.failed ? 0.0 : 2.0 * (double) m * (double) k * (double) n / (t.median_ms * 1e-3)
                            / 1e12;
}

int
main (int argc, char **argv)
{
  int devices = 0;
  if (cudaGetDeviceCount (&devices) != cudaSuccess || devices < 1) {
    printf ("bench-gemm-split: no CUDA GPU visible\n");
    return 77;
  }
  int candidates = argc > 1 ? atoi (argv[1]) : 6;
  if (candidates < 1 || candidates > MAX_CANDIDATES)
    candidates = 6;
  static const int64_t shapes[][2] = { { 5120, 5120 }, { 5120, 13824 }, { 13824, 5120 } };
  static const int64_t rows[] = { 32760, 16380, 8190 };
  void *x = bench_random_buffer ((int64_t) 32760 * 13824, 2, 1.0f, bench_encode_bf16);
  void *w = bench_random_buffer ((int64_t) 13824 * 5120, 2, 0.02f, bench_encode_bf16);
  void *y = NULL;
  if (x == NULL || w == NULL || cudaMalloc (&y, (size_t) 32760 * 13824 * 2) != cudaSuccess) {
    fprintf (stderr, "bench-gemm-split: out of device memory\n");
    return 1;
  }
  printf ("device: %s\nTFLOP/s, median of %d runs after %d warm-up runs; \"x full\": against "
          "the heuristic pick at M = 32760\n\n", bench_device_name (), REPEATS, WARMUP);
  printf ("| %-21s | %-9s | %-7s | %-6s |\n", "M x K x N", "algorithm", "TFLOP/s", "x full");
  printf ("|-----------------------|-----------|---------|--------|\n");
  for (int s = 0; s < 3; s++) {
    int64_t k = shapes[s][0], n = shapes[s][1];
    double full = 0.0;
    for (int r = 0; r < 3; r++) {
      int64_t m = rows[r];
      for (int c = 0; c <= candidates; c++) {
        RlCudaError error = { 0 };
        RlCudaGemm *gemm = rl_cuda_gemm_new (0, &error);
        if (gemm == NULL) {
          fprintf (stderr, "bench-gemm-split: %s\n", error.message);
          return 1;
        }
        bool tuned = c == candidates;
        rl_cuda_gemm_set_autotune (gemm, tuned);
        if (!tuned)
          rl_cuda_gemm_set_candidate (gemm, c);
        double tflops = rate (gemm, m, k, n, x, w, y);
        rl_cuda_gemm_free (gemm);
        if (r == 0 && c == 0)
          full = tflops;
        char name[16];
        snprintf (name, sizeof name, tuned ? "autotuned" : "heur. %d", c);
        printf ("| %5lld x %5lld x %5lld | %-9s | %7.1f | %6.3f |\n", (long long) m,
                (long long) k, (long long) n, name, tflops, full > 0.0 ? tflops / full : 0.0);
        fflush (stdout);
      }
    }
  }
  cudaFree (x);
  cudaFree (w);
  cudaFree (y);
  return 0;
}
