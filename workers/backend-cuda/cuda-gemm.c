#include "cuda-gemm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cublasLt.h declares one function with an empty parameter list. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <cublasLt.h>
#pragma GCC diagnostic pop

#include "cuda-elementwise.h"

/* Hopper's cuBLASLt kernels (split-K, stream-K) ask for up to 32 MiB. */
#define DEFAULT_WORKSPACE_BYTES  ((size_t) 32 << 20)
/* Autotuning asks the heuristic for AUTOTUNE_CANDIDATES algorithms and
 * times them in two phases. A coarse sweep (one warm-up launch, then
 * AUTOTUNE_COARSE launches under one pair of events) keeps the
 * AUTOTUNE_FINALISTS fastest plus the heuristic's first pick; these then run
 * round-robin, one launch each per round for AUTOTUNE_ROUNDS rounds, and
 * the median launch time decides. Round-robin timing puts every finalist
 * through the same clock drift (an H100 under a long bf16 product moves its
 * clock by several percent within a second), and the median ignores the odd
 * slow launch: a first version that kept the best of two short sweeps
 * picked, for 32760 x 5120 x 5120, an algorithm 9% slower in steady state
 * than the heuristic's pick. A candidate replaces the heuristic's pick only
 * when faster by more than AUTOTUNE_MARGIN. */
#define AUTOTUNE_CANDIDATES      24
#define AUTOTUNE_COARSE          2
#define AUTOTUNE_FINALISTS       4
#define AUTOTUNE_ROUNDS          9
#define AUTOTUNE_MARGIN          0.01f

/* What selects an algorithm: the shape plus the alignment of each pointer. */
typedef struct {
  RlCudaGemmShape shape;
  uint32_t        align_x, align_w, align_y, align_bias;
  bool            accumulate;      /* beta != 0: y is read */
  bool            device_scales;   /* fp8 per-tensor scales read from device memory */
} ShapeKey;

typedef struct {
  ShapeKey               key;
  cublasLtMatmulDesc_t   desc;
  cublasLtMatrixLayout_t layout_w, layout_x, layout_y;
  cublasLtMatmulAlgo_t   algo;
} CachedPlan;

struct RlCudaGemm {
  cublasLtHandle_t handle;
  void            *workspace;
  size_t           workspace_bytes;
  bool             autotune;
  int              candidate;      /* heuristic candidate taken when not autotuning */
  CachedPlan      *plans;
  int              plan_count;
  int              plan_capacity;
};

static const char *
type_name (cudaDataType_t type)
{
  switch (type) {
  case CUDA_R_32F:      return "f32";
  case CUDA_R_16F:      return "f16";
  case CUDA_R_16BF:     return "bf16";
  case CUDA_R_8F_E4M3:  return "f8_e4m3";
  case CUDA_R_8F_E5M2:  return "f8_e5m2";
  default:              return "unsupported";
  }
}

static bool
lt_check (cublasStatus_t status, RlCudaError *error, const char *what, const RlCudaGemmShape *s)
{
  if (status == CUBLAS_STATUS_SUCCESS)
    return true;
  return rl_cuda_error_set (error, status,
                            "GEMM m=%lld n=%lld k=%lld batch=%lld (%s x %s -> %s): %s failed: %s",
                            (long long) s->m, (long long) s->n, (long long) s->k,
                            (long long) s->batch, type_name (s->x_type), type_name (s->w_type),
                            type_name (s->y_type), what, cublasLtGetStatusString (status));
}

