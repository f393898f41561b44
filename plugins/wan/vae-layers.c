/* The building blocks of the Wan VAE on the op table: causal convs with
 * their feature cache, residual blocks, per-frame attention, resampling,
 * Wan 2.2's parameter-free stage shortcuts and pixel (un)patchify.
 *
 * Feature cache (comfy/ldm/wan/vae.py CausalConv3d + the callers' cache_x
 * bookkeeping): a cached conv runs on cat(previous frames, x) with its
 * front zero padding (2 frames) reduced by the number of previous frames,
 * then keeps the last CACHE_T = 2 frames of cat(previous, x) — exactly the
 * reference's "x[:, :, -2:], with the old last frame put in front when x
 * has one frame". */
#include "plugins/wan/vae-internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define VAE_NORM_EPS 1e-12f   /* F.normalize */

RlStatus
vae_alloc (WanVae  *v,
           RlTensor *t,
           RlDType  dtype,
           int64_t  b,
           int64_t  c,
           int64_t  n,
           int64_t  h,
           int64_t  w)
{
  const int64_t shape[5] = { b, c, n, h, w };

  return rl_tensor_alloc (t, v->backend->context_allocator (v->ctx), dtype, 5, shape);
}

void
vae_move (RlTensor *dst,
          RlTensor *src)
{
  rl_tensor_release (dst);
  *dst = *src;
  memset (src, 0, sizeof *src);
}

static RlStatus
alloc_like (WanVae         *v,
            RlTensor       *t,
            const RlTensor *x)
{
  return vae_alloc (v, t, v->act_dtype, x->shape[0], x->shape[1], x->shape[2], x->shape[3], x->shape[4]);
}

/* A view of `base`'s memory starting `offset` elements in, with explicit
 * geometry (sharing its storage). */
static RlStatus
strided_view (RlTensor       *out,
              const RlTensor *base,
              int64_t         offset,
              int             ndim,
              const int64_t  *shape,
              const int64_t  *strides)
{
  char *data = (char *) base->data + offset * (int64_t) rl_dtype_block_bytes (base->dtype);

  return rl_tensor_wrap (out, data, base->device, base->dtype, ndim, shape, strides, base->storage);
}

RlStatus
vae_run_begin (VaeRun         *run,
               WanVae         *v,
               const VaeCoder *coder)
{
  memset (run, 0, sizeof *run);
  run->vae = v;
  run->n_slots = coder->n_slots;
  run->first_chunk = true;
  run->slots = calloc ((size_t) coder->n_slots, sizeof *run->slots);
  if (run->slots == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "wan vae: out of memory for the feature cache");
  return RL_OK;
}

void
vae_run_end (VaeRun *run)
{
  for (int i = 0; i < run->n_slots && run->slots != NULL; i++)
    rl_tensor_release (&run->slots[i].frames);
  free (run->slots);
  run->slots = NULL;
}

/* y = conv(x) with `params`, y allocated here in the activation dtype. */
static RlStatus
conv (WanVae             *v,
      const VaeConv      *c,
      const RlTensor     *x,
      const RlConvParams *p,
      RlTensor           *y)
{
  int64_t out[3];

  for (int i = 0; i < 3; i++)
    out[i] = (x->shape[2 + i] + p->pad_before[i] + p->pad_after[i] - c->weight.shape[2 + i]) / p->stride[i] + 1;
  TRY (vae_alloc (v, y, v->act_dtype, x->shape[0], c->weight.shape[0], out[0], out[1], out[2]));
  return v->ops->conv3d (v->ctx, y, x, &c->weight, &c->bias, p);
}

RlStatus
vae_plain_conv (VaeRun        *run,
                const VaeConv *c,
                RlTensor      *x)
{
  const RlConvParams p = { .stride = { 1, 1, 1 } };
  RlTensor y = { 0 };
  RlStatus s = conv (run->vae, c, x, &p, &y);

  if (s == RL_OK)
    vae_move (x, &y);
  rl_tensor_release (&y);
  return s;
}

