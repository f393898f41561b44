/* The bulk noise kernels (workers/sampling/noise-kernels.h) against the
 * reference implementation (tests/sampling/noise-reference.c, the one-word,
 * one-block code that tests/reference/check_noise.py verified against
 * PyTorch): bit for bit, for every kernel set this CPU runs (portable, and
 * AVX2/FMA where present), over every 24-bit uniform value in the Box-Muller
 * transform, many sizes (below 16, non-multiples of 16, around the 624-word
 * regeneration), several seeds, chained draws on one generator and
 * batch_index lists. The generator state after each draw must match too. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/plain-test.h"
#include "tests/sampling/noise-reference.h"
#include "workers/sampling/noise-kernels.h"
#include "workers/sampling/noise.h"

static uint64_t test_seed;
static const RlNoiseKernels *kernel_sets[2];
static int kernel_set_count;

static int
same_generator (const RlTorchGenerator *a, const RlTorchGenerator *b)
{
  return memcmp (a->state, b->state, sizeof a->state) == 0 && a->next == b->next
         && a->has_cached_normal == b->has_cached_normal
         && (!a->has_cached_normal || a->cached_normal == b->cached_normal);
}

static size_t
first_difference (const float *a, const float *b, size_t count)
{
  for (size_t i = 0; i < count; i++)
    if (memcmp (&a[i], &b[i], sizeof a[i]) != 0)
      return i;
  return count;
}

static void
test_kernel_sets_found (void)
{
  PT_CHECK (kernel_set_count >= 1 && strcmp (kernel_sets[0]->name, "portable") == 0,
            "portable set missing");
  PT_CHECK (rl_noise_kernels_best () == kernel_sets[kernel_set_count - 1],
            "best set is %s", rl_noise_kernels_best ()->name);
#if defined(__x86_64__)
  if (__builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma"))
    PT_CHECK (kernel_set_count == 2, "CPU has AVX2 and FMA but the avx2-fma set is missing");
#endif
  for (int k = 0; k < kernel_set_count; k++)
    printf ("# kernel set: %s\n", kernel_sets[k]->name);
}

/* Every 24-bit uniform k·2^-24 appears once as some lane's u1 and once as
 * some lane's u2 (u2 runs through an odd-multiplier permutation of k, so the
 * pairs mix). The log depends on u1 only and sin/cos on u2 only, so this
 * covers both polynomials on their whole input domain. */
static void
test_box_muller_every_uniform (void)
{
  enum { PAIRS = 1 << 24, CHUNK_BLOCKS = 1 << 14 };
  float *ref = malloc (CHUNK_BLOCKS * 16 * sizeof *ref);
  float *got = malloc (CHUNK_BLOCKS * 16 * sizeof *got);
  float *input = malloc (CHUNK_BLOCKS * 16 * sizeof *input);
  PT_REQUIRE (ref && got && input, "malloc");
  size_t mismatches[2] = { 0, 0 };
  for (uint32_t pair0 = 0; pair0 < PAIRS; pair0 += CHUNK_BLOCKS * 8) {
    for (uint32_t b = 0; b < CHUNK_BLOCKS; b++)
      for (uint32_t j = 0; j < 8; j++) {
        uint32_t k = pair0 + b * 8 + j;
        uint32_t k2 = (k * 2654435761u) & (PAIRS - 1);
        input[b * 16 + j] = (float) k * 0x1p-24f;
        input[b * 16 + j + 8] = (float) k2 * 0x1p-24f;
      }
    memcpy (ref, input, CHUNK_BLOCKS * 16 * sizeof *ref);
    for (uint32_t b = 0; b < CHUNK_BLOCKS; b++)
      reference_box_muller_16 (ref + 16 * b);
    for (int s = 0; s < kernel_set_count; s++) {
      memcpy (got, input, CHUNK_BLOCKS * 16 * sizeof *got);
      kernel_sets[s]->box_muller (got, CHUNK_BLOCKS);
      size_t i = first_difference (got, ref, CHUNK_BLOCKS * 16);
      if (i < CHUNK_BLOCKS * 16 && mismatches[s]++ == 0)
        printf ("# %s: u1 %a u2 %a gives %a, reference %a\n", kernel_sets[s]->name,
                input[i - i % 16 + i % 8], input[i - i % 16 + i % 8 + 8], got[i], ref[i]);
    }
  }
  for (int s = 0; s < kernel_set_count; s++)
    PT_CHECK (mismatches[s] == 0, "%s: %zu chunks differ", kernel_sets[s]->name, mismatches[s]);
  free (ref);
  free (got);
  free (input);
}

