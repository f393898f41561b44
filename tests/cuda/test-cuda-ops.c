/* Op-by-op parity of the CUDA backend against the CPU backend on random
 * inputs (fresh each run, never zeros) with poisoned outputs: relative
 * error ≤ 1e-5 for f32 results and ≤ 1e-2 for bf16/f16 ones. Exits 77
 * without a GPU. */
#include "tests/cuda/cuda-test-util.h"

#include <cuda_runtime_api.h>

#include "workers/backend-cuda/cuda-norm.h"
#include "workers/runtime/rope-table.h"

static void
expect_close (const char *what, const CtTensor *y)
{
  ct_expect_within (what, y, ct_tolerance (y->host.dtype));
}

static const RlDType float_types[] = { RL_F32, RL_BF16 };

static void
test_gemm (void)
{
  static const RlActivation acts[] = { RL_ACT_NONE, RL_ACT_GELU_TANH, RL_ACT_SILU, RL_ACT_GELU_ERF };
  for (int t = 0; t < 2; t++) {
    RlDType dt = float_types[t];
    for (int a = 0; a < 4; a++) {
      int64_t m = ct_int (1, 70), n = 8 * ct_int (1, 40), k = 8 * ct_int (1, 40);
      CtTensor x, w, b, y;
      CT_REQUIRE_OK (ct_random (&P, &x, dt, 3, (int64_t[]) { 2, m, k }, 1.0f));
      CT_REQUIRE_OK (ct_random (&P, &w, dt, 2, (int64_t[]) { n, k }, 0.2f));
      CT_REQUIRE_OK (ct_random (&P, &b, dt, 1, (int64_t[]) { n }, 1.0f));
      CT_REQUIRE_OK (ct_poisoned (&P, &y, dt, 3, (int64_t[]) { 2, m, n }));
      bool with_bias = a != 2 || t == 0;
      FOR_BOTH CT_REQUIRE_OK (OPS->gemm (CTX, T (y), T (x), T (w), with_bias ? T (b) : NULL, acts[a]));
      char what[96];
      snprintf (what, sizeof what, "gemm m=%lld n=%lld k=%lld act=%d bias=%d", (long long) (2 * m),
                (long long) n, (long long) k, (int) acts[a], (int) with_bias);
      expect_close (what, &y);
      ct_release (&x); ct_release (&w); ct_release (&b); ct_release (&y);
    }
  }
}

static void
test_gemm_mixed (void)
{
  /* fp8 weights with a per-tensor scale, f16 weights, f32 x with bf16 w. */
  static const RlDType weights[] = { RL_F8_E4M3FN, RL_F16, RL_BF16 };
  static const RlDType inputs[] = { RL_BF16, RL_F16, RL_F32 };
  for (int i = 0; i < 3; i++) {
    int64_t m = ct_int (1, 50), n = 16 * ct_int (1, 20), k = 16 * ct_int (1, 20);
    CtTensor x, w, y;
    CT_REQUIRE_OK (ct_random (&P, &x, inputs[i], 2, (int64_t[]) { m, k }, 1.0f));
    CT_REQUIRE_OK (ct_random (&P, &w, weights[i], 2, (int64_t[]) { n, k }, 1.0f));
    w.host.scale = w.dev.scale = 0.05f;
    CT_REQUIRE_OK (ct_poisoned (&P, &y, RL_BF16, 2, (int64_t[]) { m, n }));
    FOR_BOTH CT_REQUIRE_OK (OPS->gemm (CTX, T (y), T (x), T (w), NULL, RL_ACT_NONE));
    char what[96];
    snprintf (what, sizeof what, "gemm x %s, w %s scale 0.05", rl_dtype_name (inputs[i]),
              rl_dtype_name (weights[i]));
    expect_close (what, &y);
    ct_release (&x); ct_release (&w); ct_release (&y);
  }
}

/* Random valid GGUF blocks for an [n, k] weight: random bytes with the f16
 * super-block scales (d, and dmin for Q4_K) set to small finite values, so
 * the weights stay near [-2, 2] and never hold NaN. */
static RlStatus
random_gguf_weight (CtTensor *w, RlDType dtype, int64_t n, int64_t k)
{
  RlStatus st = ct_alloc_pair (&P, w, dtype, 2, (int64_t[]) { n, k });
  if (st != RL_OK)
    return st;
  uint8_t *bytes = w->host.data;
  size_t total = rl_tensor_nbytes (&w->host), block = rl_dtype_block_bytes (dtype);
  for (size_t i = 0; i < total; i++)
    bytes[i] = (uint8_t) ct_next ();
  int scales = dtype == RL_Q4_K ? 2 : 1; /* Q8_0: d at 0; Q4_K: d at 0, dmin at 2 */
  float magnitude = dtype == RL_Q4_K ? 0.002f : 0.01f;
  for (size_t b = 0; b + block <= total; b += block)
    for (int s = 0; s < scales; s++) {
      uint16_t h = rl_f32_to_f16 (ct_value () * magnitude);
      memcpy (bytes + b + 2 * s, &h, 2);
    }
  return P.gpu_be->transfer (P.gpu, &w->dev, &w->host);
}

/* GGUF-quantised weights through the CUDA gemm (dequantised to bf16 on the
 * device, then cuBLASLt) against the CPU backend's gemm on the same blocks. */
