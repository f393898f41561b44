/* ComfyUI's CFG guider with its model evaluations spread over ranks: CFG
 * parallelism (the positive prompt on one group, the negative on another)
 * and data parallelism (the batch items split over groups), together or
 * alone, each group possibly sequence-parallel inside the forward.
 *
 * Every rank of the `split` communicator (the ranks that hold the same
 * position in their sequence-parallel groups, one per CFG × data group)
 * evaluates only its piece — its conditioning on its batch slice — and one
 * all-gather per step gives every rank every piece, from which each
 * combines the whole denoised latent with exactly the operations (and
 * rounding) of the one-rank guider (denoiser.h): the result equals the
 * one-rank result up to the model's own batch-size effects, and is
 * bitwise identical on every rank, so the sampling loop stays SPMD.
 *
 * Batch slices: chunk = ceil(B / data); data group d takes items
 * [d·chunk, min(B, (d+1)·chunk)); a group left without items computes
 * nothing but still joins the exchange. */
#pragma once

#include "workers/comm/comm.h"
#include "workers/sampling/denoiser.h"

typedef struct {
  RlComm *comm;         /* the CFG × data ranks at this sequence position */
  int     cfg_degree;   /* 1 or 2 */
  int     data_degree;
  int     cfg_index;    /* 0: evaluates the positive prompt, 1: the negative */
  int     data_index;
} RlParallelSplit;

/* One conditioned model evaluation on a batch slice: `x` and `denoised`
 * are the items [batch_start, batch_start + x->shape[0]) of the latent;
 * the predictor takes the matching items of its conditioning. */
typedef RlStatus (*RlSlicePredictFunc) (void           *user,
                                        RlTensor       *denoised,
                                        const RlTensor *x,
                                        float           sigma,
                                        RlCondKind      cond,
                                        int64_t         batch_start);

typedef struct {
  RlSampleDevice          device;
  RlSlicePredictFunc      predict;
  void                   *user;
  double                  cfg;
  const RlParallelSplit  *split;
} RlParallelGuider;

/* A denoiser that runs `guider` (which must outlive it). */
RlDenoiser rl_parallel_guider_denoiser (RlParallelGuider *guider);
