/* NCCL backend on two GPUs (one thread per rank and GPU): every collective
 * against the host computation, a sub-communicator, USP attention
 * (Ulysses 2, ring 2, padded heads) against the unsplit attention on the
 * GPU, and a rank that never arrives turning into an error. Exits 77 with
 * fewer than two GPUs. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/plain-test.h"
#include "workers/backend-cuda/cuda-stream.h"
#include "workers/comm/comm-nccl.h"
#include "workers/parallel/ring-attention.h"
#include "workers/parallel/seq-split.h"
#include "workers/parallel/usp-attention.h"
#include "workers/runtime/backend.h"

enum { RANKS = 2, COUNT = 4099, BATCH = 2, HEAD_DIM = 32, V_DIM = 16, LENGTH = 37 };

static uint64_t run_seed;
static unsigned char unique_id[RL_COMM_NCCL_ID_BYTES];
static const RlBackend *cuda;

static float
value_of (int which, int64_t i)
{
  uint64_t x = run_seed ^ ((uint64_t) which << 40) ^ (uint64_t) i;
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  x ^= x >> 31;
  return (float) ((double) (x >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

typedef struct {
  RlContext *ctx;
  RlComm    *comm;
  int        rank;
} Rank;

/* A device tensor of n floats holding value_of(which, 0..n) (shape given). */
static RlTensor
device_tensor (Rank *r, int which, int ndim, const int64_t *shape)
{
  RlTensor host = { 0 }, dev = { 0 };
  int64_t n = 1;
  for (int d = 0; d < ndim; d++)
    n *= shape[d];
  float *h = malloc (sizeof (float) * (size_t) n);
  rl_tensor_wrap (&host, h, rl_device_cpu (), RL_F32, ndim, shape, NULL, NULL);
  for (int64_t i = 0; i < n; i++)
    h[i] = which < 0 ? 0.0f : value_of (which, i);
  rl_tensor_alloc (&dev, cuda->context_allocator (r->ctx), RL_F32, ndim, shape);
  cuda->transfer (r->ctx, &dev, &host);
  free (h);
  return dev;
}

static float *
to_host (Rank *r, const RlTensor *dev)
{
  RlTensor host = { 0 };
  float *copy = malloc (sizeof (float) * (size_t) rl_tensor_numel (dev));
  rl_tensor_wrap (&host, copy, rl_device_cpu (), RL_F32, dev->ndim, dev->shape, NULL, NULL);
  cuda->transfer (r->ctx, &host, dev);
  return copy;
}

