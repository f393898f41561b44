/* The op table: every computation a model family needs, one signature for
 * every backend (backend.h says how to get a table and its context).
 *
 * Conventions that hold for every op unless its comment says otherwise:
 *  - The caller allocates every output; ops never allocate outputs. Scratch
 *    memory comes from the context's allocator.
 *  - All tensors live on the context's device (RL_E_DEVICE_MISMATCH).
 *  - Float tensors may be f32, f16 or bf16, independently per argument
 *    (x bf16 -> y f32 is fine); math and accumulation are fp32; the result
 *    is rounded once to the output dtype (round to nearest even).
 *  - Tensors must be contiguous (RL_E_NOT_CONTIGUOUS) except where an
 *    argument is marked [strided].
 *  - Outputs must not overlap inputs, except where marked [in-place ok]
 *    (then y may be exactly the same memory and view as x).
 *  - Results are deterministic for a fixed thread count / device: no
 *    reduction depends on atomics or scheduling order.
 *  - Every element of every output is written.
 *  - Failures return a negative RlStatus and set rl_last_error() with the op
 *    name, the offending tensor(s) described by rl_tensor_describe, and what
 *    was expected.
 *
 * The table is versioned: callers check `version == RL_OPS_VERSION`; new ops
 * are appended at the end and bump the version. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "workers/runtime/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RL_OPS_VERSION 1

/* One per backend instance and device (backend.h). */
typedef struct RlContext RlContext;

typedef enum {
  RL_ACT_NONE = 0,
  RL_ACT_GELU_TANH,   /* 0.5x(1+tanh(√(2/π)(x+0.044715x³))) */
  RL_ACT_SILU,        /* x·σ(x) */
  RL_ACT_GELU_ERF,    /* 0.5x(1+erf(x/√2)) */
} RlActivation;

typedef enum {
  RL_NORM_LAYER = 0,  /* (x−mean)/√(var+eps), biased variance */
  RL_NORM_RMS,        /* x/√(mean(x²)+eps) */
} RlNormKind;

typedef enum {
  RL_REDUCE_SUM = 0,
  RL_REDUCE_MEAN,
  RL_REDUCE_MAX,
} RlReduceKind;

typedef enum {
  RL_PAD_CONSTANT = 0,
  RL_PAD_REPLICATE,   /* edge value */
  RL_PAD_CIRCULAR,    /* wrap around (Wan's pad_to_patch_size) */
} RlPadMode;

/* Maps the token axis of a [B, L, D] activation onto the group axis of a
 * [B, G, D] modulation tensor: token l uses group
 *   g = min((token_offset + l) / tokens_per_group, G − 1).
 * G = 1 (one vector per batch): the fields are ignored. Wan2.2 per-frame
 * modulation: tokens_per_group = Hp·Wp. Under sequence parallelism a rank
 * holding tokens [s, s+L) passes token_offset = s; padding tokens past the
 * end reuse the last group. */
typedef struct {
  int64_t tokens_per_group;
  int64_t token_offset;
} RlTokenGroups;

/* Convolution geometry. Index i is the i-th spatial dim of x: (H, W) for
 * conv2d, (T, H, W) for conv3d. Padding is explicit per side, so causal
 * temporal padding is pad_before[0] = 2·p, pad_after[0] = 0, and
 * ZeroPad2d((0,1,0,1)) is pad_after = {1, 1}. Padded values are zero. */
typedef struct {
  int stride[3];
  int pad_before[3];
  int pad_after[3];
} RlConvParams;

