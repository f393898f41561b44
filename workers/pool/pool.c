#include "pool.h"

#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "workers/comm/comm-shm.h"
#include "workers/parallel/parallel-plan.h"
#include "workers/parallel/usp-plan.h"
#include "workers/protocol/fd-passing.h"
#include "worker-slot.h"
#include "runtime-dir.h"
#include "worker-spawn.h"

extern char **environ;

struct RlPool {
  RlPoolShared    shared;
  char           *worker_path;
  char           *attention;
  char           *runtime_parent;
  int            *device_ids;
  char           *runtime_dir;
  char          **envp;
  RlWorkerSlot  **workers;
  pthread_mutex_t lock;        /* started / shut_down transitions */
  bool            started;
  bool            shut_down;
  atomic_int      callers;     /* threads inside a public call, for rl_pool_free */
};

/* Every public call that touches worker slots is bracketed by enter/leave,
 * so rl_pool_free can wait for callers that a concurrent shutdown woke. */
static void
enter (RlPool *pool)
{
  atomic_fetch_add (&pool->callers, 1);
}

static int
leave (RlPool *pool, int status)
{
  atomic_fetch_sub (&pool->callers, 1);
  return status;
}

void
rl_pool_options_init (RlPoolOptions *options)
{
  *options = (RlPoolOptions) {
    .n_workers = 1,
    .backend = RL_POOL_BACKEND_CPU,
    .heartbeat_interval_ms = 1000,
    .heartbeat_timeout_ms = 10000,
    .start_timeout_ms = 30000,
    .request_timeout_ms = -1,
    .shutdown_grace_ms = 3000,
    .max_restarts = 8,
    .ulysses_degree = 1,
    .ring_degree = 1,
    .comm_timeout_ms = RL_COMM_DEFAULT_TIMEOUT_MS,
    .cfg_degree = 1,
    .data_degree = 1,
    .fsdp_degree = 1,
  };
}

const char *
rl_worker_state_name (RlWorkerState state)
{
  switch (state)
    {
    case RL_WORKER_STOPPED: return "stopped";
    case RL_WORKER_STARTING: return "starting";
    case RL_WORKER_READY: return "ready";
    case RL_WORKER_BUSY: return "busy";
    case RL_WORKER_CRASHED: return "crashed";
    case RL_WORKER_FAILED: return "failed";
    default: return "unknown";
    }
}

/* environ plus extra ("KEY=VALUE" entries override inherited keys). */
static char **
build_environment (const char *const *extra)
{
  size_t n_base = 0, n_extra = 0;
  while (environ != NULL && environ[n_base] != NULL)
    n_base++;
  while (extra != NULL && extra[n_extra] != NULL)
    n_extra++;
  char **envp = calloc (n_base + n_extra + 1, sizeof *envp);
  if (envp == NULL)
    return NULL;
  size_t count = 0;
  for (size_t i = 0; i < n_base; i++)
    {
      const char *equals = strchr (environ[i], '=');
      size_t key = equals ? (size_t) (equals - environ[i]) + 1 : strlen (environ[i]);
      bool overridden = false;
      for (size_t j = 0; j < n_extra && !overridden; j++)
        overridden = strncmp (extra[j], environ[i], key) == 0;
      if (!overridden && (envp[count] = strdup (environ[i])) != NULL)
        count++;
    }
  for (size_t j = 0; j < n_extra; j++)
    if ((envp[count] = strdup (extra[j])) != NULL)
      count++;
  return envp;
}

static void
free_environment (char **envp)
{
  for (size_t i = 0; envp != NULL && envp[i] != NULL; i++)
    free (envp[i]);
  free (envp);
}

/* "1×2, 2×1": the Ulysses × ring degrees whose product is n. */
static void
valid_degree_pairs (int n, char *out, size_t size)
{
  size_t used = 0;

  out[0] = '\0';
  for (int u = 1; u <= n && used + 24 < size; u++)
    if (n % u == 0)
      used += (size_t) snprintf (out + used, size - used, "%s%d×%d", used ? ", " : "", u, n / u);
}

