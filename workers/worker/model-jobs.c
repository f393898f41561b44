#include "model-jobs.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workers/jobs/job-params.h"
#include "workers/runtime/op-profile.h"
#include "workers/sampling/ksampler.h"

/* Everything a job holds while it runs. */
typedef struct {
  const RlModelLoader    *loader;
  const RlRequestContext *ctx;
  const char             *path;       /* the job's model file */
  RlModelFile            *file;
  const RlFamily         *family;
  RlFamilyModel          *model;
} Job;

/* Prefixes err's message with the rank and the request (formatting from a
 * copy: the message is the destination too). */
static int
decode_failed (RlErrorInfo *err, int rank, const char *request)
{
  char detail[sizeof err->message];
  snprintf (detail, sizeof detail, "%s", err->message);
  return rl_error_set (err, err->code, "rank %d: %s: %s", rank, request, detail);
}

static const char *
kind_name (RlModelKind kind)
{
  switch (kind)
    {
    case RL_MODEL_DIFFUSION: return "a diffusion model (load it with UNETLoader)";
    case RL_MODEL_TEXT_ENCODER: return "a text encoder (load it with CLIPLoader)";
    case RL_MODEL_VAE: return "a VAE (load it with VAELoader)";
    default: return "an unknown kind of model";
    }
}

/* Finds (or loads) the job's model and checks it is of the kind the job
 * needs and of the family the request names ("" = any). */
static int
job_open (Job *job, const RlModelLoader *loader, const RlRequestContext *ctx,
          const RlJobModel *model, const char *family, RlModelKind kind, const char *job_name,
          RlErrorInfo *err)
{
  *job = (Job) { .loader = loader, .ctx = ctx, .path = model->path };
  RlErrorInfo load_err = { 0 };
  job->file = rl_model_loader_get (loader, model->path, model->options ? model->options : "",
                                   NULL, NULL, NULL, &load_err);
  if (job->file == NULL)
    return rl_error_set (err, load_err.code, "rank %d: %s needs %s: %s", ctx->rank, job_name,
                         model->path, load_err.message);
  if (rl_model_file_model (job->file) == NULL)
    return rl_error_set (err, RL_WIRE_NOT_SUPPORTED, "rank %d: %s: %s is resident but no model "
                         "family is installed in this worker; build the family plugins "
                         "(raylight-family-*.so) and point RAYLIGHT_PLUGIN_PATH at them",
                         ctx->rank, job_name, model->path);
  job->family = rl_model_file_family (job->file);
  job->model = rl_model_file_model (job->file);
  if (family != NULL && family[0] != '\0' && strcmp (family, job->family->name) != 0)
    return rl_error_set (err, RL_WIRE_INVALID, "rank %d: %s asked for family '%s' but %s is a "
                         "'%s' model", ctx->rank, job_name, family, model->path,
                         job->family->name);
  if (rl_model_file_kind (job->file) != kind)
    return rl_error_set (err, RL_WIRE_INVALID, "rank %d: %s needs %s, but %s is %s",
                         ctx->rank, job_name, kind_name (kind), model->path,
                         kind_name (rl_model_file_kind (job->file)));
  return RL_WIRE_OK;
}

/* A runtime failure as a wire error naming rank, file and the family's
 * message. */
static int
job_fail (const Job *job, const char *what, RlErrorInfo *err)
{
  return rl_error_set (err, RL_WIRE_INVALID, "rank %d: %s with %s failed: %s", job->ctx->rank,
                       what, job->path, rl_last_error ());
}

/* Input `index` as f32 of ndim dimensions, or an error naming it. */
static int
check_input (const Job *job, RlSharedTensor *const *inputs, int n_inputs, int index,
             uint32_t ndim, const char *what, RlErrorInfo *err)
{
  if (index >= n_inputs)
    return rl_error_set (err, RL_WIRE_BAD_MESSAGE, "rank %d: the request lacks its %s tensor",
                         job->ctx->rank, what);
  const RlTensorDesc *desc = rl_shared_tensor_desc (inputs[index]);
  if (desc->dtype != RL_WIRE_DTYPE_F32 || desc->ndim != ndim)
    return rl_error_set (err, RL_WIRE_BAD_MESSAGE, "rank %d: the %s tensor is %s with %u "
                         "dimensions; expected f32 with %u", job->ctx->rank, what,
                         rl_wire_dtype_name (desc->dtype), desc->ndim, ndim);
  for (uint32_t i = 0; i < ndim; i++)
    if (desc->shape[i] == 0)
      return rl_error_set (err, RL_WIRE_BAD_MESSAGE, "rank %d: the %s tensor is empty",
                           job->ctx->rank, what);
  return RL_WIRE_OK;
}