typedef struct RlOps {
  uint32_t version;      /* RL_OPS_VERSION */
  uint32_t struct_size;  /* sizeof (RlOps) of the implementation */

  /* ------------------------------------------------------------ matmuls */

  /* y[..., N] = act(x[..., K] · W[N, K]ᵀ · W.scale + bias[N]).
   * W is laid out like torch.nn.Linear.weight; W may be f32, f16, bf16,
   * f8_e4m3fn or f8_e5m2 (W->scale applied, scaled-fp8 checkpoints) and,
   * on backends that support it, GGUF block types. bias may be NULL.
   * x's leading dims are flattened into M; y has x's leading dims. */
  RlStatus (*gemm) (RlContext *ctx, RlTensor *y, const RlTensor *x,
                    const RlTensor *w, const RlTensor *bias,
                    RlActivation act);

  /* c[b] = alpha · op(a[b]) · op(b[b]) + beta · c[b] for 3-D tensors
   * [batch, rows, cols]; op() transposes when the flag is set. a or b may
   * have batch 1 (broadcast). beta = 0 ignores c's old contents (NaN-safe). */
  RlStatus (*batched_gemm) (RlContext *ctx, RlTensor *c,
                            const RlTensor *a, bool trans_a,
                            const RlTensor *b, bool trans_b,
                            float alpha, float beta);

  /* -------------------------------------------------------------- norms */

  /* Over the last dim: y = (x − mean)/√(var + eps) · weight + bias.
   * weight, bias: [D] or NULL (no affine). [in-place ok] */
  RlStatus (*layer_norm) (RlContext *ctx, RlTensor *y, const RlTensor *x,
                          const RlTensor *weight, const RlTensor *bias,
                          float eps);

  /* Over the last dim: y = x / √(mean(x²) + eps) · weight; weight [D] or
   * NULL. [in-place ok] */
  RlStatus (*rms_norm) (RlContext *ctx, RlTensor *y, const RlTensor *x,
                        const RlTensor *weight, float eps);

  /* y = norm(x)·(1 + scale) + shift, the adaLN modulation, with
   * norm = layer or RMS over the last dim (norm_weight/norm_bias optional,
   * [D]). x, y: [B, L, D]. shift, scale: [B, G, D] [strided: any strides
   * for dims 0 and 1, last dim contiguous], e.g. narrow views of Wan's e0
   * [B, G, 6, D]; token→group mapping by `groups`. [in-place ok] */
  RlStatus (*norm_modulate) (RlContext *ctx, RlTensor *y, const RlTensor *x,
                             RlNormKind kind, const RlTensor *norm_weight,
                             const RlTensor *norm_bias, float eps,
                             const RlTensor *shift, const RlTensor *scale,
                             RlTokenGroups groups);

  /* x += y · gate (gated residual). x, y: [B, L, D]; gate: [B, G, D]
   * [strided as in norm_modulate] or NULL (plain residual add). x is
   * read and written in place. */
  RlStatus (*gated_residual) (RlContext *ctx, RlTensor *x, const RlTensor *y,
                              const RlTensor *gate, RlTokenGroups groups);

  /* Group norm over channel groups of x [B, C, ...spatial]: statistics per
   * (batch, group) over C/groups channels × spatial; weight, bias [C] or
   * NULL. [in-place ok] */
  RlStatus (*group_norm) (RlContext *ctx, RlTensor *y, const RlTensor *x,
                          int groups, const RlTensor *weight,
                          const RlTensor *bias, float eps);

  /* Wan VAE RMS_norm over the channel dim 1 of x [B, C, ...spatial]:
   * y = x / max(‖x‖₂ over C, eps) · √C · gamma[C] (+ bias[C]); that is
   * F.normalize(x, dim=1)·√C·γ with eps = 1e-12. gamma required, bias
   * may be NULL. [in-place ok] */
  RlStatus (*channel_rms_norm) (RlContext *ctx, RlTensor *y,
                                const RlTensor *x, const RlTensor *gamma,
                                const RlTensor *bias, float eps);

  /* ------------------------------------------------------ positional */

  /* Rotary embedding on interleaved pairs (x[2j], x[2j+1]) of the head dim:
   *   y0 = cos·x0 − sin·x1 ;  y1 = sin·x0 + cos·x1
   * x, y: [B, L, H, Dh]; cos, sin: f32 [L, Dh/2] or [B, L, Dh/2], built by
   * rl_rope_table_3d (rope-table.h) for Wan's 3-axis split. Pairs past
   * the table's last column (table narrower than Dh/2) pass through
   * unchanged. Computed in fp32. [in-place ok] */
  RlStatus (*rope) (RlContext *ctx, RlTensor *y, const RlTensor *x,
                    const RlTensor *cos, const RlTensor *sin);

  /* ----------------------------------------------------- elementwise */

  /* Softmax over the last dim (max-subtracted). [in-place ok] */
  RlStatus (*softmax) (RlContext *ctx, RlTensor *y, const RlTensor *x);

  /* y = alpha·a + beta·b (add: alpha = beta = 1). a and b [strided]
   * broadcast to y's shape numpy-style (aligned at the last dim, size-1 or
   * missing dims repeat). [in-place ok for a or b] */
  RlStatus (*add) (RlContext *ctx, RlTensor *y, const RlTensor *a,
                   const RlTensor *b, float alpha, float beta);

  /* y = a · b with the same broadcasting as add. [in-place ok] */
  RlStatus (*mul) (RlContext *ctx, RlTensor *y, const RlTensor *a,
                   const RlTensor *b);

  /* y = act(x) elementwise; RL_ACT_NONE copies with dtype conversion.
   * [in-place ok] */
  RlStatus (*activation) (RlContext *ctx, RlTensor *y, const RlTensor *x,
                          RlActivation act);

  /* y = x · alpha + beta elementwise; x [strided]. [in-place ok] */
  RlStatus (*scale_shift) (RlContext *ctx, RlTensor *y, const RlTensor *x,
                           float alpha, float beta);

  /* y[..., D] = table[ids[...], :]; ids i32 or i64 of any shape; an id
   * outside [0, V) fails naming the id and its position. The table may be
   * f32/f16/bf16/f8 (scale applied) or, contiguous, a GGUF block type. */
  RlStatus (*embedding) (RlContext *ctx, RlTensor *y, const RlTensor *table,
                         const RlTensor *ids);

  /* ------------------------------------------------------------ layout */

  /* dst = src element by element, any strides on both sides [strided],
   * same shape and dtype. Use views (narrow/permute) for slice-copy,
   * transpose-to-contiguous and copy-into-a-slice. */
  RlStatus (*copy) (RlContext *ctx, RlTensor *dst, const RlTensor *src);

  /* dst = src converted to dst's dtype, same shape, [strided] for plain
   * dtypes. Reads apply src->scale; writes to fp8 divide by dst->scale
   * (e4m3fn saturates). GGUF block sources (whole contiguous rows)
   * dequantise to f32/f16/bf16. */
  RlStatus (*convert) (RlContext *ctx, RlTensor *dst, const RlTensor *src);

  /* Concatenates n tensors [strided] along `dim` into y; all other dims
   * must match y. */
  RlStatus (*concat) (RlContext *ctx, RlTensor *y,
                      const RlTensor *const *inputs, int n, int dim);

  /* y = x padded by pad_before[i]/pad_after[i] elements on dim i (ndim
   * entries; negative values crop). */
  RlStatus (*pad) (RlContext *ctx, RlTensor *y, const RlTensor *x,
                   const int64_t *pad_before, const int64_t *pad_after,
                   RlPadMode mode, float value);

  /* Every element of y set to value (converted to y's dtype). [strided] */
  RlStatus (*fill) (RlContext *ctx, RlTensor *y, float value);

  /* Nearest-neighbour 2× upsampling of the last two dims (H, W) of a 4-D
   * [B, C, H, W] or 5-D [B, C, T, H, W] tensor: y [..., 2H, 2W]. */
  RlStatus (*upsample_nearest2x) (RlContext *ctx, RlTensor *y,
                                  const RlTensor *x);

  /* ----------------------------------------------------- convolutions */

  /* x [B, C, H, W], w [O, C, kh, kw], bias [O] or NULL, y [B, O, Ho, Wo]
   * with Ho = (H + pad_before + pad_after − kh)/stride + 1. */
  RlStatus (*conv2d) (RlContext *ctx, RlTensor *y, const RlTensor *x,
                      const RlTensor *w, const RlTensor *bias,
                      const RlConvParams *params);

  /* x [B, C, T, H, W], w [O, C, kt, kh, kw], bias [O] or NULL. */
  RlStatus (*conv3d) (RlContext *ctx, RlTensor *y, const RlTensor *x,
                      const RlTensor *w, const RlTensor *bias,
                      const RlConvParams *params);

  /* ------------------------------------------------------- reductions */

  /* y = reduce of x along `dim`; y has x's shape with dim set to 1. */
  RlStatus (*reduce) (RlContext *ctx, RlTensor *y, const RlTensor *x,
                      int dim, RlReduceKind kind);

  /* ------------------------------------------------------- attention */

  /* Reference attention (the fast ones are attention plugins):
   * out[b,i,h,:] = Σ_j softmax_j(scale · q[b,i,h,:]·k[b,j,h,:]) v[b,j,h,:]
   * q [B, Lq, H, D], k [B, Lk, H, D], v [B, Lk, H, Dv], out [B, Lq, H, Dv];
   * lse (f32 [B, H, Lq], may be NULL) = log Σ_j exp(scale·q·k), natural
   * log, for merging partial results. No mask. */
  RlStatus (*attention) (RlContext *ctx, RlTensor *out, RlTensor *lse,
                         const RlTensor *q, const RlTensor *k,
                         const RlTensor *v, float scale);
} RlOps;

#ifdef __cplusplus
}
#endif
