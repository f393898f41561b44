/* The CUDA backend's own building blocks: the caching allocator (binning,
 * reuse without cudaMalloc, stats), streams/events, and the cuBLASLt
 * wrapper on paths the op table does not take (fp8 tensor cores with
 * device scales, autotuned plans, the plan cache). Exits 77 without a GPU. */
#include <cuda_runtime_api.h>

#include "tests/cuda/cuda-test-util.h"
#include "workers/backend-cuda/cuda-allocator.h"
#include "workers/backend-cuda/cuda-elementwise.h"
#include "workers/backend-cuda/cuda-gemm.h"
#include "workers/backend-cuda/cuda-stream.h"

static void
test_allocator_rounding (void)
{
  size_t last = 0;
  for (size_t bytes = 1; bytes < ((size_t) 1 << 34); bytes = bytes * 3 / 2 + 1) {
    size_t rounded = rl_cuda_allocator_round_size (bytes);
    PT_CHECK (rounded >= bytes && rounded >= 512, "%zu rounds to %zu", bytes, rounded);
    PT_CHECK (rounded <= bytes + bytes / 8 + 512, "%zu rounds to %zu: more than 12.5%% slack",
              bytes, rounded);
    PT_CHECK (rounded >= last, "rounding is not monotonic at %zu", bytes);
    last = rounded;
  }
}

static void
test_allocator_reuse (void)
{
  RlCudaAllocator *allocator = rl_cuda_allocator_new (0);
  cudaStream_t stream;
  RlCudaError error = { 0 };
  PT_REQUIRE (rl_cuda_stream_new (&stream, false, &error), "%s", error.message);
  size_t sizes[6];
  void *blocks[6];
  for (int i = 0; i < 6; i++) {
    sizes[i] = (size_t) ct_int (1, 1 << 22);
    blocks[i] = rl_cuda_allocator_alloc (allocator, sizes[i], stream, &error);
    PT_REQUIRE (blocks[i] != NULL, "%s", error.message);
    PT_CHECK ((uintptr_t) blocks[i] % 256 == 0, "block %d misaligned", i);
    PT_CHECK (cudaMemsetAsync (blocks[i], i, sizes[i], stream) == cudaSuccess, "memset %d", i);
  }
  RlCudaAllocatorStats stats;
  rl_cuda_allocator_get_stats (allocator, &stats);
  PT_CHECK (stats.malloc_calls == 6 && stats.in_use_bytes == stats.peak_in_use_bytes,
            "malloc_calls %llu", (unsigned long long) stats.malloc_calls);
  uint64_t peak = stats.peak_in_use_bytes;
  for (int i = 0; i < 6; i++)
    PT_CHECK (rl_cuda_allocator_release (allocator, blocks[i], stream), "release %d", i);
  PT_CHECK (!rl_cuda_allocator_release (allocator, (char *) blocks[0] + 1, stream),
            "an unknown pointer was accepted");
  /* Same sizes again on the same stream: all from the cache. */
  for (int i = 0; i < 6; i++) {
    blocks[i] = rl_cuda_allocator_alloc (allocator, sizes[i], stream, &error);
    PT_REQUIRE (blocks[i] != NULL, "%s", error.message);
  }
  rl_cuda_allocator_get_stats (allocator, &stats);
  PT_CHECK (stats.malloc_calls == 6, "reuse called cudaMalloc: %llu calls",
            (unsigned long long) stats.malloc_calls);
  PT_CHECK (stats.peak_in_use_bytes == peak && stats.cached_bytes == 0, "stats drifted");
  for (int i = 0; i < 6; i++)
    rl_cuda_allocator_release (allocator, blocks[i], stream);
  rl_cuda_allocator_get_stats (allocator, &stats);
  PT_CHECK (stats.in_use_bytes == 0 && stats.cached_bytes == stats.reserved_bytes,
            "in use %llu after releasing everything", (unsigned long long) stats.in_use_bytes);
  rl_cuda_allocator_trim (allocator);
  rl_cuda_allocator_get_stats (allocator, &stats);
  PT_CHECK (stats.reserved_bytes == 0, "trim kept %llu bytes", (unsigned long long) stats.reserved_bytes);
  PT_CHECK (rl_cuda_stream_sync (stream, &error), "%s", error.message);
  rl_cuda_stream_free (stream);
  rl_cuda_allocator_free (allocator);
}

