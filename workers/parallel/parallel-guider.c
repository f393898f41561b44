/* CFG- and data-parallel guidance (parallel-guider.h). */
#include "workers/parallel/parallel-guider.h"

#include <math.h>

typedef struct {
  int64_t batch;   /* B */
  int64_t chunk;   /* items per data group */
  int64_t start;   /* this rank's first item */
  int64_t count;   /* this rank's items (0 ..= chunk) */
} Slice;

static Slice
slice_of (const RlParallelSplit *split, int64_t batch, int data_index)
{
  Slice s = { .batch = batch };
  s.chunk = (batch + split->data_degree - 1) / split->data_degree;
  s.start = (int64_t) data_index * s.chunk;
  s.count = batch - s.start;
  s.count = s.count < 0 ? 0 : s.count > s.chunk ? s.chunk : s.count;
  return s;
}

static RlStatus
alloc_like (const RlParallelGuider *g, RlTensor *out, const RlTensor *x, int64_t rows)
{
  int64_t shape[RL_MAX_DIMS];
  for (int i = 0; i < x->ndim; i++)
    shape[i] = x->shape[i];
  shape[0] = rows;
  return rl_tensor_alloc (out, g->device.backend->context_allocator (g->device.ctx), RL_F32,
                          x->ndim, shape);
}

/* dst rows [dst_row, +rows) = src rows [src_row, +rows). */
static RlStatus
copy_rows (const RlParallelGuider *g, RlTensor *dst, int64_t dst_row, const RlTensor *src,
           int64_t src_row, int64_t rows)
{
  RlTensor to = { 0 }, from = { 0 };
  RlStatus s = rl_tensor_narrow (&to, dst, 0, dst_row, rows);
  if (s == RL_OK)
    s = rl_tensor_narrow (&from, src, 0, src_row, rows);
  if (s == RL_OK)
    s = g->device.backend->ops->copy (g->device.ctx, &to, &from);
  rl_tensor_release (&to);
  rl_tensor_release (&from);
  return s;
}

/* uncond + (cond − uncond) · cfg into cond, rounding as the one-rank
 * guider does (denoiser.c); cond · cfg when cfg is 1. */
static RlStatus
combine (const RlParallelGuider *g, RlTensor *cond, const RlTensor *uncond)
{
  const RlOps *ops = g->device.backend->ops;
  RlContext *ctx = g->device.ctx;
  if (rl_cfg_is_one (g->cfg))
    return ops->scale_shift (ctx, cond, cond, (float) g->cfg, 0.0f);
  RlStatus s = ops->add (ctx, cond, cond, uncond, 1.0f, -1.0f);
  if (s == RL_OK)
    s = ops->add (ctx, cond, uncond, cond, 1.0f, (float) g->cfg);
  return s;
}

/* This rank's piece: its conditioning (CFG-parallel) or the guided
 * prediction (data-parallel only) of its batch slice. */
static RlStatus
compute_piece (const RlParallelGuider *g, RlTensor *piece, const RlTensor *x, float sigma,
               const Slice *slice)
{
  const RlParallelSplit *split = g->split;
  RlTensor x_slice = { 0 }, out = { 0 }, uncond = { 0 };
  RlStatus s = rl_tensor_narrow (&x_slice, x, 0, slice->start, slice->count);
  if (s == RL_OK)
    s = rl_tensor_narrow (&out, piece, 0, 0, slice->count);
  if (s == RL_OK && split->cfg_degree == 2)
    {
      RlCondKind cond = split->cfg_index == 0 ? RL_COND_POSITIVE : RL_COND_NEGATIVE;
      /* With cfg 1 the negative prompt is never evaluated (ComfyUI). */
      if (cond == RL_COND_POSITIVE || !rl_cfg_is_one (g->cfg))
        s = g->predict (g->user, &out, &x_slice, sigma, cond, slice->start);
    }
  else if (s == RL_OK)
    {
      s = g->predict (g->user, &out, &x_slice, sigma, RL_COND_POSITIVE, slice->start);
      if (s == RL_OK && !rl_cfg_is_one (g->cfg))
        {
          s = alloc_like (g, &uncond, x, slice->count);
          if (s == RL_OK)
            s = g->predict (g->user, &uncond, &x_slice, sigma, RL_COND_NEGATIVE, slice->start);
        }
      if (s == RL_OK)
        s = combine (g, &out, &uncond);
    }
  rl_tensor_release (&x_slice);
  rl_tensor_release (&out);
  rl_tensor_release (&uncond);
  return s;
}

