#include "model-file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "workers/checkpoint/safetensors.h"
#include "workers/protocol/protocol.h"
#include "workers/runtime/status.h"

#define PAGE_STRIDE        4096
#define PROGRESS_MIN_BYTES (4u << 20)
#define PROGRESS_MAX_CALLS 256

struct RlModelFile {
  char            *path;
  RlSafetensors   *checkpoint;
  dev_t            device;
  ino_t            inode;
  off_t            size;
  struct timespec  mtime;
  const RlFamily  *family;     /* of the attached model, or NULL */
  RlModelKind      kind;
  RlFamilyModel   *model;
};

static int
wire_code (RlStatus status)
{
  switch (status)
    {
    case RL_E_NOT_FOUND: return RL_WIRE_NOT_FOUND;
    case RL_E_NO_MEMORY: return RL_WIRE_NO_MEMORY;
    case RL_E_IO: return RL_WIRE_IO;
    default: return RL_WIRE_INVALID;
    }
}

RlModelFile *
rl_model_file_open (const char *path, RlErrorInfo *err)
{
  struct stat st;
  if (stat (path, &st) != 0)
    {
      int code = errno == ENOENT ? RL_WIRE_NOT_FOUND : RL_WIRE_IO;
      rl_error_set (err, code, "cannot open checkpoint '%s': %s%s", path, strerror (errno),
                    errno == ENOENT ? " (was it moved or deleted?)" : "");
      return NULL;
    }
  RlModelFile *file = calloc (1, sizeof *file);
  if (file == NULL || (file->path = strdup (path)) == NULL)
    {
      free (file);
      rl_error_set (err, RL_WIRE_NO_MEMORY, "out of memory opening '%s'", path);
      return NULL;
    }
  file->device = st.st_dev;
  file->inode = st.st_ino;
  file->size = st.st_size;
  file->mtime = st.st_mtim;
  rl_clear_error ();
  RlStatus status = rl_safetensors_open (path, &file->checkpoint);
  if (status != RL_OK)
    {
      rl_error_set (err, wire_code (status), "%s", rl_last_error ()[0] ? rl_last_error ()
                                                                          : rl_strerror (status));
      rl_model_file_close (file);
      return NULL;
    }
  return file;
}

typedef struct {
  RlModelFileProgress progress;
  void               *user;
  uint64_t            total;
  uint64_t            chunk;
  uint64_t            next_report;
} LoadState;

/* Reads every page of one tensor; false when progress asked to cancel. */
static bool
touch_tensor (RlModelFile *file, const RlSafetensorsTensor *tensor, LoadState *state)
{
  const volatile uint8_t *bytes = tensor->data;
  uint8_t sink = 0;
  for (uint64_t at = 0; at < tensor->nbytes;)
    {
      uint64_t end = at + state->chunk < tensor->nbytes ? at + state->chunk : tensor->nbytes;
      for (uint64_t page = at; page < end; page += PAGE_STRIDE)
        sink ^= bytes[page];
      rl_safetensors_note_read (file->checkpoint, end - at);
      at = end;
      uint64_t done = rl_safetensors_bytes_read (file->checkpoint);
      if (state->progress != NULL && (done >= state->next_report || done == state->total))
        {
          state->next_report = done + state->chunk;
          if (state->progress (done, state->total, state->user))
            return false;
        }
    }
  (void) sink;
  return true;
}

int
rl_model_file_load (RlModelFile *file, RlModelFileProgress progress, void *user,
                    RlErrorInfo *err)
{
  LoadState state = {
    .progress = progress,
    .user = user,
    .total = rl_safetensors_data_size (file->checkpoint),
  };
  state.chunk = state.total / PROGRESS_MAX_CALLS;
  if (state.chunk < PROGRESS_MIN_BYTES)
    state.chunk = PROGRESS_MIN_BYTES;
  state.next_report = state.chunk;
  rl_safetensors_advise (file->checkpoint, NULL, RL_SAFETENSORS_SEQUENTIAL);
  rl_safetensors_advise (file->checkpoint, NULL, RL_SAFETENSORS_WILL_NEED);
  size_t count = rl_safetensors_count (file->checkpoint);
  for (size_t i = 0; i < count; i++)
    if (!touch_tensor (file, rl_safetensors_tensor_at (file->checkpoint, i), &state))
      return rl_error_set (err, RL_WIRE_CANCELLED, "loading '%s' was cancelled", file->path);
  if (state.total == 0 && progress != NULL)
    progress (0, 0, user);
  return RL_WIRE_OK;
}

uint64_t
rl_model_file_size (const RlModelFile *file)
{
  return rl_safetensors_file_size (file->checkpoint);
}

uint64_t
rl_model_file_data_size (const RlModelFile *file)
{
  return rl_safetensors_data_size (file->checkpoint);
}

bool
rl_model_file_is_current (const RlModelFile *file)
{
  struct stat st;
  if (stat (file->path, &st) != 0)
    return false;
  return st.st_dev == file->device && st.st_ino == file->inode && st.st_size == file->size
         && st.st_mtim.tv_sec == file->mtime.tv_sec
         && st.st_mtim.tv_nsec == file->mtime.tv_nsec;
}

RlSafetensors *
rl_model_file_checkpoint (const RlModelFile *file)
{
  return file->checkpoint;
}

void
rl_model_file_attach (RlModelFile *file, const RlFamily *family, RlModelKind kind,
                      RlFamilyModel *model)
{
  file->family = family;
  file->kind = kind;
  file->model = model;
}

RlFamilyModel *
rl_model_file_model (const RlModelFile *file)
{
  return file->model;
}

const RlFamily *
rl_model_file_family (const RlModelFile *file)
{
  return file->family;
}

RlModelKind
rl_model_file_kind (const RlModelFile *file)
{
  return file->kind;
}

void
rl_model_file_close (RlModelFile *file)
{
  if (file == NULL)
    return;
  if (file->model != NULL)
    file->family->unload (file->model);
  rl_safetensors_close (file->checkpoint);
  free (file->path);
  free (file);
}
