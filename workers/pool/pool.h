/* The pool manager: spawns one raylight-worker per device, speaks the
 * worker protocol to each, watches their health and restarts them.
 *
 * Plain C and thread-safe: the app calls it from GLib worker threads, a
 * headless driver or a test from plain threads. Nothing is global: every
 * piece of state hangs off an RlPool. Blocking calls take a timeout and
 * never wait on a dead or hung worker: each worker has a supervisor thread
 * that sends heartbeats, notices a worker that dies (pidfd; no SIGCHLD
 * handler is installed, so the app's own child handling is untouched) or
 * stops answering, fails the request it was running with an error that
 * names the rank, the pid and the signal, and starts a fresh process.
 *
 *   RlPoolOptions options;
 *   rl_pool_options_init (&options);
 *   options.worker_path = ".../raylight-worker";
 *   options.n_workers = 2;
 *   RlPool *pool = rl_pool_new (&options, &err);
 *   if (pool == NULL || rl_pool_start (pool, &err) != 0) ...;
 *   rl_pool_load_model (pool, -1, "/models/wan.safetensors", "", progress, ui, 0, NULL, &err);
 *   rl_pool_free (pool);   // SHUTDOWN, then SIGTERM, then SIGKILL: never hangs
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "workers/protocol/error-info.h"
#include "workers/protocol/messages.h"
#include "workers/protocol/protocol.h"
#include "workers/protocol/shared-tensor.h"

typedef struct RlPool RlPool;

typedef enum {
  RL_POOL_BACKEND_CPU  = 0,
  RL_POOL_BACKEND_CUDA = 1,
} RlPoolBackend;

typedef enum {
  RL_WORKER_STOPPED = 0,  /* not started yet, or shut down */
  RL_WORKER_STARTING,     /* spawned, waiting for its HELLO */
  RL_WORKER_READY,        /* idle */
  RL_WORKER_BUSY,         /* running a request */
  RL_WORKER_CRASHED,      /* died or hung; a restart is under way */
  RL_WORKER_FAILED,       /* will not be restarted; see last_error */
} RlWorkerState;

/* A worker's lifecycle change, for logs and the UI's pool view. */
typedef struct {
  int            rank;
  RlWorkerState  state;     /* STARTING, READY, CRASHED, FAILED or STOPPED */
  int            pid;       /* the process concerned, 0 if none */
  const char    *message;   /* for CRASHED/FAILED: what happened, naming rank,
                               pid and signal; otherwise "" */
} RlPoolEvent;

/* Runs on the worker's supervisor thread with no pool lock held; it may
 * call rl_pool_worker_info() but must return quickly and must not call
 * rl_pool_free(). */
typedef void (*RlPoolEventFunc) (const RlPoolEvent *event, void *user_data);

typedef struct {
  const char        *worker_path;           /* raylight-worker executable (required) */
  int                n_workers;             /* >= 1 */
  RlPoolBackend      backend;               /* cpu: n CPU workers; cuda: one per GPU */
  const int         *device_ids;            /* n_workers entries; NULL: 0 .. n-1 */
  const char        *runtime_dir;           /* parent of the private socket dir;
                                               NULL: $XDG_RUNTIME_DIR, else /tmp */
  int                heartbeat_interval_ms; /* default 1000 */
  int                heartbeat_timeout_ms;  /* silence that counts as a hang; default 10000 */
  int                start_timeout_ms;      /* spawn to HELLO; default 30000 */
  int                request_timeout_ms;    /* default for calls passing 0; default -1 = none
                                               (heartbeats catch hangs) */
  int                shutdown_grace_ms;     /* SHUTDOWN -> SIGTERM -> SIGKILL steps; default 3000 */
  uint64_t           memory_budget;         /* per-worker model cache bytes; 0: worker picks
                                               3/4 of available memory */
  int                max_restarts;          /* per worker, then FAILED; default 8 */
  const char *const *extra_env;             /* NULL-terminated "KEY=VALUE" added to the
                                               workers' environment (tests, CUDA knobs) */
  RlPoolEventFunc    on_event;              /* lifecycle changes; NULL: crashes and
                                               failures are printed to stderr */
  void              *event_data;
  /* Sequence parallelism of SAMPLE (usp-attention.h): 1 × 1 = none (every
   * rank runs the whole job); otherwise ulysses × ring must equal
   * n_workers, and the CPU workers share one shared-memory collectives
   * segment, created at start and handed to each worker at HELLO_ACK.
   * A worker crash aborts the segment (comm-shm.h): the job fails at once
   * naming the rank, the restarted worker comes up without collectives,
   * and later SAMPLEs fail fast until the pool is restarted (the app's
   * pool service does that before its next job). */
  int                ulysses_degree;        /* default 1 */
  int                ring_degree;           /* default 1 */
  int                comm_timeout_ms;       /* per collective; default 300000 */
  /* CFG and data parallelism (parallel-plan.h): cfg 2 runs the positive
   * and negative prompt on two groups, data N splits the batch over N
   * groups; each group is sequence-parallel over ulysses × ring ranks.
   * The product of the four degrees is 1 or n_workers. GPU workers of a
   * parallel pool share NCCL collectives: rank 0 makes the unique id, the
   * pool hands it to the others at HELLO_ACK (the pool itself never links
   * NCCL). */
  int                cfg_degree;            /* 1 or 2; default 1 */
  int                data_degree;           /* default 1 */
  /* Passed to every worker (RlMsgParallel) for the weight loader and the
   * attention: FSDP degree (1: replicated), CPU offload of the shards, and
   * the attention variant ("" or NULL: the backend's default). */
  int                fsdp_degree;           /* default 1 */
  bool               cpu_offload;
  const char        *attention;
  /* n_workers × n_workers link costs between the devices of device_ids
   * (lower is faster; NULL: all equal). With it the pool places ranks so
   * that Ulysses groups sit on the cheapest links (rl_parallel_layout). */
  const double      *link_cost;
} RlPoolOptions;

