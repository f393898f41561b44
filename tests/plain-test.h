/* A tiny test harness for the plain-C side (workers/, plugins/), which does
 * not link GLib. Output is TAP, so meson shows each case:
 *
 *   static void test_gemm_bias (void) { PT_CHECK (err < 1e-5, "err=%g", err); }
 *   int main (void) { PT_RUN (test_gemm_bias); return pt_finish (); }
 *
 * A test that needs hardware it does not find calls pt_skip_all (), which
 * exits 77 so meson reports SKIP. */
#pragma once

#include <stdio.h>
#include <stdlib.h>

/* Unused where a bench includes the pool helpers built on this header. */
__attribute__ ((unused)) static int pt_case_count;
__attribute__ ((unused)) static int pt_failed_count;
__attribute__ ((unused)) static int pt_case_failed;

#define PT_CHECK(cond, ...)                                                  \
  do {                                                                       \
    if (!(cond)) {                                                           \
      pt_case_failed = 1;                                                    \
      fprintf (stdout, "# %s:%d: check failed: %s: ", __FILE__, __LINE__,    \
               #cond);                                                       \
      fprintf (stdout, __VA_ARGS__);                                         \
      fputc ('\n', stdout);                                                  \
    }                                                                        \
  } while (0)

/* Fails the case and returns from the test function. The condition is
 * evaluated once: it often opens or allocates something. */
#define PT_REQUIRE(cond, ...)                                                \
  do {                                                                       \
    int pt_require_ok_ = !!(cond);                                           \
    PT_CHECK (pt_require_ok_ && #cond, __VA_ARGS__);                         \
    if (!pt_require_ok_)                                                     \
      return;                                                                \
  } while (0)

#define PT_RUN(fn)                                                           \
  do {                                                                       \
    pt_case_failed = 0;                                                      \
    fn ();                                                                   \
    pt_case_count++;                                                         \
    if (pt_case_failed)                                                      \
      pt_failed_count++;                                                     \
    fprintf (stdout, "%s %d - %s\n", pt_case_failed ? "not ok" : "ok",       \
             pt_case_count, #fn);                                            \
    fflush (stdout);                                                         \
  } while (0)

static inline int
pt_finish (void)
{
  fprintf (stdout, "1..%d\n", pt_case_count);
  return pt_failed_count == 0 ? 0 : 1;
}

static inline void
pt_skip_all (const char *why)
{
  fprintf (stdout, "1..0 # SKIP %s\n", why);
  exit (77);
}