static void
check_collectives (Rank *r)
{
  int64_t n = COUNT, n2 = 2 * COUNT;
  RlTensor sum = device_tensor (r, r->rank, 1, &n), max = device_tensor (r, r->rank, 1, &n);
  PT_REQUIRE (rl_comm_all_reduce (r->comm, &sum, RL_COMM_SUM) == RL_OK, "%s", rl_last_error ());
  PT_REQUIRE (rl_comm_all_reduce (r->comm, &max, RL_COMM_MAX) == RL_OK, "%s", rl_last_error ());
  float *s = to_host (r, &sum), *m = to_host (r, &max);
  int bad = 0;
  for (int64_t i = 0; i < n; i++)
    bad += s[i] != value_of (0, i) + value_of (1, i)
           || m[i] != fmaxf (value_of (0, i), value_of (1, i));
  PT_CHECK (bad == 0, "rank %d: %d reduced elements differ", r->rank, bad);
  free (s);
  free (m);

  RlTensor in = device_tensor (r, 10 + r->rank, 1, &n), out = device_tensor (r, -1, 1, &n2);
  PT_REQUIRE (rl_comm_all_gather (r->comm, &out, &in) == RL_OK, "%s", rl_last_error ());
  float *g = to_host (r, &out);
  bad = 0;
  for (int64_t i = 0; i < n2; i++)
    bad += g[i] != value_of (10 + (int) (i / n), i % n);
  PT_CHECK (bad == 0, "rank %d: all_gather: %d differ", r->rank, bad);
  free (g);

  RlTensor a2a_in = device_tensor (r, 20 + r->rank, 1, &n2), a2a = device_tensor (r, -1, 1, &n2);
  PT_REQUIRE (rl_comm_all_to_all (r->comm, &a2a, &a2a_in) == RL_OK, "%s", rl_last_error ());
  float *t = to_host (r, &a2a);
  bad = 0;
  for (int64_t i = 0; i < n2; i++)   /* chunk j came from rank j, its chunk r->rank */
    bad += t[i] != value_of (20 + (int) (i / n), r->rank * n + i % n);
  PT_CHECK (bad == 0, "rank %d: all_to_all: %d differ", r->rank, bad);
  free (t);
  /* The first all-to-all on this communicator is counted, with its bytes. */
  RlCommNcclStats stats;
  PT_CHECK (rl_comm_nccl_stats (r->comm, "all_to_all", &stats) && stats.calls == 1
            && stats.bytes == (uint64_t) n2 * sizeof (float) && stats.ms > 0.0,
            "rank %d: all_to_all stats %llu calls %llu bytes %.3f ms", r->rank,
            (unsigned long long) stats.calls, (unsigned long long) stats.bytes, stats.ms);
  PT_CHECK (!rl_comm_nccl_stats (r->comm, "split", &stats), "split is not a counted op");

  /* Two all-to-alls as one call, blocking and then started while the
   * device runs other work, with the calls ordered after the context's
   * stream instead of the whole device (how the Ulysses exchanges run). */
  for (int started = 0; started < 2; started++) {
    RlTensor m_in[2] = { device_tensor (r, 50 + r->rank, 1, &n2), device_tensor (r, 60 + r->rank, 1, &n2) };
    RlTensor m_out[2] = { device_tensor (r, -1, 1, &n2), device_tensor (r, -1, 1, &n2) };
    RlTensor *outs[2] = { &m_out[0], &m_out[1] };
    const RlTensor *ins[2] = { &m_in[0], &m_in[1] };
    if (started) {
      PT_REQUIRE (rl_comm_nccl_order_after (r->comm, rl_cuda_context_stream (r->ctx, NULL)) == RL_OK,
                  "%s", rl_last_error ());
      PT_REQUIRE (rl_comm_all_to_all_many_start (r->comm, 2, outs, ins) == RL_OK, "%s",
                  rl_last_error ());
      RlTensor busy = device_tensor (r, 70, 1, &n2);   /* queued while the transfer runs */
      PT_REQUIRE (rl_comm_wait (r->comm) == RL_OK, "%s", rl_last_error ());
      rl_tensor_release (&busy);
    } else {
      PT_REQUIRE (rl_comm_all_to_all_many (r->comm, 2, outs, ins) == RL_OK, "%s", rl_last_error ());
    }
    for (int pair = 0; pair < 2; pair++) {
      float *x = to_host (r, &m_out[pair]);
      bad = 0;
      for (int64_t i = 0; i < n2; i++)
        bad += x[i] != value_of (50 + 10 * pair + (int) (i / n), r->rank * n + i % n);
      PT_CHECK (bad == 0, "rank %d: all_to_all_many%s pair %d: %d differ", r->rank,
                started ? " (started)" : "", pair, bad);
      free (x);
      rl_tensor_release (&m_in[pair]);
      rl_tensor_release (&m_out[pair]);
    }
  }
  PT_REQUIRE (rl_comm_nccl_order_after (r->comm, NULL) == RL_OK, "%s", rl_last_error ());

  RlTensor b = device_tensor (r, 30 + r->rank, 1, &n);
  PT_REQUIRE (rl_comm_broadcast (r->comm, &b, 1) == RL_OK, "%s", rl_last_error ());
  float *bh = to_host (r, &b);
  bad = 0;
  for (int64_t i = 0; i < n; i++)
    bad += bh[i] != value_of (31, i);
  PT_CHECK (bad == 0, "rank %d: broadcast: %d differ", r->rank, bad);
  free (bh);

  RlTensor send = device_tensor (r, 40 + r->rank, 1, &n), recv = device_tensor (r, -1, 1, &n);
  int peer = 1 - r->rank;
  PT_REQUIRE (rl_comm_sendrecv (r->comm, &send, peer, &recv, peer) == RL_OK, "%s", rl_last_error ());
  float *rh = to_host (r, &recv);
  bad = 0;
  for (int64_t i = 0; i < n; i++)
    bad += rh[i] != value_of (40 + peer, i);
  PT_CHECK (bad == 0, "rank %d: sendrecv: %d differ", r->rank, bad);
  free (rh);
  PT_CHECK (rl_comm_barrier (r->comm) == RL_OK, "%s", rl_last_error ());
  int64_t any = r->rank == 1, count = r->rank + 5;
  PT_CHECK (rl_comm_all_reduce_host (r->comm, &any, RL_COMM_MAX) == RL_OK
            && rl_comm_all_reduce_host (r->comm, &count, RL_COMM_SUM) == RL_OK, "%s", rl_last_error ());
  PT_CHECK (any == 1 && count == 11, "host reduce: %lld %lld", (long long) any, (long long) count);

  RlComm *sub = NULL;
  PT_REQUIRE (rl_comm_split (r->comm, 0, -r->rank, &sub) == RL_OK && sub != NULL, "%s", rl_last_error ());
  PT_CHECK (rl_comm_rank (sub) == 1 - r->rank && rl_comm_world_rank (sub, 0) == 1,
            "split order: sub rank %d, member 0 is world %d", rl_comm_rank (sub),
            rl_comm_world_rank (sub, 0));
  PT_CHECK (rl_comm_barrier (sub) == RL_OK, "%s", rl_last_error ());
  rl_comm_free (sub);

  RlTensor *all[] = { &sum, &max, &in, &out, &a2a_in, &a2a, &b, &send, &recv };
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    rl_tensor_release (all[i]);
}