int
rl_pool_check_parallel (int n_workers, RlPoolBackend backend, int ulysses_degree,
                        int ring_degree, RlErrorInfo *err)
{
  char pairs[512];

  if (n_workers < 1)
    return rl_error_set (err, RL_WIRE_INVALID, "a pool has at least one worker, not %d",
                         n_workers);
  valid_degree_pairs (n_workers, pairs, sizeof pairs);
  if (ulysses_degree < 1 || ring_degree < 1)
    return rl_error_set (err, RL_WIRE_INVALID,
                         "Ulysses degree %d and ring degree %d must be positive whole "
                         "numbers; valid Ulysses×ring degrees for %d workers: %s (1×1 "
                         "turns sequence parallelism off)", ulysses_degree, ring_degree,
                         n_workers, pairs);
  if (ulysses_degree * ring_degree == 1)
    return RL_WIRE_OK;
  /* The Ulysses degree stands in for the heads, which only a loaded model
   * knows: here only the product is checked. */
  if (rl_usp_validate (ulysses_degree, ulysses_degree, ring_degree, n_workers, false) != RL_OK)
    return rl_error_set (err, RL_WIRE_INVALID,
                         "sequence parallelism Ulysses %d × ring %d = %d does not match the "
                         "%d workers; valid Ulysses×ring degrees for %d workers: %s (1×1 "
                         "turns sequence parallelism off)", ulysses_degree, ring_degree,
                         ulysses_degree * ring_degree, n_workers, n_workers, pairs);
  (void) backend;   /* CPU workers share memory, GPU workers NCCL */
  return RL_WIRE_OK;
}

int
rl_pool_check_degrees (int n_workers, RlPoolBackend backend, int ulysses_degree,
                       int ring_degree, int cfg_degree, int data_degree, RlErrorInfo *err)
{
  if (cfg_degree == 1 && data_degree == 1)
    return rl_pool_check_parallel (n_workers, backend, ulysses_degree, ring_degree, err);
  RlParallelDegrees d = { ulysses_degree, ring_degree, cfg_degree, data_degree };
  if (rl_parallel_validate (&d, n_workers) != RL_OK)
    return rl_error_set (err, RL_WIRE_INVALID, "%s", rl_last_error ());
  return RL_WIRE_OK;
}

/* Degrees of options, 0 (a zeroed struct) read as 1. */
static RlParallelDegrees
degrees_of (const RlPoolOptions *o)
{
  return (RlParallelDegrees) { o->ulysses_degree > 0 ? o->ulysses_degree : 1,
                               o->ring_degree > 0 ? o->ring_degree : 1,
                               o->cfg_degree > 0 ? o->cfg_degree : 1,
                               o->data_degree > 0 ? o->data_degree : 1 };
}

/* Whether the workers share collectives: some rank splits work with
 * another, or the weights are sharded (FSDP gathers them every block). */
static bool
needs_collectives (const RlPoolOptions *o)
{
  RlParallelDegrees d = degrees_of (o);
  return o->n_workers > 1 && (rl_parallel_is_parallel (&d) || o->fsdp_degree > 1);
}

int
rl_pool_layout_devices (const RlPoolOptions *o, int *device_of_rank, RlErrorInfo *err)
{
  RlParallelDegrees d = degrees_of (o);
  int n = o->n_workers;
  int order[256];
  if (n < 1 || n > 256)
    return rl_error_set (err, RL_WIRE_INVALID, "a pool has 1 to 256 workers, not %d", n);
  if (o->link_cost == NULL || !rl_parallel_is_parallel (&d))
    for (int r = 0; r < n; r++)
      order[r] = r;
  else if (rl_parallel_layout (&d, n, o->link_cost, order) != RL_OK)
    return rl_error_set (err, RL_WIRE_INVALID, "%s", rl_last_error ());
  for (int r = 0; r < n; r++)
    device_of_rank[r] = o->device_ids ? o->device_ids[order[r]] : order[r];
  return RL_WIRE_OK;
}