/* A device tensor of the worker's context holding host data (copied). */
static RlStatus
upload (const Job *job, const float *data, int ndim, const int64_t *shape, RlTensor *out)
{
  RlTensor host = { 0 };
  const RlBackend *backend = job->ctx->backend;
  RlStatus s = rl_tensor_wrap (&host, (void *) data, rl_device_cpu (), RL_F32, ndim, shape,
                               NULL, NULL);
  if (s == RL_OK)
    s = rl_tensor_alloc (out, backend->context_allocator (job->ctx->compute), RL_F32, ndim,
                         shape);
  if (s == RL_OK)
    s = backend->transfer (job->ctx->compute, out, &host);
  rl_tensor_release (&host);
  return s;
}

static RlStatus
upload_input (const Job *job, RlSharedTensor *input, RlTensor *out)
{
  const RlTensorDesc *desc = rl_shared_tensor_desc (input);
  int64_t shape[RL_MAX_DIMS];
  for (uint32_t i = 0; i < desc->ndim; i++)
    shape[i] = (int64_t) desc->shape[i];
  return upload (job, rl_shared_tensor_data (input), (int) desc->ndim, shape, out);
}

/* Copies a device tensor to host memory (malloc'ed, numel floats). */
static float *
download (const Job *job, const RlTensor *t)
{
  int64_t n = rl_tensor_numel (t);
  float *data = malloc ((size_t) n * sizeof (float));
  RlTensor host = { 0 };
  if (data == NULL)
    {
      rl_set_error (RL_E_NO_MEMORY, "out of host memory for %lld floats", (long long) n);
      return NULL;
    }
  if (rl_tensor_wrap (&host, data, rl_device_cpu (), RL_F32, t->ndim, t->shape, NULL, NULL)
        != RL_OK
      || job->ctx->backend->transfer (job->ctx->compute, &host, t) != RL_OK)
    {
      free (data);
      data = NULL;
    }
  rl_tensor_release (&host);
  return data;
}

/* A sealed shared tensor of the given shape filled from data. */
static RlSharedTensor *
share (const Job *job, const float *data, uint32_t ndim, const uint64_t *shape,
       const char *name, RlErrorInfo *err)
{
  RlSharedTensor *tensor = rl_shared_tensor_new (RL_WIRE_DTYPE_F32, ndim, shape, name, err);
  if (tensor == NULL)
    return NULL;
  memcpy (rl_shared_tensor_data (tensor), data, rl_shared_tensor_desc (tensor)->nbytes);
  if (rl_shared_tensor_seal (tensor, err) != RL_WIRE_OK)
    {
      rl_shared_tensor_free (tensor);
      return NULL;
    }
  (void) job;
  return tensor;
}

static RlSharedTensor *
share_device (const Job *job, const RlTensor *t, const char *name, RlErrorInfo *err)
{
  uint64_t shape[RL_MAX_DIMS];
  float *data = download (job, t);
  if (data == NULL)
    {
      job_fail (job, "copying the result to host memory", err);
      return NULL;
    }
  for (int i = 0; i < t->ndim; i++)
    shape[i] = (uint64_t) t->shape[i];
  RlSharedTensor *tensor = share (job, data, (uint32_t) t->ndim, shape, name, err);
  free (data);
  return tensor;
}

/* ------------------------------------------------------------ ENCODE_TEXT */

static int
encode_text (const RlModelLoader *loader, const RlMsgCall *call, const RlRequestContext *ctx,
             RlJobOutput *output, RlErrorInfo *err)
{
  RlTextEncodeParams params;
  Job job;
  if (rl_text_encode_params_decode (call->params, call->params_size, &params, err) != RL_WIRE_OK)
    return decode_failed (err, ctx->rank, "ENCODE_TEXT");
  int status = job_open (&job, loader, ctx, &params.model, call->family, RL_MODEL_TEXT_ENCODER,
                         "text encoding", err);
  RlTensor cond = { 0 };
  if (status == RL_WIRE_OK && job.family->encode_text == NULL)
    status = rl_error_set (err, RL_WIRE_NOT_SUPPORTED, "rank %d: family %s cannot encode text",
                           ctx->rank, job.family->name);
  if (status == RL_WIRE_OK
      && job.family->encode_text (job.model, params.text ? params.text : "", &cond) != RL_OK)
    status = job_fail (&job, "encoding the prompt", err);
  if (status == RL_WIRE_OK)
    {
      output->tensors[0] = share_device (&job, &cond, "conditioning", err);
      output->n_tensors = output->tensors[0] != NULL;
      status = output->tensors[0] != NULL ? RL_WIRE_OK : err->code;
    }
  rl_tensor_release (&cond);
  rl_text_encode_params_clear (&params);
  return status;
}