static RlStatus
check_slot (const VaeSlot  *slot,
            const RlTensor *x,
            int64_t         frames)
{
  const RlTensor *f = &slot->frames;

  if (f->data == NULL)
    return RL_OK;
  if (f->shape[0] != x->shape[0] || f->shape[1] != x->shape[1] || f->shape[2] != frames ||
      f->shape[3] != x->shape[3] || f->shape[4] != x->shape[4])
    return rl_set_error (RL_E_INTERNAL, "wan vae: feature cache of another shape (a chunk changed size)");
  return RL_OK;
}

/* Keeps frames [start, start + n) of `src` as the slot's cache. */
static RlStatus
keep_frames (WanVae         *v,
             VaeSlot        *slot,
             const RlTensor *src,
             int64_t         start,
             int64_t         n,
             int64_t         capacity)
{
  RlTensor dst = { 0 }, from = { 0 };
  RlStatus s = RL_OK;

  if (slot->frames.data == NULL)
    s = vae_alloc (v, &slot->frames, src->dtype, src->shape[0], src->shape[1], capacity, src->shape[3],
                   src->shape[4]);
  if (s == RL_OK) s = rl_tensor_narrow (&dst, &slot->frames, 2, 0, n);
  if (s == RL_OK) s = rl_tensor_narrow (&from, src, 2, start, n);
  if (s == RL_OK) s = v->ops->copy (v->ctx, &dst, &from);
  if (s == RL_OK) slot->count = (int) n;
  rl_tensor_release (&dst);
  rl_tensor_release (&from);
  return s;
}

/* The causal conv keeping `cache_frames` (1 or 2) input frames for the
 * next chunk; its front padding is always 2 minus the cached frames. */
static RlStatus
causal_conv_keeping (VaeRun        *run,
                     const VaeConv *c,
                     int            slot_index,
                     int            pad_hw,
                     int64_t        cache_frames,
                     RlTensor      *x)
{
  WanVae *v = run->vae;
  VaeSlot *slot = &run->slots[slot_index];
  const int n = slot->count;
  const int64_t total = n + x->shape[2], keep = total < cache_frames ? total : cache_frames;
  const RlConvParams p = {
    .stride = { 1, 1, 1 },
    .pad_before = { n >= VAE_CACHE_T ? 0 : VAE_CACHE_T - n, pad_hw, pad_hw },
    .pad_after = { 0, pad_hw, pad_hw },
  };
  RlTensor xin = { 0 }, cached = { 0 }, y = { 0 };
  RlStatus s = check_slot (slot, x, VAE_CACHE_T);

  if (s == RL_OK && n > 0)
    {
      const RlTensor *parts[2] = { &cached, x };
      s = rl_tensor_narrow (&cached, &slot->frames, 2, 0, n);
      if (s == RL_OK)
        s = vae_alloc (v, &xin, x->dtype, x->shape[0], x->shape[1], total, x->shape[3], x->shape[4]);
      if (s == RL_OK)
        s = v->ops->concat (v->ctx, &xin, parts, 2, 2);
    }
  else if (s == RL_OK)
    s = rl_tensor_view (&xin, x);
  if (s == RL_OK) s = conv (v, c, &xin, &p, &y);
  if (s == RL_OK) s = keep_frames (v, slot, &xin, total - keep, keep, VAE_CACHE_T);
  if (s == RL_OK) vae_move (x, &y);
  rl_tensor_release (&y);
  rl_tensor_release (&cached);
  rl_tensor_release (&xin);
  return s;
}

RlStatus
vae_causal_conv (VaeRun        *run,
                 const VaeConv *c,
                 int            slot_index,
                 int            pad_hw,
                 RlTensor      *x)
{
  return causal_conv_keeping (run, c, slot_index, pad_hw, VAE_CACHE_T, x);
}

/* ComfyUI's 2.1 time conv (vae.py since 2026): frame by frame, each seeing
 * [0, previous frame, frame], the cache holding one frame. */
