#include "family-table.h"

#include <stdio.h>
#include <string.h>

/* Families linked into raylight-worker. Add an entry per family. */
static const RlWorkerFamily *const linked_families[] = {
  NULL,
};

const RlWorkerFamily *
rl_worker_family_find (const char *name)
{
  for (size_t i = 0; linked_families[i] != NULL; i++)
    if (strcmp (linked_families[i]->name, name) == 0)
      return linked_families[i];
  return NULL;
}

RlFamilyHandler
rl_worker_family_handler (const RlWorkerFamily *family, RlMessageType type)
{
  switch (type)
    {
    case RL_MSG_ENCODE_TEXT: return family->encode_text;
    case RL_MSG_SAMPLE: return family->sample;
    case RL_MSG_VAE_ENCODE: return family->vae_encode;
    case RL_MSG_VAE_DECODE: return family->vae_decode;
    default: return NULL;
    }
}

void
rl_worker_family_list (char *out, size_t size)
{
  size_t used = 0;
  out[0] = '\0';
  for (size_t i = 0; linked_families[i] != NULL && used < size; i++)
    used += (size_t) snprintf (out + used, size - used, "%s%s", i ? ", " : "",
                               linked_families[i]->name);
  if (out[0] == '\0')
    snprintf (out, size, "none");
}
