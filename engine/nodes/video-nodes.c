/* ComfyUI's video nodes (comfy_extras/nodes_video.py): CreateVideo,
 * GetVideoComponents and SaveVideo. SaveVideo adds WebM/VP9 and a crf
 * input to ComfyUI's MP4/H.264. */
#include "engine/nodes/builtin-node-tables.h"

#include "engine/engine-error.h"
#include "engine/graph/image.h"
#include "engine/media/video-writer.h"
#include "engine/nodes/node-save.h"
#include "engine/nodes/video-value.h"

static gboolean
execute_create_video (RlNodeContext  *ctx,
                      GError        **error)
{
  if (rl_node_require_images (ctx, "images", error) == NULL)
    return FALSE;
  double fps = rl_node_context_get_float (ctx, "fps");
  int num = 0, den = 0;
  if (!rl_fps_to_rational (fps, &num, &den))
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_EXECUTION,
                   "fps %g is not a positive frame rate.", fps);
      return FALSE;
    }
  RlValue *images = rl_node_context_get_input (ctx, "images");
  rl_node_context_set_output (ctx, 0, rl_value_new_video_sharing (images, num, den));
  return TRUE;
}

/* The VIDEO input @name, or NULL with an error. */
static const RlVideo *
require_video (RlNodeContext  *ctx,
               const char     *name,
               GError        **error)
{
  const RlVideo *video = rl_node_context_get_object (ctx, name, RL_SOCKET_TYPE_VIDEO);
  if (video == NULL)
    g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_EXECUTION,
                 "Input “%s” holds no video: connect it to a node that outputs VIDEO.", name);
  return video;
}

static gboolean
execute_get_video_components (RlNodeContext  *ctx,
                              GError        **error)
{
  const RlVideo *video = require_video (ctx, "video", error);
  if (video == NULL)
    return FALSE;
  RlValue *value = rl_node_context_get_input (ctx, "video");
  rl_node_context_set_output (ctx, 0, rl_value_ref (rl_value_get_video_images (value)));
  rl_node_context_set_output (ctx, 1, rl_value_new_no_audio ());
  rl_node_context_set_output (ctx, 2, rl_value_new_float (rl_video_get_fps (video)));
  return TRUE;
}

/* ---- SaveVideo ------------------------------------------------------- */

static const char * const format_options[] = { "auto", "mp4", "webm", NULL };
static const char * const codec_options[] = { "auto", "h264", "vp9", NULL };

/* Resolves "auto" the way ComfyUI does (MP4 with H.264), letting a VP9
 * choice pick WebM and a WebM choice pick VP9. */
static void
choose_container_and_codec (const char          *format,
                            const char          *codec,
                            RlVideoWriteOptions *options)
{
  gboolean want_webm = g_strcmp0 (format, "webm") == 0
                       || (g_strcmp0 (format, "auto") == 0 && g_strcmp0 (codec, "vp9") == 0);
  options->container = want_webm ? RL_VIDEO_CONTAINER_WEBM : RL_VIDEO_CONTAINER_MP4;
  if (g_strcmp0 (codec, "auto") == 0)
    options->codec = want_webm ? RL_VIDEO_CODEC_VP9 : RL_VIDEO_CODEC_H264;
  else
    options->codec = g_strcmp0 (codec, "vp9") == 0 ? RL_VIDEO_CODEC_VP9 : RL_VIDEO_CODEC_H264;
}

typedef struct {
  const RlVideo             *video;
  const RlVideoWriteOptions *options;
} VideoSaveJob;

static gboolean
write_video_file (const char  *path,
                  guint        index,
                  gpointer     user_data,
                  GError     **error)
{
  const VideoSaveJob *job = user_data;
  return rl_video_write (path, job->video->frames, job->options, error);
}

