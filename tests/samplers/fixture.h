/* The PyTorch fixture of tests/reference/samplers.py, shared by the sampler
 * tests: opening it and reading float tensors by name. */
#pragma once

#include <stdio.h>
#include <stdlib.h>

#include "workers/checkpoint/safetensors.h"

/* Opens tests/samplers/data/samplers.safetensors under RAYLIGHT_SOURCE_DIR
 * (or the current directory); NULL with a message on failure. */
static inline RlSafetensors *
fixture_open (void)
{
  const char *root = getenv ("RAYLIGHT_SOURCE_DIR");
  char path[4096];
  snprintf (path, sizeof path, "%s/tests/samplers/data/samplers.safetensors",
            root ? root : ".");
  RlSafetensors *st = NULL;
  if (rl_safetensors_open (path, &st) != RL_OK)
    {
      fprintf (stdout, "# cannot open fixture %s: %s\n", path,
               rl_last_error ());
      return NULL;
    }
  return st;
}

/* A float32 tensor's data and element count, or NULL when it is missing or
 * not float32 (the caller reports the name). */
static inline const float *
fixture_floats (const RlSafetensors *st, const char *name, int64_t *count)
{
  const RlSafetensorsTensor *t = rl_safetensors_find (st, name);
  if (t == NULL || t->dtype != RL_F32)
    return NULL;
  *count = t->numel;
  return (const float *) t->data;
}
