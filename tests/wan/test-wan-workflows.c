/* Every Wan text-to-video variant end to end on one CPU worker: the real
 * `raylight` CLI runs the tiny twins of the example workflows in
 * data/workflows/ on the tiny model sets of tools/make-tiny-wan.py (real
 * key layouts and dtypes: 2.1 14B-shaped in scaled fp8, 2.2 A14B's two
 * experts, 2.2 TI2V 5B in fp16 with the 48-channel VAE) and the videos are
 * decoded and checked. (The 2.1 1.3B twin runs in tests/worker-jobs.)
 *
 * KSamplerAdvanced is checked against ComfyUI's semantics through whole
 * runs: two stages switching at a step (noise added by the first, leftover
 * noise returned, no noise added by the second) give KSampler's video, and
 * a first stage starting at step 2 of 4 gives KSampler's denoise 0.5 of 2
 * steps while a second stage starting at the last step returns its latent
 * unchanged. A batch of two decodes to both items' frames in a row, and
 * LatentFromBatch's items keep the noise they had in the batch.
 *
 * Each shipped example and its tiny twin are the same graph with the same
 * sampling settings.
 *
 * UNETLoader's weight_dtype fp8_e4m3fn on the bf16 2.1 1.3B twin samples
 * from fp8 matrices: its video differs from the default run's, but far
 * less than another seed's does (tests/wan/test-wan-dtypes checks the
 * bytes and the forward's error).
 *
 * Files a user can pick by mistake (other Wan variants, other families, a
 * missing key, a wrong shape, a latent of the wrong channel count) fail
 * with exit status 1 and a message naming the variant, family or key. */
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "engine/media/video-reader.h"
#include "tests/tiny-wan-fixture.h"

typedef struct {
  char *dir;        /* temporary folder of the whole run */
  char *models;     /* the tiny model sets inside it */
  char *history;
  char *outputs;
  char *a14b_video; /* the A14B twin's video, once a test made it */
} Setup;

static Setup setup;

/* `raylight run WORKFLOW --set ...` (NULL-terminated sets) on one CPU
 * worker with the tiny models. */
static TinyWanRun
run_workflow (const char *workflow_name,
              ...)
{
  g_autofree char *raylight = g_build_filename (g_getenv ("RAYLIGHT_BUILD_DIR"), "app",
                                                "raylight", NULL);
  /* A bare name is one of data/workflows/; a path is from the source root. */
  g_autofree char *relative = strchr (workflow_name, '/') ? g_strdup (workflow_name)
                                                          : g_strdup_printf ("data/workflows/%s", workflow_name);
  g_autofree char *workflow = tiny_wan_source_path (relative);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  char **env = tiny_wan_cpu_environ (setup.models, "1");
  TinyWanRun r;
  const char *set;
  va_list ap;

  g_ptr_array_add (argv, raylight);
  g_ptr_array_add (argv, (char *) "run");
  g_ptr_array_add (argv, workflow);
  g_ptr_array_add (argv, (char *) "--output-dir");
  g_ptr_array_add (argv, setup.outputs);
  g_ptr_array_add (argv, (char *) "--history");
  g_ptr_array_add (argv, setup.history);
  va_start (ap, workflow_name);
  while ((set = va_arg (ap, const char *)) != NULL)
    {
      g_ptr_array_add (argv, (char *) "--set");
      g_ptr_array_add (argv, (char *) set);
    }
  va_end (ap);
  g_ptr_array_add (argv, NULL);

  env = g_environ_unsetenv (env, "RAYLIGHT_ULYSSES");
  env = g_environ_unsetenv (env, "RAYLIGHT_RING");
  r = tiny_wan_run_spawn ((const char * const *) argv->pdata, env);
  g_strfreev (env);
  if (g_test_verbose () || r.status != 0)
    g_printerr ("# raylight run %s -> %d\n%s", workflow_name, r.status, r.err);
  return r;
}

/* The path of the video a successful run printed first. */
static char *
video_of (const TinyWanRun *r)
{
  const char *nl = strchr (r->out, '\n');
  char *path = nl ? g_strndup (r->out, nl - r->out) : g_strdup (r->out);

  g_assert_cmpint (r->status, ==, 0);
  g_assert_true (g_str_has_suffix (path, ".mp4"));
  return path;
}

