/* The block norm kernels (cuda-norm-blocks.cuh) for f32 x. */
#include "cuda-norm-blocks.cuh"

bool
rl_cuda::launch_norm_blocks_f32 (const RlCudaNormModulate &a, const NormWidths &wide,
                                 int variant, cudaStream_t stream)
{
  return launch_norm_blocks_of<float> (a, wide, variant, stream);
}
