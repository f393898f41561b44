/* Tiled Wan VAE decode, as ComfyUI's VAE.decode_tiled_3d runs
 * comfy/utils.py tiled_scale_multidim over (t, h, w):
 *
 *   positions per axis: range(0, S − overlap, tile − overlap) when S > tile,
 *     else [0]; a tile starts at max(0, min(S − overlap, p)) and is
 *     min(tile, S − start) long;
 *   its output lands at (4·start, s·start, s·start) and is
 *     (max(0, 4·len − 3), s·len, s·len) long (s = 8 or 16);
 *   it is weighted by a mask that ramps (t+1)/feather over `feather` output
 *     positions at both ends of each axis (feather = max(0, 4·overlap − 3)
 *     in time, s·overlap in space; no ramp when feather ≥ the tile's extent);
 *   out = Σ tile·mask / Σ mask, then clamp((out + 1)/2, 0, 1).
 *
 * The masks are products of per-axis ramps over a product grid of tiles, so
 * Σ mask is the product of three per-axis sums and needs no full-size
 * buffer: the host output itself accumulates, and the device only ever
 * holds one tile's chunk. */
#include "plugins/wan/vae-internal.h"

#include <stdlib.h>
#include <string.h>

#define AXES 3

typedef struct {
  int64_t  extent;        /* latent length */
  int64_t  count;         /* tiles along this axis */
  int64_t *start, *length;
  int64_t  feather;
  int64_t  out_extent;
  float   *weight_sum;    /* [out_extent] Σ of the ramps */
} TileAxis;

typedef struct {
  WanVae   *vae;
  RlTensor *out;                    /* host f32 [B, 3, F, H, W] */
  int64_t   origin[AXES];           /* output position of this tile */
  const float *ramp[AXES];          /* this tile's per-axis masks */
} TileSink;

static int64_t
out_length (int axis, int64_t n, int64_t space)
{
  if (axis == 0)
    return n * WAN_VAE_TIME_FACTOR - 3 > 0 ? n * WAN_VAE_TIME_FACTOR - 3 : 0;
  return n * space;
}

static int64_t
out_position (int axis, int64_t n, int64_t space)
{
  return axis == 0 ? n * WAN_VAE_TIME_FACTOR : n * space;
}

/* The mask of one tile along one axis: ones, times (t+1)/feather at the
 * t-th position from each end (ComfyUI multiplies both ends in turn). */
static void
ramp (float *m, int64_t n, int64_t feather)
{
  for (int64_t i = 0; i < n; i++)
    m[i] = 1.0f;
  if (feather >= n)
    return;
  for (int64_t t = 0; t < feather; t++)
    {
      const float a = (float) ((double) (t + 1) / (double) feather);
      m[t] *= a;
      m[n - 1 - t] *= a;
    }
}

static void
axis_free (TileAxis *a)
{
  free (a->start);
  free (a->length);
  free (a->weight_sum);
}

static RlStatus
axis_plan (TileAxis *a, int axis, int64_t extent, int64_t tile, int64_t overlap, int64_t space)
{
  float *m;

  memset (a, 0, sizeof *a);
  a->extent = extent;
  if (tile <= 0 || tile > extent)
    tile = extent;
  if (overlap < 0 || (extent > tile && tile <= overlap))
    return rl_set_error (RL_E_INVALID_ARG, "wan vae tiled decode: axis %d has tile %lld and overlap %lld; "
                         "the tile must be longer than the overlap", axis, (long long) tile, (long long) overlap);
  a->count = extent > tile ? (extent - overlap + (tile - overlap) - 1) / (tile - overlap) : 1;
  if (a->count < 1)
    a->count = 1;
  a->feather = axis == 0 ? out_length (0, overlap, space) : overlap * space;
  a->out_extent = out_length (axis, extent, space);
  a->start = calloc ((size_t) a->count, sizeof *a->start);
  a->length = calloc ((size_t) a->count, sizeof *a->length);
  a->weight_sum = calloc ((size_t) a->out_extent + 1, sizeof *a->weight_sum);
  m = malloc (((size_t) out_length (axis, tile, space) + 1) * sizeof *m);
  if (a->start == NULL || a->length == NULL || a->weight_sum == NULL || m == NULL)
    {
      free (m);
      return rl_set_error (RL_E_NO_MEMORY, "wan vae tiled decode: out of memory");
    }
  for (int64_t i = 0; i < a->count; i++)
    {
      int64_t p = extent > tile ? i * (tile - overlap) : 0;
      int64_t start = p < extent - overlap ? p : extent - overlap;
      if (start < 0)
        start = 0;
      a->start[i] = start;
      a->length[i] = tile < extent - start ? tile : extent - start;
      int64_t n = out_length (axis, a->length[i], space), at = out_position (axis, start, space);
      ramp (m, n, a->feather);
      for (int64_t k = 0; k < n && at + k < a->out_extent; k++)
        a->weight_sum[at + k] += m[k];
    }
  free (m);
  return RL_OK;
}