/* ------------------------------------------------------------ SAMPLE */

typedef struct {
  Job              *job;
  RlTensor          context[2];      /* positive, negative: [B, L, D] */
  RlTensor          velocity;
  float            *timesteps;       /* [B] */
  int64_t           batch;
  RlModelSampling   sampling;
  RlLatentFormat    format;
  uint32_t          preview_every;
  RlStatus          forward_status;
} SampleRun;

static bool
forward_times_wanted (void)
{
  const char *env = getenv ("RAYLIGHT_FORWARD_TIMES");
  return env != NULL && env[0] != '\0' && strcmp (env, "0") != 0;
}

/* denoised = x − σ·v with v the family's forward at timestep σ·multiplier,
 * for the batch items [batch_start, batch_start + x's batch) (a slice
 * under CFG / data parallelism, all of them otherwise). */
static RlStatus
predict_slice (void *user, RlTensor *denoised, const RlTensor *x, float sigma, RlCondKind cond,
               int64_t batch_start)
{
  SampleRun *run = user;
  const RlBackend *backend = run->job->ctx->backend;
  RlContext *compute = run->job->ctx->compute;
  float t = rl_model_sampling_timestep (&run->sampling, sigma);
  for (int64_t b = 0; b < run->batch; b++)
    run->timesteps[b] = t;
  RlTensor context = { 0 }, velocity = { 0 };
  RlStatus s = rl_tensor_narrow (&context, &run->context[cond], 0, batch_start, x->shape[0]);
  if (s == RL_OK)
    s = rl_tensor_narrow (&velocity, &run->velocity, 0, 0, x->shape[0]);
  /* RAYLIGHT_FORWARD_TIMES=1: each forward's wall time from its start to
   * the device finishing it (one synchronisation added), for benchmarks
   * that compare one DiT forward across parallel modes. */
  bool timed = forward_times_wanted ();
  double t0 = 0.0;
  if (s == RL_OK && timed && (s = backend->synchronize (compute)) == RL_OK)
    t0 = rl_op_profile_clock_ms ();
  if (s == RL_OK)
    s = run->job->family->diffusion_forward (run->job->model, x, run->timesteps, &context,
                                             &velocity);
  if (s == RL_OK && timed && (s = backend->synchronize (compute)) == RL_OK)
    fprintf (stderr, "raylight-worker[rank %d]: forward of latent [%lld, %lld, %lld, %lld, "
             "%lld]: %.2f ms\n", run->job->ctx->rank, (long long) x->shape[0],
             (long long) x->shape[1], (long long) x->shape[2], (long long) x->shape[3],
             (long long) x->shape[4], rl_op_profile_clock_ms () - t0);
  if (s == RL_OK)
    s = backend->ops->add (compute, denoised, x, &velocity, 1.0f, -sigma);
  rl_tensor_release (&context);
  rl_tensor_release (&velocity);
  return s;
}

static RlStatus
predict (void *user, RlTensor *denoised, const RlTensor *x, float sigma, RlCondKind cond)
{
  return predict_slice (user, denoised, x, sigma, cond, 0);
}

/* ComfyUI's latent preview: RGB from the latent's channels, (v + 1)/2
 * clamped, as f32 [frames, h, w, 3] of the first batch item. */
static RlSharedTensor *
preview_image (const SampleRun *run, const RlTensor *denoised)
{
  const RlLatentFormat *format = &run->format;
  if (format->rgb_factors == NULL || denoised->ndim != 5)
    return NULL;
  float *latent = download (run->job, denoised);
  if (latent == NULL)
    return NULL;
  int64_t C = denoised->shape[1], T = denoised->shape[2];
  int64_t H = denoised->shape[3], W = denoised->shape[4];
  int64_t plane = H * W;
  float *rgb = malloc ((size_t) (T * plane * 3) * sizeof (float));
  RlSharedTensor *tensor = NULL;
  if (rgb != NULL && C == format->channels)
    {
      for (int64_t t = 0; t < T; t++)
        for (int64_t p = 0; p < plane; p++)
          for (int c = 0; c < 3; c++)
            {
              float v = format->rgb_bias ? format->rgb_bias[c] : 0.0f;
              for (int64_t k = 0; k < C; k++)
                v += latent[(k * T + t) * plane + p] * format->rgb_factors[k * 3 + c];
              v = (v + 1.0f) * 0.5f;
              rgb[(t * plane + p) * 3 + c] = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
            }
      uint64_t shape[4] = { (uint64_t) T, (uint64_t) H, (uint64_t) W, 3 };
      RlErrorInfo ignored = { 0 };
      tensor = share (run->job, rgb, 4, shape, "preview", &ignored);
    }
  free (rgb);
  free (latent);
  return tensor;
}

