/* raylight-worker: one compute process per device, driven by the pool
 * manager over a Unix socket (workers/protocol/).
 *
 *   raylight-worker --socket PATH --token-fd FD --rank N [--world-size N]
 *                   [--backend cpu|cuda] [--device ID] [--memory-budget BYTES]
 *                   [--attention auto|NAME]
 *
 * It connects, presents the auth token read from FD in HELLO, and then
 * executes requests one at a time on the main thread while the inbox thread
 * answers heartbeats. Model families are plugins (raylight-family-*.so)
 * found on $RAYLIGHT_PLUGIN_PATH at start-up. Attention in model code runs
 * the variant --attention (or $RAYLIGHT_ATTENTION) names, "auto" unless set
 * (worker-attention.h); a SAMPLE job may name another. It exits when the pool says SHUTDOWN or goes away.
 * RAYLIGHT_WORKER_TEST_FAULTS (comma list) enables test-only faults:
 * "hang" and "crash" (the diagnostics of those names), "slow-load" (20 ms
 * per load progress step, so a cancel lands mid-load) and "wrong-token"
 * (HELLO with a bad token). */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "raylight-config.h"
#include "device-facts.h"
#include "diagnostics.h"
#include "family-plugins.h"
#include "model-cache.h"
#include "model-jobs.h"
#include "model-loader.h"
#include "request-context.h"
#include "worker-attention.h"
#include "worker-inbox.h"
#include "worker-link.h"
#include "worker-fsdp.h"
#include "worker-parallel.h"
#if RAYLIGHT_HAVE_CUDA
#include "workers/backend-cuda/cuda-stream.h"
#endif

#define HELLO_ACK_TIMEOUT_MS 30000

typedef struct {
  const char *socket_path;
  int         token_fd;
  int         rank;
  int         world_size;
  const char *backend;
  int         device;
  uint64_t    memory_budget;
  const char *attention;
} WorkerArgs;

typedef struct {
  WorkerArgs     args;
  RlWorkerLink   link;
  RlWorkerInbox *inbox;
  RlModelCache  *cache;
  RlFamilyPlugins *plugins;     /* model families from $RAYLIGHT_PLUGIN_PATH */
  const RlBackend *backend;     /* the compute backend, attention through the variants */
  RlContext     *compute;
  RlWorkerAttention *attention;
  bool           fault_hang;
  bool           fault_crash;
  bool           fault_slow_load;
  bool           fault_wrong_token;
  RlWorkerParallel *parallel;   /* the pool's collectives, or NULL */
  RlWorkerFsdp  *fsdp;          /* FSDP / CPU offload of diffusion models, or NULL */
  bool           parallel_lost; /* the pool has them but this worker could not join */
  RlMsgHelloAck  ack;           /* kept to join the collectives once the inbox runs */
  int            comm_fd;       /* the shm segment from HELLO_ACK, or -1 */
} Worker;

static void
usage (void)
{
  fprintf (stderr,
           "usage: raylight-worker --socket PATH --token-fd FD --rank N [--world-size N]\n"
           "                       [--backend cpu|cuda] [--device ID] [--memory-budget BYTES]\n"
           "                       [--attention auto|NAME]   (default: $RAYLIGHT_ATTENTION or auto)\n"
           "raylight-worker is started by the raylight pool manager, not by hand.\n");
}

static bool
parse_args (int argc, char **argv, WorkerArgs *args)
{
  static const struct option options[] = {
    { "socket", required_argument, NULL, 's' },
    { "token-fd", required_argument, NULL, 't' },
    { "rank", required_argument, NULL, 'r' },
    { "world-size", required_argument, NULL, 'w' },
    { "backend", required_argument, NULL, 'b' },
    { "device", required_argument, NULL, 'd' },
    { "memory-budget", required_argument, NULL, 'm' },
    { "attention", required_argument, NULL, 'a' },
    { NULL, 0, NULL, 0 },
  };
  *args = (WorkerArgs) { .token_fd = -1, .rank = -1, .world_size = 1,
                         .backend = "cpu" };
  int option;
  while ((option = getopt_long (argc, argv, "", options, NULL)) != -1)
    {
      switch (option)
        {
        case 's': args->socket_path = optarg; break;
        case 't': args->token_fd = atoi (optarg); break;
        case 'r': args->rank = atoi (optarg); break;
        case 'w': args->world_size = atoi (optarg); break;
        case 'b': args->backend = optarg; break;
        case 'd': args->device = atoi (optarg); break;
        case 'm': args->memory_budget = strtoull (optarg, NULL, 10); break;
        case 'a': args->attention = optarg; break;
        default: return false;
        }
    }
  return args->socket_path != NULL && args->token_fd >= 0 && args->rank >= 0
         && optind == argc;
}

