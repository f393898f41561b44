/* Shared by the GPU attention tests (test-attention-gpu.c,
 * test-attention-sage-gpu.c): a case of random q/k/v with its CPU
 * reference, and a timed run of one variant on device copies of it with
 * the outputs poisoned first, so an element the kernel never writes reads
 * back as NaN. Host code on the CUDA runtime; the counts and the RNG come
 * from attention-test-util.h. */
#pragma once

#include "tests/attention/attention-test-util.h"

#include <stdbool.h>

#include <cuda_runtime_api.h>

#include "plugins/attention/attention-merge.h"

typedef struct {
  RlAttentionProblem p;
  int32_t            lengths[8];
  void              *q, *k, *v;          /* host, qkv dtype */
  float             *ref_out, *ref_lse;  /* host f32 */
} AtCase;

/* Exits 77 (meson SKIP) when no CUDA GPU is visible; prints device 0. */
static inline void
at_require_gpu (void)
{
  int count = 0;
  if (cudaGetDeviceCount (&count) != cudaSuccess || count < 1)
    pt_skip_all ("no CUDA GPU visible");
  struct cudaDeviceProp properties;
  cudaGetDeviceProperties (&properties, 0);
  printf ("# device 0: %s (sm_%d%d)\n", properties.name, properties.major, properties.minor);
}

/* Random q (×2), k (×2) and v (×1) for `p`; no reference yet. */
static inline void
at_case_random (AtCase *c, RlAttentionProblem p)
{
  memset (c, 0, sizeof *c);
  c->p = p;
  c->q = at_random (p.qkv_dtype, at_q_count (&p), 2.0f);
  c->k = at_random (p.qkv_dtype, at_kv_count (&p), 2.0f);
  c->v = at_random (p.qkv_dtype, at_kv_count (&p), 1.0f);
}

/* Fills ref_out/ref_lse (f32) with `reference` on the host. */
static inline bool
at_case_reference (const RlAttentionRegistry *registry, AtCase *c)
{
  c->ref_out = malloc (at_q_count (&c->p) * sizeof (float));
  c->ref_lse = malloc (at_lse_count (&c->p) * sizeof (float));
  RlAttentionProblem ref = c->p;
  ref.out_dtype = RL_ATTENTION_F32;
  RlAttentionArgs args = { sizeof args, c->q, c->k, c->v, c->ref_out, c->ref_lse,
                           c->p.has_kv_lengths ? c->lengths : NULL, NULL };
  char error[512];
  if (at_run_host (registry, "reference", &ref, &args, error, sizeof error) != 0)
    {
      printf ("# reference failed: %s\n", error);
      return false;
    }
  return true;
}

static inline void
at_case_free (AtCase *c)
{
  free (c->q), free (c->k), free (c->v), free (c->ref_out), free (c->ref_lse);
}

/* A device copy of `bytes` of host memory; NULL when cudaMalloc fails. */
static inline void *
at_to_device (const void *host, size_t bytes)
{
  void *device = NULL;
  if (cudaMalloc (&device, bytes) != cudaSuccess)
    return NULL;
  cudaMemcpy (device, host, bytes, cudaMemcpyHostToDevice);
  return device;
}

/* Runs `variant` on `stream` on device copies of the case; f32 out and lse
 * on the host, the run's GPU time in *ms. The variant's result passes
 * through (RL_ATTENTION_UNAVAILABLE where cuDNN is missing); a kernel that
 * fails after launch gives RL_ATTENTION_FAILED. */
