/* Protocol: framing round trips, malformed frames and payloads rejected
 * with clear errors, and a 16 MiB tensor passed as a sealed memfd. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/plain-test.h"
#include "workers/protocol/fd-passing.h"
#include "workers/protocol/frame.h"
#include "workers/protocol/messages.h"
#include "workers/protocol/shared-tensor.h"

static uint64_t rng_state;

static uint64_t
next_random (void)
{
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

static void
fill_random (void *data, size_t size)
{
  uint8_t *bytes = data;
  for (size_t i = 0; i < size; i++)
    bytes[i] = (uint8_t) (next_random () | 1);
}

static void
make_pair (int pair[2])
{
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
    {
      perror ("socketpair");
      exit (1);
    }
}

typedef struct {
  int         sock;
  const void *bytes;
  size_t      size;
  int         byte_by_byte;
  uint16_t    type;
  uint64_t    id;
  int         close_after;
} Sender;

static void *
send_thread (void *data)
{
  Sender *sender = data;
  if (sender->byte_by_byte)
    {
      const uint8_t *bytes = sender->bytes;
      for (size_t i = 0; i < sender->size; i++)
        {
          if (write (sender->sock, bytes + i, 1) != 1)
            break;
          if (i % 7 == 0)
            usleep (200);
        }
    }
  else if (sender->type != 0)
    rl_frame_send (sender->sock, sender->type, sender->id, sender->bytes, sender->size, NULL, 0,
                   5000, NULL);
  else if (write (sender->sock, sender->bytes, sender->size) < 0)
    perror ("write");
  if (sender->close_after)
    close (sender->sock);
  return NULL;
}

static void
test_frame_round_trip (void)
{
  size_t sizes[] = { 0, 1, 1000, 3u << 20 };
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
    {
      int pair[2];
      make_pair (pair);
      uint8_t *payload = malloc (sizes[s] + 1);
      fill_random (payload, sizes[s]);
      uint64_t id = next_random ();
      Sender sender = { .sock = pair[0], .bytes = payload, .size = sizes[s],
                        .type = RL_MSG_DIAGNOSTIC, .id = id };
      pthread_t thread;
      pthread_create (&thread, NULL, send_thread, &sender);
      RlFrame frame;
      RlErrorInfo err = { 0 };
      int status = rl_frame_recv (pair[1], &frame, 5000, &err);
      pthread_join (thread, NULL);
      PT_CHECK (status == RL_WIRE_OK, "size %zu: %s", sizes[s], err.message);
      if (status == RL_WIRE_OK)
        {
          PT_CHECK (frame.header.type == RL_MSG_DIAGNOSTIC, "type %u", frame.header.type);
          PT_CHECK (frame.header.request_id == id, "request id");
          PT_CHECK (frame.header.payload_size == sizes[s], "size %u", frame.header.payload_size);
          PT_CHECK (sizes[s] == 0 || memcmp (frame.payload, payload, sizes[s]) == 0,
                    "payload differs at size %zu", sizes[s]);
          rl_frame_clear (&frame);
        }
      free (payload);
      close (pair[0]);
      close (pair[1]);
    }
}

/* Builds a frame's bytes by hand: header + payload. */
static size_t
raw_frame (uint8_t *out, uint32_t magic, uint16_t version, uint16_t type, uint32_t flags,
           uint32_t payload_size, const void *payload, size_t actual_payload)
{
  RlFrameHeader header = { magic, version, type, flags, payload_size, 42 };
  rl_frame_header_encode (&header, out);
  if (actual_payload)
    memcpy (out + RL_PROTOCOL_HEADER_SIZE, payload, actual_payload);
  return RL_PROTOCOL_HEADER_SIZE + actual_payload;
}