static void
test_allocator_oom_message (void)
{
  RlCudaAllocator *allocator = rl_cuda_allocator_new (0);
  RlCudaError error = { 0 };
  void *ptr = rl_cuda_allocator_alloc (allocator, (size_t) 1 << 50, NULL, &error);
  PT_CHECK (ptr == NULL && strstr (error.message, "out of device memory") != NULL,
            "a petabyte allocation gave %p: %s", ptr, error.message);
  rl_cuda_allocator_free (allocator);
}

/* Host reference y[m, n] = Σ_k x[m, k] · w[n, k] in double. */
static void
reference_product (const float *x, const float *w, int64_t m, int64_t n, int64_t k, double *y)
{
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      double acc = 0.0;
      for (int64_t l = 0; l < k; l++)
        acc += (double) x[i * k + l] * (double) w[j * k + l];
      y[i * n + j] = acc;
    }
}

static double
relative_error (const float *got, const double *want, int64_t n)
{
  double diff = 0, norm = 0;
  for (int64_t i = 0; i < n; i++) {
    if (!isfinite (got[i]))
      return INFINITY;
    diff += (got[i] - want[i]) * (got[i] - want[i]);
    norm += want[i] * want[i];
  }
  return sqrt (diff / norm);
}

/* fp8 e4m3 x and w through cuBLASLt's fp8 path with the per-tensor scales
 * folded into alpha, autotuned; compared with the dequantised product in
 * double. */
