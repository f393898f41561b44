/* CUDA GGUF dequantisation gives the same bits as the CPU code for every
 * block type, on random valid blocks (fresh per run, seed printed), and
 * writes every output element (poisoned buffers). bf16/f16 outputs equal
 * the CPU f32 result rounded to nearest even. Exits 77 without a GPU. */
#include <cuda_runtime.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/plain-test.h"
#include "workers/checkpoint/gguf-dequant-cuda.h"
#include "workers/checkpoint/gguf-dequant.h"
#include "workers/runtime/float-convert.h"

static uint64_t rng_state;

static uint64_t
next_random (void)
{
  uint64_t x = (rng_state += 0x9E3779B97F4A7C15ull);
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/* Offsets of the f16 scale fields per block, which must be finite so that
 * NaN payloads do not make the comparison meaningless. */
static void
scale_offsets (RlDType t, int offsets[2], int *count)
{
  *count = 1;
  offsets[0] = 0;
  switch (t) {
  case RL_Q4_1: case RL_Q5_1: case RL_Q4_K: case RL_Q5_K: offsets[1] = 2; *count = 2; break;
  case RL_Q2_K: offsets[0] = 80; offsets[1] = 82; *count = 2; break;
  case RL_Q3_K: offsets[0] = 108; break;
  case RL_Q6_K: offsets[0] = 208; break;
  case RL_F32: case RL_F16: case RL_BF16: *count = 0; break;
  default: break;
  }
}

static uint8_t *
random_blocks (RlDType t, int64_t n)
{
  size_t bytes;
  rl_dtype_bytes_for (t, n, &bytes);
  uint8_t *b = malloc (bytes);
  for (size_t i = 0; i < bytes; i++)
    b[i] = (uint8_t) next_random ();
  size_t block_bytes = rl_dtype_block_bytes (t);
  int offsets[2], count;
  scale_offsets (t, offsets, &count);
  for (size_t blk = 0; blk < bytes / block_bytes; blk++)
    for (int k = 0; k < count; k++) {
      float v = ((float) (next_random () >> 40) / 16777216.0f - 0.5f) * 0.01f;
      uint16_t h = rl_f32_to_f16 (v == 0.0f ? 1e-3f : v);
      memcpy (b + blk * block_bytes + offsets[k], &h, 2);
    }
  /* Plain floats finite too: NaN payloads are not part of the contract. */
  for (int64_t i = 0; i < n && !rl_dtype_is_quantized (t); i++) {
    float v = ((float) (next_random () >> 40) / 16777216.0f - 0.5f) * 1000.0f;
    uint16_t h = t == RL_F16 ? rl_f32_to_f16 (v) : rl_f32_to_bf16 (v);
    if (t == RL_F32)
      memcpy (b + i * 4, &v, 4);
    else
      memcpy (b + i * 2, &h, 2);
  }
  return b;
}

static const RlDType types[] = { RL_Q4_0, RL_Q4_1, RL_Q5_0, RL_Q5_1, RL_Q8_0, RL_Q2_K, RL_Q3_K, RL_Q4_K,
                                 RL_Q5_K, RL_Q6_K, RL_F32, RL_F16, RL_BF16 };

static void
check_type (RlDType t)
{
  int64_t n = 256 * 97;   /* odd block count: covers partial thread blocks */
  uint8_t *host_src = random_blocks (t, n);
  size_t bytes;
  rl_dtype_bytes_for (t, n, &bytes);
  float *cpu = malloc (n * sizeof *cpu), *gpu = malloc (n * sizeof *gpu);
  uint16_t *gpu16 = malloc (n * sizeof *gpu16);
  bool ok_1 = rl_gguf_dequantize (t, host_src, n, cpu) == RL_OK;
  PT_REQUIRE (ok_1, "cpu %s: %s", rl_dtype_name (t), rl_last_error ());
  void *d_src = NULL, *d_dst = NULL;
  bool ok_2 = cudaMalloc (&d_src, bytes) == cudaSuccess && cudaMalloc (&d_dst, n * 4) == cudaSuccess;
  PT_REQUIRE (ok_2, "cudaMalloc");
  cudaMemcpy (d_src, host_src, bytes, cudaMemcpyHostToDevice);
  RlDType outs[] = { RL_F32, RL_BF16, RL_F16 };
  for (int o = 0; o < 3; o++) {
    cudaMemset (d_dst, 0xA5, n * 4);   /* poison */
    RlStatus status = rl_gguf_dequantize_cuda (t, d_src, n, outs[o], d_dst, NULL);
    PT_CHECK (status == RL_OK, "%s -> %s: %s", rl_dtype_name (t), rl_dtype_name (outs[o]), rl_last_error ());
    PT_CHECK (cudaDeviceSynchronize () == cudaSuccess, "kernel failed");
    size_t mismatches = 0;
    if (outs[o] == RL_F32) {
      cudaMemcpy (gpu, d_dst, n * 4, cudaMemcpyDeviceToHost);
      for (int64_t i = 0; i < n; i++)
        if (memcmp (&gpu[i], &cpu[i], 4) != 0 && mismatches++ < 3)
          printf ("# %s[%lld]: cuda %.9g cpu %.9g\n", rl_dtype_name (t), (long long) i, gpu[i], cpu[i]);
    } else {
      cudaMemcpy (gpu16, d_dst, n * 2, cudaMemcpyDeviceToHost);
      for (int64_t i = 0; i < n; i++) {
        uint16_t want = outs[o] == RL_BF16 ? rl_f32_to_bf16 (cpu[i]) : rl_f32_to_f16 (cpu[i]);
        if (gpu16[i] != want && mismatches++ < 3)
          printf ("# %s->%s[%lld]: cuda 0x%04x want 0x%04x\n", rl_dtype_name (t), rl_dtype_name (outs[o]),
                  (long long) i, gpu16[i], want);
      }
    }
    PT_CHECK (mismatches == 0, "%s -> %s: %zu of %lld differ", rl_dtype_name (t), rl_dtype_name (outs[o]),
              mismatches, (long long) n);
  }
  PT_CHECK (rl_gguf_dequantize_cuda (t, d_src, n, RL_I8, d_dst, NULL) == RL_E_DTYPE, "i8 output accepted");
  cudaFree (d_src);
  cudaFree (d_dst);
  free (host_src);
  free (cpu);
  free (gpu);
  free (gpu16);
}

static void
test_every_type_matches_cpu (void)
{
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
    check_type (types[i]);
}

int
main (void)
{
  int devices = 0;
  if (cudaGetDeviceCount (&devices) != cudaSuccess || devices == 0)
    pt_skip_all ("no CUDA device");
  const char *env_seed = getenv ("RAYLIGHT_TEST_SEED");
  rng_state = env_seed ? strtoull (env_seed, NULL, 0) : (uint64_t) time (NULL) ^ (uint64_t) getpid () << 16;
  printf ("# seed %llu (set RAYLIGHT_TEST_SEED to repeat)\n", (unsigned long long) rng_state);
  PT_RUN (test_every_type_matches_cpu);
  return pt_finish ();
}