static void
test_partial_reads (void)
{
  int pair[2];
  make_pair (pair);
  uint8_t payload[300];
  fill_random (payload, sizeof payload);
  uint8_t bytes[RL_PROTOCOL_HEADER_SIZE + sizeof payload];
  size_t size = raw_frame (bytes, RL_PROTOCOL_MAGIC, RL_PROTOCOL_VERSION, RL_MSG_PROGRESS, 0,
                           sizeof payload, payload, sizeof payload);
  Sender sender = { .sock = pair[0], .bytes = bytes, .size = size, .byte_by_byte = 1 };
  pthread_t thread;
  pthread_create (&thread, NULL, send_thread, &sender);
  RlFrame frame;
  RlErrorInfo err = { 0 };
  int status = rl_frame_recv (pair[1], &frame, 10000, &err);
  pthread_join (thread, NULL);
  PT_CHECK (status == RL_WIRE_OK, "byte-by-byte frame: %s", err.message);
  if (status == RL_WIRE_OK)
    {
      PT_CHECK (memcmp (frame.payload, payload, sizeof payload) == 0, "payload differs");
      rl_frame_clear (&frame);
    }
  close (pair[0]);
  close (pair[1]);
}

/* Writes raw bytes, optionally closes, and returns rl_frame_recv's status. */
static int
receive_raw (const uint8_t *bytes, size_t size, int close_after, RlErrorInfo *err)
{
  int pair[2];
  make_pair (pair);
  if (write (pair[0], bytes, size) != (ssize_t) size)
    perror ("write");
  if (close_after)
    close (pair[0]);
  RlFrame frame;
  int status = rl_frame_recv (pair[1], &frame, 300, err);
  if (status == RL_WIRE_OK)
    rl_frame_clear (&frame);
  if (!close_after)
    close (pair[0]);
  close (pair[1]);
  return status;
}

static void
test_malformed_frames (void)
{
  uint8_t bytes[256];
  uint8_t payload[64];
  fill_random (payload, sizeof payload);
  RlErrorInfo err = { 0 };

  size_t size = raw_frame (bytes, 0xdeadbeef, RL_PROTOCOL_VERSION, RL_MSG_HELLO, 0, 0, NULL, 0);
  PT_CHECK (receive_raw (bytes, size, 0, &err) == RL_WIRE_BAD_MESSAGE, "bad magic accepted");
  PT_CHECK (strstr (err.message, "magic") != NULL, "message: %s", err.message);

  size = raw_frame (bytes, RL_PROTOCOL_MAGIC, RL_PROTOCOL_VERSION + 98, RL_MSG_HELLO, 0, 0,
                    NULL, 0);
  PT_CHECK (receive_raw (bytes, size, 0, &err) == RL_WIRE_VERSION_MISMATCH,
            "version mismatch accepted");
  char expected[64];
  snprintf (expected, sizeof expected, "peer speaks version %d", RL_PROTOCOL_VERSION + 98);
  PT_CHECK (strstr (err.message, expected) != NULL, "message: %s", err.message);
  PT_CHECK (strstr (err.message, "same build") != NULL, "no advice: %s", err.message);

  size = raw_frame (bytes, RL_PROTOCOL_MAGIC, RL_PROTOCOL_VERSION, RL_MSG_HELLO, 0,
                    RL_PROTOCOL_MAX_PAYLOAD + 1, NULL, 0);
  PT_CHECK (receive_raw (bytes, size, 0, &err) == RL_WIRE_BAD_MESSAGE, "oversize accepted");
  PT_CHECK (strstr (err.message, "exceeds") != NULL, "message: %s", err.message);

  size = raw_frame (bytes, RL_PROTOCOL_MAGIC, RL_PROTOCOL_VERSION, 999, 0, 0, NULL, 0);
  PT_CHECK (receive_raw (bytes, size, 0, &err) == RL_WIRE_BAD_MESSAGE, "unknown type accepted");

  size = raw_frame (bytes, RL_PROTOCOL_MAGIC, RL_PROTOCOL_VERSION, RL_MSG_RESULT, 0, 64,
                    payload, 30);
  PT_CHECK (receive_raw (bytes, size, 1, &err) == RL_WIRE_PEER_CLOSED, "truncated accepted");
  PT_CHECK (strstr (err.message, "middle") != NULL, "message: %s", err.message);

  size = raw_frame (bytes, RL_PROTOCOL_MAGIC, RL_PROTOCOL_VERSION, RL_MSG_RESULT, 0, 64,
                    payload, 30);
  PT_CHECK (receive_raw (bytes, size, 0, &err) == RL_WIRE_TIMEOUT, "stalled frame: %s",
            err.message);

  size = raw_frame (bytes, RL_PROTOCOL_MAGIC, RL_PROTOCOL_VERSION, RL_MSG_RESULT, 2, 0, NULL, 0);
  PT_CHECK (receive_raw (bytes, size, 0, &err) == RL_WIRE_BAD_MESSAGE,
            "frame announcing 2 descriptors without any accepted");
}