/* The token is a line of hex characters written by the pool into a pipe. */
static bool
read_token (int fd, char *token, size_t size)
{
  size_t got = 0;
  while (got + 1 < size)
    {
      ssize_t n = read (fd, token + got, size - 1 - got);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      got += (size_t) n;
    }
  close (fd);
  token[got] = '\0';
  token[strcspn (token, "\r\n")] = '\0';
  return token[0] != '\0';
}

static int
connect_to_pool (const char *path)
{
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  if (strlen (path) >= sizeof address.sun_path)
    return -1;
  strcpy (address.sun_path, path);
  int sock = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0)
    return -1;
  if (connect (sock, (struct sockaddr *) &address, sizeof address) != 0)
    {
      close (sock);
      return -1;
    }
  return sock;
}

static bool
has_fault (const char *faults, const char *name)
{
  if (faults == NULL)
    return false;
  size_t length = strlen (name);
  for (const char *at = faults; (at = strstr (at, name)) != NULL; at += length)
    if ((at == faults || at[-1] == ',') && (at[length] == '\0' || at[length] == ','))
      return true;
  return false;
}

/* Sends HELLO and waits for the pool's verdict on the token. */
static bool
greet_pool (Worker *worker, const char *token, const RlDeviceFacts *device)
{
  RlDeviceFacts facts = *device;
  char *capabilities[] = { "load-model", "unload-model", "free-memory", "cancel",
                           "progress", "diagnostic" };
  RlMsgHello hello = {
    .protocol_version = RL_PROTOCOL_VERSION,
    .pid = (uint32_t) getpid (),
    .rank = (uint32_t) worker->args.rank,
    .token = worker->fault_wrong_token ? "0000-not-the-pool-token" : (char *) token,
    .backend = (char *) worker->backend->name,
    .device_name = facts.name,
    .total_memory = facts.total_memory,
    .free_memory = facts.free_memory,
    .compute_major = facts.compute_major,
    .compute_minor = facts.compute_minor,
    .n_capabilities = sizeof capabilities / sizeof capabilities[0],
    .capabilities = capabilities,
  };
  unsigned char nccl_id[RL_PROTOCOL_NCCL_ID_SIZE];
  if (rl_worker_parallel_make_nccl_id (worker->args.backend, worker->args.rank,
                                       worker->args.world_size, nccl_id))
    {
      hello.nccl_id = nccl_id;
      hello.nccl_id_size = sizeof nccl_id;
    }
  RlWireWriter w;
  rl_wire_writer_init (&w);
  rl_msg_hello_encode (&hello, &w);
  int status = rl_worker_link_send (&worker->link, RL_MSG_HELLO, 0, &w, NULL, 0);
  rl_wire_writer_clear (&w);
  if (status != RL_WIRE_OK)
    return false;

  RlFrame frame;
  RlErrorInfo err = { 0 };
  if (rl_frame_recv (worker->link.sock, &frame, HELLO_ACK_TIMEOUT_MS, &err) != RL_WIRE_OK)
    {
      fprintf (stderr, "raylight-worker[rank %d]: no answer to HELLO: %s\n",
               worker->args.rank, err.message);
      return false;
    }
  RlMsgHelloAck ack;
  bool accepted = false;
  if (frame.header.type != RL_MSG_HELLO_ACK)
    fprintf (stderr, "raylight-worker[rank %d]: expected HELLO_ACK, got %s\n",
             worker->args.rank, rl_message_type_name (frame.header.type));
  else if (rl_msg_hello_ack_decode (frame.payload, frame.header.payload_size, &ack, &err)
           != RL_WIRE_OK)
    fprintf (stderr, "raylight-worker[rank %d]: %s\n", worker->args.rank, err.message);
  else
    {
      accepted = ack.accepted != 0;
      if (!accepted)
        fprintf (stderr, "raylight-worker[rank %d]: the pool refused this worker: %s\n",
                 worker->args.rank, ack.message);
      else if (ack.has_comm && frame.n_fds < 1)
        {
          fprintf (stderr, "raylight-worker[rank %d]: HELLO_ACK announced the collectives "
                   "segment but carried no descriptor\n", worker->args.rank);
          accepted = false;
        }
      else
        {
          /* Joined in main once the inbox answers heartbeats (an NCCL
           * init waits for every rank). */
          worker->comm_fd = ack.has_comm ? frame.fds[0] : -1;
          if (ack.has_comm)
            frame.fds[0] = -1;
          worker->ack = ack;
          memset (&ack, 0, sizeof ack);
        }
      rl_msg_hello_ack_clear (&ack);
    }
  rl_frame_clear (&frame);
  return accepted;
}

