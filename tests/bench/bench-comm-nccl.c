/* NCCL all-to-all and all-gather bandwidth through RlComm, one process per
 * GPU as in the pool, next to the copy engines' peer bandwidth between the
 * same GPUs measured in the same run.
 *
 *   bench-comm-nccl [--ranks N] [--iters K] [--register] [MB ...]
 *
 * The parent first times cudaMemcpyPeerAsync from GPU 0 to GPU 1 and both
 * ways at once (the NVLink ceiling a transfer can reach), then forks N
 * ranks (default: every GPU). Rank 0 makes the NCCL id and hands it to the
 * others through pipes, so the parent never touches CUDA after forking.
 * Each rank times rl_comm_all_to_all and rl_comm_all_gather on inputs of
 * each size (MB per rank; default 21 84 168 336, the Ulysses exchanges of
 * Wan 1.3B and 14B at 32,760 tokens): the first call apart (NCCL connects
 * send/recv peers lazily), then the median of K calls. "out GB/s" counts
 * the bytes that leave a rank for other ranks. --register registers both
 * buffers with the communicator (ncclCommRegister) first, to see whether
 * NCCL's zero-copy path beats its staging buffers. Rows marked "ce" run
 * the all-to-all in an exchange group from its symmetric window: NCCL's
 * copy-engine path (zero CTAs). Timings only: prints,
 * never fails on a number. */
#include <cuda_runtime_api.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workers/comm/comm-nccl.h"
#include "workers/runtime/op-profile.h"
#include "workers/runtime/tensor.h"

#define MAX_RANKS 16
#define MAX_SIZES 16

typedef struct {
  int    ranks;
  int    iters;
  bool   register_buffers;
  int    sizes;
  double size_mb[MAX_SIZES];
} Options;

static int
compare_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static bool
cuda_ok (cudaError_t err, const char *what)
{
  if (err == cudaSuccess)
    return true;
  fprintf (stderr, "bench-comm-nccl: %s: %s\n", what, cudaGetErrorString (err));
  return false;
}

/* GB/s of `bytes` copied GPU a -> b (and b -> a at once when both). */
static double
peer_copy_gbs (int a, int b, size_t bytes, bool both)
{
  void *src_a = NULL, *dst_b = NULL, *src_b = NULL, *dst_a = NULL;
  cudaStream_t sa = NULL, sb = NULL;
  cudaEvent_t start = NULL, stop = NULL;
  float ms = 0.0f;
  double gbs = 0.0;

  if (!cuda_ok (cudaSetDevice (a), "cudaSetDevice")
      || !cuda_ok (cudaMalloc (&src_a, bytes), "cudaMalloc")
      || !cuda_ok (cudaMalloc (&dst_a, bytes), "cudaMalloc")
      || !cuda_ok (cudaStreamCreate (&sa), "stream")
      || !cuda_ok (cudaEventCreate (&start), "event") || !cuda_ok (cudaEventCreate (&stop), "event")
      || !cuda_ok (cudaSetDevice (b), "cudaSetDevice")
      || !cuda_ok (cudaMalloc (&dst_b, bytes), "cudaMalloc")
      || !cuda_ok (cudaMalloc (&src_b, bytes), "cudaMalloc")
      || !cuda_ok (cudaStreamCreate (&sb), "stream"))
    goto out;
  cudaSetDevice (a);
  cudaDeviceEnablePeerAccess (b, 0);
  cudaSetDevice (b);
  cudaDeviceEnablePeerAccess (a, 0);
  cudaGetLastError ();   /* "already enabled" is fine */
  for (int round = 0; round < 2; round++) {
    cudaSetDevice (a);
    cudaDeviceSynchronize ();
    cudaSetDevice (b);
    cudaDeviceSynchronize ();
    cudaSetDevice (a);
    cudaEventRecord (start, sa);
    if (both) {
      /* b's copy waits for a's start so both run in the timed window. */
      cudaStreamWaitEvent (sb, start, 0);
      cudaMemcpyPeerAsync (dst_a, a, src_b, b, bytes, sb);
    }
    for (int i = 0; i < 5; i++)
      cudaMemcpyPeerAsync (dst_b, b, src_a, a, bytes / 5, sa);
    if (both) {
      cudaEvent_t other;
      cudaEventCreate (&other);
      cudaEventRecord (other, sb);
      cudaStreamWaitEvent (sa, other, 0);
      cudaEventDestroy (other);
    }
    cudaEventRecord (stop, sa);
    if (!cuda_ok (cudaEventSynchronize (stop), "peer copy"))
      goto out;
    cudaEventElapsedTime (&ms, start, stop);
  }
  gbs = (double) bytes / ((double) ms * 1e6);
out:
  cudaSetDevice (a);
  cudaFree (src_a);
  cudaFree (dst_a);
  if (sa != NULL) cudaStreamDestroy (sa);
  if (start != NULL) cudaEventDestroy (start);
  if (stop != NULL) cudaEventDestroy (stop);
  cudaSetDevice (b);
  cudaFree (dst_b);
  cudaFree (src_b);
  if (sb != NULL) cudaStreamDestroy (sb);
  return gbs;
}

