/* Fixture shared by the GLib tests that run the real `raylight` CLI or a
 * CPU-worker pool on the tiny Wan model sets of tools/make-tiny-wan.py
 * (tests/wan, tests/usp, tests/parallel, tests/worker-jobs): paths in the
 * source tree, writing the models, and removing the run's temporary folder. Plain-C tests under the
 * workers/plugins areas do not use it (no GLib there). */
#pragma once

#include <glib.h>

/* RELATIVE under $RAYLIGHT_SOURCE_DIR; free with g_free. */
char *tiny_wan_source_path (const char *relative);

/* Writes the tiny model sets into MODELS with the project's python (the
 * .venv one when present: the generator needs numpy); FAILURE_CASES also
 * writes the broken files of --failure-cases. FALSE, with the reason on
 * stderr, when no python can run the generator: the caller skips (77). */
gboolean tiny_wan_make_models (const char *models,
                               gboolean    failure_cases);

/* Removes PATH and everything under it. */
void tiny_wan_remove_tree (const char *path);

/* What a spawned `raylight` command did: its exit status and output. */
typedef struct {
  int   status;
  char *out;
  char *err;
} TinyWanRun;

void tiny_wan_run_clear (TinyWanRun *run);

/* The environment's variables plus those of a CPU-worker pool on the tiny
 * models: RAYLIGHT_MODEL_PATHS=MODELS, RAYLIGHT_WORKERS=WORKERS,
 * RAYLIGHT_DEVICES=cpu and the build's plugins folder. Free with
 * g_strfreev. */
char **tiny_wan_cpu_environ (const char *models,
                             const char *workers);

/* Runs ARGV (NULL-terminated) with ENV to its end; asserts it could start
 * and exited rather than died from a signal. */
TinyWanRun tiny_wan_run_spawn (const char * const *argv,
                               char              **env);

/* A test program's tiny models, made once in a fresh temporary folder, and
 * the seed its workflow runs with. */
typedef struct {
  char *dir;        /* the temporary folder; tiny_wan_setup_clear removes it */
  char *models;     /* DIR/models */
  char *seed_set;   /* "3.seed=N": fresh per run, or $RL_TEST_SEED (printed) */
  char *reference;  /* the caller's (a reference output), freed by clear */
} TinyWanSetup;

/* Makes the folder (from g_dir_make_tmp's TEMPLATE), writes the models and
 * picks the seed. FALSE when no python can write the models: the folder is
 * removed and the caller skips (77). */
gboolean tiny_wan_setup_init  (TinyWanSetup *setup,
                               const char   *template);
void     tiny_wan_setup_clear (TinyWanSetup *setup);
