/* PyTorch-identical CPU normal noise. See noise.h for the contract.
 *
 * The vector path works in bulk passes over the output (noise-kernels.h):
 * whole twister regenerations, tempering a run of state words straight into
 * 24-bit uniforms, then Box-Muller over all 16-blocks at once. Each output
 * element depends only on its own uniforms, so the passes produce exactly
 * the values of the one-word-at-a-time, one-block-at-a-time order torch
 * uses (tests/sampling/noise-reference.c keeps that order as the reference).
 *
 * Compiled with -ffp-contract=off: the scalar double path must round every
 * product like PyTorch's. */
#include "workers/sampling/noise.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "workers/sampling/noise-kernels.h"

/* Elements drawn and transformed per pass of rl_torch_randn_float (16 KiB:
 * the uniforms stay in L1 between the two passes). A multiple of 16. */
enum { MT_N = RL_MT19937_STATE_WORDS, CHUNK_ELEMENTS = 4096 };

const RlNoiseKernels *
rl_noise_kernels_best (void)
{
  const RlNoiseKernels *avx2 = rl_noise_kernels_avx2_fma ();
  return avx2 ? avx2 : rl_noise_kernels_portable ();
}

void
rl_torch_generator_seed (RlTorchGenerator *gen, uint64_t seed)
{
  gen->state[0] = (uint32_t) (seed & 0xffffffffu);
  for (uint32_t j = 1; j < MT_N; j++) {
    uint32_t prev = gen->state[j - 1];
    gen->state[j] = 1812433253u * (prev ^ (prev >> 30)) + j;
  }
  /* Forces a twist before the first output, as torch's left_ = 1 does. */
  gen->next = MT_N;
  gen->has_cached_normal = 0;
  gen->cached_normal = 0.0;
}

uint32_t
rl_torch_generator_random (RlTorchGenerator *gen)
{
  if (gen->next >= MT_N) {
    rl_noise_kernels_best ()->twist (gen->state);
    gen->next = 0;
  }
  uint32_t y = gen->state[gen->next++];
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  y ^= y >> 18;
  return y;
}

uint64_t
rl_torch_generator_random64 (RlTorchGenerator *gen)
{
  uint64_t hi = rl_torch_generator_random (gen);
  uint64_t lo = rl_torch_generator_random (gen);
  return (hi << 32) | lo;
}

/* `count` consecutive at::uniform_real_distribution<float>(0, 1) draws:
 * the generator's remaining words, then whole regenerations. */
static void
fill_uniforms (const RlNoiseKernels *kernels, RlTorchGenerator *gen, float *out, size_t count)
{
  while (count > 0) {
    if (gen->next >= MT_N) {
      kernels->twist (gen->state);
      gen->next = 0;
    }
    size_t take = (size_t) (MT_N - gen->next);
    if (take > count)
      take = count;
    kernels->uniforms (gen->state + gen->next, out, take);
    gen->next += (int) take;
    out += take;
    count -= take;
  }
}

/* at::uniform_real_distribution<double>(0, 1): low 53 bits of random64. */
static double
uniform_double (RlTorchGenerator *gen)
{
  return (double) (rl_torch_generator_random64 (gen) & ((UINT64_C (1) << 53) - 1)) * 0x1p-53;
}

/* at::normal_distribution<double> (0, 1) with the generator's cache. */
static double
normal_double (RlTorchGenerator *gen)
{
  if (gen->has_cached_normal) {
    gen->has_cached_normal = 0;
    return gen->cached_normal;
  }
  double u1 = uniform_double (gen);
  double u2 = uniform_double (gen);
  double r = sqrt (-2.0 * log1p (-u2));
  double theta = 2.0 * 3.14159265358979323846 * u1;
  gen->cached_normal = r * sin (theta);
  gen->has_cached_normal = 1;
  return r * cos (theta);
}

void
rl_torch_randn_float_with (const RlNoiseKernels *kernels, RlTorchGenerator *gen,
                           float *out, size_t count)
{
  if (count < 16) {
    for (size_t i = 0; i < count; i++)
      out[i] = (float) normal_double (gen);
    return;
  }
  /* Chunks of whole 16-blocks, each transformed while its uniforms are
   * still in L1: the values do not depend on the chunking, since each block
   * depends only on its own 16 uniforms, drawn in order. */
  size_t blocked = count - count % 16;
  for (size_t start = 0; start < blocked; start += CHUNK_ELEMENTS) {
    size_t n = blocked - start < CHUNK_ELEMENTS ? blocked - start : CHUNK_ELEMENTS;
    fill_uniforms (kernels, gen, out + start, n);
    kernels->box_muller (out + start, n / 16);
  }
  if (count % 16 != 0) {
    /* The last count % 16 uniforms are drawn (the generator advances past
     * them), then torch re-draws and re-transforms the last 16 elements. */
    fill_uniforms (kernels, gen, out + blocked, count % 16);
    float *tail = out + count - 16;
    fill_uniforms (kernels, gen, tail, 16);
    kernels->box_muller (tail, 1);
  }
}

void
rl_torch_randn_float (RlTorchGenerator *gen, float *out, size_t count)
{
  rl_torch_randn_float_with (rl_noise_kernels_best (), gen, out, count);
}

RlStatus
rl_noise_prepare (uint64_t seed, const int64_t *shape, int ndim,
                  const int64_t *batch_index, float *out)
{
  if (shape == NULL || out == NULL || ndim < 1)
    return rl_set_error (RL_E_INVALID_ARG, "noise: a latent shape with at least one dimension is needed");
  size_t per_sample = 1;
  for (int d = 1; d < ndim; d++) {
    if (shape[d] < 0)
      return rl_set_error (RL_E_INVALID_ARG, "noise: latent dimension %d is negative (%lld)",
                           d, (long long) shape[d]);
    per_sample *= (size_t) shape[d];
  }
  if (shape[0] < 0)
    return rl_set_error (RL_E_INVALID_ARG, "noise: latent batch size is negative (%lld)",
                         (long long) shape[0]);
  size_t batch = (size_t) shape[0];

  RlTorchGenerator gen;
  rl_torch_generator_seed (&gen, seed);
  if (batch_index == NULL) {
    rl_torch_randn_float (&gen, out, batch * per_sample);
    return RL_OK;
  }

  int64_t last = -1;
  for (size_t b = 0; b < batch; b++) {
    if (batch_index[b] < 0)
      return rl_set_error (RL_E_INVALID_ARG,
                           "noise: batch_index[%zu] is %lld; batch indices must be 0 or more",
                           b, (long long) batch_index[b]);
    if (batch_index[b] > last)
      last = batch_index[b];
  }
  /* Empty samples: nothing to draw or copy (memcpy from NULL is undefined
   * even for 0 bytes). */
  if (per_sample == 0)
    return RL_OK;
  /* ComfyUI draws one sample per index 0..max(batch_index) in order and
   * hands batch entry b the draw number batch_index[b]. */
  float *draw = malloc (per_sample * sizeof *draw);
  if (draw == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "noise: no memory for a %zu-element sample", per_sample);
  for (int64_t i = 0; i <= last; i++) {
    rl_torch_randn_float (&gen, draw, per_sample);
    for (size_t b = 0; b < batch; b++)
      if (batch_index[b] == i)
        memcpy (out + b * per_sample, draw, per_sample * sizeof *draw);
  }
  free (draw);
  return RL_OK;
}
