#include "worker-spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define TOKEN_FD 3

int
rl_spawn_listen (const char *path, RlErrorInfo *err)
{
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  if (strlen (path) >= sizeof address.sun_path)
    return rl_error_set (err, RL_WIRE_INVALID, "socket path '%s' is too long", path), -1;
  strcpy (address.sun_path, path);
  int sock = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (sock < 0)
    return rl_error_set (err, RL_WIRE_IO, "socket() failed: %s", strerror (errno)), -1;
  unlink (path);
  if (bind (sock, (struct sockaddr *) &address, sizeof address) != 0
      || chmod (path, 0600) != 0 || listen (sock, 4) != 0)
    {
      rl_error_set (err, RL_WIRE_IO, "cannot listen on '%s': %s", path, strerror (errno));
      close (sock);
      unlink (path);
      return -1;
    }
  return sock;
}

int
rl_spawn_make_token (char *token, RlErrorInfo *err)
{
  unsigned char bytes[RL_PROTOCOL_TOKEN_LENGTH / 2];
  size_t got = 0;
  while (got < sizeof bytes)
    {
      ssize_t n = getrandom (bytes + got, sizeof bytes - got, 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return rl_error_set (err, RL_WIRE_IO, "getrandom failed: %s", strerror (errno));
      got += (size_t) n;
    }
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < sizeof bytes; i++)
    {
      token[2 * i] = hex[bytes[i] >> 4];
      token[2 * i + 1] = hex[bytes[i] & 15];
    }
  token[RL_PROTOCOL_TOKEN_LENGTH] = '\0';
  return RL_WIRE_OK;
}

int
rl_spawn_check_binary (const char *path, RlErrorInfo *err)
{
  struct stat st;
  if (path == NULL || stat (path, &st) != 0)
    return rl_error_set (err, RL_WIRE_NOT_FOUND,
                         "worker binary '%s' not found: %s; build raylight-worker "
                         "(ninja raylight-worker) or point the pool at the installed one",
                         path ? path : "(none)", strerror (errno));
  if (!S_ISREG (st.st_mode) || access (path, X_OK) != 0)
    return rl_error_set (err, RL_WIRE_NOT_FOUND,
                         "worker binary '%s' is not an executable file; check the path "
                         "and its permissions", path);
  return RL_WIRE_OK;
}

/* Writes the token into a pipe whose read end the child inherits. */
static int
token_pipe (const char *token, RlErrorInfo *err)
{
  int ends[2];
  if (pipe2 (ends, O_CLOEXEC) != 0)
    return rl_error_set (err, RL_WIRE_IO, "pipe2 failed: %s", strerror (errno)), -1;
  char line[RL_PROTOCOL_TOKEN_LENGTH + 2];
  int length = snprintf (line, sizeof line, "%s\n", token);
  ssize_t written = write (ends[1], line, (size_t) length);
  close (ends[1]);
  if (written != length)
    {
      close (ends[0]);
      return rl_error_set (err, RL_WIRE_IO, "cannot write the auth token pipe"), -1;
    }
  return ends[0];
}