/* A worker's state and the facts from its HELLO. */
typedef struct {
  int           rank;
  int           device_id;
  RlWorkerState state;
  int           pid;                  /* 0 when no process */
  int           restarts;
  char          backend[16];
  char          device_name[128];
  uint64_t      total_memory;
  uint64_t      free_memory;          /* at HELLO time */
  uint32_t      compute_major;
  uint32_t      compute_minor;
  char          last_error[RL_ERROR_INFO_MESSAGE_SIZE];  /* "" if none */
} RlWorkerInfo;

/* A progress report, valid only during the callback. */
typedef struct {
  int             rank;
  uint32_t        kind;       /* RlProgressKind: LOAD_BYTES or STEPS */
  uint64_t        done;
  uint64_t        total;
  const char     *message;
  RlSharedTensor *preview;    /* borrowed preview latent, or NULL */
} RlPoolProgress;

/* Runs on the worker's supervisor thread, never on the caller's: hand the
 * data to your main loop (g_idle_add). It must not call rl_pool_free(). */
typedef void (*RlPoolProgressFunc) (const RlPoolProgress *progress, void *user_data);

/* A compute request for one worker. */
typedef struct {
  RlMessageType          type;          /* ENCODE_TEXT, SAMPLE, VAE_ENCODE, VAE_DECODE,
                                           or DIAGNOSTIC */
  const char            *family;        /* model family ("wan"), or diagnostic op */
  const void            *params;        /* opaque family parameters */
  size_t                 params_size;
  RlSharedTensor *const *tensors;       /* sealed inputs, borrowed */
  int                    n_tensors;     /* <= RL_PROTOCOL_MAX_FDS */
  RlPoolProgressFunc     progress;      /* may be NULL */
  void                  *user_data;
  int                    timeout_ms;    /* 0: options.request_timeout_ms; < 0: none */
} RlPoolCall;

/* What a request returned; release with rl_pool_result_clear(). */
typedef struct {
  void           *data;
  size_t          data_size;
  RlSharedTensor *tensors[RL_PROTOCOL_MAX_FDS];   /* mapped read-only, owned */
  int             n_tensors;
} RlPoolResult;

/* Where raylight-worker is: $RAYLIGHT_WORKER when set; else the build
 * tree's copy for a process running from the build tree, the installed
 * libexec copy otherwise (each falling back to the other). Writes the path
 * into out and returns out, or returns NULL (out then holds the preferred
 * path, for the error message) when no executable exists. */
const char *rl_pool_find_worker (char *out, size_t size);

/* Checks a sequence-parallel configuration before anything launches:
 * degrees ≥ 1 whose product is 1 (off) or n_workers. The error lists the
 * valid Ulysses×ring degrees for n_workers. */
int      rl_pool_check_parallel (int n_workers, RlPoolBackend backend,
                                 int ulysses_degree, int ring_degree,
                                 RlErrorInfo *err);

/* The same for every degree at once (Ulysses, ring, CFG, data): the
 * product must be 1 or n_workers, CFG 1 or 2; the error lists the valid
 * combinations. rl_pool_new runs this check. */
int      rl_pool_check_degrees  (int n_workers, RlPoolBackend backend,
                                 int ulysses_degree, int ring_degree,
                                 int cfg_degree, int data_degree,
                                 RlErrorInfo *err);

/* The device each rank of the pool gets: options->device_ids (or 0 .. n−1)
 * laid out by options->link_cost for the pool's degrees. */
