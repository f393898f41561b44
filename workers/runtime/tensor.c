/* Tensors, views and their refcounted storage. */
#include "workers/runtime/tensor.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct RlStorage {
  atomic_int   refs;
  void        *data;
  size_t       bytes;
  RlDevice     device;
  RlAllocator *allocator;     /* set when the memory came from rl_alloc */
  void       (*release) (void *user, void *data, size_t bytes);
  void        *user;
};

/* ------------------------------------------------------------- storage */

RlStatus
rl_storage_new (RlAllocator *allocator, size_t bytes, RlStorage **out)
{
  *out = NULL;
  if (allocator == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "rl_storage_new: no allocator");
  RlStorage *s = calloc (1, sizeof *s);
  if (s == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "rl_storage_new: out of host memory");
  RlStatus st = rl_alloc (allocator, bytes, &s->data);
  if (st != RL_OK)
    {
      free (s);
      return st;
    }
  atomic_init (&s->refs, 1);
  s->bytes = bytes;
  s->device = allocator->device;
  s->allocator = allocator;
  *out = s;
  return RL_OK;
}

RlStatus
rl_storage_new_external (void *data, size_t bytes, RlDevice device,
                         void (*release) (void *user, void *data, size_t bytes),
                         void *user, RlStorage **out)
{
  *out = NULL;
  RlStorage *s = calloc (1, sizeof *s);
  if (s == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "rl_storage_new_external: out of host memory");
  atomic_init (&s->refs, 1);
  s->data = data;
  s->bytes = bytes;
  s->device = device;
  s->release = release;
  s->user = user;
  *out = s;
  return RL_OK;
}

RlStorage *
rl_storage_ref (RlStorage *storage)
{
  if (storage != NULL)
    atomic_fetch_add_explicit (&storage->refs, 1, memory_order_relaxed);
  return storage;
}

void
rl_storage_unref (RlStorage *storage)
{
  if (storage == NULL)
    return;
  if (atomic_fetch_sub_explicit (&storage->refs, 1, memory_order_acq_rel) != 1)
    return;
  if (storage->allocator != NULL)
    rl_free (storage->allocator, storage->data);
  else if (storage->release != NULL)
    storage->release (storage->user, storage->data, storage->bytes);
  free (storage);
}

void *
rl_storage_data (const RlStorage *storage)
{
  return storage != NULL ? storage->data : NULL;
}

size_t
rl_storage_bytes (const RlStorage *storage)
{
  return storage != NULL ? storage->bytes : 0;
}

/* ------------------------------------------------------------ helpers */

void
rl_contiguous_strides (int ndim, const int64_t *shape, int64_t *strides)
{
  int64_t step = 1;
  for (int d = ndim - 1; d >= 0; d--)
    {
      strides[d] = step;
      step *= shape[d] > 0 ? shape[d] : 1;
    }
}

static int
normalize_dim (int dim, int ndim)
{
  return dim < 0 ? dim + ndim : dim;
}

/* Byte count of `elems` elements of dtype (elems a multiple of the block). */
static int64_t
elems_to_bytes (RlDType dtype, int64_t elems)
{
  int64_t block = rl_dtype_block_elems (dtype);
  return elems / block * (int64_t) rl_dtype_block_bytes (dtype);
}

static RlStatus
check_shape (const char *op, RlDType dtype, int ndim, const int64_t *shape)
{
  if (rl_dtype_block_elems (dtype) == 0)
    return rl_set_error (RL_E_DTYPE, "%s: invalid dtype %d", op, (int) dtype);
  if (ndim < 0 || ndim > RL_MAX_DIMS)
    return rl_set_error (RL_E_SHAPE, "%s: %d dims (at most %d)", op, ndim, RL_MAX_DIMS);
  for (int d = 0; d < ndim; d++)
    if (shape[d] < 0)
      return rl_set_error (RL_E_SHAPE, "%s: negative size %lld in dim %d", op,
                           (long long) shape[d], d);
  int64_t block = rl_dtype_block_elems (dtype);
  if (block > 1 && (ndim == 0 || shape[ndim - 1] % block != 0))
    return rl_set_error (RL_E_SHAPE,
                         "%s: %s rows must be a multiple of %lld elements, last dim is %lld",
                         op, rl_dtype_name (dtype), (long long) block,
                         (long long) (ndim > 0 ? shape[ndim - 1] : 1));
  return RL_OK;
}

