/* Device names. */
#include "workers/runtime/device.h"

const char *
rl_device_kind_name (RlDeviceKind kind)
{
  switch (kind)
    {
    case RL_DEVICE_CPU:
      return "cpu";
    case RL_DEVICE_CUDA:
      return "cuda";
    default:
      return "unknown-device";
    }
}
