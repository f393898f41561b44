/* A model's weights, by checkpoint key, on one backend's device.
 *
 * Model code (plugins/) asks for each tensor by key and expected shape;
 * the set finds it in the checkpoint (after a key prefix such as
 * "model.diffusion_model."), checks the shape, and hands out a view that
 * lives on the backend's device: zero-copy views of the memory-mapped file
 * on the CPU backend, one upload per tensor elsewhere. The set owns every
 * tensor it hands out; the RlTensor copies callers keep are borrowed and
 * become invalid when the set is freed. Matrices may be stored in a
 * narrower fp8 dtype (rl_weight_set_store_matrices_as). Errors name the file, the key, the
 * expected and the found shape, and the model the caller says it loads. */
#pragma once

#include <stdbool.h>

#include "workers/checkpoint/safetensors.h"
#include "workers/fsdp/fsdp-store.h"
#include "workers/runtime/backend.h"

typedef struct RlWeightSet RlWeightSet;

/* `prefix` ("" or "model.diffusion_model.") is put before every key;
 * `model_name` ("Wan2.1 T2V 1.3B") is used in messages. The checkpoint
 * must stay open while the set lives. */
RlStatus  rl_weight_set_new         (const RlBackend   *backend,
                                     RlContext         *ctx,
                                     RlSafetensors     *st,
                                     const char        *prefix,
                                     const char        *model_name,
                                     RlWeightSet      **out);
void      rl_weight_set_free        (RlWeightSet       *set);   /* NULL-safe */

/* Loads `key` into *out, which must have `ndim` dims equal to `shape`
 * (entries < 0 are not checked). RL_E_FORMAT when missing or misshapen. */
RlStatus  rl_weight_set_load        (RlWeightSet       *set,
                                     RlTensor          *out,
                                     const char        *key,
                                     int                ndim,
                                     const int64_t     *shape);
/* The same with the key built printf-style. */
RlStatus  rl_weight_set_loadf       (RlWeightSet       *set,
                                     RlTensor          *out,
                                     int                ndim,
                                     const int64_t     *shape,
                                     const char        *key_format,
                                     ...) __attribute__ ((format (printf, 5, 6)));
/* Whether the checkpoint has `key` (after the prefix). */
bool      rl_weight_set_has         (const RlWeightSet *set,
                                     const char        *key);
/* Before the first load: every 2-D floating-point weight wider than
 * `dtype` (bf16, f16, f32 Linear matrices) is stored as `dtype` (f8_e4m3fn
 * or f8_e5m2), rounded from its value with no scale, as ComfyUI's
 * UNETLoader weight_dtype casts; ops upcast it when they read it. Biases,
 * norm weights, modulation, convolutions and tensors already 8-bit (scaled
 * fp8 files) keep their dtype. RL_DTYPE_INVALID keeps every dtype (the
 * default). RL_E_NOT_SUPPORTED with sharded or offloaded blocks, whose
 * store copies the file's bytes as they are. */
RlStatus  rl_weight_set_store_matrices_as (RlWeightSet *set,
                                           RlDType      dtype);
/* Bytes of every tensor handed out, in the dtype it is stored in (the
 * mapping's bytes on the CPU backend, the copies' elsewhere), sharded
 * block weights excluded. */
uint64_t  rl_weight_set_weight_bytes (const RlWeightSet *set);
/* Device bytes held by uploaded or converted tensors (on the CPU backend
 * only the converted ones: the rest stay in the page cache), plus the memory of sharded blocks:
 * shards not offloaded and the two gathered-block buffers. */
uint64_t  rl_weight_set_device_bytes (const RlWeightSet *set);

/* ------------------------------------------- FSDP and CPU offload
 * Block weights sharded over a group and/or kept in host memory, gathered
 * one block ahead of use (workers/fsdp/fsdp-store.h). Without a call to
 * rl_weight_set_shard_blocks (or with neither a group nor offload) every
 * function below does nothing and loads behave as above. */

/* Before the first load. RL_E_NOT_SUPPORTED when the group cannot reach
 * the backend's memory. */
RlStatus  rl_weight_set_shard_blocks (RlWeightSet         *set,
                                      const RlFsdpOptions *options);
/* Loads between these belong to block `block` (0, 1, ... in order). A
 * tensor the store shards (rl_fsdp_keeps_whole says which stay whole)
 * gets its data pointer at rl_weight_set_finish: the caller's RlTensor
 * must stay at its address, and its data is valid only while the block
 * is acquired. */
RlStatus  rl_weight_set_begin_block (RlWeightSet       *set,
                                     int                block);
RlStatus  rl_weight_set_end_block   (RlWeightSet       *set);
/* After the last load: allocates the two gathered-block buffers. */
RlStatus  rl_weight_set_finish      (RlWeightSet       *set);

/* A forward's hooks, every rank in the same order (rl_fsdp_store_*):
 * prefetch block 0 before the work that precedes the blocks, acquire and
 * release each block around its compute, and go idle at the end (also
 * after a failure). */
RlStatus  rl_weight_set_prefetch_block (RlWeightSet    *set,
                                        int             block);
RlStatus  rl_weight_set_acquire_block  (RlWeightSet    *set,
                                        int             block);
RlStatus  rl_weight_set_release_block  (RlWeightSet    *set,
                                        int             block);
RlStatus  rl_weight_set_blocks_idle    (RlWeightSet    *set);

/* The store's statistics; false when blocks are not sharded or offloaded. */
bool      rl_weight_set_fsdp_stats  (const RlWeightSet *set,
                                     RlFsdpStats       *out);
