/* ComfyUI's BrownianTreeNoiseSampler (comfy/k_diffusion/sampling.py) over
 * torchsde's BrownianTree (BrownianInterval with halfway_tree = True,
 * tol = 1e-6, pool_size = 24, on the CPU), the noise of dpmpp_2m_sde:
 *
 *   tree over [σmin, σmax] (the smallest positive and the largest sigma),
 *   entropy = the sampler seed. The root increment is
 *   randn(seed W0)·sqrt(σmax − σmin); a node [s, e] splits at
 *   m = round(0.5·(s + e), 6) and gives its left child
 *   W·(m − s)/(e − s) + sqrt((m − s)(e − m)/(e − s))·randn(seed Wn),
 *   its right child W − left, where the seeds come from
 *   numpy SeedSequence(entropy, spawn_key = (key, depth), pool_size = 24)
 *   and randn is torch.randn on a CPU generator seeded with them. A query
 *   (σ, σ') sums the increments of the tree intervals covering
 *   [min, max] (endpoints rounded to 6 decimals), flips the sign for a
 *   decreasing step, and divides by sqrt|σ' − σ|.
 *
 * Every value follows torchsde's float32 arithmetic, except the order in
 * which the interval pieces of one query are added (ulp-level). Work per
 * query: up to 2·log2((σmax − σmin)/1e-6) torch.randn draws of x's size,
 * made min(8, OpenMP threads) at a time in parallel; memory: 4 + that many
 * host buffers of x's size. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "workers/sampling/sampler.h"

typedef struct RlBrownianNoise RlBrownianNoise;

/* A tree for `count`-element draws over [sigma_min, sigma_max]. */
RlStatus      rl_brownian_noise_new    (uint64_t          seed,
                                        float             sigma_min,
                                        float             sigma_max,
                                        size_t            count,
                                        RlBrownianNoise **out);

void          rl_brownian_noise_free   (RlBrownianNoise *noise); /* NULL-safe */

/* The noise source view (the tree must outlive it). */
RlNoiseSource rl_brownian_noise_source (RlBrownianNoise *noise);
