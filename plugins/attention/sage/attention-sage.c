/* The `sage` attention variants: SageAttention-2's quantised attention
 * (sage-kernel.cu), by wgmma on Hopper and by mma.sync on Ampere, Ada and
 * consumer Blackwell (sm_80 and later; sage-mma.cuh). Q and K in int8 per
 * block after K mean-smoothing; bf16/f16 in and out, head dim 128,
 * non-causal, with log-sum-exp. This file builds two modules:
 *   sage     P as u8 and V as int8 + 128, exact integer P·V per key tile
 *            folded into fp32 ("8+8" in integers; RAYLIGHT_SAGE_PV=fp8
 *            gives the published e4m3 design, on sm_89 and newer);
 *   sage16   (RL_SAGE_PV16) P and V in the input's 16-bit type ("8+16",
 *            SageAttention-2's own design for sm_80).
 * Approximate by design, so never chosen automatically: ‖out − ref‖/‖ref‖
 * is about 1.3% (sage) and 0.8% (sage16) on random data, cosine ≥ 0.999
 * (tests/attention/test-sage-quantisation-model.c). The quantised copies of
 * q/k/v live in a workspace the instance keeps and grows. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "plugins/attention/attention.h"
#include "plugins/attention/cuda-variant-util.h"
#include "plugins/attention/sage/sage-kernel.h"
#include "plugins/attention/sage/sage-schedule.h"

#ifdef RL_SAGE_PV16
#define SAGE_NAME "sage16"
#define SAGE_PV16 1
#define SAGE_DESCRIPTION "CUDA sm_80+: int8 QK (K smoothed) + 16-bit PV, approximate (~0.8%), D 128"
#else
#define SAGE_NAME "sage"
#define SAGE_PV16 0
#define SAGE_DESCRIPTION "CUDA sm_80+: SageAttention-2 style, int8 QK (K smoothed) + 8-bit integer PV, approximate (~1.3%), D 128"
#endif

const RlAttentionVariant *raylight_attention_variant (uint32_t host_abi_version);

struct RlAttentionInstance {
  int    device;
  int    compute_capability;
  int    multiprocessors;
  void  *workspace;
  size_t workspace_bytes;
  int    schedule;   /* the consumer warpgroups' schedule (sage-kernel.h): 1 ping-pong,
                      * 0 in order, −1 by the problem (sage-schedule.h) */
  int    v_terms;    /* fp8 V as 1 or 2 e4m3 terms (sage-kernel.h) */
  int    pv_int8;    /* P·V as u8 × u8 integers instead of e4m3 (sage-kernel.h) */
  int    pass_times; /* print each pass's time to stderr (diagnosis; the run waits) */
  int    persistent; /* one attention block per SM walking the tiles, else one per tile */
  int    stagger;    /* blocks start at different key tiles (sage-kernel.h) */
  int    lag;        /* in order: consumer 1's start after consumer 0, in units (sage-kernel.h) */
  int    prepare_launches; /* the preparation as three launches, not one cooperative one */
  int    mma;        /* the attention pass by mma.sync (any sm_80+) instead of wgmma */
};

static const int32_t sage_head_dims[] = { 128, 0 };

static int sage_supports (RlAttentionInstance *instance, const RlAttentionProblem *p, char *why,
                          size_t why_size);