static void
test_gemm_fp8 (void)
{
  int64_t m = 16 * ct_int (1, 8), n = 16 * ct_int (1, 8), k = 16 * ct_int (2, 16);
  float sx = 0.02f, sw = 0.003f;
  uint8_t *hx = malloc ((size_t) (m * k)), *hw = malloc ((size_t) (n * k));
  float *fx = malloc ((size_t) (m * k) * sizeof (float)), *fw = malloc ((size_t) (n * k) * sizeof (float));
  for (int64_t i = 0; i < m * k; i++) {
    hx[i] = rl_f32_to_f8_e4m3fn (ct_value () * 300.0f);
    fx[i] = rl_f8_e4m3fn_to_f32 (hx[i]) * sx;
  }
  for (int64_t i = 0; i < n * k; i++) {
    hw[i] = rl_f32_to_f8_e4m3fn (ct_value () * 300.0f);
    fw[i] = rl_f8_e4m3fn_to_f32 (hw[i]) * sw;
  }
  double *want = malloc ((size_t) (m * n) * sizeof (double));
  reference_product (fx, fw, m, n, k, want);
  void *dx, *dw, *dy;
  cudaMalloc (&dx, (size_t) (m * k));
  cudaMalloc (&dw, (size_t) (n * k));
  cudaMalloc (&dy, (size_t) (m * n) * sizeof (float));
  cudaMemcpy (dx, hx, (size_t) (m * k), cudaMemcpyHostToDevice);
  cudaMemcpy (dw, hw, (size_t) (n * k), cudaMemcpyHostToDevice);
  cudaMemset (dy, 0xff, (size_t) (m * n) * sizeof (float)); /* NaN poison */
  RlCudaError error = { 0 };
  RlCudaGemm *gemm = rl_cuda_gemm_new (0, &error);
  PT_REQUIRE (gemm != NULL, "%s", error.message);
  rl_cuda_gemm_set_autotune (gemm, true);
  RlCudaGemmShape shape = {
    .m = m, .n = n, .k = k, .x_type = CUDA_R_8F_E4M3, .w_type = CUDA_R_8F_E4M3,
    .y_type = CUDA_R_16BF, .bias_type = CUDA_R_16BF,
  };
  /* bf16 output first, then f32 through a conversion, as the op layer does */
  void *dy16;
  cudaMalloc (&dy16, (size_t) (m * n) * 2);
  bool ok = rl_cuda_gemm_run (gemm, &shape, dx, dw, NULL, dy16, sx * sw, 0.0f, NULL, &error);
  PT_CHECK (ok, "fp8 gemm: %s", error.message);
  if (ok) {
    PT_CHECK (rl_cuda_unary (rl_cuda_pointwise (RL_CUDA_UNARY_COPY), dy, CUDA_R_32F, dy16,
                             CUDA_R_16BF, m * n, NULL) == cudaSuccess, "convert");
    float *got = malloc ((size_t) (m * n) * sizeof (float));
    cudaMemcpy (got, dy, (size_t) (m * n) * sizeof (float), cudaMemcpyDeviceToHost);
    double err = relative_error (got, want, m * n);
    printf ("# fp8 e4m3 gemm %lldx%lldx%lld rel err %.3g\n", (long long) m, (long long) n,
            (long long) k, err);
    PT_CHECK (err <= 1e-2, "fp8 gemm relative error %g", err);
    free (got);
  }
  /* Same shape again hits the plan cache; a new shape adds one plan. */
  int before = rl_cuda_gemm_cached_shapes (gemm);
  rl_cuda_gemm_run (gemm, &shape, dx, dw, NULL, dy16, sx * sw, 0.0f, NULL, &error);
  PT_CHECK (rl_cuda_gemm_cached_shapes (gemm) == before, "a repeated shape added a plan");
  /* The same product with the scales on the device (cuBLASLt scale
   * pointers, each its own aligned allocation) and alpha 1. */
  float *scales = NULL;
  PT_REQUIRE (cudaMalloc ((void **) &scales, 64) == cudaSuccess, "cudaMalloc scales");
  float host_scales[2] = { sx, sw };
  cudaMemcpy (scales, &host_scales[0], 4, cudaMemcpyHostToDevice);
  cudaMemcpy (scales + 8, &host_scales[1], 4, cudaMemcpyHostToDevice);
  cudaMemset (dy16, 0xff, (size_t) (m * n) * 2);
  ok = rl_cuda_gemm_run_scaled (gemm, &shape, dx, scales, dw, scales + 8, NULL, dy16, 1.0f, 0.0f,
                                NULL, &error);
  PT_CHECK (ok, "fp8 gemm with device scales: %s", error.message);
  if (ok) {
    PT_CHECK (rl_cuda_unary (rl_cuda_pointwise (RL_CUDA_UNARY_COPY), dy, CUDA_R_32F, dy16,
                             CUDA_R_16BF, m * n, NULL) == cudaSuccess, "convert");
    float *got = malloc ((size_t) (m * n) * sizeof (float));
    cudaMemcpy (got, dy, (size_t) (m * n) * sizeof (float), cudaMemcpyDeviceToHost);
    double err = relative_error (got, want, m * n);
    printf ("# fp8 e4m3 gemm, device scale pointers: rel err %.3g\n", err);
    PT_CHECK (err <= 1e-2, "fp8 gemm (device scales) relative error %g", err);
    free (got);
  }
  /* A scale 4 bytes past the other (what cuBLASLt refuses) is caught first. */
  ok = rl_cuda_gemm_run_scaled (gemm, &shape, dx, scales, dw, scales + 1, NULL, dy16, 1.0f, 0.0f,
                                NULL, &error);
  PT_CHECK (!ok && strstr (error.message, "16-byte") != NULL, "misaligned scale: %s",
            ok ? "accepted" : error.message);
  cudaFree (scales);
  /* fp8 x with a bf16 w is refused with a message naming the shape. */
  RlCudaGemmShape mixed = shape;
  mixed.w_type = CUDA_R_16BF;
  ok = rl_cuda_gemm_run (gemm, &mixed, dx, dw, NULL, dy16, 1.0f, 0.0f, NULL, &error);
  PT_CHECK (!ok && strstr (error.message, "fp8") != NULL && strstr (error.message, "m=") != NULL,
            "mixed fp8: %s", error.message);
  rl_cuda_gemm_free (gemm);
  cudaFree (dx); cudaFree (dw); cudaFree (dy); cudaFree (dy16);
  free (hx); free (hw); free (fx); free (fw); free (want);
}

