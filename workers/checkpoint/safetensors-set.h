/* A checkpoint that may be split into several safetensors files.
 *
 * rl_safetensors_set_open takes either one .safetensors file or a Hugging
 * Face index ("model.safetensors.index.json": {"metadata": {...},
 * "weight_map": {tensor name: shard file name}}). Each shard is opened once
 * with rl_safetensors_open (mapped, validated). The index is checked
 * against the shards: every mapped tensor must be in the shard it names,
 * every tensor of a shard must be in the map, no tensor may be in two
 * shards, and shard names must be plain relative names inside the index's
 * folder (no "/.." escapes, no absolute paths). Errors are RL_E_FORMAT /
 * RL_E_IO with the index path and the tensor or shard named. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "workers/checkpoint/safetensors.h"

typedef struct RlSafetensorsSet RlSafetensorsSet;

RlStatus        rl_safetensors_set_open        (const char *path, RlSafetensorsSet **out);
void            rl_safetensors_set_close       (RlSafetensorsSet *set);   /* NULL-safe */

size_t          rl_safetensors_set_shard_count (const RlSafetensorsSet *set);
RlSafetensors  *rl_safetensors_set_shard       (const RlSafetensorsSet *set, size_t index);

/* All tensors: shard by shard (in index order of first mention), file
 * order within a shard. `shard` (may be NULL) receives the owner, which
 * rl_safetensors_view/read need. */
size_t          rl_safetensors_set_count       (const RlSafetensorsSet *set);
const RlSafetensorsTensor *
                rl_safetensors_set_tensor_at   (const RlSafetensorsSet *set, size_t index,
                                                RlSafetensors **shard);
const RlSafetensorsTensor *
                rl_safetensors_set_find        (const RlSafetensorsSet *set, const char *name,
                                                RlSafetensors **shard);

/* Sum over shards of rl_safetensors_data_size / rl_safetensors_bytes_read,
 * for load progress. */
uint64_t        rl_safetensors_set_data_size   (const RlSafetensorsSet *set);
uint64_t        rl_safetensors_set_bytes_read  (const RlSafetensorsSet *set);
