/* The model families a worker can run: shared modules named
 * raylight-family-NAME.so found on $RAYLIGHT_PLUGIN_PATH (colon-separated
 * folders, each searched with its immediate subfolders), loaded once at
 * start-up. A module that cannot be loaded, lacks the entry point or was
 * built for another ABI is skipped with a log line on stderr naming the
 * file and what to do; the worker runs with the families that loaded. */
#pragma once

#include <stddef.h>

#include "plugins/family.h"
#include "workers/protocol/error-info.h"
#include "workers/protocol/protocol.h"

typedef struct RlFamilyPlugins RlFamilyPlugins;

/* Loads every family module on search_path (NULL or "" loads none). The
 * rank is only for the log lines. Never NULL except out of memory. */
RlFamilyPlugins *rl_family_plugins_load  (const char *search_path, int rank);
void             rl_family_plugins_free  (RlFamilyPlugins *plugins);

size_t           rl_family_plugins_count (const RlFamilyPlugins *plugins);

/* The family of that name, or NULL. */
const RlFamily  *rl_family_plugins_find  (const RlFamilyPlugins *plugins,
                                          const char *name);

/* "wan, flux" (or "none") for error messages. */
void             rl_family_plugins_list  (const RlFamilyPlugins *plugins,
                                          char *out, size_t size);

/* Asks each family whether the checkpoint `st` (at `path`) is one of
 * theirs. Returns the family with *kind and the variant name, or NULL with
 * err set: a family's refusal (RL_WIRE_NOT_SUPPORTED, its message) or
 * "not a model any installed family recognises" (RL_WIRE_INVALID). */
const RlFamily  *rl_family_plugins_probe (const RlFamilyPlugins *plugins,
                                          const RlSafetensors *st,
                                          const char *path, RlModelKind *kind,
                                          char *variant, size_t variant_size,
                                          RlErrorInfo *err);