static RlStatus
time_conv_frame_by_frame (VaeRun            *run,
                          const VaeResample *r,
                          RlTensor          *x)
{
  WanVae *v = run->vae;
  const int64_t T = x->shape[2];
  RlTensor out = { 0 }, src = { 0 }, frame = { 0 }, dst = { 0 };
  RlStatus s = vae_alloc (v, &out, x->dtype, x->shape[0], r->time_conv.weight.shape[0], T, x->shape[3],
                          x->shape[4]);

  for (int64_t t = 0; s == RL_OK && t < T; t++)
    {
      /* A contiguous copy of frame t, replaced by its conv output. */
      s = rl_tensor_narrow (&src, x, 2, t, 1);
      if (s == RL_OK) s = vae_alloc (v, &frame, x->dtype, x->shape[0], x->shape[1], 1, x->shape[3], x->shape[4]);
      if (s == RL_OK) s = v->ops->copy (v->ctx, &frame, &src);
      if (s == RL_OK) s = causal_conv_keeping (run, &r->time_conv, r->slot, 0, 1, &frame);
      if (s == RL_OK) s = rl_tensor_narrow (&dst, &out, 2, t, 1);
      if (s == RL_OK) s = v->ops->copy (v->ctx, &dst, &frame);
      rl_tensor_release (&dst);
      rl_tensor_release (&frame);
      rl_tensor_release (&src);
    }
  if (s == RL_OK)
    vae_move (x, &out);
  rl_tensor_release (&out);
  return s;
}

RlStatus
vae_res_block (VaeRun            *run,
               const VaeResBlock *b,
               RlTensor          *x)
{
  WanVae *v = run->vae;
  const RlOps *ops = v->ops;
  RlTensor h = { 0 }, shortcut = { 0 };
  RlStatus s = alloc_like (v, &h, x);

  if (s == RL_OK) s = ops->channel_rms_norm (v->ctx, &h, x, &b->gamma_in, NULL, VAE_NORM_EPS);
  if (s == RL_OK) s = ops->activation (v->ctx, &h, &h, RL_ACT_SILU);
  if (s == RL_OK) s = vae_causal_conv (run, &b->conv_in, b->slot_in, 1, &h);
  if (s == RL_OK) s = ops->channel_rms_norm (v->ctx, &h, &h, &b->gamma_out, NULL, VAE_NORM_EPS);
  if (s == RL_OK) s = ops->activation (v->ctx, &h, &h, RL_ACT_SILU);
  if (s == RL_OK) s = vae_causal_conv (run, &b->conv_out, b->slot_out, 1, &h);
  if (s == RL_OK && b->shortcut.weight.data != NULL)
    {
      s = rl_tensor_view (&shortcut, x);
      if (s == RL_OK) s = vae_plain_conv (run, &b->shortcut, &shortcut);
      if (s == RL_OK) s = ops->add (v->ctx, &h, &h, &shortcut, 1.0f, 1.0f);
    }
  else if (s == RL_OK)
    s = ops->add (v->ctx, &h, &h, x, 1.0f, 1.0f);
  if (s == RL_OK)
    vae_move (x, &h);
  rl_tensor_release (&shortcut);
  rl_tensor_release (&h);
  return s;
}

/* Per frame: x + proj(attention(q, k, v)) over the H·W pixels, one head of
 * width C, q/k/v = 1×1 convs of RMS_norm(x). Tokens are [B·T, H·W, C]. */
