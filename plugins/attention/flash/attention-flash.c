/* The `flash` attention variant: our fused kernels for bf16/f16, head dims
 * 64 and 128, non-causal, with log-sum-exp. Two paths, chosen by compute
 * capability when the instance opens: sm_90 (Hopper) runs flash-hopper.cu
 * (TMA, wgmma, warp specialisation), everything from sm_80 on runs
 * flash-kernel.cu (mma.sync + cp.async). $RAYLIGHT_FLASH_KERNEL=mma,
 * hopper, hopper-lookahead, hopper-pingpong or hopper-serial overrides the
 * choice (hopper paths only on sm_90); $RAYLIGHT_FLASH_STAGES=3 gives the
 * Hopper path a third K/V buffer. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "plugins/attention/attention.h"
#include "plugins/attention/cuda-variant-util.h"
#include "plugins/attention/flash/flash-kernel.h"

const RlAttentionVariant *raylight_attention_variant (uint32_t host_abi_version);

typedef enum {
  FLASH_KERNEL_MMA,             /* flash-kernel.cu, sm_80+ */
  FLASH_KERNEL_HOPPER,          /* flash-hopper.cu, softmax under the P·V product */
  FLASH_KERNEL_HOPPER_SERIAL,   /* flash-hopper.cu, products and softmax in turn */
  FLASH_KERNEL_HOPPER_PINGPONG, /* flash-hopper.cu, overlap + consumers taking turns */
  FLASH_KERNEL_HOPPER_LOOKAHEAD,  /* flash-hopper.cu, overlap + next tile's Q Kᵀ under the store */
} FlashKernel;

struct RlAttentionInstance {
  int device;
  int compute_capability;
  int multiprocessors;
  int forced_warps;   /* $RAYLIGHT_FLASH_WARPS (4 or 8) for experiments; 0 = default */
  FlashKernel kernel;
  int stages;         /* K/V buffers of the Hopper path: $RAYLIGHT_FLASH_STAGES (2 or 3) */
};

/* The mma.sync kernel's block: 0 is 4 warps of 32 query rows, each K/V
 * fragment feeding two MMAs (FlashAttention-2's); $RAYLIGHT_FLASH_WARPS=4
 * or 8 gives that many warps of 16 rows, the earlier kernel (8-warp blocks
 * measured no faster than 4 on an H100: 226 vs 227 TFLOP/s at H 40, L
 * 32760). */
#define FLASH_DEFAULT_WARPS 0

/* Hopper's own path where it runs: 2.2–3.0× the mma.sync kernel on an
 * H100 at every Wan shape (plugins/attention/README.md). The other
 * schedules (look-ahead, ping-pong, serial) measured slower there and stay
 * experiments. */
#define FLASH_DEFAULT_KERNEL(capability) \
  ((capability) == 90 ? FLASH_KERNEL_HOPPER : FLASH_KERNEL_MMA)

/* K/V buffers of the Hopper path. With 2 there is room for two Q buffers
 * (the next tile's Q loads early); 3 (one Q buffer) measured the same on an
 * H100 at every Wan shape, within run-to-run spread (README). */
#define FLASH_DEFAULT_STAGES 2

static const int32_t flash_head_dims[] = { 64, 128, 0 };

static int flash_supports (RlAttentionInstance *instance, const RlAttentionProblem *p, char *why,
                           size_t why_size);