/* Decodes the video and checks frames, size, finite pixels that are not
 * one flat colour (random weights still give structure through the VAE). */
static RlVideo *
check_video (const char *path,
             guint       frames,
             guint       width,
             guint       height)
{
  g_autoptr(GError) error = NULL;
  RlVideo *video = rl_video_read (path, 0, &error);
  double sum = 0.0, sum_sq = 0.0;
  gsize n;

  g_assert_no_error (error);
  g_assert_cmpuint (video->frames->n_frames, ==, frames);
  g_assert_cmpuint (video->frames->width, ==, width);
  g_assert_cmpuint (video->frames->height, ==, height);
  n = (gsize) frames * width * height * 3;
  for (gsize i = 0; i < n; i++)
    {
      float v = video->frames->pixels[i];
      g_assert_true (isfinite (v));
      sum += v;
      sum_sq += (double) v * v;
    }
  g_assert_cmpfloat (sum_sq / n - (sum / n) * (sum / n), >, 1e-6);
  return video;
}

/* Mean absolute difference of two decoded videos of the same shape. */
static double
mean_difference (const RlVideo *a,
                 const RlVideo *b)
{
  gsize n = (gsize) a->frames->n_frames * a->frames->width * a->frames->height * 3;
  double sum = 0.0;

  g_assert_cmpuint (a->frames->n_frames, ==, b->frames->n_frames);
  g_assert_cmpuint (a->frames->width, ==, b->frames->width);
  g_assert_cmpuint (a->frames->height, ==, b->frames->height);
  for (gsize i = 0; i < n; i++)
    sum += fabs ((double) a->frames->pixels[i] - b->frames->pixels[i]);
  return sum / n;
}

static RlVideo *
run_and_read (const TinyWanRun *r,
              guint             frames,
              guint             size)
{
  g_autofree char *path = video_of (r);

  return check_video (path, frames, size, size);
}

/* ---------------------------------------------------------- the variants */

static void
test_wan21_14b_fp8_scaled (void)
{
  TinyWanRun r = run_workflow ("wan2.1-t2v-14B-tiny.json", NULL);
  RlVideo *video = run_and_read (&r, 9, 64);

  rl_video_free (video);
  tiny_wan_run_clear (&r);
}

static void
test_wan22_a14b (void)
{
  TinyWanRun r = run_workflow ("wan2.2-t2v-A14B-tiny.json", NULL);
  RlVideo *video = run_and_read (&r, 9, 64);

  setup.a14b_video = video_of (&r);
  rl_video_free (video);
  tiny_wan_run_clear (&r);
}

static void
test_wan22_5b (void)
{
  /* Wan22ImageToVideoLatent 128×128, 9 frames: 48 × 3 × 8 × 8 → VAE 2.2.
   * Without a start image ComfyUI's node makes one latent whatever
   * batch_size says, so batch_size 2 still gives one 9-frame video. */
  TinyWanRun r = run_workflow ("wan2.2-ti2v-5B-tiny.json", "55.batch_size=2", NULL);
  RlVideo *video = run_and_read (&r, 9, 128);

  rl_video_free (video);
  tiny_wan_run_clear (&r);
}

/* ------------------------------------------------- UNETLoader weight_dtype */

#define T2V_13B_WORKFLOW "wan2.1-t2v-tiny.json"

static void
test_weight_dtype_fp8 (void)
{
  TinyWanRun plain = run_workflow (T2V_13B_WORKFLOW, "3.seed=7", NULL);
  TinyWanRun fp8 = run_workflow (T2V_13B_WORKFLOW, "3.seed=7", "37.weight_dtype=fp8_e4m3fn", NULL);
  TinyWanRun reseeded = run_workflow (T2V_13B_WORKFLOW, "3.seed=8", NULL);
  RlVideo *a = run_and_read (&plain, 9, 64);
  RlVideo *b = run_and_read (&fp8, 9, 64);
  RlVideo *c = run_and_read (&reseeded, 9, 64);
  double from_fp8 = mean_difference (a, b), from_seed = mean_difference (a, c);

  g_test_message ("weight_dtype fp8_e4m3fn vs default: %.5f; another seed: %.5f", from_fp8, from_seed);
  /* Equal videos: the widget was ignored. Near another seed's difference:
   * the matrices were misread (a wrong scale, a wrong format). */
  g_assert_cmpfloat (from_fp8, >, 0.0);
  g_assert_cmpfloat (from_fp8, <, 0.35 * from_seed);   /* measured 0.19 */
  rl_video_free (a);
  rl_video_free (b);
  rl_video_free (c);
  tiny_wan_run_clear (&plain);
  tiny_wan_run_clear (&fp8);
  tiny_wan_run_clear (&reseeded);
}

