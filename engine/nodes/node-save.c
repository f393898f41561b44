#include "engine/nodes/node-save.h"

#include "engine/engine-error.h"
#include "engine/graph/image.h"
#include "engine/nodes/save-path.h"
#include "engine/nodes/video-value.h"

gboolean
rl_node_save_files (RlNodeContext        *ctx,
                    const RlSaveRequest  *request,
                    GError              **error)
{
  g_return_val_if_fail (ctx != NULL && request != NULL && request->write != NULL, FALSE);

  const char *output_dir = request->output_dir != NULL ? request->output_dir
                                                       : rl_node_context_get_output_dir (ctx);
  RlSavePath save_path;
  if (!rl_save_path_resolve (output_dir, request->filename_prefix, request->width,
                             request->height, &save_path, error))
    return FALSE;

  gboolean ok = TRUE;
  for (guint i = 0; i < request->n_files && ok; i++)
    {
      g_autofree char *name = rl_save_path_next_name (&save_path, request->extension, i);
      g_autofree char *path = g_build_filename (save_path.folder, name, NULL);
      ok = request->write (path, i, request->user_data, error);
      if (ok)
        rl_node_context_add_output_file (ctx, path);
    }
  rl_save_path_clear (&save_path);
  return ok;
}

const RlImage *
rl_node_require_images (RlNodeContext  *ctx,
                        const char     *name,
                        GError        **error)
{
  g_return_val_if_fail (ctx != NULL && name != NULL, NULL);

  const RlImage *images = rl_node_context_get_object (ctx, name, RL_SOCKET_TYPE_IMAGE);
  if (images == NULL || images->n_frames == 0)
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_EXECUTION,
                   "Input “%s” holds no images: connect it to a node that outputs IMAGE.",
                   name);
      return NULL;
    }
  return images;
}

const char *
rl_node_preview_dir (void)
{
  /* Interned: one string for the process, built on first use. */
  g_autofree char *dir = g_build_filename (g_get_tmp_dir (), "raylight-previews", NULL);
  return g_intern_string (dir);
}
