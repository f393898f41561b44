/* Shared-memory collectives across forked processes (N = 2, 3, 4): every
 * collective against the same computation done in one process, on fresh
 * random data; sub-communicators; a rank that never arrives. Slots are
 * small so every transfer goes through several pieces. */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/fork-ranks.h"
#include "tests/plain-test.h"
#include "workers/comm/comm-shm.h"

#define SLOT_BYTES 4096
#define COUNT      3001   /* floats: three pieces and a bit, odd on purpose */

static uint64_t run_seed;

typedef void (*RankFn) (RlComm *comm, int rank, int size);

/* splitmix64: each rank's data is a pure function of (seed, rank, index),
 * so any process can compute what every other rank holds. */
static uint64_t
mix (uint64_t x)
{
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static float
value_of (int rank, int64_t i)
{
  uint64_t bits = mix (run_seed ^ mix ((uint64_t) rank * 1000003u + (uint64_t) i));
  return (float) ((double) (bits >> 11) / 9007199254740992.0 * 2.0 - 1.0) + 0.001f;
}

static void
fill_rank (float *x, int64_t n, int rank)
{
  for (int64_t i = 0; i < n; i++)
    x[i] = value_of (rank, i);
}

static RlTensor
wrap (void *data, RlDType dtype, int64_t n)
{
  RlTensor t = { 0 };
  rl_tensor_wrap (&t, data, rl_device_cpu (), dtype, 1, &n, NULL, NULL);
  return t;
}

static void
case_rank_main (RlComm *comm, const void *fn)
{
  (*(const RankFn *) fn) (comm, rl_comm_rank (comm), rl_comm_size (comm));
}

/* Forks `size` ranks on a fresh segment; each runs fn and exits with its
 * failure state. Returns the number of ranks that failed. */
static int
run_ranks (int size, RankFn fn)
{
  return fork_ranks_on (size, SLOT_BYTES, 10000, case_rank_main, &fn);
}

static void
run_sizes (RankFn fn)
{
  for (int size = 2; size <= 4; size++)
    PT_CHECK (run_ranks (size, fn) == 0, "%d ranks", size);
}

/* ------------------------------------------------------------ cases */

static void
rank_all_reduce (RlComm *comm, int rank, int size)
{
  static float sum[COUNT], max[COUNT], expect_sum[COUNT], expect_max[COUNT];
  float other[COUNT];

  fill_rank (sum, COUNT, rank);
  memcpy (max, sum, sizeof sum);
  fill_rank (expect_sum, COUNT, 0);
  memcpy (expect_max, expect_sum, sizeof expect_sum);
  for (int r = 1; r < size; r++) {
    fill_rank (other, COUNT, r);
    for (int i = 0; i < COUNT; i++) {
      expect_sum[i] += other[i];
      expect_max[i] = fmaxf (expect_max[i], other[i]);
    }
  }
  RlTensor ts = wrap (sum, RL_F32, COUNT), tm = wrap (max, RL_F32, COUNT);
  PT_REQUIRE (rl_comm_all_reduce (comm, &ts, RL_COMM_SUM) == RL_OK, "%s", rl_last_error ());
  PT_REQUIRE (rl_comm_all_reduce (comm, &tm, RL_COMM_MAX) == RL_OK, "%s", rl_last_error ());
  /* Same order of additions as the single-process sum: bitwise equal. */
  PT_CHECK (memcmp (sum, expect_sum, sizeof sum) == 0, "rank %d/%d sum differs", rank, size);
  PT_CHECK (memcmp (max, expect_max, sizeof max) == 0, "rank %d/%d max differs", rank, size);

  int64_t decision[3] = { rank, rank == size - 1 ? 7 : 0, 1 };
  RlTensor td = wrap (decision, RL_I64, 3);
  PT_REQUIRE (rl_comm_all_reduce (comm, &td, RL_COMM_SUM) == RL_OK, "%s", rl_last_error ());
  PT_CHECK (decision[0] == size * (size - 1) / 2 && decision[1] == 7 && decision[2] == size,
            "i64 sum %lld %lld %lld", (long long) decision[0], (long long) decision[1],
            (long long) decision[2]);

  /* A rank-local decision made collective: any rank wants to skip? */
  int64_t skip = rank == size - 1, count = rank + 1;
  PT_REQUIRE (rl_comm_all_reduce_host (comm, &skip, RL_COMM_MAX) == RL_OK
              && rl_comm_all_reduce_host (comm, &count, RL_COMM_SUM) == RL_OK, "%s", rl_last_error ());
  PT_CHECK (skip == 1 && count == size * (size + 1) / 2, "host reduce: skip %lld count %lld",
            (long long) skip, (long long) count);
}

static void
rank_all_gather (RlComm *comm, int rank, int size)
{
  static float in[COUNT], out[4 * COUNT], expect[4 * COUNT];

  fill_rank (in, COUNT, rank);
  for (int r = 0; r < size; r++)
    fill_rank (expect + (size_t) r * COUNT, COUNT, r);
  RlTensor ti = wrap (in, RL_F32, COUNT), to = wrap (out, RL_F32, (int64_t) size * COUNT);
  PT_REQUIRE (rl_comm_all_gather (comm, &to, &ti) == RL_OK, "%s", rl_last_error ());
  PT_CHECK (memcmp (out, expect, sizeof (float) * (size_t) size * COUNT) == 0,
            "rank %d/%d gathered data differs", rank, size);
}

static void
rank_all_to_all (RlComm *comm, int rank, int size)
{
  int64_t chunk = 1237;   /* > one piece of SLOT_BYTES/size */
  float in[4 * 1237], out[4 * 1237], theirs[4 * 1237];

  fill_rank (in, chunk * size, rank);
  RlTensor ti = wrap (in, RL_F32, chunk * size), to = wrap (out, RL_F32, chunk * size);
  PT_REQUIRE (rl_comm_all_to_all (comm, &to, &ti) == RL_OK, "%s", rl_last_error ());
  for (int src = 0; src < size; src++) {
    fill_rank (theirs, chunk * size, src);
    PT_CHECK (memcmp (out + src * chunk, theirs + rank * chunk, sizeof (float) * (size_t) chunk) == 0,
              "rank %d/%d: chunk from %d differs", rank, size, src);
  }
}

/* Two all-to-alls as one call (the shared-memory backend runs them in
 * turn), blocking and started: each pair lands as rl_comm_all_to_all's. */
static void
rank_all_to_all_many (RlComm *comm, int rank, int size)
{
  enum { CHUNK = 301 };
  float in[2][4 * CHUNK], out[2][4 * CHUNK], theirs[4 * CHUNK];

  for (int started = 0; started < 2; started++) {
    fill_rank (in[0], CHUNK * size, rank);
    fill_rank (in[1], CHUNK * size, rank + 100);
    RlTensor ti[2] = { wrap (in[0], RL_F32, CHUNK * size), wrap (in[1], RL_F32, CHUNK * size) };
    RlTensor to[2] = { wrap (out[0], RL_F32, CHUNK * size), wrap (out[1], RL_F32, CHUNK * size) };
    RlTensor *outs[2] = { &to[0], &to[1] };
    const RlTensor *ins[2] = { &ti[0], &ti[1] };
    memset (out, 0, sizeof out);
    if (started) {
      PT_REQUIRE (rl_comm_all_to_all_many_start (comm, 2, outs, ins) == RL_OK, "%s",
                  rl_last_error ());
      PT_REQUIRE (rl_comm_wait (comm) == RL_OK, "%s", rl_last_error ());
    } else {
      PT_REQUIRE (rl_comm_all_to_all_many (comm, 2, outs, ins) == RL_OK, "%s", rl_last_error ());
    }
    for (int t = 0; t < 2; t++)
      for (int src = 0; src < size; src++) {
        fill_rank (theirs, CHUNK * size, src + 100 * t);
        PT_CHECK (memcmp (out[t] + src * CHUNK, theirs + rank * CHUNK,
                          sizeof (float) * CHUNK) == 0,
                  "rank %d/%d%s: pair %d, chunk from %d differs", rank, size,
                  started ? " (started)" : "", t, src);
      }
  }
}

static void
rank_broadcast (RlComm *comm, int rank, int size)
{
  static float data[COUNT], expect[COUNT];
  int root = size - 1;

  fill_rank (data, COUNT, rank);
  fill_rank (expect, COUNT, root);
  RlTensor t = wrap (data, RL_F32, COUNT);
  PT_REQUIRE (rl_comm_broadcast (comm, &t, root) == RL_OK, "%s", rl_last_error ());
  PT_CHECK (memcmp (data, expect, sizeof data) == 0, "rank %d/%d broadcast differs", rank, size);
}

/* The root leaves as soon as its last broadcast is done, while the others
 * may still be in the closing barrier: they must not take its exit for a
 * failure (a race that made test_broadcast fail now and then on a loaded
 * 2-core machine). Many short rounds make the window likely to be hit. */
static void
rank_broadcast_then_exit (RlComm *comm, int rank, int size)
{
  float data[16];
  for (int i = 0; i < 16; i++)
    data[i] = rank == 0 ? (float) i : -1.0f;
  RlTensor t = wrap (data, RL_F32, 16);
  PT_REQUIRE (rl_comm_broadcast (comm, &t, 0) == RL_OK, "rank %d/%d: %s", rank, size,
              rl_last_error ());
  for (int i = 0; i < 16; i++)
    PT_CHECK (data[i] == (float) i, "rank %d/%d: element %d differs", rank, size, i);
  if (rank != 0)
    usleep (200);   /* the others linger; the root exits at once */
}

static void
rank_ring (RlComm *comm, int rank, int size)
{
  static float send[COUNT], recv[COUNT], expect[COUNT];
  int next = (rank + 1) % size, prev = (rank + size - 1) % size;

  fill_rank (send, COUNT, rank);
  /* Pass the blocks all the way round: after size−1 steps each rank holds
   * the block of rank+1. */
  for (int step = 1; step < size; step++) {
    RlTensor ts = wrap (send, RL_F32, COUNT), tr = wrap (recv, RL_F32, COUNT);
    if (step % 2 == 1)
      PT_REQUIRE (rl_comm_sendrecv (comm, &ts, next, &tr, prev) == RL_OK, "%s", rl_last_error ());
    else   /* the started form, as ring attention uses it */
      PT_REQUIRE (rl_comm_sendrecv_start (comm, &ts, next, &tr, prev) == RL_OK
                  && rl_comm_wait (comm) == RL_OK, "%s", rl_last_error ());
    fill_rank (expect, COUNT, (rank - step + size) % size);
    PT_CHECK (memcmp (recv, expect, sizeof recv) == 0, "rank %d/%d step %d", rank, size, step);
    memcpy (send, recv, sizeof send);
  }
  /* Plain send/recv: rank 0 to the last rank, the others wait at a barrier. */
  if (rank == 0) {
    fill_rank (send, COUNT, 42);
    RlTensor ts = wrap (send, RL_F32, COUNT);
    PT_CHECK (rl_comm_send (comm, &ts, size - 1) == RL_OK, "%s", rl_last_error ());
  } else if (rank == size - 1) {
    RlTensor tr = wrap (recv, RL_F32, COUNT);
    PT_CHECK (rl_comm_recv (comm, &tr, 0) == RL_OK, "%s", rl_last_error ());
    fill_rank (expect, COUNT, 42);
    PT_CHECK (memcmp (recv, expect, sizeof recv) == 0, "plain recv differs");
  }
  PT_CHECK (rl_comm_barrier (comm) == RL_OK, "%s", rl_last_error ());
}

static void
rank_split (RlComm *comm, int rank, int size)
{
  RlComm *sub = NULL, *none = NULL;
  int color = rank % 2;

  /* Key −rank reverses the order inside each group. */
  PT_REQUIRE (rl_comm_split (comm, color, -rank, &sub) == RL_OK, "%s", rl_last_error ());
  PT_REQUIRE (sub != NULL, "no sub-communicator");
  int members[4], n = 0;
  for (int r = size - 1; r >= 0; r--)
    if (r % 2 == color)
      members[n++] = r;
  PT_CHECK (rl_comm_size (sub) == n, "size %d, want %d", rl_comm_size (sub), n);
  for (int i = 0; i < n; i++) {
    PT_CHECK (rl_comm_world_rank (sub, i) == members[i], "member %d is %d, want %d", i,
              rl_comm_world_rank (sub, i), members[i]);
    if (members[i] == rank)
      PT_CHECK (rl_comm_rank (sub) == i, "my sub rank %d, want %d", rl_comm_rank (sub), i);
  }
  /* A collective inside each group sums only that group's data, while the
   * other group runs its own at the same time. */
  float data[513], expect[513] = { 0 }, other[513];
  fill_rank (data, 513, rank);
  for (int i = 0; i < n; i++) {
    fill_rank (other, 513, members[i]);
    for (int j = 0; j < 513; j++)
      expect[j] = i == 0 ? other[j] : expect[j] + other[j];
  }
  RlTensor t = wrap (data, RL_F32, 513);
  PT_CHECK (rl_comm_all_reduce (sub, &t, RL_COMM_SUM) == RL_OK, "%s", rl_last_error ());
  PT_CHECK (memcmp (data, expect, sizeof data) == 0, "rank %d: group sum differs", rank);

  /* Negative color: only rank 0 stays out. */
  PT_CHECK (rl_comm_split (comm, rank == 0 ? -1 : 5, 0, &none) == RL_OK, "%s", rl_last_error ());
  PT_CHECK ((none == NULL) == (rank == 0), "rank %d: color -1 handling", rank);
  if (none != NULL) {
    PT_CHECK (rl_comm_size (none) == size - 1, "size %d", rl_comm_size (none));
    PT_CHECK (rl_comm_barrier (none) == RL_OK, "%s", rl_last_error ());
  }
  rl_comm_free (none);
  rl_comm_free (sub);

  /* An exchange group is an ordinary group here, with the same members,
   * and shared memory has no exchange window: the caller's own memory. */
  RlComm *exchange = NULL;
  void *window = &exchange;
  PT_REQUIRE (rl_comm_split_exchange (comm, color, -rank, &exchange) == RL_OK && exchange != NULL,
              "%s", rl_last_error ());
  PT_CHECK (rl_comm_size (exchange) == n && rl_comm_world_rank (exchange, 0) == members[0],
            "exchange group: size %d, member 0 is %d", rl_comm_size (exchange),
            rl_comm_world_rank (exchange, 0));
  PT_CHECK (rl_comm_exchange_window (exchange, 1 << 20, &window) == RL_OK && window == NULL,
            "shm exchange window: %s", window != NULL ? "not NULL" : rl_last_error ());
  PT_CHECK (rl_comm_barrier (exchange) == RL_OK, "%s", rl_last_error ());
  rl_comm_free (exchange);
  PT_CHECK (rl_comm_barrier (comm) == RL_OK, "%s", rl_last_error ());
}

/* The last rank never calls the collective. */
static void
rank_missing (RlComm *comm, int rank, int size)
{
  float x[8] = { 1 };
  RlTensor t = wrap (x, RL_F32, 8);
  char want[32];

  if (rank == size - 1) {
    usleep (2500 * 1000);
    return;
  }
  rl_comm_set_timeout_ms (comm, 600);
  struct timespec a, b;
  clock_gettime (CLOCK_MONOTONIC, &a);
  RlStatus status = rl_comm_all_reduce (comm, &t, RL_COMM_SUM);
  clock_gettime (CLOCK_MONOTONIC, &b);
  double seconds = (double) (b.tv_sec - a.tv_sec) + (double) (b.tv_nsec - a.tv_nsec) * 1e-9;
  snprintf (want, sizeof want, "rank %d never arrived", size - 1);
  PT_CHECK (status == RL_E_DEVICE, "status %d", status);
  PT_CHECK (strstr (rl_last_error (), want) != NULL && strstr (rl_last_error (), "all_reduce"),
            "message does not name the rank and op: %s", rl_last_error ());
  PT_CHECK (seconds < 2.0, "took %.2f s", seconds);
  if (rank == 0)
    printf ("# rank 0 saw: %s (%.2f s)\n", rl_last_error (), seconds);
  /* The segment is aborted: the next call fails at once. */
  PT_CHECK (rl_comm_barrier (comm) == RL_E_DEVICE, "barrier after abort");
}

/* A send nobody receives names the peer. */
static void
rank_unreceived (RlComm *comm, int rank, int size)
{
  float x[4] = { 1, 2, 3, 4 };
  RlTensor t = wrap (x, RL_F32, 4);

  if (rank != 0) {
    usleep (1500 * 1000);
    return;
  }
  rl_comm_set_timeout_ms (comm, 400);
  PT_CHECK (rl_comm_send (comm, &t, 1) == RL_E_DEVICE, "send did not time out");
  PT_CHECK (strstr (rl_last_error (), "send") && strstr (rl_last_error (), "rank 1 never"),
            "message: %s", rl_last_error ());
}

static void
test_all_reduce (void) { run_sizes (rank_all_reduce); }
static void
test_all_gather (void) { run_sizes (rank_all_gather); }
static void
test_all_to_all (void) { run_sizes (rank_all_to_all); }
static void
test_root_exits_after_broadcast (void)
{
  for (int round = 0; round < 40; round++)
    PT_CHECK (run_ranks (3, rank_broadcast_then_exit) == 0, "round %d", round);
}
static void
test_all_to_all_many (void) { run_sizes (rank_all_to_all_many); }
static void
test_broadcast (void) { run_sizes (rank_broadcast); }
static void
test_ring_send_recv (void) { run_sizes (rank_ring); }
static void
test_split (void) { run_sizes (rank_split); }
static void
test_timeout_names_rank (void) { PT_CHECK (run_ranks (3, rank_missing) == 0, "timeout case"); }
static void
test_send_timeout (void) { PT_CHECK (run_ranks (2, rank_unreceived) == 0, "send case"); }

/* Argument errors on a one-rank world. */
static void
test_bad_arguments (void)
{
  int fd;
  RlComm *comm = NULL;
  float x[6] = { 1, 2, 3, 4, 5, 6 };
  uint16_t h[2] = { 0 };

  PT_REQUIRE (rl_comm_shm_segment_new (1, 0, &fd) == RL_OK, "%s", rl_last_error ());
  PT_REQUIRE (rl_comm_shm_attach (fd, 0, 1, &comm) == RL_OK, "%s", rl_last_error ());
  RlTensor a = wrap (x, RL_F32, 6), b = wrap (x, RL_F32, 3), f16 = wrap (h, RL_F16, 2);
  PT_CHECK (rl_comm_all_gather (comm, &b, &a) == RL_E_SHAPE, "gather size");
  PT_CHECK (rl_comm_all_reduce (comm, &f16, RL_COMM_SUM) == RL_E_DTYPE, "f16 reduce");
  PT_CHECK (strstr (rl_last_error (), "f16") != NULL, "%s", rl_last_error ());
  PT_CHECK (rl_comm_broadcast (comm, &a, 3) == RL_E_INVALID_ARG, "bad root");
  PT_CHECK (rl_comm_send (comm, &a, 0) == RL_E_INVALID_ARG, "send to self");
  RlTensor cuda = a;
  cuda.device = rl_device_cuda (0);
  PT_CHECK (rl_comm_all_reduce (comm, &cuda, RL_COMM_SUM) == RL_E_DEVICE_MISMATCH, "device");
  PT_CHECK (rl_comm_shm_attach (fd, 1, 2, &(RlComm *) { NULL }) == RL_E_INVALID_ARG, "world size");
  PT_CHECK (rl_comm_all_reduce (comm, &a, RL_COMM_SUM) == RL_OK, "%s", rl_last_error ());
  PT_CHECK (x[5] == 6.0f, "one-rank sum changed data");
  char path[64];
  RlComm *by_path = NULL;
  snprintf (path, sizeof path, "/proc/self/fd/%d", fd);
  PT_CHECK (rl_comm_shm_attach_path (path, 0, 1, &by_path) == RL_OK, "%s", rl_last_error ());
  rl_comm_free (by_path);
  PT_CHECK (rl_comm_shm_attach_path ("/nonexistent/comm", 0, 1, &by_path) == RL_E_NOT_FOUND
            && strstr (rl_last_error (), "/nonexistent/comm") != NULL, "%s", rl_last_error ());
  PT_CHECK (rl_comm_shm_attach_path ("/proc/self/exe", 0, 1, &by_path) != RL_OK,
            "a non-segment file was accepted");
  rl_comm_free (comm);
  close (fd);
}

int
main (void)
{
  const char *env = getenv ("RL_TEST_SEED");
  run_seed = env != NULL ? strtoull (env, NULL, 0) : (uint64_t) time (NULL) ^ (uint64_t) getpid ();
  printf ("# seed %llu (RL_TEST_SEED to repeat)\n", (unsigned long long) run_seed);

  PT_RUN (test_all_reduce);
  PT_RUN (test_all_gather);
  PT_RUN (test_all_to_all);
  PT_RUN (test_all_to_all_many);
  PT_RUN (test_broadcast);
  PT_RUN (test_root_exits_after_broadcast);
  PT_RUN (test_ring_send_recv);
  PT_RUN (test_split);
  PT_RUN (test_timeout_names_rank);
  PT_RUN (test_send_timeout);
  PT_RUN (test_bad_arguments);
  return pt_finish ();
}
