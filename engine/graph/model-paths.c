/* Model search paths in ComfyUI's layout (see model-paths.h). */
#include "engine/graph/model-paths.h"

#include <string.h>

#include "engine/engine-error.h"

/* One directory that holds the files of one folder name directly. */
typedef struct {
  char *folder;   /* canonical folder name */
  char *dir;
} FolderDir;

struct _RlModelPaths {
  gatomicrefcount  ref_count;
  GPtrArray       *roots;        /* owned strings: models folders */
  GArray          *folder_dirs;  /* FolderDir, explicit entries */
};

static const char * const model_extensions[] = {
  ".safetensors", ".gguf", ".pt", ".pth", ".ckpt", ".bin", ".sft", NULL
};

/* Deep enough for any real model tree; stops symlink loops. */
#define MAX_FOLDER_DEPTH 8

static void
folder_dir_clear (gpointer data)
{
  FolderDir *entry = data;

  g_free (entry->folder);
  g_free (entry->dir);
}

RlModelPaths *
rl_model_paths_new (void)
{
  RlModelPaths *paths = g_new0 (RlModelPaths, 1);

  g_atomic_ref_count_init (&paths->ref_count);
  paths->roots = g_ptr_array_new_with_free_func (g_free);
  paths->folder_dirs = g_array_new (FALSE, TRUE, sizeof (FolderDir));
  g_array_set_clear_func (paths->folder_dirs, folder_dir_clear);
  return paths;
}

RlModelPaths *
rl_model_paths_new_default (void)
{
  RlModelPaths *paths = rl_model_paths_new ();
  const char *env = g_getenv ("RAYLIGHT_MODEL_PATHS");
  g_autofree char *own = g_build_filename (g_get_user_data_dir (), "raylight", "models", NULL);

  if (env != NULL)
    rl_model_paths_add_roots_from_string (paths, env);
  rl_model_paths_add_root (paths, own);
  return paths;
}

RlModelPaths *
rl_model_paths_ref (RlModelPaths *paths)
{
  g_return_val_if_fail (paths != NULL, NULL);

  g_atomic_ref_count_inc (&paths->ref_count);
  return paths;
}

void
rl_model_paths_unref (RlModelPaths *paths)
{
  if (paths == NULL || !g_atomic_ref_count_dec (&paths->ref_count))
    return;
  g_ptr_array_unref (paths->roots);
  g_array_unref (paths->folder_dirs);
  g_free (paths);
}

/* ~ and ~/x expand to the home folder. */
static char *
expand_home (const char *path)
{
  if (path[0] == '~' && (path[1] == '\0' || path[1] == '/'))
    return g_build_filename (g_get_home_dir (), path + 1, NULL);
  return g_strdup (path);
}

static gboolean
string_array_contains (GPtrArray  *array,
                       const char *s)
{
  for (guint i = 0; i < array->len; i++)
    if (strcmp (g_ptr_array_index (array, i), s) == 0)
      return TRUE;
  return FALSE;
}

/* A known folder name inside a models folder, to tell one from a ComfyUI
 * installation that holds its models in models/. */
static gboolean
looks_like_models_dir (const char *dir)
{
  static const char * const markers[] = {
    "diffusion_models", "unet", "text_encoders", "clip", "vae", "loras", "checkpoints", NULL
  };

  for (guint i = 0; markers[i] != NULL; i++)
    {
      g_autofree char *sub = g_build_filename (dir, markers[i], NULL);

      if (g_file_test (sub, G_FILE_TEST_IS_DIR))
        return TRUE;
    }
  return FALSE;
}

void
rl_model_paths_add_root (RlModelPaths *paths,
                         const char   *root)
{
  g_autofree char *expanded = NULL;
  g_autofree char *models = NULL;
  char *chosen;

  g_return_if_fail (paths != NULL);
  g_return_if_fail (root != NULL);

  if (*root == '\0')
    return;
  expanded = expand_home (root);
  models = g_build_filename (expanded, "models", NULL);
  if (!looks_like_models_dir (expanded) && g_file_test (models, G_FILE_TEST_IS_DIR))
    chosen = g_steal_pointer (&models);
  else
    chosen = g_steal_pointer (&expanded);

  if (string_array_contains (paths->roots, chosen))
    {
      g_free (chosen);
      return;
    }
  g_ptr_array_add (paths->roots, chosen);
}

