/* Shared by bench-gemm and bench-ops: reading the PyTorch numbers that
 * torch_gemm_ops.py printed in the same run, timing with CUDA events
 * (warm-up, then the median of the repeats), and filling device buffers
 * with random values (never zeros: a product of zeros runs faster). */
#pragma once

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cuda_runtime_api.h>

#include "workers/runtime/float-convert.h"

/* The whole JSON file, or NULL when there is none. */
static inline char *
bench_read_file (const char *path)
{
  if (path == NULL)
    return NULL;
  FILE *file = fopen (path, "rb");
  if (file == NULL) {
    fprintf (stderr, "bench: cannot read %s; ratios vs torch are left out\n", path);
    return NULL;
  }
  fseek (file, 0, SEEK_END);
  long size = ftell (file);
  fseek (file, 0, SEEK_SET);
  char *text = calloc (1, (size_t) size + 1);
  if (text != NULL && fread (text, 1, (size_t) size, file) != (size_t) size) {
    free (text);
    text = NULL;
  }
  fclose (file);
  return text;
}

/* The number under "key" in a flat JSON object, or NAN. */
static inline double
bench_json_number (const char *json, const char *key)
{
  if (json == NULL)
    return NAN;
  char pattern[160];
  snprintf (pattern, sizeof pattern, "\"%s\":", key);
  const char *at = strstr (json, pattern);
  return at != NULL ? strtod (at + strlen (pattern), NULL) : NAN;
}

/* Median milliseconds of `repeats` runs of fn(arg) after `warmup` runs. */
typedef void (*BenchFn) (void *arg);

static int
bench_compare_float (const void *a, const void *b)
{
  float x = *(const float *) a, y = *(const float *) b;
  return (x > y) - (x < y);
}

/* Event timings of `repeats` runs of fn(arg) after `warmup` runs: the
 * median, and the 10th and 90th percentiles as the spread. */
typedef struct {
  float median_ms, p10_ms, p90_ms;
} BenchTiming;

#define BENCH_MAX_REPEATS 256

static inline BenchTiming
bench_time (BenchFn fn, void *arg, int warmup, int repeats)
{
  cudaEvent_t start, end;
  cudaEventCreate (&start);
  cudaEventCreate (&end);
  for (int i = 0; i < warmup; i++)
    fn (arg);
  cudaDeviceSynchronize ();
  float times[BENCH_MAX_REPEATS];
  if (repeats > BENCH_MAX_REPEATS)
    repeats = BENCH_MAX_REPEATS;
  for (int i = 0; i < repeats; i++) {
    cudaEventRecord (start, NULL);
    fn (arg);
    cudaEventRecord (end, NULL);
    cudaEventSynchronize (end);
    cudaEventElapsedTime (&times[i], start, end);
  }
  cudaEventDestroy (start);
  cudaEventDestroy (end);
  cudaError_t status = cudaGetLastError ();
  if (status != cudaSuccess) {
    fprintf (stderr, "bench: CUDA error while timing: %s\n", cudaGetErrorString (status));
    exit (1);
  }
  qsort (times, (size_t) repeats, sizeof times[0], bench_compare_float);
  return (BenchTiming) { times[repeats / 2], times[repeats / 10], times[repeats - 1 - repeats / 10] };
}

static inline float
bench_median_ms (BenchFn fn, void *arg, int warmup, int repeats)
{
  return bench_time (fn, arg, warmup, repeats).median_ms;
}

static uint64_t bench_rng = 0x243F6A8885A308D3ull;

static inline float
bench_random (void)
{
  uint64_t z = (bench_rng += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  double v = (double) (z >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0;
  return (float) (fabs (v) < 1e-3 ? 0.5 : v);
}

/* A device buffer of `count` elements of `elem_bytes` holding random
 * values in [-amp, amp) converted by `encode` (a 4M-element random block
 * tiled over the buffer). Exits on failure. */
static inline void *
bench_random_buffer (int64_t count, int elem_bytes, float amp,
                     void (*encode) (float value, void *out))
{
  const int64_t block = 1 << 22;
  char *host = malloc ((size_t) block * (size_t) elem_bytes);
  for (int64_t i = 0; i < block; i++)
    encode (bench_random () * amp, host + i * elem_bytes);
  void *dev = NULL;
  if (cudaMalloc (&dev, (size_t) count * (size_t) elem_bytes) != cudaSuccess) {
    fprintf (stderr, "bench: cudaMalloc of %lld elements failed\n", (long long) count);
    exit (1);
  }
  for (int64_t at = 0; at < count; at += block) {
    int64_t n = count - at < block ? count - at : block;
    cudaMemcpy ((char *) dev + at * elem_bytes, host, (size_t) (n * elem_bytes),
                cudaMemcpyHostToDevice);
  }
  free (host);
  return dev;
}

static inline void
bench_encode_bf16 (float value, void *out)
{
  uint16_t bits = rl_f32_to_bf16 (value);
  memcpy (out, &bits, 2);
}

static inline void
bench_encode_f32 (float value, void *out)
{
  memcpy (out, &value, 4);
}

static inline void
bench_encode_e4m3 (float value, void *out)
{
  *(uint8_t *) out = rl_f32_to_f8_e4m3fn (value);
}

/* Name of device 0 ("NVIDIA H100 80GB HBM3"). */
static inline const char *
bench_device_name (void)
{
  static struct cudaDeviceProp props;
  if (cudaGetDeviceProperties (&props, 0) != cudaSuccess)
    return "unknown";
  return props.name;
}

static inline const char *
bench_torch_arg (int argc, char **argv)
{
  for (int i = 1; i + 1 < argc; i++)
    if (strcmp (argv[i], "--torch") == 0)
      return argv[i + 1];
  return NULL;
}