RlCudaGemm *
rl_cuda_gemm_new (size_t workspace_bytes, RlCudaError *error)
{
  RlCudaGemm *gemm = calloc (1, sizeof *gemm);
  if (gemm == NULL) {
    rl_cuda_error_set (error, cudaErrorMemoryAllocation, "out of host memory for a GEMM context");
    return NULL;
  }
  gemm->workspace_bytes = workspace_bytes ? workspace_bytes : DEFAULT_WORKSPACE_BYTES;
  /* On unless RL_CUDA_GEMM_AUTOTUNE=0. Earlier (2026-11-27 morning, H100,
   * tests/bench/bench-gemm in isolation) the heuristic's first pick was as
   * fast or faster on three of four Wan 14B shapes at 32760 rows and the
   * timed pick lost up to 13% on one, so tuning was off. In the whole
   * model it is the other way round: on 2 x H200 (tests/pool/RESULTS.md,
   * session 5) one GPU's 14B forward took the same time either way
   * (2597.4 vs 2596.8 ms) while a Ulysses 2 rank's, whose products have
   * 16380 rows, went from 1503 to 1426 ms: at half the rows the
   * heuristic's pick leaves 5-14% on the table. The price is
   * reproducibility across processes: the timed pick can differ from run
   * to run, and with it the last bits of a result; RL_CUDA_GEMM_AUTOTUNE=0
   * gives cuBLASLt's deterministic first pick (torch.matmul's). */
  const char *autotune = getenv ("RL_CUDA_GEMM_AUTOTUNE");
  gemm->autotune = autotune == NULL || strcmp (autotune, "0") != 0;
  cublasStatus_t status = cublasLtCreate (&gemm->handle);
  if (status != CUBLAS_STATUS_SUCCESS) {
    rl_cuda_error_set (error, status, "creating the cuBLASLt handle failed: %s; check the driver",
                       cublasLtGetStatusString (status));
    free (gemm);
    return NULL;
  }
  cudaError_t cuda_status = cudaMalloc (&gemm->workspace, gemm->workspace_bytes);
  if (cuda_status != cudaSuccess) {
    cudaGetLastError ();
    rl_cuda_error_set (error, cuda_status, "allocating the %zu MiB GEMM workspace failed: %s",
                       gemm->workspace_bytes >> 20, cudaGetErrorString (cuda_status));
    cublasLtDestroy (gemm->handle);
    free (gemm);
    return NULL;
  }
  return gemm;
}

static void
plan_destroy (CachedPlan *plan)
{
  if (plan->desc) cublasLtMatmulDescDestroy (plan->desc);
  if (plan->layout_w) cublasLtMatrixLayoutDestroy (plan->layout_w);
  if (plan->layout_x) cublasLtMatrixLayoutDestroy (plan->layout_x);
  if (plan->layout_y) cublasLtMatrixLayoutDestroy (plan->layout_y);
}

void
rl_cuda_gemm_free (RlCudaGemm *gemm)
{
  if (gemm == NULL)
    return;
  for (int i = 0; i < gemm->plan_count; i++)
    plan_destroy (&gemm->plans[i]);
  free (gemm->plans);
  cudaFree (gemm->workspace);
  cublasLtDestroy (gemm->handle);
  free (gemm);
}

void
rl_cuda_gemm_set_autotune (RlCudaGemm *gemm, bool autotune)
{
  gemm->autotune = autotune;
}

void
rl_cuda_gemm_set_candidate (RlCudaGemm *gemm, int index)
{
  gemm->candidate = index < 0 ? 0 : index < AUTOTUNE_CANDIDATES ? index : AUTOTUNE_CANDIDATES - 1;
}

int
rl_cuda_gemm_cached_shapes (RlCudaGemm *gemm)
{
  return gemm->plan_count;
}

static uint32_t
pointer_alignment (const void *ptr)
{
  uintptr_t address = (uintptr_t) ptr;
  uint32_t align = 256;
  while (align > 1 && address % align != 0)
    align /= 2;
  return align;
}

static bool
epilogue_has_bias (RlCudaEpilogue epilogue)
{
  return epilogue == RL_CUDA_EPILOGUE_BIAS || epilogue == RL_CUDA_EPILOGUE_BIAS_GELU_TANH
         || epilogue == RL_CUDA_EPILOGUE_BIAS_SILU;
}

static cublasLtEpilogue_t
lt_epilogue (RlCudaEpilogue epilogue)
{
  switch (epilogue) {
  case RL_CUDA_EPILOGUE_BIAS:
  case RL_CUDA_EPILOGUE_BIAS_SILU:      return CUBLASLT_EPILOGUE_BIAS;
  case RL_CUDA_EPILOGUE_GELU_TANH:      return CUBLASLT_EPILOGUE_GELU;
  case RL_CUDA_EPILOGUE_BIAS_GELU_TANH: return CUBLASLT_EPILOGUE_GELU_BIAS;
  default:                              return CUBLASLT_EPILOGUE_DEFAULT;
  }
}