static void
on_step (void *user, const RlStepInfo *info)
{
  SampleRun *run = user;
  const RlRequestContext *ctx = run->job->ctx;
  uint64_t done = (uint64_t) info->step + 1, total = (uint64_t) info->total_steps;
  RlSharedTensor *preview = NULL;
  if (run->preview_every > 0 && (info->step % run->preview_every == 0 || done == total)
      && info->denoised != NULL)
    preview = preview_image (run, info->denoised);
  if (preview != NULL)
    rl_worker_link_progress_preview (ctx->link, ctx->request_id, RL_PROGRESS_STEPS, done, total,
                                     "sampling", preview);
  else
    rl_worker_link_progress (ctx->link, ctx->request_id, RL_PROGRESS_STEPS, done, total,
                             "sampling");
  rl_shared_tensor_free (preview);
}

static bool
is_cancelled (void *user)
{
  SampleRun *run = user;
  return rl_worker_inbox_cancelled (run->job->ctx->inbox);
}

/* The conditioning [1|B, L, D] repeated to the latent's batch. */
static RlStatus
upload_context (const Job *job, RlSharedTensor *input, int64_t batch, RlTensor *out)
{
  const RlTensorDesc *desc = rl_shared_tensor_desc (input);
  int64_t rows = (int64_t) desc->shape[0], L = (int64_t) desc->shape[1];
  int64_t D = (int64_t) desc->shape[2];
  if (rows != 1 && rows != batch)
    return rl_set_error (RL_E_SHAPE, "conditioning has batch %lld but the latent %lld",
                         (long long) rows, (long long) batch);
  size_t row = (size_t) (L * D);
  float *data = malloc ((size_t) batch * row * sizeof (float));
  if (data == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "out of memory for the conditioning");
  const float *src = rl_shared_tensor_data (input);
  for (int64_t b = 0; b < batch; b++)
    memcpy (data + (size_t) b * row, src + (rows == 1 ? 0 : (size_t) b * row),
            row * sizeof (float));
  int64_t shape[3] = { batch, L, D };
  RlStatus s = upload (job, data, 3, shape, out);
  free (data);
  return s;
}

/* process_in / process_out of the latent format on host floats:
 * in: (z − mean)/std · scale; out: z/scale · std + mean. */
static void
apply_latent_format (const RlLatentFormat *format, float *z, const int64_t *shape, bool in)
{
  int64_t B = shape[0], C = shape[1], inner = shape[2] * shape[3] * shape[4];
  for (int64_t b = 0; b < B; b++)
    for (int64_t c = 0; c < C; c++)
      {
        float mean = format->mean ? format->mean[c] : 0.0f;
        float std = format->std ? format->std[c] : 1.0f;
        float *p = z + (b * C + c) * inner;
        for (int64_t i = 0; i < inner; i++)
          p[i] = in ? (p[i] - mean) / std * format->scale : p[i] / format->scale * std + mean;
      }
}

static bool
all_zero (const float *z, int64_t n)
{
  for (int64_t i = 0; i < n; i++)
    if (z[i] != 0.0f)
      return false;
  return true;
}

static int
sample_settings (const Job *job, const RlSampleParams *p, RlKSamplerParams *k, RlErrorInfo *err)
{
  rl_ksampler_params_init (k);
  if (rl_sampler_from_name (p->sampler, &k->sampler) != RL_OK
      || rl_scheduler_from_name (p->scheduler, &k->scheduler) != RL_OK)
    return rl_error_set (err, RL_WIRE_INVALID, "rank %d: %s", job->ctx->rank, rl_last_error ());
  if (p->has_noise_mask)
    return rl_error_set (err, RL_WIRE_NOT_SUPPORTED, "rank %d: sampling with a noise mask "
                         "(SetLatentNoiseMask, inpainting) is not supported yet; remove the mask",
                         job->ctx->rank);
  RlFamilySampling defaults = { .is_flow = 1, .shift = 1.0f, .multiplier = 1000.0f };
  if (job->family->model_sampling != NULL
      && job->family->model_sampling (job->model, &defaults) != RL_OK)
    return job_fail (job, "reading the model sampling", err);
  if (!defaults.is_flow)
    return rl_error_set (err, RL_WIRE_NOT_SUPPORTED, "rank %d: %s is not a flow model; Raylight "
                         "samples flow models only so far", job->ctx->rank, job->path);
  k->model_sampling.shift = p->has_shift ? p->shift : defaults.shift;
  k->model_sampling.multiplier = defaults.multiplier;
  k->steps = (int) p->steps;
  k->denoise = p->denoise;
  k->seed = p->seed;
  k->add_noise = p->add_noise;
  k->start_step = (int) p->start_step;
  k->last_step = p->end_step >= 10000 ? -1 : (int) p->end_step;
  k->force_full_denoise = !p->return_with_leftover_noise;
  return RL_WIRE_OK;
}