RlStatus
vae_attention (VaeRun             *run,
               const VaeAttention *a,
               RlTensor           *x)
{
  WanVae *v = run->vae;
  const RlOps *ops = v->ops;
  RlAllocator *alloc = v->backend->context_allocator (v->ctx);
  const int64_t B = x->shape[0], C = x->shape[1], T = x->shape[2], L = x->shape[3] * x->shape[4];
  const int64_t chan4[4] = { B, C, T, L }, tok4[4] = { B, T, L, C }, tok3[3] = { B * T, L, C };
  const int64_t head4[4] = { B * T, L, 1, C };
  const int to_tokens[4] = { 0, 2, 3, 1 }, to_channels[4] = { 0, 3, 1, 2 };
  RlTensor h = { 0 }, h4 = { 0 }, hp = { 0 }, tok = { 0 }, tok_flat = { 0 };
  RlTensor q = { 0 }, k = { 0 }, val = { 0 }, o = { 0 }, qh = { 0 }, kh = { 0 }, vh = { 0 }, oh = { 0 };
  RlTensor proj = { 0 }, proj4 = { 0 }, projp = { 0 }, y = { 0 }, y4 = { 0 }, x4 = { 0 };
  RlStatus s = alloc_like (v, &h, x);

  if (s == RL_OK) s = ops->channel_rms_norm (v->ctx, &h, x, &a->gamma, NULL, VAE_NORM_EPS);
  if (s == RL_OK) s = rl_tensor_reshape (&h4, &h, 4, chan4);
  if (s == RL_OK) s = rl_tensor_permute (&hp, &h4, to_tokens);
  if (s == RL_OK) s = rl_tensor_alloc (&tok, alloc, v->act_dtype, 4, tok4);
  if (s == RL_OK) s = ops->copy (v->ctx, &tok, &hp);
  if (s == RL_OK) s = rl_tensor_reshape (&tok_flat, &tok, 3, tok3);
  if (s == RL_OK) s = rl_tensor_alloc (&q, alloc, v->act_dtype, 3, tok3);
  if (s == RL_OK) s = rl_tensor_alloc (&k, alloc, v->act_dtype, 3, tok3);
  if (s == RL_OK) s = rl_tensor_alloc (&val, alloc, v->act_dtype, 3, tok3);
  if (s == RL_OK) s = rl_tensor_alloc (&o, alloc, v->act_dtype, 3, tok3);
  if (s == RL_OK) s = ops->gemm (v->ctx, &q, &tok_flat, &a->w_q, &a->b_q, RL_ACT_NONE);
  if (s == RL_OK) s = ops->gemm (v->ctx, &k, &tok_flat, &a->w_k, &a->b_k, RL_ACT_NONE);
  if (s == RL_OK) s = ops->gemm (v->ctx, &val, &tok_flat, &a->w_v, &a->b_v, RL_ACT_NONE);
  if (s == RL_OK) s = rl_tensor_reshape (&qh, &q, 4, head4);
  if (s == RL_OK) s = rl_tensor_reshape (&kh, &k, 4, head4);
  if (s == RL_OK) s = rl_tensor_reshape (&vh, &val, 4, head4);
  if (s == RL_OK) s = rl_tensor_reshape (&oh, &o, 4, head4);
  if (s == RL_OK)
    s = ops->attention (v->ctx, &oh, NULL, &qh, &kh, &vh, (float) (1.0 / sqrt ((double) C)));
  if (s == RL_OK) s = rl_tensor_alloc (&proj, alloc, v->act_dtype, 3, tok3);
  if (s == RL_OK) s = ops->gemm (v->ctx, &proj, &o, &a->w_proj, &a->b_proj, RL_ACT_NONE);
  if (s == RL_OK) s = rl_tensor_reshape (&proj4, &proj, 4, tok4);
  if (s == RL_OK) s = rl_tensor_permute (&projp, &proj4, to_channels);
  if (s == RL_OK) s = alloc_like (v, &y, x);
  if (s == RL_OK) s = rl_tensor_reshape (&y4, &y, 4, chan4);
  if (s == RL_OK) s = rl_tensor_reshape (&x4, x, 4, chan4);
  if (s == RL_OK) s = ops->add (v->ctx, &y4, &projp, &x4, 1.0f, 1.0f);
  if (s == RL_OK)
    vae_move (x, &y);
  {
    RlTensor *all[] = { &h, &h4, &hp, &tok, &tok_flat, &q, &k, &val, &o, &qh, &kh, &vh, &oh,
                        &proj, &proj4, &projp, &y, &y4, &x4 };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
      rl_tensor_release (all[i]);
  }
  return s;
}

/* upsample3d's time conv (C → 2C, kernel 3×1×1, causal) and the frame
 * interleave (B, 2, C, T) → (B, C, 2T): frame 2t+j = channels [jC, (j+1)C)
 * of conv frame t. The first chunk skips it (the 'Rep' rule). With
 * upsample_time_cache 1 (Wan 2.1 as ComfyUI decodes it) the conv runs frame
 * by frame on a one-frame cache; with 2 (the original Wan code, and 2.2)
 * on the whole chunk with two cached frames (vae.h). */