static void
set_geometry (RlTensor *t, int ndim, const int64_t *shape, const int64_t *strides)
{
  t->ndim = ndim;
  for (int d = 0; d < RL_MAX_DIMS; d++)
    {
      t->shape[d] = d < ndim ? shape[d] : 1;
      t->strides[d] = d < ndim ? strides[d] : 0;
    }
}

/* ------------------------------------------------------- construction */

RlStatus
rl_tensor_alloc (RlTensor *out, RlAllocator *allocator, RlDType dtype,
                 int ndim, const int64_t *shape)
{
  int64_t strides[RL_MAX_DIMS];
  int64_t numel = 1;
  size_t bytes;
  RlStorage *storage;
  RlStatus st;

  memset (out, 0, sizeof *out);
  if ((st = check_shape ("rl_tensor_alloc", dtype, ndim, shape)) != RL_OK)
    return st;
  for (int d = 0; d < ndim; d++)
    {
      if (shape[d] != 0 && numel > INT64_MAX / shape[d])
        return rl_set_error (RL_E_OVERFLOW, "rl_tensor_alloc: element count overflows");
      numel *= shape[d];
    }
  if ((st = rl_dtype_bytes_for (dtype, numel, &bytes)) != RL_OK)
    return st;
  if ((st = rl_storage_new (allocator, bytes, &storage)) != RL_OK)
    return rl_prefix_error (st, "allocating %s tensor of %zu bytes: ",
                            rl_dtype_name (dtype), bytes);
  rl_contiguous_strides (ndim, shape, strides);
  set_geometry (out, ndim, shape, strides);
  out->dtype = dtype;
  out->data = rl_storage_data (storage);
  out->device = allocator->device;
  out->storage = storage;
  out->scale = 1.0f;
  return RL_OK;
}

RlStatus
rl_tensor_wrap (RlTensor *out, void *data, RlDevice device, RlDType dtype,
                int ndim, const int64_t *shape, const int64_t *strides,
                RlStorage *storage)
{
  int64_t contiguous[RL_MAX_DIMS];
  RlStatus st;

  memset (out, 0, sizeof *out);
  if ((st = check_shape ("rl_tensor_wrap", dtype, ndim, shape)) != RL_OK)
    return st;
  if (strides == NULL)
    {
      rl_contiguous_strides (ndim, shape, contiguous);
      strides = contiguous;
    }
  for (int d = 0; d < ndim; d++)
    if (strides[d] < 0)
      return rl_set_error (RL_E_SHAPE, "rl_tensor_wrap: negative stride in dim %d", d);
  if (rl_dtype_block_elems (dtype) > 1 && ndim > 0 && strides[ndim - 1] != 1)
    return rl_set_error (RL_E_SHAPE, "rl_tensor_wrap: %s rows must be contiguous",
                         rl_dtype_name (dtype));
  set_geometry (out, ndim, shape, strides);
  out->dtype = dtype;
  out->data = data;
  out->device = device;
  out->scale = 1.0f;
  out->storage = rl_storage_ref (storage);
  if (storage != NULL && rl_tensor_numel (out) > 0)
    {
      char *base = rl_storage_data (storage);
      char *p = data;
      if (p < base || (size_t) (p - base) + rl_tensor_nbytes (out) > rl_storage_bytes (storage))
        {
          rl_tensor_release (out);
          return rl_set_error (RL_E_INVALID_ARG,
                               "rl_tensor_wrap: %s view of %lld elements lies outside its storage of %zu bytes",
                               rl_dtype_name (dtype), (long long) rl_tensor_numel (out),
                               rl_storage_bytes (storage));
        }
    }
  return RL_OK;
}

void
rl_tensor_release (RlTensor *t)
{
  if (t == NULL)
    return;
  rl_storage_unref (t->storage);
  memset (t, 0, sizeof *t);
}

