/* Helpers of the plain-C tests that send model jobs through the pool
 * (test-cfg-data-parallel, test-usp-sample, test-pool-nccl): taking a
 * call's one tensor, encoding a prompt, sampling on every rank.
 * Header-only; needs the jobs library. */
#pragma once

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "workers/jobs/job-params.h"
#include "workers/pool/pool.h"

/* The result's only tensor, now the caller's (NULL when it had not exactly
 * one); the rest of the result is cleared. */
static inline RlSharedTensor *
pt_take_tensor (RlPoolResult *result)
{
  RlSharedTensor *t = result->n_tensors == 1 ? result->tensors[0] : NULL;
  result->tensors[0] = NULL;
  result->n_tensors = 0;
  rl_pool_result_clear (result);
  return t;
}

/* ENCODE_TEXT of TEXT with the text encoder at TE_PATH on rank 0; NULL,
 * with the reason printed, when the call fails. */
static inline RlSharedTensor *
pt_encode_text (RlPool *pool, const char *te_path, const char *text)
{
  RlWireWriter w;
  RlTextEncodeParams params = { .model = { (char *) te_path, "" }, .text = (char *) text };
  rl_wire_writer_init (&w);
  rl_text_encode_params_encode (&params, &w);
  RlPoolCall call = { .type = RL_MSG_ENCODE_TEXT, .family = "", .params = w.data,
                      .params_size = w.size };
  RlPoolResult result = { 0 };
  RlErrorInfo err = { 0 };
  int status = rl_pool_call (pool, 0, &call, &result, &err);
  rl_wire_writer_clear (&w);
  if (status != RL_WIRE_OK)
    printf ("# ENCODE_TEXT: %s\n", err.message);
  return pt_take_tensor (&result);
}

enum { PT_MAX_SAMPLE_RANKS = 16 };

/* SAMPLE with `params` of a zero f32 latent shaped `shape` on every rank of
 * `pool` at once, conditioned on positive/negative; `progress` (may be
 * NULL) runs for every rank. When out is not NULL, out[r] gets a malloc'd
 * copy of rank r's latent and a rank without one fails the call. *seconds
 * (may be NULL) is the group call's wall time, *err_out (may be NULL) its
 * error; the reason of a failed call is printed. */
static inline bool
pt_sample_all (RlPool *pool, const RlSampleParams *params, const uint64_t shape[5],
               RlSharedTensor *positive, RlSharedTensor *negative,
               RlPoolProgressFunc progress, void *user_data, float **out, double *seconds,
               RlErrorInfo *err_out)
{
  RlWireWriter w;
  RlErrorInfo err = { 0 };
  uint64_t numel = 1;
  int n = rl_pool_size (pool), ranks[PT_MAX_SAMPLE_RANKS];
  RlPoolCall calls[PT_MAX_SAMPLE_RANKS];
  RlPoolResult results[PT_MAX_SAMPLE_RANKS] = { 0 };
  struct timespec t0, t1;

  if (n > PT_MAX_SAMPLE_RANKS)
    {
      printf ("# SAMPLE: %d ranks, the test helper takes %d\n", n, PT_MAX_SAMPLE_RANKS);
      return false;
    }
  for (int i = 0; i < 5; i++)
    numel *= shape[i];
  rl_wire_writer_init (&w);
  rl_sample_params_encode (params, &w);
  RlSharedTensor *latent = rl_shared_tensor_new (RL_WIRE_DTYPE_F32, 5, shape, "latent", &err);
  bool ok = latent != NULL;
  if (ok)
    {
      memset (rl_shared_tensor_data (latent), 0, numel * sizeof (float));
      ok = rl_shared_tensor_seal (latent, &err) == RL_WIRE_OK;
    }
  RlSharedTensor *inputs[3] = { latent, positive, negative };
  for (int r = 0; r < n; r++)
    {
      ranks[r] = r;
      calls[r] = (RlPoolCall) { .type = RL_MSG_SAMPLE, .family = "", .params = w.data,
                                .params_size = w.size, .tensors = inputs, .n_tensors = 3,
                                .progress = progress, .user_data = user_data };
    }
  clock_gettime (CLOCK_MONOTONIC, &t0);
  if (ok && rl_pool_call_group (pool, ranks, n, calls, results, &err) != RL_WIRE_OK)
    {
      printf ("# SAMPLE on %d ranks: %s\n", n, err.message);
      ok = false;
    }
  clock_gettime (CLOCK_MONOTONIC, &t1);
  if (seconds != NULL)
    *seconds = (double) (t1.tv_sec - t0.tv_sec) + 1e-9 * (double) (t1.tv_nsec - t0.tv_nsec);
  if (err_out != NULL)
    *err_out = err;
  for (int r = 0; r < n; r++)
    {
      RlSharedTensor *t = pt_take_tensor (&results[r]);
      if (ok && out != NULL)
        {
          if (t != NULL && rl_shared_tensor_desc (t)->nbytes == numel * sizeof (float))
            {
              out[r] = malloc (numel * sizeof (float));
              memcpy (out[r], rl_shared_tensor_data (t), numel * sizeof (float));
            }
          else
            ok = false;
        }
      rl_shared_tensor_free (t);
    }
  rl_wire_writer_clear (&w);
  rl_shared_tensor_free (latent);
  return ok;
}
