/* GPU workers: a pool of CUDA workers says hello with real device facts,
 * runs the 'sum' diagnostic on the GPU (memfd -> device -> memfd), and
 * survives kill -9 of a worker in the middle of a request. Exits 77 where
 * the worker has no CUDA device. */
#include <math.h>
#include <signal.h>

#include "pool-test-util.h"
#include "workers/protocol/wire.h"

static uint64_t seed;
static RlPool *pool;

static void
test_gpu_hello (void)
{
  RlPoolOptions options;
  pt_pool_options (&options, 1);
  options.backend = RL_POOL_BACKEND_CUDA;
  RlErrorInfo err = { 0 };
  pool = rl_pool_new (&options, &err);
  PT_REQUIRE (pool != NULL, "%s", err.message);
  int status = rl_pool_start (pool, &err);
  if (status == RL_WIRE_NOT_SUPPORTED)
    {
      printf ("# %s\n", err.message);
      rl_pool_free (pool);
      pt_skip_all ("no CUDA device for the worker");
    }
  PT_REQUIRE (status == RL_WIRE_OK, "%s", err.message);
  RlWorkerInfo info;
  rl_pool_worker_info (pool, 0, &info);
  printf ("# rank 0: %s, %s, %.1f GiB, compute %u.%u\n", info.backend, info.device_name,
          (double) info.total_memory / (1 << 30), info.compute_major, info.compute_minor);
  PT_CHECK (strcmp (info.backend, "cuda") == 0, "backend %s", info.backend);
  PT_CHECK (info.device_name[0] != '\0' && info.total_memory > (1ull << 30)
            && info.compute_major >= 7, "device facts");
}

static void
test_gpu_sum (void)
{
  PT_REQUIRE (pool != NULL, "no pool");
  uint64_t shape[2] = { 1024, 4096 };
  RlErrorInfo err = { 0 };
  RlSharedTensor *input = rl_shared_tensor_new (RL_WIRE_DTYPE_F32, 2, shape, "input", &err);
  PT_REQUIRE (input != NULL, "%s", err.message);
  float *x = rl_shared_tensor_data (input);
  uint64_t state = seed | 1;
  double expected = 0.0;
  for (size_t i = 0; i < 1024 * 4096; i++)
    {
      state ^= state << 13, state ^= state >> 7, state ^= state << 17;
      x[i] = (float) (state % 1000) / 500.0f - 0.999f;
      expected += x[i];
    }
  int sealed = rl_shared_tensor_seal (input, &err);
  PT_REQUIRE (sealed == RL_WIRE_OK, "%s", err.message);
  RlSharedTensor *inputs[1] = { input };
  RlPoolCall call = { .type = RL_MSG_DIAGNOSTIC, .family = "sum", .tensors = inputs,
                      .n_tensors = 1 };
  RlPoolResult result;
  int status = rl_pool_call (pool, 0, &call, &result, &err);
  PT_CHECK (status == RL_WIRE_OK, "%s", err.message);
  if (status == RL_WIRE_OK && result.n_tensors == 2)
    {
      float sum = *(const float *) rl_shared_tensor_data (result.tensors[0]);
      PT_CHECK (fabs (sum - expected) <= 1e-3 * (1.0 + fabs (expected)), "GPU sum %g, expected %g",
                sum, expected);
      const float *y = rl_shared_tensor_data (result.tensors[1]);
      size_t bad = 0;
      for (size_t i = 0; i < 1024 * 4096; i++)
        bad += y[i] != 2.0f * x[i];
      PT_CHECK (bad == 0, "%zu elements of 2x differ", bad);
    }
  rl_pool_result_clear (&result);
  rl_shared_tensor_free (input);
}

typedef struct {
  int pid;
  int killed;
} Killer;

static void
kill_at_step_two (const RlPoolProgress *progress, void *user_data)
{
  Killer *killer = user_data;
  if (progress->done == 2 && !killer->killed)
    {
      kill (killer->pid, SIGKILL);
      killer->killed = 1;
    }
}

static void
test_gpu_worker_kill_9 (void)
{
  PT_REQUIRE (pool != NULL, "no pool");
  RlWorkerInfo before;
  rl_pool_worker_info (pool, 0, &before);
  Killer killer = { .pid = before.pid };
  uint8_t params[8];
  rl_le_store_u32 (params, 500);
  rl_le_store_u32 (params + 4, 10);
  RlPoolCall call = { .type = RL_MSG_DIAGNOSTIC, .family = "sleep", .params = params,
                      .params_size = 8, .progress = kill_at_step_two, .user_data = &killer };
  RlErrorInfo err = { 0 };
  int status = rl_pool_call (pool, 0, &call, NULL, &err);
  PT_CHECK (status == RL_WIRE_CRASHED && strstr (err.message, "SIGKILL") != NULL
            && strstr (err.message, "rank 0") != NULL, "%d %s", status, err.message);
  PT_CHECK (rl_pool_wait_ready (pool, 0, 30000, &err) == RL_WIRE_OK, "restart: %s", err.message);
  test_gpu_sum ();
  rl_pool_free (pool);
  pool = NULL;
}

int
main (void)
{
  seed = pt_seed ();
  PT_RUN (test_gpu_hello);
  PT_RUN (test_gpu_sum);
  PT_RUN (test_gpu_worker_kill_9);
  return pt_finish ();
}