/* ------------------------------------------------------------- views */

/* Copies src into out, taking a new reference first so out == src works. */
static void
copy_view (RlTensor *out, const RlTensor *src)
{
  RlStorage *storage = rl_storage_ref (src->storage);
  RlTensor tmp = *src;
  rl_tensor_release (out);
  *out = tmp;
  out->storage = storage;
}

RlStatus
rl_tensor_view (RlTensor *out, const RlTensor *src)
{
  if (out != src)
    copy_view (out, src);
  return RL_OK;
}

RlStatus
rl_tensor_narrow (RlTensor *out, const RlTensor *src, int dim, int64_t start,
                  int64_t length)
{
  char desc[RL_TENSOR_DESCRIBE_SIZE];
  int d = normalize_dim (dim, src->ndim);

  if (d < 0 || d >= src->ndim)
    return rl_set_error (RL_E_INVALID_ARG, "narrow: dim %d out of range for %s", dim,
                         rl_tensor_describe (src, desc, sizeof desc));
  if (start < 0 || length < 0 || start > src->shape[d] || length > src->shape[d] - start)
    return rl_set_error (RL_E_SHAPE, "narrow: [%lld, %lld) out of range on dim %d of %s",
                         (long long) start, (long long) (start + length), d,
                         rl_tensor_describe (src, desc, sizeof desc));
  int64_t block = rl_dtype_block_elems (src->dtype);
  int64_t offset = start * src->strides[d];
  if (block > 1 && (offset % block != 0 || (d == src->ndim - 1 && length % block != 0)))
    return rl_set_error (RL_E_SHAPE, "narrow: %s views must cover whole %lld-element blocks (%s)",
                         rl_dtype_name (src->dtype), (long long) block,
                         rl_tensor_describe (src, desc, sizeof desc));
  void *data = (char *) src->data + elems_to_bytes (src->dtype, offset);
  copy_view (out, src);
  out->shape[d] = length;
  out->data = data;
  return RL_OK;
}

/* Strides for viewing (shape, strides) as new_shape without copying; false
 * when the memory layout does not allow it. Splits and merges only runs
 * of dims that are contiguous with each other. */
static bool
compute_view_strides (int ndim, const int64_t *shape, const int64_t *strides,
                      int new_ndim, const int64_t *new_shape, int64_t *new_strides)
{
  int view_d = new_ndim - 1;
  int64_t chunk_stride = ndim > 0 ? strides[ndim - 1] : 1;
  int64_t tensor_numel = 1;
  int64_t view_numel = 1;

  for (int d = ndim - 1; d >= 0; d--)
    {
      tensor_numel *= shape[d];
      bool chunk_ends = d == 0
        || (shape[d - 1] != 1 && strides[d - 1] != tensor_numel * chunk_stride);
      if (!chunk_ends)
        continue;
      while (view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d] == 1))
        {
          new_strides[view_d] = view_numel * chunk_stride;
          view_numel *= new_shape[view_d];
          view_d--;
        }
      if (view_numel != tensor_numel)
        return false;
      if (d > 0)
        {
          chunk_stride = strides[d - 1];
          tensor_numel = 1;
          view_numel = 1;
        }
    }
  /* Leading size-1 dims of the new shape. */
  while (view_d >= 0)
    {
      if (new_shape[view_d] != 1)
        return false;
      new_strides[view_d] = 1;
      view_d--;
    }
  return true;
}

