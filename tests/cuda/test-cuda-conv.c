/* conv2d and conv3d of the CUDA backend, each path on its own
 * ($RAYLIGHT_CUDA_CONV=cudnn and =im2col), against the CPU backend on
 * random inputs with poisoned outputs: the Wan VAE's shapes in small
 * (causal time padding, ZeroPad2d's trailing pad with stride 2, the
 * temporal downsample's stride 2, 1×1×1 shortcuts), dtypes f32 / bf16,
 * mixed input dtypes, a strided input view, a bias, and conv3d split
 * into calls over 3 output frames (7 → 3 + 3 + 1); cuDNN with its default
 * algorithm and with the heuristics' choice. Relative error
 * ≤ 1e-5 for f32, ≤ 1e-2 for bf16. Without libcudnn the cuDNN half is
 * skipped with a note, unless RAYLIGHT_TEST_REQUIRE_CUDNN=1 (the GPU
 * session sets it) makes that a failure. Exits 77 without a GPU. */
#include "tests/cuda/cuda-test-util.h"

static bool have_cudnn;

typedef struct {
  const char  *name;
  int          spatial;
  int64_t      c, o, in[3], kernel[3];
  RlConvParams params;
} ConvCase;

static const ConvCase cases[] = {
  { "conv3d causal 3x3x3", 3, 5, 7, { 3, 9, 11 }, { 3, 3, 3 },
    { .stride = { 1, 1, 1 }, .pad_before = { 2, 1, 1 }, .pad_after = { 0, 1, 1 } } },
  { "conv3d causal, one cached frame", 3, 4, 6, { 2, 6, 5 }, { 3, 3, 3 },
    { .stride = { 1, 1, 1 }, .pad_before = { 1, 1, 1 }, .pad_after = { 0, 1, 1 } } },
  { "conv3d cached frames, no time pad", 3, 6, 4, { 9, 7, 8 }, { 3, 3, 3 },
    { .stride = { 1, 1, 1 }, .pad_before = { 0, 1, 1 }, .pad_after = { 0, 1, 1 } } },
  { "conv3d time 3x1x1 stride 2", 3, 8, 5, { 11, 4, 6 }, { 3, 1, 1 },
    { .stride = { 2, 1, 1 } } },
  { "conv3d 1x3x3 zero-pad after, stride 2", 3, 3, 4, { 2, 9, 12 }, { 1, 3, 3 },
    { .stride = { 1, 2, 2 }, .pad_after = { 0, 1, 1 } } },
  { "conv3d 1x1x1 shortcut", 3, 12, 6, { 3, 5, 7 }, { 1, 1, 1 },
    { .stride = { 1, 1, 1 } } },
  { "conv2d 3x3 pad 1", 2, 6, 9, { 10, 13 }, { 3, 3 },
    { .stride = { 1, 1 }, .pad_before = { 1, 1 }, .pad_after = { 1, 1 } } },
  { "conv2d 3x3 stride 2, uneven pad", 2, 5, 3, { 11, 8 }, { 3, 3 },
    { .stride = { 2, 2 }, .pad_before = { 1, 0 }, .pad_after = { 1, 1 } } },
};

static int
shape_of (const ConvCase *cc, int64_t batch, int64_t channels, const int64_t *dims, int64_t *out)
{
  out[0] = batch;
  out[1] = channels;
  for (int d = 0; d < cc->spatial; d++)
    out[2 + d] = dims[d];
  return cc->spatial + 2;
}

static RlStatus
run_conv (int side, const ConvCase *cc, RlTensor *y, const RlTensor *x, const RlTensor *w,
          const RlTensor *bias)
{
  const RlBackend *be = side ? P.gpu_be : P.cpu_be;
  RlContext *ctx = side ? P.gpu : P.cpu;
  return cc->spatial == 3 ? be->ops->conv3d (ctx, y, x, w, bias, &cc->params)
                          : be->ops->conv2d (ctx, y, x, w, bias, &cc->params);
}

/* One case on one path: x [2, C, ...] in x_dtype, w in w_dtype, y in
 * y_dtype; with `strided`, x is a view of every other channel of a twice
 * as wide tensor. */