static void
test_message_round_trips (void)
{
  char *capabilities[] = { "load-model", "diagnostic" };
  RlMsgHello hello = { .protocol_version = RL_PROTOCOL_VERSION, .pid = (uint32_t) next_random (),
                       .rank = 3, .token = "abc123", .backend = "cpu", .device_name = "dev",
                       .total_memory = next_random (), .free_memory = next_random (),
                       .compute_major = 9, .n_capabilities = 2, .capabilities = capabilities };
  RlWireWriter w;
  rl_wire_writer_init (&w);
  rl_msg_hello_encode (&hello, &w);
  RlMsgHello back;
  RlErrorInfo err = { 0 };
  PT_CHECK (rl_msg_hello_decode (w.data, w.size, &back, &err) == RL_WIRE_OK, "%s", err.message);
  PT_CHECK (back.pid == hello.pid && back.total_memory == hello.total_memory
            && strcmp (back.token, "abc123") == 0 && back.n_capabilities == 2
            && strcmp (back.capabilities[1], "diagnostic") == 0, "HELLO differs");
  rl_msg_hello_clear (&back);

  /* Every truncation of a valid payload is refused, naming a field. */
  for (size_t cut = 0; cut < w.size; cut++)
    {
      int status = rl_msg_hello_decode (w.data, cut, &back, &err);
      PT_CHECK (status == RL_WIRE_BAD_MESSAGE, "HELLO cut at %zu accepted", cut);
      if (status != RL_WIRE_BAD_MESSAGE)
        break;
    }
  PT_CHECK (strstr (err.message, "field") != NULL, "message: %s", err.message);
  rl_wire_put_u32 (&w, 7);
  PT_CHECK (rl_msg_hello_decode (w.data, w.size, &back, &err) == RL_WIRE_BAD_MESSAGE
            && strstr (err.message, "trailing") != NULL, "trailing bytes: %s", err.message);
  rl_wire_writer_clear (&w);

  /* A string length beyond the payload, and a NUL inside a string. */
  uint8_t bogus[12];
  rl_le_store_u32 (bogus, 0xfffffff0u);
  memset (bogus + 4, 'a', 8);
  RlMsgModel model;
  PT_CHECK (rl_msg_model_decode (bogus, sizeof bogus, &model, &err) == RL_WIRE_BAD_MESSAGE,
            "huge string length accepted");
  rl_le_store_u32 (bogus, 4);
  bogus[6] = '\0';
  PT_CHECK (rl_msg_model_decode (bogus, 8, &model, &err) == RL_WIRE_BAD_MESSAGE,
            "string with NUL accepted");

  RlMsgCall call = { .family = "wan", .params = "\x01\x02\x03", .params_size = 3, .n_tensors = 1 };
  uint64_t shape[3] = { 2, 3, 5 };
  rl_tensor_desc_init (&call.tensors[0], RL_WIRE_DTYPE_BF16, 3, shape, NULL);
  rl_wire_writer_init (&w);
  rl_msg_call_encode (&call, &w);
  RlMsgCall call_back;
  PT_CHECK (rl_msg_call_decode (w.data, w.size, &call_back, &err) == RL_WIRE_OK, "%s",
            err.message);
  PT_CHECK (call_back.n_tensors == 1 && call_back.tensors[0].nbytes == 60
            && call_back.params_size == 3 && strcmp (call_back.family, "wan") == 0,
            "CALL differs");
  rl_msg_call_clear (&call_back);
  /* A descriptor whose byte count disagrees with its shape is refused. */
  size_t nbytes_at = w.size - 8;
  rl_le_store_u64 (w.data + nbytes_at, 61);
  PT_CHECK (rl_msg_call_decode (w.data, w.size, &call_back, &err) == RL_WIRE_BAD_MESSAGE,
            "inconsistent tensor descriptor accepted");
  rl_wire_writer_clear (&w);

  RlMsgProgress progress = { .kind = RL_PROGRESS_STEPS, .done = 5, .total = 4 };
  rl_wire_writer_init (&w);
  rl_msg_progress_encode (&progress, &w);
  RlMsgProgress progress_back;
  PT_CHECK (rl_msg_progress_decode (w.data, w.size, &progress_back, &err) == RL_WIRE_BAD_MESSAGE,
            "progress past total accepted");
  rl_wire_writer_clear (&w);
}

