/* The worker's attention selection (workers/worker/worker-attention.h) on
 * the CPU backend: "auto" takes the cheapest variant, a named default and a
 * job's override are honoured, a variant that cannot run a problem falls
 * back with one stderr line naming it and the reason, a problem no variant
 * takes runs on the backend's own attention (logged), and an unknown name
 * is refused listing the known variants. The variants are the build tree's
 * reference and the test variant head-dim-64 (this folder), found through
 * $RAYLIGHT_ATTENTION_PATH. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/plain-test.h"
#include "workers/runtime/backend.h"
#include "workers/worker/worker-attention.h"

static const RlBackend *cpu;
static RlContext *ctx;

/* stderr of the code between capture_begin and capture_end. */
static int saved_stderr = -1;
static char captured[8192];
static const char *capture_path = "test-worker-attention.stderr";

static void
capture_begin (void)
{
  fflush (stderr);
  saved_stderr = dup (2);
  int fd = open (capture_path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
  dup2 (fd, 2);
  close (fd);
}

static const char *
capture_end (void)
{
  fflush (stderr);
  dup2 (saved_stderr, 2);
  close (saved_stderr);
  FILE *f = fopen (capture_path, "r");
  size_t n = f != NULL ? fread (captured, 1, sizeof captured - 1, f) : 0;
  captured[n] = '\0';
  if (f != NULL)
    fclose (f);
  unlink (capture_path);
  for (char *line = captured; *line != '\0';)
    {
      char *end = strchr (line, '\n');
      printf ("# stderr: %.*s\n", end ? (int) (end - line) : (int) strlen (line), line);
      line = end ? end + 1 : line + strlen (line);
    }
  return captured;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static void
fill_random (RlTensor *t)
{
  float *data = t->data;
  for (int64_t i = 0; i < rl_tensor_numel (t); i++)
    {
      rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
      data[i] = (float) ((rng >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
    }
}

typedef struct {
  RlTensor q, k, v, out, expected;
} Problem;

static void
problem_new (Problem *p, int64_t heads, int64_t q_len, int64_t kv_len, int64_t dim)
{
  RlAllocator *alloc = cpu->context_allocator (ctx);
  const int64_t qs[4] = { 1, q_len, heads, dim }, ks[4] = { 1, kv_len, heads, dim };
  rl_tensor_alloc (&p->q, alloc, RL_F32, 4, qs);
  rl_tensor_alloc (&p->k, alloc, RL_F32, 4, ks);
  rl_tensor_alloc (&p->v, alloc, RL_F32, 4, ks);
  rl_tensor_alloc (&p->out, alloc, RL_F32, 4, qs);
  rl_tensor_alloc (&p->expected, alloc, RL_F32, 4, qs);
  fill_random (&p->q);
  fill_random (&p->k);
  fill_random (&p->v);
}

static void
problem_free (Problem *p)
{
  RlTensor *all[] = { &p->q, &p->k, &p->v, &p->out, &p->expected };
  for (int i = 0; i < 5; i++)
    rl_tensor_release (all[i]);
}

/* Runs `p` through the worker's table and the CPU backend's own
 * attention; the largest difference. */
static double
run_and_compare (RlWorkerAttention *attention, Problem *p, RlStatus *status)
{
  const RlBackend *backend = rl_worker_attention_backend (attention);
  float scale = 1.0f / sqrtf ((float) p->q.shape[3]);
  memset (p->out.data, 0xff, (size_t) rl_tensor_numel (&p->out) * sizeof (float));
  *status = backend->ops->attention (ctx, &p->out, NULL, &p->q, &p->k, &p->v, scale);
  cpu->ops->attention (ctx, &p->expected, NULL, &p->q, &p->k, &p->v, scale);
  double worst = 0;
  const float *a = p->out.data, *b = p->expected.data;
  for (int64_t i = 0; i < rl_tensor_numel (&p->out); i++)
    worst = fmax (worst, isnan (a[i]) ? INFINITY : fabs (a[i] - b[i]));
  return worst;
}

static void
test_auto_takes_cheapest (void)
{
  char error[512] = "";
  capture_begin ();
  RlWorkerAttention *attention = rl_worker_attention_new (cpu, ctx, 0, NULL, 0, error,
                                                          sizeof error);
  Problem p;
  problem_new (&p, 2, 7, 9, 64);
  RlStatus status = RL_E_INVALID_ARG;
  double err = attention ? run_and_compare (attention, &p, &status) : INFINITY;
  const char *log = capture_end ();
  PT_REQUIRE (attention != NULL, "%s", error);
  PT_CHECK (strcmp (rl_worker_attention_default (attention), "auto") == 0, "default %s",
            rl_worker_attention_default (attention));
  PT_CHECK (status == RL_OK && err < 1e-5, "status %d err %g: %s", status, err, rl_last_error ());
  PT_CHECK (strcmp (rl_worker_attention_last (attention), "head-dim-64") == 0, "ran %s",
            rl_worker_attention_last (attention));
  PT_CHECK (strstr (log, "default 'auto' on cpu") != NULL, "no start line");
  PT_CHECK (strstr (log, "running 'head-dim-64'") != NULL, "first use not logged");
  problem_free (&p);
  rl_worker_attention_free (attention);
}

static void
test_fallback_is_logged (void)
{
  char error[512] = "";
  capture_begin ();
  RlWorkerAttention *attention = rl_worker_attention_new (cpu, ctx, 0, "head-dim-64", 3, error,
                                                          sizeof error);
  Problem p;
  problem_new (&p, 3, 5, 11, 32);
  RlStatus status = RL_E_INVALID_ARG;
  double err = attention ? run_and_compare (attention, &p, &status) : INFINITY;
  /* The same problem again: the fallback is logged once, not per call. */
  double err2 = attention ? run_and_compare (attention, &p, &status) : INFINITY;
  const char *log = capture_end ();
  PT_REQUIRE (attention != NULL, "%s", error);
  PT_CHECK (status == RL_OK && err < 1e-5 && err2 < 1e-5, "err %g %g", err, err2);
  PT_CHECK (strcmp (rl_worker_attention_last (attention), "reference") == 0, "ran %s",
            rl_worker_attention_last (attention));
  const char *line = strstr (log, "raylight-worker[rank 3]: attention: using 'reference' instead "
                                  "of 'head-dim-64': head-dim-64: head dim 32 not supported");
  PT_CHECK (line != NULL, "fallback line missing");
  const char *next_line = line != NULL ? strchr (line, '\n') : NULL;
  PT_CHECK (next_line == NULL || strstr (next_line, "instead of 'head-dim-64'") == NULL,
            "fallback logged twice");
  problem_free (&p);
  rl_worker_attention_free (attention);
}

/* A key tensor that is a view with gaps: no variant takes it (the plugin
 * ABI is contiguous), the backend's own attention does. */
static void
test_backend_fallback (void)
{
  char error[512] = "";
  capture_begin ();
  RlWorkerAttention *attention = rl_worker_attention_new (cpu, ctx, 0, "reference", 0, error,
                                                          sizeof error);
  Problem p;
  problem_new (&p, 2, 4, 6, 16);
  RlTensor wide = { 0 }, k_view = { 0 };
  const int64_t wide_shape[4] = { 1, 6, 2, 32 };
  rl_tensor_alloc (&wide, cpu->context_allocator (ctx), RL_F32, 4, wide_shape);
  fill_random (&wide);
  rl_tensor_narrow (&k_view, &wide, 3, 0, 16);
  rl_tensor_release (&p.k);
  p.k = k_view;
  RlStatus status = RL_E_INVALID_ARG;
  double err = attention ? run_and_compare (attention, &p, &status) : INFINITY;
  const char *log = capture_end ();
  PT_REQUIRE (attention != NULL, "%s", error);
  PT_CHECK (status == RL_OK && err == 0.0, "status %d err %g", status, err);
  PT_CHECK (strcmp (rl_worker_attention_last (attention), "backend") == 0, "ran %s",
            rl_worker_attention_last (attention));
  PT_CHECK (strstr (log, "attention: using the cpu backend's own attention: attention: need "
                         "contiguous") != NULL, "backend fallback not logged with its reason");
  rl_tensor_release (&wide);
  problem_free (&p);
  rl_worker_attention_free (attention);
}

static void
test_unknown_name_lists_known (void)
{
  char error[512] = "";
  capture_begin ();
  RlWorkerAttention *none = rl_worker_attention_new (cpu, ctx, 0, "no-such-kernel", 0, error,
                                                     sizeof error);
  capture_end ();
  printf ("# %s\n", error);
  PT_CHECK (none == NULL, "an unknown default was accepted");
  PT_CHECK (strstr (error, "unknown attention variant 'no-such-kernel' for the cpu backend; "
                           "known: auto, ") != NULL, "%s", error);
  PT_CHECK (strstr (error, "reference") != NULL && strstr (error, "head-dim-64") != NULL,
            "known variants not listed: %s", error);
  /* CUDA variants are not offered to a CPU worker. */
  PT_CHECK (strstr (error, "flash") == NULL && strstr (error, "cudnn") == NULL, "%s", error);
  rl_worker_attention_free (none);

  capture_begin ();
  RlWorkerAttention *attention = rl_worker_attention_new (cpu, ctx, 0, "auto", 0, error,
                                                          sizeof error);
  bool accepted = attention && rl_worker_attention_begin (attention, "flash", error, sizeof error);
  capture_end ();
  PT_REQUIRE (attention != NULL, "%s", error);
  PT_CHECK (!accepted && strstr (error, "unknown attention variant 'flash' for the cpu backend")
            != NULL, "a job's unknown variant: %s", error);
  rl_worker_attention_free (attention);
}

static void
test_job_override (void)
{
  char error[512] = "";
  capture_begin ();
  RlWorkerAttention *attention = rl_worker_attention_new (cpu, ctx, 0, "reference", 0, error,
                                                          sizeof error);
  Problem p;
  problem_new (&p, 1, 3, 3, 64);
  RlStatus s1 = RL_E_INVALID_ARG, s2 = RL_E_INVALID_ARG, s3 = RL_E_INVALID_ARG;
  char first[32] = "", during[32] = "", after[32] = "";
  bool begun = false;
  if (attention != NULL)
    {
      run_and_compare (attention, &p, &s1);
      snprintf (first, sizeof first, "%s", rl_worker_attention_last (attention));
      begun = rl_worker_attention_begin (attention, "head-dim-64", error, sizeof error);
      run_and_compare (attention, &p, &s2);
      snprintf (during, sizeof during, "%s", rl_worker_attention_last (attention));
      rl_worker_attention_end (attention);
      run_and_compare (attention, &p, &s3);
      snprintf (after, sizeof after, "%s", rl_worker_attention_last (attention));
    }
  capture_end ();
  PT_REQUIRE (attention != NULL, "%s", error);
  PT_CHECK (begun, "%s", error);
  PT_CHECK (s1 == RL_OK && s2 == RL_OK && s3 == RL_OK, "statuses %d %d %d", s1, s2, s3);
  PT_CHECK (strcmp (first, "reference") == 0 && strcmp (during, "head-dim-64") == 0
            && strcmp (after, "reference") == 0, "ran %s, then %s in the job, then %s", first,
            during, after);
  problem_free (&p);
  rl_worker_attention_free (attention);
}

int
main (void)
{
  cpu = rl_backend_find ("cpu");
  if (cpu == NULL || cpu->context_new (0, &ctx) != RL_OK)
    {
      printf ("Bail out! no CPU backend: %s\n", rl_last_error ());
      return 1;
    }
  PT_RUN (test_auto_takes_cheapest);
  PT_RUN (test_fallback_is_logged);
  PT_RUN (test_backend_fallback);
  PT_RUN (test_unknown_name_lists_known);
  PT_RUN (test_job_override);
  cpu->context_free (ctx);
  return pt_finish ();
}