static int
run_sampler (Job *job, const RlSampleParams *p, RlSharedTensor *const *inputs, int n_inputs,
             RlJobOutput *output, RlErrorInfo *err)
{
  bool use_negative = !rl_cfg_is_one (p->cfg);
  if (check_input (job, inputs, n_inputs, 0, 5, "latent", err) != RL_WIRE_OK
      || check_input (job, inputs, n_inputs, 1, 3, "positive conditioning", err) != RL_WIRE_OK
      || (use_negative && check_input (job, inputs, n_inputs, 2, 3, "negative conditioning",
                                       err) != RL_WIRE_OK))
    return err->code;
  RlKSamplerParams settings;
  if (sample_settings (job, p, &settings, err) != RL_WIRE_OK)
    return err->code;

  const RlTensorDesc *desc = rl_shared_tensor_desc (inputs[0]);
  int64_t shape[5];
  for (int i = 0; i < 5; i++)
    shape[i] = (int64_t) desc->shape[i];
  int64_t numel = shape[0] * shape[1] * shape[2] * shape[3] * shape[4];
  SampleRun run = { .job = job, .batch = shape[0], .preview_every = p->preview_every,
                    .sampling = settings.model_sampling };
  RlStatus s = job->family->latent_format (job->model, &run.format);
  if (s == RL_OK && run.format.channels != shape[1])
    s = rl_set_error (RL_E_SHAPE, "the latent has %lld channels but this model's latent format "
                      "has %d; use the latent node that matches the model", (long long) shape[1],
                      run.format.channels);
  float *z = malloc ((size_t) numel * sizeof (float));
  run.timesteps = calloc ((size_t) shape[0], sizeof (float));
  /* A latent cut from a batch (LatentFromBatch) keeps its items' noise. */
  int64_t *batch_index = p->batch_index > 0 ? calloc ((size_t) shape[0], sizeof (int64_t)) : NULL;
  for (int64_t b = 0; batch_index != NULL && b < shape[0]; b++)
    batch_index[b] = (int64_t) p->batch_index + b;
  settings.batch_index = batch_index;
  if (s == RL_OK && (z == NULL || run.timesteps == NULL || (p->batch_index > 0 && batch_index == NULL)))
    s = rl_set_error (RL_E_NO_MEMORY, "out of memory for a latent of %lld floats",
                      (long long) numel);
  if (s == RL_OK)
    {
      memcpy (z, rl_shared_tensor_data (inputs[0]), (size_t) numel * sizeof (float));
      if (!all_zero (z, numel))   /* ComfyUI skips process_in for an empty latent */
        apply_latent_format (&run.format, z, shape, true);
    }
  RlTensor latent = { 0 };
  const RlBackend *backend = job->ctx->backend;
  if (s == RL_OK)
    s = upload (job, z, 5, shape, &latent);
  if (s == RL_OK)
    s = upload_context (job, inputs[1], shape[0], &run.context[RL_COND_POSITIVE]);
  if (s == RL_OK && use_negative)
    s = upload_context (job, inputs[2], shape[0], &run.context[RL_COND_NEGATIVE]);
  if (s == RL_OK)
    s = rl_tensor_alloc (&run.velocity, backend->context_allocator (job->ctx->compute), RL_F32,
                         5, shape);
  if (s == RL_OK)
    {
      RlCfgGuider guider = { .device = { backend, job->ctx->compute }, .predict = predict,
                             .user = &run, .cfg = p->cfg };
      RlParallelGuider split = { .device = { backend, job->ctx->compute },
                                 .predict = predict_slice, .user = &run, .cfg = p->cfg,
                                 .split = job->ctx->split };
      RlDenoiser denoiser = job->ctx->split != NULL ? rl_parallel_guider_denoiser (&split)
                                                    : rl_cfg_guider_denoiser (&guider);
      RlSampleCallbacks callbacks = { .on_step = on_step, .cancelled = is_cancelled,
                                      .user = &run };
      RlSampleDevice device = { backend, job->ctx->compute };
      s = rl_ksampler_run (&settings, &device, &denoiser, &latent, &latent, &callbacks);
    }
  float *result = s == RL_OK ? download (job, &latent) : NULL;
  int status = RL_WIRE_OK;
  /* A collective that gave up on a peer which stopped at the cancel is the
   * cancel's doing, not a failure of its own. */
  if (s == RL_E_CANCELLED || (s != RL_OK && rl_worker_inbox_cancelled (job->ctx->inbox)))
    status = rl_error_set (err, RL_WIRE_CANCELLED, "rank %d: sampling was cancelled",
                           job->ctx->rank);
  else if (result == NULL)
    status = job_fail (job, "sampling", err);
  else
    {
      apply_latent_format (&run.format, result, shape, false);
      uint64_t out_shape[5];
      for (int i = 0; i < 5; i++)
        out_shape[i] = desc->shape[i];
      output->tensors[0] = share (job, result, 5, out_shape, "latent", err);
      output->n_tensors = output->tensors[0] != NULL;
      status = output->tensors[0] != NULL ? RL_WIRE_OK : err->code;
    }
  free (result);
  free (z);
  free (batch_index);
  free (run.timesteps);
  rl_tensor_release (&latent);
  rl_tensor_release (&run.velocity);
  rl_tensor_release (&run.context[0]);
  rl_tensor_release (&run.context[1]);
  return status;
}

