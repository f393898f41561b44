/* Conversions between the engine's float frames (RGB 0..1) and the 8-bit
 * packed RGB that encoders take. Internal to engine/media. */
#pragma once

#include "engine/graph/image.h"

G_BEGIN_DECLS

/* Frame @index of @image as packed RGB24 of @out_width x @out_height
 * (>= the image's size), rows @stride bytes apart. Values are quantised as
 * ComfyUI does (clamp(v * 255) then truncate; NaN gives 0); the extra
 * columns and rows, if any, repeat the last pixel so even-size padding does
 * not show a dark edge. */
void     rl_frame_to_rgb24    (const RlImage *image,
                               guint          index,
                               guint          out_width,
                               guint          out_height,
                               guint8        *rgb,
                               gsize          stride);
/* Fills frame @index of @image from packed 8-bit pixels with @channels
 * components (3 = RGB, 4 = RGBA; alpha is dropped), rows @stride apart. */
void     rl_frame_from_bytes  (RlImage       *image,
                               guint          index,
                               const guint8  *pixels,
                               guint          channels,
                               gsize          stride);

G_END_DECLS