/* An exchange group's all-to-all between tensors in its window (copy
 * engines where the driver allows symmetric memory; ordinary kernels when
 * it refused, said on stderr), before and after the window grows. */
static void
check_exchange_window (Rank *r)
{
  RlComm *group = NULL;
  PT_REQUIRE (rl_comm_split_exchange (r->comm, 0, r->rank, &group) == RL_OK && group != NULL,
              "%s", rl_last_error ());
  int64_t sizes[2] = { 2 * COUNT, 3 << 20 };   /* the second grows the window past 64 MiB */
  for (int round = 0; round < 2; round++) {
    int64_t n2 = sizes[round], n = n2 / 2;
    void *window = NULL;
    PT_REQUIRE (rl_comm_exchange_window (group, sizeof (float) * (size_t) n2 * 2 * 4, &window)
                == RL_OK, "%s", rl_last_error ());
    RlTensor in = device_tensor (r, 70 + r->rank, 1, &n2), out = { 0 }, win_in = { 0 };
    RlTensor *src = &in, *dst = &out;
    if (window != NULL) {
      /* Same offsets on both ranks: in at 0, out after it. */
      rl_tensor_wrap (&win_in, window, rl_comm_device (group), RL_F32, 1, &n2, NULL, NULL);
      rl_tensor_wrap (&out, (float *) window + n2, rl_comm_device (group), RL_F32, 1, &n2,
                      NULL, NULL);
      PT_REQUIRE (cuda->ops->copy (r->ctx, &win_in, &in) == RL_OK, "%s", rl_last_error ());
      src = &win_in;
    } else {
      out = device_tensor (r, -1, 1, &n2);
    }
    PT_REQUIRE (rl_comm_all_to_all (group, dst, src) == RL_OK, "round %d: %s", round,
                rl_last_error ());
    float *t = to_host (r, dst);
    int bad = 0;
    for (int64_t i = 0; i < n2; i++)
      bad += t[i] != value_of (70 + (int) (i / n), r->rank * n + i % n);
    PT_CHECK (bad == 0, "rank %d round %d: windowed all_to_all: %d differ", r->rank, round, bad);
    free (t);
    RlCommNcclStats stats;
    PT_CHECK (rl_comm_nccl_stats (group, "all_to_all", &stats)
              && stats.window_calls == (window != NULL ? (uint64_t) round + 1 : 0),
              "rank %d: %llu all-to-alls counted from the window", r->rank,
              (unsigned long long) stats.window_calls);
    if (r->rank == 0 && round == 1)
      printf ("# exchange window: %s\n", window != NULL ? "symmetric memory, copy engines"
                                                        : "refused; NCCL kernels");
    rl_tensor_release (&in);
    rl_tensor_release (&out);
    rl_tensor_release (&win_in);
  }
  rl_comm_free (group);
}