/* Every decoder on random bytes and on mutated valid payloads: each either
 * accepts or refuses with RL_WIRE_BAD_MESSAGE, never reads out of bounds
 * (run under valgrind / MALLOC_CHECK_) and never leaks. */
static int
decode_any (int which, const uint8_t *p, size_t n)
{
  RlErrorInfo err = { 0 };
  int status = RL_WIRE_OK;
  switch (which)
    {
    case 0: { RlMsgHello m; status = rl_msg_hello_decode (p, n, &m, &err); if (!status) rl_msg_hello_clear (&m); } break;
    case 1: { RlMsgHelloAck m; status = rl_msg_hello_ack_decode (p, n, &m, &err); if (!status) rl_msg_hello_ack_clear (&m); } break;
    case 2: { RlMsgModel m; status = rl_msg_model_decode (p, n, &m, &err); if (!status) rl_msg_model_clear (&m); } break;
    case 3: { RlMsgCall m; status = rl_msg_call_decode (p, n, &m, &err); if (!status) rl_msg_call_clear (&m); } break;
    case 4: { RlMsgProgress m; status = rl_msg_progress_decode (p, n, &m, &err); if (!status) rl_msg_progress_clear (&m); } break;
    case 5: { RlMsgError m; status = rl_msg_error_decode (p, n, &m, &err); if (!status) rl_msg_error_clear (&m); } break;
    case 6: { RlMsgResult m; status = rl_msg_result_decode (p, n, &m, &err); if (!status) rl_msg_result_clear (&m); } break;
    case 7: { RlMsgCacheReport m; status = rl_msg_cache_report_decode (p, n, &m, &err); } break;
    default: { RlMsgHeartbeat m; status = rl_msg_heartbeat_decode (p, n, &m, &err); } break;
    }
  return status;
}

