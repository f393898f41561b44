/* The attention registry (dlopen of plugin folders) and the per-device
 * selector with fallback. See attention-registry.h. */
#include "plugins/attention/attention-registry.h"

#include <dirent.h>
#include <dlfcn.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raylight-config.h"

#define REASON_SIZE 512

typedef struct {
  const RlAttentionVariant *variant;
  char                     *origin;
  void                     *handle;   /* dlopen handle, NULL for built-ins */
} Entry;

struct RlAttentionRegistry {
  Entry            *entries;
  size_t            count;
  size_t            capacity;
  RlAttentionLogFn  log;
  void             *log_user;
};

typedef struct {
  RlAttentionInstance *instance;
  bool                 tried;             /* open() was called */
  char                 open_error[REASON_SIZE];
} Slot;

struct RlAttentionSelector {
  const RlAttentionRegistry *registry;
  RlAttentionBackend         backend;
  int32_t                    device_index;
  char                      *preferred;   /* NULL: auto */
  void                      *stream;
  Slot                      *slots;       /* one per registry entry */
  const RlAttentionVariant  *last;
  char                       last_logged[REASON_SIZE];
};

static void
registry_log (const RlAttentionRegistry *registry, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

static void
registry_log (const RlAttentionRegistry *registry, const char *fmt, ...)
{
  char line[1024];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (line, sizeof line, fmt, ap);
  va_end (ap);
  if (registry->log != NULL)
    registry->log (registry->log_user, line);
  else
    fprintf (stderr, "%s\n", line);
}

/* ----------------------------------------------------------- folders */

static bool
dirs_push (char ***dirs, size_t *count, const char *dir, size_t length)
{
  char **grown = realloc (*dirs, (*count + 2) * sizeof (char *));
  if (grown == NULL)
    return false;
  *dirs = grown;
  grown[*count] = strndup (dir, length);
  if (grown[*count] == NULL)
    return false;
  grown[++*count] = NULL;
  return true;
}

char **
rl_attention_default_dirs (void)
{
  char **dirs = calloc (1, sizeof (char *));
  size_t count = 0;
  const char *path = getenv ("RAYLIGHT_ATTENTION_PATH");
  bool ok = dirs != NULL;
  while (ok && path != NULL && *path != '\0')
    {
      const char *colon = strchr (path, ':');
      size_t length = colon != NULL ? (size_t) (colon - path) : strlen (path);
      if (length > 0)
        ok = dirs_push (&dirs, &count, path, length);
      path = colon != NULL ? colon + 1 : NULL;
    }
  const char *build = RAYLIGHT_BUILD_DIR "/plugins/attention";
  const char *installed = RAYLIGHT_PLUGIN_DIR "/attention";
  ok = ok && dirs_push (&dirs, &count, build, strlen (build));
  ok = ok && dirs_push (&dirs, &count, installed, strlen (installed));
  if (!ok)
    {
      rl_attention_dirs_free (dirs);
      return NULL;
    }
  return dirs;
}

void
rl_attention_dirs_free (char **dirs)
{
  if (dirs == NULL)
    return;
  for (char **d = dirs; *d != NULL; d++)
    free (*d);
  free (dirs);
}

/* ---------------------------------------------------------- registry */

static bool
registry_append (RlAttentionRegistry *registry, const RlAttentionVariant *variant,
                 const char *origin, void *handle)
{
  if (registry->count == registry->capacity)
    {
      size_t capacity = registry->capacity ? registry->capacity * 2 : 8;
      Entry *grown = realloc (registry->entries, capacity * sizeof (Entry));
      if (grown == NULL)
        return false;
      registry->entries = grown;
      registry->capacity = capacity;
    }
  char *copy = strdup (origin);
  if (copy == NULL)
    return false;
  registry->entries[registry->count++] = (Entry) { variant, copy, handle };
  return true;
}

/* Why `variant` cannot be registered, or NULL when it can. */
static const char *
variant_rejection (const RlAttentionRegistry *registry, const RlAttentionVariant *variant)
{
  if (variant == NULL)
    return "its entry function refused ABI version " "1";
  if (variant->abi_version != RL_ATTENTION_ABI_VERSION)
    return "it was built for another attention ABI version; rebuild it";
  if (variant->struct_size < RL_ATTENTION_VARIANT_MIN_SIZE || variant->name == NULL
      || variant->open == NULL || variant->supports == NULL || variant->run == NULL
      || variant->cost_hint == NULL)
    return "its variant table is incomplete";
  if (rl_attention_registry_find (registry, variant->name) != NULL)
    return "a variant of that name is already registered (first one kept)";
  return NULL;
}

bool
rl_attention_registry_add (RlAttentionRegistry *registry, const RlAttentionVariant *variant,
                           const char *origin)
{
  const char *rejection = variant_rejection (registry, variant);
  if (rejection != NULL)
    {
      registry_log (registry, "attention: not adding variant from %s: %s", origin, rejection);
      return false;
    }
  return registry_append (registry, variant, origin, NULL);
}

static bool
is_plugin_file (const char *name)
{
  size_t length = strlen (name), prefix = strlen (RL_ATTENTION_FILE_PREFIX),
         suffix = strlen (RL_ATTENTION_FILE_SUFFIX);
  return length > prefix + suffix && strncmp (name, RL_ATTENTION_FILE_PREFIX, prefix) == 0
         && strcmp (name + length - suffix, RL_ATTENTION_FILE_SUFFIX) == 0;
}

static void
registry_load_file (RlAttentionRegistry *registry, const char *path)
{
  /* RTLD_NODELETE: a module stays mapped after dlclose, with the libraries
   * it pulled in (libgomp's idle threads, CUDA's registered kernels), which
   * must outlive it. */
  void *handle = dlopen (path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (handle == NULL)
    {
      registry_log (registry, "attention: skipping %s: %s", path, dlerror ());
      return;
    }
  RlAttentionEntryFn entry;
  *(void **) &entry = dlsym (handle, RL_ATTENTION_ENTRY_SYMBOL);
  if (entry == NULL)
    {
      registry_log (registry, "attention: skipping %s: no symbol %s", path,
                    RL_ATTENTION_ENTRY_SYMBOL);
      dlclose (handle);
      return;
    }
  const RlAttentionVariant *variant = entry (RL_ATTENTION_ABI_VERSION);
  const char *rejection = variant_rejection (registry, variant);
  if (rejection != NULL)
    {
      registry_log (registry, "attention: skipping %s: %s", path, rejection);
      dlclose (handle);
      return;
    }
  if (!registry_append (registry, variant, path, handle))
    dlclose (handle);
}

static int
compare_names (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* Loads the plugins of one folder in name order, so the result does not
 * depend on readdir's order. */
static void
registry_scan_dir (RlAttentionRegistry *registry, const char *dir)
{
  DIR *stream = opendir (dir);
  if (stream == NULL)
    return;
  char **names = NULL;
  size_t count = 0;
  struct dirent *item;
  while ((item = readdir (stream)) != NULL)
    {
      if (!is_plugin_file (item->d_name))
        continue;
      char **grown = realloc (names, (count + 1) * sizeof (char *));
      if (grown == NULL)
        break;
      names = grown;
      if ((names[count] = strdup (item->d_name)) != NULL)
        count++;
    }
  closedir (stream);
  qsort (names, count, sizeof (char *), compare_names);
  for (size_t i = 0; i < count; i++)
    {
      char path[4096];
      snprintf (path, sizeof path, "%s/%s", dir, names[i]);
      registry_load_file (registry, path);
      free (names[i]);
    }
  free (names);
}

/* Whether dirs[index] names the same folder as an earlier entry (the
 * environment path often repeats the build folder). */
static bool
dir_seen_before (const char *const *dirs, size_t index)
{
  char *here = realpath (dirs[index], NULL);
  bool seen = false;
  for (size_t i = 0; here != NULL && i < index && !seen; i++)
    {
      char *earlier = realpath (dirs[i], NULL);
      seen = earlier != NULL && strcmp (earlier, here) == 0;
      free (earlier);
    }
  free (here);
  return seen;
}

RlAttentionRegistry *
rl_attention_registry_new (const char *const *dirs, RlAttentionLogFn log, void *log_user)
{
  RlAttentionRegistry *registry = calloc (1, sizeof (RlAttentionRegistry));
  if (registry == NULL)
    return NULL;
  registry->log = log;
  registry->log_user = log_user;
  for (size_t i = 0; dirs != NULL && dirs[i] != NULL; i++)
    if (!dir_seen_before (dirs, i))
      registry_scan_dir (registry, dirs[i]);
  return registry;
}

void
rl_attention_registry_free (RlAttentionRegistry *registry)
{
  if (registry == NULL)
    return;
  for (size_t i = 0; i < registry->count; i++)
    {
      free (registry->entries[i].origin);
      if (registry->entries[i].handle != NULL)
        dlclose (registry->entries[i].handle);
    }
  free (registry->entries);
  free (registry);
}

size_t
rl_attention_registry_count (const RlAttentionRegistry *registry)
{
  return registry != NULL ? registry->count : 0;
}

const RlAttentionVariant *
rl_attention_registry_get (const RlAttentionRegistry *registry, size_t index)
{
  return registry != NULL && index < registry->count ? registry->entries[index].variant : NULL;
}

const char *
rl_attention_registry_origin (const RlAttentionRegistry *registry, size_t index)
{
  return registry != NULL && index < registry->count ? registry->entries[index].origin : NULL;
}

const RlAttentionVariant *
rl_attention_registry_find (const RlAttentionRegistry *registry, const char *name)
{
  for (size_t i = 0; registry != NULL && name != NULL && i < registry->count; i++)
    if (strcmp (registry->entries[i].variant->name, name) == 0)
      return registry->entries[i].variant;
  return NULL;
}

/* ---------------------------------------------------------- selector */

RlAttentionSelector *
rl_attention_selector_new (const RlAttentionRegistry *registry, RlAttentionBackend backend,
                           int32_t device_index, const char *preferred)
{
  if (registry == NULL)
    return NULL;
  RlAttentionSelector *selector = calloc (1, sizeof (RlAttentionSelector));
  if (selector == NULL)
    return NULL;
  selector->registry = registry;
  selector->backend = backend;
  selector->device_index = device_index;
  selector->slots = calloc (registry->count + 1, sizeof (Slot));
  bool automatic = preferred == NULL || *preferred == '\0' || strcmp (preferred, "auto") == 0;
  selector->preferred = automatic ? NULL : strdup (preferred);
  if (selector->slots == NULL || (!automatic && selector->preferred == NULL))
    {
      rl_attention_selector_free (selector);
      return NULL;
    }
  return selector;
}

void
rl_attention_selector_free (RlAttentionSelector *selector)
{
  if (selector == NULL)
    return;
  for (size_t i = 0; selector->slots != NULL && i < selector->registry->count; i++)
    if (selector->slots[i].instance != NULL && selector->registry->entries[i].variant->close)
      selector->registry->entries[i].variant->close (selector->slots[i].instance);
  free (selector->slots);
  free (selector->preferred);
  free (selector);
}

void
rl_attention_selector_set_stream (RlAttentionSelector *selector, void *stream)
{
  selector->stream = stream;
}

const char *
rl_attention_selector_last (const RlAttentionSelector *selector)
{
  return selector->last != NULL ? selector->last->name : "";
}

/* Whether entry `index` can run `problem` here; the reason in `why`. Opens
 * the variant on first use and remembers a failed open. */
static bool
selector_accepts (RlAttentionSelector *selector, size_t index, const RlAttentionProblem *problem,
                  char *why, size_t why_size)
{
  const RlAttentionVariant *variant = selector->registry->entries[index].variant;
  Slot *slot = &selector->slots[index];
  if (variant->backend != (int32_t) selector->backend)
    {
      snprintf (why, why_size, "%s runs on %s tensors, these are on %s", variant->name,
                variant->backend == RL_ATTENTION_BACKEND_CUDA ? "CUDA" : "CPU",
                selector->backend == RL_ATTENTION_BACKEND_CUDA ? "CUDA" : "CPU");
      return false;
    }
  if (!slot->tried)
    {
      slot->tried = true;
      slot->open_error[0] = '\0';
      if (variant->open (selector->device_index, &slot->instance, slot->open_error,
                         sizeof slot->open_error) != RL_ATTENTION_OK)
        {
          slot->instance = NULL;
          if (slot->open_error[0] == '\0')
            snprintf (slot->open_error, sizeof slot->open_error, "%s: not available",
                      variant->name);
        }
    }
  if (slot->instance == NULL)
    {
      snprintf (why, why_size, "%s", slot->open_error);
      return false;
    }
  why[0] = '\0';
  if (variant->supports (slot->instance, problem, why, why_size) != RL_ATTENTION_OK)
    {
      if (why[0] == '\0')
        snprintf (why, why_size, "%s: does not support this problem", variant->name);
      return false;
    }
  return true;
}

/* Appends "; text" to `buffer`. */
static void
append_reason (char *buffer, size_t size, const char *text)
{
  size_t used = strlen (buffer);
  if (used + 3 < size)
    snprintf (buffer + used, size - used, "%s%s", used > 0 ? "; " : "", text);
}

const RlAttentionVariant *
rl_attention_selector_choose (RlAttentionSelector *selector, const RlAttentionProblem *problem,
                              char *why, size_t why_size)
{
  char reason[REASON_SIZE];
  why[0] = '\0';
  if (selector->preferred != NULL)
    {
      const RlAttentionVariant *wanted = NULL;
      for (size_t i = 0; i < selector->registry->count && wanted == NULL; i++)
        if (strcmp (selector->registry->entries[i].variant->name, selector->preferred) == 0)
          {
            wanted = selector->registry->entries[i].variant;
            if (selector_accepts (selector, i, problem, reason, sizeof reason))
              return wanted;
            append_reason (why, why_size, reason);
          }
      if (wanted == NULL)
        {
          snprintf (reason, sizeof reason, "attention variant '%s' is not installed "
                    "(no raylight-attention-%s.so in the plugin folders)", selector->preferred,
                    selector->preferred);
          append_reason (why, why_size, reason);
        }
    }
  const RlAttentionVariant *best = NULL;
  double best_cost = INFINITY;
  char declined[REASON_SIZE * 2] = "";
  for (size_t i = 0; i < selector->registry->count; i++)
    {
      const RlAttentionVariant *variant = selector->registry->entries[i].variant;
      if (selector->preferred != NULL && strcmp (variant->name, selector->preferred) == 0)
        continue;
      if (rl_attention_variant_is_approximate (variant))
        continue;   /* only when named: "auto" and fallbacks stay exact */
      if (!selector_accepts (selector, i, problem, reason, sizeof reason))
        {
          append_reason (declined, sizeof declined, reason);
          continue;
        }
      double cost = variant->cost_hint (selector->slots[i].instance, problem);
      if (best == NULL || cost < best_cost)
        best = variant, best_cost = cost;
    }
  if (best == NULL)
    append_reason (why, why_size, declined[0] != '\0' ? declined
                                                      : "no attention variant is installed");
  return best;
}

static Slot *
selector_slot_of (RlAttentionSelector *selector, const RlAttentionVariant *variant)
{
  for (size_t i = 0; i < selector->registry->count; i++)
    if (selector->registry->entries[i].variant == variant)
      return &selector->slots[i];
  return NULL;
}

int
rl_attention_selector_run (RlAttentionSelector *selector, const RlAttentionProblem *problem,
                           const RlAttentionArgs *args, char *error, size_t error_size)
{
  char why[REASON_SIZE * 2];
  const RlAttentionVariant *chosen = rl_attention_selector_choose (selector, problem, why,
                                                                   sizeof why);
  if (chosen == NULL)
    {
      snprintf (error, error_size, "attention: no variant can run B=%d H=%d Lq=%d Lk=%d D=%d %s: %s",
                problem->batch, problem->heads, problem->q_len, problem->kv_len,
                problem->head_dim, rl_attention_dtype_name (problem->qkv_dtype), why);
      return RL_ATTENTION_UNSUPPORTED;
    }
  if (why[0] != '\0' && strcmp (selector->last_logged, chosen->name) != 0)
    {
      registry_log (selector->registry, "attention: using '%s' instead of '%s': %s", chosen->name,
                    selector->preferred != NULL ? selector->preferred : "auto", why);
      snprintf (selector->last_logged, sizeof selector->last_logged, "%s", chosen->name);
    }
  if (why[0] == '\0')
    selector->last_logged[0] = '\0';
  RlAttentionArgs local = *args;
  if (local.stream == NULL)
    local.stream = selector->stream;
  int result = chosen->run (selector_slot_of (selector, chosen)->instance, problem, &local, error,
                            error_size);
  if (result == RL_ATTENTION_OK)
    selector->last = chosen;
  return result;
}

RlAttentionBackend
rl_attention_selector_backend (const RlAttentionSelector *selector)
{
  return selector->backend;
}

int32_t
rl_attention_selector_device (const RlAttentionSelector *selector)
{
  return selector->device_index;
}