void
rl_model_paths_add_roots_from_string (RlModelPaths *paths,
                                      const char   *list)
{
  g_auto(GStrv) parts = NULL;

  g_return_if_fail (paths != NULL);
  g_return_if_fail (list != NULL);

  parts = g_strsplit (list, G_SEARCHPATH_SEPARATOR_S, -1);
  for (guint i = 0; parts[i] != NULL; i++)
    {
      g_strstrip (parts[i]);
      rl_model_paths_add_root (paths, parts[i]);
    }
}

const char *
rl_model_paths_canonical_folder (const char *folder_name)
{
  g_return_val_if_fail (folder_name != NULL, NULL);

  if (strcmp (folder_name, "unet") == 0)
    return "diffusion_models";
  if (strcmp (folder_name, "clip") == 0)
    return "text_encoders";
  return folder_name;
}

void
rl_model_paths_add_folder_dir (RlModelPaths *paths,
                               const char   *folder_name,
                               const char   *dir)
{
  FolderDir entry;
  const char *folder;
  g_autofree char *expanded = NULL;

  g_return_if_fail (paths != NULL);
  g_return_if_fail (folder_name != NULL);
  g_return_if_fail (dir != NULL);

  folder = rl_model_paths_canonical_folder (folder_name);
  expanded = expand_home (dir);
  for (guint i = 0; i < paths->folder_dirs->len; i++)
    {
      FolderDir *existing = &g_array_index (paths->folder_dirs, FolderDir, i);

      if (strcmp (existing->folder, folder) == 0 && strcmp (existing->dir, expanded) == 0)
        return;
    }
  entry.folder = g_strdup (folder);
  entry.dir = g_steal_pointer (&expanded);
  g_array_append_val (paths->folder_dirs, entry);
}

/* The subfolders of a models folder that hold @folder (canonical name). */
static void
subfolders_for (const char *folder,
                const char *names[3])
{
  names[0] = folder;
  names[1] = NULL;
  names[2] = NULL;
  if (strcmp (folder, "diffusion_models") == 0)
    names[1] = "unet";
  else if (strcmp (folder, "text_encoders") == 0)
    names[1] = "clip";
}

GPtrArray *
rl_model_paths_list_folder_dirs (RlModelPaths *paths,
                                 const char   *folder_name)
{
  GPtrArray *dirs;
  const char *folder;
  const char *names[3];

  g_return_val_if_fail (paths != NULL, NULL);
  g_return_val_if_fail (folder_name != NULL, NULL);

  dirs = g_ptr_array_new_with_free_func (g_free);
  folder = rl_model_paths_canonical_folder (folder_name);
  subfolders_for (folder, names);
  for (guint i = 0; i < paths->roots->len; i++)
    for (guint j = 0; names[j] != NULL; j++)
      {
        char *dir = g_build_filename (g_ptr_array_index (paths->roots, i), names[j], NULL);

        if (string_array_contains (dirs, dir))
          g_free (dir);
        else
          g_ptr_array_add (dirs, dir);
      }
  for (guint i = 0; i < paths->folder_dirs->len; i++)
    {
      FolderDir *entry = &g_array_index (paths->folder_dirs, FolderDir, i);

      if (strcmp (entry->folder, folder) == 0 && !string_array_contains (dirs, entry->dir))
        g_ptr_array_add (dirs, g_strdup (entry->dir));
    }
  return dirs;
}

static gboolean
has_model_extension (const char *name)
{
  for (guint i = 0; model_extensions[i] != NULL; i++)
    if (g_str_has_suffix (name, model_extensions[i]) && strlen (name) > strlen (model_extensions[i]))
      return TRUE;
  return FALSE;
}

/* Adds the model files under @dir to @names (a set of relative names),
 * @prefix being @dir's path relative to the folder ("" or "sub/"). */
static void
collect_files (const char *dir,
               const char *prefix,
               guint       depth,
               GHashTable *names)
{
  g_autoptr(GDir) handle = NULL;
  const char *entry;

  if (depth > MAX_FOLDER_DEPTH)
    return;
  handle = g_dir_open (dir, 0, NULL);
  if (handle == NULL)
    return;
  while ((entry = g_dir_read_name (handle)) != NULL)
    {
      g_autofree char *full = g_build_filename (dir, entry, NULL);
      g_autofree char *relative = g_strconcat (prefix, entry, NULL);

      if (entry[0] == '.')
        continue;
      if (g_file_test (full, G_FILE_TEST_IS_DIR))
        {
          g_autofree char *sub_prefix = g_strconcat (relative, "/", NULL);

          collect_files (full, sub_prefix, depth + 1, names);
        }
      else if (has_model_extension (entry))
        g_hash_table_add (names, g_steal_pointer (&relative));
    }
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

GPtrArray *
rl_model_paths_list_files (RlModelPaths *paths,
                           const char   *folder_name)
{
  g_autoptr(GPtrArray) dirs = NULL;
  g_autoptr(GHashTable) names = NULL;
  GPtrArray *files;
  GHashTableIter iter;
  gpointer key;

  g_return_val_if_fail (paths != NULL, NULL);
  g_return_val_if_fail (folder_name != NULL, NULL);

  dirs = rl_model_paths_list_folder_dirs (paths, folder_name);
  names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < dirs->len; i++)
    collect_files (g_ptr_array_index (dirs, i), "", 0, names);

  files = g_ptr_array_new_full (g_hash_table_size (names), g_free);
  g_hash_table_iter_init (&iter, names);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      g_hash_table_iter_steal (&iter);
      g_ptr_array_add (files, key);
    }
  g_ptr_array_sort (files, compare_strings);
  return files;
}

