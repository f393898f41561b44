/* Fuzz target for the GGUF reader and CPU dequantisation: any bytes must
 * give a valid handle (every key readable, every tensor dequantisable
 * within bounds) or an error status — never a crash. Built as a libFuzzer
 * target with -Dfuzzing=true (clang), and always as a replay driver run by
 * the 'fuzz' suite (tests/checkpoint/fuzz-replay.c). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "workers/checkpoint/gguf-dequant.h"
#include "workers/checkpoint/gguf.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Dequantising is linear in size; large tensors only get their first rows. */
#define MAX_DEQUANT_ELEMS 4096

static void
exercise_kv (const RlGgufKv *kv, uint64_t *checksum)
{
  int64_t i;
  uint64_t u;
  double f;
  if (rl_gguf_kv_int (kv, &i) == RL_OK)
    *checksum += (uint64_t) i;
  if (rl_gguf_kv_uint (kv, &u) == RL_OK)
    *checksum += u;
  if (rl_gguf_kv_float (kv, &f) == RL_OK)
    *checksum += f > 0;
  if (kv->type == RL_GGUF_STRING)
    *checksum += strlen (kv->string);
  if (kv->type != RL_GGUF_ARRAY || kv->array_count == 0)
    return;
  uint64_t last = kv->array_count - 1;
  const char *s;
  uint64_t len;
  if (rl_gguf_kv_array_string (kv, last < 64 ? last : 64, &s, &len) == RL_OK && len > 0)
    *checksum += (uint8_t) s[len - 1];
  if (rl_gguf_kv_array_int (kv, last, &i) == RL_OK)
    *checksum += (uint64_t) i;
  if (rl_gguf_kv_array_float (kv, last, &f) == RL_OK)
    *checksum += f > 0;
}

static void
exercise_tensor (const RlGguf *g, const RlGgufTensor *t, float *scratch, uint64_t *checksum)
{
  if (rl_gguf_find (g, t->name) == NULL)
    abort ();
  if (t->nbytes > 0)
    *checksum += ((const uint8_t *) t->data)[t->nbytes - 1];
  int64_t block = rl_dtype_block_elems (t->dtype);
  int64_t n = t->numel < MAX_DEQUANT_ELEMS ? t->numel : MAX_DEQUANT_ELEMS;
  n -= n % block;
  if (rl_gguf_can_dequantize (t->dtype) && rl_gguf_dequantize (t->dtype, t->data, n, scratch) != RL_OK)
    abort ();
  if (n > 0 && rl_gguf_can_dequantize (t->dtype))
    *checksum += scratch[n - 1] > 0;
  RlTensor view;
  if (rl_gguf_view (g, t, &view) == RL_OK)
    rl_tensor_release (&view);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  RlGguf *g = NULL;
  if (rl_gguf_open_memory (data, size, "fuzz.gguf", &g) != RL_OK)
    return 0;
  static float scratch[MAX_DEQUANT_ELEMS];
  uint64_t checksum = 0;
  for (size_t i = 0; i < rl_gguf_kv_count (g); i++)
    exercise_kv (rl_gguf_kv_at (g, i), &checksum);
  for (size_t i = 0; i < rl_gguf_tensor_count (g); i++)
    exercise_tensor (g, rl_gguf_tensor_at (g, i), scratch, &checksum);
  rl_gguf_close (g);
  return checksum == 0xFFFFFFFFFFFFFFFFull;
}