static void
test_single_words_match (void)
{
  RlTorchGenerator fast, ref;
  rl_torch_generator_seed (&fast, test_seed);
  reference_generator_seed (&ref, test_seed);
  PT_CHECK (same_generator (&fast, &ref), "seeded states differ");
  for (int i = 0; i < 3000; i++) {
    uint32_t a = rl_torch_generator_random (&fast), b = reference_generator_random (&ref);
    if (a != b) {
      PT_CHECK (a == b, "seed %llu word %d: %u, reference %u", (unsigned long long) test_seed, i, a, b);
      return;
    }
  }
  PT_CHECK (rl_torch_generator_random64 (&fast) == reference_generator_random64 (&ref), "random64");
  PT_CHECK (same_generator (&fast, &ref), "states differ after 3002 words");
}

/* One randn of `count` elements from a generator in state `start`, with
 * every kernel set, against the reference: values and final state. */
static int
check_randn (const RlTorchGenerator *start, size_t count, const char *what)
{
  float *ref = malloc ((count + 1) * sizeof *ref);
  float *got = malloc ((count + 1) * sizeof *got);
  if (!ref || !got) {
    PT_CHECK (0, "malloc %zu", count);
    free (ref);
    free (got);
    return 0;
  }
  RlTorchGenerator ref_gen = *start;
  reference_randn_float (&ref_gen, ref, count);
  int ok = 1;
  for (int s = 0; s < kernel_set_count && ok; s++) {
    RlTorchGenerator gen = *start;
    rl_torch_randn_float_with (kernel_sets[s], &gen, got, count);
    size_t i = first_difference (got, ref, count);
    if (i < count) {
      PT_CHECK (i == count, "%s, %s, %zu elements: [%zu] %a, reference %a", what,
                kernel_sets[s]->name, count, i, got[i], ref[i]);
      ok = 0;
    } else if (!same_generator (&gen, &ref_gen)) {
      PT_CHECK (0, "%s, %s, %zu elements: generator state differs after the draw", what,
                kernel_sets[s]->name, count);
      ok = 0;
    }
  }
  /* The public entry point uses the best set. */
  RlTorchGenerator gen = *start;
  rl_torch_randn_float (&gen, got, count);
  if (ok && (first_difference (got, ref, count) < count || !same_generator (&gen, &ref_gen))) {
    PT_CHECK (0, "%s, rl_torch_randn_float, %zu elements differs", what, count);
    ok = 0;
  }
  free (ref);
  free (got);
  return ok;
}

static void
test_randn_sizes_and_seeds (void)
{
  const uint64_t seeds[] = { 0, 1, 42, 5489, 0xffffffffu, (UINT64_C (7) << 32) | 12345, test_seed };
  const size_t sizes[] = { 71, 80, 100, 255, 256, 257, 311, 312, 313, 623, 624, 625, 1247, 1248,
                           1249, 1263, 4999, 9984, 65536 + 7, 250000 };
  char what[64];
  for (size_t k = 0; k < sizeof seeds / sizeof seeds[0]; k++) {
    RlTorchGenerator start;
    reference_generator_seed (&start, seeds[k]);
    snprintf (what, sizeof what, "seed %llu", (unsigned long long) seeds[k]);
    int ok = 1;
    for (size_t n = 0; n <= 70 && ok; n++)
      ok = check_randn (&start, n, what);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0] && ok; i++)
      ok = check_randn (&start, sizes[i], what);
  }
}

/* A Wan 832x480x81 latent, the size the speed-up is for. */
static void
test_randn_wan_latent (void)
{
  RlTorchGenerator start;
  reference_generator_seed (&start, test_seed);
  check_randn (&start, (size_t) 16 * 21 * 60 * 104, "Wan latent");
}

/* Draws one after another on one generator: the twister's position, the
 * tail re-draws and the scalar path's cached sample carry from one call to
 * the next, from any point of a regeneration. */
