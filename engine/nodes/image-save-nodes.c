/* ComfyUI's image outputs: SaveImage (one PNG per frame), PreviewImage
 * (the same into the preview folder, fast compression) and
 * SaveAnimatedWEBP (one animated WebP). */
#include "engine/nodes/builtin-node-tables.h"

#include "engine/graph/image.h"
#include "engine/media/animated-webp-writer.h"
#include "engine/media/png-writer.h"
#include "engine/nodes/node-save.h"

typedef struct {
  const RlImage *images;
  int            compress_level;
  const char    *prompt_json;
  const char    *workflow_json;
} PngSaveJob;

static gboolean
write_png_file (const char  *path,
                guint        index,
                gpointer     user_data,
                GError     **error)
{
  const PngSaveJob *job = user_data;
  return rl_png_write (path, job->images, index, job->compress_level,
                       job->prompt_json, job->workflow_json, error);
}

/* One PNG per frame of input "images", ComfyUI's SaveImage behaviour. */
static gboolean
save_frames_as_png (RlNodeContext  *ctx,
                    const char     *output_dir,
                    const char     *filename_prefix,
                    int             compress_level,
                    GError        **error)
{
  const RlImage *images = rl_node_require_images (ctx, "images", error);
  if (images == NULL)
    return FALSE;
  PngSaveJob job = {
    .images = images,
    .compress_level = compress_level,
    .prompt_json = rl_node_context_get_prompt_json (ctx),
    .workflow_json = rl_node_context_get_workflow_json (ctx),
  };
  RlSaveRequest request = {
    .output_dir = output_dir,
    .filename_prefix = filename_prefix,
    .extension = "png",
    .width = images->width,
    .height = images->height,
    .n_files = images->n_frames,
    .write = write_png_file,
    .user_data = &job,
  };
  return rl_node_save_files (ctx, &request, error);
}

static gboolean
execute_save_image (RlNodeContext  *ctx,
                    GError        **error)
{
  return save_frames_as_png (ctx, NULL, rl_node_context_get_string (ctx, "filename_prefix"),
                             4, error);
}

static gboolean
execute_preview_image (RlNodeContext  *ctx,
                       GError        **error)
{
  /* ComfyUI's temp prefix: five random letters so previews of concurrent
   * jobs never share a counter sequence. */
  char letters[6] = "";
  for (int i = 0; i < 5; i++)
    letters[i] = (char) ('a' + g_random_int_range (0, 26));
  g_autofree char *prefix = g_strconcat ("ComfyUI_temp_", letters, NULL);
  return save_frames_as_png (ctx, rl_node_preview_dir (), prefix, 1, error);
}

static const char * const webp_methods[] = { "default", "fastest", "slowest", NULL };
static const int webp_method_levels[] = { 4, 0, 6 };

typedef struct {
  const RlImage               *images;
  const RlAnimatedWebpOptions *options;
} WebpSaveJob;

static gboolean
write_webp_file (const char  *path,
                 guint        index,
                 gpointer     user_data,
                 GError     **error)
{
  const WebpSaveJob *job = user_data;
  return rl_animated_webp_write (path, job->images, job->options, error);
}

static gboolean
execute_save_animated_webp (RlNodeContext  *ctx,
                            GError        **error)
{
  const RlImage *images = rl_node_require_images (ctx, "images", error);
  if (images == NULL)
    return FALSE;

  RlAnimatedWebpOptions options;
  rl_animated_webp_options_init (&options);
  options.fps = rl_node_context_get_float (ctx, "fps");
  options.lossless = rl_node_context_get_boolean (ctx, "lossless");
  options.quality = (int) rl_node_context_get_int (ctx, "quality");
  const char *method = rl_node_context_get_string (ctx, "method");
  for (guint i = 0; webp_methods[i] != NULL; i++)
    if (g_strcmp0 (webp_methods[i], method) == 0)
      options.method = webp_method_levels[i];
  options.prompt_json = rl_node_context_get_prompt_json (ctx);
  options.workflow_json = rl_node_context_get_workflow_json (ctx);

  WebpSaveJob job = { images, &options };
  RlSaveRequest request = {
    .filename_prefix = rl_node_context_get_string (ctx, "filename_prefix"),
    .extension = "webp",
    .width = images->width,
    .height = images->height,
    .n_files = 1,
    .write = write_webp_file,
    .user_data = &job,
  };
  return rl_node_save_files (ctx, &request, error);
}

/* ---- tables ------------------------------------------------------------ */

static const RlInputSpec save_image_inputs[] = {
  { .name = "images", .kind = RL_INPUT_LINK, .type = "IMAGE", .tooltip = "The images to save." },
  { .name = "filename_prefix", .kind = RL_INPUT_STRING, .string_default = "ComfyUI",
    .tooltip = "The prefix for the file to save. May include a subfolder and %width%, "
               "%height%, %year%, %month%, %day%, %hour%, %minute%, %second%." },
};

const RlNodeType rl_node_save_image = {
  .name = "SaveImage",
  .display_name = "Save Image",
  .category = "image",
  .description = "Saves the input images to your output directory.",
  .inputs = save_image_inputs,
  .n_inputs = G_N_ELEMENTS (save_image_inputs),
  .output_node = TRUE,
  .location = RL_RUN_IN_APP,
  .execute = execute_save_image,
};

static const RlInputSpec preview_image_inputs[] = {
  { .name = "images", .kind = RL_INPUT_LINK, .type = "IMAGE" },
};

const RlNodeType rl_node_preview_image = {
  .name = "PreviewImage",
  .display_name = "Preview Image",
  .category = "image",
  .description = "Saves the input images to a temporary folder for previewing.",
  .inputs = preview_image_inputs,
  .n_inputs = G_N_ELEMENTS (preview_image_inputs),
  .output_node = TRUE,
  .location = RL_RUN_IN_APP,
  .execute = execute_preview_image,
};

static const RlInputSpec save_animated_webp_inputs[] = {
  { .name = "images", .kind = RL_INPUT_LINK, .type = "IMAGE" },
  { .name = "filename_prefix", .kind = RL_INPUT_STRING, .string_default = "ComfyUI" },
  { .name = "fps", .kind = RL_INPUT_FLOAT, .float_min = 0.01, .float_max = 1000.0,
    .float_step = 0.01, .float_default = 6.0 },
  { .name = "lossless", .kind = RL_INPUT_BOOLEAN, .boolean_default = TRUE },
  { .name = "quality", .kind = RL_INPUT_INT, .int_min = 0, .int_max = 100, .int_step = 1,
    .int_default = 80 },
  { .name = "method", .kind = RL_INPUT_COMBO, .combo_options = webp_methods,
    .combo_default = "default" },
};

const RlNodeType rl_node_save_animated_webp = {
  .name = "SaveAnimatedWEBP",
  .display_name = "Save Animated WEBP",
  .category = "image/animation",
  .inputs = save_animated_webp_inputs,
  .n_inputs = G_N_ELEMENTS (save_animated_webp_inputs),
  .output_node = TRUE,
  .location = RL_RUN_IN_APP,
  .execute = execute_save_animated_webp,
};
