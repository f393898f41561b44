/* The worker's model jobs through the pool, without the app: one CPU
 * worker with the Wan family plugin runs ENCODE_TEXT, SAMPLE (with step
 * progress and RGB previews), VAE_DECODE and VAE_ENCODE on the tiny model
 * set of tools/make-tiny-wan.py (a broken raylight-family-*.so on the
 * plugin path is skipped with a log line); a model dropped by FREE_MEMORY is loaded
 * again by the job that needs it; a job on the wrong kind of model says
 * what the file is. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/plain-test.h"
#include "tests/pool/pool-test-util.h"
#include "workers/jobs/job-params.h"
#include "workers/pool/pool.h"

static RlPool *pool;
static uint64_t seed;
static char dit_path[512], te_path[512], vae_path[512];
static RlSharedTensor *conditioning;
static RlSharedTensor *sampled;

typedef struct {
  int      steps;
  int      previews;
  uint64_t last_done;
  uint64_t total;
  int      bad_previews;
} StepLog;

static void
on_progress (const RlPoolProgress *progress, void *user)
{
  StepLog *log = user;
  if (progress->kind != RL_PROGRESS_STEPS)
    return;
  log->steps++;
  log->last_done = progress->done;
  log->total = progress->total;
  if (progress->preview == NULL)
    return;
  log->previews++;
  /* [latent frames, latent h, latent w, 3] in 0..1 */
  const RlTensorDesc *d = rl_shared_tensor_desc (progress->preview);
  const float *px = rl_shared_tensor_data (progress->preview);
  if (d->dtype != RL_WIRE_DTYPE_F32 || d->ndim != 4 || d->shape[0] != 3 || d->shape[1] != 8
      || d->shape[2] != 8 || d->shape[3] != 3)
    {
      log->bad_previews++;
      return;
    }
  for (uint64_t i = 0; i < d->nbytes / 4; i++)
    if (!(px[i] >= 0.0f && px[i] <= 1.0f))
      {
        log->bad_previews++;
        return;
      }
}

static bool
all_finite_and_varied (RlSharedTensor *t)
{
  const float *v = rl_shared_tensor_data (t);
  size_t n = rl_shared_tensor_desc (t)->nbytes / 4;
  double sum = 0, sq = 0;
  for (size_t i = 0; i < n; i++)
    {
      if (!isfinite (v[i]))
        return false;
      sum += v[i];
      sq += (double) v[i] * v[i];
    }
  return sq / n - (sum / n) * (sum / n) > 1e-8;
}

static RlSharedTensor *
f32_tensor (uint32_t ndim, const uint64_t *shape, const float *data)
{
  RlErrorInfo err = { 0 };
  RlSharedTensor *t = rl_shared_tensor_new (RL_WIRE_DTYPE_F32, ndim, shape, "input", &err);
  if (t == NULL)
    return NULL;
  memcpy (rl_shared_tensor_data (t), data, rl_shared_tensor_desc (t)->nbytes);
  rl_shared_tensor_seal (t, &err);
  return t;
}

static void
test_load_models (void)
{
  const char *paths[] = { dit_path, te_path, vae_path };
  for (int i = 0; i < 3; i++)
    {
      RlErrorInfo err = { 0 };
      int status = rl_pool_load_model (pool, -1, paths[i], "", NULL, NULL, 0, NULL, &err);
      PT_CHECK (status == RL_WIRE_OK, "loading %s: %s", paths[i], err.message);
    }
}

static void
test_encode_text (void)
{
  RlWireWriter w;
  RlTextEncodeParams params = { .model = { te_path, "" }, .text = "a cat walks on the beach" };
  rl_wire_writer_init (&w);
  rl_text_encode_params_encode (&params, &w);
  RlPoolCall call = { .type = RL_MSG_ENCODE_TEXT, .family = "", .params = w.data,
                      .params_size = w.size };
  RlPoolResult result = { 0 };
  RlErrorInfo err = { 0 };
  int status = rl_pool_call (pool, 0, &call, &result, &err);
  rl_wire_writer_clear (&w);
  PT_REQUIRE (status == RL_WIRE_OK && result.n_tensors == 1, "ENCODE_TEXT: %s", err.message);
  const RlTensorDesc *d = rl_shared_tensor_desc (result.tensors[0]);
  PT_CHECK (d->ndim == 3 && d->shape[0] == 1 && d->shape[1] > 1 && d->shape[2] == 128,
            "conditioning shape %u: %llu %llu %llu", d->ndim, (unsigned long long) d->shape[0],
            (unsigned long long) d->shape[1], (unsigned long long) d->shape[2]);
  PT_CHECK (all_finite_and_varied (result.tensors[0]), "conditioning not finite or constant");
  conditioning = result.tensors[0];
  result.tensors[0] = NULL;
  result.n_tensors = 0;
  rl_pool_result_clear (&result);
}

