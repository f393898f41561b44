/* CPU tests of the attention plugin ABI: loading from the build tree,
 * the reference variant's definition (single key, padded keys, empty rows),
 * ring merging over key chunks, fallback with a logged reason, and the
 * op-table adapter against the CPU backend's attention. */
#include "tests/attention/attention-test-util.h"

#include "plugins/attention/attention-merge.h"
#include "plugins/attention/attention-op.h"
#include "plugins/attention/variant-util.h"
#include "workers/runtime/backend.h"

typedef struct {
  char lines[8][512];
  int  count;
} LogCapture;

static void
capture_log (void *user, const char *message)
{
  LogCapture *capture = user;
  printf ("# log: %s\n", message);
  if (capture->count < 8)
    snprintf (capture->lines[capture->count++], sizeof capture->lines[0], "%s", message);
}

static void
test_reference_is_found (void)
{
  RlAttentionRegistry *registry = at_registry (NULL, NULL);
  const RlAttentionVariant *reference = rl_attention_registry_find (registry, "reference");
  PT_CHECK (reference != NULL, "raylight-attention-reference.so not found in the build tree");
  for (size_t i = 0; i < rl_attention_registry_count (registry); i++)
    printf ("# variant %s from %s\n", rl_attention_registry_get (registry, i)->name,
            rl_attention_registry_origin (registry, i));
  PT_CHECK (reference == NULL || reference->backend == RL_ATTENTION_BACKEND_CPU, "backend");
  PT_CHECK (rl_attention_registry_find (registry, "no-such-variant") == NULL, "phantom variant");
  rl_attention_registry_free (registry);
}

/* With one key, softmax is 1: out = v and lse = scale · q·k. */
static void
test_reference_single_key (void)
{
  RlAttentionRegistry *registry = at_registry (NULL, NULL);
  int32_t heads = (int32_t) at_int (1, 4), q_len = (int32_t) at_int (1, 9), dim = 16;
  RlAttentionProblem p = at_problem (2, heads, q_len, 1, dim, RL_ATTENTION_F32);
  p.scale = 0.3f;
  float *q = at_random (RL_ATTENTION_F32, 2L * q_len * heads * dim, 1.0f);
  float *k = at_random (RL_ATTENTION_F32, 2L * heads * dim, 1.0f);
  float *v = at_random (RL_ATTENTION_F32, 2L * heads * dim, 1.0f);
  float *out = malloc (2L * q_len * heads * dim * sizeof (float));
  float *lse = malloc (2L * heads * q_len * sizeof (float));
  memset (out, 0xff, 2L * q_len * heads * dim * sizeof (float));
  RlAttentionArgs args = { sizeof args, q, k, v, out, lse, NULL, NULL };
  char error[512];
  int result = at_run_host (registry, "reference", &p, &args, error, sizeof error);
  PT_CHECK (result == RL_ATTENTION_OK, "%s", error);
  double worst_out = 0, worst_lse = 0;
  for (int b = 0; b < 2; b++)
    for (int i = 0; i < q_len; i++)
      for (int h = 0; h < heads; h++)
        {
          const float *qi = q + ((b * q_len + i) * heads + h) * dim;
          const float *kj = k + (b * heads + h) * dim, *vj = v + (b * heads + h) * dim;
          double dot = 0;
          for (int e = 0; e < dim; e++)
            {
              dot += (double) qi[e] * kj[e];
              worst_out = fmax (worst_out, fabs (out[((b * q_len + i) * heads + h) * dim + e] - vj[e]));
            }
          worst_lse = fmax (worst_lse, fabs (lse[(b * heads + h) * q_len + i] - 0.3 * dot));
        }
  PT_CHECK (worst_out < 1e-6 && worst_lse < 1e-5, "out err %g lse err %g", worst_out, worst_lse);
  free (q), free (k), free (v), free (out), free (lse);
  rl_attention_registry_free (registry);
}

/* Runs the reference on keys [start, start+count) of k/v (copied into
 * their own buffers), output in f32. */