static int
flash_open (int32_t device_index, RlAttentionInstance **out, char *error, size_t error_size)
{
  struct cudaDeviceProp properties;
  int result = rl_attention_cuda_device ("flash", device_index, &properties, error, error_size);
  if (result != RL_ATTENTION_OK)
    return result;
  int capability = properties.major * 10 + properties.minor;
  if (capability < 80)
    return rl_attention_fail (RL_ATTENTION_UNAVAILABLE, error, error_size,
                              "flash: needs sm_80 or newer, device %d (%s) is sm_%d",
                              device_index, properties.name, capability);
  RlAttentionInstance *instance = calloc (1, sizeof (RlAttentionInstance));
  if (instance == NULL)
    return rl_attention_fail (RL_ATTENTION_FAILED, error, error_size, "flash: out of memory");
  instance->device = device_index;
  instance->compute_capability = capability;
  instance->multiprocessors = properties.multiProcessorCount;
  const char *forced = getenv ("RAYLIGHT_FLASH_WARPS");
  instance->forced_warps = forced != NULL && (atoi (forced) == 4 || atoi (forced) == 8)
                           ? atoi (forced) : 0;
  instance->kernel = FLASH_DEFAULT_KERNEL (capability);
  const char *kernel = getenv ("RAYLIGHT_FLASH_KERNEL");
  if (kernel != NULL && strcmp (kernel, "mma") == 0)
    instance->kernel = FLASH_KERNEL_MMA;
  else if (kernel != NULL && capability == 90 && strcmp (kernel, "hopper") == 0)
    instance->kernel = FLASH_KERNEL_HOPPER;
  else if (kernel != NULL && capability == 90 && strcmp (kernel, "hopper-serial") == 0)
    instance->kernel = FLASH_KERNEL_HOPPER_SERIAL;
  else if (kernel != NULL && capability == 90 && strcmp (kernel, "hopper-pingpong") == 0)
    instance->kernel = FLASH_KERNEL_HOPPER_PINGPONG;
  else if (kernel != NULL && capability == 90 && strcmp (kernel, "hopper-lookahead") == 0)
    instance->kernel = FLASH_KERNEL_HOPPER_LOOKAHEAD;
  const char *stages = getenv ("RAYLIGHT_FLASH_STAGES");
  instance->stages = stages != NULL && atoi (stages) == 3 ? 3 : FLASH_DEFAULT_STAGES;
  *out = instance;
  return RL_ATTENTION_OK;
}

static void
flash_close (RlAttentionInstance *instance)
{
  free (instance);
}

static double
flash_cost_hint (RlAttentionInstance *instance, const RlAttentionProblem *p)
{
  if (instance->kernel != FLASH_KERNEL_MMA)
    {
      /* Hopper path on an H100 (132 SMs): about 650 TFLOP/s at long keys,
       * i.e. 4.9 TFLOP/s per SM, plus ~3 µs per round of 128-row tiles
       * (fills and drains weigh at 512 keys: 465–515 TFLOP/s there). */
      double tiles = ceil (p->q_len / 128.0) * p->heads * p->batch;
      double rounds = ceil (tiles / instance->multiprocessors);
      return rl_attention_flops (p) / (4.9e12 * instance->multiprocessors) * 1e3
             + rounds * 0.003 + 0.005;
    }
  /* mma.sync path: about 227 TFLOP/s on an H100 at long sequences, i.e.
   * 1.7 TFLOP/s per SM; guess half that before Hopper. Plus a few µs of
   * launch. */
  double per_sm = instance->compute_capability >= 90 ? 1.7e12 : 0.9e12;
  return rl_attention_flops (p) / (per_sm * instance->multiprocessors) * 1e3 + 0.005;
}

static int32_t
flash_schedule (FlashKernel kernel)
{
  switch (kernel)
    {
    case FLASH_KERNEL_HOPPER_SERIAL:   return RL_HOPPER_SERIAL;
    case FLASH_KERNEL_HOPPER_PINGPONG: return RL_HOPPER_PINGPONG;
    case FLASH_KERNEL_HOPPER_LOOKAHEAD: return RL_HOPPER_LOOKAHEAD;
    default:                           return RL_HOPPER_OVERLAP;
    }
}