/* ---------------------------------------- KSamplerAdvanced vs KSampler */

#define A14B_WORKFLOW "wan2.2-t2v-A14B-tiny.json"
#define T2V_WORKFLOW  "wan2.1-t2v-14B-tiny.json"
#define SAME_HIGH     "37.unet_name=tiny-wan2.1-t2v-14B-fp8-scaled.safetensors"
#define SAME_LOW      "56.unet_name=tiny-wan2.1-t2v-14B-fp8-scaled.safetensors"
/* The A14B twin's prompt and sampler settings, for the KSampler workflow. */
#define A14B_PROMPT   "6.text=A close-up of a young woman smiling gently in the rain, raindrops " \
                      "glistening on her face and eyelashes. The video captures the delicate " \
                      "details of her expression and the water droplets, with soft light " \
                      "reflecting off her skin in the rainy atmosphere."

static void
test_two_stages_equal_one_sampler (void)
{
  /* Both stages on the same model: steps 0-2 then 2-4 of 4. */
  TinyWanRun staged = run_workflow (A14B_WORKFLOW, SAME_HIGH, SAME_LOW, NULL);
  TinyWanRun single = run_workflow (T2V_WORKFLOW, A14B_PROMPT, "3.sampler_name=euler", "3.cfg=3.5",
                                   "3.seed=42", "3.steps=4", NULL);
  RlVideo *a = run_and_read (&staged, 9, 64);
  RlVideo *b = run_and_read (&single, 9, 64);
  RlVideo *c;

  if (setup.a14b_video == NULL)
    test_wan22_a14b ();
  c = check_video (setup.a14b_video, 9, 64, 64);
  double same = mean_difference (a, b), other = mean_difference (a, c);
  /* Through a lossy codec: equal latents give (almost) equal frames,
   * another model's second half gives clearly different ones. */
  g_test_message ("two stages vs KSampler: %.5f; vs the two experts: %.5f", same, other);
  g_assert_cmpfloat (same, <, 2e-3);
  g_assert_cmpfloat (other, >, 10 * same + 5e-3);
  rl_video_free (a);
  rl_video_free (b);
  rl_video_free (c);
  tiny_wan_run_clear (&staged);
  tiny_wan_run_clear (&single);
}

static void
test_start_step_equals_denoise (void)
{
  /* KSamplerAdvanced 4 steps from step 2 (noise added, none left over),
   * then a stage that starts at the last step: its input comes back. */
  TinyWanRun advanced = run_workflow (A14B_WORKFLOW, SAME_HIGH, SAME_LOW, "57.start_at_step=2",
                                     "57.end_at_step=10000", "57.return_with_leftover_noise=disable",
                                     "58.start_at_step=4", NULL);
  /* KSampler denoise 0.5 of 2 steps: the last 2 of a 4-step schedule. */
  TinyWanRun denoise = run_workflow (T2V_WORKFLOW, A14B_PROMPT, "3.sampler_name=euler", "3.cfg=3.5",
                                    "3.seed=42", "3.steps=2", "3.denoise=0.5", NULL);
  RlVideo *a = run_and_read (&advanced, 9, 64);
  RlVideo *b = run_and_read (&denoise, 9, 64);
  double same = mean_difference (a, b);

  g_test_message ("start_at_step 2 of 4 vs denoise 0.5 of 2: %.5f", same);
  g_assert_cmpfloat (same, <, 2e-3);
  rl_video_free (a);
  rl_video_free (b);
  tiny_wan_run_clear (&advanced);
  tiny_wan_run_clear (&denoise);
}

/* Largest difference, in 8-bit levels, between 9 frames of a (from frame
 * a0) and of b (from b0). */
static double
max_levels (const RlVideo *a,
            guint          a0,
            const RlVideo *b,
            guint          b0)
{
  gsize frame = (gsize) a->frames->width * a->frames->height * 3;
  const float *x = a->frames->pixels + a0 * frame, *y = b->frames->pixels + b0 * frame;
  double worst = 0.0;

  for (gsize i = 0; i < 9 * frame; i++)
    worst = MAX (worst, fabs ((double) x[i] - y[i]) * 255.0);
  return worst;
}

