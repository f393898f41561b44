/* The reference implementation of torch.randn's CPU float32 noise (the
 * straightforward code workers/sampling/noise.c had before its bulk and
 * vectorised passes). Tests and the benchmark compare the fast code against
 * it bit for bit. Same contracts as the rl_ functions of noise.h. */
#pragma once

#include "workers/sampling/noise.h"

void     reference_generator_seed     (RlTorchGenerator *gen,
                                       uint64_t          seed);
uint32_t reference_generator_random   (RlTorchGenerator *gen);
uint64_t reference_generator_random64 (RlTorchGenerator *gen);

/* normal_fill_16_AVX2 for one block: data[j] holds u1, data[j + 8] u2 of
 * pair j on entry, the two normals on exit. */
void     reference_box_muller_16      (float *data);

void     reference_randn_float        (RlTorchGenerator *gen,
                                       float            *out,
                                       size_t            count);
RlStatus reference_noise_prepare      (uint64_t          seed,
                                       const int64_t    *shape,
                                       int               ndim,
                                       const int64_t    *batch_index,
                                       float            *out);