static RlStatus
upsample_time (VaeRun            *run,
               const VaeResample *r,
               RlTensor          *x)
{
  WanVae *v = run->vae;
  VaeSlot *slot = &run->slots[r->slot];
  const int64_t B = x->shape[0], C = x->shape[1], T = x->shape[2], HW = x->shape[3] * x->shape[4];
  const int64_t conv5[5] = { B, 2, C, T, HW }, out5[5] = { B, C, T, 2, HW };
  const int interleave[5] = { 0, 2, 3, 1, 4 };
  RlTensor t = { 0 }, t5 = { 0 }, tp = { 0 }, out = { 0 }, out5v = { 0 };
  RlStatus s;

  if (!slot->seen)
    {
      slot->seen = true;
      return RL_OK;
    }
  s = rl_tensor_view (&t, x);
  if (s == RL_OK && v->config.upsample_time_cache == 1)
    s = time_conv_frame_by_frame (run, r, &t);
  else if (s == RL_OK)
    s = vae_causal_conv (run, &r->time_conv, r->slot, 0, &t);
  if (s == RL_OK) s = vae_alloc (v, &out, v->act_dtype, B, C, 2 * T, x->shape[3], x->shape[4]);
  if (s == RL_OK) s = rl_tensor_reshape (&t5, &t, 5, conv5);
  if (s == RL_OK) s = rl_tensor_permute (&tp, &t5, interleave);
  if (s == RL_OK) s = rl_tensor_reshape (&out5v, &out, 5, out5);
  if (s == RL_OK) s = v->ops->copy (v->ctx, &out5v, &tp);
  if (s == RL_OK) vae_move (x, &out);
  rl_tensor_release (&out5v);
  rl_tensor_release (&tp);
  rl_tensor_release (&t5);
  rl_tensor_release (&out);
  rl_tensor_release (&t);
  return s;
}

/* downsample3d's time conv (kernel 3×1×1, stride 2, no padding) on
 * cat(last frame of the previous chunk, x); the first chunk only stores
 * its last frame (1 frame stays 1). */
static RlStatus
downsample_time (VaeRun            *run,
                 const VaeResample *r,
                 RlTensor          *x)
{
  WanVae *v = run->vae;
  VaeSlot *slot = &run->slots[r->slot];
  const int64_t T = x->shape[2];
  const RlConvParams p = { .stride = { 2, 1, 1 } };
  RlTensor prev = { 0 }, xin = { 0 }, y = { 0 };
  RlStatus s = check_slot (slot, x, 1);

  if (s == RL_OK && slot->count == 0)
    return keep_frames (v, slot, x, T - 1, 1, 1);
  if (s == RL_OK && T + 1 < 3)
    return rl_set_error (RL_E_SHAPE, "wan vae: a temporal downsample needs at least 2 new frames, got %lld "
                         "(encode feeds frames 1, 4, 4, ...)", (long long) T);
  if (s == RL_OK)
    {
      const RlTensor *parts[2] = { &prev, x };
      s = rl_tensor_view (&prev, &slot->frames);
      if (s == RL_OK)
        s = vae_alloc (v, &xin, x->dtype, x->shape[0], x->shape[1], T + 1, x->shape[3], x->shape[4]);
      if (s == RL_OK)
        s = v->ops->concat (v->ctx, &xin, parts, 2, 2);
    }
  if (s == RL_OK) s = conv (v, &r->time_conv, &xin, &p, &y);
  if (s == RL_OK) s = keep_frames (v, slot, x, T - 1, 1, 1);
  if (s == RL_OK) vae_move (x, &y);
  rl_tensor_release (&y);
  rl_tensor_release (&xin);
  rl_tensor_release (&prev);
  return s;
}

/* Per frame: nearest 2× + 3×3 conv (pad 1) up, or ZeroPad2d((0, 1, 0, 1))
 * + 3×3 conv stride 2 down; the 3-D modes add their time conv (before the
 * spatial part up, after it down). */