static int
check_options (const RlPoolOptions *o, RlErrorInfo *err)
{
  if (o->worker_path == NULL || o->worker_path[0] == '\0')
    return rl_error_set (err, RL_WIRE_INVALID, "the pool needs the path of raylight-worker");
  if (o->n_workers < 1 || o->n_workers > 256)
    return rl_error_set (err, RL_WIRE_INVALID, "a pool has 1 to 256 workers, not %d",
                         o->n_workers);
  if (o->backend != RL_POOL_BACKEND_CPU && o->backend != RL_POOL_BACKEND_CUDA)
    return rl_error_set (err, RL_WIRE_INVALID, "unknown pool backend %d", (int) o->backend);
  if (o->heartbeat_interval_ms <= 0 || o->heartbeat_timeout_ms <= o->heartbeat_interval_ms)
    return rl_error_set (err, RL_WIRE_INVALID,
                         "heartbeat timeout (%d ms) must exceed the interval (%d ms)",
                         o->heartbeat_timeout_ms, o->heartbeat_interval_ms);
  if (o->start_timeout_ms <= 0 || o->shutdown_grace_ms < 0 || o->max_restarts < 0)
    return rl_error_set (err, RL_WIRE_INVALID,
                         "start timeout must be positive, grace and restarts not negative");
  /* 0 (a zeroed struct without rl_pool_options_init) means 1. */
  RlParallelDegrees d = degrees_of (o);
  int status = rl_pool_check_degrees (o->n_workers, o->backend, d.ulysses, d.ring, d.cfg,
                                      d.data, err);
  if (status != RL_WIRE_OK)
    return status;
  if (o->fsdp_degree < 0 || o->fsdp_degree > o->n_workers)
    return rl_error_set (err, RL_WIRE_INVALID, "FSDP degree %d must be between 1 and the %d "
                         "workers", o->fsdp_degree, o->n_workers);
  for (int i = 0; o->device_ids != NULL && i < o->n_workers; i++)
    for (int j = 0; j < i; j++)
      if (o->device_ids[i] == o->device_ids[j] && o->backend == RL_POOL_BACKEND_CUDA)
        return rl_error_set (err, RL_WIRE_INVALID,
                             "device %d is listed twice; a GPU serves one worker",
                             o->device_ids[i]);
  return RL_WIRE_OK;
}

RlPool *
rl_pool_new (const RlPoolOptions *options, RlErrorInfo *err)
{
  if (options == NULL || check_options (options, err) != RL_WIRE_OK)
    {
      if (options == NULL)
        rl_error_set (err, RL_WIRE_INVALID, "no pool options");
      return NULL;
    }
  RlPool *pool = calloc (1, sizeof *pool);
  if (pool == NULL)
    goto no_memory;
  pthread_mutex_init (&pool->lock, NULL);
  pthread_mutex_init (&pool->shared.nccl_lock, NULL);
  pthread_cond_init (&pool->shared.nccl_cond, NULL);
  pool->shared.comm_fd = -1;
  pool->shared.options = *options;
  pool->worker_path = strdup (options->worker_path);
  pool->runtime_parent = options->runtime_dir ? strdup (options->runtime_dir) : NULL;
  pool->device_ids = calloc ((size_t) options->n_workers, sizeof (int));
  pool->workers = calloc ((size_t) options->n_workers, sizeof (RlWorkerSlot *));
  pool->envp = build_environment (options->extra_env);
  if (pool->worker_path == NULL || pool->device_ids == NULL || pool->workers == NULL
      || pool->envp == NULL || (options->runtime_dir && pool->runtime_parent == NULL))
    {
      rl_pool_free (pool);
      goto no_memory;
    }
  if (rl_pool_layout_devices (options, pool->device_ids, err) != RL_WIRE_OK)
    {
      rl_pool_free (pool);
      return NULL;
    }
  pool->shared.options.worker_path = pool->worker_path;
  pool->shared.options.runtime_dir = pool->runtime_parent;
  pool->shared.options.device_ids = pool->device_ids;
  pool->shared.options.extra_env = NULL;
  pool->shared.envp = pool->envp;
  pool->shared.backend_name = options->backend == RL_POOL_BACKEND_CUDA ? "cuda" : "cpu";
  pool->shared.comm_fd = -1;
  if (pool->shared.options.ulysses_degree < 1)
    pool->shared.options.ulysses_degree = 1;
  if (pool->shared.options.ring_degree < 1)
    pool->shared.options.ring_degree = 1;
  if (pool->shared.options.cfg_degree < 1)
    pool->shared.options.cfg_degree = 1;
  if (pool->shared.options.data_degree < 1)
    pool->shared.options.data_degree = 1;
  if (pool->shared.options.fsdp_degree < 1)
    pool->shared.options.fsdp_degree = 1;
  pool->shared.options.link_cost = NULL;   /* used above; not kept */
  pool->attention = options->attention ? strdup (options->attention) : NULL;
  pool->shared.options.attention = pool->attention;
  pool->shared.uses_nccl = options->backend == RL_POOL_BACKEND_CUDA
                           && needs_collectives (&pool->shared.options);
  if (pool->shared.options.comm_timeout_ms <= 0)
    pool->shared.options.comm_timeout_ms = RL_COMM_DEFAULT_TIMEOUT_MS;
  atomic_init (&pool->shared.stopping, false);
  return pool;

no_memory:
  rl_error_set (err, RL_WIRE_NO_MEMORY, "out of memory creating the pool");
  return NULL;
}

