/* The block norm kernels (cuda-norm-blocks.cuh) for bf16 x. */
#include "cuda-norm-blocks.cuh"

bool
rl_cuda::launch_norm_blocks_bf16 (const RlCudaNormModulate &a, const NormWidths &wide,
                                  int variant, cudaStream_t stream)
{
  return launch_norm_blocks_of<__nv_bfloat16> (a, wide, variant, stream);
}