static void
test_gemm_gguf (void)
{
  static const RlDType types[] = { RL_Q8_0, RL_Q4_K };
  for (int i = 0; i < 4; i++) {
    RlDType wt = types[i % 2];
    RlDType xt = i < 2 ? RL_BF16 : RL_F32;
    int64_t m = ct_int (1, 40), n = 8 * ct_int (1, 24), k = 256 * ct_int (1, 3);
    CtTensor x, w, b, y;
    CT_REQUIRE_OK (ct_random (&P, &x, xt, 3, (int64_t[]) { 2, m, k }, 1.0f));
    CT_REQUIRE_OK (random_gguf_weight (&w, wt, n, k));
    CT_REQUIRE_OK (ct_random (&P, &b, RL_BF16, 1, (int64_t[]) { n }, 1.0f));
    CT_REQUIRE_OK (ct_poisoned (&P, &y, RL_BF16, 3, (int64_t[]) { 2, m, n }));
    RlActivation act = i == 3 ? RL_ACT_GELU_TANH : RL_ACT_NONE;
    FOR_BOTH CT_REQUIRE_OK (OPS->gemm (CTX, T (y), T (x), T (w), i % 2 ? T (b) : NULL, act));
    char what[96];
    snprintf (what, sizeof what, "gemm x %s, w %s m=%lld n=%lld k=%lld", rl_dtype_name (xt),
              rl_dtype_name (wt), (long long) (2 * m), (long long) n, (long long) k);
    expect_close (what, &y);
    ct_release (&x); ct_release (&w); ct_release (&b); ct_release (&y);
  }
}

static void
test_batched_gemm (void)
{
  for (int variant = 0; variant < 8; variant++) {
    bool ta = variant & 1, tb = variant & 2, broadcast = variant & 4;
    RlDType dt = float_types[variant % 2];
    int64_t batch = ct_int (2, 4), m = ct_int (1, 40), n = ct_int (1, 40) * 2, k = ct_int (1, 40) * 2;
    CtTensor a, b, c;
    int64_t a_shape[3] = { batch, ta ? k : m, ta ? m : k };
    int64_t b_shape[3] = { broadcast ? 1 : batch, tb ? n : k, tb ? k : n };
    CT_REQUIRE_OK (ct_random (&P, &a, dt, 3, a_shape, 1.0f));
    CT_REQUIRE_OK (ct_random (&P, &b, dt, 3, b_shape, 1.0f));
    CT_REQUIRE_OK (ct_random (&P, &c, RL_F32, 3, (int64_t[]) { batch, m, n }, 1.0f));
    FOR_BOTH CT_REQUIRE_OK (OPS->batched_gemm (CTX, T (c), T (a), ta, T (b), tb, 0.5f, 0.25f));
    char what[96];
    snprintf (what, sizeof what, "batched_gemm %s ta=%d tb=%d bcast=%d", rl_dtype_name (dt), ta, tb,
              broadcast);
    expect_close (what, &c);
    ct_release (&a); ct_release (&b); ct_release (&c);
  }
}

static void
test_norms (void)
{
  /* 4096 in f32 is UMT5-XXL's row: exactly 48 KiB of staged rows, whose
   * launch failed until the kernel's static scratch was counted too. */
  static const int64_t dims[] = { 5120, 100, 64, 3072, 4096 };
  for (int i = 0; i < 5; i++) {
    RlDType dt = float_types[i % 2];
    int64_t rows = ct_int (1, 40), d = dims[i];
    CtTensor x, w, b, y1, y2;
    CT_REQUIRE_OK (ct_random (&P, &x, dt, 2, (int64_t[]) { rows, d }, 3.0f));
    CT_REQUIRE_OK (ct_random (&P, &w, RL_F32, 1, (int64_t[]) { d }, 1.0f));
    CT_REQUIRE_OK (ct_random (&P, &b, dt, 1, (int64_t[]) { d }, 1.0f));
    CT_REQUIRE_OK (ct_poisoned (&P, &y1, dt, 2, (int64_t[]) { rows, d }));
    CT_REQUIRE_OK (ct_poisoned (&P, &y2, dt, 2, (int64_t[]) { rows, d }));
    FOR_BOTH {
      CT_REQUIRE_OK (OPS->layer_norm (CTX, T (y1), T (x), i < 2 ? T (w) : NULL, i < 2 ? T (b) : NULL, 1e-6f));
      CT_REQUIRE_OK (OPS->rms_norm (CTX, T (y2), T (x), i % 3 == 0 ? T (w) : NULL, 1e-6f));
    }
    char what[96];
    snprintf (what, sizeof what, "layer_norm d=%lld affine=%d", (long long) d, i < 2);
    expect_close (what, &y1);
    snprintf (what, sizeof what, "rms_norm d=%lld", (long long) d);
    expect_close (what, &y2);
    ct_release (&x); ct_release (&w); ct_release (&b); ct_release (&y1); ct_release (&y2);
  }
}