static int
reference_on_keys (const RlAttentionRegistry *registry, const RlAttentionProblem *full,
                   const float *q, const float *k, const float *v, int32_t start, int32_t count,
                   float *out, float *lse)
{
  int64_t row = (int64_t) full->heads * full->head_dim;
  float *kc = malloc ((size_t) full->batch * count * row * sizeof (float));
  float *vc = malloc ((size_t) full->batch * count * row * sizeof (float));
  for (int32_t b = 0; b < full->batch; b++)
    {
      memcpy (kc + (int64_t) b * count * row, k + ((int64_t) b * full->kv_len + start) * row,
              (size_t) count * row * sizeof (float));
      memcpy (vc + (int64_t) b * count * row, v + ((int64_t) b * full->kv_len + start) * row,
              (size_t) count * row * sizeof (float));
    }
  RlAttentionProblem p = *full;
  p.kv_len = count;
  RlAttentionArgs args = { sizeof args, q, kc, vc, out, lse, NULL, NULL };
  char error[512];
  int result = at_run_host (registry, "reference", &p, &args, error, sizeof error);
  if (result != RL_ATTENTION_OK)
    printf ("# %s\n", error);
  free (kc), free (vc);
  return result;
}

/* Attention over all keys equals the merge of attention over k chunks. */
static void
test_ring_merge_equals_unchunked (void)
{
  RlAttentionRegistry *registry = at_registry (NULL, NULL);
  int32_t batch = 2, heads = 3, q_len = (int32_t) at_int (5, 20), kv_len = (int32_t) at_int (30, 70);
  int32_t dim = 32, chunks = (int32_t) at_int (2, 5);
  RlAttentionProblem p = at_problem (batch, heads, q_len, kv_len, dim, RL_ATTENTION_F32);
  int64_t q_count = (int64_t) batch * q_len * heads * dim, rows = (int64_t) batch * heads * q_len;
  float *q = at_random (RL_ATTENTION_F32, q_count, 2.0f);
  float *k = at_random (RL_ATTENTION_F32, (int64_t) batch * kv_len * heads * dim, 2.0f);
  float *v = at_random (RL_ATTENTION_F32, (int64_t) batch * kv_len * heads * dim, 1.0f);
  float *ref = malloc (q_count * sizeof (float)), *ref_lse = malloc (rows * sizeof (float));
  float *acc = malloc (q_count * sizeof (float)), *acc_lse = malloc (rows * sizeof (float));
  float *part = malloc (q_count * sizeof (float)), *part_lse = malloc (rows * sizeof (float));
  PT_REQUIRE (reference_on_keys (registry, &p, q, k, v, 0, kv_len, ref, ref_lse) == 0, "full");
  for (int64_t i = 0; i < q_count; i++)
    acc[i] = 0.0f;
  for (int64_t i = 0; i < rows; i++)
    acc_lse[i] = -INFINITY;
  for (int32_t c = 0; c < chunks; c++)
    {
      int32_t start = kv_len * c / chunks, end = kv_len * (c + 1) / chunks;
      PT_REQUIRE (reference_on_keys (registry, &p, q, k, v, start, end - start, part, part_lse) == 0,
                  "chunk %d", c);
      rl_attention_merge_f32 (acc, acc_lse, part, part_lse, batch, q_len, heads, dim);
    }
  double out_err = at_relative_error (acc, ref, q_count);
  double lse_err = at_max_abs_error (acc_lse, ref_lse, rows);
  printf ("# %d chunks of %d keys: out rel err %.3g, lse max err %.3g\n", chunks, kv_len, out_err,
          lse_err);
  PT_CHECK (out_err < 1e-6 && lse_err < 1e-5, "out %g lse %g", out_err, lse_err);
  free (q), free (k), free (v), free (ref), free (ref_lse), free (acc), free (acc_lse);
  free (part), free (part_lse);
  rl_attention_registry_free (registry);
}

/* Padded keys with per-batch lengths equal running on the real keys only;
 * a batch with no keys gives zeros and lse = −inf; every element written. */
