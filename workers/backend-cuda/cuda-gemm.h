/* Matrix products through cuBLASLt.
 *
 * Shapes use the row-major convention of nn.Linear:
 *
 *   y[m, n] = epilogue (alpha · x[m, k] · w[n, k]ᵀ + bias[n]) + beta · y
 *
 * where x may instead be stored [k, m] (x_km) and w [k, n] (w_kn),
 * optionally over `batch` strided batches.
 * Inputs are f32 (computed in true fp32, no TF32, for parity with the CPU
 * backend), f16 or bf16 (fp32 accumulation), or fp8 e4m3 for both x and w
 * (fp8 tensor cores; Hopper requires the nn.Linear layout, i.e. cuBLASLt's
 * TN). Per-tensor fp8 scales known on the host go into alpha (alpha = sx·sw,
 * the same f32 multiply of the accumulator that cuBLASLt's scale pointers
 * do, without device buffers to keep); scales that live on the device (an
 * amax computed there) go through rl_cuda_gemm_run_scaled, which hands
 * them to cuBLASLt as A/B scale pointers. cuBLASLt 13.0/13.1 on an H100
 * accepts those only when each scale is its own 16-byte aligned location:
 * with the B scale 4 bytes past the A scale every fp8 algorithm answered
 * CUBLAS_STATUS_NOT_SUPPORTED at cublasLtMatmul (tests/cuda/probe-fp8.c,
 * 2026-11-27). Algorithms come from cuBLASLt's
 * heuristic and are cached per shape, dtypes and pointer alignment, so a
 * repeated shape costs no host-side search. Autotuning is on by default
 * (rl_cuda_gemm_set_autotune; RL_CUDA_GEMM_AUTOTUNE=0 turns it off): the
 * first call of a shape times the heuristic's top 24 candidates on the
 * caller's buffers and keeps the fastest, once per context; calls that
 * accumulate (beta != 0) or run while the stream is captured into a graph
 * keep the heuristic's pick. Whole-model timings decided the default
 * (cuda-gemm.c): same speed on full-length products, 5% faster a
 * sequence-parallel rank's forward.
 *
 * cuBLASLt has no SiLU epilogue: RL_CUDA_EPILOGUE_*SILU runs the product
 * (with bias) then one in-place SiLU pass over y.
 *
 * A context is used by one host thread at a time (it owns one workspace). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <cuda_runtime_api.h>
#include <library_types.h>

#include "cuda-error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  RL_CUDA_EPILOGUE_NONE = 0,
  RL_CUDA_EPILOGUE_BIAS,
  RL_CUDA_EPILOGUE_GELU_TANH,
  RL_CUDA_EPILOGUE_BIAS_GELU_TANH,
  RL_CUDA_EPILOGUE_SILU,
  RL_CUDA_EPILOGUE_BIAS_SILU,
} RlCudaEpilogue;

typedef struct {
  int64_t        m, n, k;
  int64_t        batch;            /* strided batches; 0 or 1 means one */
  int64_t        stride_x;         /* elements between batches of x, w, y; */
  int64_t        stride_w;         /* 0 = dense (m·k, n·k, m·n)         */
  int64_t        stride_y;
  int64_t        ldx, ldw, ldy;    /* row strides in elements; 0 = dense */
  cudaDataType_t x_type;           /* CUDA_R_32F, CUDA_R_16F, CUDA_R_16BF, CUDA_R_8F_E4M3 */
  cudaDataType_t w_type;           /* same as x_type */
  cudaDataType_t y_type;           /* CUDA_R_32F, CUDA_R_16F, CUDA_R_16BF */
  cudaDataType_t bias_type;        /* must equal y_type (bf16 for fp8 inputs) */
  bool           x_km;             /* x stored [k, m] instead of [m, k] */
  bool           w_kn;             /* w stored [k, n] instead of [n, k] */
  RlCudaEpilogue epilogue;
} RlCudaGemmShape;

typedef struct RlCudaGemm RlCudaGemm;

/* Creates a context with a device workspace of `workspace_bytes` (0 picks
 * 32 MiB, what Hopper kernels want) on the current device. */
RlCudaGemm *rl_cuda_gemm_new          (size_t workspace_bytes, RlCudaError *error);
void        rl_cuda_gemm_free         (RlCudaGemm *gemm);

/* Times the heuristic's top candidates on the first call of each shape
 * (default off; see above). */
void        rl_cuda_gemm_set_autotune (RlCudaGemm *gemm, bool autotune);

/* Makes later first calls of a shape take the heuristic's candidate
 * `index` (0 = its first pick, the default) instead of timing or taking the
 * first; an index past the heuristic's list keeps its last candidate. For
 * benchmarks that compare cuBLASLt's algorithms with each other and with
 * torch.matmul's (tests/bench/gemm_interleaved.py). Autotuning, when on,
 * overrides it. */
void        rl_cuda_gemm_set_candidate (RlCudaGemm *gemm, int index);

/* Queues the product on `stream`. `bias` is required by the BIAS epilogues
 * and ignored by the others. beta = 0 ignores y's old contents (NaN-safe). Returns false
 * with a message naming the shape when cuBLASLt has no algorithm for it or
 * the arguments disagree. */
bool        rl_cuda_gemm_run          (RlCudaGemm            *gemm,
                                       const RlCudaGemmShape *shape,
                                       const void            *x,
                                       const void            *w,
                                       const void            *bias,
                                       void                  *y,
                                       float                  alpha,
                                       float                  beta,
                                       cudaStream_t           stream,
                                       RlCudaError           *error);

/* rl_cuda_gemm_run for fp8 e4m3 inputs with per-tensor scales read from
 * device memory when the product runs: y = epilogue (alpha · (sx·x) ·
 * (sw·w)ᵀ + bias) + beta · y with sx = *x_scale, sw = *w_scale (f32, each
 * 16-byte aligned; a misaligned or NULL scale is refused with a message). */
bool        rl_cuda_gemm_run_scaled   (RlCudaGemm            *gemm,
                                       const RlCudaGemmShape *shape,
                                       const void            *x,
                                       const float           *x_scale,
                                       const void            *w,
                                       const float           *w_scale,
                                       const void            *bias,
                                       void                  *y,
                                       float                  alpha,
                                       float                  beta,
                                       cudaStream_t           stream,
                                       RlCudaError           *error);

/* Number of distinct shapes whose algorithm is cached (for tests). */
int         rl_cuda_gemm_cached_shapes (RlCudaGemm *gemm);

#ifdef __cplusplus
}
#endif
