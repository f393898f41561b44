/* The consumer warpgroups' schedule of the sage attention kernel when
 * $RAYLIGHT_SAGE_SCHEDULE leaves it to the problem. Plain C, so that
 * tests/attention/test-sage-schedule.c checks the rule on the CPU. */
#pragma once

#include <stdint.h>

/* Ping-pong (FlashAttention-3's alternation at the tensor cores) pays
 * over a long stream of (query tile, key tile) units per block; over a
 * short one the two warpgroups running freely, in order, do better.
 * Measured on an H100 (132 SMs; sage NOTES.md, session 11), pinned
 * schedules in the same runs, by units per block:
 *   ≤ 498 (every L 4680 shape, H 12 × 9360)       in order 0.5–3.5 % faster
 *   ≥ 996 (H 24 × 9360 and every longer one)       ping-pong 1–4 % faster,
 *                                                  or within ±0.4 %
 *   512-key cross-attention, 13–716                in order 0.3–8 % faster
 *                                                  below ~250, ±2 % above. */
enum { RL_SAGE_PINGPONG_MIN_UNITS_PER_BLOCK = 768 };

/* 1 for ping-pong: `tiles` query tiles of 128 rows (over all batch·heads),
 * each over `key_tiles` tiles of 128 keys, on `blocks` persistent blocks
 * (0: one block per query tile). 16-bit P·V spills under ping-pong and
 * always runs in order. */
static inline int
rl_sage_pingpong_for (int pv16, int64_t tiles, int64_t key_tiles, int32_t blocks)
{
  if (pv16 || tiles <= 0 || key_tiles <= 0)
    return 0;
  const int64_t units = tiles * key_tiles;
  const int64_t per_block = blocks > 0 ? (units + blocks - 1) / blocks : key_tiles;
  return per_block >= RL_SAGE_PINGPONG_MIN_UNITS_PER_BLOCK;
}