typedef enum { OP_ALL_TO_ALL, OP_ALL_GATHER } Op;

/* Times one op at one size on this rank; rank 0 prints the slowest rank's
 * numbers (the call is only as fast as its last rank). */
/* `windowed`: comm is an exchange group (rl_comm_split_exchange) and the
 * buffers lie in its exchange window, so the all-to-all runs on the copy
 * engines (rows marked "ce"). */
static bool
time_op (RlComm *comm, const Options *o, Op op, double mb, bool windowed)
{
  int rank = rl_comm_rank (comm), size = rl_comm_size (comm);
  int64_t in_elems = (int64_t) (mb * 1e6 / 2.0);
  in_elems -= in_elems % size;
  int64_t out_elems = op == OP_ALL_GATHER ? in_elems * size : in_elems;
  RlDevice device = rl_device_cuda (rank);
  RlTensor in = { 0 }, out = { 0 };
  void *in_data = NULL, *out_data = NULL, *in_handle = NULL, *out_handle = NULL;
  double *ms = calloc ((size_t) o->iters, sizeof *ms);
  bool ok = false;

  void *window = NULL;
  if (windowed) {
    size_t in_bytes = ((size_t) in_elems * 2 + 4095) & ~(size_t) 4095;
    if (rl_comm_exchange_window (comm, in_bytes + (size_t) out_elems * 2, &window) != RL_OK) {
      fprintf (stderr, "bench-comm-nccl rank %d: %s\n", rank, rl_last_error ());
      goto out;
    }
    if (window == NULL) {
      if (rank == 0)
        printf ("all_to_all %2d ranks: no exchange window (see above); copy-engine rows skipped\n",
                size);
      ok = true;
      goto out;
    }
    in_data = window;
    out_data = (char *) window + in_bytes;
  }
  if (ms == NULL
      || (!windowed && !cuda_ok (cudaMalloc (&in_data, (size_t) in_elems * 2), "cudaMalloc"))
      || (!windowed && !cuda_ok (cudaMalloc (&out_data, (size_t) out_elems * 2), "cudaMalloc"))
      || !cuda_ok (cudaMemset (in_data, rank + 1, (size_t) in_elems * 2), "memset")
      || rl_tensor_wrap (&in, in_data, device, RL_BF16, 1, &in_elems, NULL, NULL) != RL_OK
      || rl_tensor_wrap (&out, out_data, device, RL_BF16, 1, &out_elems, NULL, NULL) != RL_OK)
    goto out;
  if (o->register_buffers
      && (rl_comm_nccl_register (comm, in_data, (size_t) in_elems * 2, &in_handle) != RL_OK
          || rl_comm_nccl_register (comm, out_data, (size_t) out_elems * 2, &out_handle) != RL_OK)) {
    fprintf (stderr, "bench-comm-nccl rank %d: %s\n", rank, rl_last_error ());
    goto out;
  }
  double first = 0.0;
  for (int i = -1; i < o->iters; i++) {
    RlStatus status = rl_comm_barrier (comm);
    double t0 = rl_op_profile_clock_ms ();
    if (status == RL_OK)
      status = op == OP_ALL_TO_ALL ? rl_comm_all_to_all (comm, &out, &in)
                                   : rl_comm_all_gather (comm, &out, &in);
    double t = rl_op_profile_clock_ms () - t0;
    if (status != RL_OK) {
      fprintf (stderr, "bench-comm-nccl rank %d: %s\n", rank, rl_last_error ());
      goto out;
    }
    if (i < 0)
      first = t;
    else
      ms[i] = t;
  }
  qsort (ms, (size_t) o->iters, sizeof *ms, compare_double);
  int64_t median_us = (int64_t) (ms[o->iters / 2] * 1e3), first_us = (int64_t) (first * 1e3);
  if (rl_comm_all_reduce_host (comm, &median_us, RL_COMM_MAX) != RL_OK
      || rl_comm_all_reduce_host (comm, &first_us, RL_COMM_MAX) != RL_OK)
    goto out;
  if (rank == 0) {
    double in_bytes = (double) in_elems * 2.0;
    /* Bytes leaving each rank: all-to-all keeps 1/size of its input,
     * all-gather sends its whole input to size - 1 ranks. */
    double out_bytes = op == OP_ALL_TO_ALL ? in_bytes * (size - 1) / size : in_bytes * (size - 1);
    double t = (double) median_us * 1e-3;
    printf ("%-10s %2d ranks %8.1f MB/rank%s  first %8.2f ms  median %7.3f ms  out %7.1f GB/s\n",
            op == OP_ALL_TO_ALL ? "all_to_all" : "all_gather", size, in_bytes / 1e6,
            windowed ? " ce " : o->register_buffers ? " reg" : "    ", (double) first_us * 1e-3, t,
            out_bytes / (t * 1e6));
    fflush (stdout);
  }
  ok = true;
out:
  if (in_handle != NULL)
    rl_comm_nccl_deregister (comm, in_handle);
  if (out_handle != NULL)
    rl_comm_nccl_deregister (comm, out_handle);
  if (!windowed) {
    cudaFree (in_data);
    cudaFree (out_data);
  }
  free (ms);
  return ok;
}