static void
test_reference_padded_keys (void)
{
  RlAttentionRegistry *registry = at_registry (NULL, NULL);
  int32_t batch = 3, heads = 2, q_len = (int32_t) at_int (3, 12), kv_len = (int32_t) at_int (10, 40);
  int32_t dim = 8, dtype = RL_ATTENTION_BF16;
  RlAttentionProblem p = at_problem (batch, heads, q_len, kv_len, dim, dtype);
  p.has_kv_lengths = 1;
  int32_t lengths[3] = { (int32_t) at_int (1, kv_len - 1), 0, kv_len };
  int64_t q_count = (int64_t) batch * q_len * heads * dim, rows = (int64_t) batch * heads * q_len;
  int64_t kv_count = (int64_t) batch * kv_len * heads * dim;
  void *q = at_random (dtype, q_count, 1.0f), *k = at_random (dtype, kv_count, 1.0f);
  void *v = at_random (dtype, kv_count, 1.0f);
  uint16_t *out = malloc (q_count * 2);
  float *lse = malloc (rows * sizeof (float));
  memset (out, 0xff, q_count * 2);
  memset (lse, 0xff, rows * sizeof (float));
  RlAttentionArgs args = { sizeof args, q, k, v, out, lse, lengths, NULL };
  char error[512];
  PT_REQUIRE (at_run_host (registry, "reference", &p, &args, error, sizeof error) == 0, "%s", error);
  for (int32_t b = 0; b < batch; b++)
    {
      RlAttentionProblem one = at_problem (1, heads, q_len, lengths[b] > 0 ? lengths[b] : 1, dim, dtype);
      int64_t q_row = (int64_t) q_len * heads * dim, kv_row = (int64_t) kv_len * heads * dim;
      uint16_t *expect = malloc (q_row * 2);
      float *expect_lse = malloc ((size_t) heads * q_len * sizeof (float));
      RlAttentionArgs a1 = { sizeof a1, (uint16_t *) q + b * q_row, (uint16_t *) k + b * kv_row,
                             (uint16_t *) v + b * kv_row, expect, expect_lse, NULL, NULL };
      PT_REQUIRE (at_run_host (registry, "reference", &one, &a1, error, sizeof error) == 0, "%s", error);
      for (int64_t i = 0; i < q_row; i++)
        {
          float got = rl_bf16_to_f32 (out[b * q_row + i]);
          float want = lengths[b] > 0 ? rl_bf16_to_f32 (expect[i]) : 0.0f;
          PT_CHECK (got == want, "batch %d (len %d) elem %lld: %g vs %g", b, lengths[b],
                    (long long) i, got, want);
          if (got != want)
            break;
        }
      for (int64_t i = 0; i < (int64_t) heads * q_len; i++)
        {
          float got = lse[b * heads * q_len + i];
          PT_CHECK (lengths[b] > 0 ? got == expect_lse[i] : (isinf (got) && got < 0),
                    "batch %d lse %lld: %g", b, (long long) i, got);
        }
      free (expect), free (expect_lse);
    }
  free (q), free (k), free (v), free (out), free (lse);
  rl_attention_registry_free (registry);
}

/* A test-only variant that serves only head dim 64. */
static const int32_t only_64[] = { 64, 0 };
static const RlAttentionVariant *narrow_variant (void);

static int
narrow_open (int32_t device, RlAttentionInstance **out, char *error, size_t size)
{
  *out = (RlAttentionInstance *) &only_64;
  return RL_ATTENTION_OK;
}

static int
narrow_supports (RlAttentionInstance *inst, const RlAttentionProblem *p, char *why, size_t size)
{
  return rl_attention_check_declared (narrow_variant (), p, why, size);
}

static double
narrow_cost (RlAttentionInstance *inst, const RlAttentionProblem *p)
{
  return 0.0;
}

static int
narrow_run (RlAttentionInstance *inst, const RlAttentionProblem *p, const RlAttentionArgs *a,
            char *error, size_t size)
{
  return rl_attention_fail (RL_ATTENTION_FAILED, error, size, "narrow must never run here");
}

static const RlAttentionVariant narrow = {
  RL_ATTENTION_ABI_VERSION, sizeof (RlAttentionVariant), "narrow", "test: head dim 64 only",
  RL_ATTENTION_BACKEND_CPU, RL_ATTENTION_DTYPE_BIT (RL_ATTENTION_F32),
  RL_ATTENTION_DTYPE_BIT (RL_ATTENTION_F32), only_64, 0, 0, 0, 0,
  narrow_open, NULL, narrow_supports, narrow_cost, narrow_run,
};

static const RlAttentionVariant *
narrow_variant (void)
{
  return &narrow;
}

/* Preferring a variant that cannot take the problem falls back to one
 * that can, and the log says which and why. */
