/* Every output format written, decoded back and checked: frame count,
 * size, frame rate, pixels (PSNR) and the embedded prompt/workflow. */
#include <libavutil/log.h>

#include "engine/engine-error.h"
#include <zlib.h>

#include "engine/media/animated-webp-writer.h"
#include "engine/media/exif-text.h"
#include "engine/media/png-chunks.h"
#include "engine/media/metadata-reader.h"
#include "engine/media/png-writer.h"
#include "engine/media/video-reader.h"
#include "engine/media/video-writer.h"
#include "media-test-util.h"

typedef struct {
  GRand   *rand;
  char    *dir;
  RlImage *frames;
  char    *prompt;     /* random, so a stale file cannot pass */
  char    *workflow;   /* carries non-ASCII text, like real user titles */
} Fixture;

static void
fixture_set_up (Fixture       *fx,
                gconstpointer  data)
{
  fx->rand = media_test_rand ();
  fx->dir = media_test_mkdtemp ();
  fx->frames = media_test_frames (fx->rand, 9, 48, 64);
  guint32 token = g_rand_int (fx->rand);
  fx->prompt = g_strdup_printf ("{\"3\": {\"class_type\": \"KSampler\", \"inputs\": {\"seed\": %u}}}", token);
  fx->workflow = g_strdup_printf ("{\"last_node_id\": 9, \"nodes\": [{\"id\": 3, \"title\": "
                                  "\"Café ☕ %u\"}], \"version\": 0.4}", token);
}

static void
fixture_tear_down (Fixture       *fx,
                   gconstpointer  data)
{
  media_test_rmdir (fx->dir);
  g_free (fx->dir);
  rl_image_free (fx->frames);
  g_free (fx->prompt);
  g_free (fx->workflow);
  g_rand_free (fx->rand);
}

static void
assert_metadata (Fixture    *fx,
                 const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RlMediaMetadata) meta = rl_media_metadata_read (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (meta->prompt_json, ==, fx->prompt);
  g_assert_cmpstr (meta->workflow_json, ==, fx->workflow);
}

static void
assert_psnr_above (const RlImage *in,
                   const RlImage *out,
                   double         min_db)
{
  for (guint f = 0; f < in->n_frames; f++)
    {
      double db = media_test_psnr (in, f, out, f);
      g_test_message ("frame %u: PSNR %.1f dB", f, db);
      g_assert_cmpfloat (db, >, min_db);
    }
}

static RlVideo *
write_and_read_video (Fixture          *fx,
                      const char       *name,
                      const RlImage    *frames,
                      RlVideoContainer  container,
                      RlVideoCodec      codec,
                      int               crf,
                      char            **path_out)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (fx->dir, name, NULL);
  RlVideoWriteOptions options;
  rl_video_write_options_init (&options);
  options.container = container;
  options.codec = codec;
  options.crf = crf;
  options.preset = "ultrafast";
  options.prompt_json = fx->prompt;
  options.workflow_json = fx->workflow;
  g_assert_true (rl_video_write (path, frames, &options, &error));
  g_assert_no_error (error);
  /* Nothing but the output remains: the temporary file was renamed. */
  g_assert_cmpuint (media_test_count_files (fx->dir), ==, 1);

  RlVideo *video = rl_video_read (path, 0, &error);
  g_assert_no_error (error);
  g_assert_nonnull (video);
  if (path_out != NULL)
    *path_out = g_steal_pointer (&path);
  return video;
}

static void
test_mp4_h264 (Fixture       *fx,
               gconstpointer  data)
{
  g_autofree char *path = NULL;
  g_autoptr(RlVideo) video = write_and_read_video (fx, "out.mp4", fx->frames, RL_VIDEO_CONTAINER_MP4,
                                                   RL_VIDEO_CODEC_H264, 0, &path);
  g_assert_cmpuint (video->frames->n_frames, ==, 9);
  g_assert_cmpuint (video->frames->width, ==, 64);
  g_assert_cmpuint (video->frames->height, ==, 48);
  g_assert_cmpint (video->fps_num, ==, 24);
  g_assert_cmpint (video->fps_den, ==, 1);
  /* crf 0 keeps ~49 dB; a BT.601/709 mix-up between writer and reader
   * drops well below 40. */
  assert_psnr_above (fx->frames, video->frames, 40.0);
  assert_metadata (fx, path);
}

