/* The index algebra of the sage kernels (sage-kernel.cu), plain C so that
 * tests/attention/test-sage-layout.c checks it on the CPU against the
 * Hopper operand layouts.
 *
 * Tiles: a quantised tile is the image of wgmma's no-swizzle K-major
 * shared-memory operand. Rows (M or N) hold `row_bytes` of the K
 * dimension; a "core matrix" is 8 rows × 16 bytes stored as 128 contiguous
 * bytes; the 16-byte chunks of a row are 128 bytes apart (the descriptor's
 * leading offset) and 8-row groups row_bytes·8 bytes apart (its stride).
 *
 * Registers: the S accumulator of wgmma m64nN gives lane 4g + q of warp w
 * rows 16w + g and 16w + g + 8, columns 8j + 2q + e, at index
 * 4j + 2·(row half) + e. The A operand from registers wants, for 8-bit
 * k32, register r byte b at row 16w + g + 8·(r mod 2), k = 16·(r / 2) +
 * 4q + b; for 16-bit k16, register r half h at row 16w + g + 8·(r mod 2),
 * k = 8·(r / 2) + 2q + h. */
#pragma once

#ifdef __CUDACC__
#define RL_SAGE_HOST_DEVICE __host__ __device__
#else
#define RL_SAGE_HOST_DEVICE
#endif

/* Byte offset of (row, byte) in a tile with `row_bytes`-byte rows. */
RL_SAGE_HOST_DEVICE static inline int
rl_sage_tile_offset (int row, int byte, int row_bytes)
{
  return (row >> 3) * (row_bytes * 8) + (byte >> 4) * 128 + (row & 7) * 16 + (byte & 15);
}

/* The row and the 16-byte chunk that the `piece`-th 16 bytes of such a
 * tile hold (the inverse of rl_sage_tile_offset on 16-byte pieces). */
RL_SAGE_HOST_DEVICE static inline int
rl_sage_piece_row (int piece, int row_bytes)
{
  return ((piece >> 3) / (row_bytes / 16)) * 8 + (piece & 7);
}

RL_SAGE_HOST_DEVICE static inline int
rl_sage_piece_chunk (int piece, int row_bytes)
{
  return (piece >> 3) % (row_bytes / 16);
}

/* Where key `j` of a tile goes in an e4m3 Vᵀ tile. Lane q holds P columns
 * 8h + 2q + e of every 16 (h, e ∈ {0, 1}); its A bytes are k = 4q + 2h + e,
 * so Vᵀ's row k must be that key. */
RL_SAGE_HOST_DEVICE static inline int
rl_sage_kv_position (int j)
{
  int local = j & 15;
  int h = local >> 3, q = (local & 7) >> 1, e = local & 1;
  return (j & ~15) | (4 * q + 2 * h + e);
}

/* The accumulator index (0..63) that fills byte `byte` of A register
 * `reg` in k-step `kk` (32 keys) of the e4m3 P·V. */
RL_SAGE_HOST_DEVICE static inline int
rl_sage_p_index_e4m3 (int kk, int reg, int byte)
{
  return 16 * kk + 8 * (reg >> 1) + 4 * (byte >> 1) + 2 * (reg & 1) + (byte & 1);
}

/* The same for half `half` of register `reg` in k-step `kk` (16 keys) of
 * the 16-bit P·V, whose keys stay in order. */
RL_SAGE_HOST_DEVICE static inline int
rl_sage_p_index_16 (int kk, int reg, int half)
{
  return 8 * kk + 2 * reg + half;
}