int
rl_pool_start (RlPool *pool, RlErrorInfo *err)
{
  pthread_mutex_lock (&pool->lock);
  bool again = pool->started;
  pool->started = true;
  pthread_mutex_unlock (&pool->lock);
  if (again)
    return rl_error_set (err, RL_WIRE_INVALID, "rl_pool_start was already called");

  int status = rl_spawn_check_binary (pool->worker_path, err);
  if (status != RL_WIRE_OK)
    return status;
  pool->runtime_dir = rl_runtime_dir_create (pool->runtime_parent, err);
  if (pool->runtime_dir == NULL)
    return err ? err->code : RL_WIRE_IO;
  pool->shared.runtime_dir = pool->runtime_dir;

  int n = pool->shared.options.n_workers;
  if (n > 1 && pool->shared.options.backend == RL_POOL_BACKEND_CPU
      && needs_collectives (&pool->shared.options))
    {
      /* One segment for the pool's life; each worker gets it at HELLO_ACK.
       * Only parallel pools use it: pools without parallelism keep
       * restarting crashed workers independently of any shared state. */
      if (rl_comm_shm_segment_new (n, 0, &pool->shared.comm_fd) != RL_OK)
        {
          pool->shared.comm_fd = -1;
          status = rl_error_set (err, RL_WIRE_NO_MEMORY,
                                 "creating the shared-memory collectives of %d CPU workers: %s",
                                 n, rl_last_error ());
          rl_pool_shutdown (pool);
          return status;
        }
    }
  for (int rank = 0; rank < n; rank++)
    {
      pool->workers[rank] = rl_worker_slot_start (&pool->shared, rank, pool->device_ids[rank],
                                                  err);
      if (pool->workers[rank] == NULL)
        {
          rl_pool_shutdown (pool);
          return err ? err->code : RL_WIRE_IO;
        }
    }
  /* Each supervisor enforces the start timeout itself; this only waits. */
  for (int rank = 0; rank < n; rank++)
    {
      status = rl_worker_slot_wait_ready (pool->workers[rank], -1, err);
      if (status != RL_WIRE_OK)
        {
          rl_pool_shutdown (pool);
          return status;
        }
    }
  return RL_WIRE_OK;
}

int
rl_pool_size (const RlPool *pool)
{
  return pool->shared.options.n_workers;
}

const char *
rl_pool_runtime_dir (const RlPool *pool)
{
  return pool->runtime_dir;
}

static RlWorkerSlot *
worker_at (RlPool *pool, int rank, RlErrorInfo *err)
{
  if (rank < 0 || rank >= pool->shared.options.n_workers)
    {
      rl_error_set (err, RL_WIRE_INVALID, "no worker of rank %d in a pool of %d", rank,
                    pool->shared.options.n_workers);
      return NULL;
    }
  if (pool->workers[rank] == NULL)
    {
      rl_error_set (err, RL_WIRE_STOPPED, "rank %d: the pool is not running (%s)", rank,
                    pool->started ? "its start failed or it was shut down"
                                  : "rl_pool_start was not called");
      return NULL;
    }
  return pool->workers[rank];
}

