/* The one save routine every output node shares: resolve
 * filename_prefix under an output folder (save-path.h), name each file
 * with the next counter, write it through a callback, and record it with
 * the node context. */
#pragma once

#include "engine/graph/node-type.h"

G_BEGIN_DECLS

/* Writes file @index of a batch to @path. */
typedef gboolean (*RlSaveFileFunc) (const char  *path,
                                    guint        index,
                                    gpointer     user_data,
                                    GError     **error);

typedef struct {
  const char     *output_dir;      /* NULL: the context's output folder */
  const char     *filename_prefix;
  const char     *extension;       /* without the dot */
  guint           width;           /* for %width% / %height% */
  guint           height;
  guint           n_files;         /* one per batch item, or 1 */
  RlSaveFileFunc  write;
  gpointer        user_data;
} RlSaveRequest;

/* Saves @request->n_files files; each written file is reported with
 * rl_node_context_add_output_file. Stops at the first failure, keeping
 * the files already written. */
gboolean        rl_node_save_files      (RlNodeContext        *ctx,
                                         const RlSaveRequest  *request,
                                         GError              **error);

/* The borrowed IMAGE frames of input @name; NULL with an error naming
 * the input when it is absent or holds no frames. */
const RlImage  *rl_node_require_images  (RlNodeContext        *ctx,
                                         const char           *name,
                                         GError              **error);

/* The folder previews go to: <tmp>/raylight-previews, created on demand. */
const char     *rl_node_preview_dir     (void);

G_END_DECLS
