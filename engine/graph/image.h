/* Pixel and latent payloads as ComfyUI shapes them, kept on the host.
 *
 * IMAGE: a batch of frames, [n_frames, height, width, 3] float RGB in 0..1
 *        (ComfyUI's BHWC layout; a video is a batch of frames).
 * LATENT: samples [batch, channels, frames, height, width] float32, the
 *        5-D video layout; image latents use frames = 1. */
#pragma once

#include "engine/engine-types.h"

G_BEGIN_DECLS

struct _RlImage {
  guint   n_frames;
  guint   height;
  guint   width;
  float  *pixels;       /* n_frames * height * width * 3, owned */
};

struct _RlLatent {
  guint   batch;
  guint   channels;
  guint   frames;
  guint   height;
  guint   width;
  float  *samples;      /* batch * channels * frames * height * width, owned */
  gint64  batch_index;  /* ComfyUI's batch_index offset for seeds, usually 0 */
};

/* Allocate zeroed payloads; NULL with an error when the size would overflow
 * or exceed the limit a desktop machine can hold. */
RlImage  *rl_image_new              (guint           n_frames,
                                     guint           height,
                                     guint           width,
                                     GError        **error);
void      rl_image_free             (RlImage        *image);
gsize     rl_image_n_floats         (const RlImage  *image);

RlLatent *rl_latent_new             (guint           batch,
                                     guint           channels,
                                     guint           frames,
                                     guint           height,
                                     guint           width,
                                     GError        **error);
void      rl_latent_free            (RlLatent       *latent);
gsize     rl_latent_n_floats        (const RlLatent *latent);

/* Wrap as values of socket types "IMAGE" / "LATENT" (takes ownership). */
RlValue  *rl_value_new_image        (RlImage        *image);
RlValue  *rl_value_new_latent       (RlLatent       *latent);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RlImage, rl_image_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RlLatent, rl_latent_free)

G_END_DECLS