static int
do_worker_info (RlPool *pool, int rank, RlWorkerInfo *info)
{
  RlWorkerSlot *worker = worker_at (pool, rank, NULL);
  if (worker == NULL)
    return RL_WIRE_INVALID;
  rl_worker_slot_info (worker, info);
  return RL_WIRE_OK;
}

int
rl_pool_worker_info (RlPool *pool, int rank, RlWorkerInfo *info)
{
  enter (pool);
  return leave (pool, do_worker_info (pool, rank, info));
}

static int
do_wait_ready (RlPool *pool, int rank, int timeout_ms, RlErrorInfo *err)
{
  RlWorkerSlot *worker = worker_at (pool, rank, err);
  if (worker == NULL)
    return RL_WIRE_INVALID;
  return rl_worker_slot_wait_ready (worker, rl_deadline_after (timeout_ms), err);
}

int
rl_pool_wait_ready (RlPool *pool, int rank, int timeout_ms, RlErrorInfo *err)
{
  enter (pool);
  return leave (pool, do_wait_ready (pool, rank, timeout_ms, err));
}

static int64_t
deadline_for (const RlPool *pool, int timeout_ms)
{
  return rl_deadline_after (timeout_ms == 0 ? pool->shared.options.request_timeout_ms
                                            : timeout_ms);
}

void
rl_pool_result_clear (RlPoolResult *result)
{
  if (result == NULL)
    return;
  free (result->data);
  for (int i = 0; i < result->n_tensors; i++)
    rl_shared_tensor_free (result->tensors[i]);
  memset (result, 0, sizeof *result);
}

/* Encodes and sends call to worker; returns the request id or 0. */
static uint64_t
begin_call (RlPool *pool, RlWorkerSlot *worker, const RlPoolCall *call, int64_t deadline,
            RlErrorInfo *err)
{
  bool known = call->type == RL_MSG_ENCODE_TEXT || call->type == RL_MSG_SAMPLE
               || call->type == RL_MSG_VAE_ENCODE || call->type == RL_MSG_VAE_DECODE
               || call->type == RL_MSG_DIAGNOSTIC;
  if (!known || call->n_tensors < 0 || call->n_tensors > RL_PROTOCOL_MAX_FDS
      || (call->n_tensors > 0 && call->tensors == NULL) || call->family == NULL)
    {
      rl_error_set (err, RL_WIRE_INVALID,
                    "rl_pool_call takes ENCODE_TEXT, SAMPLE, VAE_ENCODE, VAE_DECODE or "
                    "DIAGNOSTIC, a family name and at most %d tensors", RL_PROTOCOL_MAX_FDS);
      return 0;
    }
  RlMsgCall message = {
    .family = (char *) call->family,
    .params = (void *) call->params,
    .params_size = call->params_size,
    .n_tensors = (uint32_t) call->n_tensors,
  };
  int fds[RL_PROTOCOL_MAX_FDS];
  for (int i = 0; i < call->n_tensors; i++)
    {
      message.tensors[i] = *rl_shared_tensor_desc (call->tensors[i]);
      fds[i] = rl_shared_tensor_fd (call->tensors[i]);
    }
  RlWireWriter w;
  rl_wire_writer_init (&w);
  rl_msg_call_encode (&message, &w);
  uint64_t id = rl_worker_slot_begin (worker, (uint16_t) call->type, &w, fds, call->n_tensors,
                                      call->progress, call->user_data, deadline, err);
  rl_wire_writer_clear (&w);
  return id;
}

static int
do_call (RlPool *pool, int rank, const RlPoolCall *call, RlPoolResult *result,
              RlErrorInfo *err)
{
  if (result != NULL)
    memset (result, 0, sizeof *result);
  RlWorkerSlot *worker = worker_at (pool, rank, err);
  if (worker == NULL)
    return err ? err->code : RL_WIRE_INVALID;
  int64_t deadline = deadline_for (pool, call->timeout_ms);
  uint64_t id = begin_call (pool, worker, call, deadline, err);
  if (id == 0)
    return err ? err->code : RL_WIRE_INTERNAL;
  return rl_worker_slot_finish (worker, id, deadline, result, err);
}

