/* GPU parity of the `sage` (int8 QKᵀ, fp8 PV) and `sage16` (int8 QKᵀ,
 * 16-bit PV) variants against the CPU `reference` (fp32 on upcast inputs),
 * on fresh random data with outputs and LSE poisoned (NaN) first: bf16 and
 * f16, Lq/Lk off the 128 tiles, padded keys including a batch with no key,
 * keys with a large common mean (what K smoothing is for), more heads than
 * the preparation has blocks, a ring merge of key chunks through the LSE,
 * and Wan-sized shapes against `naive` (with the last round of tiles split
 * along the keys).
 *
 * Bounds: cosine ≥ 0.999 and ‖out − ref‖/‖ref‖ ≤ 2e-2 for sage with its
 * default integer P·V (u8 P against each tile's maximum, int8 V: 1.2–1.45%
 * in the CPU model on these uniform data, tests/attention/
 * test-sage-quantisation-model.c; 1.1–1.4% measured on an H100), which P
 * formed against the running maximum would fail (2.6% at 4680 keys);
 * sage16 ≤ 1.5e-2 (0.7–0.8% measured): re-rounding a smoothed V to bf16
 * once put it at 2.7% at L 4680, under issue 6's 3e-2 but a bug. With
 * $RAYLIGHT_SAGE_PV=fp8, the two-term e4m3 V is held to issue 6's 3e-2
 * (2.2–2.5% in the model, 1.8–2.5% measured) and with
 * $RAYLIGHT_SAGE_V_TERMS=1 too (the published one-term V, 3.3–3.7%) to 5e-2.
 * LSE: the int8 logits' error, heavy-tailed: rows that one key dominates
 * keep that key's error unaveraged. The CPU model on these data puts its
 * rms at 1.7–2.9e-3 and the largest of 4000 rows at 1.6–4.7e-2 (at
 * 130–250 keys); the many-heads case (up to 50k rows) measured 2.6–5.6e-2
 * on an H100. So rms ≤ 1e-2 over cases of at least 256 rows (over fewer it
 * is a few rows' errors: up to 6.7e-3 at 10 rows and 3 keys), which a
 * lost q·mean(k) shift or a wrong scale breaks at once, and the largest
 * ≤ 1.5e-1, the model test's bound.
 *
 * On a Hopper GPU the mma.sync pass (what Ampere and Ada run) must give
 * the wgmma pass's output and LSE bit for bit: the integer P·V sums exact
 * int32 tiles and both passes share the fp32 arithmetic (sage-mma.cuh);
 * the 16-bit P·V's fp32 tensor-core sums came out the same too on the
 * H100 (session 14, 4 shapes × 3 settings), so it is held to that as well.
 * With $RAYLIGHT_SAGE_KERNEL=mma the whole parity suite runs on the
 * mma.sync pass (with $RAYLIGHT_SAGE_PV=fp8 too: e4m3 mma.sync, sm_89+).
 * Exits 77 without an sm_80+ GPU. */
#include "tests/attention/attention-gpu-test-util.h"

#define INT8_PV_OUT_TOLERANCE 2e-2
#define ISSUE_OUT_TOLERANCE 3e-2
#define ONE_TERM_OUT_TOLERANCE 5e-2
#define SAGE16_OUT_TOLERANCE 1.5e-2
#define COSINE_MIN 0.999
#define LSE_RMS_TOLERANCE 1e-2
#define LSE_RMS_MIN_ROWS 256
#define LSE_MAX_TOLERANCE 1.5e-1

static const struct { const char *name; double out_tolerance; } variants[] = {
  { "sage", INT8_PV_OUT_TOLERANCE },
  { "sage16", SAGE16_OUT_TOLERANCE },
};

static RlAttentionRegistry *registry;
static cudaStream_t stream;
static const RlAttentionVariant *sage;      /* the variant under test */
static RlAttentionInstance *sage_instance;
static double out_tolerance;

