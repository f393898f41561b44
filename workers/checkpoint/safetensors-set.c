/* Sharded safetensors checkpoints; see safetensors-set.h. */
#include "workers/checkpoint/safetensors-set.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workers/checkpoint/json-lite.h"

/* Indexes of the largest models are a few MB; anything past this is not one. */
#define MAX_INDEX_BYTES (64u << 20)

struct RlSafetensorsSet {
  char           *path;
  RlSafetensors **shards;
  size_t          shard_count;
  size_t          tensor_count;
  size_t         *first_index;   /* global index of each shard's first tensor */
};

static RlStatus
index_error (const char *path, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static RlStatus
index_error (const char *path, const char *fmt, ...)
{
  char what[768];
  va_list args;
  va_start (args, fmt);
  vsnprintf (what, sizeof what, fmt, args);
  va_end (args);
  return rl_set_error (RL_E_FORMAT, "%s: %s", path, what);
}

static bool
has_suffix (const char *s, const char *suffix)
{
  size_t n = strlen (s), m = strlen (suffix);
  return n >= m && strcmp (s + n - m, suffix) == 0;
}

static RlStatus
read_index (const char *path, char **text, size_t *len)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return rl_set_error (RL_E_IO, "%s: cannot open: %s", path, strerror (errno));
  struct stat info;
  if (fstat (fd, &info) != 0 || !S_ISREG (info.st_mode) || info.st_size > MAX_INDEX_BYTES) {
    close (fd);
    return rl_set_error (RL_E_FORMAT, "%s: not a regular file of at most %u bytes", path, MAX_INDEX_BYTES);
  }
  *len = (size_t) info.st_size;
  *text = malloc (*len ? *len : 1);
  if (*text == NULL) {
    close (fd);
    return rl_set_error (RL_E_NO_MEMORY, "%s: out of memory", path);
  }
  size_t done = 0;
  while (done < *len) {
    ssize_t n = read (fd, *text + done, *len - done);
    if (n <= 0) {
      close (fd);
      free (*text);
      return rl_set_error (RL_E_IO, "%s: read failed: %s", path, n < 0 ? strerror (errno) : "short file");
    }
    done += (size_t) n;
  }
  close (fd);
  return RL_OK;
}

static bool
is_safe_shard_name (const char *name)
{
  if (name[0] == '\0' || name[0] == '/' || strchr (name, '\\') != NULL)
    return false;
  /* No ".." component anywhere. */
  for (const char *p = name; *p; ) {
    const char *slash = strchr (p, '/');
    size_t n = slash ? (size_t) (slash - p) : strlen (p);
    if (n == 0 || (n == 2 && p[0] == '.' && p[1] == '.'))
      return false;
    p += n + (slash ? 1 : 0);
  }
  return true;
}

/* Index of shard `name` in names[0..*count), adding it when new. */
static size_t
shard_slot (const char **names, size_t *count, const char *name)
{
  for (size_t i = 0; i < *count; i++)
    if (strcmp (names[i], name) == 0)
      return i;
  names[*count] = name;
  return (*count)++;
}

static RlStatus
open_shards (RlSafetensorsSet *set, const char **names, size_t count)
{
  const char *slash = strrchr (set->path, '/');
  size_t dir_len = slash ? (size_t) (slash - set->path + 1) : 0;
  set->shards = calloc (count ? count : 1, sizeof *set->shards);
  if (set->shards == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "%s: out of memory", set->path);
  for (size_t i = 0; i < count; i++) {
    size_t n = dir_len + strlen (names[i]) + 1;
    char *shard_path = malloc (n);
    if (shard_path == NULL)
      return rl_set_error (RL_E_NO_MEMORY, "%s: out of memory", set->path);
    snprintf (shard_path, n, "%.*s%s", (int) dir_len, set->path, names[i]);
    RlStatus status = rl_safetensors_open (shard_path, &set->shards[i]);
    free (shard_path);
    if (status != RL_OK)
      return rl_prefix_error (status, "%s: shard '%s': ", set->path, names[i]);
    set->shard_count = i + 1;
  }
  return RL_OK;
}

