#include "plugins/common/weight-set.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workers/runtime/float-convert.h"

#define KEY_MAX 320

struct RlWeightSet {
  const RlBackend  *backend;
  RlContext        *ctx;
  RlSafetensors    *st;
  char              prefix[64];
  char              model_name[128];
  RlTensor         *tensors;      /* owned references, one per load */
  size_t            n_tensors;
  size_t            capacity;
  uint64_t          device_bytes;
  uint64_t          weight_bytes;
  RlDType           matrix_dtype; /* RL_DTYPE_INVALID: every tensor as in the file */
  RlFsdpStore      *fsdp;         /* NULL: blocks load like everything else */
  int               open_block;   /* −1 outside rl_weight_set_begin/end_block */
};

RlStatus
rl_weight_set_new (const RlBackend  *backend,
                   RlContext        *ctx,
                   RlSafetensors    *st,
                   const char       *prefix,
                   const char       *model_name,
                   RlWeightSet     **out)
{
  RlWeightSet *set = calloc (1, sizeof *set);

  *out = NULL;
  if (set == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "out of memory for a weight set");
  set->backend = backend;
  set->ctx = ctx;
  set->st = st;
  snprintf (set->prefix, sizeof set->prefix, "%s", prefix ? prefix : "");
  snprintf (set->model_name, sizeof set->model_name, "%s", model_name ? model_name : "the model");
  set->open_block = -1;
  *out = set;
  return RL_OK;
}

void
rl_weight_set_free (RlWeightSet *set)
{
  if (set == NULL)
    return;
  for (size_t i = 0; i < set->n_tensors; i++)
    rl_tensor_release (&set->tensors[i]);
  free (set->tensors);
  rl_fsdp_store_free (set->fsdp);
  free (set);
}

static void
format_shape (char *buf, size_t size, int ndim, const int64_t *shape)
{
  size_t n = 0;

  buf[0] = '\0';
  for (int d = 0; d < ndim && n < size; d++)
    {
      if (shape[d] < 0)
        n += snprintf (buf + n, size - n, d ? ", *" : "*");
      else
        n += snprintf (buf + n, size - n, d ? ", %lld" : "%lld", (long long) shape[d]);
    }
}

static RlStatus
check_shape (const RlWeightSet          *set,
             const RlSafetensorsTensor  *t,
             const char                 *name,
             int                         ndim,
             const int64_t              *shape)
{
  bool ok = t->ndim == ndim;
  char want[128], got[128];

  for (int d = 0; ok && d < ndim; d++)
    ok = shape[d] < 0 || t->shape[d] == shape[d];
  if (ok)
    return RL_OK;
  format_shape (want, sizeof want, ndim, shape);
  format_shape (got, sizeof got, t->ndim, t->shape);
  return rl_set_error (RL_E_FORMAT, "%s: tensor '%s' has shape [%s], expected [%s] for %s",
                       rl_safetensors_path (set->st), name, got, want, set->model_name);
}

static RlStatus
keep (RlWeightSet    *set,
      const RlTensor *t)
{
  if (set->n_tensors == set->capacity)
    {
      size_t cap = set->capacity ? 2 * set->capacity : 256;
      RlTensor *grown = realloc (set->tensors, cap * sizeof *grown);
      if (grown == NULL)
        return rl_set_error (RL_E_NO_MEMORY, "out of memory listing the weights of %s", set->model_name);
      set->tensors = grown;
      set->capacity = cap;
    }
  set->tensors[set->n_tensors++] = *t;
  return RL_OK;
}

/* Whether `view` is a matrix the set stores in its narrower matrix dtype. */
static bool
converts (const RlWeightSet *set,
          const RlTensor    *view)
{
  return set->matrix_dtype != RL_DTYPE_INVALID && view->ndim == 2
         && rl_dtype_is_float (view->dtype) && !rl_dtype_is_quantized (view->dtype)
         && rl_dtype_block_bytes (view->dtype) > rl_dtype_block_bytes (set->matrix_dtype);
}

#define CONVERT_CHUNK 4096

/* `view` rounded to the matrix dtype in host memory at `dst`, a row of
 * floats at a time so no f32 copy of the whole matrix is made. */
static RlStatus
convert_to_matrix_dtype (const RlWeightSet *set,
                         const RlTensor    *view,
                         uint8_t           *dst)
{
  size_t src_size = rl_dtype_block_bytes (view->dtype);
  size_t dst_size = rl_dtype_block_bytes (set->matrix_dtype);
  const uint8_t *src = view->data;
  int64_t n = rl_tensor_numel (view);
  float chunk[CONVERT_CHUNK];

  for (int64_t at = 0; at < n; at += CONVERT_CHUNK)
    {
      int64_t len = n - at < CONVERT_CHUNK ? n - at : CONVERT_CHUNK;
      RlStatus s = rl_convert_row_to_f32 (view->dtype, src + (size_t) at * src_size, len,
                                          rl_tensor_scale (view), chunk);
      if (s == RL_OK)
        s = rl_convert_row_from_f32 (set->matrix_dtype, dst + (size_t) at * dst_size, chunk, len, 1.0f);
      if (s < 0)
        return s;
    }
  return RL_OK;
}