int
rl_spawn_worker (const RlSpawnRequest *request, const char *token, pid_t *pid,
                 int *pidfd, RlErrorInfo *err)
{
  int token_fd = token_pipe (token, err);
  if (token_fd < 0)
    return err ? err->code : RL_WIRE_IO;

  char rank[16], world[16], device[16], fd_text[16], budget[32];
  snprintf (rank, sizeof rank, "%d", request->rank);
  snprintf (world, sizeof world, "%d", request->world_size);
  snprintf (device, sizeof device, "%d", request->device_id);
  snprintf (fd_text, sizeof fd_text, "%d", TOKEN_FD);
  snprintf (budget, sizeof budget, "%llu", (unsigned long long) request->memory_budget);
  char *argv[] = {
    (char *) request->worker_path,
    "--socket", (char *) request->socket_path,
    "--token-fd", fd_text,
    "--rank", rank,
    "--world-size", world,
    "--backend", (char *) request->backend,
    "--device", device,
    "--memory-budget", budget,
    NULL,
  };

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  posix_spawn_file_actions_init (&actions);
  posix_spawnattr_init (&attributes);
  posix_spawn_file_actions_addopen (&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2 (&actions, token_fd, TOKEN_FD);
  posix_spawn_file_actions_addclosefrom_np (&actions, TOKEN_FD + 1);
  /* The app may block or ignore signals in its threads; the worker must
   * start with the defaults so SIGTERM ends it and SIGPIPE is sane. */
  sigset_t empty, defaults;
  sigemptyset (&empty);
  sigemptyset (&defaults);
  sigaddset (&defaults, SIGPIPE);
  sigaddset (&defaults, SIGTERM);
  sigaddset (&defaults, SIGINT);
  sigaddset (&defaults, SIGHUP);
  sigaddset (&defaults, SIGCHLD);
  posix_spawnattr_setsigmask (&attributes, &empty);
  posix_spawnattr_setsigdefault (&attributes, &defaults);
  posix_spawnattr_setflags (&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  int status = posix_spawn (pid, request->worker_path, &actions, &attributes, argv,
                            request->envp);
  posix_spawn_file_actions_destroy (&actions);
  posix_spawnattr_destroy (&attributes);
  close (token_fd);
  if (status != 0)
    return rl_error_set (err, status == ENOENT ? RL_WIRE_NOT_FOUND : RL_WIRE_IO,
                         "cannot start worker binary '%s' for rank %d: %s",
                         request->worker_path, request->rank, strerror (status));
  /* pidfds make exits pollable without a SIGCHLD handler; where the kernel
   * (or valgrind) lacks them, *pidfd is -1 and exits are found by polling
   * waitid(WNOWAIT) instead. */
  *pidfd = pidfd_open (*pid, 0);
  if (*pidfd < 0 && errno != ENOSYS)
    {
      int saved = errno;
      kill (*pid, SIGKILL);
      waitpid (*pid, NULL, 0);
      return rl_error_set (err, RL_WIRE_IO, "pidfd_open failed for rank %d: %s",
                           request->rank, strerror (saved));
    }
  if (*pidfd >= 0)
    fcntl (*pidfd, F_SETFD, FD_CLOEXEC);
  return RL_WIRE_OK;
}

/* Without a pidfd: has pid exited? Leaves it unreaped (WNOWAIT). */
static int
exited_without_pidfd (pid_t pid)
{
  siginfo_t info = { 0 };
  if (waitid (P_PID, (id_t) pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0)
    return errno == ECHILD;
  return info.si_pid == pid;
}

int
rl_spawn_has_exited (pid_t pid, int pidfd, int wait_ms)
{
  if (pidfd < 0)
    {
      for (int waited = 0;; waited += 10)
        {
          if (exited_without_pidfd (pid))
            return 1;
          if (waited >= wait_ms)
            return 0;
          usleep (10000);
        }
    }
  struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
  for (;;)
    {
      int ready = poll (&pfd, 1, wait_ms);
      if (ready >= 0)
        return ready > 0;
      if (errno != EINTR)
        return 0;
    }
}

void
rl_spawn_signal (pid_t pid, int pidfd, int signal_number)
{
  if (pidfd >= 0)
    pidfd_send_signal (pidfd, signal_number, NULL, 0);
  else if (pid > 0)
    kill (pid, signal_number);   /* safe: the child is not reaped yet */
}

static void
describe (int wait_status, char *description, size_t size)
{
  if (WIFSIGNALED (wait_status))
    {
      int sig = WTERMSIG (wait_status);
      const char *abbrev = sigabbrev_np (sig);
      snprintf (description, size, "was killed by signal SIG%s%s",
                abbrev ? abbrev : "?", WCOREDUMP (wait_status) ? " (core dumped)" : "");
      if (abbrev == NULL)
        snprintf (description, size, "was killed by signal %d", sig);
    }
  else if (WIFEXITED (wait_status))
    snprintf (description, size, "exited with status %d", WEXITSTATUS (wait_status));
  else
    snprintf (description, size, "ended (wait status 0x%x)", wait_status);
}

void
rl_spawn_reap (pid_t pid, int pidfd, int wait_ms, char *description, size_t size)
{
  if (!rl_spawn_has_exited (pid, pidfd, wait_ms))
    rl_spawn_signal (pid, pidfd, SIGKILL);
  int wait_status = 0;
  pid_t reaped;
  do
    reaped = waitpid (pid, &wait_status, 0);
  while (reaped < 0 && errno == EINTR);
  if (reaped == pid)
    describe (wait_status, description, size);
  else
    snprintf (description, size,
              "died (how is unknown: its exit status was collected elsewhere, e.g. with "
              "SIGCHLD ignored: %s)", strerror (errno));
}