static RlStatus
resample (VaeRun            *run,
          const VaeResample *r,
          RlTensor          *x)
{
  WanVae *v = run->vae;
  RlTensor up = { 0 }, y = { 0 };
  RlStatus s = RL_OK;

  if (r->mode == VAE_RESAMPLE_NONE)
    return RL_OK;
  if (r->mode == VAE_UPSAMPLE_3D)
    TRY (upsample_time (run, r, x));
  if (r->mode == VAE_UPSAMPLE_2D || r->mode == VAE_UPSAMPLE_3D)
    {
      const RlConvParams p = { .stride = { 1, 1, 1 }, .pad_before = { 0, 1, 1 }, .pad_after = { 0, 1, 1 } };
      s = vae_alloc (v, &up, v->act_dtype, x->shape[0], x->shape[1], x->shape[2], 2 * x->shape[3],
                     2 * x->shape[4]);
      if (s == RL_OK) s = v->ops->upsample_nearest2x (v->ctx, &up, x);
      if (s == RL_OK) s = conv (v, &r->conv, &up, &p, &y);
    }
  else
    {
      const RlConvParams p = { .stride = { 1, 2, 2 }, .pad_after = { 0, 1, 1 } };
      s = conv (v, &r->conv, x, &p, &y);
    }
  if (s == RL_OK)
    vae_move (x, &y);
  rl_tensor_release (&up);
  rl_tensor_release (&y);
  if (s == RL_OK && r->mode == VAE_DOWNSAMPLE_3D)
    s = downsample_time (run, r, x);
  return s;
}

/* Wan 2.2 AvgDown3D of the stage input, added to x: front-pad T to a
 * multiple of ft, fold the (t, h, w) sub-positions into channels
 * (channel c·factor + (i·fs + j)·fs + k) and average groups of
 * in·factor/out consecutive channels. */
static RlStatus
add_avg_down (VaeRun         *run,
              const VaeStage *st,
              const RlTensor *x_in,
              RlTensor       *x)
{
  WanVae *v = run->vae;
  const int ft = st->factor_t, fs = st->factor_s, factor = ft * fs * fs;
  const int64_t B = x_in->shape[0], C = x_in->shape[1], H = x_in->shape[3], W = x_in->shape[4];
  const int64_t pad_t = (ft - x_in->shape[2] % ft) % ft, T = x_in->shape[2] + pad_t;
  const int64_t Tq = T / ft, Hq = H / fs, Wq = W / fs, vol = Tq * Hq * Wq;
  const int64_t group = C * factor / st->out_dim;
  RlTensor padded = { 0 }, folded = { 0 }, grouped = { 0 }, mean = { 0 }, mean5 = { 0 };
  RlStatus s = RL_OK;

  if ((C * factor) % st->out_dim != 0 || H % fs != 0 || W % fs != 0)
    return rl_set_error (RL_E_SHAPE, "wan vae: AvgDown3D of %lld channels %lldx%lld to %d channels "
                         "does not divide evenly", (long long) C, (long long) H, (long long) W, st->out_dim);
  if (pad_t > 0)
    {
      const int64_t before[5] = { 0, 0, pad_t, 0, 0 }, after[5] = { 0 };
      s = vae_alloc (v, &padded, x_in->dtype, B, C, T, H, W);
      if (s == RL_OK)
        s = v->ops->pad (v->ctx, &padded, x_in, before, after, RL_PAD_CONSTANT, 0.0f);
    }
  else
    s = rl_tensor_view (&padded, x_in);
  if (s == RL_OK) s = vae_alloc (v, &folded, x_in->dtype, B, C * factor, Tq, Hq, Wq);
  for (int i = 0; s == RL_OK && i < ft; i++)
    for (int j = 0; s == RL_OK && j < fs; j++)
      for (int k = 0; s == RL_OK && k < fs; k++)
        {
          const int q = (i * fs + j) * fs + k;
          const int64_t shape[5] = { B, C, Tq, Hq, Wq };
          const int64_t dst_strides[5] = { C * factor * vol, factor * vol, Hq * Wq, Wq, 1 };
          const int64_t src_strides[5] = { C * T * H * W, T * H * W, ft * H * W, fs * W, fs };
          RlTensor dst = { 0 }, src = { 0 };
          s = strided_view (&dst, &folded, q * vol, 5, shape, dst_strides);
          if (s == RL_OK)
            s = strided_view (&src, &padded, i * H * W + j * W + k, 5, shape, src_strides);
          if (s == RL_OK)
            s = v->ops->copy (v->ctx, &dst, &src);
          rl_tensor_release (&dst);
          rl_tensor_release (&src);
        }
  if (s == RL_OK)
    {
      const int64_t g4[4] = { B, st->out_dim, group, vol }, m4[4] = { B, st->out_dim, 1, vol };
      const int64_t m5[5] = { B, st->out_dim, Tq, Hq, Wq };
      s = rl_tensor_reshape (&grouped, &folded, 4, g4);
      if (s == RL_OK) s = rl_tensor_alloc (&mean, v->backend->context_allocator (v->ctx), x_in->dtype, 4, m4);
      if (s == RL_OK) s = v->ops->reduce (v->ctx, &mean, &grouped, 2, RL_REDUCE_MEAN);
      if (s == RL_OK) s = rl_tensor_reshape (&mean5, &mean, 5, m5);
      if (s == RL_OK && !rl_tensor_same_shape (&mean5, x))
        s = rl_set_error (RL_E_INTERNAL, "wan vae: AvgDown3D shortcut and main path disagree in shape");
      if (s == RL_OK) s = v->ops->add (v->ctx, x, x, &mean5, 1.0f, 1.0f);
    }
  rl_tensor_release (&mean5);
  rl_tensor_release (&mean);
  rl_tensor_release (&grouped);
  rl_tensor_release (&folded);
  rl_tensor_release (&padded);
  return s;
}