static int
run_rank (int rank, const Options *o, int id_in, const int *id_out)
{
  unsigned char id[RL_COMM_NCCL_ID_BYTES];
  RlComm *comm = NULL;

  if (rank == 0) {
    if (rl_comm_nccl_unique_id (id) != RL_OK) {
      fprintf (stderr, "bench-comm-nccl: %s\n", rl_last_error ());
      return 1;
    }
    for (int r = 1; r < o->ranks; r++)
      if (write (id_out[r], id, sizeof id) != (ssize_t) sizeof id)
        return 1;
  } else if (read (id_in, id, sizeof id) != (ssize_t) sizeof id) {
    return 1;
  }
  if (rl_comm_nccl_new (id, rank, o->ranks, rank, 120000, &comm) != RL_OK) {
    fprintf (stderr, "bench-comm-nccl rank %d: %s\n", rank, rl_last_error ());
    return 1;
  }
  bool ok = true;
  RlComm *exchange = NULL;
  for (int i = 0; ok && i < o->sizes; i++)
    ok = time_op (comm, o, OP_ALL_TO_ALL, o->size_mb[i], false);
  if (ok && rl_comm_split_exchange (comm, 0, rank, &exchange) != RL_OK) {
    fprintf (stderr, "bench-comm-nccl rank %d: %s\n", rank, rl_last_error ());
    ok = false;
  }
  for (int i = 0; ok && i < o->sizes; i++)
    ok = time_op (exchange, o, OP_ALL_TO_ALL, o->size_mb[i], true);
  for (int i = 0; ok && i < o->sizes; i++)
    ok = time_op (comm, o, OP_ALL_GATHER, o->size_mb[i] / o->ranks, false);
  rl_comm_free (exchange);
  rl_comm_free (comm);
  return ok ? 0 : 1;
}

