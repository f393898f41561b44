/* Writing one frame as a PNG the way ComfyUI's SaveImage does: 8-bit RGB,
 * with the job's prompt and workflow JSON in text chunks named "prompt"
 * and "workflow" placed right after IHDR. */
#pragma once

#include "engine/graph/image.h"

G_BEGIN_DECLS

/* Encodes frame @index of @image to @path (written whole or not at all)
 * with zlib level @compress_level (0..9; ComfyUI uses 4, previews 1).
 * @prompt_json / @workflow_json may be NULL to leave the chunk out.
 * Errors: RL_ENGINE_ERROR_IO naming the folder when it cannot be written;
 * RL_ENGINE_ERROR_MEDIA when encoding fails. */
gboolean  rl_png_write  (const char     *path,
                         const RlImage  *image,
                         guint           index,
                         int             compress_level,
                         const char     *prompt_json,
                         const char     *workflow_json,
                         GError        **error);

G_END_DECLS