/* The whole denoised latent from the gathered pieces, in the order of the
 * split communicator: piece (data d, cfg c) at rank d·cfg + c. */
static RlStatus
assemble (const RlParallelGuider *g, RlTensor *denoised, const RlTensor *gathered,
          const RlTensor *x)
{
  const RlParallelSplit *split = g->split;
  int64_t batch = x->shape[0];
  RlTensor uncond = { 0 };
  RlStatus s = RL_OK;
  if (split->cfg_degree == 2 && !rl_cfg_is_one (g->cfg))
    s = alloc_like (g, &uncond, x, batch);
  for (int d = 0; d < split->data_degree && s == RL_OK; d++)
    {
      Slice slice = slice_of (split, batch, d);
      if (slice.count == 0)
        continue;
      int64_t first = (int64_t) d * split->cfg_degree * slice.chunk;
      s = copy_rows (g, denoised, slice.start, gathered, first, slice.count);
      if (s == RL_OK && uncond.data != NULL)
        s = copy_rows (g, &uncond, slice.start, gathered, first + slice.chunk, slice.count);
    }
  if (s == RL_OK && split->cfg_degree == 2)
    s = combine (g, denoised, &uncond);
  rl_tensor_release (&uncond);
  return s;
}

static RlStatus
parallel_denoise (void *user, RlTensor *denoised, const RlTensor *x, float sigma)
{
  RlParallelGuider *g = user;
  const RlParallelSplit *split = g->split;
  if (!isfinite (g->cfg))
    return rl_set_error (RL_E_INVALID_ARG, "cfg is %g; use a finite scale "
                         "(1 disables the negative prompt)", g->cfg);
  int ranks = split->cfg_degree * split->data_degree;
  if (split->comm == NULL || rl_comm_size (split->comm) != ranks)
    return rl_set_error (RL_E_INVALID_ARG, "CFG %d × data %d parallel guidance needs a "
                         "communicator of %d ranks", split->cfg_degree, split->data_degree,
                         ranks);
  Slice slice = slice_of (split, x->shape[0], split->data_index);
  RlTensor piece = { 0 }, gathered = { 0 };
  RlStatus s = alloc_like (g, &piece, x, slice.chunk);
  if (s == RL_OK)
    s = alloc_like (g, &gathered, x, slice.chunk * ranks);
  /* Padding rows travel too (all-gather takes equal pieces): zero them. */
  if (s == RL_OK && slice.count < slice.chunk)
    s = g->device.backend->ops->fill (g->device.ctx, &piece, 0.0f);
  if (s == RL_OK && slice.count > 0)
    s = compute_piece (g, &piece, x, sigma, &slice);
  if (s != RL_OK)
    s = rl_prefix_error (s, "CFG/data-parallel rank (cfg %d, data %d) at sigma %g: ",
                         split->cfg_index, split->data_index, (double) sigma);
  /* A rank whose forward failed still leaves the others to their timeout:
   * the pool cancels them as soon as this rank reports the failure. */
  if (s == RL_OK)
    s = rl_comm_all_gather (split->comm, &gathered, &piece);
  if (s == RL_OK)
    s = assemble (g, denoised, &gathered, x);
  rl_tensor_release (&piece);
  rl_tensor_release (&gathered);
  return s;
}

RlDenoiser
rl_parallel_guider_denoiser (RlParallelGuider *guider)
{
  return (RlDenoiser) { .denoise = parallel_denoise, .user = guider };
}
