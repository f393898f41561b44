/* The CLI's subcommands. Each takes the arguments after its name
 * (argv[0] is the subcommand) and returns an RlExitCode. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

int  rl_cli_run       (int argc, char **argv);
int  rl_cli_validate  (int argc, char **argv);
int  rl_cli_nodes     (int argc, char **argv);
int  rl_cli_history   (int argc, char **argv);

/* The exit code for a failure of class @error (engine error codes). */
int  rl_cli_exit_code_for_error (const GError *error);
/* Parses subcommand options; prints the error and returns FALSE. */
gboolean rl_cli_parse_options (GOptionContext *context,
                               int            *argc,
                               char         ***argv);

G_END_DECLS