static void
check_case (const char *path, const ConvCase *cc, RlDType x_dtype, RlDType w_dtype,
            RlDType y_dtype, bool strided)
{
  int64_t out[3], xs[5], ws[5], ys[5], wide[5];
  for (int d = 0; d < cc->spatial; d++)
    out[d] = (cc->in[d] + cc->params.pad_before[d] + cc->params.pad_after[d] - cc->kernel[d])
             / cc->params.stride[d] + 1;
  int nd = shape_of (cc, 2, cc->c, cc->in, xs);
  shape_of (cc, cc->o, cc->c, cc->kernel, ws);
  shape_of (cc, 2, cc->o, out, ys);
  shape_of (cc, 2, 2 * cc->c, cc->in, wide);
  CtTensor x, w, bias, y;
  RlTensor xv_host = { 0 }, xv_dev = { 0 };
  CT_REQUIRE_OK (ct_random (&P, &x, x_dtype, nd, strided ? wide : xs, 1.0f));
  CT_REQUIRE_OK (ct_random (&P, &w, w_dtype, nd, ws, 0.5f));
  CT_REQUIRE_OK (ct_random (&P, &bias, RL_F32, 1, (int64_t[]) { cc->o }, 1.0f));
  CT_REQUIRE_OK (ct_poisoned (&P, &y, y_dtype, nd, ys));
  if (strided) {
    /* channels 0, 2, 4, ...: a view with channel stride twice the dense one */
    int64_t strides[5];
    for (int d = 0; d < nd; d++)
      strides[d] = x.host.strides[d];
    strides[1] *= 2;
    CT_REQUIRE_OK (rl_tensor_wrap (&xv_host, x.host.data, x.host.device, x_dtype, nd, xs, strides,
                                   x.host.storage));
    CT_REQUIRE_OK (rl_tensor_wrap (&xv_dev, x.dev.data, x.dev.device, x_dtype, nd, xs, strides,
                                   x.dev.storage));
  } else {
    CT_REQUIRE_OK (rl_tensor_view (&xv_host, &x.host));
    CT_REQUIRE_OK (rl_tensor_view (&xv_dev, &x.dev));
  }
  for (int side = 0; side < 2; side++) {
    RlStatus st = run_conv (side, cc, side ? &y.dev : &y.host, side ? &xv_dev : &xv_host,
                            side ? &w.dev : &w.host, side ? &bias.dev : &bias.host);
    PT_CHECK (st == RL_OK, "%s %s (%s): %s", path, cc->name, side ? "cuda" : "cpu",
              rl_last_error ());
  }
  double err = ct_rel_error (&P, &y.host, &y.dev);
  double tol = ct_tolerance (x_dtype == RL_F32 && w_dtype == RL_F32 ? RL_F32 : RL_BF16);
  printf ("# %-16s %-40s x %-4s w %-4s y %-4s%s rel err %.3g (tol %.0e)\n", path, cc->name,
          rl_dtype_name (x_dtype), rl_dtype_name (w_dtype), rl_dtype_name (y_dtype),
          strided ? " strided" : "", err, tol);
  PT_CHECK (err <= tol, "%s %s: relative error %g exceeds %g", path, cc->name, err, tol);
  rl_tensor_release (&xv_host);
  rl_tensor_release (&xv_dev);
  ct_release (&x); ct_release (&w); ct_release (&bias); ct_release (&y);
}

static void
check_path (const char *path)
{
  setenv ("RAYLIGHT_CUDA_CONV", path, 1);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    check_case (path, &cases[i], RL_F32, RL_F32, RL_F32, false);
    check_case (path, &cases[i], RL_BF16, RL_BF16, RL_BF16, false);
  }
  /* conversions around the product: f32 x with bf16 weights into f32 y
   * (y written from a bf16 scratch on the cuDNN path), a bf16 y of f32
   * products, and a strided input */
  check_case (path, &cases[0], RL_F32, RL_BF16, RL_F32, false);
  check_case (path, &cases[6], RL_BF16, RL_F32, RL_BF16, false);
  check_case (path, &cases[0], RL_BF16, RL_BF16, RL_BF16, true);
  check_case (path, &cases[7], RL_F32, RL_F32, RL_F32, true);
  /* conv3d in several calls over output frames (views into x and y) */
  setenv ("RAYLIGHT_CUDA_CONV_FRAMES_PER_CALL", "3", 1);
  check_case (path, &cases[2], RL_BF16, RL_BF16, RL_BF16, false);
  check_case (path, &cases[2], RL_F32, RL_F32, RL_F32, false);
  check_case (path, &cases[3], RL_BF16, RL_BF16, RL_BF16, false);
  check_case (path, &cases[0], RL_BF16, RL_BF16, RL_BF16, false);
  unsetenv ("RAYLIGHT_CUDA_CONV_FRAMES_PER_CALL");
  unsetenv ("RAYLIGHT_CUDA_CONV");
}