/* Wan's e0 [B, G, 6, D]: shift/scale/gate are narrow views (strided). */
static void
test_modulation (void)
{
  for (int i = 0; i < 4; i++) {
    RlDType dt = float_types[i % 2];
    bool per_frame = i >= 2;
    int64_t batch = 2, frames = per_frame ? 3 : 1, per = ct_int (2, 7);
    int64_t len = per_frame ? frames * per - 1 : ct_int (3, 30), d = i == 0 ? 5120 : 8 * ct_int (2, 50);
    CtTensor x, e0, y, r, nw;
    CT_REQUIRE_OK (ct_random (&P, &x, dt, 3, (int64_t[]) { batch, len, d }, 2.0f));
    CT_REQUIRE_OK (ct_random (&P, &e0, RL_F32, 4, (int64_t[]) { batch, frames, 6, d }, 0.5f));
    CT_REQUIRE_OK (ct_random (&P, &r, dt, 3, (int64_t[]) { batch, len, d }, 1.0f));
    CT_REQUIRE_OK (ct_random (&P, &nw, dt, 1, (int64_t[]) { d }, 1.0f));
    CT_REQUIRE_OK (ct_poisoned (&P, &y, dt, 3, (int64_t[]) { batch, len, d }));
    CtTensor chunk[3];
    for (int c = 0; c < 3; c++) {
      CtTensor tmp;
      memset (&tmp, 0, sizeof tmp);
      memset (&chunk[c], 0, sizeof chunk[c]);
      CT_REQUIRE_OK (rl_tensor_narrow (&tmp.host, &e0.host, 2, c, 1));
      CT_REQUIRE_OK (rl_tensor_narrow (&tmp.dev, &e0.dev, 2, c, 1));
      int64_t shape[3] = { batch, frames, d };
      int64_t strides[3] = { frames * 6 * d, 6 * d, 1 };
      CT_REQUIRE_OK (rl_tensor_wrap (&chunk[c].host, tmp.host.data, tmp.host.device, RL_F32, 3,
                                     shape, strides, NULL));
      CT_REQUIRE_OK (rl_tensor_wrap (&chunk[c].dev, tmp.dev.data, tmp.dev.device, RL_F32, 3,
                                     shape, strides, NULL));
      ct_release (&tmp);
    }
    RlTokenGroups groups = { .tokens_per_group = per, .token_offset = per_frame ? 1 : 0 };
    RlNormKind kind = i % 2 ? RL_NORM_RMS : RL_NORM_LAYER;
    FOR_BOTH {
      CT_REQUIRE_OK (OPS->norm_modulate (CTX, T (y), T (x), kind, i == 1 ? T (nw) : NULL, NULL,
                                         1e-6f, T (chunk[0]), T (chunk[1]), groups));
      CT_REQUIRE_OK (OPS->gated_residual (CTX, T (x), T (r), T (chunk[2]), groups));
    }
    char what[96];
    snprintf (what, sizeof what, "norm_modulate d=%lld groups=%lld kind=%d", (long long) d,
              (long long) frames, (int) kind);
    expect_close (what, &y);
    snprintf (what, sizeof what, "gated_residual d=%lld groups=%lld", (long long) d,
              (long long) frames);
    expect_close (what, &x);
    for (int c = 0; c < 3; c++)
      ct_release (&chunk[c]);
    ct_release (&x); ct_release (&e0); ct_release (&y); ct_release (&r); ct_release (&nw);
  }
}

/* The shift, scale and gate chunks of a Wan e0 [batch, frames, 6, d] as
 * [batch, frames, d] views with e0's strides. */
static void
modulation_chunks (CtTensor *e0, CtTensor chunk[3], int64_t batch, int64_t frames, int64_t d)
{
  for (int c = 0; c < 3; c++) {
    CtTensor tmp;
    memset (&tmp, 0, sizeof tmp);
    memset (&chunk[c], 0, sizeof chunk[c]);
    CT_REQUIRE_OK (rl_tensor_narrow (&tmp.host, &e0->host, 2, c, 1));
    CT_REQUIRE_OK (rl_tensor_narrow (&tmp.dev, &e0->dev, 2, c, 1));
    int64_t shape[3] = { batch, frames, d };
    int64_t strides[3] = { frames * 6 * d, 6 * d, 1 };
    CT_REQUIRE_OK (rl_tensor_wrap (&chunk[c].host, tmp.host.data, tmp.host.device, RL_F32, 3,
                                   shape, strides, NULL));
    CT_REQUIRE_OK (rl_tensor_wrap (&chunk[c].dev, tmp.dev.data, tmp.dev.device, RL_F32, 3,
                                   shape, strides, NULL));
    ct_release (&tmp);
  }
}

/* The warp-per-row norm kernels (16-bit x, rows up to 5120) on Wan-sized
 * rows with f32 outputs, so the f32 tolerance applies: LayerNorm with
 * per-frame modulation whose frames straddle the blocks' rows and the
 * batch boundary (x bf16 for 5120, f16 for 1536: each has its own unpacking
 * of the packed words), frames of 2-7 rows (a block's rows then span more
 * segments than it folds at once, so it folds window after window),
 * per-batch modulation with a weight and a bias, and RMSNorm + weight +
 * RoPE fused (kernel API, as the q/k path calls it) against the CPU's
 * rms_norm followed by rope. `kernel` names the RL_CUDA_NORM_VARIANT in
 * force. */