/* The matrix in the set's matrix dtype on the device: converted straight
 * into its own memory on the CPU, through a host buffer elsewhere. */
static RlStatus
place_converted (RlWeightSet               *set,
                 const RlSafetensorsTensor *t,
                 const RlTensor            *view,
                 RlTensor                  *placed)
{
  bool on_host = set->backend->device_kind == RL_DEVICE_CPU;
  RlStatus s = rl_tensor_alloc (placed, set->backend->context_allocator (set->ctx), set->matrix_dtype,
                                view->ndim, view->shape);
  RlTensor staged = { 0 };
  uint8_t *buffer = NULL;

  if (s == RL_OK && !on_host)
    {
      buffer = malloc (rl_tensor_nbytes (placed));
      s = buffer ? rl_tensor_wrap (&staged, buffer, rl_device_cpu (), set->matrix_dtype, view->ndim,
                                   view->shape, NULL, NULL)
                 : rl_set_error (RL_E_NO_MEMORY, "out of memory converting a weight");
    }
  if (s == RL_OK)
    s = convert_to_matrix_dtype (set, view, on_host ? placed->data : buffer);
  /* A pageable source is copied out before the transfer returns, so the
   * buffer may be freed at once even when the copy itself is queued. */
  if (s == RL_OK && !on_host)
    s = set->backend->transfer (set->ctx, placed, &staged);
  if (s == RL_OK)
    {
      placed->scale = 1.0f;
      rl_safetensors_note_read (set->st, t->nbytes);
      set->device_bytes += rl_tensor_nbytes (placed);
      /* The file's wider copy is never read again: its pages leave this
       * process, so the CPU backend holds the fp8 bytes instead of both. */
      rl_safetensors_advise (set->st, t, RL_SAFETENSORS_DONT_NEED);
    }
  rl_tensor_release (&staged);
  free (buffer);
  return s;
}

/* The tensor on the device: the mapping itself on the CPU, an upload
 * elsewhere (counted as read for load progress); a matrix the set stores
 * narrower is converted on the way. */
static RlStatus
place (RlWeightSet               *set,
       const RlSafetensorsTensor *t,
       const char                *name,
       RlTensor                  *placed)
{
  RlTensor view = { 0 };
  RlStatus s = rl_safetensors_view (set->st, t, &view);

  if (s < 0)
    return rl_prefix_error (s, "%s: ", name);
  if (converts (set, &view))
    {
      s = place_converted (set, t, &view, placed);
      rl_tensor_release (&view);
      if (s < 0)
        {
          rl_tensor_release (placed);
          return rl_prefix_error (s, "storing '%s' of %s as %s: ", name, set->model_name,
                                  rl_dtype_name (set->matrix_dtype));
        }
      return RL_OK;
    }
  if (set->backend->device_kind == RL_DEVICE_CPU)
    {
      *placed = view;
      return RL_OK;
    }
  s = rl_tensor_alloc (placed, set->backend->context_allocator (set->ctx), view.dtype, view.ndim, view.shape);
  if (s == RL_OK)
    {
      placed->scale = view.scale;
      s = set->backend->transfer (set->ctx, placed, &view);
      rl_safetensors_note_read (set->st, t->nbytes);
      set->device_bytes += t->nbytes;
    }
  rl_tensor_release (&view);
  if (s < 0)
    {
      rl_tensor_release (placed);
      return rl_prefix_error (s, "uploading '%s' of %s: ", name, set->model_name);
    }
  return RL_OK;
}

RlStatus
rl_weight_set_load (RlWeightSet    *set,
                    RlTensor       *out,
                    const char     *key,
                    int             ndim,
                    const int64_t  *shape)
{
  char name[KEY_MAX];
  const RlSafetensorsTensor *t;
  RlTensor placed = { 0 };
  RlStatus s;

  snprintf (name, sizeof name, "%s%s", set->prefix, key);
  t = rl_safetensors_find (set->st, name);
  if (t == NULL)
    return rl_set_error (RL_E_FORMAT, "%s: missing tensor '%s' for %s; the file is incomplete or "
                         "belongs to another model", rl_safetensors_path (set->st), name, set->model_name);
  s = check_shape (set, t, name, ndim, shape);
  if (s == RL_OK && set->fsdp != NULL && set->open_block >= 0 && !rl_fsdp_keeps_whole (t))
    {
      s = rl_fsdp_store_add (set->fsdp, set->st, t, out);
      return s < 0 ? rl_prefix_error (s, "%s: ", set->model_name) : RL_OK;
    }
  if (s == RL_OK && set->fsdp != NULL && set->open_block >= 0)
    rl_fsdp_store_note_replicated (set->fsdp, t->nbytes);
  if (s == RL_OK)
    s = place (set, t, name, &placed);
  if (s == RL_OK)
    s = keep (set, &placed);
  if (s == RL_OK)
    set->weight_bytes += rl_tensor_nbytes (&placed);
  if (s < 0)
    {
      rl_tensor_release (&placed);
      return s;
    }
  /* The caller's copy borrows the set's reference. */
  *out = placed;
  return RL_OK;
}

