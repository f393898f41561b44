/* Fuzz target for the safetensors reader: any bytes must give either a
 * valid handle whose every tensor can be read within bounds, or an error
 * status — never a crash, hang or out-of-bounds access. Built as a
 * libFuzzer target with -Dfuzzing=true (clang), and always as a replay
 * driver run by the 'fuzz' suite (tests/checkpoint/fuzz-replay.c). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "workers/checkpoint/safetensors.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
exercise_tensor (RlSafetensors *st, const RlSafetensorsTensor *t, uint64_t *checksum)
{
  if (rl_safetensors_find (st, t->name) != t)
    abort ();   /* the index must find every listed tensor */
  if (t->nbytes > 0) {
    const uint8_t *bytes = t->data;
    *checksum += bytes[0] + bytes[t->nbytes - 1];
  }
  uint8_t buf[64];
  uint64_t n = t->nbytes < sizeof buf ? t->nbytes : sizeof buf;
  if (rl_safetensors_read (st, t, t->nbytes - n, n, buf) != RL_OK)
    abort ();
  int64_t start, count;
  uint64_t offset, length;
  if (rl_safetensors_shard_rows (t, 1, 3, &start, &count, &offset, &length) != RL_OK
      || offset + length > t->nbytes)
    abort ();
  RlTensor view;
  if (rl_safetensors_view (st, t, &view) == RL_OK)
    rl_tensor_release (&view);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  RlSafetensors *st = NULL;
  if (rl_safetensors_open_memory (data, size, "fuzz.safetensors", &st) != RL_OK)
    return 0;
  uint64_t checksum = 0;
  for (size_t i = 0; i < rl_safetensors_count (st); i++)
    exercise_tensor (st, rl_safetensors_tensor_at (st, i), &checksum);
  for (size_t i = 0; i < rl_safetensors_metadata_count (st); i++) {
    const char *key, *value;
    rl_safetensors_metadata_at (st, i, &key, &value);
    checksum += strlen (key) + strlen (value);
  }
  checksum += rl_safetensors_is_scaled_fp8 (st);
  rl_safetensors_close (st);
  return checksum == 0xFFFFFFFFFFFFFFFFull;   /* keeps the reads alive */
}
