/* Sequence-parallel attention over 2 and 4 forked CPU ranks sharing a shm
 * communicator: Ulysses, ring and Ulysses × ring equal the unsplit
 * attention within 1e-5 relative, with sequence lengths that need padding
 * (including a rank that holds padding only) and head counts that do not
 * divide the Ulysses degree (padded, or refused with the valid degrees);
 * ring attention on bf16 asks every block in bf16 (what cuDNN writes) and
 * stays within two bf16 roundings of the unsplit bf16 attention. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/fork-ranks.h"
#include "tests/plain-test.h"
#include "workers/comm/comm-shm.h"
#include "workers/parallel/ring-attention.h"
#include "workers/parallel/seq-split.h"
#include "workers/parallel/usp-attention.h"
#include "workers/runtime/backend.h"

static uint64_t run_seed;

typedef struct {
  int     ulysses, ring;
  int64_t length, heads;
  bool    pad_heads;
  int     batch;        /* 0: DEFAULT_BATCH */
  int     attention_calls;   /* > 0: per rank, expected (pipelined Ulysses: 2) */
} Config;

enum { DEFAULT_BATCH = 2, HEAD_DIM = 16, V_DIM = 8 };
static int64_t BATCH = DEFAULT_BATCH;   /* the running config's batch */
static const float SCALE = 0.45f;

