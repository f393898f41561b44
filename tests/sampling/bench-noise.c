/* bench-noise [REPEATS]: rl_noise_prepare (bulk passes, the CPU's best
 * kernel set) against the reference implementation (tests/sampling/
 * noise-reference.c, the code before the bulk passes) on Wan latents, one
 * thread. Times are the thread's CPU time (CLOCK_THREAD_CPUTIME_ID: equal
 * to wall time on an idle core, and not inflated by preemption on a shared
 * host). Prints the median and the best time of each over REPEATS runs
 * (default 7), the
 * speed-up of the medians, the portable kernel set's median, and whether
 * the outputs match bit for bit. Not a test: timings vary with the machine
 * and its load. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/sampling/noise-reference.h"
#include "workers/sampling/noise-kernels.h"
#include "workers/sampling/noise.h"

typedef struct {
  const char *name;
  int64_t     shape[5];
} LatentShape;

static const LatentShape shapes[] = {
  { "Wan 2.1 832x480x81 (16 ch)", { 1, 16, 21, 60, 104 } },
  { "Wan 2.1 1.3B 832x480x33", { 1, 16, 9, 60, 104 } },
  { "Wan 2.1 1280x720x81", { 1, 16, 21, 90, 160 } },
  { "Wan 2.2 5B 1280x704x121 (48 ch)", { 1, 48, 31, 44, 80 } },
};

static double
now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int
compare_doubles (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static double
median (double *v, int n)
{
  qsort (v, (size_t) n, sizeof *v, compare_doubles);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int
main (int argc, char **argv)
{
  int repeats = argc > 1 ? atoi (argv[1]) : 7;
  if (repeats < 1 || repeats > 1000) {
    fprintf (stderr, "usage: bench-noise [REPEATS 1..1000]\n");
    return 2;
  }
  double *t_fast = malloc ((size_t) repeats * sizeof *t_fast);
  double *t_ref = malloc ((size_t) repeats * sizeof *t_ref);
  double *t_portable = malloc ((size_t) repeats * sizeof *t_portable);
  if (!t_fast || !t_ref || !t_portable)
    return 1;
  printf ("kernel set: %s; thread CPU time, median/best of %d runs, one thread\n",
          rl_noise_kernels_best ()->name, repeats);
  printf ("%-32s %9s %19s %17s %8s %9s %s\n", "latent", "elements", "reference med/best",
          "fast med/best", "speed-up", "portable", "bit-exact");
  int all_equal = 1;
  for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
    size_t total = 1;
    for (int d = 0; d < 5; d++)
      total *= (size_t) shapes[k].shape[d];
    float *fast = malloc (total * sizeof *fast);
    float *ref = malloc (total * sizeof *ref);
    float *portable = malloc (total * sizeof *portable);
    if (!fast || !ref || !portable)
      return 1;
    for (int r = 0; r < repeats; r++) {
      uint64_t seed = 1000 + (uint64_t) r;
      double t0 = now_ms ();
      reference_noise_prepare (seed, shapes[k].shape, 5, NULL, ref);
      double t1 = now_ms ();
      rl_noise_prepare (seed, shapes[k].shape, 5, NULL, fast);
      double t2 = now_ms ();
      RlTorchGenerator gen;
      rl_torch_generator_seed (&gen, seed);
      rl_torch_randn_float_with (rl_noise_kernels_portable (), &gen, portable, total);
      double t3 = now_ms ();
      t_ref[r] = t1 - t0;
      t_fast[r] = t2 - t1;
      t_portable[r] = t3 - t2;
      int equal = memcmp (fast, ref, total * sizeof *ref) == 0
                  && memcmp (portable, ref, total * sizeof *ref) == 0;
      all_equal &= equal;
    }
    double ref_ms = median (t_ref, repeats), fast_ms = median (t_fast, repeats);
    /* median () sorted the arrays: element 0 is the best run. */
    printf ("%-32s %9zu %7.1f/%7.1f ms %6.2f/%6.2f ms %7.1fx %6.1f ms %s\n", shapes[k].name, total,
            ref_ms, t_ref[0], fast_ms, t_fast[0], ref_ms / fast_ms, median (t_portable, repeats),
            all_equal ? "yes" : "NO");
    free (fast);
    free (ref);
    free (portable);
  }
  free (t_fast);
  free (t_ref);
  free (t_portable);
  return all_equal ? 0 : 1;
}