static void
test_chained_draws (void)
{
  const size_t sequence[] = { 5, 17, 3, 640, 1, 33, 624, 15, 16, 1000, 2, 48, 7, 999 };
  RlTorchGenerator ref_gen, gen[2];
  reference_generator_seed (&ref_gen, test_seed);
  for (int s = 0; s < kernel_set_count; s++)
    rl_torch_generator_seed (&gen[s], test_seed);
  float ref[1000], got[1000];
  for (size_t k = 0; k < sizeof sequence / sizeof sequence[0]; k++) {
    size_t n = sequence[k];
    reference_randn_float (&ref_gen, ref, n);
    for (int s = 0; s < kernel_set_count; s++) {
      rl_torch_randn_float_with (kernel_sets[s], &gen[s], got, n);
      size_t i = first_difference (got, ref, n);
      PT_CHECK (i == n, "%s, draw %zu (%zu elements): [%zu] %a, reference %a",
                kernel_sets[s]->name, k, n, i, i < n ? got[i] : 0.0f, i < n ? ref[i] : 0.0f);
      PT_CHECK (same_generator (&gen[s], &ref_gen), "%s: state differs after draw %zu",
                kernel_sets[s]->name, k);
    }
  }
}

static void
test_prepare_batch_index (void)
{
  typedef struct {
    int64_t shape[4];
    int     ndim;
    int64_t index[4];
    int     use_index;
  } Case;
  const Case cases[] = {
    { { 1, 7 }, 2, { 0 }, 1 },
    { { 2, 7 }, 2, { 1, 0 }, 1 },
    { { 3, 16 }, 2, { 2, 0, 2 }, 1 },
    { { 3, 3, 5, 5 }, 4, { 2, 0, 2 }, 1 },
    { { 2, 4, 10, 25 }, 4, { 1, 1 }, 1 },
    { { 2, 4, 10, 25 }, 4, { 3, 0 }, 1 },
    { { 4, 2, 9, 13 }, 4, { 0, 1, 2, 3 }, 1 },
    { { 4, 2, 9, 13 }, 4, { 0 }, 0 },
    { { 2, 0, 5 }, 3, { 1, 0 }, 1 },
    { { 3, 5 }, 2, { 0 }, 0 },
    { { 1, 16, 3, 1560 }, 4, { 0 }, 0 },
  };
  const uint64_t seeds[] = { 0, 99, test_seed };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    const Case *k = &cases[c];
    size_t total = 1;
    for (int d = 0; d < k->ndim; d++)
      total *= (size_t) k->shape[d];
    float *ref = malloc ((total + 1) * sizeof *ref);
    float *got = malloc ((total + 1) * sizeof *got);
    PT_REQUIRE (ref && got, "malloc");
    for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; s++) {
      const int64_t *index = k->use_index ? k->index : NULL;
      PT_REQUIRE (reference_noise_prepare (seeds[s], k->shape, k->ndim, index, ref) == RL_OK,
                  "%s", rl_last_error ());
      PT_REQUIRE (rl_noise_prepare (seeds[s], k->shape, k->ndim, index, got) == RL_OK, "%s",
                  rl_last_error ());
      size_t i = first_difference (got, ref, total);
      PT_CHECK (i == total, "case %zu seed %llu: [%zu] %a, reference %a", c,
                (unsigned long long) seeds[s], i, i < total ? got[i] : 0.0f,
                i < total ? ref[i] : 0.0f);
    }
    free (ref);
    free (got);
  }
}

int
main (void)
{
  const char *env = getenv ("RAYLIGHT_TEST_SEED");
  test_seed = env ? strtoull (env, NULL, 10) : (uint64_t) time (NULL);
  printf ("# seed %llu (set RAYLIGHT_TEST_SEED to repeat)\n", (unsigned long long) test_seed);
  kernel_sets[kernel_set_count++] = rl_noise_kernels_portable ();
  if (rl_noise_kernels_avx2_fma () != NULL)
    kernel_sets[kernel_set_count++] = rl_noise_kernels_avx2_fma ();

  PT_RUN (test_kernel_sets_found);
  PT_RUN (test_box_muller_every_uniform);
  PT_RUN (test_single_words_match);
  PT_RUN (test_randn_sizes_and_seeds);
  PT_RUN (test_randn_wan_latent);
  PT_RUN (test_chained_draws);
  PT_RUN (test_prepare_batch_index);
  return pt_finish ();
}
