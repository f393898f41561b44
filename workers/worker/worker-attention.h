/* Which attention kernel model code gets in this worker.
 *
 * Model code calls backend->ops->attention. The worker hands families a
 * copy of its backend whose attention runs an attention variant
 * (plugins/attention: raylight-attention-*.so, dlopened, so the worker
 * links no variant and no cuDNN): the worker default comes from
 * --attention or $RAYLIGHT_ATTENTION ("auto" unless set: the cheapest
 * variant that can run each problem, which is cudnn on Hopper when libcudnn
 * loads, else flash, else naive; reference on CPU), and a SAMPLE job may
 * name another. A variant that cannot run a problem falls back to the next
 * best, and when none can, to the backend's own attention; every fallback
 * is one stderr line naming the variant and the reason. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "workers/runtime/backend.h"

typedef struct RlWorkerAttention RlWorkerAttention;

/* Loads the variants from the plugin folders (rl_attention_default_dirs)
 * for `base` on `device`, with `requested` (NULL, "" or "auto" = auto) as
 * the default. NULL with the reason in `error` when `requested` names no
 * installed variant (the reason lists the known ones) or memory runs out.
 * `rank` only prefixes log lines. */
RlWorkerAttention *rl_worker_attention_new     (const RlBackend *base, RlContext *ctx,
                                                int device, const char *requested, int rank,
                                                char *error, size_t error_size);
void               rl_worker_attention_free    (RlWorkerAttention *attention);

/* The backend to give model code: `base` with attention through the
 * variants. Valid while `attention` lives. */
const RlBackend   *rl_worker_attention_backend (RlWorkerAttention *attention);

/* CUDA builds: `stream_of (ctx)` returns the cudaStream_t the backend's ops
 * of `ctx` run on; variants then run on it with no device-wide waits
 * around them, so a collective started on another stream can overlap. */
void               rl_worker_attention_set_stream_source (RlWorkerAttention *attention,
                                                          void *(*stream_of) (RlContext *ctx));

/* Replaces the default (the pool's setting arrives after the worker
 * started); false with the reason when `name` is unknown. */
bool               rl_worker_attention_set_default (RlWorkerAttention *attention,
                                                    const char *name, char *error,
                                                    size_t error_size);

/* Makes the calling thread's attention run `name` (NULL or "" = the
 * worker default, "auto" = auto) until rl_worker_attention_end. False with
 * the reason (listing the known variants) when `name` is unknown. */
bool               rl_worker_attention_begin   (RlWorkerAttention *attention, const char *name,
                                                char *error, size_t error_size);
void               rl_worker_attention_end     (RlWorkerAttention *attention);

/* "auto" or the default variant's name. */
const char        *rl_worker_attention_default (const RlWorkerAttention *attention);
/* The variant the last attention call of this worker ran ("backend" for
 * the backend's own attention, "" before any). */
const char        *rl_worker_attention_last    (const RlWorkerAttention *attention);
/* Comma-separated names of the installed variants this backend can use. */
void               rl_worker_attention_known   (const RlWorkerAttention *attention, char *out,
                                                size_t size);
