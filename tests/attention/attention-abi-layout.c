/* Prints the attention ABI's struct layouts as this compiler lays them
 * out, one "STRUCT FIELD OFFSET SIZE" line per field and "STRUCT sizeof N"
 * per struct, then the constants and the entry symbol, for test-attention-abi-ctypes.py to hold the Python
 * bindings (tests/bench/attention_abi.py) to. */
#include <stddef.h>
#include <stdio.h>

#include "plugins/attention/attention.h"

#define FIELD(type, field) \
  printf ("%s %s %zu %zu\n", #type, #field, offsetof (type, field), sizeof (((type *) 0)->field))

int
main (void)
{
  FIELD (RlAttentionProblem, struct_size);
  FIELD (RlAttentionProblem, batch);
  FIELD (RlAttentionProblem, heads);
  FIELD (RlAttentionProblem, q_len);
  FIELD (RlAttentionProblem, kv_len);
  FIELD (RlAttentionProblem, head_dim);
  FIELD (RlAttentionProblem, v_head_dim);
  FIELD (RlAttentionProblem, qkv_dtype);
  FIELD (RlAttentionProblem, out_dtype);
  FIELD (RlAttentionProblem, layout);
  FIELD (RlAttentionProblem, has_kv_lengths);
  FIELD (RlAttentionProblem, device_index);
  FIELD (RlAttentionProblem, scale);
  printf ("RlAttentionProblem sizeof %zu\n", sizeof (RlAttentionProblem));

  FIELD (RlAttentionArgs, struct_size);
  FIELD (RlAttentionArgs, q);
  FIELD (RlAttentionArgs, k);
  FIELD (RlAttentionArgs, v);
  FIELD (RlAttentionArgs, out);
  FIELD (RlAttentionArgs, lse);
  FIELD (RlAttentionArgs, kv_lengths);
  FIELD (RlAttentionArgs, stream);
  printf ("RlAttentionArgs sizeof %zu\n", sizeof (RlAttentionArgs));

  FIELD (RlAttentionVariant, abi_version);
  FIELD (RlAttentionVariant, struct_size);
  FIELD (RlAttentionVariant, name);
  FIELD (RlAttentionVariant, description);
  FIELD (RlAttentionVariant, backend);
  FIELD (RlAttentionVariant, qkv_dtypes);
  FIELD (RlAttentionVariant, out_dtypes);
  FIELD (RlAttentionVariant, head_dims);
  FIELD (RlAttentionVariant, max_head_dim);
  FIELD (RlAttentionVariant, min_compute_capability);
  FIELD (RlAttentionVariant, max_compute_capability);
  FIELD (RlAttentionVariant, supports_kv_lengths);
  FIELD (RlAttentionVariant, open);
  FIELD (RlAttentionVariant, close);
  FIELD (RlAttentionVariant, supports);
  FIELD (RlAttentionVariant, cost_hint);
  FIELD (RlAttentionVariant, run);
  FIELD (RlAttentionVariant, approximate);
  printf ("RlAttentionVariant sizeof %zu\n", sizeof (RlAttentionVariant));
  printf ("constant ABI_VERSION %d\n", RL_ATTENTION_ABI_VERSION);
  printf ("constant OK %d\n", RL_ATTENTION_OK);
  printf ("constant UNSUPPORTED %d\n", RL_ATTENTION_UNSUPPORTED);
  printf ("constant F32 %d\n", RL_ATTENTION_F32);
  printf ("constant F16 %d\n", RL_ATTENTION_F16);
  printf ("constant BF16 %d\n", RL_ATTENTION_BF16);
  printf ("constant LAYOUT_BLHD %d\n", RL_ATTENTION_LAYOUT_BLHD);
  printf ("constant BACKEND_CPU %d\n", RL_ATTENTION_BACKEND_CPU);
  printf ("constant BACKEND_CUDA %d\n", RL_ATTENTION_BACKEND_CUDA);
  printf ("symbol ENTRY_SYMBOL %s\n", RL_ATTENTION_ENTRY_SYMBOL);
  return 0;
}