static void
test_fallback_logs_reason (void)
{
  LogCapture capture = { 0 };
  RlAttentionRegistry *registry = at_registry (capture_log, &capture);
  PT_REQUIRE (rl_attention_registry_add (registry, &narrow, "test"), "add narrow");
  RlAttentionVariant future = narrow;
  future.abi_version = RL_ATTENTION_ABI_VERSION + 1;
  future.name = "future";
  PT_CHECK (!rl_attention_registry_add (registry, &future, "test"), "other ABI accepted");
  PT_CHECK (!rl_attention_registry_add (registry, &narrow, "test"), "duplicate name accepted");

  RlAttentionSelector *selector = rl_attention_selector_new (registry, RL_ATTENTION_BACKEND_CPU,
                                                             0, "narrow");
  int32_t dim = 32;
  RlAttentionProblem p = at_problem (1, 2, 5, 7, dim, RL_ATTENTION_F32);
  float *q = at_random (RL_ATTENTION_F32, 5L * 2 * dim, 1.0f);
  float *k = at_random (RL_ATTENTION_F32, 7L * 2 * dim, 1.0f);
  float *v = at_random (RL_ATTENTION_F32, 7L * 2 * dim, 1.0f);
  float *out = malloc (5L * 2 * dim * sizeof (float));
  RlAttentionArgs args = { sizeof args, q, k, v, out, NULL, NULL, NULL };
  char error[1024] = "";
  capture.count = 0;
  int result = rl_attention_selector_run (selector, &p, &args, error, sizeof error);
  PT_CHECK (result == RL_ATTENTION_OK, "%s", error);
  PT_CHECK (strcmp (rl_attention_selector_last (selector), "reference") == 0, "used %s",
            rl_attention_selector_last (selector));
  PT_CHECK (capture.count == 1 && strstr (capture.lines[0], "head dim 32") != NULL
            && strstr (capture.lines[0], "reference") != NULL, "log: %s",
            capture.count > 0 ? capture.lines[0] : "(none)");
  /* The same fallback again is not logged again. */
  result = rl_attention_selector_run (selector, &p, &args, error, sizeof error);
  PT_CHECK (result == RL_ATTENTION_OK && capture.count == 1, "logged %d times", capture.count);
  rl_attention_selector_free (selector);

  /* A variant that is not installed. */
  selector = rl_attention_selector_new (registry, RL_ATTENTION_BACKEND_CPU, 0, "warp-drive");
  capture.count = 0;
  result = rl_attention_selector_run (selector, &p, &args, error, sizeof error);
  PT_CHECK (result == RL_ATTENTION_OK && capture.count == 1
            && strstr (capture.lines[0], "not installed") != NULL, "log: %s",
            capture.count > 0 ? capture.lines[0] : "(none)");
  rl_attention_selector_free (selector);

  /* No CPU variant takes f32 q with head dim 64 on a CUDA selector when
   * no CUDA variant is present: a clear error, no crash. */
  selector = rl_attention_selector_new (registry, RL_ATTENTION_BACKEND_CUDA, 0, "flash");
  RlAttentionProblem bad = p;
  bad.layout = 7;
  result = rl_attention_selector_run (selector, &bad, &args, error, sizeof error);
  PT_CHECK (result == RL_ATTENTION_UNSUPPORTED && strstr (error, "no variant") != NULL, "%d: %s",
            result, error);
  printf ("# expected error: %s\n", error);
  rl_attention_selector_free (selector);
  free (q), free (k), free (v), free (out);
  rl_attention_registry_free (registry);
}

static int approx_runs;

static int
approx_supports (RlAttentionInstance *inst, const RlAttentionProblem *p, char *why, size_t size)
{
  return RL_ATTENTION_OK;
}

static int
approx_run (RlAttentionInstance *inst, const RlAttentionProblem *p, const RlAttentionArgs *a,
            char *error, size_t size)
{
  approx_runs++;
  memset (a->out, 0, (size_t) p->batch * p->q_len * p->heads * p->v_head_dim * sizeof (float));
  return RL_ATTENTION_OK;
}

/* An approximate variant (like sage) is never chosen by "auto" or as a
 * fallback, however cheap it claims to be, but runs when named; a table
 * from before the `approximate` field still registers, as exact. */