static void
test_decoders_survive_garbage (void)
{
  /* Valid payloads to mutate, one per decoder. */
  RlWireWriter valid[9];
  for (int i = 0; i < 9; i++)
    rl_wire_writer_init (&valid[i]);
  char *capabilities[] = { "a", "bc" };
  RlMsgHello hello = { .token = "t", .backend = "cpu", .device_name = "d", .n_capabilities = 2,
                       .capabilities = capabilities };
  rl_msg_hello_encode (&hello, &valid[0]);
  RlMsgHelloAck ack = { .accepted = 1, .message = "m" };
  rl_msg_hello_ack_encode (&ack, &valid[1]);
  RlMsgModel model = { .path = "/p", .options = "o" };
  rl_msg_model_encode (&model, &valid[2]);
  RlMsgCall call = { .family = "f", .params = "pp", .params_size = 2, .n_tensors = 2 };
  uint64_t shape[2] = { 3, 4 };
  rl_tensor_desc_init (&call.tensors[0], RL_WIRE_DTYPE_F16, 2, shape, NULL);
  rl_tensor_desc_init (&call.tensors[1], RL_WIRE_DTYPE_I64, 1, shape, NULL);
  rl_msg_call_encode (&call, &valid[3]);
  RlMsgProgress progress = { .kind = 1, .done = 1, .total = 2, .message = "x", .has_preview = 1,
                             .preview = call.tensors[0] };
  rl_msg_progress_encode (&progress, &valid[4]);
  RlMsgError error = { .code = RL_WIRE_IO, .message = "e" };
  rl_msg_error_encode (&error, &valid[5]);
  RlMsgResult result = { .data = "dd", .data_size = 2, .n_tensors = 1, .tensors = { call.tensors[1] } };
  rl_msg_result_encode (&result, &valid[6]);
  RlMsgCacheReport report = { .model_bytes = 5 };
  rl_msg_cache_report_encode (&report, &valid[7]);
  RlMsgHeartbeat beat = { .sequence = 9 };
  rl_msg_heartbeat_encode (&beat, &valid[8]);

  int odd = 0, accepted_mutations = 0;
  uint8_t buffer[512];
  for (int round = 0; round < 3000; round++)
    {
      int which = (int) (next_random () % 9);
      int status;
      if (round % 2)
        {
          size_t n = (size_t) (next_random () % 200);
          for (size_t i = 0; i < n; i++)
            buffer[i] = (uint8_t) (next_random () % 4 == 0 ? next_random () : next_random () % 3);
          status = decode_any (which, buffer, n);
        }
      else
        {
          size_t n = valid[which].size;
          memcpy (buffer, valid[which].data, n);
          for (int flips = 1 + (int) (next_random () % 3); flips > 0; flips--)
            buffer[next_random () % n] ^= (uint8_t) (1u << (next_random () % 8));
          status = decode_any (which, buffer, n);
          accepted_mutations += status == RL_WIRE_OK;
        }
      odd += status != RL_WIRE_OK && status != RL_WIRE_BAD_MESSAGE;
    }
  for (int i = 0; i < 9; i++)
    {
      PT_CHECK (decode_any (i, valid[i].data, valid[i].size) == RL_WIRE_OK,
                "valid payload %d refused", i);
      rl_wire_writer_clear (&valid[i]);
    }
  PT_CHECK (odd == 0, "%d decodes failed with a code other than BAD_MESSAGE", odd);
  printf ("# %d of 1500 mutated payloads still decoded (flipped bits in values)\n",
          accepted_mutations);
}

static void
test_peer_death (void)
{
  int pair[2];
  make_pair (pair);
  close (pair[1]);
  uint8_t payload[4096];
  fill_random (payload, sizeof payload);
  RlErrorInfo err = { 0 };
  /* Without MSG_NOSIGNAL this would kill the test with SIGPIPE. */
  int status = rl_frame_send (pair[0], RL_MSG_RESULT, 1, payload, sizeof payload, NULL, 0, 1000,
                              &err);
  PT_CHECK (status == RL_WIRE_PEER_CLOSED, "send to a dead peer: %d %s", status, err.message);
  close (pair[0]);
}