static void
norm_fused_cases (const char *kernel)
{
  for (int i = 0; i < 4; i++) {
    /* 1200-1800 rows: more warps than an H100 holds at once, so blocks
     * refill the SMs (or the persistent ones own a few rows each), and
     * frames start inside blocks. */
    bool wide = i % 2 == 1, per_batch = i == 2, tiny_frames = i == 3;
    int64_t batch = 2, len = ct_int (600, 900), d = wide ? 5120 : 1536;
    int64_t per = per_batch ? len : tiny_frames ? ct_int (2, 7) : ct_int (20, 90);
    int64_t offset = per_batch ? 0 : ct_int (0, per - 1);
    int64_t frames = (len + offset + per - 1) / per;
    CtTensor x, e0, y, w, bias, chunk[3];
    RlDType x_type = wide ? RL_BF16 : RL_F16;
    CT_REQUIRE_OK (ct_random (&P, &x, x_type, 3, (int64_t[]) { batch, len, d }, 3.0f));
    CT_REQUIRE_OK (ct_random (&P, &e0, RL_F32, 4, (int64_t[]) { batch, frames, 6, d }, 0.5f));
    CT_REQUIRE_OK (ct_random (&P, &w, RL_F32, 1, (int64_t[]) { d }, 1.0f));
    CT_REQUIRE_OK (ct_random (&P, &bias, RL_F32, 1, (int64_t[]) { d }, 1.0f));
    CT_REQUIRE_OK (ct_poisoned (&P, &y, RL_F32, 3, (int64_t[]) { batch, len, d }));
    modulation_chunks (&e0, chunk, batch, frames, d);
    RlTokenGroups groups = { .tokens_per_group = per, .token_offset = offset };
    FOR_BOTH CT_REQUIRE_OK (OPS->norm_modulate (CTX, T (y), T (x), RL_NORM_LAYER,
                                                per_batch ? T (w) : NULL,
                                                per_batch ? T (bias) : NULL, 1e-6f,
                                                T (chunk[0]), T (chunk[1]), groups));
    char what[96];
    snprintf (what, sizeof what, "%s: norm_modulate %s->f32 d=%lld L=%lld frames=%lld%s", kernel,
              rl_dtype_name (x_type), (long long) d, (long long) len, (long long) frames,
              per_batch ? " w+b" : "");
    expect_close (what, &y);
    for (int c = 0; c < 3; c++)
      ct_release (&chunk[c]);
    ct_release (&x); ct_release (&e0); ct_release (&y); ct_release (&w); ct_release (&bias);
  }
  for (int i = 0; i < 2; i++) {
    int64_t grid[3] = { ct_int (3, 6), ct_int (8, 16), ct_int (8, 16) };
    int64_t len = grid[0] * grid[1] * grid[2], heads = 40, dh = 128, d = heads * dh;
    int64_t pairs = i ? 60 : 64; /* a narrower table leaves pairs unrotated */
    int axes[3] = { 44, 42, 42 };
    CtTensor x, w, normed, y, full_cos, full_sin, cs, sn;
    CT_REQUIRE_OK (ct_random (&P, &x, RL_BF16, 3, (int64_t[]) { 1, len, d }, 2.0f));
    CT_REQUIRE_OK (ct_random (&P, &w, RL_BF16, 1, (int64_t[]) { d }, 1.0f));
    CT_REQUIRE_OK (ct_alloc_pair (&P, &normed, RL_F32, 3, (int64_t[]) { 1, len, d }));
    CT_REQUIRE_OK (ct_poisoned (&P, &y, RL_F32, 4, (int64_t[]) { 1, len, heads, dh }));
    CT_REQUIRE_OK (ct_alloc_pair (&P, &full_cos, RL_F32, 2, (int64_t[]) { len, 64 }));
    CT_REQUIRE_OK (ct_alloc_pair (&P, &full_sin, RL_F32, 2, (int64_t[]) { len, 64 }));
    CT_REQUIRE_OK (rl_rope_table_3d (&full_cos.host, &full_sin.host, 3, axes, grid, 0, 10000.0));
    CT_REQUIRE_OK (ct_alloc_pair (&P, &cs, RL_F32, 2, (int64_t[]) { len, pairs }));
    CT_REQUIRE_OK (ct_alloc_pair (&P, &sn, RL_F32, 2, (int64_t[]) { len, pairs }));
    for (int64_t t = 0; t < len; t++)
      for (int64_t p = 0; p < pairs; p++) {
        ((float *) cs.host.data)[t * pairs + p] = ((float *) full_cos.host.data)[t * 64 + p];
        ((float *) sn.host.data)[t * pairs + p] = ((float *) full_sin.host.data)[t * 64 + p];
      }
    CT_REQUIRE_OK (P.gpu_be->transfer (P.gpu, &cs.dev, &cs.host));
    CT_REQUIRE_OK (P.gpu_be->transfer (P.gpu, &sn.dev, &sn.host));
    /* CPU: rms_norm over the whole row, then rope over its heads. */
    RlTensor heads_view = { 0 };
    CT_REQUIRE_OK (P.cpu_be->ops->rms_norm (P.cpu, &normed.host, &x.host, &w.host, 1e-6f));
    CT_REQUIRE_OK (rl_tensor_reshape (&heads_view, &normed.host, 4,
                                      (int64_t[]) { 1, len, heads, dh }));
    CT_REQUIRE_OK (P.cpu_be->ops->rope (P.cpu, &y.host, &heads_view, &cs.host, &sn.host));
    rl_tensor_release (&heads_view);
    RlCudaNormModulate args = {
      .kind = RL_CUDA_NORM_RMS, .eps = 1e-6f, .x = x.dev.data, .x_type = CUDA_R_16BF,
      .y = y.dev.data, .y_type = CUDA_R_32F, .batch = 1, .tokens = len, .dim = d,
      .weight = w.dev.data, .weight_type = CUDA_R_16BF,
      .rope = { .cos = cs.dev.data, .sin = sn.dev.data, .pairs = pairs, .head_dim = dh },
    };
    /* The context's stream may not order with the legacy one: the poison
     * fill must be done before the kernel writes. */
    PT_CHECK (cudaDeviceSynchronize () == cudaSuccess, "poison fill ran");
    PT_CHECK (rl_cuda_norm_modulate (&args, NULL) == cudaSuccess, "rms_norm + rope launch");
    PT_CHECK (cudaDeviceSynchronize () == cudaSuccess, "rms_norm + rope ran");
    char what[96];
    snprintf (what, sizeof what, "%s: rms_norm+rope fused bf16->f32 L=%lld pairs=%lld", kernel,
              (long long) len, (long long) pairs);
    expect_close (what, &y);
    ct_release (&x); ct_release (&w); ct_release (&normed); ct_release (&y);
    ct_release (&full_cos); ct_release (&full_sin); ct_release (&cs); ct_release (&sn);
  }
}