int
rl_pool_call (RlPool *pool, int rank, const RlPoolCall *call, RlPoolResult *result,
              RlErrorInfo *err)
{
  enter (pool);
  return leave (pool, do_call (pool, rank, call, result, err));
}

static bool
is_process_loss (int status)
{
  return status == RL_WIRE_CRASHED || status == RL_WIRE_HUNG;
}

/* Keeps the first failure; a cancellation only counts when nothing else
 * failed (it is usually the consequence of another rank's failure), and a
 * lost process (crashed, or killed by the pool for not answering) wins
 * over what its peers reported: when the pool kills a hung rank, the rank
 * waiting in a collective with it may answer "peer exited" first, which
 * names the consequence, not the cause. */
static void
note_failure (int status, const RlErrorInfo *rank_err, int *first, RlErrorInfo *err)
{
  if (status == RL_WIRE_OK)
    return;
  bool replace = *first == RL_WIRE_OK
                 || (*first == RL_WIRE_CANCELLED && status != RL_WIRE_CANCELLED)
                 || (is_process_loss (status) && !is_process_loss (*first));
  if (!replace)
    return;
  *first = status;
  if (err != NULL)
    *err = *rank_err;
}

/* One SPMD step in flight: a request per rank, collected as answers come. */
typedef struct {
  int            n;
  RlWorkerSlot  *workers[256];
  uint64_t       ids[256];        /* 0: not sent or already collected */
  int64_t        deadlines[256];
  int            first_status;    /* the failure to report */
} GroupCall;

/* Waits a short slice for rank i's answer and collects it when there. */
static bool
group_try_collect (GroupCall *group, int i, RlPoolResult *results, RlErrorInfo *err)
{
  int64_t now = rl_monotonic_ms ();
  int64_t deadline = group->deadlines[i];
  bool expired = deadline >= 0 && deadline <= now;
  int64_t slice = deadline >= 0 && deadline < now + 20 ? deadline : now + 20;
  if (!expired && !rl_worker_slot_wait_done (group->workers[i], group->ids[i], slice))
    return false;
  RlErrorInfo rank_err = { 0 };
  /* An expired request is given up (and cancelled) by finish. */
  int status = rl_worker_slot_finish (group->workers[i], group->ids[i], expired ? 0 : -1,
                                      results ? &results[i] : NULL, &rank_err);
  note_failure (status, &rank_err, &group->first_status, err);
  group->ids[i] = 0;
  return true;
}

static int
do_call_group (RlPool *pool, const int *ranks, int n, const RlPoolCall *calls,
               RlPoolResult *results, RlErrorInfo *err)
{
  if (n <= 0 || n > pool->shared.options.n_workers)
    return rl_error_set (err, RL_WIRE_INVALID, "a group call needs 1 to %d ranks, not %d",
                         pool->shared.options.n_workers, n);
  GroupCall group = { .n = n, .first_status = RL_WIRE_OK };
  for (int i = 0; i < n; i++)
    {
      if ((group.workers[i] = worker_at (pool, ranks[i], err)) == NULL)
        return err ? err->code : RL_WIRE_INVALID;
      for (int j = 0; j < i; j++)
        if (ranks[j] == ranks[i])
          return rl_error_set (err, RL_WIRE_INVALID, "rank %d appears twice in a group call",
                               ranks[i]);
    }
  if (results != NULL)
    memset (results, 0, sizeof *results * (size_t) n);

  int in_flight = 0;
  for (int i = 0; i < n && group.first_status == RL_WIRE_OK; i++)
    {
      RlErrorInfo rank_err = { 0 };
      group.deadlines[i] = deadline_for (pool, calls[i].timeout_ms);
      group.ids[i] = begin_call (pool, group.workers[i], &calls[i], group.deadlines[i],
                                 &rank_err);
      if (group.ids[i] == 0)
        note_failure (rank_err.code ? rank_err.code : RL_WIRE_INTERNAL, &rank_err,
                      &group.first_status, err);
      in_flight += group.ids[i] != 0;
    }

  /* On the first failure, cancel every rank still running: in a parallel
   * group they would otherwise wait forever for the failed peer. */
  bool cancelled = false;
  while (in_flight > 0)
    {
      if (group.first_status != RL_WIRE_OK && !cancelled)
        {
          for (int i = 0; i < n; i++)
            if (group.ids[i] != 0)
              rl_worker_slot_cancel (group.workers[i]);
          cancelled = true;
        }
      for (int i = 0; i < n; i++)
        if (group.ids[i] != 0 && group_try_collect (&group, i, results, err))
          in_flight--;
    }
  if (group.first_status != RL_WIRE_OK && results != NULL)
    for (int i = 0; i < n; i++)
      rl_pool_result_clear (&results[i]);
  return group.first_status;
}

