/* Attention variants on Wan shapes, next to PyTorch's SDPA measured in the
 * same run (tests/bench/torch_attention.py writes the lines --torch reads).
 * B=1, D=128, bf16, H ∈ {12, 24, 40}, L ∈ {4680, 32760, 75600}, each as
 * self-attention and as 512-key cross-attention. Prints ms, TFLOP/s
 * (4·H·Lq·Lk·D / time) and the ratio to torch's cuDNN and flash backends.
 * Timing: CUDA events around `calls` back-to-back runs, queued while the
 * stream is held (time_variant), one warm-up, median of the repeats: GPU
 * time alone, as tests/bench/torch_attention.py measures PyTorch's. Its
 * ratios are indicative only: the two processes run one after the other,
 * with their own data, at whatever clock the 700 W cap leaves (our cudnn,
 * PyTorch's own kernel, read 0.82-1.02x so on an H100, 0.98-1.02x in
 * turns). tests/bench/attention_vs_torch.py measures the ratios that
 * count, ours and PyTorch's in turns on the same tensors; this program is
 * for our variants and their settings among themselves. Not a test.
 *
 *   python3 tests/bench/torch_attention.py > torch.txt
 *   bench-attention --torch torch.txt [--variants flash,cudnn] [--naive-max-l 32760]
 *                   [--lengths 4680,32760] (these L instead of the three, each
 *                   at most 75600: e.g. a sequence-parallel rank's share)
 *                   [--lse off] (no log-sum-exp asked for, as PyTorch's
 *                   inference SDPA computes none)
 */
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cuda_runtime_api.h>

#include "plugins/attention/attention-registry.h"
#include "workers/runtime/cudnn-library.h"

#define MAX_TORCH 128
/* The buffers are sized for the longest Wan sequence at 40 heads. */
enum { MAX_LENGTH = 75600, MAX_HEADS = 40, MAX_LENGTHS = 8 };

typedef struct {
  char   backend[16];
  int    heads, q_len, kv_len;
  double tflops;
} TorchResult;

typedef struct {
  TorchResult items[MAX_TORCH];
  int         count;
} TorchResults;

static void
read_torch (const char *path, TorchResults *results)
{
  FILE *file = path != NULL ? fopen (path, "r") : NULL;
  if (path != NULL && file == NULL)
    fprintf (stderr, "bench-attention: cannot read %s; printing without PyTorch ratios\n", path);
  char line[512];
  while (file != NULL && fgets (line, sizeof line, file) != NULL && results->count < MAX_TORCH)
    {
      TorchResult *r = &results->items[results->count];
      double ms;
      if (sscanf (line, "torch %15s H %d Lq %d Lk %d ms %lf tflops %lf", r->backend, &r->heads,
                  &r->q_len, &r->kv_len, &ms, &r->tflops) == 6)
        results->count++;
      else if (line[0] == '#')
        printf ("%s", line);
    }
  if (file != NULL)
    fclose (file);
}

static double
torch_tflops (const TorchResults *results, const char *backend, int heads, int q_len, int kv_len)
{
  for (int i = 0; i < results->count; i++)
    {
      const TorchResult *r = &results->items[i];
      if (strcmp (r->backend, backend) == 0 && r->heads == heads && r->q_len == q_len
          && r->kv_len == kv_len)
        return r->tflops;
    }
  return NAN;
}

/* Fills `count` bf16 values with uniform noise in [-2, 2) (xorshift). */
static void
fill_bf16 (uint16_t *data, size_t count, uint64_t seed)
{
  uint64_t state = seed | 1;
  for (size_t i = 0; i < count; i++)
    {
      state ^= state << 13, state ^= state >> 7, state ^= state << 17;
      float value = (float) ((state >> 40) * (4.0 / 16777216.0) - 2.0);
      uint32_t bits;
      memcpy (&bits, &value, 4);
      data[i] = (uint16_t) (bits >> 16);
    }
}

/* Whether `name` is one of the comma-separated items of `list` (exactly:
 * "sage16" does not list "sage"). */
static int
listed (const char *list, const char *name)
{
  size_t length = strlen (name);
  for (const char *at = list; at != NULL && *at != '\0';)
    {
      const char *comma = strchr (at, ',');
      size_t item = comma != NULL ? (size_t) (comma - at) : strlen (at);
      if (item == length && strncmp (at, name, length) == 0)
        return 1;
      at = comma != NULL ? comma + 1 : NULL;
    }
  return 0;
}

/* Which libcudnn our `cudnn` variant opens, and its version: PyTorch may
 * bring another (torch_attention.py prints its own). */
static void
print_cudnn_library (void)
{
  char tried[512];
  void *library = rl_cudnn_library_open (RTLD_NOW | RTLD_LOCAL, tried, sizeof tried);
  if (library == NULL)
    {
      printf ("# cudnn library: none opens (tried %s)\n", tried);
      return;
    }
  size_t (*version) (void) = (size_t (*) (void)) dlsym (library, "cudnnGetVersion");
  Dl_info where = { 0 };
  if (version != NULL)
    dladdr ((void *) version, &where);
  printf ("# cudnn library: version %zu, %s\n", version != NULL ? version () : (size_t) 0,
          where.dli_fname != NULL ? where.dli_fname : "?");
  dlclose (library);
}