RlStatus
rl_tensor_reshape (RlTensor *out, const RlTensor *src, int ndim,
                   const int64_t *shape)
{
  char desc[RL_TENSOR_DESCRIBE_SIZE];
  int64_t new_shape[RL_MAX_DIMS] = { 0 };
  int64_t new_strides[RL_MAX_DIMS] = { 0 };
  int64_t numel = rl_tensor_numel (src);
  int64_t known = 1;
  int infer = -1;

  if (ndim < 0 || ndim > RL_MAX_DIMS)
    return rl_set_error (RL_E_SHAPE, "reshape: %d dims (at most %d)", ndim, RL_MAX_DIMS);
  for (int d = 0; d < ndim; d++)
    {
      new_shape[d] = shape[d];
      if (shape[d] == -1 && infer < 0)
        infer = d;
      else if (shape[d] < 0)
        return rl_set_error (RL_E_SHAPE, "reshape: bad size %lld in dim %d",
                             (long long) shape[d], d);
      else
        known *= shape[d];
    }
  if (infer >= 0)
    {
      if (known == 0 || numel % known != 0)
        return rl_set_error (RL_E_SHAPE, "reshape: cannot infer dim %d of %s", infer,
                             rl_tensor_describe (src, desc, sizeof desc));
      new_shape[infer] = numel / known;
      known *= new_shape[infer];
    }
  if (known != numel)
    return rl_set_error (RL_E_SHAPE, "reshape: %lld elements cannot become %lld (%s)",
                         (long long) numel, (long long) known,
                         rl_tensor_describe (src, desc, sizeof desc));
  RlStatus st = check_shape ("reshape", src->dtype, ndim, new_shape);
  if (st != RL_OK)
    return st;
  if (numel == 0 || rl_tensor_is_contiguous (src))
    rl_contiguous_strides (ndim, new_shape, new_strides);
  else if (!compute_view_strides (src->ndim, src->shape, src->strides, ndim, new_shape,
                                  new_strides))
    return rl_set_error (RL_E_NOT_CONTIGUOUS,
                         "reshape: %s cannot be viewed with the new shape; copy it to a contiguous tensor first",
                         rl_tensor_describe (src, desc, sizeof desc));
  if (rl_dtype_block_elems (src->dtype) > 1 && ndim > 0 && new_strides[ndim - 1] != 1)
    return rl_set_error (RL_E_SHAPE, "reshape: %s rows must stay contiguous",
                         rl_dtype_name (src->dtype));
  copy_view (out, src);
  set_geometry (out, ndim, new_shape, new_strides);
  return RL_OK;
}

RlStatus
rl_tensor_permute (RlTensor *out, const RlTensor *src, const int *perm)
{
  char desc[RL_TENSOR_DESCRIBE_SIZE];
  int64_t shape[RL_MAX_DIMS];
  int64_t strides[RL_MAX_DIMS];
  bool seen[RL_MAX_DIMS] = { false };

  for (int d = 0; d < src->ndim; d++)
    {
      int p = normalize_dim (perm[d], src->ndim);
      if (p < 0 || p >= src->ndim || seen[p])
        return rl_set_error (RL_E_INVALID_ARG, "permute: entry %d (%d) is not a permutation of the dims of %s",
                             d, perm[d], rl_tensor_describe (src, desc, sizeof desc));
      seen[p] = true;
      shape[d] = src->shape[p];
      strides[d] = src->strides[p];
    }
  if (rl_dtype_block_elems (src->dtype) > 1 && src->ndim > 0
      && normalize_dim (perm[src->ndim - 1], src->ndim) != src->ndim - 1)
    return rl_set_error (RL_E_SHAPE, "permute: %s tensors must keep their last dim",
                         rl_dtype_name (src->dtype));
  int ndim = src->ndim;
  copy_view (out, src);
  set_geometry (out, ndim, shape, strides);
  return RL_OK;
}

RlStatus
rl_tensor_transpose (RlTensor *out, const RlTensor *src, int dim0, int dim1)
{
  int perm[RL_MAX_DIMS];
  int a = normalize_dim (dim0, src->ndim);
  int b = normalize_dim (dim1, src->ndim);

  if (a < 0 || a >= src->ndim || b < 0 || b >= src->ndim)
    return rl_set_error (RL_E_INVALID_ARG, "transpose: dims %d, %d out of range for %d-D tensor",
                         dim0, dim1, src->ndim);
  for (int d = 0; d < src->ndim; d++)
    perm[d] = d;
  perm[a] = b;
  perm[b] = a;
  return rl_tensor_permute (out, src, perm);
}

