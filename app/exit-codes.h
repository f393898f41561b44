/* The CLI's exit statuses. Scripts tell the classes of failure apart:
 * a workflow that cannot run as written (2) needs editing, a failure while
 * running (1) may be worth retrying, an interrupt (130, as shells report
 * SIGINT) was asked for. */
#pragma once

typedef enum {
  RL_EXIT_OK          = 0,
  RL_EXIT_FAILED      = 1,   /* a node failed while running, or a pool/IO failure */
  RL_EXIT_INVALID     = 2,   /* cannot load, unknown node types, validation errors */
  RL_EXIT_ENVIRONMENT = 3,   /* history database or output folder unusable */
  RL_EXIT_USAGE       = 64,  /* bad command line (EX_USAGE) */
  RL_EXIT_INTERRUPTED = 130, /* Ctrl-C or SIGTERM */
} RlExitCode;
