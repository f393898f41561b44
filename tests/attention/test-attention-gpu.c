/* GPU parity of the CUDA attention variants (naive, flash, cudnn) against
 * the CPU `reference` (fp32 on upcast inputs), on fresh random data:
 * ‖out − ref‖/‖ref‖ ≤ 5e-3 and |lse − ref| ≤ 1e-3, every element written
 * (outputs poisoned with NaN first), padded keys, a ring merge of key
 * chunks, a Wan-sized shape checked against `naive`, and the selector's
 * fallback. `flash` runs with its default and once per kernel path
 * ("flash:mma", "flash:hopper", "flash:hopper-lookahead", ... set
 * $RAYLIGHT_FLASH_KERNEL before opening, "flash:hopper:3" also
 * $RAYLIGHT_FLASH_STAGES and "flash:mma:4" $RAYLIGHT_FLASH_WARPS, the
 * mma.sync kernel with 4 warps of 16 rows instead of 32; on a GPU without
 * the Hopper path all of them run the mma.sync kernel). Lengths are
 * random and mostly not multiples of the 64- or 128-row tiles; cases cover
 * 512-key cross-attention, rows shorter than one tile, and D 64 in bf16
 * and f16. Exits 77 when no GPU is visible. */
#include "tests/attention/attention-gpu-test-util.h"

#define OUT_TOLERANCE 5e-3
#define LSE_TOLERANCE 1e-3

/* "variant", "variant:kernel" or "variant:kernel:stages" (the flash kernel
 * path and its K/V buffer count to force; for "mma", its warps of 16 rows). */
static const char *const gpu_variants[] = { "naive", "flash", "flash:mma", "flash:mma:4", "flash:mma:8",
                                            "flash:hopper",
                                            "flash:hopper:2", "flash:hopper:3",
                                            "flash:hopper-lookahead:2", "flash:hopper-lookahead:3",
                                            "flash:hopper-pingpong", "flash:hopper-serial", "cudnn" };

typedef struct {
  RlAttentionRegistry *registry;
  cudaStream_t         stream;
} Gpu;

static Gpu gpu;

/* Random inputs and the reference result (f32 output). The lengths are
 * drawn before the data, as they always were, so a printed seed still
 * reproduces a run. */
static bool
case_new (AtCase *c, RlAttentionProblem p, bool padded)
{
  int32_t lengths[8] = { 0 };
  for (int32_t b = 0; b < p.batch && b < 8; b++)
    lengths[b] = padded ? (int32_t) at_int (1, p.kv_len) : p.kv_len;
  if (padded)
    lengths[0] = p.kv_len;
  at_case_random (c, p);
  c->p.has_kv_lengths = padded;
  memcpy (c->lengths, lengths, sizeof lengths);
  return at_case_reference (gpu.registry, c);
}

/* Opens `name`; NULL when it is not built or not available here (printed). */
static const RlAttentionVariant *
open_variant (const char *entry, RlAttentionInstance **instance)
{
  char name[64];
  snprintf (name, sizeof name, "%s", entry);
  char *kernel = strchr (name, ':'), *stages = NULL;
  if (kernel != NULL)
    *kernel++ = '\0';
  if (kernel != NULL && (stages = strchr (kernel, ':')) != NULL)
    *stages++ = '\0';
  const RlAttentionVariant *variant = rl_attention_registry_find (gpu.registry, name);
  *instance = NULL;
  if (variant == NULL)
    {
      printf ("# %s: not built\n", entry);
      return NULL;
    }
  char error[512] = "";
  if (kernel != NULL)
    setenv ("RAYLIGHT_FLASH_KERNEL", kernel, 1);
  const char *third = kernel != NULL && strcmp (kernel, "mma") == 0 ? "RAYLIGHT_FLASH_WARPS"
                                                                     : "RAYLIGHT_FLASH_STAGES";
  if (stages != NULL)
    setenv (third, stages, 1);
  int opened = variant->open (0, instance, error, sizeof error);
  unsetenv ("RAYLIGHT_FLASH_KERNEL");
  unsetenv ("RAYLIGHT_FLASH_STAGES");
  unsetenv ("RAYLIGHT_FLASH_WARPS");
  if (opened != RL_ATTENTION_OK)
    {
      printf ("# %s: %s\n", entry, error);
      return NULL;
    }
  return variant;
}