/* Adds one random offset per channel (amplitude `spread`) to every key. */
static void
add_key_mean (AtCase *c, float spread)
{
  const RlAttentionProblem *p = &c->p;
  float offset[256];
  for (int32_t d = 0; d < p->head_dim; d++)
    offset[d] = spread * at_uniform ();
  for (int64_t i = 0; i < at_kv_count (p); i++)
    at_store (p->qkv_dtype, c->k, i, at_load (p->qkv_dtype, c->k, i) + offset[i % p->head_dim]);
}

static double
cosine (const float *a, const float *b, int64_t count)
{
  double dot = 0, na = 0, nb = 0;
  for (int64_t i = 0; i < count; i++)
    dot += (double) a[i] * b[i], na += (double) a[i] * a[i], nb += (double) b[i] * b[i];
  return na > 0 && nb > 0 ? dot / sqrt (na * nb) : (na == nb ? 1.0 : 0.0);
}

/* Checks `out`/`lse` of `label` against the case's reference. */
static void
check_result (const char *label, const AtCase *c, const float *out, const float *lse, double ms)
{
  double rel = at_relative_error (out, c->ref_out, at_q_count (&c->p));
  double cos = cosine (out, c->ref_out, at_q_count (&c->p));
  double lse_err = at_max_abs_error (lse, c->ref_lse, at_lse_count (&c->p));
  double lse_rms = at_rms_error (lse, c->ref_lse, at_lse_count (&c->p));
  printf ("# %-6s %-40s rel %.2e%s cos %.6f lse %.2e rms %.1e (%.3f ms)\n", sage->name, label, rel,
          rel <= ISSUE_OUT_TOLERANCE ? "" : " (> issue's 3e-2)", cos, lse_err, lse_rms, ms);
  const bool rms_counts = at_lse_count (&c->p) >= LSE_RMS_MIN_ROWS;
  PT_CHECK (rel <= out_tolerance && cos >= COSINE_MIN && (!rms_counts || lse_rms <= LSE_RMS_TOLERANCE)
              && lse_err <= LSE_MAX_TOLERANCE,
            "%s %s: rel %g cos %g lse %g (rms %g)", sage->name, label, rel, cos, lse_err, lse_rms);
}

static void
check_case (const char *label, AtCase *c)
{
  float *out = malloc (at_q_count (&c->p) * sizeof (float)), *lse = malloc (at_lse_count (&c->p) * sizeof (float));
  char why[512];
  int result = sage->supports (sage_instance, &c->p, why, sizeof why);
  PT_CHECK (result == RL_ATTENTION_OK, "%s declined: %s", label, why);
  double ms = 0;
  if (result == RL_ATTENTION_OK)
    {
      result = at_run_on_gpu (sage, sage_instance, c, stream, out, lse, &ms);
      PT_CHECK (result == RL_ATTENTION_OK, "%s failed", label);
      if (result == RL_ATTENTION_OK)
        check_result (label, c, out, lse, ms);
    }
  free (out), free (lse);
}

static void
test_parity_with_reference (void)
{
  struct { int32_t dtype, batch, heads; bool padded; float key_mean; } shapes[] = {
    { RL_ATTENTION_BF16, 2, 3, false, 0.0f },
    { RL_ATTENTION_F16, 1, 2, false, 0.0f },
    { RL_ATTENTION_BF16, 3, 2, true, 0.0f },
    { RL_ATTENTION_BF16, 1, 2, false, 12.0f },
  };
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
    {
      int32_t lq = (int32_t) at_int (65, 300), lk = (int32_t) at_int (65, 400);
      AtCase c;
      at_case_random (&c, at_problem (shapes[i].batch, shapes[i].heads, lq, lk, 128, shapes[i].dtype));
      if (shapes[i].padded)
        {
          c.p.has_kv_lengths = 1;
          c.lengths[0] = lk;
          c.lengths[1] = 0;   /* no key: out 0, lse −inf */
          for (int32_t b = 2; b < shapes[i].batch; b++)
            c.lengths[b] = (int32_t) at_int (1, lk);
        }
      if (shapes[i].key_mean > 0)
        add_key_mean (&c, shapes[i].key_mean);
      char label[96];
      snprintf (label, sizeof label, "%s B%d H%d Lq%d Lk%d%s%s", rl_attention_dtype_name (shapes[i].dtype),
                shapes[i].batch, shapes[i].heads, lq, lk, shapes[i].padded ? " padded" : "",
                shapes[i].key_mean > 0 ? " key mean ±12" : "");
      PT_REQUIRE (at_case_reference (registry, &c), "reference for %s", label);
      check_case (label, &c);
      at_case_free (&c);
    }
}