/* Wan 2.2 DupUp3D of the stage input, added to x: channels repeated
 * out·factor/in times and unfolded into (t, h, w) sub-positions, so output
 * channel o at sub-position q = (i·fs + j)·fs + k reads input channel
 * (o·factor + q)/repeats; the first chunk drops its first ft − 1 frames. */
static RlStatus
add_dup_up (VaeRun         *run,
            const VaeStage *st,
            const RlTensor *x_in,
            RlTensor       *x)
{
  WanVae *v = run->vae;
  const int ft = st->factor_t, fs = st->factor_s, factor = ft * fs * fs;
  const int64_t B = x_in->shape[0], C = x_in->shape[1], T = x_in->shape[2], H = x_in->shape[3];
  const int64_t W = x_in->shape[4], O = st->out_dim;
  const int64_t To = T * ft, Ho = H * fs, Wo = W * fs, drop = run->first_chunk ? ft - 1 : 0;
  const int64_t repeats = O * factor / C, step = C / O;
  RlTensor full = { 0 }, used = { 0 };
  RlStatus s = RL_OK;

  if ((O * factor) % C != 0 || C % O != 0 || repeats * step != factor)
    return rl_set_error (RL_E_SHAPE, "wan vae: DupUp3D from %lld to %lld channels is not a whole repeat",
                         (long long) C, (long long) O);
  s = vae_alloc (v, &full, x_in->dtype, B, O, To, Ho, Wo);
  for (int i = 0; s == RL_OK && i < ft; i++)
    for (int j = 0; s == RL_OK && j < fs; j++)
      for (int k = 0; s == RL_OK && k < fs; k++)
        {
          const int q = (i * fs + j) * fs + k;
          const int64_t shape[5] = { B, O, T, H, W };
          const int64_t dst_strides[5] = { O * To * Ho * Wo, To * Ho * Wo, ft * Ho * Wo, fs * Wo, fs };
          const int64_t src_strides[5] = { C * T * H * W, step * T * H * W, H * W, W, 1 };
          RlTensor dst = { 0 }, src = { 0 };
          s = strided_view (&dst, &full, i * Ho * Wo + j * Wo + k, 5, shape, dst_strides);
          if (s == RL_OK)
            s = strided_view (&src, x_in, (q / repeats) * T * H * W, 5, shape, src_strides);
          if (s == RL_OK)
            s = v->ops->copy (v->ctx, &dst, &src);
          rl_tensor_release (&dst);
          rl_tensor_release (&src);
        }
  if (s == RL_OK) s = rl_tensor_narrow (&used, &full, 2, drop, To - drop);
  if (s == RL_OK && !rl_tensor_same_shape (&used, x))
    s = rl_set_error (RL_E_INTERNAL, "wan vae: DupUp3D shortcut and main path disagree in shape");
  if (s == RL_OK) s = v->ops->add (v->ctx, x, x, &used, 1.0f, 1.0f);
  rl_tensor_release (&used);
  rl_tensor_release (&full);
  return s;
}