static void
check_case (const char *label, AtCase *c)
{
  const RlAttentionProblem *p = &c->p;
  size_t rows = at_lse_count (p);
  float *out = malloc (at_q_count (p) * sizeof (float)), *lse = malloc (rows * sizeof (float));
  for (size_t n = 0; n < sizeof gpu_variants / sizeof gpu_variants[0]; n++)
    {
      RlAttentionInstance *instance;
      const RlAttentionVariant *variant = open_variant (gpu_variants[n], &instance);
      if (variant == NULL)
        {
          PT_CHECK (strcmp (gpu_variants[n], "cudnn") == 0, "%s must be available on a GPU",
                    gpu_variants[n]);
          continue;
        }
      char why[512];
      if (variant->supports (instance, p, why, sizeof why) != RL_ATTENTION_OK)
        {
          printf ("# %-19s %-38s declined: %s\n", gpu_variants[n], label, why);
          variant->close (instance);
          continue;
        }
      double ms = 0;
      int result = at_run_on_gpu (variant, instance, c, gpu.stream, out, lse, &ms);
      PT_CHECK (result == RL_ATTENTION_OK, "%s on %s failed", gpu_variants[n], label);
      double out_err = at_relative_error (out, c->ref_out, at_q_count (p));
      double lse_err = at_max_abs_error (lse, c->ref_lse, rows);
      printf ("# %-19s %-38s out rel err %.2e  lse max err %.2e  (%.3f ms)\n", gpu_variants[n],
              label, out_err, lse_err, ms);
      PT_CHECK (result != RL_ATTENTION_OK || (out_err <= OUT_TOLERANCE && lse_err <= LSE_TOLERANCE),
                "%s on %s: out %g lse %g", gpu_variants[n], label, out_err, lse_err);
      /* Without an LSE asked for (attention outside a ring): the same
       * output, every element written (cudnn builds another graph). */
      result = at_run_on_gpu (variant, instance, c, gpu.stream, out, NULL, &ms);
      out_err = at_relative_error (out, c->ref_out, at_q_count (p));
      printf ("# %-19s %-38s without LSE: out rel err %.2e\n", gpu_variants[n], label, out_err);
      PT_CHECK (result == RL_ATTENTION_OK && out_err <= OUT_TOLERANCE,
                "%s on %s without LSE: out %g", gpu_variants[n], label, out_err);
      variant->close (instance);
    }
  free (out), free (lse);
}

static void
test_parity_with_reference (void)
{
  /* Lengths drawn from [lo, hi]; a fixed length when lo == hi. */
  struct { int32_t dtype, dim, batch, heads; bool padded; int32_t lq_lo, lq_hi, lk_lo, lk_hi; } shapes[] = {
    { RL_ATTENTION_BF16, 128, 2, 3, false, 65, 300, 65, 400 },
    { RL_ATTENTION_BF16, 64, 1, 4, false, 65, 300, 65, 400 },
    { RL_ATTENTION_F16, 128, 1, 2, false, 65, 300, 65, 400 },
    { RL_ATTENTION_F16, 64, 2, 2, false, 65, 300, 65, 400 },
    { RL_ATTENTION_BF16, 128, 3, 2, true, 65, 300, 65, 400 },
    { RL_ATTENTION_BF16, 128, 1, 3, false, 129, 700, 512, 512 },    /* cross-attention */
    { RL_ATTENTION_BF16, 64, 1, 2, false, 129, 400, 512, 512 },
    { RL_ATTENTION_BF16, 128, 2, 2, false, 1, 63, 1, 63 },          /* under one tile */
    { RL_ATTENTION_BF16, 128, 1, 2, false, 200, 300, 700, 1100 },   /* buffers reused 3+ times */
    /* More 128-row tiles than a GPU has multiprocessors: persistent blocks
     * take 2 tiles each, with and without padded keys. */
    { RL_ATTENTION_BF16, 128, 1, 8, false, 2200, 2600, 300, 600 },
    { RL_ATTENTION_F16, 64, 1, 8, false, 2200, 2600, 129, 300 },
    { RL_ATTENTION_BF16, 128, 2, 8, true, 2200, 2600, 300, 600 },
  };
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
    {
      int32_t lq = (int32_t) at_int (shapes[i].lq_lo, shapes[i].lq_hi);
      int32_t lk = (int32_t) at_int (shapes[i].lk_lo, shapes[i].lk_hi);
      RlAttentionProblem p = at_problem (shapes[i].batch, shapes[i].heads, lq, lk, shapes[i].dim,
                                         shapes[i].dtype);
      AtCase c;
      char label[96];
      snprintf (label, sizeof label, "%s B%d H%d Lq%d Lk%d D%d%s",
                rl_attention_dtype_name (shapes[i].dtype), shapes[i].batch, shapes[i].heads, lq, lk,
                shapes[i].dim, shapes[i].padded ? " padded" : "");
      PT_REQUIRE (case_new (&c, p, shapes[i].padded), "reference for %s", label);
      check_case (label, &c);
      at_case_free (&c);
    }
}

