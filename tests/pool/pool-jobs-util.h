/* Helpers of the plain-C tests that send model jobs through the pool
 * (test-cfg-data-parallel, test-usp-sample): taking a call's one tensor
 * and encoding a prompt. Header-only; needs the jobs library. */
#pragma once

#include <stdio.h>

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
