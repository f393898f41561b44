/* Live previews: the RGB frames a sampler reports (the workers project
 * the latent to RGB with the family's latent rgb factors, see
 * workers/worker/model-jobs.c) turned into textures the queue panel shows
 * and plays. */
#pragma once

#include <gtk/gtk.h>

#include "engine/engine-types.h"

G_BEGIN_DECLS

/* Frame @frame of @image as packed 8-bit RGB (width * height * 3 bytes),
 * values 0..1 scaled and rounded, out-of-range values clamped. */
GBytes     *rl_preview_frame_to_rgb8    (const RlImage *image,
                                         guint          frame);
/* Every frame of @image as GdkTexture (array owns them); empty for an
 * image without pixels. Safe on any thread. */
GPtrArray  *rl_preview_frames_textures  (const RlImage *image);

G_END_DECLS
