/* Starting and ending one worker process: the listening socket it connects
 * back to, its auth token, posix_spawn with a clean descriptor table, and
 * reaping it through a pidfd with a sentence that says how it ended. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "workers/protocol/error-info.h"
#include "workers/protocol/protocol.h"

typedef struct {
  const char   *worker_path;
  const char   *socket_path;
  int           rank;
  int           world_size;
  const char   *backend;       /* "cpu" or "cuda" */
  int           device_id;
  uint64_t      memory_budget; /* 0: worker default */
  char *const  *envp;
} RlSpawnRequest;

/* Binds and listens on a fresh Unix socket at path (a stale one is
 * replaced); returns the listening descriptor or -1 with err. */
int  rl_spawn_listen        (const char *path, RlErrorInfo *err);

/* Fills token with RL_PROTOCOL_TOKEN_LENGTH random hex characters + NUL. */
int  rl_spawn_make_token    (char *token, RlErrorInfo *err);

/* Checks that path names an executable file: RL_WIRE_NOT_FOUND naming the
 * path and what to do when it does not. */
int  rl_spawn_check_binary  (const char *path, RlErrorInfo *err);

/* Spawns the worker with its token readable on descriptor 3, stdin from
 * /dev/null, stdout/stderr inherited, every other descriptor closed, and
 * default signal dispositions and mask. Returns 0 with *pid and a pidfd,
 * or *pidfd = -1 where pidfds are unsupported (the functions below then
 * poll waitid instead). */
int  rl_spawn_worker        (const RlSpawnRequest *request, const char *token,
                             pid_t *pid, int *pidfd, RlErrorInfo *err);

/* Waits up to wait_ms for the process to exit, sends SIGKILL if it has
 * not, reaps it and writes how it ended into description: "was killed by
 * signal SIGKILL", "exited with status 3". */
void rl_spawn_reap          (pid_t pid, int pidfd, int wait_ms,
                             char *description, size_t size);

/* True once the process has exited (not yet reaped), waiting up to wait_ms. */
int  rl_spawn_has_exited    (pid_t pid, int pidfd, int wait_ms);

/* Sends a signal to the (unreaped) process. */
void rl_spawn_signal        (pid_t pid, int pidfd, int signal_number);
