/* The block norm kernels (cuda-norm-blocks.cuh) for f16 x. */
#include "cuda-norm-blocks.cuh"

bool
rl_cuda::launch_norm_blocks_f16 (const RlCudaNormModulate &a, const NormWidths &wide,
                                 int variant, cudaStream_t stream)
{
  return launch_norm_blocks_of<__half> (a, wide, variant, stream);
}