RlStatus
rl_weight_set_loadf (RlWeightSet    *set,
                     RlTensor       *out,
                     int             ndim,
                     const int64_t  *shape,
                     const char     *key_format,
                     ...)
{
  char key[KEY_MAX];
  va_list ap;

  va_start (ap, key_format);
  vsnprintf (key, sizeof key, key_format, ap);
  va_end (ap);
  return rl_weight_set_load (set, out, key, ndim, shape);
}

bool
rl_weight_set_has (const RlWeightSet *set,
                   const char        *key)
{
  char name[KEY_MAX];

  snprintf (name, sizeof name, "%s%s", set->prefix, key);
  return rl_safetensors_find (set->st, name) != NULL;
}

RlStatus
rl_weight_set_store_matrices_as (RlWeightSet *set,
                                 RlDType      dtype)
{
  if (set->n_tensors > 0)
    return rl_set_error (RL_E_INVALID_ARG, "%s: the matrix dtype is set before the first weight loads",
                         set->model_name);
  if (dtype != RL_DTYPE_INVALID && dtype != RL_F8_E4M3FN && dtype != RL_F8_E5M2)
    return rl_set_error (RL_E_INVALID_ARG, "%s: matrices can be stored as f8_e4m3fn or f8_e5m2, not %s",
                         set->model_name, rl_dtype_name (dtype));
  if (dtype != RL_DTYPE_INVALID && set->fsdp != NULL)
    return rl_set_error (RL_E_NOT_SUPPORTED, "%s: weight_dtype %s with FSDP or CPU offload is not "
                         "supported yet (sharded blocks keep the file's dtype); use one of them",
                         set->model_name, rl_dtype_name (dtype));
  set->matrix_dtype = dtype;
  return RL_OK;
}

uint64_t
rl_weight_set_weight_bytes (const RlWeightSet *set)
{
  return set->weight_bytes;
}

uint64_t
rl_weight_set_device_bytes (const RlWeightSet *set)
{
  RlFsdpStats stats;

  if (!rl_weight_set_fsdp_stats (set, &stats))
    return set->device_bytes;
  return set->device_bytes + stats.shard_bytes - stats.offloaded_bytes + stats.slot_bytes;
}

/* ------------------------------------------------ FSDP and CPU offload */

RlStatus
rl_weight_set_shard_blocks (RlWeightSet         *set,
                            const RlFsdpOptions *options)
{
  bool grouped = options->group != NULL && rl_comm_size (options->group) > 1;
  RlStatus s;

  if (set->n_tensors > 0 || set->fsdp != NULL)
    return rl_set_error (RL_E_INVALID_ARG, "%s: sharding is set before the first weight loads",
                         set->model_name);
  if (!grouped && !options->cpu_offload)
    return RL_OK;
  s = rl_fsdp_store_new (set->backend, set->ctx, options, &set->fsdp);
  return s < 0 ? rl_prefix_error (s, "%s: ", set->model_name) : RL_OK;
}

RlStatus
rl_weight_set_begin_block (RlWeightSet *set,
                           int          block)
{
  set->open_block = block;
  return set->fsdp != NULL ? rl_fsdp_store_begin_block (set->fsdp, block) : RL_OK;
}

RlStatus
rl_weight_set_end_block (RlWeightSet *set)
{
  RlStatus s = set->fsdp != NULL ? rl_fsdp_store_end_block (set->fsdp) : RL_OK;

  set->open_block = -1;
  return s < 0 ? rl_prefix_error (s, "%s: ", set->model_name) : RL_OK;
}

RlStatus
rl_weight_set_finish (RlWeightSet *set)
{
  RlStatus s = set->fsdp != NULL ? rl_fsdp_store_finish (set->fsdp) : RL_OK;

  return s < 0 ? rl_prefix_error (s, "%s: ", set->model_name) : RL_OK;
}

RlStatus
rl_weight_set_prefetch_block (RlWeightSet *set,
                              int          block)
{
  return set->fsdp != NULL ? rl_fsdp_store_prefetch (set->fsdp, block) : RL_OK;
}

RlStatus
rl_weight_set_acquire_block (RlWeightSet *set,
                             int          block)
{
  return set->fsdp != NULL ? rl_fsdp_store_acquire (set->fsdp, block) : RL_OK;
}

RlStatus
rl_weight_set_release_block (RlWeightSet *set,
                             int          block)
{
  return set->fsdp != NULL ? rl_fsdp_store_release (set->fsdp, block) : RL_OK;
}

RlStatus
rl_weight_set_blocks_idle (RlWeightSet *set)
{
  return set->fsdp != NULL ? rl_fsdp_store_idle (set->fsdp) : RL_OK;
}

bool
rl_weight_set_fsdp_stats (const RlWeightSet *set,
                          RlFsdpStats       *out)
{
  if (set->fsdp == NULL)
    return false;
  rl_fsdp_store_stats (set->fsdp, out);
  return true;
}
