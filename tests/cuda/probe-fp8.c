/* Diagnostic, not a test: which cuBLASLt settings make an fp8 e4m3 GEMM
 * (TN, bf16 out) with per-tensor A/B scale pointers run on this GPU, and
 * whether the scales are applied. Built and run by gpu-session.sh; cuBLASLt
 * logs its errors (level 2), which name the reason for a refusal.
 *
 * The earlier probe kept both scales in one allocation (the B scale 4 bytes
 * past the A scale) and every variant was refused at cublasLtMatmul; this
 * one also tries separate 256-byte aligned scales, scales set after the
 * heuristic, an explicit scalar scale mode, and letting cublasLtMatmul pick
 * the algorithm (algo NULL). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <cublasLt.h>
#include <cuda_runtime_api.h>

enum {
  SCALES_PACKED = 1,    /* A and B scale 4 bytes apart in one buffer */
  SCALES_AFTER = 2,     /* scale pointers set after the heuristic    */
  SCALE_MODE = 4,       /* CUBLASLT_MATMUL_MATRIX_SCALE_SCALAR_32F    */
  ALGO_NULL = 8,        /* cublasLtMatmul picks the algorithm         */
  NO_SCALES = 16,
};

#define DIM 512

static void
try_variant (cublasLtHandle_t lt, const char *name, int flags, void *a, void *b, void *d,
             float *packed, float *scale_a, float *scale_b, void *ws)
{
  int m = DIM, n = DIM, k = DIM;
  cublasLtMatmulDesc_t desc;
  cublasLtMatmulDescCreate (&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F);
  cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
  cublasLtMatmulDescSetAttribute (desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta);
  cublasLtMatmulDescSetAttribute (desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb);
  float *sa = (flags & SCALES_PACKED) ? packed : scale_a;
  float *sb = (flags & SCALES_PACKED) ? packed + 1 : scale_b;
  if (flags & SCALE_MODE) {
    int32_t mode = CUBLASLT_MATMUL_MATRIX_SCALE_SCALAR_32F;
    cublasLtMatmulDescSetAttribute (desc, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, &mode, sizeof mode);
    cublasLtMatmulDescSetAttribute (desc, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, &mode, sizeof mode);
  }
  if (!(flags & (NO_SCALES | SCALES_AFTER))) {
    cublasLtMatmulDescSetAttribute (desc, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &sa, sizeof sa);
    cublasLtMatmulDescSetAttribute (desc, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &sb, sizeof sb);
  }
  cublasLtMatrixLayout_t la, lb, ld;
  cublasLtMatrixLayoutCreate (&la, CUDA_R_8F_E4M3, k, m, k);
  cublasLtMatrixLayoutCreate (&lb, CUDA_R_8F_E4M3, k, n, k);
  cublasLtMatrixLayoutCreate (&ld, CUDA_R_16BF, m, n, m);
  cublasLtMatmulPreference_t pref;
  cublasLtMatmulPreferenceCreate (&pref);
  uint64_t wsb = 32 << 20;
  cublasLtMatmulPreferenceSetAttribute (pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsb,
                                        sizeof wsb);
  cublasLtMatmulHeuristicResult_t r[4];
  int count = 0;
  cublasStatus_t h = CUBLAS_STATUS_SUCCESS;
  if (!(flags & ALGO_NULL))
    h = cublasLtMatmulAlgoGetHeuristic (lt, desc, la, lb, ld, ld, pref, 4, r, &count);
  if (flags & SCALES_AFTER) {
    cublasLtMatmulDescSetAttribute (desc, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &sa, sizeof sa);
    cublasLtMatmulDescSetAttribute (desc, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &sb, sizeof sb);
  }
  float alpha = 1, beta = 0;
  cublasStatus_t st = CUBLAS_STATUS_NOT_SUPPORTED;
  if (h == CUBLAS_STATUS_SUCCESS && (count > 0 || (flags & ALGO_NULL)))
    st = cublasLtMatmul (lt, desc, &alpha, a, la, b, lb, &beta, d, ld, d, ld,
                         (flags & ALGO_NULL) ? NULL : &r[0].algo, ws, wsb, NULL);
  cudaError_t sync = cudaDeviceSynchronize ();
  /* a = b = 1.0 (0x38) everywhere: each output is k·sa·sb = 512·0.5·0.25. */
  uint16_t bits = 0;
  cudaMemcpy (&bits, d, 2, cudaMemcpyDeviceToHost);
  uint32_t wide = (uint32_t) bits << 16;
  float first;
  memcpy (&first, &wide, 4);
  float want = (flags & NO_SCALES) ? (float) k : (float) k * 0.5f * 0.25f;
  printf ("probe-fp8 %-40s heuristic %s (%d) matmul %s sync %s y[0] %g (want %g) %s\n", name,
          cublasLtGetStatusName (h), count, cublasLtGetStatusName (st), cudaGetErrorName (sync),
          first, want, st == CUBLAS_STATUS_SUCCESS && fabsf (first - want) < 1e-3f * want
                         ? "SCALES APPLIED" : "-");
  cudaMemset (d, 0, 2 * DIM * DIM);
  cublasLtMatmulPreferenceDestroy (pref);
  cublasLtMatrixLayoutDestroy (la);
  cublasLtMatrixLayoutDestroy (lb);
  cublasLtMatrixLayoutDestroy (ld);
  cublasLtMatmulDescDestroy (desc);
}

int
main (void)
{
  int runtime = 0;
  cudaRuntimeGetVersion (&runtime);
  printf ("probe-fp8: cuBLASLt %zu, CUDA runtime %d\n", cublasLtGetVersion (), runtime);
  cublasLtLoggerSetLevel (2);
  cublasLtHandle_t lt;
  cublasLtCreate (&lt);
  void *a, *b, *d, *ws;
  float *packed, *scale_a, *scale_b;
  cudaMalloc (&a, DIM * DIM); cudaMalloc (&b, DIM * DIM);
  cudaMalloc (&d, 2 * DIM * DIM); cudaMalloc (&ws, 32 << 20);
  cudaMalloc ((void **) &packed, 16);
  cudaMalloc ((void **) &scale_a, 256);
  cudaMalloc ((void **) &scale_b, 256);
  cudaMemset (a, 0x38, DIM * DIM); cudaMemset (b, 0x38, DIM * DIM);
  float two[2] = { 0.5f, 0.25f };
  cudaMemcpy (packed, two, 8, cudaMemcpyHostToDevice);
  cudaMemcpy (scale_a, &two[0], 4, cudaMemcpyHostToDevice);
  cudaMemcpy (scale_b, &two[1], 4, cudaMemcpyHostToDevice);
  try_variant (lt, "no scales", NO_SCALES, a, b, d, packed, scale_a, scale_b, ws);
  try_variant (lt, "packed scales (the earlier probe)", SCALES_PACKED, a, b, d, packed, scale_a,
               scale_b, ws);
  try_variant (lt, "separate aligned scales", 0, a, b, d, packed, scale_a, scale_b, ws);
  try_variant (lt, "separate, scalar scale mode", SCALE_MODE, a, b, d, packed, scale_a, scale_b,
               ws);
  try_variant (lt, "separate, set after heuristic", SCALES_AFTER, a, b, d, packed, scale_a,
               scale_b, ws);
  try_variant (lt, "separate, algo NULL", ALGO_NULL, a, b, d, packed, scale_a, scale_b, ws);
  try_variant (lt, "packed, algo NULL", SCALES_PACKED | ALGO_NULL, a, b, d, packed, scale_a,
               scale_b, ws);
  cublasLtDestroy (lt);
  return 0;
}