static RlVideo *
read_webp (const TinyWanRun *r,
           guint             frames)
{
  const char *nl = strchr (r->out, '\n');
  g_autofree char *path = nl ? g_strndup (r->out, nl - r->out) : g_strdup (r->out);

  g_assert_cmpint (r->status, ==, 0);
  g_assert_true (g_str_has_suffix (path, ".webp"));
  return check_video (path, frames, 64, 64);
}

/* Batches, through lossless WebP so frames compare exactly: a latent batch
 * of two decodes to both items' frames one after the other (ComfyUI's
 * VAEDecode flattens the batch); ComfyUI draws a batch's noise in one call
 * from the seed, so item 1 cut out by LatentFromBatch is the batch-1
 * video, and item 2 cut out alone (batch_index 1) keeps the second draw. */
#define FROM_BATCH "tests/wan/data/wan2.1-t2v-tiny-from-batch.json"

static void
test_batch_of_two (void)
{
  TinyWanRun whole = run_workflow (FROM_BATCH, "41.batch_index=0", "41.length=2", NULL);
  TinyWanRun first = run_workflow (FROM_BATCH, "41.batch_index=0", "41.length=1", NULL);
  TinyWanRun second = run_workflow (FROM_BATCH, "41.batch_index=1", "41.length=1", NULL);
  RlVideo *w = read_webp (&whole, 18), *a = read_webp (&first, 9), *b = read_webp (&second, 9);
  double a_first = max_levels (a, 0, w, 0), b_second = max_levels (b, 0, w, 9);
  double a_second = max_levels (a, 0, w, 9), b_first = max_levels (b, 0, w, 0);

  g_test_message ("largest differences in 8-bit levels: item 1 alone vs in the batch %.0f, item 2 alone "
                  "vs in the batch %.0f; item 1 vs item 2 %.0f, %.0f", a_first, b_second, a_second, b_first);
  g_assert_cmpfloat (a_first, <=, 1.5);   /* a rounding apart, at most */
  g_assert_cmpfloat (b_second, <=, 1.5);
  g_assert_cmpfloat (a_second, >, 16.0);
  g_assert_cmpfloat (b_first, >, 16.0);
  rl_video_free (w);
  rl_video_free (a);
  rl_video_free (b);
  tiny_wan_run_clear (&whole);
  tiny_wan_run_clear (&first);
  tiny_wan_run_clear (&second);
}

/* ------------------------------------------------------ wrong files */

typedef struct {
  const char *file;        /* in diffusion_models/ */
  const char *expected[3]; /* substrings of the error */
} WrongFile;

static const WrongFile wrong_files[] = {
  { "tiny-wan2.1-missing-key", { "missing tensor 'blocks.1.ffn.2.weight'", NULL } },
  { "tiny-wan2.1-wrong-shape", { "'blocks.0.cross_attn.k.weight' has shape [256, 64]",
                                 "expected [256, 256]", NULL } },
  { "tiny-wan2.1-i2v", { "is a Wan2.1 image-to-video model", "text-to-video", NULL } },
  { "tiny-wan2.1-flf2v", { "first-last-frame-to-video (FLF2V)", NULL } },
  { "tiny-wan2.2-i2v", { "Wan2.2 image-to-video A14B expert (36 input channels)", NULL } },
  { "tiny-wan-vace", { "is a Wan VACE model", NULL } },
  { "tiny-wan-fun-control", { "Wan Fun control model (48 input channels, 16 output)", NULL } },
  { "tiny-flux", { "no tensor head.modulation", "looks like a Flux model", NULL } },
  { "tiny-sd15", { "looks like a Stable Diffusion UNet", NULL } },
  { "tiny-vae-as-dit", { "is a VAE", NULL } },
};