static gboolean
execute_save_video (RlNodeContext  *ctx,
                    GError        **error)
{
  const RlVideo *video = require_video (ctx, "video", error);
  if (video == NULL)
    return FALSE;
  if (video->fps_num <= 0)
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_EXECUTION,
                   "The video has no frame rate (it came from a still image); "
                   "make it with Create Video and an fps.");
      return FALSE;
    }

  RlVideoWriteOptions options;
  rl_video_write_options_init (&options);
  choose_container_and_codec (rl_node_context_get_string (ctx, "format"),
                              rl_node_context_get_string (ctx, "codec"), &options);
  options.fps_num = video->fps_num;
  options.fps_den = video->fps_den;
  if (rl_node_context_get_input (ctx, "crf") != NULL)
    options.crf = (int) rl_node_context_get_int (ctx, "crf");
  options.prompt_json = rl_node_context_get_prompt_json (ctx);
  options.workflow_json = rl_node_context_get_workflow_json (ctx);

  VideoSaveJob job = { video, &options };
  RlSaveRequest request = {
    .filename_prefix = rl_node_context_get_string (ctx, "filename_prefix"),
    .extension = rl_video_container_extension (options.container),
    .width = video->frames->width,
    .height = video->frames->height,
    .n_files = 1,
    .write = write_video_file,
    .user_data = &job,
  };
  return rl_node_save_files (ctx, &request, error);
}

/* ---- tables ------------------------------------------------------------ */

static const RlInputSpec create_video_inputs[] = {
  { .name = "images", .kind = RL_INPUT_LINK, .type = "IMAGE",
    .tooltip = "The images to create a video from." },
  { .name = "fps", .kind = RL_INPUT_FLOAT, .float_min = 1.0, .float_max = 120.0,
    .float_step = 1.0, .float_default = 30.0 },
  { .name = "audio", .kind = RL_INPUT_LINK, .type = "AUDIO", .optional = TRUE,
    .tooltip = "The audio to add to the video (not carried yet)." },
};
static const RlOutputSpec create_video_outputs[] = { { .name = "VIDEO", .type = "VIDEO" } };

const RlNodeType rl_node_create_video = {
  .name = "CreateVideo",
  .display_name = "Create Video",
  .category = "image/video",
  .description = "Create a video from images.",
  .inputs = create_video_inputs,
  .n_inputs = G_N_ELEMENTS (create_video_inputs),
  .outputs = create_video_outputs,
  .n_outputs = G_N_ELEMENTS (create_video_outputs),
  .location = RL_RUN_IN_APP,
  .execute = execute_create_video,
};

static const RlInputSpec get_video_components_inputs[] = {
  { .name = "video", .kind = RL_INPUT_LINK, .type = "VIDEO",
    .tooltip = "The video to extract components from." },
};
static const RlOutputSpec get_video_components_outputs[] = {
  { .name = "images", .type = "IMAGE" },
  { .name = "audio", .type = "AUDIO" },
  { .name = "fps", .type = "FLOAT" },
};

const RlNodeType rl_node_get_video_components = {
  .name = "GetVideoComponents",
  .display_name = "Get Video Components",
  .category = "image/video",
  .description = "Extracts all components from a video: frames, audio, and framerate.",
  .inputs = get_video_components_inputs,
  .n_inputs = G_N_ELEMENTS (get_video_components_inputs),
  .outputs = get_video_components_outputs,
  .n_outputs = G_N_ELEMENTS (get_video_components_outputs),
  .location = RL_RUN_IN_APP,
  .execute = execute_get_video_components,
};

static const RlInputSpec save_video_inputs[] = {
  { .name = "video", .kind = RL_INPUT_LINK, .type = "VIDEO", .tooltip = "The video to save." },
  { .name = "filename_prefix", .kind = RL_INPUT_STRING, .string_default = "video/ComfyUI",
    .tooltip = "The prefix for the file to save. May include a subfolder and %width%, "
               "%height%, %year%, %month%, %day%, %hour%, %minute%, %second%." },
  { .name = "format", .kind = RL_INPUT_COMBO, .combo_options = format_options,
    .combo_default = "auto", .tooltip = "The format to save the video as." },
  { .name = "codec", .kind = RL_INPUT_COMBO, .combo_options = codec_options,
    .combo_default = "auto", .tooltip = "The codec to use for the video." },
  { .name = "crf", .kind = RL_INPUT_INT, .optional = TRUE, .int_min = 0, .int_max = 63,
    .int_step = 1, .int_default = 23,
    .tooltip = "Quality: lower is better and larger. Without it, 23 for H.264 and 32 for VP9." },
};

const RlNodeType rl_node_save_video = {
  .name = "SaveVideo",
  .display_name = "Save Video",
  .category = "image/video",
  .description = "Saves the input images to your output directory.",
  .inputs = save_video_inputs,
  .n_inputs = G_N_ELEMENTS (save_video_inputs),
  .output_node = TRUE,
  .location = RL_RUN_IN_APP,
  .execute = execute_save_video,
};