/* SAMPLE of an empty 16×3×8×8 latent (9 frames of 64×64), cfg 5. */
static RlSharedTensor *
run_sample (uint64_t noise_seed, StepLog *log, RlErrorInfo *err)
{
  RlSampleParams params;
  rl_sample_params_init (&params);
  params.model = (RlJobModel) { dit_path, "" };
  params.seed = noise_seed;
  params.steps = 3;
  params.cfg = 5.0f;
  params.sampler = "euler";
  params.scheduler = "simple";
  params.preview_every = 1;
  RlWireWriter w;
  rl_wire_writer_init (&w);
  rl_sample_params_encode (&params, &w);
  uint64_t shape[5] = { 1, 16, 3, 8, 8 };
  float *zeros = calloc (16 * 3 * 8 * 8, sizeof (float));
  RlSharedTensor *latent = f32_tensor (5, shape, zeros);
  free (zeros);
  RlSharedTensor *inputs[3] = { latent, conditioning, conditioning };
  RlPoolCall call = { .type = RL_MSG_SAMPLE, .family = "", .params = w.data,
                      .params_size = w.size, .tensors = inputs, .n_tensors = 3,
                      .progress = on_progress, .user_data = log };
  RlPoolResult result = { 0 };
  int status = rl_pool_call (pool, 0, &call, &result, err);
  rl_wire_writer_clear (&w);
  rl_shared_tensor_free (latent);
  if (status != RL_WIRE_OK || result.n_tensors != 1)
    {
      rl_pool_result_clear (&result);
      return NULL;
    }
  RlSharedTensor *out = result.tensors[0];
  result.tensors[0] = NULL;
  result.n_tensors = 0;
  rl_pool_result_clear (&result);
  return out;
}

static void
test_sample (void)
{
  PT_REQUIRE (conditioning != NULL, "no conditioning");
  StepLog log = { 0 };
  RlErrorInfo err = { 0 };
  sampled = run_sample (seed, &log, &err);
  PT_REQUIRE (sampled != NULL, "SAMPLE: %s", err.message);
  const RlTensorDesc *d = rl_shared_tensor_desc (sampled);
  PT_CHECK (d->ndim == 5 && d->shape[1] == 16 && d->shape[2] == 3 && d->shape[4] == 8,
            "sampled latent shape");
  PT_CHECK (all_finite_and_varied (sampled), "sampled latent not finite or constant");
  PT_CHECK (log.steps == 3 && log.last_done == 3 && log.total == 3,
            "progress: %d reports, last %llu of %llu", log.steps,
            (unsigned long long) log.last_done, (unsigned long long) log.total);
  PT_CHECK (log.previews == 3 && log.bad_previews == 0, "previews: %d, %d bad", log.previews,
            log.bad_previews);
}

/* FREE_MEMORY drops every model; the next SAMPLE loads the DiT again on
 * demand and, with the same seed, gives the same latent. */
static void
test_reload_after_free_memory (void)
{
  PT_REQUIRE (sampled != NULL, "no first sample");
  RlErrorInfo err = { 0 };
  PT_REQUIRE (rl_pool_free_memory (pool, NULL, &err) == RL_WIRE_OK, "FREE_MEMORY: %s",
              err.message);
  StepLog log = { 0 };
  RlSharedTensor *again = run_sample (seed, &log, &err);
  PT_REQUIRE (again != NULL, "SAMPLE after FREE_MEMORY: %s", err.message);
  size_t n = rl_shared_tensor_desc (sampled)->nbytes / 4;
  const float *a = rl_shared_tensor_data (sampled), *b = rl_shared_tensor_data (again);
  double max_diff = 0;
  for (size_t i = 0; i < n; i++)
    max_diff = fmax (max_diff, fabs ((double) a[i] - b[i]));
  PT_CHECK (max_diff == 0.0, "same seed, reloaded model: max diff %g", max_diff);
  rl_shared_tensor_free (again);
}