/* Fills in dense defaults and checks the arguments agree. */
static bool
normalise_shape (const RlCudaGemmShape *in, RlCudaGemmShape *out, RlCudaError *error)
{
  /* Field by field: the caller's padding bytes are undefined and *out is
   * compared with memcmp as a cache key. */
  memset (out, 0, sizeof *out);
  out->m = in->m;
  out->n = in->n;
  out->k = in->k;
  out->batch = in->batch;
  out->stride_x = in->stride_x;
  out->stride_w = in->stride_w;
  out->stride_y = in->stride_y;
  out->ldx = in->ldx;
  out->ldw = in->ldw;
  out->ldy = in->ldy;
  out->x_type = in->x_type;
  out->w_type = in->w_type;
  out->y_type = in->y_type;
  out->bias_type = in->bias_type;
  out->x_km = in->x_km;
  out->w_kn = in->w_kn;
  out->epilogue = in->epilogue;
  if (out->batch <= 0)
    out->batch = 1;
  if (out->ldx == 0) out->ldx = out->x_km ? out->m : out->k;
  if (out->ldw == 0) out->ldw = out->w_kn ? out->n : out->k;
  if (out->ldy == 0) out->ldy = out->n;
  if (out->batch > 1) {
    if (out->stride_x == 0) out->stride_x = out->m * out->ldx;
    if (out->stride_y == 0) out->stride_y = out->m * out->ldy;
  } else {
    out->stride_x = out->stride_w = out->stride_y = 0;
  }
  if (!epilogue_has_bias (out->epilogue))
    out->bias_type = out->y_type;
  const RlCudaGemmShape *s = out;
  if (s->m <= 0 || s->n <= 0 || s->k <= 0)
    return lt_check (CUBLAS_STATUS_INVALID_VALUE, error, "checking sizes (all must be > 0)", s);
  if (s->ldx < (s->x_km ? s->m : s->k) || s->ldw < (s->w_kn ? s->n : s->k) || s->ldy < s->n)
    return lt_check (CUBLAS_STATUS_INVALID_VALUE, error, "checking row strides", s);
  bool fp8 = s->x_type == CUDA_R_8F_E4M3 || s->w_type == CUDA_R_8F_E4M3;
  if (fp8 && (s->x_type != CUDA_R_8F_E4M3 || s->w_type != CUDA_R_8F_E4M3 || s->w_kn || s->x_km))
    return lt_check (CUBLAS_STATUS_NOT_SUPPORTED, error,
                     "fp8 needs both inputs e4m3 and w in [n, k] (convert x to fp8 first)", s);
  if (!fp8 && s->x_type != s->w_type)
    return lt_check (CUBLAS_STATUS_NOT_SUPPORTED, error, "x and w must have one dtype", s);
  if ((s->epilogue == RL_CUDA_EPILOGUE_SILU || s->epilogue == RL_CUDA_EPILOGUE_BIAS_SILU)
      && s->ldy != s->n)
    return lt_check (CUBLAS_STATUS_NOT_SUPPORTED, error,
                     "the SiLU epilogue needs a dense y and no accumulation", s);
  return true;
}

static bool
set_batch (cublasLtMatrixLayout_t layout, int64_t batch, int64_t stride)
{
  int32_t count = (int32_t) batch;
  return cublasLtMatrixLayoutSetAttribute (layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT,
                                           &count, sizeof count) == CUBLAS_STATUS_SUCCESS
         && cublasLtMatrixLayoutSetAttribute (layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET,
                                              &stride, sizeof stride) == CUBLAS_STATUS_SUCCESS;
}

/* Column-major view of the row-major product: yᵀ[n, m] = op(w) · xᵀ, so w is
 * cuBLASLt's A (transposed when stored [n, k]) and x is B. */
