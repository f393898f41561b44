/* Writing frames as an animated WebP the way ComfyUI's SaveAnimatedWEBP
 * does (Pillow over libwebp): each frame shown int(1000 / fps) ms, looping
 * forever, with the prompt and workflow JSON in the EXIF chunk — IFD0 tag
 * 0x0110 = "prompt:<json>", tag 0x010F = "workflow:<json>". */
#pragma once

#include "engine/graph/image.h"

G_BEGIN_DECLS

typedef struct {
  double       fps;            /* > 0; frame duration is int(1000 / fps) ms, at least 1 */
  gboolean     lossless;
  int          quality;        /* 0..100: quality when lossy, effort when lossless */
  int          method;         /* 0 (fastest) .. 6 (slowest); ComfyUI "default" is 4 */
  const char  *prompt_json;    /* NULL: left out */
  const char  *workflow_json;  /* NULL: left out */
} RlAnimatedWebpOptions;

/* ComfyUI's defaults: 6 fps, lossless, quality 80, method 4, no metadata. */
void      rl_animated_webp_options_init  (RlAnimatedWebpOptions        *options);

/* Encodes every frame of @frames to @path (written whole or not at all).
 * Errors: RL_ENGINE_ERROR_IO naming the folder when it cannot be written;
 * RL_ENGINE_ERROR_MEDIA for bad options or when libwebp fails. */
gboolean  rl_animated_webp_write         (const char                   *path,
                                          const RlImage                *frames,
                                          const RlAnimatedWebpOptions  *options,
                                          GError                      **error);

G_END_DECLS