int
rl_pool_call_group (RlPool *pool, const int *ranks, int n, const RlPoolCall *calls,
                    RlPoolResult *results, RlErrorInfo *err)
{
  enter (pool);
  return leave (pool, do_call_group (pool, ranks, n, calls, results, err));
}

/* Sends one model-cache request to rank, or to all ranks at once (-1), and
 * waits for every answer. reports: one entry per rank (may be NULL). */
static int
broadcast_model_request (RlPool *pool, int rank, uint16_t type, const RlWireWriter *payload,
                         RlPoolProgressFunc progress, void *user_data, int timeout_ms,
                         bool skip_restarting, RlMsgCacheReport *reports, RlErrorInfo *err)
{
  int n = pool->shared.options.n_workers;
  int first = rank < 0 ? 0 : rank;
  int last = rank < 0 ? n - 1 : rank;
  if (worker_at (pool, first, err) == NULL || worker_at (pool, last, err) == NULL)
    return RL_WIRE_INVALID;
  int64_t deadline = deadline_for (pool, timeout_ms);
  uint64_t ids[256] = { 0 };
  int status = RL_WIRE_OK;
  for (int r = first; r <= last; r++)
    {
      if (skip_restarting && !rl_worker_slot_is_running (pool->workers[r]))
        continue;
      RlErrorInfo rank_err = { 0 };
      ids[r] = rl_worker_slot_begin (pool->workers[r], type, payload, NULL, 0, progress,
                                     user_data, deadline, &rank_err);
      if (ids[r] == 0 && status == RL_WIRE_OK)
        {
          status = rank_err.code;
          if (err)
            *err = rank_err;
        }
    }
  for (int r = first; r <= last; r++)
    {
      if (ids[r] == 0)
        continue;
      RlPoolResult result;
      RlErrorInfo rank_err = { 0 };
      int rank_status = rl_worker_slot_finish (pool->workers[r], ids[r], deadline, &result,
                                               &rank_err);
      if (rank_status == RL_WIRE_OK && reports != NULL)
        rank_status = rl_msg_cache_report_decode (result.data, result.data_size,
                                                  &reports[r], &rank_err);
      if (rank_status == RL_WIRE_OK)
        rl_pool_result_clear (&result);
      if (rank_status != RL_WIRE_OK && status == RL_WIRE_OK)
        {
          status = rank_status;
          if (err)
            *err = rank_err;
        }
    }
  return status;
}

static int
model_request (RlPool *pool, int rank, uint16_t type, const char *path, const char *options,
               RlPoolProgressFunc progress, void *user_data, int timeout_ms,
               RlMsgCacheReport *report, RlErrorInfo *err)
{
  if (path == NULL || path[0] == '\0')
    return rl_error_set (err, RL_WIRE_INVALID, "%s needs a checkpoint path",
                         rl_message_type_name (type));
  RlMsgModel message = { .path = (char *) path, .options = (char *) (options ? options : "") };
  RlWireWriter w;
  rl_wire_writer_init (&w);
  rl_msg_model_encode (&message, &w);
  RlMsgCacheReport reports[256];
  int status = broadcast_model_request (pool, rank, type, &w, progress, user_data, timeout_ms,
                                        false, reports, err);
  rl_wire_writer_clear (&w);
  if (status == RL_WIRE_OK && report != NULL)
    *report = reports[rank < 0 ? 0 : rank];
  return status;
}