static void
test_fd_passing_16mb (void)
{
  uint64_t shape[2] = { 2048, 2048 };
  RlErrorInfo err = { 0 };
  RlSharedTensor *tensor = rl_shared_tensor_new (RL_WIRE_DTYPE_F32, 2, shape, "test", &err);
  PT_REQUIRE (tensor != NULL, "%s", err.message);
  float *values = rl_shared_tensor_data (tensor);
  for (size_t i = 0; i < 2048 * 2048; i++)
    values[i] = (float) ((int64_t) (next_random () % 2000001) - 1000000) / 1000.0f + 0.5f;
  uint32_t checksum = 0;
  for (size_t i = 0; i < 2048 * 2048; i += 4099)
    checksum = checksum * 31 + (uint32_t) (values[i] * 1000.0f);
  int status = rl_shared_tensor_seal (tensor, &err);
  PT_REQUIRE (status == RL_WIRE_OK, "%s", err.message);

  int pair[2];
  make_pair (pair);
  RlMsgCall call = { .family = "sum", .n_tensors = 1 };
  call.tensors[0] = *rl_shared_tensor_desc (tensor);
  RlWireWriter w;
  rl_wire_writer_init (&w);
  rl_msg_call_encode (&call, &w);
  int fd = rl_shared_tensor_fd (tensor);
  PT_CHECK (rl_msg_send (pair[0], RL_MSG_DIAGNOSTIC, 7, &w, &fd, 1, 1000, &err) == RL_WIRE_OK,
            "%s", err.message);
  PT_CHECK (w.size < 1024, "the tensor went through the socket: %zu bytes", w.size);
  rl_wire_writer_clear (&w);

  RlFrame frame;
  status = rl_frame_recv (pair[1], &frame, 1000, &err);
  PT_REQUIRE (status == RL_WIRE_OK, "%s", err.message);
  PT_CHECK (frame.n_fds == 1, "%d descriptors", frame.n_fds);
  RlMsgCall received;
  status = rl_msg_call_decode (frame.payload, frame.header.payload_size, &received, &err);
  PT_REQUIRE (status == RL_WIRE_OK, "%s", err.message);
  RlSharedTensor *mapped = rl_shared_tensor_from_fd (frame.fds[0], &received.tensors[0], &err);
  frame.fds[0] = -1;
  PT_REQUIRE (mapped != NULL, "%s", err.message);
  PT_CHECK (memcmp (rl_shared_tensor_data (mapped), rl_shared_tensor_data (tensor),
                    (size_t) 16 << 20) == 0, "16 MiB tensor differs after the trip");
  const float *seen = rl_shared_tensor_data (mapped);
  uint32_t seen_checksum = 0;
  for (size_t i = 0; i < 2048 * 2048; i += 4099)
    seen_checksum = seen_checksum * 31 + (uint32_t) (seen[i] * 1000.0f);
  PT_CHECK (seen_checksum == checksum, "checksum");
  /* The receiver cannot change what the sender sealed. */
  int copy = dup (rl_shared_tensor_fd (mapped));
  PT_CHECK (mmap (NULL, 4096, PROT_WRITE, MAP_SHARED, copy, 0) == MAP_FAILED,
            "a sealed tensor could be mapped writable");
  PT_CHECK (ftruncate (copy, 0) != 0, "a sealed tensor could be truncated");
  close (copy);
  rl_shared_tensor_free (mapped);
  rl_msg_call_clear (&received);
  rl_frame_clear (&frame);

  /* Unsealed memfds and descriptors shorter than their tensor are refused. */
  int loose = memfd_create ("loose", MFD_CLOEXEC);
  PT_CHECK (ftruncate (loose, 16 << 20) == 0, "ftruncate");
  PT_CHECK (rl_shared_tensor_from_fd (loose, rl_shared_tensor_desc (tensor), &err) == NULL
            && strstr (err.message, "sealed") != NULL, "unsealed memfd: %s", err.message);
  uint64_t small_shape[1] = { 16 };
  RlSharedTensor *small = rl_shared_tensor_new (RL_WIRE_DTYPE_F32, 1, small_shape, "small", &err);
  rl_shared_tensor_seal (small, &err);
  int small_fd = dup (rl_shared_tensor_fd (small));
  PT_CHECK (rl_shared_tensor_from_fd (small_fd, rl_shared_tensor_desc (tensor), &err) == NULL,
            "a 64-byte memfd passed for a 16 MiB tensor");
  rl_shared_tensor_free (small);
  rl_shared_tensor_free (tensor);
  close (pair[0]);
  close (pair[1]);
}

/* Protocol 2: rank 0's NCCL id in HELLO, the id and the parallel settings
 * (their own version) in HELLO_ACK; an id of the wrong size and degrees
 * of 0 on the wire are refused. */
