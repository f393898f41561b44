#include "model-loader.h"

#include <stdio.h>
#include <string.h>

static int
load_with_family (const RlModelLoader *loader, RlModelFile *file, const char *path,
                  const char *options, RlErrorInfo *err)
{
  /* A worker without any family plugin (the pool's own tests) still keeps
   * checkpoints resident, as mapped files; jobs on them say what is missing. */
  if (rl_family_plugins_count (loader->plugins) == 0)
    return RL_WIRE_OK;
  RlSafetensors *st = rl_model_file_checkpoint (file);
  RlModelKind kind;
  char variant[128] = "";
  const RlFamily *family = rl_family_plugins_probe (loader->plugins, st, path, &kind,
                                                    variant, sizeof variant, err);
  if (family == NULL)
    return err->code;
  RlFamilyModel *model = NULL;
  rl_clear_error ();
  bool sharded = loader->fsdp != NULL && kind == RL_MODEL_DIFFUSION;
  if (sharded && family->load_sharded == NULL)
    return rl_error_set (err, RL_WIRE_NOT_SUPPORTED, "%s: family %s cannot shard or offload its "
                         "weights; run it without FSDP and CPU offload", path, family->name);
  RlStatus status = sharded ? family->load_sharded (loader->backend, loader->compute, st, kind,
                                                    options, loader->fsdp, &model)
                            : family->load (loader->backend, loader->compute, st, kind, options,
                                            &model);
  if (status != RL_OK)
    return rl_error_set (err, RL_WIRE_INVALID,
                         "%s (%s, family %s) could not be loaded: %s", path,
                         variant[0] ? variant : "unknown variant", family->name,
                         rl_last_error ());
  rl_model_file_attach (file, family, kind, model);
  return RL_WIRE_OK;
}

RlModelFile *
rl_model_loader_get (const RlModelLoader *loader, const char *path, const char *options,
                     RlModelFileProgress progress, void *user, RlModelLoadInfo *info,
                     RlErrorInfo *err)
{
  RlModelLoadInfo ignored;
  if (info == NULL)
    info = &ignored;
  *info = (RlModelLoadInfo) { 0 };
  bool stale = false;
  RlModelFile *file = rl_model_cache_lookup (loader->cache, path, options, &stale);
  if (file != NULL)
    {
      info->was_cached = true;
      info->model_bytes = rl_model_file_size (file);
      return file;
    }
  uint64_t resident_before = rl_model_cache_resident (loader->cache);
  file = rl_model_file_open (path, err);
  if (file == NULL)
    return NULL;
  info->model_bytes = rl_model_file_size (file);
  /* With FSDP or offload the family reads only this rank's shards and the
   * replicated tensors: touching every page first would put the whole file
   * in every worker's RSS. Its reads are counted, and reported at the end. */
  bool whole_file = loader->fsdp == NULL;
  if (rl_model_cache_reserve (loader->cache, info->model_bytes, path, err) != RL_WIRE_OK
      || (whole_file && rl_model_file_load (file, progress, user, err) != RL_WIRE_OK)
      || load_with_family (loader, file, path, options, err) != RL_WIRE_OK)
    {
      rl_model_file_close (file);
      return NULL;
    }
  if (!whole_file && progress != NULL)
    {
      uint64_t read = rl_safetensors_bytes_read (rl_model_file_checkpoint (file));
      progress (read, read, user);
    }
  info->released_bytes = resident_before - rl_model_cache_resident (loader->cache);
  /* The cache owns the file from here, even when inserting fails. */
  if (rl_model_cache_insert (loader->cache, path, options, file, err) != RL_WIRE_OK)
    return NULL;
  return file;
}
