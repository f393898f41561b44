#include "diagnostics.h"

#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "workers/runtime/status.h"
#include "workers/runtime/tensor.h"

/* Describes a shared tensor's bytes as a runtime tensor (borrowed memory). */
static RlStatus
wrap_f32 (RlTensor *out, void *data, const RlTensorDesc *desc)
{
  int64_t shape[RL_TENSOR_DESC_MAX_DIMS];
  for (uint32_t i = 0; i < desc->ndim; i++)
    shape[i] = (int64_t) desc->shape[i];
  return rl_tensor_wrap (out, data, rl_device_cpu (), RL_F32, (int) desc->ndim, shape, NULL,
                         NULL);
}

/* reduce + scale_shift on tensors of the compute device. */
static RlStatus
sum_and_double_on (const RlRequestContext *ctx, const RlTensor *x, RlTensor *y_sum,
                   RlTensor *y_twice)
{
  int64_t numel = rl_tensor_numel (x);
  RlTensor flat = { 0 };
  RlStatus status = rl_tensor_reshape (&flat, x, 1, &numel);
  if (status == RL_OK)
    status = ctx->backend->ops->reduce (ctx->compute, y_sum, &flat, 0, RL_REDUCE_SUM);
  if (status == RL_OK)
    status = ctx->backend->ops->scale_shift (ctx->compute, y_twice, x, 2.0f, 0.0f);
  rl_tensor_release (&flat);
  return status;
}

/* The same on a GPU: copy the memfd in, compute, copy the results out. */
static RlStatus
sum_and_double_via_device (const RlRequestContext *ctx, const RlTensor *host_x,
                           RlTensor *host_sum, RlTensor *host_twice)
{
  const RlBackend *backend = ctx->backend;
  RlAllocator *allocator = backend->context_allocator (ctx->compute);
  RlTensor x = { 0 }, sum = { 0 }, twice = { 0 };
  RlStatus status = rl_tensor_alloc (&x, allocator, RL_F32, host_x->ndim, host_x->shape);
  if (status == RL_OK)
    status = rl_tensor_alloc (&sum, allocator, RL_F32, 1, host_sum->shape);
  if (status == RL_OK)
    status = rl_tensor_alloc (&twice, allocator, RL_F32, host_x->ndim, host_x->shape);
  if (status == RL_OK)
    status = backend->transfer (ctx->compute, &x, host_x);
  if (status == RL_OK)
    status = sum_and_double_on (ctx, &x, &sum, &twice);
  if (status == RL_OK)
    status = backend->transfer (ctx->compute, host_sum, &sum);
  if (status == RL_OK)
    status = backend->transfer (ctx->compute, host_twice, &twice);
  if (status == RL_OK)
    status = backend->synchronize (ctx->compute);
  rl_tensor_release (&x);
  rl_tensor_release (&sum);
  rl_tensor_release (&twice);
  return status;
}

/* sum(x) and 2·x on the worker's compute backend. On the CPU the runtime
 * reads the received memfd in place and writes straight into the outgoing
 * ones; a GPU gets copies. */
static int
compute_sum_and_double (const RlRequestContext *ctx, RlSharedTensor *input,
                        RlSharedTensor *sum, RlSharedTensor *twice, RlErrorInfo *err)
{
  RlTensor x = { 0 }, y_sum = { 0 }, y_twice = { 0 };
  int64_t one = 1;
  RlStatus status = wrap_f32 (&x, rl_shared_tensor_data (input), rl_shared_tensor_desc (input));
  if (status == RL_OK)
    status = rl_tensor_wrap (&y_sum, rl_shared_tensor_data (sum), rl_device_cpu (), RL_F32, 1,
                             &one, NULL, NULL);
  if (status == RL_OK)
    status = wrap_f32 (&y_twice, rl_shared_tensor_data (twice), rl_shared_tensor_desc (twice));
  if (status == RL_OK)
    status = ctx->backend->device_kind == RL_DEVICE_CPU
               ? sum_and_double_on (ctx, &x, &y_sum, &y_twice)
               : sum_and_double_via_device (ctx, &x, &y_sum, &y_twice);
  rl_tensor_release (&x);
  rl_tensor_release (&y_sum);
  rl_tensor_release (&y_twice);
  if (status != RL_OK)
    return rl_error_set (err, RL_WIRE_INTERNAL, "rank %d: diagnostic 'sum' failed in the %s "
                         "backend: %s", ctx->rank, ctx->backend->name,
                         rl_last_error ()[0] ? rl_last_error () : rl_strerror (status));
  return RL_WIRE_OK;
}

