/* Bad input and bad places: unwritable folders, missing metadata, corrupt
 * and truncated files. Each must be a clear error, never a crash or a
 * silently short result. */
#include <string.h>
#include <unistd.h>
#include <libavutil/log.h>

#include "engine/engine-error.h"
#include "engine/media/animated-webp-writer.h"
#include "engine/media/metadata-reader.h"
#include "engine/media/png-writer.h"
#include "engine/media/video-reader.h"
#include "engine/media/video-writer.h"
#include "media-test-util.h"

typedef struct {
  GRand   *rand;
  char    *dir;
  RlImage *frames;
} Fixture;

static void
fixture_set_up (Fixture       *fx,
                gconstpointer  data)
{
  fx->rand = media_test_rand ();
  fx->dir = media_test_mkdtemp ();
  fx->frames = media_test_frames (fx->rand, 9, 48, 64);
}

static void
fixture_tear_down (Fixture       *fx,
                   gconstpointer  data)
{
  g_chmod (fx->dir, 0700);
  media_test_rmdir (fx->dir);
  g_free (fx->dir);
  rl_image_free (fx->frames);
  g_rand_free (fx->rand);
}

/* Writes @frames in each format into @folder; each must fail with
 * RL_ENGINE_ERROR_IO naming @folder. */
static void
assert_every_writer_refuses (Fixture    *fx,
                             const char *folder)
{
  g_autofree char *mp4 = g_build_filename (folder, "out.mp4", NULL);
  g_autofree char *png = g_build_filename (folder, "out.png", NULL);
  g_autofree char *webp = g_build_filename (folder, "out.webp", NULL);
  RlVideoWriteOptions video_options;
  rl_video_write_options_init (&video_options);
  RlAnimatedWebpOptions webp_options;
  rl_animated_webp_options_init (&webp_options);

  for (int format = 0; format < 3; format++)
    {
      g_autoptr(GError) error = NULL;
      gboolean ok = format == 0 ? rl_video_write (mp4, fx->frames, &video_options, &error)
                  : format == 1 ? rl_png_write (png, fx->frames, 0, 4, "{}", NULL, &error)
                                : rl_animated_webp_write (webp, fx->frames, &webp_options, &error);
      g_assert_false (ok);
      g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_IO);
      g_assert_nonnull (strstr (error->message, folder));
    }
}

static void
test_missing_folder (Fixture       *fx,
                     gconstpointer  data)
{
  g_autofree char *folder = g_strdup_printf ("%s/no-such-folder-%u", fx->dir, g_rand_int (fx->rand));
  assert_every_writer_refuses (fx, folder);
}

static void
test_file_as_folder (Fixture       *fx,
                     gconstpointer  data)
{
  g_autofree char *file = g_build_filename (fx->dir, "plain-file", NULL);
  g_assert_true (g_file_set_contents (file, "x", 1, NULL));
  assert_every_writer_refuses (fx, file);
}

static void
test_read_only_folder (Fixture       *fx,
                       gconstpointer  data)
{
  if (geteuid () == 0)
    {
      g_test_skip ("root writes into read-only folders");
      return;
    }
  g_assert_cmpint (g_chmod (fx->dir, 0500), ==, 0);
  assert_every_writer_refuses (fx, fx->dir);
}

static char *
write_png (Fixture    *fx,
           const char *name,
           const char *prompt)
{
  g_autoptr(GError) error = NULL;
  char *path = g_build_filename (fx->dir, name, NULL);
  g_assert_true (rl_png_write (path, fx->frames, 0, 1, prompt, NULL, &error));
  g_assert_no_error (error);
  return path;
}

static char *
write_video (Fixture          *fx,
             const char       *name,
             RlVideoContainer  container,
             const char       *prompt)
{
  g_autoptr(GError) error = NULL;
  char *path = g_build_filename (fx->dir, name, NULL);
  RlVideoWriteOptions options;
  rl_video_write_options_init (&options);
  options.container = container;
  options.codec = container == RL_VIDEO_CONTAINER_WEBM ? RL_VIDEO_CODEC_VP9 : RL_VIDEO_CODEC_H264;
  options.preset = "ultrafast";
  options.prompt_json = prompt;
  g_assert_true (rl_video_write (path, fx->frames, &options, &error));
  g_assert_no_error (error);
  return path;
}

