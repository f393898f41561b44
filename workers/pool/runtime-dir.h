/* The pool's private directory for worker sockets: a fresh mkdtemp
 * directory (mode 0700, so no other user can reach a socket) under the
 * given parent, $XDG_RUNTIME_DIR, or /tmp. */
#pragma once

#include "workers/protocol/error-info.h"

/* Returns the malloc'ed path of a new private directory, or NULL with err
 * naming the parent that failed. */
char *rl_runtime_dir_create (const char *parent, RlErrorInfo *err);

/* Removes the sockets left in dir, then dir itself. */
void  rl_runtime_dir_remove (const char *dir);
