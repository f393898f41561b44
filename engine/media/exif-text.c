#include "engine/media/exif-text.h"

#include <string.h>

#include "engine/engine-error.h"

enum {
  TIFF_ASCII = 2,
  TIFF_UNDEFINED = 7,
  IFD_ENTRY_SIZE = 12,
};

static void
put_le16 (guint8  *p,
          guint16  v)
{
  p[0] = v & 0xff;
  p[1] = v >> 8;
}

static void
put_le32 (guint8  *p,
          guint32  v)
{
  for (int i = 0; i < 4; i++)
    p[i] = (v >> (8 * i)) & 0xff;
}

/* Entry indices of @tags in ascending tag order (insertion sort: a
 * handful of entries). */
static guint *
order_by_tag (const guint16 *tags,
              guint          n)
{
  guint *order = g_new (guint, MAX (n, 1));
  for (guint i = 0; i < n; i++)
    {
      guint j = i;
      for (; j > 0 && tags[order[j - 1]] > tags[i]; j--)
        order[j] = order[j - 1];
      order[j] = i;
    }
  return order;
}

GBytes *
rl_exif_build_ascii (const guint16      *tags,
                     const char * const *values,
                     guint               n)
{
  g_return_val_if_fail (n < 64, NULL);

  /* Layout: header (8) | IFD: count (2), entries, next-IFD (4) | values. */
  g_autofree guint *order = order_by_tag (tags, n);

  gsize ifd_size = 2 + (gsize) n * IFD_ENTRY_SIZE + 4;
  gsize total = 8 + ifd_size;
  for (guint i = 0; i < n; i++)
    {
      gsize count = strlen (values[i]) + 1;
      total += count > 4 ? count + (count & 1) : 0;
    }
  g_return_val_if_fail (total <= G_MAXUINT32, NULL);

  guint8 *block = g_malloc0 (total);
  memcpy (block, "II*\0", 4);
  put_le32 (block + 4, 8);
  put_le16 (block + 8, (guint16) n);
  gsize value_offset = 8 + ifd_size;
  for (guint k = 0; k < n; k++)
    {
      guint i = order[k];
      guint8 *entry = block + 10 + (gsize) k * IFD_ENTRY_SIZE;
      gsize count = strlen (values[i]) + 1;
      put_le16 (entry, tags[i]);
      put_le16 (entry + 2, TIFF_ASCII);
      put_le32 (entry + 4, (guint32) count);
      if (count <= 4)
        {
          memcpy (entry + 8, values[i], count);
          continue;
        }
      put_le32 (entry + 8, (guint32) value_offset);
      memcpy (block + value_offset, values[i], count);
      value_offset += count + (count & 1);
    }
  return g_bytes_new_take (block, total);
}

typedef struct {
  const guint8 *data;
  gsize         length;
  gboolean      big_endian;
} Tiff;

static guint32
tiff_u16 (const Tiff *t,
          gsize       at)
{
  const guint8 *p = t->data + at;
  return t->big_endian ? ((guint32) p[0] << 8) | p[1] : ((guint32) p[1] << 8) | p[0];
}

static guint32
tiff_u32 (const Tiff *t,
          gsize       at)
{
  const guint8 *p = t->data + at;
  return t->big_endian
         ? ((guint32) p[0] << 24) | ((guint32) p[1] << 16) | ((guint32) p[2] << 8) | p[3]
         : ((guint32) p[3] << 24) | ((guint32) p[2] << 16) | ((guint32) p[1] << 8) | p[0];
}

static gboolean
set_malformed (GError    **error,
               const char *path,
               const char *why)
{
  g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_MEDIA,
               "The EXIF metadata of “%s” is malformed: %s.", path, why);
  return FALSE;
}

/* The value bytes of the entry at @entry, or NULL when they lie outside. */
static const guint8 *
entry_value (const Tiff *t,
             gsize       entry,
             gsize      *count)
{
  *count = tiff_u32 (t, entry + 4);
  if (*count <= 4)
    return t->data + entry + 8;
  gsize offset = tiff_u32 (t, entry + 8);
  if (offset > t->length || *count > t->length - offset)
    return NULL;
  return t->data + offset;
}

gboolean
rl_exif_find_keyed (const guint8  *data,
                    gsize          length,
                    const char    *path,
                    const char    *key,
                    char         **text,
                    GError       **error)
{
  g_return_val_if_fail (data != NULL && key != NULL && text != NULL, FALSE);

  *text = NULL;
  if (length >= 6 && memcmp (data, "Exif\0\0", 6) == 0)
    {
      data += 6;
      length -= 6;
    }
  if (length < 8)
    return set_malformed (error, path, "the block is too short");

  Tiff t = { data, length, FALSE };
  if (memcmp (data, "MM\0*", 4) == 0)
    t.big_endian = TRUE;
  else if (memcmp (data, "II*\0", 4) != 0)
    return set_malformed (error, path, "no TIFF header");

  gsize ifd = tiff_u32 (&t, 4);
  if (ifd > length - 2)
    return set_malformed (error, path, "the first directory lies outside the block");
  guint n = tiff_u16 (&t, ifd);
  if ((gsize) n * IFD_ENTRY_SIZE > length - ifd - 2)
    return set_malformed (error, path, "the directory runs past the end of the block");

  gsize key_length = strlen (key);
  for (guint i = 0; i < n; i++)
    {
      gsize entry = ifd + 2 + (gsize) i * IFD_ENTRY_SIZE;
      guint type = tiff_u16 (&t, entry + 2);
      if (type != TIFF_ASCII && type != TIFF_UNDEFINED)
        continue;
      gsize count = 0;
      const guint8 *value = entry_value (&t, entry, &count);
      if (value == NULL)
        return set_malformed (error, path, "an entry's value lies outside the block");
      if (count > key_length && memcmp (value, key, key_length) == 0 && value[key_length] == ':')
        {
          const char *start = (const char *) value + key_length + 1;
          gsize n_chars = strnlen (start, count - key_length - 1);
          *text = g_strndup (start, n_chars);
          return TRUE;
        }
    }
  return TRUE;
}