static char *
write_webp (Fixture    *fx,
            const char *name,
            const char *prompt)
{
  g_autoptr(GError) error = NULL;
  char *path = g_build_filename (fx->dir, name, NULL);
  RlAnimatedWebpOptions options;
  rl_animated_webp_options_init (&options);
  options.method = 0;
  options.prompt_json = prompt;
  g_assert_true (rl_animated_webp_write (path, fx->frames, &options, &error));
  g_assert_no_error (error);
  return path;
}

static void
assert_no_metadata (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RlMediaMetadata) meta = rl_media_metadata_read (path, &error);
  g_assert_null (meta);
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_MEDIA);
  g_assert_nonnull (strstr (error->message, "no embedded workflow or prompt"));
  g_assert_nonnull (strstr (error->message, path));
}

static void
test_no_metadata (Fixture       *fx,
                  gconstpointer  data)
{
  g_autofree char *png = write_png (fx, "bare.png", NULL);
  g_autofree char *mp4 = write_video (fx, "bare.mp4", RL_VIDEO_CONTAINER_MP4, NULL);
  g_autofree char *webm = write_video (fx, "bare.webm", RL_VIDEO_CONTAINER_WEBM, NULL);
  g_autofree char *webp = write_webp (fx, "bare.webp", NULL);
  assert_no_metadata (png);
  assert_no_metadata (mp4);
  assert_no_metadata (webm);
  assert_no_metadata (webp);
}

static void
test_missing_file (Fixture       *fx,
                   gconstpointer  data)
{
  g_autofree char *path = g_build_filename (fx->dir, "absent.mp4", NULL);
  g_autoptr(GError) error = NULL;
  g_assert_null (rl_video_read (path, 0, &error));
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_IO);
  g_assert_nonnull (strstr (error->message, path));
  g_clear_error (&error);
  g_assert_null (rl_media_metadata_read (path, &error));
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_IO);
  g_clear_error (&error);
  g_assert_null (rl_video_read (fx->dir, 0, &error));
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_IO);
}

/* Both readers refuse @path with RL_ENGINE_ERROR_MEDIA naming it. */
static void
assert_unreadable (const char *path,
                   gboolean    metadata_too)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RlVideo) video = rl_video_read (path, 0, &error);
  if (video != NULL)
    g_error ("decoding %s gave %u frames instead of an error", path, video->frames->n_frames);
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_MEDIA);
  g_assert_nonnull (strstr (error->message, path));
  g_test_message ("%s", error->message);
  if (!metadata_too)
    return;
  g_clear_error (&error);
  g_autoptr(RlMediaMetadata) meta = rl_media_metadata_read (path, &error);
  g_assert_null (meta);
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_MEDIA);
  g_test_message ("%s", error->message);
}

static void
test_garbage (Fixture       *fx,
              gconstpointer  data)
{
  gsize length = (gsize) g_rand_int_range (fx->rand, 64, 4096);
  g_autofree guint8 *bytes = g_malloc (length);
  for (gsize i = 0; i < length; i++)
    bytes[i] = (guint8) g_rand_int (fx->rand);
  g_autofree char *path = g_build_filename (fx->dir, "garbage.mp4", NULL);
  g_assert_true (g_file_set_contents (path, (const char *) bytes, (gssize) length, NULL));
  assert_unreadable (path, TRUE);

  g_autofree char *empty = g_build_filename (fx->dir, "empty.png", NULL);
  g_assert_true (g_file_set_contents (empty, "", 0, NULL));
  assert_unreadable (empty, TRUE);
}

/* Cuts @path to a random length between @min_fraction and @max_fraction
 * of its size. */
