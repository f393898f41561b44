#include "engine/media/png-chunks.h"

#include <string.h>
#include <zlib.h>

#include "engine/engine-error.h"

static const guint8 png_signature[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

static guint32
read_be32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) | ((guint32) p[2] << 8) | p[3];
}

static void
append_be32 (GByteArray *out,
             guint32     v)
{
  guint8 b[4] = { v >> 24, v >> 16, v >> 8, v };
  g_byte_array_append (out, b, 4);
}

static gboolean
is_ascii (const char *text)
{
  for (const guchar *p = (const guchar *) text; *p != '\0'; p++)
    if (*p >= 0x80)
      return FALSE;
  return TRUE;
}

static void
append_chunk (GByteArray   *out,
              const char   *type,
              const guint8 *data,
              guint         length)
{
  append_be32 (out, length);
  guint crc_start = out->len;
  g_byte_array_append (out, (const guint8 *) type, 4);
  g_byte_array_append (out, data, length);
  uLong crc = crc32 (0L, out->data + crc_start, out->len - crc_start);
  append_be32 (out, (guint32) crc);
}

void
rl_png_append_text_chunk (GByteArray *out,
                          const char *keyword,
                          const char *text)
{
  g_return_if_fail (out != NULL && keyword != NULL && text != NULL);

  /* keyword NUL [iTXt only: compression flag 0, method 0, empty language
   * tag NUL, empty translated keyword NUL] text */
  static const guint8 itxt_fields[] = { 0, 0, 0, 0 };
  gboolean ascii = is_ascii (text);
  g_autoptr(GByteArray) data = g_byte_array_new ();
  g_byte_array_append (data, (const guint8 *) keyword, (guint) strlen (keyword) + 1);
  if (!ascii)
    g_byte_array_append (data, itxt_fields, sizeof itxt_fields);
  g_byte_array_append (data, (const guint8 *) text, (guint) strlen (text));
  append_chunk (out, ascii ? "tEXt" : "iTXt", data->data, data->len);
}

GByteArray *
rl_png_insert_after_ihdr (const guint8 *png,
                          gsize         png_length,
                          const guint8 *chunks,
                          gsize         chunks_length)
{
  g_return_val_if_fail (png != NULL, NULL);

  const gsize ihdr_end = 8 + 4 + 4 + 13 + 4;
  if (png_length < ihdr_end || memcmp (png, png_signature, 8) != 0
      || memcmp (png + 12, "IHDR", 4) != 0 || read_be32 (png + 8) != 13)
    return NULL;

  GByteArray *out = g_byte_array_sized_new ((guint) (png_length + chunks_length));
  g_byte_array_append (out, png, (guint) ihdr_end);
  g_byte_array_append (out, chunks, (guint) chunks_length);
  g_byte_array_append (out, png + ihdr_end, (guint) (png_length - ihdr_end));
  return out;
}

static char *
inflate_text (const guint8 *data,
              gsize         length)
{
  g_autoptr(GByteArray) out = g_byte_array_new ();
  z_stream zs = { 0 };
  if (inflateInit (&zs) != Z_OK)
    return NULL;
  zs.next_in = (Bytef *) data;
  zs.avail_in = (uInt) length;
  guint8 buffer[16384];
  int ret;
  do
    {
      zs.next_out = buffer;
      zs.avail_out = sizeof buffer;
      ret = inflate (&zs, Z_NO_FLUSH);
      if (ret != Z_OK && ret != Z_STREAM_END)
        break;
      g_byte_array_append (out, buffer, sizeof buffer - zs.avail_out);
    }
  while (ret != Z_STREAM_END && out->len < 256u * 1024 * 1024);
  inflateEnd (&zs);
  if (ret != Z_STREAM_END)
    return NULL;
  return g_strndup ((const char *) out->data, out->len);
}

/* The text of chunk @type with @data, when its keyword is @keyword. */
static char *
text_of_chunk (const char   *type,
               const guint8 *data,
               gsize         length,
               const char   *keyword)
{
  gsize key_length = strlen (keyword);
  if (length <= key_length || memcmp (data, keyword, key_length) != 0 || data[key_length] != '\0')
    return NULL;
  const guint8 *rest = data + key_length + 1;
  gsize rest_length = length - key_length - 1;

  if (memcmp (type, "tEXt", 4) == 0 || memcmp (type, "comf", 4) == 0)
    return g_strndup ((const char *) rest, rest_length);
  if (memcmp (type, "zTXt", 4) == 0)
    return rest_length >= 1 ? inflate_text (rest + 1, rest_length - 1) : NULL;
  if (memcmp (type, "iTXt", 4) != 0 || rest_length < 2)
    return NULL;

  gboolean compressed = rest[0] != 0;
  const guint8 *end = rest + rest_length;
  const guint8 *p = rest + 2;
  for (int skip = 0; skip < 2; skip++)   /* language tag, translated keyword */
    {
      p = memchr (p, '\0', (gsize) (end - p));
      if (p == NULL)
        return NULL;
      p++;
    }
  return compressed ? inflate_text (p, (gsize) (end - p))
                    : g_strndup ((const char *) p, (gsize) (end - p));
}

static gboolean
is_text_chunk (const guint8 *type)
{
  return memcmp (type, "tEXt", 4) == 0 || memcmp (type, "zTXt", 4) == 0
         || memcmp (type, "iTXt", 4) == 0 || memcmp (type, "comf", 4) == 0;
}

static gboolean
set_corrupt (GError    **error,
             const char *path,
             const char *why)
{
  g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_MEDIA,
               "“%s” is not a readable PNG file: %s.", path, why);
  return FALSE;
}

gboolean
rl_png_find_text (const guint8  *png,
                  gsize          png_length,
                  const char    *path,
                  const char    *keyword,
                  char         **text,
                  GError       **error)
{
  g_return_val_if_fail (png != NULL && keyword != NULL && text != NULL, FALSE);

  *text = NULL;
  if (png_length < 8 || memcmp (png, png_signature, 8) != 0)
    return set_corrupt (error, path, "the PNG signature is missing");

  gsize pos = 8;
  while (pos + 12 <= png_length)
    {
      guint32 length = read_be32 (png + pos);
      const guint8 *type = png + pos + 4;
      if (length > png_length - pos - 12)
        return set_corrupt (error, path, "a chunk runs past the end of the file (truncated?)");
      const guint8 *data = type + 4;
      if (is_text_chunk (type))
        {
          guint32 stored = read_be32 (data + length);
          if ((guint32) crc32 (0L, type, length + 4) != stored)
            return set_corrupt (error, path, "a text chunk fails its CRC check");
          char *found = text_of_chunk ((const char *) type, data, length, keyword);
          if (found != NULL)
            {
              *text = found;
              return TRUE;
            }
        }
      if (memcmp (type, "IEND", 4) == 0)
        return TRUE;
      pos += 12 + (gsize) length;
    }
  return set_corrupt (error, path, "the file ends before its IEND chunk (truncated?)");
}