static inline int
at_run_on_gpu (const RlAttentionVariant *variant, RlAttentionInstance *instance, const AtCase *c,
               cudaStream_t stream, float *out, float *lse, double *ms)
{
  const RlAttentionProblem *p = &c->p;
  size_t elem = rl_attention_dtype_size (p->qkv_dtype), rows = at_lse_count (p);
  void *dq = at_to_device (c->q, at_q_count (p) * elem);
  void *dk = at_to_device (c->k, at_kv_count (p) * elem);
  void *dv = at_to_device (c->v, at_kv_count (p) * elem), *dout = NULL;
  float *dlse = NULL;
  cudaMalloc (&dout, at_q_count (p) * elem);
  cudaMemset (dout, 0xff, at_q_count (p) * elem);   /* NaN in bf16 and f16 */
  if (lse != NULL)   /* else no LSE is asked for */
    {
      cudaMalloc ((void **) &dlse, rows * sizeof (float));
      cudaMemset (dlse, 0xff, rows * sizeof (float));
    }
  RlAttentionArgs args = { sizeof args, dq, dk, dv, dout, dlse,
                           p->has_kv_lengths ? c->lengths : NULL, stream };
  char error[1024] = "";
  cudaEvent_t start, stop;
  cudaEventCreate (&start), cudaEventCreate (&stop);
  cudaEventRecord (start, stream);
  int result = variant->run (instance, p, &args, error, sizeof error);
  cudaEventRecord (stop, stream);
  cudaError_t sync = cudaStreamSynchronize (stream);
  float elapsed = 0;
  cudaEventElapsedTime (&elapsed, start, stop);
  *ms = elapsed;
  if (result != RL_ATTENTION_OK)
    printf ("# %s: %s\n", variant->name, error);
  else if (sync != cudaSuccess)
    {
      printf ("# %s: kernel failed: %s\n", variant->name, cudaGetErrorString (sync));
      result = RL_ATTENTION_FAILED;
    }
  void *host = malloc (at_q_count (p) * elem);
  cudaMemcpy (host, dout, at_q_count (p) * elem, cudaMemcpyDeviceToHost);
  if (lse != NULL)
    cudaMemcpy (lse, dlse, rows * sizeof (float), cudaMemcpyDeviceToHost);
  for (int64_t i = 0; i < at_q_count (p); i++)
    out[i] = at_load (p->qkv_dtype, host, i);
  free (host);
  cudaFree (dq), cudaFree (dk), cudaFree (dv), cudaFree (dout), cudaFree (dlse);
  cudaEventDestroy (start), cudaEventDestroy (stop);
  return result;
}

/* Fills ref_out/ref_lse with `naive` on the GPU: the reference for shapes
 * too big for the CPU one (naive's scores and softmax are exact fp32). */
static inline bool
at_case_naive_reference (const RlAttentionRegistry *registry, AtCase *c, cudaStream_t stream)
{
  c->ref_out = malloc (at_q_count (&c->p) * sizeof (float));
  c->ref_lse = malloc (at_lse_count (&c->p) * sizeof (float));
  const RlAttentionVariant *naive = rl_attention_registry_find (registry, "naive");
  RlAttentionInstance *instance = NULL;
  char error[512] = "";
  if (naive == NULL || naive->open (0, &instance, error, sizeof error) != RL_ATTENTION_OK)
    {
      printf ("# naive: %s\n", naive == NULL ? "not built" : error);
      return false;
    }
  double ms;
  int result = at_run_on_gpu (naive, instance, c, stream, c->ref_out, c->ref_lse, &ms);
  naive->close (instance);
  return result == RL_ATTENTION_OK;
}

/* Runs batch-1 case `full` as `chunks` consecutive key chunks and merges
 * the chunks' results through their LSE into `acc`/`acc_lse` (f32, sized
 * like the case's output and lse), as a ring of ranks would. Stops at the
 * first failed chunk (false); *ms sums the chunks' GPU times. */
static inline bool
at_run_ring_merge (const RlAttentionVariant *variant, RlAttentionInstance *instance,
                   const AtCase *full, int32_t chunks, cudaStream_t stream, float *acc,
                   float *acc_lse, double *ms)
{
  const RlAttentionProblem *p = &full->p;
  size_t rows = at_lse_count (p);
  float *part = malloc (at_q_count (p) * sizeof (float)), *part_lse = malloc (rows * sizeof (float));
  memset (acc, 0, at_q_count (p) * sizeof (float));
  for (size_t i = 0; i < rows; i++)
    acc_lse[i] = -INFINITY;
  size_t row_bytes = (size_t) p->heads * p->head_dim * rl_attention_dtype_size (p->qkv_dtype);
  bool ok = true;
  *ms = 0;
  for (int32_t c = 0; c < chunks && ok; c++)
    {
      int32_t start = p->kv_len * c / chunks, end = p->kv_len * (c + 1) / chunks;
      AtCase chunk = *full;
      chunk.p.kv_len = end - start;
      chunk.k = (char *) full->k + start * row_bytes;
      chunk.v = (char *) full->v + start * row_bytes;
      double chunk_ms;
      ok = at_run_on_gpu (variant, instance, &chunk, stream, part, part_lse, &chunk_ms)
           == RL_ATTENTION_OK;
      *ms += chunk_ms;
      rl_attention_merge_f32 (acc, acc_lse, part, part_lse, 1, p->q_len, p->heads, p->head_dim);
    }
  free (part), free (part_lse);
  return ok;
}