static bool
build_plan (CachedPlan *plan, RlCudaError *error)
{
  const RlCudaGemmShape *s = &plan->key.shape;
  cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
  if (!lt_check (cublasLtMatmulDescCreate (&plan->desc, compute, CUDA_R_32F), error,
                 "creating the matmul descriptor", s))
    return false;
  cublasOperation_t op_w = s->w_kn ? CUBLAS_OP_N : CUBLAS_OP_T;
  cublasOperation_t op_x = s->x_km ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasLtEpilogue_t epilogue = lt_epilogue (s->epilogue);
  cublasLtMatmulDescSetAttribute (plan->desc, CUBLASLT_MATMUL_DESC_TRANSA, &op_w, sizeof op_w);
  cublasLtMatmulDescSetAttribute (plan->desc, CUBLASLT_MATMUL_DESC_TRANSB, &op_x, sizeof op_x);
  cublasLtMatmulDescSetAttribute (plan->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue,
                                  sizeof epilogue);
  if (epilogue_has_bias (s->epilogue)) {
    cudaDataType_t bias_type = s->bias_type;
    cublasLtMatmulDescSetAttribute (plan->desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type,
                                    sizeof bias_type);
  }
  uint64_t w_rows = s->w_kn ? (uint64_t) s->n : (uint64_t) s->k;
  uint64_t w_cols = s->w_kn ? (uint64_t) s->k : (uint64_t) s->n;
  if (!lt_check (cublasLtMatrixLayoutCreate (&plan->layout_w, s->w_type, w_rows, w_cols, s->ldw),
                 error, "describing w", s)
      || !lt_check (cublasLtMatrixLayoutCreate (&plan->layout_x, s->x_type,
                                                 s->x_km ? s->m : s->k, s->x_km ? s->k : s->m,
                                                 s->ldx),
                    error, "describing x", s)
      || !lt_check (cublasLtMatrixLayoutCreate (&plan->layout_y, s->y_type, s->n, s->m, s->ldy),
                    error, "describing y", s))
    return false;
  if (s->batch > 1
      && !(set_batch (plan->layout_w, s->batch, s->stride_w)
           && set_batch (plan->layout_x, s->batch, s->stride_x)
           && set_batch (plan->layout_y, s->batch, s->stride_y)))
    return lt_check (CUBLAS_STATUS_INVALID_VALUE, error, "describing the batch", s);
  return true;
}

static bool
launch (RlCudaGemm *gemm, CachedPlan *plan, const cublasLtMatmulAlgo_t *algo, const void *x,
        const void *w, void *y, float alpha, float beta, cudaStream_t stream, RlCudaError *error)
{
  cublasStatus_t status = cublasLtMatmul (gemm->handle, plan->desc, &alpha, w, plan->layout_w,
                                          x, plan->layout_x, &beta, y, plan->layout_y, y,
                                          plan->layout_y, algo, gemm->workspace,
                                          gemm->workspace_bytes, stream);
  return lt_check (status, error, "cublasLtMatmul", &plan->key.shape);
}

static int
compare_float (const void *a, const void *b)
{
  float x = *(const float *) a, y = *(const float *) b;
  return (x > y) - (x < y);
}

/* Milliseconds of `launches` back-to-back launches of one algorithm (after
 * a warm-up launch when `warm_up`), or 1e30 when a launch fails. */
static float
time_launches (RlCudaGemm *gemm, CachedPlan *plan, const cublasLtMatmulAlgo_t *algo, int launches,
               bool warm_up, const void *x, const void *w, void *y, cudaStream_t stream,
               cudaEvent_t start, cudaEvent_t end)
{
  if (warm_up && !launch (gemm, plan, algo, x, w, y, 1.0f, 0.0f, stream, NULL))
    return 1e30f;
  cudaEventRecord (start, stream);
  for (int r = 0; r < launches; r++)
    if (!launch (gemm, plan, algo, x, w, y, 1.0f, 0.0f, stream, NULL))
      return 1e30f;
  cudaEventRecord (end, stream);
  float ms = 0;
  if (cudaEventSynchronize (end) != cudaSuccess
      || cudaEventElapsedTime (&ms, start, end) != cudaSuccess)
    return 1e30f;
  return ms;
}

/* Times the candidates (see AUTOTUNE_*) and returns the index of the
 * fastest. Accumulating products would add up across trials, and a stream
 * being captured into a graph cannot be timed, so those keep the
 * heuristic's pick. */