static void
send_cache_report (Worker *worker, uint64_t request_id, const RlMsgCacheReport *report)
{
  RlWireWriter data;
  rl_wire_writer_init (&data);
  rl_msg_cache_report_encode (report, &data);
  RlMsgResult result = { .data = data.data, .data_size = data.size };
  RlWireWriter w;
  rl_wire_writer_init (&w);
  rl_msg_result_encode (&result, &w);
  rl_worker_link_send (&worker->link, RL_MSG_RESULT, request_id, &w, NULL, 0);
  rl_wire_writer_clear (&w);
  rl_wire_writer_clear (&data);
}

static RlMsgCacheReport
cache_report (const Worker *worker)
{
  return (RlMsgCacheReport) {
    .resident_bytes = rl_model_cache_resident (worker->cache),
    .budget_bytes = rl_model_cache_budget (worker->cache),
    .resident_models = (uint32_t) rl_model_cache_count (worker->cache),
  };
}

typedef struct {
  Worker     *worker;
  uint64_t    request_id;
  const char *message;
} LoadProgress;

static bool
report_load_progress (uint64_t done, uint64_t total, void *user)
{
  LoadProgress *load = user;
  rl_worker_link_progress (&load->worker->link, load->request_id, RL_PROGRESS_LOAD_BYTES,
                           done, total, load->message);
  if (load->worker->fault_slow_load && done < total)
    usleep (20000);   /* a disk slower than the page cache, for cancel tests */
  return rl_worker_inbox_cancelled (load->worker->inbox);
}

static RlModelLoader
model_loader (Worker *worker)
{
  return (RlModelLoader) { .cache = worker->cache, .plugins = worker->plugins,
                           .backend = worker->backend, .compute = worker->compute,
                           .rank = worker->args.rank,
                           .fsdp = rl_worker_fsdp_options (worker->fsdp) };
}

static void
handle_load (Worker *worker, const RlFrame *frame)
{
  uint64_t id = frame->header.request_id;
  RlMsgModel model;
  RlErrorInfo err = { 0 };
  if (rl_msg_model_decode (frame->payload, frame->header.payload_size, &model, &err) != RL_WIRE_OK)
    {
      rl_worker_link_send_error (&worker->link, id, err.code, "rank %d: %s",
                                 worker->args.rank, err.message);
      return;
    }
  const char *base = strrchr (model.path, '/');
  LoadProgress load = { worker, id, base ? base + 1 : model.path };
  RlModelLoader loader = model_loader (worker);
  RlModelLoadInfo info;
  RlModelFile *file = rl_model_loader_get (&loader, model.path, model.options, report_load_progress,
                                           &load, &info, &err);
  if (file == NULL)
    rl_worker_link_send_error (&worker->link, id, err.code, "rank %d: %s", worker->args.rank,
                               err.message);
  else
    {
      if (info.was_cached)
        {
          uint64_t data = rl_model_file_data_size (file);
          rl_worker_link_progress (&worker->link, id, RL_PROGRESS_LOAD_BYTES, data, data,
                                   "already resident");
        }
      RlMsgCacheReport report = cache_report (worker);
      report.model_bytes = info.model_bytes;
      report.released_bytes = info.released_bytes;
      report.was_cached = info.was_cached;
      send_cache_report (worker, id, &report);
    }
  rl_msg_model_clear (&model);
}

