#include "diagnostics.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

static int
run_sum (const RlRequestContext *ctx, RlSharedTensor *const *inputs, int n_inputs,
         RlSharedTensor **outputs, int *n_outputs, RlErrorInfo *err)
{
  if (n_inputs != 1 || rl_shared_tensor_desc (inputs[0])->dtype != RL_WIRE_DTYPE_F32)
    return rl_error_set (err, RL_WIRE_INVALID,
                         "rank %d: diagnostic 'sum' takes exactly one f32 tensor (got %d)",
                         ctx->rank, n_inputs);
  const RlTensorDesc *desc = rl_shared_tensor_desc (inputs[0]);
  const float *x = rl_shared_tensor_data (inputs[0]);
  uint64_t count = desc->nbytes / sizeof (float);

  uint64_t one = 1;
  RlSharedTensor *sum = rl_shared_tensor_new (RL_WIRE_DTYPE_F32, 1, &one, "raylight-sum", err);
  RlSharedTensor *twice = rl_shared_tensor_new (RL_WIRE_DTYPE_F32, desc->ndim, desc->shape,
                                                "raylight-twice", err);
  if (sum == NULL || twice == NULL)
    {
      rl_shared_tensor_free (sum);
      rl_shared_tensor_free (twice);
      return err ? err->code : RL_WIRE_NO_MEMORY;
    }
  double total = 0.0;
  float *y = rl_shared_tensor_data (twice);
  for (uint64_t i = 0; i < count; i++)
    {
      total += x[i];
      y[i] = 2.0f * x[i];
    }
  *(float *) rl_shared_tensor_data (sum) = (float) total;
  if (rl_shared_tensor_seal (sum, err) != RL_WIRE_OK
      || rl_shared_tensor_seal (twice, err) != RL_WIRE_OK)
    {
      rl_shared_tensor_free (sum);
      rl_shared_tensor_free (twice);
      return err ? err->code : RL_WIRE_IO;
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

static int
run_sleep (const RlRequestContext *ctx, const RlMsgCall *call, RlErrorInfo *err)
{
  RlWireReader r;
  rl_wire_reader_init (&r, call->params, call->params_size, "sleep parameters");
  uint32_t steps = rl_wire_get_u32 (&r, "steps");
  uint32_t step_ms = rl_wire_get_u32 (&r, "step_ms");
  if (rl_wire_reader_finish (&r, err) != RL_WIRE_OK)
    return err ? err->code : RL_WIRE_BAD_MESSAGE;
  for (uint32_t step = 1; step <= steps; step++)
    {
      sleep_ms (step_ms);
      if (rl_worker_inbox_cancelled (ctx->inbox))
        return rl_error_set (err, RL_WIRE_CANCELLED,
                             "rank %d: sleep cancelled at step %u of %u", ctx->rank,
                             step, steps);
      rl_worker_link_progress (ctx->link, ctx->request_id, RL_PROGRESS_STEPS, step,
                               steps, "sleeping");
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
  return rl_error_set (err, RL_WIRE_NOT_SUPPORTED,
                       "rank %d: unknown diagnostic '%s' (known: sum, sleep, hang)",
                       ctx->rank, call->family);
}