static int
pick_fastest (RlCudaGemm *gemm, CachedPlan *plan, const cublasLtMatmulHeuristicResult_t *results,
              int count, const void *x, const void *w, void *y, cudaStream_t stream)
{
  if (!gemm->autotune || count < 2 || plan->key.accumulate)
    return 0;
  enum cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  if (cudaStreamIsCapturing (stream, &capture) != cudaSuccess
      || capture != cudaStreamCaptureStatusNone) {
    cudaGetLastError ();
    return 0;
  }
  cudaEvent_t start, end;
  if (cudaEventCreate (&start) != cudaSuccess)
    return 0;
  if (cudaEventCreate (&end) != cudaSuccess) {
    cudaEventDestroy (start);
    return 0;
  }
  float coarse[AUTOTUNE_CANDIDATES];
  for (int i = 0; i < count; i++)
    coarse[i] = results[i].state == CUBLAS_STATUS_SUCCESS
                ? time_launches (gemm, plan, &results[i].algo, AUTOTUNE_COARSE, true, x, w, y,
                                 stream, start, end)
                : 1e30f;
  /* Finalists: the heuristic's pick, then the fastest others. */
  int finalists[AUTOTUNE_FINALISTS + 1] = { 0 };
  int finalist_count = 1;
  bool taken[AUTOTUNE_CANDIDATES] = { true };
  for (int f = 0; f < AUTOTUNE_FINALISTS; f++) {
    int best = -1;
    for (int i = 1; i < count; i++)
      if (!taken[i] && coarse[i] < 1e30f && (best < 0 || coarse[i] < coarse[best]))
        best = i;
    if (best < 0)
      break;
    taken[best] = true;
    finalists[finalist_count++] = best;
  }
  float times[AUTOTUNE_FINALISTS + 1][AUTOTUNE_ROUNDS];
  for (int r = 0; r < AUTOTUNE_ROUNDS; r++)
    for (int f = 0; f < finalist_count; f++)
      times[f][r] = time_launches (gemm, plan, &results[finalists[f]].algo, 1, false, x, w, y,
                                   stream, start, end);
  float median[AUTOTUNE_FINALISTS + 1];
  for (int f = 0; f < finalist_count; f++) {
    qsort (times[f], AUTOTUNE_ROUNDS, sizeof times[f][0], compare_float);
    median[f] = times[f][AUTOTUNE_ROUNDS / 2];
  }
  int best = 0;
  for (int f = 1; f < finalist_count; f++)
    if (median[f] < median[best])
      best = f;
  if (best != 0 && median[best] > median[0] * (1.0f - AUTOTUNE_MARGIN))
    best = 0;
  cudaGetLastError ();
  cudaEventDestroy (start);
  cudaEventDestroy (end);
  return finalists[best];
}

/* With RL_CUDA_GEMM_VERBOSE=1, one stderr line per new plan: the shape,
 * which of the heuristic's candidates runs and that algorithm's
 * configuration (to compare the heuristic's pick with the autotuned one). */
static void
report_choice (const CachedPlan *plan, const cublasLtMatmulAlgo_t *algo, int pick, int count)
{
  const char *env = getenv ("RL_CUDA_GEMM_VERBOSE");
  if (env == NULL || strcmp (env, "1") != 0)
    return;
  int32_t id = 0;
  uint32_t tile = 0, splitk = 0, reduction = 0, swizzle = 0, stages = 0;
  uint16_t cluster = 0;
  size_t written = 0;
  cublasLtMatmulAlgoConfigGetAttribute (algo, CUBLASLT_ALGO_CONFIG_ID, &id, sizeof id, &written);
  cublasLtMatmulAlgoConfigGetAttribute (algo, CUBLASLT_ALGO_CONFIG_TILE_ID, &tile, sizeof tile,
                                        &written);
  cublasLtMatmulAlgoConfigGetAttribute (algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &splitk,
                                        sizeof splitk, &written);
  cublasLtMatmulAlgoConfigGetAttribute (algo, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME, &reduction,
                                        sizeof reduction, &written);
  cublasLtMatmulAlgoConfigGetAttribute (algo, CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING, &swizzle,
                                        sizeof swizzle, &written);
  cublasLtMatmulAlgoConfigGetAttribute (algo, CUBLASLT_ALGO_CONFIG_STAGES_ID, &stages,
                                        sizeof stages, &written);
  cublasLtMatmulAlgoConfigGetAttribute (algo, CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID, &cluster,
                                        sizeof cluster, &written);
  const RlCudaGemmShape *s = &plan->key.shape;
  fprintf (stderr, "raylight gemm m=%lld n=%lld k=%lld batch=%lld %s: candidate %d of %d, "
           "algo %d tile %u stages %u split-k %u reduction %u swizzle %u cluster %u\n",
           (long long) s->m, (long long) s->n, (long long) s->k, (long long) s->batch,
           type_name (s->x_type), pick, count, (int) id, tile, stages, splitk, reduction, swizzle,
           (unsigned) cluster);
}