static void
handle_unload (Worker *worker, const RlFrame *frame)
{
  uint64_t id = frame->header.request_id;
  RlMsgModel model;
  RlErrorInfo err = { 0 };
  if (rl_msg_model_decode (frame->payload, frame->header.payload_size, &model, &err) != RL_WIRE_OK)
    {
      rl_worker_link_send_error (&worker->link, id, err.code, "rank %d: %s",
                                 worker->args.rank, err.message);
      return;
    }
  uint64_t before = rl_model_cache_resident (worker->cache);
  rl_model_cache_remove (worker->cache, model.path, model.options);
  malloc_trim (0);
  RlMsgCacheReport report = cache_report (worker);
  report.released_bytes = before - report.resident_bytes;
  send_cache_report (worker, id, &report);
  rl_msg_model_clear (&model);
}

static void
handle_free_memory (Worker *worker, const RlFrame *frame)
{
  uint64_t released = rl_model_cache_clear (worker->cache);
  malloc_trim (0);
  RlMsgCacheReport report = cache_report (worker);
  report.released_bytes = released;
  send_cache_report (worker, frame->header.request_id, &report);
}

/* Maps the call's descriptors; on failure frees what was mapped. */
static int
map_inputs (RlFrame *frame, const RlMsgCall *call, RlSharedTensor **inputs,
            RlErrorInfo *err)
{
  if ((int) call->n_tensors != frame->n_fds)
    return rl_error_set (err, RL_WIRE_BAD_MESSAGE,
                         "call lists %u tensors but %d descriptors came with it",
                         call->n_tensors, frame->n_fds);
  for (int i = 0; i < frame->n_fds; i++)
    {
      int fd = frame->fds[i];
      frame->fds[i] = -1;
      inputs[i] = rl_shared_tensor_from_fd (fd, &call->tensors[i], err);
      if (inputs[i] == NULL)
        {
          for (int j = 0; j < i; j++)
            rl_shared_tensor_free (inputs[j]);
          return err->code;
        }
    }
  return RL_WIRE_OK;
}

static void
send_output (Worker *worker, uint64_t id, RlSharedTensor *const *outputs, int n_outputs,
             const void *data, size_t data_size)
{
  RlMsgResult result = { .data = (void *) data, .data_size = data_size,
                         .n_tensors = (uint32_t) n_outputs };
  int fds[RL_PROTOCOL_MAX_FDS];
  for (int i = 0; i < n_outputs; i++)
    {
      result.tensors[i] = *rl_shared_tensor_desc (outputs[i]);
      fds[i] = rl_shared_tensor_fd (outputs[i]);
    }
  RlWireWriter w;
  rl_wire_writer_init (&w);
  rl_msg_result_encode (&result, &w);
  if (w.failed)
    rl_worker_link_send_error (&worker->link, id, RL_WIRE_INVALID,
                               "rank %d: the result blob of %zu bytes exceeds the protocol "
                               "limit; return large data as tensors", worker->args.rank,
                               data_size);
  else
    rl_worker_link_send (&worker->link, RL_MSG_RESULT, id, &w, fds, n_outputs);
  rl_wire_writer_clear (&w);
}

/* Runs a decoded call with mapped inputs: a diagnostic or a model job. */
static int
run_call (Worker *worker, uint16_t type, const RlMsgCall *call, RlSharedTensor *const *inputs,
          const RlRequestContext *ctx, RlJobOutput *output, RlErrorInfo *err)
{
  if (type == RL_MSG_DIAGNOSTIC)
    return rl_diagnostic_run (ctx, call, inputs, (int) call->n_tensors, output->tensors,
                              &output->n_tensors, err);
  RlModelLoader loader = model_loader (worker);
  return rl_model_job_run (&loader, (RlMessageType) type, call, inputs, ctx, output, err);
}