/* A name that stays inside its folder: relative, no ".." component. */
static gboolean
name_is_safe (const char *name)
{
  g_auto(GStrv) parts = NULL;

  if (*name == '\0' || g_path_is_absolute (name) || strchr (name, '\\') != NULL)
    return FALSE;
  parts = g_strsplit (name, "/", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    if (strcmp (parts[i], "..") == 0 || parts[i][0] == '\0')
      return FALSE;
  return TRUE;
}

char *
rl_model_paths_resolve (RlModelPaths *paths,
                        const char   *folder_name,
                        const char   *name,
                        GError      **error)
{
  g_autoptr(GPtrArray) dirs = NULL;
  g_autoptr(GString) searched = NULL;

  g_return_val_if_fail (paths != NULL, NULL);
  g_return_val_if_fail (folder_name != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  dirs = rl_model_paths_list_folder_dirs (paths, folder_name);
  if (name_is_safe (name))
    for (guint i = 0; i < dirs->len; i++)
      {
        g_autofree char *full = g_build_filename (g_ptr_array_index (dirs, i), name, NULL);

        if (g_file_test (full, G_FILE_TEST_IS_REGULAR))
          return g_steal_pointer (&full);
      }

  searched = g_string_new (NULL);
  for (guint i = 0; i < dirs->len; i++)
    g_string_append_printf (searched, "\n  %s", (const char *) g_ptr_array_index (dirs, i));
  if (dirs->len == 0)
    g_string_append (searched, "\n  (no model folders are configured)");
  g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_MODEL_NOT_FOUND,
               "Model file \"%s\" was not found in the %s folders%s.\n"
               "Searched:%s\n"
               "Put the file in one of these folders, or add a models folder with "
               "RAYLIGHT_MODEL_PATHS=/path/to/models (colon-separated) or an "
               "existing ComfyUI installation.",
               name, rl_model_paths_canonical_folder (folder_name),
               name_is_safe (name) ? "" : " (the name must be relative, without \"..\")",
               searched->str);
  return NULL;
}

gboolean
rl_model_paths_add_comfyui_install (RlModelPaths *paths,
                                    const char   *comfyui_dir,
                                    GError      **error)
{
  g_autofree char *models = NULL;
  g_autofree char *yaml = NULL;

  g_return_val_if_fail (paths != NULL, FALSE);
  g_return_val_if_fail (comfyui_dir != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!g_file_test (comfyui_dir, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_IO,
                   "ComfyUI folder \"%s\" does not exist or is not a folder", comfyui_dir);
      return FALSE;
    }
  models = g_build_filename (comfyui_dir, "models", NULL);
  rl_model_paths_add_root (paths, models);
  yaml = g_build_filename (comfyui_dir, "extra_model_paths.yaml", NULL);
  if (!g_file_test (yaml, G_FILE_TEST_EXISTS))
    return TRUE;
  return rl_model_paths_load_extra_model_paths_yaml (paths, yaml, error);
}

/* ---- extra_model_paths.yaml: the small YAML subset ComfyUI's example uses. */

typedef struct {
  const char *file;
  char       *yaml_dir;
  char       *base_path;       /* of the current section, absolute */
  char       *block_folder;    /* folder of an open "name: |" block */
  int         block_indent;    /* indent of the block's key */
} YamlState;

static void
strip_comment (char *line)
{
  gboolean in_single = FALSE, in_double = FALSE;

  for (char *p = line; *p != '\0'; p++)
    {
      if (*p == '\'' && !in_double)
        in_single = !in_single;
      else if (*p == '"' && !in_single)
        in_double = !in_double;
      else if (*p == '#' && !in_single && !in_double && (p == line || g_ascii_isspace (p[-1])))
        {
          *p = '\0';
          return;
        }
    }
}

static char *
unquote (const char *value)
{
  gsize len = strlen (value);

  if (len >= 2 && ((value[0] == '"' && value[len - 1] == '"')
                   || (value[0] == '\'' && value[len - 1] == '\'')))
    return g_strndup (value + 1, len - 2);
  return g_strdup (value);
}

static char *
absolute_from (const char *base,
               const char *path)
{
  g_autofree char *expanded = expand_home (path);

  if (g_path_is_absolute (expanded))
    return g_steal_pointer (&expanded);
  return g_build_filename (base, expanded, NULL);
}

static void
yaml_add_path (RlModelPaths *paths,
               YamlState    *state,
               const char   *folder,
               const char   *path)
{
  g_autofree char *full = NULL;

  if (*path == '\0')
    return;
  full = absolute_from (state->base_path != NULL ? state->base_path : state->yaml_dir, path);
  rl_model_paths_add_folder_dir (paths, folder, full);
}

static gboolean
yaml_fail (GError    **error,
           YamlState  *state,
           guint       line_no,
           const char *what)
{
  g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_INVALID_WORKFLOW,
               "%s:%u: %s; expected \"section:\" lines, each followed by indented "
               "\"folder_name: path\" entries (or \"folder_name: |\" and one path per line)",
               state->file, line_no, what);
  return FALSE;
}