/* USP attention against the unsplit attention. Batch 1 with plain
 * Ulysses takes the pipelined path (head groups, their exchanges started
 * while another group attends, all from the exchange window); batch 2 the
 * in-line exchanges. */
static void
check_usp (Rank *r, int ulysses, int ring, int heads, int batch)
{
  int64_t qs[4] = { batch, LENGTH, heads, HEAD_DIM }, vs[4] = { batch, LENGTH, heads, V_DIM };
  RlTensor q = device_tensor (r, 50, 4, qs), k = device_tensor (r, 51, 4, qs);
  RlTensor v = device_tensor (r, 52, 4, vs), want = device_tensor (r, -1, 4, vs);
  RlTensor got = device_tensor (r, -1, 4, vs);
  PT_REQUIRE (cuda->ops->attention (r->ctx, &want, NULL, &q, &k, &v, 0.4f) == RL_OK, "%s", rl_last_error ());

  RlSeqSplit split;
  rl_seq_split (LENGTH, RANKS, r->rank, &split);
  int64_t lq[4] = { batch, split.local_length, heads, HEAD_DIM };
  int64_t lv[4] = { batch, split.local_length, heads, V_DIM };
  RlTensor sq = device_tensor (r, -1, 4, lq), sk = device_tensor (r, -1, 4, lq);
  RlTensor sv = device_tensor (r, -1, 4, lv), so = device_tensor (r, -1, 4, lv);
  RlComm *u = NULL, *g = NULL;
  PT_REQUIRE (rl_seq_split_take (cuda, r->ctx, &sq, &q, &split) == RL_OK
              && rl_seq_split_take (cuda, r->ctx, &sk, &k, &split) == RL_OK
              && rl_seq_split_take (cuda, r->ctx, &sv, &v, &split) == RL_OK, "%s", rl_last_error ());
  PT_REQUIRE (rl_usp_groups_new (r->comm, ulysses, ring, &u, &g) == RL_OK, "%s", rl_last_error ());
  RlUspAttention usp = { u, g, LENGTH, true };
  PT_REQUIRE (rl_usp_attention (cuda, r->ctx, &usp, &so, &sq, &sk, &sv, 0.4f) == RL_OK,
              "rank %d U%d R%d: %s", r->rank, ulysses, ring, rl_last_error ());
  PT_REQUIRE (rl_seq_split_gather (cuda, r->ctx, r->comm, &got, &so, &split) == RL_OK, "%s",
              rl_last_error ());
  float *a = to_host (r, &got), *b = to_host (r, &want);
  double diff = 0, ref = 0;
  for (int64_t i = 0; i < rl_tensor_numel (&want); i++) {
    diff = fmax (diff, fabs ((double) a[i] - b[i]));
    ref = fmax (ref, fabs ((double) b[i]));
  }
  PT_CHECK (diff / ref <= 1e-4, "rank %d U%d R%d H%d B%d: relative error %.3g", r->rank,
            ulysses, ring, heads, batch, diff / ref);
  if (r->rank == 0)
    printf ("# GPU U%d×R%d H=%d B=%d L=%d: relative error %.3g\n", ulysses, ring, heads, batch,
            LENGTH, diff / ref);
  free (a);
  free (b);
  rl_comm_free (u);
  rl_comm_free (g);
  RlTensor *all[] = { &q, &k, &v, &want, &got, &sq, &sk, &sv, &so };
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    rl_tensor_release (all[i]);
}