/* The default kernels, then each other RL_CUDA_NORM_VARIANT (cuda-norm.cu's
 * norm_variant), so that each is checked before anyone times it. */
static void
test_norm_fused (void)
{
  norm_fused_cases ("default");
  const char *variants[][2] = { { "1", "variant 1, row per block" },
                                { "2", "variant 2, pipelined" },
                                { "3", "variant 3, vectors from L1" } };
  for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
    setenv ("RL_CUDA_NORM_VARIANT", variants[i][0], 1);
    norm_fused_cases (variants[i][1]);
  }
  unsetenv ("RL_CUDA_NORM_VARIANT");
}

static void
test_channel_norms (void)
{
  for (int i = 0; i < 2; i++) {
    RlDType dt = float_types[i];
    int64_t batch = 2, ch = 8 * ct_int (1, 6), t = ct_int (1, 3), h = ct_int (2, 9), w = ct_int (2, 9);
    int64_t shape[5] = { batch, ch, t, h, w };
    CtTensor x, g, b, y1, y2;
    CT_REQUIRE_OK (ct_random (&P, &x, dt, 5, shape, 2.0f));
    CT_REQUIRE_OK (ct_random (&P, &g, RL_F32, 1, (int64_t[]) { ch }, 1.0f));
    CT_REQUIRE_OK (ct_random (&P, &b, RL_F32, 1, (int64_t[]) { ch }, 1.0f));
    CT_REQUIRE_OK (ct_poisoned (&P, &y1, dt, 5, shape));
    CT_REQUIRE_OK (ct_poisoned (&P, &y2, dt, 5, shape));
    FOR_BOTH {
      CT_REQUIRE_OK (OPS->group_norm (CTX, T (y1), T (x), (int) (ch / 4), T (g), T (b), 1e-6f));
      CT_REQUIRE_OK (OPS->channel_rms_norm (CTX, T (y2), T (x), T (g), i ? T (b) : NULL, 1e-12f));
    }
    expect_close ("group_norm", &y1);
    expect_close ("channel_rms_norm", &y2);
    ct_release (&x); ct_release (&g); ct_release (&b); ct_release (&y1); ct_release (&y2);
  }
}

static void
test_rope (void)
{
  for (int i = 0; i < 2; i++) {
    RlDType dt = float_types[i];
    int64_t grid[3] = { ct_int (1, 3), ct_int (1, 4), ct_int (1, 5) };
    int64_t len = grid[0] * grid[1] * grid[2], heads = ct_int (1, 4), dh = 128;
    int axes[3] = { 44, 42, 42 };
    int64_t pairs = i ? 60 : 64; /* a narrower table leaves pairs unrotated */
    CtTensor x, y, cs, sn;
    CT_REQUIRE_OK (ct_random (&P, &x, dt, 4, (int64_t[]) { 2, len, heads, dh }, 1.0f));
    CT_REQUIRE_OK (ct_poisoned (&P, &y, dt, 4, (int64_t[]) { 2, len, heads, dh }));
    CT_REQUIRE_OK (ct_alloc_pair (&P, &cs, RL_F32, 2, (int64_t[]) { len, 64 }));
    CT_REQUIRE_OK (ct_alloc_pair (&P, &sn, RL_F32, 2, (int64_t[]) { len, 64 }));
    CT_REQUIRE_OK (rl_rope_table_3d (&cs.host, &sn.host, 3, axes, grid, 0, 10000.0));
    CT_REQUIRE_OK (P.gpu_be->transfer (P.gpu, &cs.dev, &cs.host));
    CT_REQUIRE_OK (P.gpu_be->transfer (P.gpu, &sn.dev, &sn.host));
    CtTensor cv, sv;
    memset (&cv, 0, sizeof cv);
    memset (&sv, 0, sizeof sv);
    CT_REQUIRE_OK (rl_tensor_narrow (&cv.host, &cs.host, 1, 0, pairs));
    CT_REQUIRE_OK (rl_tensor_narrow (&sv.host, &sn.host, 1, 0, pairs));
    /* The op wants contiguous tables: copy the narrowed ones. */
    CtTensor cc, sc;
    CT_REQUIRE_OK (ct_alloc_pair (&P, &cc, RL_F32, 2, (int64_t[]) { len, pairs }));
    CT_REQUIRE_OK (ct_alloc_pair (&P, &sc, RL_F32, 2, (int64_t[]) { len, pairs }));
    CT_REQUIRE_OK (P.cpu_be->ops->copy (P.cpu, &cc.host, &cv.host));
    CT_REQUIRE_OK (P.cpu_be->ops->copy (P.cpu, &sc.host, &sv.host));
    CT_REQUIRE_OK (P.gpu_be->transfer (P.gpu, &cc.dev, &cc.host));
    CT_REQUIRE_OK (P.gpu_be->transfer (P.gpu, &sc.dev, &sc.host));
    FOR_BOTH CT_REQUIRE_OK (OPS->rope (CTX, T (y), T (x), T (cc), T (sc)));
    char what[64];
    snprintf (what, sizeof what, "rope pairs=%lld of %lld", (long long) pairs, (long long) (dh / 2));
    expect_close (what, &y);
    ct_release (&x); ct_release (&y); ct_release (&cs); ct_release (&sn);
    ct_release (&cv); ct_release (&sv); ct_release (&cc); ct_release (&sc);
  }
}

