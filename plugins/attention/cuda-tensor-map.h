/* cuTensorMapEncodeTiled for the Hopper attention kernels (CUDA C++), from
 * the driver the runtime already loaded: nothing links libcuda at build
 * time. */
#pragma once

#include <cuda.h>   /* CUtensorMap and its enums */
#include <cuda_runtime_api.h>

using RlEncodeTiledFn = CUresult (*) (CUtensorMap *, CUtensorMapDataType, cuuint32_t, void *,
                                      const cuuint64_t *, const cuuint64_t *, const cuuint32_t *,
                                      const cuuint32_t *, CUtensorMapInterleave, CUtensorMapSwizzle,
                                      CUtensorMapL2promotion, CUtensorMapFloatOOBfill);

/* NULL when the driver lacks it. */
static inline RlEncodeTiledFn
rl_encode_tiled ()
{
  static RlEncodeTiledFn function = [] {
    void *entry = nullptr;
    cudaDriverEntryPointQueryResult found = cudaDriverEntryPointSymbolNotFound;
    if (cudaGetDriverEntryPointByVersion ("cuTensorMapEncodeTiled", &entry, 12000,
                                          cudaEnableDefault, &found) != cudaSuccess
        || found != cudaDriverEntryPointSuccess)
      {
        cudaGetLastError ();
        return (RlEncodeTiledFn) nullptr;
      }
    return (RlEncodeTiledFn) entry;
  }();
  return function;
}