static int
run_sum (const RlRequestContext *ctx, RlSharedTensor *const *inputs, int n_inputs,
         RlSharedTensor **outputs, int *n_outputs, RlErrorInfo *err)
{
  if (n_inputs != 1 || rl_shared_tensor_desc (inputs[0])->dtype != RL_WIRE_DTYPE_F32
      || rl_shared_tensor_desc (inputs[0])->nbytes == 0)
    return rl_error_set (err, RL_WIRE_INVALID,
                         "rank %d: diagnostic 'sum' takes exactly one non-empty f32 tensor "
                         "(got %d tensors)", ctx->rank, n_inputs);
  const RlTensorDesc *desc = rl_shared_tensor_desc (inputs[0]);
  uint64_t one = 1;
  RlSharedTensor *sum = rl_shared_tensor_new (RL_WIRE_DTYPE_F32, 1, &one, "raylight-sum", err);
  RlSharedTensor *twice = sum ? rl_shared_tensor_new (RL_WIRE_DTYPE_F32, desc->ndim, desc->shape,
                                                      "raylight-twice", err)
                              : NULL;
  int status = sum && twice ? compute_sum_and_double (ctx, inputs[0], sum, twice, err)
                            : RL_WIRE_NO_MEMORY;
  if (status == RL_WIRE_OK)
    status = rl_shared_tensor_seal (sum, err);
  if (status == RL_WIRE_OK)
    status = rl_shared_tensor_seal (twice, err);
  if (status != RL_WIRE_OK)
    {
      rl_shared_tensor_free (sum);
      rl_shared_tensor_free (twice);
      return status;
    }
  outputs[0] = sum;
  outputs[1] = twice;
  *n_outputs = 2;
  return RL_WIRE_OK;
}

static void
sleep_ms (uint32_t ms)
{
  struct timespec pause_for = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };
  while (nanosleep (&pause_for, &pause_for) != 0)
    ;
}

/* A 4x4 f32 preview filled with the step number, like a tiny latent. */
static void
send_step (const RlRequestContext *ctx, uint32_t step, uint32_t steps, bool with_preview)
{
  RlSharedTensor *preview = NULL;
  if (with_preview)
    {
      uint64_t shape[2] = { 4, 4 };
      preview = rl_shared_tensor_new (RL_WIRE_DTYPE_F32, 2, shape, "raylight-preview", NULL);
      if (preview != NULL)
        {
          float *values = rl_shared_tensor_data (preview);
          for (int i = 0; i < 16; i++)
            values[i] = (float) step;
          if (rl_shared_tensor_seal (preview, NULL) != RL_WIRE_OK)
            {
              rl_shared_tensor_free (preview);
              preview = NULL;
            }
        }
    }
  rl_worker_link_progress_preview (ctx->link, ctx->request_id, RL_PROGRESS_STEPS, step, steps,
                                   "sleeping", preview);
  rl_shared_tensor_free (preview);
}

static int
run_sleep (const RlRequestContext *ctx, const RlMsgCall *call, RlErrorInfo *err)
{
  RlWireReader r;
  rl_wire_reader_init (&r, call->params, call->params_size, "sleep parameters");
  uint32_t steps = rl_wire_get_u32 (&r, "steps");
  uint32_t step_ms = rl_wire_get_u32 (&r, "step_ms");
  bool with_preview = call->params_size >= 12 && rl_wire_get_u32 (&r, "preview") != 0;
  if (rl_wire_reader_finish (&r, err) != RL_WIRE_OK)
    return err ? err->code : RL_WIRE_BAD_MESSAGE;
  for (uint32_t step = 1; step <= steps; step++)
    {
      sleep_ms (step_ms);
      if (rl_worker_inbox_cancelled (ctx->inbox))
        return rl_error_set (err, RL_WIRE_CANCELLED,
                             "rank %d: sleep cancelled at step %u of %u", ctx->rank,
                             step, steps);
      send_step (ctx, step, steps, with_preview);
    }
  return RL_WIRE_OK;
}

static int
run_hang (const RlRequestContext *ctx, RlErrorInfo *err)
{
  if (!ctx->test_faults)
    return rl_error_set (err, RL_WIRE_NOT_SUPPORTED,
                         "rank %d: diagnostic 'hang' is a test fault; set "
                         "RAYLIGHT_WORKER_TEST_FAULTS=hang to allow it", ctx->rank);
  rl_worker_inbox_go_silent (ctx->inbox);
  for (;;)
    pause ();
}

/* Dies of SIGSEGV like a buggy kernel would, without leaving a core file. */
static int
run_crash (const RlRequestContext *ctx, RlErrorInfo *err)
{
  if (!ctx->test_faults_crash)
    return rl_error_set (err, RL_WIRE_NOT_SUPPORTED,
                         "rank %d: diagnostic 'crash' is a test fault; set "
                         "RAYLIGHT_WORKER_TEST_FAULTS=crash to allow it", ctx->rank);
  struct rlimit no_core = { 0, 0 };
  setrlimit (RLIMIT_CORE, &no_core);
  raise (SIGSEGV);
  return rl_error_set (err, RL_WIRE_INTERNAL, "rank %d: SIGSEGV did not end the worker",
                       ctx->rank);
}

int
rl_diagnostic_run (const RlRequestContext *ctx, const RlMsgCall *call,
                   RlSharedTensor *const *inputs, int n_inputs,
                   RlSharedTensor **outputs, int *n_outputs, RlErrorInfo *err)
{
  *n_outputs = 0;
  if (strcmp (call->family, "sum") == 0)
    return run_sum (ctx, inputs, n_inputs, outputs, n_outputs, err);
  if (strcmp (call->family, "sleep") == 0)
    return run_sleep (ctx, call, err);
  if (strcmp (call->family, "hang") == 0)
    return run_hang (ctx, err);
  if (strcmp (call->family, "crash") == 0)
    return run_crash (ctx, err);
  return rl_error_set (err, RL_WIRE_NOT_SUPPORTED,
                       "rank %d: unknown diagnostic '%s' (known: sum, sleep, hang, crash)",
                       ctx->rank, call->family);
}