static int
sage_open (int32_t device_index, RlAttentionInstance **out, char *error, size_t error_size)
{
  struct cudaDeviceProp properties;
  int result = rl_attention_cuda_device (SAGE_NAME, device_index, &properties, error, error_size);
  if (result != RL_ATTENTION_OK)
    return result;
  int capability = properties.major * 10 + properties.minor;
  /* int8 mma.sync (and cp.async) begin with Ampere. */
  if (capability < 80)
    return rl_attention_fail (RL_ATTENTION_UNAVAILABLE, error, error_size,
                              SAGE_NAME ": needs an Ampere or newer GPU (sm_80+), device %d (%s) is sm_%d",
                              device_index, properties.name, capability);
  /* wgmma on Hopper, mma.sync everywhere else; $RAYLIGHT_SAGE_KERNEL=mma
   * runs the mma.sync pass on Hopper too (that is how it is tested). */
  const char *kernel = getenv ("RAYLIGHT_SAGE_KERNEL");
  const int mma = capability != 90 || (kernel != NULL && strcmp (kernel, "mma") == 0);
  const char *pv = getenv ("RAYLIGHT_SAGE_PV");
  const int pv_fp8 = !SAGE_PV16 && pv != NULL && strcmp (pv, "fp8") == 0;
  /* e4m3 MMAs begin with Ada. */
  if (pv_fp8 && capability < 89)
    return rl_attention_fail (RL_ATTENTION_UNAVAILABLE, error, error_size,
                              SAGE_NAME ": RAYLIGHT_SAGE_PV=fp8 needs fp8 tensor cores (sm_89 or "
                              "newer); device %d (%s) is sm_%d: unset RAYLIGHT_SAGE_PV",
                              device_index, properties.name, capability);
  RlAttentionInstance *instance = calloc (1, sizeof (RlAttentionInstance));
  if (instance == NULL)
    return rl_attention_fail (RL_ATTENTION_FAILED, error, error_size, SAGE_NAME ": out of memory");
  instance->device = device_index;
  instance->compute_capability = capability;
  instance->multiprocessors = properties.multiProcessorCount;
  instance->mma = mma;
  /* By the problem (rl_sage_pingpong_for); $RAYLIGHT_SAGE_SCHEDULE
   * (in-order / ping-pong) pins one. */
  const char *schedule = getenv ("RAYLIGHT_SAGE_SCHEDULE");
  instance->schedule = schedule == NULL ? -1 : strcmp (schedule, "ping-pong") == 0;
  /* P·V in integers by default (u8 P against each key tile's own maximum,
   * int8 V): one MMA per k-step and about 1.3% error on random data, where
   * fp8 needs V as two e4m3 terms (two MMAs) for 2.5% and the published
   * single term is over issue 6's 3e-2 (NOTES.md). $RAYLIGHT_SAGE_PV=fp8
   * selects e4m3 P·V, with $RAYLIGHT_SAGE_V_TERMS=1 the published design. */
  instance->pv_int8 = !SAGE_PV16 && !pv_fp8;
  const char *terms = getenv ("RAYLIGHT_SAGE_V_TERMS");
  instance->v_terms = terms != NULL && strcmp (terms, "1") == 0 ? 1 : 2;
  /* Persistent blocks overlap a tile's Q load and output stores with the
   * previous tile's work; $RAYLIGHT_SAGE_GRID=tiles launches one block per
   * tile instead. */
  const char *grid = getenv ("RAYLIGHT_SAGE_GRID");
  instance->persistent = grid == NULL || strcmp (grid, "tiles") != 0;
  const char *stagger = getenv ("RAYLIGHT_SAGE_STAGGER");
  instance->stagger = stagger != NULL && strcmp (stagger, "1") == 0;
  /* In order, warpgroup 1 starts 2 units after warpgroup 0, so that the
   * two do not store their tile and start the next at the same moment:
   * 512-key cross-attention at L 4680 3–9 % faster, L 4680 0.5–2 %, the
   * rest within ±1 % (NOTES.md, session 12). $RAYLIGHT_SAGE_LAG=0..3 sets
   * another lag. */
  const char *lag = getenv ("RAYLIGHT_SAGE_LAG");
  instance->lag = lag != NULL ? atoi (lag) : 2;
  /* $RAYLIGHT_SAGE_PREPARE=launches: the fallback for a refused cooperative
   * launch, on purpose (so that it is tested). */
  const char *prepare = getenv ("RAYLIGHT_SAGE_PREPARE");
  instance->prepare_launches = prepare != NULL && strcmp (prepare, "launches") == 0;
  const char *pass_times = getenv ("RAYLIGHT_SAGE_PASS_TIMES");
  instance->pass_times = pass_times != NULL && strcmp (pass_times, "1") == 0;
  *out = instance;
  return RL_ATTENTION_OK;
}

static void
sage_close (RlAttentionInstance *instance)
{
  if (instance == NULL)
    return;
  if (instance->workspace != NULL)
    {
      cudaSetDevice (instance->device);
      cudaFree (instance->workspace);
    }
  free (instance);
}

static double
sage_cost_hint (RlAttentionInstance *instance, const RlAttentionProblem *p)
{
  /* wgmma, measured on an H100 (132 SMs, sage NOTES.md, session 11): the
   * attention at about 830 TFLOP/s-equivalent at long sequences (sage16
   * 680), i.e. 6.3 (5.2) per SM; the preparation reads q once and k, v
   * twice in 16 bits and writes them in 8, at about 2.7 TB/s; ~3 µs per
   * round of 128-row tiles over the SMs (fills and drains: 512-key
   * cross-attention runs at about 400); about 10 µs of launches. */
  /* The mma.sync pass, forced on the H100 (session 14): about 450 (sage16
   * 365) TFLOP/s-equivalent at long sequences, 3.4e12 (2.75e12) per SM.
   * No Ampere or Ada card has run it here, so on those this hint is the
   * H100's rate, not a measurement of theirs. */
  const double per_sm = instance->mma ? (SAGE_PV16 ? 2.75e12 : 3.4e12) : (SAGE_PV16 ? 5.2e12 : 6.3e12);
  const double elements = (double) p->batch * p->heads * p->head_dim;
  const double bytes = elements * (2.0 * p->q_len + 4.0 * 2 * p->kv_len + p->q_len + 2.0 * p->kv_len);
  const double rounds = ceil (ceil (p->q_len / 128.0) * p->heads * p->batch / instance->multiprocessors);
  return rl_attention_flops (p) / (per_sm * instance->multiprocessors) * 1e3 + bytes / 2.7e12 * 1e3
         + rounds * 0.003 + 0.01;
}

