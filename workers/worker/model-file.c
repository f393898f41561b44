#include "model-file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workers/protocol/protocol.h"
#include "workers/protocol/wire.h"

#define PAGE_STRIDE        4096
#define PROGRESS_MIN_BYTES (4u << 20)
#define PROGRESS_MAX_CALLS 256

struct RlModelFile {
  char          *path;
  const uint8_t *map;
  uint64_t       size;
  dev_t          device;
  ino_t          inode;
  struct timespec mtime;
};

/* The safetensors framing: a u64 header length, then a JSON object. */
static int
check_safetensors (const RlModelFile *file, RlErrorInfo *err)
{
  if (file->size < 10)
    return rl_error_set (err, RL_WIRE_BAD_MESSAGE,
                         "checkpoint '%s' is %llu bytes, too small to be a safetensors "
                         "file (truncated download?)",
                         file->path, (unsigned long long) file->size);
  uint64_t header = rl_le_load_u64 (file->map);
  if (header > file->size - 8 || file->map[8] != '{')
    return rl_error_set (err, RL_WIRE_BAD_MESSAGE,
                         "checkpoint '%s' is not a safetensors file (bad header length "
                         "%llu or no JSON object); convert it or pick another file",
                         file->path, (unsigned long long) header);
  return RL_WIRE_OK;
}

RlModelFile *
rl_model_file_open (const char *path, RlErrorInfo *err)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      int code = errno == ENOENT ? RL_WIRE_NOT_FOUND : RL_WIRE_IO;
      rl_error_set (err, code, "cannot open checkpoint '%s': %s%s", path,
                    strerror (errno),
                    errno == ENOENT ? " (was it moved or deleted?)" : "");
      return NULL;
    }
  struct stat st;
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      rl_error_set (err, RL_WIRE_INVALID, "checkpoint '%s' is not a regular file", path);
      close (fd);
      return NULL;
    }
  RlModelFile *file = calloc (1, sizeof *file);
  if (file == NULL || (file->path = strdup (path)) == NULL)
    {
      free (file);
      close (fd);
      rl_error_set (err, RL_WIRE_NO_MEMORY, "out of memory opening '%s'", path);
      return NULL;
    }
  file->size = (uint64_t) st.st_size;
  file->device = st.st_dev;
  file->inode = st.st_ino;
  file->mtime = st.st_mtim;
  void *map = file->size ? mmap (NULL, file->size, PROT_READ, MAP_SHARED, fd, 0)
                         : MAP_FAILED;
  close (fd);
  if (map == MAP_FAILED)
    {
      rl_error_set (err, file->size ? RL_WIRE_NO_MEMORY : RL_WIRE_BAD_MESSAGE,
                    "cannot map checkpoint '%s': %s", path,
                    file->size ? strerror (errno) : "the file is empty");
      rl_model_file_close (file);
      return NULL;
    }
  file->map = map;
  if (check_safetensors (file, err) != RL_WIRE_OK)
    {
      rl_model_file_close (file);
      return NULL;
    }
  return file;
}

int
rl_model_file_load (RlModelFile *file, RlModelFileProgress progress, void *user,
                    RlErrorInfo *err)
{
  uint64_t chunk = file->size / PROGRESS_MAX_CALLS;
  if (chunk < PROGRESS_MIN_BYTES)
    chunk = PROGRESS_MIN_BYTES;
  chunk = (chunk + PAGE_STRIDE - 1) / PAGE_STRIDE * PAGE_STRIDE;
  madvise ((void *) file->map, file->size, MADV_SEQUENTIAL);
  volatile uint8_t sink = 0;
  for (uint64_t start = 0; start < file->size; start += chunk)
    {
      uint64_t end = start + chunk < file->size ? start + chunk : file->size;
      if (end < file->size)
        madvise ((void *) (file->map + end), end + chunk <= file->size ? chunk : file->size - end,
                 MADV_WILLNEED);
      for (uint64_t at = start; at < end; at += PAGE_STRIDE)
        sink ^= file->map[at];
      if (progress != NULL && progress (end, file->size, user))
        return rl_error_set (err, RL_WIRE_CANCELLED, "loading '%s' was cancelled",
                             file->path);
    }
  (void) sink;
  return RL_WIRE_OK;
}

uint64_t
rl_model_file_size (const RlModelFile *file)
{
  return file->size;
}

bool
rl_model_file_is_current (const RlModelFile *file)
{
  struct stat st;
  if (stat (file->path, &st) != 0)
    return false;
  return st.st_dev == file->device && st.st_ino == file->inode
         && (uint64_t) st.st_size == file->size
         && st.st_mtim.tv_sec == file->mtime.tv_sec
         && st.st_mtim.tv_nsec == file->mtime.tv_nsec;
}

void
rl_model_file_close (RlModelFile *file)
{
  if (file == NULL)
    return;
  if (file->map != NULL)
    munmap ((void *) file->map, file->size);
  free (file->path);
  free (file);
}
