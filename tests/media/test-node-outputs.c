/* The built-in nodes' in-memory outputs (latent shapes, test pattern
 * frames, primitives, video components), executed against a minimal node
 * context defined here, so the values themselves can be inspected. This
 * program does not link the executor. */
#include <string.h>

#include "engine/engine-error.h"
#include "engine/graph/image.h"
#include "engine/graph/node-type.h"
#include "engine/graph/registry.h"
#include "engine/nodes/builtin-nodes.h"
#include "engine/nodes/video-value.h"
#include "media-test-util.h"

/* ---- a minimal node context: named inputs in, indexed outputs out ---- */

struct _RlNodeContext {
  const RlNodeType *type;
  GHashTable       *inputs;    /* name -> RlValue (owned) */
  RlValue          *outputs[8];
};

static RlNodeContext *
context_new (const RlNodeType *type)
{
  RlNodeContext *ctx = g_new0 (RlNodeContext, 1);
  ctx->type = type;
  ctx->inputs = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                       (GDestroyNotify) rl_value_unref);
  return ctx;
}

static void
context_free (RlNodeContext *ctx)
{
  g_hash_table_unref (ctx->inputs);
  for (guint i = 0; i < G_N_ELEMENTS (ctx->outputs); i++)
    g_clear_pointer (&ctx->outputs[i], rl_value_unref);
  g_free (ctx);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RlNodeContext, context_free)

static void
context_set (RlNodeContext *ctx,
             const char    *name,
             RlValue       *value)
{
  g_hash_table_insert (ctx->inputs, (gpointer) g_intern_string (name), value);
}

RlValue *
rl_node_context_get_input (RlNodeContext *ctx,
                           const char    *name)
{
  return g_hash_table_lookup (ctx->inputs, name);
}

gint64
rl_node_context_get_int (RlNodeContext *ctx,
                         const char    *name)
{
  return rl_value_get_int (rl_node_context_get_input (ctx, name));
}

double
rl_node_context_get_float (RlNodeContext *ctx,
                           const char    *name)
{
  return rl_value_get_float (rl_node_context_get_input (ctx, name));
}

const char *
rl_node_context_get_string (RlNodeContext *ctx,
                            const char    *name)
{
  return rl_value_get_string (rl_node_context_get_input (ctx, name));
}

gboolean
rl_node_context_get_boolean (RlNodeContext *ctx,
                             const char    *name)
{
  return rl_value_get_boolean (rl_node_context_get_input (ctx, name));
}

gpointer
rl_node_context_get_object (RlNodeContext *ctx,
                            const char    *name,
                            const char    *type_name)
{
  RlValue *value = rl_node_context_get_input (ctx, name);
  if (value == NULL || g_strcmp0 (rl_value_get_type_name (value), type_name) != 0)
    return NULL;
  return rl_value_get_object (value, type_name);
}

void
rl_node_context_set_output (RlNodeContext *ctx,
                            guint          index,
                            RlValue       *value)
{
  g_assert_cmpuint (index, <, ctx->type->n_outputs);
  g_clear_pointer (&ctx->outputs[index], rl_value_unref);
  ctx->outputs[index] = value;
}

gboolean
rl_node_context_check_interrupt (RlNodeContext  *ctx,
                                 GError        **error)
{
  return TRUE;
}

const char *
rl_node_context_get_output_dir (RlNodeContext *ctx)
{
  g_assert_not_reached ();
}

void
rl_node_context_add_output_file (RlNodeContext *ctx,
                                 const char    *path)
{
  g_assert_not_reached ();
}

const char *
rl_node_context_get_prompt_json (RlNodeContext *ctx)
{
  return NULL;
}

const char *
rl_node_context_get_workflow_json (RlNodeContext *ctx)
{
  return NULL;
}

/* The model nodes use these; the nodes tested here never reach them. */
const char *
rl_node_context_get_node_id (RlNodeContext *ctx)
{
  return "1";
}

const char *
rl_node_context_get_title (RlNodeContext *ctx)
{
  return ctx->type->name;
}

void
rl_node_context_report_progress (RlNodeContext *ctx,
                                 guint          step,
                                 guint          total,
                                 const RlImage *preview)
{
  g_assert_not_reached ();
}

RlModelPaths *
rl_node_context_get_model_paths (RlNodeContext *ctx)
{
  g_assert_not_reached ();
}

RlPoolService *
rl_node_context_get_pool_service (RlNodeContext *ctx)
{
  return NULL;
}

/* ---- helpers ------------------------------------------------------------ */

