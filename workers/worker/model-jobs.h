/* The model jobs, one implementation for every family: ENCODE_TEXT,
 * SAMPLE, VAE_DECODE and VAE_ENCODE decode their parameters
 * (workers/jobs/job-params.h), find (or load on demand) the job's model,
 * and call its family through the plugin ABI (plugins/family.h). SAMPLE is
 * ComfyUI's KSampler flow around the family's diffusion forward: latent
 * format process_in / out, workers/sampling's samplers, CFG, per-step
 * progress with RGB previews, cancel through the inbox. */
#pragma once

#include "workers/protocol/messages.h"
#include "workers/protocol/shared-tensor.h"
#include "model-loader.h"
#include "request-context.h"

/* What a job returns: sealed tensors and a malloc'ed blob, both handed to
 * the worker, which sends and frees them. */
typedef struct {
  RlSharedTensor *tensors[RL_PROTOCOL_MAX_FDS];
  int             n_tensors;
  void           *data;
  size_t          data_size;
} RlJobOutput;

/* Runs one model job of `type` with the call's mapped inputs. Returns 0,
 * or a negative RlWireStatus with err naming the rank, the model file and
 * what to do. */
int rl_model_job_run (const RlModelLoader *loader, RlMessageType type,
                      const RlMsgCall *call, RlSharedTensor *const *inputs,
                      const RlRequestContext *ctx, RlJobOutput *output, RlErrorInfo *err);
