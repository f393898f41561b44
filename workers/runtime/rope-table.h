/* Rotary-embedding tables for the rope op (ops.h).
 *
 * Wan/Flux-style N-axis RoPE: the head dim is split into per-axis widths
 * (Wan: Dh = 128 → axes {44, 42, 42} for (t, h, w)); axis a contributes
 * axes_dim[a]/2 pairs with angle pos_a · theta^(−2j/axes_dim[a]), in axis
 * order. Angles are computed in double and rounded once to f32, as ComfyUI
 * does. */
#pragma once

#include <stdint.h>

#include "workers/runtime/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Fills cos and sin (f32 [L, P], P = Σ axes_dim/2, host memory, contiguous)
 * for tokens [token_offset, token_offset + L) of a (grid[0] × grid[1] ×
 * grid[2]) row-major grid (last axis fastest), position of a token on axis
 * a = its grid index. Tokens past the grid (sequence-parallel padding) get
 * cos = 1, sin = 0. n_axes is 1..3; unused grid entries are 1. */
RlStatus rl_rope_table_3d (RlTensor *cos, RlTensor *sin, int n_axes,
                           const int *axes_dim, const int64_t *grid,
                           int64_t token_offset, double theta);

#ifdef __cplusplus
}
#endif