static void
truncate_randomly (Fixture    *fx,
                   const char *path,
                   double      min_fraction,
                   double      max_fraction)
{
  g_autofree char *contents = NULL;
  gsize length = 0;
  g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
  gsize keep = (gsize) (length * g_rand_double_range (fx->rand, min_fraction, max_fraction));
  g_test_message ("keeping %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " bytes of %s", keep, length, path);
  g_assert_true (g_file_set_contents (path, contents, (gssize) keep, NULL));
}

static void
test_truncated (Fixture       *fx,
                gconstpointer  data)
{
  g_autofree char *mp4 = write_video (fx, "cut.mp4", RL_VIDEO_CONTAINER_MP4, "{}");
  g_autofree char *webm = write_video (fx, "cut.webm", RL_VIDEO_CONTAINER_WEBM, "{}");
  g_autofree char *webp = write_webp (fx, "cut.webp", "{}");
  g_autofree char *png = write_png (fx, "cut.png", "{}");
  /* Keep the headers: cut inside the frame data. */
  truncate_randomly (fx, mp4, 0.4, 0.9);
  /* WebM's count is estimated from its duration, with a frame of slack. */
  truncate_randomly (fx, webm, 0.4, 0.6);
  truncate_randomly (fx, webp, 0.2, 0.9);
  truncate_randomly (fx, png, 0.2, 0.9);
  assert_unreadable (mp4, FALSE);
  assert_unreadable (webm, FALSE);
  assert_unreadable (webp, TRUE);
  assert_unreadable (png, FALSE);
}

/* A PNG cut inside its text chunk, and one whose text chunk was altered:
 * the metadata reader must not return damaged JSON. */
static void
test_png_damaged_text (Fixture       *fx,
                       gconstpointer  data)
{
  g_autofree char *prompt = g_strdup_printf ("{\"seed\": %u, \"pad\": \"%0200d\"}", g_rand_int (fx->rand), 7);
  g_autofree char *path = write_png (fx, "damaged.png", prompt);
  g_autofree char *contents = NULL;
  gsize length = 0;
  g_assert_true (g_file_get_contents (path, &contents, &length, NULL));

  /* signature 8 + IHDR 25 + tEXt header 8, then the chunk data. */
  gsize flip = 33 + 8 + (gsize) g_rand_int_range (fx->rand, 0, (gint32) strlen (prompt));
  contents[flip] ^= 0x20;
  g_assert_true (g_file_set_contents (path, contents, (gssize) length, NULL));
  g_autoptr(GError) error = NULL;
  g_assert_null (rl_media_metadata_read (path, &error));
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_MEDIA);
  g_assert_nonnull (strstr (error->message, "CRC"));
  g_clear_error (&error);

  contents[flip] ^= 0x20;
  gsize cut = 33 + 8 + (gsize) g_rand_int_range (fx->rand, 1, (gint32) strlen (prompt));
  g_assert_true (g_file_set_contents (path, contents, (gssize) cut, NULL));
  g_assert_null (rl_media_metadata_read (path, &error));
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_MEDIA);
  g_assert_nonnull (strstr (error->message, "truncated"));
}

/* A name taken between the counter scan and the rename is never
 * clobbered: the second writer fails and the first file stays whole. */
static void
test_existing_file_kept (Fixture       *fx,
                         gconstpointer  data)
{
  g_autofree char *path = write_png (fx, "taken.png", "{\"first\": 1}");
  g_autoptr(GError) error = NULL;
  g_assert_false (rl_png_write (path, fx->frames, 1, 1, "{\"second\": 2}", NULL, &error));
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_IO);
  g_assert_nonnull (strstr (error->message, path));
  g_clear_error (&error);
  g_autoptr(RlMediaMetadata) meta = rl_media_metadata_read (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (meta->prompt_json, ==, "{\"first\": 1}");
  g_assert_cmpuint (media_test_count_files (fx->dir), ==, 1);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  av_log_set_level (AV_LOG_QUIET);
#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/media/errors/write/missing-folder", test_missing_folder);
  ADD ("/media/errors/write/file-as-folder", test_file_as_folder);
  ADD ("/media/errors/write/read-only-folder", test_read_only_folder);
  ADD ("/media/errors/write/existing-file-kept", test_existing_file_kept);
  ADD ("/media/errors/read/no-metadata", test_no_metadata);
  ADD ("/media/errors/read/missing-file", test_missing_file);
  ADD ("/media/errors/read/garbage", test_garbage);
  ADD ("/media/errors/read/truncated", test_truncated);
  ADD ("/media/errors/read/png-damaged-text", test_png_damaged_text);
#undef ADD
  return g_test_run ();
}