/* One "key: value" line inside a section. */
static gboolean
yaml_section_entry (RlModelPaths *paths,
                    YamlState    *state,
                    const char   *key,
                    const char   *value,
                    int           indent,
                    guint         line_no,
                    GError      **error)
{
  g_autofree char *text = unquote (value);

  if (strcmp (key, "base_path") == 0)
    {
      g_free (state->base_path);
      state->base_path = absolute_from (state->yaml_dir, text);
      return TRUE;
    }
  if (strcmp (key, "is_default") == 0)
    return TRUE;
  if (strcmp (text, "|") == 0 || strcmp (text, "|-") == 0 || strcmp (text, ">") == 0)
    {
      state->block_folder = g_strdup (key);
      state->block_indent = indent;
      return TRUE;
    }
  if (*text == '\0')
    return yaml_fail (error, state, line_no, "a folder entry has no path");
  yaml_add_path (paths, state, key, text);
  return TRUE;
}

gboolean
rl_model_paths_load_extra_model_paths_yaml (RlModelPaths *paths,
                                            const char   *yaml_path,
                                            GError      **error)
{
  g_autofree char *contents = NULL;
  g_autoptr(GError) local_error = NULL;
  g_auto(GStrv) lines = NULL;
  YamlState state = { 0 };
  gboolean in_section = FALSE;
  gboolean ok = TRUE;

  g_return_val_if_fail (paths != NULL, FALSE);
  g_return_val_if_fail (yaml_path != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!g_file_get_contents (yaml_path, &contents, NULL, &local_error))
    {
      g_set_error (error, RL_ENGINE_ERROR, RL_ENGINE_ERROR_IO,
                   "Cannot read model paths file: %s", local_error->message);
      return FALSE;
    }
  state.file = yaml_path;
  state.yaml_dir = g_path_get_dirname (yaml_path);
  lines = g_strsplit (contents, "\n", -1);

  for (guint n = 0; ok && lines[n] != NULL; n++)
    {
      char *line = lines[n];
      int indent = 0;
      char *colon;

      g_strchomp (line);
      strip_comment (line);
      g_strchomp (line);
      while (line[indent] == ' ' || line[indent] == '\t')
        indent++;
      if (line[indent] == '\0')
        continue;

      if (state.block_folder != NULL)
        {
          if (indent > state.block_indent)
            {
              yaml_add_path (paths, &state, state.block_folder, line + indent);
              continue;
            }
          g_clear_pointer (&state.block_folder, g_free);
        }

      colon = strchr (line + indent, ':');
      if (colon == NULL)
        {
          ok = yaml_fail (error, &state, n + 1, "a line is neither \"key:\" nor \"key: value\"");
          break;
        }
      *colon = '\0';
      g_strchomp (line + indent);
      if (indent == 0)
        {
          in_section = TRUE;
          g_clear_pointer (&state.base_path, g_free);
          continue;
        }
      if (!in_section)
        {
          ok = yaml_fail (error, &state, n + 1, "an indented entry comes before any section");
          break;
        }
      ok = yaml_section_entry (paths, &state, line + indent, g_strstrip (colon + 1),
                               indent, n + 1, error);
    }

  g_free (state.yaml_dir);
  g_free (state.base_path);
  g_free (state.block_folder);
  return ok;
}