/* Adds a chunk of a tile's frames, weighted, into the host output. */
static RlStatus
accumulate (void           *user,
            const RlTensor *frames,
            int64_t         t0)
{
  TileSink *ts = user;
  RlTensor *out = ts->out;
  const int64_t B = frames->shape[0], C = frames->shape[1], n = frames->shape[2];
  const int64_t Ht = frames->shape[3], Wt = frames->shape[4];
  const int64_t F = out->shape[2], H = out->shape[3], W = out->shape[4];
  const int64_t shape[5] = { B, C, n, Ht, Wt };
  float *buf = malloc ((size_t) (B * C * n * Ht * Wt) * sizeof (float) + 1);
  RlTensor staging = { 0 };
  RlStatus s;

  if (buf == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "wan vae tiled decode: out of host memory for a tile chunk");
  s = rl_tensor_wrap (&staging, buf, rl_device_cpu (), RL_F32, 5, shape, NULL, NULL);
  if (s == RL_OK)
    s = vae_copy_frames (ts->vae, &staging, 0, frames, 0, n);
  if (s == RL_OK && (ts->origin[0] + t0 + n > F || ts->origin[1] + Ht > H || ts->origin[2] + Wt > W))
    s = rl_set_error (RL_E_INTERNAL, "wan vae tiled decode: a tile lies outside the output");
  for (int64_t r = 0; s == RL_OK && r < B * C; r++)
    for (int64_t f = 0; f < n; f++)
      {
        const float mt = ts->ramp[0][t0 + f];
        const float *src = buf + (r * n + f) * Ht * Wt;
        float *dst = (float *) out->data + ((r * F + ts->origin[0] + t0 + f) * H + ts->origin[1]) * W
                     + ts->origin[2];
        for (int64_t y = 0; y < Ht; y++)
          {
            const float mth = mt * ts->ramp[1][y];
            for (int64_t x = 0; x < Wt; x++)
              dst[y * W + x] += src[y * Wt + x] * (mth * ts->ramp[2][x]);
          }
      }
  rl_tensor_release (&staging);
  free (buf);
  return s;
}

/* out[b, c, t, y, x] = unit(out / (Σt · Σy · Σx)). */
static void
normalise (RlTensor *out, const TileAxis *axes)
{
  const int64_t F = out->shape[2], H = out->shape[3], W = out->shape[4];
  float *p = out->data;

  for (int64_t r = 0; r < out->shape[0] * out->shape[1]; r++)
    for (int64_t t = 0; t < F; t++)
      for (int64_t y = 0; y < H; y++)
        {
          float *row = p + ((r * F + t) * H + y) * W;
          const float wty = axes[0].weight_sum[t] * axes[1].weight_sum[y];
          for (int64_t x = 0; x < W; x++)
            row[x] /= wty * axes[2].weight_sum[x];
          vae_host_to_unit (row, W);
        }
}

/* Decodes the tile at grid index (i, j, k) of the device latent `full`
 * into the accumulating output. */