static void
test_vae_round_trip (void)
{
  PT_REQUIRE (sampled != NULL, "no sample");
  RlVaeParams params = { .model = { vae_path, "" } };
  RlWireWriter w;
  rl_wire_writer_init (&w);
  rl_vae_params_encode (&params, &w);
  RlSharedTensor *inputs[1] = { sampled };
  RlPoolCall call = { .type = RL_MSG_VAE_DECODE, .family = "wan", .params = w.data,
                      .params_size = w.size, .tensors = inputs, .n_tensors = 1 };
  RlPoolResult decoded = { 0 }, encoded = { 0 };
  RlErrorInfo err = { 0 };
  int status = rl_pool_call (pool, 0, &call, &decoded, &err);
  PT_CHECK (status == RL_WIRE_OK && decoded.n_tensors == 1, "VAE_DECODE: %s", err.message);
  if (status == RL_WIRE_OK)
    {
      const RlTensorDesc *d = rl_shared_tensor_desc (decoded.tensors[0]);
      PT_CHECK (d->ndim == 4 && d->shape[0] == 9 && d->shape[1] == 64 && d->shape[2] == 64
                && d->shape[3] == 3, "decoded shape");
      PT_CHECK (all_finite_and_varied (decoded.tensors[0]), "decoded frames constant");
      call.type = RL_MSG_VAE_ENCODE;
      inputs[0] = decoded.tensors[0];
      status = rl_pool_call (pool, 0, &call, &encoded, &err);
      PT_CHECK (status == RL_WIRE_OK && encoded.n_tensors == 1, "VAE_ENCODE: %s", err.message);
      if (status == RL_WIRE_OK)
        {
          d = rl_shared_tensor_desc (encoded.tensors[0]);
          PT_CHECK (d->ndim == 5 && d->shape[1] == 16 && d->shape[2] == 3 && d->shape[3] == 8
                    && d->shape[4] == 8, "encoded shape");
        }
    }
  rl_wire_writer_clear (&w);
  rl_pool_result_clear (&decoded);
  rl_pool_result_clear (&encoded);
}

static void
test_wrong_kind (void)
{
  RlWireWriter w;
  RlTextEncodeParams params = { .model = { vae_path, "" }, .text = "a dog" };
  rl_wire_writer_init (&w);
  rl_text_encode_params_encode (&params, &w);
  RlPoolCall call = { .type = RL_MSG_ENCODE_TEXT, .family = "", .params = w.data,
                      .params_size = w.size };
  RlPoolResult result = { 0 };
  RlErrorInfo err = { 0 };
  int status = rl_pool_call (pool, 0, &call, &result, &err);
  rl_wire_writer_clear (&w);
  PT_CHECK (status != RL_WIRE_OK && strstr (err.message, "is a VAE") != NULL
            && strstr (err.message, "rank 0") != NULL, "ENCODE_TEXT on a VAE: %d %s", status,
            err.message);
  rl_pool_result_clear (&result);
}

int
main (void)
{
  seed = pt_seed ();
  const char *source = getenv ("RAYLIGHT_SOURCE_DIR");
  const char *plugins = getenv ("RAYLIGHT_PLUGIN_PATH");
  if (source == NULL || plugins == NULL)
    pt_skip_all ("RAYLIGHT_SOURCE_DIR / RAYLIGHT_PLUGIN_PATH unset; run through meson test");
  const char *dir = pt_scratch_dir ();
  pt_make_tiny_wan_models (source, dir);
  char command[2048];
  snprintf (dit_path, sizeof dit_path, "%s/models/diffusion_models/tiny-wan2.1-t2v.safetensors", dir);
  snprintf (te_path, sizeof te_path, "%s/models/text_encoders/tiny-umt5.safetensors", dir);
  snprintf (vae_path, sizeof vae_path, "%s/models/vae/tiny-wan2.1-vae.safetensors", dir);

  /* A broken module first on the path: the worker logs it and goes on. */
  snprintf (command, sizeof command, "mkdir -p %s/bad && echo 'not a shared object' > "
            "%s/bad/raylight-family-broken.so", dir, dir);
  if (system (command) != 0)
    pt_skip_all ("cannot write the broken plugin");
  char plugin_env[1024];
  snprintf (plugin_env, sizeof plugin_env, "RAYLIGHT_PLUGIN_PATH=%s/bad:%s", dir, plugins);
  const char *env[] = { plugin_env, "OMP_NUM_THREADS=2", NULL };
  RlPoolOptions options;
  pt_pool_options (&options, 1);
  options.extra_env = env;
  options.request_timeout_ms = 120000;
  RlErrorInfo err = { 0 };
  pool = rl_pool_new (&options, &err);
  if (pool == NULL || rl_pool_start (pool, &err) != RL_WIRE_OK)
    {
      printf ("# cannot start the pool: %s\n", err.message);
      return 1;
    }
  PT_RUN (test_load_models);
  PT_RUN (test_encode_text);
  PT_RUN (test_sample);
  PT_RUN (test_reload_after_free_memory);
  PT_RUN (test_vae_round_trip);
  PT_RUN (test_wrong_kind);
  rl_shared_tensor_free (conditioning);
  rl_shared_tensor_free (sampled);
  rl_pool_free (pool);
  snprintf (command, sizeof command, "rm -rf '%s'", dir);
  if (system (command) != 0)
    printf ("# could not remove %s\n", dir);
  return pt_finish ();
}
