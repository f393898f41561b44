/* Initial latent noise identical to ComfyUI's (comfy/sample.py
 * prepare_noise): torch.manual_seed (seed) followed by torch.randn on the
 * CPU generator, float32.
 *
 * PyTorch's CPU generator is a 32-bit Mersenne Twister (mt19937) seeded with
 * the low 32 bits of the seed. torch.randn for a contiguous float32 tensor of
 * at least 16 elements fills every element with a 24-bit uniform, then runs
 * Box-Muller on blocks of 16 (element j pairs with j + 8) using the AVX2
 * Cephes polynomials of ATen's avx_mathfun.h; a length that is not a multiple
 * of 16 re-draws and re-transforms the last 16 elements. Smaller tensors use
 * the scalar double-precision path with 53-bit uniforms and a cached second
 * sample. This module reproduces both paths in portable C (explicit fmaf
 * where PyTorch's compiled code fuses), so the result does not depend on the
 * CPU it runs on; on x86-64 CPUs with AVX2 and FMA the vector path runs the
 * same operations in AVX2 intrinsics, bit-identical (noise-kernels.h). A
 * Wan 832x480x81 latent (2,096,640 floats) takes about 6 ms on one Zen 1
 * core at 2 GHz. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "workers/runtime/status.h"

#define RL_MT19937_STATE_WORDS 624

/* The state of torch's CPUGeneratorImpl: the twister plus the cached second
 * normal sample of the scalar path. Plain value: copy it to fork a stream. */
typedef struct {
  uint32_t state[RL_MT19937_STATE_WORDS];
  int      next;                    /* index of the next tempered word */
  int      has_cached_normal;       /* scalar path's cached r·sin(θ) */
  double   cached_normal;
} RlTorchGenerator;

/* torch.manual_seed (seed): re-seeds the twister with seed & 0xffffffff and
 * drops any cached normal sample. */
void     rl_torch_generator_seed     (RlTorchGenerator *gen,
                                      uint64_t          seed);

/* The next 32-bit output of the twister (torch's generator->random ()). */
uint32_t rl_torch_generator_random   (RlTorchGenerator *gen);

/* Two outputs, the first in the high half (torch's random64 ()). */
uint64_t rl_torch_generator_random64 (RlTorchGenerator *gen);

/* torch.randn (count, dtype=float32, generator=gen) for a contiguous tensor
 * of `count` elements, advancing the generator exactly as torch does. */
void     rl_torch_randn_float        (RlTorchGenerator *gen,
                                      float            *out,
                                      size_t            count);

/* comfy.sample.prepare_noise (latent, seed, batch_index): writes the noise
 * for a float32 latent of shape[0..ndim-1] into `out` (product of the shape
 * elements). batch_index == NULL draws one randn over the whole tensor;
 * otherwise batch_index[b] (b < shape[0], each ≥ 0) picks, for batch entry
 * b, the batch_index[b]-th of a sequence of per-sample randn draws, as
 * ComfyUI does for latents that carry a "batch_index". Returns RL_OK or
 * RL_E_INVALID_ARG with a message naming the bad dimension or index. */
RlStatus rl_noise_prepare            (uint64_t          seed,
                                      const int64_t    *shape,
                                      int               ndim,
                                      const int64_t    *batch_index,
                                      float            *out);
