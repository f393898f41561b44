/* The sage kernels' index algebra (plugins/attention/sage/sage-layout.h)
 * against the Hopper operand layouts, on the CPU:
 *
 *   shared memory  no-swizzle K-major: in 16-byte units the canonical
 *                  layout ((8, n), 2) : ((1, SBO), LBO), i.e. byte (row, k)
 *                  at (row / 8)·SBO + (k / 16)·LBO + (row mod 8)·16 + k mod
 *                  16 (CUTLASS's GMMA INTERLEAVE, K-major);
 *   accumulator    wgmma m64nN (CUTLASS CLayout_64xN): lane 4g + q of warp
 *                  w, value v = 4j + 2h + e → row 16w + g + 8h, column
 *                  8j + 2q + e;
 *   A, 8-bit k32   (ALayout_64x32): register r byte b → row 16w + g +
 *                  8·(r mod 2), k = 16·(r / 2) + 4q + b;
 *   A, 16-bit k16  (ALayout_64x16 = CLayout_64x16): register r half h →
 *                  row 16w + g + 8·(r mod 2), k = 8·(r / 2) + 2q + h.
 *
 * Then a whole tile: P·V through the quantisation kernel's Vᵀ image and the
 * A registers the softmax packs equals the plain product, for both P·V
 * formats. The layouts are the hardware's; this checks that our
 * permutation, packing and tile images agree with them. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/attention/sage/sage-layout.h"
#include "tests/plain-test.h"

enum { TILE = 128, ROWS = 64 };

/* Byte (row, k) of a K-major operand as wgmma reads it. */
static int
operand_byte (int row, int k, int row_bytes)
{
  return (row >> 3) * (8 * row_bytes) + (k >> 4) * 128 + (row & 7) * 16 + (k & 15);
}

static void
accumulator_at (int warp, int lane, int v, int *row, int *column)
{
  int g = lane >> 2, q = lane & 3, j = v >> 2, h = (v >> 1) & 1, e = v & 1;
  *row = 16 * warp + g + 8 * h;
  *column = 8 * j + 2 * q + e;
}

static void
a8_at (int warp, int lane, int reg, int byte, int *row, int *k)
{
  *row = 16 * warp + (lane >> 2) + 8 * (reg & 1);
  *k = 16 * (reg >> 1) + 4 * (lane & 3) + byte;
}

static void
a16_at (int warp, int lane, int reg, int half, int *row, int *k)
{
  *row = 16 * warp + (lane >> 2) + 8 * (reg & 1);
  *k = 8 * (reg >> 1) + 2 * (lane & 3) + half;
}

static void
test_tile_images (void)
{
  const int row_bytes[] = { 128, 256 };
  for (int n = 0; n < 2; n++)
    {
      int rb = row_bytes[n], pieces = TILE * rb / 16, bad = 0;
      for (int row = 0; row < TILE; row++)
        for (int k = 0; k < rb; k++)
          bad += rl_sage_tile_offset (row, k, rb) != operand_byte (row, k, rb);
      for (int p = 0; p < pieces; p++)
        bad += rl_sage_tile_offset (rl_sage_piece_row (p, rb), 16 * rl_sage_piece_chunk (p, rb), rb)
               != 16 * p;
      PT_CHECK (bad == 0, "%d-byte rows: %d mismatches", rb, bad);
    }
  /* The key permutation is one. */
  int seen[TILE] = { 0 }, bad = 0;
  for (int j = 0; j < TILE; j++)
    seen[rl_sage_kv_position (j)]++;
  for (int j = 0; j < TILE; j++)
    bad += seen[j] != 1;
  PT_CHECK (bad == 0, "kv_position is not a permutation (%d)", bad);
}

/* Each A byte the softmax packs is the P element whose key the Vᵀ row at
 * that k holds. */
static void
test_packing_matches_operands (void)
{
  int bad8 = 0, bad16 = 0;
  for (int warp = 0; warp < 4; warp++)
    for (int lane = 0; lane < 32; lane++)
      {
        for (int kk = 0; kk < 4; kk++)
          for (int reg = 0; reg < 4; reg++)
            for (int byte = 0; byte < 4; byte++)
              {
                int row_c, column, row_a, k;
                accumulator_at (warp, lane, rl_sage_p_index_e4m3 (kk, reg, byte), &row_c, &column);
                a8_at (warp, lane, reg, byte, &row_a, &k);
                bad8 += row_c != row_a || rl_sage_kv_position (column) != 32 * kk + k;
              }
        for (int kk = 0; kk < 8; kk++)
          for (int reg = 0; reg < 4; reg++)
            for (int half = 0; half < 2; half++)
              {
                int row_c, column, row_a, k;
                accumulator_at (warp, lane, rl_sage_p_index_16 (kk, reg, half), &row_c, &column);
                a16_at (warp, lane, reg, half, &row_a, &k);
                bad16 += row_c != row_a || column != 16 * kk + k;
              }
      }
  PT_CHECK (bad8 == 0, "e4m3 packing: %d bytes disagree with the permuted V", bad8);
  PT_CHECK (bad16 == 0, "16-bit packing: %d halves disagree with V", bad16);
}

