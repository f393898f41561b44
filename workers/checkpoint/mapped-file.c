#include "workers/checkpoint/mapped-file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

RlStatus
rl_mapped_file_open (const char    *path,
                     uint64_t       header_advice,
                     RlMappedFile  *out)
{
  struct stat info;
  void *map;
  int fd;

  memset (out, 0, sizeof *out);
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return rl_set_error (RL_E_IO, "%s: cannot open: %s", path, strerror (errno));
  if (fstat (fd, &info) != 0 || !S_ISREG (info.st_mode))
    {
      close (fd);
      return rl_set_error (RL_E_IO, "%s: not a regular file", path);
    }
  out->size = (uint64_t) info.st_size;
  if (out->size == 0)
    {
      close (fd);
      return RL_OK;
    }
  map = mmap (NULL, (size_t) out->size, PROT_READ, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED)
    {
      int saved = errno;
      close (fd);
      return rl_set_error (RL_E_IO, "%s: cannot map %llu bytes: %s", path,
                           (unsigned long long) out->size, strerror (saved));
    }
  close (fd);
  out->bytes = map;
  out->mapped = true;
  if (header_advice > 0)
    madvise (map, (size_t) (header_advice < out->size ? header_advice : out->size), MADV_WILLNEED);
  return RL_OK;
}

void
rl_mapped_file_close (RlMappedFile *file)
{
  if (file->mapped)
    munmap ((void *) file->bytes, (size_t) file->size);
  memset (file, 0, sizeof *file);
}
