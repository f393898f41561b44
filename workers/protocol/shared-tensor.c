#include "shared-tensor.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocol.h"

struct RlSharedTensor {
  RlTensorDesc desc;
  int          fd;
  void        *map;        /* the whole memfd, or NULL when empty */
  size_t       map_size;
  int          sealed;
};

#define REQUIRED_SEALS (F_SEAL_SHRINK | F_SEAL_WRITE)

size_t
rl_wire_dtype_size (uint32_t dtype)
{
  switch (dtype)
    {
    case RL_WIRE_DTYPE_F32: return 4;
    case RL_WIRE_DTYPE_F16: return 2;
    case RL_WIRE_DTYPE_BF16: return 2;
    case RL_WIRE_DTYPE_F8_E4M3: return 1;
    case RL_WIRE_DTYPE_F8_E5M2: return 1;
    case RL_WIRE_DTYPE_I8: return 1;
    case RL_WIRE_DTYPE_I32: return 4;
    case RL_WIRE_DTYPE_I64: return 8;
    case RL_WIRE_DTYPE_U8: return 1;
    default: return 0;
    }
}

const char *
rl_wire_dtype_name (uint32_t dtype)
{
  switch (dtype)
    {
    case RL_WIRE_DTYPE_F32: return "f32";
    case RL_WIRE_DTYPE_F16: return "f16";
    case RL_WIRE_DTYPE_BF16: return "bf16";
    case RL_WIRE_DTYPE_F8_E4M3: return "f8_e4m3";
    case RL_WIRE_DTYPE_F8_E5M2: return "f8_e5m2";
    case RL_WIRE_DTYPE_I8: return "i8";
    case RL_WIRE_DTYPE_I32: return "i32";
    case RL_WIRE_DTYPE_I64: return "i64";
    case RL_WIRE_DTYPE_U8: return "u8";
    default: return "unknown";
    }
}

/* Element count times dtype size, or fails on overflow / bad fields. */
static int
dense_nbytes (uint32_t dtype, uint32_t ndim, const uint64_t *shape,
              uint64_t *nbytes, RlErrorInfo *err)
{
  size_t element = rl_wire_dtype_size (dtype);
  if (element == 0)
    return rl_error_set (err, RL_WIRE_INVALID, "unknown tensor dtype code %u", dtype);
  if (ndim > RL_TENSOR_DESC_MAX_DIMS)
    return rl_error_set (err, RL_WIRE_INVALID,
                         "tensor has %u dimensions, the limit is %d", ndim,
                         RL_TENSOR_DESC_MAX_DIMS);
  uint64_t total = element;
  for (uint32_t i = 0; i < ndim; i++)
    if (__builtin_mul_overflow (total, shape[i], &total) || total > (UINT64_C (1) << 48))
      return rl_error_set (err, RL_WIRE_INVALID,
                           "tensor shape overflows at dimension %u", i);
  *nbytes = total;
  return RL_WIRE_OK;
}

int
rl_tensor_desc_init (RlTensorDesc *desc, uint32_t dtype, uint32_t ndim,
                     const uint64_t *shape, RlErrorInfo *err)
{
  memset (desc, 0, sizeof *desc);
  uint64_t nbytes;
  int status = dense_nbytes (dtype, ndim, shape, &nbytes, err);
  if (status != RL_WIRE_OK)
    return status;
  desc->dtype = dtype;
  desc->ndim = ndim;
  memcpy (desc->shape, shape, sizeof (uint64_t) * ndim);
  desc->nbytes = nbytes;
  return RL_WIRE_OK;
}

int
rl_tensor_desc_validate (const RlTensorDesc *desc, RlErrorInfo *err)
{
  uint64_t nbytes;
  int status = dense_nbytes (desc->dtype, desc->ndim, desc->shape, &nbytes, err);
  if (status != RL_WIRE_OK)
    return status;
  if (nbytes != desc->nbytes)
    return rl_error_set (err, RL_WIRE_INVALID,
                         "tensor descriptor says %llu bytes but its %s shape needs %llu",
                         (unsigned long long) desc->nbytes,
                         rl_wire_dtype_name (desc->dtype),
                         (unsigned long long) nbytes);
  uint64_t end;
  if (__builtin_add_overflow (desc->offset, desc->nbytes, &end))
    return rl_error_set (err, RL_WIRE_INVALID, "tensor offset overflows");
  return RL_WIRE_OK;
}

static int
map_whole (RlSharedTensor *tensor, int prot, RlErrorInfo *err)
{
  tensor->map = NULL;
  if (tensor->map_size == 0)
    return RL_WIRE_OK;
  void *map = mmap (NULL, tensor->map_size, prot, MAP_SHARED, tensor->fd, 0);
  if (map == MAP_FAILED)
    return rl_error_set (err, RL_WIRE_NO_MEMORY,
                         "cannot map a %zu-byte tensor memfd: %s",
                         tensor->map_size, strerror (errno));
  tensor->map = map;
  return RL_WIRE_OK;
}

