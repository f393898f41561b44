/* The Wan 2.1/2.2 diffusion transformer, written against the op table so
 * it runs on every backend. One function per block of the published
 * diagram (MODELS.md §1.3, ComfyUI's comfy/ldm/wan/model.py):
 *
 *   patch embed → time embed → text embed → N × (self-attn, cross-attn,
 *   FFN, each adaLN-modulated) → head → unpatchify
 *
 * Numerics: the residual stream and modulation are fp32; matmuls read the
 * checkpoint's dtype (bf16, fp16, fp8 with scale) and accumulate in fp32;
 * activations between matmuls use `act_dtype`; RoPE is fp32. */
#pragma once

#include "plugins/wan/wan-config.h"
#include "workers/comm/comm.h"
#include "workers/fsdp/fsdp-store.h"
#include "workers/runtime/backend.h"

typedef struct WanDit WanDit;

/* Sequence parallelism of the forward (usp-attention.h): `sp` holds every
 * rank of the group (rank = part of the one split rule, seq-split.h);
 * `ulysses` and `ring` are its USP groups from rl_usp_groups_new (NULL for
 * a degree of 1). The communicators stay owned by the caller and must
 * outlive the model or the next wan_dit_set_parallel. */
typedef struct {
  RlComm  *sp;
  RlComm  *ulysses;
  RlComm  *ring;
} WanSeqParallel;

/* Makes the weights of `st` usable on `ctx`'s device: zero-copy views of
 * the mapping on the CPU backend, uploads elsewhere. Every tensor is
 * checked against `config` (RL_E_FORMAT naming the key, the expected and
 * the found shape). `st` must stay open while the model lives. */
RlStatus  wan_dit_load      (const RlBackend      *backend,
                             RlContext            *ctx,
                             RlSafetensors        *st,
                             const WanDitConfig   *config,
                             RlDType               act_dtype,
                             WanDit              **out);
/* The same with the blocks' weights sharded over `fsdp->group` and/or
 * offloaded to host memory (workers/fsdp/fsdp-store.h): each rank reads
 * and keeps 1/N of every block, and a forward gathers one block ahead
 * into two buffers. Every rank of the group must then run each forward
 * (SPMD). `fsdp` NULL, or with neither a group nor offload: wan_dit_load. */
RlStatus  wan_dit_load_sharded (const RlBackend     *backend,
                                RlContext           *ctx,
                                RlSafetensors       *st,
                                const WanDitConfig  *config,
                                RlDType              act_dtype,
                                const RlFsdpOptions *fsdp,
                                WanDit             **out);
void      wan_dit_free      (WanDit               *dit);   /* NULL-safe */
const WanDitConfig *wan_dit_config (const WanDit  *dit);
/* Bytes of the weights as stored (rl_weight_set_weight_bytes): about
 * half with fp8 matrices of what a bf16 file gives. */
uint64_t  wan_dit_weight_bytes (const WanDit     *dit);
/* Memory and gather statistics of sharded/offloaded blocks; false when
 * the model was loaded without. */
bool      wan_dit_fsdp_stats (const WanDit         *dit,
                              RlFsdpStats          *out);

/* Makes every later forward sequence-parallel over `parallel` (copied),
 * or single-rank again for NULL or an `sp` of size 1. Every rank of the
 * group must then call wan_dit_forward with the same inputs (SPMD); each
 * gets the whole output. */
void      wan_dit_set_parallel (WanDit             *dit,
                                const WanSeqParallel *parallel);

/* One forward: the velocity for latent x at timestep t.
 *   x        f32 [B, in_dim, T, H, W] on the device
 *   timestep f32 [B] on the host (sigma·1000 for flow models)
 *   context  [B, Lc, text_dim] on the device (UMT5 output), any float dtype
 *   out      f32 [B, out_dim, T, H, W] on the device, written whole. */
RlStatus  wan_dit_forward   (WanDit               *dit,
                             const RlTensor       *x,
                             const float          *timestep,
                             const RlTensor       *context,
                             RlTensor             *out);
