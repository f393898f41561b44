/* numpy.random.SeedSequence (numpy/random/bit_generator.pyx), the hash that
 * torchsde's Brownian trees use to derive one torch seed per tree node. */
#pragma once

#include <stdint.h>

#define RL_SEED_SEQUENCE_MAX_KEY 8

/* SeedSequence (entropy, spawn_key = spawn_key[0 .. spawn_len−1],
 * pool_size).generate_state (n_words) as uint32 words: `entropy` and each
 * key element enter as numpy's little-endian 32-bit word lists (0 is one
 * word). pool_size ≥ 4 and ≤ 64; spawn_len ≤ RL_SEED_SEQUENCE_MAX_KEY. */
void rl_seed_sequence_state (uint64_t        entropy,
                             const uint64_t *spawn_key,
                             int             spawn_len,
                             int             pool_size,
                             uint32_t       *out,
                             int             n_words);
