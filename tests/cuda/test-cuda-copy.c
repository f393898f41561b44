/* Strided copies of the CUDA backend against the CPU backend, in the
 * layouts the Wan VAE's feature cache makes: a concat along frames, a
 * narrow of frames into a dense tensor, the temporal upsample's frame
 * interleave (these go to 2-D row copies), and layouts that must stay on
 * the element-wise kernel (a short innermost run, too many rows to loop
 * over, a transpose), and the Ulysses exchange's head-group packing (the
 * row-copy kernel). Random inputs, poisoned outputs, exact equality
 * expected (copies). Exits 77 without a GPU. */
#include "tests/cuda/cuda-test-util.h"

static void
expect_equal (const char *what, const CtTensor *y)
{
  ct_expect_within (what, y, 0.0);
}

/* cat(cached [B, C, n, H, W], x [B, C, t, H, W]) along frames. */
static void
test_concat_frames (void)
{
  int64_t b = 2, c = ct_int (2, 5), n = 2, t = ct_int (1, 4), h = 16, w = 24;
  CtTensor cached, x, y;
  CT_REQUIRE_OK (ct_random (&P, &cached, RL_BF16, 5, (int64_t[]) { b, c, n, h, w }, 1.0f));
  CT_REQUIRE_OK (ct_random (&P, &x, RL_BF16, 5, (int64_t[]) { b, c, t, h, w }, 1.0f));
  CT_REQUIRE_OK (ct_poisoned (&P, &y, RL_BF16, 5, (int64_t[]) { b, c, n + t, h, w }));
  FOR_BOTH {
    const RlTensor *parts[2] = { T (cached), T (x) };
    CT_REQUIRE_OK (OPS->concat (CTX, T (y), parts, 2, 2));
  }
  expect_equal ("concat along frames", &y);
  ct_release (&cached); ct_release (&x); ct_release (&y);
}

/* Frames [2, 5) of [B, C, 6, H, W] into a dense tensor, and the other way
 * into frames [1, 4) of a larger one. */
static void
test_narrow_frames (void)
{
  int64_t b = 2, c = 3, h = 12, w = 40;
  CtTensor x, dense, big;
  CT_REQUIRE_OK (ct_random (&P, &x, RL_F32, 5, (int64_t[]) { b, c, 6, h, w }, 1.0f));
  CT_REQUIRE_OK (ct_poisoned (&P, &dense, RL_F32, 5, (int64_t[]) { b, c, 3, h, w }));
  CT_REQUIRE_OK (ct_random (&P, &big, RL_F32, 5, (int64_t[]) { b, c, 5, h, w }, 1.0f));
  FOR_BOTH {
    RlTensor from = { 0 }, into = { 0 };
    CT_REQUIRE_OK (rl_tensor_narrow (&from, T (x), 2, 2, 3));
    CT_REQUIRE_OK (OPS->copy (CTX, T (dense), &from));
    CT_REQUIRE_OK (rl_tensor_narrow (&into, T (big), 2, 1, 3));
    CT_REQUIRE_OK (OPS->copy (CTX, &into, T (dense)));
    rl_tensor_release (&from);
    rl_tensor_release (&into);
  }
  expect_equal ("narrow of frames into a dense tensor", &dense);
  expect_equal ("dense tensor into a narrow of frames", &big);
  ct_release (&x); ct_release (&dense); ct_release (&big);
}

/* (B, 2, C, T, HW) → (B, C, T, 2, HW): frame 2t+j from channel block j. */
static void
test_frame_interleave (void)
{
  int64_t b = 1, c = ct_int (2, 6), t = ct_int (1, 4), hw = 300;
  const int perm[5] = { 0, 2, 3, 1, 4 };
  CtTensor x, y;
  CT_REQUIRE_OK (ct_random (&P, &x, RL_BF16, 5, (int64_t[]) { b, 2, c, t, hw }, 1.0f));
  CT_REQUIRE_OK (ct_poisoned (&P, &y, RL_BF16, 5, (int64_t[]) { b, c, t, 2, hw }));
  FOR_BOTH {
    RlTensor view = { 0 };
    CT_REQUIRE_OK (rl_tensor_permute (&view, T (x), perm));
    CT_REQUIRE_OK (OPS->copy (CTX, T (y), &view));
    rl_tensor_release (&view);
  }
  expect_equal ("frame interleave", &y);
  ct_release (&x); ct_release (&y);
}

/* Layouts the element-wise kernel keeps: a short innermost run (a narrow
 * of the last dim), more outer rows than the row path loops over, a
 * transpose (no common contiguous run). */