static void
test_parallel_fields (void)
{
  unsigned char id[RL_PROTOCOL_NCCL_ID_SIZE];
  for (int i = 0; i < RL_PROTOCOL_NCCL_ID_SIZE; i++)
    id[i] = (unsigned char) (i * 7 + 3);
  char *capabilities[] = { "a" };
  RlMsgHello hello = { .token = "t", .backend = "cuda", .device_name = "d", .n_capabilities = 1,
                       .capabilities = capabilities, .nccl_id = id, .nccl_id_size = sizeof id };
  RlWireWriter w;
  RlErrorInfo err = { 0 };
  rl_wire_writer_init (&w);
  rl_msg_hello_encode (&hello, &w);
  RlMsgHello hello_back;
  PT_CHECK (rl_msg_hello_decode (w.data, w.size, &hello_back, &err) == RL_WIRE_OK, "%s",
            err.message);
  PT_CHECK (hello_back.nccl_id_size == sizeof id
            && memcmp (hello_back.nccl_id, id, sizeof id) == 0, "HELLO lost the NCCL id");
  rl_msg_hello_clear (&hello_back);
  rl_wire_writer_clear (&w);

  hello.nccl_id_size = 12;
  rl_wire_writer_init (&w);
  rl_msg_hello_encode (&hello, &w);
  PT_CHECK (rl_msg_hello_decode (w.data, w.size, &hello_back, &err) == RL_WIRE_BAD_MESSAGE
            && strstr (err.message, "128 bytes") != NULL, "a 12-byte id: %s", err.message);
  rl_wire_writer_clear (&w);

  RlMsgHelloAck ack = { .accepted = 1, .message = "m", .nccl_id = id, .nccl_id_size = sizeof id };
  rl_msg_parallel_init (&ack.parallel);
  ack.parallel.ulysses_degree = 2;
  ack.parallel.cfg_degree = 2;
  ack.parallel.data_degree = 3;
  ack.parallel.fsdp_degree = 4;
  ack.parallel.cpu_offload = 1;
  ack.parallel.attention = "flash";
  rl_wire_writer_init (&w);
  rl_msg_hello_ack_encode (&ack, &w);
  RlMsgHelloAck back;
  PT_CHECK (rl_msg_hello_ack_decode (w.data, w.size, &back, &err) == RL_WIRE_OK, "%s",
            err.message);
  PT_CHECK (back.parallel.version == RL_PARALLEL_SETTINGS_VERSION
            && back.parallel.ulysses_degree == 2 && back.parallel.ring_degree == 1
            && back.parallel.cfg_degree == 2 && back.parallel.data_degree == 3
            && back.parallel.fsdp_degree == 4 && back.parallel.cpu_offload == 1
            && strcmp (back.parallel.attention, "flash") == 0
            && back.nccl_id_size == sizeof id && memcmp (back.nccl_id, id, sizeof id) == 0,
            "HELLO_ACK's parallel settings changed on the way");
  rl_msg_hello_ack_clear (&back);
  rl_wire_writer_clear (&w);

  /* CFG 3 is not a thing: the decoder says so. */
  ack.parallel.cfg_degree = 3;
  rl_wire_writer_init (&w);
  rl_msg_hello_ack_encode (&ack, &w);
  PT_CHECK (rl_msg_hello_ack_decode (w.data, w.size, &back, &err) == RL_WIRE_BAD_MESSAGE
            && strstr (err.message, "parallel") != NULL, "CFG 3: %s", err.message);
  rl_wire_writer_clear (&w);
}

int
main (void)
{
  rng_state = (uint64_t) time (NULL) ^ ((uint64_t) getpid () << 32) ^ 0x9e3779b97f4a7c15ull;
  printf ("# seed %llu\n", (unsigned long long) rng_state);
  PT_RUN (test_frame_round_trip);
  PT_RUN (test_partial_reads);
  PT_RUN (test_malformed_frames);
  PT_RUN (test_message_round_trips);
  PT_RUN (test_decoders_survive_garbage);
  PT_RUN (test_parallel_fields);
  PT_RUN (test_peer_death);
  PT_RUN (test_fd_passing_16mb);
  return pt_finish ();
}
