/* Recovering the prompt and workflow JSON that ComfyUI (and Raylight)
 * embed in outputs: PNG text chunks, MP4/WebM/MKV container tags, WebP
 * EXIF entries. The format is found from the file's bytes, not its name. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  char *prompt_json;     /* API prompt, or NULL when the file has none */
  char *workflow_json;   /* UI workflow, or NULL when the file has none */
} RlMediaMetadata;

/* The metadata of @path; at least one of the two fields is set.
 * Errors: RL_ENGINE_ERROR_IO when the file cannot be opened or read;
 * RL_ENGINE_ERROR_MEDIA when it is not a readable PNG/WebP/video or holds
 * neither a prompt nor a workflow. */
RlMediaMetadata *rl_media_metadata_read  (const char       *path,
                                          GError          **error);
void             rl_media_metadata_free  (RlMediaMetadata  *metadata);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RlMediaMetadata, rl_media_metadata_free)

G_END_DECLS
