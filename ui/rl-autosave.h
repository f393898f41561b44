/* Autosave and crash recovery of unsaved workflows.
 *
 * Each page with unsaved edits is written now and then to
 * $XDG_STATE_HOME/raylight/autosave/<id>.json, with <id>.info (a key file:
 * title, and the file it belongs to if any). Saving or discarding the page
 * removes them; whatever is left at the next start was not saved, and the
 * window offers to restore it. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct {
  char *id;          /* the autosave's name */
  char *title;
  char *file_path;   /* the file the workflow belongs to, or NULL */
  char *workflow;    /* the JSON text */
} RlAutosaved;

/* The autosave folder ($RAYLIGHT_AUTOSAVE_DIR overrides it). */
char        *rl_autosave_get_dir      (void);
/* Writes workflow JSON @text for autosave @id. */
gboolean     rl_autosave_write        (const char   *id,
                                       const char   *title,
                                       GFile        *file,
                                       const char   *text,
                                       GError      **error);
/* Removes autosave @id, if present. */
void         rl_autosave_remove       (const char   *id);
/* Every autosave found, oldest first (array of RlAutosaved, owned).
 * Unreadable entries are skipped with a warning. */
GPtrArray   *rl_autosave_list         (void);
void         rl_autosaved_free        (RlAutosaved  *autosaved);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RlAutosaved, rl_autosaved_free)

G_END_DECLS