static int
compare_strings (const void *a, const void *b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* A tensor named twice in the weight_map, or NULL. */
static RlStatus
find_duplicate_key (const RlSafetensorsSet *set, const RlJsonValue *map, const char **duplicate)
{
  *duplicate = NULL;
  const char **keys = malloc ((map->count ? map->count : 1) * sizeof *keys);
  if (keys == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "%s: out of memory", set->path);
  for (size_t i = 0; i < map->count; i++)
    keys[i] = map->members[i].key;
  qsort (keys, map->count, sizeof *keys, compare_strings);
  for (size_t i = 1; i < map->count && *duplicate == NULL; i++)
    if (strcmp (keys[i - 1], keys[i]) == 0)
      *duplicate = keys[i];
  free (keys);
  return RL_OK;
}

/* Every map entry must be in the shard it names and appear once; then the
 * shards hold exactly the mapped tensors iff the counts agree. Only when
 * they do not is the slow search run, to name the stray tensor. */
static RlStatus
check_against_map (RlSafetensorsSet *set, const RlJsonValue *map, const char **names, size_t count)
{
  for (size_t i = 0; i < map->count; i++) {
    const char *tensor = map->members[i].key;
    size_t shard = shard_slot (names, &count, map->members[i].value.string);
    if (rl_safetensors_find (set->shards[shard], tensor) == NULL)
      return index_error (set->path, "tensor '%s' is mapped to shard '%s', which does not contain it (stale index "
                          "or a shard from another download)", tensor, names[shard]);
  }
  const char *duplicate;
  RlStatus status = find_duplicate_key (set, map, &duplicate);
  if (status != RL_OK)
    return status;
  if (duplicate != NULL)
    return index_error (set->path, "tensor '%s' appears twice in the weight_map (corrupt index)", duplicate);
  size_t held = 0;
  for (size_t s = 0; s < set->shard_count; s++)
    held += rl_safetensors_count (set->shards[s]);
  if (held == map->count)
    return RL_OK;
  for (size_t s = 0; s < set->shard_count; s++)
    for (size_t t = 0; t < rl_safetensors_count (set->shards[s]); t++) {
      const char *tensor = rl_safetensors_tensor_at (set->shards[s], t)->name;
      const RlJsonValue *entry = rl_json_get (map, tensor);
      if (entry == NULL || strcmp (entry->string, names[s]) != 0)
        return index_error (set->path, "tensor '%s' of shard '%s' is %s (stale index or mixed downloads)", tensor,
                            names[s], entry ? "mapped to another shard" : "missing from the weight_map");
    }
  return index_error (set->path, "the weight_map lists %zu tensors but the shards hold %zu", map->count, held);
}

static RlStatus
open_index (RlSafetensorsSet *set)
{
  char *text = NULL;
  size_t len = 0;
  RlStatus status = read_index (set->path, &text, &len);
  if (status != RL_OK)
    return status;
  char json_error[256];
  RlJsonDoc *doc = rl_json_parse (text, len, 3, json_error, sizeof json_error);
  free (text);
  if (doc == NULL)
    return index_error (set->path, "%s (corrupt index)", json_error);
  const RlJsonValue *map = rl_json_get (rl_json_root (doc), "weight_map");
  const char **names = NULL;
  if (map == NULL || map->kind != RL_JSON_OBJECT)
    status = index_error (set->path, "no \"weight_map\" object: not a safetensors index");
  else if ((names = calloc (map->count ? map->count : 1, sizeof *names)) == NULL)
    status = rl_set_error (RL_E_NO_MEMORY, "%s: out of memory", set->path);
  size_t count = 0;
  for (size_t i = 0; status == RL_OK && i < map->count; i++) {
    const RlJsonMember *m = &map->members[i];
    if (m->value.kind != RL_JSON_STRING || !is_safe_shard_name (m->value.string))
      status = index_error (set->path, "tensor '%s': shard must be a file name inside the index's folder", m->key);
    else
      shard_slot (names, &count, m->value.string);
  }
  if (status == RL_OK)
    status = open_shards (set, names, count);
  if (status == RL_OK)
    status = check_against_map (set, map, names, count);
  free (names);
  rl_json_free (doc);
  return status;
}

static RlStatus
finish (RlSafetensorsSet *set)
{
  set->first_index = calloc (set->shard_count ? set->shard_count : 1, sizeof *set->first_index);
  if (set->first_index == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "%s: out of memory", set->path);
  size_t total = 0;
  for (size_t s = 0; s < set->shard_count; s++) {
    set->first_index[s] = total;
    total += rl_safetensors_count (set->shards[s]);
  }
  set->tensor_count = total;
  return RL_OK;
}

RlStatus
rl_safetensors_set_open (const char *path, RlSafetensorsSet **out)
{
  if (path == NULL || out == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "rl_safetensors_set_open: NULL argument");
  *out = NULL;
  RlSafetensorsSet *set = calloc (1, sizeof *set);
  if (set == NULL || (set->path = strdup (path)) == NULL) {
    free (set);
    return rl_set_error (RL_E_NO_MEMORY, "out of memory opening %s", path);
  }
  RlStatus status;
  if (has_suffix (path, ".json")) {
    status = open_index (set);
  } else {
    set->shards = calloc (1, sizeof *set->shards);
    status = set->shards ? rl_safetensors_open (path, &set->shards[0]) : rl_set_error (RL_E_NO_MEMORY, "oom");
    set->shard_count = status == RL_OK ? 1 : 0;
  }
  if (status == RL_OK)
    status = finish (set);
  if (status != RL_OK) {
    rl_safetensors_set_close (set);
    return status;
  }
  *out = set;
  return RL_OK;
}

void
rl_safetensors_set_close (RlSafetensorsSet *set)
{
  if (set == NULL)
    return;
  for (size_t i = 0; i < set->shard_count; i++)
    rl_safetensors_close (set->shards[i]);
  free (set->shards);
  free (set->first_index);
  free (set->path);
  free (set);
}

size_t
rl_safetensors_set_shard_count (const RlSafetensorsSet *set)
{
  return set->shard_count;
}

RlSafetensors *
rl_safetensors_set_shard (const RlSafetensorsSet *set, size_t index)
{
  return index < set->shard_count ? set->shards[index] : NULL;
}

size_t
rl_safetensors_set_count (const RlSafetensorsSet *set)
{
  return set->tensor_count;
}

const RlSafetensorsTensor *
rl_safetensors_set_tensor_at (const RlSafetensorsSet *set, size_t index, RlSafetensors **shard)
{
  for (size_t s = set->shard_count; s-- > 0;) {
    if (index >= set->first_index[s]) {
      const RlSafetensorsTensor *t = rl_safetensors_tensor_at (set->shards[s], index - set->first_index[s]);
      if (shard)
        *shard = t ? set->shards[s] : NULL;
      return t;
    }
  }
  if (shard)
    *shard = NULL;
  return NULL;
}

const RlSafetensorsTensor *
rl_safetensors_set_find (const RlSafetensorsSet *set, const char *name, RlSafetensors **shard)
{
  for (size_t s = 0; s < set->shard_count; s++) {
    const RlSafetensorsTensor *t = rl_safetensors_find (set->shards[s], name);
    if (t != NULL) {
      if (shard)
        *shard = set->shards[s];
      return t;
    }
  }
  if (shard)
    *shard = NULL;
  return NULL;
}

uint64_t
rl_safetensors_set_data_size (const RlSafetensorsSet *set)
{
  uint64_t total = 0;
  for (size_t s = 0; s < set->shard_count; s++)
    total += rl_safetensors_data_size (set->shards[s]);
  return total;
}

uint64_t
rl_safetensors_set_bytes_read (const RlSafetensorsSet *set)
{
  uint64_t total = 0;
  for (size_t s = 0; s < set->shard_count; s++)
    total += rl_safetensors_bytes_read (set->shards[s]);
  return total;
}