static void
handle_call (Worker *worker, RlFrame *frame)
{
  uint64_t id = frame->header.request_id;
  RlMsgCall call;
  RlErrorInfo err = { 0 };
  if (rl_msg_call_decode (frame->payload, frame->header.payload_size, &call, &err) != RL_WIRE_OK)
    {
      rl_worker_link_send_error (&worker->link, id, err.code, "rank %d: %s",
                                 worker->args.rank, err.message);
      return;
    }
  RlSharedTensor *inputs[RL_PROTOCOL_MAX_FDS] = { 0 };
  RlJobOutput output = { 0 };
  RlRequestContext ctx = {
    .link = &worker->link,
    .inbox = worker->inbox,
    .request_id = id,
    .rank = worker->args.rank,
    .test_faults = worker->fault_hang,
    .test_faults_crash = worker->fault_crash,
    .backend = worker->backend,
    .compute = worker->compute,
    .parallel = rl_worker_parallel_context (worker->parallel),
    .split = rl_worker_parallel_split (worker->parallel),
    .parallel_lost = worker->parallel_lost,
    .attention = worker->attention,
  };
  if (map_inputs (frame, &call, inputs, &err) != RL_WIRE_OK)
    {
      rl_worker_link_send_error (&worker->link, id, err.code, "rank %d: %s",
                                 worker->args.rank, err.message);
      rl_msg_call_clear (&call);
      return;
    }
  if (run_call (worker, frame->header.type, &call, inputs, &ctx, &output, &err) == RL_WIRE_OK)
    send_output (worker, id, output.tensors, output.n_tensors, output.data, output.data_size);
  else
    rl_worker_link_send_error (&worker->link, id, err.code, "%s", err.message);
  for (uint32_t i = 0; i < call.n_tensors; i++)
    rl_shared_tensor_free (inputs[i]);
  for (int i = 0; i < output.n_tensors; i++)
    rl_shared_tensor_free (output.tensors[i]);
  free (output.data);
  rl_msg_call_clear (&call);
}

/* Executes one request; false when the worker should exit. */
static bool
execute (Worker *worker, RlFrame *frame)
{
  uint64_t id = frame->header.request_id;
  rl_worker_inbox_begin (worker->inbox, id);
  if (frame->header.type != RL_MSG_SHUTDOWN && rl_worker_inbox_cancelled (worker->inbox))
    {
      rl_worker_link_send_error (&worker->link, id, RL_WIRE_CANCELLED,
                                 "rank %d: request cancelled before it started",
                                 worker->args.rank);
      return true;
    }
  switch (frame->header.type)
    {
    case RL_MSG_LOAD_MODEL:   handle_load (worker, frame); break;
    case RL_MSG_UNLOAD_MODEL: handle_unload (worker, frame); break;
    case RL_MSG_FREE_MEMORY:  handle_free_memory (worker, frame); break;
    case RL_MSG_ENCODE_TEXT:
    case RL_MSG_SAMPLE:
    case RL_MSG_VAE_ENCODE:
    case RL_MSG_VAE_DECODE:
    case RL_MSG_DIAGNOSTIC:   handle_call (worker, frame); break;
    case RL_MSG_SHUTDOWN:
      {
        RlWireWriter w;
        rl_wire_writer_init (&w);
        RlMsgResult done = { 0 };
        rl_msg_result_encode (&done, &w);
        rl_worker_link_send (&worker->link, RL_MSG_RESULT, id, &w, NULL, 0);
        rl_wire_writer_clear (&w);
        return false;
      }
    default:
      rl_worker_link_send_error (&worker->link, id, RL_WIRE_BAD_MESSAGE,
                                 "rank %d: a worker does not accept %s messages",
                                 worker->args.rank,
                                 rl_message_type_name (frame->header.type));
      break;
    }
  rl_worker_inbox_begin (worker->inbox, 0);
  return true;
}

/* Facts about a GPU: only builds with CUDA can ask the driver. */
static void
query_gpu_facts (int device, RlDeviceFacts *facts, char *problem, size_t size)
{
#if RAYLIGHT_HAVE_CUDA
  rl_device_facts_cuda (device, facts, problem, size);
#else
  memset (facts, 0, sizeof *facts);
  snprintf (problem, size, "this raylight-worker was built without CUDA");
#endif
}

#if RAYLIGHT_HAVE_CUDA
/* The stream the CUDA backend runs a context's ops on (attention variants
 * and the Ulysses exchanges are ordered on it). */
static void *
cuda_compute_stream (RlContext *ctx)
{
  return (void *) rl_cuda_context_stream (ctx, NULL);
}
#endif

/* Picks the compute backend named on the command line and opens a context
 * on this worker's device; on failure tells the pool why (instead of
 * HELLO) and returns false. */