/* Puts the pool's sequence parallelism on the model for this job. */
static int
set_parallel (Job *job, const RlParallelContext *parallel, RlErrorInfo *err)
{
  if (job->ctx->parallel_lost)
    return rl_error_set (err, RL_WIRE_INTERNAL, "rank %d: this worker could not join the pool's "
                         "sequence-parallel collectives (a worker crashed and aborted them); "
                         "restart the worker pool", job->ctx->rank);
  if (parallel == NULL)
    return RL_WIRE_OK;
  if (job->family->set_parallel == NULL)
    return rl_error_set (err, RL_WIRE_NOT_SUPPORTED, "rank %d: family %s has no sequence "
                         "parallelism; run it with Ulysses and ring degree 1",
                         job->ctx->rank, job->family->name);
  if (job->family->set_parallel (job->model, parallel) != RL_OK)
    return job_fail (job, "sequence parallelism", err);
  return RL_WIRE_OK;
}

static int
sample (const RlModelLoader *loader, const RlMsgCall *call, RlSharedTensor *const *inputs,
        const RlRequestContext *ctx, RlJobOutput *output, RlErrorInfo *err)
{
  RlSampleParams params;
  Job job;
  if (rl_sample_params_decode (call->params, call->params_size, &params, err) != RL_WIRE_OK)
    return decode_failed (err, ctx->rank, "SAMPLE");
  int status = job_open (&job, loader, ctx, &params.model, call->family, RL_MODEL_DIFFUSION,
                         "sampling", err);
  if (status == RL_WIRE_OK
      && (job.family->diffusion_forward == NULL || job.family->latent_format == NULL))
    status = rl_error_set (err, RL_WIRE_NOT_SUPPORTED, "rank %d: family %s cannot sample",
                           ctx->rank, job.family->name);
  if (status == RL_WIRE_OK)
    status = set_parallel (&job, ctx->parallel, err);
  bool attention_bound = false;
  if (status == RL_WIRE_OK && ctx->attention != NULL)
    {
      char why[512];
      attention_bound = rl_worker_attention_begin (ctx->attention, params.attention, why,
                                                   sizeof why);
      if (!attention_bound)
        status = rl_error_set (err, RL_WIRE_INVALID, "rank %d: %s", ctx->rank, why);
    }
  else if (status == RL_WIRE_OK && params.attention != NULL && params.attention[0] != '\0')
    status = rl_error_set (err, RL_WIRE_NOT_SUPPORTED, "rank %d: this worker has no attention "
                           "variants to choose '%s' from", ctx->rank, params.attention);
  if (status == RL_WIRE_OK)
    {
      /* Every rank runs the same deterministic loop with the same seed
       * (SPMD); the forward splits the sequence and returns it whole. */
      if (rl_op_profile_active ())
        rl_op_profile_reset ();
      status = run_sampler (&job, &params, inputs, (int) call->n_tensors, output, err);
      if (ctx->parallel != NULL)
        job.family->set_parallel (job.model, NULL);
      if (rl_op_profile_active ())
        {
          char prefix[48];
          snprintf (prefix, sizeof prefix, "raylight-worker[rank %d]: ", ctx->rank);
          rl_op_profile_print (stderr, prefix, "op profile of the sampling job");
        }
    }
  if (attention_bound)
    rl_worker_attention_end (ctx->attention);
  rl_sample_params_clear (&params);
  return status;
}