/* Few keys and few rows: one partial tile each. */
static void
test_tiny_shapes (void)
{
  const int32_t sizes[][2] = { { 1, 1 }, { 5, 3 }, { 64, 129 }, { 130, 127 } };
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
    {
      AtCase c;
      at_case_random (&c, at_problem (1, 2, sizes[i][0], sizes[i][1], 128, RL_ATTENTION_BF16));
      char label[64];
      snprintf (label, sizeof label, "bf16 B1 H2 Lq%d Lk%d", sizes[i][0], sizes[i][1]);
      PT_REQUIRE (at_case_reference (registry, &c), "reference");
      check_case (label, &c);
      at_case_free (&c);
    }
}

/* Each chunk has its own key mean; the LSE carries it, so the merge of
 * chunks equals the whole. */
static void
test_ring_merge_of_chunks (void)
{
  int32_t lq = (int32_t) at_int (64, 200), lk = (int32_t) at_int (300, 600), heads = 2, dim = 128;
  int32_t chunks = (int32_t) at_int (2, 4);
  AtCase full;
  at_case_random (&full, at_problem (1, heads, lq, lk, dim, RL_ATTENTION_BF16));
  add_key_mean (&full, 4.0f);
  PT_REQUIRE (at_case_reference (registry, &full), "reference");
  float *acc = malloc (at_q_count (&full.p) * sizeof (float));
  float *acc_lse = malloc (at_lse_count (&full.p) * sizeof (float));
  double total_ms;
  bool ok = at_run_ring_merge (sage, sage_instance, &full, chunks, stream, acc, acc_lse, &total_ms);
  PT_CHECK (ok, "a chunk failed");
  char label[64];
  snprintf (label, sizeof label, "ring merge of %d chunks Lq%d Lk%d", chunks, lq, lk);
  check_result (label, &full, acc, acc_lse, total_ms);
  free (acc), free (acc_lse);
  at_case_free (&full);
}

/* More batch·heads than the preparation launch has blocks (3 per SM: 396 on an H100), so
 * that each block walks several heads' statistics and sums. */
static void
test_many_heads (void)
{
  AtCase c;
  const int32_t lq = (int32_t) at_int (20, 70), lk = (int32_t) at_int (129, 260);
  at_case_random (&c, at_problem (2, 360, lq, lk, 128, RL_ATTENTION_BF16));
  char label[64];
  snprintf (label, sizeof label, "bf16 B2 H360 Lq%d Lk%d", lq, lk);
  PT_REQUIRE (at_case_reference (registry, &c), "reference");
  check_case (label, &c);
  at_case_free (&c);
}

/* A Wan-sized problem (too big for the CPU reference) against naive, whose
 * scores and softmax are exact fp32. */
static void
test_wan_shape_against_naive (void)
{
  AtCase c;
  at_case_random (&c, at_problem (1, 2, 4680, 4680, 128, RL_ATTENTION_BF16));
  PT_REQUIRE (at_case_naive_reference (registry, &c, stream), "naive run");
  check_case ("bf16 B1 H2 L4680 (vs naive)", &c);
  at_case_free (&c);
}