static void
test_wrong_file (gconstpointer data)
{
  const WrongFile *wrong = data;
  g_autofree char *set = g_strdup_printf ("37.unet_name=%s.safetensors", wrong->file);
  TinyWanRun r = run_workflow ("wan2.1-t2v-tiny.json", set, NULL);

  g_assert_cmpint (r.status, ==, 1);
  g_assert_nonnull (strstr (r.err, "UNETLoader"));
  g_assert_nonnull (strstr (r.err, wrong->file));
  for (guint i = 0; i < G_N_ELEMENTS (wrong->expected) && wrong->expected[i]; i++)
    if (strstr (r.err, wrong->expected[i]) == NULL)
      g_error ("%s: '%s' not in the error:\n%s", wrong->file, wrong->expected[i], r.err);
  tiny_wan_run_clear (&r);
}

static void
test_latent_of_other_model (void)
{
  /* The 5B model behind EmptyHunyuanLatentVideo (16 channels). */
  TinyWanRun r = run_workflow (T2V_WORKFLOW, "37.unet_name=tiny-wan2.2-ti2v-5B-fp16.safetensors",
                              NULL);

  g_assert_cmpint (r.status, ==, 1);
  g_assert_nonnull (strstr (r.err, "KSampler"));
  g_assert_nonnull (strstr (r.err, "the latent has 16 channels but this model's latent format has 48"));
  tiny_wan_run_clear (&r);
}

/* ---------------------------------------------- real and tiny twins */

/* The shipped examples and the tiny twins the tests run: the same graph
 * (ids, types, titles, links, groups) and the same sampling settings, so
 * what CI runs is what users get, only smaller. Per type, the widget
 * indices that must agree (-1 ends): models, sizes, steps, seeds and
 * output prefixes may differ. */
typedef struct {
  const char *type;
  int         same[8];
} SameWidgets;

static const SameWidgets same_widgets[] = {
  { "ModelSamplingSD3", { 0, -1 } },
  { "CLIPTextEncode", { 0, -1 } },
  { "CLIPLoader", { 1, 2, -1 } },
  { "CreateVideo", { 0, -1 } },
  { "KSampler", { 3, 4, 5, 6, -1 } },                 /* cfg, sampler, scheduler, denoise */
  { "KSamplerAdvanced", { 0, 4, 5, 6, 9, -1 } },      /* add_noise, cfg, sampler, scheduler, leftover */
  { "SaveVideo", { 1, 2, -1 } },
};

static JsonObject *
load_json (const char *name,
           JsonParser *parser)
{
  g_autofree char *relative = g_strdup_printf ("data/workflows/%s", name);
  g_autofree char *path = tiny_wan_source_path (relative);
  g_autoptr(GError) error = NULL;

  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  return json_node_get_object (json_parser_get_root (parser));
}

static JsonObject *
node_by_id (JsonObject *workflow,
            gint64      id)
{
  JsonArray *nodes = json_object_get_array_member (workflow, "nodes");

  for (guint i = 0; i < json_array_get_length (nodes); i++)
    {
      JsonObject *n = json_array_get_object_element (nodes, i);
      if (json_object_get_int_member (n, "id") == id)
        return n;
    }
  return NULL;
}

static char *
to_string (JsonNode *node)
{
  return json_to_string (node, FALSE);
}

/* Where a KSamplerAdvanced starts or ends, as a fraction of its steps. */
static double
step_fraction (JsonArray *w,
               guint      index)
{
  gint64 at = json_array_get_int_element (w, index), steps = json_array_get_int_element (w, 3);

  return at >= steps ? 1.0 : (double) at / (double) steps;
}

