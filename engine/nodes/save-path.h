/* Where a save node writes: ComfyUI's filename_prefix rules.
 *
 * "video/ComfyUI" saves into <output dir>/video/ as
 * "ComfyUI_00001_.mp4", "ComfyUI_00002_.mp4", ...: the counter continues
 * after the highest one already in the folder for that prefix (whatever
 * the extension). %width%, %height%, %year%, %month%, %day%, %hour%,
 * %minute% and %second% in the prefix are replaced; %batch_num% in the
 * file name becomes the index within the batch. A prefix that would leave
 * the output folder (absolute, or climbing with "..") is refused. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  char   *folder;      /* absolute folder the files go to; exists */
  char   *subfolder;   /* relative to the output folder; "" for none */
  char   *filename;    /* the prefix's last component, variables replaced */
  guint   counter;     /* the next free counter, from 1 */
} RlSavePath;

/* Resolves @filename_prefix under @output_dir (created if missing, like
 * the subfolder) and scans it for the next counter. @width and @height
 * fill %width% / %height%. FALSE with RL_ENGINE_ERROR_IO naming the folder
 * when it cannot be created or listed, or RL_ENGINE_ERROR_EXECUTION when
 * the prefix is empty or leaves the output folder. */
gboolean  rl_save_path_resolve      (const char          *output_dir,
                                     const char          *filename_prefix,
                                     guint                width,
                                     guint                height,
                                     RlSavePath          *path,
                                     GError             **error);
/* The next file name (not the path) "<filename>_<counter:05>_.<extension>"
 * with %batch_num% replaced by @batch_number; advances the counter. */
char     *rl_save_path_next_name    (RlSavePath          *path,
                                     const char          *extension,
                                     guint                batch_number);
/* The highest counter among @names for @filename (ComfyUI's rule: the
 * name starts with "<filename>_" and the digits up to the next "_" form
 * the counter; other names count as 0). Exposed for tests. */
guint     rl_save_path_max_counter  (const char          *filename,
                                     const char * const  *names,
                                     guint                n_names);
void      rl_save_path_clear        (RlSavePath          *path);

G_END_DECLS
