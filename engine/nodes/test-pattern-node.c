/* RaylightTestPattern: a synthetic moving picture, so a workflow can write
 * a real, visibly playing video before any model is installed. The seed
 * picks colours and phases; every pattern moves from frame to frame. */
#include "engine/nodes/builtin-node-tables.h"

#include <math.h>
#include <string.h>

#include "engine/engine-error.h"
#include "engine/graph/image.h"

typedef enum {
  PATTERN_BARS,
  PATTERN_GRADIENT,
  PATTERN_MOVING_CIRCLE,
} Pattern;

static const char * const pattern_names[] = { "bars", "gradient", "moving-circle", NULL };

/* What the seed decides, drawn once per run from a local generator. */
typedef struct {
  float  bar_colours[8][3];
  float  circle_colour[3];
  double phase[3];
  double path_phase;
} PatternStyle;

static void
style_from_seed (gint64        seed,
                 PatternStyle *style)
{
  guint32 words[2] = { (guint32) seed, (guint32) ((guint64) seed >> 32) };
  g_autoptr(GRand) rand = g_rand_new_with_seed_array (words, 2);
  /* Classic bar colours, each nudged by the seed so seeds are told apart. */
  static const float base[8][3] = {
    { .75f, .75f, .75f }, { .75f, .75f, 0 }, { 0, .75f, .75f }, { 0, .75f, 0 },
    { .75f, 0, .75f }, { .75f, 0, 0 }, { 0, 0, .75f }, { .1f, .1f, .1f },
  };
  for (int b = 0; b < 8; b++)
    for (int c = 0; c < 3; c++)
      style->bar_colours[b][c] = base[b][c] + (float) g_rand_double_range (rand, 0.0, 0.25);
  for (int c = 0; c < 3; c++)
    {
      style->circle_colour[c] = (float) g_rand_double_range (rand, 0.5, 1.0);
      style->phase[c] = g_rand_double_range (rand, 0.0, 2 * G_PI);
    }
  style->path_phase = g_rand_double_range (rand, 0.0, 2 * G_PI);
}

static void
gradient_pixel (const PatternStyle *style,
                double              u,
                double              v,
                double              t,
                float              *rgb)
{
  for (int c = 0; c < 3; c++)
    rgb[c] = (float) (0.5 + 0.45 * sin (2 * G_PI * (u + (c + 1) * 0.5 * v - t) + style->phase[c]));
}

/* Fills one frame; @t runs from 0 to 1 over the clip. */
static void
draw_frame (Pattern             pattern,
            const PatternStyle *style,
            guint               width,
            guint               height,
            double              t,
            float              *frame)
{
  double radius = MIN (width, height) / 6.0;
  double cx = width / 2.0 + (width / 2.0 - radius) * cos (2 * G_PI * t + style->path_phase);
  double cy = height / 2.0 + (height / 2.0 - radius) * sin (4 * G_PI * t + style->path_phase);
  for (guint y = 0; y < height; y++)
    for (guint x = 0; x < width; x++)
      {
        float *rgb = frame + ((gsize) y * width + x) * 3;
        double u = (double) x / width, v = (double) y / height;
        if (pattern == PATTERN_BARS)
          {
            /* Bars scroll left one full width over the clip. */
            guint bar = (guint) (fmod (u + t, 1.0) * 8) % 8;
            memcpy (rgb, style->bar_colours[bar], sizeof (float) * 3);
            continue;
          }
        gradient_pixel (style, u, v, t, rgb);
        if (pattern == PATTERN_MOVING_CIRCLE)
          {
            double d = hypot (x + 0.5 - cx, y + 0.5 - cy);
            double cover = CLAMP (radius - d + 0.5, 0.0, 1.0);   /* anti-aliased edge */
            /* A dimmed background makes the circle stand out. */
            for (int c = 0; c < 3; c++)
              rgb[c] = (float) (0.6 * rgb[c] * (1 - cover) + style->circle_colour[c] * cover);
          }
      }
}

static gboolean
execute_test_pattern (RlNodeContext  *ctx,
                      GError        **error)
{
  guint width = (guint) rl_node_context_get_int (ctx, "width");
  guint height = (guint) rl_node_context_get_int (ctx, "height");
  guint n_frames = (guint) rl_node_context_get_int (ctx, "frames");
  const char *name = rl_node_context_get_string (ctx, "pattern");
  gint64 seed = rl_node_context_get_int (ctx, "seed");

  Pattern pattern = PATTERN_BARS;
  while (pattern_names[pattern] != NULL && g_strcmp0 (pattern_names[pattern], name) != 0)
    pattern++;
  if (pattern_names[pattern] == NULL)
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_EXECUTION,
                   "Unknown pattern “%s”: choose bars, gradient or moving-circle.", name);
      return FALSE;
    }

  RlImage *image = rl_image_new (n_frames, height, width, error);
  if (image == NULL)
    return FALSE;
  PatternStyle style;
  style_from_seed (seed, &style);
  gsize frame_floats = (gsize) width * height * 3;
  for (guint f = 0; f < n_frames; f++)
    {
      if (!rl_node_context_check_interrupt (ctx, error))
        {
          rl_image_free (image);
          return FALSE;
        }
      draw_frame (pattern, &style, width, height, (double) f / n_frames,
                  image->pixels + frame_floats * f);
    }
  rl_node_context_set_output (ctx, 0, rl_value_new_image (image));
  return TRUE;
}

static const RlInputSpec test_pattern_inputs[] = {
  { .name = "width", .kind = RL_INPUT_INT, .int_min = 16, .int_max = 8192, .int_step = 8,
    .int_default = 512 },
  { .name = "height", .kind = RL_INPUT_INT, .int_min = 16, .int_max = 8192, .int_step = 8,
    .int_default = 512 },
  { .name = "frames", .kind = RL_INPUT_INT, .int_min = 1, .int_max = 4096, .int_step = 1,
    .int_default = 33 },
  { .name = "pattern", .kind = RL_INPUT_COMBO, .combo_options = pattern_names,
    .combo_default = "moving-circle" },
  { .name = "seed", .kind = RL_INPUT_INT, .int_min = 0, .int_max = G_MAXINT64, .int_step = 1,
    .int_default = 0, .control_after_generate = TRUE,
    .tooltip = "Picks the colours and the path; the same seed draws the same frames." },
};

static const RlOutputSpec test_pattern_outputs[] = { { .name = "IMAGE", .type = "IMAGE" } };

const RlNodeType rl_node_test_pattern = {
  .name = "RaylightTestPattern",
  .display_name = "Test Pattern",
  .category = "image/raylight",
  .description = "Synthetic moving frames (colour bars, gradient or a moving circle) for "
                 "trying out workflows and outputs without a model.",
  .inputs = test_pattern_inputs,
  .n_inputs = G_N_ELEMENTS (test_pattern_inputs),
  .outputs = test_pattern_outputs,
  .n_outputs = G_N_ELEMENTS (test_pattern_outputs),
  .location = RL_RUN_IN_APP,
  .execute = execute_test_pattern,
};
