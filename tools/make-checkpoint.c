/* make-checkpoint: writes a safetensors file of random weights.
 *
 *   make-checkpoint [--seed N] [--dtype BF16] [--scaled-fp8] [--fan-in]
 *                   [--metadata KEY=VALUE]... [--input FILE] [--threads N]
 *                   [--corrupt KIND] OUTPUT
 *
 * Reads one tensor per line ("name dtype shape" or "name shape", shapes as
 * "[1536, 16]", "1536,16" or "1536x16"; '#' comments) from FILE or stdin,
 * so the files in shared/reference/checkpoint-keys can be fed with --dtype. The
 * seed (random unless given) is printed on stderr so a run can be
 * reproduced. --fan-in scales the weights of two or more dims by
 * 1/sqrt(fan-in) (make_checkpoint_gain). --corrupt then damages the file
 * the way users meet broken checkpoints (truncated, header-past-eof,
 * bad-json, lying-offsets, overlap, unknown-dtype), for tests of error
 * reporting. --threads (default: every online CPU) only changes how fast the
 * file is written, never its bytes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tools/make-checkpoint-writer.h"

static void
usage (FILE *to)
{
  fprintf (to,
           "usage: make-checkpoint [--seed N] [--dtype DTYPE] [--scaled-fp8] [--fan-in] [--metadata KEY=VALUE]...\n"
           "                       [--input FILE] [--threads N] [--corrupt KIND] OUTPUT.safetensors\n"
           "Reads 'name [dtype] shape' lines from FILE or stdin and writes random weights.\n"
           "dtypes: F32 F16 BF16 F8_E4M3 F8_E5M2 I8 I16 I32 I64 U8 F64\n"
           "corruptions: truncated header-past-eof bad-json lying-offsets overlap unknown-dtype\n");
}

typedef struct {
  MakeCheckpointSpec *items;
  size_t              len;
  size_t              cap;
} SpecList;

static int
read_specs (FILE *in, const char *in_name, RlDType default_dtype, SpecList *list)
{
  char line[4096];
  int line_number = 0;
  while (fgets (line, sizeof line, in) != NULL) {
    line_number++;
    MakeCheckpointSpec spec;
    char error[256];
    int r = make_checkpoint_parse_line (line, default_dtype, &spec, error, sizeof error);
    if (r < 0) {
      fprintf (stderr, "make-checkpoint: %s:%d: %s\n", in_name, line_number, error);
      return -1;
    }
    if (r == 0)
      continue;
    if (list->len == list->cap) {
      list->cap = list->cap ? list->cap * 2 : 64;
      MakeCheckpointSpec *grown = realloc (list->items, list->cap * sizeof *grown);
      if (grown == NULL) {
        fprintf (stderr, "make-checkpoint: out of memory\n");
        return -1;
      }
      list->items = grown;
    }
    list->items[list->len++] = spec;
  }
  return 0;
}

int
main (int argc, char **argv)
{
  uint64_t seed = (uint64_t) time (NULL) ^ ((uint64_t) getpid () << 32);
  RlDType default_dtype = RL_DTYPE_INVALID;
  unsigned flags = 0;
  const char *input = NULL, *output = NULL;
  int corruption = -1, threads = 0;
  const char **metadata = calloc ((size_t) argc * 2 + 2, sizeof *metadata);
  size_t n_metadata = 0;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    bool has_value = i + 1 < argc;
    if (strcmp (arg, "--seed") == 0 && has_value) {
      seed = strtoull (argv[++i], NULL, 0);
    } else if (strcmp (arg, "--dtype") == 0 && has_value) {
      default_dtype = rl_dtype_from_safetensors (argv[++i]);
      if (default_dtype == RL_DTYPE_INVALID) {
        fprintf (stderr, "make-checkpoint: unknown dtype '%s'\n", argv[i]);
        return 2;
      }
    } else if (strcmp (arg, "--scaled-fp8") == 0) {
      flags |= MAKE_CHECKPOINT_SCALED_FP8;
    } else if (strcmp (arg, "--fan-in") == 0) {
      flags |= MAKE_CHECKPOINT_FAN_IN;
    } else if (strcmp (arg, "--metadata") == 0 && has_value) {
      char *kv = argv[++i], *eq = strchr (kv, '=');
      if (eq == NULL) {
        fprintf (stderr, "make-checkpoint: --metadata wants KEY=VALUE, got '%s'\n", kv);
        return 2;
      }
      *eq = '\0';
      metadata[2 * n_metadata] = kv;
      metadata[2 * n_metadata + 1] = eq + 1;
      n_metadata++;
    } else if (strcmp (arg, "--corrupt") == 0 && has_value) {
      corruption = make_checkpoint_corruption_parse (argv[++i]);
      if (corruption < 0) {
        fprintf (stderr, "make-checkpoint: unknown corruption '%s'\n", argv[i]);
        return 2;
      }
    } else if (strcmp (arg, "--threads") == 0 && has_value) {
      char *end;
      long n = strtol (argv[++i], &end, 10);
      if (*end != '\0' || n < 1 || n > 4096) {
        fprintf (stderr, "make-checkpoint: --threads wants a count from 1, got '%s'\n", argv[i]);
        return 2;
      }
      threads = (int) n;
    } else if (strcmp (arg, "--input") == 0 && has_value) {
      input = argv[++i];
    } else if (strcmp (arg, "--help") == 0 || strcmp (arg, "-h") == 0) {
      usage (stdout);
      return 0;
    } else if (arg[0] == '-' || output != NULL) {
      usage (stderr);
      return 2;
    } else {
      output = arg;
    }
  }
  if (output == NULL) {
    usage (stderr);
    return 2;
  }
  FILE *in = input ? fopen (input, "r") : stdin;
  if (in == NULL) {
    fprintf (stderr, "make-checkpoint: %s: %s\n", input, strerror (errno));
    return 1;
  }
  SpecList specs = { 0 };
  int r = read_specs (in, input ? input : "<stdin>", default_dtype, &specs);
  if (input)
    fclose (in);
  if (r == 0) {
    fprintf (stderr, "make-checkpoint: %zu tensors, seed %llu, %d threads\n", specs.len,
             (unsigned long long) seed, threads > 0 ? threads : make_checkpoint_default_threads ());
    if (make_checkpoint_write_threads (output, specs.items, specs.len, seed, flags, metadata, n_metadata,
                                       threads) != RL_OK) {
      fprintf (stderr, "make-checkpoint: %s\n", rl_last_error ());
      r = -1;
    }
  }
  if (r == 0 && corruption >= 0) {
    char blamed[MAKE_CHECKPOINT_MAX_NAME];
    if (make_checkpoint_corrupt (output, (MakeCheckpointCorruption) corruption, blamed, sizeof blamed) != RL_OK) {
      fprintf (stderr, "make-checkpoint: %s\n", rl_last_error ());
      r = -1;
    } else {
      fprintf (stderr, "make-checkpoint: %s damaged (%s)%s%s\n", output,
               make_checkpoint_corruption_name ((MakeCheckpointCorruption) corruption),
               blamed[0] ? ", blaming tensor " : "", blamed);
    }
  }
  free (specs.items);
  free (metadata);
  return r == 0 ? 0 : 1;
}