int
main (int argc, char **argv)
{
  Options o = { .ranks = 0, .iters = 10 };
  int devices = 0;

  for (int i = 1; i < argc; i++) {
    if (strcmp (argv[i], "--ranks") == 0 && i + 1 < argc)
      o.ranks = atoi (argv[++i]);
    else if (strcmp (argv[i], "--iters") == 0 && i + 1 < argc)
      o.iters = atoi (argv[++i]);
    else if (strcmp (argv[i], "--register") == 0)
      o.register_buffers = true;
    else if (o.sizes < MAX_SIZES && atof (argv[i]) > 0.0)
      o.size_mb[o.sizes++] = atof (argv[i]);
    else {
      fprintf (stderr, "usage: bench-comm-nccl [--ranks N] [--iters K] [--register] [MB ...]\n");
      return 2;
    }
  }
  if (o.sizes == 0) {
    static const double defaults[] = { 21, 84, 168, 336 };
    for (int i = 0; i < 4; i++)
      o.size_mb[o.sizes++] = defaults[i];
  }
  /* Counting devices initialises CUDA in the parent, which then must not
   * use it in the children: count in a child of its own. */
  int count_pipe[2];
  if (pipe (count_pipe) != 0)
    return 1;
  pid_t counter = fork ();
  if (counter == 0) {
    int n = 0;
    if (cudaGetDeviceCount (&n) != cudaSuccess)
      n = 0;
    if (n >= 2) {
      double gbs1 = peer_copy_gbs (0, 1, (size_t) 256 << 20, false);
      double gbs2 = peer_copy_gbs (0, 1, (size_t) 256 << 20, true);
      printf ("copy engines, GPU 0 -> 1: %.1f GB/s one way, %.1f GB/s each way when both "
              "(cudaMemcpyPeerAsync, 256 MiB)\n", gbs1, gbs2);
      fflush (stdout);
    }
    _exit (write (count_pipe[1], &n, sizeof n) == (ssize_t) sizeof n ? 0 : 1);
  }
  close (count_pipe[1]);
  if (read (count_pipe[0], &devices, sizeof devices) != (ssize_t) sizeof devices)
    devices = 0;
  waitpid (counter, NULL, 0);
  if (devices < 2) {
    printf ("bench-comm-nccl: needs two GPUs, found %d\n", devices);
    return 77;
  }
  if (o.ranks <= 0 || o.ranks > devices)
    o.ranks = devices > MAX_RANKS ? MAX_RANKS : devices;
  if (o.iters < 1)
    o.iters = 1;

  int pipes[MAX_RANKS][2];
  int id_out[MAX_RANKS] = { 0 };
  for (int r = 1; r < o.ranks; r++) {
    if (pipe (pipes[r]) != 0)
      return 1;
    id_out[r] = pipes[r][1];
  }
  pid_t pids[MAX_RANKS];
  for (int r = 0; r < o.ranks; r++) {
    pids[r] = fork ();
    if (pids[r] == 0)
      _exit (run_rank (r, &o, r > 0 ? pipes[r][0] : -1, id_out));
  }
  int failed = 0;
  for (int r = 0; r < o.ranks; r++) {
    int wstatus = 0;
    if (waitpid (pids[r], &wstatus, 0) < 0 || !WIFEXITED (wstatus) || WEXITSTATUS (wstatus) != 0)
      failed++;
  }
  if (failed > 0)
    fprintf (stderr, "bench-comm-nccl: %d of %d ranks failed\n", failed, o.ranks);
  return failed > 0 ? 1 : 0;
}
