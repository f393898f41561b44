/* Diagnostic, not a test: which cuBLASLt settings make an fp8 e4m3 GEMM
 * (TN, bf16 out) run on this GPU. Built and run by gpu-session.sh. */
#include <stdio.h>
#include <stdint.h>

#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <cublasLt.h>
#include <cuda_runtime_api.h>

static void
try_variant (cublasLtHandle_t lt, const char *name, int set_epilogue, int separate_c,
             cudaDataType_t out_type, int set_scales, int set_align, void *a, void *b, void *c,
             void *d, float *scales, void *ws)
{
  int m = 256, n = 256, k = 256;
  cublasLtMatmulDesc_t desc;
  cublasLtMatmulDescCreate (&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F);
  cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
  cublasLtMatmulDescSetAttribute (desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta);
  cublasLtMatmulDescSetAttribute (desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb);
  if (set_epilogue) {
    cublasLtEpilogue_t e = CUBLASLT_EPILOGUE_DEFAULT;
    cublasLtMatmulDescSetAttribute (desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &e, sizeof e);
  }
  if (set_scales) {
    float *sa = scales, *sb = scales + 1;
    cublasLtMatmulDescSetAttribute (desc, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &sa, sizeof sa);
    cublasLtMatmulDescSetAttribute (desc, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &sb, sizeof sb);
  }
  cublasLtMatrixLayout_t la, lb, lc;
  cublasLtMatrixLayoutCreate (&la, CUDA_R_8F_E4M3, k, m, k);
  cublasLtMatrixLayoutCreate (&lb, CUDA_R_8F_E4M3, k, n, k);
  cublasLtMatrixLayoutCreate (&lc, out_type, m, n, m);
  cublasLtMatmulPreference_t pref;
  cublasLtMatmulPreferenceCreate (&pref);
  uint64_t wsb = 32 << 20;
  cublasLtMatmulPreferenceSetAttribute (pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsb, sizeof wsb);
  if (set_align) {
    uint32_t al = 256;
    cublasLtMatmulPreferenceSetAttribute (pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al, sizeof al);
    cublasLtMatmulPreferenceSetAttribute (pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al, sizeof al);
    cublasLtMatmulPreferenceSetAttribute (pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al, sizeof al);
    cublasLtMatmulPreferenceSetAttribute (pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al, sizeof al);
  }
  cublasLtMatmulHeuristicResult_t r[4];
  int count = 0;
  cublasStatus_t h = cublasLtMatmulAlgoGetHeuristic (lt, desc, la, lb, lc, lc, pref, 4, r, &count);
  float alpha = 1, beta = 0;
  cublasStatus_t st = CUBLAS_STATUS_NOT_SUPPORTED;
  if (h == CUBLAS_STATUS_SUCCESS && count > 0)
    st = cublasLtMatmul (lt, desc, &alpha, a, la, b, lb, &beta, separate_c ? c : d, lc, d, lc,
                         &r[0].algo, ws, wsb, NULL);
  cudaError_t sync = cudaDeviceSynchronize ();
  printf ("probe-fp8 %-34s heuristic %s (%d) matmul %s sync %s\n", name,
          cublasLtGetStatusName (h), count, cublasLtGetStatusName (st), cudaGetErrorName (sync));
  cublasLtMatmulPreferenceDestroy (pref);
  cublasLtMatrixLayoutDestroy (la);
  cublasLtMatrixLayoutDestroy (lb);
  cublasLtMatrixLayoutDestroy (lc);
  cublasLtMatmulDescDestroy (desc);
}

int
main (void)
{
  cublasLtHandle_t lt;
  cublasLtCreate (&lt);
  void *a, *b, *c, *d, *ws;
  float *scales;
  cudaMalloc (&a, 1 << 20); cudaMalloc (&b, 1 << 20);
  cudaMalloc (&c, 1 << 20); cudaMalloc (&d, 1 << 20);
  cudaMalloc (&ws, 32 << 20); cudaMalloc ((void **) &scales, 16);
  cudaMemset (a, 0x38, 1 << 20); cudaMemset (b, 0x38, 1 << 20);
  float one[2] = { 1, 1 };
  cudaMemcpy (scales, one, 8, cudaMemcpyHostToDevice);
  try_variant (lt, "like the wrapper", 1, 0, CUDA_R_16BF, 1, 1, a, b, c, d, scales, ws);
  try_variant (lt, "no epilogue attribute", 0, 0, CUDA_R_16BF, 1, 1, a, b, c, d, scales, ws);
  try_variant (lt, "separate C", 1, 1, CUDA_R_16BF, 1, 1, a, b, c, d, scales, ws);
  try_variant (lt, "no alignment prefs", 1, 0, CUDA_R_16BF, 1, 0, a, b, c, d, scales, ws);
  try_variant (lt, "no scales", 1, 0, CUDA_R_16BF, 0, 1, a, b, c, d, scales, ws);
  try_variant (lt, "f32 out", 1, 0, CUDA_R_32F, 1, 1, a, b, c, d, scales, ws);
  try_variant (lt, "minimal (sample-like)", 0, 1, CUDA_R_16BF, 1, 0, a, b, c, d, scales, ws);
  cublasLtDestroy (lt);
  return 0;
}
