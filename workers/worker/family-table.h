/* The seam where model families plug into the worker. A family (Wan, later
 * Flux, ...) provides handlers for the compute requests; the worker decodes
 * the request, maps its input tensors, and calls the handler of the family
 * named in the request. A request for a family that is not linked in, or a
 * handler that is NULL, is answered NOT_SUPPORTED with a message naming
 * both. The table is constant: families are linked in (later: loaded as
 * plugins at start-up, before the first request). */
#pragma once

#include <stddef.h>

#include "workers/protocol/messages.h"
#include "model-cache.h"
#include "request-context.h"

/* One compute request, as a family handler sees it. */
typedef struct {
  RlMessageType           type;        /* ENCODE_TEXT, SAMPLE, VAE_ENCODE, VAE_DECODE */
  const char             *family;
  const void             *params;      /* the family's own parameter blob */
  size_t                  params_size;
  RlSharedTensor *const  *inputs;      /* mapped read-only */
  int                     n_inputs;
  const RlRequestContext *context;     /* progress, cancel, compute backend */
  RlModelCache           *models;      /* checkpoints made resident by LOAD_MODEL */
} RlFamilyCall;

/* What a handler returns: sealed tensors and a malloc'ed blob, both handed
 * to the worker, which sends and frees them. */
typedef struct {
  RlSharedTensor *tensors[RL_PROTOCOL_MAX_FDS];
  int             n_tensors;
  void           *data;
  size_t          data_size;
} RlFamilyOutput;

/* Returns 0, or a negative RlWireStatus with err naming the rank and what
 * went wrong. Handlers poll rl_worker_inbox_cancelled() between steps. */
typedef int (*RlFamilyHandler) (const RlFamilyCall *call, RlFamilyOutput *output,
                                RlErrorInfo *err);

typedef struct {
  const char      *name;          /* as in requests: "wan" */
  RlFamilyHandler  encode_text;   /* each may be NULL */
  RlFamilyHandler  sample;
  RlFamilyHandler  vae_encode;
  RlFamilyHandler  vae_decode;
} RlWorkerFamily;

/* The family of that name linked into this worker, or NULL. */
const RlWorkerFamily *rl_worker_family_find    (const char *name);

/* The handler for a request type, or NULL. */
RlFamilyHandler       rl_worker_family_handler (const RlWorkerFamily *family,
                                                RlMessageType type);

/* "wan, flux" (or "none") for error messages. */
void                  rl_worker_family_list    (char *out, size_t size);