static void
test_im2col (void)
{
  check_path ("im2col");
}

static void
test_cudnn (void)
{
  if (!have_cudnn) {
    printf ("# cuDNN not available: cuDNN convolutions not checked\n");
    PT_CHECK (getenv ("RAYLIGHT_TEST_REQUIRE_CUDNN") == NULL
              || strcmp (getenv ("RAYLIGHT_TEST_REQUIRE_CUDNN"), "1") != 0,
              "RAYLIGHT_TEST_REQUIRE_CUDNN=1 but cuDNN cannot be opened");
    return;
  }
  check_path ("cudnn");
  /* 16-bit convolutions with the algorithm cuDNN's heuristics rank first
   * (the default takes IMPLICIT_PRECOMP_GEMM without asking) */
  setenv ("RAYLIGHT_CUDA_CONV_ALGO", "heuristic", 1);
  setenv ("RAYLIGHT_CUDA_CONV", "cudnn", 1);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    check_case ("cudnn heuristic", &cases[i], RL_BF16, RL_BF16, RL_BF16, false);
  unsetenv ("RAYLIGHT_CUDA_CONV");
  unsetenv ("RAYLIGHT_CUDA_CONV_ALGO");
}

/* An unknown path is refused naming the variable. */
static void
test_bad_path (void)
{
  CtTensor x, w, y;
  const ConvCase *cc = &cases[6];
  CT_REQUIRE_OK (ct_random (&P, &x, RL_F32, 4, (int64_t[]) { 1, cc->c, 10, 13 }, 1.0f));
  CT_REQUIRE_OK (ct_random (&P, &w, RL_F32, 4, (int64_t[]) { cc->o, cc->c, 3, 3 }, 1.0f));
  CT_REQUIRE_OK (ct_poisoned (&P, &y, RL_F32, 4, (int64_t[]) { 1, cc->o, 10, 13 }));
  setenv ("RAYLIGHT_CUDA_CONV", "winograd", 1);
  RlStatus st = P.gpu_be->ops->conv2d (P.gpu, &y.dev, &x.dev, &w.dev, NULL, &cc->params);
  unsetenv ("RAYLIGHT_CUDA_CONV");
  PT_CHECK (st == RL_E_INVALID_ARG && strstr (rl_last_error (), "RAYLIGHT_CUDA_CONV") != NULL,
            "RAYLIGHT_CUDA_CONV=winograd gave %s: %s", rl_status_name (st), rl_last_error ());
  ct_release (&x); ct_release (&w); ct_release (&y);
}

/* Whether the cuDNN path runs at all here: a tiny conv with
 * RAYLIGHT_CUDA_CONV=cudnn, which is refused only when libcudnn is not
 * there (or cannot run a 3×3 f32 conv). */
static bool
probe_cudnn (void)
{
  CtTensor x, w, y;
  const ConvCase *cc = &cases[6];
  RlStatus st = ct_random (&P, &x, RL_F32, 4, (int64_t[]) { 1, cc->c, 10, 13 }, 1.0f);
  if (st == RL_OK)
    st = ct_random (&P, &w, RL_F32, 4, (int64_t[]) { cc->o, cc->c, 3, 3 }, 1.0f);
  if (st == RL_OK)
    st = ct_poisoned (&P, &y, RL_F32, 4, (int64_t[]) { 1, cc->o, 10, 13 });
  if (st != RL_OK) {
    printf ("Bail out! tensors for the cuDNN probe: %s\n", rl_last_error ());
    exit (1);
  }
  setenv ("RAYLIGHT_CUDA_CONV", "cudnn", 1);
  st = P.gpu_be->ops->conv2d (P.gpu, &y.dev, &x.dev, &w.dev, NULL, &cc->params);
  unsetenv ("RAYLIGHT_CUDA_CONV");
  if (st != RL_OK)
    printf ("# cuDNN path: %s\n", rl_last_error ());
  ct_release (&x); ct_release (&w); ct_release (&y);
  return st == RL_OK;
}

int
main (void)
{
  ct_require_gpu ();
  ct_seed ();
  ct_pair_open (&P);
  have_cudnn = probe_cudnn ();
  PT_RUN (test_im2col);
  PT_RUN (test_cudnn);
  PT_RUN (test_bad_path);
  ct_pair_close (&P);
  return pt_finish ();
}