static void
test_softmax_reduce (void)
{
  for (int i = 0; i < 2; i++) {
    RlDType dt = float_types[i];
    int64_t rows = ct_int (1, 30), cols = i ? 4096 + ct_int (0, 9) : ct_int (1, 300);
    CtTensor x, y, r[3];
    CT_REQUIRE_OK (ct_random (&P, &x, dt, 3, (int64_t[]) { 2, rows, cols }, 8.0f));
    CT_REQUIRE_OK (ct_poisoned (&P, &y, dt, 3, (int64_t[]) { 2, rows, cols }));
    FOR_BOTH CT_REQUIRE_OK (OPS->softmax (CTX, T (y), T (x)));
    expect_close (i ? "softmax long rows" : "softmax", &y);
    static const RlReduceKind kinds[] = { RL_REDUCE_SUM, RL_REDUCE_MEAN, RL_REDUCE_MAX };
    for (int k = 0; k < 3; k++) {
      int dim = k; /* over batch, rows, then columns */
      int64_t shape[3] = { 2, rows, cols };
      shape[dim] = 1;
      CT_REQUIRE_OK (ct_poisoned (&P, &r[k], RL_F32, 3, shape));
      FOR_BOTH CT_REQUIRE_OK (OPS->reduce (CTX, T (r[k]), T (x), dim, kinds[k]));
      char what[64];
      snprintf (what, sizeof what, "reduce kind=%d dim=%d", (int) kinds[k], dim);
      expect_close (what, &r[k]);
      ct_release (&r[k]);
    }
    ct_release (&x); ct_release (&y);
  }
}

static void
test_elementwise (void)
{
  for (int i = 0; i < 2; i++) {
    RlDType dt = float_types[i];
    int64_t b = 2, l = ct_int (1, 33), d = ct_int (1, 70);
    CtTensor a, v, row, y1, y2, y3, y4, y5;
    CT_REQUIRE_OK (ct_random (&P, &a, dt, 3, (int64_t[]) { b, l, d }, 3.0f));
    CT_REQUIRE_OK (ct_random (&P, &v, dt, 3, (int64_t[]) { b, l, d }, 3.0f));
    CT_REQUIRE_OK (ct_random (&P, &row, RL_F32, 2, (int64_t[]) { 1, d }, 1.0f));
    CT_REQUIRE_OK (ct_poisoned (&P, &y1, dt, 3, (int64_t[]) { b, l, d }));
    CT_REQUIRE_OK (ct_poisoned (&P, &y2, dt, 3, (int64_t[]) { b, l, d }));
    CT_REQUIRE_OK (ct_poisoned (&P, &y3, RL_F32, 3, (int64_t[]) { b, l, d }));
    CT_REQUIRE_OK (ct_poisoned (&P, &y4, dt, 3, (int64_t[]) { b, l, d }));
    CT_REQUIRE_OK (ct_poisoned (&P, &y5, dt, 3, (int64_t[]) { b, l, d }));
    FOR_BOTH {
      CT_REQUIRE_OK (OPS->add (CTX, T (y1), T (a), T (v), 0.5f, -2.0f));
      CT_REQUIRE_OK (OPS->mul (CTX, T (y2), T (a), T (row)));
      CT_REQUIRE_OK (OPS->add (CTX, T (y3), T (a), T (row), 1.0f, 1.0f));
      CT_REQUIRE_OK (OPS->scale_shift (CTX, T (y5), T (a), 0.75f, 0.125f));
    }
    expect_close ("add", &y1);
    expect_close ("mul broadcast row", &y2);
    expect_close ("add broadcast row -> f32", &y3);
    expect_close ("scale_shift", &y5);
    static const RlActivation acts[] = { RL_ACT_NONE, RL_ACT_GELU_TANH, RL_ACT_SILU, RL_ACT_GELU_ERF };
    for (int k = 0; k < 4; k++) {
      FOR_BOTH CT_REQUIRE_OK (OPS->activation (CTX, T (y4), T (a), acts[k]));
      char what[64];
      snprintf (what, sizeof what, "activation %d", (int) acts[k]);
      expect_close (what, &y4);
    }
    ct_release (&a); ct_release (&v); ct_release (&row);
    ct_release (&y1); ct_release (&y2); ct_release (&y3); ct_release (&y4); ct_release (&y5);
  }
}

