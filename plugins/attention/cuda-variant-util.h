/* Host-side helpers of the CUDA variants (header-only, like
 * variant-util.h, so each .so stays one object): finding the device an
 * instance opens on, and device buffers that grow with the problems an
 * instance sees. CUDA runtime API only, no kernels. */
#pragma once

#include <cuda_runtime_api.h>

#include "plugins/attention/variant-util.h"

/* Fills `properties` of CUDA device `device_index`; RL_ATTENTION_UNAVAILABLE
 * with the reason (prefixed by the variant's `name`) when the device is not
 * there or cannot be queried. */
static inline int
rl_attention_cuda_device (const char *name, int32_t device_index,
                          struct cudaDeviceProp *properties, char *error, size_t error_size)
{
  int count = 0;
  if (cudaGetDeviceCount (&count) != cudaSuccess || device_index >= count)
    {
      /* Clear the runtime's last error so the host's next check sees its own. */
      cudaGetLastError ();
      return rl_attention_fail (RL_ATTENTION_UNAVAILABLE, error, error_size,
                                "%s: no CUDA device %d (%d visible)", name, device_index, count);
    }
  if (cudaGetDeviceProperties (properties, device_index) != cudaSuccess)
    return rl_attention_fail (RL_ATTENTION_UNAVAILABLE, error, error_size,
                              "%s: cannot query device %d", name, device_index);
  return RL_ATTENTION_OK;
}

/* Makes the device buffer `*buffer` (of `*have` bytes) hold at least
 * `need`, growing only; `what` names it in the error. On failure the
 * buffer is gone (NULL, 0 bytes). */
static inline int
rl_attention_cuda_grow (void **buffer, size_t *have, size_t need, const char *name,
                        const char *what, char *error, size_t error_size)
{
  if (need <= *have)
    return RL_ATTENTION_OK;
  /* cudaFree waits for the work queued on the old buffer. */
  cudaFree (*buffer);
  *buffer = NULL;
  *have = 0;
  if (cudaMalloc (buffer, need) != cudaSuccess)
    {
      cudaGetLastError ();
      return rl_attention_fail (RL_ATTENTION_FAILED, error, error_size,
                                "%s: cannot allocate %zu bytes (%zu MiB) of %s", name, need,
                                need >> 20, what);
    }
  *have = need;
  return RL_ATTENTION_OK;
}