/* The ring merge of per-chunk GPU results equals the reference. */
static void
test_ring_merge_of_chunks (void)
{
  int32_t lq = (int32_t) at_int (64, 200), lk = (int32_t) at_int (200, 500), heads = 2, dim = 128;
  int32_t chunks = (int32_t) at_int (2, 4);
  RlAttentionProblem p = at_problem (1, heads, lq, lk, dim, RL_ATTENTION_BF16);
  AtCase full;
  PT_REQUIRE (case_new (&full, p, false), "reference");
  size_t rows = at_lse_count (&p);
  for (size_t n = 0; n < sizeof gpu_variants / sizeof gpu_variants[0]; n++)
    {
      RlAttentionInstance *instance;
      const RlAttentionVariant *variant = open_variant (gpu_variants[n], &instance);
      if (variant == NULL)
        continue;
      float *acc = malloc (at_q_count (&p) * sizeof (float)), *acc_lse = malloc (rows * sizeof (float));
      double ms;
      bool ok = at_run_ring_merge (variant, instance, &full, chunks, gpu.stream, acc, acc_lse, &ms);
      double out_err = at_relative_error (acc, full.ref_out, at_q_count (&p));
      double lse_err = at_max_abs_error (acc_lse, full.ref_lse, rows);
      printf ("# %-19s ring merge of %d chunks (Lq %d, Lk %d): out %.2e lse %.2e\n",
              gpu_variants[n], chunks, lq, lk, out_err, lse_err);
      PT_CHECK (ok && out_err <= OUT_TOLERANCE && lse_err <= LSE_TOLERANCE, "%s: out %g lse %g",
                gpu_variants[n], out_err, lse_err);
      free (acc), free (acc_lse);
      variant->close (instance);
    }
  at_case_free (&full);
}

/* A Wan-sized problem (too big for the CPU reference): flash and cudnn
 * against naive, whose scores and softmax are exact fp32. 8 heads make 296
 * tiles of 128 rows, 3 for some persistent blocks of the Hopper path. */
static void
test_wan_shape_against_naive (void)
{
  RlAttentionProblem p = at_problem (1, 8, 4680, 4680, 128, RL_ATTENTION_BF16);
  AtCase c;
  at_case_random (&c, p);
  PT_REQUIRE (at_case_naive_reference (gpu.registry, &c, gpu.stream), "naive run");
  check_case ("bf16 B1 H8 L4680 D128 (vs naive)", &c);
  at_case_free (&c);
}

static void
log_line (void *user, const char *message)
{
  int *count = user;
  ++*count;
  printf ("# log: %s\n", message);
}

/* Preferring flash for head dim 96 falls back to naive with a reason. */
static void
test_selector_fallback_on_gpu (void)
{
  int logged = 0;
  RlAttentionRegistry *registry = at_registry (log_line, &logged);
  RlAttentionSelector *selector = rl_attention_selector_new (registry, RL_ATTENTION_BACKEND_CUDA,
                                                             0, "flash");
  RlAttentionProblem p = at_problem (1, 2, 70, 90, 96, RL_ATTENTION_BF16);
  AtCase c;
  PT_REQUIRE (case_new (&c, p, false), "reference");
  size_t rows = (size_t) p.heads * p.q_len;
  void *dq = at_to_device (c.q, at_q_count (&p) * 2), *dk = at_to_device (c.k, at_kv_count (&p) * 2);
  void *dv = at_to_device (c.v, at_kv_count (&p) * 2), *dout = NULL;
  cudaMalloc (&dout, at_q_count (&p) * 2);
  RlAttentionArgs args = { sizeof args, dq, dk, dv, dout, NULL, NULL, NULL };
  char error[1024] = "";
  logged = 0;
  int result = rl_attention_selector_run (selector, &p, &args, error, sizeof error);
  cudaDeviceSynchronize ();
  PT_CHECK (result == RL_ATTENTION_OK, "%s", error);
  PT_CHECK (strcmp (rl_attention_selector_last (selector), "flash") != 0 && logged == 1,
            "used %s, %d log lines", rl_attention_selector_last (selector), logged);
  uint16_t *host = malloc (at_q_count (&p) * 2);
  float *out = malloc (at_q_count (&p) * sizeof (float));
  cudaMemcpy (host, dout, at_q_count (&p) * 2, cudaMemcpyDeviceToHost);
  for (int64_t i = 0; i < at_q_count (&p); i++)
    out[i] = rl_bf16_to_f32 (host[i]);
  double err = at_relative_error (out, c.ref_out, at_q_count (&p));
  printf ("# fallback used %s, out rel err %.2e (%zu lse rows unused)\n",
          rl_attention_selector_last (selector), err, rows);
  PT_CHECK (err <= OUT_TOLERANCE, "fallback result err %g", err);
  free (host), free (out);
  cudaFree (dq), cudaFree (dk), cudaFree (dv), cudaFree (dout);
  at_case_free (&c);
  rl_attention_selector_free (selector);
  rl_attention_registry_free (registry);
}

int
main (void)
{
  at_require_gpu ();
  at_seed ();
  gpu.registry = at_registry (NULL, NULL);
  cudaStreamCreateWithFlags (&gpu.stream, cudaStreamNonBlocking);
  PT_RUN (test_parity_with_reference);
  PT_RUN (test_ring_merge_of_chunks);
  PT_RUN (test_wan_shape_against_naive);
  PT_RUN (test_selector_fallback_on_gpu);
  cudaStreamDestroy (gpu.stream);
  rl_attention_registry_free (gpu.registry);
  return pt_finish ();
}