static uint64_t
mix (uint64_t x)
{
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/* The same random tensor in every process: a function of (seed, which, i). */
static RlStatus
random_tensor (RlAllocator *alloc, RlTensor *t, int which, int64_t l, int64_t h, int64_t d)
{
  int64_t shape[4] = { BATCH, l, h, d };
  RlStatus status = rl_tensor_alloc (t, alloc, RL_F32, 4, shape);
  float *x = t->data;
  for (int64_t i = 0; status == RL_OK && i < rl_tensor_numel (t); i++)
    x[i] = (float) ((double) (mix (run_seed ^ mix ((uint64_t) which << 40 | (uint64_t) i)) >> 11)
                    / 9007199254740992.0 * 4.0 - 2.0);
  return status;
}

static RlTensor
alloc4 (RlAllocator *alloc, int64_t a, int64_t b, int64_t c, int64_t d)
{
  RlTensor t = { 0 };
  int64_t shape[4] = { a, b, c, d };
  rl_tensor_alloc (&t, alloc, RL_F32, 4, shape);
  return t;
}

static double
relative_error (const RlTensor *got, const RlTensor *want)
{
  const float *g = got->data, *w = want->data;
  double max_diff = 0.0, max_ref = 0.0;
  for (int64_t i = 0; i < rl_tensor_numel (want); i++) {
    max_diff = fmax (max_diff, fabs ((double) g[i] - w[i]));
    max_ref = fmax (max_ref, fabs ((double) w[i]));
  }
  return max_diff / max_ref;
}

/* The CPU attention, counted: the pipelined Ulysses path attends once per
 * head group. */
static int attention_calls;

static RlStatus
counted_attention (RlContext *ctx, RlTensor *out, RlTensor *lse, const RlTensor *q,
                   const RlTensor *k, const RlTensor *v, float scale)
{
  attention_calls++;
  return rl_backend_cpu ()->ops->attention (ctx, out, lse, q, k, v, scale);
}

/* One rank: split, USP attention, gather, compare with the unsplit
 * attention. Runs in a forked child. */
static void
rank_main (RlComm *world, const Config *cfg)
{
  const RlBackend *be = rl_backend_cpu ();
  RlBackend counted = *be;
  RlOps counted_ops = *be->ops;
  counted_ops.attention = counted_attention;
  counted.ops = &counted_ops;
  BATCH = cfg->batch > 0 ? cfg->batch : DEFAULT_BATCH;
  RlContext *ctx = NULL;
  RlComm *ulysses = NULL, *ring = NULL;
  int rank = rl_comm_rank (world), size = rl_comm_size (world);

  omp_set_num_threads (1);   /* several ranks share two cores */
  PT_REQUIRE (be->context_new (0, &ctx) == RL_OK, "%s", rl_last_error ());
  RlAllocator *alloc = be->context_allocator (ctx);
  RlTensor q = { 0 }, k = { 0 }, v = { 0 };
  PT_REQUIRE (random_tensor (alloc, &q, 1, cfg->length, cfg->heads, HEAD_DIM) == RL_OK, "q");
  PT_REQUIRE (random_tensor (alloc, &k, 2, cfg->length, cfg->heads, HEAD_DIM) == RL_OK, "k");
  PT_REQUIRE (random_tensor (alloc, &v, 3, cfg->length, cfg->heads, V_DIM) == RL_OK, "v");
  RlTensor want = alloc4 (alloc, BATCH, cfg->length, cfg->heads, V_DIM);
  PT_REQUIRE (be->ops->attention (ctx, &want, NULL, &q, &k, &v, SCALE) == RL_OK, "%s", rl_last_error ());

  RlSeqSplit split;
  PT_REQUIRE (rl_seq_split (cfg->length, size, rank, &split) == RL_OK, "%s", rl_last_error ());
  int64_t lloc = split.local_length;
  RlTensor lq = alloc4 (alloc, BATCH, lloc, cfg->heads, HEAD_DIM);
  RlTensor lk = alloc4 (alloc, BATCH, lloc, cfg->heads, HEAD_DIM);
  RlTensor lv = alloc4 (alloc, BATCH, lloc, cfg->heads, V_DIM);
  RlTensor lout = alloc4 (alloc, BATCH, lloc, cfg->heads, V_DIM);
  RlTensor got = alloc4 (alloc, BATCH, cfg->length, cfg->heads, V_DIM);
  PT_REQUIRE (rl_seq_split_take (be, ctx, &lq, &q, &split) == RL_OK
              && rl_seq_split_take (be, ctx, &lk, &k, &split) == RL_OK
              && rl_seq_split_take (be, ctx, &lv, &v, &split) == RL_OK, "%s", rl_last_error ());
  PT_REQUIRE (rl_usp_groups_new (world, cfg->ulysses, cfg->ring, &ulysses, &ring) == RL_OK,
              "%s", rl_last_error ());

  RlUspAttention usp = { ulysses, ring, cfg->length, cfg->pad_heads };
  attention_calls = 0;
  RlStatus status = rl_usp_attention (&counted, ctx, &usp, &lout, &lq, &lk, &lv, SCALE);
  if (cfg->attention_calls > 0)
    PT_CHECK (attention_calls == cfg->attention_calls, "rank %d: %d attention calls, expected %d",
              rank, attention_calls, cfg->attention_calls);
  if (cfg->heads % cfg->ulysses != 0 && !cfg->pad_heads) {
    PT_CHECK (status == RL_E_INVALID_ARG, "refusal expected, got %d", status);
    PT_CHECK (strstr (rl_last_error (), "valid Ulysses degrees for this model: 1, 2, 3") != NULL,
              "message lacks the valid degrees: %s", rl_last_error ());
    if (rank == 0)
      printf ("# refused: %s\n", rl_last_error ());
  } else {
    PT_REQUIRE (status == RL_OK, "rank %d: %s", rank, rl_last_error ());
    PT_REQUIRE (rl_seq_split_gather (be, ctx, world, &got, &lout, &split) == RL_OK,
                "%s", rl_last_error ());
    double err = relative_error (&got, &want);
    PT_CHECK (err <= 1e-5, "rank %d U%d R%d L%lld H%lld: relative error %.3g", rank,
              cfg->ulysses, cfg->ring, (long long) cfg->length, (long long) cfg->heads, err);
    if (rank == 0)
      printf ("# U%d×R%d L=%lld H=%lld: relative error %.3g\n", cfg->ulysses, cfg->ring,
              (long long) cfg->length, (long long) cfg->heads, err);
  }

  /* Pure ring: the merged log-sum-exp matches the unsplit one too. */
  if (cfg->ulysses == 1 && cfg->ring > 1) {
    int64_t lse_shape[3] = { BATCH, cfg->heads, lloc };
    int64_t full_lse_shape[3] = { BATCH, cfg->heads, cfg->length };
    RlTensor lse = { 0 }, want_lse = { 0 }, tmp = alloc4 (alloc, BATCH, cfg->length, cfg->heads, V_DIM);
    PT_REQUIRE (rl_tensor_alloc (&lse, alloc, RL_F32, 3, lse_shape) == RL_OK
                && rl_tensor_alloc (&want_lse, alloc, RL_F32, 3, full_lse_shape) == RL_OK, "lse");
    PT_REQUIRE (be->ops->attention (ctx, &tmp, &want_lse, &q, &k, &v, SCALE) == RL_OK, "%s",
                rl_last_error ());
    PT_REQUIRE (rl_ring_attention (be, ctx, ring, cfg->length, &lout, &lse, &lq, &lk, &lv,
                                   SCALE) == RL_OK, "%s", rl_last_error ());
    const float *a = lse.data, *b = want_lse.data;
    double worst = 0.0;
    for (int64_t bh = 0; bh < BATCH * cfg->heads; bh++)
      for (int64_t i = 0; i < split.valid_length; i++)
        worst = fmax (worst, fabs ((double) a[bh * lloc + i] - b[bh * cfg->length + split.offset + i])
                               / fmax (1.0, fabs ((double) b[bh * cfg->length + split.offset + i])));
    PT_CHECK (worst <= 1e-5, "rank %d: lse error %.3g", rank, worst);
    rl_tensor_release (&lse);
    rl_tensor_release (&want_lse);
    rl_tensor_release (&tmp);
  }

  RlTensor *all[] = { &q, &k, &v, &want, &lq, &lk, &lv, &lout, &got };
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    rl_tensor_release (all[i]);
  rl_comm_free (ulysses);
  rl_comm_free (ring);
  be->context_free (ctx);
}

static void
config_rank_main (RlComm *world, const void *cfg)
{
  rank_main (world, cfg);
}

/* An attention op that, like cuDNN's fused SDPA, writes only its inputs'
 * dtype (and counts its calls): ring attention on bf16 tensors must ask
 * every block in bf16, and widen it itself for the f32 merge. */
static int same_dtype_calls;

static RlStatus
same_dtype_attention (RlContext *ctx, RlTensor *out, RlTensor *lse, const RlTensor *q,
                      const RlTensor *k, const RlTensor *v, float scale)
{
  if (out->dtype != q->dtype)
    return rl_set_error (RL_E_DTYPE, "attention: output dtype %s not supported for %s inputs",
                         rl_dtype_name (out->dtype), rl_dtype_name (q->dtype));
  same_dtype_calls++;
  return rl_backend_cpu ()->ops->attention (ctx, out, lse, q, k, v, scale);
}

/* A bf16 copy of f32 `src`. */
static RlTensor
to_bf16 (const RlBackend *be, RlContext *ctx, const RlTensor *src)
{
  RlTensor t = { 0 };
  if (rl_tensor_alloc (&t, be->context_allocator (ctx), RL_BF16, src->ndim, src->shape) == RL_OK
      && be->ops->convert (ctx, &t, src) != RL_OK)
    rl_tensor_release (&t);
  return t;
}

/* One rank of ring attention on bf16 tensors through same_dtype_attention:
 * every block runs in bf16, and the merged result equals the unsplit bf16
 * attention within two bf16 roundings. */
static void
ring_bf16_rank_main (RlComm *world, const void *arg)
{
  const Config *cfg = arg;
  const RlBackend *cpu = rl_backend_cpu ();
  RlBackend be = *cpu;
  RlOps ops = *cpu->ops;
  ops.attention = same_dtype_attention;
  be.ops = &ops;
  RlContext *ctx = NULL;
  int rank = rl_comm_rank (world), size = rl_comm_size (world);

  omp_set_num_threads (1);
  PT_REQUIRE (be.context_new (0, &ctx) == RL_OK, "%s", rl_last_error ());
  RlAllocator *alloc = be.context_allocator (ctx);
  RlTensor q32 = { 0 }, k32 = { 0 }, v32 = { 0 };
  PT_REQUIRE (random_tensor (alloc, &q32, 1, cfg->length, cfg->heads, HEAD_DIM) == RL_OK
              && random_tensor (alloc, &k32, 2, cfg->length, cfg->heads, HEAD_DIM) == RL_OK
              && random_tensor (alloc, &v32, 3, cfg->length, cfg->heads, V_DIM) == RL_OK, "qkv");
  RlTensor q = to_bf16 (&be, ctx, &q32), k = to_bf16 (&be, ctx, &k32), v = to_bf16 (&be, ctx, &v32);
  PT_REQUIRE (q.data != NULL && k.data != NULL && v.data != NULL, "%s", rl_last_error ());
  RlTensor want32 = alloc4 (alloc, BATCH, cfg->length, cfg->heads, V_DIM);
  RlTensor want = to_bf16 (&be, ctx, &want32);
  PT_REQUIRE (ops.attention (ctx, &want, NULL, &q, &k, &v, SCALE) == RL_OK
              && be.ops->convert (ctx, &want32, &want) == RL_OK, "%s", rl_last_error ());

  RlSeqSplit split;
  PT_REQUIRE (rl_seq_split (cfg->length, size, rank, &split) == RL_OK, "%s", rl_last_error ());
  int64_t lloc = split.local_length;
  RlTensor lq32 = alloc4 (alloc, BATCH, lloc, cfg->heads, HEAD_DIM);
  RlTensor lv32 = alloc4 (alloc, BATCH, lloc, cfg->heads, V_DIM);
  RlTensor lq = to_bf16 (&be, ctx, &lq32), lk = to_bf16 (&be, ctx, &lq32);
  RlTensor lv = to_bf16 (&be, ctx, &lv32), lout = to_bf16 (&be, ctx, &lv32);
  RlTensor lout32 = alloc4 (alloc, BATCH, lloc, cfg->heads, V_DIM);
  RlTensor got = alloc4 (alloc, BATCH, cfg->length, cfg->heads, V_DIM);
  PT_REQUIRE (rl_seq_split_take (&be, ctx, &lq, &q, &split) == RL_OK
              && rl_seq_split_take (&be, ctx, &lk, &k, &split) == RL_OK
              && rl_seq_split_take (&be, ctx, &lv, &v, &split) == RL_OK, "%s", rl_last_error ());
  same_dtype_calls = 0;
  RlStatus status = rl_ring_attention (&be, ctx, world, cfg->length, &lout, NULL, &lq, &lk, &lv,
                                       SCALE);
  PT_REQUIRE (status == RL_OK, "rank %d: %s", rank, rl_last_error ());
  PT_CHECK (same_dtype_calls >= 1, "rank %d ran no block through the bf16 op", rank);
  PT_REQUIRE (be.ops->convert (ctx, &lout32, &lout) == RL_OK
              && rl_seq_split_gather (&be, ctx, world, &got, &lout32, &split) == RL_OK,
              "%s", rl_last_error ());
  double err = relative_error (&got, &want32);
  PT_CHECK (err <= 1.6e-2, "rank %d R%d bf16: relative error %.3g", rank, cfg->ring, err);
  if (rank == 0)
    printf ("# R%d L=%lld H=%lld bf16 (blocks in bf16, merged in f32): relative error %.3g\n",
            cfg->ring, (long long) cfg->length, (long long) cfg->heads, err);
  RlTensor *all[] = { &q32, &k32, &v32, &q, &k, &v, &want32, &want, &lq32, &lv32, &lq, &lk,
                      &lv, &lout, &lout32, &got };
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    rl_tensor_release (all[i]);
  be.context_free (ctx);
}

static void
test_ring2_bf16_blocks (void)
{
  Config cfg = { 1, 2, 37, 4, false };
  PT_CHECK (fork_ranks_on (2, 64 << 10, 20000, ring_bf16_rank_main, &cfg) == 0, "ranks failed");
}

static void
test_ring4_bf16_blocks (void)
{
  Config cfg = { 1, 4, 37, 3, false };
  PT_CHECK (fork_ranks_on (4, 64 << 10, 20000, ring_bf16_rank_main, &cfg) == 0, "ranks failed");
}

/* Forks ulysses·ring ranks on a fresh segment; returns failed ranks. */
static int
run_config (const Config *cfg)
{
  return fork_ranks_on (cfg->ulysses * cfg->ring, 64 << 10, 20000, config_rank_main, cfg);
}

#define CONFIG_TEST(name, ...)                                               \
  static void name (void)                                                    \
  {                                                                          \
    Config cfg = { __VA_ARGS__ };                                            \
    PT_CHECK (run_config (&cfg) == 0, "config failed");                      \
  }

/*          U  R  length heads pad [batch attention calls] */
CONFIG_TEST (test_ulysses2,            2, 1, 37, 4, false)
CONFIG_TEST (test_ring2,               1, 2, 37, 4, false)
CONFIG_TEST (test_ulysses4,            4, 1, 37, 8, false)
CONFIG_TEST (test_ring4,               1, 4, 37, 3, false)
CONFIG_TEST (test_ulysses2_ring2,      2, 2, 38, 6, false)
CONFIG_TEST (test_ulysses4_pad_heads,  4, 1, 37, 6, true)
CONFIG_TEST (test_u2r2_padding_only_rank, 2, 2, 5, 4, false)
CONFIG_TEST (test_ring4_padding_only_rank, 1, 4, 5, 2, false)
CONFIG_TEST (test_ulysses4_refuses_heads, 4, 1, 36, 6, false)
CONFIG_TEST (test_ulysses2_even,       2, 1, 40, 2, false)
/* Batch 1: the pipelined path attends once per head group (sizes in
 * test_head_group_sizes); batch 2 stays in line: one call. */
CONFIG_TEST (test_ulysses2_pipelined,  2, 1, 37, 8, false, 1, 2)
CONFIG_TEST (test_ulysses4_pipelined,  4, 1, 37, 24, false, 1, 3)
CONFIG_TEST (test_ulysses2_uneven_groups, 2, 1, 37, 20, false, 1, 4)
CONFIG_TEST (test_ulysses2_odd_groups, 2, 1, 37, 6, false, 1, 2)
CONFIG_TEST (test_ulysses2_batch2_in_line, 2, 1, 37, 8, false, 2, 1)

static void
test_split_rule (void)
{
  RlSeqSplit s;
  PT_CHECK (rl_seq_split (37, 4, 3, &s) == RL_OK, "%s", rl_last_error ());
  PT_CHECK (s.padded_length == 40 && s.local_length == 10 && s.offset == 30
            && s.valid_length == 7, "37/4 part 3: %lld %lld %lld %lld",
            (long long) s.padded_length, (long long) s.local_length,
            (long long) s.offset, (long long) s.valid_length);
  PT_CHECK (rl_seq_split (5, 4, 3, &s) == RL_OK && s.valid_length == 0 && s.offset == 6,
            "5/4 part 3 holds padding only");
  RlTokenGroups g = rl_seq_split_token_groups (&s, 15);
  PT_CHECK (g.token_offset == 6 && g.tokens_per_group == 15, "token groups");
  PT_CHECK (rl_seq_split (5, 4, 4, &s) == RL_E_INVALID_ARG, "index out of range");
  PT_CHECK (rl_usp_validate (40, 3, 1, 3, false) == RL_E_INVALID_ARG
            && strstr (rl_last_error (), "1, 2") != NULL, "%s", rl_last_error ());
  PT_CHECK (rl_usp_validate (12, 2, 2, 8, false) == RL_E_INVALID_ARG
            && strstr (rl_last_error (), "8 ranks") != NULL, "%s", rl_last_error ());
  PT_CHECK (rl_usp_validate (12, 4, 2, 8, false) == RL_OK, "%s", rl_last_error ());
}

/* The group sizes: small edges, up to four heads in between, every head
 * once; RAYLIGHT_USP_GROUPS overrides with equal groups. */
static void
test_head_group_sizes (void)
{
  static const struct { int64_t heads; int n; int64_t sizes[8]; } cases[] = {
    { 1, 1, { 0 } }, { 2, 2, { 1, 1 } }, { 3, 2, { 1, 2 } }, { 4, 2, { 2, 2 } },
    { 5, 3, { 2, 1, 2 } }, { 6, 3, { 2, 2, 2 } }, { 10, 4, { 2, 3, 3, 2 } },
    { 20, 6, { 2, 4, 4, 4, 4, 2 } }, { 40, 11, { 2, 4, 4, 4, 4, 4, 4, 4 } },
  };
  unsetenv ("RAYLIGHT_USP_GROUPS");
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int64_t sizes[16] = { 0 }, total = 0;
    int n = rl_usp_head_groups (cases[i].heads, sizes, 16);
    PT_CHECK (n == cases[i].n, "%lld heads: %d groups, expected %d", (long long) cases[i].heads,
              n, cases[i].n);
    for (int g = 0; g < n && n > 1; g++) {
      total += sizes[g];
      if (g < 8 && cases[i].sizes[g] != 0)
        PT_CHECK (sizes[g] == cases[i].sizes[g], "%lld heads: group %d has %lld heads, "
                  "expected %lld", (long long) cases[i].heads, g, (long long) sizes[g],
                  (long long) cases[i].sizes[g]);
    }
    PT_CHECK (n == 1 || total == cases[i].heads, "%lld heads: groups hold %lld",
              (long long) cases[i].heads, (long long) total);
  }
  int64_t sizes[16];
  PT_CHECK (rl_usp_head_groups (40, sizes, 4) == 1, "more groups than allowed: in line");
  setenv ("RAYLIGHT_USP_GROUPS", "5", 1);
  PT_CHECK (rl_usp_head_groups (20, sizes, 16) == 5 && sizes[0] == 4 && sizes[4] == 4,
            "RAYLIGHT_USP_GROUPS=5 on 20 heads");
  PT_CHECK (rl_usp_head_groups (6, sizes, 16) == 1, "5 groups do not divide 6 heads: in line");
  setenv ("RAYLIGHT_USP_GROUPS", "1,4,4,4,4,3", 1);
  PT_CHECK (rl_usp_head_groups (20, sizes, 16) == 6 && sizes[0] == 1 && sizes[5] == 3,
            "RAYLIGHT_USP_GROUPS=1,4,4,4,4,3 on 20 heads");
  PT_CHECK (rl_usp_head_groups (21, sizes, 16) == 1, "sizes that miss a head: in line");
  setenv ("RAYLIGHT_USP_GROUPS", "2,x", 1);
  PT_CHECK (rl_usp_head_groups (4, sizes, 16) == 1, "a malformed list: in line");
  setenv ("RAYLIGHT_USP_GROUPS", "1", 1);
  PT_CHECK (rl_usp_head_groups (20, sizes, 16) == 1, "RAYLIGHT_USP_GROUPS=1: in line");
  unsetenv ("RAYLIGHT_USP_GROUPS");
}

