/* The dtype table: names, block geometry, file-format ids. */
#include "workers/runtime/dtype.h"

#include <string.h>

typedef enum {
  KIND_NONE,
  KIND_FLOAT,
  KIND_INT,
  KIND_QUANT,
} DTypeKind;

typedef struct {
  const char *name;
  const char *safetensors;   /* NULL: not a safetensors dtype */
  int         gguf_id;       /* -1: not a GGUF dtype */
  int64_t     block_elems;
  size_t      block_bytes;
  DTypeKind   kind;
} DTypeInfo;

static const DTypeInfo dtype_table[RL_DTYPE_COUNT] = {
  [RL_DTYPE_INVALID] = { "invalid",   NULL,      -1,   0,   0, KIND_NONE },
  [RL_F32]           = { "f32",       "F32",      0,   1,   4, KIND_FLOAT },
  [RL_F16]           = { "f16",       "F16",      1,   1,   2, KIND_FLOAT },
  [RL_BF16]          = { "bf16",      "BF16",    30,   1,   2, KIND_FLOAT },
  [RL_F8_E4M3FN]     = { "f8_e4m3fn", "F8_E4M3", -1,   1,   1, KIND_FLOAT },
  [RL_F8_E5M2]       = { "f8_e5m2",   "F8_E5M2", -1,   1,   1, KIND_FLOAT },
  [RL_F64]           = { "f64",       "F64",     28,   1,   8, KIND_FLOAT },
  [RL_I8]            = { "i8",        "I8",      24,   1,   1, KIND_INT },
  [RL_I16]           = { "i16",       "I16",     25,   1,   2, KIND_INT },
  [RL_I32]           = { "i32",       "I32",     26,   1,   4, KIND_INT },
  [RL_I64]           = { "i64",       "I64",     27,   1,   8, KIND_INT },
  [RL_U8]            = { "u8",        "U8",      -1,   1,   1, KIND_INT },
  [RL_BOOL]          = { "bool",      "BOOL",    -1,   1,   1, KIND_INT },
  [RL_Q4_0]          = { "q4_0",      NULL,       2,  32,  18, KIND_QUANT },
  [RL_Q4_1]          = { "q4_1",      NULL,       3,  32,  20, KIND_QUANT },
  [RL_Q5_0]          = { "q5_0",      NULL,       6,  32,  22, KIND_QUANT },
  [RL_Q5_1]          = { "q5_1",      NULL,       7,  32,  24, KIND_QUANT },
  [RL_Q8_0]          = { "q8_0",      NULL,       8,  32,  34, KIND_QUANT },
  [RL_Q2_K]          = { "q2_k",      NULL,      10, 256,  84, KIND_QUANT },
  [RL_Q3_K]          = { "q3_k",      NULL,      11, 256, 110, KIND_QUANT },
  [RL_Q4_K]          = { "q4_k",      NULL,      12, 256, 144, KIND_QUANT },
  [RL_Q5_K]          = { "q5_k",      NULL,      13, 256, 176, KIND_QUANT },
  [RL_Q6_K]          = { "q6_k",      NULL,      14, 256, 210, KIND_QUANT },
};

static const DTypeInfo *
info (RlDType dtype)
{
  if ((int) dtype < 0 || dtype >= RL_DTYPE_COUNT)
    return &dtype_table[RL_DTYPE_INVALID];
  return &dtype_table[dtype];
}

const char *
rl_dtype_name (RlDType dtype)
{
  return info (dtype)->name;
}

int64_t
rl_dtype_block_elems (RlDType dtype)
{
  return info (dtype)->block_elems;
}

size_t
rl_dtype_block_bytes (RlDType dtype)
{
  return info (dtype)->block_bytes;
}

bool
rl_dtype_is_quantized (RlDType dtype)
{
  return info (dtype)->kind == KIND_QUANT;
}

bool
rl_dtype_is_float (RlDType dtype)
{
  return info (dtype)->kind == KIND_FLOAT;
}

bool
rl_dtype_is_integer (RlDType dtype)
{
  return info (dtype)->kind == KIND_INT;
}

RlStatus
rl_dtype_bytes_for (RlDType dtype, int64_t n_elements, size_t *out_bytes)
{
  const DTypeInfo *di = info (dtype);
  uint64_t blocks;

  *out_bytes = 0;
  if (di->kind == KIND_NONE)
    return rl_set_error (RL_E_DTYPE, "dtype %d is not a valid dtype", (int) dtype);
  if (n_elements < 0)
    return rl_set_error (RL_E_INVALID_ARG, "negative element count %lld for %s",
                         (long long) n_elements, di->name);
  if (n_elements % di->block_elems != 0)
    return rl_set_error (RL_E_SHAPE,
                         "%lld elements are not a whole number of %s blocks (%lld each)",
                         (long long) n_elements, di->name, (long long) di->block_elems);
  blocks = (uint64_t) (n_elements / di->block_elems);
  if (blocks > SIZE_MAX / di->block_bytes)
    return rl_set_error (RL_E_OVERFLOW, "%lld %s elements overflow size_t",
                         (long long) n_elements, di->name);
  *out_bytes = (size_t) blocks * di->block_bytes;
  return RL_OK;
}

RlDType
rl_dtype_from_safetensors (const char *name)
{
  if (name == NULL)
    return RL_DTYPE_INVALID;
  for (int d = 1; d < RL_DTYPE_COUNT; d++)
    if (dtype_table[d].safetensors != NULL && strcmp (dtype_table[d].safetensors, name) == 0)
      return (RlDType) d;
  return RL_DTYPE_INVALID;
}

const char *
rl_dtype_safetensors_name (RlDType dtype)
{
  return info (dtype)->safetensors;
}

RlDType
rl_dtype_from_gguf (uint32_t gguf_type)
{
  for (int d = 1; d < RL_DTYPE_COUNT; d++)
    if (dtype_table[d].gguf_id >= 0 && (uint32_t) dtype_table[d].gguf_id == gguf_type)
      return (RlDType) d;
  return RL_DTYPE_INVALID;
}

int
rl_dtype_gguf_id (RlDType dtype)
{
  return info (dtype)->gguf_id;
}
