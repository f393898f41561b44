#include "device-facts.h"

#include <stdio.h>
#include <string.h>

#include <cuda_runtime_api.h>

int
rl_device_facts_cuda (int device, RlDeviceFacts *facts, char *error, size_t error_size)
{
  memset (facts, 0, sizeof *facts);
  int count = 0;
  cudaError_t status = cudaGetDeviceCount (&count);
  if (status != cudaSuccess || device < 0 || device >= count)
    {
      snprintf (error, error_size, "CUDA device %d is not available (%d devices%s%s)", device,
                status == cudaSuccess ? count : 0, status == cudaSuccess ? "" : ": ",
                status == cudaSuccess ? "" : cudaGetErrorString (status));
      return -1;
    }
  struct cudaDeviceProp properties;
  if (cudaGetDeviceProperties (&properties, device) != cudaSuccess)
    {
      snprintf (error, error_size, "cannot query CUDA device %d", device);
      return -1;
    }
  size_t length = strnlen (properties.name, sizeof properties.name);
  if (length >= sizeof facts->name)
    length = sizeof facts->name - 1;
  memcpy (facts->name, properties.name, length);
  facts->name[length] = '\0';
  facts->total_memory = properties.totalGlobalMem;
  facts->compute_major = (uint32_t) properties.major;
  facts->compute_minor = (uint32_t) properties.minor;
  size_t free_bytes = 0, total_bytes = 0;
  if (cudaSetDevice (device) == cudaSuccess && cudaMemGetInfo (&free_bytes, &total_bytes) == cudaSuccess)
    facts->free_memory = free_bytes;
  return 0;
}
