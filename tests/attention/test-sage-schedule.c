/* The sage kernel's schedule by the problem (plugins/attention/sage/
 * sage-schedule.h): in order where blocks get few query tiles, ping-pong
 * over long streams, in order always for 16-bit P·V. The Wan shapes are
 * the ones measured (sage NOTES.md, session 11). */
#include <stdint.h>
#include <stdio.h>

#include "plugins/attention/sage/sage-schedule.h"
#include "tests/plain-test.h"

static int64_t
tiles_of (int heads, int q_len)
{
  return (int64_t) heads * ((q_len + 127) / 128);
}

static void
test_wan_shapes_on_an_h100 (void)
{
  const int heads[] = { 12, 24, 40 };
  for (int i = 0; i < 3; i++)
    {
      /* Self- and 512-key cross-attention share the query tiles. */
      PT_CHECK (rl_sage_pingpong_for (0, tiles_of (heads[i], 4680), 132) == 0,
                "H %d × 4680: in order", heads[i]);
      PT_CHECK (rl_sage_pingpong_for (0, tiles_of (heads[i], 32760), 132) == 1,
                "H %d × 32760: ping-pong", heads[i]);
      PT_CHECK (rl_sage_pingpong_for (0, tiles_of (heads[i], 75600), 132) == 1,
                "H %d × 75600: ping-pong", heads[i]);
    }
  /* A PCIe H100 (114 SMs) and a batch of two CFG halves. */
  PT_CHECK (rl_sage_pingpong_for (0, tiles_of (12, 4680), 114) == 0, "114 SMs, L 4680");
  PT_CHECK (rl_sage_pingpong_for (0, 2 * tiles_of (40, 4680), 132) == 1,
            "B 2 × H 40 × 4680: 23 tiles per block");
}

static void
test_threshold (void)
{
  const int64_t blocks = 132, least = RL_SAGE_PINGPONG_MIN_TILES_PER_BLOCK;
  PT_CHECK (rl_sage_pingpong_for (0, least * blocks, (int32_t) blocks) == 1, "exactly the threshold");
  PT_CHECK (rl_sage_pingpong_for (0, (least - 1) * blocks, (int32_t) blocks) == 0, "one tile under");
  /* Blocks that get the threshold on their longest walk. */
  PT_CHECK (rl_sage_pingpong_for (0, (least - 1) * blocks + 1, (int32_t) blocks) == 1,
            "the threshold on some blocks");
}

static void
test_in_order_cases (void)
{
  PT_CHECK (rl_sage_pingpong_for (1, tiles_of (40, 75600), 132) == 0, "16-bit P·V: in order");
  PT_CHECK (rl_sage_pingpong_for (0, tiles_of (40, 75600), 0) == 0, "one block per tile: in order");
  PT_CHECK (rl_sage_pingpong_for (0, 0, 132) == 0, "no tiles");
}

int
main (void)
{
  PT_RUN (test_wan_shapes_on_an_h100);
  PT_RUN (test_threshold);
  PT_RUN (test_in_order_cases);
  return pt_finish ();
}