int      rl_pool_layout_devices (const RlPoolOptions *options, int *device_of_rank,
                                 RlErrorInfo *err);

/* Fills options with the defaults above (worker_path NULL, one worker). */
void     rl_pool_options_init  (RlPoolOptions *options);

/* Checks and copies options; starts nothing. NULL with err set when an
 * option is out of range. */
RlPool  *rl_pool_new           (const RlPoolOptions *options, RlErrorInfo *err);

/* Creates the private runtime directory (mode 0700), spawns every worker
 * with posix_spawn and waits until all said HELLO with the right token.
 * On failure returns the first rank's error ("worker binary '...' not
 * found", "rank 1 (pid 42) presented a wrong auth token; refused", ...)
 * and stops whatever had started. Call once. */
int      rl_pool_start         (RlPool *pool, RlErrorInfo *err);

int      rl_pool_size          (const RlPool *pool);

/* The private directory holding the sockets (NULL before start). */
const char *rl_pool_runtime_dir (const RlPool *pool);

/* Copies rank's state into *info; RL_WIRE_INVALID for a bad rank. */
int      rl_pool_worker_info   (RlPool *pool, int rank, RlWorkerInfo *info);

/* Waits until rank is READY (e.g. after a restart) or FAILED, up to
 * timeout_ms (< 0: no limit). 0 when ready. */
int      rl_pool_wait_ready    (RlPool *pool, int rank, int timeout_ms,
                                RlErrorInfo *err);

/* Runs call on rank and waits for its answer. A crash, hang or timeout
 * fails only this request, with an error naming the rank (and the signal);
 * a timed-out request is cancelled on the worker. Requests to one rank
 * run one at a time; a second caller waits for the rank within its own
 * timeout. On success *result holds the answer. */
int      rl_pool_call          (RlPool *pool, int rank, const RlPoolCall *call,
                                RlPoolResult *result, RlErrorInfo *err);

/* Runs calls[i] on ranks[i] for i < n, all at once, as one SPMD step (every
 * rank of a parallel group runs the same sampling loop). Waits for all.
 * When one rank fails (crash, hang, error), the others are cancelled at
 * once, so no rank waits forever for a dead peer, and the returned error
 * is the first real failure, not the cancellations it caused. results (n
 * entries, may be NULL) receive each rank's answer on success; on failure
 * they are cleared. A progress callback in calls[i] runs for ranks[i]. */
int      rl_pool_call_group    (RlPool *pool, const int *ranks, int n,
                                const RlPoolCall *calls, RlPoolResult *results,
                                RlErrorInfo *err);

/* Frees the result's data and tensors and zeroes it. */
void     rl_pool_result_clear  (RlPoolResult *result);

/* Loads (path, options) into the model cache of rank, or of every worker
 * at once when rank is -1, reporting bytes read through progress (from
 * each rank). report (may be NULL) receives rank's cache report (rank 0's
 * when rank is -1). */
int      rl_pool_load_model    (RlPool *pool, int rank, const char *path,
                                const char *options, RlPoolProgressFunc progress,
                                void *user_data, int timeout_ms,
                                RlMsgCacheReport *report, RlErrorInfo *err);

/* Drops (path, options) from rank's cache (every worker when -1).
 * Unloading a model that is not loaded succeeds. */
int      rl_pool_unload_model  (RlPool *pool, int rank, const char *path,
                                const char *options, RlErrorInfo *err);

/* Broadcasts FREE_MEMORY to every running worker and waits for all;
 * reports[rank] (array of rl_pool_size entries, may be NULL) receives what
 * each released. Workers that are restarting have nothing to free and are
 * skipped; a busy worker frees after its running request (within
 * options.request_timeout_ms). Fails with the first rank's error. */
int      rl_pool_free_memory   (RlPool *pool, RlMsgCacheReport *reports,
                                RlErrorInfo *err);

/* Asks rank (every rank when -1) to cancel its running request; the
 * request then fails with RL_WIRE_CANCELLED. Returns at once. */
void     rl_pool_cancel        (RlPool *pool, int rank);

/* Stops every worker: SHUTDOWN, then SIGTERM and SIGKILL after the grace
 * period; waits for the supervisors; fails pending requests with
 * RL_WIRE_STOPPED; removes the runtime directory. Idempotent; bounded by
 * about 3 grace periods. Safe while other threads are inside calls: they
 * return RL_WIRE_STOPPED, and later calls fail the same way. */
void     rl_pool_shutdown      (RlPool *pool);

/* Shuts down if needed, waits for threads still returning from calls, and
 * frees. No call may start once rl_pool_free has begun. NULL is ignored. */
void     rl_pool_free          (RlPool *pool);

/* "ready", "busy", ... for logs and the UI. */
const char *rl_worker_state_name (RlWorkerState state);