static bool
choose_algorithm (RlCudaGemm *gemm, CachedPlan *plan, const void *x, const void *w, void *y,
                  cudaStream_t stream, RlCudaError *error)
{
  const ShapeKey *key = &plan->key;
  cublasLtMatmulPreference_t preference;
  if (!lt_check (cublasLtMatmulPreferenceCreate (&preference), error, "creating a preference",
                 &key->shape))
    return false;
  uint64_t workspace = gemm->workspace_bytes;
  cublasLtMatmulPreferenceSetAttribute (preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                        &workspace, sizeof workspace);
  cublasLtMatmulPreferenceSetAttribute (preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES,
                                        &key->align_w, sizeof key->align_w);
  cublasLtMatmulPreferenceSetAttribute (preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                                        &key->align_x, sizeof key->align_x);
  cublasLtMatmulPreferenceSetAttribute (preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES,
                                        &key->align_y, sizeof key->align_y);
  cublasLtMatmulPreferenceSetAttribute (preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES,
                                        &key->align_y, sizeof key->align_y);
  cublasLtMatmulHeuristicResult_t results[AUTOTUNE_CANDIDATES];
  int count = 0;
  cublasStatus_t status = cublasLtMatmulAlgoGetHeuristic (
    gemm->handle, plan->desc, plan->layout_w, plan->layout_x, plan->layout_y, plan->layout_y,
    preference, gemm->autotune ? AUTOTUNE_CANDIDATES : gemm->candidate + 1, results, &count);
  cublasLtMatmulPreferenceDestroy (preference);
  if (status == CUBLAS_STATUS_SUCCESS && count == 0)
    status = CUBLAS_STATUS_NOT_SUPPORTED;
  if (!lt_check (status, error, "finding an algorithm (unsupported dtype mix, epilogue or alignment)",
                 &key->shape))
    return false;
  int pick = gemm->autotune ? pick_fastest (gemm, plan, results, count, x, w, y, stream)
                            : (gemm->candidate < count ? gemm->candidate : count - 1);
  plan->algo = results[pick].algo;
  report_choice (plan, &plan->algo, pick, count);
  return true;
}

static CachedPlan *
find_plan (RlCudaGemm *gemm, const ShapeKey *key)
{
  for (int i = 0; i < gemm->plan_count; i++)
    if (memcmp (&gemm->plans[i].key, key, sizeof *key) == 0)
      return &gemm->plans[i];
  return NULL;
}

/* Points the plan's descriptor at this call's bias and scales (w is
 * cuBLASLt's A, x its B). */
static void
bind_pointers (CachedPlan *plan, const void *bias, const float *x_scale, const float *w_scale)
{
  if (epilogue_has_bias (plan->key.shape.epilogue))
    cublasLtMatmulDescSetAttribute (plan->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias,
                                    sizeof bias);
  if (plan->key.device_scales) {
    cublasLtMatmulDescSetAttribute (plan->desc, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &w_scale,
                                    sizeof w_scale);
    cublasLtMatmulDescSetAttribute (plan->desc, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &x_scale,
                                    sizeof x_scale);
  }
}

static CachedPlan *
add_plan (RlCudaGemm *gemm, const ShapeKey *key, const void *x, const float *x_scale,
          const void *w, const float *w_scale, const void *bias, void *y, cudaStream_t stream,
          RlCudaError *error)
{
  CachedPlan plan;
  memset (&plan, 0, sizeof plan);
  plan.key = *key;
  bool built = build_plan (&plan, error);
  if (built)
    bind_pointers (&plan, bias, x_scale, w_scale);
  if (!built || !choose_algorithm (gemm, &plan, x, w, y, stream, error)) {
    plan_destroy (&plan);
    return NULL;
  }
  if (gemm->plan_count == gemm->plan_capacity) {
    int capacity = gemm->plan_capacity ? gemm->plan_capacity * 2 : 16;
    CachedPlan *plans = realloc (gemm->plans, (size_t) capacity * sizeof *plans);
    if (plans == NULL) {
      plan_destroy (&plan);
      rl_cuda_error_set (error, cudaErrorMemoryAllocation, "out of host memory for GEMM plans");
      return NULL;
    }
    gemm->plans = plans;
    gemm->plan_capacity = capacity;
  }
  gemm->plans[gemm->plan_count] = plan;
  return &gemm->plans[gemm->plan_count++];
}