/* More 128-row tiles than a persistent grid of one block per SM takes in
 * whole rounds: the last round's tiles run split along the keys and are
 * merged by their LSE (148 tiles on 132 SMs: 16 split 8 ways at 4680
 * keys, 2 ways at 1000, whose last key tile is partial), against naive. */
static void
test_split_last_round (void)
{
  const int32_t key_lengths[] = { 4680, 1000 };
  for (size_t i = 0; i < sizeof key_lengths / sizeof key_lengths[0]; i++)
    {
      AtCase c;
      at_case_random (&c, at_problem (1, 4, 4680, key_lengths[i], 128, RL_ATTENTION_BF16));
      char label[64];
      snprintf (label, sizeof label, "bf16 B1 H4 Lq4680 Lk%d (vs naive)", key_lengths[i]);
      PT_REQUIRE (at_case_naive_reference (registry, &c, stream), "naive run");
      check_case (label, &c);
      at_case_free (&c);
    }
}

/* Opens the variant under test with $RAYLIGHT_SAGE_KERNEL and
 * $RAYLIGHT_SAGE_GRID set to `kernel` and `grid` (NULL: unset) and
 * $RAYLIGHT_SAGE_STAGGER unset (it changes the order of the key tiles),
 * leaving the environment as it was. */
static RlAttentionInstance *
open_with (const char *kernel, const char *grid)
{
  const char *names[] = { "RAYLIGHT_SAGE_KERNEL", "RAYLIGHT_SAGE_GRID", "RAYLIGHT_SAGE_STAGGER" };
  const char *values[] = { kernel, grid, NULL };
  char *saved[3];
  for (int i = 0; i < 3; i++)
    {
      const char *was = getenv (names[i]);
      saved[i] = was != NULL ? strdup (was) : NULL;
      if (values[i] != NULL)
        setenv (names[i], values[i], 1);
      else
        unsetenv (names[i]);
    }
  RlAttentionInstance *instance = NULL;
  char error[512] = "";
  if (sage->open (0, &instance, error, sizeof error) != RL_ATTENTION_OK)
    printf ("# %s\n", error);
  for (int i = 0; i < 3; i++)
    {
      if (saved[i] != NULL)
        setenv (names[i], saved[i], 1);
      else
        unsetenv (names[i]);
      free (saved[i]);
    }
  return instance;
}

/* The mma.sync pass against the wgmma pass with one block per tile (the
 * persistent grid splits its last round of tiles along the keys, which
 * sums in another order). */