/* f32 products with bias + GELU and with SiLU through the raw wrapper. */
static void
test_gemm_epilogues (void)
{
  int64_t m = ct_int (1, 64), n = 8 * ct_int (1, 16), k = 8 * ct_int (1, 16);
  float *x = malloc ((size_t) (m * k) * sizeof (float)), *w = malloc ((size_t) (n * k) * sizeof (float));
  float *b = malloc ((size_t) n * sizeof (float)), *got = malloc ((size_t) (m * n) * sizeof (float));
  double *want = malloc ((size_t) (m * n) * sizeof (double));
  for (int64_t i = 0; i < m * k; i++) x[i] = ct_value ();
  for (int64_t i = 0; i < n * k; i++) w[i] = ct_value () * 0.3f;
  for (int64_t i = 0; i < n; i++) b[i] = ct_value ();
  void *dx, *dw, *db, *dy;
  cudaMalloc (&dx, (size_t) (m * k) * 4); cudaMalloc (&dw, (size_t) (n * k) * 4);
  cudaMalloc (&db, (size_t) n * 4); cudaMalloc (&dy, (size_t) (m * n) * 4);
  cudaMemcpy (dx, x, (size_t) (m * k) * 4, cudaMemcpyHostToDevice);
  cudaMemcpy (dw, w, (size_t) (n * k) * 4, cudaMemcpyHostToDevice);
  cudaMemcpy (db, b, (size_t) n * 4, cudaMemcpyHostToDevice);
  RlCudaError error = { 0 };
  RlCudaGemm *gemm = rl_cuda_gemm_new (0, &error);
  PT_REQUIRE (gemm != NULL, "%s", error.message);
  static const RlCudaEpilogue epilogues[] = { RL_CUDA_EPILOGUE_BIAS_GELU_TANH, RL_CUDA_EPILOGUE_SILU };
  for (int e = 0; e < 2; e++) {
    reference_product (x, w, m, n, k, want);
    for (int64_t i = 0; i < m * n; i++) {
      double v = want[i];
      if (e == 0) {
        v += b[i % n];
        v = 0.5 * v * (1.0 + tanh (0.7978845608028654 * (v + 0.044715 * v * v * v)));
      } else {
        v = v / (1.0 + exp (-v));
      }
      want[i] = v;
    }
    cudaMemset (dy, 0xff, (size_t) (m * n) * 4);
    RlCudaGemmShape shape = {
      .m = m, .n = n, .k = k, .x_type = CUDA_R_32F, .w_type = CUDA_R_32F,
      .y_type = CUDA_R_32F, .bias_type = CUDA_R_32F, .epilogue = epilogues[e],
    };
    bool ok = rl_cuda_gemm_run (gemm, &shape, dx, dw, db, dy, 1.0f, 0.0f, NULL, &error);
    PT_CHECK (ok, "%s", error.message);
    cudaMemcpy (got, dy, (size_t) (m * n) * 4, cudaMemcpyDeviceToHost);
    double err = relative_error (got, want, m * n);
    printf ("# f32 gemm epilogue %d rel err %.3g\n", e, err);
    PT_CHECK (err <= 1e-5, "epilogue %d relative error %g", e, err);
  }
  rl_cuda_gemm_free (gemm);
  cudaFree (dx); cudaFree (dw); cudaFree (db); cudaFree (dy);
  free (x); free (w); free (b); free (got); free (want);
}

static void
test_events (void)
{
  cudaStream_t a, b;
  cudaEvent_t start, end;
  RlCudaError error = { 0 };
  PT_REQUIRE (rl_cuda_stream_new (&a, true, &error) && rl_cuda_stream_new (&b, false, &error),
              "%s", error.message);
  PT_REQUIRE (rl_cuda_event_new (&start, true, &error) && rl_cuda_event_new (&end, true, &error),
              "%s", error.message);
  int64_t n = 1 << 22;
  void *buf;
  cudaMalloc (&buf, (size_t) n * 4);
  /* fill on a, wait on b, read on b: the ordering makes the value visible */
  PT_CHECK (rl_cuda_event_record (start, a, &error), "%s", error.message);
  rl_cuda_fill (buf, CUDA_R_32F, n, 3.5f, a);
  PT_CHECK (rl_cuda_event_record (end, a, &error), "%s", error.message);
  PT_CHECK (rl_cuda_stream_wait (b, end, &error), "%s", error.message);
  float last = 0;
  cudaMemcpyAsync (&last, (float *) buf + n - 1, 4, cudaMemcpyDeviceToHost, b);
  PT_CHECK (rl_cuda_stream_sync (b, &error), "%s", error.message);
  PT_CHECK (last == 3.5f, "ordered read saw %g", last);
  float ms = -1;
  PT_CHECK (rl_cuda_event_elapsed_ms (start, end, &ms, &error) && ms >= 0, "%s", error.message);
  cudaFree (buf);
  rl_cuda_event_free (start); rl_cuda_event_free (end);
  rl_cuda_stream_free (a); rl_cuda_stream_free (b);
}

int
main (void)
{
  if (rl_cuda_device_count () < 1)
    pt_skip_all ("no CUDA GPU visible");
  ct_seed ();
  PT_RUN (test_allocator_rounding);
  PT_RUN (test_allocator_reuse);
  PT_RUN (test_allocator_oom_message);
  PT_RUN (test_gemm_fp8);
  PT_RUN (test_gemm_epilogues);
  PT_RUN (test_events);
  return pt_finish ();
}
