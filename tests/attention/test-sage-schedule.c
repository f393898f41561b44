/* The sage kernel's schedule by the problem (plugins/attention/sage/
 * sage-schedule.h): in order over short streams of units per block,
 * ping-pong over long ones, in order always for 16-bit P·V. The shapes
 * are the ones measured (sage NOTES.md, session 11). */
#include <stdint.h>
#include <stdio.h>

#include "plugins/attention/sage/sage-schedule.h"
#include "tests/plain-test.h"

static int
choice (int heads, int q_len, int kv_len, int32_t blocks)
{
  return rl_sage_pingpong_for (0, (int64_t) heads * ((q_len + 127) / 128), (kv_len + 127) / 128, blocks);
}

static void
test_measured_shapes_on_an_h100 (void)
{
  const int heads[] = { 12, 24, 40 };
  for (int i = 0; i < 3; i++)
    {
      int h = heads[i];
      PT_CHECK (choice (h, 4680, 4680, 132) == 0, "H %d × 4680: in order", h);
      PT_CHECK (choice (h, 32760, 32760, 132) == 1, "H %d × 32760: ping-pong", h);
      PT_CHECK (choice (h, 75600, 75600, 132) == 1, "H %d × 75600: ping-pong", h);
      /* 512-key cross-attention: at most 716 units per block. */
      PT_CHECK (choice (h, 4680, 512, 132) == 0 && choice (h, 75600, 512, 132) == 0,
                "H %d, 512 keys: in order", h);
    }
  /* The crossover measured at L 9360: in order at H 12, ping-pong at 24. */
  PT_CHECK (choice (12, 9360, 9360, 132) == 0, "H 12 × 9360: in order");
  PT_CHECK (choice (24, 9360, 9360, 132) == 1, "H 24 × 9360: ping-pong");
  /* A Ulysses rank of Wan 1.3B on two GPUs (6 heads): a long stream. */
  PT_CHECK (choice (6, 32760, 32760, 132) == 1, "H 6 × 32760: ping-pong");
  /* A PCIe H100 (114 SMs). */
  PT_CHECK (choice (12, 4680, 4680, 114) == 0, "114 SMs, L 4680");
}

static void
test_threshold (void)
{
  const int64_t blocks = 132, least = RL_SAGE_PINGPONG_MIN_UNITS_PER_BLOCK;
  PT_CHECK (rl_sage_pingpong_for (0, least * blocks, 1, (int32_t) blocks) == 1, "exactly the threshold");
  PT_CHECK (rl_sage_pingpong_for (0, least * blocks - blocks, 1, (int32_t) blocks) == 0, "one unit under");
  PT_CHECK (rl_sage_pingpong_for (0, (least - 1) * blocks + 1, 1, (int32_t) blocks) == 1,
            "the threshold on some blocks");
}

static void
test_in_order_cases (void)
{
  PT_CHECK (rl_sage_pingpong_for (1, 40 * 591, 591, 132) == 0, "16-bit P·V: in order");
  PT_CHECK (rl_sage_pingpong_for (0, 40 * 591, 591, 0) == 0, "one block per tile, 591 key tiles");
  PT_CHECK (rl_sage_pingpong_for (0, 40 * 591, 1000, 0) == 1, "one block per tile, 1000 key tiles");
  PT_CHECK (rl_sage_pingpong_for (0, 0, 37, 132) == 0 && rl_sage_pingpong_for (0, 37, 0, 132) == 0,
            "no tiles, no keys");
}

int
main (void)
{
  PT_RUN (test_measured_shapes_on_an_h100);
  PT_RUN (test_threshold);
  PT_RUN (test_in_order_cases);
  return pt_finish ();
}