static int
flash_run (RlAttentionInstance *instance, const RlAttentionProblem *p, const RlAttentionArgs *args,
           char *error, size_t error_size)
{
  int result = rl_attention_check_run (raylight_attention_variant (RL_ATTENTION_ABI_VERSION),
                                       instance, p, args, error, error_size);
  if (result != RL_ATTENTION_OK)
    return result;
  cudaSetDevice (instance->device);
  RlFlashParams params = {
    .q = args->q, .k = args->k, .v = args->v, .out = args->out, .lse = args->lse,
    .batch = p->batch, .heads = p->heads, .q_len = p->q_len, .kv_len = p->kv_len,
    .keys = p->kv_len, .lse_q_len = p->q_len, .scale = p->scale,
  };
  int32_t launches = p->has_kv_lengths ? p->batch : 1;
  int32_t warps = instance->forced_warps != 0 ? instance->forced_warps : FLASH_DEFAULT_WARPS;
  for (int32_t b = 0; b < launches; b++)
    {
      if (p->has_kv_lengths)
        {
          RlAttentionBatch at = rl_attention_batch (p, args, b);
          params.batch = 1;
          params.keys = args->kv_lengths[b];
          params.q = at.q, params.k = at.k, params.v = at.v;
          params.out = at.out, params.lse = at.lse;
        }
      cudaError_t status = cudaErrorNotSupported;
      if (instance->kernel != FLASH_KERNEL_MMA && p->scale > 0.0f)
        status = rl_attention_flash_hopper_launch (&params, p->head_dim, p->qkv_dtype,
                                                   flash_schedule (instance->kernel),
                                                   instance->stages, (cudaStream_t) args->stream);
      /* The mma.sync path when Hopper's is not chosen, cannot take a
       * non-positive scale, or the driver cannot encode tensor maps. */
      if (status == cudaErrorNotSupported)
        {
          cudaGetLastError ();
          status = rl_attention_flash_launch (&params, p->head_dim, p->qkv_dtype, warps,
                                              (cudaStream_t) args->stream);
        }
      if (status != cudaSuccess)
        return rl_attention_fail (RL_ATTENTION_FAILED, error, error_size,
                                  "flash: launch for batch %d failed: %s (device sm_%d)", b,
                                  cudaGetErrorString (status), instance->compute_capability);
    }
  return RL_ATTENTION_OK;
}

static const RlAttentionVariant flash_variant = {
  .abi_version = RL_ATTENTION_ABI_VERSION,
  .struct_size = sizeof (RlAttentionVariant),
  .name = "flash",
  .description = "CUDA: own fused kernels, online softmax (sm_90: TMA + wgmma; sm_80+: mma.sync), "
                 "bf16/f16, D 64/128",
  .backend = RL_ATTENTION_BACKEND_CUDA,
  .qkv_dtypes = RL_ATTENTION_DTYPE_BIT (RL_ATTENTION_F16) | RL_ATTENTION_DTYPE_BIT (RL_ATTENTION_BF16),
  .out_dtypes = RL_ATTENTION_DTYPE_BIT (RL_ATTENTION_F16) | RL_ATTENTION_DTYPE_BIT (RL_ATTENTION_BF16),
  .head_dims = flash_head_dims,
  .min_compute_capability = 80,
  .supports_kv_lengths = 1,
  .open = flash_open,
  .close = flash_close,
  .supports = flash_supports,
  .cost_hint = flash_cost_hint,
  .run = flash_run,
};

static int
flash_supports (RlAttentionInstance *instance, const RlAttentionProblem *p, char *why,
                size_t why_size)
{
  int result = rl_attention_check_declared (&flash_variant, p, why, why_size);
  if (result == RL_ATTENTION_OK)
    result = rl_attention_check_out_is_input_dtype ("flash", p, why, why_size);
  if (result == RL_ATTENTION_OK)
    result = rl_attention_check_device ("flash", instance->device, p, why, why_size);
  return result;
}

const RlAttentionVariant *
raylight_attention_variant (uint32_t host_abi_version)
{
  return host_abi_version == RL_ATTENTION_ABI_VERSION ? &flash_variant : NULL;
}
