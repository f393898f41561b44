/* The consumer warpgroups' schedule of the sage attention kernel when
 * $RAYLIGHT_SAGE_SCHEDULE leaves it to the problem. Plain C, so that
 * tests/attention/test-sage-schedule.c checks the rule on the CPU. */
#pragma once

#include <stdint.h>

/* Ping-pong (FlashAttention-3's alternation at the tensor cores) pays
 * over a long stream of query tiles per block: self-attention at
 * L ≥ 32760 (46 or more tiles per block on 132 SMs) ran 1.5–4 % faster
 * than in order. With few tiles per block the two warpgroups running
 * freely did better: every L 4680 shape (3–12 tiles per block) was
 * 0.5–8 % faster in order, in four device calls (sage NOTES.md, session
 * 11), while 512-key cross-attention at L ≥ 32760 (24 and more) was
 * within ±2 % either way. The threshold lies between the two. */
enum { RL_SAGE_PINGPONG_MIN_TILES_PER_BLOCK = 16 };

/* 1 for ping-pong: `tiles` query tiles (of 128 rows, over all batch·heads)
 * on `blocks` persistent blocks (0: one block per tile). 16-bit P·V
 * spills under ping-pong and always runs in order. */
static inline int
rl_sage_pingpong_for (int pv16, int64_t tiles, int32_t blocks)
{
  if (pv16 || tiles <= 0)
    return 0;
  const int64_t per_block = blocks > 0 ? (tiles + blocks - 1) / blocks : 1;
  return per_block >= RL_SAGE_PINGPONG_MIN_TILES_PER_BLOCK;
}