static void
test_webm_vp9 (Fixture       *fx,
               gconstpointer  data)
{
  g_autofree char *path = NULL;
  g_autoptr(RlVideo) video = write_and_read_video (fx, "out.webm", fx->frames, RL_VIDEO_CONTAINER_WEBM,
                                                   RL_VIDEO_CODEC_VP9, 4, &path);
  g_assert_cmpuint (video->frames->n_frames, ==, 9);
  g_assert_cmpuint (video->frames->width, ==, 64);
  g_assert_cmpuint (video->frames->height, ==, 48);
  g_assert_cmpfloat_with_epsilon (rl_video_get_fps (video), 24.0, 0.01);
  assert_psnr_above (fx->frames, video->frames, 38.0);
  assert_metadata (fx, path);
}

/* yuv420p needs even sizes: odd ones are padded by one repeated edge. */
static void
test_odd_size (Fixture       *fx,
               gconstpointer  data)
{
  g_autoptr(RlImage) odd = media_test_frames (fx->rand, 5, 33, 47);
  g_autoptr(RlVideo) video = write_and_read_video (fx, "odd.mp4", odd, RL_VIDEO_CONTAINER_MP4,
                                                   RL_VIDEO_CODEC_H264, 0, NULL);
  g_assert_cmpuint (video->frames->n_frames, ==, 5);
  g_assert_cmpuint (video->frames->width, ==, 48);
  g_assert_cmpuint (video->frames->height, ==, 34);
  assert_psnr_above (odd, video->frames, 38.0);
}

/* NTSC-style rates survive as fractions (ComfyUI rounds to 1/1000). */
static void
test_fractional_fps (Fixture       *fx,
                     gconstpointer  data)
{
  int num = 0, den = 0;
  g_assert_true (rl_fps_to_rational (23.976, &num, &den));
  g_assert_cmpint (num, ==, 2997);
  g_assert_cmpint (den, ==, 125);
  g_assert_false (rl_fps_to_rational (0.0, &num, &den));
  g_assert_false (rl_fps_to_rational (NAN, &num, &den));

  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (fx->dir, "ntsc.mp4", NULL);
  RlVideoWriteOptions options;
  rl_video_write_options_init (&options);
  options.fps_num = num;
  options.fps_den = den;
  options.preset = "ultrafast";
  g_assert_true (rl_video_write (path, fx->frames, &options, &error));
  g_assert_no_error (error);
  g_autoptr(RlVideo) video = rl_video_read (path, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat_with_epsilon (rl_video_get_fps (video), 23.976, 0.001);
  g_assert_cmpuint (video->frames->n_frames, ==, 9);
}

static void
test_webm_needs_vp9 (Fixture       *fx,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (fx->dir, "bad.webm", NULL);
  RlVideoWriteOptions options;
  rl_video_write_options_init (&options);
  options.container = RL_VIDEO_CONTAINER_WEBM;
  options.codec = RL_VIDEO_CODEC_H264;
  g_assert_false (rl_video_write (path, fx->frames, &options, &error));
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_MEDIA);
  g_assert_nonnull (strstr (error->message, "vp9"));
  g_assert_cmpuint (media_test_count_files (fx->dir), ==, 0);
}

/* An encoder that refuses its options fails after the temporary file was
 * made: it must not be left behind. */
static void
test_failed_encode_leaves_nothing (Fixture       *fx,
                                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (fx->dir, "bad.mp4", NULL);
  RlVideoWriteOptions options;
  rl_video_write_options_init (&options);
  options.preset = "no-such-preset";
  g_assert_false (rl_video_write (path, fx->frames, &options, &error));
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_MEDIA);
  g_assert_cmpuint (media_test_count_files (fx->dir), ==, 0);
}