static const RlNodeType *
find_type (const char *name)
{
  guint n = 0;
  const RlNodeType * const *types = rl_builtin_nodes_list (&n);
  for (guint i = 0; i < n; i++)
    if (strcmp (types[i]->name, name) == 0)
      return types[i];
  g_error ("no built-in node type %s", name);
}

/* Runs @ctx's type; every declared output must be set afterwards. */
static void
execute_ok (RlNodeContext *ctx)
{
  g_autoptr(GError) error = NULL;
  g_assert_true (ctx->type->execute (ctx, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < ctx->type->n_outputs; i++)
    g_assert_nonnull (ctx->outputs[i]);
}

static RlImage *
run_test_pattern (const char *pattern,
                  gint64      seed,
                  guint       frames)
{
  g_autoptr(RlNodeContext) ctx = context_new (find_type ("RaylightTestPattern"));
  context_set (ctx, "width", rl_value_new_int (40));
  context_set (ctx, "height", rl_value_new_int (24));
  context_set (ctx, "frames", rl_value_new_int (frames));
  context_set (ctx, "pattern", rl_value_new_string (pattern));
  context_set (ctx, "seed", rl_value_new_int (seed));
  execute_ok (ctx);
  const RlImage *image = rl_value_get_object (ctx->outputs[0], "IMAGE");
  g_assert_cmpuint (image->n_frames, ==, frames);
  g_assert_cmpuint (image->width, ==, 40);
  g_assert_cmpuint (image->height, ==, 24);
  RlImage *copy = rl_image_new (frames, 24, 40, NULL);
  memcpy (copy->pixels, image->pixels, rl_image_n_floats (image) * sizeof (float));
  return copy;
}

/* ---- tests -------------------------------------------------------------- */

static void
test_empty_latents (void)
{
  g_autoptr(GRand) rand = media_test_rand ();
  guint width = 16 * (guint) g_rand_int_range (rand, 1, 12);
  guint height = 16 * (guint) g_rand_int_range (rand, 1, 12);
  guint length = (guint) g_rand_int_range (rand, 1, 40);
  guint batch = (guint) g_rand_int_range (rand, 1, 3);

  g_autoptr(RlNodeContext) video = context_new (find_type ("EmptyHunyuanLatentVideo"));
  context_set (video, "width", rl_value_new_int (width));
  context_set (video, "height", rl_value_new_int (height));
  context_set (video, "length", rl_value_new_int (length));
  context_set (video, "batch_size", rl_value_new_int (batch));
  execute_ok (video);
  const RlLatent *latent = rl_value_get_object (video->outputs[0], "LATENT");
  g_assert_cmpuint (latent->batch, ==, batch);
  g_assert_cmpuint (latent->channels, ==, 16);
  g_assert_cmpuint (latent->frames, ==, (length - 1) / 4 + 1);
  g_assert_cmpuint (latent->height, ==, height / 8);
  g_assert_cmpuint (latent->width, ==, width / 8);
  for (gsize i = 0; i < rl_latent_n_floats (latent); i++)
    g_assert_cmpfloat (latent->samples[i], ==, 0.0f);

  g_autoptr(RlNodeContext) image = context_new (find_type ("EmptyLatentImage"));
  context_set (image, "width", rl_value_new_int (width));
  context_set (image, "height", rl_value_new_int (height));
  context_set (image, "batch_size", rl_value_new_int (batch));
  execute_ok (image);
  latent = rl_value_get_object (image->outputs[0], "LATENT");
  g_assert_cmpuint (latent->channels, ==, 4);
  g_assert_cmpuint (latent->frames, ==, 1);
  g_assert_cmpuint (latent->height, ==, height / 8);
}

static void
test_huge_latent_is_an_error (void)
{
  g_autoptr(RlNodeContext) ctx = context_new (find_type ("EmptyHunyuanLatentVideo"));
  context_set (ctx, "width", rl_value_new_int (16384));
  context_set (ctx, "height", rl_value_new_int (16384));
  context_set (ctx, "length", rl_value_new_int (16384));
  context_set (ctx, "batch_size", rl_value_new_int (4096));
  g_autoptr(GError) error = NULL;
  g_assert_false (ctx->type->execute (ctx, &error));
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
}

static void
test_pattern_seeded_and_moving (void)
{
  g_autoptr(GRand) rand = media_test_rand ();
  const char *patterns[] = { "bars", "gradient", "moving-circle" };
  for (guint p = 0; p < G_N_ELEMENTS (patterns); p++)
    {
      gint64 seed = g_rand_int (rand);
      g_autoptr(RlImage) a = run_test_pattern (patterns[p], seed, 4);
      g_autoptr(RlImage) b = run_test_pattern (patterns[p], seed, 4);
      g_autoptr(RlImage) c = run_test_pattern (patterns[p], seed + 1, 4);
      gsize n = rl_image_n_floats (a), frame = n / 4;
      g_assert_cmpmem (a->pixels, n * sizeof (float), b->pixels, n * sizeof (float));
      g_assert_true (memcmp (a->pixels, c->pixels, n * sizeof (float)) != 0);
      g_assert_true (memcmp (a->pixels, a->pixels + frame, frame * sizeof (float)) != 0);
      for (gsize i = 0; i < n; i++)
        g_assert_true (a->pixels[i] >= 0.0f && a->pixels[i] <= 1.0f);
    }
}

static void
test_primitives_pass_through (void)
{
  g_autoptr(GRand) rand = media_test_rand ();
  gint64 number = (gint64) g_rand_int (rand) - G_MAXINT32;
  g_autoptr(RlNodeContext) ints = context_new (find_type ("PrimitiveInt"));
  context_set (ints, "value", rl_value_new_int (number));
  execute_ok (ints);
  g_assert_cmpint (rl_value_get_int (ints->outputs[0]), ==, number);

  g_autofree char *text = g_strdup_printf ("line one\nline %u", g_rand_int (rand));
  g_autoptr(RlNodeContext) strings = context_new (find_type ("PrimitiveStringMultiline"));
  context_set (strings, "value", rl_value_new_string (text));
  execute_ok (strings);
  g_assert_cmpstr (rl_value_get_string (strings->outputs[0]), ==, text);
}

/* CreateVideo shares the frames; GetVideoComponents hands them back. */
static void
test_video_components_share_frames (void)
{
  g_autoptr(RlImage) frames = run_test_pattern ("bars", 5, 3);
  RlImage *owned = rl_image_new (3, 24, 40, NULL);
  memcpy (owned->pixels, frames->pixels, rl_image_n_floats (frames) * sizeof (float));
  RlValue *images = rl_value_new_image (owned);

  g_autoptr(RlNodeContext) create = context_new (find_type ("CreateVideo"));
  context_set (create, "images", images);
  context_set (create, "fps", rl_value_new_float (23.976));
  execute_ok (create);
  const RlVideo *video = rl_value_get_video (create->outputs[0]);
  g_assert_true (video->frames == owned);
  g_assert_cmpint (video->fps_num, ==, 2997);
  g_assert_cmpint (video->fps_den, ==, 125);

  g_autoptr(RlNodeContext) split = context_new (find_type ("GetVideoComponents"));
  context_set (split, "video", rl_value_ref (create->outputs[0]));
  execute_ok (split);
  g_assert_true (split->outputs[0] == images);
  g_assert_cmpstr (rl_value_get_type_name (split->outputs[1]), ==, "AUDIO");
  g_assert_cmpfloat_with_epsilon (rl_value_get_float (split->outputs[2]), 23.976, 1e-9);
}

/* Every table is well formed as the registry checks it, with ComfyUI's
 * input names where ComfyUI has the node. */
static void
test_tables (void)
{
  g_autoptr(RlRegistry) registry = rl_registry_new ();
  g_autoptr(GError) error = NULL;
  g_assert_true (rl_builtin_nodes_register (registry, &error));
  g_assert_no_error (error);
  const struct { const char *type, *inputs; } expected[] = {
    { "SaveVideo", "video filename_prefix format codec crf" },
    { "SaveAnimatedWEBP", "images filename_prefix fps lossless quality method" },
    { "SaveImage", "images filename_prefix" },
    { "CreateVideo", "images fps audio" },
    { "EmptyHunyuanLatentVideo", "width height length batch_size" },
    { "EmptyLatentImage", "width height batch_size" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      const RlNodeType *type = rl_registry_lookup (registry, expected[i].type);
      g_autoptr(GString) names = g_string_new (NULL);
      for (guint k = 0; k < type->n_inputs; k++)
        g_string_append_printf (names, "%s%s", k > 0 ? " " : "", type->inputs[k].name);
      g_assert_cmpstr (names->str, ==, expected[i].inputs);
    }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/media/node-outputs/empty-latents", test_empty_latents);
  g_test_add_func ("/media/node-outputs/huge-latent", test_huge_latent_is_an_error);
  g_test_add_func ("/media/node-outputs/test-pattern", test_pattern_seeded_and_moving);
  g_test_add_func ("/media/node-outputs/primitives", test_primitives_pass_through);
  g_test_add_func ("/media/node-outputs/video-components", test_video_components_share_frames);
  g_test_add_func ("/media/node-outputs/tables", test_tables);
  return g_test_run ();
}
