/* numpy's SeedSequence: O'Neill's seed_seq variant with a pooled hash
 * (see seed-sequence.h). All arithmetic is modulo 2^32. */
#include "workers/sampling/seed-sequence.h"

#include <stdbool.h>

#define INIT_A     0x43b0d7e5u
#define MULT_A     0x931e8875u
#define INIT_B     0x8b51f9ddu
#define MULT_B     0x58f38dedu
#define MIX_MULT_L 0xca01f9ddu
#define MIX_MULT_R 0x4973f715u
#define XSHIFT     16
#define MAX_POOL   64
#define MAX_WORDS  (MAX_POOL + 2 * RL_SEED_SEQUENCE_MAX_KEY + 2)

static uint32_t
hashmix (uint32_t value, uint32_t *hash_const)
{
  value ^= *hash_const;
  *hash_const *= MULT_A;
  value *= *hash_const;
  value ^= value >> XSHIFT;
  return value;
}

static uint32_t
mix (uint32_t x, uint32_t y)
{
  uint32_t result = MIX_MULT_L * x - MIX_MULT_R * y;
  result ^= result >> XSHIFT;
  return result;
}

/* _int_to_uint32_array: low word first; 0 is one word. */
static int
append_int_words (uint64_t value, uint32_t *words, int count)
{
  words[count++] = (uint32_t) value;
  if (value >> 32)
    words[count++] = (uint32_t) (value >> 32);
  return count;
}

void
rl_seed_sequence_state (uint64_t entropy, const uint64_t *spawn_key,
                        int spawn_len, int pool_size, uint32_t *out,
                        int n_words)
{
  if (pool_size > MAX_POOL)
    pool_size = MAX_POOL;
  if (spawn_len > RL_SEED_SEQUENCE_MAX_KEY)
    spawn_len = RL_SEED_SEQUENCE_MAX_KEY;

  /* get_assembled_entropy: run entropy, zero-padded to the pool size when
   * a spawn key follows, then the spawn key words. */
  uint32_t words[MAX_WORDS];
  int count = append_int_words (entropy, words, 0);
  if (spawn_len > 0)
    while (count < pool_size)
      words[count++] = 0;
  for (int i = 0; i < spawn_len; i++)
    count = append_int_words (spawn_key[i], words, count);

  /* mix_entropy */
  uint32_t pool[MAX_POOL];
  uint32_t hash_const = INIT_A;
  for (int i = 0; i < pool_size; i++)
    pool[i] = hashmix (i < count ? words[i] : 0u, &hash_const);
  for (int src = 0; src < pool_size; src++)
    for (int dst = 0; dst < pool_size; dst++)
      if (src != dst)
        pool[dst] = mix (pool[dst], hashmix (pool[src], &hash_const));
  for (int src = pool_size; src < count; src++)
    for (int dst = 0; dst < pool_size; dst++)
      pool[dst] = mix (pool[dst], hashmix (words[src], &hash_const));

  /* generate_state */
  uint32_t state_const = INIT_B;
  for (int i = 0; i < n_words; i++)
    {
      uint32_t value = pool[i % pool_size];
      value ^= state_const;
      state_const *= MULT_B;
      value *= state_const;
      value ^= value >> XSHIFT;
      out[i] = value;
    }
}