static int
do_load_model (RlPool *pool, int rank, const char *path, const char *options,
                    RlPoolProgressFunc progress, void *user_data, int timeout_ms,
                    RlMsgCacheReport *report, RlErrorInfo *err)
{
  return model_request (pool, rank, RL_MSG_LOAD_MODEL, path, options, progress, user_data,
                        timeout_ms, report, err);
}

int
rl_pool_load_model (RlPool *pool, int rank, const char *path, const char *options,
                    RlPoolProgressFunc progress, void *user_data, int timeout_ms,
                    RlMsgCacheReport *report, RlErrorInfo *err)
{
  enter (pool);
  return leave (pool, do_load_model (pool, rank, path, options, progress, user_data, timeout_ms, report, err));
}

static int
do_unload_model (RlPool *pool, int rank, const char *path, const char *options,
                      RlErrorInfo *err)
{
  return model_request (pool, rank, RL_MSG_UNLOAD_MODEL, path, options, NULL, NULL, 0, NULL,
                        err);
}

int
rl_pool_unload_model (RlPool *pool, int rank, const char *path, const char *options,
                      RlErrorInfo *err)
{
  enter (pool);
  return leave (pool, do_unload_model (pool, rank, path, options, err));
}

static int
do_free_memory (RlPool *pool, RlMsgCacheReport *reports, RlErrorInfo *err)
{
  int n = pool->shared.options.n_workers;
  RlMsgCacheReport local[256];
  memset (local, 0, sizeof local);
  RlWireWriter empty;
  rl_wire_writer_init (&empty);
  int status = broadcast_model_request (pool, -1, RL_MSG_FREE_MEMORY, &empty, NULL, NULL, 0,
                                        true, local, err);
  if (reports != NULL)
    memcpy (reports, local, sizeof *reports * (size_t) n);
  return status;
}

int
rl_pool_free_memory (RlPool *pool, RlMsgCacheReport *reports, RlErrorInfo *err)
{
  enter (pool);
  return leave (pool, do_free_memory (pool, reports, err));
}

static void
do_cancel (RlPool *pool, int rank)
{
  int n = pool->shared.options.n_workers;
  for (int r = 0; r < n; r++)
    if ((rank < 0 || r == rank) && pool->workers[r] != NULL)
      rl_worker_slot_cancel (pool->workers[r]);
}

void
rl_pool_cancel (RlPool *pool, int rank)
{
  enter (pool);
  do_cancel (pool, rank);
  leave (pool, 0);
}

void
rl_pool_shutdown (RlPool *pool)
{
  pthread_mutex_lock (&pool->lock);
  bool again = pool->shut_down;
  pool->shut_down = true;
  pthread_mutex_unlock (&pool->lock);
  if (again)
    return;
  atomic_store (&pool->shared.stopping, true);
  int n = pool->shared.options.n_workers;
  for (int r = 0; r < n; r++)
    if (pool->workers[r] != NULL)
      rl_worker_slot_wake (pool->workers[r]);
  for (int r = 0; r < n; r++)
    rl_worker_slot_join (pool->workers[r]);
  rl_runtime_dir_remove (pool->runtime_dir);
}

void
rl_pool_free (RlPool *pool)
{
  if (pool == NULL)
    return;
  if (pool->workers != NULL)
    {
      rl_pool_shutdown (pool);
      /* Callers woken by the shutdown are on their way out. */
      while (atomic_load (&pool->callers) > 0)
        usleep (1000);
      for (int r = 0; r < pool->shared.options.n_workers; r++)
        rl_worker_slot_free (pool->workers[r]);
    }
  if (pool->shared.comm_fd >= 0)
    close (pool->shared.comm_fd);
  free (pool->runtime_dir);
  free (pool->attention);
  pthread_mutex_destroy (&pool->shared.nccl_lock);
  pthread_cond_destroy (&pool->shared.nccl_cond);
  free (pool->workers);
  free (pool->device_ids);
  free (pool->runtime_parent);
  free (pool->worker_path);
  free_environment (pool->envp);
  pthread_mutex_destroy (&pool->lock);
  free (pool);
}