static bool
open_backend (Worker *worker, RlDeviceFacts *facts)
{
  const char *name = worker->args.backend;
  int device = worker->args.device;
  char problem[256] = "";
  worker->backend = rl_backend_find (name);
  if (worker->backend == NULL)
    snprintf (problem, sizeof problem, "backend '%s' is not available in this raylight-worker "
              "(%s)", name, strcmp (name, "cuda") == 0 ? "it was built without CUDA; rebuild "
              "with -Dcuda=enabled" : "known backends: cpu, cuda");
  else if (worker->backend->device_kind == RL_DEVICE_CPU)
    {
      /* CPU workers share the host: the CPU backend has one device, index
       * 0, whatever device id the pool numbered this worker with. */
      rl_device_facts_cpu (facts);
      device = 0;
    }
  else
    query_gpu_facts (device, facts, problem, sizeof problem);
  if (problem[0] == '\0' && worker->backend->context_new (device, &worker->compute) != RL_OK)
    snprintf (problem, sizeof problem, "cannot create a %s compute context on device %d: %s",
              name, device, rl_last_error ());
  if (problem[0] == '\0')
    {
      /* Model code gets the backend with attention through the variants. */
      const char *requested = worker->args.attention ? worker->args.attention
                                                     : getenv ("RAYLIGHT_ATTENTION");
      worker->attention = rl_worker_attention_new (worker->backend, worker->compute, device,
                                                   requested, worker->args.rank, problem,
                                                   sizeof problem);
      if (worker->attention != NULL)
        {
#if RAYLIGHT_HAVE_CUDA
          if (worker->backend->device_kind == RL_DEVICE_CUDA)
            rl_worker_attention_set_stream_source (worker->attention, cuda_compute_stream);
#endif
          worker->backend = rl_worker_attention_backend (worker->attention);
        }
      else
        worker->backend->context_free (worker->compute);
    }
  if (problem[0] == '\0')
    return true;
  rl_worker_link_send_error (&worker->link, 0, RL_WIRE_NOT_SUPPORTED, "rank %d: %s",
                             worker->args.rank, problem);
  return false;
}

/* The collectives' cancel check (comm.h): the running request was cancelled. */
static bool
inbox_cancelled (void *inbox)
{
  return rl_worker_inbox_cancelled (inbox);
}

/* The pool's attention setting (HELLO_ACK) replaces $RAYLIGHT_ATTENTION's,
 * not an explicit --attention. A name this worker does not have keeps the
 * default and says so: the SAMPLE jobs still run. */
static void
apply_pool_attention (Worker *worker)
{
  const char *wanted = worker->ack.parallel.attention;
  char error[512];
  if (worker->args.attention != NULL || wanted == NULL || wanted[0] == '\0')
    return;
  if (!rl_worker_attention_set_default (worker->attention, wanted, error, sizeof error))
    fprintf (stderr, "raylight-worker[rank %d]: the pool's attention setting is ignored: %s; "
             "keeping '%s'\n", worker->args.rank, error,
             rl_worker_attention_default (worker->attention));
}

/* FSDP and CPU offload of the diffusion models this worker loads: the
 * pool's settings (HELLO_ACK), else $RAYLIGHT_FSDP / $RAYLIGHT_CPU_OFFLOAD.
 * Shards stay within the sequence-parallel group when there is one (its
 * ranks run every forward together), else over the world. Collective. */
static void
setup_fsdp (Worker *worker)
{
  int degree = (int) worker->ack.parallel.fsdp_degree;
  bool offload = worker->ack.parallel.cpu_offload != 0;
  const RlParallelContext *sp = rl_worker_parallel_context (worker->parallel);
  RlComm *group = sp != NULL ? sp->sp : rl_worker_parallel_world (worker->parallel);
  char error[512];

  if (degree <= 1 && !offload)
    rl_worker_fsdp_from_env (&degree, &offload);
  if (group != NULL && degree > 1 && degree == (int) worker->ack.world_size)
    degree = 0;   /* "every rank": the group that runs the forwards together */
  worker->fsdp = rl_worker_fsdp_new (group, group != NULL ? rl_comm_rank (group) : 0, degree,
                                     offload, error, sizeof error);
  const RlFsdpOptions *o = rl_worker_fsdp_options (worker->fsdp);
  if (worker->fsdp == NULL && error[0] != '\0')
    fprintf (stderr, "raylight-worker[rank %d]: weights stay replicated: %s\n",
             worker->args.rank, error);
  else if (o != NULL && o->group != NULL)
    fprintf (stderr, "raylight-worker[rank %d]: diffusion blocks sharded over %d ranks%s\n",
             worker->args.rank, rl_comm_size (o->group),
             o->cpu_offload ? ", shards in pinned host memory" : "");
  else if (o != NULL)
    fprintf (stderr, "raylight-worker[rank %d]: diffusion blocks in pinned host memory\n",
             worker->args.rank);
}