RlSharedTensor *
rl_shared_tensor_new (uint32_t dtype, uint32_t ndim, const uint64_t *shape,
                      const char *name, RlErrorInfo *err)
{
  RlSharedTensor *tensor = calloc (1, sizeof *tensor);
  if (tensor == NULL)
    {
      rl_error_set (err, RL_WIRE_NO_MEMORY, "no memory for a tensor");
      return NULL;
    }
  tensor->fd = -1;
  if (rl_tensor_desc_init (&tensor->desc, dtype, ndim, shape, err) != RL_WIRE_OK)
    goto fail;
  tensor->fd = memfd_create (name ? name : "raylight-tensor",
                             MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (tensor->fd < 0)
    {
      rl_error_set (err, RL_WIRE_IO, "memfd_create failed: %s", strerror (errno));
      goto fail;
    }
  tensor->map_size = (size_t) tensor->desc.nbytes;
  if (ftruncate (tensor->fd, (off_t) tensor->map_size) != 0)
    {
      rl_error_set (err, RL_WIRE_NO_MEMORY, "cannot size a tensor memfd to %zu bytes: %s",
                    tensor->map_size, strerror (errno));
      goto fail;
    }
  if (map_whole (tensor, PROT_READ | PROT_WRITE, err) != RL_WIRE_OK)
    goto fail;
  return tensor;

fail:
  rl_shared_tensor_free (tensor);
  return NULL;
}

int
rl_shared_tensor_seal (RlSharedTensor *tensor, RlErrorInfo *err)
{
  if (tensor->sealed)
    return RL_WIRE_OK;
  /* F_SEAL_WRITE is refused while a writable shared mapping exists. */
  if (tensor->map != NULL)
    munmap (tensor->map, tensor->map_size);
  tensor->map = NULL;
  if (fcntl (tensor->fd, F_ADD_SEALS,
             F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0)
    return rl_error_set (err, RL_WIRE_IO, "cannot seal a tensor memfd: %s",
                         strerror (errno));
  tensor->sealed = 1;
  return map_whole (tensor, PROT_READ, err);
}

RlSharedTensor *
rl_shared_tensor_from_fd (int fd, const RlTensorDesc *desc, RlErrorInfo *err)
{
  if (rl_tensor_desc_validate (desc, err) != RL_WIRE_OK)
    {
      close (fd);
      return NULL;
    }
  int seals = fcntl (fd, F_GET_SEALS);
  if (seals < 0 || (seals & REQUIRED_SEALS) != REQUIRED_SEALS)
    {
      rl_error_set (err, RL_WIRE_BAD_MESSAGE,
                    "refusing a tensor descriptor that is not a memfd sealed against "
                    "writes and shrinking (seals 0x%x)", seals < 0 ? 0 : seals);
      close (fd);
      return NULL;
    }
  struct stat st;
  if (fstat (fd, &st) != 0 || (uint64_t) st.st_size < desc->offset + desc->nbytes)
    {
      rl_error_set (err, RL_WIRE_BAD_MESSAGE,
                    "tensor memfd holds %lld bytes, its descriptor needs %llu",
                    (long long) st.st_size,
                    (unsigned long long) (desc->offset + desc->nbytes));
      close (fd);
      return NULL;
    }
  RlSharedTensor *tensor = calloc (1, sizeof *tensor);
  if (tensor == NULL)
    {
      close (fd);
      rl_error_set (err, RL_WIRE_NO_MEMORY, "no memory for a tensor");
      return NULL;
    }
  tensor->desc = *desc;
  tensor->fd = fd;
  tensor->sealed = 1;
  tensor->map_size = (size_t) st.st_size;
  if (map_whole (tensor, PROT_READ, err) != RL_WIRE_OK)
    {
      rl_shared_tensor_free (tensor);
      return NULL;
    }
  return tensor;
}

void *
rl_shared_tensor_data (RlSharedTensor *tensor)
{
  return tensor->map ? (char *) tensor->map + tensor->desc.offset : NULL;
}

const RlTensorDesc *
rl_shared_tensor_desc (const RlSharedTensor *tensor)
{
  return &tensor->desc;
}

int
rl_shared_tensor_fd (const RlSharedTensor *tensor)
{
  return tensor->fd;
}

void
rl_shared_tensor_free (RlSharedTensor *tensor)
{
  if (tensor == NULL)
    return;
  if (tensor->map != NULL)
    munmap (tensor->map, tensor->map_size);
  if (tensor->fd >= 0)
    close (tensor->fd);
  free (tensor);
}
