/* Finding attention variants: a registry of the raylight-attention-*.so
 * modules in a list of plugin folders, and a selector that picks one per
 * problem on one device, falling back (with a logged reason) when the
 * preferred variant cannot run it.
 *
 *   char **dirs = rl_attention_default_dirs ();
 *   RlAttentionRegistry *reg = rl_attention_registry_new ((const char *const *) dirs,
 *                                                         log_fn, user);
 *   RlAttentionSelector *sel = rl_attention_selector_new (reg, RL_ATTENTION_BACKEND_CUDA,
 *                                                         0, "flash");
 *   rl_attention_selector_run (sel, &problem, &args, err, sizeof err);
 *
 * Plain C, no GLib. A registry is immutable after creation and may be shared
 * by threads; a selector is used by one thread at a time. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "plugins/attention/attention.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct RlAttentionRegistry RlAttentionRegistry;
typedef struct RlAttentionSelector RlAttentionSelector;

/* Receives one line of diagnostics (skipped files, fallbacks). */
typedef void (*RlAttentionLogFn) (void *user, const char *message);

/* The folders to search, in order: each entry of $RAYLIGHT_ATTENTION_PATH
 * (colon-separated), then the build tree's plugins/attention, then the
 * installed plugin folder. NULL-terminated, malloc'ed; free with
 * rl_attention_dirs_free. */
char                     **rl_attention_default_dirs    (void);
void                       rl_attention_dirs_free       (char **dirs);

/* Loads every RL_ATTENTION_FILE_PREFIX*.so in `dirs` (NULL-terminated;
 * missing folders are skipped). A file that fails to load, lacks the entry
 * symbol, or was built for another ABI is skipped with a logged reason; a
 * name seen twice keeps the first. `log` may be NULL (stderr). Never NULL
 * except on out-of-memory. */
RlAttentionRegistry       *rl_attention_registry_new    (const char *const *dirs,
                                                         RlAttentionLogFn log, void *log_user);
/* Adds a variant linked into the program (tests, built-ins); `origin` names
 * where it came from. False when the name is taken or the table is from
 * another ABI. */
bool                       rl_attention_registry_add    (RlAttentionRegistry *registry,
                                                         const RlAttentionVariant *variant,
                                                         const char *origin);
void                       rl_attention_registry_free   (RlAttentionRegistry *registry);

size_t                     rl_attention_registry_count  (const RlAttentionRegistry *registry);
const RlAttentionVariant  *rl_attention_registry_get    (const RlAttentionRegistry *registry,
                                                         size_t index);
/* The file (or origin) variant `index` came from. */
const char                *rl_attention_registry_origin (const RlAttentionRegistry *registry,
                                                         size_t index);
/* NULL when no variant has that name. */
const RlAttentionVariant  *rl_attention_registry_find   (const RlAttentionRegistry *registry,
                                                         const char *name);

/* A selector for device `device_index` of `backend`. `preferred` is a
 * variant name, or NULL / "auto" for the cheapest variant (by cost hint)
 * that supports each problem; approximate variants (sage) run only when
 * named. The registry must outlive the selector. */
RlAttentionSelector       *rl_attention_selector_new    (const RlAttentionRegistry *registry,
                                                         RlAttentionBackend backend,
                                                         int32_t device_index,
                                                         const char *preferred);
void                       rl_attention_selector_free   (RlAttentionSelector *selector);

/* CUDA stream (cudaStream_t) later runs use when args->stream is NULL. */
void                       rl_attention_selector_set_stream (RlAttentionSelector *selector,
                                                             void *stream);

/* The variant that run() would use for `problem`, or NULL with the reasons
 * every candidate declined in `why`. When it is not the preferred one,
 * `why` says why the preferred one was passed over. */
const RlAttentionVariant  *rl_attention_selector_choose (RlAttentionSelector *selector,
                                                         const RlAttentionProblem *problem,
                                                         char *why, size_t why_size);

/* Runs `problem` on the chosen variant. A fallback is logged (through the
 * registry's log function) once each time the choice changes. Returns an
 * RlAttentionResult with the reason in `error`. */
int                        rl_attention_selector_run    (RlAttentionSelector *selector,
                                                         const RlAttentionProblem *problem,
                                                         const RlAttentionArgs *args,
                                                         char *error, size_t error_size);

/* The backend and device the selector was made for. */
RlAttentionBackend         rl_attention_selector_backend (const RlAttentionSelector *selector);
int32_t                    rl_attention_selector_device  (const RlAttentionSelector *selector);

/* Name of the variant the last successful run used ("" before any). */
const char                *rl_attention_selector_last   (const RlAttentionSelector *selector);

#ifdef __cplusplus
}
#endif
