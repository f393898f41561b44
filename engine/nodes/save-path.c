#include "engine/nodes/save-path.h"

#include <errno.h>
#include <string.h>
#include <glib/gstdio.h>

#include "engine/engine-error.h"

/* Replaces ComfyUI's %variables% in @prefix. */
static char *
expand_variables (const char *prefix,
                  guint       width,
                  guint       height)
{
  if (strchr (prefix, '%') == NULL)
    return g_strdup (prefix);

  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *w = g_strdup_printf ("%u", width);
  g_autofree char *h = g_strdup_printf ("%u", height);
  g_autofree char *year = g_strdup_printf ("%d", g_date_time_get_year (now));
  g_autofree char *month = g_strdup_printf ("%02d", g_date_time_get_month (now));
  g_autofree char *day = g_strdup_printf ("%02d", g_date_time_get_day_of_month (now));
  g_autofree char *hour = g_strdup_printf ("%02d", g_date_time_get_hour (now));
  g_autofree char *minute = g_strdup_printf ("%02d", g_date_time_get_minute (now));
  g_autofree char *second = g_strdup_printf ("%02d", g_date_time_get_second (now));
  const char *names[] = { "%width%", "%height%", "%year%", "%month%", "%day%",
                          "%hour%", "%minute%", "%second%" };
  const char *values[] = { w, h, year, month, day, hour, minute, second };

  GString *out = g_string_new (prefix);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    g_string_replace (out, names[i], values[i], 0);
  return g_string_free (out, FALSE);
}

static gboolean
set_prefix_error (GError    **error,
                  const char *prefix,
                  const char *why)
{
  g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_EXECUTION,
               "filename_prefix “%s” %s.", prefix, why);
  return FALSE;
}

/* Parses ComfyUI's counter: the digits before the next '_'; 0 otherwise. */
static guint
counter_of (const char *rest)
{
  const char *end = strchr (rest, '_');
  gsize n = end != NULL ? (gsize) (end - rest) : strlen (rest);
  if (n == 0 || n > 9)
    return 0;
  for (gsize i = 0; i < n; i++)
    if (!g_ascii_isdigit (rest[i]))
      return 0;
  return (guint) g_ascii_strtoull (rest, NULL, 10);
}

guint
rl_save_path_max_counter (const char         *filename,
                          const char * const *names,
                          guint               n_names)
{
  g_return_val_if_fail (filename != NULL, 0);

  gsize length = strlen (filename);
  guint max = 0;
  for (guint i = 0; i < n_names; i++)
    {
      const char *name = names[i];
      if (strncmp (name, filename, length) != 0 || name[length] != '_')
        continue;
      max = MAX (max, counter_of (name + length + 1));
    }
  return max;
}

static gboolean
scan_counter (RlSavePath  *path,
              GError     **error)
{
  g_autoptr(GError) local = NULL;
  GDir *dir = g_dir_open (path->folder, 0, &local);
  if (dir == NULL)
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_IO,
                   "Cannot list output folder “%s”: %s", path->folder, local->message);
      return FALSE;
    }
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;
  while ((name = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_dir_close (dir);
  path->counter = rl_save_path_max_counter (path->filename, (const char * const *) names->pdata,
                                            names->len) + 1;
  return TRUE;
}

/* Whether @inner is @outer or lies below it; both canonical. */
static gboolean
is_within (const char *inner,
           const char *outer)
{
  gsize n = strlen (outer);
  if (strncmp (inner, outer, n) != 0)
    return FALSE;
  return inner[n] == '\0' || inner[n] == '/' || (n > 0 && outer[n - 1] == '/');
}

gboolean
rl_save_path_resolve (const char  *output_dir,
                      const char  *filename_prefix,
                      guint        width,
                      guint        height,
                      RlSavePath  *path,
                      GError     **error)
{
  g_return_val_if_fail (output_dir != NULL, FALSE);
  g_return_val_if_fail (filename_prefix != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  memset (path, 0, sizeof *path);
  g_autofree char *prefix = expand_variables (filename_prefix, width, height);
  if (g_path_is_absolute (prefix))
    return set_prefix_error (error, filename_prefix,
                             "is an absolute path; saving outside the output folder is not "
                             "allowed, use a relative prefix such as “video/ComfyUI”");

  g_autofree char *root = g_canonicalize_filename (output_dir, NULL);
  g_autofree char *full = g_canonicalize_filename (prefix, root);
  g_autofree char *filename = g_path_get_basename (full);
  g_autofree char *folder = g_path_get_dirname (full);
  if (!is_within (folder, root) || g_strcmp0 (full, root) == 0 || strcmp (filename, "/") == 0)
    return set_prefix_error (error, filename_prefix,
                             "leaves the output folder or names no file; saving outside the "
                             "output folder is not allowed");

  if (g_mkdir_with_parents (folder, 0755) != 0)
    {
      int saved_errno = errno;
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_IO,
                   "Cannot create output folder “%s”: %s. Choose an output folder "
                   "you can write to.", folder, g_strerror (saved_errno));
      return FALSE;
    }

  const char *sub = folder + strlen (root);
  while (*sub == '/')
    sub++;
  path->subfolder = g_strdup (sub);
  path->folder = g_steal_pointer (&folder);
  path->filename = g_steal_pointer (&filename);
  if (!scan_counter (path, error))
    {
      rl_save_path_clear (path);
      return FALSE;
    }
  return TRUE;
}

char *
rl_save_path_next_name (RlSavePath *path,
                        const char *extension,
                        guint       batch_number)
{
  g_return_val_if_fail (path != NULL && path->filename != NULL, NULL);
  g_return_val_if_fail (extension != NULL, NULL);

  GString *name = g_string_new (path->filename);
  g_autofree char *batch = g_strdup_printf ("%u", batch_number);
  g_string_replace (name, "%batch_num%", batch, 0);
  g_string_append_printf (name, "_%05u_.%s", path->counter++, extension);
  return g_string_free (name, FALSE);
}

void
rl_save_path_clear (RlSavePath *path)
{
  if (path == NULL)
    return;
  g_clear_pointer (&path->folder, g_free);
  g_clear_pointer (&path->subfolder, g_free);
  g_clear_pointer (&path->filename, g_free);
  path->counter = 0;
}