static void
test_png (Fixture       *fx,
          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (fx->dir, "out.png", NULL);
  guint index = g_rand_int_range (fx->rand, 0, (gint32) fx->frames->n_frames);
  g_assert_true (rl_png_write (path, fx->frames, index, 4, fx->prompt, fx->workflow, &error));
  g_assert_no_error (error);

  g_autoptr(RlVideo) still = rl_video_read (path, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (still->frames->n_frames, ==, 1);
  g_assert_cmpuint (still->frames->width, ==, 64);
  g_assert_cmpuint (still->frames->height, ==, 48);
  g_assert_cmpint (still->fps_num, ==, 0);
  /* Lossless: exactly the quantised input. */
  g_assert_cmpfloat (media_test_psnr (fx->frames, index, still->frames, 0), >=, 99.0);
  assert_metadata (fx, path);
}

/* A prompt alone (no workflow, as when a job came from the API). */
static void
test_png_prompt_only (Fixture       *fx,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (fx->dir, "api.png", NULL);
  g_assert_true (rl_png_write (path, fx->frames, 0, 1, fx->prompt, NULL, &error));
  g_autoptr(RlMediaMetadata) meta = rl_media_metadata_read (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (meta->prompt_json, ==, fx->prompt);
  g_assert_null (meta->workflow_json);
}

static RlVideo *
write_and_read_webp (Fixture  *fx,
                     gboolean  lossless,
                     char    **path_out)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (fx->dir, "out.webp", NULL);
  RlAnimatedWebpOptions options;
  rl_animated_webp_options_init (&options);
  options.fps = 8.0;
  options.lossless = lossless;
  options.method = 0;
  options.prompt_json = fx->prompt;
  options.workflow_json = fx->workflow;
  g_assert_true (rl_animated_webp_write (path, fx->frames, &options, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (media_test_count_files (fx->dir), ==, 1);
  RlVideo *video = rl_video_read (path, 0, &error);
  g_assert_no_error (error);
  *path_out = g_steal_pointer (&path);
  return video;
}

static void
test_webp_lossless (Fixture       *fx,
                    gconstpointer  data)
{
  g_autofree char *path = NULL;
  g_autoptr(RlVideo) video = write_and_read_webp (fx, TRUE, &path);
  g_assert_cmpuint (video->frames->n_frames, ==, 9);
  g_assert_cmpuint (video->frames->width, ==, 64);
  g_assert_cmpuint (video->frames->height, ==, 48);
  g_assert_cmpfloat_with_epsilon (rl_video_get_fps (video), 8.0, 1e-9);
  assert_psnr_above (fx->frames, video->frames, 98.0);
  assert_metadata (fx, path);
}

static void
test_webp_lossy (Fixture       *fx,
                 gconstpointer  data)
{
  g_autofree char *path = NULL;
  g_autoptr(RlVideo) video = write_and_read_webp (fx, FALSE, &path);
  g_assert_cmpuint (video->frames->n_frames, ==, 9);
  assert_psnr_above (fx->frames, video->frames, 25.0);
  assert_metadata (fx, path);
}

static void
test_max_frames (Fixture       *fx,
                 gconstpointer  data)
{
  g_autoptr(RlVideo) video = write_and_read_video (fx, "out.mp4", fx->frames, RL_VIDEO_CONTAINER_MP4,
                                                   RL_VIDEO_CODEC_H264, 10, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (fx->dir, "out.mp4", NULL);
  g_autoptr(RlVideo) first = rl_video_read (path, 3, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (first->frames->n_frames, ==, 3);
  gsize frame_floats = (gsize) first->frames->width * first->frames->height * 3;
  g_assert_cmpmem (first->frames->pixels + 2 * frame_floats, frame_floats * sizeof (float),
                   video->frames->pixels + 2 * frame_floats, frame_floats * sizeof (float));
}

/* Layouts other writers use: a zTXt (compressed) PNG chunk, and a
 * big-endian EXIF block with the "Exif\0\0" header some tools keep. */
static void
test_foreign_layouts (Fixture       *fx,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *bare = g_build_filename (fx->dir, "bare.png", NULL);
  g_assert_true (rl_png_write (bare, fx->frames, 0, 1, NULL, NULL, &error));
  g_autofree char *png = NULL;
  gsize png_length = 0;
  g_assert_true (g_file_get_contents (bare, &png, &png_length, NULL));

  /* zTXt: keyword NUL method(0) zlib-data, framed and CRC'd by hand. */
  uLongf packed_length = compressBound (strlen (fx->workflow));
  g_autofree guint8 *packed = g_malloc (packed_length);
  g_assert_cmpint (compress (packed, &packed_length, (const Bytef *) fx->workflow,
                             strlen (fx->workflow)), ==, Z_OK);
  g_autoptr(GByteArray) chunk = g_byte_array_new ();
  guint32 length = (guint32) (sizeof "workflow" + 1 + packed_length);
  guint8 be[4] = { length >> 24, length >> 16, length >> 8, length };
  g_byte_array_append (chunk, be, 4);
  g_byte_array_append (chunk, (const guint8 *) "zTXtworkflow\0\0", 4 + sizeof "workflow" + 1);
  g_byte_array_append (chunk, packed, (guint) packed_length);
  guint32 crc = (guint32) crc32 (0L, chunk->data + 4, chunk->len - 4);
  guint8 crc_be[4] = { crc >> 24, crc >> 16, crc >> 8, crc };
  g_byte_array_append (chunk, crc_be, 4);
  g_autoptr(GByteArray) with_text = rl_png_insert_after_ihdr ((const guint8 *) png, png_length,
                                                              chunk->data, chunk->len);
  g_autofree char *ztxt = g_build_filename (fx->dir, "ztxt.png", NULL);
  g_assert_true (g_file_set_contents (ztxt, (const char *) with_text->data, with_text->len, NULL));
  g_autoptr(RlMediaMetadata) meta = rl_media_metadata_read (ztxt, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (meta->workflow_json, ==, fx->workflow);
  g_assert_null (meta->prompt_json);

  /* Big-endian TIFF, one inline short entry and one "prompt:" string. */
  g_autofree char *value = g_strconcat ("prompt:", fx->prompt, NULL);
  gsize count = strlen (value) + 1;
  gsize total = 6 + 8 + 2 + 2 * 12 + 4 + count;
  g_autofree guint8 *exif = g_malloc0 (total);
  memcpy (exif, "Exif\0\0MM\0*\0\0\0\x08", 14);
  guint8 *ifd = exif + 14;
  ifd[1] = 2;
  guint8 orientation[12] = { 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 1, 0, 0 };
  memcpy (ifd + 2, orientation, 12);
  guint32 offset = 8 + 2 + 2 * 12 + 4;
  guint8 model[12] = { 0x01, 0x10, 0, 2, count >> 24, count >> 16, count >> 8, count,
                       offset >> 24, offset >> 16, offset >> 8, offset };
  memcpy (ifd + 14, model, 12);
  memcpy (exif + 6 + offset, value, count);
  g_autofree char *found = NULL;
  g_assert_true (rl_exif_find_keyed (exif, total, "test", "prompt", &found, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (found, ==, fx->prompt);
  g_clear_pointer (&found, g_free);
  g_assert_true (rl_exif_find_keyed (exif, total, "test", "workflow", &found, &error));
  g_assert_null (found);
  /* An offset pointing outside the block is an error, not a wild read. */
  ifd[14 + 11] = 0xff;
  g_assert_false (rl_exif_find_keyed (exif, total, "test", "prompt", &found, &error));
  g_assert_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_MEDIA);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  av_log_set_level (AV_LOG_ERROR);
#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/media/video/mp4-h264", test_mp4_h264);
  ADD ("/media/video/webm-vp9", test_webm_vp9);
  ADD ("/media/video/odd-size-padded", test_odd_size);
  ADD ("/media/video/fractional-fps", test_fractional_fps);
  ADD ("/media/video/webm-needs-vp9", test_webm_needs_vp9);
  ADD ("/media/video/failed-encode-leaves-nothing", test_failed_encode_leaves_nothing);
  ADD ("/media/video/max-frames", test_max_frames);
  ADD ("/media/png/roundtrip", test_png);
  ADD ("/media/png/prompt-only", test_png_prompt_only);
  ADD ("/media/webp/lossless", test_webp_lossless);
  ADD ("/media/webp/lossy", test_webp_lossy);
  ADD ("/media/metadata/foreign-layouts", test_foreign_layouts);
#undef ADD
  return g_test_run ();
}
