#include "cuda-stream.h"

static bool
check (cudaError_t status, RlCudaError *error, const char *what)
{
  if (status == cudaSuccess)
    return true;
  cudaGetLastError ();
  int device = -1;
  cudaGetDevice (&device);
  return rl_cuda_error_set (error, status, "GPU %d: %s failed: %s", device, what,
                            cudaGetErrorString (status));
}

bool
rl_cuda_stream_new (cudaStream_t *stream, bool high_priority, RlCudaError *error)
{
  int lowest = 0, highest = 0;
  cudaDeviceGetStreamPriorityRange (&lowest, &highest);
  return check (cudaStreamCreateWithPriority (stream, cudaStreamNonBlocking,
                                              high_priority ? highest : lowest),
                error, "creating a stream");
}

void
rl_cuda_stream_free (cudaStream_t stream)
{
  if (stream != NULL)
    cudaStreamDestroy (stream);
}

bool
rl_cuda_stream_sync (cudaStream_t stream, RlCudaError *error)
{
  return check (cudaStreamSynchronize (stream), error, "running queued GPU work");
}

bool
rl_cuda_event_new (cudaEvent_t *event, bool timing, RlCudaError *error)
{
  return check (cudaEventCreateWithFlags (event, timing ? cudaEventDefault
                                                        : cudaEventDisableTiming),
                error, "creating an event");
}

void
rl_cuda_event_free (cudaEvent_t event)
{
  if (event != NULL)
    cudaEventDestroy (event);
}

bool
rl_cuda_event_record (cudaEvent_t event, cudaStream_t stream, RlCudaError *error)
{
  return check (cudaEventRecord (event, stream), error, "recording an event");
}

bool
rl_cuda_stream_wait (cudaStream_t stream, cudaEvent_t event, RlCudaError *error)
{
  return check (cudaStreamWaitEvent (stream, event, 0), error, "making a stream wait on an event");
}

bool
rl_cuda_event_elapsed_ms (cudaEvent_t start, cudaEvent_t end, float *ms, RlCudaError *error)
{
  if (!check (cudaEventSynchronize (end), error, "waiting for an event"))
    return false;
  return check (cudaEventElapsedTime (ms, start, end), error, "reading event time");
}

int
rl_cuda_device_count (void)
{
  int count = 0;
  if (cudaGetDeviceCount (&count) != cudaSuccess) {
    cudaGetLastError ();
    return 0;
  }
  return count;
}