static void
test_approximate_only_when_named (void)
{
  RlAttentionRegistry *registry = at_registry (NULL, NULL);
  RlAttentionVariant approx = narrow;
  approx.name = "approx";
  approx.head_dims = NULL;
  approx.supports = approx_supports;
  approx.run = approx_run;
  approx.approximate = 1;
  PT_REQUIRE (rl_attention_registry_add (registry, &approx, "test"), "add approx");
  RlAttentionVariant old = narrow;
  old.name = "old-table";
  old.struct_size = RL_ATTENTION_VARIANT_MIN_SIZE;
  old.approximate = 1;   /* beyond its struct_size: must be ignored */
  PT_CHECK (rl_attention_registry_add (registry, &old, "test"), "an ABI-1 table without "
            "`approximate` was refused");
  PT_CHECK (!rl_attention_variant_is_approximate (&old), "field past struct_size was read");

  int32_t dim = 32;
  RlAttentionProblem p = at_problem (1, 1, 3, 4, dim, RL_ATTENTION_F32);
  float *q = at_random (RL_ATTENTION_F32, 3L * dim, 1.0f);
  float *k = at_random (RL_ATTENTION_F32, 4L * dim, 1.0f);
  float *v = at_random (RL_ATTENTION_F32, 4L * dim, 1.0f);
  float *out = malloc (3L * dim * sizeof (float));
  RlAttentionArgs args = { sizeof args, q, k, v, out, NULL, NULL, NULL };
  char error[1024] = "";
  const char *const preferences[] = { "auto", "narrow" };   /* narrow declines dim 32: fallback */
  for (size_t i = 0; i < 2; i++)
    {
      RlAttentionSelector *selector = rl_attention_selector_new (registry, RL_ATTENTION_BACKEND_CPU,
                                                                 0, preferences[i]);
      approx_runs = 0;
      int result = rl_attention_selector_run (selector, &p, &args, error, sizeof error);
      PT_CHECK (result == RL_ATTENTION_OK && approx_runs == 0
                && strcmp (rl_attention_selector_last (selector), "approx") != 0,
                "%s chose %s (%s)", preferences[i], rl_attention_selector_last (selector), error);
      rl_attention_selector_free (selector);
    }
  RlAttentionSelector *named = rl_attention_selector_new (registry, RL_ATTENTION_BACKEND_CPU, 0,
                                                          "approx");
  approx_runs = 0;
  int result = rl_attention_selector_run (named, &p, &args, error, sizeof error);
  PT_CHECK (result == RL_ATTENTION_OK && approx_runs == 1, "named approx: %d runs (%s)",
            approx_runs, error);
  rl_attention_selector_free (named);
  free (q), free (k), free (v), free (out);
  rl_attention_registry_free (registry);
}

/* Bad arguments are refused with a reason, not a crash. */
static void
test_invalid_arguments (void)
{
  RlAttentionRegistry *registry = at_registry (NULL, NULL);
  RlAttentionProblem p = at_problem (1, 1, 4, 4, 8, RL_ATTENTION_F32);
  float buffer[64] = { 0 };
  RlAttentionArgs args = { sizeof args, buffer, NULL, buffer, buffer, NULL, NULL, NULL };
  char error[512] = "";
  PT_CHECK (at_run_host (registry, "reference", &p, &args, error, sizeof error) == RL_ATTENTION_INVALID,
            "NULL k accepted");
  PT_CHECK (strstr (error, "NULL") != NULL, "%s", error);
  args.k = buffer;
  p.has_kv_lengths = 1;
  int32_t too_long = 9;
  args.kv_lengths = &too_long;
  PT_CHECK (at_run_host (registry, "reference", &p, &args, error, sizeof error) == RL_ATTENTION_INVALID,
            "kv length past Lk accepted");
  PT_CHECK (strstr (error, "kv_lengths[0]") != NULL, "%s", error);
  p.has_kv_lengths = 0;
  p.heads = 0;
  PT_CHECK (at_run_host (registry, "reference", &p, &args, error, sizeof error) == RL_ATTENTION_INVALID,
            "zero heads accepted");
  rl_attention_registry_free (registry);
}