static RlStatus
decode_tile (WanVae         *v,
             const RlTensor *full,
             const TileAxis *axes,
             const int64_t  *index,
             RlTensor       *out)
{
  const int64_t space = v->config.space_factor;
  RlTensor view = { 0 }, tile = { 0 };
  float *masks[AXES] = { NULL };
  TileSink sink = { .vae = v, .out = out };
  RlStatus s = rl_tensor_view (&view, full);

  for (int d = 0; s == RL_OK && d < AXES; d++)
    {
      const TileAxis *a = &axes[d];
      const int64_t start = a->start[index[d]], len = a->length[index[d]];
      const int64_t n = out_length (d, len, space);
      s = rl_tensor_narrow (&view, &view, 2 + d, start, len);
      masks[d] = malloc (((size_t) n + 1) * sizeof (float));
      if (masks[d] == NULL)
        s = rl_set_error (RL_E_NO_MEMORY, "wan vae tiled decode: out of memory");
      else
        ramp (masks[d], n, a->feather);
      sink.origin[d] = out_position (d, start, space);
      sink.ramp[d] = masks[d];
    }
  if (s == RL_OK)
    s = vae_alloc (v, &tile, RL_F32, view.shape[0], view.shape[1], view.shape[2], view.shape[3], view.shape[4]);
  if (s == RL_OK) s = v->ops->copy (v->ctx, &tile, &view);
  if (s == RL_OK) s = vae_decode_stream (v, &tile, accumulate, &sink);
  if (s < 0)
    s = rl_prefix_error (s, "tile at latent (%lld, %lld, %lld): ", (long long) axes[0].start[index[0]],
                         (long long) axes[1].start[index[1]], (long long) axes[2].start[index[2]]);
  for (int d = 0; d < AXES; d++)
    free (masks[d]);
  rl_tensor_release (&tile);
  rl_tensor_release (&view);
  return s;
}

RlStatus
wan_vae_decode_tiled (WanVae             *v,
                      const RlTensor     *latent,
                      const WanVaeTiling *tiling,
                      RlTensor           *out)
{
  const bool on_device = latent != NULL && v != NULL &&
                         rl_device_equal (latent->device, v->backend->context_device (v->ctx));
  TileAxis axes[AXES];
  RlTensor full = { 0 };
  int64_t tiles, index[AXES];
  RlStatus s = RL_OK;

  if (v == NULL || latent == NULL || tiling == NULL || out == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "wan_vae_decode_tiled: vae, latent, tiling and out are required");
  TRY (vae_check_decode (v, latent, out));
  {
    const int tile[AXES] = { tiling->tile_t, tiling->tile_h, tiling->tile_w };
    const int overlap[AXES] = { tiling->overlap_t, tiling->overlap_h, tiling->overlap_w };
    bool fits = true;
    memset (axes, 0, sizeof axes);
    for (int d = 0; s == RL_OK && d < AXES; d++)
      {
        s = axis_plan (&axes[d], d, latent->shape[2 + d], tile[d], overlap[d], v->config.space_factor);
        fits = fits && axes[d].count == 1 && (tile[d] <= 0 || latent->shape[2 + d] <= tile[d]);
      }
    if (s == RL_OK && fits)
      {
        for (int d = 0; d < AXES; d++)
          axis_free (&axes[d]);
        return wan_vae_decode (v, latent, out);
      }
  }
  if (s == RL_OK && on_device)
    s = rl_tensor_view (&full, latent);
  else if (s == RL_OK)
    {
      s = vae_alloc (v, &full, RL_F32, latent->shape[0], latent->shape[1], latent->shape[2], latent->shape[3],
                     latent->shape[4]);
      if (s == RL_OK) s = v->backend->transfer (v->ctx, &full, latent);
    }
  if (s == RL_OK)
    memset (out->data, 0, rl_tensor_nbytes (out));
  tiles = s == RL_OK ? axes[0].count * axes[1].count * axes[2].count : 0;
  for (int64_t i = 0; s == RL_OK && i < tiles; i++)
    {
      index[0] = i / (axes[1].count * axes[2].count);
      index[1] = (i / axes[2].count) % axes[1].count;
      index[2] = i % axes[2].count;
      s = decode_tile (v, &full, axes, index, out);
    }
  if (s == RL_OK)
    normalise (out, axes);
  rl_tensor_release (&full);
  for (int d = 0; d < AXES; d++)
    axis_free (&axes[d]);
  return s;
}