int
main (void)
{
  const char *env = getenv ("RL_TEST_SEED");
  run_seed = env != NULL ? strtoull (env, NULL, 0) : (uint64_t) time (NULL) ^ (uint64_t) getpid ();
  printf ("# seed %llu (RL_TEST_SEED to repeat)\n", (unsigned long long) run_seed);

  PT_RUN (test_split_rule);
  PT_RUN (test_head_group_sizes);
  PT_RUN (test_ulysses2);
  PT_RUN (test_ring2);
  PT_RUN (test_ulysses2_even);
  PT_RUN (test_ulysses2_pipelined);
  PT_RUN (test_ulysses4_pipelined);
  PT_RUN (test_ulysses2_uneven_groups);
  PT_RUN (test_ulysses2_odd_groups);
  PT_RUN (test_ulysses2_batch2_in_line);
  PT_RUN (test_ulysses4);
  PT_RUN (test_ring4);
  PT_RUN (test_ulysses2_ring2);
  PT_RUN (test_ulysses4_pad_heads);
  PT_RUN (test_u2r2_padding_only_rank);
  PT_RUN (test_ring4_padding_only_rank);
  PT_RUN (test_ulysses4_refuses_heads);
  PT_RUN (test_ring2_bf16_blocks);
  PT_RUN (test_ring4_bf16_blocks);
  return pt_finish ();
}