/* The op-table adapter gives what the CPU backend's own attention gives. */
static void
test_op_adapter_matches_cpu_backend (void)
{
  const RlBackend *cpu = rl_backend_cpu ();
  RlContext *ctx = NULL;
  PT_REQUIRE (cpu->context_new (0, &ctx) == RL_OK, "cpu context: %s", rl_last_error ());
  RlAllocator *allocator = cpu->context_allocator (ctx);
  int64_t lq = at_int (3, 17), lk = at_int (3, 29), heads = 2, dim = 24;
  int64_t q_shape[4] = { 1, lq, heads, dim }, kv_shape[4] = { 1, lk, heads, dim };
  int64_t lse_shape[3] = { 1, heads, lq };
  RlTensor q = { 0 }, k = { 0 }, v = { 0 }, out = { 0 }, expect = { 0 }, lse = { 0 },
           expect_lse = { 0 };
  rl_tensor_alloc (&q, allocator, RL_BF16, 4, q_shape);
  rl_tensor_alloc (&k, allocator, RL_BF16, 4, kv_shape);
  rl_tensor_alloc (&v, allocator, RL_BF16, 4, kv_shape);
  rl_tensor_alloc (&out, allocator, RL_F32, 4, q_shape);
  rl_tensor_alloc (&expect, allocator, RL_F32, 4, q_shape);
  rl_tensor_alloc (&lse, allocator, RL_F32, 3, lse_shape);
  rl_tensor_alloc (&expect_lse, allocator, RL_F32, 3, lse_shape);
  for (int64_t i = 0; i < lq * heads * dim; i++)
    ((uint16_t *) q.data)[i] = rl_f32_to_bf16 (at_uniform ());
  for (int64_t i = 0; i < lk * heads * dim; i++)
    {
      ((uint16_t *) k.data)[i] = rl_f32_to_bf16 (at_uniform ());
      ((uint16_t *) v.data)[i] = rl_f32_to_bf16 (at_uniform ());
    }
  RlAttentionRegistry *registry = at_registry (NULL, NULL);
  RlAttentionSelector *selector = rl_attention_selector_new (registry, RL_ATTENTION_BACKEND_CPU,
                                                             0, "reference");
  RlOps ops;
  rl_attention_ops_with_variants (cpu->ops, &ops);
  float scale = 0.2f;
  PT_CHECK (ops.attention (ctx, &out, &lse, &q, &k, &v, scale) == RL_E_INVALID_ARG,
            "unbound selector accepted");
  PT_CHECK (rl_attention_bind (selector) == NULL, "something was bound before");
  RlStatus status = ops.attention (ctx, &out, &lse, &q, &k, &v, scale);
  PT_CHECK (status == RL_OK, "adapter: %s", rl_last_error ());
  PT_CHECK (cpu->ops->attention (ctx, &expect, &expect_lse, &q, &k, &v, scale) == RL_OK, "cpu");
  double out_err = at_relative_error (out.data, expect.data, lq * heads * dim);
  double lse_err = at_max_abs_error (lse.data, expect_lse.data, heads * lq);
  PT_CHECK (out_err < 1e-6 && lse_err < 1e-6, "out %g lse %g", out_err, lse_err);
  /* Wrong lse shape: an error naming the tensors. */
  int64_t wrong[3] = { 1, lq, heads };
  RlTensor bad_lse = { 0 };
  rl_tensor_alloc (&bad_lse, allocator, RL_F32, 3, wrong);
  status = ops.attention (ctx, &out, &bad_lse, &q, &k, &v, scale);
  PT_CHECK (status == RL_E_SHAPE && strstr (rl_last_error (), "lse") != NULL, "%s",
            rl_last_error ());
  rl_attention_bind (NULL);
  RlTensor *all[] = { &q, &k, &v, &out, &expect, &lse, &expect_lse, &bad_lse };
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    rl_tensor_release (all[i]);
  rl_attention_selector_free (selector);
  rl_attention_registry_free (registry);
  cpu->context_free (ctx);
}

int
main (void)
{
  at_seed ();
  PT_RUN (test_reference_is_found);
  PT_RUN (test_reference_single_key);
  PT_RUN (test_ring_merge_equals_unchunked);
  PT_RUN (test_reference_padded_keys);
  PT_RUN (test_fallback_logs_reason);
  PT_RUN (test_approximate_only_when_named);
  PT_RUN (test_invalid_arguments);
  PT_RUN (test_op_adapter_matches_cpu_backend);
  return pt_finish ();
}