RlStatus
rl_tensor_unsqueeze (RlTensor *out, const RlTensor *src, int dim)
{
  int64_t shape[RL_MAX_DIMS];
  int64_t strides[RL_MAX_DIMS];
  int d = dim < 0 ? dim + src->ndim + 1 : dim;

  if (src->ndim >= RL_MAX_DIMS)
    return rl_set_error (RL_E_SHAPE, "unsqueeze: already %d dims", RL_MAX_DIMS);
  if (d < 0 || d > src->ndim)
    return rl_set_error (RL_E_INVALID_ARG, "unsqueeze: dim %d out of range", dim);
  for (int i = 0, j = 0; i < src->ndim + 1; i++)
    {
      if (i == d)
        {
          shape[i] = 1;
          strides[i] = (d < src->ndim) ? src->strides[d] * src->shape[d] : 1;
          continue;
        }
      shape[i] = src->shape[j];
      strides[i] = src->strides[j];
      j++;
    }
  int ndim = src->ndim + 1;
  copy_view (out, src);
  set_geometry (out, ndim, shape, strides);
  return RL_OK;
}

/* ------------------------------------------------------------ queries */

int64_t
rl_tensor_numel (const RlTensor *t)
{
  int64_t n = 1;
  for (int d = 0; d < t->ndim; d++)
    n *= t->shape[d];
  return n;
}

bool
rl_tensor_is_contiguous (const RlTensor *t)
{
  int64_t expected = 1;
  for (int d = t->ndim - 1; d >= 0; d--)
    {
      if (t->shape[d] == 0)
        return true;
      if (t->shape[d] != 1 && t->strides[d] != expected)
        return false;
      expected *= t->shape[d];
    }
  return true;
}

size_t
rl_tensor_nbytes (const RlTensor *t)
{
  int64_t numel = rl_tensor_numel (t);
  if (numel == 0)
    return 0;
  if (rl_tensor_is_contiguous (t))
    return (size_t) elems_to_bytes (t->dtype, numel);
  int64_t last = 0;
  for (int d = 0; d < t->ndim; d++)
    last += (t->shape[d] - 1) * t->strides[d];
  int64_t block = rl_dtype_block_elems (t->dtype);
  int64_t span = (last / block + 1) * block;
  return (size_t) elems_to_bytes (t->dtype, span);
}

bool
rl_tensor_same_shape (const RlTensor *a, const RlTensor *b)
{
  if (a->ndim != b->ndim)
    return false;
  for (int d = 0; d < a->ndim; d++)
    if (a->shape[d] != b->shape[d])
      return false;
  return true;
}

int64_t
rl_tensor_byte_offset (const RlTensor *t, const int64_t *index)
{
  int64_t elems = 0;
  for (int d = 0; d < t->ndim; d++)
    elems += index[d] * t->strides[d];
  int64_t block = rl_dtype_block_elems (t->dtype);
  if (block > 1)
    return elems / block * (int64_t) rl_dtype_block_bytes (t->dtype);
  return elems * (int64_t) rl_dtype_block_bytes (t->dtype);
}

char *
rl_tensor_describe (const RlTensor *t, char *buf, size_t size)
{
  size_t used = 0;

  if (size == 0)
    return buf;
  buf[0] = '\0';
  if (t == NULL)
    {
      snprintf (buf, size, "(null tensor)");
      return buf;
    }
#define APPEND_(...)                                                         \
  do {                                                                       \
    if (used < size)                                                         \
      {                                                                      \
        int n_ = snprintf (buf + used, size - used, __VA_ARGS__);            \
        used += n_ > 0 ? (size_t) n_ : 0;                                    \
      }                                                                      \
  } while (0)
  APPEND_ ("%s[", rl_dtype_name (t->dtype));
  for (int d = 0; d < t->ndim; d++)
    APPEND_ ("%s%lld", d > 0 ? "," : "", (long long) t->shape[d]);
  APPEND_ ("] %s", rl_device_kind_name (t->device.kind));
  if (t->device.kind != RL_DEVICE_CPU)
    APPEND_ (":%d", t->device.index);
  if (t->scale != 1.0f)
    APPEND_ (" scale=%g", (double) t->scale);
  if (!rl_tensor_is_contiguous (t))
    APPEND_ (" strided");
#undef APPEND_
  return buf;
}