static void
test_twins (gconstpointer data)
{
  const char *const *pair = data;
  g_autoptr(JsonParser) real_parser = json_parser_new ();
  g_autoptr(JsonParser) tiny_parser = json_parser_new ();
  JsonObject *real = load_json (pair[0], real_parser), *tiny = load_json (pair[1], tiny_parser);
  JsonArray *real_nodes = json_object_get_array_member (real, "nodes");
  g_autofree char *real_links = to_string (json_object_get_member (real, "links"));
  g_autofree char *tiny_links = to_string (json_object_get_member (tiny, "links"));
  g_autofree char *real_groups = to_string (json_object_get_member (real, "groups"));
  g_autofree char *tiny_groups = to_string (json_object_get_member (tiny, "groups"));

  g_assert_cmpstr (real_links, ==, tiny_links);
  g_assert_cmpstr (real_groups, ==, tiny_groups);
  g_assert_cmpuint (json_array_get_length (real_nodes), ==,
                    json_array_get_length (json_object_get_array_member (tiny, "nodes")));
  for (guint i = 0; i < json_array_get_length (real_nodes); i++)
    {
      JsonObject *r = json_array_get_object_element (real_nodes, i);
      JsonObject *t = node_by_id (tiny, json_object_get_int_member (r, "id"));
      const char *type = json_object_get_string_member (r, "type");
      JsonArray *rw = json_object_get_array_member (r, "widgets_values");
      JsonArray *tw;

      g_assert_nonnull (t);
      g_assert_cmpstr (type, ==, json_object_get_string_member (t, "type"));
      g_assert_cmpstr (json_object_get_string_member_with_default (r, "title", ""), ==,
                       json_object_get_string_member_with_default (t, "title", ""));
      tw = json_object_get_array_member (t, "widgets_values");
      g_assert_cmpuint (json_array_get_length (rw), ==, json_array_get_length (tw));
      for (guint k = 0; k < G_N_ELEMENTS (same_widgets); k++)
        if (g_str_equal (same_widgets[k].type, type))
          for (const int *w = same_widgets[k].same; *w >= 0; w++)
            {
              g_autofree char *a = to_string (json_array_get_element (rw, *w));
              g_autofree char *b = to_string (json_array_get_element (tw, *w));
              if (g_strcmp0 (a, b) != 0)
                g_error ("%s / %s: node %s widget %d is %s in one, %s in the other", pair[0], pair[1],
                         type, *w, a, b);
            }
      if (g_str_equal (type, "KSamplerAdvanced"))
        {
          /* The experts switch at the same point of the schedule. */
          g_assert_cmpfloat (step_fraction (rw, 7), ==, step_fraction (tw, 7));
          g_assert_cmpfloat (step_fraction (rw, 8), ==, step_fraction (tw, 8));
        }
    }
}

static const char *const twins[][2] = {
  { "wan2.1-t2v-1.3B.json", "wan2.1-t2v-tiny.json" },
  { "wan2.1-t2v-14B.json", "wan2.1-t2v-14B-tiny.json" },
  { "wan2.2-t2v-A14B.json", "wan2.2-t2v-A14B-tiny.json" },
  { "wan2.2-ti2v-5B.json", "wan2.2-ti2v-5B-tiny.json" },
};

/* ------------------------------------------------------------- setup */

int
main (int    argc,
      char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  setup.dir = g_dir_make_tmp ("raylight-wan-workflows-XXXXXX", NULL);
  g_assert_nonnull (setup.dir);
  setup.models = g_build_filename (setup.dir, "models", NULL);
  setup.history = g_build_filename (setup.dir, "history.sqlite3", NULL);
  setup.outputs = g_build_filename (setup.dir, "out", NULL);
  if (!tiny_wan_make_models (setup.models, TRUE))
    {
      tiny_wan_remove_tree (setup.dir);
      return 77;   /* no python with numpy: skip */
    }
  for (guint i = 0; i < G_N_ELEMENTS (twins); i++)
    {
      g_autofree char *path = g_strdup_printf ("/wan/workflows/twins/%s", twins[i][0]);
      g_test_add_data_func (path, twins[i], test_twins);
    }
  g_test_add_func ("/wan/workflows/2.1-14B-fp8-scaled", test_wan21_14b_fp8_scaled);
  g_test_add_func ("/wan/workflows/2.2-A14B", test_wan22_a14b);
  g_test_add_func ("/wan/workflows/2.2-TI2V-5B", test_wan22_5b);
  g_test_add_func ("/wan/workflows/batch-of-two", test_batch_of_two);
  g_test_add_func ("/wan/workflows/2.1-weight-dtype-fp8", test_weight_dtype_fp8);
  g_test_add_func ("/wan/ksampler-advanced/two-stages-equal-ksampler", test_two_stages_equal_one_sampler);
  g_test_add_func ("/wan/ksampler-advanced/start-step-equals-denoise", test_start_step_equals_denoise);
  for (guint i = 0; i < G_N_ELEMENTS (wrong_files); i++)
    {
      g_autofree char *path = g_strdup_printf ("/wan/wrong-file/%s", wrong_files[i].file);
      g_test_add_data_func (path, &wrong_files[i], test_wrong_file);
    }
  g_test_add_func ("/wan/wrong-file/latent-of-other-model", test_latent_of_other_model);
  status = g_test_run ();
  tiny_wan_remove_tree (setup.dir);
  return status;
}
