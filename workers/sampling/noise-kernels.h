/* The bulk passes behind rl_torch_randn_float (noise.c): regenerating the
 * twister's 624 words, tempering words into 24-bit uniforms, and the
 * Box-Muller transform of whole 16-blocks. Two sets compute identical bits:
 * a portable one in plain C (explicit fmaf) and one in AVX2/FMA intrinsics
 * for x86-64 CPUs that have them (the same operations lane for lane; an FMA
 * rounds once whether fmaf or vfmadd computes it). noise.c picks the fastest
 * set the CPU runs; tests run each set against the reference. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "workers/sampling/noise.h"

typedef struct {
  const char *name;
  /* One mt19937 regeneration of all 624 state words in place. */
  void (*twist)      (uint32_t *state);
  /* out[i] = (temper (words[i]) & 0xffffff) · 2^-24 for i < count. */
  void (*uniforms)   (const uint32_t *words, float *out, size_t count);
  /* normal_fill_16_AVX2 (mean 0, std 1) on each of `blocks` consecutive
   * 16-blocks: data[j] holds u1 and data[j + 8] u2 of pair j on entry, the
   * two normals on exit. */
  void (*box_muller) (float *data, size_t blocks);
} RlNoiseKernels;

/* Plain C; runs everywhere. */
const RlNoiseKernels *rl_noise_kernels_portable (void);

/* AVX2 + FMA intrinsics, or NULL where the build is not x86-64 or the CPU
 * (or its OS) lacks AVX2 or FMA. */
const RlNoiseKernels *rl_noise_kernels_avx2_fma (void);

/* The AVX2/FMA set where available, else the portable one. */
const RlNoiseKernels *rl_noise_kernels_best (void);

/* rl_torch_randn_float with a given kernel set (tests compare the sets). */
void rl_torch_randn_float_with (const RlNoiseKernels *kernels,
                                RlTorchGenerator     *gen,
                                float                *out,
                                size_t                count);
