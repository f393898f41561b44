/* PNG chunk layout (length, type, data, CRC-32) and its text chunks, for
 * embedding and recovering ComfyUI's "prompt" / "workflow" entries.
 * Internal to engine/media. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Appends one text chunk "@keyword\0@text" to @out: tEXt when @text is
 * 7-bit ASCII (what ComfyUI's json.dumps produces), otherwise an
 * uncompressed iTXt so UTF-8 survives. */
void        rl_png_append_text_chunk  (GByteArray    *out,
                                       const char    *keyword,
                                       const char    *text);
/* Copies the PNG @png to a new array with @chunks (complete chunks) placed
 * right after IHDR. NULL when @png does not start with a valid IHDR. */
GByteArray *rl_png_insert_after_ihdr  (const guint8  *png,
                                       gsize          png_length,
                                       const guint8  *chunks,
                                       gsize          chunks_length);
/* The text of the first tEXt, zTXt, iTXt or ComfyUI "comf" chunk whose
 * keyword is @keyword, or NULL. FALSE with RL_ENGINE_ERROR_MEDIA naming
 * @path when the data is not a well-formed PNG (bad signature, chunk
 * running past the end, CRC mismatch in a text chunk). */
gboolean    rl_png_find_text          (const guint8  *png,
                                       gsize          png_length,
                                       const char    *path,
                                       const char    *keyword,
                                       char         **text,
                                       GError       **error);

G_END_DECLS