/* ------------------------------------------------------------ VAE */

static int
vae_decode (Job *job, const RlVaeParams *p, RlSharedTensor *const *inputs, int n_inputs,
            RlJobOutput *output, RlErrorInfo *err)
{
  if (check_input (job, inputs, n_inputs, 0, 5, "latent", err) != RL_WIRE_OK)
    return err->code;
  RlVaeTiling tiling = { (int) p->tile_size, (int) p->tile_overlap, (int) p->temporal_size,
                         (int) p->temporal_overlap };
  RlTensor latent = { 0 }, images = { 0 };
  RlStatus s = upload_input (job, inputs[0], &latent);
  int64_t image_shape[5];
  float *planar = NULL;
  if (s == RL_OK)
    {
      /* The frames go to host memory: a VAE streams them there chunk by
       * chunk (81 frames at 832×480 are 390 MB of f32 that need not sit
       * on the device). */
      job->family->vae_decoded_shape (job->model, latent.shape, image_shape);
      int64_t numel = image_shape[0] * image_shape[1] * image_shape[2] * image_shape[3]
                      * image_shape[4];
      planar = malloc ((size_t) numel * sizeof (float));
      s = planar != NULL ? rl_tensor_wrap (&images, planar, rl_device_cpu (), RL_F32, 5,
                                           image_shape, NULL, NULL)
                         : rl_set_error (RL_E_NO_MEMORY, "out of host memory for %lld decoded "
                                         "floats", (long long) numel);
    }
  if (s == RL_OK)
    s = job->family->vae_decode (job->model, &latent,
                                 p->tile_size || p->temporal_size ? &tiling : NULL, &images);
  int status = RL_WIRE_OK;
  if (s != RL_OK)
    status = job_fail (job, "VAE decoding", err);
  else
    {
      /* [B, 3, F, H, W] → ComfyUI's IMAGE [B·F, H, W, 3]. */
      int64_t B = image_shape[0], F = image_shape[2], H = image_shape[3], W = image_shape[4];
      int64_t plane = H * W;
      float *rgb = malloc ((size_t) (B * F * plane * 3) * sizeof (float));
      if (rgb == NULL)
        status = rl_error_set (err, RL_WIRE_INVALID, "rank %d: out of memory for the decoded "
                               "frames", job->ctx->rank);
      else
        {
          for (int64_t b = 0; b < B; b++)
            for (int64_t c = 0; c < 3; c++)
              for (int64_t f = 0; f < F; f++)
                {
                  const float *src = planar + ((b * 3 + c) * F + f) * plane;
                  float *dst = rgb + (b * F + f) * plane * 3 + c;
                  for (int64_t i = 0; i < plane; i++)
                    dst[i * 3] = src[i];
                }
          uint64_t shape[4] = { (uint64_t) (B * F), (uint64_t) H, (uint64_t) W, 3 };
          output->tensors[0] = share (job, rgb, 4, shape, "images", err);
          output->n_tensors = output->tensors[0] != NULL;
          status = output->tensors[0] != NULL ? RL_WIRE_OK : err->code;
          free (rgb);
        }
    }
  free (planar);
  rl_tensor_release (&latent);
  rl_tensor_release (&images);
  return status;
}

