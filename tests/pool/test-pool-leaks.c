/* No growth over 20 load/unload cycles that switch between two models:
 * descriptors of this process and the RSS of every worker return to where
 * they were after the first cycles. The budget holds one model, so the
 * switch also exercises LRU eviction, and each cycle also starts loading a
 * third model and cancels it, which must leave nothing behind either. */
#include "pool-test-util.h"

#define CYCLES       20
#define WARMUP       2
/* A leaked model mapping would be >= 6 MiB; allocator noise is far less. */
#define RSS_SLACK_KIB 2048

typedef struct {
  RlPool *pool;
  int     cancels_sent;
} Canceller;

static void
cancel_on_first_report (const RlPoolProgress *progress, void *user_data)
{
  Canceller *canceller = user_data;
  if (progress->done < progress->total)
    {
      rl_pool_cancel (canceller->pool, progress->rank);
      canceller->cancels_sent++;
    }
}

static void
test_switching_models_does_not_grow (void)
{
  uint64_t seed = pt_seed ();
  char a[512], b[512], c[512];
  snprintf (a, sizeof a, "%s/switch-a.safetensors", pt_scratch_dir ());
  snprintf (b, sizeof b, "%s/switch-b.safetensors", pt_scratch_dir ());
  snprintf (c, sizeof c, "%s/cancelled-c.safetensors", pt_scratch_dir ());
  int written = pt_make_model (a, seed, 2, 1280) + pt_make_model (b, seed + 7, 2, 1024)
                + pt_make_model (c, seed + 9, 8, 512);
  PT_REQUIRE (written == 0, "cannot write checkpoints");

  RlPoolOptions options;
  pt_pool_options (&options, 2);
  const char *env[] = { "RAYLIGHT_WORKER_TEST_FAULTS=slow-load", NULL };
  options.extra_env = env;
  options.memory_budget = 17u << 20;  /* A 10 MiB + B 8 MiB never fit together; C 16 MiB does */
  RlErrorInfo err = { 0 };
  RlPool *pool = rl_pool_new (&options, &err);
  PT_REQUIRE (pool != NULL, "%s", err.message);
  int status = rl_pool_start (pool, &err);
  PT_REQUIRE (status == RL_WIRE_OK, "%s", err.message);
  RlWorkerInfo info[2];
  for (int r = 0; r < 2; r++)
    rl_pool_worker_info (pool, r, &info[r]);

  int fds_start = 0;
  long rss_start[2] = { 0, 0 };
  long rss_loaded_peak[2] = { 0, 0 };
  int evictions = 0;
  int cancelled = 0;
  Canceller canceller = { .pool = pool };
  for (int cycle = 0; cycle < CYCLES; cycle++)
    {
      RlMsgCacheReport report;
      status = rl_pool_load_model (pool, -1, a, "", NULL, NULL, 0, &report, &err);
      PT_REQUIRE (status == RL_WIRE_OK, "cycle %d load A: %s", cycle, err.message);
      status = rl_pool_load_model (pool, -1, b, "", NULL, NULL, 0, &report, &err);
      PT_REQUIRE (status == RL_WIRE_OK, "cycle %d load B: %s", cycle, err.message);
      evictions += report.released_bytes > 0;
      PT_CHECK (report.resident_models == 1, "cycle %d: %u models in a one-model budget", cycle,
                report.resident_models);
      for (int r = 0; r < 2; r++)
        {
          long rss = pt_rss_kib (info[r].pid);
          if (rss > rss_loaded_peak[r])
            rss_loaded_peak[r] = rss;
        }
      status = rl_pool_unload_model (pool, -1, b, "", &err);
      PT_REQUIRE (status == RL_WIRE_OK, "unload: %s", err.message);
      /* Rank 1 only, so rank 0's numbers show the plain switch. */
      status = rl_pool_load_model (pool, 1, c, "", cancel_on_first_report, &canceller, 0,
                                   &report, &err);
      PT_REQUIRE (status == RL_WIRE_CANCELLED || status == RL_WIRE_OK, "cancelled load: %s",
                  err.message);
      cancelled += status == RL_WIRE_CANCELLED;
      if (status == RL_WIRE_OK)
        {
          status = rl_pool_unload_model (pool, 1, c, "", &err);
          PT_REQUIRE (status == RL_WIRE_OK, "unload C: %s", err.message);
        }
      if (cycle == WARMUP - 1)
        {
          fds_start = pt_count_fds ();
          for (int r = 0; r < 2; r++)
            rss_start[r] = pt_rss_kib (info[r].pid);
        }
    }
  int fds_end = pt_count_fds ();
  PT_CHECK (fds_end == fds_start, "descriptors grew from %d to %d", fds_start, fds_end);
  PT_CHECK (evictions == CYCLES, "B evicted A in %d of %d cycles", evictions, CYCLES);
  /* slow-load gives each 4 MiB step 20 ms, so every cancel lands mid-load. */
  PT_CHECK (cancelled == CYCLES && canceller.cancels_sent >= CYCLES, "%d of %d loads cancelled",
            cancelled, CYCLES);
  for (int r = 0; r < 2; r++)
    {
      long rss_end = pt_rss_kib (info[r].pid);
      printf ("# rank %d RSS: %ld KiB after warm-up, %ld KiB after %d cycles, %ld KiB peak "
              "with a model loaded\n", r, rss_start[r], rss_end, CYCLES, rss_loaded_peak[r]);
      PT_CHECK (rss_start[r] > 0 && rss_end > 0, "no RSS for rank %d", r);
      PT_CHECK (rss_end <= rss_start[r] + RSS_SLACK_KIB, "rank %d grew from %ld to %ld KiB", r,
                rss_start[r], rss_end);
      /* The check can fail: loading really maps and touches the model. */
      PT_CHECK (rss_loaded_peak[r] >= rss_end + 6 * 1024, "rank %d never held a model "
                "(peak %ld KiB)", r, rss_loaded_peak[r]);
      RlWorkerInfo now;
      rl_pool_worker_info (pool, r, &now);
      PT_CHECK (now.pid == info[r].pid && now.restarts == 0, "rank %d restarted", r);
    }
  rl_pool_free (pool);
}

int
main (void)
{
  PT_RUN (test_switching_models_does_not_grow);
  return pt_finish ();
}