static uint64_t
default_budget (void)
{
  RlDeviceFacts facts;
  rl_device_facts_cpu (&facts);
  return facts.free_memory / 4 * 3;
}

int
main (int argc, char **argv)
{
  Worker worker = { .comm_fd = -1 };
  if (!parse_args (argc, argv, &worker.args))
    {
      usage ();
      return 2;
    }
  const char *faults = getenv ("RAYLIGHT_WORKER_TEST_FAULTS");
  worker.fault_hang = has_fault (faults, "hang");
  worker.fault_crash = has_fault (faults, "crash");
  worker.fault_slow_load = has_fault (faults, "slow-load");
  worker.fault_wrong_token = has_fault (faults, "wrong-token");

  char token[RL_PROTOCOL_TOKEN_LENGTH + 8];
  if (!read_token (worker.args.token_fd, token, sizeof token))
    {
      fprintf (stderr, "raylight-worker[rank %d]: no auth token on fd %d\n",
               worker.args.rank, worker.args.token_fd);
      return 2;
    }
  int sock = connect_to_pool (worker.args.socket_path);
  if (sock < 0)
    {
      fprintf (stderr, "raylight-worker[rank %d]: cannot connect to '%s': %s\n",
               worker.args.rank, worker.args.socket_path, strerror (errno));
      return 1;
    }
  rl_worker_link_init (&worker.link, sock, worker.args.rank);

  RlDeviceFacts facts;
  if (!open_backend (&worker, &facts))
    {
      rl_worker_link_clear (&worker.link);
      return 1;
    }
  if (!greet_pool (&worker, token, &facts))
    {
      worker.backend->context_free (worker.compute);
      rl_worker_link_clear (&worker.link);
      return 3;
    }
  worker.cache = rl_model_cache_new (worker.args.memory_budget ? worker.args.memory_budget
                                                               : default_budget ());
  worker.plugins = rl_family_plugins_load (getenv ("RAYLIGHT_PLUGIN_PATH"), worker.args.rank);
  worker.inbox = rl_worker_inbox_start (&worker.link);
  if (worker.cache == NULL || worker.plugins == NULL || worker.inbox == NULL)
    {
      fprintf (stderr, "raylight-worker[rank %d]: out of memory at start\n",
               worker.args.rank);
      return 1;
    }
  /* A restarted worker gets no collectives (its peers' are gone) and a
   * worker that cannot join them still serves jobs that need none: either
   * way a parallel SAMPLE fails saying the pool must be restarted. */
  if (worker.comm_fd >= 0 || worker.ack.nccl_id_size > 0)
    worker.parallel = rl_worker_parallel_join (&worker.ack, worker.comm_fd, worker.args.device,
                                               inbox_cancelled, worker.inbox);
  worker.parallel_lost = rl_worker_parallel_expected (&worker.ack) && worker.parallel == NULL;
#if RAYLIGHT_HAVE_CUDA
  if (worker.parallel != NULL && worker.backend->device_kind == RL_DEVICE_CUDA
      && rl_worker_parallel_order_after (worker.parallel, cuda_compute_stream (worker.compute))
         != RL_OK)
    fprintf (stderr, "raylight-worker[rank %d]: Ulysses exchanges wait for the whole device: %s\n",
             worker.args.rank, rl_last_error ());
#endif
  apply_pool_attention (&worker);
  setup_fsdp (&worker);
  rl_msg_hello_ack_clear (&worker.ack);
  RlFrame frame;
  bool running = true;
  while (running && rl_worker_inbox_next (worker.inbox, &frame))
    {
      running = execute (&worker, &frame);
      rl_frame_clear (&frame);
    }
  rl_worker_inbox_free (worker.inbox);
  rl_model_cache_free (worker.cache);
  rl_family_plugins_free (worker.plugins);
  rl_worker_fsdp_free (worker.fsdp);
  rl_worker_parallel_free (worker.parallel);
  worker.backend->context_free (worker.compute);
  rl_worker_attention_free (worker.attention);
  rl_worker_link_clear (&worker.link);
  return 0;
}