static int
compare_doubles (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

/* A host function in the stream that holds it until `open`, so that the
 * CPU queues the start event, the runs and the stop event first and the
 * events then time the GPU alone. Timed with the CPU in between, a short
 * problem's ratio also measured each side's launch cost (a Python call and
 * cuDNN's graph lookup for PyTorch). A run that waits on its stream would
 * wait on the gate: after a second the gate gives up and says so. */
typedef struct {
  atomic_int open, expired;
} StreamGate;

static void CUDART_CB
hold_stream (void *data)
{
  StreamGate *gate = data;
  struct timespec start, now, pause = { 0, 20000 };
  clock_gettime (CLOCK_MONOTONIC, &start);
  while (!atomic_load (&gate->open))
    {
      clock_gettime (CLOCK_MONOTONIC, &now);
      if ((now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) * 1e-9 > 1.0)
        {
          atomic_store (&gate->expired, 1);
          return;
        }
      nanosleep (&pause, NULL);
    }
}

/* Median ms per run over `repeats` measurements of `calls` runs each, after
 * one warm-up; NAN when the run fails. */
static double
time_variant (const RlAttentionVariant *variant, RlAttentionInstance *instance,
              const RlAttentionProblem *p, const RlAttentionArgs *args, int repeats, int calls)
{
  char error[1024] = "";
  if (variant->run (instance, p, args, error, sizeof error) != RL_ATTENTION_OK)
    {
      printf ("# %s: %s\n", variant->name, error);
      return NAN;
    }
  cudaError_t status = cudaStreamSynchronize ((cudaStream_t) args->stream);
  if (status != cudaSuccess)
    {
      printf ("# %s: kernel failed: %s\n", variant->name, cudaGetErrorString (status));
      return NAN;
    }
  double times[16];
  cudaEvent_t start, stop;
  cudaStream_t stream = (cudaStream_t) args->stream;
  cudaEventCreate (&start), cudaEventCreate (&stop);
  int held = 1;
  for (int i = 0; i < repeats; i++)
    {
      float ms = 0;
      StreamGate gate = { 0, 0 };
      if (held)
        cudaLaunchHostFunc (stream, hold_stream, &gate);
      cudaEventRecord (start, stream);
      for (int c = 0; c < calls; c++)
        variant->run (instance, p, args, error, sizeof error);
      cudaEventRecord (stop, stream);
      atomic_store (&gate.open, 1);
      cudaEventSynchronize (stop);
      cudaEventElapsedTime (&ms, start, stop);
      times[i] = ms / calls;
      if (held && atomic_load (&gate.expired))
        {
          printf ("# %s: its runs wait on the stream; timed without holding it (its launch "
                  "cost included)\n", variant->name);
          held = 0, i = -1;   /* measure again, all of them */
        }
    }
  cudaEventDestroy (start), cudaEventDestroy (stop);
  qsort (times, (size_t) repeats, sizeof (double), compare_doubles);
  return times[repeats / 2];
}

int
main (int argc, char **argv)
{
  const char *torch_path = NULL, *variant_list = "naive,flash,cudnn", *length_list = NULL;
  int naive_max_l = 32760, with_lse = 1;
  for (int i = 1; i + 1 < argc; i += 2)
    {
      if (strcmp (argv[i], "--torch") == 0)
        torch_path = argv[i + 1];
      else if (strcmp (argv[i], "--variants") == 0)
        variant_list = argv[i + 1];
      else if (strcmp (argv[i], "--naive-max-l") == 0)
        naive_max_l = atoi (argv[i + 1]);
      else if (strcmp (argv[i], "--lengths") == 0)
        length_list = argv[i + 1];
      else if (strcmp (argv[i], "--lse") == 0)
        with_lse = strcmp (argv[i + 1], "off") != 0;
    }
  int lengths[MAX_LENGTHS] = { 4680, 32760, 75600 }, length_count = 3;
  if (length_list != NULL)
    {
      length_count = 0;
      for (const char *at = length_list; *at != '\0';)
        {
          char *end;
          long length = strtol (at, &end, 10);
          if (end == at || length < 1 || length > MAX_LENGTH || length_count == MAX_LENGTHS)
            {
              fprintf (stderr, "bench-attention: --lengths wants up to %d lengths 1..%d, "
                       "comma-separated: %s\n", MAX_LENGTHS, MAX_LENGTH, length_list);
              return 2;
            }
          lengths[length_count++] = (int) length;
          at = *end == ',' ? end + 1 : end;
        }
    }
  int devices = 0;
  if (cudaGetDeviceCount (&devices) != cudaSuccess || devices < 1)
    {
      fprintf (stderr, "bench-attention: no CUDA GPU visible\n");
      return 77;
    }
  struct cudaDeviceProp properties;
  cudaGetDeviceProperties (&properties, 0);
  printf ("# device: %s (sm_%d%d, %d SMs)\n", properties.name, properties.major, properties.minor,
          properties.multiProcessorCount);
  printf ("# log-sum-exp: %s\n", with_lse ? "asked for (--lse on)" : "not asked for (--lse off)");
  print_cudnn_library ();
  TorchResults torch = { .count = 0 };
  read_torch (torch_path, &torch);

  char **dirs = rl_attention_default_dirs ();
  RlAttentionRegistry *registry = rl_attention_registry_new ((const char *const *) dirs, NULL, NULL);
  rl_attention_dirs_free (dirs);

  const int heads_list[] = { 12, 24, 40 };
  const int dim = 128, cross_keys = 512;
  size_t max_elems = (size_t) MAX_LENGTH * MAX_HEADS * dim;
  uint16_t *host = malloc (max_elems * 2);
  fill_bf16 (host, max_elems, 0x9e3779b97f4a7c15ull ^ (uint64_t) time (NULL));
  void *q, *k, *v, *out;
  float *lse;
  cudaMalloc (&q, max_elems * 2), cudaMalloc (&k, max_elems * 2), cudaMalloc (&v, max_elems * 2);
  cudaMalloc (&out, max_elems * 2), cudaMalloc ((void **) &lse, (size_t) MAX_HEADS * MAX_LENGTH * 4);
  cudaMemcpy (q, host, max_elems * 2, cudaMemcpyHostToDevice);
  cudaMemcpy (k, host + 7, (max_elems - 7) * 2, cudaMemcpyHostToDevice);
  cudaMemcpy (v, host + 13, (max_elems - 13) * 2, cudaMemcpyHostToDevice);
  free (host);
  cudaStream_t stream;
  cudaStreamCreateWithFlags (&stream, cudaStreamNonBlocking);

  printf ("%-7s %3s %6s %6s %10s %9s %10s %10s\n", "variant", "H", "Lq", "Lk", "ms", "TFLOP/s",
          "/torch-cudnn", "/torch-flash");
  for (size_t hi = 0; hi < 3; hi++)
    for (int li = 0; li < length_count; li++)
      for (int cross = 0; cross < 2; cross++)
        {
          int heads = heads_list[hi], lq = lengths[li], lk = cross ? cross_keys : lengths[li];
          RlAttentionProblem p = {
            .struct_size = sizeof p, .batch = 1, .heads = heads, .q_len = lq, .kv_len = lk,
            .head_dim = dim, .v_head_dim = dim, .qkv_dtype = RL_ATTENTION_BF16,
            .out_dtype = RL_ATTENTION_BF16, .layout = RL_ATTENTION_LAYOUT_BLHD,
            .scale = 1.0f / sqrtf ((float) dim),
          };
          RlAttentionArgs args = { sizeof args, q, k, v, out, with_lse ? lse : NULL, NULL, stream };
          double flops = 4.0 * heads * (double) lq * lk * dim;
          /* Several runs per measurement where one is short, so that the
           * events' own resolution and the GPU's idle start matter little. */
          int repeats = flops > 1e13 ? 3 : 10, calls = flops > 1e12 ? 1 : 10;
          double torch_cudnn = torch_tflops (&torch, "cudnn", heads, lq, lk);
          double torch_flash = torch_tflops (&torch, "flash", heads, lq, lk);
          for (size_t n = 0; n < rl_attention_registry_count (registry); n++)
            {
              const RlAttentionVariant *variant = rl_attention_registry_get (registry, n);
              if (variant->backend != RL_ATTENTION_BACKEND_CUDA || !listed (variant_list, variant->name))
                continue;
              if (strcmp (variant->name, "naive") == 0 && lq > naive_max_l && !cross)
                continue;
              RlAttentionInstance *instance = NULL;
              char why[512] = "";
              if (variant->open (0, &instance, why, sizeof why) != RL_ATTENTION_OK)
                {
                  printf ("# %s: %s\n", variant->name, why);
                  continue;
                }
              double ms = time_variant (variant, instance, &p, &args, repeats, calls);
              double tflops = flops / ms / 1e9;
              printf ("%-7s %3d %6d %6d %10.3f %9.1f %10.2f %10.2f\n", variant->name, heads, lq,
                      lk, ms, tflops, tflops / torch_cudnn, tflops / torch_flash);
              fflush (stdout);
              variant->close (instance);
            }
          if (!isnan (torch_cudnn) || !isnan (torch_flash))
            printf ("%-7s %3d %6d %6d %10s %9.1f (cudnn) %9.1f (flash)\n", "torch", heads, lq, lk,
                    "", torch_cudnn, torch_flash);
        }
  cudaFree (q), cudaFree (k), cudaFree (v), cudaFree (out), cudaFree (lse);
  cudaStreamDestroy (stream);
  rl_attention_registry_free (registry);
  return 0;
}