static void
test_kernel_layouts (void)
{
  CtTensor x, short_run, many, x4, transposed;
  CT_REQUIRE_OK (ct_random (&P, &x, RL_F32, 3, (int64_t[]) { 4, 6, 50 }, 1.0f));
  CT_REQUIRE_OK (ct_poisoned (&P, &short_run, RL_F32, 3, (int64_t[]) { 4, 6, 20 }));
  CT_REQUIRE_OK (ct_random (&P, &x4, RL_F32, 4, (int64_t[]) { 20, 3, 4, 200 }, 1.0f));
  CT_REQUIRE_OK (ct_poisoned (&P, &many, RL_F32, 4, (int64_t[]) { 20, 2, 2, 200 }));
  CT_REQUIRE_OK (ct_poisoned (&P, &transposed, RL_F32, 3, (int64_t[]) { 4, 50, 6 }));
  FOR_BOTH {
    RlTensor a = { 0 }, m = { 0 }, tr = { 0 };
    const int swap[3] = { 0, 2, 1 };
    CT_REQUIRE_OK (rl_tensor_narrow (&a, T (x), 2, 5, 20));
    CT_REQUIRE_OK (OPS->copy (CTX, T (short_run), &a));
    /* frames 1-2 of channels 0-1: 20 × 2 rows of 2 frames, no dims merge */
    RlTensor m1 = { 0 };
    CT_REQUIRE_OK (rl_tensor_narrow (&m1, T (x4), 2, 1, 2));
    CT_REQUIRE_OK (rl_tensor_narrow (&m, &m1, 1, 0, 2));
    rl_tensor_release (&m1);
    CT_REQUIRE_OK (OPS->copy (CTX, T (many), &m));
    CT_REQUIRE_OK (rl_tensor_permute (&tr, T (x), swap));
    CT_REQUIRE_OK (OPS->copy (CTX, T (transposed), &tr));
    rl_tensor_release (&a);
    rl_tensor_release (&m);
    rl_tensor_release (&tr);
  }
  expect_equal ("narrow of the last dim (short run)", &short_run);
  expect_equal ("narrow with many outer rows", &many);
  expect_equal ("transpose", &transposed);
  ct_release (&x); ct_release (&short_run); ct_release (&x4); ct_release (&many);
  ct_release (&transposed);
}

/* The Ulysses exchange's packing: head group g (G heads of each of U
 * ranks' Hu) of q [1, L, U·Hu, D] in wire order [U, 1, L, G, D] — rows of
 * G·D elements at a pitch of H·D, one call per rank: the row-copy kernel
 * when 16-byte aligned, with rows short (4 heads of 64 bf16) and long
 * (whole 10 KB rows of a narrow, split into segments), and the 2-D memcpy
 * when not (3 heads of 100 bf16: 600-byte rows). */
static void
test_exchange_packing (void)
{
  static const int64_t cases[][4] = {   /* U, Hu, G, D */
    { 2, 8, 4, 64 }, { 4, 6, 3, 100 }, { 2, 4, 2, 2560 },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int64_t u = cases[i][0], hu = cases[i][1], g = cases[i][2], d = cases[i][3];
    int64_t l = ct_int (37, 300);
    CtTensor q, packed, back;
    CT_REQUIRE_OK (ct_random (&P, &q, RL_BF16, 4, (int64_t[]) { 1, l, u * hu, d }, 1.0f));
    CT_REQUIRE_OK (ct_poisoned (&P, &packed, RL_BF16, 5, (int64_t[]) { u, 1, l, g, d }));
    CT_REQUIRE_OK (ct_random (&P, &back, RL_BF16, 4, (int64_t[]) { 1, l, u * hu, d }, 1.0f));
    FOR_BOTH {
      RlTensor view = { 0 }, into = { 0 };
      static const int perm[5] = { 2, 0, 1, 3, 4 };
      CT_REQUIRE_OK (rl_tensor_reshape (&view, T (q), 5, (int64_t[]) { 1, l, u, hu, d }));
      CT_REQUIRE_OK (rl_tensor_narrow (&view, &view, 3, g, g));   /* group 1 */
      CT_REQUIRE_OK (rl_tensor_permute (&view, &view, perm));
      CT_REQUIRE_OK (OPS->copy (CTX, T (packed), &view));
      /* and back into the group's place of another tensor (the store) */
      CT_REQUIRE_OK (rl_tensor_reshape (&into, T (back), 5, (int64_t[]) { 1, l, u, hu, d }));
      CT_REQUIRE_OK (rl_tensor_narrow (&into, &into, 3, 0, g));   /* group 0 */
      CT_REQUIRE_OK (rl_tensor_permute (&into, &into, perm));
      CT_REQUIRE_OK (OPS->copy (CTX, &into, T (packed)));
      rl_tensor_release (&view);
      rl_tensor_release (&into);
    }
    char what[96];
    snprintf (what, sizeof what, "packing U%lld Hu%lld G%lld D%lld L%lld", (long long) u,
              (long long) hu, (long long) g, (long long) d, (long long) l);
    expect_equal (what, &packed);
    expect_equal (what, &back);
    ct_release (&q); ct_release (&packed); ct_release (&back);
  }
}

int
main (void)
{
  ct_require_gpu ();
  ct_seed ();
  ct_pair_open (&P);
  PT_RUN (test_concat_frames);
  PT_RUN (test_narrow_frames);
  PT_RUN (test_frame_interleave);
  PT_RUN (test_kernel_layouts);
  PT_RUN (test_exchange_packing);
  ct_pair_close (&P);
  return pt_finish ();
}