static void
test_layout (void)
{
  int64_t b = 2, c = ct_int (1, 5), h = ct_int (1, 9), w = ct_int (1, 17);
  int64_t shape[4] = { b, c, h, w };
  CtTensor x, perm_out, conv_bf16, conv_fp8, back, cat, up, pads[3];
  CT_REQUIRE_OK (ct_random (&P, &x, RL_F32, 4, shape, 2.0f));
  /* copy of a permuted view into a contiguous tensor */
  CtTensor view;
  memset (&view, 0, sizeof view);
  int perm[4] = { 0, 3, 1, 2 };
  CT_REQUIRE_OK (rl_tensor_permute (&view.host, &x.host, perm));
  CT_REQUIRE_OK (rl_tensor_permute (&view.dev, &x.dev, perm));
  CT_REQUIRE_OK (ct_poisoned (&P, &perm_out, RL_F32, 4, view.host.shape));
  FOR_BOTH CT_REQUIRE_OK (OPS->copy (CTX, T (perm_out), T (view)));
  expect_close ("copy permuted view", &perm_out);
  /* conversions: f32 -> bf16, f32 -> fp8 (scaled), fp8 -> f32 */
  CT_REQUIRE_OK (ct_poisoned (&P, &conv_bf16, RL_BF16, 4, shape));
  CT_REQUIRE_OK (ct_poisoned (&P, &conv_fp8, RL_F8_E4M3FN, 4, shape));
  CT_REQUIRE_OK (ct_poisoned (&P, &back, RL_F32, 4, shape));
  conv_fp8.host.scale = conv_fp8.dev.scale = 0.01f;
  FOR_BOTH {
    CT_REQUIRE_OK (OPS->convert (CTX, T (conv_bf16), T (x)));
    CT_REQUIRE_OK (OPS->convert (CTX, T (conv_fp8), T (x)));
    CT_REQUIRE_OK (OPS->convert (CTX, T (back), T (conv_fp8)));
  }
  expect_close ("convert f32 -> bf16", &conv_bf16);
  expect_close ("convert f32 -> f8_e4m3 (scale) -> f32", &back);
  /* concat along channels of x and the bf16 copy */
  CT_REQUIRE_OK (ct_poisoned (&P, &cat, RL_F32, 4, (int64_t[]) { b, 2 * c, h, w }));
  FOR_BOTH {
    const RlTensor *parts[2] = { T (x), T (conv_bf16) };
    CT_REQUIRE_OK (OPS->concat (CTX, T (cat), parts, 2, 1));
  }
  expect_close ("concat", &cat);
  /* pads: constant (causal-style front pad), replicate, circular with crop */
  static const RlPadMode modes[] = { RL_PAD_CONSTANT, RL_PAD_REPLICATE, RL_PAD_CIRCULAR };
  for (int m = 0; m < 3; m++) {
    int64_t before[4] = { 0, m == 0 ? 2 : 0, 1, m == 2 ? -1 : 2 };
    int64_t after[4] = { 0, 0, 2, 3 };
    if (w + before[3] + after[3] < 1)
      before[3] = 0;
    int64_t out[4];
    for (int d = 0; d < 4; d++)
      out[d] = shape[d] + before[d] + after[d];
    CT_REQUIRE_OK (ct_poisoned (&P, &pads[m], RL_BF16, 4, out));
    FOR_BOTH CT_REQUIRE_OK (OPS->pad (CTX, T (pads[m]), T (x), before, after, modes[m], -0.5f));
    char what[48];
    snprintf (what, sizeof what, "pad mode=%d", (int) modes[m]);
    expect_close (what, &pads[m]);
    ct_release (&pads[m]);
  }
  CT_REQUIRE_OK (ct_poisoned (&P, &up, RL_F32, 4, (int64_t[]) { b, c, 2 * h, 2 * w }));
  FOR_BOTH CT_REQUIRE_OK (OPS->upsample_nearest2x (CTX, T (up), T (x)));
  expect_close ("upsample_nearest2x", &up);
  /* fill of a strided view leaves the rest alone */
  CtTensor narrow;
  memset (&narrow, 0, sizeof narrow);
  CT_REQUIRE_OK (rl_tensor_narrow (&narrow.host, &x.host, 3, 0, (w + 1) / 2));
  CT_REQUIRE_OK (rl_tensor_narrow (&narrow.dev, &x.dev, 3, 0, (w + 1) / 2));
  FOR_BOTH CT_REQUIRE_OK (OPS->fill (CTX, T (narrow), 0.375f));
  expect_close ("fill strided view", &x);
  ct_release (&narrow);
  ct_release (&view); ct_release (&x); ct_release (&perm_out); ct_release (&conv_bf16);
  ct_release (&conv_fp8); ct_release (&back); ct_release (&cat); ct_release (&up);
}

static void
test_embedding (void)
{
  int64_t vocab = ct_int (5, 300), dim = ct_int (1, 40) * 4, n = ct_int (1, 50);
  CtTensor table, ids, y;
  CT_REQUIRE_OK (ct_random (&P, &table, RL_BF16, 2, (int64_t[]) { vocab, dim }, 1.0f));
  CT_REQUIRE_OK (ct_random (&P, &ids, RL_I32, 2, (int64_t[]) { 1, n }, (float) vocab));
  CT_REQUIRE_OK (ct_poisoned (&P, &y, RL_F32, 3, (int64_t[]) { 1, n, dim }));
  FOR_BOTH CT_REQUIRE_OK (OPS->embedding (CTX, T (y), T (table), T (ids)));
  expect_close ("embedding", &y);
  /* an id past the table fails with a message naming it */
  ((int32_t *) ids.host.data)[n - 1] = (int32_t) vocab;
  CT_REQUIRE_OK (P.gpu_be->transfer (P.gpu, &ids.dev, &ids.host));
  RlStatus st = P.gpu_be->ops->embedding (P.gpu, &y.dev, &table.dev, &ids.dev);
  PT_CHECK (st == RL_E_INVALID_ARG && strstr (rl_last_error (), "outside") != NULL,
            "bad id gave %s: %s", rl_status_name (st), rl_last_error ());
  ct_release (&table); ct_release (&ids); ct_release (&y);
}

