/* A minimal EXIF (TIFF) block carrying ASCII entries, the way ComfyUI
 * stores metadata in WebP files: IFD0 tag 0x0110 (Model) = "prompt:<json>"
 * and tag 0x010F (Make) = "workflow:<json>". Internal to engine/media. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define RL_EXIF_TAG_MAKE   0x010F
#define RL_EXIF_TAG_MODEL  0x0110

/* A little-endian TIFF block (no "Exif\0\0" prefix, as WebP's EXIF chunk
 * holds it) with one IFD of ASCII entries. @tags and @values are parallel
 * arrays of @n entries; entries are written sorted by tag. */
GBytes   *rl_exif_build_ascii   (const guint16       *tags,
                                 const char * const  *values,
                                 guint                n);
/* The text of every ASCII or UNDEFINED entry of IFD0 whose value starts
 * with "@key:", without that prefix; NULL when none. Accepts a leading
 * "Exif\0\0" and either byte order. FALSE with RL_ENGINE_ERROR_MEDIA
 * naming @path when the block is malformed. */
gboolean  rl_exif_find_keyed    (const guint8        *data,
                                 gsize                length,
                                 const char          *path,
                                 const char          *key,
                                 char               **text,
                                 GError             **error);

G_END_DECLS