static int
sage_run (RlAttentionInstance *instance, const RlAttentionProblem *p, const RlAttentionArgs *args,
          char *error, size_t error_size)
{
  int result = rl_attention_check_run (raylight_attention_variant (RL_ATTENTION_ABI_VERSION),
                                       instance, p, args, error, error_size);
  if (result != RL_ATTENTION_OK)
    return result;
  cudaSetDevice (instance->device);
  RlSageParams params = {
    .q = args->q, .k = args->k, .v = args->v, .out = args->out, .lse = args->lse,
    .batch = p->batch, .heads = p->heads, .q_len = p->q_len, .kv_len = p->kv_len,
    .keys = p->kv_len, .lse_q_len = p->q_len, .dtype = p->qkv_dtype, .scale = p->scale,
    .pv16 = SAGE_PV16, .v_terms = instance->v_terms,
    .pv_int8 = instance->pv_int8,
    .blocks = instance->persistent && !instance->mma ? instance->multiprocessors : 0,
    .stagger = instance->stagger, .mma = instance->mma,
    .lag = instance->lag,
    .prepare_launches = instance->prepare_launches,
  };
  float pass_ms[6];
  if (instance->pass_times)
    params.pass_ms = pass_ms;
  /* Padded keys: one launch per batch, each with its own key count (the
   * key means and scales are over the valid keys only). */
  int32_t launches = p->has_kv_lengths ? p->batch : 1;
  if (p->has_kv_lengths)
    params.batch = 1;
  const int64_t tiles = (int64_t) params.batch * p->heads * ((p->q_len + 127) / 128);
  params.pingpong = instance->schedule >= 0
                        ? instance->schedule
                        : rl_sage_pingpong_for (SAGE_PV16, tiles, (p->kv_len + 127) / 128, params.blocks);
  result = rl_attention_cuda_grow (&instance->workspace, &instance->workspace_bytes,
                                   rl_attention_sage_workspace_bytes (&params), SAGE_NAME,
                                   "workspace", error, error_size);
  if (result != RL_ATTENTION_OK)
    return result;
  for (int32_t b = 0; b < launches; b++)
    {
      if (p->has_kv_lengths)
        {
          RlAttentionBatch at = rl_attention_batch (p, args, b);
          params.keys = args->kv_lengths[b];
          params.q = at.q, params.k = at.k, params.v = at.v;
          params.out = at.out, params.lse = at.lse;
        }
      cudaError_t status = rl_attention_sage_launch (&params, instance->workspace,
                                                     (cudaStream_t) args->stream);
      if (status != cudaSuccess)
        return rl_attention_fail (RL_ATTENTION_FAILED, error, error_size,
                                  SAGE_NAME ": launch for batch %d failed: %s (device sm_%d)", b,
                                  cudaGetErrorString (status), instance->compute_capability);
      if (instance->pass_times)
        fprintf (stderr,
                 SAGE_NAME " passes H %d Lq %d Lk %d ms: prepare %.4f attention %.4f statistics "
                 "%.4f finish %.4f quantise %.4f blocks %.0f\n", p->heads, p->q_len, params.keys,
                 pass_ms[0], pass_ms[1], pass_ms[2], pass_ms[3], pass_ms[4], pass_ms[5]);
    }
  return RL_ATTENTION_OK;
}

static const RlAttentionVariant sage_variant = {
  .abi_version = RL_ATTENTION_ABI_VERSION,
  .struct_size = sizeof (RlAttentionVariant),
  .name = SAGE_NAME,
  .description = SAGE_DESCRIPTION,
  .backend = RL_ATTENTION_BACKEND_CUDA,
  .qkv_dtypes = RL_ATTENTION_DTYPE_BIT (RL_ATTENTION_F16) | RL_ATTENTION_DTYPE_BIT (RL_ATTENTION_BF16),
  .out_dtypes = RL_ATTENTION_DTYPE_BIT (RL_ATTENTION_F16) | RL_ATTENTION_DTYPE_BIT (RL_ATTENTION_BF16),
  .head_dims = sage_head_dims,
  .min_compute_capability = 80,
  .supports_kv_lengths = 1,
  .open = sage_open,
  .close = sage_close,
  .supports = sage_supports,
  .cost_hint = sage_cost_hint,
  .run = sage_run,
  .approximate = 1,
};

static int
sage_supports (RlAttentionInstance *instance, const RlAttentionProblem *p, char *why,
               size_t why_size)
{
  int result = rl_attention_check_declared (&sage_variant, p, why, why_size);
  if (result == RL_ATTENTION_OK)
    result = rl_attention_check_out_is_input_dtype (SAGE_NAME, p, why, why_size);
  if (result == RL_ATTENTION_OK)
    result = rl_attention_check_device (SAGE_NAME, instance->device, p, why, why_size);
  return result;
}

const RlAttentionVariant *
raylight_attention_variant (uint32_t host_abi_version)
{
  return host_abi_version == RL_ATTENTION_ABI_VERSION ? &sage_variant : NULL;
}
