#include "family-plugins.h"

#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_FAMILIES 32
#define MODULE_PREFIX "raylight-family-"
#define MODULE_SUFFIX ".so"

struct RlFamilyPlugins {
  int             rank;
  size_t          count;
  const RlFamily *families[MAX_FAMILIES];
  void           *handles[MAX_FAMILIES];
};

static bool
is_module_name (const char *name)
{
  size_t length = strlen (name);
  size_t prefix = strlen (MODULE_PREFIX), suffix = strlen (MODULE_SUFFIX);
  return length > prefix + suffix && strncmp (name, MODULE_PREFIX, prefix) == 0
         && strcmp (name + length - suffix, MODULE_SUFFIX) == 0;
}

static bool
is_directory (const char *path)
{
  struct stat st;
  return stat (path, &st) == 0 && S_ISDIR (st.st_mode);
}

/* Checks what the module's entry point returns; false with a reason. */
static bool
family_is_usable (const RlFamily *family, const RlFamilyPlugins *plugins, char *why,
                  size_t size)
{
  if (family == NULL)
    snprintf (why, size, "its entry point returned no family");
  else if (family->abi_version != RL_FAMILY_ABI_VERSION)
    snprintf (why, size, "it was built for family ABI %u, this worker speaks %u; rebuild "
              "the plugin with this Raylight", family->abi_version, RL_FAMILY_ABI_VERSION);
  else if (family->struct_size < sizeof (RlFamily))
    snprintf (why, size, "its RlFamily is %u bytes, this worker expects %zu; rebuild the "
              "plugin with this Raylight", family->struct_size, sizeof (RlFamily));
  else if (family->name == NULL || family->probe == NULL || family->load == NULL
           || family->unload == NULL)
    snprintf (why, size, "it lacks a name, probe, load or unload function");
  else if (rl_family_plugins_find (plugins, family->name) != NULL)
    snprintf (why, size, "family '%s' is already loaded from another module; remove one of "
              "them from RAYLIGHT_PLUGIN_PATH", family->name);
  else
    return true;
  return false;
}

static void
load_module (RlFamilyPlugins *plugins, const char *path)
{
  if (plugins->count == MAX_FAMILIES)
    {
      fprintf (stderr, "raylight-worker[rank %d]: skipping family plugin %s: more than %d "
               "families\n", plugins->rank, path, MAX_FAMILIES);
      return;
    }
  void *handle = dlopen (path, RTLD_NOW | RTLD_LOCAL);
  if (handle == NULL)
    {
      fprintf (stderr, "raylight-worker[rank %d]: cannot load family plugin %s: %s\n",
               plugins->rank, path, dlerror ());
      return;
    }
  RlFamilyEntryFunc entry = (RlFamilyEntryFunc) dlsym (handle, RL_FAMILY_ENTRY_SYMBOL);
  char why[256] = "";
  const RlFamily *family = entry ? entry () : NULL;
  if (entry == NULL)
    snprintf (why, sizeof why, "it has no %s symbol; it is not a Raylight family plugin",
              RL_FAMILY_ENTRY_SYMBOL);
  if (entry == NULL || !family_is_usable (family, plugins, why, sizeof why))
    {
      fprintf (stderr, "raylight-worker[rank %d]: skipping family plugin %s: %s\n",
               plugins->rank, path, why);
      dlclose (handle);
      return;
    }
  plugins->families[plugins->count] = family;
  plugins->handles[plugins->count] = handle;
  plugins->count++;
}

/* Loads the family modules directly in dir; with descend, also those in
 * its immediate subfolders. */
static void
scan_directory (RlFamilyPlugins *plugins, const char *dir, bool descend)
{
  /* Sorted order, so which of two same-named families wins is stable. */
  struct dirent **entries = NULL;
  int n = scandir (dir, &entries, NULL, alphasort);
  for (int i = 0; i < n; i++)
    {
      const char *name = entries[i]->d_name;
      char path[4096];
      if (name[0] != '.' && snprintf (path, sizeof path, "%s/%s", dir, name) < (int) sizeof path)
        {
          if (is_module_name (name))
            load_module (plugins, path);
          else if (descend && is_directory (path))
            scan_directory (plugins, path, false);
        }
      free (entries[i]);
    }
  free (entries);
}

RlFamilyPlugins *
rl_family_plugins_load (const char *search_path, int rank)
{
  RlFamilyPlugins *plugins = calloc (1, sizeof *plugins);
  if (plugins == NULL)
    return NULL;
  plugins->rank = rank;
  if (search_path == NULL || search_path[0] == '\0')
    return plugins;
  char *copy = strdup (search_path);
  if (copy == NULL)
    return plugins;
  char *save = NULL;
  for (char *dir = strtok_r (copy, ":", &save); dir != NULL; dir = strtok_r (NULL, ":", &save))
    scan_directory (plugins, dir, true);
  free (copy);
  return plugins;
}

void
rl_family_plugins_free (RlFamilyPlugins *plugins)
{
  if (plugins == NULL)
    return;
  /* Modules stay mapped: a model unloaded late (at exit) still needs its
   * code, and the process ends right after. */
  free (plugins);
}

size_t
rl_family_plugins_count (const RlFamilyPlugins *plugins)
{
  return plugins->count;
}

const RlFamily *
rl_family_plugins_find (const RlFamilyPlugins *plugins, const char *name)
{
  for (size_t i = 0; i < plugins->count; i++)
    if (strcmp (plugins->families[i]->name, name) == 0)
      return plugins->families[i];
  return NULL;
}

void
rl_family_plugins_list (const RlFamilyPlugins *plugins, char *out, size_t size)
{
  size_t used = 0;
  out[0] = '\0';
  for (size_t i = 0; i < plugins->count && used < size; i++)
    used += (size_t) snprintf (out + used, size - used, "%s%s", i ? ", " : "",
                               plugins->families[i]->name);
  if (out[0] == '\0')
    snprintf (out, size, "none: no raylight-family-*.so on RAYLIGHT_PLUGIN_PATH");
}

const RlFamily *
rl_family_plugins_probe (const RlFamilyPlugins *plugins, const RlSafetensors *st,
                         const char *path, RlModelKind *kind, char *variant,
                         size_t variant_size, RlErrorInfo *err)
{
  char hints[1024] = "";
  size_t used = 0;
  for (size_t i = 0; i < plugins->count; i++)
    {
      const RlFamily *family = plugins->families[i];
      rl_clear_error ();
      RlStatus status = family->probe (st, kind, variant, variant_size);
      if (status == RL_OK)
        return family;
      if (status == RL_E_NOT_SUPPORTED)
        {
          rl_error_set (err, RL_WIRE_NOT_SUPPORTED, "%s", rl_last_error ());
          return NULL;
        }
      /* A family may say why the file is not its own (what it looks like). */
      if (rl_last_error ()[0] != '\0' && used < sizeof hints)
        used += (size_t) snprintf (hints + used, sizeof hints - used, "; %s: %s", family->name,
                                   rl_last_error ());
    }
  char installed[256];
  rl_family_plugins_list (plugins, installed, sizeof installed);
  rl_error_set (err, RL_WIRE_INVALID, "%s is not a model any installed family recognises "
                "(installed: %s)%s", path, installed, hints);
  return NULL;
}