static void
test_mma_matches_hopper (void)
{
  RlAttentionInstance *hopper = open_with (NULL, "tiles"), *mma = open_with ("mma", NULL);
  PT_REQUIRE (hopper != NULL && mma != NULL, "opening both kernels");
  struct { int32_t dtype, batch, heads, lq, lk; bool padded; } shapes[] = {
    { RL_ATTENTION_BF16, 2, 3, 300, 333, false },
    { RL_ATTENTION_F16, 1, 2, 1000, 512, false },
    { RL_ATTENTION_BF16, 3, 2, 129, 700, true },
    { RL_ATTENTION_BF16, 1, 4, 4680, 4680, false },
  };
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
    {
      AtCase c;
      at_case_random (&c, at_problem (shapes[i].batch, shapes[i].heads, shapes[i].lq, shapes[i].lk,
                                      128, shapes[i].dtype));
      if (shapes[i].padded)
        {
          c.p.has_kv_lengths = 1;
          c.lengths[0] = shapes[i].lk;
          c.lengths[1] = 0;
          c.lengths[2] = 200;
        }
      const int64_t count = at_q_count (&c.p), rows = at_lse_count (&c.p);
      float *out[2], *lse[2];
      RlAttentionInstance *instances[2] = { hopper, mma };
      bool ran = true;
      for (int k = 0; k < 2; k++)
        {
          out[k] = malloc (count * sizeof (float));
          lse[k] = malloc (rows * sizeof (float));
          double ms;
          ran = ran && at_run_on_gpu (sage, instances[k], &c, stream, out[k], lse[k], &ms) == RL_ATTENTION_OK;
        }
      char label[96];
      snprintf (label, sizeof label, "%s B%d H%d Lq%d Lk%d%s", rl_attention_dtype_name (shapes[i].dtype),
                shapes[i].batch, shapes[i].heads, shapes[i].lq, shapes[i].lk,
                shapes[i].padded ? " padded" : "");
      PT_CHECK (ran, "%s: a run failed", label);
      if (ran)
        {
          int64_t differ = 0, lse_differ = 0;
          for (int64_t e = 0; e < count; e++)
            differ += memcmp (&out[0][e], &out[1][e], sizeof (float)) != 0;
          for (int64_t r = 0; r < rows; r++)
            lse_differ += memcmp (&lse[0][r], &lse[1][r], sizeof (float)) != 0;
          const double rel = at_relative_error (out[1], out[0], count);
          const double lse_err = at_max_abs_error (lse[1], lse[0], rows);
          printf ("# %-6s mma vs wgmma %-30s %lld of %lld outputs differ (rel %.1e), %lld of %lld LSE "
                  "(max %.1e)\n", sage->name, label, (long long) differ, (long long) count, rel,
                  (long long) lse_differ, (long long) rows, lse_err);
          PT_CHECK (differ == 0 && lse_differ == 0, "%s: %lld outputs and %lld LSE differ", label,
                    (long long) differ, (long long) lse_differ);
        }
      for (int k = 0; k < 2; k++)
        free (out[k]), free (lse[k]);
      at_case_free (&c);
    }
  sage->close (hopper);
  sage->close (mma);
}

int
main (void)
{
  at_require_gpu ();
  at_seed ();
  registry = at_registry (NULL, NULL);
  cudaStreamCreateWithFlags (&stream, cudaStreamNonBlocking);
  for (size_t n = 0; n < sizeof variants / sizeof variants[0]; n++)
    {
      sage = rl_attention_registry_find (registry, variants[n].name);
      if (sage == NULL)
        {
          printf ("# %s: not built\n", variants[n].name);
          return 1;
        }
      char error[512] = "";
      if (sage->open (0, &sage_instance, error, sizeof error) != RL_ATTENTION_OK)
        {
          printf ("# %s: skipping\n", error);   /* older than sm_80 */
          return 77;
        }
      out_tolerance = variants[n].out_tolerance;
      const char *pv = getenv ("RAYLIGHT_SAGE_PV"), *terms = getenv ("RAYLIGHT_SAGE_V_TERMS");
      if (strcmp (variants[n].name, "sage") == 0 && pv != NULL && strcmp (pv, "fp8") == 0)
        out_tolerance = terms != NULL && strcmp (terms, "1") == 0 ? ONE_TERM_OUT_TOLERANCE
                                                                  : ISSUE_OUT_TOLERANCE;
      PT_RUN (test_parity_with_reference);
      PT_RUN (test_tiny_shapes);
      PT_RUN (test_many_heads);
      PT_RUN (test_ring_merge_of_chunks);
      PT_RUN (test_wan_shape_against_naive);
      PT_RUN (test_split_last_round);
      /* On Hopper, unless the whole run is on the mma.sync pass already or
       * P·V is e4m3 (nothing says the two kinds of fp8 MMA sum alike; the
       * parity suite above covers each). */
      struct cudaDeviceProp properties;
      const char *kernel = getenv ("RAYLIGHT_SAGE_KERNEL");
      const bool fp8 = pv != NULL && strcmp (pv, "fp8") == 0;
      if (cudaGetDeviceProperties (&properties, 0) == cudaSuccess && properties.major == 9
          && properties.minor == 0 && kernel == NULL && !fp8)
        PT_RUN (test_mma_matches_hopper);
      sage->close (sage_instance);
    }
  cudaStreamDestroy (stream);
  rl_attention_registry_free (registry);
  return pt_finish ();
}