static int
vae_encode (Job *job, RlSharedTensor *const *inputs, int n_inputs, RlJobOutput *output,
            RlErrorInfo *err)
{
  if (check_input (job, inputs, n_inputs, 0, 4, "images", err) != RL_WIRE_OK)
    return err->code;
  const RlTensorDesc *desc = rl_shared_tensor_desc (inputs[0]);
  int64_t N = (int64_t) desc->shape[0], H = (int64_t) desc->shape[1];
  int64_t W = (int64_t) desc->shape[2], plane = H * W;
  if (desc->shape[3] != 3)
    return rl_error_set (err, RL_WIRE_BAD_MESSAGE, "rank %d: images have %llu channels; the "
                         "VAE encodes RGB", job->ctx->rank, (unsigned long long) desc->shape[3]);
  /* ComfyUI's IMAGE [N, H, W, 3] → one video [1, 3, N, H, W]. */
  float *planar = malloc ((size_t) (N * plane * 3) * sizeof (float));
  if (planar == NULL)
    return rl_error_set (err, RL_WIRE_INVALID, "rank %d: out of memory", job->ctx->rank);
  const float *rgb = rl_shared_tensor_data (inputs[0]);
  for (int64_t c = 0; c < 3; c++)
    for (int64_t f = 0; f < N; f++)
      for (int64_t i = 0; i < plane; i++)
        planar[(c * N + f) * plane + i] = rgb[(f * plane + i) * 3 + c];
  const RlBackend *backend = job->ctx->backend;
  int64_t image_shape[5] = { 1, 3, N, H, W }, latent_shape[5];
  RlTensor images = { 0 }, latent = { 0 };
  RlStatus s = upload (job, planar, 5, image_shape, &images);
  free (planar);
  if (s == RL_OK)
    {
      job->family->vae_encoded_shape (job->model, image_shape, latent_shape);
      s = rl_tensor_alloc (&latent, backend->context_allocator (job->ctx->compute), RL_F32, 5,
                           latent_shape);
    }
  if (s == RL_OK)
    s = job->family->vae_encode (job->model, &images, &latent);
  int status = RL_WIRE_OK;
  if (s != RL_OK)
    status = job_fail (job, "VAE encoding", err);
  else
    {
      output->tensors[0] = share_device (job, &latent, "latent", err);
      output->n_tensors = output->tensors[0] != NULL;
      status = output->tensors[0] != NULL ? RL_WIRE_OK : err->code;
    }
  rl_tensor_release (&images);
  rl_tensor_release (&latent);
  return status;
}

static int
vae_job (const RlModelLoader *loader, RlMessageType type, const RlMsgCall *call,
         RlSharedTensor *const *inputs, const RlRequestContext *ctx, RlJobOutput *output,
         RlErrorInfo *err)
{
  RlVaeParams params;
  Job job;
  bool decode = type == RL_MSG_VAE_DECODE;
  const char *name = decode ? "VAE decoding" : "VAE encoding";
  if (rl_vae_params_decode (call->params, call->params_size, &params, err) != RL_WIRE_OK)
    return decode_failed (err, ctx->rank, decode ? "VAE_DECODE" : "VAE_ENCODE");
  int status = job_open (&job, loader, ctx, &params.model, call->family, RL_MODEL_VAE, name, err);
  if (status == RL_WIRE_OK
      && (decode ? job.family->vae_decode == NULL || job.family->vae_decoded_shape == NULL
                 : job.family->vae_encode == NULL || job.family->vae_encoded_shape == NULL))
    status = rl_error_set (err, RL_WIRE_NOT_SUPPORTED, "rank %d: family %s cannot do %s",
                           ctx->rank, job.family->name, name);
  if (status == RL_WIRE_OK)
    status = decode ? vae_decode (&job, &params, inputs, (int) call->n_tensors, output, err)
                    : vae_encode (&job, inputs, (int) call->n_tensors, output, err);
  rl_vae_params_clear (&params);
  return status;
}

int
rl_model_job_run (const RlModelLoader *loader, RlMessageType type, const RlMsgCall *call,
                  RlSharedTensor *const *inputs, const RlRequestContext *ctx,
                  RlJobOutput *output, RlErrorInfo *err)
{
  rl_clear_error ();
  /* A request for a family this worker lacks fails before its parameters
   * are read: they are that family's business. */
  if (call->family != NULL && call->family[0] != '\0'
      && rl_family_plugins_find (loader->plugins, call->family) == NULL)
    {
      char installed[256];
      rl_family_plugins_list (loader->plugins, installed, sizeof installed);
      return rl_error_set (err, RL_WIRE_NOT_SUPPORTED, "rank %d: model family '%s' cannot run "
                           "%s: it is not installed in this worker (installed: %s)", ctx->rank,
                           call->family, rl_message_type_name (type), installed);
    }
  switch (type)
    {
    case RL_MSG_ENCODE_TEXT: return encode_text (loader, call, ctx, output, err);
    case RL_MSG_SAMPLE: return sample (loader, call, inputs, ctx, output, err);
    case RL_MSG_VAE_DECODE:
    case RL_MSG_VAE_ENCODE: return vae_job (loader, type, call, inputs, ctx, output, err);
    default:
      return rl_error_set (err, RL_WIRE_BAD_MESSAGE, "rank %d: %s is not a model job",
                           ctx->rank, rl_message_type_name (type));
    }
}