RlStatus
vae_stage (VaeRun         *run,
           const VaeStage *st,
           RlTensor       *x)
{
  RlTensor x_in = { 0 };
  RlStatus s = RL_OK;

  if (st->has_shortcut)
    s = rl_tensor_view (&x_in, x);
  for (int j = 0; s == RL_OK && j < st->n_res; j++)
    s = vae_res_block (run, &st->res[j], x);
  if (s == RL_OK)
    s = resample (run, &st->resample, x);
  if (s == RL_OK && st->has_shortcut)
    s = st->decoder ? add_dup_up (run, st, &x_in, x) : add_avg_down (run, st, &x_in, x);
  rl_tensor_release (&x_in);
  return s;
}

RlStatus
vae_head (VaeRun         *run,
          const VaeCoder *c,
          RlTensor       *x)
{
  WanVae *v = run->vae;
  RlTensor h = { 0 };
  RlStatus s = alloc_like (v, &h, x);

  if (s == RL_OK) s = v->ops->channel_rms_norm (v->ctx, &h, x, &c->head_gamma, NULL, VAE_NORM_EPS);
  if (s == RL_OK) s = v->ops->activation (v->ctx, &h, &h, RL_ACT_SILU);
  if (s == RL_OK) s = vae_causal_conv (run, &c->head_conv, c->slot_head, 1, &h);
  if (s == RL_OK) vae_move (x, &h);
  rl_tensor_release (&h);
  return s;
}

/* "b c f (h q) (w r) <-> b (c r q) f h w", q = r = 2: pixel (2h+q, 2w+r)
 * of channel c is channel c·4 + r·2 + q. `to_patches` picks the way. */
static RlStatus
repack (WanVae         *v,
        const RlTensor *x,
        RlTensor       *out,
        bool            to_patches)
{
  const RlTensor *pix = to_patches ? x : out, *pat = to_patches ? out : x;
  const int64_t B = pix->shape[0], C = pix->shape[1], F = pix->shape[2], H = pix->shape[3], W = pix->shape[4];
  const int64_t h = H / 2, w = W / 2;
  const int64_t shape[5] = { B, C, F, h, w };
  const int64_t pat_strides[5] = { 4 * C * F * h * w, 4 * F * h * w, h * w, w, 1 };
  const int64_t pix_strides[5] = { C * F * H * W, F * H * W, H * W, 2 * W, 2 };
  RlStatus s = RL_OK;

  for (int q = 0; s == RL_OK && q < 2; q++)
    for (int r = 0; s == RL_OK && r < 2; r++)
      {
        RlTensor pv = { 0 }, xv = { 0 };
        s = strided_view (&pv, pat, (r * 2 + q) * F * h * w, 5, shape, pat_strides);
        if (s == RL_OK)
          s = strided_view (&xv, pix, q * W + r, 5, shape, pix_strides);
        if (s == RL_OK)
          s = to_patches ? v->ops->copy (v->ctx, &pv, &xv) : v->ops->copy (v->ctx, &xv, &pv);
        rl_tensor_release (&pv);
        rl_tensor_release (&xv);
      }
  return s;
}

RlStatus
vae_patchify (WanVae         *v,
              const RlTensor *x,
              RlTensor       *out)
{
  TRY (vae_alloc (v, out, x->dtype, x->shape[0], 4 * x->shape[1], x->shape[2], x->shape[3] / 2,
                  x->shape[4] / 2));
  return repack (v, x, out, true);
}

RlStatus
vae_unpatchify (WanVae         *v,
                const RlTensor *x,
                RlTensor       *out)
{
  TRY (vae_alloc (v, out, x->dtype, x->shape[0], x->shape[1] / 4, x->shape[2], 2 * x->shape[3],
                  2 * x->shape[4]));
  return repack (v, x, out, false);
}