/* Rank 1 skips one all_reduce: rank 0's call fails within its timeout. */
static void
check_timeout (Rank *r)
{
  int64_t n = 16;
  RlTensor x = device_tensor (r, 60, 1, &n);
  if (r->rank == 1) {
    sleep (3);
    rl_tensor_release (&x);
    /* Its partner aborted: freeing must not hang (finalize times out and
     * aborts). */
    rl_comm_set_timeout_ms (r->comm, 1000);
    return;
  }
  rl_comm_set_timeout_ms (r->comm, 1500);
  struct timespec a, b;
  clock_gettime (CLOCK_MONOTONIC, &a);
  RlStatus status = rl_comm_all_reduce (r->comm, &x, RL_COMM_SUM);
  clock_gettime (CLOCK_MONOTONIC, &b);
  double seconds = (double) (b.tv_sec - a.tv_sec) + (double) (b.tv_nsec - a.tv_nsec) * 1e-9;
  PT_CHECK (status == RL_E_DEVICE && strstr (rl_last_error (), "all_reduce") != NULL,
            "status %d: %s", status, rl_last_error ());
  PT_CHECK (seconds < 5.0, "timeout took %.2f s", seconds);
  printf ("# rank 0 saw after %.2f s: %s\n", seconds, rl_last_error ());
  rl_tensor_release (&x);
}

static void *
rank_thread (void *arg)
{
  Rank *r = arg;
  if (cuda->context_new (r->rank, &r->ctx) != RL_OK) {
    PT_CHECK (0, "rank %d context: %s", r->rank, rl_last_error ());
    return NULL;
  }
  if (rl_comm_nccl_new (unique_id, r->rank, RANKS, r->rank, 60000, &r->comm) != RL_OK) {
    PT_CHECK (0, "rank %d init: %s", r->rank, rl_last_error ());
    return NULL;
  }
  check_collectives (r);
  check_exchange_window (r);
  check_usp (r, 2, 1, 4, BATCH);
  check_usp (r, 1, 2, 4, BATCH);
  check_usp (r, 2, 1, 3, BATCH);   /* padded heads */
  check_usp (r, 2, 1, 12, 1);      /* pipelined: 6 heads per rank in groups 2 2 2 */
  check_usp (r, 2, 1, 6, 1);       /* pipelined: 3 heads per rank in groups 1 2 */
  check_timeout (r);
  rl_comm_free (r->comm);
  cuda->context_free (r->ctx);
  return NULL;
}

static void
test_nccl_two_gpus (void)
{
  pthread_t threads[RANKS];
  Rank ranks[RANKS];

  PT_REQUIRE (rl_comm_nccl_unique_id (unique_id) == RL_OK, "%s", rl_last_error ());
  for (int i = 0; i < RANKS; i++) {
    ranks[i] = (Rank) { NULL, NULL, i };
    pthread_create (&threads[i], NULL, rank_thread, &ranks[i]);
  }
  for (int i = 0; i < RANKS; i++)
    pthread_join (threads[i], NULL);
}

int
main (void)
{
  cuda = rl_backend_find ("cuda");
  if (cuda == NULL || cuda->device_count () < RANKS)
    pt_skip_all ("needs two GPUs");
  alarm (200);   /* a hang is a failure, never a stuck CI job */
  run_seed = (uint64_t) time (NULL) ^ (uint64_t) getpid ();
  printf ("# seed %llu\n", (unsigned long long) run_seed);
  PT_RUN (test_nccl_two_gpus);
  return pt_finish ();
}
