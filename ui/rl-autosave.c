/* Autosave files: <id>.json beside <id>.info. */
#include <errno.h>
#include <string.h>

#include <glib/gstdio.h>

#include "ui/rl-autosave.h"

char *
rl_autosave_get_dir (void)
{
  const char *override = g_getenv ("RAYLIGHT_AUTOSAVE_DIR");

  if (override != NULL && *override != '\0')
    return g_strdup (override);
  return g_build_filename (g_get_user_state_dir (), "raylight", "autosave", NULL);
}

static char *
entry_path (const char *id,
            const char *suffix)
{
  g_autofree char *dir = rl_autosave_get_dir ();
  g_autofree char *name = g_strconcat (id, suffix, NULL);

  return g_build_filename (dir, name, NULL);
}

gboolean
rl_autosave_write (const char  *id,
                   const char  *title,
                   GFile       *file,
                   const char  *text,
                   GError     **error)
{
  g_autofree char *dir = rl_autosave_get_dir ();
  g_autofree char *json_path = entry_path (id, ".json");
  g_autofree char *info_path = entry_path (id, ".info");
  g_autoptr(GKeyFile) info = g_key_file_new ();

  g_return_val_if_fail (id != NULL && text != NULL, FALSE);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                   "Could not create the autosave folder %s: %s", dir, g_strerror (errno));
      return FALSE;
    }
  g_key_file_set_string (info, "autosave", "title", title != NULL ? title : "Untitled");
  if (file != NULL && g_file_peek_path (file) != NULL)
    g_key_file_set_string (info, "autosave", "file", g_file_peek_path (file));
  /* The JSON first: an .info always has its workflow beside it. */
  return g_file_set_contents (json_path, text, -1, error) &&
         g_key_file_save_to_file (info, info_path, error);
}

void
rl_autosave_remove (const char *id)
{
  g_autofree char *json_path = entry_path (id, ".json");
  g_autofree char *info_path = entry_path (id, ".info");

  g_unlink (info_path);
  g_unlink (json_path);
}

void
rl_autosaved_free (RlAutosaved *autosaved)
{
  if (autosaved == NULL)
    return;
  g_free (autosaved->id);
  g_free (autosaved->title);
  g_free (autosaved->file_path);
  g_free (autosaved->workflow);
  g_free (autosaved);
}

static RlAutosaved *
read_entry (const char *dir,
            const char *info_name)
{
  g_autofree char *id = g_strndup (info_name, strlen (info_name) - strlen (".info"));
  g_autofree char *info_path = g_build_filename (dir, info_name, NULL);
  g_autofree char *json_path = entry_path (id, ".json");
  g_autoptr(GKeyFile) info = g_key_file_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(RlAutosaved) autosaved = g_new0 (RlAutosaved, 1);

  if (!g_key_file_load_from_file (info, info_path, G_KEY_FILE_NONE, &error) ||
      !g_file_get_contents (json_path, &autosaved->workflow, NULL, &error))
    {
      g_warning ("Skipping autosave %s: %s", info_path, error->message);
      return NULL;
    }
  autosaved->id = g_steal_pointer (&id);
  autosaved->title = g_key_file_get_string (info, "autosave", "title", NULL);
  autosaved->file_path = g_key_file_get_string (info, "autosave", "file", NULL);
  return g_steal_pointer (&autosaved);
}

static int
compare_by_id (gconstpointer a,
               gconstpointer b)
{
  const RlAutosaved *x = *(RlAutosaved * const *) a, *y = *(RlAutosaved * const *) b;

  return g_strcmp0 (x->id, y->id);
}

GPtrArray *
rl_autosave_list (void)
{
  g_autofree char *dir_path = rl_autosave_get_dir ();
  g_autoptr(GDir) dir = g_dir_open (dir_path, 0, NULL);
  GPtrArray *found = g_ptr_array_new_with_free_func ((GDestroyNotify) rl_autosaved_free);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      RlAutosaved *autosaved;

      if (!g_str_has_suffix (name, ".info"))
        continue;
      autosaved = read_entry (dir_path, name);
      if (autosaved != NULL)
        g_ptr_array_add (found, autosaved);
    }
  /* Ids start with the time they were made, so this is oldest first. */
  g_ptr_array_sort (found, compare_by_id);
  return found;
}