/* out = P·V through the tile image and the packed registers, as the
 * kernels do it; `element` is 1 (e4m3: permuted keys) or 2 (16-bit). */
static int64_t
tile_product_errors (int element, const int *p, const int *v)
{
  int row_bytes = TILE * element, steps = element == 1 ? 4 : 8;
  int *image = calloc ((size_t) TILE * row_bytes, sizeof (int));   /* one int per byte slot */
  /* quantise_v_item: V[key][d] → staged[d][position] → 16-byte pieces. */
  int *staged = malloc (sizeof (int) * TILE * TILE);
  for (int key = 0; key < TILE; key++)
    for (int d = 0; d < TILE; d++)
      staged[d * TILE + (element == 1 ? rl_sage_kv_position (key) : key)] = v[key * TILE + d];
  for (int piece = 0; piece < TILE * row_bytes / 16; piece++)
    {
      int d = rl_sage_piece_row (piece, row_bytes), chunk = rl_sage_piece_chunk (piece, row_bytes);
      for (int i = 0; i < 16 / element; i++)
        image[16 * piece + i * element] = staged[d * TILE + chunk * (16 / element) + i];
    }
  int64_t *out = calloc ((size_t) ROWS * TILE, sizeof (int64_t));
  for (int kk = 0; kk < steps; kk++)
    for (int warp = 0; warp < 4; warp++)
      for (int lane = 0; lane < 32; lane++)
        for (int reg = 0; reg < 4; reg++)
          for (int part = 0; part < 4 / element; part++)
            {
              /* The A value: the accumulator the softmax packs there. */
              int index = element == 1 ? rl_sage_p_index_e4m3 (kk, reg, part)
                                       : rl_sage_p_index_16 (kk, reg, part);
              int row_c, column, row, k;
              accumulator_at (warp, lane, index, &row_c, &column);
              if (element == 1)
                a8_at (warp, lane, reg, part, &row, &k);
              else
                a16_at (warp, lane, reg, part, &row, &k);
              int a = p[row_c * TILE + column];
              /* B from the descriptor at the k-step's 256-byte offset. */
              for (int n = 0; n < TILE; n++)
                out[row * TILE + n] += (int64_t) a
                                       * image[256 * kk + operand_byte (n, k * element, row_bytes)];
            }
  int64_t errors = 0;
  for (int row = 0; row < ROWS; row++)
    for (int n = 0; n < TILE; n++)
      {
        int64_t want = 0;
        for (int key = 0; key < TILE; key++)
          want += (int64_t) p[row * TILE + key] * v[key * TILE + n];
        errors += out[row * TILE + n] != want;
      }
  free (image), free (staged), free (out);
  return errors;
}

static void
test_tile_products (void)
{
  int *p = malloc (sizeof (int) * ROWS * TILE), *v = malloc (sizeof (int) * TILE * TILE);
  uint64_t state = 0x9e3779b97f4a7c15u;
  for (int i = 0; i < ROWS * TILE; i++)
    p[i] = (int) ((state = state * 6364136223846793005u + 1442695040888963407u) >> 58);
  for (int i = 0; i < TILE * TILE; i++)
    v[i] = (int) ((state = state * 6364136223846793005u + 1442695040888963407u) >> 57) - 64;
  int64_t e8 = tile_product_errors (1, p, v), e16 = tile_product_errors (2, p, v);
  printf ("# tile P·V mismatches: e4m3 path %lld, 16-bit path %lld\n", (long long) e8, (long long) e16);
  PT_CHECK (e8 == 0 && e16 == 0, "e4m3 %lld, 16-bit %lld", (long long) e8, (long long) e16);
  free (p), free (v);
}

int
main (void)
{
  PT_RUN (test_tile_images);
  PT_RUN (test_packing_matches_operands);
  PT_RUN (test_tile_products);
  return pt_finish ();
}