static bool
run_product (RlCudaGemm *gemm, const RlCudaGemmShape *shape, const void *x, const float *x_scale,
             const void *w, const float *w_scale, const void *bias, void *y, float alpha,
             float beta, cudaStream_t stream, RlCudaError *error)
{
  if (gemm == NULL || shape == NULL || x == NULL || w == NULL || y == NULL)
    return rl_cuda_error_set (error, cudaErrorInvalidValue, "GEMM: NULL context, shape or buffer");
  ShapeKey key;
  memset (&key, 0, sizeof key); /* padding bytes take part in memcmp */
  if (!normalise_shape (shape, &key.shape, error))
    return false;
  key.device_scales = x_scale != NULL || w_scale != NULL;
  if (key.device_scales) {
    if (x_scale == NULL || w_scale == NULL || key.shape.x_type != CUDA_R_8F_E4M3)
      return lt_check (CUBLAS_STATUS_INVALID_VALUE, error,
                       "checking scales (device scales need fp8 inputs and both scales)",
                       &key.shape);
    if ((uintptr_t) x_scale % 16 != 0 || (uintptr_t) w_scale % 16 != 0)
      return lt_check (CUBLAS_STATUS_INVALID_VALUE, error,
                       "checking scales (each must be 16-byte aligned; cuBLASLt refuses the "
                       "product otherwise)", &key.shape);
  }
  bool has_bias = epilogue_has_bias (key.shape.epilogue);
  if (has_bias && bias == NULL)
    return lt_check (CUBLAS_STATUS_INVALID_VALUE, error, "checking bias (epilogue needs one)",
                     &key.shape);
  key.align_x = pointer_alignment (x);
  key.align_w = pointer_alignment (w);
  key.align_y = pointer_alignment (y);
  key.align_bias = has_bias ? pointer_alignment (bias) : 0;
  key.accumulate = beta != 0.0f;
  CachedPlan *plan = find_plan (gemm, &key);
  if (plan == NULL) {
    plan = add_plan (gemm, &key, x, x_scale, w, w_scale, bias, y, stream, error);
    if (plan == NULL)
      return false;
  }
  bind_pointers (plan, bias, x_scale, w_scale);
  if (!launch (gemm, plan, &plan->algo, x, w, y, alpha, beta, stream, error))
    return false;
  if (key.shape.epilogue == RL_CUDA_EPILOGUE_SILU || key.shape.epilogue == RL_CUDA_EPILOGUE_BIAS_SILU) {
    int64_t count = key.shape.m * key.shape.n
                    + (key.shape.batch - 1) * key.shape.stride_y;
    cudaError_t status = rl_cuda_unary (rl_cuda_pointwise (RL_CUDA_UNARY_SILU), y,
                                        key.shape.y_type, y, key.shape.y_type, count, stream);
    if (status != cudaSuccess)
      return rl_cuda_error_set (error, status, "GEMM SiLU epilogue launch failed: %s",
                                cudaGetErrorString (status));
  }
  return true;
}

bool
rl_cuda_gemm_run (RlCudaGemm *gemm, const RlCudaGemmShape *shape, const void *x, const void *w,
                  const void *bias, void *y, float alpha, float beta,
                  cudaStream_t stream, RlCudaError *error)
{
  return run_product (gemm, shape, x, NULL, w, NULL, bias, y, alpha, beta, stream, error);
}

bool
rl_cuda_gemm_run_scaled (RlCudaGemm *gemm, const RlCudaGemmShape *shape, const void *x,
                         const float *x_scale, const void *w, const float *w_scale,
                         const void *bias, void *y, float alpha, float beta, cudaStream_t stream,
                         RlCudaError *error)
{
  if (x_scale == NULL || w_scale == NULL)
    return rl_cuda_error_set (error, cudaErrorInvalidValue, "GEMM: NULL fp8 scale pointer");
  return run_product (gemm, shape, x, x_scale, w, w_scale, bias, y, alpha, beta, stream, error);
}
