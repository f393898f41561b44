/* The CUDA channel RMS norm (Wan VAE) against the CPU backend, in each of
 * its launch shapes: many positions with one row of threads along
 * channels and 16-byte accesses, few positions with up to 32 rows adding
 * partial sums in shared memory (in place, as the VAE calls it), and
 * positions not a multiple of 8 (element-wise accesses); f32, bf16 and
 * bf16 in → f32 out. Random inputs, poisoned outputs; relative error
 * ≤ 1e-5 for f32 and ≤ 1e-2 for bf16. Exits 77 without a GPU. */
#include "tests/cuda/cuda-test-util.h"


static void
check (const char *what, int64_t channels, int64_t t, int64_t h, int64_t w, RlDType x_dtype,
       RlDType y_dtype, bool in_place)
{
  int64_t shape[5] = { 1, channels, t, h, w };
  CtTensor x, g, b, y;
  CT_REQUIRE_OK (ct_random (&P, &x, x_dtype, 5, shape, 2.0f));
  CT_REQUIRE_OK (ct_random (&P, &g, RL_F32, 1, (int64_t[]) { channels }, 1.0f));
  CT_REQUIRE_OK (ct_random (&P, &b, RL_F32, 1, (int64_t[]) { channels }, 1.0f));
  CT_REQUIRE_OK (ct_poisoned (&P, &y, y_dtype, 5, shape));
  for (int side = 0; side < 2; side++) {
    const RlBackend *be = side ? P.gpu_be : P.cpu_be;
    RlContext *ctx = side ? P.gpu : P.cpu;
    RlTensor *xs = side ? &x.dev : &x.host, *ys = in_place ? xs : side ? &y.dev : &y.host;
    CT_REQUIRE_OK (be->ops->channel_rms_norm (ctx, ys, xs, side ? &g.dev : &g.host,
                                              side ? &b.dev : &b.host, 1e-12f));
  }
  const CtTensor *out = in_place ? &x : &y;
  double err = ct_rel_error (&P, &out->host, &out->dev);
  double tol = ct_tolerance (x_dtype == RL_F32 && y_dtype == RL_F32 ? RL_F32 : RL_BF16);
  printf ("# %-44s %-4s -> %-4s rel err %.3g (tol %.0e)\n", what, rl_dtype_name (x_dtype),
          rl_dtype_name (y_dtype), err, tol);
  PT_CHECK (err <= tol, "%s: relative error %g exceeds %g", what, err, tol);
  ct_release (&x); ct_release (&g); ct_release (&b); ct_release (&y);
}

static void
test_many_positions (void)
{
  check ("16 channels, 2×512×1024 positions", 16, 2, 512, 1024, RL_BF16, RL_BF16, false);
  check ("16 channels, 2×512×1024 positions", 16, 2, 512, 1024, RL_F32, RL_F32, false);
}

static void
test_few_positions (void)
{
  check ("1024 channels, 2×30×52 positions, in place", 1024, 2, 30, 52, RL_BF16, RL_BF16, true);
  check ("384 channels, 1×12×20 positions", 384, 1, 12, 20, RL_F32, RL_F32, false);
  check ("96 channels, 3×20×26 positions", 96, 3, 20, 26, RL_BF16, RL_F32, false);
}

static void
test_ragged_positions (void)
{
  check ("40 channels, 3×7×13 positions (odd)", 40, 3, 7, 13, RL_BF16, RL_BF16, false);
  check ("5 channels, 1×9×11 positions (odd), in place", 5, 1, 9, 11, RL_F32, RL_F32, true);
}

int
main (void)
{
  ct_require_gpu ();
  ct_seed ();
  ct_pair_open (&P);
  PT_RUN (test_many_positions);
  PT_RUN (test_few_positions);
  PT_RUN (test_ragged_positions);
  ct_pair_close (&P);
  return pt_finish ();
}
