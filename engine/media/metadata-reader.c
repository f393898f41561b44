#include "engine/media/metadata-reader.h"

#include <string.h>
#include <libavformat/avformat.h>

#include "engine/engine-error.h"
#include "engine/media/av-error.h"
#include "engine/media/exif-text.h"
#include "engine/media/file-kind.h"
#include "engine/media/png-chunks.h"

void
rl_media_metadata_free (RlMediaMetadata *metadata)
{
  if (metadata == NULL)
    return;
  g_free (metadata->prompt_json);
  g_free (metadata->workflow_json);
  g_free (metadata);
}

static gboolean
load_file (const char  *path,
           GBytes     **contents,
           GError     **error)
{
  g_autoptr(GError) local = NULL;
  char *data = NULL;
  gsize length = 0;
  if (!g_file_get_contents (path, &data, &length, &local))
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_IO, "%s", local->message);
      return FALSE;
    }
  *contents = g_bytes_new_take (data, length);
  return TRUE;
}

static gboolean
read_png (const char       *path,
          RlMediaMetadata  *metadata,
          GError          **error)
{
  g_autoptr(GBytes) contents = NULL;
  if (!load_file (path, &contents, error))
    return FALSE;
  gsize length = 0;
  const guint8 *data = g_bytes_get_data (contents, &length);
  return rl_png_find_text (data, length, path, "prompt", &metadata->prompt_json, error)
         && rl_png_find_text (data, length, path, "workflow", &metadata->workflow_json, error);
}

static guint32
read_le32 (const guint8 *p)
{
  return (guint32) p[0] | ((guint32) p[1] << 8) | ((guint32) p[2] << 16) | ((guint32) p[3] << 24);
}

/* The EXIF chunk of a RIFF/WebP file, or NULL (not an error) when absent. */
static gboolean
find_webp_exif (const guint8  *data,
                gsize          length,
                const char    *path,
                const guint8 **exif,
                gsize         *exif_length,
                GError       **error)
{
  *exif = NULL;
  gsize pos = 12;
  while (pos + 8 <= length)
    {
      guint32 size = read_le32 (data + pos + 4);
      if (size > length - pos - 8)
        {
          g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_MEDIA,
                       "“%s” is not a readable WebP file: a chunk runs past the "
                       "end of the file (truncated?).", path);
          return FALSE;
        }
      if (memcmp (data + pos, "EXIF", 4) == 0)
        {
          *exif = data + pos + 8;
          *exif_length = size;
          return TRUE;
        }
      pos += 8 + (gsize) size + (size & 1);
    }
  return TRUE;
}

static gboolean
read_webp (const char       *path,
           RlMediaMetadata  *metadata,
           GError          **error)
{
  g_autoptr(GBytes) contents = NULL;
  if (!load_file (path, &contents, error))
    return FALSE;
  gsize length = 0;
  const guint8 *data = g_bytes_get_data (contents, &length);
  const guint8 *exif = NULL;
  gsize exif_length = 0;
  if (!find_webp_exif (data, length, path, &exif, &exif_length, error))
    return FALSE;
  if (exif == NULL)
    return TRUE;
  return rl_exif_find_keyed (exif, exif_length, path, "prompt", &metadata->prompt_json, error)
         && rl_exif_find_keyed (exif, exif_length, path, "workflow", &metadata->workflow_json, error);
}

static gboolean
read_container_tags (const char       *path,
                     RlMediaMetadata  *metadata,
                     GError          **error)
{
  AVFormatContext *format = NULL;
  int ret = avformat_open_input (&format, path, NULL, NULL);
  if (ret < 0)
    return rl_set_av_error (error, ret, "Cannot read the metadata of", path,
                            "It is not a PNG, WebP or video file FFmpeg understands.");
  /* Tag names are matched case-insensitively: Matroska stores them upper-case. */
  AVDictionaryEntry *prompt = av_dict_get (format->metadata, "prompt", NULL, 0);
  AVDictionaryEntry *workflow = av_dict_get (format->metadata, "workflow", NULL, 0);
  metadata->prompt_json = prompt != NULL ? g_strdup (prompt->value) : NULL;
  metadata->workflow_json = workflow != NULL ? g_strdup (workflow->value) : NULL;
  avformat_close_input (&format);
  return TRUE;
}

RlMediaMetadata *
rl_media_metadata_read (const char  *path,
                        GError     **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  RlFileKind kind;
  if (!rl_file_kind_sniff (path, &kind, error))
    return NULL;

  g_autoptr(RlMediaMetadata) metadata = g_new0 (RlMediaMetadata, 1);
  gboolean ok;
  switch (kind)
    {
    case RL_FILE_KIND_PNG:
      ok = read_png (path, metadata, error);
      break;
    case RL_FILE_KIND_WEBP:
      ok = read_webp (path, metadata, error);
      break;
    case RL_FILE_KIND_OTHER:
    default:
      ok = read_container_tags (path, metadata, error);
      break;
    }
  if (!ok)
    return NULL;
  if (metadata->prompt_json == NULL && metadata->workflow_json == NULL)
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_MEDIA,
                   "“%s” has no embedded workflow or prompt. It was saved without "
                   "metadata or by another program.", path);
      return NULL;
    }
  return g_steal_pointer (&metadata);
}
