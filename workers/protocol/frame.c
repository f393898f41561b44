#include "frame.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fd-passing.h"
#include "wire.h"

void
rl_frame_header_encode (const RlFrameHeader *header, uint8_t *out)
{
  rl_le_store_u32 (out + 0, header->magic);
  rl_le_store_u16 (out + 4, header->version);
  rl_le_store_u16 (out + 6, header->type);
  rl_le_store_u32 (out + 8, header->flags);
  rl_le_store_u32 (out + 12, header->payload_size);
  rl_le_store_u64 (out + 16, header->request_id);
}

int
rl_frame_header_decode (const uint8_t *in, RlFrameHeader *header,
                        RlErrorInfo *err)
{
  header->magic = rl_le_load_u32 (in + 0);
  header->version = rl_le_load_u16 (in + 4);
  header->type = rl_le_load_u16 (in + 6);
  header->flags = rl_le_load_u32 (in + 8);
  header->payload_size = rl_le_load_u32 (in + 12);
  header->request_id = rl_le_load_u64 (in + 16);

  if (header->magic != RL_PROTOCOL_MAGIC)
    return rl_error_set (err, RL_WIRE_BAD_MESSAGE,
                         "bad frame magic 0x%08x (expected 0x%08x): the peer is not a "
                         "raylight worker or pool, or the stream lost sync",
                         header->magic, RL_PROTOCOL_MAGIC);
  if (header->version != RL_PROTOCOL_VERSION)
    return rl_error_set (err, RL_WIRE_VERSION_MISMATCH,
                         "protocol version mismatch: the peer speaks version %u, this "
                         "build speaks version %u; install raylight and raylight-worker "
                         "from the same build",
                         header->version, RL_PROTOCOL_VERSION);
  if (header->payload_size > RL_PROTOCOL_MAX_PAYLOAD)
    return rl_error_set (err, RL_WIRE_BAD_MESSAGE,
                         "frame payload of %u bytes exceeds the limit of %u bytes "
                         "(tensors travel as memfd descriptors, not in the payload)",
                         header->payload_size, RL_PROTOCOL_MAX_PAYLOAD);
  if ((header->flags & RL_FRAME_FLAG_FD_COUNT_MASK) > RL_PROTOCOL_MAX_FDS)
    return rl_error_set (err, RL_WIRE_BAD_MESSAGE,
                         "frame announces %u descriptors, the limit is %d",
                         header->flags & RL_FRAME_FLAG_FD_COUNT_MASK,
                         RL_PROTOCOL_MAX_FDS);
  if (rl_message_type_name (header->type) == NULL)
    return rl_error_set (err, RL_WIRE_BAD_MESSAGE,
                         "unknown message type %u", header->type);
  return RL_WIRE_OK;
}

int
rl_frame_send (int sock, uint16_t type, uint64_t request_id,
               const void *payload, size_t payload_size, const int *fds,
               int n_fds, int timeout_ms, RlErrorInfo *err)
{
  if (payload_size > RL_PROTOCOL_MAX_PAYLOAD)
    return rl_error_set (err, RL_WIRE_INVALID,
                         "%s payload of %zu bytes exceeds the limit of %u bytes",
                         rl_message_type_name (type), payload_size,
                         RL_PROTOCOL_MAX_PAYLOAD);
  if (n_fds < 0 || n_fds > RL_PROTOCOL_MAX_FDS)
    return rl_error_set (err, RL_WIRE_INVALID,
                         "%d descriptors is more than a frame carries (%d)",
                         n_fds, RL_PROTOCOL_MAX_FDS);
  RlFrameHeader header = {
    .magic = RL_PROTOCOL_MAGIC,
    .version = RL_PROTOCOL_VERSION,
    .type = type,
    .flags = (uint32_t) n_fds,
    .payload_size = (uint32_t) payload_size,
    .request_id = request_id,
  };
  uint8_t bytes[RL_PROTOCOL_HEADER_SIZE];
  rl_frame_header_encode (&header, bytes);
  struct iovec iov[2] = {
    { .iov_base = bytes, .iov_len = sizeof bytes },
    { .iov_base = (void *) payload, .iov_len = payload_size },
  };
  return rl_fd_send (sock, iov, payload_size > 0 ? 2 : 1, fds, n_fds,
                     rl_deadline_after (timeout_ms), err);
}

static void
close_fds (int *fds, int n_fds)
{
  for (int i = 0; i < n_fds; i++)
    if (fds[i] >= 0)
      close (fds[i]);
}

int
rl_frame_recv (int sock, RlFrame *frame, int timeout_ms, RlErrorInfo *err)
{
  memset (frame, 0, sizeof *frame);
  for (int i = 0; i < RL_PROTOCOL_MAX_FDS; i++)
    frame->fds[i] = -1;

  int64_t deadline = rl_deadline_after (timeout_ms);
  int fds[RL_PROTOCOL_MAX_FDS];
  int n_fds = 0;
  uint8_t bytes[RL_PROTOCOL_HEADER_SIZE];
  int status = rl_fd_recv_exact (sock, bytes, sizeof bytes, fds,
                                 RL_PROTOCOL_MAX_FDS, &n_fds, deadline, err);
  if (status == RL_WIRE_OK)
    status = rl_frame_header_decode (bytes, &frame->header, err);
  if (status != RL_WIRE_OK)
    {
      close_fds (fds, n_fds);
      return status;
    }

  uint8_t *payload = NULL;
  if (frame->header.payload_size > 0)
    {
      payload = malloc (frame->header.payload_size);
      if (payload == NULL)
        {
          close_fds (fds, n_fds);
          return rl_error_set (err, RL_WIRE_NO_MEMORY,
                               "no memory for a %u-byte frame payload",
                               frame->header.payload_size);
        }
      status = rl_fd_recv_exact (sock, payload, frame->header.payload_size,
                                 fds, RL_PROTOCOL_MAX_FDS, &n_fds, deadline, err);
    }
  uint32_t announced = frame->header.flags & RL_FRAME_FLAG_FD_COUNT_MASK;
  if (status == RL_WIRE_OK && (uint32_t) n_fds != announced)
    status = rl_error_set (err, RL_WIRE_BAD_MESSAGE,
                           "%s frame announced %u descriptors but %d arrived",
                           rl_message_type_name (frame->header.type), announced,
                           n_fds);
  if (status != RL_WIRE_OK)
    {
      free (payload);
      close_fds (fds, n_fds);
      return status;
    }
  frame->payload = payload;
  frame->n_fds = n_fds;
  memcpy (frame->fds, fds, sizeof (int) * (size_t) n_fds);
  return RL_WIRE_OK;
}

void
rl_frame_clear (RlFrame *frame)
{
  free (frame->payload);
  frame->payload = NULL;
  close_fds (frame->fds, frame->n_fds);
  for (int i = 0; i < RL_PROTOCOL_MAX_FDS; i++)
    frame->fds[i] = -1;
  frame->n_fds = 0;
}
