/* Shared state and tensor helpers of the sampler implementations. */
#pragma once

#include "workers/sampling/sampler.h"

typedef struct {
  const RlSampleDevice    *device;
  const RlOps             *ops;
  RlContext               *ctx;
  const RlModelSampling   *model_sampling;
  const RlDenoiser        *model;
  const RlSampleCallbacks *callbacks;
  RlNoiseSource            noise;
  RlTensor                *x;
  int                      total_steps;
} SampleRun;

/* A new float32 tensor shaped like x from the context's allocator. */
RlStatus sample_tensor_new   (SampleRun *run, RlTensor *out);

/* denoised = model (x, sigma), after the cancel check. */
RlStatus sample_denoise      (SampleRun *run, RlTensor *denoised,
                              const RlTensor *x, float sigma);

/* The step callback, if any. */
void     sample_report       (SampleRun *run, int step, float sigma,
                              const RlTensor *x, const RlTensor *denoised);

/* y = alpha·a + beta·b on the device ([in-place ok]). */
RlStatus sample_axpby        (SampleRun *run, RlTensor *y, float alpha,
                              const RlTensor *a, float beta,
                              const RlTensor *b);

/* y = alpha·x. */
RlStatus sample_scale        (SampleRun *run, RlTensor *y, float alpha,
                              const RlTensor *x);

/* out = the standard normal draw for the step sigma -> sigma_next, of x's
 * shape, on the device. */
RlStatus sample_draw_noise   (SampleRun *run, RlTensor *out, float sigma,
                              float sigma_next);

RlStatus sample_k_diffusion  (SampleRun *run, RlSamplerKind kind,
                              float *sigmas, int count);
RlStatus sample_uni_pc       (SampleRun *run, bool bh2, float *sigmas,
                              int count);