static void
test_conv (void)
{
  for (int i = 0; i < 2; i++) {
    RlDType dt = float_types[i];
    int64_t b = 2, c = ct_int (1, 6), o = ct_int (1, 9), h = ct_int (3, 12), w = ct_int (3, 12);
    RlConvParams p2 = { .stride = { 1 + i, 1 }, .pad_before = { 1, 0 }, .pad_after = { 1, 1 } };
    int64_t ho = (h + 2 - 3) / p2.stride[0] + 1, wo = (w + 1 - 3) / 1 + 1;
    CtTensor x, k, bias, y;
    CT_REQUIRE_OK (ct_random (&P, &x, dt, 4, (int64_t[]) { b, c, h, w }, 1.0f));
    CT_REQUIRE_OK (ct_random (&P, &k, dt, 4, (int64_t[]) { o, c, 3, 3 }, 0.5f));
    CT_REQUIRE_OK (ct_random (&P, &bias, RL_F32, 1, (int64_t[]) { o }, 1.0f));
    CT_REQUIRE_OK (ct_poisoned (&P, &y, dt, 4, (int64_t[]) { b, o, ho, wo }));
    FOR_BOTH CT_REQUIRE_OK (OPS->conv2d (CTX, T (y), T (x), T (k), T (bias), &p2));
    expect_close ("conv2d 3x3", &y);
    ct_release (&x); ct_release (&k); ct_release (&bias); ct_release (&y);
    /* causal conv3d: time padded 2 in front only */
    int64_t t = ct_int (1, 4);
    RlConvParams p3 = { .stride = { 1, 1, 1 }, .pad_before = { 2, 1, 1 }, .pad_after = { 0, 1, 1 } };
    CT_REQUIRE_OK (ct_random (&P, &x, dt, 5, (int64_t[]) { b, c, t, h, w }, 1.0f));
    CT_REQUIRE_OK (ct_random (&P, &k, dt, 5, (int64_t[]) { o, c, 3, 3, 3 }, 0.5f));
    CT_REQUIRE_OK (ct_random (&P, &bias, dt, 1, (int64_t[]) { o }, 1.0f));
    CT_REQUIRE_OK (ct_poisoned (&P, &y, dt, 5, (int64_t[]) { b, o, t, h, w }));
    FOR_BOTH CT_REQUIRE_OK (OPS->conv3d (CTX, T (y), T (x), T (k), T (bias), &p3));
    expect_close ("conv3d causal 3x3x3", &y);
    ct_release (&x); ct_release (&k); ct_release (&bias); ct_release (&y);
  }
}

static void
test_attention (void)
{
  for (int i = 0; i < 2; i++) {
    RlDType dt = float_types[i];
    int64_t b = 2, lq = ct_int (1, 40), lk = ct_int (1, 60), h = ct_int (1, 3), d = 8 * ct_int (1, 8);
    CtTensor q, k, v, out, lse;
    CT_REQUIRE_OK (ct_random (&P, &q, dt, 4, (int64_t[]) { b, lq, h, d }, 1.0f));
    CT_REQUIRE_OK (ct_random (&P, &k, dt, 4, (int64_t[]) { b, lk, h, d }, 1.0f));
    CT_REQUIRE_OK (ct_random (&P, &v, dt, 4, (int64_t[]) { b, lk, h, d }, 1.0f));
    CT_REQUIRE_OK (ct_poisoned (&P, &out, dt, 4, (int64_t[]) { b, lq, h, d }));
    CT_REQUIRE_OK (ct_poisoned (&P, &lse, RL_F32, 3, (int64_t[]) { b, h, lq }));
    float scale = 1.0f / sqrtf ((float) d);
    FOR_BOTH CT_REQUIRE_OK (OPS->attention (CTX, T (out), T (lse), T (q), T (k), T (v), scale));
    expect_close ("attention", &out);
    expect_close ("attention lse", &lse);
    ct_release (&q); ct_release (&k); ct_release (&v); ct_release (&out); ct_release (&lse);
  }
}

static void
test_errors (void)
{
  /* A host tensor handed to the cuda backend names the argument. */
  CtTensor x, y;
  CT_REQUIRE_OK (ct_random (&P, &x, RL_F32, 2, (int64_t[]) { 4, 8 }, 1.0f));
  CT_REQUIRE_OK (ct_poisoned (&P, &y, RL_F32, 2, (int64_t[]) { 4, 8 }));
  RlStatus st = P.gpu_be->ops->softmax (P.gpu, &y.dev, &x.host);
  PT_CHECK (st == RL_E_DEVICE_MISMATCH && strstr (rl_last_error (), "x") != NULL,
            "host tensor gave %s: %s", rl_status_name (st), rl_last_error ());
  st = P.gpu_be->ops->gemm (P.gpu, &y.dev, &x.dev, &x.dev, NULL, RL_ACT_NONE);
  PT_CHECK (st == RL_E_SHAPE, "gemm shape mismatch gave %s: %s", rl_status_name (st),
            rl_last_error ());
  ct_release (&x);
  ct_release (&y);
}

int
main (void)
{
  ct_require_gpu ();
  ct_seed ();
  ct_pair_open (&P);
  PT_RUN (test_gemm);
  PT_RUN (test_gemm_mixed);
  PT_RUN (test_gemm_gguf);
  PT_RUN (test_batched_gemm);
  PT_RUN (test_norms);
  PT_RUN (test_modulation);
  PT_RUN (test_norm_fused);
  PT_RUN (test_channel_norms);
  PT_RUN (test_rope);
  PT_RUN (test_softmax_reduce);
  PT_RUN (test_elementwise);
  PT_RUN (test_layout);
  PT_RUN (test_embedding);
  PT_RUN (test_conv);
  PT_RUN (test_attention);
  PT_RUN (test_errors);
  ct_pair_close (&P);
  return pt_finish ();
}
